#!/usr/bin/env bash
# Runs every unit-test binary under valgrind (memcheck, definite leaks are errors),
# VALGRIND_JOBS at a time (default: the number of CPUs), longest-running first, and
# prints one line per binary and, last, "N passed, N failed" as tests/run.sh does.
# A binary that valgrind reports on (exit 99), crashes or fails a test counts as one
# failure. Children the tests fork or exec are not traced (valgrind's default). The
# tests run in process (AGENTGOV_TEST_NOFORK=1): one leak check per binary, as the
# forking runner's children would each report the parent's memory.
# Environment: AGENTGOV_BUILD (build dir), VALGRIND_JOBS. Usage: tests/valgrind.sh [FILTER]
set -u
cd "$(dirname "$0")/.."
BUILD=${AGENTGOV_BUILD:-build}
export AGENTGOV_BIN="$PWD/$BUILD/agentgov"
export AGENTGOV_SRC="$PWD"
export AGENTGOV_TEST_NOFORK=1
JOBS=${VALGRIND_JOBS:-$(nproc)}
export FILTER=${1:-}
OUT=$(mktemp -d)
export OUT
trap 'rm -rf "$OUT"' EXIT

run_one() { # binary: writes $OUT/<name>.res = "pass fail seconds" and $OUT/<name>.log
    local bin=$1 name
    name=$(basename "$bin")
    local start=$SECONDS
    # shellcheck disable=SC2086
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        "$bin" $FILTER >"$OUT/$name.log" 2>&1
    local rc=$? p=0 f=1
    local last
    last=$(tail -n 1 "$OUT/$name.log")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        p=${BASH_REMATCH[1]}
        f=${BASH_REMATCH[2]}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    fi
    echo "$p $f $((SECONDS - start)) $rc" >"$OUT/$name.res"
}
export -f run_one

# The slowest binaries (CPU-heavy property and crash tests) start first so that the
# parallel run ends with the short ones.
slow="test_policy_prop test_policy_mutate test_auth_canary test_ledger_tamper test_store_sqlite"
{
    for s in $slow; do [ -x "$BUILD/tests/$s" ] && echo "$BUILD/tests/$s"; done
    for bin in "$BUILD"/tests/test_*; do
        [ -x "$bin" ] || continue
        case " $slow " in *" $(basename "$bin") "*) continue ;; esac
        echo "$bin"
    done
} | xargs -P "$JOBS" -I{} bash -c 'run_one "$1"' _ {}

total_pass=0
total_fail=0
failed=()
for bin in "$BUILD"/tests/test_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    read -r p f secs rc <"$OUT/$name.res" || { p=0 f=1 secs=0 rc=?; }
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    printf '%-40s %4d passed, %d failed (%ds)\n' "valgrind/$name" "$p" "$f" "$secs"
    if [ "$f" -ne 0 ]; then
        failed+=("$name")
        echo "    | exit $rc"
        grep -E '^(FAIL|    )|rror|==[0-9]+==' "$OUT/$name.log" | head -n 60 | sed 's/^/    | /'
    fi
done
[ ${#failed[@]} -eq 0 ] || echo "failed under valgrind: ${failed[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
