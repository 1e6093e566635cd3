#!/usr/bin/env bash
# Pipelines through the daemon: POST /v1/pipelines/runs starts a run (driven by a
# detached `agentgov pipeline resume`), GET reads and lists runs; a run whose driver
# died is resumed when the daemon starts.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
export AGENTGOV_BIN=$AG
init_data_dir
start_daemon

# stop: stops the daemon and forgets its pid, so that the cleanup never signals a pid
# the system has reused since.
stop() {
    stop_daemon
    local keep=() p
    for p in "${PIDS_TO_KILL[@]}"; do [ "$p" = "$DPID" ] || keep+=("$p"); done
    PIDS_TO_KILL=("${keep[@]}")
}

# poll_status RUN WANT: waits (up to 20 s) for the run's status.
poll_status() {
    for _ in $(seq 200); do
        req GET "/v1/pipelines/runs/$1" -H "X-Vault-Token: $ROOT"
        [ "$(echo "$BODY" | jq -r .data.status)" = "$2" ] && return 0
        sleep 0.1
    done
    echo "run $1 is $(echo "$BODY" | jq -r .data.status), not $2"
}

PIPE='pipeline:
  name: api
  params:
    env: {type: string, default: staging}
  stages:
    - build:
        run: [sh, -c, "echo ${{ params.env }} > env.txt"]
        artifacts: [env.txt]
    - check:
        inputs: [env.txt]
        run: [cat, env.txt]'
body=$(jq -n --arg p "$PIPE" '{pipeline: $p, name: "api.yaml", params: {env: "prod"}}')
req POST /v1/pipelines/runs -d "$body"
check_eq "POST without a token is refused" "$CODE" 403
req POST /v1/pipelines/runs -H "X-Vault-Token: $ROOT" -d "$body"
check_eq "POST starts a run: 201" "$CODE" 201
R=$(echo "$BODY" | jq -r .data.run_id)
check_eq "the run id is 32 hex digits" "${#R}" 32
poll_status "$R" succeeded
check_eq "the run, driven by its own process, succeeded" "$(echo "$BODY" | jq -r .data.status)" succeeded
check_eq "GET shows every stage" "$(echo "$BODY" | jq -r '[.data.stages[] | .stage + "=" + .state] | join(" ")')" \
    "build=succeeded check=succeeded"
check_eq "the parameter reached the stage" "$(cat "$D/pipelines/$R/build/env.txt")" prod
check_eq "each stage has its requires (the one before it, by default)" \
    "$(echo "$BODY" | jq -c '[.data.stages[] | {(.stage): .requires}] | add')" '{"build":[],"check":["build"]}'
req GET /v1/pipelines/runs -H "X-Vault-Token: $ROOT"
check_eq "GET /v1/pipelines/runs lists it" "$(echo "$BODY" | jq -r '.data[0].run_id')" "$R"
req GET /v1/pipelines/runs/0123456789abcdef0123456789abcdef -H "X-Vault-Token: $ROOT"
check_eq "an unknown run is 404" "$CODE" 404

bad=$(jq -n '{pipeline: "pipeline:\n  name: bad\n  stages:\n    - a: {run: [x], requires: [nope]}\n    - g: {type: human-gate}\n"}')
req POST /v1/pipelines/runs -H "X-Vault-Token: $ROOT" -d "$bad"
check_eq "an invalid pipeline is 400" "$CODE" 400
check_eq "with every problem at its position" "$(echo "$BODY" | jq -r '.errors | join(" | ")')" \
    "pipeline.yaml:4:32: stage 'a' requires 'nope', which is not a stage | pipeline.yaml:5:7: human-gate stage 'g' has no timeout"
req POST /v1/pipelines/runs -H "X-Vault-Token: $ROOT" -d "$(jq -n --arg p "$PIPE" '{pipeline: $p, params: {zone: "x"}}')"
check_eq "an unknown parameter is 400" "$CODE" 400
check_contains "naming it" "$BODY" "no parameter 'zone'"
req POST /v1/pipelines/runs -H "X-Vault-Token: $ROOT" -d '{"name": "x"}'
check_eq "no pipeline text is 400" "$CODE" 400

echo "# templates over the API: the data directory's and the shipped ones, nothing else"
mkdir -p "$D/templates/local"
cat >"$D/templates/local.yaml" <<'YAML'
template:
  name: local
  params:
    word: {type: string}
  agent:
    id: local-writer
    tier: 1
    packet: local/packet.json
  stage:
    agent: local-writer
    run: [sh, -c, "echo ${{ params.word }} > word.txt"]
    artifacts: [word.txt]
YAML
sed 's/code-review-specialist/local-writer/g' "$SRC/templates/code-review/packet.json" >"$D/templates/local/packet.json"
TPL='pipeline:
  name: api-templates
  stages:
    - write:
        uses: templates/local.yaml
        with: {word: hello}
    - review:
        uses: templates/code-review.yaml
        with: {ref: HEAD}
        when: "${{ false }}"'
