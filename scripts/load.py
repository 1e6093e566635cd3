#!/usr/bin/env python3
"""agentgov load: N simulated agents (default 1,000) driven through whole lifecycles
concurrently against one real daemon, on each store backend, reporting throughput and
p99 latency per endpoint.

Usage: scripts/load.py [--agents N] [--concurrency C] [--actions K]
                       [--backends sqlite,redis] [--bin build/agentgov] [--json OUT]

Each agent: register, AppRole role and secret ID (admin set-up, timed apart), then
login, bootstrap, PREFLIGHT, PLAN, EXECUTE, K governed actions, VERIFY, PACKAGE,
REPORT, EXIT. C client threads work through the agents, each on its own keep-alive
connection. Every answer must be the expected one (a lifecycle that fails is counted
and reported, and makes the exit status 1). Python 3 standard library only."""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PHASES = ["PREFLIGHT", "PLAN", "EXECUTE", "VERIFY", "PACKAGE", "REPORT", "EXIT"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Client:
    """One keep-alive HTTP/1.1 connection; records (endpoint, seconds) per request."""

    def __init__(self, port, stats):
        self.port, self.stats = port, stats
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, endpoint, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Vault-Token"] = token
        data = json.dumps(body).encode() if body is not None else None
        t0 = time.perf_counter()
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, data, headers)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        self.stats.append((endpoint, time.perf_counter() - t0))
        return r.status, (json.loads(raw) if raw else None)


def packet(agent):
    return {"agent_id": agent, "task_id": "task-" + agent, "created_for": "load",
            "objective": "load test", "deliverables": [],
            "constraints": {"scope": ["docs/**"], "forbidden": ["prod.*"], "required_steps": []},
            "success_criteria": [], "escalation_rules": [],
            "created_at": "2026-11-25T12:00:00Z"}


def setup(c, root, agent):
    st, r = c.call("admin", "POST", "/v1/agents/" + agent, {"tier": 1, "packet": packet(agent)},
                   root)
    assert st == 200, (st, r)
    st, r = c.call("admin", "POST", "/v1/auth/approle/role/" + agent, {"tier": 1}, root)
    assert st == 204, (st, r)
    st, r = c.call("admin", "GET", "/v1/auth/approle/role/%s/role-id" % agent, None, root)
    role_id = r["data"]["role_id"]
    st, r = c.call("admin", "POST", "/v1/auth/approle/role/%s/secret-id" % agent, {}, root)
    return role_id, r["data"]["secret_id"]


def lifecycle(c, agent, role_id, secret_id, actions):
    """One whole run; returns None, or what went wrong."""
    st, r = c.call("login", "POST", "/v1/auth/approle/login",
                   {"role_id": role_id, "secret_id": secret_id})
    if st != 200:
        return "login %s %s" % (st, r)
    tok = r["auth"]["client_token"]
    st, r = c.call("bootstrap", "POST", "/v1/agents/%s/bootstrap" % agent, {}, tok)
    if st != 200:
        return "bootstrap %s %s" % (st, r)
    for ph in PHASES:
        st, r = c.call("transition", "POST", "/v1/agents/%s/transition" % agent,
                       {"phase": ph}, tok)
        if st != 200:
            return "transition %s %s %s" % (ph, st, r)
        if ph == "EXECUTE":
            for _ in range(actions):
                st, r = c.call("action", "POST", "/v1/agents/%s/actions" % agent,
                               {"action": "docs.read", "resource": "docs/load"}, tok)
                if st != 200 or r["data"]["decision"] != "allow":
                    return "action %s %s" % (st, r)
    return None


def pool(n_threads, items, fn):
    """Runs fn(client_index, item) over items with n_threads threads."""
    lock = threading.Lock()
    it = iter(items)
    errors = []

    def worker(i):
        while True:
            with lock:
                try:
                    item = next(it)
                except StopIteration:
                    return
            try:
                err = fn(i, item)
            except Exception as e:  # an unanswered request: reported, not raised
                err = repr(e)
            if err:
                with lock:
                    errors.append(err)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, errors


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * q))] if v else 0.0


