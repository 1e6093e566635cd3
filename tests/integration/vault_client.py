"""A minimal Vault client with the Python standard library, written from Vault's HTTP
API documentation the way hvac calls it (no agentgov-specific paths or fields): the
same requests an existing Vault client sends. Used by serve_vault.sh.

    python3 vault_client.py URL ROLE_ID SECRET_ID SECRET_PATH
prints one "key=value" line per fact checked by the script."""
import json
import sys
import urllib.error
import urllib.request


class VaultError(Exception):
    def __init__(self, status, errors):
        super().__init__("%d %s" % (status, errors))
        self.status, self.errors = status, errors


class Client:
    def __init__(self, url, token=None):
        self.url, self.token = url.rstrip("/"), token

    def _request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/v1/" + path, data=data, method=method)
        req.add_header("X-Vault-Request", "true")
        if self.token:
            req.add_header("X-Vault-Token", self.token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            errors = json.loads(raw).get("errors") if raw else None
            raise VaultError(e.code, errors)

    # hvac: client.auth.approle.login(role_id, secret_id)
    def approle_login(self, role_id, secret_id, mount_point="approle"):
        r = self._request("POST", "auth/%s/login" % mount_point,
                          {"role_id": role_id, "secret_id": secret_id})
        self.token = r["auth"]["client_token"]
        return r

    # hvac: client.secrets.kv.v2.read_secret_version(path, mount_point="secret")
    def read_secret_version(self, path, version=None, mount_point="secret"):
        q = "" if version is None else "?version=%d" % version
        return self._request("GET", "%s/data/%s%s" % (mount_point, path, q))

    def create_or_update_secret(self, path, secret, cas=None, mount_point="secret"):
        body = {"options": {} if cas is None else {"cas": cas}, "data": secret}
        return self._request("POST", "%s/data/%s" % (mount_point, path), body)

    def list_secrets(self, path, mount_point="secret"):
        return self._request("LIST", "%s/metadata/%s" % (mount_point, path))

    def read_secret_metadata(self, path, mount_point="secret"):
        return self._request("GET", "%s/metadata/%s" % (mount_point, path))

    def lookup_self(self):
        return self._request("GET", "auth/token/lookup-self")

    def renew_self(self, increment=None):
        return self._request("POST", "auth/token/renew-self",
                             {} if increment is None else {"increment": increment})

    def revoke_self(self):
        return self._request("POST", "auth/token/revoke-self")

    def is_authenticated(self):
        try:
            self.lookup_self()
            return True
        except VaultError as e:
            if e.status == 403:
                return False
            raise


def main(url, role_id, secret_id, path):
    c = Client(url)
    r = c.approle_login(role_id, secret_id)
    a = r["auth"]
    print("login_token_prefix=%s" % a["client_token"][:4])
    print("login_fields=%s" % ",".join(sorted(a)))
    print("authenticated=%s" % c.is_authenticated())
    s = c.read_secret_version(path)
    print("secret_password=%s" % s["data"]["data"]["password"])
    print("secret_version=%d" % s["data"]["metadata"]["version"])
    print("secret_lease=%s" % (s["lease_duration"] > 0))
    try:
        c.read_secret_version(path + "-missing")
    except VaultError as e:
        print("missing_status=%d errors=%s" % (e.status, e.errors))
    try:
        c.create_or_update_secret(path, {"password": "overwrite"})
    except VaultError as e:
        print("write_status=%d" % e.status)
    me = c.lookup_self()["data"]
    print("lookup_policies=%s ttl_positive=%s" % (me["policies"], me["ttl"] > 0))
    print("renew_lease=%d" % c.renew_self()["auth"]["lease_duration"])
    c.revoke_self()
    print("after_revoke_authenticated=%s" % c.is_authenticated())


if __name__ == "__main__":
    main(*sys.argv[1:5])
