#!/usr/bin/env python3
"""agentgov chaos: a mixed load against a real daemon while faults are injected one at a
time, with the check that matters: every decision the daemon acknowledged is in the
ledger, and the ledger verifies.

Usage: scripts/chaos.py [--short] [--seconds S] [--agents N] [--threads N]
                        [--faults a,b,...] [--bin build/agentgov] [--json OUT]

Faults: redis_stop (SIGSTOP then SIGCONT of redis-server), redis_restart (SIGKILL and a
new redis-server on the same port and append-only file), daemon_kill (SIGKILL of the
daemon and a restart), disk_full (the data directory on a small tmpfs, else an ext4 loop
image, filled up, then freed; skipped with the reason when neither can be mounted here),
and, with the test build (make faults), io_write / io_fsync (the ledger's writes or
syncs fail, through a SQLite VFS) and clock_forward / clock_back (the daemon's wall clock
jumps 3 h ahead or 1 h back). notify_slow_fail and llm_slow_fail: a loopback webhook
receiver or model endpoint of this harness, slow then answering 503, while agents are
revoked (notification events) or `agentgov orchestrate` runs; each checks its own
promises (no event lost, decisions not slowed; runs fail closed within their timeout,
the breaker opens; docs/chaos.md).

For each fault it prints: requests sent, answered allow / deny, errors (no answer),
acknowledged decisions missing from the ledger (must be 0), ledger verify, the time to
recover after the fault was removed (first governed action allowed), p99 and max latency
during the fault. Exit 1 when any check fails: a lost decision, verify not OK, an answer
that took longer than the daemon's dependency timeout (1 s) + 1 s or a request the
client gave up on, or no recovery within --recover seconds.

Python 3 standard library only."""
import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from serve_common import call, setup_agent  # noqa: E402

NOTIFY_TIMEOUT = 0.3  # notify.timeout the daemon is given; the slow receiver waits longer
LLM_TIMEOUT = 0.5  # llm.timeout the orchestrate runs are given
SLOW_S = 1.5  # how long a slow loopback dependency takes to answer
ORCH_TIMEOUT = 3.0  # each orchestrate run's --timeout

REQ_TIMEOUT = 3.0  # seconds a load request may wait (the client gives up then)
DEP_TIMEOUT = 1.0  # the store's command timeout the daemon is given (?timeout=1s)
# No answer may take longer than the daemon's own bound on a dependency + 1 s: a request
# that waited for the client's timeout is a hang, whatever its answer.
MAX_WAIT_MS = (DEP_TIMEOUT + 1) * 1000


def no_answer(exc):
    """"timeout" when the client gave up waiting, else "error" (refused, reset)."""
    text = repr(exc).lower()
    return "timeout" if "timed out" in text or "timeout" in text else "error"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Loopback:
    """A threaded HTTP server on loopback standing in for a dependency (the webhook
    receiver, an OpenAI-compatible model endpoint) with a switchable fault: "ok", "slow"
    (answers after SLOW_S, beyond the client's timeout) or "fail" (503)."""

    def __init__(self, answer):
        self.answer, self.mode, self.hits = answer, "ok", 0
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.hits += 1
                    mode = outer.mode
                if mode == "fail":
                    st, out = 503, b'{"error":"chaos: unavailable"}'
                else:
                    if mode == "slow":
                        time.sleep(SLOW_S)
                    st, out = outer.answer(self.headers, body)
                try:
                    self.send_response(st)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:  # the client gave up (its timeout): as a real server sees it
                    pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def set(self, mode):
        with self.lock:
            self.mode = mode

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Receiver:
    """The webhook receiver: keeps every event it was handed (at least once), by id."""

    def __init__(self):
        self.lock = threading.Lock()
        self.got = []  # (event id, type, data as JSON text)
        self.http = Loopback(self.answer)

    def answer(self, headers, body):
        try:
            ev = json.loads(body)
        except ValueError:
            return 400, b"{}"
        with self.lock:
            self.got.append((ev.get("id") or headers.get("X-Agentgov-Event-Id"),
                             ev.get("type"), json.dumps(ev.get("data"))))
        return 204, b""

    def revoked(self, agent):
        """Distinct event ids of agent.revoked events naming agent."""
        with self.lock:
            return {i for i, t, d in self.got if t == "agent.revoked" and agent in d}


