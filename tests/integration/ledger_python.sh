#!/usr/bin/env bash
# The Python standard-library verifier printed in docs/ledger-format.md, run as-is
# against a real export: it agrees with `agentgov ledger verify` and catches tampering.
source "$(dirname "$0")/lib.sh"
export AGENTGOV_DIR="$T/data"
"$AG" init >/dev/null
printf 'ledger.checkpoint_every = 4\n' >>"$AGENTGOV_DIR/config"

# The verifier block of the document, exactly.
sed -n '/<!-- verifier:begin -->/,/<!-- verifier:end -->/p' "$SRC/docs/ledger-format.md" |
    sed -e '/^<!--/d' -e '/^```/d' >"$T/verify.py"
check_contains "the verifier block was extracted" "$(cat "$T/verify.py")" "hashlib.sha256"

# Entries that exercise the canonical form: non-ASCII, control characters, quotes,
# keys that sort differently by UTF-16 than by code point, nested data, nulls.
for i in 1 2 3 4 5 6 7 8 9 10; do
    "$AG" ledger append --kind action --agent "agent-é-$i" --task "t$((i % 3))" --tier $((i % 5)) \
        --phase EXECUTE --action "act \"$i\"" --reason $'tab\there, bell\a, nl\n' \
        --confidence $((i * 90)) --success $((i % 2)) \
        --data "{\"\\ufb33\":$i,\"\\ud83d\\ude00\":[true,null,\"x\\u001f\"],\"z\":{\"b\":1,\"a\":-2}}" \
        >/dev/null || not_ok "append $i"
done
"$AG" ledger append --kind error --agent beta --error-type timeout --error-message "31s > 30s" \
    --data '{"password":"hunter2"}' --sensitive password >/dev/null
"$AG" ledger checkpoint >/dev/null
"$AG" ledger export >"$T/export.jsonl"

check_exit "agentgov verify" 0 "$AG" ledger verify
WANT=$(head -n 1 <<<"$OUT") # its second line counts the signed checkpoints
check_exit "python verifier on the export" 0 python3 "$T/verify.py" "$T/export.jsonl"
check_eq "both verifiers print the same line" "$OUT" "$WANT"
check_contains "checkpoints were written and exported" "$(cat "$T/export.jsonl")" '"kind":"checkpoint"'

# Tampered exports.
sed '5s/agent-é-/agent-e-/' "$T/export.jsonl" >"$T/t1.jsonl"
check_exit "a changed field fails" 1 python3 "$T/verify.py" "$T/t1.jsonl"
check_contains "at the right seq" "$ERR" "FAIL seq 5: hash mismatch"
sed '7d' "$T/export.jsonl" >"$T/t2.jsonl"
check_exit "a deleted line fails" 1 python3 "$T/verify.py" "$T/t2.jsonl"
check_contains "as a gap at seq 7" "$ERR" "FAIL seq 7: gap"
awk 'NR==3{l=$0; next} NR==4{print; print l; next} {print}' "$T/export.jsonl" >"$T/t3.jsonl"
check_exit "two swapped lines fail" 1 python3 "$T/verify.py" "$T/t3.jsonl"
check_contains "at seq 3" "$ERR" "FAIL seq 3"

# Tampering in the database shows in the export too, at the same seq for both.
sqlite3 "$AGENTGOV_DIR/ledger.db" "DROP TRIGGER ledger_no_update; UPDATE ledger SET reason = 'innocent' WHERE seq = 6"
"$AG" ledger export >"$T/t4.jsonl"
check_exit "python: database tampering" 1 python3 "$T/verify.py" "$T/t4.jsonl"
check_contains "python names seq 6" "$ERR" "FAIL seq 6: hash mismatch"
check_exit "agentgov: database tampering" 2 "$AG" ledger verify
check_contains "agentgov names seq 6" "$OUT" "FAIL seq 6: hash mismatch"
finish
