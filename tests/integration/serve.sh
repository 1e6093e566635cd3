#!/usr/bin/env bash
# The daemon over real HTTP, part 1: health, metrics, the OPA-style decision endpoint,
# routing errors, request limits (body, headers, JSON depth, slow clients), listening
# rules, logging, SIGHUP reload and the SIGTERM drain.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
init_data_dir

start_daemon --log-format json --max-body 4096 --timeout 2s

# Health: Vault's shape and codes.
req GET /v1/sys/health
check_eq "health 200 when initialized and unsealed" "$CODE" 200
check_contains "health body has Vault's fields" "$BODY" '"initialized":true,"sealed":false,"standby":false'
check_contains "health reports the ledger" "$BODY" '"ledger":"ok"'
req GET "/v1/sys/health?activecode=204"
check_eq "health honours activecode" "$CODE" 204
req HEAD /v1/sys/health -I
check_eq "HEAD health" "$CODE" 200

# OPA-style decision endpoint, recorded in the ledger.
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"input":{"tier":1,"action":"ssh.exec","resource":"sandbox/web/01","phase":"EXECUTE"}}'
check_eq "decision 200" "$CODE" 200
check_contains "allow in EXECUTE" "$BODY" '"decision":"allow","allow":true,"reason":"rule_allow"'
check_contains "decision has an id" "$BODY" '"decision_id":"'
check_contains "decision names its rule" "$BODY" 'default.yaml:'
DID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["decision_id"])' "$BODY")
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"input":{"tier":1,"action":"ssh.exec","resource":"sandbox/web/01","phase":"PLAN"}}'
check_contains "phase-gated deny" "$BODY" '"decision":"deny","allow":false,"reason":"phase_not_allowed"'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"input":{"tier":3,"action":"ssh.exec","resource":"staging/db","phase":"EXECUTE","scope":["sandbox/**"]}}'
check_contains "scope constraint" "$BODY" '"reason":"out_of_scope"'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"input":{"tier":2,"action":"ssh.exec","resource":"sandbox/a","phase":"EXECUTE","forbidden":["ssh.*"]}}'
check_contains "forbidden constraint" "$BODY" '"reason":"forbidden_action"'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"input":{"tier":9,"action":"a","resource":"b"}}'
check_eq "tier out of range is 400" "$CODE" 400
check_contains "error names the field" "$BODY" '{"errors":["input.tier must be an integer from 0 to 4"]}'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"input":{"tier":1,"action":"a","resource":"b","phase":"LUNCH"}}'
check_contains "bad phase is named" "$BODY" 'input.phase must be one of'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"nope":1}'
check_eq "missing input is 400" "$CODE" 400
check_exit "decision is in the ledger" 0 "$AG" --dir "$D" ledger query --kind decision --format jsonl
check_contains "ledger holds the decision id" "$OUT" "$DID"

req POST /v1/data/agentgov/decision -d '{"input":{"tier":1,"action":"docs.read","resource":"x"}}'
check_eq "decision without a token is 403" "$CODE" 403
req POST /v1/data/agentgov/decision -H "Authorization: Bearer agv.nope" -d '{"input":{"tier":1,"action":"docs.read","resource":"x"}}'
check_eq "decision with a bad bearer token is 403" "$CODE" 403

