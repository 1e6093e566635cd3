#!/usr/bin/env python3
"""Runs one Codex turn through `codex app-server` (JSON-RPC over stdio, the protocol the
Codex IDE clients use) with approvals on request and the workspace-write sandbox, and
plays the person at the keyboard: every approval request Codex sends is recorded and
declined. Codex in `exec` mode never asks (its approval policy is fixed at never), so
this is how a test sees whether a person was asked. It first trusts every configured
hook, as the person would in Codex's /hooks screen.

usage: codex_app_client.py CODEX_BIN CWD OUT_JSON
OUT_JSON gets {"approvals": [method, ...], "completed": bool, "trusted": n}.
"""

import json
import subprocess
import sys
import threading
import time

APPROVALS = ("item/commandExecution/requestApproval", "item/fileChange/requestApproval",
             "item/permissions/requestApproval", "execCommandApproval", "applyPatchApproval")


def main():
    codex, cwd, out = sys.argv[1], sys.argv[2], sys.argv[3]
    p = subprocess.Popen([codex, "app-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, cwd=cwd, text=True)
    lines = []
    cond = threading.Condition()

    def reader():
        for line in p.stdout:
            with cond:
                lines.append(line)
                cond.notify_all()
        with cond:
            lines.append(None)
            cond.notify_all()

    threading.Thread(target=reader, daemon=True).start()

    def send(msg):
        p.stdin.write(json.dumps(msg) + "\n")
        p.stdin.flush()

    def next_msg(deadline):
        with cond:
            while not lines:
                left = deadline - time.time()
                if left <= 0:
                    return "timeout"
                cond.wait(left)
            line = lines.pop(0)
        return json.loads(line) if line else None

    result = {"approvals": [], "completed": False}
    deadline = time.time() + 40
    pending = {}

    def call(i, method, params):
        send({"id": i, "method": method, "params": params})
        pending[i] = method

    call(1, "initialize", {"clientInfo": {"name": "agentgov-test", "version": "1"}})
    state = "init"
    thread_id = None
    while True:
        m = next_msg(deadline)
        if m in (None, "timeout"):
            break
        if "id" in m and "method" in m:  # a request from the server
            if m["method"] in APPROVALS:
                result["approvals"].append(m["method"])
                send({"id": m["id"], "result": {"decision": "decline"}})
            else:
                send({"id": m["id"], "error": {"code": -32601, "message": "not served"}})
            continue
        if "id" in m:  # a reply
            method = pending.pop(m["id"], None)
            if "error" in m:
                result["error"] = "%s: %s" % (method, m["error"])
                break
            if method == "initialize":
                send({"method": "initialized"})
                call(4, "hooks/list", {"cwds": [cwd]})
            elif method == "hooks/list":
                # The person trusts every hook configured (as in Codex's /hooks screen).
                state_edits = {h["key"]: {"trusted_hash": h["currentHash"]}
                               for e in m["result"]["data"] for h in e["hooks"]
                               if h["trustStatus"] not in ("trusted", "managed")}
                result["trusted"] = len(state_edits)
                call(5, "config/batchWrite", {"edits": [{"keyPath": "hooks.state",
                                                         "mergeStrategy": "upsert",
                                                         "value": state_edits}]})
            elif method == "config/batchWrite":
                call(2, "thread/start", {"cwd": cwd, "approvalPolicy": "on-request",
                                         "sandbox": "workspace-write"})
            elif method == "thread/start":
                thread_id = m["result"]["thread"]["id"]
                call(3, "turn/start", {"threadId": thread_id,
                                       "input": [{"type": "text", "text": "go"}]})
                state = "turn"
            continue
        if m.get("method") == "turn/completed" and state == "turn":
            result["completed"] = True
            break
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
    with open(out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
