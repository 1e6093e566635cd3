#!/usr/bin/env bash
# Fails when a source file under src/ is longer than the limit (1,000 lines): a file
# that big has more than one job and is split along its seams (docs/internals.md).
# Usage: scripts/check-size.sh [DIR [LIMIT]]   (defaults: src 1000)
set -u
dir=${1:-src}
limit=${2:-1000}
if [ ! -d "$dir" ]; then
    echo "check-size: $dir: no such directory" >&2
    exit 2
fi
status=0
while IFS= read -r -d '' f; do
    n=$(wc -l <"$f")
    if [ "$n" -gt "$limit" ]; then
        echo "check-size: $f: $n lines (limit $limit): split it along its seams" >&2
        status=1
    fi
done < <(find "$dir" -type f \( -name '*.c' -o -name '*.h' \) -print0)
exit $status
