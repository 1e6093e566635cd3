/* Vault-compatible endpoints: AppRole login and roles, token self-service and
 * revocation, and KV v2 secrets, with Vault's paths and JSON shapes so that existing
 * Vault clients work unchanged. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "server/handlers.h"

/* ---- envelope ---------------------------------------------------------------------- */

/* Vault's response envelope; data and auth are stolen (either may be NULL). */
static void vault_reply(struct ag__req *r, int status, json_t *data, json_t *auth,
                        const char *lease_id, int64_t lease_s, int renewable)
{
    char rid[37];
    ag__uuid4(rid);
    json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:o, s:n, s:n, s:o}", "request_id", rid, "lease_id",
                          lease_id ? lease_id : "", "renewable", renewable, "lease_duration",
                          (json_int_t)lease_s, "data", data ? data : json_null(), "wrap_info",
                          "warnings", "auth", auth ? auth : json_null());
    ag__reply_json(r, status, o);
}

static void reply_no_content(struct ag__req *r)
{
    ag__reply_raw(r, 204, NULL, NULL, 0);
}

static json_t *policies_json(const struct ag_token_info *t)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->npolicies; i++)
        json_array_append_new(a, json_string(t->policies[i]));
    return a;
}

static json_t *meta_json(const struct ag_token_info *t)
{
    json_t *m = t->meta_json ? json_loads(t->meta_json, 0, NULL) : NULL;
    return m ? m : json_object();
}

static int64_t secs(int64_t ms)
{
    return ms <= 0 ? 0 : (ms + 999) / 1000;
}

/* The "auth" block of a login or a renewal. */
static json_t *auth_block(const char *token, const struct ag_token_info *t)
{
    int64_t lease = t->remaining_ms < 0 ? 0 : secs(t->remaining_ms);
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:b, s:s, s:s, s:b, s:I}", "client_token",
                     token, "accessor", t->accessor, "policies", policies_json(t), "token_policies",
                     policies_json(t), "metadata", meta_json(t), "lease_duration",
                     (json_int_t)lease, "renewable", t->renewable, "entity_id", "", "token_type",
                     "service", "orphan", t->parent[0] == '\0', "num_uses",
                     (json_int_t)t->num_uses);
}

static json_t *rfc3339_or_null(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char ts[AG_RFC3339_LEN];
    ag__rfc3339(ms, ts);
    return json_string(ts);
}

/* ---- AppRole ----------------------------------------------------------------------- */

static void remote_ip(struct ag__req *r, char *buf, size_t len)
{
    buf[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)len);
}

void ag__h_approle_login(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    if (!b)
        return;
    if (!r->srv->auth) {
        ag__reply_error(r, 503, "the auth engine is unavailable");
        return;
    }
    const char *role_id = json_string_value(json_object_get(b, "role_id"));
    const char *secret_id = json_string_value(json_object_get(b, "secret_id"));
    if (!role_id || !secret_id) {
        ag__reply_error(r, 400, "missing %s", role_id ? "secret_id" : "role_id");
        return;
    }
    char ip[64], token[AG_TOKEN_BUF];
    remote_ip(r, ip, sizeof ip);
    struct ag_token_info t;
    memset(&t, 0, sizeof t);
    ag_err e = ag_auth_login(r->srv->auth, role_id, secret_id, ip[0] ? ip : NULL, token, &t);
    if (e) {
        ag__reply_ag_error(r, e, "login");
        return;
    }
    snprintf(r->agent, sizeof r->agent, "%s", t.agent_id);
    json_t *auth = auth_block(token, &t);
    explicit_bzero(token, sizeof token);
    ag_token_info_clear(&t);
    vault_reply(r, 200, NULL, auth, "", 0, 0);
}

/* The longest duration taken: the auth engine adds a TTL to the clock, and one near
 * INT64_MAX milliseconds would overflow there (a role's TTLs and a secret ID's are not
 * bounded by the engine itself). The same century as the engine's own limit on token
 * TTLs, which is private to src/auth. */
#define DURATION_MAX_S (AG_AUTH_TTL_LIMIT_MS / 1000)

/* Vault durations are seconds (number) or duration strings ("1h"), from 0 to
 * DURATION_MAX_S; seconds are bounded before they are multiplied into milliseconds. */
