#!/usr/bin/env python3
"""A governed agent written with the Python standard library only (urllib).

It walks the whole lifecycle against a running `agentgov serve`:

  AppRole login -> token lookup -> bootstrap -> PREFLIGHT -> PLAN (read actions)
  -> EXECUTE (governed actions: allowed, denied) -> heartbeat -> a secret read
  -> VERIFY -> PACKAGE -> REPORT -> EXIT -> token renewal -> token revocation.

Every action is authorized by the daemon and recorded in its ledger before the
answer comes back. With --setup ROOT_TOKEN_FILE the script first plays the operator:
it registers the agent with an instruction packet, creates its AppRole role and a
secret ID, and stores a secret for it to read (needs a tier-4 or root token).

    python3 examples/python/agent.py --addr http://127.0.0.1:8200 \\
        --agent demo-agent --setup ~/.local/share/agentgov/root.token

Without --setup, pass --role-id and --secret-id issued by an operator.
Over HTTPS (a daemon started with --tls-cert, or after `agentgov init --tls`), pass
--ca-cert FILE (default: $AGENTGOV_CA_CERT), e.g. the data directory's tls.crt: the
daemon's certificate and host name are verified against it, never skipped.
Exit status: 0 when every step behaved as governed, 1 otherwise.
"""
import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.request


class Client:
    """The whole client: JSON over HTTP with the token in X-Vault-Token."""

    def __init__(self, addr, token=None, ca_cert=None):
        self.addr = addr.rstrip("/")
        self.token = token
        # Verification stays on: the default context checks the chain and host name,
        # against the given CA file or else the system's trust store.
        self.ctx = ssl.create_default_context(cafile=ca_cert) if ca_cert else None

    def call(self, method, path, body=None, expect=(200, 204)):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.addr + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("X-Vault-Token", self.token)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.ctx) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        reply = json.loads(raw) if raw else {}
        if status not in expect:
            raise RuntimeError("%s %s -> %d %s" % (method, path, status, reply))
        return status, reply


def step(msg):
    print("==> " + msg, flush=True)


def setup(addr, root_token, agent, task, ca_cert=None):
    """The operator's part: register the agent, give it a role, issue a secret ID."""
    admin = Client(addr, root_token, ca_cert)
    packet = {
        "agent_id": agent,
        "task_id": task,
        "created_for": "examples/python/agent.py",
        "objective": "restart the web service on the sandbox hosts",
        "deliverables": [],
        "constraints": {"scope": ["sandbox/**", "docs/**", "secret/**"],
                        "forbidden": ["prod.*"], "required_steps": []},
        "success_criteria": ["nginx answers on sandbox/web/01"],
        "escalation_rules": [],
        "created_at": "2026-11-25T12:00:00Z",
    }
    admin.call("POST", "/v1/agents/" + agent, {"tier": 1, "packet": packet})
    admin.call("POST", "/v1/auth/approle/role/" + agent, {"tier": 1, "token_ttl": "30m"})
    _, r = admin.call("GET", "/v1/auth/approle/role/%s/role-id" % agent)
    role_id = r["data"]["role_id"]
    _, r = admin.call("POST", "/v1/auth/approle/role/%s/secret-id" % agent, {})
    admin.call("POST", "/v1/secret/data/sandbox/%s/ssh" % agent,
               {"data": {"user": "deploy", "key": "example-not-a-real-key"}})
    return role_id, r["data"]["secret_id"]


def act(c, agent, action, resource, want):
    _, r = c.call("POST", "/v1/agents/%s/actions" % agent,
                  {"action": action, "resource": resource, "confidence": 900})
    d = r["data"]
    print("    %-14s %-22s -> %-5s (%s, ledger seq %s)"
          % (action, resource, d["decision"], d["reason"], d["ledger_seq"]))
    if d["decision"] != want:
        raise RuntimeError("expected %s for %s on %s" % (want, action, resource))
    return d


