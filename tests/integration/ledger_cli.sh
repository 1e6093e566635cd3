#!/usr/bin/env bash
# `agentgov ledger`: append, verify, tail (-f), query formats, export, hash, pubkey,
# checkpoint, and clear errors on bad input.
source "$(dirname "$0")/lib.sh"
export AGENTGOV_DIR="$T/data"

check_exit "verify without a ledger cannot check" 4 "$AG" ledger verify
check_exit "append without init is refused" 1 "$AG" ledger append --kind action --agent a
check_contains "says to run init" "$ERR" "agentgov init"
"$AG" init >/dev/null

check_exit "append prints seq and hash" 0 "$AG" ledger append --kind action --agent alpha \
    --task t1 --tier 1 --phase EXECUTE --action read_file --resource /etc/hosts \
    --decision allow --reason "in scope" --confidence 875 --success 1 \
    --data '{"path":"/etc/hosts","password":"hunter2"}' --sensitive password
[[ $OUT =~ ^5\ [0-9a-f]{64}$ ]] && ok "output is 'seq hash'" || not_ok "output is 'seq hash'" "$OUT"
H3=${OUT#5 }
check_exit "second append" 0 "$AG" ledger append --kind error --agent beta --task t2 \
    --error-type timeout --error-message "took 31s, limit 30s" --success 0
check_exit "verify" 0 "$AG" ledger verify
check_contains "verify says OK" "$OUT" "OK 6 entries, head "

check_exit "hash of a sensitive value" 0 "$AG" ledger hash hunter2
HM=$OUT
check_exit "export" 0 "$AG" ledger export --format jsonl
check_contains "export holds the HMAC" "$OUT" "\"password\":\"$HM\""
check_not_contains "export never holds the clear value" "$OUT" "hunter2"
check_not_contains "nor does the database" "$(strings "$AGENTGOV_DIR/ledger.db")" "hunter2"
check_eq "export has one line per entry" "$(echo "$OUT" | wc -l)" "6"
check_contains "export carries the hash" "$OUT" "\"hash\":\"$H3\""

check_exit "query by agent, jsonl" 0 "$AG" ledger query --agent beta --format jsonl
check_eq "one row" "$(echo "$OUT" | wc -l)" "1"
check_contains "the error row" "$OUT" '"error_type":"timeout"'
check_exit "query csv" 0 "$AG" ledger query --task t1 --format csv
check_contains "csv header" "$OUT" "seq,ts,kind,agent_id"
check_contains "csv quotes JSON" "$OUT" '"{""password""'
check_exit "query table with since" 0 "$AG" ledger query --since 1h --kind action
check_contains "table row" "$OUT" "read_file"
check_exit "query until the past is empty" 0 "$AG" ledger query --until 2000-01-01T00:00:00Z --format jsonl
check_eq "no rows" "$OUT" ""
check_exit "bad --since" 1 "$AG" ledger query --since yesterday
check_contains "names the option" "$ERR" "--since: 'yesterday'"
check_exit "bad --kind" 1 "$AG" ledger query --kind nope

check_exit "tail -n 1" 0 "$AG" ledger tail -n 1 --format jsonl
check_contains "tail shows the last entry" "$OUT" '"agent_id":"beta"'
"$AG" ledger tail -f -n 0 --format jsonl >"$T/follow" 2>&1 &
TP=$!
PIDS_TO_KILL+=("$TP")
sleep 0.5
"$AG" ledger append --kind action --agent gamma >/dev/null
for _ in $(seq 50); do grep -q gamma "$T/follow" && break; sleep 0.1; done
check_contains "tail -f prints new entries" "$(cat "$T/follow")" '"agent_id":"gamma"'
kill "$TP"

check_exit "checkpoint" 0 "$AG" ledger checkpoint
check_eq "checkpoint seq" "$OUT" "8"
check_exit "verify after checkpoint" 0 "$AG" ledger verify --db "$AGENTGOV_DIR/ledger.db" --pubkey "$AGENTGOV_DIR/ledger.pub"
check_contains "8 entries" "$OUT" "OK 8 entries"
check_exit "pubkey" 0 "$AG" ledger pubkey
[[ $OUT =~ ^[0-9a-f]{64}$ ]] && ok "pubkey is 64 hex digits" || not_ok "pubkey is 64 hex digits" "$OUT"

# The checkpoint signature checks out with openssl too: nothing agentgov-specific needed.
if command -v openssl >/dev/null && command -v xxd >/dev/null; then
    "$AG" ledger pubkey --pem >"$T/pub.pem"
    row=$("$AG" ledger query --kind checkpoint --format jsonl | tail -n 1)
    sseq=$(echo "$row" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["signed_seq"])')
    shash=$(echo "$row" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["signed_hash"])')
    echo "$row" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["signature"])' | xxd -r -p >"$T/sig"
    printf 'agentgov-ledger-checkpoint:v1:%s:%s' "$sseq" "$shash" >"$T/msg"
    check_exit "openssl verifies a checkpoint signature" 0 openssl pkeyutl -verify -pubin \
        -inkey "$T/pub.pem" -rawin -in "$T/msg" -sigfile "$T/sig"
