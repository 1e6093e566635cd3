#include "auth/approle.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "auth/token.h"
#include "core/crypto.h"
#include "core/err.h"

/* ---- CIDR ------------------------------------------------------------------------ */

static int parse_ip(const char *s, uint8_t out[16], int *bits)
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *bits = 32;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *bits = 128;
        return AF_INET6;
    }
    return -1;
}

static int prefix_equal(const uint8_t *x, const uint8_t *y, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(x, y, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (x[full] & mask) == (y[full] & mask);
}

int ag__cidr_match(const char *cidrs, const char *addr)
{
    uint8_t ip[16];
    int ipbits = 0;
    int fam = addr ? parse_ip(addr, ip, &ipbits) : -1;
    if (fam < 0)
        return -1;
    char buf[AG_AUTH_CIDRS_MAX];
    snprintf(buf, sizeof buf, "%s", cidrs);
    int match = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *slash = strchr(tok, '/');
        int bits = -1;
        if (slash) {
            *slash = '\0';
            char *end;
            long b = strtol(slash + 1, &end, 10);
            if (*end || end == slash + 1 || b < 0)
                return -1;
            bits = (int)b;
        }
        uint8_t net[16];
        int maxbits = 0, nfam = parse_ip(tok, net, &maxbits);
        if (nfam < 0 || bits > maxbits)
            return -1;
        if (bits < 0)
            bits = maxbits;
        if (nfam == fam && prefix_equal(ip, net, bits))
            match = 1;
    }
    return match;
}

/* ---- roles ----------------------------------------------------------------------- */

static void role_key(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "auth:role:%s", name);
}

static json_t *role_to_json(const struct ag_role *r)
{
    return json_pack(
        "{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "name", r->name, "role_id",
        r->role_id, "agent_id", r->agent_id, "tier", r->tier, "token_ttl_ms",
        (json_int_t)r->token_ttl_ms, "token_max_ttl_ms", (json_int_t)r->token_max_ttl_ms,
        "token_num_uses", (json_int_t)r->token_num_uses, "secret_id_ttl_ms",
        (json_int_t)r->secret_id_ttl_ms, "secret_id_num_uses", (json_int_t)r->secret_id_num_uses,
        "bound_cidrs", r->bound_cidrs, "creation_ms", (json_int_t)r->creation_ms);
}

static void role_from_json(const json_t *o, struct ag_role *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", ag__j_str(o, "name"));
    snprintf(r->role_id, sizeof r->role_id, "%s", ag__j_str(o, "role_id"));
    snprintf(r->agent_id, sizeof r->agent_id, "%s", ag__j_str(o, "agent_id"));
    r->tier = (int)ag__j_int(o, "tier");
    r->token_ttl_ms = ag__j_int(o, "token_ttl_ms");
    r->token_max_ttl_ms = ag__j_int(o, "token_max_ttl_ms");
    r->token_num_uses = ag__j_int(o, "token_num_uses");
    r->secret_id_ttl_ms = ag__j_int(o, "secret_id_ttl_ms");
    r->secret_id_num_uses = ag__j_int(o, "secret_id_num_uses");
    snprintf(r->bound_cidrs, sizeof r->bound_cidrs, "%s", ag__j_str(o, "bound_cidrs"));
    r->creation_ms = ag__j_int(o, "creation_ms");
}

/* Reads a role and its raw record (for compare-and-set); AG_ENOTFOUND if absent. */
static ag_err role_get(ag_auth *a, const char *name, struct ag_role *r, char **raw)
{
    ag_err err = ag__auth_check_name("role", name, 0);
    if (err != AG_OK)
        return err;
    char key[AG_AUTH_NAME_MAX + 16];
    role_key(key, sizeof key, name);
    json_t *o = NULL;
    if ((err = ag__auth_get_json(a, key, &o, raw)) != AG_OK)
        return err;
    if (!o)
        return ag__fail(AG_ENOTFOUND, "role '%s' not found", name);
    role_from_json(o, r);
    json_decref(o);
    return AG_OK;
}

