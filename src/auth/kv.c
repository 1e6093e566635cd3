#include "auth/kv.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "auth/lease.h"
#include "auth/token.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"

#define META_PREFIX  "auth:kv:meta:"
#define DATA_PREFIX  "auth:kv:data:"
#define KEYRING_LOCK "auth:keyring:lock"

/* ---- authorisation and ledger ---------------------------------------------------- */

/* The caller's view of one secret operation: token, decision, ledger fields. */
struct kv_op {
    const char *action; /* "secret.read", ... */
    char resource[AG_SECRET_PATH_MAX + 8];
    struct ag__tok tok;
    const char *reason;
};

static ag_err kv_ledger(ag_auth *a, const struct kv_op *op, const char *decision, int success,
                        json_t *data)
{
    json_object_set_new(data, "accessor", json_string(op->tok.info.accessor));
    char *dj = ag__j_dump(data);
    struct ag_ledger_entry e = {.kind = "secret",
                                .agent_id = op->tok.info.agent_id[0] ? op->tok.info.agent_id : NULL,
                                .tier = op->tok.info.tier,
                                .action = op->action,
                                .resource = op->resource,
                                .decision = decision,
                                .reason = op->reason,
                                .confidence = -1,
                                .success = success,
                                .data_json = dj};
    ag_err err = dj ? ag__auth_ledger(a, &e) : ag__fail(AG_ENOMEM, "ledger data");
    free(dj);
    return err;
}

/* Validates the token and asks the policy (the root token is always allowed). A denial
 * is recorded and returned as AG_EPERM. On success op->tok holds the token. */
static ag_err kv_authorize(ag_auth *a, const char *token, const char *action,
                           const char *resource_path, struct kv_op *op)
{
    memset(op, 0, sizeof *op);
    op->action = action;
    snprintf(op->resource, sizeof op->resource, "secret%s%s", resource_path[0] ? "/" : "",
             resource_path);
    ag_err err = ag__token_fetch(a, token, &op->tok);
    if (err != AG_OK)
        return err;
    if (op->tok.info.root) {
        op->reason = "root_token";
        return AG_OK;
    }
    struct ag_request req = {.tier = op->tok.info.tier,
                             .phase = AG_PHASE_NONE,
                             .action = action,
                             .resource = op->resource};
    struct ag_decision d;
    void *ref;
    enum ag_effect eff = ag_decide(ag__auth_policy_get(a, &ref), &req, &d);
    op->reason = ag_reason_name(d.reason); /* a static string, not the policy's */
    json_t *data = NULL;
    if (eff != AG_EFFECT_ALLOW && (data = json_object()) && d.rule_file) {
        json_object_set_new(data, "rule_file", json_string(d.rule_file));
        json_object_set_new(data, "rule_line", json_integer(d.rule_line));
    }
    ag__auth_policy_put(a, ref); /* d's strings point into the policy: copied above */
    if (eff == AG_EFFECT_ALLOW)
        return AG_OK;
    AG__BEST_EFFORT(kv_ledger(a, op, ag_effect_name(eff), 0, data)); /* denied either way */
    json_decref(data);
    err = ag__fail(AG_EPERM, "permission denied: %s on %s for tier %d (%s)", action, op->resource,
                   op->tok.info.tier, op->reason);
    ag__tok_clear(&op->tok);
    return err;
}

/* Best-effort record that an allowed operation then failed. */
static void kv_note_failure(ag_auth *a, const struct kv_op *op, ag_err err)
{
    char detail[256];
    snprintf(detail, sizeof detail, "%s", ag_last_error());
    json_t *data = json_pack("{s:s, s:s}", "error", ag_errname(err), "detail", detail);
    AG__BEST_EFFORT(kv_ledger(a, op, "allow", 0, data));
    json_decref(data);
    ag__fail(err, "%s", detail);
}

/* ---- metadata -------------------------------------------------------------------- */

static void meta_key(char *buf, size_t len, const char *path)
{
    snprintf(buf, len, META_PREFIX "%s", path);
}

static void data_key(char *buf, size_t len, const char *path, int64_t version)
{
    snprintf(buf, len, DATA_PREFIX "%s@%lld", path, (long long)version);
}

static json_t *meta_version(const json_t *meta, int64_t v)
{
    char k[24];
    snprintf(k, sizeof k, "%lld", (long long)v);
    return json_object_get(json_object_get(meta, "versions"), k);
}

