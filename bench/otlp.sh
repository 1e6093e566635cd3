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
# Prints each run's req/s, p50 and p99 and what the exporter sent and dropped (from
# /metrics, over both runs), then the median p99 each way, saturated and paced.
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
printf '%-6s %-4s %-10s %10s %10s %10s %10s %10s %10s\n' round otel load "req/s" p50 p99 \
    exported "drop:full" "drop:fail"
OFF=() ON=() POFF=() PON=()
for r in $(seq "$ROUNDS"); do
    for mode in off on; do
        if [ "$mode" = on ]; then
            extra=()
            for kv in ${OTEL_SET:-}; do extra+=(--set "$kv"); done
            start_daemon --io "$IO" --set "otel.endpoint=http://127.0.0.1:$RPORT" "${extra[@]}"
        else
            start_daemon --io "$IO"
        fi
        wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/actions.lua "$BASE" >"$T/wrk"
        wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/actions_paced.lua "$BASE" \
            >"$T/wrk.paced"
        sleep 1.5 # the last batch leaves (otel.interval is 1 s)
        m=$(curl -s "$BASE/metrics")
        exported=$(awk '/^agentgov_otel_exported_total/ {print $2}' <<<"$m")
        full=$(awk '/^agentgov_otel_dropped_total\{cause="queue_full"\}/ {print $2}' <<<"$m")
        failed=$(awk '/^agentgov_otel_dropped_total\{cause="export_failed"\}/ {print $2}' <<<"$m")
        stop_daemon
        for run in saturated paced; do
            f="$T/wrk"
            [ "$run" = saturated ] || f="$T/wrk.paced"
            rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
            p50=$(awk '$1 == "50%" {print $2}' "$f")
            p99=$(awk '$1 == "99%" {print $2}' "$f")
            printf '%-6s %-4s %-10s %10s %10s %10s %10s %10s %10s\n' "$r" "$mode" "$run" "$rps" \
                "$p50" "$p99" "${exported:--}" "${full:--}" "${failed:--}"
            ms=$(to_ms "$p99")
            case $mode.$run in
            on.saturated) ON+=("$ms") ;;
            off.saturated) OFF+=("$ms") ;;
            on.paced) PON+=("$ms") ;;
            off.paced) POFF+=("$ms") ;;
            esac
        done
    done
done
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "${#OFF[@]}" "${OFF[@]}" "${ON[@]}" "${POFF[@]}" "${PON[@]}" <<'EOF'
import statistics, sys
n = int(sys.argv[1])
v = [float(x) for x in sys.argv[2:]]
for i, label in enumerate(("saturated", "paced")):
    off, on = v[2 * i * n:(2 * i + 1) * n], v[(2 * i + 1) * n:(2 * i + 2) * n]
    a, b = statistics.median(off), statistics.median(on)
    print("median p99 of governed actions, %s: export off %.2f ms, export on %.2f ms (%+.1f%%)"
          % (label, a, b, (b - a) / a * 100))
EOF
verify=$("$AG" --dir "$D" ledger verify 2>&1 | head -1)
echo "ledger after the run: $verify"