# Malformed and hostile requests get JSON 4xx, never a crash.
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"input": {"tier": 1,'
check_eq "malformed JSON is 400" "$CODE" 400
check_contains "malformed JSON error is Vault-shaped" "$BODY" '{"errors":["malformed JSON in request body at line 1'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '[1,2]'
check_contains "non-object body" "$BODY" 'must be a JSON object'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d "{\"input\":$(printf '[%.0s' $(seq 100))$(printf ']%.0s' $(seq 100))}"
check_eq "too deep JSON is 400" "$CODE" 400
check_contains "depth error" "$BODY" 'nests deeper than 32 levels'
head -c 10000 /dev/zero | tr '\0' ' ' >"$T/big"
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" --data-binary @"$T/big"
check_eq "oversized body (Content-Length) is 413" "$CODE" 413
check_contains "413 error is JSON" "$BODY" '{"errors":["request body of 10000 bytes is larger than the limit of 4096"]}'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big"
check_eq "oversized chunked body is 413" "$CODE" 413
req GET /v1/sys/health -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' 'b')"
check_eq "oversized headers are 431" "$CODE" 431
check_contains "431 error is JSON" "$BODY" '"errors":["request headers are'
req GET /v1/nothing/here
check_eq "unknown path is 404" "$CODE" 404
check_contains "404 is JSON" "$BODY" '{"errors":["no handler for route'
req DELETE /v1/sys/health
check_eq "wrong method is 405" "$CODE" 405
req GET /v1/sys/health
check_eq "still healthy after the abuse" "$CODE" 200

# A slow client (headers one byte every 100 ms) does not pin the daemon and is cut.
OUT=$(python3 "$PY" slow "$PORT" 2)
check_contains "other requests answered during a slow client" "$OUT" "others_ok=3"
check_contains "slow client cut" "$OUT" "cut=yes"
CUT=$(sed -n 's/^cut_after=//p' <<<"$OUT")
check_eq "slow client cut near the 2s deadline" "$(python3 -c "print(1.5 <= $CUT <= 4.0)")" True

# A slow body (one byte every 200 ms) is cut at the deadline, unanswered.
OUT=$(python3 "$PY" slowbody "$PORT" 2)
check_contains "others answered during a slow body" "$OUT" "other=200"
check_contains "slow body cut" "$OUT" "cut=yes"
check_contains "slow body gets no reply" "$OUT" "reply=none"
CUT=$(sed -n 's/^cut_after=//p' <<<"$OUT")
check_eq "slow body cut near the 2s deadline" "$(python3 -c "print(1.5 <= $CUT <= 4.0)")" True

# Metrics in Prometheus text format.
req GET /metrics
check_eq "metrics 200" "$CODE" 200
check_contains "requests by route and code" "$BODY" 'agentgov_http_requests_total{route="opa_decision",code="200"}'
check_contains "413s counted" "$BODY" 'code="413"}'
check_contains "decisions by outcome and reason" "$BODY" 'agentgov_decisions_total{decision="deny",reason="phase_not_allowed"} 1'
check_contains "commit histogram" "$BODY" 'agentgov_ledger_commit_seconds_bucket{le="+Inf"} 4'
check_contains "ledger appends" "$BODY" 'agentgov_ledger_appends_total 4'
check_contains "active agents gauge" "$BODY" 'agentgov_active_agents 0'

# A path that is not UTF-8 gets the real refusal, and its log line is still written
# (JSON cannot hold the raw byte: it is written as %XX); a decoded newline stays in its line.
req POST "/v1/agents/bob%FF/actions" -H "X-Vault-Token: $ROOT" -d '{"action":"a","resource":"b"}'
check_eq "another agent's id that is not UTF-8: 403" "$CODE" 403
check_contains "with the real refusal, the byte as %XX" "$BODY" "belongs to agent 'root', not 'bob%FF'"
req GET "/v1/nothing%0A%22%FF"
check_eq "a path with a newline, a quote and a bad byte: 404" "$CODE" 404

# JSON log lines, one per request.
check_contains "json request log" "$(cat "$T/daemon.log")" '"event":"request","method":"POST","path":"/v1/data/agentgov/decision"'
check_contains "the line of the non-UTF-8 path is written" "$(cat "$T/daemon.log")" '"path":"/v1/agents/bob%FF/actions","route":"agent_actions","status":403'
check_contains "the line of the newline path is written" "$(cat "$T/daemon.log")" '"path":"/v1/nothing%0A\"%FF"'
check_eq "every log line is one JSON object" "$(python3 -c 'import json,sys
n=0
for l in open(sys.argv[1], "rb"):
    json.loads(l); n+=1
print("ok" if n > 10 else n)' "$T/daemon.log" 2>&1)" ok

# SIGHUP: a policy that fails lint is rejected and the old one stays.
printf 'version: 1\ntiers: {}\nrules:\n  - effect: allow\n    actions: [docs.read]\n    resources: ["**"]\n    min_tier: 9\n    bogus: 1\n' >"$D/policy.yaml"
kill -HUP "$DPID"
sleep 0.5
check_contains "bad policy rejected in the log" "$(cat "$T/daemon.log")" 'rejected, keeping the old one'
check_contains "lint problem is named" "$(cat "$T/daemon.log")" 'policy.yaml:'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"input":{"tier":1,"action":"ssh.exec","resource":"sandbox/web/01","phase":"EXECUTE"}}'
check_contains "old policy still decides" "$BODY" '"decision":"allow"'
cat >"$D/policy.yaml" <<'YAML'
version: 1
tiers:
  0: {name: Observer, token_ttl: 1h, max_ttl: 4h}
  1: {name: Operator, token_ttl: 30m, max_ttl: 2h}
  2: {name: Builder, token_ttl: 30m, max_ttl: 2h}
  3: {name: Executor, token_ttl: 15m, max_ttl: 1h}
  4: {name: Architect, token_ttl: 15m, max_ttl: 1h}