static ag_err meta_get(ag_auth *a, const char *path, json_t **meta, char **raw)
{
    char key[AG_SECRET_PATH_MAX + 32];
    meta_key(key, sizeof key, path);
    return ag__auth_get_json(a, key, meta, raw);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static void meta_fill(const json_t *m, struct ag_secret_meta *out)
{
    memset(out, 0, sizeof *out);
    out->current_version = ag__j_int(m, "current_version");
    out->oldest_version = ag__j_int(m, "oldest_version");
    out->max_versions = ag__j_int(m, "max_versions");
    out->created_ms = ag__j_int(m, "created_ms");
    out->updated_ms = ag__j_int(m, "updated_ms");
    json_t *vs = json_object_get(m, "versions");
    size_t n = json_object_size(vs);
    out->versions = n ? calloc(n, sizeof *out->versions) : NULL;
    if (!out->versions)
        return;
    int64_t *order = calloc(n, sizeof *order);
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(vs, k, v) if (order) order[i++] = strtoll(k, NULL, 10);
    if (!order) {
        free(out->versions);
        out->versions = NULL;
        return;
    }
    qsort(order, n, sizeof *order, cmp_i64);
    for (i = 0; i < n; i++) {
        json_t *e = meta_version(m, order[i]);
        struct ag_secret_version *sv = &out->versions[i];
        sv->version = order[i];
        sv->created_ms = ag__j_int(e, "created_ms");
        sv->deletion_ms = ag__j_int(e, "deletion_ms");
        sv->destroyed = ag__j_bool(e, "destroyed");
    }
    out->nversions = n;
    free(order);
}

void ag_secret_meta_clear(struct ag_secret_meta *m)
{
    if (!m)
        return;
    free(m->versions);
    memset(m, 0, sizeof *m);
}

void ag_secret_clear(struct ag_secret *s)
{
    if (!s)
        return;
    if (s->data_json) {
        sodium_memzero(s->data_json, strlen(s->data_json));
        free(s->data_json);
    }
    memset(s, 0, sizeof *s);
}

/* ---- put ------------------------------------------------------------------------- */

/* Canonical compact form of a JSON object value (what gets sealed). */
static ag_err canonical_value(const char *path, const char *data_json, char **out)
{
    if (!data_json)
        return ag__fail(AG_EINVAL, "secret/%s: no data", path);
    if (strlen(data_json) > AG__KV_MAX_VALUE)
        return ag__fail(AG_ELIMIT, "secret/%s: data larger than %d bytes", path, AG__KV_MAX_VALUE);
    json_error_t jerr;
    json_t *o = json_loads(data_json, 0, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return ag__fail(AG_EPARSE, "secret/%s: data is not a JSON object (%d:%d: %s)", path,
                        jerr.line, jerr.column, jerr.text);
    }
    *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    /* The parsed copy holds the values: overwrite its strings before freeing. */
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) if (json_is_string(v))
        ag__wipe_const(json_string_value(v), json_string_length(v));
    json_decref(o);
    return *out ? AG_OK : ag__fail(AG_ENOMEM, "secret/%s", path);
}

/* Opens the keyring again under the master key this handle has or, when another
 * process rotated that key, under the one now at master_key_path. */
static ag_err reopen_keyring(ag_auth *a, struct ag__keyring *kr)
{
    uint8_t master[AG_AUTH_KEY_LEN];
    pthread_mutex_lock(&a->mu);
    memcpy(master, a->kr.master, sizeof master);
    pthread_mutex_unlock(&a->mu);
    ag_err err = ag__keyring_open(a->store, master, kr, NULL);
    if (err == AG_ECRYPTO && a->master_key_path) {
        char first[256];
        snprintf(first, sizeof first, "%s", ag_last_error());
        ag__keyring_wipe(kr);
        ag_err lerr = ag_auth_master_key_load(a->master_key_path, master);
        if (lerr == AG_OK)
            err = ag__keyring_open(a->store, master, kr, NULL);
        else
            ag__fail_wrap(err, "%s; reloading the master key", first);
    }
    sodium_memzero(master, sizeof master);
    return err;
}

static ag_err reload_keyring(ag_auth *a)
{
    struct ag__keyring kr;
    ag_err err = reopen_keyring(a, &kr);
    if (err == AG_OK) {
        pthread_mutex_lock(&a->mu);
        a->kr = kr;
        ag__auth_rekey_hmac(a);
        pthread_mutex_unlock(&a->mu);
    }
    ag__keyring_wipe(&kr);
    return err;
}

