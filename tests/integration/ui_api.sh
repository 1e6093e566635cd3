#!/usr/bin/env bash
# The dashboard's server side over real HTTP, without a browser: the compiled-in files
# with a strict Content-Security-Policy, sign-in (who may, the cookie's attributes),
# a session standing for its token, CSRF refusals (ledgered), the live tail (SSE) in
# both I/O modes, revoke over the new admin endpoint, sign-out, and a SIGTERM that
# does not wait for an open tail. tests/integration/ui_browser.sh drives Chromium.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
init_data_dir
start_daemon
J=(-H 'Content-Type: application/json')

# Files, from the binary.
req GET /ui/
check_eq "GET /ui/ is the page" "$CODE" 200
check_contains "the page loads app.js as a module" "$BODY" '<script type="module" src="/ui/app.js">'
HDR=$(curl -s -D - -o /dev/null "$BASE/ui/app.js")
check_contains "app.js is JavaScript" "$HDR" "Content-Type: text/javascript"
check_contains "strict CSP: scripts from self only" "$HDR" "script-src 'self';"
check_contains "strict CSP: nothing by default" "$HDR" "default-src 'none'"
check_contains "no framing" "$HDR" "frame-ancestors 'none'"
check_contains "no sniffing" "$HDR" "X-Content-Type-Options: nosniff"
check_not_contains "no inline script in the page" "$(curl -s "$BASE/ui/")" "<script>"
req GET /ui/nope.js
check_eq "unknown file: 404" "$CODE" 404
req GET /ui/../agentgov.toml
check_eq "no way out of the asset table" "$([ "$CODE" = 404 ] || [ "$CODE" = 400 ] && echo refused)" refused

# Who may sign in.
A=$(setup_agent agent-a 1 "" EXECUTE "sandbox/**")
req POST /ui/api/session "${J[@]}" -d "{\"token\":\"$A\"}"
check_eq "a tier-1 agent token may not sign in" "$CODE" 403
check_contains "the refusal says what is needed" "$BODY" "needs a root, tier-4 or approver token"
req POST /ui/api/session "${J[@]}" -d '{"token":"agv.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}'
check_eq "a wrong token: 403" "$CODE" 403
req POST /ui/api/session -d "{\"token\":\"$ROOT\"}" -H 'Content-Type: application/x-www-form-urlencoded'
check_eq "sign-in from a form (not JSON) is refused" "$CODE" 415
req POST /ui/api/session "${J[@]}" -d '{}'
check_contains "sign-in without a token names the field" "$BODY" "token: a string is required"

# An approver may sign in, and sees nothing that needs an administrator.
APPR=$("$AG" --dir "$D" token create --tier 1 --policies approver --agent-id alice --json | jget "$(cat)" 'j["auth"]["client_token"]')
curl -s -c "$T/jar-appr" -o "$T/appr.json" "${J[@]}" -d "{\"token\":\"$APPR\"}" "$BASE/ui/api/session"
check_contains "an approver signs in as such" "$(cat "$T/appr.json")" '"identity":"alice","role":"approver"'
req GET /ui/api/overview -b "$T/jar-appr"
check_eq "an approver gets no overview" "$CODE" 403
req GET /ui/api/tail -b "$T/jar-appr"
check_eq "nor the live tail" "$CODE" 403
req GET /v1/agents -b "$T/jar-appr"
check_eq "nor the agent list" "$CODE" 403
req GET "/v1/ledger?agent=agent-a" -b "$T/jar-appr"
check_eq "nor another agent's ledger entries" "$CODE" 403

HDR=$(curl -s -D - -o "$T/signin.json" -c "$T/jar" "${J[@]}" -d "{\"token\":\"$ROOT\"}" "$BASE/ui/api/session")
check_contains "the cookie is HttpOnly" "$HDR" "HttpOnly"
check_contains "the cookie is SameSite=Strict" "$HDR" "SameSite=Strict"
check_not_contains "no Secure flag over plain HTTP" "$HDR" "Secure"
check_not_contains "the token is not in the cookie" "$HDR" "$ROOT"
check_not_contains "nor in the reply" "$(cat "$T/signin.json")" "$ROOT"
CSRF=$(jget "$(cat "$T/signin.json")" 'j["csrf_token"]')
check_eq "a CSRF token of 64 hex digits" "${#CSRF}" 64
C=(-b "$T/jar")
req GET /ui/api/session "${C[@]}"
check_contains "the session says who" "$BODY" '"identity":"root","role":"admin"'

