#!/usr/bin/env bash
# The hook helper (`agentgov hook helper`, docs/hooks.md): the first event starts it,
# it answers every recorded event with the same bytes, exit status and ledger rows as a
# hook that decides in its own process, it follows edits of the policy and the config,
# decides in the hook's working directory and with its HOME, and it gets out of the way
# when it is killed, stopped, idle, from another build, or its data directory is gone.
source "$(dirname "$0")/lib.sh"
EV="$SRC/tests/data/hooks"
unset AGENTGOV_HOOK_HELPER
A=$T/inproc # decided in process only
H=$T/helper # decided by the helper
mkdir -p "$A" "$H"
chmod 700 "$A" "$H"
"$AG" --dir "$H" init >/dev/null 2>&1 || echo "init failed"
# The same keys and config in both, so that the two ledgers can be compared row by row.
cp "$H"/config "$A"/

helper_pid() {
    "$AG" --dir "$1" hook helper status 2>/dev/null | sed -n 's/^hook helper: pid \([0-9]*\),.*/\1/p'
}
served() {
    "$AG" --dir "$1" hook helper status 2>/dev/null | sed -n 's/.* \([0-9]*\) events answered.*/\1/p'
}
# wait_helper DIR [OLD_PID]: until a helper (other than OLD_PID) answers, at most 5 s.
wait_helper() {
    for _ in $(seq 100); do
        local p
        p=$(helper_pid "$1")
        [ -n "$p" ] && [ "$p" != "${2:-}" ] && return 0
        sleep 0.05
    done
    return 1
}
# wait_gone PID: until the process is gone, at most 5 s.
wait_gone() {
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}
inproc() { AGENTGOV_HOOK_HELPER=0 "$AG" --dir "$A" hook "$@"; }
q() { sqlite3 "$1/ledger.db" "$2"; }

# ---- the first event starts a helper --------------------------------------------------
check_exit "no helper before the first event" 4 "$AG" --dir "$H" hook helper status
check_contains "status says none runs" "$OUT" "none runs"
check_exit "first event, decided in process" 0 "$AG" --dir "$H" hook claude-code <"$EV/cc_bash_allow.json"
inproc claude-code <"$EV/cc_bash_allow.json" >/dev/null
wait_helper "$H"
check_eq "the first event started a helper" "$(helper_pid "$H" | grep -c .)" 1
check_eq "its socket is the owner's only" "$(stat -c %a "$H/hook.sock")" 600
check_exit "a second helper for the same directory" 0 "$AG" --dir "$H" hook helper run
check_contains "says one already runs" "$ERR" "one already runs"

