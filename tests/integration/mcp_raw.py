"""Drives `agentgov mcp proxy` with raw lines, for what no well-behaved client sends
(malformed, oversized, out-of-order messages). usage: mcp_raw.py SCRIPT -- CMD...
SCRIPT holds one line per message; a line starting with '!' is sent without waiting for
an answer (a notification), '@N' sends N bytes of 'x' (an oversized line); every other
line is sent and one answer line is read (10 s at most) and printed. At the end stdin is
closed and 'exit N' prints the proxy's status."""
import subprocess
import sys

script = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
for raw in open(script, encoding="utf-8").read().splitlines():
    wait = True
    if raw.startswith("!"):
        raw, wait = raw[1:], False
    elif raw.startswith("@"):
        raw = "x" * int(raw[1:])
    try:
        p.stdin.write(raw.encode() + b"\n")
        p.stdin.flush()
    except BrokenPipeError:
        print("broken pipe")
        break
    if wait:
        line = p.stdout.readline()
        print(line.decode().rstrip("\n") if line else "<eof>", flush=True)
p.stdin.close()
rest = p.stdout.read().decode()
for l in rest.splitlines():
    print(l)
print("exit %d" % p.wait(timeout=20))
