#!/usr/bin/env bash
# A daemon started while its Redis is down (docs/operations.md, "Redis"): it starts,
# answers every request that needs the store at once with a refusal (503 for a token,
# not ready), and, once a real redis-server comes up on the port, serves tokens,
# lifecycle decisions and secrets within a few seconds, without being restarted: the
# store connects by itself and the auth keyring, which lives in Redis, is loaded on
# first use.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
RPORT=$(free_port)
RURL="redis://127.0.0.1:$RPORT/0"
RPID=
redis_up() { # with an append-only file: what init put there survives the stop
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly yes \
        --appendfsync always --daemonize no --dir "$T" >>"$T/redis.log" 2>&1 &
    RPID=$!
    PIDS_TO_KILL+=("$RPID")
    for _ in $(seq 100); do
        redis-cli -p "$RPORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    not_ok "redis-server did not start" "$(tail -3 "$T/redis.log")"
}
redis_down() {
    kill -TERM "$RPID"
    wait "$RPID" 2>/dev/null
}
# timed_req METHOD PATH ARGS...: req, and MS its duration.
timed_req() {
    local t0
    t0=$(now_ms)
    req "$@"
    MS=$(($(now_ms) - t0))
}

# The root token and the keyring are made in Redis by init, then Redis goes away.
redis_up
AGENTGOV_STORE=$RURL init_data_dir
cat >>"$D/config" <<CFG
store = $RURL?timeout=500ms
breaker.store.failures = 2
breaker.store.cooldown = 500ms
CFG
check_eq "init put the keyring in redis" "$(redis-cli -p "$RPORT" exists auth:keyring)" 1
redis_down

start_daemon # fails the suite unless it answers
check_not_contains "the store was opened (to be connected later)" "$(cat "$T/daemon.log")" "store_unavailable"
check_not_contains "so was the auth engine" "$(cat "$T/daemon.log")" "cannot open the auth engine"
R=(-H "X-Vault-Token: $ROOT")
slowest=0
for _ in 1 2 3 4 5; do
    timed_req GET /v1/auth/token/lookup-self "${R[@]}"
    [ "$CODE" = 503 ] || break
    [ "$MS" -gt "$slowest" ] && slowest=$MS
done
check_eq "redis down: a token cannot be checked (503)" "$CODE" 503
[ "$slowest" -lt 1500 ] && ok "each answered within the timeout + 1 s (slowest $slowest ms)" ||
    not_ok "a token check took $slowest ms with redis down"
req POST /v1/agents/a0 "${R[@]}" -d '{"tier":1}'
check_eq "redis down: registering an agent is refused (503)" "$CODE" 503
req GET "/v1/sys/health?ready"
check_eq "redis down: not ready" "$CODE" 503
check_eq "the store is down in the detail" "$(jget "$BODY" 'j["agentgov"]["components"]["store"]["status"]')" "down"
check_eq "so is the auth keyring, not loaded yet" "$(jget "$BODY" 'j["agentgov"]["components"]["auth"]["status"]')" "down"

# Redis comes up: the same daemon process recovers.
redis_up
t0=$(now_ms)
for _ in $(seq 100); do
    req GET /v1/auth/token/lookup-self "${R[@]}"
    [ "$CODE" = 200 ] && break
    sleep 0.05
done
took=$(($(now_ms) - t0))
check_eq "redis up: the root token is valid again (200)" "$CODE" 200
[ "$took" -lt 5000 ] && ok "recovered $took ms after redis came up" ||
    not_ok "recovery took $took ms"
kill -0 "$DPID" 2>/dev/null && ok "without a restart of the daemon" || not_ok "the daemon is gone"
check_eq "lookup-self names the root policy" "$(jget "$BODY" '"root" in j["data"]["policies"]')" "True"
TOKEN=$(setup_agent a1 1 "" PLAN 2>"$T/setup.err")
[ -n "$TOKEN" ] && ok "an agent registers, logs in, bootstraps and moves to PLAN" ||
    not_ok "setup_agent after recovery" "$(tail -3 "$T/setup.err")"
req POST /v1/agents/a1/actions -H "X-Vault-Token: $TOKEN" -d '{"action":"docs.read","resource":"docs/x"}'
check_eq "a governed action is decided (200)" "$CODE" 200
req POST /v1/secret/data/late/db "${R[@]}" -d '{"data":{"password":"s3cret"}}'
check_eq "a secret is sealed with the keyring loaded late (200)" "$CODE" 200
req GET /v1/secret/data/late/db "${R[@]}"
check_eq "and read back" "$(jget "$BODY" 'j["data"]["data"]["password"]')" "s3cret"
req GET "/v1/sys/health?ready"
check_eq "ready again" "$CODE" 200
check_eq "the keyring is loaded" "$(jget "$BODY" 'j["agentgov"]["components"]["auth"]["detail"]')" "keyring loaded"

# The keyring in Redis is the one init made: the daemon did not make a second one.
check_eq "one keyring, one wrap" "$(redis-cli -p "$RPORT" get auth:keyring | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["wraps"]))')" 1
stop_daemon
check_exit "ledger verifies" 0 "$AG" --dir "$D" ledger verify
finish
