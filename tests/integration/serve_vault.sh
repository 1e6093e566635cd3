#!/usr/bin/env bash
# Existing Vault clients pointed at agentgov: a Python client written from Vault's HTTP
# API (the requests hvac sends), and the node-vault library from npm when it can be
# found or installed, log in with AppRole and read a KV v2 secret. Also the KV v2
# shapes, versions, check-and-set, metadata and LIST on both spellings.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
init_data_dir
start_daemon
R=(-H "X-Vault-Token: $ROOT")

# An operator stores a secret and creates an AppRole role for a tier-1 agent.
req POST /v1/secret/data/sandbox/db "${R[@]}" -d '{"data":{"password":"s3cret-v1"}}'
check_eq "KV write 200" "$CODE" 200
check_contains "KV write returns version metadata" "$BODY" '"version":1'
req PUT /v1/secret/data/sandbox/db "${R[@]}" -d '{"data":{"password":"s3cret-v2"},"options":{"cas":1}}'
check_contains "PUT writes version 2 with cas" "$BODY" '"version":2'
req POST /v1/secret/data/sandbox/db "${R[@]}" -d '{"data":{"password":"x"},"options":{"cas":1}}'
check_eq "stale cas 400" "$CODE" 400
check_contains "cas error in Vault's words" "$BODY" "check-and-set parameter did not match the current version"
req POST /v1/secret/data/sandbox/db "${R[@]}" -d '{"nodata":1}'
check_eq "write without data 400" "$CODE" 400
req GET "/v1/secret/data/sandbox/db?version=1" "${R[@]}"
check_contains "read an old version" "$BODY" '"password":"s3cret-v1"'
req GET /v1/secret/metadata/sandbox/db "${R[@]}"
check_contains "metadata shape" "$BODY" '"current_version":2'
check_contains "metadata versions map" "$BODY" '"versions":{"1":{'
req LIST /v1/secret/metadata/sandbox "${R[@]}"
check_contains "LIST method" "$BODY" '"keys":["db"]'
req GET "/v1/secret/metadata/?list=true" "${R[@]}"
check_contains "GET ?list=true at the root" "$BODY" '"keys":["sandbox/"]'
req GET /v1/sys/internal/ui/mounts/secret/sandbox/db "${R[@]}"
check_contains "the Vault CLI's mount lookup says KV v2" "$BODY" '"type":"kv","options":{"version":"2"}'
req LIST /v1/secret/metadata/nothing "${R[@]}"
check_eq "LIST of nothing 404" "$CODE" 404

# Versions: soft delete, undelete and destroy, as hvac's delete/undelete/destroy_secret_versions.
for v in 1 2 3; do req POST /v1/secret/data/sandbox/kvv "${R[@]}" -d "{\"data\":{\"n\":\"v$v\"}}"; done
req POST /v1/secret/delete/sandbox/kvv "${R[@]}" -d '{"versions":[1]}'
check_eq "delete versions 204" "$CODE" 204
req GET "/v1/secret/data/sandbox/kvv?version=1" "${R[@]}"
check_eq "a soft-deleted version reads as 404" "$CODE" 404
req GET /v1/secret/metadata/sandbox/kvv "${R[@]}"
check_eq "its deletion_time is set" "$(jget "$BODY" 'j["data"]["versions"]["1"]["deletion_time"] != ""')" True
req POST /v1/secret/undelete/sandbox/kvv "${R[@]}" -d '{"versions":[1]}'
check_eq "undelete 204" "$CODE" 204
req GET "/v1/secret/data/sandbox/kvv?version=1" "${R[@]}"
check_contains "the undeleted version reads again" "$BODY" '"n":"v1"'
req PUT /v1/secret/destroy/sandbox/kvv "${R[@]}" -d '{"versions":[2]}'
check_eq "destroy (PUT, as Vault documents it) 204" "$CODE" 204
req GET /v1/secret/metadata/sandbox/kvv "${R[@]}"
check_eq "version 2 is destroyed" "$(jget "$BODY" 'j["data"]["versions"]["2"]["destroyed"]')" True
req GET "/v1/secret/data/sandbox/kvv?version=2" "${R[@]}"
check_eq "a destroyed version reads as 404" "$CODE" 404
req GET /v1/secret/data/sandbox/kvv "${R[@]}"
check_contains "the latest version is untouched" "$BODY" '"n":"v3"'
req POST /v1/secret/destroy/sandbox/kvv "${R[@]}" -d '{}'
check_eq "destroy without versions 400" "$CODE" 400
check_contains "and says what is missing" "$BODY" "no versions provided"
req POST /v1/secret/delete/sandbox/kvv "${R[@]}" -d '{"versions":[1,"two"]}'
check_contains "a bad version is named" "$BODY" "versions[1] is not a version number"
req POST /v1/secret/undelete/sandbox/kvv -d '{"versions":[1]}'
check_eq "undelete without a token 403" "$CODE" 403

