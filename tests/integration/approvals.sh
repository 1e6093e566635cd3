#!/usr/bin/env bash
# Human approvals through the real daemon (tests/integration/approvals_flow.py), on the
# embedded store and on a real redis-server: ask -> pending -> approved -> the retry
# allowed once -> reuse denied; mismatched arguments, self-approval, the two-person
# rule, expiry, a restart while pending; `ledger verify` after each scenario.
source "$(dirname "$0")/lib.sh"

# run_flow NAME [STORE_URL]: one backend; every line the driver prints is a check.
run_flow() {
    local name=$1 dir="$T/$1/data"
    mkdir -p "$T/$1"
    # The root token goes to the store the daemon will use.
    AGENTGOV_STORE=${2:-} "$AG" --dir "$dir" init >"$T/$1/init.log" 2>&1 || { not_ok "$name: init" "$(cat "$T/$1/init.log")"; return; }
    python3 "$SRC/tests/integration/approvals_flow.py" "$AG" "$dir" "${2:-}" >"$T/$1/flow.log" 2>&1
    local rc=$?
    while IFS= read -r line; do
        case $line in
        "ok   "*) ok "$name: ${line#ok   }" ;;
        "FAIL "*) not_ok "$name: ${line#FAIL }" ;;
        esac
    done <"$T/$1/flow.log"
    grep -q '^FAILS=' "$T/$1/flow.log" || not_ok "$name: the driver did not finish (exit $rc)" "$(tail -15 "$T/$1/flow.log")" "$(tail -5 "$T/$1/daemon.log" 2>/dev/null)"
}

run_flow sqlite
start_redis
run_flow redis "$REDIS_URL"
finish
