#!/usr/bin/env bash
# The daemon over TLS: `agentgov init --tls` makes a self-signed certificate that curl
# (--cacert) and Python's ssl module (cafile, hostname checked) trust, and names it in
# the config; a client that does not trust it is refused; the dashboard's cookie is
# Secure over TLS; a non-loopback address needs TLS or --insecure-remote; a half or
# unreadable TLS setting is an error naming it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"

check_exit "init --help mentions --tls" 0 "$AG" init --help
check_contains "init --help: --tls" "$OUT" "--tls"
check_exit "serve --help mentions --tls-cert" 0 "$AG" serve --help
check_contains "serve --help: --tls-key" "$OUT" "--tls-key FILE"
check_contains "serve --help: --insecure-remote" "$OUT" "--insecure-remote"

check_exit "init --tls" 0 "$AG" --dir "$D" init --tls
ROOT=$(cat "$D/root.token")
check_eq "the key is 0600" "$(stat -c %a "$D/tls.key")" 600
check_contains "the config names the certificate" "$(cat "$D/config")" $'\ntls.cert = '"$(cd "$D" && pwd)/tls.crt"
check_contains "and the key" "$(cat "$D/config")" $'\ntls.key = '"$(cd "$D" && pwd)/tls.key"
SAN=$(openssl x509 -in "$D/tls.crt" -noout -ext subjectAltName 2>&1)
check_contains "the certificate is for 127.0.0.1" "$SAN" "IP Address:127.0.0.1"
check_contains "and localhost" "$SAN" "DNS:localhost"
check_exit "init --tls refuses an initialised directory" 1 "$AG" --dir "$D" init --tls

# Served over HTTPS (start_daemon's health probe is plain HTTP: start by hand).
PORT=$(free_port)
"$AG" --dir "$D" serve --listen "127.0.0.1:$PORT" 2>>"$T/daemon.log" &
DPID=$!
PIDS_TO_KILL+=("$DPID")
BASE="https://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$D/tls.crt" "$BASE/v1/sys/health" && break; sleep 0.05; done
check_contains "the log says TLS" "$(cat "$T/daemon.log")" "with TLS"
req GET /v1/sys/health --cacert "$D/tls.crt"
check_eq "curl --cacert: health over HTTPS" "$CODE" 200
curl -s -o /dev/null "$BASE/v1/sys/health"
check_eq "curl without the CA refuses the certificate (60)" "$?" 60
PLAIN=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/sys/health")
check_eq "plain HTTP gets no answer" "$([ "$PLAIN" != 200 ] && echo refused)" refused
req GET /v1/agents --cacert "$D/tls.crt" -H "X-Vault-Token: $ROOT"
check_eq "an admin call over HTTPS" "$CODE" 200
check_exit "Python's ssl trusts tls.crt and checks the host name" 0 python3 - "$D/tls.crt" "$PORT" "$ROOT" <<'PY'
import json, ssl, sys, urllib.request, urllib.error
ca, port, root = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
req = urllib.request.Request(f"https://localhost:{port}/v1/agents", headers={"X-Vault-Token": root})
with urllib.request.urlopen(req, context=ctx) as r:
    assert r.status == 200 and "keys" in json.load(r)["data"]
try:  # the default trust store does not know the self-signed certificate
    urllib.request.urlopen(f"https://127.0.0.1:{port}/v1/sys/health", context=ssl.create_default_context())
    sys.exit("an untrusted certificate was accepted")
except urllib.error.URLError as e:
    assert isinstance(e.reason, ssl.SSLCertVerificationError), e
PY
HDR=$(curl -s -D - -o /dev/null --cacert "$D/tls.crt" -H 'Content-Type: application/json' \
    -d "{\"token\":\"$ROOT\"}" "https://localhost:$PORT/ui/api/session")
check_contains "the dashboard cookie is Secure over TLS" "$HDR" "SameSite=Strict; Max-Age=28800; Secure"

# The clients: each trusts the daemon with --ca-cert (or AGENTGOV_CA_CERT) and fails
# closed, saying why, without it or with a CA that did not sign the daemon's certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$T/other.key" -out "$T/other.crt" 2>/dev/null
check_exit "health --ca-cert: the daemon over HTTPS" 0 "$AG" health --addr "127.0.0.1:$PORT" --ca-cert "$D/tls.crt"
check_contains "health reports the daemon ready" "$OUT" "daemon 127.0.0.1:$PORT: ready"
check_exit "health https:// --ca-cert, host name localhost" 0 "$AG" health --json \
    --addr "https://localhost:$PORT" --ca-cert "$D/tls.crt"
