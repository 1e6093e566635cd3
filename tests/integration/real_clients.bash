# Shared by real_claude.sh and real_codex.sh: the real coding-agent CLIs from npm
# (scripts/npm-deps.sh, cached under the build directory) driven by a scripted model
# server on loopback (model_server.py). Source it after lib.sh.
case ${AGENTGOV_BUILD:-build} in /*) NPM_BIN=$AGENTGOV_BUILD ;; *) NPM_BIN=$SRC/${AGENTGOV_BUILD:-build} ;; esac
NPM_BIN=$NPM_BIN/npm/node_modules/.bin

# need_clients: installs the CLIs (skipped when present); without npm's registry the
# suite is skipped with a clear message (CI has it, so it runs there).
need_clients() {
    if ! bash "$SRC/scripts/npm-deps.sh" >"$T/npm.log" 2>&1; then
        if grep -qiE 'ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT|network|fetch failed' "$T/npm.log"; then
            echo "skip: the npm registry is unreachable, so the real clients cannot be installed:"
            tail -3 "$T/npm.log" | sed 's/^/    /'
            finish
        fi
        not_ok "scripts/npm-deps.sh installs the clients" "$(tail -5 "$T/npm.log")"
        finish
    fi
}

# script_file NAME JSON: writes a model script; prints its path.
script_file() {
    printf '%s\n' "$2" >"$T/$1.script.json"
    echo "$T/$1.script.json"
}

# start_model API NAME SCRIPT: a fresh model server for one client run; sets MODEL_PORT
# and RESULTS (the file of tool results the client sent back); every request the client
# made is kept in $T/NAME.requests (its path and body, one a line).
start_model() {
    local api=$1 name=$2 script=$3
    RESULTS=$T/$name.results.json
    rm -f "$T/$name.port"
    python3 "$SRC/tests/integration/model_server.py" --api "$api" --script "$script" \
        --results "$RESULTS" --port-file "$T/$name.port" --log "$T/$name.model.log" \
        --dump "$T/$name.requests" 2>>"$T/$name.model.log" &
    MODEL_PID=$!
    PIDS_TO_KILL+=("$MODEL_PID")
    for _ in $(seq 100); do
        [ -s "$T/$name.port" ] && break
        sleep 0.05
    done
    MODEL_PORT=$(cat "$T/$name.port")
}

stop_model() {
    kill "$MODEL_PID" 2>/dev/null
    wait "$MODEL_PID" 2>/dev/null
}

# result TURN: what the client sent back for the model's tool call of that turn.
result() {
    python3 -c 'import json,sys
r=[x for x in json.load(open(sys.argv[1])) if x["turn"]==int(sys.argv[2])]
print(r[0]["content"] if r else "<no result for turn %s>" % sys.argv[2])' "$RESULTS" "$1"
}

# last_decision DIR: "decision answer action resource" of the newest hook entry.
last_decision() {
    sqlite3 "$1/ledger.db" "select decision || ' ' || coalesce(json_extract(data, '\$.answer'), '-') \
        || ' ' || action || ' ' || resource from ledger where kind='decision' order by seq desc limit 1"
}
