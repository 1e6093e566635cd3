#!/usr/bin/env bash
# The unit-test runner (tests/unit/test.c) survives its tests: a TEST() that segfaults,
# one that loops and one that fails an assertion are each one failed test, named with
# the signal or the timeout, and the tests after them still run. Built here from
# tests/integration/fixtures/runner_fixture.c with the real runner.
source "$(dirname "$0")/lib.sh"

BIN="$T/runner_fixture"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O0 -Wall -Wextra -Werror -I"$SRC/include" -I"$SRC/tests/unit" \
    -o "$BIN" "$SRC/tests/integration/fixtures/runner_fixture.c" "$SRC/tests/unit/test.c" ||
    { not_ok "build the fixture"; finish; }

# 60 s x 0.05: the looping test is killed after 3 s.
START=$SECONDS
check_exit "a failing binary exits 1" 1 env TMPDIR="$T" AGENTGOV_TEST_TIMEOUT_MULT=0.05 "$BIN"
check_eq "it took the timeout, not forever" "$([ $((SECONDS - START)) -lt 30 ] && echo yes || echo "no ($((SECONDS - START)) s)")" yes
check_eq "last line" "$(tail -n 1 <<<"$OUT")" "4 passed, 3 failed"
check_contains "the crash is named with its signal" "$OUT" "crashes: killed by signal 11 (Segmentation fault)"
check_contains "the crash is a failed test" "$OUT" "FAIL crashes"
check_contains "the hang is named with the timeout" "$OUT" "hangs: timed out after 3 s"
check_contains "the hang is a failed test" "$OUT" "FAIL hangs"
check_contains "an assertion names file:line" "$OUT" "runner_fixture.c:27: 2 + 2 == 5: got 4, expected 5"
check_contains "the assertion is a failed test" "$OUT" "FAIL fails_assert"
check_contains "the test before ran" "$OUT" "ok   passes_before"
check_contains "the test after ran" "$OUT" "ok   passes_after"
check_contains "same label, first directory" "$OUT" "ok   fresh_dir_a"
check_contains "same label, second directory" "$OUT" "ok   fresh_dir_b"
TMP_USED=$(sed -n 's/^    tmpdir //p' <<<"$OUT")
check_eq "the tests' tmpdir is under TMPDIR" "${TMP_USED#"$T"/}" "$(basename "$TMP_USED")"
check_eq "the parent removed it once, at the end" "$([ -n "$TMP_USED" ] && [ ! -e "$TMP_USED" ] && echo gone || echo "still there: '$TMP_USED'")" gone
check_eq "each test is reported once" "$(grep -c '^\(ok  \|FAIL\) ' <<<"$OUT")" 7

# The filter still selects tests by name.
check_exit "filter: only the passing ones" 0 env TMPDIR="$T" "$BIN" passes_
check_eq "filter: last line" "$(tail -n 1 <<<"$OUT")" "2 passed, 0 failed"

# In process (for a debugger): an assertion still ends only its own test.
check_exit "nofork: a failed assertion" 1 env TMPDIR="$T" AGENTGOV_TEST_NOFORK=1 "$BIN" fails_assert
check_eq "nofork: last line" "$(tail -n 1 <<<"$OUT")" "0 passed, 1 failed"
check_exit "nofork: passing tests" 0 env TMPDIR="$T" AGENTGOV_TEST_NOFORK=1 "$BIN" fresh_dir
check_eq "nofork: both fresh dirs" "$(tail -n 1 <<<"$OUT")" "2 passed, 0 failed"
# ... and a crash ends the binary there, which is what a debugger wants to see.
check_exit "nofork: a crash kills the binary" 139 bash -c 'TMPDIR="$1" AGENTGOV_TEST_NOFORK=1 "$2" crashes; exit $?' _ "$T" "$BIN"

check_exit "a bad multiplier is refused" 2 env AGENTGOV_TEST_TIMEOUT_MULT=fast "$BIN"
check_contains "and named" "$ERR" "AGENTGOV_TEST_TIMEOUT_MULT: 'fast' is not a number"
finish
