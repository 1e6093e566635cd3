#!/usr/bin/env bash
# Does a dashboard's live tail slow the decision path? Paired runs against one daemon:
# wrk on the governed hot path (POST /v1/agents/{id}/actions, durable ledger entries)
# without a tail, then with a signed-in dashboard's tail open (an SSE client reading
# every entry), PAIRS times, in the order A B B A A B ... so that a machine that speeds
# up or slows down during the run weighs on both sides alike. Prints each run, the
# median of each side, the median of the per-pair ratios (tail / none), the daemon's CPU
# time per decision on each side (user + system, /proc: steadier than throughput on a
# shared machine, where other processes take the CPU the runs would have had), and what
# the tails received against what was committed (and the gaps, /metrics).
#
#   bench/tail.sh                       # 5 pairs of 5 s runs
#   PAIRS=7 DURATION=10 bench/tail.sh
#
# One daemon for all runs: its start-up and warm caches are the same for both sides.
# Everything runs on this machine, wrk included; quote the ratio, not one run.
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
PAIRS=${PAIRS:-5}
CONNS=${CONNS:-50}
THREADS=${THREADS:-32}
. bench/lib.sh
bench_setup wrk curl python3
# shellcheck disable=SC2119 # (no serve options of its own)
start_daemon
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
bench_agent
curl -s -c "$T/jar" -H 'Content-Type: application/json' -d "{\"token\":\"$ROOT\"}" \
    "$BASE/ui/api/session" >/dev/null

metric() { curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# run SIDE: one wrk run; SIDE "tail" opens a tail first and counts what it got.
run() {
    local side=$1 tailpid="" c0 c1 got=""
    if [ "$side" = tail ]; then
        curl -s -N -b "$T/jar" "$BASE/ui/api/tail" >"$T/tail.sse" &
        tailpid=$!
        for _ in $(seq 100); do [ "$(metric agentgov_ui_tails)" = 1 ] && break; sleep 0.02; done
    fi
    c0=$(metric agentgov_ledger_appends_total)
    local k0 k1 tk0=0 tk1=0
    k0=$(cpu_ticks "$DPID")
    [ -z "$tailpid" ] || tk0=$(cpu_ticks "$tailpid")
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/actions.lua "$BASE" >"$T/wrk"
    k1=$(cpu_ticks "$DPID")
    [ -z "$tailpid" ] || tk1=$(cpu_ticks "$tailpid")
    c1=$(metric agentgov_ledger_appends_total)
    if [ -n "$tailpid" ]; then
        sleep 0.5 # the hub polls every 50 ms: the last rows
        kill "$tailpid" 2>/dev/null
        wait "$tailpid" 2>/dev/null || true
        got=$(grep -c '^event: entry' "$T/tail.sse" || true)
    fi
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$T/wrk")
    p99=$(awk '$1 == "99%" {print $2}' "$T/wrk")
    # The daemon's CPU per decision (µs); the tail client's too (it runs here as well).
    local us cus
    us=$(python3 -c "print('%.1f' % (($k1 - $k0) / $TICK * 1e6 / max($c1 - $c0, 1)))")
    cus=$(python3 -c "print('%.1f' % (($tk1 - $tk0) / $TICK * 1e6 / max($c1 - $c0, 1)))")
    printf '%-5s %12s %10s %12s %14s %12s\n' "$side" "$rps" "$p99" "$((c1 - c0))" "${got:--}" "$us"
    echo "$side $rps $p99 $((c1 - c0)) ${got:-0} $us $cus" >>"$T/runs"
}

echo "$("$AG" version 2>/dev/null | head -1), $(nproc) cores, $CONNS connections, ${DURATION}s per run, $PAIRS pairs"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %12s %10s %12s %14s %12s\n' side "decisions/s" p99 committed "tail received" "daemon µs/dec"
for i in $(seq "$PAIRS"); do
    if [ $((i % 2)) = 1 ]; then run none; run tail; else run tail; run none; fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tails: gaps $(metric agentgov_ui_tail_gaps_total), entries dropped in gaps $(metric agentgov_ui_tail_dropped_total)"
python3 - "$T/runs" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1])]
def ms(v):
    return float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000
none = [r for r in runs if r[0] == "none"]
tail = [r for r in runs if r[0] == "tail"]
ratios = [float(t[1]) / float(n[1]) for n, t in zip(none, tail)]
for name, rs in (("none", none), ("tail", tail)):
    print("median %-4s: %10.0f decisions/s, p99 %.2f ms" % (name, statistics.median(float(r[1]) for r in rs),
                                                          statistics.median(ms(r[2]) for r in rs)))
print("ratio tail/none per pair: %s; median %.3f" % (" ".join("%.3f" % r for r in ratios), statistics.median(ratios)))
cn, ct = statistics.median(float(r[5]) for r in none), statistics.median(float(r[5]) for r in tail)
cc = statistics.median(float(r[6]) for r in tail)
print("daemon CPU per decision: median %.1f us without a tail, %.1f us with one (%+.1f %%); the tail client %.1f us"
      % (cn, ct, (ct / cn - 1) * 100, cc))
got, committed = sum(int(r[4]) for r in tail), sum(int(r[3]) for r in tail)
print("tails received %d entries of %d committed during their runs (checkpoints included in received)" % (got, committed))
PY
