#!/usr/bin/env bash
# HTTP benchmark of the daemon: wrk with 50 connections against the governed hot path
# (POST /v1/agents/{id}/actions: token lookup, decision, durable ledger entry with
# synchronous=FULL) and against GET /v1/sys/health, then, in the same run,
# redis-benchmark -t set -c 50 against a redis-server started here on another port.
# Prints the figures and the ratio of governed actions to Redis SETs.
#
#   bench/http.sh                 # 10 s per wrk run
#   DURATION=30 IO=thread-per-connection THREADS=16 bench/http.sh
#   TAIL=1 bench/http.sh          # with a dashboard's live ledger tail open (docs/dashboard.md)
#
# The daemon runs with request logging off (--log-level warn): one log line per request
# would measure the terminal. Everything runs on this machine, wrk and redis-benchmark
# included, so the client's CPU is part of the budget.
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
IO=${IO:-epoll}
THREADS=${THREADS:-32}
CONNS=${CONNS:-50}
. bench/lib.sh
bench_setup wrk redis-server redis-benchmark curl python3
start_daemon --io "$IO"
bench_agent

# wrk_run NAME ARGS...: runs wrk, keeps its output, sets RPS and P99 (ms).
wrk_run() {
    local name=$1
    shift
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" >"$T/$name.wrk"
    RPS=$(awk '/^Requests\/sec:/ {print $2}' "$T/$name.wrk")
    P50=$(awk '$1 == "50%" {print $2}' "$T/$name.wrk")
    P99=$(awk '$1 == "99%" {print $2}' "$T/$name.wrk")
    NON2XX=$(awk '/Non-2xx/ {print $5}' "$T/$name.wrk")
}

echo "$("$AG" version 2>/dev/null | head -1), io=$IO, workers=$THREADS, $(nproc) cores, $CONNS connections, ${DURATION}s per run"
echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${TAIL:-0}" = 1 ]; then # a signed-in dashboard's live tail, reading every entry
    curl -s -c "$T/jar" -H 'Content-Type: application/json' -d "{\"token\":\"$ROOT\"}" \
        "$BASE/ui/api/session" >/dev/null
    curl -s -N -b "$T/jar" "$BASE/ui/api/tail" >"$T/tail.sse" &
    TAILPID=$!
    sleep 0.3
fi
before=$(curl -s "$BASE/metrics" | awk '/^agentgov_ledger_appends_total/ {print $2}')
wrk_run actions -s bench/actions.lua "$BASE"
A_RPS=$RPS A_P50=$P50 A_P99=$P99 A_BAD=${NON2XX:-0}
after=$(curl -s "$BASE/metrics" | awk '/^agentgov_ledger_appends_total/ {print $2}')
allowed=$(curl -s "$BASE/metrics" | awk -F' ' '/^agentgov_decisions_total\{decision="allow",reason="rule_allow"\}/ {print $2}')
TAILED=""
if [ -n "${TAILPID:-}" ]; then
    sleep 1 # the tail reads the last rows
    kill "$TAILPID" 2>/dev/null; wait "$TAILPID" 2>/dev/null || true
    TAILED=$(grep -c '^event: entry' "$T/tail.sse" || true)
fi
wrk_run health "$BASE/v1/sys/health"
H_RPS=$RPS H_P50=$P50 H_P99=$P99

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
    >"$T/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
SET_RPS=$(redis-benchmark -p "$RPORT" -t set -c "$CONNS" -n 1000000 -q 2>/dev/null |
    tr '\r' '\n' | awk '/^SET:/ {print $2}' | tail -1)
stop_daemon
verify=$("$AG" --dir "$D" ledger verify 2>&1 | head -1)

echo
printf '%-44s %12s %10s %10s\n' "" "req/s" "p50" "p99"
printf '%-44s %12s %10s %10s\n' "POST /v1/agents/{id}/actions (durable)" "$A_RPS" "$A_P50" "$A_P99"
printf '%-44s %12s %10s %10s\n' "GET /v1/sys/health" "$H_RPS" "$H_P50" "$H_P99"
printf '%-44s %12s\n' "redis-benchmark -t set -c $CONNS" "$SET_RPS"
echo
echo "governed actions / Redis SET: $(python3 -c "print('%.2f' % ($A_RPS / $SET_RPS))")"
echo "ledger entries committed during the actions run: $((after - before)); allowed decisions: $allowed; non-2xx: $A_BAD"
echo "ledger after the run: $verify"
[ -z "$TAILED" ] || echo "live tail: $TAILED entries received of $((after - before)) committed during the actions run"
