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


def slow_client(port, timeout_s):
    """Sends a request's headers one byte every 100 ms from one connection while
    other requests are made; prints the facts the shell script checks."""
    base = "http://127.0.0.1:%d" % port
    s = socket.create_connection(("127.0.0.1", port))
    payload = b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 1000
    t0 = time.time()
    others = []

    def other():
        t = time.time()
        st, _ = call(base, "GET", "/v1/sys/health", timeout=5)
        others.append((st, time.time() - t))

    cut_after = None
    for i, b in enumerate(payload):
        try:
            s.send(bytes([b]))
        except OSError:
            cut_after = time.time() - t0
            break
        if i in (5, 10, 15):
            th = threading.Thread(target=other)
            th.start()
            th.join()
        s.settimeout(0.1)
        try:
            if s.recv(100) == b"":
                cut_after = time.time() - t0
                break
        except socket.timeout:
            pass
        except OSError:
            cut_after = time.time() - t0
            break
        if time.time() - t0 > timeout_s * 4:
            break
    print("others_ok=%d" % sum(1 for st, d in others if st == 200 and d < 1.0))
    print("cut=%s" % ("yes" if cut_after is not None else "no"))
    print("cut_after=%.1f" % (cut_after or -1))


if __name__ == "__main__":
    if sys.argv[1] == "slow":
        slow_client(int(sys.argv[2]), float(sys.argv[3]))
