#!/usr/bin/env python3
"""A scripted model server on loopback for the real coding-agent CLIs.

Speaks the Anthropic Messages API (streamed with server-sent events, for Claude Code)
or the OpenAI Responses API (streamed, for the Codex CLI). It plays a script: a list
of turns, each one tool call the "model" makes; after the last turn it answers with
plain text and ends the conversation. It records what the client sends back for each
call (the tool result: what agentgov's hook said, or the tool's output), so that a
test can assert that the model was told agentgov's reason.

usage: model_server.py --api anthropic|openai --script FILE --results FILE
                       --port-file FILE [--log FILE]

The script is JSON: {"turns": [{"tool": "Bash", "input": {"command": "ls"}}, ...]}.
For the Responses API a turn may say "custom": true (a freeform tool such as Codex's
apply_patch: "input" is then the raw text). The results file is rewritten after
every request: a JSON list, one entry per turn the client answered, in turn order:
{"turn": i, "tool": name, "id": call id, "content": text, "is_error": bool}.
The server binds 127.0.0.1 on a free port, writes the port to --port-file, and runs
until killed.
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ID_PREFIX = "agtest"


def call_id(i):
    return "%s_%04d" % (ID_PREFIX, i)


def turn_of(cid):
    """The turn index a call id of ours names, else None."""
    if isinstance(cid, str) and cid.startswith(ID_PREFIX + "_"):
        try:
            return int(cid[len(ID_PREFIX) + 1:])
        except ValueError:
            return None
    return None


def flatten(content):
    """Text of a tool result, whatever shape the client gave it."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(flatten(c) for c in content)
    if isinstance(content, dict):
        for key in ("text", "output", "content"):
            if key in content:
                return flatten(content[key])
    return json.dumps(content)


class State:
    def __init__(self, args):
        with open(args.script) as f:
            self.turns = json.load(f)["turns"]
        self.results_path = args.results
        self.log_path = args.log
        self.dump_path = args.dump
        self.results = {}
        self.lock = threading.Lock()

    def log(self, line):
        if not self.log_path:
            return
        with self.lock, open(self.log_path, "a") as f:
            f.write(time.strftime("%H:%M:%S ") + line + "\n")

    def record(self, found):
        """found: {turn index: (content, is_error)}; rewrites the results file."""
        with self.lock:
            changed = False
            for i, (content, is_error) in found.items():
                if i < len(self.turns) and i not in self.results:
                    self.results[i] = {"turn": i, "tool": self.turns[i]["tool"], "id": call_id(i),
                                       "content": content, "is_error": bool(is_error)}
                    changed = True
            if not changed:
                return
            tmp = self.results_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump([self.results[k] for k in sorted(self.results)], f, indent=1)
            os.replace(tmp, self.results_path)


# ---- Anthropic Messages ---------------------------------------------------------------

def anthropic_history(body):
    """(next turn index, {turn: (content, is_error)}) from a Messages request."""
    made, found = 0, {}
    for m in body.get("messages", []):
        content = m.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if not isinstance(block, dict):
                continue
            if m.get("role") == "assistant" and block.get("type") == "tool_use":
                i = turn_of(block.get("id"))
                if i is not None:
                    made = max(made, i + 1)
            if m.get("role") == "user" and block.get("type") == "tool_result":
                i = turn_of(block.get("tool_use_id"))
                if i is not None:
                    found[i] = (flatten(block.get("content")), block.get("is_error", False))
    return made, found


def anthropic_events(model, turn, index):
    """The SSE events of one streamed assistant message: a tool call, or text."""
    msg_id = "msg_%s_%d_%d" % (ID_PREFIX, index, int(time.time() * 1000) % 100000)
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 0}
    ev = [("message_start", {"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": usage}})]
    if turn is not None:
        ev.append(("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "tool_use", "id": call_id(index),
                                                             "name": turn["tool"], "input": {}}}))
        text = json.dumps(turn["input"])
        # The input arrives in pieces, as the real API sends it.
        for k in range(0, len(text), 40):
            ev.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "input_json_delta",
                                                         "partial_json": text[k:k + 40]}}))
        stop = "tool_use"
    else:
        ev.append(("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}}))
        ev.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "text_delta", "text": "done"}}))
        stop = "end_turn"
    ev.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    ev.append(("message_delta", {"type": "message_delta",
                                 "delta": {"stop_reason": stop, "stop_sequence": None},
                                 "usage": {"output_tokens": 5}}))
    ev.append(("message_stop", {"type": "message_stop"}))
    return ev


