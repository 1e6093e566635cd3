#!/usr/bin/env bash
# `agentgov demo`: the README's main command. It runs on embedded defaults in a new
# temporary directory, runs again in a given one, and on Redis leaves exactly the seed's
# key names behind (checked with redis-cli --scan).
source "$(dirname "$0")/lib.sh"

export TMPDIR="$T"
check_exit "demo on embedded defaults" 0 env -u AGENTGOV_DIR -u AGENTGOV_STORE "$AG" demo
check_contains "alpha is revoked for the forbidden action" "$OUT" "authorize ansible.apply  sandbox/web      -> deny  forbidden_action"
check_contains "revoked at once" "$OUT" "alpha is REVOKED at once"
check_contains "alpha had a token" "$OUT" "alpha logs in with AppRole"
check_contains "its token is revoked with it" "$OUT" "permission denied: token revoked"
check_contains "beta needs a handoff" "$OUT" "beta bootstrap -> HANDOFF_REQUIRED"
check_contains "beta bootstraps from it" "$OUT" "beta bootstrap -> BOOTSTRAP_COMPLETE"
check_contains "beta reaches EXIT" "$OUT" "beta -> EXIT"
check_contains "the ledger verifies" "$OUT" "chain intact"
check_contains "a temporary directory was used" "$OUT" "(new, kept for inspection)"
TMPD=$(ls -d "$T"/agentgov-demo-* | head -n 1)
check_exit "the demo's ledger verifies from the CLI" 0 "$AG" --dir "$TMPD" ledger verify

D="$T/given"
check_exit "demo in a given directory (initialised)" 0 "$AG" demo --dir "$D"
check_contains "init ran" "$OUT" "initialised $D"
check_exit "demo again in the same directory" 0 "$AG" demo --dir "$D"
check_not_contains "no second init" "$OUT" "initialised"
check_exit "alpha's status after the demo" 0 "$AG" --dir "$D" agent status alpha
check_contains "alpha is revoked" "$OUT" "revoked     yes"

start_redis
check_exit "demo on Redis" 0 "$AG" demo --dir "$D" --store "$REDIS_URL"
check_contains "store is redis" "$OUT" "on redis"
# A run left in progress shows the live keys too (lock, heartbeat).
sed 's/agent-alpha/live/; s/task-web-01/task-live/' "$SRC/examples/packets/deploy-web.json" >"$T/live.json"
"$AG" --dir "$D" agent register live --tier 1 --packet "$T/live.json" --store "$REDIS_URL" >/dev/null
check_exit "live agent bootstraps" 0 "$AG" --dir "$D" agent bootstrap live --store "$REDIS_URL"
KEYS=$(redis-cli -p "$REDIS_PORT" --scan | sed -E 's/^agent:[^:]+:/agent:{id}:/; s/^task:[^:]+:/task:{id}:/; s/^handoff:[^:]+:/handoff:{task}:/' | sort -u | tr '\n' ' ')
for k in "agent:{id}:packet" "agent:{id}:state" "agent:{id}:errors" "agent:{id}:heartbeat" \
    "agent:{id}:lock" "task:{id}:active_agent" "task:{id}:artifacts" "revocations:ledger" \
    "handoff:{task}:latest"; do
    check_contains "redis-cli --scan shows $k" "$KEYS" "$k"
done
# Nothing outside the seed's keyspace except the registry, the heartbeat index, the
# revocation index, the store's fencing counter and the auth engine's keys (auth:*).
OTHER=$(redis-cli -p "$REDIS_PORT" --scan | grep -Ev '^(agent:[^:]+:(packet|state|errors|heartbeat|lock)|task:[^:]+:(active_agent|artifacts)|handoff:[^:]+:latest|revocations:ledger|revocations:index|agents:registry|agents:heartbeats|fence:counter|auth:.*)$' | tr '\n' ' ')
check_eq "no other keys" "$OTHER" ""
check_eq "state has a TTL" "$(redis-cli -p "$REDIS_PORT" pttl agent:live:state | awk '$1>0{print "yes"}')" "yes"
check_eq "lock has a TTL" "$(redis-cli -p "$REDIS_PORT" pttl agent:live:lock | awk '$1>0{print "yes"}')" "yes"
check_eq "heartbeat has a TTL" "$(redis-cli -p "$REDIS_PORT" pttl agent:live:heartbeat | awk '$1>0{print "yes"}')" "yes"
check_eq "revocations:ledger is durable" "$(redis-cli -p "$REDIS_PORT" pttl revocations:ledger)" "-1"
check_exit "the ledger verifies" 0 "$AG" --dir "$D" ledger verify
finish