def run_backend(args, backend, work):
    ag = os.path.abspath(args.bin)
    d = os.path.join(work, backend, "data")
    os.makedirs(os.path.dirname(d), exist_ok=True)
    env = dict(os.environ)
    redis = None
    if backend == "redis":
        rport = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", rport), 0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        env["AGENTGOV_STORE"] = "redis://127.0.0.1:%d/0" % rport
    subprocess.run([ag, "--dir", d, "init"], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    if backend == "redis":
        with open(os.path.join(d, "config"), "a") as f:
            f.write("store = %s\n" % env["AGENTGOV_STORE"])
    with open(os.path.join(d, "config"), "a") as f:
        f.write("server.log_level = warn\n")
    root = open(os.path.join(d, "root.token")).read().strip()
    port = free_port()
    log = open(os.path.join(work, backend + ".log"), "wb")
    daemon = subprocess.Popen([ag, "--dir", d, "serve", "--listen", "127.0.0.1:%d" % port],
                              stdout=log, stderr=log, env=env)
    try:
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.025)
        agents = ["load-%d" % i for i in range(args.agents)]
        stats = [[] for _ in range(args.concurrency)]
        clients = [Client(port, stats[i]) for i in range(args.concurrency)]
        creds = {}

        def do_setup(i, agent):
            creds[agent] = setup(clients[i], root, agent)

        setup_s, errs = pool(args.concurrency, agents, do_setup)
        if errs:
            return {"backend": backend, "errors": errs[:5], "failed": len(errs)}
        for s in stats:
            s.clear()
        run_s, errs = pool(args.concurrency, agents,
                           lambda i, a: lifecycle(clients[i], a, *creds[a], args.actions))
        by = {}
        for s in stats:
            for ep, dt in s:
                by.setdefault(ep, []).append(dt)
        total = sum(len(v) for v in by.values())
        res = {"backend": backend, "agents": args.agents, "concurrency": args.concurrency,
               "setup_s": round(setup_s, 2), "run_s": round(run_s, 2),
               "lifecycles_per_s": round(args.agents / run_s, 1),
               "requests_per_s": round(total / run_s, 1), "failed": len(errs),
               "errors": errs[:5], "endpoints": {}}
        for ep, v in sorted(by.items()):
            res["endpoints"][ep] = {"n": len(v), "per_s": round(len(v) / run_s, 1),
                                    "p50_ms": round(pct(v, 0.5) * 1000, 2),
                                    "p99_ms": round(pct(v, 0.99) * 1000, 2)}
        v = subprocess.run([ag, "--dir", d, "ledger", "verify"], capture_output=True, text=True)
        res["verify_ok"] = v.returncode == 0
        return res
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        if redis:
            redis.terminate()
            redis.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=os.environ.get("AGENTGOV_BIN", "build/agentgov"))
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--actions", type=int, default=5, help="governed actions per run")
    p.add_argument("--backends", default="sqlite,redis")
    p.add_argument("--json", help="also write the figures as JSON here")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="agentgov-load-")
    results, ok = [], True
    try:
        for b in args.backends.split(","):
            r = run_backend(args, b, work)
            results.append(r)
            ok = ok and r.get("failed", 1) == 0 and r.get("verify_ok", False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in results:
        if "endpoints" not in r:
            print("%s: set-up failed: %s" % (r["backend"], r["errors"]))
            continue
        print("%s: %d agents, %d client threads: %.1f lifecycles/s, %.1f requests/s, "
              "%d failed, ledger verify %s" % (
                  r["backend"], r["agents"], r["concurrency"], r["lifecycles_per_s"],
                  r["requests_per_s"], r["failed"], "OK" if r["verify_ok"] else "FAILED"))
        print("  %-12s %7s %9s %8s %8s" % ("endpoint", "n", "per s", "p50 ms", "p99 ms"))
        for ep, e in r["endpoints"].items():
            print("  %-12s %7d %9.1f %8.2f %8.2f" % (ep, e["n"], e["per_s"], e["p50_ms"],
                                                    e["p99_ms"]))
        for e in r["errors"]:
            print("  error: %s" % e)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
