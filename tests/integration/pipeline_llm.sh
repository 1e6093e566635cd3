#!/usr/bin/env bash
# Pipelines with `orchestrate` stages and LLM `agent` stages (an agent without run:),
# run through the coordination module (`agentgov orchestrate`) against the scripted
# OpenAI-compatible server on loopback: the endpoint from the pipeline's llm:, the
# stage's task as the objective with parameters substituted, an LLM agent writing its
# artifact through the governed workdir tools, a failed consensus retried with new
# agents, a kill -9 of the driver while an orchestrated stage runs (resumed: the
# stage is adopted, not run twice), and the ledger verifying after it all.
source "$(dirname "$0")/lib.sh"
export AGENTGOV_BIN=$AG
export AGENTGOV_DIR=$T/data
"$AG" init >"$T/init.log" 2>&1 || echo "init failed: $(cat "$T/init.log")"

python3 "$SRC/tests/llm/model_server.py" "$T/port" &
PIDS_TO_KILL+=($!)
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
P=$(cat "$T/port")
M=http://127.0.0.1:$P

state() { "$AG" pipeline status "$1" --json | jq -r --arg s "$2" '.stages[] | select(.stage == $s) | .state'; }
attempts() { "$AG" pipeline status "$1" --json | jq -r --arg s "$2" '.stages[] | select(.stage == $s) | .attempt'; }
message() { "$AG" pipeline status "$1" --json | jq -r --arg s "$2" '.stages[] | select(.stage == $s) | .message'; }
# script JSON: replaces the model server's queue.
script() {
    curl -fsS -X POST "$M/_reset" >/dev/null
    curl -fsS -X POST --data-binary "$1" "$M/_script" >/dev/null
}
# Items of the script: the planner's estimate, a tool call of a role, an answer.
PLAN='{"agent":"planner","body":{"content":"{\"complexity\":0.1,\"needs_validation\":false,\"constraints\":[]}"}}'
tool() { printf '{"agent":"%s","body":{"tool_call":{"name":"%s","arguments":%s}}%s}' "$1" "$2" "$3" "${4:-}"; }
# vote ROLE VOTE [EXTRA]: the role votes, then ends its turns (an agent calls the model
# again after a tool: without the "done" the next item of its role would answer).
vote() {
    tool "$1" vote "{\"vote\":\"$2\",\"reasoning\":\"scripted\"}" "${3:-}"
    printf ',{"agent":"%s","body":{"content":"done"}}' "$1"
}

cat >"$T/llm.yaml" <<YAML
pipeline:
  name: llm-stages
  llm: {url: "$M/v1", model: scripted}
  params:
    service: {type: string, default: sessions}
  agents:
    writer: {tier: 2}
  stages:
    - design:
        type: orchestrate
        task: "pick a cache policy for \${{ params.service }}"
    - write:
        agent: writer
        task: write the notes of the design
        requires: [design]
        artifacts: [notes.txt]
    - check:
        requires: [write]
        inputs: [notes.txt]
        run: [grep, -q, "LFU", notes.txt]
YAML

echo "# orchestrate and LLM agent stages"
check_exit "validate: the pipeline with llm: is valid" 0 "$AG" pipeline validate "$T/llm.yaml"
script "[$PLAN, $(vote alpha ACCEPT), $(vote beta ACCEPT), $PLAN,
  $(tool writer file_write '{"path":"notes.txt","content":"use LFU with decay"}'),
  $(vote writer ACCEPT)]"
check_exit "run: the run succeeds" 0 "$AG" pipeline run "$T/llm.yaml" --json
R=$(echo "$OUT" | head -n 1 | jq -r .run_id)
check_eq "design (orchestrate) succeeded" "$(state "$R" design)" "succeeded"
check_contains "design: on a consensus" "$(message "$R" design)" "consensus"
check_eq "write (an LLM agent) succeeded" "$(state "$R" write)" "succeeded"
check_eq "its artifact was written by the agent, in its stage directory" \
    "$(cat "$AGENTGOV_DIR/pipelines/$R/write/notes.txt" 2>/dev/null)" "use LFU with decay"
check_eq "check (a shell stage on the artifact) succeeded" "$(state "$R" check)" "succeeded"
LOG=$(curl -fsS "$M/_log")
check_contains "the objective is the stage's task, parameters substituted" "$LOG" "pick a cache policy for sessions"
check_contains "the LLM agent's objective is its task" "$LOG" "write the notes of the design"
check_contains "the LLM agent is told it works alone, under its own role" "$LOG" "You are WRITER, a governed agent working on this task alone"
check_eq "the LLM agent is not given the mediator's prompt" "$(echo "$LOG" | jq '[.[] | .body.messages[0].content | select(test("^You are WRITER"))] | length > 0 and all(test("GAMMA|mediator") | not)')" "true"
check_contains "the model is the pipeline's" "$LOG" '"model": "scripted"'
check_exit "the orchestrated task is known" 0 "$AG" task status "$R.design.1"
check_contains "with its coordination record" "$OUT" "consensus"
check_exit "the LLM agent was registered under its role" 0 "$AG" agent status "writer@$R.write.1"
check_exit "ledger: the stage changes are there" 0 "$AG" ledger query --kind pipeline --format jsonl
check_contains "ledger: design's success" "$OUT" '"stage":"design"'
check_exit "ledger verifies" 0 "$AG" ledger verify

