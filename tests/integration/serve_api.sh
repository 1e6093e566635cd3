#!/usr/bin/env bash
# The daemon over real HTTP, part 2: the governance endpoints, identity (an agent acts
# only as itself, admin endpoints need tier 4 or root), auth failures (no token, wrong
# token, expired, revoked, another agent's id), the budget revoking credentials, and the
# Python and shell example agents walking the whole lifecycle.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
init_data_dir
start_daemon
R=(-H "X-Vault-Token: $ROOT")

# Registration and status (admin).
A=$(setup_agent agent-a 1 "" EXECUTE "sandbox/**,docs/**")
check_contains "agent-a logged in" "$A" "agv."
RA=(-H "X-Vault-Token: $A")
BA=(-H "Authorization: Bearer $A")

# The hot path: authorize + record.
req POST /v1/agents/agent-a/actions "${RA[@]}" -d '{"action":"ssh.exec","resource":"sandbox/web/01","confidence":800}'
check_eq "action 200" "$CODE" 200
check_contains "allowed" "$BODY" '"decision":"allow","allow":true,"reason":"rule_allow","tier":1,"phase":"EXECUTE"'
SEQ=$(jget "$BODY" 'j["data"]["ledger_seq"]')
check_eq "decision carries its committed ledger seq" "$([ "$SEQ" -gt 0 ] && echo yes)" yes
req POST /v1/agents/agent-a/actions "${BA[@]}" -d '{"action":"ssh.exec","resource":"staging/web/01"}'
check_contains "Bearer works; out of the packet's scope" "$BODY" '"reason":"out_of_scope"'
req POST /v1/agents/agent-a/actions "${RA[@]}" -d '{"action":"ansible.apply","resource":"sandbox/web/01"}'
check_contains "tier 1 cannot apply" "$BODY" '"decision":"deny"'
req POST /v1/agents/agent-a/actions "${RA[@]}" -d '{"action":"ssh.exec"}'
check_eq "missing resource is 400" "$CODE" 400
req POST /v1/agents/agent-a/actions "${RA[@]}" -d '{"action":"a","resource":"b","confidence":5000}'
check_contains "confidence bounds" "$BODY" "confidence must be an integer per mille"
req POST /v1/agents/agent-a/actions "${RA[@]}" -d '{"action": "a", "resource":'
check_eq "malformed JSON on the hot path is 400" "$CODE" 400
check_exit "the allow is in the ledger at its seq" 0 "$AG" --dir "$D" ledger query --agent agent-a --format jsonl
check_contains "ledger row for the action" "$OUT" "\"seq\":$SEQ"

