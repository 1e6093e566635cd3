#!/usr/bin/env bash
# `agentgov hook`: recorded Claude Code and Codex events (tests/data/hooks) through the
# real binary with the shipped coding-agent policy; checks the answer, the exit status
# and the ledger entry of every decision.
# Every event here is decided in the hook's own process; hook_helper.sh checks that the
# hook helper answers the same events with the same bytes and ledger rows.
source "$(dirname "$0")/lib.sh"
export AGENTGOV_HOOK_HELPER=0
EV="$SRC/tests/data/hooks"
D="$T/data"
mkdir -p "$D"
chmod 700 "$D"

# expect NAME AGENT DECISION [extra hook args...]: a PreToolUse answer with exit 0.
expect() {
    local name=$1 agent=$2 want=$3
    shift 3
    check_exit "$name exits 0" 0 "$AG" --dir "$D" hook "$agent" "$@" <"$EV/$name.json"
    check_contains "$name: PreToolUse answer" "$OUT" '"hookEventName":"PreToolUse"'
    check_contains "$name: $want" "$OUT" "\"permissionDecision\":\"$want\""
}

# Main agent, every tool, tier 2 (the default).
expect cc_bash_allow claude-code allow
expect cc_bash_dotdot claude-code allow # '..' in a command line is text, not a path escape
expect cc_bash_rm_rf claude-code deny
check_contains "rm -rf reason names the rule" "$OUT" "coding-agent.yaml:"
expect cc_bash_force_push claude-code deny
expect cc_bash_cat_env claude-code deny
expect cc_read_relative claude-code allow
check_contains "relative path made absolute" "$OUT" "home/dev/webapp/src/app.ts"
expect cc_read_system claude-code allow
expect cc_read_env claude-code deny
check_contains ".. normalised away" "$OUT" "home/dev/webapp/.env"
expect cc_read_ssh claude-code deny
expect cc_grep claude-code allow
expect cc_glob claude-code allow
expect cc_write_inside claude-code allow
expect cc_write_outside claude-code deny
expect cc_write_dotdot claude-code deny
check_contains "write outside: no rule allows it" "$OUT" "home/dev/other-project/notes.md"
expect cc_edit claude-code allow
expect cc_multiedit claude-code allow
expect cc_notebookedit claude-code allow
expect cc_edit_settings claude-code deny
expect cc_webfetch claude-code ask
expect cc_websearch claude-code ask
expect cc_task claude-code allow
expect cc_mcp claude-code ask
check_contains "mcp action" "$OUT" "mcp.github.create_issue"
expect cc_todowrite claude-code allow
expect cc_unknown_tool claude-code deny
check_contains "unknown tool: clear reason" "$OUT" "unknown tool 'FrobnicateDatabase'"
check_contains "unknown tool: how to allow it" "$OUT" "tool.FrobnicateDatabase"

# Subagents are governed exactly like the main agent.
expect cc_sub_read claude-code allow
expect cc_sub_write_outside claude-code deny
expect cc_sub_bash_rm claude-code deny

# Tier from the flag: tier 0 reads only.
expect cc_read_relative claude-code allow --tier 0
expect cc_write_inside claude-code deny --tier 0
expect cc_bash_allow claude-code deny --tier 0

# PermissionRequest: decision.behavior allow|deny; ask leaves the prompt to the user.
check_exit "perm allow exits 0" 0 "$AG" --dir "$D" hook claude-code <"$EV/cc_perm_bash.json"
check_contains "perm allow" "$OUT" '"decision":{"behavior":"allow"}'
check_contains "perm event name" "$OUT" '"hookEventName":"PermissionRequest"'
check_exit "perm deny exits 0" 0 "$AG" --dir "$D" hook claude-code <"$EV/cc_perm_write_outside.json"
check_contains "perm deny" "$OUT" '"behavior":"deny"'
check_contains "perm deny message" "$OUT" '"message":"agentgov: denied'
check_exit "perm ask exits 0" 0 "$AG" --dir "$D" hook claude-code <"$EV/cc_perm_webfetch.json"
check_not_contains "perm ask: no decision" "$OUT" '"decision"'
check_contains "perm ask: message for the user" "$OUT" '"systemMessage"'

