#!/usr/bin/env bash
# An open notify breaker keeps deliveries waiting in the outbox with their attempts
# unspent, and they arrive once the channel answers (tests/integration/notify_breaker.py).
source "$(dirname "$0")/lib.sh"
python3 "$SRC/tests/integration/notify_breaker.py" "$AG" "$T" >"$T/flow.log" 2>&1
rc=$?
while IFS= read -r line; do
    case $line in
    "ok   "*) ok "${line#ok   }" ;;
    "FAIL "*) not_ok "${line#FAIL }" ;;
    esac
done <"$T/flow.log"
grep -q '^FAILS=' "$T/flow.log" || not_ok "the driver did not finish (exit $rc)" "$(tail -15 "$T/flow.log")"
finish
