#!/usr/bin/env python3
"""An open notify breaker keeps deliveries waiting in the outbox, their attempts unspent,
and they are delivered once the channel answers again; with the breaker off the same
outage turns them dead. A real daemon, a real webhook receiver on loopback (503, then 204).
Usage: notify_breaker.py AGENTGOV WORKDIR; prints "ok   ..." / "FAIL ..." lines, FAILS=N."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import call, setup_agent  # noqa: E402

AG, WORK = sys.argv[1], sys.argv[2]
FAILS = [0]


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": %s" % (detail,)))
    FAILS[0] += 0 if cond else 1


class Receiver:
    def __init__(self):
        self.status, self.posts, self.ids = 503, 0, []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts += 1
                if outer.status == 204:
                    outer.ids.append(json.loads(body)["id"])
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def listing(d, dead=False):
    r = subprocess.run([AG, "--dir", d, "notify", "list", "--json"] + (["--dead"] if dead else []),
                       capture_output=True, text=True)
    try:
        return [i for i in json.loads(r.stdout or "[]") if i.get("channel") == "webhook"]
    except ValueError:
        return [{"unparsed": r.stdout + r.stderr}]


def wait_for(fn, secs):
    end = time.time() + secs
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.05)
    return fn()


def scenario(label, breaker_on):
    d = os.path.join(WORK, label)
    subprocess.run([AG, "--dir", d, "init"], check=True, capture_output=True)
    rc = Receiver()
    with open(os.path.join(d, "config"), "a") as f:
        f.write("notify.webhook.url = http://127.0.0.1:%d/hook\nnotify.webhook.secret = s\n"
                % rc.srv.server_address[1])
        f.write("notify.backoff = 20ms\nnotify.backoff_max = 20ms\nnotify.max_attempts = 3\n")
        if breaker_on:  # opens at the first failure, stays open 3 s
            f.write("breaker.notify.failures = 1\nbreaker.notify.cooldown = 3s\n"
                    "breaker.notify.cooldown_max = 3s\n")
        else:
            # (failures = 0 with ratio = 0 is refused: notifications would be off)
            f.write("breaker.notify.failures = 1000\nbreaker.notify.ratio = 0\n")
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    log = open(os.path.join(WORK, label + ".log"), "ab")
    dm = subprocess.Popen([AG, "--dir", d, "serve", "--listen", "127.0.0.1:%d" % port],
                          stdout=log, stderr=log)
    try:
        wait_for(lambda: _up(base), 10)
        root = open(os.path.join(d, "root.token")).read().strip()
        tok = setup_agent(base, root, "nb-agent", 1, None, "EXECUTE")
        for _ in range(3):
            call(base, "POST", "/v1/agents/nb-agent/errors",
                 {"error_type": "tool_failed", "message": "boom"}, tok)
        if not breaker_on:
            check("breaker not opening: the same outage turns the deliveries dead",
                  wait_for(lambda: len(listing(d, True)) == 2, 4), (listing(d), rc.posts))
            check("breaker not opening: each spent its 3 attempts", rc.posts == 6 and all(
                i.get("attempts") == 3 for i in listing(d, True)), listing(d, True))
            return
        time.sleep(1.2)  # failing all along, within the breaker's 3 s cool-down
        pend, dead = listing(d), listing(d, True)
        check("breaker open: the deliveries wait in the outbox",
              len(pend) >= 1 and all(i.get("status") == "pending" for i in pend), pend)
        check("breaker open: one attempt spent (it opened the breaker), the rest deferred",
              sum(i.get("attempts", 0) for i in pend) == 1 and rc.posts == 1, (rc.posts, pend))
        check("breaker open: nothing dead", dead == [], dead)
        rc.status = 204
        check("receiver back: every delivery arrives after the cool-down",
              wait_for(lambda: listing(d) == [] and sorted(rc.ids) == sorted(
                  i.get("event_id") for i in pend), 6),
              (listing(d), rc.ids))
        check("receiver back: nothing dead", listing(d, True) == [], listing(d, True))
    finally:
        dm.send_signal(signal.SIGTERM)
        dm.wait(30)
        rc.srv.shutdown()
    if breaker_on:
        out = subprocess.run([AG, "--dir", d, "ledger", "query", "--kind", "system",
                              "--format", "jsonl"], capture_output=True, text=True).stdout
        rows = [json.loads(l) for l in out.splitlines() if l.strip()]
        acts = [r.get("action") for r in rows if r.get("resource") == "notify.webhook"]
        check("the notifier's breaker opening and closing is ledgered",
              "breaker.open" in acts and "breaker.close" in acts, acts)


def _up(base):
    try:
        return call(base, "GET", "/v1/sys/health", timeout=1)[0] == 200
    except OSError:
        return False


scenario("on", True)
scenario("off", False)
print("FAILS=%d" % FAILS[0])
sys.exit(1 if FAILS[0] else 0)
