# shellcheck shell=bash
# The preamble bench/http.sh, bench/otlp.sh and bench/tail.sh share; sourced after
# `set -eu` and the cd to the repository's root, with THREADS set.
#
#   bench_setup TOOL...   checks TOOL... and the binary, makes the scratch directory $T
#                         (removed at exit, after the daemon and every pid in PIDS are
#                         killed), initializes the data directory $D, picks $PORT ($BASE)
#   start_daemon ARG...   `agentgov serve` on $PORT with ARG... added, pid in DPID;
#                         returns once it answers /v1/sys/health, exits if it never does
#   stop_daemon           SIGTERM, then waits for it to finish
#   bench_agent           registers bench-agent: ROOT, and AG_TOKEN and AG_AGENT exported
#                         for bench/actions.lua
AG=${AGENTGOV_BIN:-$PWD/build/agentgov}
BENCH_NAME="bench/$(basename "$0")"
PIDS=()
DPID=""

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Under set -e a wait on a killed pid (status 143) would end the trap there: the next
# pids would live on and $T stay behind.
bench_cleanup() {
    [ -z "$DPID" ] || PIDS+=("$DPID")
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}

bench_setup() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$BENCH_NAME: $tool is missing" >&2; exit 1; }
    done
    [ -x "$AG" ] || { echo "$BENCH_NAME: build first (make)" >&2; exit 1; }
    T=$(mktemp -d "${TMPDIR:-/tmp}/agentgov-bench-XXXXXX")
    trap bench_cleanup EXIT
    D="$T/data"
    "$AG" --dir "$D" init >/dev/null
    PORT=$(free_port)
    BASE="http://127.0.0.1:$PORT"
}

start_daemon() {
    "$AG" --dir "$D" serve --listen "127.0.0.1:$PORT" --log-level warn --threads "$THREADS" \
        --max-connections 4096 "$@" 2>>"$T/daemon.log" &
    DPID=$!
    for _ in $(seq 200); do curl -s -o /dev/null "$BASE/v1/sys/health" && return 0; sleep 0.05; done
    echo "$BENCH_NAME: the daemon did not start: $(tail -3 "$T/daemon.log")" >&2
    exit 1
}

stop_daemon() {
    kill -TERM "$DPID"
    wait "$DPID" || true
    DPID=""
}

bench_agent() {
    ROOT=$(cat "$D/root.token")
    AG_TOKEN=$(python3 tests/integration/serve_common.py setup "$BASE" "$ROOT" bench-agent 1 "" EXECUTE)
    export AG_TOKEN AG_AGENT=bench-agent
}