check_contains "health --json is the daemon's document" "$OUT" '"ready":true'
check_exit "health with AGENTGOV_CA_CERT" 0 env AGENTGOV_CA_CERT="$D/tls.crt" "$AG" health --addr "127.0.0.1:$PORT"
check_exit "health https:// without a CA: refused (4)" 4 "$AG" health --addr "https://127.0.0.1:$PORT"
check_contains "it says the certificate does not verify" "$ERR" "TLS certificate does not verify against the system's trust store (pass --ca-cert FILE)"
check_exit "health with the wrong CA: refused (4)" 4 "$AG" health --addr "127.0.0.1:$PORT" --ca-cert "$T/other.crt"
check_contains "it names the CA it tried" "$ERR" "does not verify against --ca-cert $T/other.crt"
check_exit "health in plain HTTP to a TLS daemon: refused (4)" 4 "$AG" health --addr "127.0.0.1:$PORT"
check_contains "it points at https:// and --ca-cert" "$ERR" "a daemon serving TLS needs https:// or --ca-cert FILE"
check_exit "health --ca-cert on an http:// address is a usage error" 1 "$AG" health \
    --addr "http://127.0.0.1:$PORT" --ca-cert "$D/tls.crt"
check_exit "health --ca-cert with a missing file is a usage error" 1 "$AG" health \
    --addr "127.0.0.1:$PORT" --ca-cert "$T/none.crt"
check_contains "it names the file" "$ERR" "--ca-cert $T/none.crt"

check_exit "python example agent over HTTPS (--ca-cert)" 0 python3 "$SRC/examples/python/agent.py" \
    --addr "https://127.0.0.1:$PORT" --ca-cert "$D/tls.crt" --agent py-tls --setup "$D/root.token"
check_contains "python agent finished" "$OUT" "done: every step was governed"
check_exit "python example agent without the CA: refused" 1 python3 "$SRC/examples/python/agent.py" \
    --addr "https://127.0.0.1:$PORT" --agent py-tls2 --setup "$D/root.token"
check_contains "it says the certificate failed" "$ERR" "CERTIFICATE_VERIFY_FAILED"
check_exit "python example agent with the wrong CA: refused" 1 python3 "$SRC/examples/python/agent.py" \
    --addr "https://127.0.0.1:$PORT" --ca-cert "$T/other.crt" --agent py-tls3 --setup "$D/root.token"
check_contains "it says the certificate failed" "$ERR" "CERTIFICATE_VERIFY_FAILED"
check_exit "shell example agent over HTTPS (AGENTGOV_CA_CERT)" 0 env AGENTGOV_ADDR="https://127.0.0.1:$PORT" \
    AGENTGOV_CA_CERT="$D/tls.crt" bash "$SRC/examples/shell/agent.sh" --setup "$D/root.token" sh-tls
check_contains "shell agent finished" "$OUT" "done: every step was governed"
check_exit "shell example agent without the CA: refused (curl exit 60)" 60 env AGENTGOV_ADDR="https://127.0.0.1:$PORT" \
    bash "$SRC/examples/shell/agent.sh" --setup "$D/root.token" sh-tls2
check_contains "curl says why" "$ERR" "SSL certificate problem"

# node-vault (npm), an unmodified Vault client, over HTTPS with the CA in requestOptions.
NODE_MODULES=${AGENTGOV_NODE_MODULES:-$HOME/.cache/agentgov-node/node_modules}
if [ ! -d "$NODE_MODULES/node-vault" ] && command -v npm >/dev/null; then
    mkdir -p "$T/npm" && (cd "$T/npm" && timeout 120 npm install --no-audit --no-fund \
        node-vault@0.12.0 >/dev/null 2>&1) && NODE_MODULES="$T/npm/node_modules"
fi
if command -v node >/dev/null && [ -d "$NODE_MODULES/node-vault" ]; then
    req GET /v1/auth/approle/role/py-tls/role-id --cacert "$D/tls.crt" -H "X-Vault-Token: $ROOT"
    NV_ROLE=$(jget "$BODY" 'j["data"]["role_id"]')
    cat >"$T/nv.js" <<'JS'
