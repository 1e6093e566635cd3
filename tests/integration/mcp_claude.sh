#!/usr/bin/env bash
# The real Claude Code (npm @anthropic-ai/claude-code) with `--mcp-config` naming the
# official filesystem server (npm @modelcontextprotocol/server-filesystem), once directly
# and once behind `agentgov mcp proxy`, against a scripted Anthropic Messages server on
# loopback (model_server.py). Without agentgov the model sees every tool and a write
# outside the allowed directory happens; through the gateway an allowed read's result
# reaches the model in its next request, the write is refused with agentgov's reason (the
# file untouched), a tool the policy does not name is absent from everything Claude Code
# sends the model, and the ledger holds each decision and verifies.
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

H=$T/home # Claude Code's HOME (~/.claude.json, ~/.claude)
D=$T/data # agentgov's data directory
mkdir -p "$T/proj/allowed" "$T/proj/other" "$H" "$D"
P=$(cd "$T/proj" && pwd -P)
R=${P#/}
"$AG" --dir "$D" init >/dev/null 2>&1 || not_ok "agentgov init"
cat >"$T/policy.yaml" <<YAML
version: 1
mcp:
  resources: {"fs.read_text_file": path, "fs.write_file": path, "fs.move_file": source}
rules:
  - id: fs-read
    effect: allow
    actions: [mcp.fs.read_text_file]
    resources: ['$R/**']
    min_tier: 1
  - id: fs-write
    effect: allow
    actions: [mcp.fs.write_file]
    resources: ['$R/allowed/**']
    min_tier: 1
YAML
# The same server for Claude Code: directly, and through the gateway.
cat >"$T/direct.json" <<JSON
{"mcpServers": {"fs": {"command": "node", "args": ["$FS_SERVER", "$P"]}}}
JSON
cat >"$T/gated.json" <<JSON
{"mcpServers": {"fs": {"command": "$AG", "args": ["mcp", "proxy", "--dir", "$D", "--policy",
  "$T/policy.yaml", "--tier", "1", "--server", "fs", "--", "node", "$FS_SERVER", "$P"]}}}
JSON

# run_claude NAME MCP_CONFIG SCRIPT_JSON: one `claude -p` in $P with only that MCP server.
run_claude() {
    start_model anthropic "$1" "$(script_file "$1" "$3")"
    (cd "$P" && HOME=$H ANTHROPIC_BASE_URL="http://127.0.0.1:$MODEL_PORT" \
        ANTHROPIC_API_KEY=dummy CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
        DISABLE_AUTOUPDATER=1 IS_SANDBOX=1 \
        timeout 90 "$NPM_BIN/claude" -p "go" --permission-mode bypassPermissions \
        --mcp-config "$2" --strict-mcp-config --output-format json >"$T/$1.out" 2>"$T/$1.err")
    local rc=$?
    stop_model
    [ $rc -eq 0 ] || not_ok "$1: claude exited $rc" "$(tail -c 400 "$T/$1.err")"
}

# mcp_tools NAME: the MCP tools of server fs named anywhere in the first request of the
# conversation Claude Code sent the model (its tool list, or the list of deferred tools
# in a system message), before the scripted model named any tool itself.
mcp_tools() {
    python3 -c 'import json,re,sys
for line in open(sys.argv[1]):
    body = json.loads(line.partition(" ")[2])
    if body.get("tools"):
        print(" ".join(sorted(set(re.findall(r"mcp__fs__[A-Za-z0-9_]+", json.dumps(body))))))
        break' "$T/$1.requests"
}

reset_files() {
    echo "allowed content 42" >"$P/allowed/a.txt"
    echo "keep me" >"$P/other/keep.txt"
    rm -f "$P/allowed/new.txt" "$P/other/moved.txt"
}

SCRIPT='{"turns":[
 {"tool":"mcp__fs__read_text_file","input":{"path":"'"$P"'/allowed/a.txt"}},
 {"tool":"mcp__fs__write_file","input":{"path":"'"$P"'/other/keep.txt","content":"overwritten"}},
 {"tool":"mcp__fs__write_file","input":{"path":"'"$P"'/allowed/new.txt","content":"written"}},
 {"tool":"mcp__fs__move_file","input":{"source":"'"$P"'/other/keep.txt","destination":"'"$P"'/other/moved.txt"}}]}'

# ---- without agentgov: every tool is offered, and the write outside happens ---------------
reset_files
run_claude direct "$T/direct.json" "$SCRIPT"
check_contains "direct: Claude Code ran the MCP server (the read returned the file)" "$(result 0)" \
    "allowed content 42"
check_contains "direct: every tool of the server is offered to the model" "$(mcp_tools direct)" \
    "mcp__fs__move_file"
check_eq "direct: the file outside the allowed directory was written, then moved" \
    "$(cat "$P/other/moved.txt" 2>&1)" "overwritten"

# ---- through agentgov mcp proxy ---------------------------------------------------------
reset_files
run_claude gated "$T/gated.json" "$SCRIPT"
check_contains "gated: the allowed read's result reaches the model in its next request" \
    "$(result 0)" "allowed content 42"
check_contains "gated: the write outside the allowed path is refused, the model told why" \
    "$(result 1)" "agentgov denied mcp.fs.write_file on $R/other/keep.txt at tier 1: default_deny"
check_eq "gated: ... as an error result" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[1]["is_error"])' "$RESULTS")" True
check_eq "gated: the file outside is untouched" "$(cat "$P/other/keep.txt")" "keep me"
check_contains "gated: a write inside the allowed path goes through" "$(result 2)" "Successfully wrote"
check_eq "gated: ... and happened" "$(cat "$P/allowed/new.txt" 2>&1)" "written"
check_eq "gated: only the tools the policy allows are offered to the model" \
    "$(mcp_tools gated)" "mcp__fs__read_text_file mcp__fs__write_file"
check_contains "gated: the forbidden tool's call does not run: Claude Code has no such tool" \
    "$(result 3)" "No such tool available: mcp__fs__move_file"
check_eq "gated: ... the file is not moved" "$(ls "$P/other")" "keep.txt"
check_eq "gated: each call the gateway saw is ledgered with its decision" \
    "$(sqlite3 "$D/ledger.db" "select group_concat(decision || ' ' || action || ' ' || resource, '|') from ledger where kind='decision'")" \
    "allow mcp.fs.read_text_file $R/allowed/a.txt|deny mcp.fs.write_file $R/other/keep.txt|allow mcp.fs.write_file $R/allowed/new.txt"
check_eq "gated: the server's 14 tools were pinned" \
    "$(sqlite3 "$D/ledger.db" "select (select count(*) from json_each(data, '\$.tools')) from ledger where reason='tools_pinned'")" 14
check_exit "the ledger verifies" 0 "$AG" --dir "$D" ledger verify
finish