python3 "$PY" setup "$BASE" "$ROOT" vault-agent 1 >/dev/null
req POST /v1/auth/approle/role/vault-agent "${R[@]}" -d '{"token_policies":["t1-operator"],"token_ttl":"20m","token_max_ttl":3600,"secret_id_num_uses":5}'
check_eq "role update with Vault's fields 204" "$CODE" 204
req GET /v1/auth/approle/role/vault-agent "${R[@]}"
check_contains "role read shows the TTLs" "$BODY" '"token_ttl":1200,"token_max_ttl":3600'
req GET /v1/auth/approle/role/vault-agent/role-id "${R[@]}"
ROLE_ID=$(jget "$BODY" 'j["data"]["role_id"]')
req POST /v1/auth/approle/role/vault-agent/secret-id "${R[@]}" -d '{}'
check_contains "secret-id shape" "$BODY" '"secret_id_accessor":"'
SECRET_ID=$(jget "$BODY" 'j["data"]["secret_id"]')
req GET /v1/auth/approle/role/nobody/role-id "${R[@]}"
check_eq "unknown role 404" "$CODE" 404

# Values that do not fit are refused with the field named, never cut: a cut CIDR list
# can allow more than was asked ("127.99.0.0/16" cut to "127.99.0.0/1"), a cut role name
# lands on another role.
CIDRS=$(python3 -c 'l=["1.1.%d.%d/32" % (1 + i // 9, 1 + i % 9) for i in range(41)]
l+=["1.2.1.1%d/32" % i for i in range(4)]
s=",".join(l)+",127.99.0.0/16"
assert len(s) == 512 and s[:511].endswith(",127.99.0.0/1")
print(s)')
req POST /v1/auth/approle/role/cidr-agent "${R[@]}" -d "{\"tier\":1,\"token_bound_cidrs\":\"$CIDRS\"}"
check_eq "a CIDR list longer than 511 bytes is 400" "$CODE" 400
check_contains "and names the field" "$BODY" "token_bound_cidrs: longer than 511 bytes"
req POST /v1/auth/approle/role/cidr-agent "${R[@]}" -d "{\"tier\":1,\"bound_cidrs\":$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1].split(",")))' "$CIDRS")}"
check_eq "so is one given as an array" "$CODE" 400
check_contains "named as given" "$BODY" "bound_cidrs: longer than 511 bytes"
req GET /v1/auth/approle/role/cidr-agent "${R[@]}"
check_eq "and no role was written" "$CODE" 404
NAME127=$(printf 'r%.0s' $(seq 127))
req POST "/v1/auth/approle/role/$NAME127" "${R[@]}" -d '{"tier":1}'
check_eq "a role name of 127 characters is fine" "$CODE" 204
req POST "/v1/auth/approle/role/${NAME127}rr" "${R[@]}" -d '{"tier":3}'
check_eq "a role name of 129 characters is 400" "$CODE" 400
check_contains "and names the field" "$BODY" "role name: longer than 127 bytes"
req GET "/v1/auth/approle/role/$NAME127" "${R[@]}"
check_contains "the 127-character role is untouched" "$BODY" '"tier":1'
req POST /v1/auth/approle/role/long-agent "${R[@]}" -d "{\"tier\":1,\"agent_id\":\"${NAME127}a\"}"
check_eq "an agent_id of 128 characters is 400" "$CODE" 400
check_contains "and names the field" "$BODY" "agent_id: longer than 127 bytes"

# Durations whose milliseconds would overflow, or that are absurd, are 400.
for ttl in 9223372036854775807 9223372036854776 '"106751991167d"' '"36501d"' -1 '"-1s"'; do
    req POST /v1/auth/approle/role/ttl-agent "${R[@]}" -d "{\"tier\":1,\"token_max_ttl\":$ttl}"
    check_eq "token_max_ttl $ttl is 400" "$CODE" 400
done
check_contains "the error names the field and the bound" "$BODY" 'token_max_ttl must be seconds or a duration such as \"30m\", at most 100 years'
req POST /v1/auth/approle/role/vault-agent/secret-id "${R[@]}" -d '{"ttl":"106751991167d"}'
check_eq "a secret-id ttl that would overflow is 400" "$CODE" 400

# ?version= must be a version number; 0 is the latest, as in Vault.
for v in abc -1 1x ' 1' 99999999999999999999; do
    req GET "/v1/secret/data/sandbox/db?version=$(python3 -c 'import sys,urllib.parse as u; print(u.quote(sys.argv[1]))' "$v")" "${R[@]}"
    check_eq "version '$v' is 400" "$CODE" 400
done
check_contains "the error names the parameter" "$BODY" "version must be an integer"
req GET "/v1/secret/data/sandbox/db?version=0" "${R[@]}"
check_contains "version 0 reads the latest" "$BODY" '"version":2'
req POST /v1/auth/approle/login -d "{\"role_id\":\"$ROLE_ID\",\"secret_id\":\"wrong\"}"
check_eq "login with a wrong secret_id 403" "$CODE" 403
check_contains "login refusal in Vault's words" "$BODY" "permission denied"
req POST /v1/auth/approle/login -d '{"role_id":"x"}'
check_eq "login without secret_id 400" "$CODE" 400

# The Python Vault client.
check_exit "python Vault client runs" 0 python3 "$SRC/tests/integration/vault_client.py" "$BASE" "$ROLE_ID" "$SECRET_ID" sandbox/db
check_contains "approle login gives a token" "$OUT" "login_token_prefix=agv."
check_contains "login auth block has Vault's fields" "$OUT" "login_fields=accessor,client_token,entity_id,lease_duration,metadata,num_uses,orphan,policies,renewable,token_policies,token_type"
check_contains "authenticated" "$OUT" "authenticated=True"
check_contains "KV v2 read" "$OUT" "secret_password=s3cret-v2"
check_contains "KV v2 version" "$OUT" "secret_version=2"
check_contains "read creates a lease" "$OUT" "secret_lease=True"
check_contains "missing secret: 404 with empty errors" "$OUT" "missing_status=404 errors=[]"
check_contains "tier 1 may not write: 403" "$OUT" "write_status=403"
check_contains "lookup-self" "$OUT" "lookup_policies=['t1-operator'] ttl_positive=True"
check_contains "renew-self" "$OUT" "renew_lease=1200"
check_contains "revoke-self" "$OUT" "after_revoke_authenticated=False"
LOGIN=$(python3 -c 'import json,sys,urllib.request as u
r=u.Request(sys.argv[1]+"/v1/auth/approle/login",data=json.dumps({"role_id":sys.argv[2],"secret_id":sys.argv[3]}).encode(),method="POST")
print(json.dumps(json.load(u.urlopen(r))["auth"]))' "$BASE" "$ROLE_ID" "$SECRET_ID")
ACC=$(jget "$LOGIN" 'j["accessor"]')
LT=(-H "X-Vault-Token: $(jget "$LOGIN" 'j["client_token"]')")
req POST /v1/auth/token/renew-self "${LT[@]}" -d '{"increment":9223372036854775807}'
check_eq "renew-self with an increment that overflows is 400" "$CODE" 400
check_contains "and names the field" "$BODY" "increment must be seconds"
req POST /v1/auth/token/renew-self "${LT[@]}" -d '{"increment":"106751991167d"}'
check_eq "renew-self with an increment past any clock is 400" "$CODE" 400
req POST /v1/auth/token/renew-self "${LT[@]}" -d '{"increment":"10m"}'
check_eq "renew-self with a sane increment 200" "$CODE" 200
req POST /v1/auth/token/lookup-accessor "${R[@]}" -d "{\"accessor\":\"$ACC\"}"
check_eq "lookup-accessor 200" "$CODE" 200
check_contains "lookup-accessor names the token's accessor" "$BODY" "\"accessor\":\"$ACC\""
check_contains "but never the token" "$BODY" '"id":""'
check_not_contains "the token is nowhere in it" "$BODY" "$(jget "$LOGIN" 'j["client_token"]')"
req POST /v1/auth/token/lookup-accessor -H "X-Vault-Token: $(jget "$LOGIN" 'j["client_token"]')" -d "{\"accessor\":\"$ACC\"}"
check_eq "lookup-accessor needs the root token" "$CODE" 403
req POST /v1/auth/token/lookup-accessor "${R[@]}" -d '{"accessor":"nope"}'
check_eq "unknown accessor 4xx" "$([ "$CODE" -ge 400 ] && [ "$CODE" -lt 500 ] && echo yes)" yes
req GET "/v1/ledger?kind=secret" "${R[@]}"
check_contains "the read is in the ledger" "$BODY" '"resource":"secret/sandbox/db"'
check_not_contains "the value never is" "$BODY" "s3cret"

# node-vault (npm), when available: an unmodified third-party Vault client.
NODE_MODULES=${AGENTGOV_NODE_MODULES:-$HOME/.cache/agentgov-node/node_modules}
if [ ! -d "$NODE_MODULES/node-vault" ] && command -v npm >/dev/null; then
    mkdir -p "$T/npm" && (cd "$T/npm" && timeout 120 npm install --no-audit --no-fund \
        node-vault@0.12.0 >/dev/null 2>&1) && NODE_MODULES="$T/npm/node_modules"
fi
if command -v node >/dev/null && [ -d "$NODE_MODULES/node-vault" ]; then
    req POST /v1/auth/approle/role/vault-agent/secret-id "${R[@]}" -d '{}'
    SID2=$(jget "$BODY" 'j["data"]["secret_id"]')
    cat >"$T/nv.js" <<'JS'
const vault = require("node-vault")({ apiVersion: "v1", endpoint: process.argv[2] });
(async () => {
  const login = await vault.approleLogin({ role_id: process.argv[3], secret_id: process.argv[4] });
  console.log("policies=" + login.auth.policies.join(","));
  const s = await vault.read("secret/data/sandbox/db");
  console.log("password=" + s.data.data.password + " version=" + s.data.metadata.version);
  try { await vault.read("secret/data/staging/db"); } catch (e) { console.log("denied=" + e.response.statusCode); }
})().catch((e) => { console.log("error=" + e.message); process.exit(1); });
JS
    check_exit "node-vault runs" 0 env NODE_PATH="$NODE_MODULES" node "$T/nv.js" "$BASE" "$ROLE_ID" "$SID2"
    check_contains "node-vault approle login" "$OUT" "policies=t1-operator"
    check_contains "node-vault reads KV v2" "$OUT" "password=s3cret-v2 version=2"
    check_contains "node-vault sees a policy denial" "$OUT" "denied=403"
else
    echo "skip node-vault: not installed and npm could not fetch it"
fi

stop_daemon
check_eq "SIGTERM exit 0" "$DRC" 0
finish