# Auth failures.
req POST /v1/agents/agent-a/actions -d '{"action":"docs.read","resource":"docs/x"}'
check_eq "no token: 403" "$CODE" 403
check_contains "no token: says so" "$BODY" "missing client token"
req POST /v1/agents/agent-a/actions -H "X-Vault-Token: agv.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" -d '{"action":"docs.read","resource":"docs/x"}'
check_eq "wrong token: 403" "$CODE" 403
check_contains "wrong token: Vault's words" "$BODY" '{"errors":["permission denied'
B=$(setup_agent agent-b 1 "" PLAN)
req POST /v1/agents/agent-a/actions -H "X-Vault-Token: $B" -d '{"action":"docs.read","resource":"docs/x"}'
check_eq "another agent's id: 403" "$CODE" 403
check_contains "another agent's id: named" "$BODY" "belongs to agent 'agent-b', not 'agent-a'"
req POST /v1/agents/agent-a/transition -H "X-Vault-Token: $B" -d '{"phase":"VERIFY"}'
check_eq "cannot move another agent: 403" "$CODE" 403
req GET /v1/agents/agent-a -H "X-Vault-Token: $B"
check_eq "cannot read another agent's status: 403" "$CODE" 403
req GET /v1/agents -H "X-Vault-Token: $B"
check_eq "tier 1 token on an admin endpoint: 403" "$CODE" 403
check_contains "admin refusal says what is needed" "$BODY" "needs a tier-4 or root token"
req POST /v1/auth/approle/role/x/secret-id -H "X-Vault-Token: $B" -d '{}'
check_eq "tier 1 cannot issue secret IDs" "$CODE" 403
req GET "/v1/ledger?agent=agent-a" -H "X-Vault-Token: $B"
check_eq "cannot read another agent's ledger entries" "$CODE" 403
E=$(setup_agent agent-e 1 2s)
req GET /v1/auth/token/lookup-self -H "X-Vault-Token: $E"
check_eq "short-lived token valid at first" "$CODE" 200
sleep 2.5
req GET /v1/auth/token/lookup-self -H "X-Vault-Token: $E"
check_eq "expired token: 403" "$CODE" 403
check_contains "expired token: says expired" "$BODY" "expired"
F=$(setup_agent agent-f 1)
req POST /v1/auth/token/revoke-self -H "X-Vault-Token: $F"
check_eq "revoke-self 204" "$CODE" 204
req GET /v1/auth/token/lookup-self -H "X-Vault-Token: $F"
check_eq "revoked token: 403" "$CODE" 403
check_contains "revoked token: says revoked" "$BODY" "revoked"
G=$(setup_agent agent-g 1)
ACC=$(curl -s -H "X-Vault-Token: $G" "$BASE/v1/auth/token/lookup-self" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessor"])')
req POST /v1/auth/token/revoke-accessor -H "X-Vault-Token: $B" -d "{\"accessor\":\"$ACC\"}"
check_eq "revoke-accessor needs admin" "$CODE" 403
req POST /v1/auth/token/revoke-accessor "${R[@]}" -d "{\"accessor\":\"$ACC\"}"
check_eq "revoke-accessor 204" "$CODE" 204
req GET /v1/auth/token/lookup-self -H "X-Vault-Token: $G"
check_eq "token revoked by accessor: 403" "$CODE" 403
# A tier-4 token revoked by another process (the CLI) loses admin rights at once, though
# the daemon's token cache saw it valid a moment before.
T4=$(setup_agent agent-t4 4)
req GET /v1/agents -H "X-Vault-Token: $T4"
check_eq "tier-4 token on an admin endpoint: 200" "$CODE" 200
T4ACC=$(curl -s -H "X-Vault-Token: $T4" "$BASE/v1/auth/token/lookup-self" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessor"])')
check_exit "the CLI revokes the tier-4 token" 0 "$AG" --dir "$D" token revoke --accessor "$T4ACC"
req GET /v1/agents -H "X-Vault-Token: $T4"
check_eq "revoked elsewhere: no admin rights, at once" "$CODE" 403
check_contains "revoked elsewhere: says revoked" "$BODY" "revoked"

# Lifecycle endpoints.
req POST /v1/agents/agent-b/heartbeat -H "X-Vault-Token: $B"
check_eq "heartbeat 200" "$CODE" 200
check_contains "heartbeat ok" "$BODY" '"ok":true'
req POST /v1/agents/agent-b/transition -H "X-Vault-Token: $B" -d '{"phase":"NOPE"}'
check_eq "unknown phase 400" "$CODE" 400
req POST /v1/agents/agent-b/transition -H "X-Vault-Token: $B" -d '{"phase":"EXECUTE","step":"s1"}'
check_eq "PLAN -> EXECUTE 200" "$CODE" 200
req POST /v1/agents/agent-b/errors -H "X-Vault-Token: $B" -d '{"error_type":"timeout","message":"ssh timed out"}'
check_eq "error recorded" "$CODE" 200
check_contains "error under budget" "$BODY" '"ok":true'
req GET /v1/agents/agent-b -H "X-Vault-Token: $B"
check_eq "own status 200" "$CODE" 200
check_contains "status shows the error" "$BODY" '"total_errors":1'
check_contains "status shows the phase" "$BODY" '"phase":"EXECUTE"'
req POST /v1/agents/agent-b/transition -H "X-Vault-Token: $B" -d '{"phase":"PLAN"}'
check_eq "illegal transition (backwards) 409" "$CODE" 409
check_contains "violation flagged" "$BODY" '"violation":true'
check_contains "budget exhausted: revoked" "$BODY" '"revoked":true'
req GET /v1/auth/token/lookup-self -H "X-Vault-Token: $B"
check_eq "revocation took the token away" "$CODE" 403
req GET /v1/agents/agent-b "${R[@]}"
check_contains "admin sees the revocation" "$BODY" '"revoked":true'

# Bootstrap refusals.
C=$(setup_agent agent-c 1)
req POST /v1/agents/agent-c/bootstrap -H "X-Vault-Token: $C" -d '{}'
check_eq "bootstrap 200" "$CODE" 200
check_contains "bootstrap code" "$BODY" '"code":"BOOTSTRAP_COMPLETE"'
req POST /v1/agents/agent-c/bootstrap -H "X-Vault-Token: $C" -d '{}'
check_eq "second bootstrap: lock held 409" "$CODE" 409
check_contains "second bootstrap: seed code" "$BODY" '"CANNOT_ACQUIRE_LOCK"'

# A forbidden action revokes at once; a handoff is then required.
req POST /v1/agents/agent-a/actions "${RA[@]}" -d '{"action":"prod.write","resource":"sandbox/x"}'
check_contains "forbidden action denied" "$BODY" '"reason":"forbidden_action"'
check_contains "forbidden action revoked the agent" "$BODY" '"revoked":true'
req POST /v1/agents/agent-a/actions "${RA[@]}" -d '{"action":"docs.read","resource":"docs/x"}'
check_eq "revoked agent's token refused" "$CODE" 403
cat >"$T/handoff.json" <<'JSON'
{"task_id":"task-agent-a","previous_agent_id":"agent-a","revoked":true,
 "revocation_reason":{"type":"FORBIDDEN_ACTION","details":"prod.write"},
 "last_known_state":{"phase":"EXECUTE","step":""},"what_was_tried":["ssh.exec"],
 "blocking_issue":"needs a human","required_next_actions":["ask"],
 "constraints_reminder":["scope: sandbox/**"],"artifacts":[]}
JSON
req POST /v1/tasks/other-task/handoff "${R[@]}" --data-binary @"$T/handoff.json"
check_eq "handoff for the wrong task 400" "$CODE" 400
req POST /v1/tasks/task-agent-a/handoff -H "X-Vault-Token: $C" --data-binary @"$T/handoff.json"
check_eq "another agent cannot write the handoff" "$CODE" 403
# Naming itself as the previous agent does not make another task's handoff its own:
# agent-c was bootstrapped on task-agent-c, not on task-agent-a.
sed 's/"previous_agent_id":"agent-a"/"previous_agent_id":"agent-c"/' "$T/handoff.json" >"$T/handoff-c.json"
req POST /v1/tasks/task-agent-a/handoff -H "X-Vault-Token: $C" --data-binary @"$T/handoff-c.json"
check_eq "an agent cannot write the handoff of another agent's task" "$CODE" 403
check_contains "and is told whose task it is not" "$BODY" "task 'task-agent-a' is not the task agent 'agent-c' was bootstrapped for"
sed 's/"task-agent-a"/"task-agent-c"/' "$T/handoff-c.json" >"$T/handoff-own.json"
req POST /v1/tasks/task-agent-c/handoff -H "X-Vault-Token: $C" --data-binary @"$T/handoff-own.json"
check_eq "an agent writes the handoff of its own task" "$CODE" 200
req POST /v1/tasks/task-agent-a/handoff "${R[@]}" --data-binary @"$T/handoff.json"
check_eq "admin writes the handoff" "$CODE" 200
req GET /v1/tasks/task-agent-a/handoff -H "X-Vault-Token: $C"
check_eq "handoff readable" "$CODE" 200
check_contains "handoff content" "$BODY" '"blocking_issue":"needs a human"'
req GET /v1/tasks/no-such-task/handoff -H "X-Vault-Token: $C"
check_eq "missing handoff 404" "$CODE" 404

# Admin views.
req GET /v1/agents "${R[@]}"
check_contains "agents list" "$BODY" '"keys":["agent-a","agent-b","agent-c","agent-e","agent-f","agent-g","agent-t4"]'
req LIST /v1/agents "${R[@]}"
check_eq "LIST agents" "$CODE" 200
req GET /v1/agents/nobody "${R[@]}"
check_eq "unknown agent 404" "$CODE" 404
req GET "/v1/ledger?agent=agent-a&limit=2" "${R[@]}"
check_eq "ledger page 200" "$CODE" 200
N1=$(jget "$BODY" 'len(j["data"]["entries"])')
NEXT=$(jget "$BODY" 'j["data"]["next"]')
check_eq "page of 2" "$N1" 2
req GET "/v1/ledger?agent=agent-a&limit=2&after=$NEXT" "${R[@]}"
check_eq "next page starts after the cursor" "$(jget "$BODY" 'j["data"]["entries"][0]["seq"] > '"$NEXT")" True
req GET "/v1/ledger?kind=revocation" "${R[@]}"
check_contains "query by kind" "$BODY" '"kind":"revocation"'
req GET "/v1/ledger?since=yesterday" "${R[@]}"
check_eq "bad since 400" "$CODE" 400
req GET "/v1/ledger" -H "X-Vault-Token: $C"
check_eq "an agent reads its own entries" "$(jget "$BODY" 'set(e["agent_id"] for e in j["data"]["entries"])')" "{'agent-c'}"
req GET /v1/ledger/verify "${R[@]}"
check_contains "ledger verifies over HTTP" "$BODY" '"ok":true'
check_eq "verify over HTTP names the newest signed checkpoint" "$(jget "$BODY" 'j["data"]["newest_checkpoint"] > 0 and j["data"]["whole_ledger"] is False')" True
# A decoded newline in a path must not forge a log line (text format).
req GET "/v1/nothing%0A2026-12-02T01:00:00.000Z%09warn%09revoke%09FORGED-LINE"
check_eq "a path with a newline is 404" "$CODE" 404
req GET '/v1/q%5C%22x%20y'
check_eq "a path with a quote and a backslash is 404" "$CODE" 404
req GET /metrics
check_contains "revocations counted" "$BODY" "agentgov_revocations_total"
check_contains "forbidden decisions counted" "$BODY" 'agentgov_decisions_total{decision="deny",reason="forbidden_action"} 1'
check_contains "active agents" "$BODY" 'agentgov_active_agents'

# The example agents walk the whole lifecycle against this daemon.
check_exit "python example agent" 0 python3 "$SRC/examples/python/agent.py" --addr "$BASE" --agent py-agent --setup "$D/root.token"
check_contains "python agent finished" "$OUT" "done: every step was governed"
check_contains "python agent read its secret" "$OUT" "read secret sandbox/py-agent/ssh version 1"
check_exit "shell example agent" 0 env AGENTGOV_ADDR="$BASE" bash "$SRC/examples/shell/agent.sh" --setup "$D/root.token" sh-agent
check_contains "shell agent finished" "$OUT" "done: every step was governed"

req GET /metrics
refusals=$(printf '%s\n' "$BODY" | awk '$1 == "agentgov_auth_refusals_total" {print $2}')
check_eq "refused credentials counted (missing, wrong, expired, revoked, admin, other agent)" \
    "$([ "${refusals:-0}" -ge 8 ] && echo yes)" yes
# A flood of bad tokens, 10 at a time: every one refused, at most a burst and the
# rate's worth of them in the ledger one by one, the rest counted.
FLOOD=agv.FLOODFLOODFLOODFLOODFLOODFLOODFLOODFLOODFLO
t0=$(now_ms)
codes=$(seq 60 | xargs -P 10 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
    -H "X-Vault-Token: $FLOOD" "$BASE/v1/auth/token/lookup-self" | sort | uniq -c | tr -s ' ')
flood_ms=$(($(now_ms) - t0))
check_eq "the flood: 60 refused" "$codes" " 60 403"
req GET /metrics
check_contains "the flood's unrecorded refusals in the metrics" "$BODY" "agentgov_auth_refusals_unrecorded_total"
unrecorded=$(printf '%s\n' "$BODY" | awk '$1 == "agentgov_auth_refusals_unrecorded_total" {print $2}')

stop_daemon
check_eq "SIGTERM exit 0" "$DRC" 0
check_exit "ledger verifies" 0 "$AG" --dir "$D" ledger verify

# Refused credentials are in the ledger: violation, auth.token, the token as its HMAC.
vq() { sqlite3 "$D/ledger.db" "select $1 from ledger where kind='violation' and action='auth.token' $2"; }
WRONG=agv.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
check_eq "a missing token is recorded" "$(vq "reason||' '||resource" "and reason='token_missing' limit 1")" \
    "token_missing POST /v1/agents/agent-a/actions"
check_eq "a wrong token is recorded by its HMAC" \
    "$(vq "reason" "and json_extract(data,'\$.token_hmac')='$("$AG" --dir "$D" ledger hash "$WRONG")'")" token_refused
check_eq "never in the clear" "$(sqlite3 "$D/ledger.db" "select count(*) from ledger where data like '%$WRONG%'")" 0
check_eq "an expired token" "$(vq "count(*)" "and json_extract(data,'\$.message') like '%expired%'")" 1
check_eq "revoked tokens (revoke-self, by accessor, the budget's)" \
    "$([ "$(vq "count(*)" "and json_extract(data,'\$.message') like '%revoked%'")" -ge 3 ] && echo yes)" yes
check_eq "a tier-1 token on an admin endpoint, under its agent" \
    "$(vq "agent_id" "and reason='admin_required' and resource='GET /v1/agents'")" agent-b
check_eq "acting as another agent, under the token's agent" \
    "$(vq "count(*)" "and reason='other_agent' and agent_id='agent-b' and resource='POST /v1/agents/agent-a/actions'")" 1
check_eq "the remote address" "$(vq "json_extract(data,'\$.remote')" "limit 1")" 127.0.0.1
FH=$("$AG" --dir "$D" ledger hash "$FLOOD")
flood_rows=$(vq "count(*)" "and json_extract(data,'\$.token_hmac')='$FH'")
suppressed=$(vq "coalesce(sum(json_extract(data,'\$.suppressed')),0)" "")
check_eq "the flood: rows and suppressed add up to the 60 refusals" $((flood_rows + suppressed)) 60
check_eq "as many suppressed as the metric said" "$suppressed" "$unrecorded"
# A burst of 20, plus 10 a second for as long as the flood took.
check_eq "at most the rate's worth recorded one by one ($flood_rows in $flood_ms ms)" \
    "$([ "$flood_rows" -le $((21 + flood_ms / 100)) ] && [ "$flood_rows" -ge 10 ] && echo yes)" yes
check_eq "the refusals of no agent's carry the count" \
    "$(sqlite3 "$D/ledger.db" "select count(*) from ledger where kind='violation' and agent_id is not null and json_extract(data,'\$.suppressed') is not null")" 0
check_eq "another agent's ledger entries: refused and recorded" \
    "$(vq "count(*)" "and reason='other_agent' and resource like 'GET /v1/ledger%'")" 1
check_eq "both handoff refusals recorded (another previous agent, another agent's task)" \
    "$(vq "count(*)" "and reason='other_agent' and agent_id='agent-c' and resource='POST /v1/tasks/task-agent-a/handoff'")" 2
check_eq "no forged line in the log" "$(grep -c '^2026-12-02T01:00:00.000Z' "$T/daemon.log")" 0
check_contains "the newline is escaped in the request's line" "$(cat "$T/daemon.log")" 'path=/v1/nothing%0A2026-12-02T01:00:00.000Z%09warn%09revoke%09FORGED-LINE'
check_contains "quotes and backslashes are escaped in a quoted value" "$(cat "$T/daemon.log")" 'path="/v1/q\\\"x y"'

# A policy that cannot be loaded at start: the daemon runs and denies everything.
printf 'version: 1\nrules: [\n' >"$T/broken.yaml"
start_daemon --policy "$T/broken.yaml"
req GET /v1/sys/health
check_eq "no policy: health 503 (sealed)" "$CODE" 503
check_contains "no policy: health names it" "$BODY" '"policy":"missing"'
req POST /v1/agents/agent-c/actions -H "X-Vault-Token: $C" -d '{"action":"docs.read","resource":"docs/x"}'
check_contains "no policy: authorize denies no_policy" "$BODY" '"decision":"deny","allow":false,"reason":"no_policy"'
check_contains "no policy: the log says why" "$(cat "$T/daemon.log")" "broken.yaml"
stop_daemon
check_eq "no policy: SIGTERM exit 0" "$DRC" 0
finish
