#!/usr/bin/env bash
# `agentgov init`: creates the data directory with the right files and modes, and never
# overwrites an existing or partly initialised one.
source "$(dirname "$0")/lib.sh"

D="$T/data"
check_exit "init creates the directory" 0 "$AG" init --dir "$D"
check_contains "init says where" "$OUT" "initialised $D"
check_eq "directory mode 0700" "$(stat -c %a "$D")" "700"
check_eq "ledger.key mode 0600" "$(stat -c %a "$D/ledger.key")" "600"
check_eq "ledger.hmac mode 0600" "$(stat -c %a "$D/ledger.hmac")" "600"
for f in ledger.db ledger.pub config; do
    check_exit "$f exists" 0 test -s "$D/$f"
done
check_contains "config lists settings at their defaults" "$(cat "$D/config")" "# ledger.checkpoint_every = 1000"
check_exit "the new ledger verifies" 0 "$AG" --dir "$D" ledger verify
check_contains "four entries: init, root token, each sealed by a checkpoint" "$OUT" "OK 4 entries"

sum_before=$(cat "$D"/ledger.key "$D"/ledger.db | sha256sum)
check_exit "second init refuses" 1 "$AG" init --dir "$D"
check_contains "names the existing files" "$ERR" "already initialised (ledger.key, ledger.pub, ledger.hmac, ledger.db, config, master.key, root.token exist)"
check_eq "nothing was overwritten" "$(cat "$D"/ledger.key "$D"/ledger.db | sha256sum)" "$sum_before"

P="$T/partial"
mkdir -p "$P"
echo x >"$P/ledger.key"
check_exit "partly initialised directory is refused" 1 "$AG" init --dir "$P"
check_contains "says which files exist and which are missing" "$ERR" "partly initialised: ledger.key exists but ledger.pub, ledger.hmac, ledger.db, config, master.key, root.token are missing"
check_eq "the stray file is untouched" "$(cat "$P/ledger.key")" "x"

E="$T/env"
AGENTGOV_DIR="$E" check_exit "AGENTGOV_DIR is used without --dir" 0 "$AG" init
check_exit "ledger.db in \$AGENTGOV_DIR" 0 test -s "$E/ledger.db"
echo file >"$T/afile"
check_exit "a file in the way is refused" 1 "$AG" init --dir "$T/afile"
check_contains "says it is not a directory" "$ERR" "not a directory"
check_exit "init --help" 0 "$AG" init --help
check_contains "help names the files" "$OUT" "ledger.hmac"
finish
