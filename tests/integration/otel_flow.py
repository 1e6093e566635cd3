"""OpenTelemetry export from the real daemon to a validating OTLP receiver on loopback
(otlp_receiver.py). Run by otel.sh. Usage: otel_flow.py AGENTGOV WORKDIR; prints
"ok   ..." / "FAIL ..." lines and FAILS=N.

Checks: decisions with and without a traceparent (and with an invalid one), lifecycle
transitions, an approval asked and approved, a revocation, the LLM calls of a task the
daemon orchestrates (from the shipped replay), each arriving as a span and a
log record with the documented attributes and the right trace ids; the resource and the
headers (one read from the secret store); the receiver down (503) opens the breaker,
decisions go on unaffected and the lost batches are counted; the receiver back, export
resumes; a stuck collector fills the queue and the overflow is counted in /metrics while
decisions keep their pace; a bad otel setting stops the daemon at start."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_common import call, setup_agent  # noqa: E402
from otlp_receiver import Receiver  # noqa: E402

AG, WORK = sys.argv[1], sys.argv[2]
FAILS = [0]

POLICY = """version: 1
rules:
  - {id: read, effect: allow, actions: [docs.read], resources: ['**'], min_tier: 0}
  - {id: nuke, effect: deny, actions: [db.drop], resources: ['**'], min_tier: 0}
  - {id: deploy, effect: ask, actions: [deploy.run], resources: [sandbox/**], min_tier: 1,
     approval: {approvers: ['user:alice']}}
"""
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACE2 = "0af7651916cd43dd8448eb211c80319c"
PARENT2 = "b7ad6b7169203331"


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": %s" % (detail,))[:1500])
    FAILS[0] += 0 if cond else 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(fn, secs):
    end = time.time() + secs
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.05)
    return fn()


def up(base):
    try:
        return call(base, "GET", "/v1/sys/health", timeout=1)[0] == 200
    except OSError:
        return False


def metric(base, line_prefix):
    st, text = call(base, "GET", "/metrics")
    for line in (text if isinstance(text, str) else "").splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.split()[-1])
    return None


def act(base, tok, agent, action, resource="sandbox/web/01", headers=None):
    st, r = call(base, "POST", "/v1/agents/%s/actions" % agent,
                 {"action": action, "resource": resource}, tok, headers=headers)
    return st, (r or {}).get("data", r) if isinstance(r, dict) else r


class Daemon:
    def __init__(self, d, label):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(WORK, label + ".log"), "ab")
        self.p = subprocess.Popen([AG, "--dir", d, "serve", "--listen", "127.0.0.1:%d" % self.port],
                                  stdout=self.log, stderr=self.log)
        wait_for(lambda: up(self.base) or self.p.poll() is not None, 15)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(30)


def data_dir(label, config, policy=POLICY):
    d = os.path.join(WORK, label)
    subprocess.run([AG, "--dir", d, "init"], check=True, capture_output=True)
    if policy:
        with open(os.path.join(d, "policy.yaml"), "w") as f:
            f.write(policy)
    with open(os.path.join(d, "config"), "a") as f:
        f.write(config)
    return d


def spans_by_seq(rc):
    with rc.lock:
        return {int(s["attrs"]["agentgov.ledger.seq"]): (res, s) for res, s in rc.spans
                if "agentgov.ledger.seq" in s["attrs"]}


def logs_by_seq(rc):
    with rc.lock:
        return {int(r["attrs"]["agentgov.ledger.seq"]): (res, r) for res, r in rc.logs
                if "agentgov.ledger.seq" in r["attrs"]}


def main_flow():
    rc = Receiver()
    d = data_dir("main", "otel.endpoint = %s\n" % rc.base +
                 "otel.batch = 8\notel.interval = 50ms\notel.retries = 1\notel.backoff = 20ms\n"
                 "otel.headers = Authorization=kv:otel/collector#auth, X-Tenant = acme\n"
                 "otel.resource_attributes = deployment.environment=test\n"
                 "breaker.otel.failures = 2\nbreaker.otel.cooldown = 1s\n"
                 "breaker.otel.cooldown_max = 1s\n")
    r = subprocess.run([AG, "--dir", d, "secret", "put", "otel/collector", "auth=Bearer c0ll3ct0r"],
                       capture_output=True, text=True)
    check("the collector's credential is in the secret store", r.returncode == 0, r.stderr)
    dm = Daemon(d, "main")
    try:
        run_main(dm.base, d, rc)
    finally:
        dm.stop()
        rc.stop()
    out = subprocess.run([AG, "--dir", d, "ledger", "query", "--kind", "system", "--format",
                          "jsonl"], capture_output=True, text=True).stdout
    acts = [json.loads(l).get("action") for l in out.splitlines()
            if l.strip() and json.loads(l).get("resource") == "otel"]
    check("the otel breaker's opening and closing are ledgered",
          "breaker.open" in acts and "breaker.close" in acts, acts)


def run_main(B, d, rc):
    check("the daemon started with export on", up(B))
    root = open(os.path.join(d, "root.token")).read().strip()
    tok = setup_agent(B, root, "agent-a", 1, None, "EXECUTE", "sandbox/**")
    alice = setup_agent(B, root, "alice", 2)

    tp = {"traceparent": "00-%s-%s-01" % (TRACE, PARENT)}
    st, allow = act(B, tok, "agent-a", "docs.read", headers=tp)
    check("a decision with a traceparent is allowed", st == 200 and allow["decision"] == "allow",
          allow)
    st, deny = act(B, tok, "agent-a", "db.drop")
    check("a decision without one is denied", st == 200 and deny["decision"] == "deny", deny)
    bad = {"traceparent": "00-%s-%s-01" % (TRACE.upper(), PARENT)}
    st, inv = act(B, tok, "agent-a", "docs.read", headers=bad)
    check("a decision with an invalid traceparent is answered", st == 200, inv)
    st, ask = act(B, tok, "agent-a", "deploy.run")
    aid = ask.get("approval_id", "")
    check("an ask opens an approval", ask.get("decision") == "ask" and aid, ask)
    tp2 = {"traceparent": "00-%s-%s-00" % (TRACE2, PARENT2)}
    st, ap = call(B, "POST", "/v1/approvals/%s/approve" % aid, {"reason": "ok"}, alice, headers=tp2)
    check("alice approves it", st == 200, ap)
    st, rv = call(B, "POST", "/v1/agents/agent-a/revoke", {"reason": "test over"}, root)
    check("the agent is revoked", st == 200, rv)

    sp = lambda: spans_by_seq(rc)  # noqa: E731
    seqs = [allow["ledger_seq"], deny["ledger_seq"], inv["ledger_seq"]]
    check("the decisions arrive as spans", wait_for(lambda: all(s in sp() for s in seqs), 5),
          sorted(sp()))
    check("... and as log records", wait_for(lambda: all(s in logs_by_seq(rc) for s in seqs), 5),
          sorted(logs_by_seq(rc)))
    check("the receiver found every request valid OTLP JSON", rc.errors == [], rc.errors)
    spans, logs = sp(), logs_by_seq(rc)
    res, s = spans.get(allow["ledger_seq"], ({}, {"attrs": {}}))
    a = s["attrs"]
    check("traceparent: the span joins the caller's trace",
          s.get("traceId") == TRACE and s.get("parentSpanId") == PARENT, s)
    check("the decision's attributes", a.get("agentgov.decision") == "allow" and
          a.get("agentgov.agent.id") == "agent-a" and a.get("agentgov.agent.tier") == "1" and
          a.get("agentgov.agent.phase") == "EXECUTE" and a.get("agentgov.action") == "docs.read" and
          a.get("agentgov.resource") == "sandbox/web/01" and
          a.get("agentgov.ledger.kind") == "decision" and
          a.get("agentgov.api.route") == "agent_actions" and
          a.get("agentgov.reason") == allow["reason"], a)
    check("the span is named for kind and action", s.get("name") == "agentgov.decision docs.read",
          s.get("name"))
    check("the resource names the service and the configured attributes",
          res.get("service.name") == "agentgov" and
          res.get("deployment.environment") == "test" and "service.version" in res, res)
    _, dn = spans.get(deny["ledger_seq"], ({}, {"attrs": {}}))
    check("no traceparent: a fresh trace, no parent",
          re.match("^[0-9a-f]{32}$", dn.get("traceId", "")) and dn["traceId"] != TRACE and
          "parentSpanId" not in dn and dn["attrs"].get("agentgov.decision") == "deny", dn)
    _, iv = spans.get(inv["ledger_seq"], ({}, {"attrs": {}}))
    check("an invalid traceparent is ignored (W3C): a fresh trace",
          iv.get("traceId") not in (None, TRACE, dn.get("traceId")) and "parentSpanId" not in iv, iv)
    _, lg = logs.get(allow["ledger_seq"], ({}, {"attrs": {}}))
    check("the log record carries the span's trace and span ids",
          lg.get("traceId") == TRACE and lg.get("spanId") == s.get("spanId") and
          lg.get("severityText") == "INFO" and "allow docs.read" in lg["body"]["stringValue"], lg)
    _, ld = logs.get(deny["ledger_seq"], ({}, {"attrs": {}}))
    check("a deny is logged as WARN", ld.get("severityNumber") == 13, ld)

    def kinds():
        return {(x["attrs"].get("agentgov.ledger.kind"), x["attrs"].get("agentgov.action"))
                for _, x in sp().values()}
    check("lifecycle transitions are exported",
          wait_for(lambda: any(k == "lifecycle" for k, _ in kinds()), 5), kinds())
    trans = [x for _, x in sp().values() if x["attrs"].get("agentgov.ledger.kind") == "lifecycle"
             and x["attrs"].get("agentgov.agent.phase") == "EXECUTE"]
    check("a transition names its phase and route",
          trans and trans[0]["attrs"].get("agentgov.api.route") == "agent_transition", trans)
    check("the approval is exported, in the approver's trace",
          wait_for(lambda: any(x["attrs"].get("agentgov.ledger.kind") == "approval" and
                               x["traceId"] == TRACE2 and x.get("parentSpanId") == PARENT2
                               for _, x in sp().values()), 5),
          [x for _, x in sp().values() if x["attrs"].get("agentgov.ledger.kind") == "approval"])
    check("the revocation is exported",
          wait_for(lambda: any(x["attrs"].get("agentgov.ledger.kind") == "revocation" and
                               x["attrs"].get("agentgov.agent.id") == "agent-a"
                               for _, x in sp().values()), 5), kinds())
    with rc.lock:
        hs = list(rc.headers)
    check("every request carried the headers, the credential read from the secret store",
          hs and all(h.get("Authorization") == "Bearer c0ll3ct0r" and h.get("X-Tenant") == "acme"
                     for h in hs), hs[:1])
    check("/metrics counts what was exported",
          wait_for(lambda: (metric(B, "agentgov_otel_exported_total") or 0) >= 10, 3) and
          metric(B, "agentgov_otel_enabled") == 1, metric(B, "agentgov_otel_exported_total"))

    # ---- the collector in trouble: the breaker opens, decisions go on -------------
    rc.status = 503
    agent_b = setup_agent(B, root, "agent-b", 1, None, "EXECUTE", "sandbox/**")
    worst = 0.0
    ok = 0
    for _ in range(30):
        t = time.time()
        st, r = act(B, agent_b, "agent-b", "docs.read")
        worst = max(worst, time.time() - t)
        ok += st == 200 and r.get("decision") == "allow"
        time.sleep(0.01)
    check("collector down: every decision is still answered allow", ok == 30, ok)
    check("collector down: no decision waits for the exporter (slowest %.0f ms)" % (worst * 1000),
          worst < 1.0, worst)
    check("collector down: the otel breaker opens",
          wait_for(lambda: metric(B, 'agentgov_breaker_state{dep="otel"}') == 1, 5),
          metric(B, 'agentgov_breaker_state{dep="otel"}'))
    check("collector down: the lost batches are counted",
          wait_for(lambda: (metric(B, 'agentgov_otel_dropped_total{cause="export_failed"}') or 0)
                   > 0, 5), metric(B, 'agentgov_otel_dropped_total{cause="export_failed"}'))
    rc.status = 200
    # While the breaker is open a batch is dropped at once: decisions go on until one
    # is sent after the cool-down (the probe), which closes the breaker.
    sent = []

    def one_arrives():
        st, back = act(B, agent_b, "agent-b", "docs.read")
        sent.append(back.get("ledger_seq"))
        time.sleep(0.2)
        return any(q in spans_by_seq(rc) for q in sent)
    check("collector back: export resumes after the cool-down", wait_for(one_arrives, 8), sent)
    check("collector back: the breaker closes",
          metric(B, 'agentgov_breaker_state{dep="otel"}') == 0)
    check("still no invalid request", rc.errors == [], rc.errors)


def overflow_flow():
    """A collector that answers after 5 s and a queue of 8: the decisions overflow it."""
    rc = Receiver()
    rc.delay = 5.0
    d = data_dir("overflow", "otel.endpoint = %s\notel.batch = 4\notel.queue = 8\n" % rc.base +
                 "otel.interval = 10ms\notel.timeout = 10s\notel.retries = 0\n")
    dm = Daemon(d, "overflow")
    try:
        B = dm.base
        root = open(os.path.join(d, "root.token")).read().strip()
        tok = setup_agent(B, root, "agent-q", 1, None, "EXECUTE", "sandbox/**")
        time.sleep(0.3)  # the export thread is now inside a 5 s request
        worst, ok = 0.0, 0
        for _ in range(40):
            t = time.time()
            st, r = act(B, tok, "agent-q", "docs.read")
            worst = max(worst, time.time() - t)
            ok += st == 200
        check("stuck collector: every decision answered", ok == 40, ok)
        check("stuck collector: no decision waits (slowest %.0f ms)" % (worst * 1000), worst < 1.0)
        full = metric(B, 'agentgov_otel_dropped_total{cause="queue_full"}')
        check("stuck collector: the queue overflow is counted in /metrics",
              full is not None and full >= 40 - 8 - 4, full)
        check("stuck collector: the queue gauge stays within its bound",
              (metric(B, "agentgov_otel_queue") or 0) <= 8, metric(B, "agentgov_otel_queue"))
        rc.delay = 0  # so that the daemon's last send does not hold its stop
    finally:
        dm.stop()
        rc.stop()


def llm_flow():
    """A task orchestrated by the daemon from the shipped replay (the shipped policy):
    its model calls arrive as llm spans with the GenAI attributes."""
    rc = Receiver()
    d = data_dir("llm", "otel.endpoint = %s\notel.interval = 50ms\n" % rc.base, policy=None)
    dm = Daemon(d, "llm")
    try:
        B = dm.base
        root = open(os.path.join(d, "root.token")).read().strip()
        replay = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                              "multi-agent", "replay.jsonl")
        st, r = call(B, "POST", "/v1/tasks/demo-multi-agent/orchestrate",
                     {"objective": "Choose an eviction policy", "llm": "replay:" + replay,
                      "model": "demo"}, root, timeout=60)
        check("a task is orchestrated over HTTP", st == 200, r)

        def llm_spans():
            with rc.lock:
                return [x for _, x in rc.spans if x["attrs"].get("agentgov.ledger.kind") == "llm"]
        check("its LLM calls arrive as spans", wait_for(lambda: len(llm_spans()) >= 10, 5),
              len(llm_spans()))
        sp = llm_spans()
        a = sp[0]["attrs"] if sp else {}
        check("an LLM call's span names the model and counts its tokens",
              a.get("gen_ai.request.model") == "demo" and
              int(a.get("gen_ai.usage.input_tokens", "-1")) >= 0 and
              int(a.get("gen_ai.usage.output_tokens", "-1")) >= 0 and
              a.get("agentgov.task.id") == "demo-multi-agent" and
              a.get("agentgov.action") == "llm.chat" and
              sp[0]["name"] == "agentgov.llm llm.chat", sp[:1])
        check("no request of the task was invalid OTLP", rc.errors == [], rc.errors)
    finally:
        dm.stop()
        rc.stop()


def bad_config():
    for key, val, needle in (("otel.endpoint", "ftp://127.0.0.1:1", "otel.endpoint"),
                             ("otel.kinds", "decision,bogus", "otel.kinds"),
                             ("otel.headers", "NoEquals", "otel.headers")):
        d = data_dir("bad-" + key, "%s = %s\n" % (key, val))
        p = subprocess.run([AG, "--dir", d, "serve", "--listen", "127.0.0.1:%d" % free_port()],
                           capture_output=True, text=True, timeout=20)
        check("bad %s: the daemon refuses to start, naming it" % key,
              p.returncode != 0 and needle in p.stderr, (p.returncode, p.stderr[-300:]))


main_flow()
llm_flow()
overflow_flow()
bad_config()
print("FAILS=%d" % FAILS[0])
sys.exit(1 if FAILS[0] else 0)
