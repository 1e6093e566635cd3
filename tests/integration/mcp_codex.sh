#!/usr/bin/env bash
# The real Codex CLI (npm @openai/codex) with the official filesystem MCP server
# (npm @modelcontextprotocol/server-filesystem) in its config.toml ([mcp_servers.fs]),
# once directly and once behind `agentgov mcp proxy`, against a scripted OpenAI
# Responses server on loopback (model_server.py). As mcp_claude.sh does for Claude Code:
# without agentgov every tool is offered and a write outside the allowed directory
# happens; through the gateway the allowed read's result reaches the model, the write
# is refused with agentgov's reason (the file untouched), the tools the policy does not
# name are never offered to the model, and the ledger verifies.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/real_clients.bash"
need_clients
NM=${NPM_BIN%/.bin}
NM=${NM%/npm/node_modules}/npm-mcp/node_modules
if ! bash "$SRC/scripts/npm-mcp-deps.sh" >"$T/npm-mcp.log" 2>&1; then
    if grep -qiE 'ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT|network|fetch failed' "$T/npm-mcp.log"; then
        echo "skip: the npm registry is unreachable, so the MCP servers cannot be installed"
        finish
    fi
    not_ok "scripts/npm-mcp-deps.sh installs the servers" "$(tail -5 "$T/npm-mcp.log")"
    finish
fi
FS_SERVER=$NM/@modelcontextprotocol/server-filesystem/dist/index.js

H=$T/home    # HOME
CH=$H/.codex # CODEX_HOME
D=$T/data    # agentgov's data directory
mkdir -p "$T/proj/allowed" "$T/proj/other" "$CH" "$D"
P=$(cd "$T/proj" && pwd -P)
R=${P#/}
"$AG" --dir "$D" init >/dev/null 2>&1 || not_ok "agentgov init"
cat >"$T/policy.yaml" <<YAML
version: 1
mcp:
  resources: {"fs.read_text_file": path, "fs.write_file": path, "fs.move_file": source}
rules:
  - {id: fs-read, effect: allow, actions: [mcp.fs.read_text_file], resources: ['$R/**'], min_tier: 1}
  - {id: fs-write, effect: allow, actions: [mcp.fs.write_file], resources: ['$R/allowed/**'], min_tier: 1}
YAML

# codex_config COMMAND ARGS_TOML: config.toml with the scripted provider and server fs.
codex_config() {
    cat >"$CH/config.toml" <<EOF
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

[mcp_servers.fs]
command = "$1"
args = [$2]
EOF
}

# run_codex NAME SCRIPT_JSON: one `codex exec` in $P.
run_codex() {
    start_model openai "$1" "$(script_file "$1" "$2")"
    (cd "$P" && HOME=$H CODEX_HOME=$CH AGENTGOV_HOOK_HELPER=0 timeout 90 "$NPM_BIN/codex" exec \
        -c "model_providers.mock.base_url=\"http://127.0.0.1:$MODEL_PORT/v1\"" \
        --skip-git-repo-check go >"$T/$1.out" 2>"$T/$1.err")
    local rc=$?
    stop_model
    [ $rc -eq 0 ] || not_ok "$1: codex exited $rc" "$(tail -c 400 "$T/$1.err")"
}

# mcp_tools NAME: the tools of namespace mcp__fs in Codex's first request to the model.
mcp_tools() {
    python3 -c 'import json,sys
for line in open(sys.argv[1]):
    body = json.loads(line.partition(" ")[2])
    for t in body.get("tools", []):
        if t.get("name") == "mcp__fs":
            print(" ".join(sorted(x.get("name", "?") for x in t.get("tools", []))))
    break' "$T/$1.requests"
}

reset_files() {
    echo "allowed content 42" >"$P/allowed/a.txt"
    echo "keep me" >"$P/other/keep.txt"
    rm -f "$P/allowed/new.txt" "$P/other/moved.txt"
}

SCRIPT='{"turns":[
 {"tool":"read_text_file","namespace":"mcp__fs","input":{"path":"'"$P"'/allowed/a.txt"}},
 {"tool":"write_file","namespace":"mcp__fs","input":{"path":"'"$P"'/other/keep.txt","content":"overwritten"}},
 {"tool":"write_file","namespace":"mcp__fs","input":{"path":"'"$P"'/allowed/new.txt","content":"written"}},
 {"tool":"move_file","namespace":"mcp__fs","input":{"source":"'"$P"'/other/keep.txt","destination":"'"$P"'/other/moved.txt"}}]}'

# ---- without agentgov -----------------------------------------------------------------
reset_files
codex_config node "\"$FS_SERVER\", \"$P\""
run_codex direct "$SCRIPT"
check_contains "direct: Codex ran the MCP server (the read returned the file)" "$(result 0)" \
    "allowed content 42"
check_contains "direct: every tool of the server is offered to the model" "$(mcp_tools direct)" "move_file"
check_eq "direct: the file outside the allowed directory was written, then moved" \
    "$(cat "$P/other/moved.txt" 2>&1)" "overwritten"

# ---- through agentgov mcp proxy ----------------------------------------------------------
reset_files
codex_config "$AG" "\"mcp\", \"proxy\", \"--dir\", \"$D\", \"--policy\", \"$T/policy.yaml\", \"--tier\", \"1\",
        \"--server\", \"fs\", \"--\", \"node\", \"$FS_SERVER\", \"$P\""
run_codex gated "$SCRIPT"
check_contains "gated: the allowed read's result reaches the model" "$(result 0)" "allowed content 42"
check_contains "gated: the write outside the allowed path is refused, the model told why" \
    "$(result 1)" "agentgov denied mcp.fs.write_file on $R/other/keep.txt at tier 1: default_deny"
check_eq "gated: the file outside is untouched" "$(cat "$P/other/keep.txt")" "keep me"
check_contains "gated: a write inside the allowed path goes through" "$(result 2)" "Successfully wrote"
check_eq "gated: only the tools the policy allows are offered to the model" \
    "$(mcp_tools gated)" "read_text_file write_file"
check_contains "gated: the forbidden tool's call does not run: Codex has no such tool" \
    "$(result 3)" "unsupported call"
check_eq "gated: ... the file is not moved" "$(ls "$P/other")" "keep.txt"
check_eq "gated: each call the gateway saw is ledgered with its decision" \
    "$(sqlite3 "$D/ledger.db" "select group_concat(decision || ' ' || action || ' ' || resource, '|') from ledger where kind='decision'")" \
    "allow mcp.fs.read_text_file $R/allowed/a.txt|deny mcp.fs.write_file $R/other/keep.txt|allow mcp.fs.write_file $R/allowed/new.txt"
check_exit "the ledger verifies" 0 "$AG" --dir "$D" ledger verify
finish
