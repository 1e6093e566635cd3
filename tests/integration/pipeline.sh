#!/usr/bin/env bash
# `agentgov pipeline` with real processes: a fresh `agentgov init` data directory, every
# stage a governed, sandboxed `agentgov run`, gates answered from another process.
# DAG order and parallelism, retries with backoff, when and on_failure branches, gates
# approved, denied and timed out, templates with parameters, cancel, checkpoint expiry,
# the ledger verifying after it all.
source "$(dirname "$0")/lib.sh"
DATA=$SRC/tests/data/pipelines/run
export AGENTGOV_BIN=$AG
export AGENTGOV_DIR=$T/data
"$AG" init >"$T/init.log" 2>&1 || echo "init failed: $(cat "$T/init.log")"
W=$AGENTGOV_DIR/pipelines

# run_id OUTFILE: the run id of a `pipeline run --json` whose output goes to OUTFILE.
run_id() { head -n 1 "$1" | jq -r .run_id; }
# state RUN STAGE: the stage's state.
state() { "$AG" pipeline status "$1" --json | jq -r --arg s "$2" '.stages[] | select(.stage == $s) | .state'; }
attempts() { "$AG" pipeline status "$1" --json | jq -r --arg s "$2" '.stages[] | select(.stage == $s) | .attempt'; }
# wait_state RUN STAGE STATE: waits (up to 20 s) for the stage to reach STATE.
wait_state() {
    for _ in $(seq 400); do
        [ "$(state "$1" "$2" 2>/dev/null)" = "$3" ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for $2 to be $3 (is $(state "$1" "$2"))"
    return 1
}
# wait_for FILE: waits (up to 20 s) until FILE is not empty.
wait_for() {
    for _ in $(seq 400); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for $1"
    return 1
}
# reap PID: waits for a background driver and forgets it, so that the cleanup never
# signals a pid the system has reused since (pid_max may be as low as 32768).
reap() {
    wait "$1"
    local rc=$? keep=() p
    for p in "${PIDS_TO_KILL[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS_TO_KILL=("${keep[@]}")
    return $rc
}
# ms FILE: a nanosecond timestamp file as milliseconds.
ms() { echo $(($(cat "$1") / 1000000)); }

echo "# usage and validation"
check_exit "pipeline --help exits 0" 0 "$AG" pipeline --help
check_contains "help lists the subcommands" "$OUT" "approve RUN STAGE"
check_contains "help lists the common exit statuses" "$OUT" "  2 DENY"
check_exit "pipeline without a subcommand is a usage error" 1 "$AG" pipeline
check_exit "an unknown subcommand is a usage error" 1 "$AG" pipeline frobnicate
check_exit "validate: an invalid file exits 1" 1 "$AG" pipeline validate "$SRC/tests/data/pipelines/cycle.yaml"
check_contains "validate: the cycle is named with its position" "$ERR" "cycle.yaml:5:7: requirement cycle: a -> c -> b -> a"
cat >"$T/seed.yaml" <<'YAML'
pipeline:
  name: infrastructure-deploy
  stages:
    - plan:
        agent: planner
        artifacts: [terraform-plan]
    - review:
        type: human-gate
        timeout: 30m
    - execute:
        agent: executor
        requires: [plan]
YAML
check_exit "validate: the seed's example names agents this data directory lacks" 1 "$AG" pipeline validate "$T/seed.yaml"
check_contains "validate: unknown agent named" "$ERR" "seed.yaml:5:16: unknown agent 'planner'"
"$AG" agent register planner --tier 1 >/dev/null 2>&1
"$AG" agent register executor --tier 1 >/dev/null 2>&1
check_exit "validate: the seed's example loads as written once its agents are registered" 0 "$AG" pipeline validate "$T/seed.yaml"
check_contains "validate: says valid" "$OUT" "pipeline 'infrastructure-deploy', 3 stages: valid"
check_exit "run: an unknown --param is a usage error" 1 "$AG" pipeline run "$DATA/dag.yaml" --param nope=1
check_contains "run: names the parameter" "$ERR" "has no parameter 'nope'"
check_exit "run: a --param of the wrong type is a usage error" 1 "$AG" pipeline run "$DATA/dag.yaml" --param par=two
check_exit "status of an unknown run is a usage error (exit 1)" 1 "$AG" pipeline status 0123456789abcdef0123456789abcdef
check_exit "status of something that is not a run id is a usage error" 1 "$AG" pipeline status "x:y"
check_contains "saying so" "$ERR" "'x:y' is not a run id"
check_exit "resume of something that is not a run id is a usage error" 1 "$AG" pipeline resume ../x
check_exit "approve of something that is not a run id is a usage error" 1 "$AG" pipeline approve nope review

echo "# DAG order and parallelism"
check_exit "dag: succeeds" 0 "$AG" pipeline run "$DATA/dag.yaml" --json
R=$(echo "$OUT" | head -n 1 | jq -r .run_id)
DAG_R=$R
check_eq "dag: the last event is the end" "$(echo "$OUT" | tail -n 1 | jq -r .status)" "succeeded"
D=$W/$R
check_eq "dag: b started after a ended" "$(($(ms "$D/b/start") >= $(ms "$D/a/end")))" 1
check_eq "dag: d started after b and c ended" \
    "$(($(ms "$D/d/start") >= $(ms "$D/b/end") && $(ms "$D/d/start") >= $(ms "$D/c/end")))" 1
check_eq "dag: b and c ran at the same time (max_parallel 2)" \
    "$(($(ms "$D/b/start") < $(ms "$D/c/end") && $(ms "$D/c/start") < $(ms "$D/b/end")))" 1
check_eq "dag: a's artifact was passed to b's directory" "$(cat "$D/b/a.out")" "a"
check_eq "dag: events in order: a running first" "$(echo "$OUT" | sed -n 2p | jq -r '.stage + " " + .state')" "a running"
REP=$W/$R/.ctl/a.1.report.json
check_eq "env: the stage's command is its own (no env(1) in front)" "$(jq -c .command "$REP")" \
    '["sh","-c","date +%s%N > start; sleep 0.1; date +%s%N > end; echo a > a.out"]'
check_exit "env: a stage sees its idempotency key and attempt in its environment" 0 "$AG" pipeline run <(printf '%s\n' \
    'pipeline:' '  name: env' '  stages:' \
    '    - show: {run: [sh, -c, "echo $AGENTGOV_IDEMPOTENCY_KEY $AGENTGOV_PIPELINE_STAGE $AGENTGOV_PIPELINE_ATTEMPT > env.txt"]}')
R=$(echo "$OUT" | awk '{print $1}')
check_eq "env: the values" "$(cat "$W/$R/show/env.txt")" "$R.show show 1"
check_exit "dag-serial: succeeds" 0 "$AG" pipeline run "$DATA/dag-serial.yaml" --json
R=$(echo "$OUT" | head -n 1 | jq -r .run_id)
D=$W/$R
check_eq "dag-serial: b and c did not overlap (max_parallel 1)" \
    "$(($(ms "$D/c/start") >= $(ms "$D/b/end") || $(ms "$D/b/start") >= $(ms "$D/c/end")))" 1

echo "# retries with backoff"
start=$(date +%s%N)
check_exit "retry: the run succeeds (its failures are continue)" 0 "$AG" pipeline run "$DATA/retry.yaml" --json
took=$((($(date +%s%N) - start) / 1000000))
R=$(echo "$OUT" | head -n 1 | jq -r .run_id)
check_eq "retry: flaky succeeded on its third attempt" "$(state "$R" flaky)/$(attempts "$R" flaky)" "succeeded/3"
check_eq "retry: flaky ran three times" "$(tr '\n' ' ' <"$W/$R/flaky/attempts")" "1 2 3 "
check_eq "retry: the backoff doubled: 300 ms then 600 ms" "$((took >= 900))" 1
check_eq "retry: broken failed after its one retry" "$(state "$R" broken)/$(attempts "$R" broken)" "failed/2"
check_eq "retry: a missing artifact fails the stage" "$(state "$R" missing-artifact)" "failed"
check_contains "retry: and says which" "$("$AG" pipeline status "$R")" "artifact 'never.txt' missing after the stage"
check_contains "retry: the retry is ledgered" "$("$AG" ledger tail -n 200)" "stage.pending"

echo "# when and on_failure"
check_exit "branches: the run succeeds (failures handled or continued)" 0 "$AG" pipeline run "$DATA/branches.yaml"
R=$(echo "$OUT" | awk '{print $1}')
check_eq "branches: check failed" "$(state "$R" check)" "failed"
check_eq "branches: continue: after-check ran on the failure outcome" "$(state "$R" after-check)" "succeeded"
check_eq "branches: when false: prod-only skipped" "$(state "$R" prod-only)" "skipped"
check_eq "branches: a skipped requirement skips after-prod" "$(state "$R" after-prod)" "skipped"
check_eq "branches: deploy failed" "$(state "$R" deploy)" "failed"
check_eq "branches: its dependant verify skipped" "$(state "$R" verify)" "skipped"
check_eq "branches: on_failure: rollback ran" "$(state "$R" rollback)" "succeeded"
check_exit "branches: env=prod runs prod-only" 0 "$AG" pipeline run "$DATA/branches.yaml" --param env=prod
R=$(echo "$OUT" | awk '{print $1}')
check_eq "branches: prod-only ran" "$(state "$R" prod-only)/$(state "$R" after-prod)" "succeeded/succeeded"
check_exit "stop: a failure under stop fails the run (exit 2, DENY)" 2 "$AG" pipeline run "$DATA/stop.yaml"
R=$(echo "$OUT" | awk '{print $1}')
check_eq "stop: second skipped" "$(state "$R" second)" "skipped"
check_eq "stop: an orchestrate stage without an LLM endpoint fails" "$(state "$R" orchestrated)" "failed"
check_contains "stop: saying why" "$("$AG" pipeline status "$R")" "llm: no provider"

echo "# human gates"
"$AG" pipeline run "$DATA/gate.yaml" --json >"$T/gate.out" 2>"$T/gate.err" &
GP=$!
PIDS_TO_KILL+=("$GP")
wait_for "$T/gate.out"
sleep 0.2
R=$(run_id "$T/gate.out")
wait_state "$R" review waiting
check_exit "gate: someone not an approver is refused (exit 2, DENY)" 2 "$AG" pipeline approve "$R" review --by mallory
check_contains "gate: saying so" "$ERR" "'mallory' is not an approver"
check_exit "gate: alice approves" 0 "$AG" pipeline approve "$R" review --by alice
check_exit "gate: alice again does not count twice" 0 "$AG" pipeline approve "$R" review --by alice
check_contains "gate: status shows the approvals so far" "$("$AG" pipeline status "$R")" \
    'gate: pending, approvals ["alice"] of 2 from ["alice","bob"], deadline'
check_eq "gate: status --json has the gate's record" \
    "$("$AG" pipeline status "$R" --json | jq -c '.stages[] | select(.stage == "review") | .gate.approvals')" '["alice"]'
sleep 0.3
check_eq "gate: one approval of two: still waiting" "$(state "$R" review)" "waiting"
check_exit "gate: bob approves" 0 "$AG" pipeline approve "$R" review --by bob --reason "plan looks right"
reap "$GP"
check_eq "gate: the run succeeded" "$?" 0
check_eq "gate: apply ran after the gate" "$(state "$R" apply)" "succeeded"
check_contains "gate: the answer is recorded" "$("$AG" pipeline status "$R")" "approved by bob (2 of 2): plan looks right"
check_exit "gate: a closed gate cannot be answered (exit 2)" 2 "$AG" pipeline deny "$R" review --by alice

"$AG" pipeline run "$DATA/gate.yaml" --json >"$T/deny.out" 2>"$T/deny.err" &
GP=$!
PIDS_TO_KILL+=("$GP")
wait_for "$T/deny.out"
sleep 0.2
R=$(run_id "$T/deny.out")
wait_state "$R" review waiting
check_exit "gate: bob denies" 0 "$AG" pipeline deny "$R" review --by bob --reason "wrong region"
reap "$GP"
check_eq "gate: a denied gate fails the run (exit 2)" "$?" 2
check_eq "gate: apply skipped" "$(state "$R" apply)" "skipped"
check_contains "gate: the denial is recorded" "$("$AG" pipeline status "$R")" "denied by bob: wrong region"

check_exit "gate: a gate that times out fails the run (exit 2)" 2 "$AG" pipeline run "$DATA/gate-timeout.yaml"
R=$(echo "$OUT" | awk '{print $1}')
check_contains "gate: timed out" "$("$AG" pipeline status "$R")" "timed out: no answer before the deadline"
check_eq "gate: apply skipped after the timeout" "$(state "$R" apply)" "skipped"

echo "# templates with parameters"
check_exit "templated: succeeds" 0 "$AG" pipeline run "$DATA/templated.yaml" --param region=us
R=$(echo "$OUT" | awk '{print $1}')
check_eq "templated: the template's parameter reached its command" "$(cat "$W/$R/plan/plan.out")" "plan prod"
check_eq "templated: the pipeline's parameter reached a command" "$(cat "$W/$R/show/region.txt")" "us"
check_contains "templated: the template's agent ran both stages, at its tier" \
    "$("$AG" agent status planner | tr -s ' ')" "registered yes, tier 1"
check_contains "templated: two governed runs" "$("$AG" agent status planner | tr -s ' ')" "runs 2 total, 2 compliant"

echo "# cancel"
"$AG" pipeline run "$DATA/slow.yaml" --json >"$T/slow.out" 2>"$T/slow.err" &
SP=$!
PIDS_TO_KILL+=("$SP")
wait_for "$T/slow.out"
sleep 0.2
R=$(run_id "$T/slow.out")
wait_state "$R" wait running
start=$(date +%s)
check_exit "cancel: accepted" 0 "$AG" pipeline cancel "$R"
reap "$SP"
check_eq "cancel: the run ends as cancelled (exit 10)" "$?" 10
check_eq "cancel: within seconds, not after the 30 s stage" "$(($(date +%s) - start < 10))" 1
check_eq "cancel: the running stage failed" "$(state "$R" wait)" "failed"
check_contains "cancel: stopped through the revocation of its agent" "$("$AG" pipeline status "$R")" \
    "revoked while running: PIPELINE_CANCELLED: pipeline run"
check_exit "cancel: the revocation is ledgered" 0 "$AG" ledger query --kind revocation --format jsonl
check_contains "cancel: naming the run" "$OUT" "pipeline run $R was cancelled"
check_eq "cancel: the next stage never ran" "$(state "$R" never)" "skipped"
check_exit "cancel: a finished run cannot be cancelled (exit 2)" 2 "$AG" pipeline cancel "$R"
"$AG" pipeline run "$DATA/slow.yaml" --json >"$T/slow2.out" 2>"$T/slow2.err" &
SP=$!
wait_for "$T/slow2.out"
R=$(run_id "$T/slow2.out")
wait_state "$R" wait running
kill -9 "$SP"
wait "$SP" 2>/dev/null
check_contains "cancel: the pipeline's own agent of the stage can run again (its bar lifted)" \
    "$("$AG" agent status pipeline.slow.wait | tr -s ' ')" "registered yes"
check_exit "cancel: a run whose driver was killed can be cancelled" 0 "$AG" pipeline cancel "$R"
check_contains "cancel: its running stage is stopped by the cancel itself" "$OUT" "1 running stage stopped"
for _ in $(seq 200); do [ -s "$W/$R/.ctl/wait.1.report.json" ] && break; sleep 0.05; done
check_eq "cancel: the orphaned attempt ended revoked before any resume" \
    "$(jq -r .outcome "$W/$R/.ctl/wait.1.report.json" 2>/dev/null)" "revoked"
start=$(date +%s)
check_exit "cancel: the resume stops the stage it adopted and ends the run cancelled" 10 "$AG" pipeline resume "$R"
check_eq "cancel: at once" "$(($(date +%s) - start < 10))" 1
# The cancel revokes the stage's agent itself: with a driver that looks for cancels only
# every 10 s, the attempt ends revoked first, and the driver must still end the run as
# cancelled (it looks again before failing anything), at once.
cp "$AGENTGOV_DIR/config" "$T/config.saved"
echo "pipeline.poll = 10s" >>"$AGENTGOV_DIR/config"
"$AG" pipeline run "$DATA/slow.yaml" --json >"$T/slow3.out" 2>"$T/slow3.err" &
SP=$!
PIDS_TO_KILL+=("$SP")
wait_for "$T/slow3.out"
R=$(run_id "$T/slow3.out")
wait_state "$R" wait running
start=$(date +%s)
check_exit "cancel, slow driver: accepted" 0 "$AG" pipeline cancel "$R"
reap "$SP"
check_eq "cancel, slow driver: the run ends as cancelled (exit 10), not failed" "$?" 10
check_eq "cancel, slow driver: before its next look (10 s)" "$(($(date +%s) - start < 8))" 1
check_contains "cancel, slow driver: the next stage says why it did not run" "$("$AG" pipeline status "$R")" \
    "not run: the run was cancelled"
cp "$T/config.saved" "$AGENTGOV_DIR/config"
check_eq "cancel: the adopted stage failed, the next one skipped" "$(state "$R" wait)/$(state "$R" never)" "failed/skipped"

echo "# list, resume of a finished run, expiry"
check_exit "list: exits 0" 0 "$AG" pipeline list --json
check_eq "list: every run is listed" "$(echo "$OUT" | jq length)" 14
check_exit "resume of a finished run reports its status" 0 "$AG" pipeline resume "$(echo "$OUT" | jq -r '.[] | select(.pipeline == "dag") | .run_id')"
echo "pipeline.checkpoint_ttl = 1s" >>"$AGENTGOV_DIR/config"
check_exit "expiry: a run" 0 "$AG" pipeline run "$DATA/dag-serial.yaml"
R=$(echo "$OUT" | awk '{print $1}')
check_exit "expiry: its status right after" 0 "$AG" pipeline status "$R"
sleep 1.3
check_exit "expiry: its checkpoints expired a second after it ended (exit 1)" 1 "$AG" pipeline status "$R"
check_contains "expiry: the ledger keeps its history" "$("$AG" ledger query --task "$R" 2>&1)" "run.end"

echo "# shipped templates and examples"
for t in terraform ansible code-review; do
    # The policy rules a template needs, merged into the shipped policy, lint clean.
    awk -v frag="$SRC/templates/$t/policy.yaml" '
        { print }
        /^rules:/ { while ((getline l < frag) > 0) if (l !~ /^rules:/ && l !~ /^#/) print l }
    ' "$SRC/policies/default.yaml" >"$T/policy-$t.yaml"
    check_exit "template $t: its policy rules lint clean in the shipped policy" 0 "$AG" policy lint "$T/policy-$t.yaml"
    check_exit "template $t: its packet is a valid instruction packet" 0 \
        "$AG" agent register "tpl-$t" --tier 1 --packet <(jq --arg a "tpl-$t" '.agent_id = $a' "$SRC/templates/$t/packet.json")
    printf 'pipeline:\n  name: t\n  stages:\n    - s:\n        uses: templates/%s.yaml\n' "$t" >"$T/use-$t.yaml"
    check_exit "template $t: a stage using it validates" 0 "$AG" pipeline validate "$T/use-$t.yaml"
done
check_contains "the ansible template's parameters reach its command line" \
    "$(printf 'pipeline:\n  name: t\n  stages:\n    - s:\n        uses: templates/ansible.yaml\n        with: {inventory: prod, colour: red}\n' >"$T/a.yaml"; "$AG" pipeline validate "$T/a.yaml" 2>&1)" \
    "template 'templates/ansible.yaml' has no parameter 'colour'"
for f in "$SRC"/examples/pipelines/*.yaml; do
    check_exit "example $(basename "$f") validates" 0 "$AG" pipeline validate "$f"
done
"$AG" pipeline run "$SRC/examples/pipelines/specialists.yaml" --json >"$T/sp.out" 2>"$T/sp.err" &
SP=$!
PIDS_TO_KILL+=("$SP")
wait_for "$T/sp.out"
R=$(run_id "$T/sp.out")
wait_state "$R" approve waiting
check_exit "specialists: approve" 0 "$AG" pipeline approve "$R" approve
reap "$SP"
check_eq "specialists: the three templates' stages and the apply succeed" "$?" 0
check_eq "specialists: the review saw both artifacts" "$(cat "$W/$R/review/review.md")" \
    "plan for staging
ok=12 changed=3 unreachable=0 failed=0"
check_exit "demo --pipeline runs the seed's example offline" 0 "$AG" demo --pipeline --dir "$T/demo"
check_contains "demo --pipeline: the gate was approved by another process" "$OUT" "approved by demo-reviewer"
check_contains "demo --pipeline: the ledger verified" "$OUT" "OK "

echo "# the ledger"
check_exit "the ledger verifies" 0 "$AG" ledger verify
check_eq "dag: each of its 8 stage state changes (4 x running, succeeded) is a ledger entry" \
    "$("$AG" ledger query --task "$DAG_R" --kind pipeline --format jsonl | jq -r .action | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
    " 1 run.end; 1 run.start; 4 stage.running; 4 stage.succeeded;"
finish
