"""Approvals through the real daemon (run by approvals.sh, once per store backend).

Usage: approvals_flow.py AGENTGOV DATA_DIR [STORE_URL]

Starts `agentgov serve` itself (it must restart it), drives the whole flow over HTTP and
prints one "ok NAME" or "FAIL NAME: why" line per check. Only the standard library."""
import hashlib
import hmac
import json
import os
import urllib.parse
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import call, setup_agent  # noqa: E402
from notify_fakes import Fakes  # noqa: E402

AG, D = sys.argv[1], sys.argv[2]
STORE = sys.argv[3] if len(sys.argv) > 3 and sys.argv[0].endswith("approvals_flow.py") else ""
FAILS = 0

POLICY = """version: 1
rules:
  - {id: observe, effect: allow, actions: [docs.read], resources: ['**'], min_tier: 0}
  - {id: deploy, effect: ask, actions: [deploy.run], resources: [sandbox/**], phases: [EXECUTE],
     min_tier: 1, approval: {approvers: ['user:alice', 'user:bob']}}
  - {id: migrate, effect: ask, actions: [db.migrate], resources: [sandbox/**], min_tier: 1,
     approval: {approvers: ['user:alice', 'user:bob'], required: 2}}
  - {id: quick, effect: ask, actions: [quick.op], resources: [sandbox/**], min_tier: 1,
     approval: {timeout: 1s, approvers: ['user:alice']}}
"""


SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_click(base, user, action, approval_id, secret=SLACK_SECRET, ts=None):
    """A Slack block_actions request as Slack sends it: form-encoded payload, v0 signature."""
    payload = {"type": "block_actions", "user": {"id": user, "username": user.lower()},
               "actions": [{"action_id": action, "block_id": "agentgov-approval:" + approval_id,
                            "value": approval_id, "type": "button"}]}
    body = "payload=" + urllib.parse.quote_plus(json.dumps(payload))
    ts = str(int(time.time()) if ts is None else ts)
    sig = "v0=" + hmac.new(secret.encode(), ("v0:%s:%s" % (ts, body)).encode(),
                           hashlib.sha256).hexdigest()
    return call(base, "POST", "/v1/notify/slack/interactions", body.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})


def check(name, cond, why=""):
    global FAILS
    if cond:
        print("ok   " + name)
    else:
        FAILS += 1
        print("FAIL %s: %s" % (name, str(why)[:600]))
    sys.stdout.flush()