# The cookie stands for the token on the whole API; state changes need the CSRF token.
req GET /v1/agents "${C[@]}"
check_eq "an admin read with the cookie" "$CODE" 200
req POST /v1/agents/agent-a/revoke "${C[@]}" -d '{"reason":"x"}'
check_eq "a state change without the CSRF token: 403" "$CODE" 403
check_contains "it says why" "$BODY" "needs the session's CSRF token in X-CSRF-Token"
# The token with its last digit changed (to 1 when it is 0: a "0" would leave 1 in 16
# tokens unchanged, and the check would fail for the test's own sake).
WRONG=${CSRF%?}$([ "${CSRF: -1}" = 0 ] && echo 1 || echo 0)
req POST /v1/agents/agent-a/revoke "${C[@]}" -H "X-CSRF-Token: $WRONG" -d '{"reason":"x"}'
check_eq "a wrong CSRF token: 403" "$CODE" 403
req GET "/v1/ledger?kind=violation&order=desc&limit=5" -H "X-Vault-Token: $ROOT"
check_contains "the CSRF refusal is ledgered with the identity" "$BODY" '"csrf_token"'
req GET /v1/agents/agent-a -H "X-Vault-Token: $ROOT"
check_contains "the refused revoke did nothing" "$BODY" '"revoked":false'

# The live tail: a decision arrives while the stream is open.
curl -s -N -m 8 "${C[@]}" "$BASE/ui/api/tail?agent=agent-a" >"$T/tail" 2>/dev/null &
TP=$!
sleep 0.5
req POST /v1/agents/agent-a/actions -H "X-Vault-Token: $A" -d '{"action":"ssh.exec","resource":"sandbox/w/1"}'
T0=$(now_ms) # the decision is committed when its reply comes
SEQ=$(jget "$BODY" 'j["data"]["ledger_seq"]')
for _ in $(seq 40); do grep -q "^id: $SEQ\$" "$T/tail" && break; sleep 0.05; done
T1=$(now_ms)
check_contains "the decision is in the tail" "$(cat "$T/tail")" "\"seq\":$SEQ"
check_eq "within a second" "$([ $((T1 - T0)) -lt 1000 ] && echo yes)" yes
req POST /v1/agents/agent-b -H "X-Vault-Token: $ROOT" -d '{"tier":1}'
sleep 0.3
check_not_contains "the agent filter holds" "$(cat "$T/tail")" '"agent_id":"agent-b"'
# Another process appending to the same ledger (the daemon's own commits reach the tail
# in memory; these must be read back): the entry arrives too, and only once.
OSEQ=$("$AG" --dir "$D" ledger append --kind system --agent agent-a --action outside.cli |
    awk '{print $1}')
for _ in $(seq 40); do grep -q "^id: $OSEQ\$" "$T/tail" && break; sleep 0.05; done
check_contains "another process's entry is in the tail" "$(cat "$T/tail")" '"action":"outside.cli"'
check_eq "once" "$(grep -c '"action":"outside.cli"' "$T/tail")" 1
req POST /v1/agents/agent-a/actions -H "X-Vault-Token: $A" -d '{"action":"ssh.exec","resource":"sandbox/w/after"}'
SEQ2=$(jget "$BODY" 'j["data"]["ledger_seq"]')
for _ in $(seq 40); do grep -q "^id: $SEQ2\$" "$T/tail" && break; sleep 0.05; done
check_contains "and the daemon's next decision after it" "$(cat "$T/tail")" "sandbox/w/after"
# Interleaved: the daemon's decisions (fed in memory) and another process's appends
# (read back), with the daemon deciding while the other writes: an unfiltered tail gets
# every seq once, in order.
curl -s -N -m 20 "${C[@]}" "$BASE/ui/api/tail" >"$T/tail-mix" 2>/dev/null &
MP=$!
sleep 0.3
FIRST=""
for i in $(seq 8); do
    "$AG" --dir "$D" ledger append --kind system --agent agent-a --action "outside.$i" >/dev/null &
    for k in 1 2 3; do
        req POST /v1/agents/agent-a/actions -H "X-Vault-Token: $A" -d "{\"action\":\"ssh.exec\",\"resource\":\"sandbox/mix/$i/$k\"}"
        [ -n "$FIRST" ] || FIRST=$(jget "$BODY" 'j["data"]["ledger_seq"]')
    done
    wait $!
done
HEAD=$("$AG" --dir "$D" ledger tail -n 1 --format jsonl | jget "$(cat)" 'j["seq"]')
for _ in $(seq 60); do grep -q "^id: $HEAD\$" "$T/tail-mix" && break; sleep 0.05; done
kill "$MP" 2>/dev/null
wait "$MP" 2>/dev/null
IDS=$(awk '/^id: / {print $2}' "$T/tail-mix" | awk -v f="$FIRST" -v h="$HEAD" '$1 >= f && $1 <= h')
check_eq "interleaved writers: every seq from the first decision to the head, once, in order" \
    "$(printf '%s\n' "$IDS" | tr '\n' ' ')" "$(seq "$FIRST" "$HEAD" | tr '\n' ' ')"
