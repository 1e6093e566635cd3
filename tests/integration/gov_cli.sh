#!/usr/bin/env bash
# `agentgov agent|task|stuck`: a governed run driven from a script, with the documented
# exit statuses (0 done/allow, 1 usage, 2 could not answer, 3 refused/denied, 4 ask),
# on the embedded store and on a real redis-server.
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
    check_exit "$L: unknown agent has no packet" 3 "${G[@]}" agent bootstrap ghost "${S[@]}"
    check_contains "$L: NO_INSTRUCTION_PACKET" "$OUT" "NO_INSTRUCTION_PACKET"
    check_exit "$L: bootstrap" 0 "${G[@]}" agent bootstrap agent-alpha "${S[@]}"
    check_contains "$L: BOOTSTRAP_COMPLETE" "$OUT" "BOOTSTRAP_COMPLETE agent=agent-alpha task=task-web-01 tier=1"
    check_exit "$L: second instance is refused" 3 "${G[@]}" agent bootstrap agent-alpha "${S[@]}"
    check_contains "$L: CANNOT_ACQUIRE_LOCK" "$OUT" "CANNOT_ACQUIRE_LOCK"
    check_exit "$L: PREFLIGHT" 0 "${G[@]}" agent transition agent-alpha PREFLIGHT --step scope "${S[@]}"
    check_exit "$L: PLAN" 0 "${G[@]}" agent transition agent-alpha plan "${S[@]}"
    check_exit "$L: read allowed in PLAN" 0 "${G[@]}" agent authorize agent-alpha inventory.read sandbox/web/01 --confidence 0.9 "${S[@]}"
    check_contains "$L: allow with the rule" "$OUT" "allow rule_allow"
    check_exit "$L: ssh.exec denied in PLAN" 3 "${G[@]}" agent authorize agent-alpha ssh.exec sandbox/web/01 "${S[@]}"
    check_contains "$L: phase_not_allowed" "$OUT" "deny phase_not_allowed"
    check_exit "$L: bad confidence" 1 "${G[@]}" agent authorize agent-alpha ssh.exec sandbox/web/01 --confidence 7.5 "${S[@]}"
    check_exit "$L: EXECUTE" 0 "${G[@]}" agent transition agent-alpha EXECUTE "${S[@]}"
    check_exit "$L: ssh.exec allowed in EXECUTE" 0 "${G[@]}" agent authorize agent-alpha ssh.exec sandbox/web/01 "${S[@]}"
    check_exit "$L: out of scope" 3 "${G[@]}" agent authorize agent-alpha ssh.exec staging/web/01 "${S[@]}"
    check_contains "$L: out_of_scope" "$OUT" "out_of_scope"
    check_exit "$L: heartbeat" 0 "${G[@]}" agent heartbeat agent-alpha "${S[@]}"
    check_exit "$L: status" 0 "${G[@]}" agent status agent-alpha "${S[@]}"
    check_contains "$L: status shows the phase" "$OUT" "phase       EXECUTE (task task-web-01"
    check_exit "$L: list" 0 "${G[@]}" agent list "${S[@]}"
    check_contains "$L: list shows the agent" "$OUT" "agent-alpha"
    sleep 0.3
    check_exit "$L: stuck finds the silent agent" 3 "${G[@]}" stuck --older-than 200ms "${S[@]}"
    check_contains "$L: stuck names it" "$OUT" "agent-alpha EXECUTE"
    check_exit "$L: nobody stuck for an hour" 0 "${G[@]}" stuck --older-than 1h "${S[@]}"
    check_exit "$L: first timeout counted" 0 "${G[@]}" agent error agent-alpha timeout "ssh timed out" "${S[@]}"
    check_exit "$L: second identical error revokes" 3 "${G[@]}" agent error agent-alpha timeout "again" "${S[@]}"
    check_contains "$L: budget_exhausted" "$OUT" "budget_exhausted (revoked)"
    check_exit "$L: revoked agent is denied" 3 "${G[@]}" agent authorize agent-alpha docs.read sandbox/a "${S[@]}"
    check_contains "$L: agent_revoked" "$OUT" "agent_revoked"
    check_exit "$L: revoke again says so" 3 "${G[@]}" agent revoke agent-alpha "${S[@]}"
    check_exit "$L: task status" 0 "${G[@]}" task status task-web-01 "${S[@]}"
    check_contains "$L: task shows the revoked agent" "$OUT" "agent-alpha (phase REVOKED"
    check_exit "$L: no handoff yet" 3 "${G[@]}" task handoff task-web-01 "${S[@]}"
    echo '{"task_id":"task-web-01","previous_agent_id":"agent-alpha","revoked":"yes"}' >"$T/bad.json"
    check_exit "$L: invalid handoff refused" 1 "${G[@]}" task handoff task-web-01 --write "$T/bad.json" "${S[@]}"
    check_contains "$L: names the field" "$ERR" "handoff: revoked: expected boolean"
    check_exit "$L: handoff written" 0 "${G[@]}" task handoff task-web-01 --write "$PK/handoff.json" "${S[@]}"
    check_exit "$L: handoff read" 0 "${G[@]}" task handoff task-web-01 "${S[@]}"
    check_contains "$L: handoff content" "$OUT" '"previous_agent_id": "agent-alpha"'
    check_exit "$L: promote is refused without a streak" 3 "${G[@]}" agent promote agent-alpha "${S[@]}"
    check_contains "$L: says why" "$ERR" "needs 5 consecutive compliant runs"
    check_exit "$L: re-register lifts the bar" 0 "${G[@]}" agent register agent-alpha "${S[@]}"
    check_exit "$L: demote" 0 "${G[@]}" agent demote agent-alpha "${S[@]}"
    check_contains "$L: demoted to 0" "$OUT" "demoted agent-alpha to tier 0"
    check_exit "$L: option of another subcommand" 1 "${G[@]}" agent list --tier 2 "${S[@]}"
}

check_exit "agent --help" 0 "$AG" agent --help
check_contains "help lists the subcommands" "$OUT" "transition ID PHASE"
check_exit "task --help" 0 "$AG" task --help
check_exit "stuck --help" 0 "$AG" stuck --help
check_exit "demo --help" 0 "$AG" demo --help
check_exit "unknown subcommand" 1 "$AG" --dir "$D" agent fly

run_suite sqlite
start_redis
run_suite redis --store "$REDIS_URL"
check_exit "the ledger verifies after both" 0 "$AG" --dir "$D" ledger verify
finish
