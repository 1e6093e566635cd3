#!/usr/bin/env bash
# The README's main job on embedded defaults: a walk through the shipped policy (sample
# requests and their decisions), then a governed task end to end in a fresh data
# directory. Usage: scripts/demo.sh [path/to/agentgov]
set -euo pipefail
AG=${1:-build/agentgov}
echo "== The shipped policy: sample requests and their decisions"
"$AG" policy walk
echo
echo "== A governed task end to end (embedded store and ledger)"
"$AG" demo
