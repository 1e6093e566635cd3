#!/usr/bin/env bash
# The data directory as every command opens it (include/agentgov/home.h): what a command
# that needs only the policy leaves alone, where the store and the policy come from,
# and a bad config named by file:line whatever the command.
source "$(dirname "$0")/lib.sh"
export AGENTGOV_HOOK_HELPER=0
unset AGENTGOV_STORE AGENTGOV_DIR AGENTGOV_MASTER_KEY

# A command that needs only the policy opens nothing else: no ledger, no store.
E="$T/empty"
mkdir -m 700 "$E"
check_exit "check in an empty directory answers" 2 "$AG" --dir "$E" check --tier 1 --phase EXECUTE \
    --action file.read --resource src/main.c
check_eq "it created no ledger and no store" "$(ls -A "$E")" ""
check_exit "policy show likewise" 0 "$AG" --dir "$E" policy show
check_eq "still nothing" "$(ls -A "$E")" ""

D="$T/data"
check_exit "init" 0 "$AG" init --dir "$D"
PK="$SRC/examples/packets/deploy-web.json"

# The store: --store, else $AGENTGOV_STORE, else config `store`, else <dir>/state.db.
echo "store = sqlite:$T/from-config.db" >>"$D/config"
check_exit "a command uses the config's store" 0 "$AG" --dir "$D" agent register agent-alpha --tier 1 --packet "$PK"
check_exit "the config's store file was made" 0 test -s "$T/from-config.db"
check_exit "the agent is in that store" 0 "$AG" --dir "$D" agent status agent-alpha
check_contains "registered there" "$OUT" "registered  yes"
AGENTGOV_STORE="sqlite:$T/from-env.db" check_exit "AGENTGOV_STORE beats the config" 0 \
    "$AG" --dir "$D" agent status agent-alpha
check_contains "a store that has never seen the agent" "$OUT" "registered  no"
check_exit "the env's store file was made" 0 test -s "$T/from-env.db"
check_exit "--store beats both" 0 env AGENTGOV_STORE="sqlite:$T/from-env.db" \
    "$AG" --dir "$D" agent status agent-alpha --store "sqlite:$T/from-config.db"
check_contains "the flag's store has it" "$OUT" "registered  yes"

# The policy: --policy, else config `policy`, else <dir>/policy.yaml, else the default.
cp "$SRC/policies/default.yaml" "$T/mine.yaml"
check_exit "check with the default policy" 2 "$AG" --dir "$D" check --json --tier 1 \
    --phase EXECUTE --action file.read --resource src/main.c
check_contains "names the shipped policy" "$OUT" "policies/default.yaml"
echo "policy = $T/mine.yaml" >>"$D/config"
check_exit "check with the config's policy" 2 "$AG" --dir "$D" check --json --tier 1 \
    --phase EXECUTE --action file.read --resource src/main.c
check_contains "names the config's policy" "$OUT" "$T/mine.yaml"
echo "not: [a policy" >"$T/broken.yaml"
check_exit "--policy beats the config" 1 "$AG" --dir "$D" check --tier 1 --phase EXECUTE \
    --action file.read --resource src/main.c --policy "$T/broken.yaml"
check_contains "and names the file it could not load" "$ERR" "$T/broken.yaml"

# A bad config: every command that reads it names file:line and changes nothing.
B="$T/bad"
check_exit "init another" 0 "$AG" init --dir "$B"
printf '# ok\nserver.threads = 999\n' >>"$B/config"
CL=$(grep -n '^server.threads = 999' "$B/config" | cut -d: -f1)
for cmd in "agent status agent-alpha" "ledger checkpoint" "token lookup" "check --tier 1 --phase EXECUTE --action file.read --resource x"; do
    # shellcheck disable=SC2086
    "$AG" --dir "$B" $cmd >"$T/out" 2>"$T/err"
    check_contains "bad config: $cmd names file:line" "$(cat "$T/err")" "$B/config:$CL"
done
before=$(sha256sum <"$B/ledger.db")
check_eq "the ledger is untouched" "$(sha256sum <"$B/ledger.db")" "$before"

# The hook reads the config only for what its flags leave open.
EV="$SRC/tests/data/hooks/cc_glob.json"
if [ -f "$EV" ]; then
    check_exit "hook with --policy and --tier decides despite a bad config" 0 \
        "$AG" --dir "$B" hook claude-code --policy "$SRC/policies/coding-agent.yaml" --tier 1 <"$EV"
    check_exit "hook that needs the config denies" 2 "$AG" --dir "$B" hook claude-code <"$EV"
    check_contains "naming it" "$ERR" "$B/config:$CL"
fi

finish
