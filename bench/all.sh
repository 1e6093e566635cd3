#!/usr/bin/env bash
# Every benchmark, one after the other, with its default settings (what `make bench`
# runs after building them): the C benchmarks under build/bench/, then the daemon's
# over HTTP (bench/http.sh), with and without a live dashboard tail (bench/tail.sh) and
# with OpenTelemetry export off and on (bench/otlp.sh). Each prints its own figures; the
# docs say which figure answers which target. Takes about ten minutes on 2 cores; run
# it on a machine with nothing else to do, or the figures say more about the neighbours.
#
#   bench/all.sh            # everything
#   bench/all.sh policy tail   # only the benchmarks whose name contains one of these
set -u
cd "$(dirname "$0")/.."
B=${AGENTGOV_BUILD:-build}
FILTER=("$@")
want() { # name: chosen by the arguments (all when there are none)?
    [ ${#FILTER[@]} -eq 0 ] && return 0
    for w in "${FILTER[@]}"; do [[ $1 == *"$w"* ]] && return 0; done
    return 1
}
failed=()
run() { # name, command...
    local name=$1
    shift
    want "$name" || return 0
    printf '\n==== %s: %s\n' "$name" "$*"
    "$@" || failed+=("$name")
}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/agentgov-benchall-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
run policy "$B/bench/policy"
run ledger "$B/bench/ledger"
run store "$B/bench/store"
run lifecycle "$B/bench/lifecycle"
run auth "$B/bench/auth"
run approvals "$B/bench/approvals"
run hook "$B/bench/hook" "$B/agentgov"
run mcp "$B/bench/mcp" "$B/agentgov" 1000 "$DIR"
run pipeline "$B/bench/pipeline"
run coord "$B/bench/coord"
run http bash bench/http.sh
run tail bash bench/tail.sh
run otlp bash bench/otlp.sh
echo
if [ ${#failed[@]} -gt 0 ]; then
    echo "bench/all.sh: failed: ${failed[*]}"
    exit 1
fi
echo "bench/all.sh: every benchmark ran"