check_eq "and the other process's 8 entries among them" "$(grep -c '"action":"outside\.[0-9]' "$T/tail-mix")" 8
# A second tail that starts further back than the open one: the older rows come from
# the ledger, not as a gap.
curl -s -N -m 2 "${C[@]}" "$BASE/ui/api/tail?after=1" >"$T/tail-back" 2>/dev/null
check_contains "a late tail from seq 1 gets seq 2 from the ledger" "$(cat "$T/tail-back")" $'id: 2\n'
check_contains "and the decision" "$(cat "$T/tail-back")" "\"seq\":$SEQ"
check_not_contains "with no gap" "$(cat "$T/tail-back")" "event: gap"
check_eq "and the other process's entry once" "$(grep -c '"action":"outside.cli"' "$T/tail-back")" 1
kill "$TP" 2>/dev/null
wait "$TP"
req GET /ui/api/tail -H "X-Vault-Token: $A"
check_eq "the tail is for administrators" "$CODE" 403
req GET /metrics
SENT=$(printf '%s\n' "$BODY" | awk '$1 == "agentgov_ui_tail_entries_total" {print $2}')
check_eq "/metrics counts the entries sent to tails" "$([ "${SENT:-0}" -ge 1 ] && echo yes)" yes


# Revoke through the dashboard's endpoint, with the CSRF token: ledgered twice (the
# revocation, with who did it, and the dashboard action).
req POST /v1/agents/agent-a/revoke "${C[@]}" -H "X-CSRF-Token: $CSRF" -d '{"reason":"test"}'
check_eq "revoke with the CSRF token" "$CODE" 200
check_contains "the reason names the operator" "$BODY" 'test (by root)'
req POST /v1/agents/agent-a/revoke "${C[@]}" -H "X-CSRF-Token: $CSRF" -d '{}'
check_eq "revoking twice is a conflict" "$CODE" 409
req POST /v1/agents/agent-a/actions -H "X-Vault-Token: $A" -d '{"action":"ssh.exec","resource":"sandbox/w/1"}'
check_eq "the revoked agent's token is refused" "$CODE" 403
req GET "/v1/ledger?agent=root&kind=system&order=desc&limit=20" -H "X-Vault-Token: $ROOT"
check_contains "the dashboard action is ledgered with the identity" "$BODY" '"action":"ui.agent_revoke"'
check_contains "so is the sign-in" "$BODY" '"action":"ui.sign_in"'
req POST /v1/agents/agent-b/demote -H "X-Vault-Token: $A"
check_eq "demote needs an admin" "$CODE" 403

# Sign out: the cookie is cleared and the session is gone.
req DELETE /ui/api/session "${C[@]}"
check_eq "sign-out needs the CSRF token too" "$CODE" 403
HDR=$(curl -s -D - -o /dev/null -X DELETE "${C[@]}" -H "X-CSRF-Token: $CSRF" "$BASE/ui/api/session")
check_contains "sign-out clears the cookie" "$HDR" "Max-Age=0"
req GET /v1/agents "${C[@]}"
check_eq "the old cookie is worth nothing" "$CODE" 401

# SIGTERM with a tail open: the daemon stops at once rather than after the drain.
curl -s -c "$T/jar2" "${J[@]}" -d "{\"token\":\"$ROOT\"}" "$BASE/ui/api/session" >/dev/null
curl -s -N -m 20 -b "$T/jar2" "$BASE/ui/api/tail" >/dev/null 2>&1 &
sleep 0.5
T0=$(now_ms)
stop_daemon
check_eq "the daemon stops cleanly with a tail open" "$DRC" 0
check_eq "without waiting for the tail" "$([ $(($(now_ms) - T0)) -lt 3000 ] && echo yes)" yes

# The thread-per-connection mode streams the tail too.
PORT2=$(free_port)
"$AG" --dir "$D" serve --io thread-per-connection --listen "127.0.0.1:$PORT2" 2>>"$T/daemon.log" &
DPID=$!
PIDS_TO_KILL+=("$DPID")
BASE="http://127.0.0.1:$PORT2"
for _ in $(seq 100); do curl -s -o /dev/null "$BASE/v1/sys/health" && break; sleep 0.05; done
curl -s -c "$T/jar3" "${J[@]}" -d "{\"token\":\"$ROOT\"}" "$BASE/ui/api/session" >/dev/null
curl -s -N -m 10 -b "$T/jar3" "$BASE/ui/api/tail" >"$T/tail2" 2>/dev/null &
TP=$!
sleep 0.5
req POST /v1/agents/agent-c -H "X-Vault-Token: $ROOT" -d '{"tier":1}'
for _ in $(seq 100); do grep -q '"agent_id":"agent-c"' "$T/tail2" && break; sleep 0.05; done
kill "$TP" 2>/dev/null
wait "$TP"
check_contains "thread-per-connection: the entry arrives" "$(cat "$T/tail2")" '"agent_id":"agent-c"'
stop_daemon
check_eq "and it stops cleanly" "$DRC" 0
finish