static ag_err role_validate(ag_auth *a, struct ag_role *r)
{
    ag_err err = ag__auth_check_name("role name", r->name, 0);
    if (err != AG_OK)
        return err;
    if (!r->agent_id[0])
        snprintf(r->agent_id, sizeof r->agent_id, "%s", r->name);
    if ((err = ag__auth_check_name("agent_id", r->agent_id, 1)) != AG_OK)
        return err;
    if (strcmp(r->agent_id, "root") == 0)
        return ag__fail(AG_EINVAL, "agent_id: 'root' is reserved for the root token");
    if (r->tier < AG_TIER_MIN || r->tier > AG_TIER_MAX)
        return ag__fail(AG_EINVAL, "tier: %d is outside 0..4", r->tier);
    if (r->token_ttl_ms < 0 || r->token_max_ttl_ms < 0 || r->secret_id_ttl_ms < 0 ||
        r->secret_id_num_uses < 0 || r->token_num_uses < 0)
        return ag__fail(AG_EINVAL, "role '%s': TTLs and use counts must not be negative", r->name);
    if (r->token_ttl_ms > AG_AUTH_TTL_LIMIT_MS || r->token_max_ttl_ms > AG_AUTH_TTL_LIMIT_MS ||
        r->secret_id_ttl_ms > AG_AUTH_TTL_LIMIT_MS)
        return ag__fail(AG_EINVAL, "role '%s': TTLs are at most %lld days", r->name,
                        (long long)(AG_AUTH_TTL_LIMIT_MS / (24 * 3600 * 1000LL)));
    if (r->role_id[0] && (err = ag__auth_check_name("role_id", r->role_id, 0)) != AG_OK)
        return err;
    if (r->bound_cidrs[0] && ag__cidr_match(r->bound_cidrs, "127.0.0.1") < 0)
        return ag__fail(AG_EINVAL, "bound_cidrs: '%s' is not a list of CIDR blocks",
                        r->bound_cidrs);
    if (r->token_ttl_ms == 0 || r->token_max_ttl_ms == 0) {
        int64_t ttl, max;
        if (!ag__auth_tier_ttls(a, r->tier, &ttl, &max))
            return ag__fail(AG_EINVAL,
                            "role '%s': token_ttl and token_max_ttl are needed (no policy "
                            "to take tier %d's defaults from)",
                            r->name, r->tier);
        if (r->token_ttl_ms == 0)
            r->token_ttl_ms = ttl;
        if (r->token_max_ttl_ms == 0)
            r->token_max_ttl_ms = max;
    }
    if (r->token_ttl_ms > r->token_max_ttl_ms)
        return ag__fail(AG_EINVAL, "role '%s': token_ttl exceeds token_max_ttl", r->name);
    return AG_OK;
}

static ag_err ledger_admin(ag_auth *a, const char *action, const char *resource, const char *agent,
                           int tier, const char *decision, json_t *data)
{
    char *dj = data ? ag__j_dump(data) : NULL;
    struct ag_ledger_entry e = {.kind = "token",
                                .agent_id = agent,
                                .tier = tier,
                                .action = action,
                                .resource = resource,
                                .decision = decision,
                                .confidence = -1,
                                .success = 1,
                                .data_json = dj};
    ag_err err = ag__auth_ledger(a, &e);
    free(dj);
    return err;
}

