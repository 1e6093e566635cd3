#!/usr/bin/env bash
# `agentgov orchestrate` and `agentgov demo --multi-agent` through the real binaries:
# the shipped replay offline, a live run against the scripted model server on loopback
# (the API key read from the secret store, sent as a Bearer header, never ledgered),
# the same run on a private redis-server, task status, bad input, and the ledger
# verified after each.
. "$(dirname "$0")/lib.sh"

D="$T/d"
"$AG" --dir "$D" init >/dev/null 2>&1 || { echo "init failed"; exit 1; }

check_exit "demo --multi-agent runs offline to a consensus" 0 "$AG" demo --multi-agent --dir "$T/demo"
check_contains "demo: GAMMA spawned on CONFLICT" "$OUT" "GAMMA spawned   CONFLICT"
check_contains "demo: consensus" "$OUT" "outcome         consensus"
check_contains "demo: messages within the seed's 20-30" "$OUT" "messages             23  20-30    within"
check_contains "demo: blackboard ops within the seed's 40-60" "$OUT" "blackboard ops       46  40-60    within"
check_contains "demo: LLM calls within the seed's 6-12" "$OUT" "LLM calls            10  6-12     within"
check_exit "demo: ledger verifies" 0 "$AG" --dir "$T/demo" ledger verify
check_exit "demo: task status" 0 "$AG" --dir "$T/demo" task status demo-multi-agent
check_contains "task status shows the coordination metrics" "$OUT" "gamma_spawned    CONFLICT"
check_contains "task status shows the LLM calls" "$OUT" "llm_calls"
check_exit "demo: llm calls are in the ledger" 0 "$AG" --dir "$T/demo" ledger query --kind llm --format jsonl
check_contains "ledger llm rows hold digests" "$OUT" "request_sha256"
check_not_contains "ledger llm rows hold no prompt text" "$OUT" "You are ALPHA"

# A live run against the scripted OpenAI-compatible server.
python3 "$SRC/tests/llm/model_server.py" "$T/port" &
PIDS_TO_KILL+=($!)
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
P=$(cat "$T/port")
script() {
    curl -fsS -X POST "http://127.0.0.1:$P/_reset" >/dev/null
    curl -fsS -X POST --data-binary @"$SRC/examples/multi-agent/script.json" \
        "http://127.0.0.1:$P/_script" >/dev/null
}

check_exit "secret put stores the API key" 0 "$AG" --dir "$D" secret put llm/scripted api_key=sk-itest-7731
printf 'llm.base_url = http://127.0.0.1:%s/v1\nllm.model = scripted\nllm.api_key = kv:llm/scripted#api_key\nllm.prices = scripted=3/15\n' "$P" >"$D/config"
script
check_exit "orchestrate against the scripted server" 0 "$AG" --dir "$D" orchestrate --task it-live --json "pick a cache policy"
check_contains "json outcome" "$OUT" '"outcome":"consensus"'
check_contains "json gamma" "$OUT" '"gamma_spawned":"CONFLICT"'
check_contains "json cost from the price table" "$OUT" '"cost_microusd":'
LOG=$(curl -fsS "http://127.0.0.1:$P/_log")
check_contains "the key went as a Bearer header" "$LOG" '"authorization": "Bearer sk-itest-7731"'
check_exit "live: ledger verifies" 0 "$AG" --dir "$D" ledger verify
check_exit "live: ledger query" 0 "$AG" --dir "$D" ledger query --format jsonl
check_not_contains "the API key is never ledgered" "$OUT" "sk-itest-7731"

# The same task on Redis (the scripted server needs no key: the secret store and the
# root token live in the embedded store of this directory).
start_redis
printf 'llm.base_url = http://127.0.0.1:%s/v1\nllm.model = scripted\n' "$P" >"$D/config"
script
check_exit "orchestrate on redis" 0 "$AG" --dir "$D" orchestrate --store "$REDIS_URL" --task it-redis --json "pick a cache policy"
check_contains "redis: consensus" "$OUT" '"outcome":"consensus"'
check_eq "redis: blackboard in the seed's key" "$(redis-cli -p "$REDIS_PORT" hexists blackboard:it-redis:solutions synthesis)" "1"
check_eq "redis: messages in the seed's key" "$(redis-cli -p "$REDIS_PORT" llen msg:it-redis:alpha@it-redis)" "9"
check_exit "redis: ledger verifies" 0 "$AG" --dir "$D" ledger verify