req POST /v1/pipelines/runs -H "X-Vault-Token: $ROOT" -d "$(jq -n --arg p "$TPL" '{pipeline: $p, name: "t.yaml"}')"
check_eq "a pipeline using a data-directory and a shipped template starts: 201" "$CODE" 201
T1=$(echo "$BODY" | jq -r .data.run_id)
poll_status "$T1" succeeded
check_eq "the data directory's template ran with its parameter" "$(cat "$D/pipelines/$T1/write/word.txt" 2>/dev/null)" hello
check_eq "the shipped template loaded (its stage skipped by when)" \
    "$(echo "$BODY" | jq -r '.data.stages[] | select(.stage == "review") | .state')" skipped
# escape_case NAME USES: a pipeline whose template is USES is refused with 400.
escape_case() {
    local p
    p=$(printf 'pipeline:\n  name: esc\n  stages:\n    - a:\n        uses: "%s"\n' "$2")
    req POST /v1/pipelines/runs -H "X-Vault-Token: $ROOT" -d "$(jq -n --arg p "$p" '{pipeline: $p}')"
    check_eq "template escape refused: $1 (400)" "$CODE" 400
    check_contains "template escape refused: $1, saying so" "$BODY" "$3"
}
escape_case "absolute path" /etc/passwd "only files under templates/"
escape_case "dot-dot" "templates/../../../etc/passwd" "only files under templates/"
escape_case "outside templates/" "policy.yaml" "only files under templates/"
escape_case "unknown" "templates/nope.yaml" "no template 'templates/nope.yaml'"
ln -s /etc/passwd "$D/templates/evil.yaml"
escape_case "a symlink out of the directory" "templates/evil.yaml" "cannot be opened beneath"
printf 'template:\n  name: sneaky\n  stage:\n    run: [true]\n  agent:\n    id: sneaky\n    packet: ../../master.key\n' >"$D/templates/sneaky.yaml"
escape_case "a template's own file out of templates/" "templates/sneaky.yaml" "only files under templates/"

echo "# a cancelled run's gate reads withdrawn through the API"
WG='pipeline:
  name: withdrawn
  stages:
    - review: {type: human-gate, timeout: 1m}
    - after: {run: [true]}'
req POST /v1/pipelines/runs -H "X-Vault-Token: $ROOT" -d "$(jq -n --arg p "$WG" '{pipeline: $p}')"
check_eq "a gated run starts: 201" "$CODE" 201
WR=$(echo "$BODY" | jq -r .data.run_id)
for _ in $(seq 200); do
    req GET "/v1/pipelines/runs/$WR" -H "X-Vault-Token: $ROOT"
    [ "$(echo "$BODY" | jq -r '.data.stages[0].state')" = waiting ] && break
    sleep 0.1
done
AID=$(echo "$BODY" | jq -r '.data.stages[0].gate.approval_id')
req GET "/v1/approvals/$AID" -H "X-Vault-Token: $ROOT"
check_eq "the gate is a pending approval in the API" "$(echo "$BODY" | jq -r .data.status)" pending
check_exit "cancel the run" 0 "$AG" --dir "$D" pipeline cancel "$WR"
poll_status "$WR" cancelled
req GET "/v1/approvals/$AID" -H "X-Vault-Token: $ROOT"
check_eq "GET /v1/approvals/{id}: withdrawn" "$(echo "$BODY" | jq -r .data.status)" withdrawn
req GET "/v1/approvals?pending=true" -H "X-Vault-Token: $ROOT"
check_eq "not among the pending" "$(echo "$BODY" | jq --arg i "$AID" '[.data.approvals[] | select(.id == $i)] | length')" 0
req POST "/v1/approvals/$AID/approve" -H "X-Vault-Token: $ROOT" -d '{}'
check_eq "approving it through the API is refused: 409" "$CODE" 409
check_contains "saying it was withdrawn" "$BODY" "withdrawn"

echo "# a run whose driver died is resumed when the daemon starts"
GATE='pipeline:
  name: gated
  stages:
    - review: {type: human-gate, timeout: 1m}
    - after: {run: [true]}'
"$AG" --dir "$D" pipeline run <(echo "$GATE") --json >"$T/gated.out" 2>&1 &
GP=$!
for _ in $(seq 200); do [ -s "$T/gated.out" ] && break; sleep 0.05; done
G=$(head -n 1 "$T/gated.out" | jq -r .run_id)
for _ in $(seq 200); do
    [ "$("$AG" --dir "$D" pipeline status "$G" --json | jq -r '.stages[0].state')" = waiting ] && break
    sleep 0.05
done
kill -9 "$GP"
wait "$GP" 2>/dev/null
stop
start_daemon
sleep 0.5
check_contains "the daemon said it resumed the run" "$(cat "$T/daemon.log")" "resuming run $G"
check_exit "approve the gate" 0 "$AG" --dir "$D" pipeline approve "$G" review
poll_status "$G" succeeded
check_eq "the resumed run finished after the approval" "$(echo "$BODY" | jq -r .data.status)" succeeded
stop
check_exit "the ledger verifies" 0 "$AG" --dir "$D" ledger verify
finish