static int duration_field(struct ag__req *r, json_t *b, const char *key, int64_t *ms)
{
    json_t *v = json_object_get(b, key);
    if (!v || json_is_null(v))
        return 1;
    json_int_t s = json_integer_value(v);
    if (json_is_integer(v) && s >= 0 && s <= DURATION_MAX_S) {
        *ms = s * 1000;
        return 1;
    }
    int64_t d;
    if (json_is_string(v) && ag__parse_duration(json_string_value(v), &d) == AG_OK &&
        d <= DURATION_MAX_S * 1000) {
        *ms = d;
        return 1;
    }
    ag_clear_error();
    ag__reply_error(r, 400, "%s must be seconds or a duration such as \"30m\", at most 100 years",
                    key);
    return 0;
}

static int int_field(struct ag__req *r, json_t *b, const char *key, int64_t *out)
{
    json_t *v = json_object_get(b, key);
    if (!v || json_is_null(v))
        return 1;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return 1;
    }
    ag__reply_error(r, 400, "%s must be a non-negative integer", key);
    return 0;
}

/* Copies a request's string into a fixed field of the auth engine's structs. A value
 * that does not fit is refused with the field named, never cut: a cut role name can
 * land on another role, and a cut CIDR list can allow more than was asked
 * ("127.99.0.0/16" cut to "127.99.0.0/1"). */
static int fit_field(struct ag__req *r, char *dst, size_t cap, const char *val, const char *field)
{
    size_t n = strlen(val);
    if (n >= cap) {
        ag__reply_error(r, 400, "%s: longer than %zu bytes", field, cap - 1);
        return 0;
    }
    memcpy(dst, val, n + 1);
    return 1;
}

/* token_bound_cidrs (or Vault's older bound_cidrs): a string "a,b" or an array of
 * strings, joined with commas. */
static int cidrs_field(struct ag__req *r, json_t *b, char *out, size_t len)
{
    const char *key = json_object_get(b, "token_bound_cidrs") ? "token_bound_cidrs" : "bound_cidrs";
    json_t *v = json_object_get(b, key);
    if (!v || json_is_null(v))
        return 1;
    if (json_is_string(v))
        return fit_field(r, out, len, json_string_value(v), key);
    struct ag_buf joined;
    ag__buf_init(&joined);
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c)
    {
        if (!json_is_string(c))
            break;
        ag__buf_printf(&joined, "%s%s", i ? "," : "", json_string_value(c));
    }
    int ok = 0;
    if (!json_is_array(v) || i != json_array_size(v))
        ag__reply_error(r, 400, "%s must be a string or an array of strings", key);
    else if (ag__buf_status(&joined) != AG_OK)
        ag__reply_error(r, 500, "out of memory");
    else
        ok = fit_field(r, out, len, joined.data ? joined.data : "", key);
    ag__buf_free(&joined);
    return ok;
}

/* Role tier: "tier", else a "t<N>..." name in token_policies. */
static int tier_field(struct ag__req *r, json_t *b, int *tier)
{
    json_t *t = json_object_get(b, "tier");
    if (json_is_integer(t) && json_integer_value(t) >= 0 && json_integer_value(t) <= 4) {
        *tier = (int)json_integer_value(t);
        return 1;
    }
    json_t *pol = json_object_get(b, "token_policies");
    size_t i;
    json_t *p;
    json_array_foreach(pol, i, p)
    {
        const char *s = json_string_value(p);
        if (s && s[0] == 't' && s[1] >= '0' && s[1] <= '4' && (s[2] == '\0' || s[2] == '-')) {
            *tier = s[1] - '0';
            return 1;
        }
    }
    ag__reply_error(r, 400,
                    "tier must be an integer from 0 to 4 (or token_policies must "
                    "name a tier policy such as \"t1-operator\")");
    return 0;
}

