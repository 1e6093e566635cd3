#!/usr/bin/env bash
# The daemon's coordination endpoints with real agents (AppRole tokens, walked to
# EXECUTE through the HTTP lifecycle) as an agent in another language would use them:
# blackboard, messages, votes (each write authorized as the token's agent), a refusal
# answered 403 with the decision, POST /v1/tasks/{id}/orchestrate against the shipped
# replay, and the orchestration counters in /metrics; the ledger verifies at the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"

init_data_dir
start_daemon
A=$(setup_agent alpha 1 "" EXECUTE)
B=$(setup_agent beta 1 "" EXECUTE)
O=$(setup_agent omega 1 "" PREFLIGHT) # not yet in a phase where coordination is allowed
H=(-H "Content-Type: application/json")

req POST /v1/tasks/tk/blackboard/solutions -H "X-Vault-Token: $A" "${H[@]}" \
    -d '{"entry":"proposal_1","value":{"policy":"LRU"}}'
check_eq "alpha writes a proposal" "$CODE" "200"
check_eq "the write's decision is allow" "$(jget "$BODY" 'j["data"]["decision"]["decision"]')" "allow"
req GET /v1/tasks/tk/blackboard/solutions -H "X-Vault-Token: $B"
check_eq "beta reads the section" "$CODE" "200"
check_eq "the proposal is there" "$(jget "$BODY" 'j["data"]["entries"]["proposal_1"]["policy"]')" "LRU"
req POST /v1/tasks/tk/blackboard/solutions -H "X-Vault-Token: $O" "${H[@]}" \
    -d '{"entry":"proposal_2","value":"x"}'
check_eq "omega in PREFLIGHT is refused" "$CODE" "403"
check_eq "the refusal says why" "$(jget "$BODY" 'j["data"]["decision"]["reason"]')" "phase_not_allowed"
req POST /v1/tasks/tk/blackboard/kitchen -H "X-Vault-Token: $A" "${H[@]}" -d '{"entry":"analysis","value":1}'
check_eq "an unknown section is 400" "$CODE" "400"
check_contains "the section is named" "$BODY" "kitchen"
req POST /v1/tasks/tk/blackboard/solutions -H "X-Vault-Token: $A" "${H[@]}" -d '{"value":1}'
check_eq "an entry is required" "$CODE" "400"

req POST /v1/tasks/tk/messages -H "X-Vault-Token: $A" "${H[@]}" \
    -d '{"to":"beta","type":"PROPOSAL","content":{"p":1}}'
check_eq "alpha messages beta" "$CODE" "200"
req POST /v1/tasks/tk/messages -H "X-Vault-Token: $B" "${H[@]}" \
    -d '{"to":"*","type":"FEEDBACK","content":{"agree":true}}'
check_eq "beta broadcasts" "$CODE" "200"
req GET "/v1/tasks/tk/messages" -H "X-Vault-Token: $B"
check_eq "beta reads its messages" "$(jget "$BODY" '[m["type"] for m in j["data"]["messages"]]')" "['PROPOSAL', 'FEEDBACK']"
req GET "/v1/tasks/tk/messages?after=1" -H "X-Vault-Token: $A"
check_eq "alpha sees the broadcast after seq 1" "$(jget "$BODY" 'len(j["data"]["messages"])')" "1"
req POST /v1/tasks/tk/messages -H "X-Vault-Token: $A" "${H[@]}" -d '{"to":"beta","type":"GOSSIP","content":1}'
check_eq "an unknown message type is 400" "$CODE" "400"

req POST /v1/tasks/tk/votes -H "X-Vault-Token: $A" "${H[@]}" -d '{"vote":"ACCEPT","reasoning":"fits"}'
check_eq "alpha votes" "$CODE" "200"
req POST /v1/tasks/tk/votes -H "X-Vault-Token: $B" "${H[@]}" -d '{"vote":"REJECT","reasoning":"no bound"}'
check_eq "beta votes" "$CODE" "200"
req GET "/v1/tasks/tk/votes?required=alpha,beta" -H "X-Vault-Token: $A"
check_eq "a required REJECT: no consensus" "$(jget "$BODY" 'j["data"]["reached"]')" "False"
check_eq "rejected by beta" "$(jget "$BODY" 'j["data"]["rejected_by"]')" "beta"
req POST /v1/tasks/tk/votes -H "X-Vault-Token: $B" "${H[@]}" -d '{"vote":"ACCEPT","reasoning":"bound added"}'
req GET "/v1/tasks/tk/votes?required=alpha,beta" -H "X-Vault-Token: $A"
check_eq "then consensus" "$(jget "$BODY" 'j["data"]["reached"]')" "True"
req POST /v1/tasks/tk/votes -H "X-Vault-Token: $A" "${H[@]}" -d '{"vote":"MAYBE","reasoning":"?"}'
check_eq "an unknown vote is 400" "$CODE" "400"
req GET /v1/tasks/tk/blackboard/solutions
check_eq "no token: 403" "$CODE" "403"

