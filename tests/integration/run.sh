#!/usr/bin/env bash
# `agentgov run` with real processes: the real binary, a fresh `agentgov init` data
# directory per case, the real sandbox (Landlock, seccomp), the child's own API calls
# through the CLI, revocation from another process, timeouts, bootstrap refusals.
# The ledger must verify after every case.
source "$(dirname "$0")/lib.sh"
DATA=$SRC/tests/data/run
# The binary the children call. A sanitizer build of $AG cannot run under the
# sandbox's address-space limit, so RUN_CHILD_BIN may name a plain build for them.
export AGENTGOV_BIN=${RUN_CHILD_BIN:-$AG}

# fresh NAME: a new data directory ($D, exported as AGENTGOV_DIR) and workdir ($W).
fresh() {
    D=$T/$1/data
    W=$T/$1/wd
    mkdir -p "$W"
    export AGENTGOV_DIR=$D
    "$AG" init >"$T/$1.init" 2>&1 || echo "init failed: $(cat "$T/$1.init")"
}

# packet AGENT TASK DELIVERABLES_JSON [MAX_TOTAL_ERRORS]: writes $T/AGENT.json.
packet() {
    sed -e "s/@AGENT@/$1/" -e "s/@TASK@/$2/" -e "s/@DELIVERABLES@/$3/" -e "s/@MAXERR@/${4:-8}/" \
        "$DATA/packet.json" >"$T/$1.json"
    echo "$T/$1.json"
}

# rj FILTER: a jq filter over the report of the last run (raw output).
rj() {
    jq -r "$1" "${REPORT:-$W/agentgov-report.json}" 2>&1
}

# wait_for FILE: waits (up to 20 s) until FILE exists; a child creates it when it runs.
wait_for() {
    for _ in $(seq 400); do
        [ -e "$1" ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for $1"
    return 1
}

# listen PORT: a TCP listener on 127.0.0.1:PORT (killed at exit), ready when it returns.
listen() {
    python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); open(sys.argv[2], "w").close(); time.sleep(120)' "$1" "$T/listen.$1" &
    PIDS_TO_KILL+=($!)
    wait_for "$T/listen.$1"
}


verifies() {
    check_exit "$1: the ledger verifies" 0 "$AG" ledger verify
}

ledger() { "$AG" ledger tail -n 200 2>&1; }

# ---------------------------------------------------------------------------------
echo "# usage"
check_exit "run --help exits 0" 0 "$AG" run --help
check_contains "help documents the exit codes" "$OUT" "13  timed out"
check_exit "run without a command is a usage error" 1 "$AG" run --agent x
check_exit "run without --agent is a usage error" 1 "$AG" run -- true

# ---------------------------------------------------------------------------------
echo "# a successful run walks every phase"
fresh ok
P=$(packet alpha task-ok '["out.txt"]')
cp "$DATA/api-child.sh" "$W/"
check_exit "successful run exits 0" 0 "$AG" run --agent alpha --tier 1 --packet "$P" \
    --workdir "$W" --timeout 30s --grace 500ms -- sh -c './api-child.sh && echo made > out.txt'
check_contains "the child's output is passed through" "$OUT" "child done"
check_eq "a master key exists (from init, else made by the first run)" \
    "$(stat -c %a "$D/master.key")" "600"
check_eq "report: outcome" "$(rj .outcome)" "success"
check_eq "report: every phase, in order, ok" "$(rj '[.phases[] | "\(.phase)=\(.ok)"] | join(" ")')" \
    "BOOTSTRAP=true PREFLIGHT=true PLAN=true EXECUTE=true VERIFY=true PACKAGE=true REPORT=true EXIT=true"
check_eq "report: child exit status" "$(rj .child.exit_status)" "0"
check_eq "report: confined by Landlock" "$(rj .confined)" "true"
check_eq "report: token revoked at exit" "$(rj .token.revoked_at_exit)" "true"
check_eq "report: tier" "$(rj .tier)" "1"
SHA=$(sha256sum "$W/out.txt" | cut -d' ' -f1)
check_eq "report: deliverable sha256" "$(rj '.artifacts[] | select(.name=="out.txt") | .sha256')" "$SHA"
OUTLOG=$(rj '.artifacts[] | select(.kind=="stdout") | .path')
check_contains "stdout is captured to the run dir" "$(cat "$OUTLOG")" "child done"
check_eq "report: stdout log sha256" \
    "$(rj '.artifacts[] | select(.kind=="stdout") | .sha256')" \
    "$(sha256sum "$OUTLOG" | cut -d' ' -f1)"