void ag__h_approle_role_write(struct ag__req *r)
{
    const char *name = ag__route_capture(&r->m, "name");
    json_t *b = ag__req_json(r);
    if (!b)
        return;
    struct ag_role role;
    memset(&role, 0, sizeof role);
    const char *agent = json_string_value(json_object_get(b, "agent_id"));
    if (!fit_field(r, role.name, sizeof role.name, name, "role name") ||
        !fit_field(r, role.agent_id, sizeof role.agent_id, agent ? agent : "", "agent_id") ||
        !tier_field(r, b, &role.tier) || !duration_field(r, b, "token_ttl", &role.token_ttl_ms) ||
        !duration_field(r, b, "token_max_ttl", &role.token_max_ttl_ms) ||
        !duration_field(r, b, "secret_id_ttl", &role.secret_id_ttl_ms) ||
        !int_field(r, b, "token_num_uses", &role.token_num_uses) ||
        !int_field(r, b, "secret_id_num_uses", &role.secret_id_num_uses) ||
        !cidrs_field(r, b, role.bound_cidrs, sizeof role.bound_cidrs))
        return;
    ag_err e = ag_auth_role_write(r->srv->auth, &role);
    if (e) {
        ag__reply_ag_error(r, e, "role");
        return;
    }
    reply_no_content(r);
}

void ag__h_approle_role_read(struct ag__req *r)
{
    struct ag_role role;
    ag_err e = ag_auth_role_read(r->srv->auth, ag__route_capture(&r->m, "name"), &role);
    if (e) {
        ag__reply_ag_error(r, e, "role");
        return;
    }
    char pol[AG_AUTH_NAME_MAX];
    if (!r->pol) {
        const ag_policy *p;
        r->pol = ag__polref_get(&r->srv->policy, &p);
    }
    ag_auth_tier_policy(ag__polref_policy(r->pol), role.tier, pol);
    json_t *data = json_pack(
        "{s:s, s:i, s:[s], s:I, s:I, s:I, s:I, s:I, s:s}", "agent_id",
        role.agent_id[0] ? role.agent_id : role.name, "tier", role.tier, "token_policies", pol,
        "token_ttl", (json_int_t)secs(role.token_ttl_ms), "token_max_ttl",
        (json_int_t)secs(role.token_max_ttl_ms), "token_num_uses", (json_int_t)role.token_num_uses,
        "secret_id_ttl", (json_int_t)secs(role.secret_id_ttl_ms), "secret_id_num_uses",
        (json_int_t)role.secret_id_num_uses, "token_bound_cidrs", role.bound_cidrs);
    vault_reply(r, 200, data, NULL, "", 0, 0);
}

void ag__h_approle_role_id(struct ag__req *r)
{
    struct ag_role role;
    ag_err e = ag_auth_role_read(r->srv->auth, ag__route_capture(&r->m, "name"), &role);
    if (e) {
        ag__reply_ag_error(r, e, "role");
        return;
    }
    vault_reply(r, 200, json_pack("{s:s}", "role_id", role.role_id), NULL, "", 0, 0);
}

void ag__h_approle_secret_id(struct ag__req *r)
{
    const char *name = ag__route_capture(&r->m, "name");
    json_t *b = ag__req_json(r);
    if (!b)
        return;
    int64_t ttl = -1, uses = -1;
    if (!duration_field(r, b, "ttl", &ttl) || !int_field(r, b, "num_uses", &uses))
        return;
    char sid[AG_UUID_BUF];
    struct ag_secret_id_info info;
    memset(&info, 0, sizeof info);
    ag_err e = ag_auth_secret_id_create(r->srv->auth, name, ttl, uses, sid, &info);
    if (e) {
        ag__reply_ag_error(r, e, "secret-id");
        return;
    }
    json_t *data = json_pack("{s:s, s:s, s:I, s:I}", "secret_id", sid, "secret_id_accessor",
                             info.accessor, "secret_id_ttl", (json_int_t)secs(info.ttl_ms),
                             "secret_id_num_uses", (json_int_t)info.num_uses);
    explicit_bzero(sid, sizeof sid);
    vault_reply(r, 200, data, NULL, "", 0, 0);
}

/* ---- tokens ------------------------------------------------------------------------ */

