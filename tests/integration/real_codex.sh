#!/usr/bin/env bash
# The real Codex CLI (npm @openai/codex, pinned in scripts/npm-deps.sh) against a scripted
# OpenAI Responses server on loopback (a custom model provider in CODEX_HOME), with what
# `agentgov hook install codex` writes. For each bypass of issue 15 that the hook closes:
# without agentgov the harm happens, with it it does not, the model is told agentgov's
# reason (the function_call_output Codex sent back), and the ledger verifies.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/real_clients.bash"
need_clients

P=$T/proj  # the project Codex runs in
H=$T/home  # HOME
CH=$H/.codex # CODEX_HOME: Codex's default, ~/.codex
D=$T/data  # agentgov's data directory
mkdir -p "$P" "$H/.ssh" "$CH" "$D"
chmod 700 "$D"
echo "not a key" >"$H/.ssh/id_rsa"
cat >"$CH/config.toml" <<'EOF'
# the user's own settings: hook install keeps them
model = "test-model"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.mock]
name = "scripted model server"
base_url = "http://127.0.0.1:9/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
EOF
export PATH="$NPM_BIN:$PATH"

# run_codex NAME SCRIPT_JSON [codex exec args...]: one `codex exec` in $P (or $RUN_IN).
run_codex() {
    local name=$1 script=$2
    shift 2
    start_model openai "$name" "$(script_file "$name" "$script")"
    (cd "${RUN_IN:-$P}" && HOME=$H CODEX_HOME=$CH AGENTGOV_HOOK_HELPER=0 timeout 60 codex exec \
        -c "model_providers.mock.base_url=\"http://127.0.0.1:$MODEL_PORT/v1\"" \
        --skip-git-repo-check "$@" >"$T/$name.out" 2>"$T/$name.err")
    local rc=$?
    stop_model
    [ $rc -eq 0 ] || not_ok "$name: codex exited $rc" "$(tail -c 400 "$T/$name.err")"
}

HOOK_JSON='{"hooks":{"PreToolUse":[{"matcher":"*","hooks":[{"type":"command","command":"'"$AG"' --dir '"$D"' hook codex"}]}]}}'
# Codex itself refuses `rm -rf`; writing a .env file is what the shipped policy denies.
DOTENV='{"turns":[{"tool":"exec_command","input":{"cmd":"printf pwned > .env"}}]}'
TTY='{"turns":[{"tool":"exec_command","input":{"cmd":"bash","tty":true,"yield_time_ms":300}},
 {"tool":"write_stdin","input":{"session_id":0,"chars":"rm -rf victim2; exit\n","yield_time_ms":800},
  "from_result":{"turn":0,"regex":"session ID (\\d+)","field":"session_id"}}]}'

# ---- an untrusted hook does not run --------------------------------------------------------
# The documented hooks.json alone: Codex skips the hook without a word.
printf '%s\n' "$HOOK_JSON" >"$CH/hooks.json"
run_codex untrusted "$DOTENV" go
check_eq "untrusted hook: .env is written" "$(cat "$P/.env" 2>&1)" "pwned"
rm -f "$P/.env"
check_not_contains "untrusted hook: Codex never ran it" "$(cat "$T/untrusted.err")" "hook: PreToolUse"
check_exit "doctor: untrusted" 2 env HOME="$H" CODEX_HOME="$CH" "$AG" hook doctor codex --project "$P"
check_contains "doctor says untrusted" "$OUT" "FAIL codex: the hook is untrusted"
check_contains "doctor says the terminal is on" "$OUT" "FAIL codex: unified_exec_tty is on"

# ---- the interactive terminal: commands typed through write_stdin reach no hook ----------
mkdir -p "$P/victim2"
run_codex tty_on "$TTY" --dangerously-bypass-hook-trust go
check_contains "tty on: the hook saw only the shell" "$(last_decision "$D")" "shell.exec bash"
check_eq "tty on: rm -rf typed into the terminal ran" "$(ls "$P" | grep -c '^victim2$')" 0