check_exit "task status lists the artifacts" 0 "$AG" task status task-ok
check_contains "store: out.txt with its sha256" "$OUT" "\"name\":\"out.txt\",\"sha256\":\"$SHA\""
check_contains "store: the stdout log" "$OUT" "stdout.log"
check_contains "the child got a token" "$(cat "$W/result.txt")" "token agv"
check_contains "the child got its task" "$(cat "$W/result.txt")" "task task-ok"
L=$(ledger)
for ph in PREFLIGHT PLAN EXECUTE VERIFY PACKAGE REPORT; do
    check_contains "ledger: transition to $ph" "$L" " $ph "
done
check_contains "ledger: exit" "$L" "lifecycle.exit"
check_contains "ledger: the profile applied, with the run" "$L" "run.exec"
check_contains "ledger: the child's own authorize" "$L" "docs.read"
check_contains "ledger: the child's own error" "$L" "error      alpha"
check_contains "ledger: the run's end" "$L" "run.end"
check_exit "ledger query shows the sandbox profile" 0 "$AG" ledger query --kind action --format jsonl
check_contains "run.exec carries the profile" "$OUT" "landlock_abi"
verifies "success"
check_eq "the child's view of the data dir is gone" "$(ls "$D"/runs/*/ | grep -c api)" "0"

# ---------------------------------------------------------------------------------
echo "# the sandbox by tier"
fresh t0
P=$(packet obs task-t0 '[]')
check_exit "T0: a child that writes in its workdir fails (exit 10)" 10 "$AG" run --agent obs \
    --tier 0 --packet "$P" --workdir "$W" --timeout 30s -- sh -c 'echo x > created.txt'
check_eq "T0: no file was created" "$(ls "$W" | grep -c created.txt)" "0"
check_contains "T0: the shell was refused" "$ERR" "ermission denied"
verifies "T0"

fresh t1
P=$(packet op task-t1 '["inside.txt"]')
mkdir -p "$T/t1/outside"
check_exit "T1: writing outside the workdir fails" 10 "$AG" run --agent op --tier 1 --packet "$P" \
    --workdir "$W" --timeout 30s -- sh -c "echo in > inside.txt; echo out > $T/t1/outside/x.txt"
check_eq "T1: the file inside the workdir exists" "$(cat "$W/inside.txt")" "in"
check_eq "T1: nothing was written outside" "$(ls "$T/t1/outside" | wc -l)" "0"
verifies "T1"

fresh net
P=$(packet net1 task-net '[]')
cp "$DATA/connect.sh" "$W/"
PORT=$(free_port)
listen "$PORT"
check_exit "control: the port accepts connections outside the sandbox" 0 "$W/connect.sh" "$PORT"
check_exit "T1: a child cannot connect to a port (no network at T1)" 10 "$AG" run --agent net1 \
    --tier 1 --packet "$P" --workdir "$W" --timeout 30s -- ./connect.sh "$PORT"
check_contains "T1: the connection was refused" "$OUT" "refused"
OTHER=$(free_port)
sed -e "s/connect_ports: \[\]   # list the TCP ports.*/connect_ports: [$PORT]/" \
    "$SRC/policies/default.yaml" >"$T/ports.yaml"
check_contains "test policy: tier 3 may connect to the port" "$(cat "$T/ports.yaml")" "connect_ports: [$PORT]"
P=$(packet net3 task-net3 '[]')
check_exit "T3: a child connects to a port its tier allows" 0 "$AG" run --agent net3 --tier 3 \
    --packet "$P" --policy "$T/ports.yaml" --workdir "$W" --timeout 30s -- ./connect.sh "$PORT"
check_contains "T3: connected" "$OUT" "connected"
listen "$OTHER"
check_exit "T3: a child cannot connect to a port its tier does not list" 10 "$AG" run --agent net3 \
    --policy "$T/ports.yaml" --workdir "$W" --timeout 30s -- ./connect.sh "$OTHER"