ag_err ag_auth_role_write(ag_auth *a, struct ag_role *r)
{
    ag_err err = role_validate(a, r);
    if (err != AG_OK)
        return err;
    char key[AG_AUTH_NAME_MAX + 16], res[AG_AUTH_NAME_MAX + 32];
    role_key(key, sizeof key, r->name);
    snprintf(res, sizeof res, "auth/approle/role/%s", r->name);
    for (int attempt = 0; attempt < AG__AUTH_CAS_TRIES; attempt++) {
        struct ag_role old;
        char *raw = NULL;
        err = role_get(a, r->name, &old, &raw);
        if (err != AG_OK && err != AG_ENOTFOUND)
            return err;
        int exists = err == AG_OK;
        if (!r->role_id[0])
            snprintf(r->role_id, sizeof r->role_id, "%s", exists ? old.role_id : "");
        if (!r->role_id[0])
            ag__uuid4(r->role_id);
        r->creation_ms = exists ? old.creation_ms : ag__auth_now(a);
        json_t *o = role_to_json(r);
        char *text = o ? ag__j_dump(o) : NULL;
        json_t *data = json_pack("{s:s, s:i, s:I, s:I}", "role_id", r->role_id, "tier", r->tier,
                                 "token_ttl_ms", (json_int_t)r->token_ttl_ms, "token_max_ttl_ms",
                                 (json_int_t)r->token_max_ttl_ms);
        err = text ? ledger_admin(a, "auth.role.write", res, r->agent_id, r->tier, "allow", data)
                   : ag__fail(AG_ENOMEM, "role record");
        json_decref(data);
        json_decref(o);
        if (err != AG_OK) {
            free(text);
            free(raw);
            return err;
        }
        char idkey[AG_UUID_BUF + AG_AUTH_NAME_MAX + 16], agkey[AG_AUTH_NAME_MAX + 32];
        char oldid[AG_UUID_BUF + AG_AUTH_NAME_MAX + 16], oldag[AG_AUTH_NAME_MAX + 32];
        snprintf(idkey, sizeof idkey, "auth:role_id:%s", r->role_id);
        snprintf(agkey, sizeof agkey, "auth:agent_roles:%s", r->agent_id);
        struct ag_store_op ops[5];
        size_t n = 0;
        ops[n++] = (struct ag_store_op){.op = AG_OP_SET, .key = key, .value = text};
        ops[n++] = (struct ag_store_op){.op = AG_OP_SET, .key = idkey, .value = r->name};
        ops[n++] =
            (struct ag_store_op){.op = AG_OP_HSET, .key = agkey, .field = r->name, .value = "1"};
        if (exists && strcmp(old.role_id, r->role_id) != 0) {
            snprintf(oldid, sizeof oldid, "auth:role_id:%s", old.role_id);
            ops[n++] = (struct ag_store_op){.op = AG_OP_DEL, .key = oldid};
        }
        if (exists && strcmp(old.agent_id, r->agent_id) != 0) {
            snprintf(oldag, sizeof oldag, "auth:agent_roles:%s", old.agent_id);
            ops[n++] = (struct ag_store_op){.op = AG_OP_HDEL, .key = oldag, .field = r->name};
        }
        int ok = 0;
        err = ag__auth_exec(a, key, raw, ops, n, &ok);
        free(text);
        free(raw);
        if (err != AG_OK || ok)
            return err;
    }
    return ag__fail(AG_ECONFLICT, "role '%s': too many concurrent updates", r->name);
}

ag_err ag_auth_role_read(ag_auth *a, const char *name, struct ag_role *out)
{
    return role_get(a, name, out, NULL);
}

/* Keys under prefix with the prefix stripped. */
static ag_err keys_stripped(ag_auth *a, const char *prefix, char ***out, size_t *n)
{
    ag_err err = ag_store_keys(a->store, prefix, out, n);
    if (err != AG_OK)
        return err;
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < *n; i++)
        memmove((*out)[i], (*out)[i] + pl, strlen((*out)[i] + pl) + 1);
    return AG_OK;
}

ag_err ag_auth_role_list(ag_auth *a, char ***names, size_t *n)
{
    return keys_stripped(a, "auth:role:", names, n);
}

/* ---- secret IDs ------------------------------------------------------------------ */

static void sid_keys(const char *role, const char *hmac, const char *accessor, char *skey,
                     size_t slen, char *akey, size_t alen)
{
    if (skey)
        snprintf(skey, slen, "auth:sid:%s:%s", role, hmac);
    if (akey)
        snprintf(akey, alen, "auth:sida:%s:%s", role, accessor);
}