# ---- hook install codex: trusted, tty off, settings kept ---------------------------------
check_exit "install without codex" 1 env HOME="$H" CODEX_HOME="$CH" "$AG" --dir "$D" hook install codex --client "$T/no-codex"
check_contains "install without codex: says so" "$ERR" "cannot run '$T/no-codex'"
check_contains "install without codex: the hook is untrusted" "$ERR" "Codex will skip it until it is trusted"
check_exit "install" 0 env HOME="$H" CODEX_HOME="$CH" "$AG" --dir "$D" hook install codex --project "$P"
check_contains "install: trusted" "$OUT" "trusted the hook in Codex"
check_contains "install: tty off" "$OUT" "unified_exec_tty = false"
check_contains "install kept the user's comment" "$(cat "$CH/config.toml")" "# the user's own settings"
check_contains "install kept the provider" "$(cat "$CH/config.toml")" 'name = "scripted model server"'
check_exit "doctor after install" 0 env HOME="$H" CODEX_HOME="$CH" "$AG" hook doctor codex --project "$P"
check_contains "doctor: trusted" "$OUT" "(trusted)"
check_contains "doctor: tty off" "$OUT" "ok   codex: unified_exec_tty is off"

run_codex trusted "$DOTENV" go
check_eq "installed hook: .env is not written" "$(ls -A "$P" | grep -c '^.env$')" 0
check_contains "installed hook: the model is told agentgov's reason" "$(result 0)" \
    "agentgov: denied by coding-agent.yaml:"
check_contains "installed hook: the ledger holds the deny" "$(last_decision "$D")" "deny deny "
check_contains "installed hook: of the .env write" "$(last_decision "$D")" ".env"

mkdir -p "$P/victim2"
run_codex tty_off "$TTY" go
check_contains "tty off: Codex refuses the terminal" "$(result 0)" "TTY execution is disabled"
check_eq "tty off: nothing typed ran" "$(ls "$P" | grep -c '^victim2$')" 1

# ---- an allow is no answer: Codex marked the hook failed on a bare allow -----------------
run_codex allowed '{"turns":[{"tool":"exec_command","input":{"cmd":"touch allowed-ran"}}]}' go
check_eq "allowed: the command ran" "$(ls "$P" | grep -c allowed-ran)" 1
check_contains "allowed: the hook completed" "$(cat "$T/allowed.err")" "hook: PreToolUse Completed"
check_not_contains "allowed: the hook did not fail" "$(cat "$T/allowed.err")" "PreToolUse Failed"
check_contains "allowed: the ledger holds allow, given as no objection" "$(last_decision "$D")" \
    "allow no-objection shell.exec touch"

# ---- shell commands are parsed: find -delete, credentials, the hook's own settings --------
# (Codex refuses `rm -f`-style commands itself; real_claude.sh has every rm spelling.)
mkdir -p "$H/.aws"
echo "aws_secret_access_key = SEKRIT-AWS" >"$H/.aws/credentials"
echo "machine example.com password SEKRIT-NETRC" >"$H/.netrc"
SHELLX=$(python3 -c 'import json, sys
ch = sys.argv[1]
print(json.dumps({"turns": [
    {"tool": "exec_command", "input": {"cmd": "find d6 -delete"}},
    {"tool": "exec_command", "input": {"cmd": "cat ~/.aws/credentials ~/.netrc"}},
    {"tool": "exec_command", "input": {"cmd": "printf %s > %s/hooks.json" % (chr(39) + "{\"hooks\":{}}" + chr(39), ch)}}]}))' "$CH")
cp "$CH/hooks.json" "$T/hooks.json.saved"
mkdir -p "$P/d6/x"
run_codex shell_without "$SHELLX" --dangerously-bypass-hook-trust -c features.hooks=false go
check_eq "shell, no hook: find -delete deleted its directory" "$(ls "$P" | grep -c '^d6$')" 0
check_contains "shell, no hook: the credentials were read" "$(result 1)" "SEKRIT-AWS"
check_eq "shell, no hook: Codex's hooks were emptied" "$(cat "$CH/hooks.json")" '{"hooks":{}}'
cp "$T/hooks.json.saved" "$CH/hooks.json"
mkdir -p "$P/d6/x"
run_codex shell_with "$SHELLX" go
check_eq "shell, hook: find -delete is denied" "$(ls "$P" | grep -c '^d6$')" 1
check_contains "shell, hook: find -delete, the model is told why" "$(result 0)" "agentgov: denied"
check_not_contains "shell, hook: the credentials were not read" "$(result 1)" "SEKRIT"
check_contains "shell, hook: the credentials read is a denied file.read" "$(result 1)" "file.read"
check_contains "shell, hook: Codex's hooks are intact" "$(cat "$CH/hooks.json")" "hook codex"
check_contains "shell, hook: the settings write is denied" "$(result 2)" "agentgov: denied"

# ---- today's tools -------------------------------------------------------------------------
TOOLS='{"turns":[{"tool":"view_image","input":{"path":"'"$H"'/.ssh/id_rsa"}},
 {"tool":"view_image","input":{"path":"pic.png"}},
 {"tool":"get_goal","input":{}},
 {"tool":"close_agent","namespace":"multi_agent_v1","input":{"target":"nobody"}}]}'