def run(args):
    task = args.task or "task-" + args.agent
    role_id, secret_id = args.role_id, args.secret_id
    if args.setup:
        with open(args.setup) as f:
            root = f.read().strip()
        step("operator: register %s, create its AppRole role and a secret ID" % args.agent)
        role_id, secret_id = setup(args.addr, root, args.agent, task, args.ca_cert)
    c = Client(args.addr, ca_cert=args.ca_cert)

    step("AppRole login")
    _, r = c.call("POST", "/v1/auth/approle/login",
                  {"role_id": role_id, "secret_id": secret_id})
    c.token = r["auth"]["client_token"]
    print("    policies %s, lease %ss" % (r["auth"]["policies"], r["auth"]["lease_duration"]))
    _, r = c.call("GET", "/v1/auth/token/lookup-self")
    print("    I am %s at tier %s" % (r["data"]["agent_id"], r["data"]["tier"]))

    step("bootstrap")
    _, r = c.call("POST", "/v1/agents/%s/bootstrap" % args.agent, {"task_id": task})
    print("    %s on %s (handoff: %s)" % (r["data"]["code"], r["data"]["task_id"],
                                          "yes" if r["data"]["handoff"] else "none"))

    for phase in ("PREFLIGHT", "PLAN"):
        step(phase)
        c.call("POST", "/v1/agents/%s/transition" % args.agent, {"phase": phase})
    act(c, args.agent, "docs.read", "docs/runbook", "allow")
    act(c, args.agent, "ssh.exec", "sandbox/web/01", "deny")  # execute-only action

    step("EXECUTE")
    c.call("POST", "/v1/agents/%s/transition" % args.agent,
           {"phase": "EXECUTE", "step": "restart nginx"})
    act(c, args.agent, "ssh.exec", "sandbox/web/01", "allow")
    act(c, args.agent, "ansible.apply", "sandbox/web/01", "deny")  # not at tier 1
    c.call("POST", "/v1/agents/%s/heartbeat" % args.agent)
    # Tier 1 may read secret/sandbox/** (shipped policy); the read is ledgered.
    _, r = c.call("GET", "/v1/secret/data/sandbox/%s/ssh" % args.agent)
    print("    read secret sandbox/%s/ssh version %s (user %s), lease %ss"
          % (args.agent, r["data"]["metadata"]["version"], r["data"]["data"]["user"],
             r["lease_duration"]))
    status, _ = c.call("GET", "/v1/secret/data/staging/db", expect=(403,))
    print("    secret staging/db refused (%d): outside tier 1" % status)

    for phase in ("VERIFY", "PACKAGE", "REPORT", "EXIT"):
        step(phase)
        c.call("POST", "/v1/agents/%s/transition" % args.agent, {"phase": phase})

    _, r = c.call("GET", "/v1/agents/" + args.agent)
    print("    state %s, errors %s, violations %s"
          % (r["data"]["state"]["phase"] if r["data"]["state"] else None,
             r["data"]["total_errors"], r["data"]["procedure_violations"]))
    _, r = c.call("GET", "/v1/ledger?agent=%s&limit=1000" % args.agent)
    print("    %d ledger entries for %s" % (len(r["data"]["entries"]), args.agent))

    step("renew and revoke the token")
    _, r = c.call("POST", "/v1/auth/token/renew-self", {})
    print("    renewed: lease %ss" % r["auth"]["lease_duration"])
    c.call("POST", "/v1/auth/token/revoke-self")
    status, _ = c.call("GET", "/v1/auth/token/lookup-self", expect=(403,))
    print("    token revoked (lookup now answers %d)" % status)
    step("done: every step was governed")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", default="http://127.0.0.1:8200")
    p.add_argument("--ca-cert", default=os.environ.get("AGENTGOV_CA_CERT") or None,
                   help="CA certificate (PEM) the daemon's TLS certificate must verify against")
    p.add_argument("--agent", default="demo-agent")
    p.add_argument("--task")
    p.add_argument("--role-id")
    p.add_argument("--secret-id")
    p.add_argument("--setup", metavar="ROOT_TOKEN_FILE",
                   help="register the agent and its role first, with this admin token")
    args = p.parse_args()
    if not args.setup and not (args.role_id and args.secret_id):
        p.error("pass --setup ROOT_TOKEN_FILE, or --role-id and --secret-id")
    try:
        run(args)
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        print("agent.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
