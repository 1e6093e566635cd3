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
