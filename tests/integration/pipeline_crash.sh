#!/usr/bin/env bash
# Crash tests of `agentgov pipeline`: the driver is killed with SIGKILL at random points
# of a 6-stage pipeline (two stages in parallel, a human gate), then resumed, again and
# again, on the embedded store and on a real redis-server. Every stage appends its
# idempotency key to effects.log in its directory: after the last resume each key must
# be there exactly once (no side effect twice), every stage must have run exactly one
# attempt, the final state must equal that of an uninterrupted run, and the ledger must
# verify. PIPELINE_CRASH_RUNS (default 50, the issue's number) runs per store; the two
# stores' suites run at the same time (each mostly waits), to keep `make test` short.
source "$(dirname "$0")/lib.sh"
export AGENTGOV_BIN=$AG
PL=$SRC/tests/data/pipelines/run/crash.yaml
# A governed stage costs about 0.1 s, so a run about 0.5 s (more on a loaded machine).
# A run is kept cheap: the driver checkpoints each scheduling pass's changes in one
# fsync, and the gate is approved by one `pipeline approve` process once it can be
# open, not one every 20 ms. Measured: 2 x 50 runs and the reboot suite in 53 s at a
# load average of 8.7 on 2 cores (15 runs: 25-30 s at the same load; before these
# changes 50 runs took 49 s idle and 93 s on a busy machine).
# PIPELINE_REBOOT_RUNS (default 3): runs of the "reboot" suite, where the attempts die
# with the driver (each waits out its agent's lock, about a second).
N=${PIPELINE_CRASH_RUNS:-50}
STAGES="a b c d e"

summary() { # RUN: "stage=state/attempt ..." of the run, and its status
    "$AG" pipeline status "$1" --json $STORE 2>/dev/null |
        jq -r '.status + " " + ([.stages[] | "\(.stage)=\(.state)/\(.attempt)"] | join(" "))'
}

# approve_while RUN PID: approves RUN's gate while PID (its driver) runs. An approve is
# a process of its own (data directory, ledger, store): it is tried only once both
# stages before the gate have left their effects, and not again once it has answered
# (0: approved; 2: no longer pending, approved before), so that a run costs a few of
# them instead of one every 20 ms.
approve_while() {
    local d=$AGENTGOV_DIR/pipelines/$1 done=0 rc
    while kill -0 "$2" 2>/dev/null; do
        if [ "$done" = 0 ] && [ -s "$d/b/effects.log" ] && [ -s "$d/c/effects.log" ]; then
            "$AG" pipeline approve "$1" gate $STORE >/dev/null 2>&1
            rc=$?
            [ "$rc" = 0 ] || [ "$rc" = 2 ] && done=1
        fi
        sleep 0.02
    done
}

# drive_to_end RUN: resumes RUN and approves its gate until the run ends.
drive_to_end() {
    "$AG" pipeline resume "$1" $STORE >/dev/null 2>&1 &
    local p=$!
    approve_while "$1" "$p"
    wait "$p"
}

# rand_sleep: 0 to 199 ms (the whole pipeline takes about 300 ms).
rand_sleep() { sleep "0.$(printf %03d $((RANDOM % 200)))"; }

crash_suite() { # LABEL
    local label=$1
    export AGENTGOV_DIR=$T/$label
    "$AG" init >"$T/$label.init" 2>&1 || echo "init failed: $(cat "$T/$label.init")"
    echo "pipeline.poll = 20ms" >>"$AGENTGOV_DIR/config"

    # The uninterrupted run.
    "$AG" pipeline run "$PL" --json $STORE >"$T/$label.base" 2>&1 &
    local p=$! base R
    for _ in $(seq 200); do [ -s "$T/$label.base" ] && break; sleep 0.02; done
    R=$(head -n 1 "$T/$label.base" | jq -r .run_id)
    approve_while "$R" "$p"
    wait "$p"
    base=$(summary "$R" | sed "s/$R//g")
    check_eq "$label: the uninterrupted run succeeds, one attempt each" "$base" \
        "succeeded a=succeeded/1 b=succeeded/1 c=succeeded/1 gate=succeeded/1 d=succeeded/1 e=succeeded/1"

    local bad=0 kills=0 first_bad=""
    for i in $(seq "$N"); do
        local out=$T/$label.$i.out
        "$AG" pipeline run "$PL" --json $STORE >"$out" 2>"$out.err" &
        p=$!
        for _ in $(seq 500); do [ -s "$out" ] && break; sleep 0.01; done
        R=$(head -n 1 "$out" | jq -r .run_id)
        local rounds=0 max_rounds=$((1 + RANDOM % 3))
        while :; do
            rand_sleep
            kill -9 "$p" 2>/dev/null && kills=$((kills + 1))
            wait "$p" 2>/dev/null
            rounds=$((rounds + 1))
            "$AG" pipeline approve "$R" gate $STORE >/dev/null 2>&1
            [ "$rounds" -ge "$max_rounds" ] && break
            "$AG" pipeline resume "$R" $STORE >/dev/null 2>&1 &
            p=$!
        done
        drive_to_end "$R"
        local got problem=""
        got=$(summary "$R" | sed "s/$R//g")
        [ "$got" = "$base" ] || problem="final state '$got'"
        for s in $STAGES; do # no file at all is a problem too
            local f=$AGENTGOV_DIR/pipelines/$R/$s/effects.log
            if [ "$(cat "$f" 2>/dev/null)" != "$R.$s" ]; then
                problem="$problem; $s effects: '$(tr '\n' ' ' <"$f" 2>/dev/null)'"
            fi
        done
        if [ -n "$problem" ]; then
            bad=$((bad + 1))
            [ -n "$first_bad" ] || first_bad="run $i ($R): $problem"
        fi
    done
    check_eq "$label: $N runs killed at random points ($kills kills) end as the uninterrupted run, each side effect once" \
        "$bad${first_bad:+ - $first_bad}" "0"
    check_exit "$label: the ledger verifies" 0 "$AG" ledger verify
    check_contains "$label: resumes are ledgered as stage states" "$("$AG" ledger tail -n 50)" "stage.succeeded"
}

