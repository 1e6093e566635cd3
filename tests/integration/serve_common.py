"""Helpers for the daemon's integration scripts (imported, never run as a suite).

Only the Python standard library: the scripts drive the real binary over HTTP."""
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request


def call(base, method, path, body=None, token=None, headers=None, timeout=10):
    """One request; returns (status, parsed JSON or text)."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if token:
        req.add_header("X-Vault-Token", token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def drip(s, chunks, wait, deadline, on_step=None):
    """Sends chunks one at a time on socket s, waiting up to `wait` s for the daemon after
    each, until the daemon closes the connection or `deadline` s have passed. Returns the
    seconds until the daemon cut the connection (None if it did not) and what it sent."""
    t0, reply = time.time(), b""
    s.settimeout(wait)
    for i, chunk in enumerate(chunks):
        if on_step:
            on_step(i)
        try:
            s.send(chunk)
            data = s.recv(4096)
            if data == b"":
                return time.time() - t0, reply
            reply += data
        except socket.timeout:
            pass
        except OSError:
            return time.time() - t0, reply
        if time.time() - t0 > deadline:
            break
    return None, reply


def slow_client(port, timeout_s):
    """Sends a request's headers one byte every 100 ms from one connection while
    other requests are made; prints the facts the shell script checks."""
    base = "http://127.0.0.1:%d" % port
    s = socket.create_connection(("127.0.0.1", port))
    payload = b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 1000
    others = []

    def other(i):
        if i not in (5, 10, 15):
            return
        t = time.time()
        st, _ = call(base, "GET", "/v1/sys/health", timeout=5)
        others.append((st, time.time() - t))

    cut_after, _ = drip(s, [bytes([b]) for b in payload], 0.1, timeout_s * 4, other)
    print("others_ok=%d" % sum(1 for st, d in others if st == 200 and d < 1.0))
    print("cut=%s" % ("yes" if cut_after is not None else "no"))
    print("cut_after=%.1f" % (cut_after or -1))


def slow_body(port, timeout_s):
    """Headers at once, then a declared 200-byte body one byte every 200 ms: the daemon
    must cut the request at its deadline without a reply, and serve others meanwhile."""
    base = "http://127.0.0.1:%d" % port
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/data/agentgov/decision HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n")
    cut_after, reply = drip(s, [b" "] * 200, 0.2, timeout_s * 4)
    st, _ = call(base, "GET", "/v1/sys/health", timeout=5)
    print("other=%d" % st)
    print("cut=%s" % ("yes" if cut_after is not None else "no"))
    print("cut_after=%.1f" % (cut_after or -1))
    print("reply=%s" % ("none" if not reply else reply.split(b"\r\n")[0].decode()))


def hold_connections(port, n, seconds):
    """Opens n keep-alive connections and sends a health request on each; prints how
    many were answered while all n stay open (at most the cap: the rest wait in the
    listen backlog), then closes them and prints the status of a new request."""
    socks = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port), timeout=2)
        c.sendall(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(c)
    time.sleep(1.0)
    answered = 0
    for c in socks:
        c.settimeout(0.05)
        try:
            if c.recv(4096).startswith(b"HTTP/1.1 200"):
                answered += 1
        except OSError:
            pass
    print("answered=%d" % answered)
    for c in socks:
        c.close()
    time.sleep(seconds)
    st, _ = call("http://127.0.0.1:%d" % port, "GET", "/v1/sys/health", timeout=5)
    print("after=%d" % st)


def packet(agent, task, scope=("**",), forbidden=("prod.*",)):
    return {"agent_id": agent, "task_id": task, "created_for": "tests",
            "objective": "integration test", "deliverables": [],
            "constraints": {"scope": list(scope), "forbidden": list(forbidden),
                            "required_steps": []},
            "success_criteria": [], "escalation_rules": [],
            "created_at": "2026-11-25T12:00:00Z"}


def setup_agent(base, root, agent, tier, token_ttl=None, phase=None, scope=None):
    """Registers an agent with a packet, gives it an AppRole role, logs it in and,
    when phase is given, bootstraps it and walks it to that phase. Returns its token."""
    task = "task-" + agent
    pk = packet(agent, task, scope=scope.split(",") if scope else ("**",))
    st, r = call(base, "POST", "/v1/agents/" + agent, {"tier": tier, "packet": pk}, root)
    assert st == 200, (st, r)
    role = {"tier": tier}
    if token_ttl:
        role["token_ttl"] = token_ttl
    st, r = call(base, "POST", "/v1/auth/approle/role/" + agent, role, root)
    assert st == 204, (st, r)
    st, r = call(base, "GET", "/v1/auth/approle/role/%s/role-id" % agent, token=root)
    role_id = r["data"]["role_id"]
    st, r = call(base, "POST", "/v1/auth/approle/role/%s/secret-id" % agent, {}, root)
    secret_id = r["data"]["secret_id"]
    st, r = call(base, "POST", "/v1/auth/approle/login",
                 {"role_id": role_id, "secret_id": secret_id})
    assert st == 200, (st, r)
    token = r["auth"]["client_token"]
    if phase:
        st, r = call(base, "POST", "/v1/agents/%s/bootstrap" % agent, {}, token)
        assert st == 200, (st, r)
        order = ["PREFLIGHT", "PLAN", "EXECUTE", "VERIFY", "PACKAGE", "REPORT", "EXIT"]
        for ph in order[:order.index(phase) + 1]:
            st, r = call(base, "POST", "/v1/agents/%s/transition" % agent, {"phase": ph}, token)
            assert st == 200, (st, r)
    return token


def hammer(base, token, agent, seconds, threads, out_path):
    """Posts actions from several threads until the connection fails (the daemon
    stops); writes the ledger seq of every acknowledged (200) decision to out_path."""
    acked = []
    lock = threading.Lock()
    stop = time.time() + seconds

    def worker():
        while time.time() < stop:
            try:
                st, r = call(base, "POST", "/v1/agents/%s/actions" % agent,
                             {"action": "docs.read", "resource": "docs/x"}, token, timeout=10)
            except OSError:
                return
            if st == 200 and r["data"]["ledger_seq"] > 0:
                with lock:
                    acked.append(r["data"]["ledger_seq"])

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(out_path, "w") as f:
        f.write("\n".join(str(s) for s in acked) + "\n")
    print("acked=%d" % len(acked))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "slow":
        slow_client(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "slowbody":
        slow_body(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "hold":
        hold_connections(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "setup":  # setup BASE ROOT AGENT TIER [TTL] [PHASE] [SCOPE]
        a = sys.argv[2:] + [""] * 3
        print(setup_agent(a[0], a[1], a[2], int(a[3]), a[4] or None, a[5] or None, a[6] or None))
    elif cmd == "hammer":  # hammer BASE TOKEN AGENT SECONDS THREADS OUT
        hammer(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6]),
               sys.argv[7])