# Codex CLI: same fields and answers; apply_patch is a write of every file it names.
expect codex_bash codex allow
expect codex_patch_inside codex allow
expect codex_patch_outside codex deny
check_contains "patch: the outside file decides" "$OUT" "home/.bashrc"
check_exit "codex perm deny exits 0" 0 "$AG" --dir "$D" hook codex <"$EV/codex_perm_bash.json"
check_contains "codex perm deny" "$OUT" '"behavior":"deny"'
# Codex trims each patch line before it looks for a hunk header: so does the hook.
expect codex_patch_padded codex deny
check_contains "patch: a header after white space counts" "$OUT" "home/.bashrc"
expect codex_patch_env_padded codex deny
check_contains "patch: a trailing space is no part of the path" "$OUT" "home/dev/webapp/.env ("
# Codex takes "ask" on PreToolUse as unsupported and runs the tool: a deny for a person.
expect codex_mcp codex deny
check_contains "codex ask: a person must approve" "$OUT" "a person must approve this call"
check_contains "codex ask: the policy's ask rule" "$OUT" "rule_ask"

# A search reads everything below its directory, and what its glob names.
expect cc_grep_env_glob claude-code deny
check_contains "grep *.env: the glob's files" "$OUT" "home/dev/webapp/*.env (rule_deny"
expect cc_grep_aws_dir claude-code deny
check_contains "grep ~/.aws: all below it" "$OUT" ".aws/** (rule_deny"

# Without an absolute HOME, ~ is the passwd entry's home, where Codex and Node write.
pwhome=$(realpath "$(getent passwd "$(id -u)" | cut -d: -f6)")
check_exit "~ without HOME exits 0" 0 env -u HOME "$AG" --dir "$D" hook claude-code <"$EV/cc_write_tilde.json"
check_contains "~ without HOME: the passwd home" "$OUT" "file.write on ${pwhome#/}/.bashrc"
check_contains "~ without HOME: denied" "$OUT" '"permissionDecision":"deny"'

# Fail closed: exit 2, reason on stderr, nothing on stdout.
for bad in cc_malformed cc_unknown_event cc_no_tool_input cc_bash_no_command; do
    check_exit "$bad denies with exit 2" 2 "$AG" --dir "$D" hook claude-code <"$EV/$bad.json"
    check_contains "$bad: reason on stderr" "$ERR" "agentgov: hook denied"
    check_eq "$bad: no answer on stdout" "$OUT" ""
done
check_contains "unknown event named" "$(
    "$AG" --dir "$D" hook claude-code <"$EV/cc_unknown_event.json" 2>&1
)" "PostToolUse"
check_exit "empty stdin denies" 2 "$AG" --dir "$D" hook claude-code </dev/null
check_exit "unknown agent denies" 2 "$AG" --dir "$D" hook cursor <"$EV/cc_bash_allow.json"
printf 'version: 1\nrules: [oops\n' >"$T/bad.yaml"
check_exit "broken policy denies" 2 "$AG" --dir "$D" hook claude-code --policy "$T/bad.yaml" \
    <"$EV/cc_bash_allow.json"
check_contains "broken policy: file named" "$ERR" "bad.yaml"
check_exit "missing policy denies" 2 "$AG" --dir "$D" hook claude-code --policy "$T/none.yaml" \
    <"$EV/cc_bash_allow.json"
check_exit "bad tier denies" 2 "$AG" --dir "$D" hook claude-code --tier 9 <"$EV/cc_bash_allow.json"
check_exit "bad flag denies" 2 "$AG" hook claude-code --bogus --dir "$D" <"$EV/cc_bash_allow.json"
check_exit "--dir without its argument denies" 2 "$AG" hook claude-code --dir <"$EV/cc_bash_allow.json"
check_contains "--dir without its argument: named" "$ERR" "'--dir' needs an argument"
{ head -c $((64 << 20)) /dev/zero | tr '\0' S; echo S; } >"$T/big.json"
check_exit "an event over 64 MiB denies" 2 "$AG" --dir "$D" hook claude-code <"$T/big.json"
check_contains "over 64 MiB: named" "$ERR" "larger than"
rm -f "$T/big.json"
check_exit "an unreadable event denies" 2 "$AG" --dir "$D" hook claude-code <"$T"
check_exit "ledger in a missing dir denies" 2 "$AG" --dir "$T/nope/deeper" hook claude-code \
    <"$EV/cc_bash_allow.json"
