#!/usr/bin/env bash
# The Streamable HTTP gateway (agentgov mcp serve) in front of real MCP servers on HTTP:
# an SDK server that needs a credential (mcp_http_server.cjs) and the official reference
# server `server-everything` in its streamableHttp mode, driven by the official
# TypeScript SDK's StreamableHTTPClientTransport (mcp_client.cjs, mcp_http_client.cjs)
# and by curl for what no well-behaved client sends. Clients authenticate with agentgov
# tokens; SSE answers are relayed as they come; the GET stream, sampling and DELETE go
# through; clients are served in parallel.
source "$(dirname "$0")/lib.sh"

case ${AGENTGOV_BUILD:-build} in /*) NPM=$AGENTGOV_BUILD ;; *) NPM=$SRC/${AGENTGOV_BUILD:-build} ;; esac
NM=$NPM/npm-mcp/node_modules
if ! bash "$SRC/scripts/npm-mcp-deps.sh" >"$T/npm.log" 2>&1; then
    if grep -qiE 'ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT|network|fetch failed' "$T/npm.log"; then
        echo "skip: the npm registry is unreachable, so the MCP SDK and servers cannot be installed:"
        tail -3 "$T/npm.log" | sed 's/^/    /'
        finish
    fi
    not_ok "scripts/npm-mcp-deps.sh installs the SDK and servers" "$(tail -5 "$T/npm.log")"
    finish
fi
export NODE_PATH=$NM
EVERYTHING=$NM/@modelcontextprotocol/server-everything/dist/index.js

D=$T/data
"$AG" --dir "$D" init >/dev/null 2>&1 || not_ok "agentgov init"
"$AG" --dir "$D" secret put mcp/remote token=upstream-tok-7f3a9 >/dev/null || not_ok "secret put"
# token AGENT TIER: a token naming AGENT (a child of the root token).
token() {
    "$AG" --dir "$D" token create --tier "$2" --agent-id "$1" --json | python3 -c \
        'import json,sys; print(json.load(sys.stdin)["auth"]["client_token"])'
}
CAROL=$(token carol 1)
DAVE=$(token dave 1)
LOWLY=$(token lowly 0)
[ -n "$CAROL" ] && [ -n "$DAVE" ] && [ -n "$LOWLY" ] || not_ok "token create"

step() { sed -n "$(($1 + 1))p" "$T/client.out"; }
run_client() {
    timeout 60 node "$SRC/tests/integration/mcp_client.cjs" "$1" >"$T/client.out" 2>"$T/client.err"
    CLIENT_RC=$?
}
# field JSON PATH: a value of a JSON text (python's expression on the parsed value j).
field() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
# wait_file FILE: until it has content (5 s at most).
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.05; done; }
# gateway NAME UPSTREAM-URL POLICY [OPTIONS...]: starts `mcp serve`, sets GW and GW_PID.
gateway() {
    local name=$1 up=$2 pol=$3
    shift 3
    rm -f "$T/$name.gw"
    "$AG" --dir "$D" mcp serve --upstream "$up" --policy "$pol" --port-file "$T/$name.gw" "$@" \
        2>"$T/$name.gw.log" &
    GW_PID=$!
    PIDS_TO_KILL+=($GW_PID)
    wait_file "$T/$name.gw"
    GW=http://127.0.0.1:$(cat "$T/$name.gw")/mcp
}
# post URL TOKEN BODY [HEADER...]: curl's status line and headers, then the body.
post() {
    local url=$1 tok=$2 body=$3
    shift 3
    local h=()
    [ -n "$tok" ] && h+=(-H "Authorization: Bearer $tok")
    for x in "$@"; do h+=(-H "$x"); done
    curl -s -i -X POST -H 'content-type: application/json' \
        -H 'accept: application/json, text/event-stream' "${h[@]}" -d "$body" "$url" | tr -d '\r'
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
PING='{"jsonrpc":"2.0","id":2,"method":"ping"}'

# ---- an SDK server that needs the upstream credential ---------------------------------
cat >"$T/policy-remote.yaml" <<'YAML'
version: 1
rules:
  - {effect: allow, actions: [mcp.remote.echo, mcp.remote.whoami], resources: ["**"], min_tier: 1}
YAML
# upstream NAME [--json]: the credentialed SDK server; sets UP.
upstream() {
    rm -f "$T/$1.up"
    node "$SRC/tests/integration/mcp_http_server.cjs" "$T/$1.up" upstream-tok-7f3a9 ${2:-} \
        >"$T/$1.up.log" 2>&1 &
    UP_PID=$!
    PIDS_TO_KILL+=($UP_PID)
    wait_file "$T/$1.up"
    UP=http://127.0.0.1:$(cat "$T/$1.up")/mcp
}
upstream sse
gateway sse "$UP" "$T/policy-remote.yaml" --server remote --upstream-secret mcp/remote
cat >"$T/http.plan.json" <<JSON
{"url": "$GW", "token": "$CAROL", "steps": [{"op": "list"}, {"op": "call", "name": "echo", "arguments": {"text": "hi"}},
  {"op": "call", "name": "danger"}, {"op": "call", "name": "whoami"}]}
JSON
run_client "$T/http.plan.json"
check_eq "the SDK client's tools/list is filtered" "$(step 0)" '{"step":0,"ok":true,"result":["echo","whoami"]}'
check_contains "an allowed call reaches the upstream (SSE answer)" "$(step 1)" '"text":"echo: hi"'
check_contains "a denied call gets the reason, at the token's tier" "$(step 2)" \
    'agentgov denied mcp.remote.danger on danger at tier 1: default_deny'
check_contains "the upstream saw the credential the gateway added" "$(step 3)" 'authorized caller'
check_not_contains "the credential is never shown to the client" "$(cat "$T/client.out")" 'upstream-tok-7f3a9'
check_contains "... its value is redacted from the result" "$(step 3)" 'the secret is [REDACTED]'
check_eq "without the gateway the upstream refuses (it needs the credential)" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -d '{}' "$UP")" 401
check_eq "decisions are ledgered under the token's agent" \
    "$(sqlite3 "$D/ledger.db" "select group_concat(agent_id || ' ' || decision || ' ' || action, ',') from ledger where kind='decision' and action like 'mcp.remote.%'")" \
    "carol allow mcp.remote.echo,carol deny mcp.remote.danger,carol allow mcp.remote.whoami"

# Client authentication: fail closed.
check_contains "no token: 401" "$(post "$GW" "" "$INIT" | head -1)" "401"
check_contains "... saying a token is required" "$(post "$GW" "" "$INIT")" "an agentgov token is required"
check_contains "... and how to present one" "$(post "$GW" "" "$INIT")" 'WWW-Authenticate: Bearer realm="agentgov"'
check_contains "an invalid token: 401" "$(post "$GW" "agv.not-a-token" "$INIT" | head -1)" "401"
"$AG" --dir "$D" token revoke "$(token erin 1)" >/dev/null 2>&1 || true
ERIN=$(token erin 1)
"$AG" --dir "$D" token revoke "$ERIN" >/dev/null || not_ok "token revoke"
check_contains "a revoked token: 401" "$(post "$GW" "$ERIN" "$INIT")" "the agentgov token is not valid"
SID=$(post "$GW" "$CAROL" "$INIT" | sed -n 's/^Mcp-Session-Id: //Ip' | head -1)
check_contains "initialize with a token opens a session" "$SID" "-"
check_contains "the session's own agent may use it" \
    "$(post "$GW" "$CAROL" "$PING" "Mcp-Session-Id: $SID" | head -1)" "200"
check_contains "another agent's token on it: 403" \
    "$(post "$GW" "$DAVE" "$PING" "Mcp-Session-Id: $SID" | head -1)" "403"
check_contains "... saying so" "$(post "$GW" "$DAVE" "$PING" "Mcp-Session-Id: $SID")" \
    "this MCP session belongs to another agent"
# MCP-Protocol-Version (2025-11-25): an unsupported or malformed one is a 400.
check_contains "a supported MCP-Protocol-Version passes" \
    "$(post "$GW" "$CAROL" "$PING" "Mcp-Session-Id: $SID" "MCP-Protocol-Version: 2025-06-18" | head -1)" "200"
check_contains "an unsupported MCP-Protocol-Version: 400" \
    "$(post "$GW" "$CAROL" "$PING" "Mcp-Session-Id: $SID" "MCP-Protocol-Version: 1900-01-01" | head -1)" "400"
check_contains "... naming it" \
    "$(post "$GW" "$CAROL" "$PING" "Mcp-Session-Id: $SID" "MCP-Protocol-Version: not-a-version")" \
    "unsupported MCP-Protocol-Version 'not-a-version'"
check_contains "an unknown session: 404" \
    "$(post "$GW" "$CAROL" "$PING" "Mcp-Session-Id: nope" | head -1)" "404"
check_contains "a request before initialize without a session: 400" \
    "$(post "$GW" "$CAROL" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | head -1)" "400"
check_eq "GET without Accept: text/event-stream: 406" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CAROL" -H "Mcp-Session-Id: $SID" "$GW")" 406
check_eq "GET without a session: 400" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CAROL" -H 'Accept: text/event-stream' "$GW")" 400
check_eq "DELETE by another agent: 403" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $DAVE" -H "Mcp-Session-Id: $SID" "$GW")" 403
check_eq "DELETE ends the session" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $CAROL" -H "Mcp-Session-Id: $SID" "$GW")" 200
check_contains "... then it is unknown: 404" \
    "$(post "$GW" "$CAROL" "$PING" "Mcp-Session-Id: $SID" | head -1)" "404"

# An agent that is not registered is judged at its token's tier.
cat >"$T/low.plan.json" <<JSON
{"url": "$GW", "token": "$LOWLY", "steps": [{"op": "list"}, {"op": "call", "name": "echo", "arguments": {"text": "x"}}]}
JSON
run_client "$T/low.plan.json"
check_eq "a tier-0 token sees no tool the policy keeps for tier 1" "$(step 0)" '{"step":0,"ok":true,"result":[]}'
check_contains "... and its calls are refused at tier 0" "$(step 1)" \
    'agentgov denied mcp.remote.echo on echo at tier 0: default_deny'
# A registered agent is judged at its registered tier, whatever its token says.
"$AG" --dir "$D" agent register lowly --tier 1 >/dev/null || not_ok "agent register"
run_client "$T/low.plan.json"
check_contains "a registered agent is judged at its registered tier" "$(step 1)" '"text":"echo: x"'
kill -TERM "$GW_PID"
wait "$GW_PID"
check_eq "the gateway stops on SIGTERM with status 0" "$?" 0

# --no-client-auth: loopback development, every client is the configured agent.
upstream json --json
gateway json "$UP" "$T/policy-remote.yaml" --server remote --upstream-secret mcp/remote \
    --no-client-auth --tier 1
cat >"$T/http2.plan.json" <<JSON
{"url": "$GW", "steps": [{"op": "call", "name": "echo", "arguments": {"text": "json"}}]}
JSON
run_client "$T/http2.plan.json"
check_contains "--no-client-auth: a client without a token is served (JSON upstream)" "$(step 0)" \
    '"text":"echo: json"'
# The upstream goes away: each request gets its own error, the session stays.
SID=$(post "$GW" "" "$INIT" | sed -n 's/^Mcp-Session-Id: //Ip' | head -1)
kill "$UP_PID"
wait "$UP_PID" 2>/dev/null
CALL='{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}'
OUT5=$(post "$GW" "" "$CALL" "Mcp-Session-Id: $SID")
check_contains "an unreachable upstream: the call gets an error" "$OUT5" \
    '{"jsonrpc":"2.0","id":5,"error":{"code":-32002,"message":"the upstream MCP server cannot be reached'
check_eq "... one answer, its own" "$(echo "$OUT5" | grep -c '"jsonrpc"')" 1
check_contains "... and the session is still known" \
    "$(post "$GW" "" '{"jsonrpc":"2.0","id":6,"method":"ping"}' "Mcp-Session-Id: $SID")" '"id":6,"error":{"code":-32002'
kill -TERM "$GW_PID"
wait "$GW_PID"
# An upstream without sessions: one gateway session per agent, each its own.
upstream stateless --stateless
gateway stateless "$UP" "$T/policy-remote.yaml" --server remote --upstream-secret mcp/remote
cat >"$T/sl.plan.json" <<JSON
{"url": "$GW", "token": "$CAROL", "steps": [{"op": "call", "name": "echo", "arguments": {"text": "carol"}}]}
JSON
run_client "$T/sl.plan.json"
check_contains "an upstream without sessions: one agent's client is served" "$(step 0)" '"text":"echo: carol"'
sed -i "s/$CAROL/$DAVE/; s/carol/dave/" "$T/sl.plan.json"
run_client "$T/sl.plan.json"
check_contains "... and another agent's, in a session of its own" "$(step 0)" '"text":"echo: dave"'
check_eq "... each judged as itself" \
    "$(sqlite3 "$D/ledger.db" "select group_concat(agent_id, ',') from (select agent_id from ledger where kind='decision' and action='mcp.remote.echo' order by seq desc limit 2)")" \
    "dave,carol"
run_client "$T/sl.plan.json"
check_contains "... and a client that initializes again is served again" "$(step 0)" '"text":"echo: dave"'
check_exit "--agent without --no-client-auth is a usage error" 1 "$AG" --dir "$D" mcp serve \
    --upstream "$UP" --server remote --agent x
check_contains "... naming it" "$ERR" "--agent and --tier go with --no-client-auth"
check_exit "mcp serve without --upstream is a usage error" 1 "$AG" --dir "$D" mcp serve --server x
check_contains "... naming it" "$ERR" "--upstream and --server are required"
check_exit "mcp serve with a missing credential secret fails before listening" 1 "$AG" --dir "$D" mcp serve \
    --upstream "$UP" --server remote --upstream-secret mcp/absent --policy "$T/policy-remote.yaml"
check_contains "... naming the secret" "$ERR" "the upstream credential (secret mcp/absent)"
check_exit "mcp serve --help" 0 "$AG" mcp serve --help
check_contains "--help names --no-client-auth" "$OUT" "--no-client-auth"

# ---- server-everything (streamableHttp): streaming, the GET stream, sampling ----------
EV_PORT=$(free_port)
PORT=$EV_PORT node "$EVERYTHING" streamableHttp >"$T/everything.log" 2>&1 &
PIDS_TO_KILL+=($!)
for _ in $(seq 200); do grep -q "listening on port" "$T/everything.log" && break; sleep 0.05; done
EV=http://127.0.0.1:$EV_PORT/mcp
cat >"$T/policy-ev.yaml" <<'YAML'
version: 1
rules:
  - id: everything
    effect: allow
    actions: [mcp.ev.echo, mcp.ev.trigger-long-running-operation, mcp.ev.toggle-simulated-logging,
              mcp.ev.trigger-sampling-request]
    resources: ["**"]
    min_tier: 1
YAML
gateway ev "$EV" "$T/policy-ev.yaml" --server ev
# ev_client PLAN-STEPS-JSON OUT [TOKEN]
ev_client() {
    cat >"$T/$2.plan.json" <<JSON
{"url": "$GW", "token": "${3:-$CAROL}", "steps": $1}
JSON
    timeout 90 node "$SRC/tests/integration/mcp_http_client.cjs" "$T/$2.plan.json" >"$T/$2.out" 2>"$T/$2.err"
}
ev_client '[{"op": "list"},
  {"op": "call", "name": "trigger-long-running-operation", "arguments": {"duration": 3, "steps": 3}, "progress": true},
  {"op": "call", "name": "toggle-simulated-logging"}, {"op": "sleep", "ms": 1500}, {"op": "logs"},
  {"op": "call", "name": "trigger-sampling-request", "arguments": {"prompt": "hi"}},
  {"op": "call", "name": "echo", "arguments": {"message": "the key is upstream-tok-7f3a9"}},
  {"op": "call", "name": "get-env"},
  {"op": "terminate"}]' ev
S() { sed -n "$(($1 + 1))p" "$T/ev.out"; }
check_eq "server-everything: tools/list is filtered to the allowed tools" "$(field "$(S 0)" 'sorted(j["result"])')" \
    "['echo', 'toggle-simulated-logging', 'trigger-long-running-operation', 'trigger-sampling-request']"
check_contains "a long call's result comes through" "$(S 1)" "Long running operation completed"
check_eq "its 3 progress notifications reach the client" "$(field "$(S 1)" 'len(j["progress_t"])')" 3
# Relayed as they come, not once the upstream finished: the first progress notification
# arrives well before the result (the call lasts 3 s, one step a second).
check_eq "the SSE answer is relayed event by event (first progress >= 1 s before the result)" \
    "$(field "$(S 1)" 'j["t_call"] - j["progress_t"][0] >= 1000')" True
check_contains "the server's log messages arrive on the GET stream" "$(field "$(S 4)" 'len(j["result"]) >= 1 and j["result"][0]["data"]')" "SessionId"
check_contains "the server's own request (sampling) reaches the client, and its answer the server" \
    "$(S 5)" "sampled by the test client"
check_contains "a secret in a streamed result is redacted" "$(S 6)" "the key is [REDACTED]"
check_not_contains "... never shown" "$(cat "$T/ev.out")" "upstream-tok-7f3a9"
check_contains "a tool the policy does not name is refused" "$(S 7)" \
    "agentgov denied mcp.ev.get-env on get-env at tier 1: default_deny"
EV_SID=$(field "$(S 8)" 'j["result"]')
check_contains "the client ended its session (DELETE)" "$(S 8)" '"ok":true'
check_contains "... and the gateway forgot it: 404" \
    "$(post "$GW" "$CAROL" "$PING" "Mcp-Session-Id: $EV_SID" | head -1)" "404"

# Clients in parallel: four long calls in flight do not hold up a fifth client.
for i in 1 2 3 4; do
    ev_client '[{"op": "call", "name": "trigger-long-running-operation", "arguments": {"duration": 8, "steps": 2}}]' "long$i" &
    LONG_PIDS+=($!)
done
for _ in $(seq 100); do
    [ "$(grep -c 'Received MCP POST' "$T/everything.log")" -ge 20 ] && break # 4 x (init, initialized, call)
    sleep 0.05
done
sleep 0.5
ev_client '[{"op": "call", "name": "echo", "arguments": {"message": "quick"}}]' quick
QUICK_END=$(($(field "$(tail -1 "$T/quick.out")" 'j["t_start"]') + $(field "$(head -1 "$T/quick.out")" 'j["t_end"]')))
for p in "${LONG_PIDS[@]}"; do wait "$p"; done
# A client whose session (and GET stream) is still open when the gateway is told to stop.
ev_client '[{"op": "call", "name": "echo", "arguments": {"message": "open"}}, {"op": "sleep", "ms": 30000}]' open &
OPEN_PID=$!
for _ in $(seq 200); do grep -q '"step":0' "$T/open.out" 2>/dev/null && break; sleep 0.05; done
sleep 0.5
FIRST_LONG_END=9999999999999
for i in 1 2 3 4; do
    check_contains "parallel client $i gets its own result" "$(head -1 "$T/long$i.out")" "Duration: 8 seconds"
    e=$(($(field "$(tail -1 "$T/long$i.out")" 'j["t_start"]') + $(field "$(head -1 "$T/long$i.out")" 'j["t_end"]')))
    [ "$e" -lt "$FIRST_LONG_END" ] && FIRST_LONG_END=$e
done
check_contains "the fifth client's call is answered" "$(head -1 "$T/quick.out")" "quick"
check_eq "... before any of the four long calls ended (they are served in parallel)" \
    "$([ "$QUICK_END" -lt "$FIRST_LONG_END" ] && echo yes || echo "no: $QUICK_END >= $FIRST_LONG_END")" yes
STOP_AT=$(now_ms)
kill -TERM "$GW_PID"
wait "$GW_PID"
check_eq "the gateway stops on SIGTERM with a client's GET stream open (status 0)" "$?" 0
check_eq "... without waiting for the stream's client (within 5 s)" \
    "$([ $(($(now_ms) - STOP_AT)) -lt 5000 ] && echo yes || echo "no: $(($(now_ms) - STOP_AT)) ms")" yes
kill "$OPEN_PID" 2>/dev/null
wait "$OPEN_PID" 2>/dev/null

# ---- the daemon's routes: /v1/mcp/{server} for the servers of the policy's mcp.servers ---
upstream dsse
cat >"$T/policy-daemon.yaml" <<YAML
version: 1
mcp:
  servers:
    ev: {url: "$EV"}
    remote: {url: "$UP", secret: mcp/remote}
rules:
  - id: everything
    effect: allow
    actions: [mcp.ev.echo, mcp.ev.trigger-long-running-operation, mcp.ev.toggle-simulated-logging,
              mcp.ev.trigger-sampling-request, mcp.remote.whoami]
    resources: ["**"]
    min_tier: 1
YAML
# daemon IO-MODE: agentgovd on a free port with that policy; sets BASE and DPID.
daemon() {
    local port
    port=$(free_port)
    BASE=http://127.0.0.1:$port
    "$AG" --dir "$D" serve --listen "127.0.0.1:$port" --policy "$T/policy-daemon.yaml" --io "$1" \
        2>>"$T/daemon.log" &
    DPID=$!
    PIDS_TO_KILL+=($DPID)
    for _ in $(seq 200); do curl -s -o /dev/null "$BASE/v1/sys/health" && break; sleep 0.05; done
}
daemon thread-per-connection
GW=$BASE/v1/mcp/ev
ev_client '[{"op": "list"},
  {"op": "call", "name": "trigger-long-running-operation", "arguments": {"duration": 3, "steps": 3}, "progress": true},
  {"op": "call", "name": "toggle-simulated-logging"}, {"op": "sleep", "ms": 1500}, {"op": "logs"},
  {"op": "call", "name": "trigger-sampling-request", "arguments": {"prompt": "hi"}},
  {"op": "call", "name": "echo", "arguments": {"message": "the key is upstream-tok-7f3a9"}},
  {"op": "call", "name": "get-env"}, {"op": "session"}]' dev
S() { sed -n "$(($1 + 1))p" "$T/dev.out"; }
check_eq "daemon: tools/list through /v1/mcp/ev is filtered" "$(field "$(S 0)" 'sorted(j["result"])')" \
    "['echo', 'toggle-simulated-logging', 'trigger-long-running-operation', 'trigger-sampling-request']"
check_eq "daemon (thread per connection): the SSE answer is relayed as it comes" \
    "$(field "$(S 1)" 'len(j["progress_t"]) == 3 and j["t_call"] - j["progress_t"][0] >= 1000')" True
check_contains "daemon: the GET stream carries the server's log messages" \
    "$(field "$(S 4)" 'len(j["result"]) >= 1 and j["result"][0]["data"]')" "SessionId"
check_contains "daemon: sampling goes both ways" "$(S 5)" "sampled by the test client"
check_contains "daemon: a secret in a result is redacted" "$(S 6)" "the key is [REDACTED]"
check_contains "daemon: a tool the policy does not name is refused" "$(S 7)" \
    "agentgov denied mcp.ev.get-env on get-env at tier 1: default_deny"
DSID=$(field "$(S 8)" 'j["result"]')
check_contains "daemon: the session stays the caller's" \
    "$(post "$GW" "$DAVE" "$PING" "Mcp-Session-Id: $DSID" | head -1)" "403"
check_contains "daemon: no token is refused as on every daemon route (403)" "$(post "$GW" "" "$INIT")" \
    "permission denied: missing client token"
check_contains "daemon: a server the policy does not name is 404" \
    "$(post "$BASE/v1/mcp/nowhere" "$CAROL" "$INIT")" "no MCP server 'nowhere' in the policy's mcp.servers"
cat >"$T/dremote.plan.json" <<JSON
{"url": "$BASE/v1/mcp/remote", "token": "$CAROL", "steps": [{"op": "call", "name": "whoami"}]}
JSON
run_client "$T/dremote.plan.json"
check_contains "daemon: the upstream gets the credential of mcp.servers' secret" "$(step 0)" \
    "authorized caller; the secret is [REDACTED]"
# A reload installs a new policy: the next sessions are judged by it.
sed -i 's/mcp.ev.echo, //' "$T/policy-daemon.yaml"
kill -HUP "$DPID"
for _ in $(seq 100); do grep -q "loaded .*policy-daemon.yaml" <(tail -3 "$T/daemon.log") && break; sleep 0.05; done
sleep 0.2
check_contains "daemon: after a reload the old session is gone (404: initialize again)" \
    "$(post "$GW" "$CAROL" "$PING" "Mcp-Session-Id: $DSID" | head -1)" "404"
ev_client '[{"op": "call", "name": "echo", "arguments": {"message": "x"}}]' dev2
check_contains "daemon: ... and the new session is judged by the new policy" "$(cat "$T/dev2.out")" \
    "agentgov denied mcp.ev.echo on echo at tier 1: default_deny"
check_eq "daemon: its decisions are ledgered under the token's agent" \
    "$(sqlite3 "$D/ledger.db" "select agent_id || ' ' || decision from ledger where kind='decision' and action='mcp.ev.get-env' order by seq desc limit 1")" \
    "carol deny"
kill -TERM "$DPID"
wait "$DPID"
check_eq "daemon: stops on SIGTERM (status 0)" "$?" 0
# epoll mode (the default): an SSE answer is relayed once whole, no GET stream.
sed -i 's/trigger-sampling-request, /trigger-sampling-request, mcp.ev.echo, /' "$T/policy-daemon.yaml"
daemon epoll
GW=$BASE/v1/mcp/ev
ev_client '[{"op": "call", "name": "trigger-long-running-operation", "arguments": {"duration": 2, "steps": 2}, "progress": true},
  {"op": "call", "name": "echo", "arguments": {"message": "epoll"}}]' dep
check_contains "daemon (epoll): a long call's result comes through" "$(head -1 "$T/dep.out")" \
    "Long running operation completed"
check_contains "daemon (epoll): and the next call" "$(sed -n 2p "$T/dep.out")" "Echo: epoll"
check_eq "daemon (epoll): GET is 405" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CAROL" -H 'Accept: text/event-stream' "$GW")" 405
kill -TERM "$DPID"
wait "$DPID"

check_exit "the ledger verifies" 0 "$AG" --dir "$D" ledger verify
finish