rules:
  - effect: allow
    actions: [docs.read]
    resources: ["**"]
    min_tier: 0
YAML
kill -HUP "$DPID"
sleep 0.5
check_contains "good policy reloaded" "$(cat "$T/daemon.log")" '"event":"reload","msg":"policy reloaded'
req POST /v1/data/agentgov/decision -H "X-Vault-Token: $ROOT" -d '{"input":{"tier":1,"action":"ssh.exec","resource":"sandbox/web/01","phase":"EXECUTE"}}'
check_contains "new policy decides" "$BODY" '"reason":"default_deny"'
req GET /metrics
check_contains "reloads counted" "$BODY" 'agentgov_policy_reload_failures_total 1'

# SIGTERM: exit 0, the ledger verifies.
stop_daemon
check_eq "SIGTERM exits 0" "$DRC" 0
check_exit "ledger verifies after stop" 0 "$AG" --dir "$D" ledger verify
rm -f "$D/policy.yaml"

# The connection cap: connections beyond it are not served (they wait in the listen
# backlog), and the daemon serves again when the others go away.
start_daemon --max-connections 8
OUT=$(python3 "$PY" hold "$PORT" 20 0.3)
check_contains "only the capped number of connections is served" "$OUT" "answered=8"
check_contains "served again after the burst" "$OUT" "after=200"
stop_daemon
check_eq "capped daemon exits 0" "$DRC" 0

# Listening rules.
check_exit "non-loopback refused without --allow-remote" 1 "$AG" --dir "$D" serve --listen 0.0.0.0:$(free_port)
check_contains "refusal names the flag" "$ERR" "--allow-remote"
check_exit "missing data directory refused" 1 "$AG" --dir "$T/nope" serve --listen 127.0.0.1:$(free_port)
check_contains "refusal says run init" "$ERR" "agentgov init"
check_exit "bad setting refused" 1 "$AG" --dir "$D" serve --set server.timeout=forever
check_exit "print-config" 0 "$AG" --dir "$D" serve --print-config --io thread-per-connection --listen unix:/tmp/x.sock
check_contains "print-config shows io" "$OUT" "server.io = thread-per-connection"

P2=$(free_port)
"$AG" --dir "$D" serve --listen "0.0.0.0:$P2" --allow-remote --insecure-remote 2>"$T/remote.log" &
RPID=$!
PIDS_TO_KILL+=("$RPID")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$P2/v1/sys/health" && break; sleep 0.05; done
kill -TERM "$RPID"
wait "$RPID"
check_contains "remote listening is logged as a warning" "$(cat "$T/remote.log")" "warn listen"

SOCK="$T/agentgov.sock"
"$AG" --dir "$D" serve --listen "unix:$SOCK" --io thread-per-connection 2>"$T/unix.log" &
UPID=$!
PIDS_TO_KILL+=("$UPID")
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
OUT=$(curl -s --unix-socket "$SOCK" http://x/v1/sys/health)
check_contains "unix socket serves (thread-per-connection mode)" "$OUT" '"initialized":true'
check_eq "unix socket is private" "$(stat -c %a "$SOCK")" 600
kill -TERM "$UPID"
wait "$UPID"
check_eq "unix daemon exits 0" "$?" 0
check_eq "socket file removed" "$([ -e "$SOCK" ] && echo present || echo gone)" gone

# `agentgov serve` runs agentgovd from its own directory, under the same PID, with the
# data directory of the global --dir; without agentgovd it says what is missing.
check_exit "serve --help comes from agentgovd" 0 "$AG" serve --help
check_contains "serve --help is the daemon's" "$OUT" "--listen"
mkdir -p "$T/lonely"
cp "$AG" "$T/lonely/agentgov"
check_exit "serve without agentgovd fails" 4 "$T/lonely/agentgov" --dir "$D" serve
check_contains "and names the missing binary" "$ERR" "$T/lonely/agentgovd"
check_eq "the CLI binary does not link the HTTP server" \
    "$(ldd "$AG" | grep -c -E 'microhttpd|gnutls|p11-kit' || true)" 0

finish