/* Vault's token lookup data; id is the token itself, or "" when looked up by accessor. */
static json_t *token_data(const struct ag_token_info *t, const char *id)
{
    return json_pack(
        "{s:s, s:I, s:I, s:s, s:s, s:o, s:I, s:s, s:o, s:o, s:I, s:b, s:s, s:o, s:b, s:I, "
        "s:s, s:s, s:i}",
        "accessor", t->accessor, "creation_time", (json_int_t)(t->creation_ms / 1000),
        "creation_ttl", (json_int_t)secs(t->ttl_ms), "display_name",
        t->role[0] ? "approle" : "token", "entity_id", "", "expire_time",
        rfc3339_or_null(t->expire_ms), "explicit_max_ttl", (json_int_t)secs(t->explicit_max_ttl_ms),
        "id", id, "issue_time", rfc3339_or_null(t->creation_ms), "meta", meta_json(t), "num_uses",
        (json_int_t)t->num_uses, "orphan", t->parent[0] == '\0', "path",
        t->role[0] ? "auth/approle/login" : "auth/token/create", "policies", policies_json(t),
        "renewable", t->renewable, "ttl",
        (json_int_t)(t->remaining_ms < 0 ? 0 : secs(t->remaining_ms)), "type", "service",
        "agent_id", t->agent_id, "tier", t->tier);
}

void ag__h_token_lookup_self(struct ag__req *r)
{
    vault_reply(r, 200, token_data(&r->tok, r->token), NULL, "", 0, 0);
}

/* Vault's POST /auth/token/lookup-accessor: the token's properties without the token. */
void ag__h_token_lookup_accessor(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    if (!b)
        return;
    const char *acc = json_string_value(json_object_get(b, "accessor"));
    if (!acc || !*acc) {
        ag__reply_error(r, 400, "missing accessor");
        return;
    }
    struct ag_token_info t;
    memset(&t, 0, sizeof t);
    ag_err e = ag_auth_token_lookup_accessor(r->srv->auth, acc, &t);
    if (e) {
        ag_token_info_clear(&t);
        ag__reply_ag_error(r, e, "lookup-accessor");
        return;
    }
    json_t *data = token_data(&t, "");
    ag_token_info_clear(&t);
    vault_reply(r, 200, data, NULL, "", 0, 0);
}

void ag__h_token_renew_self(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    if (!b)
        return;
    int64_t inc = 0;
    if (!duration_field(r, b, "increment", &inc))
        return;
    struct ag_token_info t;
    memset(&t, 0, sizeof t);
    ag_err e = ag_auth_token_renew(r->srv->auth, r->token, inc, &t);
    if (e) {
        ag__reply_ag_error(r, e, "renew");
        return;
    }
    json_t *auth = auth_block(r->token, &t);
    ag_token_info_clear(&t);
    vault_reply(r, 200, NULL, auth, "", 0, 0);
}

void ag__h_token_revoke_self(struct ag__req *r)
{
    ag_err e = ag_auth_token_revoke(r->srv->auth, r->token, NULL);
    atomic_fetch_add_explicit(&r->srv->metrics.revocations, 1, memory_order_relaxed);
    /* AG_ELEDGER: revoked but unrecorded; the token is gone either way. */
    if (e && e != AG_ELEDGER) {
        ag__reply_ag_error(r, e, "revoke");
        return;
    }
    reply_no_content(r);
}

void ag__h_token_revoke_accessor(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    if (!b)
        return;
    const char *acc = json_string_value(json_object_get(b, "accessor"));
    if (!acc) {
        ag__reply_error(r, 400, "missing accessor");
        return;
    }
    ag_err e = ag_auth_token_revoke_accessor(r->srv->auth, acc, NULL);
    if (e && e != AG_ELEDGER) {
        ag__reply_ag_error(r, e, "revoke-accessor");
        return;
    }
    atomic_fetch_add_explicit(&r->srv->metrics.revocations, 1, memory_order_relaxed);
    reply_no_content(r);
}

/* ---- KV v2 ------------------------------------------------------------------------- */

static json_t *version_meta(const struct ag_secret_version *v)
{
    char created[AG_RFC3339_LEN], deleted[AG_RFC3339_LEN] = "";
    ag__rfc3339(v->created_ms, created);
    if (v->deletion_ms > 0)
        ag__rfc3339(v->deletion_ms, deleted);
    return json_pack("{s:s, s:n, s:s, s:b, s:I}", "created_time", created, "custom_metadata",
                     "deletion_time", deleted, "destroyed", v->destroyed, "version",
                     (json_int_t)v->version);
}

