#!/usr/bin/env bash
# The auth, token and secret commands end to end through the real binary: init creates
# master.key and root.token; roles, secret IDs, login, tier-scoped reads, Vault JSON
# shapes, revocation, rekey; on the embedded store and on a private redis-server.
source "$(dirname "$0")/lib.sh"

jget() { python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d if not isinstance(d,bool) else str(d).lower())' "$1"; }

run_suite() { # label, store url ("" = embedded)
    local label=$1 url=$2
    export AGENTGOV_DIR="$T/$label"
    if [ -n "$url" ]; then export AGENTGOV_STORE=$url; else unset AGENTGOV_STORE; fi
    unset AGENTGOV_TOKEN AGENTGOV_MASTER_KEY

    check_exit "$label: init" 0 "$AG" init
    check_eq "$label: master.key is 0600" "$(stat -c %a "$AGENTGOV_DIR/master.key")" 600
    check_eq "$label: root.token is 0600" "$(stat -c %a "$AGENTGOV_DIR/root.token")" 600
    check_exit "$label: root token lookup" 0 "$AG" token lookup --json
    check_eq "$label: root policies" "$(echo "$OUT" | jget data.policies.0)" root
    check_eq "$label: root tier" "$(echo "$OUT" | jget data.tier)" 4

    check_exit "$label: role create" 0 "$AG" auth role create builder --tier 3 --json
    local rid
    rid=$(echo "$OUT" | jget data.role_id)
    check_eq "$label: role token_ttl from tier 3" "$(echo "$OUT" | jget data.token_ttl)" 900
    check_exit "$label: role create observer" 0 "$AG" auth role create observer --tier 0 \
        --secret-id-num-uses 1
    check_exit "$label: role list" 0 "$AG" auth role list --json
    check_contains "$label: role list has both" "$OUT" '"observer"'
    check_exit "$label: secret-id create" 0 "$AG" auth secret-id create builder --json
    local sid acc
    sid=$(echo "$OUT" | jget data.secret_id)
    acc=$(echo "$OUT" | jget data.secret_id_accessor)
    check_exit "$label: secret-id list" 0 "$AG" auth secret-id list builder --json
    check_contains "$label: listed by accessor" "$OUT" "$acc"
    check_not_contains "$label: list never shows the value" "$OUT" "$sid"

    check_exit "$label: login" 0 "$AG" auth login --role-id "$rid" --secret-id "$sid" --json
    local tok tacc
    tok=$(echo "$OUT" | jget auth.client_token)
    tacc=$(echo "$OUT" | jget auth.accessor)
    check_eq "$label: auth.policies" "$(echo "$OUT" | jget auth.policies.0)" t3-executor
    check_eq "$label: auth.lease_duration" "$(echo "$OUT" | jget auth.lease_duration)" 900
    check_eq "$label: auth.renewable" "$(echo "$OUT" | jget auth.renewable)" true
    check_eq "$label: auth.metadata.role_name" "$(echo "$OUT" | jget auth.metadata.role_name)" builder
    check_exit "$label: bad secret id refused" 2 "$AG" auth login --role-id "$rid" --secret-id nope
    check_contains "$label: permission denied" "$ERR" "permission denied"

    check_exit "$label: put as root" 0 "$AG" secret put secret/services/dragonfly \
        password=canary-df-7f3a user=df --json
    check_eq "$label: version 1" "$(echo "$OUT" | jget data.version)" 1
    check_exit "$label: put v2" 0 "$AG" secret put services/dragonfly password=canary-df-v2
    check_exit "$label: get as tier 3" 0 "$AG" secret get services/dragonfly --token "$tok" --json
    check_eq "$label: data.data.password" "$(echo "$OUT" | jget data.data.password)" canary-df-v2
    check_eq "$label: data.metadata.version" "$(echo "$OUT" | jget data.metadata.version)" 2
    check_contains "$label: lease id" "$OUT" '"lease_id": "secret/services/dragonfly/'
    check_exit "$label: -version -field" 0 "$AG" secret get secret/services/dragonfly \
        -version 1 -field password --token "$tok"
    check_eq "$label: field of version 1" "$OUT" canary-df-7f3a

    check_exit "$label: put sandbox" 0 "$AG" secret put sandbox/ssh key=canary-ssh-11
    check_exit "$label: observer login" 0 "$AG" auth secret-id create observer --json
    local osid otok
    osid=$(echo "$OUT" | jget data.secret_id)
    check_exit "$label: observer token" 0 "$AG" auth login --role-id \
        "$("$AG" auth role read observer --json | jget data.role_id)" --secret-id "$osid" --json
    otok=$(echo "$OUT" | jget auth.client_token)
    check_exit "$label: single-use secret id is spent" 2 "$AG" auth login --role-id \
        "$("$AG" auth role read observer --json | jget data.role_id)" --secret-id "$osid"
    check_exit "$label: tier 0 cannot read sandbox" 2 "$AG" secret get sandbox/ssh --token "$otok"
    check_contains "$label: denial names the action" "$ERR" "secret.read on secret/sandbox/ssh"
    check_exit "$label: tier 3 cannot write" 2 "$AG" secret put services/x a=b --token "$tok"

    check_exit "$label: list" 0 "$AG" secret list secret/ --json
    check_contains "$label: folders" "$OUT" '"services/"'
    check_exit "$label: delete latest" 0 "$AG" secret delete services/dragonfly
    check_exit "$label: deleted is not found" 1 "$AG" secret get services/dragonfly
    check_exit "$label: undelete" 0 "$AG" secret undelete services/dragonfly -versions 2
    check_exit "$label: destroy v1" 0 "$AG" secret destroy services/dragonfly -versions 1
    check_exit "$label: metadata" 0 "$AG" secret metadata services/dragonfly --json
    check_eq "$label: v1 destroyed" "$(echo "$OUT" | jget data.versions.1.destroyed)" true

    check_exit "$label: renew" 0 "$AG" token renew "$tok" --json
    check_exit "$label: lookup by accessor" 0 "$AG" token lookup --accessor "$tacc" --json
    check_eq "$label: accessor lookup tier" "$(echo "$OUT" | jget data.tier)" 3
    check_not_contains "$label: accessor lookup hides the token" "$OUT" "$tok"
    check_exit "$label: child token" 0 "$AG" token create --token "$tok" --ttl 5m --json
    local child
    child=$(echo "$OUT" | jget auth.client_token)
    check_exit "$label: revoke by accessor" 0 "$AG" token revoke --accessor "$tacc"
    check_contains "$label: cascade counted" "$OUT" "2 tokens"
    check_exit "$label: revoked token refused" 2 "$AG" token lookup "$tok"
    check_contains "$label: says revoked" "$ERR" "permission denied: token revoked"
    check_exit "$label: child revoked too" 2 "$AG" token lookup "$child"

    check_exit "$label: rekey" 0 "$AG" secret rekey --rotate-data-key --json
    check_eq "$label: both live versions re-encrypted" "$(echo "$OUT" | jget data.reencrypted)" 2
    check_exit "$label: readable after rekey" 0 "$AG" secret get sandbox/ssh -field key
    check_eq "$label: value after rekey" "$OUT" canary-ssh-11
    check_exit "$label: root token survives rekey" 0 "$AG" token lookup

    check_exit "$label: ledger verifies" 0 "$AG" ledger verify
    local hits
    hits=$(cat "$AGENTGOV_DIR"/* 2>/dev/null | grep -a -c -e canary-df -e canary-ssh)
    check_eq "$label: no plaintext in the data directory" "$hits" 0
}

run_suite embedded ""
start_redis
run_suite redis "$REDIS_URL"
unset AGENTGOV_STORE
check_exit "help" 0 "$AG" secret --help
check_contains "help names rekey" "$OUT" "rekey"
check_exit "auth help" 0 "$AG" auth --help
check_exit "token help" 0 "$AG" token --help
finish