check_contains "ledger failure named" "$ERR" "ledger"

# Configuration: hook.policy and hook.tier from <dir>/config when no flag is given.
C="$T/cfgdir"
mkdir -p "$C"
cat >"$T/strict.yaml" <<'EOF'
version: 1
rules:
  - id: reads-only
    effect: allow
    actions: [file.read]
    resources: ['${PROJECT}/**']
    min_tier: 0
EOF
printf 'hook.policy = %s\nhook.tier = 0\n' "$T/strict.yaml" >"$C/config"
check_exit "config policy: read in project" 0 "$AG" --dir "$C" hook claude-code <"$EV/cc_read_relative.json"
check_contains "config policy: allow" "$OUT" '"permissionDecision":"allow"'
check_contains "config policy: rule of the configured file" "$OUT" "strict.yaml:"
check_exit "config policy: bash" 0 "$AG" --dir "$C" hook claude-code <"$EV/cc_bash_allow.json"
check_contains "config policy: bash denied" "$OUT" '"permissionDecision":"deny"'
check_contains "config tier used" "$OUT" "tier 0"
check_exit "flag beats config" 0 "$AG" --dir "$C" hook claude-code --tier 3 <"$EV/cc_bash_allow.json"
check_contains "flag tier used" "$OUT" "tier 3"

# The ledger holds every decision with the tool's identity.
q() { sqlite3 "$D/ledger.db" "$1"; }
check_eq "every answered event is in the ledger" \
    "$(q "select count(*) from ledger where kind='decision' and error_type is null")" 43
check_eq "internal-error denials are recorded too" \
    "$(q "select count(*) from ledger where kind='decision' and decision='deny' and error_type is not null")" 13
check_eq "usage denials are recorded (unknown agent, bad tier, bad flag)" \
    "$(q "select count(*) from ledger where error_type='usage' and reason='invalid_request'")" 3
check_eq "an unknown agent is recorded under its name" \
    "$(q "select agent_id from ledger where error_message like 'unknown agent%'")" cursor
check_eq "input denials are recorded (too large, unreadable)" \
    "$(q "select count(*) from ledger where error_type='input'")" 2
check_eq "never the oversized event's text" \
    "$(q "select count(*) from ledger where instr(coalesce(error_message,'')||coalesce(data,''),'SSSS') > 0")" 0
check_eq "a Codex ask is recorded as the deny it answered, with the rule's reason" \
    "$(q "select decision||'|'||reason from ledger where json_extract(data,'$.tool_use_id')='call_k7'")" "deny|rule_ask"
check_eq "a broken policy is recorded as no_policy" \
    "$(q "select count(*) from ledger where reason='no_policy' and error_type='policy'")" 2
check_eq "subagent recorded under its own id" \
    "$(q "select count(*) from ledger where agent_id='a7e3b9d2c4f1'")" 3
check_eq "main agent recorded under the session id" \
    "$(q "select decision from ledger where json_extract(data,'$.tool_use_id')='toolu_01C2'")" deny
row=$(q "select action||'|'||resource||'|'||reason||'|'||json_extract(data,'$.tool_name')||'|'||json_extract(data,'$.hook_event_name')||'|'||json_extract(data,'$.agent_type') from ledger where json_extract(data,'$.tool_use_id')='toolu_01F2'")
check_eq "ledger row fields" "$row" "file.write|home/dev/.bashrc|default_deny|Write|PreToolUse|code-reviewer"
check_eq "tier recorded" "$(q "select tier from ledger where json_extract(data,'$.tool_use_id')='toolu_01C1' order by seq limit 1")" 2

# --agent names the agent in the ledger.
check_exit "--agent" 0 "$AG" --dir "$D" hook claude-code --agent ci-claude <"$EV/cc_read_system.json"
check_eq "--agent recorded" "$(q "select agent_id from ledger order by seq desc limit 1")" ci-claude

