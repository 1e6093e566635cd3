#!/usr/bin/env bash
# `agentgov agent|task|stuck`: a governed run driven from a script, with the documented
# exit statuses (include/agentgov/exit.h: 0 done/allow, 1 usage, 2 refused/denied,
# 3 ask, 4 could not answer), on the embedded store and on a real redis-server.
source "$(dirname "$0")/lib.sh"

D="$T/data"
"$AG" init --dir "$D" >/dev/null || exit 1
PK="$SRC/examples/packets"

run_suite() { # label, store flag...
    local L=$1
    shift
    local S=("$@")
    local G=("$AG" --dir "$D")
    check_exit "$L: register needs a tier the first time" 1 "${G[@]}" agent register newbie "${S[@]}"
    check_contains "$L: says so" "$ERR" "give it a tier"
    check_exit "$L: packet for another agent is refused" 1 "${G[@]}" agent register alpha --tier 1 --packet "$PK/deploy-web.json" "${S[@]}"
    check_contains "$L: names the field" "$ERR" "packet: agent_id: 'agent-alpha' does not match agent 'alpha'"
    check_exit "$L: register" 0 "${G[@]}" agent register agent-alpha --tier 1 --packet "$PK/deploy-web.json" "${S[@]}"
    check_exit "$L: unknown agent has no packet" 2 "${G[@]}" agent bootstrap ghost "${S[@]}"
    check_contains "$L: NO_INSTRUCTION_PACKET" "$OUT" "NO_INSTRUCTION_PACKET"
    check_exit "$L: bootstrap" 0 "${G[@]}" agent bootstrap agent-alpha "${S[@]}"
    check_contains "$L: BOOTSTRAP_COMPLETE" "$OUT" "BOOTSTRAP_COMPLETE agent=agent-alpha task=task-web-01 tier=1"
    check_exit "$L: second instance is refused" 2 "${G[@]}" agent bootstrap agent-alpha "${S[@]}"
    check_contains "$L: CANNOT_ACQUIRE_LOCK" "$OUT" "CANNOT_ACQUIRE_LOCK"
    check_exit "$L: PREFLIGHT" 0 "${G[@]}" agent transition agent-alpha PREFLIGHT --step scope "${S[@]}"
    check_exit "$L: PLAN" 0 "${G[@]}" agent transition agent-alpha plan "${S[@]}"
    check_exit "$L: read allowed in PLAN" 0 "${G[@]}" agent authorize agent-alpha inventory.read sandbox/web/01 --confidence 0.9 "${S[@]}"
    check_contains "$L: allow with the rule" "$OUT" "allow rule_allow"
    check_exit "$L: ssh.exec denied in PLAN" 2 "${G[@]}" agent authorize agent-alpha ssh.exec sandbox/web/01 "${S[@]}"
    check_contains "$L: phase_not_allowed" "$OUT" "deny phase_not_allowed"
    check_exit "$L: bad confidence" 1 "${G[@]}" agent authorize agent-alpha ssh.exec sandbox/web/01 --confidence 7.5 "${S[@]}"
    check_exit "$L: EXECUTE" 0 "${G[@]}" agent transition agent-alpha EXECUTE "${S[@]}"
    check_exit "$L: ssh.exec allowed in EXECUTE" 0 "${G[@]}" agent authorize agent-alpha ssh.exec sandbox/web/01 "${S[@]}"
    check_exit "$L: out of scope" 2 "${G[@]}" agent authorize agent-alpha ssh.exec staging/web/01 "${S[@]}"
    check_contains "$L: out_of_scope" "$OUT" "out_of_scope"
    check_exit "$L: heartbeat" 0 "${G[@]}" agent heartbeat agent-alpha "${S[@]}"
    check_exit "$L: status" 0 "${G[@]}" agent status agent-alpha "${S[@]}"
    check_contains "$L: status shows the phase" "$OUT" "phase       EXECUTE (task task-web-01"
    check_exit "$L: list" 0 "${G[@]}" agent list "${S[@]}"
    check_contains "$L: list shows the agent" "$OUT" "agent-alpha"
    sleep 0.3
    check_exit "$L: stuck finds the silent agent" 2 "${G[@]}" stuck --older-than 200ms "${S[@]}"
    check_contains "$L: stuck names it" "$OUT" "agent-alpha EXECUTE"
    check_exit "$L: nobody stuck for an hour" 0 "${G[@]}" stuck --older-than 1h "${S[@]}"
    check_exit "$L: first timeout counted" 0 "${G[@]}" agent error agent-alpha timeout "ssh timed out" "${S[@]}"
    check_exit "$L: second identical error revokes" 2 "${G[@]}" agent error agent-alpha timeout "again" "${S[@]}"
    check_contains "$L: budget_exhausted" "$OUT" "budget_exhausted (revoked)"
    check_exit "$L: revoked agent is denied" 2 "${G[@]}" agent authorize agent-alpha docs.read sandbox/a "${S[@]}"
    check_contains "$L: agent_revoked" "$OUT" "agent_revoked"
    check_exit "$L: revoke again says so" 2 "${G[@]}" agent revoke agent-alpha "${S[@]}"
    check_exit "$L: task status" 0 "${G[@]}" task status task-web-01 "${S[@]}"
    check_contains "$L: task shows the revoked agent" "$OUT" "agent-alpha (phase REVOKED"
    check_exit "$L: no handoff yet" 2 "${G[@]}" task handoff task-web-01 "${S[@]}"
    echo '{"task_id":"task-web-01","previous_agent_id":"agent-alpha","revoked":"yes"}' >"$T/bad.json"
    check_exit "$L: invalid handoff refused" 1 "${G[@]}" task handoff task-web-01 --write "$T/bad.json" "${S[@]}"
    check_contains "$L: names the field" "$ERR" "handoff: revoked: expected boolean"
    check_exit "$L: handoff written" 0 "${G[@]}" task handoff task-web-01 --write "$PK/handoff.json" "${S[@]}"
    check_exit "$L: handoff read" 0 "${G[@]}" task handoff task-web-01 "${S[@]}"
    check_contains "$L: handoff content" "$OUT" '"previous_agent_id": "agent-alpha"'
    check_exit "$L: promote is refused without a streak" 2 "${G[@]}" agent promote agent-alpha "${S[@]}"
    check_contains "$L: says why" "$ERR" "needs 5 consecutive compliant runs"
    check_exit "$L: re-register lifts the bar" 0 "${G[@]}" agent register agent-alpha "${S[@]}"
    check_exit "$L: demote" 0 "${G[@]}" agent demote agent-alpha "${S[@]}"
    check_contains "$L: demoted to 0" "$OUT" "demoted agent-alpha to tier 0"
    check_exit "$L: option of another subcommand" 1 "${G[@]}" agent list --tier 2 "${S[@]}"
}

