#!/usr/bin/env bash
# The layering rule, checked: a module may include headers of its own level and below,
# never above; and the front ends (src/cli, src/server) include only public headers
# (include/agentgov/*.h), src/core and their own. Prints each violation as
# file:line: what, and exits 1 when there is one. Usage: scripts/check-layering.sh [ROOT]
#
# The layering, lowest first (modules not present yet are simply absent):
LAYERS="core policy ledger store auth gov home approve notify health otel llm coord pipeline hook mcp runner server cli"
# Front ends: only public headers, src/core and their own.
FRONT="cli server"
# Known exceptions to the front-end rule, FILE:MODULE (FILE may include MODULE's private
# headers), each with its reason. Keep it short, and empty when it can be (it is):
EXEMPT=""
# A public header belongs to the module of its name (agentgov/ledger.h: ledger); the
# others (err.h, config.h, version.h, ...) are core's.
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"

shopt -s nullglob
files=(src/*/*.c src/*/*.h include/agentgov/*.h)
[ ${#files[@]} -gt 0 ] || { echo "check-layering: no sources under $ROOT" >&2; exit 2; }

awk -v layers="$LAYERS" -v front="$FRONT" -v exempt="$EXEMPT" '
BEGIN {
    n = split(layers, L, " ")
    for (i = 1; i <= n; i++) rank[L[i]] = i
    split(front, F, " ")
    for (i in F) isfront[F[i]] = 1
    split(exempt, X, " ")
    for (i in X) isexempt[X[i]] = 1
    bad = 0
}
function pubmod(name) { sub(/\.h$/, "", name); return (name in rank) ? name : "core" }
FNR == 1 {
    split(FILENAME, p, "/")
    mod = (p[1] == "include") ? pubmod(p[3]) : p[2]
    if (!(mod in rank)) {
        printf "%s:1: module \"%s\" is not in the layering (scripts/check-layering.sh)\n", FILENAME, mod
        bad = 1
    }
}
!(mod in rank) { next }                     # named once above
/^[ \t]*#[ \t]*include[ \t]*"/ {
    line = $0
    sub(/^[^"]*"/, "", line); sub(/".*$/, "", line)
    if (split(line, q, "/") != 2) next      # "test.h" and the like: not a module header
    if (q[1] == "agentgov") { to = pubmod(q[2]); public = 1 } else { to = q[1]; public = 0 }
    if (!(to in rank)) {
        printf "%s:%d: includes \"%s\" of \"%s\", which is not in the layering\n", FILENAME, FNR, line, to
        bad = 1
    } else if (rank[to] > rank[mod]) {
        printf "%s:%d: %s includes \"%s\" of %s, which is above it (%s)\n", FILENAME, FNR, mod, line, to, layers
        bad = 1
    } else if (!public && (mod in isfront) && to != mod && to != "core" &&
               !((FILENAME ":" to) in isexempt)) {
        printf "%s:%d: %s includes \"%s\", a private header of %s (use include/agentgov/*.h)\n", FILENAME, FNR, mod, line, to
        bad = 1
    }
}
END { exit bad }
' "${files[@]}" || { echo "check-layering: violations above" >&2; exit 1; }
echo "check-layering: ok (${#files[@]} files)"