static const char *kv_path(struct ag__req *r)
{
    const char *p = ag__route_capture(&r->m, "path");
    return p ? p : "";
}

void ag__h_kv_read(struct ag__req *r)
{
    int64_t version; /* 0: the latest, as in Vault */
    if (!ag__query_int(r, "version", 0, INT64_MAX, &version))
        return;
    struct ag_secret sec;
    memset(&sec, 0, sizeof sec);
    ag_err e = ag_auth_secret_get(r->srv->auth, r->token, kv_path(r), version, &sec);
    if (e == AG_ENOTFOUND) {
        /* Vault answers a missing secret with 404 and an empty error list. */
        ag__reply_json(r, 404, json_pack("{s:[]}", "errors"));
        return;
    }
    if (e) {
        ag__reply_ag_error(r, e, "read");
        return;
    }
    json_t *data = json_loads(sec.data_json, 0, NULL);
    json_t *body = json_pack("{s:o, s:o}", "data", data ? data : json_object(), "metadata",
                             version_meta(&sec.version));
    char lease[AG_LEASE_ID_MAX];
    snprintf(lease, sizeof lease, "%s", sec.lease_id);
    int64_t lease_s = secs(sec.lease_duration_ms);
    ag_secret_clear(&sec);
    vault_reply(r, 200, body, NULL, lease, lease_s, 0);
}

void ag__h_kv_write(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    if (!b)
        return;
    json_t *data = json_object_get(b, "data");
    if (!json_is_object(data)) {
        ag__reply_error(r, 400, "no data provided");
        return;
    }
    int64_t cas = -1;
    json_t *cv = json_object_get(json_object_get(b, "options"), "cas");
    if (cv) {
        if (!json_is_integer(cv) || json_integer_value(cv) < 0) {
            ag__reply_error(r, 400, "options.cas must be a non-negative integer");
            return;
        }
        cas = json_integer_value(cv);
    }
    char *text = json_dumps(data, JSON_COMPACT);
    struct ag_secret_version out;
    memset(&out, 0, sizeof out);
    ag_err e =
        text ? ag_auth_secret_put(r->srv->auth, r->token, kv_path(r), text, cas, &out) : AG_ENOMEM;
    if (text) {
        explicit_bzero(text, strlen(text));
        free(text);
    }
    if (e == AG_ECONFLICT) {
        ag__reply_error(r, 400, "check-and-set parameter did not match the current version");
        return;
    }
    if (e) {
        ag__reply_ag_error(r, e, "write");
        return;
    }
    vault_reply(r, 200, version_meta(&out), NULL, "", 0, 0);
}

void ag__h_kv_delete(struct ag__req *r)
{
    ag_err e = ag_auth_secret_delete(r->srv->auth, r->token, kv_path(r), NULL, 0);
    if (e) {
        ag__reply_ag_error(r, e, "delete");
        return;
    }
    reply_no_content(r);
}

/* The "versions" array of a KV v2 delete/undelete/destroy body: positive integers,
 * at least one (as Vault requires). Replies 400 and returns -1 otherwise. */
#define KV_MAX_VERSIONS 256
static int versions_field(struct ag__req *r, int64_t out[KV_MAX_VERSIONS], size_t *n)
{
    json_t *b = ag__req_json(r);
    if (!b)
        return -1;
    json_t *arr = json_object_get(b, "versions");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        ag__reply_error(r, 400, "no versions provided (\"versions\": [1, 2, ...])");
        return -1;
    }
    if (json_array_size(arr) > KV_MAX_VERSIONS) {
        ag__reply_error(r, 400, "at most %d versions at a time", KV_MAX_VERSIONS);
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            ag__reply_error(r, 400, "versions[%zu] is not a version number (an integer >= 1)", i);
            return -1;
        }
        out[i] = json_integer_value(v);
    }
    *n = json_array_size(arr);
    return 0;
}

typedef ag_err (*kv_versions_fn)(ag_auth *, const char *, const char *, const int64_t *, size_t);