/* One compare-and-set attempt of a put. *ok = 0 when the metadata changed under it. */
static ag_err put_once(ag_auth *a, const char *path, const char *value, int64_t cas,
                       struct ag_secret_version *out, int *ok)
{
    json_t *meta = NULL;
    char *raw = NULL;
    ag_err err = meta_get(a, path, &meta, &raw);
    if (err != AG_OK)
        return err;
    int64_t now = ag__auth_now(a);
    if (!meta)
        meta = json_pack("{s:I, s:I, s:I, s:I, s:I, s:{}}", "current_version", (json_int_t)0,
                         "oldest_version", (json_int_t)0, "max_versions",
                         (json_int_t)AG__KV_DEFAULT_MAX_VERSIONS, "created_ms", (json_int_t)now,
                         "updated_ms", (json_int_t)now, "versions");
    int64_t cur = ag__j_int(meta, "current_version");
    if (cas >= 0 && cas != cur) {
        json_decref(meta);
        free(raw);
        return ag__fail(AG_ECONFLICT, "secret/%s: check-and-set expected version %lld, found %lld",
                        path, (long long)cas, (long long)cur);
    }
    int64_t v = cur + 1, maxv = ag__j_int(meta, "max_versions");
    char *sealed = NULL;
    /* The store's keyring, not this handle's copy: another process may have rotated
     * the data key, and new values must not be sealed under the retired one. */
    if ((err = reload_keyring(a)) == AG_OK) {
        pthread_mutex_lock(&a->mu);
        err = ag__seal(&a->kr, path, v, value, strlen(value), &sealed);
        pthread_mutex_unlock(&a->mu);
    }
    if (err != AG_OK) {
        json_decref(meta);
        free(raw);
        return err;
    }
    char vk[24];
    snprintf(vk, sizeof vk, "%lld", (long long)v);
    json_object_set_new(json_object_get(meta, "versions"), vk,
                        json_pack("{s:I, s:I, s:b}", "created_ms", (json_int_t)now, "deletion_ms",
                                  (json_int_t)0, "destroyed", 0));
    json_object_set_new(meta, "current_version", json_integer(v));
    json_object_set_new(meta, "updated_ms", json_integer(now));
    if (ag__j_int(meta, "oldest_version") == 0)
        json_object_set_new(meta, "oldest_version", json_integer(v));
    /* Versions beyond max_versions go, oldest first (ciphertext included). */
    char mkey[AG_SECRET_PATH_MAX + 32], dkey[AG_SECRET_PATH_MAX + 48];
    char prune[4][AG_SECRET_PATH_MAX + 48];
    struct ag_store_op ops[6];
    size_t n = 2, np = 0;
    json_t *vs = json_object_get(meta, "versions");
    while (maxv > 0 && (int64_t)json_object_size(vs) > maxv && np < 4) {
        int64_t old = ag__j_int(meta, "oldest_version");
        snprintf(vk, sizeof vk, "%lld", (long long)old);
        json_object_del(vs, vk);
        data_key(prune[np], sizeof prune[np], path, old);
        ops[n++] = (struct ag_store_op){.op = AG_OP_DEL, .key = prune[np++]};
        json_object_set_new(meta, "oldest_version", json_integer(old + 1));
    }
    char *text = ag__j_dump(meta);
    json_decref(meta);
    meta_key(mkey, sizeof mkey, path);
    data_key(dkey, sizeof dkey, path, v);
    ops[0] = (struct ag_store_op){.op = AG_OP_SET, .key = mkey, .value = text};
    ops[1] = (struct ag_store_op){.op = AG_OP_SET, .key = dkey, .value = sealed};
    err = text ? ag__auth_exec(a, mkey, raw, ops, n, ok) : ag__fail(AG_ENOMEM, "metadata");
    free(text);
    free(sealed);
    free(raw);
    if (err == AG_OK && *ok && out)
        *out = (struct ag_secret_version){.version = v, .created_ms = now};
    return err;
}

ag_err ag_auth_secret_put(ag_auth *a, const char *token, const char *path_in, const char *data_json,
                          int64_t cas, struct ag_secret_version *out)
{
    char path[AG_SECRET_PATH_MAX], *value = NULL;
    if (out)
        memset(out, 0, sizeof *out);
    ag_err err = ag_auth_secret_path(path_in, path);
    if (err != AG_OK || (err = canonical_value(path, data_json, &value)) != AG_OK)
        return err;
    struct kv_op op;
    if ((err = kv_authorize(a, token, "secret.write", path, &op)) != AG_OK)
        goto out;
    json_t *data = json_pack("{s:I}", "cas", (json_int_t)cas);
    err = ag__token_consume(a, &op.tok);
    if (err == AG_OK)
        err = kv_ledger(a, &op, "allow", 1, data);
    json_decref(data);
    int recorded = err == AG_OK, ok = 0;
    for (int i = 0; err == AG_OK && !ok && i < AG__AUTH_CAS_TRIES; i++)
        err = put_once(a, path, value, cas, out, &ok);
    if (err == AG_OK && !ok)
        err = ag__fail(AG_ECONFLICT, "secret/%s: too many concurrent writers", path);
    if (err != AG_OK && recorded)
        kv_note_failure(a, &op, err);
    ag__tok_clear(&op.tok);
out:
    sodium_memzero(value, value ? strlen(value) : 0);
    free(value);
    return err;
}

/* ---- get ------------------------------------------------------------------------- */