def anthropic_plain(model, text):
    return {"id": "msg_%s_side" % ID_PREFIX, "type": "message", "role": "assistant",
            "model": model, "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1}}


# ---- OpenAI Responses -----------------------------------------------------------------

def responses_history(body):
    made, found = 0, {}
    items = body.get("input", [])
    if not isinstance(items, list):
        return 0, {}
    for item in items:
        if not isinstance(item, dict):
            continue
        t = item.get("type")
        if t in ("function_call", "custom_tool_call"):
            i = turn_of(item.get("call_id"))
            if i is not None:
                made = max(made, i + 1)
        elif t in ("function_call_output", "custom_tool_call_output"):
            i = turn_of(item.get("call_id"))
            if i is not None:
                out = item.get("output")
                found[i] = (flatten(out), isinstance(out, dict) and out.get("success") is False)
    return made, found


def resolve(state, turn):
    """A turn whose input takes a value from an earlier tool result:
    "from_result": {"turn": k, "regex": "session ID (\\d+)", "field": "session_id"}."""
    ref = turn.get("from_result") if turn else None
    if not ref:
        return turn
    import re
    with state.lock:
        got = state.results.get(ref["turn"])
    m = re.search(ref["regex"], got["content"]) if got else None
    value = m.group(1) if m else "missing"
    turn = dict(turn, input=dict(turn["input"]))
    turn["input"][ref["field"]] = int(value) if value.isdigit() else value
    return turn


def responses_events(model, turn, index):
    resp_id = "resp_%s_%d_%d" % (ID_PREFIX, index, int(time.time() * 1000) % 100000)
    base = {"id": resp_id, "object": "response", "created_at": int(time.time()), "model": model,
            "status": "in_progress", "output": []}
    if turn is not None and turn.get("custom"):
        item = {"type": "custom_tool_call", "id": "ctc_%d" % index, "call_id": call_id(index),
                "name": turn["tool"], "input": turn["input"], "status": "completed"}
    elif turn is not None:
        item = {"type": "function_call", "id": "fc_%d" % index, "call_id": call_id(index),
                "name": turn["tool"], "arguments": json.dumps(turn["input"]), "status": "completed"}
        if turn.get("namespace"):  # a tool of a namespace (Codex's multi_agent_v1)
            item["namespace"] = turn["namespace"]
    else:
        item = {"type": "message", "id": "msg_%d" % index, "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": "done", "annotations": []}]}
    added = dict(item)
    if item["type"] == "function_call":
        added["arguments"] = ""
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
    done = dict(base, status="completed", output=[item], usage=usage)
    ev = [{"type": "response.created", "sequence_number": 0, "response": base},
          {"type": "response.in_progress", "sequence_number": 1, "response": base},
          {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
           "item": added}]
    if item["type"] == "function_call":
        ev.append({"type": "response.function_call_arguments.delta", "sequence_number": 3,
                   "item_id": item["id"], "output_index": 0, "delta": item["arguments"]})
        ev.append({"type": "response.function_call_arguments.done", "sequence_number": 4,
                   "item_id": item["id"], "output_index": 0, "arguments": item["arguments"]})
    elif item["type"] == "message":
        ev.append({"type": "response.output_text.delta", "sequence_number": 3, "item_id": item["id"],
                   "output_index": 0, "content_index": 0, "delta": "done"})
    ev.append({"type": "response.output_item.done", "sequence_number": 5, "output_index": 0,
               "item": item})
    ev.append({"type": "response.completed", "sequence_number": 6, "response": done})
    return ev


# ---- HTTP -----------------------------------------------------------------------------

def make_handler(state, api):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            state.log("%s %s" % (self.address_string(), fmt % args))

        def reply_json(self, code, obj):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def reply_sse(self, events):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for ev in events:
                if isinstance(ev, tuple):
                    name, data = ev
                else:
                    name, data = ev["type"], ev
                self.wfile.write(("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode())
                self.wfile.flush()
            self.close_connection = True

        def do_GET(self):
            state.log("GET %s" % self.path)
            if self.path.rstrip("/").endswith("/models"):
                return self.reply_json(200, {"data": [], "object": "list", "models": []})
            self.reply_json(404, {"error": {"type": "not_found", "message": self.path}})

        def do_HEAD(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self.reply_json(400, {"error": {"message": "bad json"}})
            path = self.path.split("?")[0]
            if state.dump_path:
                with state.lock, open(state.dump_path, "ab") as f:
                    f.write(self.path.encode() + b" " + raw + b"\n")
            model = body.get("model", "test-model")
            if api == "anthropic":
                return self.anthropic(path, body, model)
            return self.openai(path, body, model)

        def anthropic(self, path, body, model):
            if path.endswith("/count_tokens"):
                state.log("POST %s" % path)
                return self.reply_json(200, {"input_tokens": 10})
            if not path.endswith("/v1/messages"):
                state.log("POST %s (unknown)" % path)
                return self.reply_json(404, {"type": "error", "error": {"type": "not_found_error",
                                                                        "message": path}})
            made, found = anthropic_history(body)
            state.record(found)
            tools = [t.get("name") for t in body.get("tools", []) if isinstance(t, dict)]
            # The conversation with the agent's tools; a side request (a title, a summary of
            # a command) carries none.
            main = made > 0 or bool(tools)
            state.log("POST %s stream=%s tools=%d made=%d main=%s" %
                      (path, body.get("stream"), len(tools), made, main))
            if not main:  # a side request (a title, a summary): plain text
                if body.get("stream"):
                    return self.reply_sse(anthropic_events(model, None, 9999))
                return self.reply_json(200, anthropic_plain(model, "ok"))
            turn = state.turns[made] if made < len(state.turns) else None
            if body.get("stream"):
                return self.reply_sse(anthropic_events(model, turn, made))
            return self.reply_json(500, {"type": "error", "error": {"type": "api_error",
                                                                    "message": "stream expected"}})

        def openai(self, path, body, model):
            if not path.endswith("/responses"):
                state.log("POST %s (unknown)" % path)
                return self.reply_json(404, {"error": {"message": path}})
            made, found = responses_history(body)
            state.record(found)
            tools = [t.get("name") for t in body.get("tools", []) if isinstance(t, dict)]
            state.log("POST %s made=%d tools=%s" % (path, made, ",".join(str(t) for t in tools)))
            turn = resolve(state, state.turns[made] if made < len(state.turns) else None)
            return self.reply_sse(responses_events(model, turn, made))

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", choices=["anthropic", "openai"], required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--dump", help="append every request body to this file (debugging)")
    args = ap.parse_args()
    state = State(args)
    with open(args.results, "w") as f:
        f.write("[]")
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state, args.api))
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
