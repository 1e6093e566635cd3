#!/usr/bin/env bash
# A pipeline's human gate IS an approval: `agentgov approval list --pending` shows it,
# `agentgov approval approve|deny ID` answers it (and the run goes on or fails), votes
# from both commands count toward the same two-person rule, a driver killed while the
# gate waits resumes on the same approval (not a new one), a gate that times out reads
# "expired", and the ledger verifies after it all.
source "$(dirname "$0")/lib.sh"
DATA=$SRC/tests/data/pipelines/run
export AGENTGOV_BIN=$AG
export AGENTGOV_DIR=$T/data
"$AG" init >"$T/init.log" 2>&1 || echo "init failed: $(cat "$T/init.log")"

run_id() { head -n 1 "$1" | jq -r .run_id; }
state() { "$AG" pipeline status "$1" --json | jq -r --arg s "$2" '.stages[] | select(.stage == $s) | .state'; }
gate() { "$AG" pipeline status "$1" --json | jq -r --arg s "$2" ".stages[] | select(.stage == \$s) | .gate.$3"; }
# pending_for RESOURCE: the ids of pending approvals on RESOURCE, one a line.
pending_for() { "$AG" approval list --pending --json | jq -r --arg r "$1" '.[] | select(.resource == $r) | .id'; }
wait_state() {
    for _ in $(seq 400); do
        [ "$(state "$1" "$2" 2>/dev/null)" = "$3" ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for $2 to be $3 (is $(state "$1" "$2"))"
    return 1
}
wait_for() {
    for _ in $(seq 400); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for $1"
    return 1
}
reap() {
    wait "$1"
    local rc=$? keep=() p
    for p in "${PIDS_TO_KILL[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS_TO_KILL=("${keep[@]}")
    return $rc
}
# start YAML OUT: runs the pipeline in the background; sets R (run id) and GP (pid).
start() {
    "$AG" pipeline run "$1" --json >"$2" 2>"$2.err" &
    GP=$!
    PIDS_TO_KILL+=("$GP")
    wait_for "$2"
    R=$(run_id "$2")
    wait_state "$R" review waiting
}

echo "# a gate is a pending approval"
start "$DATA/gate.yaml" "$T/a.out"
ID=$(pending_for "$R/review")
check_eq "the gate is one pending approval on RUN/review" "$(echo "$ID" | grep -c '^apv-')" 1
check_eq "pipeline status names the same approval" "$(gate "$R" review approval_id)" "$ID"
check_exit "approval show ID" 0 "$AG" approval show "$ID" --json
check_eq "its action is pipeline.gate" "$(echo "$OUT" | jq -r .action)" "pipeline.gate"
check_eq "it is asked by the pipeline" "$(echo "$OUT" | jq -r .agent_id)" "pipeline:gate"
check_eq "its approvers are the stage's" "$(echo "$OUT" | jq -c .approvers)" '["user:alice","user:bob"]'
check_eq "it needs the stage's 2 approvals" "$(echo "$OUT" | jq -r .required)" 2
check_eq "it is bound to the run and stage" "$(echo "$OUT" | jq -c '.args | [.run, .stage]')" "[\"$R\",\"review\"]"
DL=$(echo "$OUT" | jq -r .expires_at_ms)
NOW=$(date +%s%3N)
check_eq "it expires with the stage's 30 s timeout" "$(((DL - NOW) > 20000 && (DL - NOW) <= 30000))" 1

check_exit "approval approve ID counts for the gate" 0 "$AG" approval approve "$ID" --as alice
check_exit "the same approver again is refused (two-person rule, exit 2)" 2 "$AG" approval approve "$ID" --as alice
check_exit "pipeline approve by the same person adds nothing and is no error" 0 "$AG" pipeline approve "$R" review --by alice
check_eq "one approval of two: the gate still waits" "$(state "$R" review)" "waiting"
check_eq "pipeline status shows the vote given through approval" "$(gate "$R" review approvals | jq -c .)" '["alice"]'
check_exit "bob approves through the pipeline shortcut" 0 "$AG" pipeline approve "$R" review --by bob --reason ok
reap "$GP"
check_eq "the run succeeded" "$?" 0
check_eq "apply ran" "$(state "$R" apply)" "succeeded"
check_exit "approval show after" 0 "$AG" approval show "$ID" --json
check_eq "the approval is approved" "$(echo "$OUT" | jq -r .status)" "approved"
check_eq "no gate of this run is pending any more" "$(pending_for "$R/review")" ""

echo "# approval deny fails the run"
start "$DATA/gate.yaml" "$T/b.out"
ID=$(pending_for "$R/review")
check_exit "a deny needs a reason (usage)" 1 "$AG" approval deny "$ID" --as carol
check_exit "approval deny ID" 0 "$AG" approval deny "$ID" --as carol --reason "wrong region"
reap "$GP"
check_eq "the denied gate fails the run (exit 2)" "$?" 2
check_eq "apply skipped" "$(state "$R" apply)" "skipped"
check_contains "the stage says who denied" "$("$AG" pipeline status "$R")" "denied by carol: wrong region"
check_exit "pipeline approve of the denied gate is refused (exit 2)" 2 "$AG" pipeline approve "$R" review --by bob

echo "# a resumed run finds the same approval"
start "$DATA/gate.yaml" "$T/c.out"
ID=$(pending_for "$R/review")
check_exit "alice approves" 0 "$AG" pipeline approve "$R" review --by alice
kill -9 "$GP"
reap "$GP"
"$AG" pipeline resume "$R" >"$T/c2.out" 2>&1 &
GP=$!
PIDS_TO_KILL+=("$GP")
sleep 0.5
check_eq "still exactly the one approval, the same id" "$(pending_for "$R/review")" "$ID"
check_eq "alice's vote survived the crash" "$(gate "$R" review approvals | jq -c .)" '["alice"]'
check_exit "bob approves through approval" 0 "$AG" approval approve "$ID" --as bob
reap "$GP"
check_eq "the resumed run succeeded" "$?" 0
check_eq "apply ran after the resume" "$(state "$R" apply)" "succeeded"

echo "# a gate that times out is an expired approval"
check_exit "the 1 s gate times out (exit 2)" 2 "$AG" pipeline run "$DATA/gate-timeout.yaml"
R=$(echo "$OUT" | awk '{print $1}')
ID=$(gate "$R" review approval_id)
check_exit "approval show of the timed-out gate" 0 "$AG" approval show "$ID" --json
check_eq "it reads expired" "$(echo "$OUT" | jq -r .status)" "expired"
check_exit "approving it is refused (exit 2)" 2 "$AG" approval approve "$ID" --as alice
check_eq "pipeline status: the gate timed out" "$(gate "$R" review status)" "timed_out"

echo "# a cancelled run withdraws its pending gate"
"$AG" pipeline run "$DATA/gate.yaml" --json >"$T/w.out" 2>"$T/w.err" &
GP=$!
PIDS_TO_KILL+=("$GP")
wait_for "$T/w.out"
R=$(run_id "$T/w.out")
wait_state "$R" review waiting
ID=$(pending_for "$R/review")
check_eq "the gate is a pending approval" "$([ -n "$ID" ] && echo yes)" "yes"
check_exit "cancel the waiting run" 0 "$AG" pipeline cancel "$R"
reap "$GP"
check_eq "the run ended cancelled (exit 10)" "$?" 10
check_eq "the gate is no longer pending" "$(pending_for "$R/review")" ""
check_exit "approval show of the withdrawn gate" 0 "$AG" approval show "$ID" --json
check_eq "it reads withdrawn" "$(echo "$OUT" | jq -r .status)" "withdrawn"
check_contains "saying why" "$(echo "$OUT" | jq -c .withdrawn)" "the pipeline run was cancelled"
check_exit "approval list shows it withdrawn" 0 "$AG" approval list --json
check_eq "in the listing" "$(echo "$OUT" | jq -r --arg i "$ID" '.[] | select(.id == $i) | .status')" "withdrawn"
check_exit "approving a withdrawn gate is refused (exit 2)" 2 "$AG" approval approve "$ID" --as alice
check_contains "saying it was withdrawn" "$ERR" "withdrawn"
check_exit "pipeline approve of it is refused too (exit 2)" 2 "$AG" pipeline approve "$R" review --by bob
check_eq "pipeline status: the gate reads withdrawn" "$(gate "$R" review status)" "withdrawn"

echo "# the ledger"
check_exit "the ledger verifies" 0 "$AG" ledger verify
check_eq "the gates' approvals are ledgered (kind approval): asked, votes, refusals, answers" \
    "$("$AG" ledger query --kind approval --format jsonl | jq -r 'select(.action == "pipeline.gate") | .reason' | sort -u | tr '\n' ' ')" \
    "approved decision_refused denied requested vote withdrawn "
finish