/* Resolves which version to read and refuses deleted or destroyed ones. */
static ag_err pick_version(const char *path, json_t *meta, int64_t want, int64_t *v,
                           struct ag_secret_version *sv)
{
    if (!meta)
        return ag__fail(AG_ENOTFOUND, "secret/%s not found", path);
    *v = want > 0 ? want : ag__j_int(meta, "current_version");
    json_t *e = meta_version(meta, *v);
    if (!e)
        return ag__fail(AG_ENOTFOUND, "secret/%s has no version %lld", path, (long long)*v);
    sv->version = *v;
    sv->created_ms = ag__j_int(e, "created_ms");
    sv->deletion_ms = ag__j_int(e, "deletion_ms");
    sv->destroyed = ag__j_bool(e, "destroyed");
    if (sv->destroyed)
        return ag__fail(AG_ENOTFOUND, "secret/%s version %lld was destroyed", path, (long long)*v);
    if (sv->deletion_ms) {
        char when[AG_RFC3339_LEN];
        ag__rfc3339(sv->deletion_ms, when);
        return ag__fail(AG_ENOTFOUND, "secret/%s version %lld was deleted at %s", path,
                        (long long)*v, when);
    }
    return AG_OK;
}

/* Reloads the keyring from the store (another process rotated the data key). */
static ag_err read_value(ag_auth *a, const char *path, int64_t v, char **plain)
{
    char dkey[AG_SECRET_PATH_MAX + 48], *sealed = NULL;
    data_key(dkey, sizeof dkey, path, v);
    ag_err err = ag_store_get(a->store, dkey, &sealed);
    if (err != AG_OK)
        return err;
    if (!sealed)
        return ag__fail(AG_ENOTFOUND, "secret/%s version %lld has no stored value", path,
                        (long long)v);
    /* A key id this handle does not know may come from another process's rekey: one
     * reload of the keyring, and a key still unknown after it was never ours. */
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&a->mu);
        err = ag__unseal(&a->kr, path, v, sealed, plain, NULL);
        pthread_mutex_unlock(&a->mu);
        if (err == AG_ENOTFOUND && attempt == 1)
            err = ag__fail_wrap(AG_ETAMPER, "the record was altered (its key is unknown even "
                                            "after reloading the keyring)");
        if (err != AG_ENOTFOUND || attempt == 1)
            break;
        if ((err = reload_keyring(a)) != AG_OK)
            break;
    }
    free(sealed);
    return err;
}

/* Attaches a lease to the token and takes one of its uses, atomically, guarded on the
 * token's record: a token revoked meanwhile gets no lease (and no value). AG_ECONFLICT
 * when the token changed (renewed, used, revoked): the caller starts over. */
static ag_err attach_lease(ag_auth *a, struct kv_op *op, const char *path, int64_t v,
                           struct ag_secret *out)
{
    struct ag__lease_ops lo;
    ag_err err = ag__lease_prepare(a, &op->tok, path, v, ag__auth_now(a), &lo, out->lease_id,
                                   &out->lease_duration_ms);
    struct ag_store_op ops[AG__LEASE_NOPS + 1];
    size_t n = 0;
    char *usetext = NULL;
    int needed = 0, ok = 1;
    for (size_t i = 0; err == AG_OK && out->lease_id[0] && i < AG__LEASE_NOPS; i++)
        ops[n++] = lo.ops[i];
    if (err == AG_OK)
        err = ag__token_use_op(a, &op->tok, &ops[n], &usetext, &needed);
    n += (size_t)needed;
    if (err == AG_OK && n)
        err = ag__auth_exec(a, op->tok.key, op->tok.raw, ops, n, &ok);
    ag__lease_ops_clear(&lo);
    free(usetext);
    if (err == AG_OK && !ok)
        err = ag__fail(AG_ECONFLICT, "token changed during the read");
    return err;
}

static ag_err get_once(ag_auth *a, const char *token, const char *path, int64_t version,
                       struct ag_secret *out)
{
    struct kv_op op;
    ag_err err = kv_authorize(a, token, "secret.read", path, &op);
    if (err != AG_OK)
        return err;
    json_t *meta = NULL;
    int64_t v = 0;
    err = meta_get(a, path, &meta, NULL);
    if (err == AG_OK)
        err = pick_version(path, meta, version, &v, &out->version);
    json_decref(meta);
    char *plain = NULL;
    if (err == AG_OK)
        err = read_value(a, path, v, &plain);
    if (err == AG_OK)
        err = attach_lease(a, &op, path, v, out);
    if (err == AG_OK) {
        json_t *data =
            json_pack("{s:I, s:s, s:I}", "version", (json_int_t)v, "lease_id", out->lease_id,
                      "lease_duration_ms", (json_int_t)out->lease_duration_ms);
        err = kv_ledger(a, &op, "allow", 1, data);
        json_decref(data);
        if (err != AG_OK && out->lease_id[0]) { /* unrecorded: no value, no lease */
            char detail[512];
            snprintf(detail, sizeof detail, "%s", ag_last_error());
            ag_err derr = ag__lease_drop(a, out->lease_id, NULL);
            (void)derr;
            ag__fail(err, "%s", detail);
        }
    } else if (err != AG_ECONFLICT)
        kv_note_failure(a, &op, err);
    if (err == AG_OK) {
        out->data_json = plain;
        plain = NULL;
    }
    if (plain) {
        sodium_memzero(plain, strlen(plain));
        free(plain);
    }
    ag__tok_clear(&op.tok);
    return err;
}

