"""Loopback stand-ins for what the tests cannot reach, each speaking the documented
protocol (imported by approvals_flow.py; run alone it serves until killed):

  POST /slack/webhook                         Slack incoming webhook: JSON with "text"
                                              and "blocks" (Block Kit), answers "ok"
  POST /github/repos/O/R/issues/N/comments    GitHub REST: Bearer token, JSON {"body"},
                                              answers 201 with the comment
  POST /webhook                               a receiver that checks
                                              X-Agentgov-Signature: sha256=HMAC(body)

Each records what it accepted, by event id, so a test can count deliveries after
dedup; Slack can be taken down (503) and brought back."""
import hashlib
import hmac
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Fakes:
    def __init__(self, webhook_secret, github_token):
        self.webhook_secret = webhook_secret.encode()
        self.github_token = github_token
        self.lock = threading.Lock()
        self.slack_down = False
        self.accepted = {"slack": [], "webhook": [], "github": []}  # (event id, type, body)
        self.refused = {"slack": 0, "webhook": 0, "github": 0}
        fakes = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, body, ctype="application/json"):
                raw = body.encode() if isinstance(body, str) else body
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                fakes.handle(self, raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, h, raw):
        path = h.path
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if path == "/slack/webhook":
            if self.slack_down:
                with self.lock:
                    self.refused["slack"] += 1
                return h.reply(503, "service unavailable", "text/plain")
            # Slack answers 400 invalid_blocks / no_text for malformed messages.
            if not isinstance(body, dict) or not isinstance(body.get("text"), str):
                return h.reply(400, "no_text", "text/plain")
            blocks = body.get("blocks")
            if not isinstance(blocks, list) or not all(
                    isinstance(b, dict) and b.get("type") in ("section", "context", "actions")
                    for b in blocks):
                return h.reply(400, "invalid_blocks", "text/plain")
            ev = next((b["block_id"][9:] for b in blocks
                       if str(b.get("block_id", "")).startswith("agentgov:")), None)
            with self.lock:
                self.accepted["slack"].append((ev, h.headers.get("X-Agentgov-Event-Id"), body))
            return h.reply(200, "ok", "text/plain")
        if path == "/webhook":
            sig = h.headers.get("X-Agentgov-Signature", "")
            want = "sha256=" + hmac.new(self.webhook_secret, raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(sig, want):
                with self.lock:
                    self.refused["webhook"] += 1
                return h.reply(401, '{"error":"bad signature"}')
            if (h.headers.get("X-Agentgov-Delivery") != body.get("id")
                    or h.headers.get("X-Agentgov-Event") != body.get("type")):
                return h.reply(400, '{"error":"headers do not match the body"}')
            with self.lock:
                self.accepted["webhook"].append((body["id"], body["type"], body))
            return h.reply(200, '{"ok":true}')
        m = re.match(r"^/github/repos/([^/]+)/([^/]+)/issues/(\d+)/comments$", path)
        if m:
            if h.headers.get("Authorization") != "Bearer " + self.github_token:
                with self.lock:
                    self.refused["github"] += 1
                return h.reply(401, '{"message":"Bad credentials"}')
            if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                return h.reply(422, '{"message":"Validation Failed"}')
            ev = re.search(r"<!-- agentgov-event: (evt-[0-9a-f]+) -->", body["body"])
            with self.lock:
                self.accepted["github"].append((ev.group(1) if ev else None, m.group(3), body))
            return h.reply(201, json.dumps({"id": len(self.accepted["github"]),
                                            "body": body["body"]}))
        h.reply(404, '{"message":"Not Found"}')

    def events(self, channel):
        """Accepted deliveries of a channel as {event id: count}."""
        with self.lock:
            out = {}
            for ev, _, _ in self.accepted[channel]:
                out[ev] = out.get(ev, 0) + 1
            return out

    def bodies(self, channel):
        with self.lock:
            return [b for _, _, b in self.accepted[channel]]

    def close(self):
        self.server.shutdown()
