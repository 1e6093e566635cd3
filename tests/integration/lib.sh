# Shared helpers for integration scripts: source it, call check_* functions, end with
# `finish`, which prints "N passed, N failed" and sets the exit status.
# Every script gets a private temp dir in $T (removed at exit) and the binary in $AG.
set -u
AG=${AGENTGOV_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/agentgov}
SRC=${AGENTGOV_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/agentgov-it-XXXXXX")
PIDS_TO_KILL=()
_pass=0
_fail=0

_cleanup() {
    for pid in "${PIDS_TO_KILL[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ -n "${AGENTGOV_KEEP_TMP:-}" ] || rm -rf "$T"
}
trap _cleanup EXIT

ok() { _pass=$((_pass + 1)); echo "ok   $1"; }
not_ok() { _fail=$((_fail + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "    $l"; done; }

# check_exit NAME EXPECTED_CODE CMD... : runs CMD, stores stdout in $OUT, stderr in $ERR.
check_exit() {
    local name=$1 want=$2
    shift 2
    "$@" >"$T/.out" 2>"$T/.err"
    local rc=$?
    OUT=$(cat "$T/.out")
    ERR=$(cat "$T/.err")
    if [ "$rc" -eq "$want" ]; then ok "$name"; else
        not_ok "$name" "exit $rc, expected $want: $*" "stdout: ${OUT:0:400}" "stderr: ${ERR:0:400}"
    fi
}

# check_contains NAME HAYSTACK NEEDLE
check_contains() {
    if [[ $2 == *"$3"* ]]; then ok "$1"; else not_ok "$1" "'${2:0:400}' does not contain '$3'"; fi
}

# check_not_contains NAME HAYSTACK NEEDLE
check_not_contains() {
    if [[ $2 != *"$3"* ]]; then ok "$1"; else not_ok "$1" "'${2:0:400}' contains '$3'"; fi
}

# check_eq NAME GOT EXPECTED
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got '$2', expected '$3'"; fi
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_redis: starts a private redis-server on a free port; sets REDIS_PORT, REDIS_URL.
start_redis() {
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
    local pid=$!
    PIDS_TO_KILL+=("$pid")
    for _ in $(seq 100); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

# run_parallel N PREFIX CMD...: runs CMD N times at once, each with stdin from the file
# $PAR_IN and stdout and stderr in PREFIX.1..N; sets PAR_FAILED to how many exited
# non-zero.
run_parallel() {
    local n=$1 prefix=$2 p pids=()
    shift 2
    for i in $(seq "$n"); do
        "$@" <"$PAR_IN" >"$prefix.$i" 2>&1 &
        pids+=($!)
    done
    PAR_FAILED=0
    for p in "${pids[@]}"; do wait "$p" || PAR_FAILED=$((PAR_FAILED + 1)); done
}

now_ms() { date +%s%3N; }

finish() {
    echo "$_pass passed, $_fail failed"
    [ "$_fail" -eq 0 ]
    exit $?
}