# Workdir tools: authorized, then run beneath the workdir (commands in the tier's sandbox).
W="$T/work"
mkdir -p "$W"
echo "content-from-outside" >"$T/outside.txt"
ln -s /etc/passwd "$W/link"
tool() { printf '{"agent":"alpha","body":{"tool_call":{"name":"%s","arguments":%s}}}' "$1" "$2"; }
curl -fsS -X POST "http://127.0.0.1:$P/_reset" >/dev/null
curl -fsS -X POST "http://127.0.0.1:$P/_script" --data-binary "[
 $(tool file_write '{"path":"notes.txt","content":"hello from alpha"}'),
 $(tool shell_exec '{"argv":["cat","notes.txt"]}'),
 $(tool file_read '{"path":"../outside.txt"}'),
 $(tool file_read '{"path":"link"}'),
 $(tool shell_exec "{\"argv\":[\"cat\",\"$T/outside.txt\"]}"),
 $(tool vote '{"vote":"ACCEPT","reasoning":"notes written"}'),
 {\"agent\":\"alpha\",\"body\":{\"content\":\"done\"}}]" >/dev/null
check_exit "orchestrate --workdir at T2" 0 "$AG" --dir "$D" orchestrate --store "$REDIS_URL" \
    --task it-work --agents alpha --tier 2 --workdir "$W" --no-gamma --json "write notes"
check_eq "file_write wrote beneath the workdir" "$(cat "$W/notes.txt" 2>/dev/null)" "hello from alpha"
LOG=$(curl -fsS "http://127.0.0.1:$P/_log")
tool_results() { python3 -c 'import json,sys
for q in json.load(sys.stdin):
    m = q["body"]["messages"][-1]
    if m["role"] == "tool": print(m["content"])'; }
R=$(printf '%s' "$LOG" | tool_results)
check_contains "shell_exec ran in the workdir" "$R" '"output":"hello from alpha"'
check_contains "a path with .. is refused" "$R" "without '..'"
check_not_contains "nothing outside was read" "$R" "content-from-outside"
check_not_contains "a symlink out is not followed" "$R" "root:x:0"
check_contains "the sandbox keeps a command in" "$R" 'Permission denied\n","exit":1'
curl -fsS -X POST "http://127.0.0.1:$P/_reset" >/dev/null
curl -fsS -X POST "http://127.0.0.1:$P/_script" --data-binary "[
 $(tool file_write '{"path":"t1.txt","content":"x"}'),
 {\"agent\":\"alpha\",\"body\":{\"content\":\"done\"}}]" >/dev/null
check_exit "at T1 a write is refused: no consensus" 2 "$AG" --dir "$D" orchestrate --store "$REDIS_URL" \
    --task it-work1 --agents alpha --workdir "$W" --no-gamma --json "write notes"
R=$(curl -fsS "http://127.0.0.1:$P/_log" | tool_results)
check_contains "the refusal went back to the model" "$R" '"denied":true'
[ ! -e "$W/t1.txt" ] && ok "nothing written at T1" || not_ok "nothing written at T1"

# An ask: the tool call waits for a person, who approves from the CLI during the run;
# artifact_read reads the task's artifacts, judged on the resolved path.
printf 'llm.base_url = http://127.0.0.1:%s/v1\nllm.model = scripted\n' "$P" >"$D/config"
cat >"$T/ask.yaml" <<'EOF'
version: 1
tiers:
  0: {name: Observer, token_ttl: 1h, max_ttl: 4h}
  1: {name: Operator, token_ttl: 30m, max_ttl: 2h}
  2: {name: Builder, token_ttl: 30m, max_ttl: 2h}
  3: {name: Executor, token_ttl: 15m, max_ttl: 1h}
  4: {name: Architect, token_ttl: 15m, max_ttl: 1h}
rules:
  - {id: coordinate, effect: allow, actions: [blackboard.read, blackboard.write, message.read, message.send, vote.cast], resources: [blackboard/**, msg/**, votes/**], phases: [PLAN, EXECUTE, VERIFY], min_tier: 1}
  - {id: synthesis-ask, effect: ask, actions: [blackboard.write], resources: [blackboard/*/solutions/synthesis], phases: [EXECUTE], min_tier: 1}
  - {id: artifacts, effect: allow, actions: [artifact.read], resources: [artifacts/**], phases: [EXECUTE], min_tier: 1}
EOF
mkdir -p "$T/art"
echo "benchmark: W-TinyLFU p99 3.1 ms" >"$T/art/bench.txt"
ln -s ../outside.txt "$T/art/leak"
btool() { printf '{"agent":"beta","body":{"tool_call":{"name":"%s","arguments":%s}}}' "$1" "$2"; }
curl -fsS -X POST "http://127.0.0.1:$P/_reset" >/dev/null
curl -fsS -X POST "http://127.0.0.1:$P/_script" --data-binary "[
 $(tool artifact_read '{"path":"bench.txt"}'),
 $(tool artifact_read '{"path":"leak"}'),
 $(tool vote '{"vote":"ACCEPT","reasoning":"the benchmark holds"}'),
 {\"agent\":\"alpha\",\"body\":{\"content\":\"done\"}},
 $(btool blackboard_write '{"section":"solutions","entry":"synthesis","value":"W-TinyLFU"}'),
 $(btool vote '{"vote":"ACCEPT","reasoning":"synthesis written"}'),
 {\"agent\":\"beta\",\"body\":{\"content\":\"done\"}}]" >/dev/null
"$AG" --dir "$D" orchestrate --policy "$T/ask.yaml" --task it-ask --artifacts "$T/art" \
    --ask-timeout 30s --no-gamma --json "pick a cache policy" >"$T/ask.out" 2>"$T/ask.err" &
ORCH=$!
ID=
for _ in $(seq 200); do
    ID=$(grep -o 'apv-[0-9a-f]*' "$T/ask.err" 2>/dev/null | head -n 1)
    [ -n "$ID" ] && break
    sleep 0.05
done
check_contains "the ask names its approval on stderr" "$(cat "$T/ask.err")" "beta@it-ask asks for blackboard.write on blackboard/it-ask/solutions/synthesis"
check_exit "a person approves from the CLI during the run" 0 "$AG" --dir "$D" approval approve "$ID" --as carol
wait "$ORCH"
check_eq "the approved run reaches a consensus" "$?" "0"
check_contains "ask: consensus" "$(cat "$T/ask.out")" '"outcome":"consensus"'
R=$(curl -fsS "http://127.0.0.1:$P/_log" | tool_results)
check_contains "artifact_read read the artifact" "$R" "benchmark: W-TinyLFU p99 3.1 ms"
check_not_contains "a link out of the artifacts is not read" "$R" "content-from-outside"
check_contains "the escape was refused by the policy" "$R" '"denied":true'
check_contains "the consensus went to the task's artifacts" "$(cat "$T/art/consensus.json" 2>&1)" '"reached":true'
check_exit "ask: approval shown" 0 "$AG" --dir "$D" approval show "$ID" --json
check_contains "ask: the grant was used" "$OUT" '"used":true'
check_exit "ask: ledger verifies" 0 "$AG" --dir "$D" ledger verify

# SIGTERM while an ask waits: the task ends at once as "interrupted" (exit 11), with
# its result printed and its metrics and ledger entry written, not killed halfway.
curl -fsS -X POST "http://127.0.0.1:$P/_reset" >/dev/null
curl -fsS -X POST "http://127.0.0.1:$P/_script" --data-binary "[
 {\"agent\":\"alpha\",\"body\":{\"content\":\"done\"}},
 $(btool blackboard_write '{"section":"solutions","entry":"synthesis","value":"W-TinyLFU"}'),
 {\"agent\":\"beta\",\"body\":{\"content\":\"done\"}}]" >/dev/null
"$AG" --dir "$D" orchestrate --policy "$T/ask.yaml" --task it-int --ask-timeout 60s --no-gamma \
    --json "pick a cache policy" >"$T/int.out" 2>"$T/int.err" &
ORCH=$!
for _ in $(seq 200); do grep -q 'apv-' "$T/int.err" 2>/dev/null && break; sleep 0.05; done
check_contains "the interrupted run waits on an ask" "$(cat "$T/int.err")" "beta@it-int asks for"
T0=$(now_ms)
kill -TERM "$ORCH"
wait "$ORCH"
RC=$?
check_eq "SIGTERM: exit 11" "$RC" 11
check_eq "SIGTERM: the task ends within 5 s, not at the ask's timeout" \
    "$([ $(($(now_ms) - T0)) -lt 5000 ] && echo yes)" yes
check_contains "SIGTERM: outcome interrupted" "$(cat "$T/int.out")" '"outcome":"interrupted"'
check_exit "SIGTERM: task status reads the recorded metrics" 0 "$AG" --dir "$D" task status it-int
check_contains "SIGTERM: the recorded outcome" "$OUT" "interrupted"
check_exit "SIGTERM: the ledger has the task's entry" 0 "$AG" --dir "$D" ledger query --task it-int --format jsonl
check_contains "SIGTERM: its entry says interrupted" "$OUT" '"reason":"interrupted"'
check_exit "SIGTERM: ledger verifies" 0 "$AG" --dir "$D" ledger verify

# Bad input: named, non-zero, nothing run.
check_exit "no objective" 1 "$AG" --dir "$D" orchestrate
check_exit "bad provider" 1 "$AG" --dir "$D" orchestrate --llm ftp://x "o"
check_contains "bad provider named" "$ERR" "ftp://x"
check_exit "missing replay file" 1 "$AG" --dir "$D" orchestrate --llm "replay:$T/none.jsonl" "o"
check_contains "missing replay named" "$ERR" "none.jsonl"
check_exit "bad timeout" 1 "$AG" --dir "$D" orchestrate --timeout soon "o"
check_exit "a workdir that does not exist" 1 "$AG" --dir "$D" orchestrate --workdir "$T/none" "o"
check_contains "the workdir is named" "$ERR" "$T/none"
printf 'llm.base_url = http://127.0.0.1:%s/v1\nllm.model = scripted\nllm.api_key = sk-literal\n' "$P" >"$D/config"
check_exit "a literal key in config is refused" 1 "$AG" --dir "$D" orchestrate "o"
check_contains "literal key: says where keys go" "$ERR" "kv:<path>#<field>"
check_exit "orchestrate --help" 0 "$AG" orchestrate --help
check_contains "help names the key rule" "$OUT" "never from the command line"

# Model down: the breaker opens, agents fail closed, no hang.
DEAD=$(free_port)
printf 'llm.base_url = http://127.0.0.1:%s/v1\nllm.model = scripted\nllm.retries = 0\n' "$DEAD" >"$D/config"
start=$(now_ms)
check_exit "model down: the task fails (exit 4)" 4 "$AG" --dir "$D" orchestrate --task it-down --json "o"
check_contains "model down: a clear failure" "$OUT" '"outcome":"failed"'
check_contains "model down: says why" "$OUT" "could not reach its model"
check_contains "model down: no LLM call succeeded" "$OUT" '"llm_calls":0'
[ $(($(now_ms) - start)) -lt 10000 ] && ok "model down: no hang" || not_ok "model down: no hang" "took $(($(now_ms) - start)) ms"
check_exit "model down: the agent walked out" 0 "$AG" --dir "$D" agent status alpha@it-down
check_contains "model down: alpha at EXIT" "$OUT" "EXIT"
check_exit "model down: handoff" 0 "$AG" --dir "$D" task handoff it-down
check_contains "model down: the handoff says why" "$OUT" "llm_unavailable"
check_exit "model down: ledger verifies" 0 "$AG" --dir "$D" ledger verify

finish