# A whole task run by the daemon from the shipped replay (admin only).
req POST /v1/tasks/demo-multi-agent/orchestrate -H "X-Vault-Token: $A" "${H[@]}" -d '{"objective":"x"}'
check_eq "orchestrate needs an admin" "$CODE" "403"
req POST /v1/tasks/demo-multi-agent/orchestrate -H "X-Vault-Token: $ROOT" "${H[@]}" \
    -d "{\"objective\":\"Choose an eviction policy\",\"llm\":\"replay:$SRC/examples/multi-agent/replay.jsonl\",\"model\":\"demo\"}"
check_eq "orchestrate over HTTP" "$CODE" "200"
check_eq "its outcome" "$(jget "$BODY" 'j["data"]["outcome"]')" "consensus"
check_eq "GAMMA on CONFLICT" "$(jget "$BODY" 'j["data"]["gamma_spawned"]')" "CONFLICT"
req GET /metrics
check_contains "metrics: orchestrated tasks" "$BODY" "agentgov_orchestrated_tasks_total 1"
check_contains "metrics: gamma reason" "$BODY" 'agentgov_gamma_spawned_total{reason="CONFLICT"} 1'
check_contains "metrics: llm calls" "$BODY" "agentgov_llm_calls_total 10"

stop_daemon
check_exit "ledger verifies" 0 "$AG" --dir "$D" ledger verify

# An ask through the daemon: a task orchestrated over HTTP whose synthesis write the
# policy asks about; a person approves it through /v1/approvals while the request runs.
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
EOF
python3 - "$T/ask.jsonl" <<'EOF'
import json, sys
def line(agent, calls=None, text=None):
    msg = {"role": "assistant", "content": text}
    if calls:
        msg["tool_calls"] = [{"id": "c%d" % i, "type": "function",
                              "function": {"name": n, "arguments": json.dumps(a)}}
                             for i, (n, a) in enumerate(calls)]
    return {"request_sha256": "0" * 64, "agent": agent,
            "response": {"choices": [{"index": 0, "message": msg,
                                      "finish_reason": "tool_calls" if calls else "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 5}}}
rows = [line("planner", text='{"complexity":0.2,"needs_validation":false}'),
        line("alpha", [("vote", {"vote": "ACCEPT", "reasoning": "fine"})]),
        line("alpha", text="done"),
        line("beta", [("blackboard_write", {"section": "solutions", "entry": "synthesis",
                                            "value": "W-TinyLFU"}),
                      ("vote", {"vote": "ACCEPT", "reasoning": "synthesis written"})]),
        line("beta", text="done")]
open(sys.argv[1], "w").write("".join(json.dumps(r) + "\n" for r in rows))
EOF
start_daemon --policy "$T/ask.yaml"
curl -s -o "$T/orch.json" -X POST "$BASE/v1/tasks/t-ask/orchestrate" -H "X-Vault-Token: $ROOT" \
    "${H[@]}" -d "{\"objective\":\"pick\",\"llm\":\"replay:$T/ask.jsonl\",\"model\":\"demo\",\"no_gamma\":true,\"ask_timeout_ms\":30000}" &
CURL=$!
APV=
for _ in $(seq 200); do
    req GET "/v1/approvals?pending=true" -H "X-Vault-Token: $ROOT"
    APV=$(jget "$BODY" '(j["data"]["approvals"] or [{}])[0].get("id", "")' 2>/dev/null)
    [ -n "$APV" ] && break
    sleep 0.05
done
check_contains "the agent's ask is pending while the request runs" "$APV" "apv-"
req POST "/v1/approvals/$APV/approve" -H "X-Vault-Token: $ROOT" "${H[@]}" -d '{"reason":"looks right"}'
check_eq "a person approves it over HTTP" "$CODE" "200"
wait "$CURL"
check_eq "then the task reaches a consensus" "$(jget "$(cat "$T/orch.json")" 'j["data"]["outcome"]')" "consensus"
req GET "/v1/tasks/t-ask/blackboard/solutions" -H "X-Vault-Token: $ROOT"
check_eq "the approved write is on the blackboard" "$(jget "$BODY" 'j["data"]["entries"]["synthesis"]')" "W-TinyLFU"
stop_daemon
check_exit "ledger verifies after the ask" 0 "$AG" --dir "$D" ledger verify
finish