def run(*args):
    p = subprocess.run([AG, "--dir", D] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def ledger_ok(name):
    rc, out, err = run("ledger", "verify")
    check("ledger verify after " + name, rc == 0, out + err)


def ledger_rows(kind):
    rc, out, _ = run("ledger", "query", "--kind", kind, "--format", "jsonl")
    return [json.loads(l) for l in out.splitlines() if l.strip()]


class Daemon:
    def __init__(self):
        self.proc = None
        self.base = None

    def start(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.base = "http://127.0.0.1:%d" % port
        log = open(os.path.join(D, "..", "daemon.log"), "a")
        self.proc = subprocess.Popen([AG, "--dir", D, "serve", "--listen", "127.0.0.1:%d" % port],
                                     stdout=log, stderr=log)
        for _ in range(200):
            try:
                st, _ = call(self.base, "GET", "/v1/sys/health", timeout=1)
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("FAIL daemon did not start")

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
            self.proc = None


def wait_for(pred, seconds=8.0):
    t0 = time.time()
    while time.time() - t0 < seconds:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def got(fk, channel, ev_type, approval_id):
    """The deliveries a fake accepted for one approval event."""
    out = []
    for b in fk.bodies(channel):
        if channel == "webhook" and b["type"] == ev_type and b["data"].get("id") == approval_id:
            out.append(b)
        elif channel == "slack" and approval_id in b["text"] and (
                ev_type != "approval.requested" or any(x["type"] == "actions" for x in b["blocks"])):
            out.append(b)
        elif channel == "github" and approval_id in b["body"] and (
                (ev_type == "approval.requested") == ("Approval requested" in b["body"])):
            out.append(b)
    return out


def act(base, token, agent, action, args=None, approval_id=None):
    body = {"action": action, "resource": "sandbox/web/01"}
    if args is not None:
        body["args"] = args
    if approval_id is not None:
        body["approval_id"] = approval_id
    st, r = call(base, "POST", "/v1/agents/%s/actions" % agent, body, token)
    return st, (r or {}).get("data", r) if isinstance(r, dict) else r


def main():
    with open(os.path.join(D, "policy.yaml"), "w") as f:
        f.write(POLICY)
    fk = Fakes("whsec-test-secret", "ghp_test_token")
    with open(os.path.join(D, "config"), "a") as f:
        if STORE:
            f.write("store = %s\n" % STORE)
        f.write("notify.slack.webhook_url = %s/slack/webhook\n" % fk.base)
        f.write("notify.webhook.url = %s/webhook\n" % fk.base)
        f.write("notify.webhook.secret = kv:notify/webhook#secret\n")
        f.write("notify.github.api_url = %s/github\n" % fk.base)
        f.write("notify.github.repo = acme/widgets\nnotify.github.issue = 7\n")
        f.write("notify.github.token_secret = ghp_test_token\n")
        f.write("notify.slack.signing_secret = %s\n" % SLACK_SECRET)
        f.write("notify.slack.users = U0ALICE=alice, U0BOB=bob\n")
        f.write("breaker.notify.cooldown = 200ms\nbreaker.notify.cooldown_max = 400ms\n")
        f.write("notify.backoff = 100ms\nnotify.backoff_max = 500ms\nnotify.max_attempts = 200\n")
    root = open(os.path.join(D, "root.token")).read().strip()
    dm = Daemon()
    dm.start()
    B = dm.base
    st, r = call(B, "POST", "/v1/secret/data/notify/webhook", {"data": {"secret": "whsec-test-secret"}}, root)
    check("the webhook secret is in the KV store", st == 200, r)
    agent = setup_agent(B, root, "agent-a", 1, None, "EXECUTE", "sandbox/**")
    other = setup_agent(B, root, "agent-b", 1, None, "EXECUTE", "sandbox/**")
    alice = setup_agent(B, root, "alice", 2)
    bob = setup_agent(B, root, "bob", 2)
    carol = setup_agent(B, root, "carol", 2)

    # ---- ask -> pending -> approved (long poll) -> retry once -> reuse denied ----------
    args = {"tag": "v1.2", "replicas": 3}
    st, d = act(B, agent, "agent-a", "docs.read")
    check("an allow carries no approval", st == 200 and "approval_id" not in d, d)
    st, d = act(B, agent, "agent-a", "deploy.run", args)
    check("ask answers 200 with decision ask", st == 200 and d["decision"] == "ask", d)
    aid = d.get("approval_id", "")
    check("ask carries approval_id and expires_at",
          aid.startswith("apv-") and d.get("expires_at", "").endswith("Z"), d)
    for ch in ("slack", "webhook", "github"):
        check("%s is notified of the request" % ch,
              wait_for(lambda: got(fk, ch, "approval.requested", aid)), fk.bodies(ch))
    wb = got(fk, "webhook", "approval.requested", aid)
    check("the webhook body shows what will run",
          wb and wb[0]["data"]["args"] == args and wb[0]["data"]["action"] == "deploy.run", wb)
    sb = got(fk, "slack", "approval.requested", aid)
    check("the Slack message has Approve/Deny buttons for the approval",
          sb and [e["value"] for b in sb[0]["blocks"] if b["type"] == "actions"
                  for e in b["elements"]] == [aid, aid], sb)
    check("the GitHub token was read from config and sent as Bearer", fk.refused["github"] == 0)
    st, r = call(B, "GET", "/v1/approvals/" + aid, token=agent)
    check("the requester reads its approval: pending",
          st == 200 and r["data"]["status"] == "pending" and r["data"]["args"] == args, r)
    st, r = call(B, "GET", "/v1/approvals/" + aid, token=other)
    check("another agent cannot read it (403)", st == 403, r)
    st, r = call(B, "GET", "/v1/approvals", token=agent)
    check("an agent cannot list approvals (403)", st == 403, r)
    st, r = call(B, "GET", "/v1/approvals?pending=true", token=alice)
    check("an approver lists it", st == 200 and any(a["id"] == aid for a in r["data"]["approvals"]), r)
    st, r = call(B, "GET", "/v1/approvals?agent=agent-a", token=root)
    check("admin lists by agent", st == 200 and r["data"]["count"] >= 1, r)
    st, r = call(B, "POST", "/v1/approvals/%s/approve" % aid, {}, agent)
    check("self-approval refused with 403", st == 403 and "requester" in json.dumps(r), r)
    st, r = call(B, "POST", "/v1/approvals/%s/approve" % aid, {}, carol)
    check("a non-approver is refused with 403", st == 403, r)
    refused = [x for x in ledger_rows("approval") if x["data"].get("event") == "decision_refused"]
    check("refused decisions are ledgered with the approver",
          len(refused) == 2 and refused[0]["data"]["approver"]["entity"] == "agent-a", refused)
    st, d = act(B, agent, "agent-a", "deploy.run", args, aid)
    check("retry while pending: approval_pending",
          d.get("decision") == "deny" and d.get("reason") == "approval_pending", d)

    polled = {}

    def poll():
        t0 = time.time()
        polled["r"] = call(B, "GET", "/v1/approvals/%s?wait=10s" % aid, token=agent, timeout=20)
        polled["t"] = time.time() - t0

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    st, r = call(B, "POST", "/v1/approvals/%s/approve" % aid, {"reason": "ship it"}, alice)
    check("alice approves", st == 200 and r["data"]["status"] == "approved", r)
    th.join()
    pst, pr = polled["r"]
    check("the long poll returns the decision at once",
          pst == 200 and pr["data"]["status"] == "approved" and 0.4 < polled["t"] < 5, (pr, polled["t"]))
    check("the decision is notified",
          wait_for(lambda: got(fk, "webhook", "approval.decided", aid))
          and wait_for(lambda: got(fk, "slack", "approval.decided", aid)), fk.bodies("webhook"))
    g = pr["data"]["grant"]
    check("the grant is signed over id, digest, expiry, nonce",
          g["message"] == "agentgov-approval-grant:v1:%s:%s:%d:%s" % (
              aid, pr["data"]["digest"], pr["data"]["expires_at_ms"], g["nonce"])
          and len(g["sig"]) == 128, g)
    # The offline verifier printed in docs/approvals.md, run as-is on this grant.
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                            "approvals.md")).read()
    code = src.split("<!-- grant-verifier:begin -->")[1].split("<!-- grant-verifier:end -->")[0]
    code = code.strip().strip("`").replace("python\n", "", 1)
    vf = os.path.join(D, "..", "verify_grant.py")
    open(vf, "w").write(code)
    apf = os.path.join(D, "..", "approval.json")
    json.dump(pr["data"], open(apf, "w"))
    p = subprocess.run([sys.executable, vf, apf, os.path.join(D, "ledger.pub")],
                       capture_output=True, text=True)
    check("the docs' offline verifier accepts the grant", p.returncode == 0 and "grant OK" in p.stdout,
          p.stdout + p.stderr)
    bad = dict(pr["data"], args={"tag": "v9", "replicas": 3})
    json.dump(bad, open(apf, "w"))
    p = subprocess.run([sys.executable, vf, apf, os.path.join(D, "ledger.pub")],
                       capture_output=True, text=True)
    check("and refuses other arguments", p.returncode != 0, p.stdout)
    st, d = act(B, agent, "agent-a", "deploy.run", {"tag": "v1.3", "replicas": 3}, aid)
    check("a changed argument is denied: approval_mismatch", d.get("reason") == "approval_mismatch", d)
    st, d = act(B, other, "agent-b", "deploy.run", args, aid)
    check("another agent's retry: approval_mismatch", d.get("reason") == "approval_mismatch", d)
    st, d = act(B, agent, "agent-a", "deploy.run", args, aid)
    check("the retry is allowed once",
          d.get("decision") == "allow" and d.get("reason") == "approval_granted", d)
    st, d = act(B, agent, "agent-a", "deploy.run", args, aid)
    check("a second use is denied: approval_used", d.get("reason") == "approval_used", d)
    granted = [x for x in ledger_rows("decision") if x["reason"] == "approval_granted"]
    check("the granted decision names the approval",
          len(granted) == 1 and granted[0]["data"]["approval_id"] == aid, granted)
    ledger_ok("ask/approve/retry")

    # ---- two-person rule --------------------------------------------------------------
    st, d = act(B, agent, "agent-a", "db.migrate", [1, 2])
    mid = d.get("approval_id", "")
    st, r = call(B, "POST", "/v1/approvals/%s/approve" % mid, {}, alice)
    check("first of two approvals: still pending",
          st == 200 and r["data"]["status"] == "pending" and r["data"]["approvals"] == 1, r)
    st, r = call(B, "POST", "/v1/approvals/%s/approve" % mid, {}, alice)
    check("the same approver twice: 409", st == 409, r)
    st, d = act(B, agent, "agent-a", "db.migrate", [1, 2], mid)
    check("one of two is not enough: approval_pending", d.get("reason") == "approval_pending", d)
    st, r = call(B, "POST", "/v1/approvals/%s/approve" % mid, {}, bob)
    check("second approver: approved", st == 200 and r["data"]["status"] == "approved", r)
    st, d = act(B, agent, "agent-a", "db.migrate", [1, 2], mid)
    check("two-person grant allows once", d.get("decision") == "allow", d)
    ledger_ok("two-person rule")

    # ---- deny -------------------------------------------------------------------------
    st, d = act(B, agent, "agent-a", "db.migrate", {"x": 1})
    did = d.get("approval_id", "")
    st, r = call(B, "POST", "/v1/approvals/%s/deny" % did, {}, root)
    check("a deny without a reason is 400", st == 400, r)
    st, r = call(B, "POST", "/v1/approvals/%s/deny" % did, {"reason": "freeze"}, root)
    check("admin denies", st == 200 and r["data"]["status"] == "denied", r)
    st, d = act(B, agent, "agent-a", "db.migrate", {"x": 1}, did)
    check("retry of a denied approval: approval_denied", d.get("reason") == "approval_denied", d)
    st, r = call(B, "GET", "/v1/approvals/apv-000000000000000000000000", token=root)
    check("unknown approval: 404", st == 404, r)
    ledger_ok("deny")

    # ---- expiry -----------------------------------------------------------------------
    st, d = act(B, agent, "agent-a", "quick.op")
    qid = d.get("approval_id", "")
    time.sleep(1.2)
    st, r = call(B, "GET", "/v1/approvals/" + qid, token=agent)
    check("past its expiry it reads expired", r["data"]["status"] == "expired", r)
    st, r = call(B, "POST", "/v1/approvals/%s/approve" % qid, {}, alice)
    check("an expired approval cannot be approved (409)", st == 409, r)
    st, d = act(B, agent, "agent-a", "quick.op", None, qid)
    check("retry after expiry: approval_expired", d.get("reason") == "approval_expired", d)
    time.sleep(1.5)
    exp = [x for x in ledger_rows("approval")
           if x["data"].get("event") == "expired" and x["data"]["approval_id"] == qid]
    check("the expiry is ledgered once", len(exp) == 1, exp)
    check("the expiry is notified", wait_for(lambda: got(fk, "webhook", "approval.expired", qid)))
    ledger_ok("expiry")

    # ---- a Slack outage during an approval loses no notification ---------------------------
    fk.slack_down = True
    t0 = time.time()
    st, d = act(B, agent, "agent-a", "deploy.run", {"outage": 1})
    oid = d.get("approval_id", "")
    st2, r = call(B, "POST", "/v1/approvals/%s/approve" % oid, {}, alice)
    took = time.time() - t0
    check("a down Slack does not delay nor change the decision",
          d.get("decision") == "ask" and st2 == 200 and r["data"]["status"] == "approved"
          and took < 2.0, (d, r, took))
    check("the webhook still gets both events",
          wait_for(lambda: got(fk, "webhook", "approval.decided", oid)))
    # 5 failures open Slack's breaker; its probes after each cool-down fail too.
    wait_for(lambda: fk.refused["slack"] >= 7, 8)
    check("Slack refused attempts meanwhile (retried with backoff, then probes)",
          fk.refused["slack"] >= 7 and not got(fk, "slack", "approval.requested", oid), fk.refused)
    fk.slack_down = False
    check("after the outage Slack gets the request",
          wait_for(lambda: got(fk, "slack", "approval.requested", oid), 10))
    check("and the decision", wait_for(lambda: got(fk, "slack", "approval.decided", oid), 10))
    time.sleep(1.0)
    st, r = call(B, "GET", "/metrics")
    check("Slack's circuit breaker opened during the outage and closed after it",
          'agentgov_breaker_opens_total{dep="notify.slack"}' in r and
          'agentgov_breaker_state{dep="notify.slack"} 0' in r and
          'agentgov_breaker_opens_total{dep="notify.slack"} 0' not in r,
          [l for l in r.splitlines() if "notify" in l])
    per_id = fk.events("slack")
    check("exactly one delivery per event id at Slack",
          per_id and all(c == 1 for c in per_id.values()), per_id)
    check("every webhook delivery verified its signature", fk.refused["webhook"] == 0, fk.refused)
    wid = [b["id"] for b in fk.bodies("webhook")]
    check("webhook event ids are unique", len(wid) == len(set(wid)), wid)
    st, r = call(B, "GET", "/metrics")
    check("/metrics counts deliveries", "agentgov_notify_sent_total" in r and
          "agentgov_notify_dead 0" in r, r[-600:] if isinstance(r, str) else r)
    st, d = act(B, agent, "agent-a", "deploy.run", {"outage": 1}, oid)
    check("the retry after the outage is allowed", d.get("decision") == "allow", d)
    ledger_ok("slack outage")

    # ---- Slack buttons ----------------------------------------------------------------------
    st, d = act(B, agent, "agent-a", "deploy.run", {"slack": 1})
    sid = d.get("approval_id", "")
    st, r = slack_click(B, "U0ALICE", "approve", sid, secret="not-the-secret")
    check("a forged Slack signature is refused (401)", st == 401, r)
    st, r = slack_click(B, "U0ALICE", "approve", sid, ts=int(time.time()) - 600)
    check("a stale Slack timestamp is refused (401)", st == 401, r)
    st, r = slack_click(B, "U0EVE", "approve", sid)
    check("an unmapped Slack user is refused (403)", st == 403, r)
    # The daemon's audit writer records refused credentials in the background.
    slack_rows = lambda: [x for x in ledger_rows("violation") if "slack_" in (x.get("reason") or "")]
    rows = wait_for(lambda: len(slack_rows()) >= 3 and slack_rows(), 5) or slack_rows()
    check("refused Slack requests are ledgered with why",
          sorted(x["reason"] for x in rows) == ["slack_signature", "slack_stale_timestamp",
                                                "slack_user_unmapped"], rows)
    st, r = call(B, "GET", "/v1/approvals/" + sid, token=agent)
    check("nothing unverified changed the approval", r["data"]["status"] == "pending", r)
    st, r = slack_click(B, "U0ALICE", "approve", sid)
    check("a verified click approves as the mapped approver",
          st == 200 and "approved by alice" in json.dumps(r), r)
    st, r = call(B, "GET", "/v1/approvals/" + sid, token=alice)
    v = r["data"]["votes"][0]["approver"]
    check("the vote names the Slack user", v == {"accessor": "slack:U0ALICE", "entity": "alice",
                                                 "via": "slack"}, v)
    st, d = act(B, agent, "agent-a", "deploy.run", {"slack": 1}, sid)
    check("the Slack-approved retry is allowed", d.get("decision") == "allow", d)
    ledger_ok("slack buttons")

    # ---- a restart while pending keeps the approval --------------------------------------
    st, d = act(B, agent, "agent-a", "deploy.run", {"n": 7})
    rid = d.get("approval_id", "")
    dm.stop()
    dm.start()
    B = dm.base
    st, r = call(B, "GET", "/v1/approvals/" + rid, token=agent)
    check("after a restart the approval is still pending",
          st == 200 and r["data"]["status"] == "pending" and r["data"]["args"] == {"n": 7}, r)
    st, r = call(B, "POST", "/v1/approvals/%s/approve" % rid, {}, bob)
    check("approved after the restart", st == 200 and r["data"]["status"] == "approved", r)
    st, d = act(B, agent, "agent-a", "deploy.run", {"n": 7}, rid)
    check("retry after the restart is allowed", d.get("decision") == "allow", d)
    ledger_ok("restart")
    dm.stop()
    ledger_ok("daemon stop")
    print("FAILS=%d" % FAILS)


if __name__ == "__main__":
    main()