static void sid_from_json(const json_t *o, struct ag_secret_id_info *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->accessor, sizeof s->accessor, "%s", ag__j_str(o, "accessor"));
    s->creation_ms = ag__j_int(o, "creation_ms");
    s->expire_ms = ag__j_int(o, "expire_ms");
    s->ttl_ms = ag__j_int(o, "ttl_ms");
    s->num_uses = ag__j_int(o, "num_uses");
}

static char *sid_text(const char *role, const struct ag_secret_id_info *s)
{
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "accessor", s->accessor, "role", role,
                  "creation_ms", (json_int_t)s->creation_ms, "expire_ms", (json_int_t)s->expire_ms,
                  "ttl_ms", (json_int_t)s->ttl_ms, "num_uses", (json_int_t)s->num_uses);
    char *t = o ? ag__j_dump(o) : NULL;
    json_decref(o);
    return t;
}

ag_err ag_auth_secret_id_create(ag_auth *a, const char *role, int64_t ttl_ms, int64_t num_uses,
                                char secret_id[AG_UUID_BUF], struct ag_secret_id_info *info)
{
    if (ttl_ms > AG_AUTH_TTL_LIMIT_MS)
        return ag__fail(AG_EINVAL, "secret_id ttl: at most %lld days",
                        (long long)(AG_AUTH_TTL_LIMIT_MS / (24 * 3600 * 1000LL)));
    ag_err err = ag__auth_keyring_ready(a);
    if (err != AG_OK)
        return err;
    struct ag_role r;
    char *rraw = NULL;
    err = role_get(a, role, &r, &rraw);
    if (err != AG_OK)
        return err;
    struct ag_secret_id_info s = {0};
    ag__uuid4(secret_id);
    ag__uuid4(s.accessor);
    s.creation_ms = ag__auth_now(a);
    s.ttl_ms = ttl_ms < 0 ? r.secret_id_ttl_ms : ttl_ms;
    s.num_uses = num_uses < 0 ? r.secret_id_num_uses : num_uses;
    s.expire_ms = s.ttl_ms ? s.creation_ms + s.ttl_ms : 0;
    char hmac[65], skey[AG_AUTH_NAME_MAX + 96], akey[AG_AUTH_NAME_MAX + 64];
    /* Cannot fail: the keyring was found loaded above. */
    AG__BEST_EFFORT(ag__auth_hash(a, "secret_id", secret_id, strlen(secret_id), hmac));
    sid_keys(role, hmac, s.accessor, skey, sizeof skey, akey, sizeof akey);
    char *text = sid_text(role, &s), res[AG_AUTH_NAME_MAX + 48], rkey[AG_AUTH_NAME_MAX + 16];
    snprintf(res, sizeof res, "auth/approle/role/%s/secret-id", role);
    role_key(rkey, sizeof rkey, role);
    json_t *data = json_pack("{s:s, s:I, s:I}", "secret_id_accessor", s.accessor, "ttl_ms",
                             (json_int_t)s.ttl_ms, "num_uses", (json_int_t)s.num_uses);
    err = text ? ledger_admin(a, "auth.secret_id.create", res, r.agent_id, r.tier, "allow", data)
               : ag__fail(AG_ENOMEM, "secret_id record");
    json_decref(data);
    if (err == AG_OK) {
        int64_t ttl = ag__auth_store_ttl(a, s.expire_ms);
        struct ag_store_op ops[2] = {{.op = AG_OP_SET, .key = skey, .value = text, .num = ttl},
                                     {.op = AG_OP_SET, .key = akey, .value = hmac, .num = ttl}};
        int ok = 0;
        err = ag__auth_exec(a, rkey, rraw, ops, 2, &ok);
        if (err == AG_OK && !ok)
            err = ag__fail(AG_ECONFLICT, "role '%s' changed while issuing a secret_id", role);
    }
    free(text);
    free(rraw);
    if (err != AG_OK)
        sodium_memzero(secret_id, AG_UUID_BUF);
    else if (info)
        *info = s;
    return err;
}