fi

check_exit "unknown kind" 1 "$AG" ledger append --kind nope --agent a
check_contains "says which kind" "$ERR" "unknown kind 'nope'"
check_exit "float in data" 1 "$AG" ledger append --kind action --agent a --data '{"c":0.5}'
check_contains "says floating-point" "$ERR" "floating-point"
check_exit "integer beyond 2^53 in data" 1 "$AG" ledger append --kind action --agent a \
    --data '{"n":[1,9007199254740993]}'
check_contains "names the field" "$ERR" 'integer 9007199254740993 at $.n[1]'
check_exit "bad JSON" 1 "$AG" ledger append --kind action --agent a --data '{oops'
check_exit "tier out of range" 1 "$AG" ledger append --kind action --agent a --tier 9
check_exit "missing --agent" 1 "$AG" ledger append --kind action
check_exit "nothing was appended by the failures" 0 "$AG" ledger verify
check_contains "still 8 entries" "$OUT" "OK 8 entries"

# What verify reports about signatures, and what it refuses.
check_contains "verify counts the signed checkpoints and names the newest" "$OUT" \
    "3 signed checkpoints verified, newest at seq 8; 0 entries after it not signed yet"
check_exit "--require-checkpoint passes when one is signed" 0 "$AG" ledger verify --require-checkpoint
check_exit "a named checkpoint file must exist" 4 "$AG" ledger verify \
    --checkpoint-file "$T/offsite.checkpoint"
check_contains "and is named" "$ERR" "$T/offsite.checkpoint"

# Tampering, each time on a copy of the data directory. The attacker can write to it
# but has not the signing key: he runs SQL, rehashes the chain (anyone can) and puts
# the append-only triggers back.
cat >"$T/rechain.py" <<'EOF'
import hashlib, json, sqlite3, sys
def jcs(v):
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v[k])
                              for k in sorted(v, key=lambda k: k.encode("utf-16-be"))) + "}"
    if isinstance(v, list):
        return "[" + ",".join(map(jcs, v)) + "]"
    return json.dumps(v, ensure_ascii=False)
db = sqlite3.connect(sys.argv[1])
triggers = db.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'").fetchall()
for name, _ in triggers:
    db.execute("DROP TRIGGER " + name)
db.executescript(sys.argv[2])
cols = [r[1] for r in db.execute("PRAGMA table_info(ledger)")]
prev = "0" * 64
for row in db.execute("SELECT * FROM ledger WHERE seq >= 1 ORDER BY seq").fetchall():
    r = dict(zip(cols, row)); r.pop("hash"); r["prev_hash"] = prev
    if r["data"] is not None: r["data"] = json.loads(r["data"])
    prev = hashlib.sha256(jcs(r).encode()).hexdigest()
    db.execute("UPDATE ledger SET prev_hash = ?, hash = ? WHERE seq = ?", (r["prev_hash"], prev, r["seq"]))
