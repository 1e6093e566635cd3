#!/usr/bin/env bash
# Regenerates examples/multi-agent/replay.jsonl, the replay file `agentgov demo
# --multi-agent` runs offline: the scripted model server (tests/llm/model_server.py)
# answers from examples/multi-agent/script.json while `agentgovd orchestrate --record`
# runs the task against it. Usage: scripts/make-demo-replay.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
T=$(mktemp -d)
trap 'kill "$SRV" 2>/dev/null || true; rm -rf "$T"' EXIT
python3 tests/llm/model_server.py "$T/port" &
SRV=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(cat "$T/port")
curl -fsS -X POST --data-binary @examples/multi-agent/script.json "http://127.0.0.1:$PORT/_script" >/dev/null
"$BUILD/agentgov" --dir "$T/d" init >/dev/null
rm -f examples/multi-agent/replay.jsonl
"$BUILD/agentgov" --dir "$T/d" orchestrate --task demo-multi-agent --model demo \
    --llm "http://127.0.0.1:$PORT/v1" --record examples/multi-agent/replay.jsonl \
    "Choose an eviction policy for the session cache of a web service with hot keys"
echo "wrote examples/multi-agent/replay.jsonl ($(wc -l <examples/multi-agent/replay.jsonl) exchanges)"
