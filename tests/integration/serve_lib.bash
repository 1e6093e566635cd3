# Shared by the tests/integration/serve*.sh scripts (sourced after lib.sh; named
# .bash so that tests/run.sh does not run it as a suite).
PY="$SRC/tests/integration/serve_common.py"
D="$T/data"

# init_data_dir: `agentgov init` in $D; sets ROOT (the root token made by init).
init_data_dir() {
    "$AG" --dir "$D" init >"$T/init.log" 2>&1 || { not_ok "init" "$(cat "$T/init.log")"; finish; }
    ROOT=$(cat "$D/root.token" 2>/dev/null)
    [ -n "$ROOT" ] || { not_ok "init made no root token"; finish; }
}

# start_daemon ARGS...: `agentgov serve` on a free port; sets PORT, DPID, BASE.
start_daemon() {
    PORT=$(free_port)
    BASE="http://127.0.0.1:$PORT"
    "$AG" --dir "$D" serve --listen "127.0.0.1:$PORT" "$@" 2>>"$T/daemon.log" &
    DPID=$!
    PIDS_TO_KILL+=("$DPID")
    for _ in $(seq 200); do
        curl -s -o /dev/null "$BASE/v1/sys/health" && return 0
        sleep 0.05
    done
    not_ok "daemon did not start" "$(tail -5 "$T/daemon.log")"
}

# stop_daemon: SIGTERM and wait; sets DRC to the exit status.
stop_daemon() {
    kill -TERM "$DPID" 2>/dev/null
    wait "$DPID"
    DRC=$?
}

# req METHOD PATH [CURL ARGS...]: sets CODE and BODY.
req() {
    local m=$1 p=$2
    shift 2
    BODY=$(curl -s -X "$m" -o - -w '\n%{http_code}' "$@" "$BASE$p")
    CODE=${BODY##*$'\n'}
    BODY=${BODY%$'\n'*}
}

# jget JSON EXPR: a Python expression over the parsed JSON `j`, printed.
jget() {
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# setup_agent AGENT TIER [TTL] [PHASE] [SCOPE]: prints the agent's token.
setup_agent() {
    python3 "$PY" setup "$BASE" "$ROOT" "$@"
}
