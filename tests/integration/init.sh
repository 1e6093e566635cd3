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
check_contains "names the existing files" "$ERR" "already initialised (ledger.key, ledger.pub, ledger.hmac, ledger.db, config, master.key, root.token, state.db"
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
# Planted files, dangling symlinks above all, must stop init before it writes anything:
# SQLite and the key writers would otherwise create the link's target outside the
# directory.
mkdir -p "$T/else"
for f in ledger.db state.db state.db-wal ledger.db-shm ledger.db.checkpoint root.token config; do
    L="$T/link-$f"
    mkdir -m 700 "$L"
    ln -s "$T/else/$f" "$L/$f"
    check_exit "a dangling $f symlink is refused" 1 "$AG" init --dir "$L"
    check_contains "names $f" "$ERR" "$f exist"
    check_exit "its target was not created" 1 test -e "$T/else/$f"
    check_eq "nothing else was written in $L" "$(ls -A "$L")" "$f"
done
S="$T/stray"
mkdir -m 700 "$S"
echo x >"$S/state.db"
check_exit "a stray state.db is refused" 1 "$AG" init --dir "$S"
check_contains "names state.db" "$ERR" "state.db exists"

# The directory must be the caller's and not writable by others.
W="$T/writable"
mkdir "$W" && chmod 770 "$W"
check_exit "a group-writable directory is refused" 1 "$AG" init --dir "$W"
check_contains "names the path and mode" "$ERR" "$W is writable by other users (mode 770)"
check_eq "its mode is left alone" "$(stat -c %a "$W")" "770"
chmod 707 "$W"
check_exit "a world-writable directory is refused" 1 "$AG" init --dir "$W"
check_eq "nothing was written there" "$(ls -A "$W")" ""
if [ "$(id -u)" = 0 ]; then
    O="$T/other"
    mkdir -m 700 "$O" && chown 65534 "$O"
    check_exit "a directory owned by another user is refused" 1 "$AG" init --dir "$O"
    check_contains "names the owner" "$ERR" "$O is owned by uid 65534"
fi
N="$T/new/nested"
(umask 077 && check_exit "init creates a nested directory under umask 077" 0 "$AG" init --dir "$N")
check_eq "the created directory is 0700" "$(stat -c %a "$N")" "700"
# Without --dir or $AGENTGOV_DIR, a missing or relative $HOME must not put the data
# directory under the current one; a relative $XDG_DATA_HOME is ignored (XDG spec).
mkdir -p "$T/cwd"
for h in unset "" rel; do
    if [ "$h" = unset ]; then envs=(-u HOME); else envs=(HOME="$h"); fi
    check_exit "HOME ${h:-empty}: init refuses" 1 env -C "$T/cwd" -u AGENTGOV_DIR -u XDG_DATA_HOME "${envs[@]}" "$AG" init
    check_contains "HOME ${h:-empty}: says to set --dir or AGENTGOV_DIR" "$ERR" "set --dir or \$AGENTGOV_DIR"
done
check_eq "nothing was created in the current directory" "$(ls -A "$T/cwd")" ""
(cd "$T/cwd" && env -u AGENTGOV_DIR XDG_DATA_HOME=rel HOME="$T/home" "$AG" init >/dev/null 2>&1)
check_exit "a relative XDG_DATA_HOME is ignored for \$HOME/.local/share" 0 test -s "$T/home/.local/share/agentgov/ledger.db"
check_eq "and nothing under the current directory" "$(ls -A "$T/cwd")" ""
check_exit "init --help" 0 "$AG" init --help
check_contains "help names the files" "$OUT" "ledger.hmac"
finish
