"""Notifications beyond approvals (run by notify.sh): revocation and budget events,
dead letters after the retry limit (agentgov notify list --dead, /metrics, the ledger),
`agentgov notify test`, and a misconfigured channel named at start.

Usage: notify_flow.py AGENTGOV DATA_DIR. Prints one "ok NAME" / "FAIL NAME: why" line per
check. Only the standard library."""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from approvals_flow import Daemon, check, ledger_ok, ledger_rows, run, wait_for  # noqa: E402
import approvals_flow  # noqa: E402
from notify_fakes import Fakes  # noqa: E402
from serve_common import call, setup_agent  # noqa: E402


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    D = approvals_flow.D
    fk = Fakes("unused", "ghp_x")

    # The webhook receiver printed in docs/notify.md, run as printed (its port and secret
    # substituted), receives `agentgov notify test webhook`.
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                            "notify.md")).read()
    code = src.split("<!-- webhook-receiver:begin -->")[1].split("<!-- webhook-receiver:end -->")[0]
    code = code.strip().strip("`").replace("python\n", "", 1)
    port = closed_port()
    code = code.replace("9000", str(port)).replace("the value of notify.webhook.secret", "doc-secret")
    rf = os.path.join(D, "..", "receiver.py")
    open(rf, "w").write(code)
    recv = subprocess.Popen([sys.executable, "-u", rf], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    with open(os.path.join(D, "config"), "a") as f:
        f.write("notify.webhook.url = http://127.0.0.1:%d/\nnotify.webhook.secret = doc-secret\n" % port)
    rc, out, err = run("notify", "test", "webhook")
    check("the docs' webhook receiver accepts a signed test event", rc == 0, (rc, out, err))
    with open(os.path.join(D, "config"), "a") as f:
        f.write("notify.webhook.secret = wrong-secret\n")
    rc, out, err = run("notify", "test", "webhook")
    check("and refuses a wrong signature (401)", rc == 4 and "401" in err, (rc, out, err))
    recv.terminate()
    printed = recv.communicate(timeout=5)[0]
    check("the receiver printed the event once", printed.count("test None None") == 1, printed)
    with open(os.path.join(D, "config"), "a") as f:
        f.write("notify.slack.webhook_url = %s/slack/webhook\n" % fk.base)
        # Nothing listens there: every attempt fails at once.
        f.write("notify.webhook.url = http://127.0.0.1:%d/hook\n" % closed_port())
        f.write("notify.webhook.secret = s3cret\n")
        f.write("breaker.notify.cooldown = 100ms\nbreaker.notify.cooldown_max = 200ms\n")
        f.write("notify.backoff = 20ms\nnotify.backoff_max = 50ms\nnotify.max_attempts = 3\n")
    rc, out, err = run("notify", "test", "slack")
    check("notify test slack delivers", rc == 0 and "delivered (HTTP 200)" in out, out + err)
    check("the test message reached Slack", any("test notification" in b["text"]
                                                for b in fk.bodies("slack")), fk.bodies("slack"))
    rc, out, err = run("notify", "test", "webhook")
    check("notify test to a dead receiver fails with exit 4 (could not answer)", rc == 4, (rc, out, err))
    rc, out, err = run("notify", "test", "github")
    check("notify test of an unconfigured channel is a usage error", rc == 1 and
          "not configured" in err, (rc, err))
    rc, out, err = run("notify", "--help")
    check("notify --help", rc == 0 and "list [--dead]" in out, out)

    root = open(os.path.join(D, "root.token")).read().strip()
    dm = Daemon()
    dm.start()
    B = dm.base
    tok = setup_agent(B, root, "agent-x", 1, None, "EXECUTE")
    for _ in range(3):
        st, r = call(B, "POST", "/v1/agents/agent-x/errors",
                     {"error_type": "tool_failed", "message": "boom"}, tok)
    check("the third repeated error revokes", "revoked" in json.dumps(r), r)
    types = lambda: sorted(b["text"].split(" ")[0] for b in fk.bodies("slack")
                           if "agent-x" in b["text"])
    check("Slack hears of the revocation and the exhausted budget",
          wait_for(lambda: types() == ["Agent", "Agent"], 5) and
          any("exhausted its error budget (ERROR_REPEATED)" in b["text"] for b in fk.bodies("slack")),
          [b["text"] for b in fk.bodies("slack")])
    dead = lambda: run("notify", "list", "--dead", "--json")[1]
    wait_for(lambda: len(json.loads(dead() or "[]")) >= 2, 8)
    items = json.loads(dead() or "[]")
    check("the webhook deliveries are dead after 3 attempts",
          len(items) == 2 and all(i["channel"] == "webhook" and i["attempts"] == 3 and
                                  i["status"] == "dead" for i in items), items)
    rc, out, err = run("notify", "list", "--dead")
    check("notify list --dead shows the last error",
          rc == 0 and "agent.revoked" in out and "connect" in out.lower(), out)
    st, r = call(B, "GET", "/metrics")
    check("/metrics shows the dead deliveries", "agentgov_notify_dead 2" in r, r[-500:])
    check("the webhook's circuit breaker counted the failures",
          'agentgov_breaker_failures_total{dep="notify.webhook"} ' in r and
          'agentgov_breaker_failures_total{dep="notify.webhook"} 0' not in r, r[-1500:])
    health = lambda: call(B, "GET", "/metrics")[1]
    check("the outbox is a health component, degraded by its dead deliveries",
          wait_for(lambda: 'agentgov_health_status{component="notify"} 1' in health() and
                   'agentgov_health_outbox_dead{component="notify"} 2' in health(), 3),
          [l for l in health().splitlines() if "notify" in l])
    rows = [x for x in ledger_rows("notify") if x["decision"] == "dead"]
    check("dead deliveries are ledgered", len(rows) == 2 and rows[0]["data"]["attempts"] == 3, rows)
    dm.stop()
    ledger_ok("notifications")

    # A channel set up wrong is named when the daemon starts, and notify list says so.
    with open(os.path.join(D, "config"), "a") as f:
        f.write("notify.github.repo = not-a-repo\n")
    rc, out, err = run("notify", "list")
    check("a bad channel setting is named", rc == 1 and "notify.github" in err, (rc, err))
    print("FAILS=%d" % approvals_flow.FAILS)


if __name__ == "__main__":
    main()