check_contains "T3: refused by Landlock" "$OUT" "refused"
verifies "network"

# ---------------------------------------------------------------------------------
echo "# with a daemon"
fresh daemon
P=$(packet dmn task-dmn '[]')
cp "$DATA/connect.sh" "$W/"
DPORT=$(free_port)
echo "listen = 127.0.0.1:$DPORT" >>"$D/config"
"$AG" serve >"$T/serve.log" 2>&1 &
PIDS_TO_KILL+=($!)
for _ in $(seq 400); do (exec 3<>"/dev/tcp/127.0.0.1/$DPORT") 2>/dev/null && break; sleep 0.05; done
check_exit "daemon: a T1 child reaches the daemon (its port only)" 0 "$AG" run --agent dmn \
    --tier 1 --packet "$P" --workdir "$W" --timeout 30s -- \
    sh -c "echo \"addr=\$AGENTGOV_ADDR\"; ./connect.sh $DPORT"
check_contains "daemon: the child got the daemon's address" "$OUT" "addr=http://127.0.0.1:$DPORT"
check_contains "daemon: connected" "$OUT" "connected"
check_exit "daemon: still no other port" 10 "$AG" run --agent dmn --workdir "$W" --timeout 30s \
    -- ./connect.sh "$(free_port)"
check_exit "embedded mode: no daemon, no address" 0 "$AG" run --agent dmn --workdir "$W" \
    --timeout 30s --addr "" -- sh -c 'echo "addr=[$AGENTGOV_ADDR]"'
check_contains "embedded mode: AGENTGOV_ADDR is empty" "$OUT" "addr=[]"
UDP='import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM); print("udp open")'
check_exit "daemon: its TCP port opens no UDP (exit 10)" 10 "$AG" run --agent dmn --workdir "$W" \
    --timeout 30s -- python3 -c "$UDP"
check_contains "daemon: UDP refused by seccomp" "$ERR" "Operation not permitted"
UNIX='import socket; socket.socket(socket.AF_UNIX); print("unix socket")'
check_exit "embedded mode: no socket(AF_UNIX) (exit 10)" 10 "$AG" run --agent dmn --workdir "$W" \
    --timeout 30s --addr "" -- python3 -c "$UNIX"
check_contains "embedded mode: AF_UNIX refused by seccomp" "$ERR" "Operation not permitted"
check_eq "embedded mode: the profile says so" "$(rj .sandbox.network.unix_sockets)" "false"
check_exit "a daemon at a unix: address: the child may open unix sockets" 0 "$AG" run --agent dmn \
    --workdir "$W" --timeout 30s --addr "unix:$T/daemon.sock" -- python3 -c "$UNIX"
check_eq "unix: address: the profile says so" "$(rj .sandbox.network.unix_sockets)" "true"
verifies "daemon"

# ---------------------------------------------------------------------------------
echo "# what the child leaves behind"
fresh leftovers
P=$(packet orph task-orph '[]')
# The report's temporary used to be <workdir>/agentgov-report.json.tmp.<runner pid>,
# and the runner is the child's parent: a symlink planted there made the runner write
# the report into any file. The report itself may be a planted symlink too.
echo precious >"$T/victim"
echo precious >"$T/victim2"
check_exit "a child plants symlinks at the report's names" 0 "$AG" run --agent orph --tier 1 \
    --packet "$P" --workdir "$W" --timeout 30s -- sh -c "ln -s '$T/victim' \
    agentgov-report.json.tmp.\$PPID && ln -s '$T/victim2' agentgov-report.json"
check_eq "the file behind the temp name's symlink is untouched" "$(cat "$T/victim")" "precious"
check_eq "the file behind the report's symlink is untouched" "$(cat "$T/victim2")" "precious"
check_eq "the report replaced the symlink" "$([ -f "$W/agentgov-report.json" ] && \
    [ ! -L "$W/agentgov-report.json" ] && echo file)" "file"