run_codex tools "$TOOLS" go
check_contains "view_image of a key is a denied file.read" "$(result 0)" \
    "agentgov: denied by coding-agent.yaml:"
check_contains "view_image: the key's path is judged" "$(result 0)" "file.read on ${H#/}/.ssh/id_rsa"
check_not_contains "view_image in the project is allowed" "$(result 1)" "PreToolUse hook"
check_contains "view_image in the project: a file.read" "$(sqlite3 "$D/ledger.db" "select decision || ' ' || action from ledger where resource like '%/proj/pic.png'")" "allow file.read"
check_not_contains "get_goal is no unknown tool" "$(result 2)" "PreToolUse hook"
check_eq "close_agent: recorded with the agent's id" \
    "$(sqlite3 "$D/ledger.db" "select decision || ' ' || action || ' ' || resource from ledger where action='agent.close'")" \
    "allow agent.close nobody"

# ---- ${PROJECT} is the session's first cwd ---------------------------------------------------
# A policy that lets the agent read inside the project only; the session is resumed in
# another directory, whose files must stay outside the project.
cat >"$T/project-reads.yaml" <<'EOF'
version: 1
rules:
  - id: read-project
    effect: allow
    actions: [file.read]
    resources: ['${PROJECT}/**']
    min_tier: 0
  - id: shell
    effect: allow
    actions: [shell.exec]
    resources: ["**"]
    min_tier: 0
EOF
printf 'hook.policy = %s\n' "$T/project-reads.yaml" >"$D/config"
mkdir -p "$H/other"
FIRST='{"turns":[{"tool":"exec_command","input":{"cmd":"true"}}]}'
run_codex first "$FIRST" go
SID=$(sed -n 's/^session id: //p' "$T/first.err" | head -1)
check_contains "first run: a session id" "$SID" "-"
LATER='{"turns":[{"tool":"exec_command","input":{"cmd":"true"}},
 {"tool":"view_image","input":{"path":"'"$H"'/other/a.png"}}]}'
RUN_IN=$H/other run_codex later "$LATER" -C "$H/other" resume "$SID" again
check_contains "resumed elsewhere: the event's cwd moved" \
    "$(sqlite3 "$D/ledger.db" "select json_extract(data, '\$.cwd') || ' ' || json_extract(data, '\$.project') from ledger order by seq desc limit 1")" \
    "$H/other $P"
check_contains "resumed elsewhere: a read outside the first project is denied" "$(result 1)" \
    "agentgov: denied: no rule allows file.read on ${H#/}/other/a.png"
rm -f "$D/config"