# Shell commands are parsed and judged (docs/hooks.md, "Shell commands"): the bypasses
# of issue 15, each with its ledger row.
expect cc_bash_rm_vrf claude-code deny
check_contains "rm -vrf: the canonical form" "$OUT" "shell.exec on rm --force --recursive --verbose"
check_contains "rm -vrf: the part named" "$OUT" "in: rm -vrf build"
expect cc_bash_cat_creds claude-code deny
check_contains "cat credentials: the file read" "$OUT" ".aws/credentials (rule_deny"
expect cc_bash_settings_redirect claude-code deny
check_contains "redirect into settings" "$OUT" "file.write on home/dev/webapp/.claude/settings.local.json"
expect cc_bash_glob_ssh claude-code deny
check_contains "a glob that could name a key" "$OUT" "the pattern could name files that rule names"
expect cc_bash_python_c claude-code ask
check_contains "interpreter code: opaque" "$OUT" "shell.opaque on code given to python3"
expect codex_exec_python_c codex deny
check_contains "codex: opaque is a deny" "$OUT" "Codex hooks cannot ask"
expect codex_shell_argv_settings codex deny
check_contains "codex argv: bash -lc judged inside" "$OUT" ".codex/hooks.json (rule_deny"
expect cc_bash_find_delete claude-code deny
check_contains "find -delete" "$OUT" "shell.exec on find -delete"
expect cc_bash_pipeline claude-code allow
row=$(q "select action||'|'||resource||'|'||reason from ledger where json_extract(data,'$.tool_use_id')='toolu_sh01'")
check_eq "ledger: rm -vrf row" "$row" "shell.exec|rm --force --recursive --verbose|rule_deny"
check_eq "ledger: the part of each request" \
    "$(q "select json_extract(data,'$.requests[0].part') from ledger where json_extract(data,'$.tool_use_id')='toolu_sh01'")" \
    "rm -vrf build"
row=$(q "select action||'|'||resource||'|'||reason from ledger where json_extract(data,'$.tool_use_id')='toolu_sh03'")
check_eq "ledger: settings redirect row" "$row" "file.write|home/dev/webapp/.claude/settings.local.json|rule_deny"
row=$(q "select decision||'|'||action||'|'||reason from ledger where json_extract(data,'$.tool_use_id')='call_sh06'")
check_eq "ledger: codex opaque recorded as the deny it answered" "$row" "deny|shell.opaque|rule_ask"
check_eq "ledger: a five-command line records every command" \
    "$(q "select count(distinct json_extract(r.value,'$.part')) from ledger, json_each(json_extract(data,'$.requests')) r where json_extract(data,'$.tool_use_id')='toolu_sh09'")" 5

# Parallel hooks (subagents run at the same time) all get an answer and a ledger entry,
# and the chain still verifies.
before=$(q "select count(*) from ledger")
PAR_IN=$EV/cc_sub_read.json run_parallel 16 "$T/par" "$AG" --dir "$D" hook claude-code
check_eq "16 parallel hooks exit 0" "$PAR_FAILED" 0
check_eq "16 parallel answers" "$(cat "$T"/par.* | grep -c '"permissionDecision":"allow"')" 16
check_eq "16 more ledger entries" "$(q "select count(*) from ledger")" $((before + 16))
check_exit "ledger verifies" 0 "$AG" --dir "$D" ledger verify

# A hook that crashes still denies (exit 2): Claude Code would take any other status as a
# non-blocking error and run the tool. The crash is a SIGSEGV sent while the hook waits
# for its event on stdin.
mkfifo "$T/stdin.fifo"
sleep 30 >"$T/stdin.fifo" &
holder=$!
"$AG" --dir "$D" hook claude-code <"$T/stdin.fifo" 2>"$T/crash.err" &
hp=$!
# Wait until the process catches SIGSEGV (bit 11 of SigCgt): its handler is in place.
for _ in $(seq 100); do
    cgt=$(awk '/^SigCgt:/ {print $2}' "/proc/$hp/status" 2>/dev/null)
    [ -n "$cgt" ] && (((16#$cgt >> 10) & 1)) && break
    sleep 0.05
done
kill -SEGV "$hp"
wait "$hp"
check_eq "a crashed hook exits 2 (deny)" "$?" 2
check_contains "and says why" "$(cat "$T/crash.err")" "hook denied: internal fault"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

finish
