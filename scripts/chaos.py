#!/usr/bin/env python3
"""agentgov chaos: a mixed load against a real daemon while faults are injected one at a
time, with the check that matters: every decision the daemon acknowledged is in the
ledger, and the ledger verifies.

Usage: scripts/chaos.py [--short] [--seconds S] [--agents N] [--threads N]
                        [--faults a,b,...] [--bin build/agentgov] [--json OUT]

Faults: redis_stop (SIGSTOP then SIGCONT of redis-server), redis_restart (SIGKILL and a
new redis-server on the same port and append-only file), daemon_kill (SIGKILL of the
daemon and a restart), disk_full (the data directory on a small tmpfs, filled up, then
freed; skipped with the reason when no tmpfs can be mounted here).

For each fault it prints: requests sent, answered allow / deny, errors (no answer),
acknowledged decisions missing from the ledger (must be 0), ledger verify, the time to
recover after the fault was removed (first allow), p99 and max latency during the fault.
Exit 1 when any check fails: a lost decision, verify not OK, a request that waited
longer than its timeout + 1 s, or no recovery within --recover seconds.

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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from serve_common import call, setup_agent  # noqa: E402

REQ_TIMEOUT = 3.0  # seconds a load request may wait


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Env:
    """A data directory, a redis-server with an append-only file, and the daemon."""

    def __init__(self, ag, work, on_tmpfs):
        self.ag, self.work, self.on_tmpfs = ag, work, on_tmpfs
        self.dir = os.path.join(work, "mnt" if on_tmpfs else "", "data")
        self.redis_dir = os.path.join(work, "redis")
        os.makedirs(self.redis_dir, exist_ok=True)
        self.rport, self.port = free_port(), free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.redis = self.daemon = None
        self.log = open(os.path.join(work, "daemon.log"), "ab")

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
            f.write("store = redis://127.0.0.1:%d/0?timeout=1s\n" % self.rport)
            for dep in ("store", "ledger"):
                f.write("breaker.%s.failures = 3\n" % dep)
                f.write("breaker.%s.cooldown = 200ms\n" % dep)
                f.write("breaker.%s.cooldown_max = 1s\n" % dep)
        self.root = open(os.path.join(self.dir, "root.token")).read().strip()

    def start_daemon(self):
        self.daemon = subprocess.Popen(
            [self.ag, "--dir", self.dir, "serve", "--listen", "127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=self.log)
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


class Load:
    """Threads posting governed actions (one agent each) and reading secrets; every
    answer is recorded with its latency and, when acknowledged, its ledger seq."""

    def __init__(self, env, tokens):
        self.env, self.tokens = env, tokens
        self.lock = threading.Lock()
        self.events = []  # (t_start, latency, kind, outcome, seq)
        self.stop_at = None
        self.threads = []

    def worker(self, agent, token):
        i = 0
        while not self.stopping:
            i += 1
            t0 = time.time()
            try:
                if i % 10 == 0:
                    st, r = call(self.env.base, "GET", "/v1/secret/data/chaos/%s" % agent,
                                 token=token, timeout=REQ_TIMEOUT)
                    kind, seq = "secret", 0
                    outcome = "allow" if st == 200 else "deny" if st in (403, 404, 503) else \
                        "error"
                else:
                    st, r = call(self.env.base, "POST", "/v1/agents/%s/actions" % agent,
                                 {"action": "docs.read", "resource": "docs/chaos"}, token,
                                 timeout=REQ_TIMEOUT)
                    kind = "action"
                    if st == 200 and isinstance(r, dict):
                        d = r["data"]
                        outcome, seq = d["decision"], d.get("ledger_seq", 0)
                    elif st in (403, 409, 503):
                        outcome, seq = "deny", 0
                    else:
                        outcome, seq = "error", 0
            except (OSError, ValueError):
                kind, outcome, seq = "action", "error", 0
                time.sleep(0.05)
            with self.lock:
                self.events.append((t0, time.time() - t0, kind, outcome, seq, agent))

    def start(self):
        self.stopping = False
        for agent, token in self.tokens:
            t = threading.Thread(target=self.worker, args=(agent, token), daemon=True)
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
            if e[3] == "allow":
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


FAULTS = {"redis_stop": fault_redis_stop, "redis_restart": fault_redis_restart,
          "daemon_kill": fault_daemon_kill, "disk_full": fault_disk_full}


def run(args):
    ag = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="agentgov-chaos-")
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    on_tmpfs = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % args.tmpfs_mb,
                               "tmpfs", mnt], capture_output=True).returncode == 0
    faults = [f for f in args.faults.split(",") if f]
    results, ok = [], True
    env = Env(ag, work, on_tmpfs)
    try:
        env.start_redis()
        env.init()
        env.start_daemon()
        tokens = []
        for i in range(args.agents):
            agent = "chaos-%d" % i
            tokens.append((agent, setup_agent(env.base, env.root, agent, 1, None, "EXECUTE",
                                              "docs/**")))
        load = Load(env, tokens)
        load.start()
        time.sleep(1.0)
        for name in faults:
            if name == "disk_full" and not on_tmpfs:
                results.append({"fault": name, "skipped":
                                "no tmpfs could be mounted here (needs CAP_SYS_ADMIN); "
                                "no loop device tried"})
                continue
            inject, remove = FAULTS[name](env)
            t_in = time.time()
            inject()
            time.sleep(args.seconds)
            remove()
            t_out = time.time()
            rec = first_allow_after(load, t_out, args.recover + 5)
            time.sleep(0.5)
            ev = load.window(t_in, t_out)
            lat = [e[1] for e in ev]
            results.append({
                "fault": name,
                "sent": len(ev),
                "allow": sum(1 for e in ev if e[3] == "allow"),
                "deny": sum(1 for e in ev if e[3] == "deny"),
                "errors": sum(1 for e in ev if e[3] == "error"),
                "p99_ms": round(p99(lat) * 1000, 1),
                "max_ms": round(max(lat) * 1000, 1) if lat else 0.0,
                "recover_s": None if rec is None else round(rec, 2),
            })
        load.stop()
        acked = [(e[4], e[5]) for e in load.events if e[2] == "action" and e[4] > 0]
        env.stop()
        missing = ledger_missing(env, acked)
        vok, vline = verify(env)
        summary = {"acknowledged": len(acked), "missing": len(missing), "verify_ok": vok,
                   "verify": vline, "requests": len(load.events), "tmpfs": on_tmpfs}
        for r in results:
            if "skipped" in r:
                continue
            r["missing"] = len(missing)  # checked once over the whole run
            bad = []
            if r["recover_s"] is None or r["recover_s"] > args.recover:
                bad.append("no recovery within %ss" % args.recover)
            if r["max_ms"] > (REQ_TIMEOUT + 1) * 1000:
                bad.append("a request waited longer than its timeout + 1 s")
            r["ok"] = not bad
            r["problems"] = bad
            ok = ok and not bad
        ok = ok and not missing and vok
    finally:
        env.stop()
        if on_tmpfs:
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    hdr = "%-14s %6s %6s %6s %6s %8s %8s %8s %9s" % ("fault", "sent", "allow", "deny",
                                                      "errors", "lost", "p99 ms", "max ms",
                                                      "recover s")
    print(hdr)
    for r in results:
        if "skipped" in r:
            print("%-14s skipped: %s" % (r["fault"], r["skipped"]))
            continue
        print("%-14s %6d %6d %6d %6d %8d %8.1f %8.1f %9s%s" % (
            r["fault"], r["sent"], r["allow"], r["deny"], r["errors"], r["missing"],
            r["p99_ms"], r["max_ms"], r["recover_s"],
            "" if r["ok"] else "  FAIL: " + "; ".join(r["problems"])))
    print("acknowledged decisions: %d, missing from the ledger: %d; ledger verify: %s %s" % (
        summary["acknowledged"], summary["missing"], "OK" if summary["verify_ok"] else "FAILED",
        " ".join(summary["verify"])))
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
    p.add_argument("--faults", default="redis_stop,redis_restart,daemon_kill,disk_full")
    p.add_argument("--tmpfs-mb", type=int, default=256)
    p.add_argument("--json", help="also write the figures as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if args.short:
        args.seconds, args.agents = 2.0, 6
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
