#!/usr/bin/env bash
# Runs every libFuzzer target in build-fuzz/fuzz/ for FUZZ_SECONDS (default 20) each,
# starting from a seed corpus of the repository's own data, and prints one line per
# target (executions, exec/s, corpus size). A crash leaves its input in
# build-fuzz/artifacts/ and fails the run. Usage: tests/fuzz/run.sh [FILTER]
set -u
cd "$(dirname "$0")/../.."
BUILD=build-fuzz
SECONDS_EACH=${FUZZ_SECONDS:-20}
FILTER=${1:-}

# Seed files or directories per target.
seeds() {
    case "$1" in
    fuzz_policy) echo policies tests/data/policy/lint ;;
    fuzz_jcs) echo tests/data/hooks examples/packets tests/data/run/packet.json ;;
    fuzz_packet) echo examples/packets tests/data/run/packet.json ;;
    fuzz_hook) echo tests/data/hooks ;;
    fuzz_config) echo tests/fuzz/seeds/config ;;
    fuzz_pipeline) echo tests/data/pipelines examples/pipelines templates ;;
    fuzz_shell) echo tests/fuzz/seeds/shell ;;
    fuzz_mcp) echo tests/fuzz/seeds/mcp ;;
    fuzz_otel) echo tests/fuzz/seeds/otel ;;
    esac
}

# Known third-party leaks, by function name (see the file).
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

failed=()
mkdir -p "$BUILD/artifacts"
for bin in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    if [ -n "$FILTER" ] && [[ $name != *"$FILTER"* ]]; then continue; fi
    corpus=$BUILD/corpus/$name
    mkdir -p "$corpus"
    for s in $(seeds "$name"); do
        if [ -d "$s" ]; then
            find "$s" -maxdepth 1 -type f -exec cp -n {} "$corpus/" \;
        elif [ -f "$s" ]; then
            cp -n "$s" "$corpus/"
        fi
    done
    log=$BUILD/$name.log
    start=$SECONDS
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$name-" "$corpus" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(grep -oE 'exec/s: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
    size=$(find "$corpus" -type f | wc -l)
    printf '%-14s %9s execs %7s exec/s  corpus %5d  (%ds)%s\n' "$name" "${runs:-?}" \
        "${rate:-?}" "$size" $((SECONDS - start)) "$([ $rc -eq 0 ] || echo "  FAILED rc=$rc")"
    if [ $rc -ne 0 ]; then
        failed+=("$name")
        grep -E 'ERROR|SUMMARY|#[0-9]+ in |Test unit written' "$log" | head -n 30 | sed 's/^/    | /'
    fi
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: failed: ${failed[*]} (logs in $BUILD/<target>.log)"
    exit 1
fi
echo "fuzz: all targets ran clean"