/* Reads the secret ID record behind an accessor. */
static ag_err sid_by_accessor(ag_auth *a, const char *role, const char *accessor,
                              struct ag_secret_id_info *out, char *hmac_out)
{
    char akey[AG_AUTH_NAME_MAX + 64], skey[AG_AUTH_NAME_MAX + 96], *hmac = NULL;
    if (!accessor || strlen(accessor) >= AG_UUID_BUF)
        return ag__fail(AG_ENOTFOUND, "secret_id accessor not found");
    sid_keys(role, NULL, accessor, NULL, 0, akey, sizeof akey);
    ag_err err = ag_store_get(a->store, akey, &hmac);
    if (err != AG_OK)
        return err;
    if (!hmac || strlen(hmac) != 64) {
        free(hmac);
        return ag__fail(AG_ENOTFOUND, "secret_id accessor '%s' not found on role '%s'", accessor,
                        role);
    }
    sid_keys(role, hmac, NULL, skey, sizeof skey, NULL, 0);
    if (hmac_out)
        memcpy(hmac_out, hmac, 65);
    free(hmac);
    json_t *o = NULL;
    if ((err = ag__auth_get_json(a, skey, &o, NULL)) != AG_OK)
        return err;
    if (!o)
        return ag__fail(AG_ENOTFOUND, "secret_id accessor '%s' not found on role '%s'", accessor,
                        role);
    sid_from_json(o, out);
    json_decref(o);
    if (out->expire_ms && ag__auth_now(a) >= out->expire_ms)
        return ag__fail(AG_ENOTFOUND, "secret_id accessor '%s' has expired", accessor);
    return AG_OK;
}

ag_err ag_auth_secret_id_lookup(ag_auth *a, const char *role, const char *accessor,
                                struct ag_secret_id_info *out)
{
    ag_err err = ag__auth_check_name("role", role, 0);
    return err != AG_OK ? err : sid_by_accessor(a, role, accessor, out, NULL);
}

ag_err ag_auth_secret_id_list(ag_auth *a, const char *role, struct ag_secret_id_info **items,
                              size_t *n)
{
    *items = NULL;
    *n = 0;
    struct ag_role r;
    ag_err err = role_get(a, role, &r, NULL);
    if (err != AG_OK)
        return err;
    char prefix[AG_AUTH_NAME_MAX + 16], **accs = NULL;
    size_t na = 0;
    snprintf(prefix, sizeof prefix, "auth:sida:%s:", role);
    if ((err = keys_stripped(a, prefix, &accs, &na)) != AG_OK)
        return err;
    if (na && !(*items = calloc(na, sizeof **items)))
        err = ag__fail(AG_ENOMEM, "secret_id list");
    for (size_t i = 0; i < na && err == AG_OK; i++) {
        err = sid_by_accessor(a, role, accs[i], &(*items)[*n], NULL);
        if (err == AG_OK)
            (*n)++;
        else if (err == AG_ENOTFOUND)
            err = AG_OK;
    }
    ag_auth_strv_free(accs, na);
    if (err != AG_OK) {
        free(*items);
        *items = NULL;
        *n = 0;
    }
    return err;
}

/* Deletes one secret ID (both keys). */
static ag_err sid_delete(ag_auth *a, const char *role, const char *hmac, const char *accessor)
{
    char skey[AG_AUTH_NAME_MAX + 96], akey[AG_AUTH_NAME_MAX + 64];
    sid_keys(role, hmac, accessor, skey, sizeof skey, akey, sizeof akey);
    struct ag_store_op ops[2] = {{.op = AG_OP_DEL, .key = skey}, {.op = AG_OP_DEL, .key = akey}};
    return ag__auth_exec(a, NULL, NULL, ops, 2, NULL);
}