# packet AGENT TASK: writes a packet (scope sandbox/**, prod.* forbidden) to $T/AGENT.json.
packet() {
    cat >"$T/$1.json" <<EOF
{"agent_id":"$1","task_id":"$2","created_for":"t","objective":"o","deliverables":[],
 "success_criteria":[],"escalation_rules":[],"created_at":"2026-11-25T12:00:00Z",
 "constraints":{"scope":["sandbox/**"],"forbidden":["prod.*"],"required_steps":[]}}
EOF
}

# Fixes from a review: one run ends once, the registry's tier applies at once, dot
# segments and bytes that are not UTF-8 are invalid requests that are still recorded.
run_fixes() { # label, store flag...
    local L=$1
    shift
    local S=("$@")
    local G=("$AG" --dir "$D")
    local A="fx-exit-$L" B="fx-tier-$L"
    packet "$A" "task-$A"
    check_exit "$L: register $A" 0 "${G[@]}" agent register "$A" --tier 1 --packet "$T/$A.json" "${S[@]}"
    local round r1 r2 oks=0 refusals=""
    for round in 1 2 3 4; do # a race: several rounds make the bad interleaving likely
        "${G[@]}" agent bootstrap "$A" "${S[@]}" >/dev/null || not_ok "$L: bootstrap $A"
        for p in PREFLIGHT PLAN EXECUTE VERIFY PACKAGE REPORT; do
            "${G[@]}" agent transition "$A" $p "${S[@]}" >/dev/null || not_ok "$L: $A to $p"
        done
        "${G[@]}" agent transition "$A" EXIT "${S[@]}" >"$T/x1" 2>&1 &
        r1=$!
        "${G[@]}" agent transition "$A" EXIT "${S[@]}" >"$T/x2" 2>&1 &
        r2=$!
        wait $r1 && oks=$((oks + 1))
        wait $r2 && oks=$((oks + 1))
        refusals+=$(cat "$T/x1" "$T/x2")
    done
    check_eq "$L: of two concurrent EXITs one ends the run" "$oks" 4
    check_contains "$L: the other is refused" "$refusals" "refused EXIT"
    check_not_contains "$L: ... without a violation" "$refusals" "procedure violation"
    check_exit "$L: ledger query" 0 "${G[@]}" ledger query --agent "$A" --kind lifecycle --format jsonl
    check_eq "$L: one lifecycle.exit per run" "$(grep -c '"lifecycle.exit"' <<<"$OUT")" 4
    packet "$B" "task-$B"
    check_exit "$L: register $B at T3" 0 "${G[@]}" agent register "$B" --tier 3 --packet "$T/$B.json" "${S[@]}"
    check_exit "$L: bootstrap $B" 0 "${G[@]}" agent bootstrap "$B" "${S[@]}"
    for p in PREFLIGHT PLAN EXECUTE; do
        "${G[@]}" agent transition "$B" $p "${S[@]}" >/dev/null || not_ok "$L: $B to $p"
    done
    check_exit "$L: T3 in scope" 0 "${G[@]}" agent authorize "$B" ssh.exec sandbox/web-01 "${S[@]}"
    check_exit "$L: .. out of scope is refused" 2 "${G[@]}" agent authorize "$B" ssh.exec sandbox/../prod/db-01 "${S[@]}"
    check_contains "$L: as invalid_request" "$OUT" "deny invalid_request tier=3"
    check_exit "$L: demote mid-run" 0 "${G[@]}" agent register "$B" --tier 0 "${S[@]}"
    check_exit "$L: the run decides at T0 at once" 2 "${G[@]}" agent authorize "$B" ssh.exec sandbox/web-01 "${S[@]}"
    check_contains "$L: default_deny at T0" "$OUT" "deny default_deny tier=0"
    check_exit "$L: forbidden action on a non-UTF-8 resource" 2 "${G[@]}" agent authorize "$B" prod.write $'sandbox/web\xff' "${S[@]}"
    check_contains "$L: invalid_request" "$OUT" "deny invalid_request tier=0 phase=EXECUTE seq="
    check_contains "$L: counted: revoked" "$OUT" "REVOKED"
    check_exit "$L: ledger query $B" 0 "${G[@]}" ledger query --agent "$B" --format jsonl
    check_contains "$L: recorded with the bad byte escaped" "$OUT" '"resource":"sandbox/web%FF"'
    check_contains "$L: counted as a forbidden action" "$OUT" '"error_type":"forbidden_action"'
}

