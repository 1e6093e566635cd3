#!/usr/bin/env bash
# A governed agent in shell, with curl only: AppRole login, bootstrap, the lifecycle
# phases, governed actions (each one decided and ledgered by the daemon before the
# answer), a heartbeat, and token revocation at the end.
#
#   examples/shell/agent.sh [--setup ROOT_TOKEN_FILE] [AGENT_ID]
#
# Environment: AGENTGOV_ADDR (default http://127.0.0.1:8200); AGENTGOV_CA_CERT, the CA
# certificate an https:// daemon's certificate is verified against (curl --cacert; curl
# never skips verification here); ROLE_ID and SECRET_ID
# when --setup is not given (issued by an operator). --setup plays the operator first:
# registers the agent with a packet, creates its AppRole role and a secret ID.
# Exit status: 0 when every step behaved as governed.
set -eu
ADDR=${AGENTGOV_ADDR:-http://127.0.0.1:8200}
CA=()
if [ -n "${AGENTGOV_CA_CERT:-}" ]; then CA=(--cacert "$AGENTGOV_CA_CERT"); fi
SETUP=""
if [ "${1:-}" = "--setup" ]; then
    SETUP=$2
    shift 2
fi
AGENT=${1:-shell-agent}
TASK="task-$AGENT"
TOKEN=""

# api METHOD PATH [JSON]: prints the body; fails on an unexpected HTTP status.
api() {
    local out code
    out=$(curl -sS "${CA[@]}" -X "$1" -H "X-Vault-Token: $TOKEN" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} -w '\n%{http_code}' "$ADDR$2")
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    case $code in
    200 | 204) printf '%s' "$out" ;;
    *)
        echo "agent.sh: $1 $2 -> $code $out" >&2
        return 1
        ;;
    esac
}
# field NAME: the first "NAME":"value" string in stdin (flat JSON is all we need).
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -n 1; }

if [ -n "$SETUP" ]; then
    echo "==> operator: register $AGENT, its AppRole role and a secret ID"
    TOKEN=$(tr -d '[:space:]' <"$SETUP")
    packet="{\"agent_id\":\"$AGENT\",\"task_id\":\"$TASK\",\"created_for\":\"examples/shell\",\
\"objective\":\"check the sandbox web hosts\",\"deliverables\":[],\"constraints\":{\"scope\":\
[\"sandbox/**\",\"docs/**\"],\"forbidden\":[\"prod.*\"],\"required_steps\":[]},\
\"success_criteria\":[],\"escalation_rules\":[],\"created_at\":\"2026-11-25T12:00:00Z\"}"
    api POST "/v1/agents/$AGENT" "{\"tier\":1,\"packet\":$packet}" >/dev/null
    api POST "/v1/auth/approle/role/$AGENT" '{"tier":1}' >/dev/null
    ROLE_ID=$(api GET "/v1/auth/approle/role/$AGENT/role-id" | field role_id)
    SECRET_ID=$(api POST "/v1/auth/approle/role/$AGENT/secret-id" '{}' | field secret_id)
fi

echo "==> AppRole login"
TOKEN=""
TOKEN=$(api POST /v1/auth/approle/login "{\"role_id\":\"$ROLE_ID\",\"secret_id\":\"$SECRET_ID\"}" |
    field client_token)
[ -n "$TOKEN" ] || { echo "agent.sh: login gave no token" >&2; exit 1; }

echo "==> bootstrap"
api POST "/v1/agents/$AGENT/bootstrap" "{\"task_id\":\"$TASK\"}" | field code

# act ACTION RESOURCE WANT: asks the daemon; fails unless the decision is WANT.
act() {
    local d
    d=$(api POST "/v1/agents/$AGENT/actions" "{\"action\":\"$1\",\"resource\":\"$2\"}" |
        field decision)
    printf '    %-12s %-18s -> %s\n' "$1" "$2" "$d"
    [ "$d" = "$3" ] || { echo "agent.sh: expected $3" >&2; return 1; }
}

for phase in PREFLIGHT PLAN; do
    echo "==> $phase"
    api POST "/v1/agents/$AGENT/transition" "{\"phase\":\"$phase\"}" >/dev/null
done
act docs.read docs/runbook allow
act ssh.exec sandbox/web/01 deny
echo "==> EXECUTE"
api POST "/v1/agents/$AGENT/transition" '{"phase":"EXECUTE","step":"check nginx"}' >/dev/null
act ssh.exec sandbox/web/01 allow
act ssh.exec prod/web/01 deny
api POST "/v1/agents/$AGENT/heartbeat" >/dev/null
for phase in VERIFY PACKAGE REPORT EXIT; do
    echo "==> $phase"
    api POST "/v1/agents/$AGENT/transition" "{\"phase\":\"$phase\"}" >/dev/null
done
echo "==> revoke the token"
api POST /v1/auth/token/revoke-self >/dev/null
echo "==> done: every step was governed"