const fs = require("fs");
const [endpoint, roleId, secretId, ca] = process.argv.slice(2);
const opts = { apiVersion: "v1", endpoint };
if (ca) opts.requestOptions = { ca: fs.readFileSync(ca) };
const vault = require("node-vault")(opts);
(async () => {
  const login = await vault.approleLogin({ role_id: roleId, secret_id: secretId });
  const me = await vault.tokenLookupSelf();
  console.log("policies=" + login.auth.policies.join(",") + " agent=" + me.data.agent_id);
})().catch((e) => { console.error("error=" + (e.code || "") + " " + e.message); process.exit(1); });
JS
    for ca in "$D/tls.crt" "" "$T/other.crt"; do
        req POST /v1/auth/approle/role/py-tls/secret-id --cacert "$D/tls.crt" -H "X-Vault-Token: $ROOT" -d '{}'
        NV_SID=$(jget "$BODY" 'j["data"]["secret_id"]')
        if [ -n "$ca" ] && [ "$ca" = "$D/tls.crt" ]; then
            check_exit "node-vault over HTTPS with the CA" 0 env NODE_PATH="$NODE_MODULES" node "$T/nv.js" \
                "https://localhost:$PORT" "$NV_ROLE" "$NV_SID" "$ca"
            check_contains "node-vault logged in and looked itself up" "$OUT" "agent=py-tls"
        else
            check_exit "node-vault over HTTPS with ${ca:-no} CA: refused" 1 env NODE_PATH="$NODE_MODULES" \
                node "$T/nv.js" "https://localhost:$PORT" "$NV_ROLE" "$NV_SID" "$ca"
            check_contains "node says the certificate is self-signed" "$ERR" "self-signed certificate"
        fi
    done
else
    echo "skip node-vault over HTTPS: not installed and npm could not fetch it"
fi

# `agentgov run` hands the child the https:// address and the CA, readable in its sandbox.
sed -e s/@AGENT@/tls-run/ -e s/@TASK@/task-tls-run/ -e 's/@DELIVERABLES@/[]/' -e s/@MAXERR@/8/ \
    "$SRC/tests/data/run/packet.json" >"$T/tls-run.json"
mkdir -p "$T/wd"
CHILD='import os, ssl, urllib.request
ctx = ssl.create_default_context(cafile=os.environ["AGENTGOV_CA_CERT"])
with urllib.request.urlopen(os.environ["AGENTGOV_ADDR"] + "/v1/sys/health", context=ctx) as r:
    print("addr=%s status=%d" % (os.environ["AGENTGOV_ADDR"], r.status))'
check_exit "run --ca-cert: the child verifies the daemon over HTTPS" 0 "$AG" --dir "$D" run --agent tls-run \
    --tier 1 --packet "$T/tls-run.json" --workdir "$T/wd" --timeout 30s --addr "127.0.0.1:$PORT" \
    --ca-cert "$D/tls.crt" -- python3 -c "$CHILD"
check_contains "the child got https:// and reached the daemon" "$OUT" "addr=https://127.0.0.1:$PORT status=200"
cp "$D/config" "$T/config.saved"
echo "listen = 127.0.0.1:$PORT" >>"$D/config"
check_exit "run without --addr: the configured daemon, trusted by its own tls.cert" 0 "$AG" --dir "$D" \
    run --agent tls-run --workdir "$T/wd" --timeout 30s -- python3 -c "$CHILD"
check_contains "the child got https:// and reached the daemon" "$OUT" "addr=https://127.0.0.1:$PORT status=200"
cp "$T/config.saved" "$D/config"
stop_daemon
check_eq "stops cleanly" "$DRC" 0

# A non-loopback address: TLS, or --insecure-remote.
check_exit "non-loopback without TLS is refused" 1 "$AG" --dir "$D" serve --listen "0.0.0.0:$(free_port)" \
    --allow-remote --set tls.cert= --set tls.key=
check_contains "the refusal names both ways out" "$ERR" "pass --tls-cert and --tls-key"
check_contains "and --insecure-remote" "$ERR" "--insecure-remote"
P2=$(free_port)
"$AG" --dir "$D" serve --listen "0.0.0.0:$P2" --allow-remote 2>"$T/remote.log" &
RPID=$!
PIDS_TO_KILL+=("$RPID")
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$D/tls.crt" "https://127.0.0.1:$P2/v1/sys/health" && break; sleep 0.05; done
req GET /v1/sys/health --cacert "$D/tls.crt" --resolve "localhost:$P2:127.0.0.1"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/tls.crt" "https://127.0.0.1:$P2/v1/sys/health")
check_eq "non-loopback with TLS serves" "$CODE" 200
kill -TERM "$RPID"; wait "$RPID"

# Half a setting, or a file that is not there.
check_exit "a certificate without a key is refused" 1 "$AG" --dir "$D" serve --listen "127.0.0.1:$(free_port)" --set tls.key=
check_contains "it names the missing setting" "$ERR" "only tls.cert is set"
check_exit "a missing key file is refused" 1 "$AG" --dir "$D" serve --listen "127.0.0.1:$(free_port)" --tls-key "$T/nope.key"
check_contains "it names the file" "$ERR" "$T/nope.key"
echo "not a certificate" >"$T/bad.crt"
check_exit "a certificate that is not PEM is refused" 1 "$AG" --dir "$D" serve --listen "127.0.0.1:$(free_port)" --tls-cert "$T/bad.crt"
check_contains "it names the file" "$ERR" "tls.cert $T/bad.crt"
finish