check_exit "agent --help" 0 "$AG" agent --help
check_contains "help lists the subcommands" "$OUT" "transition ID PHASE"
check_exit "task --help" 0 "$AG" task --help
check_exit "stuck --help" 0 "$AG" stuck --help
check_exit "demo --help" 0 "$AG" demo --help
check_exit "unknown subcommand" 1 "$AG" --dir "$D" agent fly

run_suite sqlite
run_fixes sqlite
# A config that does not load stops agent, task and stuck with its file:line, exit 1,
# rather than leaving the lines above the bad one applied.
C="$T/badcfg"
"$AG" init --dir "$C" >/dev/null || exit 1
printf 'lifecycle.lock_ttl = 10m\nserver.threads = 999\n' >>"$C/config"
CL=$(($(wc -l <"$C/config")))
for cmd in "agent list" "task status t1" "stuck"; do
    check_exit "bad config: $cmd fails" 1 "$AG" --dir "$C" $cmd
    check_contains "bad config: $cmd names file:line" "$ERR" "$C/config:$CL: server.threads: 999 is outside"
done
printf 'server.threads = 4\0x\n' >"$C/config"
check_exit "a NUL in the config is an error" 1 "$AG" --dir "$C" agent list
check_contains "names the line" "$ERR" "$C/config:1: NUL byte"

# stuck.after is the default of --older-than.
printf 'stuck.after = 1s\n' >"$C/config"
check_exit "stuck.after: register" 0 "$AG" --dir "$C" agent register agent-alpha --tier 1 --packet "$PK/deploy-web.json"
check_exit "stuck.after: bootstrap" 0 "$AG" --dir "$C" agent bootstrap agent-alpha
sleep 1.3
check_exit "stuck without --older-than uses stuck.after" 2 "$AG" --dir "$C" stuck
check_contains "stuck names the agent" "$OUT" "agent-alpha"
printf 'stuck.after = 1h\n' >"$C/config"
check_exit "stuck.after = 1h: nobody" 0 "$AG" --dir "$C" stuck
check_contains "says the configured threshold" "$ERR" "gone 1h without"
start_redis
run_suite redis --store "$REDIS_URL"
run_fixes redis --store "$REDIS_URL"