# kill_attempt PIDFILE: SIGKILL to the attempt's process group, only while the pid is
# still that attempt (same start time): a pid the system reused is never signalled.
kill_attempt() {
    local pid st now
    read -r pid st <"$1" || return 0
    now=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)
    [ -n "$now" ] && [ "$now" = "$st" ] && kill -9 -- "-$pid" 2>/dev/null
    return 0
}

# reboot_suite: the driver and every attempt process it started are killed (as by a
# reboot); stages dedupe on their idempotency key; lost attempts are retried.
reboot_suite() {
    export AGENTGOV_DIR=$T/reboot
    "$AG" init >"$T/reboot.init" 2>&1 || echo "init failed: $(cat "$T/reboot.init")"
    # A killed runner's agent lock outlives it until its TTL.
    printf 'pipeline.poll = 20ms\nlifecycle.lock_ttl = 1s\n' >>"$AGENTGOV_DIR/config"
    local PL2=$SRC/tests/data/pipelines/run/crash-dedupe.yaml bad=0 first_bad="" lost=0
    for i in $(seq "${PIPELINE_REBOOT_RUNS:-3}"); do
        local out=$T/reboot.$i.out p R
        "$AG" pipeline run "$PL2" --json >"$out" 2>"$out.err" &
        p=$!
        for _ in $(seq 500); do [ -s "$out" ] && break; sleep 0.01; done
        R=$(head -n 1 "$out" | jq -r .run_id)
        for _ in 1 2; do
            rand_sleep
            kill -9 "$p" 2>/dev/null
            wait "$p" 2>/dev/null
            # Every attempt's process group (the runner) goes too.
            for f in "$AGENTGOV_DIR/pipelines/$R/.ctl/"*.pid; do
                [ -f "$f" ] && kill_attempt "$f"
            done
            "$AG" pipeline approve "$R" gate >/dev/null 2>&1
            "$AG" pipeline resume "$R" >/dev/null 2>&1 &
            p=$!
        done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        drive_to_end "$R"
        local got problem=""
        got=$("$AG" pipeline status "$R" --json | jq -r '.status + " " + ([.stages[] | "\(.stage)=\(.state)"] | join(" "))')
        [ "$got" = "succeeded a=succeeded b=succeeded c=succeeded gate=succeeded d=succeeded e=succeeded" ] ||
            problem="final state '$got'"
        for s in $STAGES; do
            local f=$AGENTGOV_DIR/pipelines/$R/$s/effects.log
            [ "$(cat "$f" 2>/dev/null)" = "$R.$s" ] || problem="$problem; $s effects: '$(tr '\n' ' ' <"$f" 2>/dev/null)'"
        done
        lost=$((lost + $("$AG" pipeline status "$R" --json | jq '[.stages[] | select(.attempt > 1)] | length')))
        if [ -n "$problem" ]; then
            bad=$((bad + 1))
            [ -n "$first_bad" ] || first_bad="run $i ($R): $problem"
        fi
    done
    check_eq "reboot: runs whose attempts were killed too end succeeded, each keyed effect once" \
        "$bad${first_bad:+ - $first_bad}" "0"
    echo "reboot: $lost stages needed another attempt"
    check_exit "reboot: the ledger verifies" 0 "$AG" ledger verify
}

# Each suite in the background, its check lines in a log; the counts are added here.
start_redis
(STORE="" crash_suite sqlite) >"$T/sqlite.log" 2>&1 &
SQ=$!
(STORE="--store $REDIS_URL" crash_suite redis) >"$T/redis.log" 2>&1 &
RD=$!
(STORE="" reboot_suite) >"$T/reboot.log" 2>&1 &
RB=$!
wait "$SQ" "$RD" "$RB"
for label in sqlite redis reboot; do
    echo "# $label"
    grep -E '^(ok|FAIL|    )' "$T/$label.log"
    _pass=$((_pass + $(grep -c '^ok ' "$T/$label.log")))
    _fail=$((_fail + $(grep -c '^FAIL ' "$T/$label.log")))
done
grep '^reboot: .* another attempt' "$T/reboot.log"
[ "$_pass" -eq 10 ] || not_ok "every suite ran every check" "$_pass checks passed of 10"
finish
