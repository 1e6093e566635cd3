#!/usr/bin/env bash
# p99 of governed actions with OpenTelemetry export off and on (docs/observability.md):
# wrk with 50 connections against POST /v1/agents/{id}/actions (bench/actions.lua, as
# bench/http.sh), the daemon started alternately without and with otel.endpoint set to
# a loopback OTLP/HTTP receiver (tests/integration/otlp_receiver.py in its counting
# mode: it answers 200 without validating, and at nice 19, so that the receiver's CPU,
# which a real collector spends on another machine, stays out of the figures).
# Every round restarts the daemon on the same data directory; rounds alternate off and
# on so that a ledger growing or a machine getting busier weighs on both alike.
#
# Each daemon gets two wrk runs: "saturated" (as bench/http.sh: every connection sends
# its next request as soon as the last is answered, so the CPU is the limit and p99 is
# mostly the queue in front of it) and "paced" (bench/actions_paced.lua: each connection
# waits PACE_MS, default 10, between requests, so the daemon runs below saturation and
# p99 is the action's own latency, as in normal operation).
#
#   bench/otlp.sh                  # 3 rounds of 10 s each way
#   ROUNDS=5 DURATION=20 bench/otlp.sh
#   OTEL_SET="otel.signals=traces otel.batch=1024" bench/otlp.sh   # more settings when on
#
# Prints each run's req/s, p50, p99, the daemon's CPU time per governed action and what
# the exporter sent and dropped of that run's events (from /metrics; with export on, a
# run ends when the exporter's queue is empty, so that the paced run that follows a
# saturated one does not pay for its backlog), then the median p99 each way, saturated
# and paced, and the median CPU per action of the paced runs.
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
IO=${IO:-epoll}
THREADS=${THREADS:-32}
CONNS=${CONNS:-50}
. bench/lib.sh
bench_setup wrk curl python3
# wrk's latencies ("850.00us", "12.34ms", "1.02s") in ms.
to_ms() {
    python3 -c 'import sys; v=sys.argv[1]
for u, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
    if v.endswith(u): print("%.3f" % (float(v[:-len(u)]) * f)); break' "$1"
}

RPORT=$(free_port)
# At nice 19: a collector runs on another machine; here it takes only the CPU left over.
nice -n 19 python3 tests/integration/otlp_receiver.py "$RPORT" >"$T/receiver.log" 2>&1 &
PIDS+=($!)

start_daemon --io "$IO"
bench_agent
stop_daemon

echo "$("$AG" version 2>/dev/null | head -1), io=$IO, workers=$THREADS, $(nproc) cores, $CONNS connections, ${DURATION}s per run, $ROUNDS rounds"
echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
metric() { awk -v m="$1" '$1 == m {print $2}' <<<"$2"; }
printf '%-6s %-4s %-10s %10s %10s %10s %9s %10s %10s %10s\n' round otel load "req/s" p50 p99 \
    "cpu us/op" exported "drop:full" "drop:fail"
OFF=() ON=() POFF=() PON=() COFF=() CON=()
# one_run MODE RUN LUA: a wrk run on the running daemon; prints its line and keeps p99.
one_run() {
    local mode=$1 run=$2 lua=$3 m0 m1 k0 k1 n0 n1
    m0=$(curl -s "$BASE/metrics")
    k0=$(cpu_ticks "$DPID")
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$lua" "$BASE" >"$T/wrk"
    k1=$(cpu_ticks "$DPID")
    if [ "$mode" = on ]; then
        # What this run queued leaves before the next run starts (or the daemon stops):
        # a paced run after a saturated one must not pay for the other's backlog.
        for _ in $(seq 600); do
            [ "$(metric agentgov_otel_queue "$(curl -s "$BASE/metrics")")" = 0 ] && break
            sleep 0.1
        done
        sleep 1.2 # a partial batch waits otel.interval (1 s)
    fi
    m1=$(curl -s "$BASE/metrics")
    n0=$(metric agentgov_ledger_appends_total "$m0")
    n1=$(metric agentgov_ledger_appends_total "$m1")
    local cpu exported full failed rps p50 p99 ms
    cpu=$(python3 -c "print('%.1f' % (($k1 - $k0) / $TICK * 1e6 / max(1, $n1 - $n0)))")
    delta() {
        local a b
        a=$(awk -v m="$1" 'index($0, m) == 1 {print $2}' <<<"$m0")
        b=$(awk -v m="$1" 'index($0, m) == 1 {print $2}' <<<"$m1")
        [ -n "$b" ] && echo $((${b%.*} - ${a%.*})) || echo -
    }
    exported=$(delta agentgov_otel_exported_total)
    full=$(delta 'agentgov_otel_dropped_total{cause="queue_full"}')
    failed=$(delta 'agentgov_otel_dropped_total{cause="export_failed"}')
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$T/wrk")
    p50=$(awk '$1 == "50%" {print $2}' "$T/wrk")
    p99=$(awk '$1 == "99%" {print $2}' "$T/wrk")
    printf '%-6s %-4s %-10s %10s %10s %10s %9s %10s %10s %10s\n' "$r" "$mode" "$run" "$rps" \
        "$p50" "$p99" "$cpu" "$exported" "$full" "$failed"
    ms=$(to_ms "$p99")
    case $mode.$run in
    on.saturated) ON+=("$ms") ;;
    off.saturated) OFF+=("$ms") ;;
    on.paced) PON+=("$ms") CON+=("$cpu") ;;
    off.paced) POFF+=("$ms") COFF+=("$cpu") ;;
    esac
}
for r in $(seq "$ROUNDS"); do
    for mode in off on; do
        if [ "$mode" = on ]; then
            extra=()
            for kv in ${OTEL_SET:-}; do extra+=(--set "$kv"); done
            start_daemon --io "$IO" --set "otel.endpoint=http://127.0.0.1:$RPORT" "${extra[@]}"
        else
            start_daemon --io "$IO"
        fi
        one_run "$mode" saturated bench/actions.lua
        one_run "$mode" paced bench/actions_paced.lua
        stop_daemon
    done
done
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "${#OFF[@]}" "${OFF[@]}" "${ON[@]}" "${POFF[@]}" "${PON[@]}" "${COFF[@]}" "${CON[@]}" <<'EOF'
import statistics, sys
n = int(sys.argv[1])
v = [float(x) for x in sys.argv[2:]]
for i, label in enumerate(("saturated", "paced")):
    off, on = v[2 * i * n:(2 * i + 1) * n], v[(2 * i + 1) * n:(2 * i + 2) * n]
    a, b = statistics.median(off), statistics.median(on)
    print("median p99 of governed actions, %s: export off %.2f ms, export on %.2f ms (%+.1f%%)"
          % (label, a, b, (b - a) / a * 100))
off, on = v[4 * n:5 * n], v[5 * n:6 * n]
a, b = statistics.median(off), statistics.median(on)
print("daemon CPU per governed action, paced: export off %.1f us, on %.1f us (%+.1f%%)"
      % (a, b, (b - a) / a * 100))
EOF
verify=$("$AG" --dir "$D" ledger verify 2>&1 | head -1)
echo "ledger after the run: $verify"