static void kv_versions(struct ag__req *r, kv_versions_fn fn, const char *what)
{
    int64_t versions[KV_MAX_VERSIONS];
    size_t n = 0;
    if (versions_field(r, versions, &n) != 0)
        return;
    ag_err e = fn(r->srv->auth, r->token, kv_path(r), versions, n);
    if (e) {
        ag__reply_ag_error(r, e, what);
        return;
    }
    reply_no_content(r);
}

/* Vault's POST /secret/delete/{path}: soft-deletes the listed versions. */
void ag__h_kv_delete_versions(struct ag__req *r)
{
    kv_versions(r, ag_auth_secret_delete, "delete");
}

/* POST /secret/undelete/{path}: restores soft-deleted versions. */
void ag__h_kv_undelete(struct ag__req *r)
{
    kv_versions(r, ag_auth_secret_undelete, "undelete");
}

/* PUT|POST /secret/destroy/{path}: removes the listed versions' data for good. */
void ag__h_kv_destroy(struct ag__req *r)
{
    kv_versions(r, ag_auth_secret_destroy, "destroy");
}

void ag__h_kv_metadata(struct ag__req *r)
{
    struct ag_secret_meta m;
    memset(&m, 0, sizeof m);
    ag_err e = ag_auth_secret_metadata(r->srv->auth, r->token, kv_path(r), &m);
    if (e == AG_ENOTFOUND) {
        ag__reply_json(r, 404, json_pack("{s:[]}", "errors"));
        return;
    }
    if (e) {
        ag__reply_ag_error(r, e, "metadata");
        return;
    }
    json_t *versions = json_object();
    for (size_t i = 0; versions && i < m.nversions; i++) {
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)m.versions[i].version);
        json_t *vm = version_meta(&m.versions[i]);
        json_object_del(vm, "version");
        json_object_del(vm, "custom_metadata");
        json_object_set_new(versions, key, vm);
    }
    char created[AG_RFC3339_LEN], updated[AG_RFC3339_LEN];
    ag__rfc3339(m.created_ms, created);
    ag__rfc3339(m.updated_ms, updated);
    json_t *data = json_pack(
        "{s:b, s:s, s:I, s:n, s:s, s:I, s:I, s:s, s:o}", "cas_required", 0, "created_time", created,
        "current_version", (json_int_t)m.current_version, "custom_metadata", "delete_version_after",
        "0s", "max_versions", (json_int_t)m.max_versions, "oldest_version",
        (json_int_t)m.oldest_version, "updated_time", updated, "versions", versions);
    ag_secret_meta_clear(&m);
    vault_reply(r, 200, data, NULL, "", 0, 0);
}

void ag__h_kv_list(struct ag__req *r)
{
    char **keys;
    size_t n;
    ag_err e = ag_auth_secret_list(r->srv->auth, r->token, kv_path(r), &keys, &n);
    if (e == AG_ENOTFOUND || (e == AG_OK && n == 0)) {
        if (e == AG_OK)
            ag_auth_strv_free(keys, n);
        ag__reply_json(r, 404, json_pack("{s:[]}", "errors"));
        return;
    }
    if (e) {
        ag__reply_ag_error(r, e, "list");
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(keys[i]));
    ag_auth_strv_free(keys, n);
    vault_reply(r, 200, json_pack("{s:o}", "keys", a), NULL, "", 0, 0);
}

/* The Vault CLI (`vault kv get secret/x`) first asks which engine serves a path; the
 * answer is always the KV v2 engine mounted at secret/. */
void ag__h_sys_mounts(struct ag__req *r)
{
    const char *p = ag__route_capture(&r->m, "path");
    if (!p || strncmp(p, "secret", 6) != 0 || (p[6] != '\0' && p[6] != '/')) {
        ag__reply_error(r, 403, "permission denied: no mount at %s (only secret/, KV v2)",
                        p ? p : "");
        return;
    }
    json_t *data = json_pack("{s:s, s:s, s:{s:s}, s:s, s:s}", "path", "secret/", "type", "kv",
                             "options", "version", "2", "description", "agentgov KV v2 secrets",
                             "accessor", "kv_agentgov");
    vault_reply(r, 200, data, NULL, "", 0, 0);
}
