#!/usr/bin/env bash
# scripts/check-size.sh: passes on the tree, fails (naming the file) on a planted long file.
. "$(dirname "$0")/lib.sh"
S="$SRC/scripts/check-size.sh"

check_exit "the tree's sources are within 1,000 lines" 0 bash "$S" "$SRC/src" 1000

mkdir -p "$T/src/mod"
seq 1 1000 | sed 's/^/int a/;s/$/;/' >"$T/src/mod/ok.c"
check_exit "a file of exactly 1,000 lines passes" 0 bash "$S" "$T/src" 1000
seq 1 1001 | sed 's/^/int b/;s/$/;/' >"$T/src/mod/long.h"
check_exit "a header of 1,001 lines fails" 1 bash "$S" "$T/src" 1000
check_contains "the failure names the file and its length" "$ERR" "src/mod/long.h: 1001 lines"
check_not_contains "the file within the limit is not named" "$ERR" "ok.c"
check_exit "a missing directory is an error" 2 bash "$S" "$T/nowhere" 1000
check_contains "the error names the directory" "$ERR" "nowhere: no such directory"

finish
