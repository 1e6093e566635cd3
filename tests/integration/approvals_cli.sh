#!/usr/bin/env bash
# `agentgov approval` and `agentgov agent authorize` on a data directory (no daemon):
# an ask records a pending approval and prints its id (exit 3, AG_EXIT_ASK); the two-person rule by
# operator name; self-approval refused; the retry allowed once; --help; bad input.
source "$(dirname "$0")/lib.sh"
D="$T/d"
"$AG" --dir "$D" init >/dev/null 2>&1 || { not_ok "init"; finish; }
cat >"$D/policy.yaml" <<'YAML'
version: 1
rules:
  - {id: deploy, effect: ask, actions: [deploy.run], resources: ['sandbox/**'], min_tier: 1,
     approval: {approvers: ['user:alice'], required: 2}}
YAML
cat >"$T/p.json" <<'JSON'
{"agent_id":"a1","task_id":"t1","created_for":"x","objective":"o","deliverables":[],
 "success_criteria":[],"escalation_rules":[],"created_at":"2026-11-25T12:00:00Z",
 "constraints":{"scope":["sandbox/**"],"forbidden":[],"required_steps":[]}}
JSON
"$AG" --dir "$D" agent register a1 --tier 1 --packet "$T/p.json" >/dev/null
"$AG" --dir "$D" agent bootstrap a1 >/dev/null
for p in PREFLIGHT PLAN EXECUTE; do "$AG" --dir "$D" agent transition a1 $p >/dev/null; done

# Events go to the outbox even without a daemon; it delivers them when it runs.
printf 'notify.webhook.url = http://127.0.0.1:9/hook\nnotify.webhook.secret = s3cret\n' >>"$D/config"

check_exit "approval --help" 0 "$AG" approval --help
check_contains "help lists deny" "$OUT" "deny ID --reason R"
check_exit "approval approve --help" 0 "$AG" approval approve --help
check_exit "unknown subcommand" 1 "$AG" --dir "$D" approval frobnicate
check_exit "bad --args" 1 "$AG" --dir "$D" agent authorize a1 deploy.run sandbox/x --args '{bad'
check_contains "bad --args named" "$ERR" "--args: not JSON"

check_exit "an ask exits 3" 3 "$AG" --dir "$D" agent authorize a1 deploy.run sandbox/x --args '{"v":1}'
check_contains "the ask prints the approval id" "$OUT" "approval apv-"
ID=$(printf '%s\n' "$OUT" | sed -n 's/^approval \(apv-[0-9a-f]*\) pending.*/\1/p')
check_exit "list --pending" 0 "$AG" --dir "$D" approval list --pending
check_contains "pending listed" "$OUT" "$ID  pending"
check_exit "list --json --agent" 0 "$AG" --dir "$D" approval list --json --agent a1
check_eq "json list has it" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[0]["id"])' "$OUT")" "$ID"
check_exit "list --agent other is empty" 0 "$AG" --dir "$D" approval list --agent nobody
check_contains "empty" "$OUT" "no approvals"
check_exit "show" 0 "$AG" --dir "$D" approval show "$ID"
check_contains "show prints the args the approver approves" "$OUT" 'args       {"v":1}'
check_exit "show unknown: usage" 1 "$AG" --dir "$D" approval show apv-000000000000000000000000
check_exit "deny needs --reason" 1 "$AG" --dir "$D" approval deny "$ID"
check_exit "the agent cannot approve itself" 2 "$AG" --dir "$D" approval approve "$ID" --as a1
check_contains "self-approval named" "$ERR" "requester cannot decide its own approval"
check_exit "alice approves (1 of 2)" 0 "$AG" --dir "$D" approval approve "$ID" --as alice
check_contains "1 of 2" "$OUT" "pending (1 of 2 approvals)"
check_exit "alice again is refused" 2 "$AG" --dir "$D" approval approve "$ID" --as alice
check_exit "retry while 1 of 2: refused" 2 "$AG" --dir "$D" agent authorize a1 deploy.run sandbox/x --args '{"v":1}' --approval "$ID"
check_contains "approval_pending" "$OUT" "deny approval_pending"
check_exit "bob approves (2 of 2)" 0 "$AG" --dir "$D" approval approve "$ID" --as bob --reason "ok"
check_contains "approved" "$OUT" "approved (2 of 2 approvals)"
check_exit "changed args: refused" 2 "$AG" --dir "$D" agent authorize a1 deploy.run sandbox/x --args '{"v":2}' --approval "$ID"
check_contains "approval_mismatch" "$OUT" "deny approval_mismatch"
check_exit "the retry is allowed" 0 "$AG" --dir "$D" agent authorize a1 deploy.run sandbox/x --args '{"v":1}' --approval "$ID"
check_contains "approval_granted" "$OUT" "allow approval_granted"
check_exit "reuse refused" 2 "$AG" --dir "$D" agent authorize a1 deploy.run sandbox/x --args '{"v":1}' --approval "$ID"
check_contains "approval_used" "$OUT" "deny approval_used"
check_exit "notify list" 0 "$AG" --dir "$D" notify list --json
check_eq "the CLI queued the request and the decision" "$(python3 -c 'import json,sys; print(sorted(set(i["type"] for i in json.loads(sys.argv[1]))))' "$OUT")" "['approval.decided', 'approval.requested']"
check_exit "approvals are in the ledger" 0 "$AG" --dir "$D" ledger query --kind approval --format jsonl
check_eq "request, 2 votes, 2 refusals" "$(printf '%s\n' "$OUT" | grep -c "$ID")" 5
check_exit "ledger verify" 0 "$AG" --dir "$D" ledger verify
finish