rm -f "$W"/agentgov-report.json*
# A loop out of reach of the child's process group: a double fork (orphaned) into a
# new session. Bounded (~10 s) so that nothing outlives a failed check for long.
LOOP='for i in $(seq 500); do echo x >> grow.txt; sleep 0.02; done'
ORPHAN="(setsid sh -c '$LOOP' </dev/null >/dev/null 2>&1 &); while [ ! -s grow.txt ]; do sleep 0.01; done"
# growth: the size of grow.txt 300 ms apart ("same" when nothing writes to it).
growth() {
    local a b
    a=$(stat -c %s "$W/grow.txt")
    sleep 0.3
    b=$(stat -c %s "$W/grow.txt")
    [ "$a" = "$b" ] && echo same || echo "grew from $a to $b"
}
check_exit "a child that leaves a setsid loop behind" 0 "$AG" run --agent orph --workdir "$W" \
    --timeout 30s -- sh -c "$ORPHAN"
check_eq "the loop ends with the run" "$(growth)" "same"
check_eq "report: the leftover was killed" "$(rj '.child.leftover_processes >= 1')" "true"
rm -f "$W/grow.txt" "$W/started"
"$AG" run --agent orph --workdir "$W" --timeout 60s --grace 300ms --quiet -- \
    sh -c "$ORPHAN; touch started; exec sleep 60" >/dev/null 2>&1 &
RUNPID=$!
wait_for "$W/started"
check_exit "revoke an agent whose child left a loop behind" 0 "$AG" agent revoke orph
wait "$RUNPID"
check_eq "revoked with a loop behind: exit 12" "$?" "12"
check_eq "the loop ends with the revoked run" "$(growth)" "same"
verifies "leftovers"

fresh capture
P=$(packet loud task-loud '[]')
sed -e 's/file_size: 256M/file_size: 64K/' "$SRC/policies/default.yaml" >"$T/small.yaml"
check_contains "test policy: T1 files up to 64K" "$(cat "$T/small.yaml")" "file_size: 64K"
check_exit "a child writes more output than its tier's file size" 0 "$AG" run --agent loud \
    --tier 1 --packet "$P" --policy "$T/small.yaml" --workdir "$W" --timeout 30s --quiet -- \
    sh -c 'head -c 200000 /dev/zero; echo done >&2'
check_eq "capture: stdout.log stops at the file-size limit" "$(stat -c %s "$(rj .child.stdout)")" \
    "65536"
check_eq "capture: the report says it was truncated" "$(rj .child.stdout_truncated)" "true"
check_eq "capture: and how much the child wrote" "$(rj .child.stdout_bytes)" "200000"
check_eq "capture: stderr within the limit is whole" "$(rj .child.stderr_truncated)" "false"
verifies "capture"

# ---------------------------------------------------------------------------------
echo "# revocation while the child runs"
fresh budget
P=$(packet burner task-burn '[]' 3)
cp "$DATA/burn-budget.sh" "$W/"
check_exit "budget exhausted through the CLI: revoked (exit 12)" 12 "$AG" run --agent burner \
    --tier 2 --packet "$P" --workdir "$W" --timeout 60s --grace 500ms -- "$W/burn-budget.sh"
check_eq "budget: the child was stopped" "$(rj .child.end)" "stopped"
check_eq "budget: revocation type" "$(rj .revocation.type)" "ERROR_BUDGET_EXCEEDED"
check_eq "budget: handoff written" "$(rj .handoff_written)" "true"
check_exit "budget: the handoff is in the store" 0 "$AG" task handoff task-burn
check_contains "handoff: previous agent" "$OUT" '"previous_agent_id": "burner"'
check_contains "handoff: revocation reason" "$OUT" "ERROR_BUDGET_EXCEEDED"
check_contains "handoff: last known state" "$OUT" '"phase": "EXECUTE"'
check_contains "handoff: artifacts so far" "$OUT" "stdout.log"
# By its full path, unique to this test: other suites may run the same script.
check_eq "budget: no loop process survives" "$(pgrep -f "$W/burn-budget.sh" | wc -l)" "0"
verifies "budget"

fresh revoke
P=$(packet victim task-rev '[]')
"$AG" run --agent victim --tier 1 --packet "$P" --workdir "$W" --timeout 60s --grace 300ms \
    --quiet -- sh -c 'touch started; exec sleep 60' >"$T/rev.out" 2>&1 &
