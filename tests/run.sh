#!/usr/bin/env bash
# Runs every unit-test binary and every integration script, then prints the sum as
# its last line: "N passed, N failed". A binary or script that crashes or ends without
# a summary line counts as one failure. Usage: tests/run.sh [FILTER]
# Environment: AGENTGOV_BUILD (build dir), AGENTGOV_ONLY_UNIT=1, AGENTGOV_WRAP (e.g. valgrind).
set -u
cd "$(dirname "$0")/.."
BUILD=${AGENTGOV_BUILD:-build}
FILTER=${1:-}
export AGENTGOV_BIN="$PWD/$BUILD/agentgov"
export AGENTGOV_SRC="$PWD"
total_pass=0
total_fail=0
failed_suites=()

run_suite() { # name, command...
    local name=$1
    shift
    local log
    log=$(mktemp)
    local start=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local last
    last=$(tail -n 1 "$log")
    local p=0 f=0
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        p=${BASH_REMATCH[1]}
        f=${BASH_REMATCH[2]}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    else
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    printf '%-40s %4d passed, %d failed (%ds)\n' "$name" "$p" "$f" $((SECONDS - start))
    if [ "$f" -ne 0 ]; then
        failed_suites+=("$name")
        grep -E '^(FAIL|    )|rror|Sanitizer|==[0-9]+==' "$log" | head -n 60 | sed 's/^/    | /'
        [ "$last" = "" ] || echo "    | last line: $last"
    fi
    rm -f "$log"
}

for bin in "$BUILD"/tests/test_*; do
    [ -x "$bin" ] || continue
    name=unit/$(basename "$bin")
    # shellcheck disable=SC2086
    run_suite "$name" ${AGENTGOV_WRAP:-} "$bin" $FILTER
done

if [ -z "${AGENTGOV_ONLY_UNIT:-}" ]; then
    for script in tests/integration/*.sh; do
        [ -f "$script" ] || continue
        case "$script" in */lib.sh) continue ;; esac
        if [ -n "$FILTER" ] && [[ $script != *"$FILTER"* ]]; then continue; fi
        run_suite "integration/$(basename "$script" .sh)" bash "$script"
    done
fi

if [ ${#failed_suites[@]} -ne 0 ]; then
    echo "failed suites: ${failed_suites[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