for _, sql in triggers:
    db.execute(sql)
db.commit()
EOF
C="$T/copy"
tamper() { # SQL: a fresh copy of the data directory, changed and rehashed
    rm -rf "$C" && cp -a "$AGENTGOV_DIR" "$C" && python3 "$T/rechain.py" "$C/ledger.db" "$1"
}
tamper ""
check_exit "the attacker's tool alone changes nothing" 0 "$AG" --dir "$C" ledger verify
COLS="ts, kind, agent_id, agent_version, task_id, tier, phase, action, resource, decision,
      reason, confidence, success, error_type, error_message, data, prev_hash, hash"

"$AG" --dir "$C" ledger append --kind revocation --agent alpha >/dev/null
sqlite3 "$C/ledger.db" "DROP INDEX ledger_agent_revocation;
    CREATE INDEX ledger_agent_revocation ON ledger(agent_id, seq) WHERE kind = 'revocation' AND 0;
    PRAGMA writable_schema = ON;
    UPDATE sqlite_schema SET sql = 'CREATE INDEX ledger_agent_revocation ON ledger(agent_id, seq)
  WHERE kind = ''revocation''' WHERE name = 'ledger_agent_revocation';"
check_exit "an index rebuilt to leave rows out" 0 "$AG" --dir "$C" ledger query \
    --agent alpha --kind revocation --format jsonl
check_eq "hides them from queries" "$OUT" ""
check_exit "but fails verify" 2 "$AG" --dir "$C" ledger verify
check_contains "through SQLite's integrity check" "$OUT" \
    "FAIL: database: integrity check: row 9 missing from index ledger_agent_revocation"

tamper "DELETE FROM ledger WHERE seq = 8"
check_exit "the newest checkpoint row deleted fails" 2 "$AG" --dir "$C" ledger verify
check_contains "at its seq" "$OUT" "FAIL seq 8: checkpoint row 8, which"

tamper "UPDATE ledger SET kind = 'system', data = NULL WHERE kind = 'checkpoint'"
rm "$C/ledger.db.checkpoint"
check_exit "history rewritten with no checkpoint left: no signature contradicts it" 0 \
    "$AG" --dir "$C" ledger verify --pubkey "$AGENTGOV_DIR/ledger.pub"
check_contains "verify says nothing is signed" "$OUT" "0 signed checkpoints: nothing is signed"
check_exit "--require-checkpoint fails on it" 2 "$AG" --dir "$C" ledger verify \
    --pubkey "$AGENTGOV_DIR/ledger.pub" --require-checkpoint
check_contains "saying why" "$OUT" "FAIL: no signed checkpoint"

tamper "INSERT INTO ledger SELECT 9, $COLS FROM ledger WHERE seq = 4"
check_exit "a copied checkpoint appended fails" 2 "$AG" --dir "$C" ledger verify
check_contains "at the copy, not at the row it signs" "$OUT" "FAIL seq 9: misplaced checkpoint"
tamper "INSERT INTO ledger SELECT 0, $COLS FROM ledger WHERE seq = 1"
check_exit "a row numbered 0 fails" 2 "$AG" --dir "$C" ledger verify
check_contains "at seq 0" "$OUT" "FAIL seq 0: unexpected row"
tamper ""
head -c 16 /dev/zero | dd of="$C/ledger.db" conv=notrunc status=none
check_exit "a corrupt file is tampering (2), not a failure to check (4)" 2 \
    "$AG" --dir "$C" ledger verify
check_contains "said so" "$OUT" "FAIL: database corrupt"

for sub in append verify tail query export pubkey hash checkpoint; do
    check_exit "ledger $sub --help" 0 "$AG" ledger "$sub" --help
done
check_exit "ledger --help" 0 "$AG" ledger --help
check_exit "unknown subcommand" 1 "$AG" ledger frobnicate
finish