RUNPID=$!
wait_for "$W/started"
check_exit "agent revoke from another process" 0 "$AG" agent revoke victim --reason "operator stop"
REVOKED_AT=$(now_ms)
wait "$RUNPID"
check_eq "revoke: the run ends with exit 12" "$?" "12"
MS=$(($(rj .child.ended_ms) - REVOKED_AT))
check_eq "revoke: the child ends within a second of the revocation" \
    "$([ "$MS" -lt 1000 ] && echo fast || echo "slow ${MS}ms")" "fast"
check_eq "revoke: revocation type" "$(rj .revocation.type)" "MANUAL"
check_eq "revoke: the child died of SIGTERM" "$(rj .child.signal)" "15"
check_exit "revoke: handoff stored" 0 "$AG" task handoff task-rev
verifies "revoke"

fresh ttl
P=$(packet brief task-ttl '[]')
check_exit "an expired token ends the run (exit 12)" 12 "$AG" run --agent brief --tier 1 \
    --packet "$P" --workdir "$W" --timeout 60s --token-ttl 1s --grace 300ms -- sleep 60
check_eq "ttl: revocation type" "$(rj .revocation.type)" "TOKEN_EXPIRED"
verifies "token expiry"

# ---------------------------------------------------------------------------------
echo "# timeout"
fresh timeout
P=$(packet slow task-slow '[]')
check_exit "timeout: exit 13" 13 "$AG" run --agent slow --tier 1 --packet "$P" --workdir "$W" \
    --timeout 1s --grace 300ms -- sleep 60
MS=$(rj .child.duration_ms)
check_eq "timeout: the child ran for the timeout ($MS ms)" \
    "$([ "$MS" -ge 1000 ] && [ "$MS" -lt 3000 ] && echo ok || echo "${MS}ms")" "ok"
MS=$(rj .child.stop_ms)
check_eq "timeout: it ended within the grace ($MS ms after SIGTERM)" \
    "$([ "$MS" -lt 300 ] && echo ok || echo "${MS}ms")" "ok"
check_eq "timeout: the child ended on SIGTERM" "$(rj .child.signal)" "15"
check_eq "timeout: phases walked to EXIT" "$(rj '.phases[-1].phase')" "EXIT"
check_exit "timeout: a child that ignores SIGTERM is killed after the grace" 13 "$AG" run \
    --agent slow --workdir "$W" --timeout 500ms --grace 400ms -- \
    sh -c 'trap "" TERM; while :; do sleep 0.05; done'
check_eq "timeout: killed" "$(rj .child.killed)" "true"
check_eq "timeout: by SIGKILL" "$(rj .child.signal)" "9"
MS=$(rj .child.stop_ms)
check_eq "timeout: SIGKILL at the end of the grace ($MS ms after SIGTERM)" \
    "$([ "$MS" -ge 400 ] && [ "$MS" -lt 700 ] && echo ok || echo "${MS}ms")" "ok"
verifies "timeout"

fresh intr
P=$(packet intr task-intr '[]')
"$AG" run --agent intr --tier 1 --packet "$P" --workdir "$W" --timeout 60s --grace 300ms \
    --quiet -- sh -c 'touch started; exec sleep 60' >/dev/null 2>&1 &
RUNPID=$!
wait_for "$W/started"
kill -TERM "$RUNPID"
wait "$RUNPID"
check_eq "SIGTERM to agentgov run stops the child: exit 15" "$?" "15"
check_eq "interrupted: the child ended on SIGTERM" "$(rj .child.signal)" "15"
check_eq "interrupted: the lock is released (phases to EXIT)" "$(rj '.phases[-1].phase')" "EXIT"
verifies "interrupt"