echo "# a consensus not reached: retried with new agents"
cat >"$T/retry.yaml" <<YAML
pipeline:
  name: llm-retry
  llm: "$M/v1"
  stages:
    - design:
        type: orchestrate
        task: pick a cache policy
        model: scripted
        retry: {max: 1, backoff: 10ms}
YAML
script "[$PLAN, $(vote alpha REJECT), $(vote beta REJECT), $PLAN, $(vote alpha ACCEPT), $(vote beta ACCEPT)]"
check_exit "retry: the run succeeds on the second attempt" 0 "$AG" pipeline run "$T/retry.yaml" --json
R=$(echo "$OUT" | head -n 1 | jq -r .run_id)
check_eq "retry: two attempts" "$(state "$R" design)/$(attempts "$R" design)" "succeeded/2"
check_exit "retry: each attempt was a task of its own" 0 "$AG" task status "$R.design.1"
check_contains "retry: the first without consensus" "$OUT" "no_consensus"

echo "# kill -9 of the driver during an orchestrated stage, then resume"
script "[$PLAN, $(vote alpha ACCEPT ',"delay_ms":2500'), $(vote beta ACCEPT)]"
cat >"$T/crash.yaml" <<YAML
pipeline:
  name: llm-crash
  llm: {url: "$M/v1", model: scripted}
  stages:
    - design:
        type: orchestrate
        task: pick a cache policy
        retry: 2
    - after:
        requires: [design]
        run: ["true"]
YAML
"$AG" pipeline run "$T/crash.yaml" --json >"$T/crash.out" 2>"$T/crash.err" &
DP=$!
PIDS_TO_KILL+=("$DP")
for _ in $(seq 200); do [ -s "$T/crash.out" ] && break; sleep 0.05; done
R=$(head -n 1 "$T/crash.out" | jq -r .run_id)
for _ in $(seq 200); do [ "$(state "$R" design 2>/dev/null)" = running ] && break; sleep 0.05; done
sleep 0.5
kill -9 "$DP"
wait "$DP" 2>/dev/null
check_eq "crash: the stage was running when the driver died" "$(state "$R" design)" "running"
check_exit "crash: resume finishes the run" 0 "$AG" pipeline resume "$R"
check_eq "crash: design succeeded on its first attempt (adopted, not started again)" \
    "$(state "$R" design)/$(attempts "$R" design)" "succeeded/1"
check_eq "crash: after ran" "$(state "$R" after)" "succeeded"
PLANS=$(curl -fsS "$M/_log" | jq '[.[] | select(.role == "planner")] | length')
check_eq "crash: the orchestrator ran once (one planner call)" "$PLANS" "1"
check_exit "crash: ledger verifies" 0 "$AG" ledger verify

echo "# cancel during an orchestrated stage: its agents are revoked"
script "[$PLAN, $(vote alpha ACCEPT ',"delay_ms":2000'), $(vote beta ACCEPT ',"delay_ms":2000')]"
"$AG" pipeline run "$T/crash.yaml" --json >"$T/cancel.out" 2>"$T/cancel.err" &
DP=$!
PIDS_TO_KILL+=("$DP")
for _ in $(seq 200); do [ -s "$T/cancel.out" ] && break; sleep 0.05; done
R=$(head -n 1 "$T/cancel.out" | jq -r .run_id)
for _ in $(seq 200); do [ "$(state "$R" design 2>/dev/null)" = running ] && break; sleep 0.05; done
for _ in $(seq 100); do "$AG" agent status "alpha@$R.design.1" >/dev/null 2>&1 && break; sleep 0.05; done
check_exit "cancel: accepted, the stage's agents revoked" 0 "$AG" pipeline cancel "$R"
check_contains "cancel: it says so" "$OUT" "1 running stage stopped"
wait "$DP"
check_eq "cancel: the run ends cancelled (exit 10)" "$?" 10
check_eq "cancel: the stage failed, not retried" "$(state "$R" design)/$(attempts "$R" design)" "failed/1"
check_exit "cancel: the revocations are ledgered" 0 "$AG" ledger query --kind revocation --format jsonl
check_contains "cancel: alpha's" "$OUT" "\"alpha@$R.design.1\""
check_contains "cancel: as a pipeline cancel" "$OUT" "PIPELINE_CANCELLED"

echo "# validation"
cat >"$T/bad.yaml" <<'YAML'
pipeline:
  name: bad-llm
  llm: ftp://nowhere
  stages:
    - design:
        type: orchestrate
    - write:
        type: orchestrate
        task: x
        llm: "nope"
YAML
check_exit "validate: bad llm endpoints and a missing task" 1 "$AG" pipeline validate "$T/bad.yaml"
check_contains "the pipeline's llm is named" "$ERR" "bad.yaml:3:8: llm: expected http(s)://HOST/... or replay:FILE, not 'ftp://nowhere'"
check_contains "the missing task is named" "$ERR" "bad.yaml:5:7: orchestrate stage 'design' needs a task: (what the agents do)"
check_contains "the stage's llm is named" "$ERR" "bad.yaml:10:14: llm: expected"
finish