# A reply lost after Redis ran the command (the connection breaks before it comes back):
# the command must not be sent again, or the error would count twice.
python3 "$SRC/tests/integration/reply_lost_proxy.py" "$T/proxy.port" "$REDIS_PORT" total_errors &
PIDS_TO_KILL+=($!)
for _ in $(seq 100); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
PROXY_URL="redis://127.0.0.1:$(cat "$T/proxy.port")/0"
"$AG" --dir "$D" agent register agent-lost --tier 1 --store "$PROXY_URL" >/dev/null
check_exit "reply lost: the error is reported as not recorded" 4 "$AG" --dir "$D" agent error agent-lost timeout --store "$PROXY_URL"
check_eq "reply lost: counted once, not resent" "$(redis-cli -p "$REDIS_PORT" hget agent:agent-lost:errors total_errors)" 1
check_exit "the ledger verifies after both" 0 "$AG" --dir "$D" ledger verify

# The CLI uses the configuration's lifecycle TTLs, as the runner and the daemon do (it
# used the built-in 24 h state TTL).
D2="$T/data-ttl"
"$AG" init --dir "$D2" >/dev/null || exit 1
printf 'lifecycle.state_ttl = 90m\n' >>"$D2/config"
check_exit "ttl: register" 0 "$AG" --dir "$D2" agent register agent-alpha --tier 1 --packet "$PK/deploy-web.json"
check_exit "ttl: bootstrap" 0 "$AG" --dir "$D2" agent bootstrap agent-alpha
LEFT=$(sqlite3 "$D2/state.db" "select (expires_at - cast((julianday('now') - 2440587.5) * 86400000 as integer)) / 60000 from keyspace where key = 'agent:agent-alpha:state'")
check_eq "ttl: the state lives the configured 90 minutes" "$([ "${LEFT:-0}" -ge 85 ] && [ "${LEFT:-0}" -le 90 ] && echo yes || echo "no ($LEFT min)")" yes
# `check` and `agent authorize` exit with the same status for the same decision: one
# policy with an allow, an ask and (by default) a deny, decided both ways.
D3="$T/data-parity"
"$AG" init --dir "$D3" >/dev/null || exit 1
cat >"$T/parity.yaml" <<'YAML'
version: 1
rules:
  - {effect: allow, actions: [app.read], resources: ["app/**"], min_tier: 1}
  - {effect: ask, actions: [app.write], resources: ["app/**"], min_tier: 1}
YAML
cat >"$T/parity.json" <<'JSON'
{"agent_id": "agent-p", "task_id": "task-p", "created_for": "tests", "objective": "parity",
 "deliverables": [], "constraints": {"scope": ["app/**"], "forbidden": [], "required_steps": []},
 "success_criteria": [], "escalation_rules": [], "created_at": "2026-11-25T12:00:00Z",
 "error_budget": {"max_total_errors": 8, "max_same_error_repeats": 2, "max_procedure_violations": 1}}
JSON
GP=("$AG" --dir "$D3")
check_exit "parity: register" 0 "${GP[@]}" agent register agent-p --tier 1 --packet "$T/parity.json" --policy "$T/parity.yaml"
check_exit "parity: bootstrap" 0 "${GP[@]}" agent bootstrap agent-p --policy "$T/parity.yaml"
for ph in PREFLIGHT PLAN EXECUTE; do
    check_exit "parity: $ph" 0 "${GP[@]}" agent transition agent-p "$ph" --step scope --policy "$T/parity.yaml"
done
for case in "allow app.read 0" "ask app.write 3" "deny app.delete 2"; do
    read -r what action want <<<"$case"
    check_exit "parity: check $what exits $want" "$want" "${GP[@]}" check --policy "$T/parity.yaml" \
        --tier 1 --phase EXECUTE --scope 'app/**' --action "$action" --resource app/one
    check_contains "parity: check says $what" "$OUT" "$what "
    check_exit "parity: authorize $what exits $want" "$want" "${GP[@]}" agent authorize agent-p \
        "$action" app/one --policy "$T/parity.yaml"
    check_contains "parity: authorize says $what" "$OUT" "$what "
done
finish
