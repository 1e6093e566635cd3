#!/usr/bin/env bash
# The daemon under stress and failure: SIGTERM with requests in flight (no acknowledged
# decision lost, the ledger verifies after a restart), a ledger that cannot be written
# at run time (its file system full: every authorize answers deny with
# ledger_unavailable, health reports sealed, and decisions resume once space is back),
# and a ledger that cannot be opened at start.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
init_data_dir

# ---- SIGTERM with requests in flight ------------------------------------------------
start_daemon
TOK=$(setup_agent busy-agent 1 "" EXECUTE)
python3 "$PY" hammer "$BASE" "$TOK" busy-agent 8 24 "$T/acked" >"$T/hammer.out" 2>&1 &
HPID=$!
sleep 1.5
stop_daemon
wait "$HPID"
check_eq "SIGTERM under load exits 0" "$DRC" 0
ACKED=$(grep -c . "$T/acked")
check_eq "requests were acknowledged before the stop" "$([ "$ACKED" -gt 50 ] && echo yes)" yes
"$AG" --dir "$D" ledger query --agent busy-agent --format jsonl >"$T/rows" 2>&1
MISSING=$(python3 - "$T/acked" "$T/rows" <<'PY'
import json, sys
acked = {int(l) for l in open(sys.argv[1]) if l.strip()}
rows = {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    rows[r["seq"]] = r
missing = [s for s in acked if s not in rows or rows[s]["agent_id"] != "busy-agent"
           or rows[s]["action"] != "docs.read"]
print(len(missing))
PY
)
check_eq "every acknowledged decision is in the ledger ($ACKED acked)" "$MISSING" 0
check_exit "ledger verifies after the stop" 0 "$AG" --dir "$D" ledger verify
check_contains "drain was logged" "$(cat "$T/daemon.log")" "draining"
start_daemon
req GET /v1/ledger/verify -H "X-Vault-Token: $ROOT"
check_contains "restarted daemon verifies the ledger" "$BODY" '"ok":true'
req GET /v1/sys/health
check_eq "restarted daemon is healthy" "$CODE" 200
stop_daemon

# ---- a ledger that cannot be written at run time (full file system, needs root) ------
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
    # The data directory goes on a private tmpfs that is filled up under the running
    # daemon; the store stays outside it, so only the ledger breaks.
    cat >"$T/full.sh" <<'INNER'
set -u
M=$1; AG=$2; PORT=$3; SRC=$4; DATA=$5
mount --make-rprivate / && mount -t tmpfs -o size=32m tmpfs "$M" || exit 3
cp -a "$DATA/." "$M/"
for f in "$M"/state.db*; do mv "$f" "$M.${f##*/}"; done
BASE="http://127.0.0.1:$PORT"
"$AG" --dir "$M" serve --listen "127.0.0.1:$PORT" --store "sqlite:$M.state.db" >"$M.log" 2>&1 &
P=$!
trap 'kill $P 2>/dev/null' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "$BASE/v1/sys/health" && break; sleep 0.05; done
ROOT=$(cat "$M/root.token")
TOK=$(python3 "$SRC/tests/integration/serve_common.py" setup "$BASE" "$ROOT" full-agent 1 "" EXECUTE)
A() { curl -s -H "X-Vault-Token: $TOK" -X POST "$BASE/v1/agents/full-agent/actions" -d '{"action":"docs.read","resource":"docs/x"}'; echo; }
echo "before: $(A)"
dd if=/dev/zero of="$M/filler" bs=64k 2>/dev/null
for i in $(seq 2000); do
    out=$(A)
    case $out in *'"decision":"allow"'*) ;; *) echo "denied after $i: $out"; break ;; esac
done
echo "again: $(A)"
echo "health: $(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/sys/health")"
echo "metrics: $(curl -s "$BASE/metrics" | grep 'reason="ledger_unavailable"')"
rm -f "$M/filler"
echo "recovered: $(A)"
echo "health after: $(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/sys/health")"
kill -TERM $P; wait $P; echo "exit: $?"
"$AG" --dir "$M" ledger verify >/dev/null 2>&1; echo "verify: $?"
INNER
    mkdir -p "$T/full"
    OUT=$(unshare -m bash "$T/full.sh" "$T/full" "$AG" "$(free_port)" "$SRC" "$D" 2>&1)
    check_contains "before: allow" "$OUT" 'before: {"data":{"decision":"allow"'
    check_contains "full ledger: deny ledger_unavailable, nothing acknowledged" "$OUT" '"decision":"deny","allow":false,"reason":"ledger_unavailable","tier":1,"phase":"EXECUTE","rule":null,"ledger_seq":0'
    check_contains "full ledger: keeps denying" "$OUT" 'again: {"data":{"decision":"deny","allow":false,"reason":"ledger_unavailable"'
    check_contains "full ledger: health 503 (sealed)" "$OUT" "health: 503"
    check_contains "full ledger: denials counted" "$OUT" 'agentgov_decisions_total{decision="deny",reason="ledger_unavailable"}'
    check_contains "space back: decisions resume" "$OUT" 'recovered: {"data":{"decision":"allow"'
    check_contains "space back: healthy" "$OUT" "health after: 200"
    check_contains "full ledger: SIGTERM exits 0" "$OUT" "exit: 0"
    check_contains "full ledger: the ledger verifies" "$OUT" "verify: 0"
else
    echo "skip full file system: needs root and unshare"
fi

# ---- a ledger that cannot be opened at start ------------------------------------------
mv "$D/ledger.db" "$D/ledger.db.moved"
mkdir "$D/ledger.db"
start_daemon
req GET /v1/sys/health
check_eq "no ledger: health 501 (not initialized)" "$CODE" 501
req POST /v1/agents/busy-agent/actions -H "X-Vault-Token: $ROOT" -d '{"action":"docs.read","resource":"docs/x"}'
check_eq "no ledger: token endpoints answer 503 (no auth without a ledger)" "$CODE" 503
stop_daemon
check_eq "no ledger: SIGTERM exit 0" "$DRC" 0
check_contains "no ledger: the log says why" "$(cat "$T/daemon.log")" "cannot open"
finish