def model_answer(headers, body):
    return 200, json.dumps({
        "id": "chatcmpl-chaos", "object": "chat.completion", "created": 1700000000,
        "model": "chaos", "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "I have nothing to add."}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}).encode()


class Env:
    """A data directory, a redis-server with an append-only file, and the daemon."""

    def __init__(self, ag, work, on_tmpfs, fault_build):
        self.ag, self.work, self.on_tmpfs = ag, work, on_tmpfs
        self.faults = os.path.join(work, "faults.control") if fault_build else None
        self.dir = os.path.join(work, "mnt" if on_tmpfs else "", "data")
        self.redis_dir = os.path.join(work, "redis")
        os.makedirs(self.redis_dir, exist_ok=True)
        self.rport, self.port = free_port(), free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.redis = self.daemon = None
        self.log = open(os.path.join(work, "daemon.log"), "ab")
        self.receiver = Receiver()
        self.model = Loopback(model_answer)

    def start_redis(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.rport), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", self.redis_dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.rport), 0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def init(self):
        os.makedirs(os.path.dirname(self.dir), exist_ok=True)
        url = "redis://127.0.0.1:%d/0" % self.rport
        subprocess.run([self.ag, "--dir", self.dir, "init"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, AGENTGOV_STORE=url))
        with open(os.path.join(self.dir, "config"), "a") as f:
            f.write("store = redis://127.0.0.1:%d/0?timeout=%dms\n" % (self.rport,
                                                                    DEP_TIMEOUT * 1000))
            for dep in ("store", "ledger"):
                f.write("breaker.%s.failures = 3\n" % dep)
                f.write("breaker.%s.cooldown = 200ms\n" % dep)
                f.write("breaker.%s.cooldown_max = 1s\n" % dep)
            # The notifier and the model endpoint: loopback servers of this harness.
            f.write("notify.webhook.url = http://127.0.0.1:%d/hook\n" % self.receiver.http.port)
            f.write("notify.webhook.secret = chaos\nnotify.timeout = %dms\n"
                    "notify.backoff = 50ms\nnotify.backoff_max = 500ms\n"
                    "notify.max_attempts = 1000\n" % (NOTIFY_TIMEOUT * 1000))
            f.write("llm.base_url = http://127.0.0.1:%d/v1\nllm.model = chaos\n"
                    "llm.timeout = %dms\nllm.retries = 0\n" % (self.model.port,
                                                               LLM_TIMEOUT * 1000))
            for dep in ("notify", "llm"):
                f.write("breaker.%s.failures = 2\nbreaker.%s.cooldown = 200ms\n"
                        "breaker.%s.cooldown_max = 1s\n" % (dep, dep, dep))
        self.root = open(os.path.join(self.dir, "root.token")).read().strip()

    def start_daemon(self):
        env = dict(os.environ)
        if self.faults:
            env["AGENTGOV_FAULTS"] = self.faults
        self.daemon = subprocess.Popen(
            [self.ag, "--dir", self.dir, "serve", "--listen", "127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=self.log, env=env)
        for _ in range(400):
            try:
                st, _ = call(self.base, "GET", "/v1/sys/health", timeout=1)
                if st in (200, 503):
                    return
            except OSError:
                pass
            time.sleep(0.025)
        raise RuntimeError("daemon did not start")

    def stop(self):
        for p in (self.daemon, self.redis):
            if p and p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.terminate()
                    p.wait(10)
                except Exception:
                    p.kill()

    def close_loopbacks(self):
        self.receiver.http.close()
        self.model.close()


PHASES = ["PREFLIGHT", "PLAN", "EXECUTE", "VERIFY", "PACKAGE", "REPORT", "EXIT"]


def register(base, root, agent, tier=1, scope="docs/**"):
    """Registers an agent with a packet and an AppRole role; returns (role_id, secret_id)."""
    from serve_common import packet
    st, r = call(base, "POST", "/v1/agents/" + agent,
                 {"tier": tier, "packet": packet(agent, "task-" + agent, scope=(scope,))}, root)
    assert st == 200, (st, r)
    st, r = call(base, "POST", "/v1/auth/approle/role/" + agent, {"tier": tier}, root)
    assert st == 204, (st, r)
    st, r = call(base, "GET", "/v1/auth/approle/role/%s/role-id" % agent, token=root)
    role_id = r["data"]["role_id"]
    st, r = call(base, "POST", "/v1/auth/approle/role/%s/secret-id" % agent, {}, root)
    return role_id, r["data"]["secret_id"]


def login(base, role_id, secret_id, timeout=REQ_TIMEOUT):
    st, r = call(base, "POST", "/v1/auth/approle/login",
                 {"role_id": role_id, "secret_id": secret_id}, timeout=timeout)
    return st, (r["auth"]["client_token"] if st == 200 else None)


class Load:
    """Threads, one agent each, in three roles: actors post governed actions in EXECUTE;
    walkers run whole lifecycles (bootstrap, every phase, a few actions in EXECUTE, EXIT,
    again); loginers log in over AppRole and read a secret with the new token. Every
    answer is recorded with its latency and, for an acknowledged decision, its ledger
    seq."""

    def __init__(self, env, agents):
        self.env, self.agents = env, agents  # [(agent, role, role_id, secret_id, token)]
        self.lock = threading.Lock()
        self.events = []  # (t_start, latency, endpoint, outcome, seq, agent)
        self.creds = {a[0]: (a[2], a[3]) for a in agents}
        self.threads = []
        self.stopping = False

    def rec(self, t0, endpoint, outcome, seq, agent, reason=""):
        with self.lock:
            self.events.append((t0, time.time() - t0, endpoint, outcome, seq, agent, reason))

    def req(self, endpoint, agent, method, path, body=None, token=None):
        """One request; returns (status, reply) or (None, None) on no answer."""
        t0 = time.time()
        try:
            st, r = call(self.env.base, method, path, body, token, timeout=REQ_TIMEOUT)
        except (OSError, ValueError) as e:
            self.rec(t0, endpoint, no_answer(e), 0, agent)
            time.sleep(0.05)
            return None, None
        seq, reason = 0, ""
        if endpoint == "action" and st == 200 and isinstance(r, dict):
            outcome, seq = r["data"]["decision"], r["data"].get("ledger_seq", 0)
            reason = r["data"].get("reason", "")
        elif st in (200, 204):
            data = r.get("data") if isinstance(r, dict) else None
            refused = isinstance(data, dict) and data.get("ok") is False
            outcome = "deny" if refused else "allow"
            if refused:
                reason = "%s:%s" % (endpoint, data.get("reason", ""))
        elif st in (400, 403, 404, 409, 429, 503):
            outcome = "deny"
        else:
            outcome = "error"
        if outcome != "allow" and not reason:
            reason = "%s:http_%s" % (endpoint, st)
        self.rec(t0, endpoint, outcome, seq, agent, reason)
        return st, r

    def act(self, agent, token):
        return self.req("action", agent, "POST", "/v1/agents/%s/actions" % agent,
                        {"action": "docs.read", "resource": "docs/chaos"}, token)

    def relogin(self, agent, st, r, token):
        """A token the daemon refused (expired by a clock jump, say) is replaced by a new
        login, as an agent would; returns the token to use."""
        if st != 403 or "token" not in json.dumps(r):
            return token
        row = self.creds[agent]
        try:
            lst, new = login(self.env.base, row[0], row[1])
        except (OSError, ValueError):
            return token
        self.rec(time.time(), "login", "allow" if lst == 200 else "deny", 0, agent,
                 "" if lst == 200 else "login:http_%s" % lst)
        return new or token

    def actor(self, agent, token):
        while not self.stopping:
            st, r = self.act(agent, token)
            token = self.relogin(agent, st, r, token)

    def phase_of(self, agent, token):
        st, r = self.req("agent_get", agent, "GET", "/v1/agents/" + agent, token=token)
        if st != 200 or not isinstance(r, dict):
            return None
        state = r["data"].get("state") or {}
        return state.get("phase") if r["data"].get("locked") else "EXIT"

    def walker(self, agent, token):
        phase = "EXIT"
        while not self.stopping:
            if phase == "EXIT":
                st, r = self.req("bootstrap", agent, "POST", "/v1/agents/%s/bootstrap" % agent,
                                 {}, token)
                nxt = "BOOTSTRAP" if st == 200 else None
            else:
                want = PHASES[0] if phase == "BOOTSTRAP" else \
                    PHASES[PHASES.index(phase) + 1] if phase in PHASES[:-1] else "EXIT"
                st, r = self.req("transition", agent, "POST", "/v1/agents/%s/transition" % agent,
                                 {"phase": want}, token)
                nxt = want if st == 200 and r["data"].get("ok", True) else None
                if nxt == "EXECUTE":
                    for _ in range(3):
                        self.act(agent, token)
            token = self.relogin(agent, st, r, token)
            if nxt is None:  # refused or unanswered: ask where the run is
                # A lock held by a run nobody finished (a daemon killed in the middle of
                # a bootstrap) refuses bootstraps (409) until lifecycle.lock_ttl.
                time.sleep(0.5 if st == 409 else 0.05)
                nxt = self.phase_of(agent, token) or phase
            phase = nxt

    def loginer(self, agent, role_id, secret_id):
        while not self.stopping:
            t0 = time.time()
            try:
                st, token = login(self.env.base, role_id, secret_id)
            except (OSError, ValueError) as e:
                self.rec(t0, "login", no_answer(e), 0, agent)
                time.sleep(0.05)
                continue
            self.rec(t0, "login", "allow" if st == 200 else "deny" if st in (400, 403, 503)
                     else "error", 0, agent, "" if st == 200 else "login:http_%s" % st)
            if token:
                self.req("secret_read", agent, "GET", "/v1/secret/data/sandbox/chaos",
                         token=token)

    def start(self):
        self.stopping = False
        for agent, role, role_id, secret_id, token in self.agents:
            fn, a = {"actor": (self.actor, (agent, token)),
                     "walker": (self.walker, (agent, token)),
                     "loginer": (self.loginer, (agent, role_id, secret_id))}[role]
            t = threading.Thread(target=fn, args=a, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(REQ_TIMEOUT + 5)

    def window(self, t0, t1):
        with self.lock:
            return [e for e in self.events if t0 <= e[0] < t1]


def p99(lat):
    if not lat:
        return 0.0
    lat = sorted(lat)
    return lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def first_allow_after(load, t, limit):
    """Seconds from t to the first action answered allow that started after t."""
    deadline = time.time() + limit
    while time.time() < deadline:
        for e in load.window(t, time.time()):
            if e[2] == "action" and e[3] == "allow":
                return e[0] + e[1] - t
        time.sleep(0.05)
    return None


def ledger_missing(env, acked):
    """Acknowledged (seq, agent) pairs that the ledger does not hold as that agent's
    decision entry."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(env.dir, "ledger.db"), uri=True)
    have = {}
    for seq, agent in db.execute("SELECT seq, agent_id FROM ledger"):
        have[seq] = agent
    db.close()
    return [(s, a) for s, a in acked if have.get(s) != a]


def system_entries(env):
    """Counts of the daemon's `system` ledger entries by action (breaker.open, health.down)."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(env.dir, "ledger.db"), uri=True)
    rows = db.execute("SELECT action, COUNT(*) FROM ledger WHERE kind = 'system' "
                      "GROUP BY action").fetchall()
    db.close()
    return {a: n for a, n in rows if a}


def verify(env):
    r = subprocess.run([env.ag, "--dir", env.dir, "ledger", "verify"], capture_output=True,
                       text=True)
    return r.returncode == 0, (r.stdout + r.stderr).strip().splitlines()[:1]


# ---- faults: each returns (inject, remove) -----------------------------------------------

def fault_redis_stop(env):
    return (lambda: env.redis.send_signal(signal.SIGSTOP),
            lambda: env.redis.send_signal(signal.SIGCONT))


def fault_redis_restart(env):
    def inject():
        env.redis.kill()
        env.redis.wait()

    return inject, env.start_redis


def fault_daemon_kill(env):
    def inject():
        env.daemon.kill()
        env.daemon.wait()

    return inject, env.start_daemon


def fault_disk_full(env):
    filler = os.path.join(os.path.dirname(env.dir), "filler")

    def inject():
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (4 << 20, 4096, 1):  # big writes, then the last few bytes too
                while True:
                    try:
                        if os.write(fd, b"\0" * chunk) <= 0:
                            break
                    except OSError:
                        break
        finally:
            os.close(fd)

    return inject, lambda: os.unlink(filler)


def control(env, text):
    """Rewrites the test build's fault control file (src/core/faults.h)."""
    tmp = env.faults + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, env.faults)


def fault_io_write(env):
    return (lambda: control(env, "write 100000000\n"), lambda: control(env, ""))


def fault_io_fsync(env):
    return (lambda: control(env, "fsync 100000000\n"), lambda: control(env, ""))


def fault_clock_forward(env):
    return (lambda: control(env, "clock %d\n" % (3 * 3600 * 1000)), lambda: control(env, ""))


def fault_clock_back(env):
    return (lambda: control(env, "clock %d\n" % (-3600 * 1000)), lambda: control(env, ""))


def metric(env, name):
    """The value of one line of the daemon's /metrics (name with its labels), or None."""
    try:
        st, text = call(env.base, "GET", "/metrics", timeout=REQ_TIMEOUT)
    except (OSError, ValueError):
        return None
    for line in (text if isinstance(text, str) else "").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def slow_then_failing(dep, seconds):
    """dep is slow for the first half of the fault, then answers 503."""
    dep.set("slow")
    t = threading.Timer(seconds / 2, dep.set, ("fail",))
    t.daemon = True
    t.start()
    return t


def revoke(env, agent):
    """A new agent walked to EXECUTE that reports the same error three times: revoked,
    which makes the daemon queue an agent.revoked notification (docs/notify.md)."""
    token = setup_agent(env.base, env.root, agent, 1, None, "EXECUTE")
    for _ in range(3):
        call(env.base, "POST", "/v1/agents/%s/errors" % agent,
             {"error_type": "tool_failed", "message": "chaos"}, token)


def fault_notify_slow_fail(env):
    """The webhook receiver slow (beyond notify.timeout), then failing (503), while
    agents are revoked; decisions must not wait for it and no event may be lost."""
    st = {"agents": [], "stop": False, "timer": None, "thread": None, "errors": []}

    def producer():
        n = 0
        while not st["stop"]:
            agent = "chaos-rv-%d-%d" % (int(time.time()), n)
            n += 1
            try:
                revoke(env, agent)
                st["agents"].append(agent)
            except (OSError, ValueError, AssertionError) as e:
                st["errors"].append("%s: %r" % (agent, e))
            time.sleep(0.1)

    def inject():
        st["timer"] = slow_then_failing(env.receiver.http, env.seconds)
        st["thread"] = threading.Thread(target=producer, daemon=True)
        st["thread"].start()

    def remove():
        st["stop"] = True
        st["thread"].join(30)
        # Still failing: the open breaker keeps the events waiting in the outbox.
        st["pending"] = metric(env, "agentgov_notify_pending")
        st["state"] = metric(env, 'agentgov_breaker_state{dep="notify.webhook"}')
        st["timer"].cancel()
        env.receiver.http.set("ok")

    def after(load, t_in, t_out, limit):
        agents = st["agents"]
        t_rm = time.time()
        done = lambda: all(env.receiver.revoked(a) for a in agents)  # noqa: E731
        while not done() and time.time() < t_rm + limit:
            time.sleep(0.05)
        delivered = time.time() - t_rm if done() else None
        missing = [a for a in agents if not env.receiver.revoked(a)]
        twice = [a for a in agents if len(env.receiver.revoked(a)) > 1]
        r = subprocess.run([env.ag, "--dir", env.dir, "notify", "list", "--dead", "--json"],
                           capture_output=True, text=True)
        try:
            dead = len(json.loads(r.stdout or "[]"))
        except ValueError:
            dead = -1
        before = [e[1] for e in load.window(t_in - env.seconds, t_in) if e[2] == "action"]
        during = [e[1] for e in load.window(t_in, t_out) if e[2] == "action"]
        pb, pd = p99(before) * 1000, p99(during) * 1000
        fields = {"events": len(agents), "events_lost": len(missing),
                  "events_duplicated_ids": len(twice), "dead": dead,
                  "receiver_hits": env.receiver.http.hits,
                  "p99_before_ms": round(pb, 1), "p99_during_ms": round(pd, 1),
                  "pending_at_end": st["pending"], "breaker_state_at_end": st["state"],
                  "breaker_opens": metric(env, 'agentgov_breaker_opens_total'
                                          '{dep="notify.webhook"}'),
                  "delivered_s": None if delivered is None else round(delivered, 2)}
        bad = []
        if not fields["breaker_opens"]:
            bad.append("the notify.webhook breaker never opened")
        if agents and not st["pending"]:
            bad.append("no event waited in the outbox while the receiver failed")
        if not agents:
            bad.append("no revocation was made during the fault: %s" % st["errors"][:2])
        if missing or delivered is None:
            bad.append("events not delivered within %ss: %s" % (limit, missing[:3]))
        if twice:
            bad.append("one revocation got two event ids: %s" % twice[:3])
        if dead:
            bad.append("%s dead deliveries (%s)" % (dead, r.stderr.strip()[:200]))
        # A notifier never sits on the decision path: the p99 of governed actions during
        # the fault stays within the noise of this busy machine of the p99 before it.
        if pd > max(3 * pb, pb + 300):
            bad.append("actions slowed by the notifier: p99 %.1f ms during, %.1f ms before"
                       % (pd, pb))
        return fields, bad

    return inject, remove, after


def orchestrate(env, task):
    """One small governed `agentgov orchestrate` against the harness's model endpoint;
    returns (exit status, seconds, its --json result or {})."""
    t0 = time.time()
    r = subprocess.run([env.ag, "--dir", env.dir, "orchestrate", "--task", task, "--timeout",
                        "%ds" % ORCH_TIMEOUT, "--max-turns", "2", "--no-gamma", "--json",
                        "chaos objective"], capture_output=True, text=True,
                       timeout=ORCH_TIMEOUT + 30)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = {}
    return r.returncode, time.time() - t0, out


def llm_entries(env, task):
    """(llm.chat entries of a task's agents, how many of them the open breaker refused)."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(env.dir, "ledger.db"), uri=True)
    rows = db.execute("SELECT decision, error_message FROM ledger WHERE kind = 'llm' AND "
                      "agent_id LIKE ?", ("%@" + task,)).fetchall()
    db.close()
    return len(rows), sum(1 for d, m in rows if m and "circuit breaker 'llm' is open" in m)


def fault_llm_slow_fail(env):
    """The model endpoint slow (beyond llm.timeout), then failing (503), under small
    orchestrate runs: each fails closed within its timeout + 1 s, the breaker opens."""
    st = {"runs": [], "stop": False, "timer": None, "thread": None}

    def runner():
        n = 0
        while not st["stop"]:
            task = "chaos-llm-%d-%d" % (int(time.time()), n)
            n += 1
            try:
                rc, secs, out = orchestrate(env, task)
            except subprocess.TimeoutExpired:
                rc, secs, out = None, ORCH_TIMEOUT + 30, {}
            st["runs"].append((task, rc, secs, out))

    def inject():
        st["timer"] = slow_then_failing(env.model, env.seconds)
        st["thread"] = threading.Thread(target=runner, daemon=True)
        st["thread"].start()

    def remove():
        st["stop"] = True
        st["thread"].join(ORCH_TIMEOUT + 35)
        st["timer"].cancel()
        env.model.set("ok")

    def after(load, t_in, t_out, limit):
        runs = st["runs"]
        t_rm = time.time()
        rc, secs, out = orchestrate(env, "chaos-llm-after")
        recovered = time.time() - t_rm if out.get("llm_calls", 0) > 0 else None
        slowest = max([r[2] for r in runs] or [0])
        opened = sum(llm_entries(env, r[0])[1] for r in runs)
        calls = sum(llm_entries(env, r[0])[0] for r in runs)
        fields = {"runs": len(runs), "llm_entries": calls, "breaker_refusals": opened,
                  "model_hits": env.model.hits, "slowest_run_s": round(slowest, 2),
                  "llm_recover_s": None if recovered is None else round(recovered, 2)}
        bad = []
        if not runs:
            bad.append("no orchestrate run finished during the fault")
        # Failing closed: exit 4 when the model could not be reached (outcome failed),
        # exit 2 when the run was cut at its --timeout; never a consensus.
        if any(r[1] not in (2, 4) for r in runs):
            bad.append("a run did not fail closed (exit 2 or 4): %s" % [
                (r[0], r[1]) for r in runs if r[1] not in (2, 4)][:3])
        if slowest > ORCH_TIMEOUT + 1:
            bad.append("a run took %.2f s, beyond its --timeout %ss + 1 s" % (slowest,
                                                                              ORCH_TIMEOUT))
        if not opened:
            bad.append("the llm breaker never refused a call")
        if recovered is None:
            bad.append("no model call succeeded after the endpoint recovered (exit %s)" % rc)
        return fields, bad

    return inject, remove, after


FAULTS = {"redis_stop": fault_redis_stop, "redis_restart": fault_redis_restart,
          "daemon_kill": fault_daemon_kill, "disk_full": fault_disk_full,
          "io_write": fault_io_write, "io_fsync": fault_io_fsync,
          "clock_forward": fault_clock_forward, "clock_back": fault_clock_back,
          "notify_slow_fail": fault_notify_slow_fail, "llm_slow_fail": fault_llm_slow_fail}
NEED_FAULT_BUILD = ("io_write", "io_fsync", "clock_forward", "clock_back")


def mount_small_fs(mnt, work, mb):
    """A small file system for the data directory, to fill up: a tmpfs, else an ext4 loop
    image. Returns (kind, None) or (None, why neither could be mounted)."""
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % mb, "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return "tmpfs", None
    why = "tmpfs: " + (r.stderr.strip() or "mount failed")
    img = os.path.join(work, "disk.img")
    try:
        with open(img, "wb") as f:
            f.truncate(mb << 20)
        mk = subprocess.run(["mkfs.ext4", "-q", "-F", img], capture_output=True, text=True)
        if mk.returncode != 0:
            return None, why + "; loop image: mkfs.ext4: " + mk.stderr.strip()
        r = subprocess.run(["mount", "-o", "loop", img, mnt], capture_output=True, text=True)
        if r.returncode == 0:
            return "loop", None
        return None, why + "; loop image: " + (r.stderr.strip() or "mount failed")
    except OSError as e:
        return None, why + "; loop image: %s" % e


def run(args):
    fault_build = bool(args.fault_bin) and os.access(args.fault_bin, os.X_OK)
    ag = os.path.abspath(args.fault_bin if fault_build else args.bin)
    work = tempfile.mkdtemp(prefix="agentgov-chaos-")
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    small_fs, why_not = mount_small_fs(mnt, work, args.tmpfs_mb)
    on_tmpfs = small_fs is not None
    faults = [f for f in args.faults.split(",") if f]
    results, ok = [], True
    env = Env(ag, work, on_tmpfs, fault_build)
    try:
        env.start_redis()
        env.init()
        env.start_daemon()
        st, _ = call(env.base, "POST", "/v1/secret/data/sandbox/chaos",
                     {"data": {"password": "chaos"}}, env.root)
        assert st in (200, 204), st
        agents = []
        for i in range(args.agents):
            agent = "chaos-%d" % i
            role = ("actor", "walker", "loginer", "actor")[i % 4]
            role_id, secret_id = register(env.base, env.root, agent)
            st, token = login(env.base, role_id, secret_id, timeout=10)
            assert st == 200, st
            if role == "actor":  # into EXECUTE once; it only acts from then on
                st, _ = call(env.base, "POST", "/v1/agents/%s/bootstrap" % agent, {}, token)
                for ph in PHASES[:3]:
                    st, _ = call(env.base, "POST", "/v1/agents/%s/transition" % agent,
                                 {"phase": ph}, token)
                    assert st == 200, st
            agents.append((agent, role, role_id, secret_id, token))
        load = Load(env, agents)
        load.start()
        time.sleep(1.0)
        for name in faults:
            parts = name.split("+")  # "redis_stop+disk_full": both at once
            if any(p in NEED_FAULT_BUILD for p in parts) and not fault_build:
                results.append({"fault": name, "skipped":
                                "needs the test build (make faults; --fault-bin)"})
                continue
            if "disk_full" in parts and not on_tmpfs:
                results.append({"fault": name, "skipped":
                                "no small file system could be mounted here (%s)" % why_not})
                continue
            env.seconds = args.seconds
            pairs = [FAULTS[p](env) for p in parts]

            def inject(pairs=pairs):
                for i in pairs:
                    i[0]()

            def remove(pairs=pairs):
                for r in reversed(pairs):
                    r[1]()
            t_in = time.time()
            inject()
            time.sleep(args.seconds)
            t_out = time.time()
            remove()
            rec = first_allow_after(load, t_out, args.recover + 5)
            extra, extra_bad = {}, []
            for f in pairs:
                if len(f) > 2:  # the fault's own checks (a loopback dependency's)
                    x, b = f[2](load, t_in, t_out, args.recover + 5)
                    extra.update(x)
                    extra_bad += b
            time.sleep(0.5)
            ev = load.window(t_in, t_out)
            lat = [e[1] for e in ev]
            results.append({
                "fault": name,
                "sent": len(ev),
                "allow": sum(1 for e in ev if e[3] == "allow"),
                "actions": sum(1 for e in ev if e[2] == "action"),
                "deny": sum(1 for e in ev if e[3] == "deny"),
                "errors": sum(1 for e in ev if e[3] in ("error", "timeout")),
                "timeouts": sum(1 for e in ev if e[3] == "timeout"),
                "deny_reasons": dict(sorted(
                    {rs: sum(1 for e in ev if e[3] == "deny" and e[6] == rs)
                     for rs in set(e[6] for e in ev if e[3] == "deny")}.items(),
                    key=lambda kv: -kv[1])[:4]),
                "p99_ms": round(p99(lat) * 1000, 1),
                "max_ms": round(max(lat) * 1000, 1) if lat else 0.0,
                "recover_s": None if rec is None else round(rec, 2),
                "checks": extra, "check_problems": extra_bad,
            })
        load.stop()
        acked = [(e[4], e[5]) for e in load.events if e[2] == "action" and e[4] > 0]
        by_endpoint = {}
        for e in load.events:
            by_endpoint.setdefault(e[2], []).append(e)
        env.stop()
        missing = ledger_missing(env, acked)
        vok, vline = verify(env)
        summary = {"acknowledged": len(acked), "missing": len(missing), "verify_ok": vok,
                   "endpoints": {k: len(v) for k, v in sorted(by_endpoint.items())},
                   "outcomes": {k: {o: sum(1 for e in v if e[3] == o)
                                    for o in ("allow", "deny", "error", "timeout")}
                                for k, v in sorted(by_endpoint.items())},
                   "system": system_entries(env),
                   "verify": vline, "requests": len(load.events), "small_fs": small_fs}
        for r in results:
            if "skipped" in r:
                continue
            r["missing"] = len(missing)  # checked once over the whole run
            bad = []
            if r["recover_s"] is None or r["recover_s"] > args.recover:
                bad.append("no recovery within %ss" % args.recover)
            if r["max_ms"] > MAX_WAIT_MS or r["timeouts"]:
                bad.append("a request waited longer than the daemon's timeout + 1 s")
            bad += r.get("check_problems", [])
            r["ok"] = not bad
            r["problems"] = bad
            ok = ok and not bad
        ok = ok and not missing and vok
    finally:
        env.stop()
        env.close_loopbacks()
        if on_tmpfs:
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    hdr = "%-20s %6s %6s %6s %6s %8s %8s %8s %9s" % ("fault", "sent", "allow", "deny",
                                                      "errors", "lost", "p99 ms", "max ms",
                                                      "recover s")
    print(hdr)
    for r in results:
        if "skipped" in r:
            print("%-20s skipped: %s" % (r["fault"], r["skipped"]))
            continue
        print("%-20s %6d %6d %6d %6d %8d %8.1f %8.1f %9s%s" % (
            r["fault"], r["sent"], r["allow"], r["deny"], r["errors"], r["missing"],
            r["p99_ms"], r["max_ms"], r["recover_s"],
            "" if r["ok"] else "  FAIL: " + "; ".join(r["problems"])))
    for r in results:
        if r.get("checks"):
            print("  %-12s %s" % (r["fault"], ", ".join(
                "%s %s" % kv for kv in r["checks"].items())))
    for r in results:
        if r.get("deny_reasons"):
            print("  %-12s denied: %s" % (r["fault"], ", ".join(
                "%s %d" % kv for kv in r["deny_reasons"].items())))
    print("acknowledged decisions: %d, missing from the ledger: %d; ledger verify: %s %s" % (
        summary["acknowledged"], summary["missing"], "OK" if summary["verify_ok"] else "FAILED",
        " ".join(summary["verify"])))
    print("ledgered changes: " + ", ".join("%s %d" % kv for kv in
                                           sorted(summary.get("system", {}).items())))
    print("requests by endpoint (allow/deny/error over the whole run): " + ", ".join(
        "%s %d/%d/%d" % (k, v["allow"], v["deny"], v["error"])
        for k, v in summary.get("outcomes", {}).items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "summary": summary}, f, indent=2)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=os.environ.get("AGENTGOV_BIN", "build/agentgov"))
    p.add_argument("--short", action="store_true", help="the make test pass: 2 s per fault")
    p.add_argument("--seconds", type=float, default=20.0, help="how long each fault lasts")
    p.add_argument("--agents", type=int, default=16, help="agents (one thread each)")
    p.add_argument("--recover", type=float, default=5.0, help="allowed recovery, seconds")
    p.add_argument("--fault-bin", default=os.environ.get("AGENTGOV_FAULT_BIN", ""),
                   help="the test build's agentgov (make faults), for the io_* and clock_* "
                   "faults; the whole run then uses it")
    p.add_argument("--faults", default="redis_stop,redis_restart,daemon_kill,disk_full,"
                   "io_write,io_fsync,clock_forward,clock_back,redis_stop+disk_full,"
                   "notify_slow_fail,llm_slow_fail,redis_restart+io_fsync+clock_forward",
                   help="comma-separated; a+b injects a and b together")
    p.add_argument("--tmpfs-mb", type=int, default=256)
    p.add_argument("--json", help="also write the figures as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if args.short:
        args.seconds, args.agents = 2.0, 6
        if args.faults == p.get_default("faults"):  # the single faults only
            args.faults = ",".join(f for f in args.faults.split(",") if "+" not in f)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