# ---------------------------------------------------------------------------------
echo "# Redis store, and failing closed when it goes away"
if command -v redis-server >/dev/null; then
    fresh redis
    start_redis
    REDIS_PID=${PIDS_TO_KILL[-1]}
    P=$(packet red task-red '[]')
    cp "$DATA/api-child.sh" "$W/"
    check_exit "a run on a Redis store, the child's calls included" 0 "$AG" run --agent red \
        --tier 1 --packet "$P" --store "$REDIS_URL" --workdir "$W" --timeout 30s -- ./api-child.sh
    check_contains "redis: the child's decision is in the ledger" "$(ledger)" "docs.read"
    check_contains "redis: the seed's keys" "$(redis-cli -p "$REDIS_PORT" --scan)" "agent:red:state"
    rm -f "$W/started"
    "$AG" run --agent red --store "$REDIS_URL" --workdir "$W" --timeout 60s --grace 300ms \
        --quiet -- sh -c 'touch started; exec sleep 60' >/dev/null 2>&1 &
    RUNPID=$!
    wait_for "$W/started"
    kill "$REDIS_PID"
    GONE_AT=$(now_ms)
    wait "$RUNPID"
    check_eq "store gone: the child is stopped (exit 12)" "$?" "12"
    MS=$(($(rj .child.ended_ms) - GONE_AT))
    check_eq "store gone: the child ends within a few seconds" \
        "$([ "$MS" -lt 5000 ] && echo fast || echo "slow ${MS}ms")" "fast"
    check_eq "store gone: reason" "$(rj .revocation.type)" "STORE_UNAVAILABLE"
    verifies "redis"
fi

# ---------------------------------------------------------------------------------
echo "# the child's own result"
fresh fail
P=$(packet failing task-fail '[]')
check_exit "a nonzero exit is a child failure (exit 10)" 10 "$AG" run --agent failing --tier 1 \
    --packet "$P" --workdir "$W" --timeout 30s -- sh -c 'exit 3'
check_eq "fail: exit status in the report" "$(rj .child.exit_status)" "3"
check_eq "fail: the run still reaches EXIT" "$(rj '.phases[-1].phase')" "EXIT"
P=$(packet lazy task-lazy '["promised.txt"]')
check_exit "a missing deliverable is a child failure (exit 10)" 10 "$AG" run --agent lazy \
    --tier 1 --packet "$P" --workdir "$W" --timeout 30s -- true
check_eq "missing: named in the report" "$(rj '.verify.missing | join(",")')" "promised.txt"
check_eq "missing: the lifecycle revokes for it" "$(rj .revocation.type)" "MISSING_ARTIFACT"
check_exit "missing: handoff stored" 0 "$AG" task handoff task-lazy
check_exit "a command that does not exist (exit 10)" 10 "$AG" run --agent failing \
    --workdir "$W" --timeout 30s -- /nonexistent/agent
verifies "failures"

# ---------------------------------------------------------------------------------
echo "# bootstrap refusals run nothing"
fresh refuse
P=$(packet barred task-bar '[]')
check_exit "refusal setup: register" 0 "$AG" agent register barred --tier 1 --packet "$P"
check_exit "refusal setup: revoke" 0 "$AG" agent revoke barred
check_exit "a revoked agent is refused (exit 2)" 2 "$AG" run --agent barred --workdir "$W" \
    -- touch ran-revoked
check_contains "refusal: AGENT_PREVIOUSLY_REVOKED" "$ERR" "AGENT_PREVIOUSLY_REVOKED"
check_exit "a revoked agent stays refused even with --tier" 2 "$AG" run --agent barred --tier 1 \
    --workdir "$W" -- touch ran-revoked
check_exit "an agent without a packet is refused (exit 2)" 2 "$AG" run --agent nopacket \
    --tier 1 --workdir "$W" -- touch ran-nopacket
check_contains "refusal: NO_INSTRUCTION_PACKET" "$ERR" "NO_INSTRUCTION_PACKET"
P=$(packet busy task-busy '[]')
"$AG" run --agent busy --tier 1 --packet "$P" --workdir "$W" --timeout 60s --grace 200ms \
    --quiet -- sh -c 'touch started; while [ ! -e release ]; do sleep 0.05; done' \
    >/dev/null 2>&1 &
BUSY=$!
wait_for "$W/started"
check_exit "a held lock refuses a second run (exit 2)" 2 "$AG" run --agent busy --workdir "$W" \
    --report "$T/busy2.json" -- touch ran-locked
check_contains "refusal: CANNOT_ACQUIRE_LOCK" "$ERR" "CANNOT_ACQUIRE_LOCK"
check_eq "refusal: --report still gets a report" "$(REPORT=$T/busy2.json rj .outcome)" "refused"
touch "$W/release"
wait "$BUSY"
check_eq "refusals: nothing ran" "$(ls "$W" | grep -c ran-)" "0"
check_exit "a tier that differs from the registered one is refused" 2 "$AG" run --agent busy \
    --tier 3 --workdir "$W" -- touch ran-tier