# ---- PermissionRequest: leaving the sandbox needs a person, or a rule that says so --------
# `codex exec` never asks (its approval policy is fixed at never); the IDE protocol
# (codex app-server) with approvals on request and the workspace-write sandbox does, and
# codex_app_client.py plays the person: it records each approval request and declines it.
E=$T/escape
mkdir -p "$E/codex" "$E/proj" "$E/data"
chmod 700 "$E/data"
ESCAPE='{"turns":[{"tool":"exec_command","input":{"cmd":"touch '"$E"'/escaped","sandbox_permissions":"require_escalated","justification":"needed"}}]}'
printf '{"hooks":{"PermissionRequest":[{"matcher":"*","hooks":[{"type":"command","command":"%s --dir %s hook codex --permission-requests policy"}]}]}}\n' \
    "$AG" "$E/data" >"$E/codex/hooks.json"
# run_escape NAME: one turn through the app server; its summary in $E/NAME.json.
run_escape() {
    start_model openai "$1" "$(script_file "$1" "$ESCAPE")"
    sed -n '1,12p' "$CH/config.toml" | sed "s#127.0.0.1:9/v1#127.0.0.1:$MODEL_PORT/v1#" >"$E/codex/config.toml"
    sed -i '/^approval_policy\|^sandbox_mode/d' "$E/codex/config.toml"
    HOME=$H CODEX_HOME=$E/codex AGENTGOV_HOOK_HELPER=0 timeout 60 \
        python3 "$SRC/tests/integration/codex_app_client.py" codex "$E/proj" "$E/$1.json"
    stop_model
}
run_escape escape_shipped
check_contains "escape, shipped policy: the turn completed" "$(cat "$E/escape_shipped.json")" '"completed": true'
check_contains "escape, shipped policy: a person was asked" "$(cat "$E/escape_shipped.json")" \
    '"approvals": ["item/commandExecution/requestApproval"]'
check_eq "escape, shipped policy: nothing ran outside the sandbox" "$(ls "$E" | grep -c escaped)" 0
check_contains "escape, shipped policy: recorded as left to Codex" "$(last_decision "$E/data")" \
    "allow deferred shell.exec touch"
# A policy that names sandbox.escape answers it: here it lets this command out.
cat >"$E/escape.yaml" <<'EOF'
version: 1
rules:
  - id: shell
    effect: allow
    actions: [shell.exec]
    resources: ["**"]
    min_tier: 0
  - id: writes
    effect: allow
    actions: [file.write]
    resources: ["**"]
    min_tier: 0
  - id: escape-touch
    effect: allow
    actions: [sandbox.escape]
    resources: ["touch **"]
    min_tier: 0
EOF
printf 'hook.policy = %s\n' "$E/escape.yaml" >"$E/data/config"
run_escape escape_rule
check_contains "escape, a rule names it: nobody was asked" "$(cat "$E/escape_rule.json")" '"approvals": []'
check_eq "escape, a rule names it: the command ran outside the sandbox" "$(ls "$E" | grep -c escaped)" 1
check_contains "escape, a rule names it: recorded as allowed" "$(last_decision "$E/data")" "allow allow"
check_exit "escape: the ledger verifies" 0 "$AG" --dir "$E/data" ledger verify