static ag_err ledger_sid_destroy(ag_auth *a, const struct ag_role *r, const char *accessor)
{
    char res[AG_AUTH_NAME_MAX + 48];
    snprintf(res, sizeof res, "auth/approle/role/%s/secret-id", r->name);
    json_t *data = json_pack("{s:s}", "secret_id_accessor", accessor);
    ag_err err =
        ledger_admin(a, "auth.secret_id.destroy", res, r->agent_id, r->tier, "revoke", data);
    json_decref(data);
    return err;
}

ag_err ag_auth_secret_id_destroy_accessor(ag_auth *a, const char *role, const char *accessor)
{
    struct ag_role r;
    ag_err err = role_get(a, role, &r, NULL);
    if (err != AG_OK)
        return err;
    struct ag_secret_id_info s;
    char hmac[65];
    err = sid_by_accessor(a, role, accessor, &s, hmac);
    if (err != AG_OK)
        return err;
    if ((err = sid_delete(a, role, hmac, accessor)) != AG_OK)
        return err;
    return ledger_sid_destroy(a, &r, accessor);
}

ag_err ag_auth_secret_id_destroy(ag_auth *a, const char *role, const char *secret_id)
{
    ag_err err = ag__auth_keyring_ready(a);
    if (err != AG_OK)
        return err;
    struct ag_role r;
    err = role_get(a, role, &r, NULL);
    if (err != AG_OK)
        return err;
    if (!secret_id || strlen(secret_id) >= AG_UUID_BUF)
        return ag__fail(AG_ENOTFOUND, "secret_id not found on role '%s'", role);
    char hmac[65], skey[AG_AUTH_NAME_MAX + 96];
    /* Cannot fail: the keyring was found loaded above. */
    AG__BEST_EFFORT(ag__auth_hash(a, "secret_id", secret_id, strlen(secret_id), hmac));
    sid_keys(role, hmac, NULL, skey, sizeof skey, NULL, 0);
    json_t *o = NULL;
    if ((err = ag__auth_get_json(a, skey, &o, NULL)) != AG_OK)
        return err;
    if (!o)
        return ag__fail(AG_ENOTFOUND, "secret_id not found on role '%s'", role);
    char acc[AG_UUID_BUF];
    snprintf(acc, sizeof acc, "%s", ag__j_str(o, "accessor"));
    json_decref(o);
    if ((err = sid_delete(a, role, hmac, acc)) != AG_OK)
        return err;
    return ledger_sid_destroy(a, &r, acc);
}

/* Destroys every secret ID of a role; counts them. */
static ag_err sid_destroy_all(ag_auth *a, const char *role, size_t *count)
{
    char prefix[AG_AUTH_NAME_MAX + 16], **accs = NULL;
    size_t na = 0;
    snprintf(prefix, sizeof prefix, "auth:sida:%s:", role);
    ag_err err = keys_stripped(a, prefix, &accs, &na);
    for (size_t i = 0; i < na && err == AG_OK; i++) {
        char akey[AG_AUTH_NAME_MAX + 64], *hmac = NULL;
        sid_keys(role, NULL, accs[i], NULL, 0, akey, sizeof akey);
        if ((err = ag_store_get(a->store, akey, &hmac)) != AG_OK)
            break;
        err = sid_delete(a, role, hmac ? hmac : "-", accs[i]);
        if (err == AG_OK && hmac)
            (*count)++;
        free(hmac);
    }
    ag_auth_strv_free(accs, na);
    return err;
}

ag_err ag__approle_destroy_agent_sids(ag_auth *a, const char *agent, size_t *count)
{
    char key[AG_AUTH_NAME_MAX + 32];
    snprintf(key, sizeof key, "auth:agent_roles:%s", agent);
    struct ag_store_op op = {.op = AG_OP_HGETALL, .key = key};
    struct ag_store_reply rep;
    ag_err err = ag_store_exec(a->store, NULL, &op, 1, &rep, NULL);
    for (size_t i = 0; err == AG_OK && rep.type == AG_REPLY_ARRAY && i + 1 < rep.nelems; i += 2)
        if (rep.elems[i].str)
            err = sid_destroy_all(a, rep.elems[i].str, count);
    ag_store_reply_free(&rep, 1);
    return err;
}