# ---- every recorded event: the same answer as in process -------------------------------
printf 'version: 1\nrules: [oops\n' >"$T/bad.yaml"
cases=()
for f in "$EV"/*.json; do
    n=$(basename "$f" .json)
    case $n in codex_*) cases+=("$n codex") ;; *) cases+=("$n claude-code") ;; esac
done
cases+=("cc_bash_allow claude-code --tier 0" "cc_write_inside claude-code --tier 0"
    "cc_read_system claude-code --agent ci-claude" "cc_bash_allow claude-code --policy $T/bad.yaml"
    "cc_bash_allow claude-code --policy $T/none.yaml" "cc_bash_allow claude-code --tier 3")
before=$(served "$H")
same=0
for c in "${cases[@]}"; do
    read -r -a argv <<<"$c"
    ev=${argv[0]}
    inproc "${argv[@]:1}" <"$EV/$ev.json" >"$T/a.out" 2>"$T/a.err"
    arc=$?
    "$AG" --dir "$H" hook "${argv[@]:1}" <"$EV/$ev.json" >"$T/h.out" 2>"$T/h.err"
    hrc=$?
    if [ "$arc" = "$hrc" ] && cmp -s "$T/a.out" "$T/h.out" && cmp -s "$T/a.err" "$T/h.err"; then
        same=$((same + 1))
    else
        not_ok "helper answers $c as in process" "in process: $arc $(cat "$T/a.out" "$T/a.err")" \
            "helper: $hrc $(cat "$T/h.out" "$T/h.err")"
    fi
done
check_eq "${#cases[@]} events: same answer, stderr and exit status" "$same" "${#cases[@]}"
check_eq "and the helper answered every one" "$(served "$H")" $((before + ${#cases[@]}))
# An empty flag is not a missing one: --policy "" fails closed in both modes.
for flag in --policy --agent; do
    inproc claude-code "$flag" "" <"$EV/cc_bash_allow.json" >"$T/a.out" 2>"$T/a.err"
    arc=$?
    "$AG" --dir "$H" hook claude-code "$flag" "" <"$EV/cc_bash_allow.json" >"$T/h.out" 2>"$T/h.err"
    hrc=$?
    check_eq "$flag '': the same exit status ($arc)" "$hrc" "$arc"
    check_eq "$flag '': the same answer" "$(cat "$T/h.out" "$T/h.err")" "$(cat "$T/a.out" "$T/a.err")"
    check_eq "$flag '' denies" "$hrc" 2
    check_contains "$flag '' is named" "$(cat "$T/h.err")" "$flag needs"
done
cols="agent_id,task_id,tier,phase,action,resource,decision,reason,confidence,success,error_type,error_message,data"
check_eq "the same ledger rows" "$(q "$H" "select $cols from ledger where kind='decision' order by seq")" \
    "$(q "$A" "select $cols from ledger where kind='decision' order by seq")"
check_exit "the helper's ledger verifies" 0 "$AG" --dir "$H" ledger verify

# ---- edits, working directory, HOME -----------------------------------------------------
cat >"$T/p.yaml" <<'EOF'
version: 1
rules:
  - {id: sh, effect: allow, actions: [shell.exec], resources: ['**'], min_tier: 0}
EOF
sleep 2.2 # settled (mtime and ctime over 2 s old): the helper keeps it compiled
check_exit "policy v1" 0 "$AG" --dir "$H" hook claude-code --policy "$T/p.yaml" <"$EV/cc_bash_allow.json"
check_contains "v1 allows" "$OUT" '"permissionDecision":"allow"'
check_exit "policy v1, from the cache" 0 "$AG" --dir "$H" hook claude-code --policy "$T/p.yaml" <"$EV/cc_bash_allow.json"
check_contains "still allows" "$OUT" '"permissionDecision":"allow"'
# Same size and the same mtime: only the ctime tells the edit apart.
sed 's/effect: allow/effect: deny /' "$T/p.yaml" >"$T/p2.yaml"
touch -r "$T/p.yaml" "$T/p2.yaml"
cat "$T/p2.yaml" >"$T/p.yaml"
touch -r "$T/p2.yaml" "$T/p.yaml"
check_exit "policy v2 (same size and mtime)" 0 "$AG" --dir "$H" hook claude-code --policy "$T/p.yaml" <"$EV/cc_bash_allow.json"
check_contains "v2 denies" "$OUT" '"permissionDecision":"deny"'
mkdir -p "$T/cwd"
cp "$T/p2.yaml" "$T/cwd/rel.yaml"
check_exit "relative --policy" 0 sh -c "cd '$T/cwd' && exec '$AG' --dir '$H' hook claude-code --policy rel.yaml" <"$EV/cc_bash_allow.json"
check_contains "taken in the hook's working directory" "$OUT" "rel.yaml:"
printf 'hook.tier = 1\n' >>"$H/config"
check_exit "config edited" 0 "$AG" --dir "$H" hook claude-code <"$EV/cc_read_system.json"
check_contains "the new hook.tier is used" "$OUT" "tier 1"
mkdir -p "$T/home1/notes" "$T/home2/notes"
cat >"$T/home.yaml" <<'EOF'
version: 1
rules:
  - {id: notes, effect: allow, actions: [file.read], resources: ['${HOME}/notes/**'], min_tier: 0}
EOF
printf '{"session_id":"s-home","hook_event_name":"PreToolUse","cwd":"%s","tool_name":"Read",
  "tool_input":{"file_path":"%s/home1/notes/a.txt"},"tool_use_id":"toolu_home"}\n' "$T" "$T" >"$T/home_ev.json"
check_exit "HOME=home1" 0 env HOME="$T/home1" "$AG" --dir "$H" hook claude-code --policy "$T/home.yaml" <"$T/home_ev.json"
check_contains "its notes are readable" "$OUT" '"permissionDecision":"allow"'
check_exit "HOME=home2" 0 env HOME="$T/home2" "$AG" --dir "$H" hook claude-code --policy "$T/home.yaml" <"$T/home_ev.json"
check_contains "home1's notes are not home2's" "$OUT" '"permissionDecision":"deny"'
# Without an absolute HOME, ~ is the passwd home of the hook's user (the helper has the
# uid from the socket), as in process.
pwhome=$(realpath "$(getent passwd "$(id -u)" | cut -d: -f6)")
mkdir -m 700 "$T/tilde"
n=$(served "$H")
for h in unset "" rel/home; do
    if [ "$h" = unset ]; then e=(env -u HOME); else e=(env HOME="$h"); fi
    "${e[@]}" AGENTGOV_HOOK_HELPER=0 "$AG" --dir "$T/tilde" hook claude-code --tier 2 --policy "$T/home.yaml" \
        <"$EV/cc_write_tilde.json" >"$T/a.out" 2>&1
    check_exit "HOME '$h': through the helper" 0 "${e[@]}" "$AG" --dir "$H" hook claude-code \
        --tier 2 --policy "$T/home.yaml" <"$EV/cc_write_tilde.json"
    check_contains "HOME '$h': ~ is the passwd home" "$OUT" "file.write on ${pwhome#/}/.bashrc"
    check_eq "HOME '$h': as in process" "$OUT" "$(cat "$T/a.out")"
done
check_eq "the helper answered those" "$(served "$H")" $((n + 3))

# ---- parallel events ----------------------------------------------------------------------
n0=$(q "$H" "select count(*) from ledger where kind='decision'")
PAR_IN=$EV/cc_sub_read.json run_parallel 16 "$T/par" "$AG" --dir "$H" hook claude-code
check_eq "16 parallel hooks exit 0" "$PAR_FAILED" 0
check_eq "16 parallel answers" "$(cat "$T"/par.* | grep -c '"permissionDecision":"allow"')" 16
check_eq "16 more decisions" "$(q "$H" "select count(*) from ledger where kind='decision'")" $((n0 + 16))

# ---- the ledger deleted under the helper: the next entry goes to a new one -------------
rm -f "$H"/ledger.db "$H"/ledger.db-wal "$H"/ledger.db-shm "$H"/ledger.db.checkpoint
check_exit "an event after the ledger was deleted" 0 "$AG" --dir "$H" hook claude-code <"$EV/cc_bash_allow.json"
check_eq "is in the new ledger" "$(q "$H" "select count(*) from ledger where kind='decision'")" 1
check_exit "which verifies" 0 "$AG" --dir "$H" ledger verify

# ---- a stopped helper: the event is decided in process, once -------------------------
hp=$(helper_pid "$H")
n0=$(q "$H" "select count(*) from ledger where kind='decision'")
kill -STOP "$hp"
check_exit "a stopped helper: the hook decides in process" 0 "$AG" --dir "$H" hook claude-code <"$EV/cc_bash_allow.json"
check_contains "allowed" "$OUT" '"permissionDecision":"allow"'
kill -CONT "$hp"
"$AG" --dir "$H" hook helper status >/dev/null # answered once the queue before it is done
check_eq "and the helper, resumed, does not record it again" \
    "$(q "$H" "select count(*) from ledger where kind='decision'")" $((n0 + 1))

# ---- a helper that dies after it was told to decide: deny, recorded by no one --------
# A 1.9 MB policy takes the helper about 200 ms of CPU to parse: it is killed meanwhile.
python3 -c '
print("version: 1\nrules:")
for i in range(20000):
    print("  - {id: r%d, effect: allow, actions: [shell.exec], resources: [\"c%d*\"], min_tier: 0}" % (i, i))
print("  - {id: sh, effect: allow, actions: [shell.exec], resources: [\"**\"], min_tier: 0}")' >"$T/big.yaml"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
n0=$(q "$H" "select count(*) from ledger where kind='decision'")
c0=$(cpu "$hp")
"$AG" --dir "$H" hook claude-code --policy "$T/big.yaml" <"$EV/cc_bash_allow.json" >"$T/die.out" 2>"$T/die.err" &
cp=$!
for _ in $(seq 300); do [ $(($(cpu "$hp") - c0)) -ge 4 ] && break; sleep 0.01; done
kill -KILL "$hp"
wait "$cp"
check_eq "a helper killed while deciding: the hook denies" "$?" 2
check_contains "and says why" "$(cat "$T/die.err")" "hook denied: hook helper: connection closed early"
check_eq "with nothing on stdout" "$(cat "$T/die.out")" ""
check_eq "and nobody recorded the event" "$(q "$H" "select count(*) from ledger where kind='decision'")" "$n0"
wait_gone "$hp"

# ---- killed, another build, stopped -------------------------------------------------------
check_exit "helper killed: the event is decided in process" 0 "$AG" --dir "$H" hook claude-code <"$EV/cc_bash_allow.json"
check_contains "allowed" "$OUT" '"permissionDecision":"allow"'
wait_helper "$H" "$hp"
check_exit "and a new helper answers" 0 "$AG" --dir "$H" hook helper status
hp=$(helper_pid "$H")
cp "$AG" "$T/agentgov-other"
check_exit "another build's event" 0 "$T/agentgov-other" --dir "$H" hook claude-code <"$EV/cc_bash_allow.json"
check_contains "is answered" "$OUT" '"permissionDecision":"allow"'
wait_gone "$hp"
check_eq "the old build's helper stops" "$(kill -0 "$hp" 2>/dev/null && echo running)" ""
wait_helper "$H" "$hp"
check_exit "and the new build's answers" 0 "$T/agentgov-other" --dir "$H" hook claude-code <"$EV/cc_bash_allow.json"
check_contains "through its helper" "$("$T/agentgov-other" --dir "$H" hook helper status)" "1 events answered"
check_exit "stop" 0 "$T/agentgov-other" --dir "$H" hook helper stop
check_contains "stop says so" "$OUT" "stopping"
for _ in $(seq 100); do [ -e "$H/hook.sock" ] || break; sleep 0.05; done
check_eq "the socket is removed" "$(ls "$H/hook.sock" 2>/dev/null)" ""
check_eq "the helper signed the chain as it stopped" \
    "$(q "$H" "select kind from ledger order by seq desc limit 1")" checkpoint
check_exit "the ledger verifies" 0 "$AG" --dir "$H" ledger verify
check_exit "stop when none runs" 0 "$AG" --dir "$H" hook helper stop
check_contains "says none runs" "$OUT" "none runs"

# ---- turned off; idle; data directory removed ----------------------------------------------
# A data directory whose socket path would not fit a socket address: no helper, every
# event decided in process.
L=$T/$(printf 'l%.0s' $(seq 100))
mkdir -p "$L"
check_exit "a data directory with a long path" 0 "$AG" --dir "$L" hook claude-code <"$EV/cc_bash_allow.json"
check_contains "is answered" "$OUT" '"permissionDecision":"allow"'
sleep 0.3
check_eq "and starts no helper" "$(ls "$L/hook.lock" 2>/dev/null | grep -c .)" 0

# A helper that was started takes <dir>/hook.lock, even when it then finds that it
# should not run: no lock file, no start.
for how in flag env config; do
    O=$T/off-$how
    mkdir -p "$O"
    case $how in
    flag) check_exit "--no-helper" 0 "$AG" --dir "$O" hook claude-code --no-helper <"$EV/cc_bash_allow.json" ;;
    env) check_exit "AGENTGOV_HOOK_HELPER=0" 0 env AGENTGOV_HOOK_HELPER=0 "$AG" --dir "$O" hook claude-code <"$EV/cc_bash_allow.json" ;;
    config)
        printf 'hook.helper_idle = 0\n' >"$O/config"
        check_exit "hook.helper_idle = 0" 0 "$AG" --dir "$O" hook claude-code <"$EV/cc_bash_allow.json"
        ;;
    esac
done
mkdir -p "$T/on"
"$AG" --dir "$T/on" hook claude-code <"$EV/cc_bash_allow.json" >/dev/null
sleep 0.5
check_eq "a hook starts a helper: it takes the lock" "$(ls "$T/on/hook.lock" 2>/dev/null | grep -c .)" 1
check_eq "none of the three started one" "$(ls "$T"/off-*/hook.lock 2>/dev/null | grep -c .)" 0
"$AG" --dir "$T/on" hook helper stop >/dev/null
I=$T/idle
mkdir -p "$I"
"$AG" --dir "$I" hook helper run --idle 1s 2>/dev/null &
ip=$!
wait_helper "$I"
check_exit "run --idle 1s answers" 0 "$AG" --dir "$I" hook helper status
wait_gone "$ip"
check_eq "and stops by itself when idle" "$(kill -0 "$ip" 2>/dev/null && echo running)" ""
check_exit "run with a bad --idle" 1 "$AG" --dir "$I" hook helper run --idle soon
check_contains "names the argument" "$ERR" "soon"
R=$T/removed
mkdir -p "$R"
"$AG" --dir "$R" hook helper run 2>/dev/null &
rp=$!
wait_helper "$R"
rm -rf "$R"
wait_gone "$rp"
check_eq "a helper whose data directory is removed stops" "$(kill -0 "$rp" 2>/dev/null && echo running)" ""
check_exit "helper --help" 0 "$AG" hook helper --help
check_contains "help names the subcommands" "$OUT" "run [--idle DURATION] | status | stop"
check_exit "helper with no subcommand" 1 "$AG" hook helper
check_exit "helper with an unknown subcommand" 1 "$AG" hook helper frob

finish
