#!/usr/bin/env bash
# Resilience against a real daemon and a real redis-server: `agentgov health` of a data
# directory and of a running daemon, then the short chaos pass (scripts/chaos.py --short):
# redis stopped, redis restarted, the daemon killed, the ledger's disk full; 0
# acknowledged decisions missing from the ledger, verify OK, no request longer than its
# timeout + 1 s, recovery within 5 s of each fault's removal.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
init_data_dir

out=$("$AG" --dir "$D" health 2>&1)
check_exit "health of a data directory: ready" 0 "$AG" --dir "$D" health
check_contains "health lists the store" "$out" "store"
check_contains "health lists the ledger with free space" "$out" "MB free"
json=$("$AG" --dir "$D" health --json)
check_eq "health --json: ready" "$(jget "$json" 'j["ready"]')" "True"
check_eq "health --json: ledger free bytes" "$(jget "$json" 'j["components"]["ledger"]["free_bytes"] > 0')" "True"
"$AG" --dir "$D" health --help | grep -q "usage: agentgov health" && ok "health --help" || not_ok "health --help"
check_exit "health: unknown flag is a usage error" 1 "$AG" --dir "$D" health --bogus

start_daemon
json=$("$AG" health --json --addr "127.0.0.1:$PORT")
check_eq "daemon health --json: store ok" "$(jget "$json" 'j["agentgov"]["components"]["store"]["status"]')" "ok"
check_eq "daemon health: breaker.store closed" "$(jget "$json" 'j["agentgov"]["components"]["breaker.store"]["status"]')" "ok"
req GET "/v1/sys/health?ready"
check_eq "?ready: 200" "$CODE" 200
req GET /metrics
check_contains "metrics: breaker state" "$BODY" 'agentgov_breaker_state{dep="store"} 0'
check_contains "metrics: component status" "$BODY" 'agentgov_health_status{component="ledger"} 0'
check_contains "metrics: ledger free bytes" "$BODY" 'agentgov_health_free_bytes{component="ledger"}'
req GET "/v1/sys/health?live"
check_eq "?live: 200" "$CODE" 200
stop_daemon
check_exit "health of a stopped daemon: exit 4" 4 "$AG" health --addr "127.0.0.1:$PORT"

# A daemon whose Redis went away: not ready, the store down, its breaker open, and the
# change ledgered once.
start_redis
RPID=${PIDS_TO_KILL[-1]}
cat >>"$D/config" <<CFG
store = $REDIS_URL?timeout=500ms
breaker.store.failures = 2
breaker.store.cooldown = 10s
CFG
start_daemon
req GET "/v1/sys/health?ready"
check_eq "redis up: ready" "$CODE" 200
kill -9 "$RPID"
wait "$RPID" 2>/dev/null
for _ in $(seq 40); do
    req GET "/v1/sys/health?ready"
    [ "$CODE" = 503 ] && break
    sleep 0.1
done
check_eq "redis killed: not ready (503)" "$CODE" 503
check_eq "store down in the detail" "$(jget "$BODY" 'j["agentgov"]["components"]["store"]["status"]')" "down"
check_exit "agentgov health --addr: exit 2 (not ready)" 2 "$AG" health --addr "127.0.0.1:$PORT"
check_contains "health names the store" "$OUT" "store"
sleep 0.5
req GET /metrics
check_contains "metrics: store breaker open" "$BODY" 'agentgov_breaker_state{dep="store"} 1'
check_contains "metrics: store down" "$BODY" 'agentgov_health_status{component="store"} 2'
check_contains "metrics: not ready" "$BODY" 'agentgov_health_ready 0'
stop_daemon
n=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from ledger where kind=\"system\" and action=\"health.down\" and resource=\"store\"").fetchone()[0])' "$D/ledger.db")
check_eq "store down ledgered once, not per probe" "$n" 1
n=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from ledger where kind=\"system\" and action=\"breaker.open\" and resource=\"store\"").fetchone()[0])' "$D/ledger.db")
check_eq "store breaker open ledgered once" "$n" 1

if ! command -v redis-server >/dev/null; then
    not_ok "redis-server is not installed"
    
# Load mode, small: 60 agents through whole lifecycles on both backends, all answered
# as expected, the ledger verifies.
if python3 "$SRC/scripts/load.py" --bin "$AG" --agents 60 --concurrency 8 --json "$T/load.json" \
    >"$T/load.log" 2>&1; then
    ok "load: 60 lifecycles on sqlite and redis"
else
    not_ok "load: 60 lifecycles on sqlite and redis" "$(cat "$T/load.log")"
