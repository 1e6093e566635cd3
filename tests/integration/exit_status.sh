#!/usr/bin/env bash
# The exit-status table (include/agentgov/exit.h) is printed by every command's --help,
# and the README documents the same values.
source "$(dirname "$0")/lib.sh"

# Every command `agentgov --help` lists.
CMDS=$("$AG" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
check_eq "commands listed" "$([ "$(wc -w <<<"$CMDS")" -ge 15 ] && echo yes || echo "no: $CMDS")" yes
for c in $CMDS; do
    [ "$c" = version ] && continue # prints the version, takes no options
    check_exit "$c --help" 0 "$AG" "$c" --help
    for row in "0 OK" "1 USAGE" "2 DENY" "3 ASK" "4 ERROR"; do
        check_contains "$c --help lists $row" "$OUT" "  $row"
    done
done
check_exit "agentgov --help" 0 "$AG" --help
check_contains "agentgov --help lists the table" "$OUT" "  4 ERROR  could not answer"

# The README's table has the same values and names as the header.
while read -r name value; do
    check_contains "README lists $value $name" "$(cat "$SRC/README.md")" "| $value | $name |"
done < <(sed -n 's/^ *X(\([A-Z]*\), \([0-9]*\),.*/\1 \2/p' "$SRC/include/agentgov/exit.h")

check_exit "an unknown command is a usage error" 1 "$AG" frobnicate
check_exit "an unknown global option is a usage error" 1 "$AG" --frob check
finish
