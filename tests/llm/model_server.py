#!/usr/bin/env python3
"""A scripted OpenAI-compatible chat-completions server for agentgov's tests.

POST /v1/chat/completions answers from a script queue; each item is
  {"status": 200, "body": {...} | "text", "headers": {...}, "delay_ms": 0}
and when the queue is empty it answers a plain assistant message with usage.
An item "body" may be {"tool_call": {"name": N, "arguments": {...}}} (or "tool_calls":
[...] for several) as a shorthand for an assistant message calling those tools.
An item with "agent": "alpha" answers only requests of that role (the role is read
from the system message, "You are ALPHA, ..."), so that agents running in parallel
each get their own script in order.
Control endpoints (tests only): POST /_script (JSON list: replaces the queue),
GET /_log (every chat request received: headers and body), POST /_reset.
Usage: model_server.py PORTFILE   (binds 127.0.0.1:0, writes the port to PORTFILE)
"""
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
QUEUE = []
LOG = []
COUNTER = [0]


def completion(message, finish, usage):
    COUNTER[0] += 1
    return {
        "id": "chatcmpl-%d" % COUNTER[0],
        "object": "chat.completion",
        "created": 1700000000,
        "model": "scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def expand(body, usage):
    if isinstance(body, dict) and ("tool_call" in body or "tool_calls" in body):
        calls = body.get("tool_calls") or [body["tool_call"]]
        out = []
        for tc in calls:
            COUNTER[0] += 1
            out.append({"id": "call_%d" % COUNTER[0], "type": "function",
                        "function": {"name": tc["name"],
                                     "arguments": json.dumps(tc.get("arguments", {}))}})
        msg = {"role": "assistant", "content": None, "tool_calls": out}
        return completion(msg, "tool_calls", usage)
    if isinstance(body, dict) and "content" in body and "choices" not in body:
        return completion({"role": "assistant", "content": body["content"]}, "stop", usage)
    return body


def request_role(req):
    msgs = req.get("messages") or []
    first = msgs[0].get("content") if msgs and isinstance(msgs[0], dict) else None
    m = re.match(r"You are ([A-Z]+)", first or "")
    return m.group(1).lower() if m else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                self.send(200, LOG)
            return
        self.send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        raw = self.read_body()
        if self.path == "/_script":
            with LOCK:
                QUEUE[:] = json.loads(raw)
            self.send(200, {"ok": True})
            return
        if self.path == "/_reset":
            with LOCK:
                QUEUE.clear()
                LOG.clear()
            self.send(200, {"ok": True})
            return
        if self.path != "/v1/chat/completions":
            self.send(404, {"error": {"message": "no such endpoint"}})
            return
        try:
            req = json.loads(raw)
        except ValueError:
            self.send(400, {"error": {"message": "request body is not JSON"}})
            return
        role = request_role(req)
        with LOCK:
            LOG.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": req, "raw": raw.decode(), "role": role})
            item = None
            for i, it in enumerate(QUEUE):
                if it.get("agent") in (None, role):
                    item = QUEUE.pop(i)
                    break
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if item is None:
            self.send(200, completion({"role": "assistant", "content": "ok"}, "stop", usage))
            return
        if item.get("delay_ms"):
            time.sleep(item["delay_ms"] / 1000.0)
        usage = item.get("usage", usage)
        self.send(item.get("status", 200), expand(item.get("body", {"content": "ok"}), usage),
                  item.get("headers"))


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