fi
res=$(cat "$T/load.json" 2>/dev/null)
check_eq "load: every endpoint measured on both" "$(jget "$res" 'sorted(len(r["endpoints"]) for r in j)')" "[4, 4]"
finish
fi
log="$T/chaos.log"
FB="$(dirname "$AG")/faults/agentgov"
if python3 "$SRC/scripts/chaos.py" --short --bin "$AG" --fault-bin "$FB" --json "$T/chaos.json" \
    >"$log" 2>&1; then
    ok "chaos short pass"
else
    not_ok "chaos short pass" "$(cat "$log")"
fi
cat "$log"
res=$(cat "$T/chaos.json" 2>/dev/null)
check_eq "chaos: no acknowledged decision missing" "$(jget "$res" 'j["summary"]["missing"]')" 0
check_eq "chaos: ledger verifies" "$(jget "$res" 'j["summary"]["verify_ok"]')" "True"
check_eq "chaos: decisions were acknowledged" "$(jget "$res" 'j["summary"]["acknowledged"] > 100')" "True"
for f in redis_stop redis_restart daemon_kill disk_full io_write io_fsync clock_forward clock_back; do
    v=$(jget "$res" "[r.get('ok', 'skipped: ' + r.get('skipped', '')) for r in j['results'] if r['fault'] == '$f'][0]")
    case $v in
    skipped*) ok "chaos $f $v" ;;
    *) check_eq "chaos $f: recovered within 5 s, no request over timeout + 1 s" "$v" "True" ;;
    esac
done
# The loopback notifier (slow, then 503) and model endpoint (slow, then 503).
ck() { jget "$res" "[r.get('checks', {}) for r in j['results'] if r['fault'] == '$1'][0]$2"; }
check_eq "chaos notify_slow_fail: all checks" "$(jget "$res" "[r.get('ok') for r in j['results'] if r['fault'] == 'notify_slow_fail'][0]")" "True"
check_eq "notify fault: events were produced" "$(ck notify_slow_fail '["events"] > 0')" "True"
check_eq "notify fault: no event lost" "$(ck notify_slow_fail '["events_lost"]')" 0
check_eq "notify fault: one id per event" "$(ck notify_slow_fail '["events_duplicated_ids"]')" 0
check_eq "notify fault: none dead" "$(ck notify_slow_fail '["dead"]')" 0
check_eq "notify fault: events waited in the outbox" "$(ck notify_slow_fail '["pending_at_end"] > 0')" "True"
check_eq "notify fault: the webhook breaker opened" "$(ck notify_slow_fail '["breaker_opens"] > 0')" "True"
check_eq "chaos llm_slow_fail: all checks" "$(jget "$res" "[r.get('ok') for r in j['results'] if r['fault'] == 'llm_slow_fail'][0]")" "True"
check_eq "llm fault: orchestrate runs were made" "$(ck llm_slow_fail '["runs"] > 0')" "True"
check_eq "llm fault: each run within its --timeout 3 s + 1 s" "$(ck llm_slow_fail '["slowest_run_s"] <= 4')" "True"
check_eq "llm fault: the breaker refused calls" "$(ck llm_slow_fail '["breaker_refusals"] > 0')" "True"
# Breakers and health changes were ledgered, once per change, not per probe.
check_eq "ledger: breaker.open entries" "$(jget "$res" 'j["summary"]["system"].get("breaker.open", 0) > 0')" "True"
check_eq "ledger: breaker.close entries" "$(jget "$res" 'j["summary"]["system"].get("breaker.close", 0) > 0')" "True"
check_eq "ledger: health.down entries" "$(jget "$res" 'j["summary"]["system"].get("health.down", 0) > 0')" "True"
check_eq "ledger: health changes are not per probe" "$(jget "$res" 'sum(v for k, v in j["summary"]["system"].items() if k.startswith("health.")) < 200')" "True"

# Load mode, small: 60 agents through whole lifecycles on both backends, all answered
# as expected, the ledger verifies.
if python3 "$SRC/scripts/load.py" --bin "$AG" --agents 60 --concurrency 8 --json "$T/load.json" \
    >"$T/load.log" 2>&1; then
    ok "load: 60 lifecycles on sqlite and redis"
else
    not_ok "load: 60 lifecycles on sqlite and redis" "$(cat "$T/load.log")"
fi
res=$(cat "$T/load.json" 2>/dev/null)
check_eq "load: every endpoint measured on both" "$(jget "$res" 'sorted(len(r["endpoints"]) for r in j)')" "[4, 4]"
finish
