#!/usr/bin/env bash
# OpenTelemetry export (docs/observability.md): the real daemon exporting to a loopback
# OTLP/HTTP receiver that validates every payload against the OTLP JSON mapping
# (tests/integration/otel_flow.py, otlp_receiver.py).
source "$(dirname "$0")/lib.sh"
python3 "$SRC/tests/integration/otel_flow.py" "$AG" "$T" >"$T/flow.log" 2>&1
rc=$?
while IFS= read -r line; do
    case $line in
    "ok   "*) ok "${line#ok   }" ;;
    "FAIL "*) not_ok "${line#FAIL }" ;;
    esac
done <"$T/flow.log"
grep -q '^FAILS=' "$T/flow.log" || not_ok "the driver did not finish (exit $rc)" "$(tail -15 "$T/flow.log")"
finish