ag_err ag_auth_role_delete(ag_auth *a, const char *name)
{
    struct ag_role r;
    ag_err err = role_get(a, name, &r, NULL);
    if (err != AG_OK)
        return err;
    char res[AG_AUTH_NAME_MAX + 32];
    snprintf(res, sizeof res, "auth/approle/role/%s", name);
    json_t *data = json_pack("{s:s}", "role_id", r.role_id);
    err = ledger_admin(a, "auth.role.delete", res, r.agent_id, r.tier, "allow", data);
    json_decref(data);
    size_t count = 0;
    if (err == AG_OK)
        err = sid_destroy_all(a, name, &count);
    if (err != AG_OK)
        return err;
    char key[AG_AUTH_NAME_MAX + 16], idkey[AG_UUID_BUF + 16], agkey[AG_AUTH_NAME_MAX + 32];
    role_key(key, sizeof key, name);
    snprintf(idkey, sizeof idkey, "auth:role_id:%s", r.role_id);
    snprintf(agkey, sizeof agkey, "auth:agent_roles:%s", r.agent_id);
    struct ag_store_op ops[3] = {{.op = AG_OP_DEL, .key = key},
                                 {.op = AG_OP_DEL, .key = idkey},
                                 {.op = AG_OP_HDEL, .key = agkey, .field = name}};
    return ag__auth_exec(a, NULL, NULL, ops, 3, NULL);
}

/* ---- login ----------------------------------------------------------------------- */

/* Records a refused login and returns the caller-facing refusal. */
static ag_err login_refused(ag_auth *a, const char *role, const char *why, const char *told)
{
    char res[AG_AUTH_NAME_MAX + 32];
    snprintf(res, sizeof res, "auth/approle/%s", role ? role : "-");
    struct ag_ledger_entry e = {.kind = "token",
                                .tier = -1,
                                .action = "auth.login",
                                .resource = res,
                                .decision = "deny",
                                .reason = why,
                                .confidence = -1,
                                .success = 0};
    AG__BEST_EFFORT(ag__auth_ledger(a, &e)); /* denied either way */
    return ag__fail(AG_EPERM, "permission denied: %s", told);
}

static const char bad_creds[] = "invalid role_id or secret_id";

