#!/usr/bin/env bash
# A Redis restart under the CLI and the lifecycle: `agentgov stuck` and a run's lock,
# before, during and after. With an append-only file the run survives the restart and
# only its own holder may go on; without persistence the lock is gone and is not
# honoured for the old run, and a new run starts cleanly. Real redis-server, killed.
source "$(dirname "$0")/lib.sh"
D="$T/data"
"$AG" --dir "$D" init >"$T/init.log" 2>&1 || { not_ok "init" "$(cat "$T/init.log")"; finish; }
PORT=$(free_port)
URL="redis://127.0.0.1:$PORT/0?timeout=1s"
RPID=
redis_up() { # APPENDONLY(yes|no)
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly "$1" \
        --appendfsync always --daemonize no --dir "$T" >>"$T/redis.log" 2>&1 &
    RPID=$!
    PIDS_TO_KILL+=("$RPID")
    for _ in $(seq 100); do
        # A restart with an append-only file answers LOADING until the data is back.
        [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    not_ok "redis-server did not start"
}
redis_kill() {
    kill -9 "$RPID"
    wait "$RPID" 2>/dev/null
}
ag() { "$AG" --dir "$D" "$@" --store "$URL"; }
# packet AGENT: an instruction packet for AGENT (from the shipped example), in $T.
packet() {
    python3 - "$SRC/examples/packets/deploy-web.json" "$1" "$T/$1.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["agent_id"] = sys.argv[2]
p["task_id"] = "task-" + sys.argv[2]
json.dump(p, open(sys.argv[3], "w"))
PY
    echo "$T/$1.json"
}
elapsed_ms() { # CMD...: runs it, sets RC and MS
    local t0
    t0=$(now_ms)
    "$@" >"$T/.out" 2>"$T/.err"
    RC=$?
    MS=$(($(now_ms) - t0))
}

# ---- with an append-only file: the run survives ------------------------------------
redis_up yes
check_exit "register" 0 ag agent register a1 --tier 1 --packet "$(packet a1)"
check_exit "bootstrap" 0 ag agent bootstrap a1
check_exit "PREFLIGHT" 0 ag agent transition a1 PREFLIGHT
sleep 1.2
check_exit "stuck lists a1 (no heartbeat for 1 s)" 2 ag stuck --older-than 1s
check_contains "stuck names a1" "$OUT" "a1 PREFLIGHT"

redis_kill
elapsed_ms ag stuck --older-than 1s
check_eq "stuck while redis is down: exit 4" "$RC" 4
check_contains "stuck says the store is down" "$(cat "$T/.err")" "127.0.0.1:$PORT"
elapsed_ms ag agent transition a1 PLAN
check_eq "transition while redis is down: could not answer (exit 4)" "$RC" 4
[ "$MS" -lt 2500 ] && ok "it answered within the timeout + 1 s ($MS ms)" ||
    not_ok "transition took $MS ms with redis down"

redis_up yes
check_exit "after the restart: the same run goes on (its lock was kept)" 0 ag agent transition a1 PLAN
check_exit "a second bootstrap is refused: the lock is held" 2 ag agent bootstrap a1
check_exit "stuck: nothing after a fresh transition" 0 ag stuck --older-than 30s
check_exit "and on" 0 ag agent transition a1 EXECUTE
redis_kill

# ---- without persistence: the lock is gone, the old run is not honoured --------------
rm -f "$T"/appendonly* "$T"/*.aof 2>/dev/null
rm -rf "$T/appendonlydir"
redis_up no
check_exit "register a2" 0 ag agent register a2 --tier 1 --packet "$(packet a2)"
check_exit "bootstrap a2" 0 ag agent bootstrap a2
check_exit "a2 PREFLIGHT" 0 ag agent transition a2 PREFLIGHT
redis_kill
redis_up no
check_exit "after a restart that lost the data: the old run may not go on" 2 ag agent transition a2 PLAN
check_exit "stuck: the heartbeat index is empty" 0 ag stuck --older-than 1s
check_exit "the agent is registered again" 0 ag agent register a2 --tier 1 --packet "$T/a2.json"
check_exit "and a new run starts" 0 ag agent bootstrap a2
check_exit "the new run moves on" 0 ag agent transition a2 PREFLIGHT
check_exit "ledger verifies" 0 "$AG" --dir "$D" ledger verify
finish