P=$(packet steps task-steps '[]')
sed -i 's/"required_steps": \["docs.read"\]/"required_steps": ["ssh.exec"]/' "$P"
check_exit "preflight: a required step the tier may not take is refused" 2 "$AG" run \
    --agent steps --tier 0 --packet "$P" --workdir "$W" -- touch ran-steps
check_contains "refusal: PREFLIGHT_FAILED names the step" "$ERR" "ssh.exec"
check_eq "preflight: nothing ran" "$(ls "$W" | grep -c ran-)" "0"
verifies "refusals"

# ---------------------------------------------------------------------------------
echo "# no Landlock"
fresh nolandlock
P=$(packet bare task-bare '[]')
AGENTGOV_TEST_NO_LANDLOCK=1 check_exit "without Landlock the run is refused (exit 14)" 14 \
    "$AG" run --agent bare --tier 1 --packet "$P" --workdir "$W" -- touch ran-bare
check_eq "no Landlock: nothing ran" "$(ls "$W" | grep -c ran-bare)" "0"
check_contains "no Landlock: the ledger says so" "$(ledger)" "SANDBOX_UNAVAILABLE"
AGENTGOV_TEST_NO_LANDLOCK=1 check_exit "--allow-unsandboxed runs it anyway" 0 "$AG" run \
    --agent bare --workdir "$W" --allow-unsandboxed -- touch ran-bare
check_contains "unsandboxed: the ledger says so" "$(ledger)" "unsandboxed"
check_eq "unsandboxed: report" "$(rj .confined)" "false"
# A Landlock without a feature the profile needs (signal scoping: ABI 6) fails closed
# too. AGENTGOV_TEST_LANDLOCK_ABI only lowers the ABI the decision sees.
rm -f "$W/agentgov-report.json"
AGENTGOV_TEST_LANDLOCK_ABI=5 check_exit "Landlock ABI 5: refused (exit 14)" 14 "$AG" run \
    --agent bare --workdir "$W" -- touch ran-abi5
check_contains "ABI 5: the message names the missing feature" "$ERR" \
    "lacks scoping of signals and abstract unix sockets (ABI 6)"
check_eq "ABI 5: nothing ran" "$(ls "$W" | grep -c ran-abi5)" "0"
REFUSE=$("$AG" ledger query --kind lifecycle --format jsonl 2>&1 | grep run.refuse | tail -n 1)
check_contains "ABI 5: run.refuse is SANDBOX_UNAVAILABLE" "$REFUSE" "SANDBOX_UNAVAILABLE"
check_contains "ABI 5: run.refuse names the feature" "$REFUSE" "scoping of signals"
AGENTGOV_TEST_LANDLOCK_ABI=5 check_exit "ABI 5 with --allow-unsandboxed runs" 0 "$AG" run \
    --agent bare --workdir "$W" --allow-unsandboxed -- touch ran-abi5
EXEC=$("$AG" ledger query --kind action --format jsonl 2>&1 | grep run.exec | tail -n 1)
check_contains "ABI 5 allowed: run.exec records what is missing" "$EXEC" "landlock_missing"
check_contains "ABI 5 allowed: run.exec names it" "$EXEC" "incomplete: ran without scoping"
check_eq "ABI 5 allowed: the report too" "$(rj '.landlock_missing[0]')" \
    "scoping of signals and abstract unix sockets (ABI 6)"
P=$(packet bare3 task-bare3 '[]')
AGENTGOV_TEST_LANDLOCK_ABI=3 check_exit "Landlock ABI 3 with TCP ports: refused (exit 14)" 14 \
    "$AG" run --agent bare3 --tier 3 --packet "$P" --policy "$T/ports.yaml" --workdir "$W" \
    -- touch ran-abi3
check_contains "ABI 3: TCP port rules are named" "$ERR" "TCP port rules (ABI 4)"
check_contains "ABI 3: and the rest it lacks" "$ERR" "device ioctl rights (ABI 5); scoping of signals"
verifies "no Landlock"

finish