ag_err ag_auth_secret_get(ag_auth *a, const char *token, const char *path_in, int64_t version,
                          struct ag_secret *out)
{
    memset(out, 0, sizeof *out);
    char path[AG_SECRET_PATH_MAX];
    ag_err err = ag_auth_secret_path(path_in, path);
    for (int i = 0; err == AG_OK && i < AG__AUTH_CAS_TRIES; i++) {
        err = get_once(a, token, path, version, out);
        if (err != AG_ECONFLICT)
            break;
        ag_secret_clear(out);
    }
    if (err != AG_OK)
        ag_secret_clear(out);
    return err;
}

/* ---- metadata and listing -------------------------------------------------------- */

ag_err ag_auth_secret_metadata(ag_auth *a, const char *token, const char *path_in,
                               struct ag_secret_meta *out)
{
    memset(out, 0, sizeof *out);
    char path[AG_SECRET_PATH_MAX];
    struct kv_op op;
    ag_err err = ag_auth_secret_path(path_in, path);
    if (err != AG_OK || (err = kv_authorize(a, token, "secret.read", path, &op)) != AG_OK)
        return err;
    err = ag__token_consume(a, &op.tok); /* metadata is a read: it takes a use */
    ag__tok_clear(&op.tok);
    if (err != AG_OK)
        return err;
    json_t *meta = NULL;
    if ((err = meta_get(a, path, &meta, NULL)) != AG_OK)
        return err;
    if (!meta)
        return ag__fail(AG_ENOTFOUND, "secret/%s not found", path);
    meta_fill(meta, out);
    json_decref(meta);
    if (out->nversions && !out->versions)
        return ag__fail(AG_ENOMEM, "secret metadata");
    return AG_OK;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Canonical listing prefix: "" for the whole mount, else a valid path. */
static ag_err list_prefix(const char *in, char out[AG_SECRET_PATH_MAX])
{
    char tmp[AG_SECRET_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s", in ? in : "");
    size_t n = strlen(tmp);
    while (n > 0 && tmp[n - 1] == '/')
        tmp[--n] = '\0';
    if (n == 0 || strcmp(tmp, "secret") == 0) {
        out[0] = '\0';
        return AG_OK;
    }
    return ag_auth_secret_path(tmp, out);
}

ag_err ag_auth_secret_list(ag_auth *a, const char *token, const char *prefix_in, char ***keys,
                           size_t *n)
{
    *keys = NULL;
    *n = 0;
    char prefix[AG_SECRET_PATH_MAX], skey[AG_SECRET_PATH_MAX + 32];
    struct kv_op op;
    ag_err err = list_prefix(prefix_in, prefix);
    if (err != AG_OK || (err = kv_authorize(a, token, "secret.list", prefix, &op)) != AG_OK)
        return err;
    err = ag__token_consume(a, &op.tok); /* so is a listing */
    ag__tok_clear(&op.tok);
    if (err != AG_OK)
        return err;
    snprintf(skey, sizeof skey, META_PREFIX "%s%s", prefix, prefix[0] ? "/" : "");
    char **all = NULL;
    size_t na = 0;
    if ((err = ag_store_keys(a->store, skey, &all, &na)) != AG_OK)
        return err;
    size_t pl = strlen(skey), out = 0;
    for (size_t i = 0; i < na; i++) {
        char *rest = all[i] + pl, *slash = strchr(rest, '/');
        if (slash)
            slash[1] = '\0';
        memmove(all[i], rest, strlen(rest) + 1);
        if (out > 0 && strcmp(all[out - 1], all[i]) == 0) {
            free(all[i]);
            continue;
        }
        all[out++] = all[i];
    }
    if (out > 1)
        qsort(all, out, sizeof *all, cmp_str);
    /* Sorting can bring duplicates of a folder together again ("a/" around "a-b"). */
    size_t w = 0;
    for (size_t i = 0; i < out; i++) {
        if (w > 0 && strcmp(all[w - 1], all[i]) == 0) {
            free(all[i]);
            continue;
        }
        all[w++] = all[i];
    }
    if (w == 0) {
        free(all);
        return ag__fail(AG_ENOTFOUND, "no secrets under secret/%s", prefix);
    }
    *keys = all;
    *n = w;
    return AG_OK;
}

/* ---- delete, undelete, destroy --------------------------------------------------- */

enum version_op { OP_DELETE, OP_UNDELETE, OP_DESTROY };

/* Applies op to versions (none: the current one) with compare-and-set on the metadata. */
static ag_err versions_apply(ag_auth *a, const char *path, enum version_op vop,
                             const int64_t *versions, size_t nv, size_t *changed)
{
    for (int attempt = 0; attempt < AG__AUTH_CAS_TRIES; attempt++) {
        json_t *meta = NULL;
        char *raw = NULL;
        ag_err err = meta_get(a, path, &meta, &raw);
        if (err != AG_OK)
            return err;
        if (!meta)
            return ag__fail(AG_ENOTFOUND, "secret/%s not found", path);
        int64_t now = ag__auth_now(a), cur = ag__j_int(meta, "current_version");
        size_t count = nv ? nv : 1, nops = 1;
        struct ag_store_op *ops = calloc(count + 1, sizeof *ops);
        char(*dkeys)[AG_SECRET_PATH_MAX + 48] = calloc(count, sizeof *dkeys);
        *changed = 0;
        for (size_t i = 0; ops && dkeys && i < count; i++) {
            int64_t v = nv ? versions[i] : cur;
            json_t *e = meta_version(meta, v);
            if (!e || ag__j_bool(e, "destroyed"))
                continue;
            if (vop == OP_DELETE && !ag__j_int(e, "deletion_ms"))
                json_object_set_new(e, "deletion_ms", json_integer(now));
            else if (vop == OP_UNDELETE && ag__j_int(e, "deletion_ms"))
                json_object_set_new(e, "deletion_ms", json_integer(0));
            else if (vop == OP_DESTROY) {
                json_object_set_new(e, "destroyed", json_true());
                data_key(dkeys[i], sizeof dkeys[i], path, v);
                ops[nops++] = (struct ag_store_op){.op = AG_OP_DEL, .key = dkeys[i]};
            } else
                continue;
            (*changed)++;
        }
        json_object_set_new(meta, "updated_ms", json_integer(now));
        char *text = ag__j_dump(meta), mkey[AG_SECRET_PATH_MAX + 32];
        json_decref(meta);
        meta_key(mkey, sizeof mkey, path);
        int ok = 0;
        if (!ops || !dkeys || !text)
            err = ag__fail(AG_ENOMEM, "secret/%s", path);
        else {
            ops[0] = (struct ag_store_op){.op = AG_OP_SET, .key = mkey, .value = text};
            err = ag__auth_exec(a, mkey, raw, ops, nops, &ok);
        }
        free(text);
        free(raw);
        free(ops);
        free(dkeys);
        if (err != AG_OK || ok)
            return err;
    }
    return ag__fail(AG_ECONFLICT, "secret/%s: too many concurrent writers", path);
}

static ag_err versions_op(ag_auth *a, const char *token, const char *path_in, const char *action,
                          enum version_op vop, const int64_t *versions, size_t nv)
{
    char path[AG_SECRET_PATH_MAX];
    struct kv_op op;
    ag_err err = ag_auth_secret_path(path_in, path);
    if (err != AG_OK || (err = kv_authorize(a, token, action, path, &op)) != AG_OK)
        return err;
    json_t *data = json_object(), *arr = json_array();
    for (size_t i = 0; i < nv; i++)
        json_array_append_new(arr, json_integer(versions[i]));
    json_object_set_new(data, "versions", arr);
    err = ag__token_consume(a, &op.tok);
    if (err == AG_OK)
        err = kv_ledger(a, &op, "allow", 1, data);
    json_decref(data);
    size_t changed = 0;
    if (err == AG_OK) {
        err = versions_apply(a, path, vop, versions, nv, &changed);
        if (err != AG_OK)
            kv_note_failure(a, &op, err);
    }
    ag__tok_clear(&op.tok);
    return err;
}

ag_err ag_auth_secret_delete(ag_auth *a, const char *token, const char *path,
                             const int64_t *versions, size_t nversions)
{
    return versions_op(a, token, path, "secret.delete", OP_DELETE, versions, nversions);
}

ag_err ag_auth_secret_undelete(ag_auth *a, const char *token, const char *path,
                               const int64_t *versions, size_t nversions)
{
    return versions_op(a, token, path, "secret.write", OP_UNDELETE, versions, nversions);
}

ag_err ag_auth_secret_destroy(ag_auth *a, const char *token, const char *path,
                              const int64_t *versions, size_t nversions)
{
    return versions_op(a, token, path, "secret.destroy", OP_DESTROY, versions, nversions);
}

/* ---- rekey ----------------------------------------------------------------------- */

/* Re-encrypts one stored version under the current data key (compare-and-set, so a
 * concurrent destroy wins). *did = 1 when it rewrote it. */
static ag_err reencrypt_one(ag_auth *a, const char *dkey, int *did)
{
    *did = 0;
    char *sealed = NULL, *plain = NULL, *resealed = NULL;
    ag_err err = ag_store_get(a->store, dkey, &sealed);
    if (err != AG_OK || !sealed)
        return err;
    char dek[AG__KR_ID_BUF], path[AG_SECRET_PATH_MAX];
    ag__sealed_dek(sealed, dek);
    const char *body = dkey + strlen(DATA_PREFIX), *at = strrchr(body, '@');
    pthread_mutex_lock(&a->mu);
    int current = strcmp(dek, a->kr.deks[a->kr.current].id) == 0;
    pthread_mutex_unlock(&a->mu);
    if (current || !at || (size_t)(at - body) >= sizeof path) {
        free(sealed);
        return AG_OK;
    }
    memcpy(path, body, (size_t)(at - body));
    path[at - body] = '\0';
    int64_t v = strtoll(at + 1, NULL, 10);
    size_t plen = 0;
    pthread_mutex_lock(&a->mu);
    err = ag__unseal(&a->kr, path, v, sealed, &plain, &plen);
    if (err == AG_OK)
        err = ag__seal(&a->kr, path, v, plain, plen, &resealed);
    pthread_mutex_unlock(&a->mu);
    if (plain) {
        sodium_memzero(plain, plen);
        free(plain);
    }
    if (err == AG_OK) {
        struct ag_store_op op = {.op = AG_OP_SET, .key = dkey, .value = resealed};
        err = ag__auth_exec(a, dkey, sealed, &op, 1, did);
    }
    free(resealed);
    free(sealed);
    return err;
}

static ag_err reencrypt_all(ag_auth *a, size_t *count)
{
    char **keys = NULL;
    size_t n = 0;
    ag_err err = ag_store_keys(a->store, DATA_PREFIX, &keys, &n);
    for (size_t i = 0; i < n && err == AG_OK; i++) {
        int did = 0;
        err = reencrypt_one(a, keys[i], &did);
        *count += (size_t)did;
    }
    ag_auth_strv_free(keys, n);
    return err;
}

/* Stores the keyring wrapped under the given masters, compare-and-set on *raw, which
 * is replaced by the new text. */
static ag_err keyring_store(ag_auth *a, const struct ag__keyring *kr,
                            const uint8_t (*masters)[AG_AUTH_KEY_LEN], size_t nm, char **raw)
{
    char *text = NULL;
    ag_err err = ag__keyring_serialize(kr, masters, nm, &text);
    if (err != AG_OK)
        return err;
    struct ag_store_op op = {.op = AG_OP_SET, .key = AG__KEYRING_KEY, .value = text};
    int ok = 0;
    err = ag__auth_exec(a, AG__KEYRING_KEY, *raw, &op, 1, &ok);
    if (err == AG_OK && !ok)
        err = ag__fail(AG_ECONFLICT, "keyring changed during the rekey");
    if (err == AG_OK) {
        free(*raw);
        *raw = text;
    } else
        free(text);
    return err;
}

static ag_err ledger_rekey(ag_auth *a, const char *old_id, const char *new_id, int rotate,
                           int success, size_t reencrypted)
{
    json_t *data = json_pack("{s:s, s:s, s:b, s:I}", "old_key_id", old_id, "new_key_id", new_id,
                             "rotate_data_key", rotate, "reencrypted", (json_int_t)reencrypted);
    char *dj = ag__j_dump(data);
    json_decref(data);
    struct ag_ledger_entry e = {.kind = "secret",
                                .tier = -1,
                                .action = "secret.rekey",
                                .resource = "secret/",
                                .decision = "allow",
                                .confidence = -1,
                                .success = success,
                                .data_json = dj};
    ag_err err = ag__auth_ledger(a, &e);
    free(dj);
    return err;
}

/* The crash-safety argument: every store state this sequence passes through can be
 * opened with whichever master key the key file holds at that moment.
 *   1. keyring wrapped under old and new   (file: old)      both open it
 *   2. persist(new)                        (file: old->new) both open it
 *   3. keyring wrapped under new only      (file: new)
 * Data keys are only ever added, so a crash while re-encrypting leaves values sealed
 * under either data key, both of which the keyring holds. */
static ag_err rekey_locked(ag_auth *a, const uint8_t new_key[AG_AUTH_KEY_LEN], int rotate,
                           ag_auth_persist_key_fn persist, void *ctx, size_t *reencrypted)
{
    struct ag__keyring kr;
    uint8_t masters[2][AG_AUTH_KEY_LEN];
    char *raw = NULL;
    pthread_mutex_lock(&a->mu);
    memcpy(masters[0], a->kr.master, AG_AUTH_KEY_LEN);
    pthread_mutex_unlock(&a->mu);
    memcpy(masters[1], new_key, AG_AUTH_KEY_LEN);
    ag_err err = ag__keyring_open(a->store, masters[0], &kr, &raw);
    if (err == AG_OK && rotate)
        err = ag__keyring_add_dek(&kr);
    if (err == AG_OK)
        err = keyring_store(a, &kr, (const uint8_t(*)[AG_AUTH_KEY_LEN])masters, 2, &raw);
    if (err == AG_OK && persist)
        err = persist(ctx, new_key);
    if (err == AG_OK)
        err = keyring_store(a, &kr, (const uint8_t(*)[AG_AUTH_KEY_LEN]) & masters[1], 1, &raw);
    if (err == AG_OK) {
        memcpy(kr.master, new_key, AG_AUTH_KEY_LEN);
        ag__keyring_mkid(new_key, kr.mkid);
        pthread_mutex_lock(&a->mu);
        a->kr = kr;
        ag__auth_rekey_hmac(a);
        pthread_mutex_unlock(&a->mu);
        if (rotate)
            err = reencrypt_all(a, reencrypted);
    }
    ag__keyring_wipe(&kr);
    sodium_memzero(masters, sizeof masters);
    free(raw);
    return err;
}

ag_err ag_auth_rekey(ag_auth *a, const uint8_t new_key[AG_AUTH_KEY_LEN], int rotate,
                     ag_auth_persist_key_fn persist, void *ctx, size_t *reencrypted)
{
    size_t local = 0;
    if (!reencrypted)
        reencrypted = &local;
    *reencrypted = 0;
    char old_id[AG__KR_ID_BUF], new_id[AG__KR_ID_BUF];
    pthread_mutex_lock(&a->mu);
    int same = sodium_memcmp(a->kr.master, new_key, AG_AUTH_KEY_LEN) == 0;
    snprintf(old_id, sizeof old_id, "%s", a->kr.mkid);
    pthread_mutex_unlock(&a->mu);
    ag__keyring_mkid(new_key, new_id);
    if (same && !rotate)
        return ag__fail(AG_EINVAL, "rekey: the new master key equals the current one");
    ag_err err = ledger_rekey(a, old_id, new_id, rotate, 1, 0);
    if (err != AG_OK)
        return err;
    char owner[33];
    int64_t fence = 0;
    ag__random_hex(16, owner);
    if ((err = ag_store_lock_acquire(a->store, KEYRING_LOCK, owner, 10 * 60 * 1000, &fence)) !=
        AG_OK) {
        return ag__fail_wrap(err, "rekey: cannot take %s", KEYRING_LOCK);
    }
    err = rekey_locked(a, new_key, rotate, persist, ctx, reencrypted);
    char detail[512];
    snprintf(detail, sizeof detail, "%s", ag_last_error());
    AG__BEST_EFFORT(ag_store_lock_release(a->store, KEYRING_LOCK, owner, fence));
    if (err != AG_OK) {
        AG__BEST_EFFORT(ledger_rekey(a, old_id, new_id, rotate, 0, *reencrypted));
        return ag__fail(err, "%s", detail);
    }
    return AG_OK;
}

/* ---- the daemon's own secrets ------------------------------------------------------ */

ag_err ag_auth_secret_read_service(ag_auth *a, const char *service, const char *path_in,
                                   char **data_json)
{
    *data_json = NULL;
    char path[AG_SECRET_PATH_MAX];
    ag_err err = ag_auth_secret_path(path_in, path);
    if (err != AG_OK)
        return err;
    if (service == NULL || !*service)
        return ag__fail(AG_EINVAL, "secret read: no service name");
    json_t *meta = NULL;
    int64_t v = 0;
    struct ag_secret_version ver;
    err = meta_get(a, path, &meta, NULL);
    if (err == AG_OK && meta == NULL)
        err = ag__fail(AG_ENOTFOUND, "secret/%s not found", path);
    if (err == AG_OK)
        err = pick_version(path, meta, 0, &v, &ver);
    json_decref(meta);
    char *plain = NULL;
    if (err == AG_OK)
        err = read_value(a, path, v, &plain);
    /* Recorded like any read, under the service's name: no token, no lease. */
    char resource[AG_SECRET_PATH_MAX + 8], who[AG_AUTH_NAME_MAX + 16];
    snprintf(resource, sizeof resource, "secret/%s", path);
    snprintf(who, sizeof who, "agentgov:%.100s", service);
    json_t *data = json_pack("{s:I, s:s}", "version", (json_int_t)v, "service", service);
    char *dj = data ? ag__j_dump(data) : NULL;
    json_decref(data);
    struct ag_ledger_entry e = {.kind = "secret",
                                .agent_id = who,
                                .tier = -1,
                                .action = "secret.read",
                                .resource = resource,
                                .decision = err == AG_OK ? "allow" : "deny",
                                .reason = err == AG_OK ? "service_read" : ag_errname(err),
                                .confidence = -1,
                                .success = err == AG_OK,
                                .data_json = dj};
    ag_err lerr = dj ? ag__auth_ledger(a, &e) : ag__fail(AG_ENOMEM, "ledger data");
    free(dj);
    if (err == AG_OK && lerr != AG_OK)
        err = lerr; /* unrecorded: no value */
    if (err == AG_OK) {
        *data_json = plain;
        plain = NULL;
    }
    if (plain) {
        sodium_memzero(plain, strlen(plain));
        free(plain);
    }
    return err;
}