/* One login attempt; AG_ECONFLICT when the secret ID changed under it (retry). */
static ag_err login_once(ag_auth *a, const char *role_id, const char *secret_id,
                         const char *source_addr, char token[AG_TOKEN_BUF],
                         struct ag_token_info *out)
{
    if (!role_id || !*role_id || strlen(role_id) >= AG_AUTH_NAME_MAX || !secret_id ||
        strlen(secret_id) >= AG_UUID_BUF)
        return login_refused(a, NULL, "malformed role_id or secret_id", bad_creds);
    ag_err err = ag__auth_keyring_ready(a);
    if (err != AG_OK)
        return err;
    char idkey[AG_AUTH_NAME_MAX + 16], *name = NULL;
    snprintf(idkey, sizeof idkey, "auth:role_id:%s", role_id);
    err = ag_store_get(a->store, idkey, &name);
    if (err != AG_OK)
        return err;
    if (!name)
        return login_refused(a, NULL, "unknown role_id", bad_creds);
    struct ag_role r;
    err = role_get(a, name, &r, NULL);
    free(name);
    if (err == AG_ENOTFOUND)
        return login_refused(a, NULL, "role_id of a deleted role", bad_creds);
    if (err != AG_OK)
        return err;
    char hmac[65], skey[AG_AUTH_NAME_MAX + 96], akey[AG_AUTH_NAME_MAX + 64], *sraw = NULL;
    /* Cannot fail: the keyring was found loaded above. */
    AG__BEST_EFFORT(ag__auth_hash(a, "secret_id", secret_id, strlen(secret_id), hmac));
    sid_keys(r.name, hmac, NULL, skey, sizeof skey, NULL, 0);
    json_t *so = NULL;
    if ((err = ag__auth_get_json(a, skey, &so, &sraw)) != AG_OK)
        return err;
    if (!so)
        return login_refused(a, r.name, "unknown secret_id", bad_creds);
    struct ag_secret_id_info s;
    sid_from_json(so, &s);
    json_decref(so);
    int64_t now = ag__auth_now(a);
    if (s.expire_ms && now >= s.expire_ms) {
        free(sraw);
        AG__BEST_EFFORT(ag__auth_persist_expiry(a));
        return login_refused(a, r.name, "secret_id expired", bad_creds);
    }
    if (r.bound_cidrs[0] && ag__cidr_match(r.bound_cidrs, source_addr) != 1) {
        free(sraw);
        return login_refused(a, r.name, "source address outside bound_cidrs",
                             "source address unauthorized by the role's bound_cidrs");
    }
    sid_keys(r.name, NULL, s.accessor, NULL, 0, akey, sizeof akey);
    /* The secret ID's use is taken in the same atomic write as the token. */
    struct ag_store_op extra[2];
    size_t nextra = 0;
    char *stext = NULL;
    if (s.num_uses == 1) {
        extra[nextra++] = (struct ag_store_op){.op = AG_OP_DEL, .key = skey};
        extra[nextra++] = (struct ag_store_op){.op = AG_OP_DEL, .key = akey};
    } else if (s.num_uses > 1) {
        s.num_uses--;
        if (!(stext = sid_text(r.name, &s))) {
            free(sraw);
            return ag__fail(AG_ENOMEM, "secret_id record");
        }
        extra[nextra++] = (struct ag_store_op){.op = AG_OP_SET,
                                               .key = skey,
                                               .value = stext,
                                               .num = ag__auth_store_ttl(a, s.expire_ms)};
    }
    struct ag_token_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.agent_id, sizeof info.agent_id, "%s", r.agent_id);
    snprintf(info.role, sizeof info.role, "%s", r.name);
    info.tier = r.tier;
    ag__auth_tier_policy_name(a, r.tier, info.policies[0]);
    info.npolicies = 1;
    info.creation_ms = now;
    info.ttl_ms = r.token_ttl_ms;
    info.expire_ms = now + r.token_ttl_ms;
    info.max_expire_ms = now + r.token_max_ttl_ms;
    info.renewable = 1;
    json_t *meta = json_pack("{s:s}", "role_name", r.name);
    info.meta_json = meta ? ag__j_dump(meta) : NULL;
    json_decref(meta);
    char res[AG_AUTH_NAME_MAX + 32];
    snprintf(res, sizeof res, "auth/approle/%s", r.name);
    struct ag__issue is = {.info = &info,
                           .num_uses = r.token_num_uses,
                           .guard_key = skey,
                           .guard_equals = sraw,
                           .extra = extra,
                           .nextra = nextra,
                           .action = "auth.login",
                           .resource = res};
    err = info.meta_json ? ag__token_issue(a, &is, token) : ag__fail(AG_ENOMEM, "meta");
    free(stext);
    free(sraw);
    if (err == AG_OK && out) {
        *out = info;
        out->remaining_ms = info.expire_ms - now;
        out->num_uses = r.token_num_uses;
    } else
        ag_token_info_clear(&info);
    return err;
}

ag_err ag_auth_login(ag_auth *a, const char *role_id, const char *secret_id,
                     const char *source_addr, char token[AG_TOKEN_BUF], struct ag_token_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    for (int attempt = 0; attempt < AG__AUTH_CAS_TRIES; attempt++) {
        ag_err err = login_once(a, role_id, secret_id, source_addr, token, info);
        if (err != AG_ECONFLICT)
            return err;
    }
    return ag__fail(AG_EPERM, "permission denied: %s", bad_creds);
}
