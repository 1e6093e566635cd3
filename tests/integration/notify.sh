#!/usr/bin/env bash
# Notifications beyond approvals (tests/integration/notify_flow.py): revocation and
# budget events, dead letters, `agentgov notify test`, a misconfigured channel.
source "$(dirname "$0")/lib.sh"
"$AG" --dir "$T/data" init >"$T/init.log" 2>&1 || { not_ok "init" "$(cat "$T/init.log")"; finish; }
python3 "$SRC/tests/integration/notify_flow.py" "$AG" "$T/data" >"$T/flow.log" 2>&1
rc=$?
while IFS= read -r line; do
    case $line in
    "ok   "*) ok "${line#ok   }" ;;
    "FAIL "*) not_ok "${line#FAIL }" ;;
    esac
done <"$T/flow.log"
grep -q '^FAILS=' "$T/flow.log" || not_ok "the driver did not finish (exit $rc)" "$(tail -15 "$T/flow.log")"
finish