# ---- under the kernel backstop: what the hook cannot see ------------------------------------
# `agentgov run --profile coding-agent -- codex ...` (docs/sandbox.md): code an interpreter
# runs is no shell command the hook can judge, but the kernel keeps Codex's hook settings
# read-only; the hook inside still judges, and remembers the session's project.
if "$AG" sandbox show --profile coding-agent --project "$P" >/dev/null 2>&1; then
    # Codex has been used before (the runs above): its state (sessions, databases)
    # exists. The backstop grants the entries of ~/.codex one by one (its settings are
    # carved out read-only), so a first run inside it could not create them.
    # A script the agent wrote and then runs: the hook sees only `python3 scripts/x.py`.
    # (In a subdirectory: the backstop grants the project root's entries one by one when
    # the policy carves files out of it, so a new file at the root is refused.)
    mkdir -p "$P/scripts"
    BACKSTOP=$(python3 -c 'import json, sys
hooks = sys.argv[1] + "/hooks.json"
print(json.dumps({"turns": [
    {"tool": "exec_command", "input": {"cmd": "echo \"open(%r, %r)\" > scripts/x.py" % (hooks, "w")}},
    {"tool": "exec_command", "input": {"cmd": "python3 scripts/x.py"}},
    {"tool": "exec_command", "input": {"cmd": "printf pwned > .env"}}]}))' "$CH")
    start_model openai backstop "$(script_file backstop "$BACKSTOP")"
    (cd "$P" && HOME=$H CODEX_HOME=$CH AGENTGOV_HOOK_HELPER=0 timeout 60 \
        "$AG" --dir "$D" run --profile coding-agent --project "$P" --connect-port "$MODEL_PORT" -- \
        codex exec -c "model_providers.mock.base_url=\"http://127.0.0.1:$MODEL_PORT/v1\"" \
        --skip-git-repo-check go >"$T/backstop.out" 2>"$T/backstop.err")
    check_eq "backstop: codex ran" "$?" 0
    stop_model
    check_not_contains "backstop: the hook lets the script be written" "$(result 0)" "PreToolUse hook"
    check_not_contains "backstop: the hook lets the script run" "$(result 1)" "PreToolUse hook"
    check_contains "backstop: the script cannot rewrite the hook settings" "$(result 1)" "Permission denied"
    check_contains "backstop: the hook settings are intact" "$(cat "$CH/hooks.json")" "hook codex"
    check_contains "backstop: the hook still judges inside" "$(result 2)" "agentgov: denied by coding-agent.yaml:"
    SIDB=$(sed -n 's/^session id: //p' "$T/backstop.err" | head -1)
    check_eq "backstop: the hook remembered the session's project" \
        "$(cat "$D/hook-sessions/$SIDB" 2>&1)" "$P"
else
    echo "skip: no kernel backstop here (agentgov sandbox show --profile coding-agent fails)"
fi

# ---- --managed: /etc/codex/requirements.toml, which the user cannot switch off -------------
# Root only: in a private mount namespace with an overlay on /etc, so that the machine's
# own /etc is never written. The user's config switches hooks off and trusts nothing.
M=$T/managed
mkdir -p "$M/up" "$M/work" "$M/codex" "$M/proj"
sed -n '1,12p' "$CH/config.toml" >"$M/codex/config.toml"
printf '\n[features]\nhooks = false\n' >>"$M/codex/config.toml"
if [ "$(id -u)" -eq 0 ] && unshare -m --propagation private true 2>/dev/null; then
    start_model openai managed "$(script_file managed "$DOTENV")"
    cat >"$M/inner.sh" <<INNER
mount -t overlay overlay -o lowerdir=/etc,upperdir=$M/up,workdir=$M/work /etc || exit 99
export HOME=$H CODEX_HOME=$M/codex AGENTGOV_HOOK_HELPER=0 PATH="$PATH"
"$AG" --dir "$D" hook install codex --managed >"$M/install.out" 2>&1 || exit 98
cd "$M/proj" && "$AG" hook doctor codex >"$M/doctor.out" 2>&1
timeout 60 codex exec -c 'model_providers.mock.base_url="http://127.0.0.1:$MODEL_PORT/v1"' \
    --skip-git-repo-check go >"$M/exec.out" 2>"$M/exec.err"
INNER
    unshare -m --propagation private bash "$M/inner.sh"
    rc=$?
    stop_model
    check_eq "managed: the namespace ran" "$rc" 0
    check_contains "managed: installed into requirements.toml" "$(cat "$M/install.out")" "/etc/codex/requirements.toml"
    check_contains "managed: doctor sees a managed hook" "$(cat "$M/doctor.out")" "(managed)"
    check_eq "managed: the user's hooks = false does not switch it off: .env not written" \
        "$(ls -A "$M/proj" | grep -c '^.env$')" 0
    check_contains "managed: the model is told agentgov's reason" "$(result 0)" "agentgov: denied by coding-agent.yaml:"
    check_eq "managed: the machine's /etc is untouched" "$(ls /etc/codex/requirements.toml 2>/dev/null)" ""
else
    echo "skip: --managed with the real Codex needs root and unshare (a private /etc overlay)"
fi

check_exit "the ledger verifies" 0 "$AG" --dir "$D" ledger verify
finish
