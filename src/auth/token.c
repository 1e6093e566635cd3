#include "auth/token.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "auth/approle.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"

#define B64URL        sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define TOKEN_RAW_LEN 32

/* ---- encoding and hashing -------------------------------------------------------- */

static void token_encode(const uint8_t raw[TOKEN_RAW_LEN], char out[AG_TOKEN_BUF])
{
    memcpy(out, AG_TOKEN_PREFIX, 4);
    sodium_bin2base64(out + 4, AG_TOKEN_BUF - 4, raw, TOKEN_RAW_LEN, B64URL);
}

ag_err ag__token_denied(const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return ag__fail(AG_EPERM, "permission denied: %s", why);
}

/* Keyed hash of a printable token. The text is checked to be exactly the canonical
 * encoding of 32 bytes (256 bits = 42 characters of 6 bits + one of 4 bits and 2 zero
 * bits), which makes hashing the text equivalent to hashing the bytes, and cheaper than
 * decoding them on the lookup hot path. */
ag_err ag__token_hash(ag_auth *a, const char *token, char hmac[65])
{
    if (!token || strncmp(token, AG_TOKEN_PREFIX, 4) != 0)
        return ag__token_denied("invalid token");
    size_t i = 4;
    for (; i < AG_TOKEN_LEN && token[i]; i++) {
        char c = token[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return ag__token_denied("invalid token");
    }
    if (i != AG_TOKEN_LEN || token[i] != '\0')
        return ag__token_denied("invalid token");
    char c = token[AG_TOKEN_LEN - 1];
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
                                   : 63;
    if (v & 3) /* the last character carries 4 bits of data and 2 zero bits */
        return ag__token_denied("invalid token");
    return ag__auth_hash(a, "token", token, AG_TOKEN_LEN, hmac);
}

/* ---- records --------------------------------------------------------------------- */

void ag__tok_clear(struct ag__tok *t)
{
    ag_token_info_clear(&t->info);
    free(t->raw);
    t->raw = NULL;
}

static json_t *tok_to_json(const struct ag__tok *t)
{
    const struct ag_token_info *i = &t->info;
    json_t *pol = json_array();
    for (size_t k = 0; k < i->npolicies; k++)
        json_array_append_new(pol, json_string(i->policies[k]));
    json_error_t jerr;
    json_t *meta = i->meta_json ? json_loads(i->meta_json, 0, &jerr) : NULL;
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:b, s:I, "
                     "s:I, s:o, s:I}",
                     "accessor", i->accessor, "parent", i->parent, "agent_id", i->agent_id, "role",
                     i->role, "tier", i->tier, "root", i->root, "policies", pol, "creation_ms",
                     (json_int_t)i->creation_ms, "ttl_ms", (json_int_t)i->ttl_ms, "expire_ms",
                     (json_int_t)i->expire_ms, "explicit_max_ttl_ms",
                     (json_int_t)i->explicit_max_ttl_ms, "max_expire_ms",
                     (json_int_t)i->max_expire_ms, "renewable", i->renewable, "num_uses",
                     (json_int_t)t->num_uses, "uses", (json_int_t)t->uses, "meta", meta,
                     "revoked_ms", (json_int_t)t->revoked_ms);
}

char *ag__tok_text(const struct ag__tok *t)
{
    json_t *o = tok_to_json(t);
    char *s = o ? ag__j_dump(o) : NULL;
    json_decref(o);
    return s;
}

void ag__token_copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

static ag_err tok_from_json(const json_t *o, struct ag__tok *t)
{
    struct ag_token_info *i = &t->info;
    ag__token_copy_str(i->accessor, sizeof i->accessor, ag__j_str(o, "accessor"));
    ag__token_copy_str(i->parent, sizeof i->parent, ag__j_str(o, "parent"));
    ag__token_copy_str(i->agent_id, sizeof i->agent_id, ag__j_str(o, "agent_id"));
    ag__token_copy_str(i->role, sizeof i->role, ag__j_str(o, "role"));
    i->tier = (int)ag__j_int(o, "tier");
    i->root = ag__j_bool(o, "root");
    json_t *pol = json_object_get(o, "policies");
    i->npolicies = 0;
    for (size_t k = 0; k < json_array_size(pol) && k < AG_TOKEN_MAX_POLICIES; k++)
        ag__token_copy_str(i->policies[i->npolicies++], AG_AUTH_NAME_MAX,
                           json_string_value(json_array_get(pol, k))
                               ? json_string_value(json_array_get(pol, k))
                               : "");
    i->creation_ms = ag__j_int(o, "creation_ms");
    i->ttl_ms = ag__j_int(o, "ttl_ms");
    i->expire_ms = ag__j_int(o, "expire_ms");
    i->explicit_max_ttl_ms = ag__j_int(o, "explicit_max_ttl_ms");
    i->max_expire_ms = ag__j_int(o, "max_expire_ms");
    i->renewable = ag__j_bool(o, "renewable");
    t->num_uses = ag__j_int(o, "num_uses");
    t->uses = ag__j_int(o, "uses");
    t->revoked_ms = ag__j_int(o, "revoked_ms");
    i->num_uses = t->num_uses ? t->num_uses - t->uses : 0;
    json_t *meta = json_object_get(o, "meta");
    i->meta_json = meta ? ag__j_dump(meta) : strdup("{}");
    if (!i->meta_json || !i->accessor[0])
        return ag__fail(AG_ESTORE, "auth: token record lacks an accessor or meta");
    return AG_OK;
}

/* Checks validity at now and fills remaining_ms. */
static ag_err tok_validate(const struct ag__tok *t, struct ag_token_info *i, int64_t now)
{
    char when[AG_RFC3339_LEN];
    if (t->revoked_ms) {
        ag__rfc3339(t->revoked_ms, when);
        return ag__token_denied("token revoked at %s", when);
    }
    if (i->expire_ms && now >= i->expire_ms) {
        ag__rfc3339(i->expire_ms, when);
        return ag__token_denied("token expired at %s", when);
    }
    if (t->num_uses && t->uses >= t->num_uses)
        return ag__token_denied("token has used all of its %lld uses", (long long)t->num_uses);
    i->remaining_ms = i->expire_ms ? i->expire_ms - now : -1;
    return AG_OK;
}

ag_err ag__token_fetch_hmac(ag_auth *a, const char *hmac, int validate, struct ag__tok *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->hmac, sizeof t->hmac, "%s", hmac);
    snprintf(t->key, sizeof t->key, "auth:token:%s", hmac);
    json_t *o = NULL;
    ag_err err = ag__auth_get_json(a, t->key, &o, &t->raw);
    if (err != AG_OK)
        return err;
    if (!o)
        return validate ? ag__token_denied("invalid token")
                        : ag__fail(AG_ENOTFOUND, "token not found");
    err = tok_from_json(o, t);
    json_decref(o);
    if (err == AG_OK && validate) {
        err = tok_validate(t, &t->info, ag__auth_now(a));
        /* Every operation that acts with a token comes here: its idea of now is kept,
         * at once when it found the token expired, revoked or used up. */
        AG__BEST_EFFORT(err == AG_EPERM ? ag__auth_persist_expiry(a) : ag__auth_persist_clock(a));
    } else if (err == AG_OK)
        t->info.remaining_ms = t->info.expire_ms ? t->info.expire_ms - ag__auth_now(a) : -1;
    if (err != AG_OK)
        ag__tok_clear(t);
    return err;
}

ag_err ag__token_fetch(ag_auth *a, const char *token, struct ag__tok *t)
{
    char hmac[65];
    memset(t, 0, sizeof *t);
    ag_err err = ag__token_hash(a, token, hmac);
    return err != AG_OK ? err : ag__token_fetch_hmac(a, hmac, 1, t);
}

static int is_accessor(const char *s)
{
    if (!s || strlen(s) != AG_ACCESSOR_BUF - 1)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

ag_err ag__token_fetch_accessor(ag_auth *a, const char *accessor, int validate, struct ag__tok *t)
{
    memset(t, 0, sizeof *t);
    if (!is_accessor(accessor))
        return ag__fail(AG_ENOTFOUND, "token accessor '%s' not found", accessor ? accessor : "");
    char key[64], *hmac = NULL;
    snprintf(key, sizeof key, "auth:acc:%s", accessor);
    ag_err err = ag_store_get(a->store, key, &hmac);
    if (err != AG_OK)
        return err;
    if (!hmac || strlen(hmac) != 64) {
        free(hmac);
        return ag__fail(AG_ENOTFOUND, "token accessor '%s' not found", accessor);
    }
    err = ag__token_fetch_hmac(a, hmac, validate, t);
    free(hmac);
    if (err == AG_ENOTFOUND)
        return ag__fail(AG_ENOTFOUND, "token accessor '%s' not found", accessor);
    return err;
}

/* ---- uses ------------------------------------------------------------------------ */

ag_err ag__token_use_op(ag_auth *a, const struct ag__tok *t, struct ag_store_op *op, char **text,
                        int *needed)
{
    *needed = 0;
    *text = NULL;
    if (!t->num_uses)
        return AG_OK;
    struct ag__tok next = *t;
    next.uses++;
    if (!(*text = ag__tok_text(&next)))
        return ag__fail(AG_ENOMEM, "token record");
    *op = (struct ag_store_op){.op = AG_OP_SET,
                               .key = t->key,
                               .value = *text,
                               .num = ag__auth_store_ttl(a, t->info.expire_ms)};
    *needed = 1;
    return AG_OK;
}

ag_err ag__token_consume(ag_auth *a, struct ag__tok *t)
{
    for (int i = 0; i < AG__AUTH_CAS_TRIES; i++) {
        struct ag_store_op op;
        char *text = NULL;
        int needed = 0, ok = 0;
        ag_err err = ag__token_use_op(a, t, &op, &text, &needed);
        if (err != AG_OK || !needed)
            return err;
        err = ag__auth_exec(a, t->key, t->raw, &op, 1, &ok);
        if (err == AG_OK && ok) {
            free(t->raw);
            t->raw = text;
            t->uses++;
            t->info.num_uses = t->num_uses - t->uses;
            return AG_OK;
        }
        free(text);
        if (err != AG_OK)
            return err;
        char hmac[65];
        memcpy(hmac, t->hmac, sizeof hmac);
        ag__tok_clear(t);
        if ((err = ag__token_fetch_hmac(a, hmac, 1, t)) != AG_OK)
            return err;
    }
    return ag__fail(AG_ECONFLICT, "token use: too many concurrent updates");
}

/* ---- lookup ---------------------------------------------------------------------- */

static ag_err lookup(ag_auth *a, const char *token, int use_cache, struct ag_token_info *out)
{
    memset(out, 0, sizeof *out);
    char hmac[65];
    ag_err err = ag__token_hash(a, token, hmac);
    if (err != AG_OK)
        return err;
    int64_t mono = 0, now = ag__auth_now_mono(a, &mono);
    uint64_t gen;
    pthread_mutex_lock(&a->mu);
    int hit = use_cache && ag__tcache_get(&a->cache, hmac, mono, out, &gen);
    pthread_mutex_unlock(&a->mu);
    if (hit) {
        if (out->expire_ms && now >= out->expire_ms) {
            char when[AG_RFC3339_LEN];
            ag__rfc3339(out->expire_ms, when);
            ag_token_info_clear(out);
            memset(out, 0, sizeof *out);
            AG__BEST_EFFORT(ag__auth_persist_expiry(a));
            return ag__token_denied("token expired at %s", when);
        }
        out->remaining_ms = out->expire_ms ? out->expire_ms - now : -1;
        /* A miss saves the clock in fetch_hmac, as every token operation does. */
        AG__BEST_EFFORT(ag__auth_persist_clock(a));
        return AG_OK;
    }
    struct ag__tok t;
    if ((err = ag__token_fetch_hmac(a, hmac, 1, &t)) != AG_OK)
        return err;
    if (use_cache && !t.num_uses) { /* counted tokens are never cached: each use must be seen */
        pthread_mutex_lock(&a->mu);
        ag__tcache_put(&a->cache, hmac, mono, &t.info, gen);
        pthread_mutex_unlock(&a->mu);
    }
    *out = t.info;
    t.info.meta_json = NULL;
    ag__tok_clear(&t);
    return AG_OK;
}

ag_err ag_auth_token_lookup(ag_auth *a, const char *token, struct ag_token_info *out)
{
    return lookup(a, token, 1, out);
}

ag_err ag_auth_token_lookup_fresh(ag_auth *a, const char *token, struct ag_token_info *out)
{
    return lookup(a, token, 0, out);
}

ag_err ag_auth_token_lookup_accessor(ag_auth *a, const char *accessor, struct ag_token_info *out)
{
    memset(out, 0, sizeof *out);
    struct ag__tok t;
    ag_err err = ag__token_fetch_accessor(a, accessor, 1, &t);
    if (err != AG_OK)
        return err;
    *out = t.info;
    t.info.meta_json = NULL;
    ag__tok_clear(&t);
    return AG_OK;
}

/* ---- ledger ---------------------------------------------------------------------- */

static char *policies_json(const struct ag_token_info *i)
{
    json_t *arr = json_array();
    for (size_t k = 0; k < i->npolicies; k++)
        json_array_append_new(arr, json_string(i->policies[k]));
    char *s = ag__j_dump(arr);
    json_decref(arr);
    return s;
}

/* Ledger entry about one token, data = {"accessor", ...extra}. */
static ag_err ledger_token(ag_auth *a, const struct ag_token_info *i, const char *action,
                           const char *resource, const char *decision, int success, json_t *data)
{
    json_object_set_new(data, "accessor", json_string(i->accessor));
    char *pol = policies_json(i);
    json_error_t jerr;
    json_object_set_new(data, "policies", pol ? json_loads(pol, 0, &jerr) : json_array());
    free(pol);
    char *dj = ag__j_dump(data);
    struct ag_ledger_entry e = {.kind = "token",
                                .agent_id = i->agent_id[0] ? i->agent_id : NULL,
                                .tier = i->tier,
                                .action = action,
                                .resource = resource,
                                .decision = decision,
                                .confidence = -1,
                                .success = success,
                                .data_json = dj};
    ag_err err = dj ? ag__auth_ledger(a, &e) : ag__fail(AG_ENOMEM, "ledger data");
    free(dj);
    return err;
}

static void put_time(json_t *o, const char *k, int64_t ms)
{
    char buf[AG_RFC3339_LEN];
    if (ms <= 0) {
        json_object_set_new(o, k, json_null());
        return;
    }
    ag__rfc3339(ms, buf);
    json_object_set_new(o, k, json_string(buf));
}

/* ---- issuing --------------------------------------------------------------------- */

/* An agent's token index (auth:agent_tokens:<agent>, used to revoke all its tokens at
 * once) maps each accessor to the latest time its token can live: its max expiry in ms,
 * never passed by renewal (0: none). A token that simply expires is never revoked, so
 * without pruning its entry would stay for good and the index of a long-lived agent
 * would grow with every login. Pruning drops the entries whose time has passed (their
 * tokens can no longer be valid), and entries without a time (older records) whose
 * accessor record is gone. Reading the whole index costs as much as it holds, so a
 * handle prunes an agent's index only when one of its entries can have gone stale:
 * it remembers the earliest time among the entries it saw or wrote, and looks again
 * at least every PRUNE_RECHECK_MS for entries other processes wrote. Best effort: a
 * failure leaves the index as it was, which is still correct. */
#define PRUNE_RECHECK_MS (10 * 60 * 1000LL)

static uint64_t agent_hash(const char *agkey)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: a slot index, not a security boundary */
    for (const unsigned char *p = (const unsigned char *)agkey; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* Whether the agent's index needs pruning now; if not, notes the time of the entry
 * just written (until: its max expiry, 0 for none). */
static int prune_due(ag_auth *a, const char *agkey, int64_t until, int64_t now)
{
    uint64_t h = agent_hash(agkey);
    pthread_mutex_lock(&a->mu);
    struct ag__prune_due *d = &a->prune[h % AG__PRUNE_SLOTS];
    int due = d->agent_hash != h || now >= d->due_ms;
    if (!due && until > 1 && until < d->due_ms)
        d->due_ms = until;
    pthread_mutex_unlock(&a->mu);
    return due;
}

static void prune_note(ag_auth *a, const char *agkey, int64_t due_ms)
{
    uint64_t h = agent_hash(agkey);
    pthread_mutex_lock(&a->mu);
    a->prune[h % AG__PRUNE_SLOTS] = (struct ag__prune_due){.agent_hash = h, .due_ms = due_ms};
    pthread_mutex_unlock(&a->mu);
}

static int stale_entry(ag_auth *a, const char *accessor, const char *until, int64_t now)
{
    char *end;
    long long t = strtoll(until, &end, 10);
    if (*until && *end == '\0' && t > 1) /* "1" marked records before the time was kept */
        return t < now;
    char akey[64], *v = NULL;
    snprintf(akey, sizeof akey, "auth:acc:%s", accessor);
    if (ag_store_get(a->store, akey, &v) != AG_OK) {
        ag_clear_error();
        return 0;
    }
    free(v);
    return v == NULL;
}

static void prune_agent_tokens(ag_auth *a, const char *agkey)
{
    int64_t now = ag__auth_now(a), due = now + PRUNE_RECHECK_MS;
    struct ag_store_op op = {.op = AG_OP_HGETALL, .key = agkey};
    struct ag_store_reply rep;
    if (ag_store_exec(a->store, NULL, &op, 1, &rep, NULL) != AG_OK) {
        ag_store_reply_free(&rep, 1);
        ag_clear_error();
        prune_note(a, agkey, due); /* no retry on every login while the store fails */
        return;
    }
    /* The stale entries go in one exec (one round trip on Redis). */
    size_t n = rep.type == AG_REPLY_ARRAY ? rep.nelems / 2 : 0, ndel = 0;
    struct ag_store_op *dels = n ? calloc(n, sizeof *dels) : NULL;
    struct ag_store_reply *drep = n ? calloc(n, sizeof *drep) : NULL;
    for (size_t i = 0; dels && drep && i < n; i++) {
        const char *acc = rep.elems[2 * i].str, *until = rep.elems[2 * i + 1].str;
        if (!acc || !until)
            continue;
        if (stale_entry(a, acc, until, now)) {
            dels[ndel++] = (struct ag_store_op){.op = AG_OP_HDEL, .key = agkey, .field = acc};
            continue;
        }
        long long t = strtoll(until, NULL, 10);
        if (t > 1 && t < due)
            due = t;
    }
    if (ndel) {
        if (ag_store_exec(a->store, NULL, dels, ndel, drep, NULL) != AG_OK)
            ag_clear_error();
        ag_store_reply_free(drep, ndel);
    }
    free(dels);
    free(drep);
    ag_store_reply_free(&rep, 1);
    prune_note(a, agkey, due);
}

ag_err ag__token_issue(ag_auth *a, struct ag__issue *is, char token[AG_TOKEN_BUF])
{
    struct ag_token_info *in = is->info;
    AG__BEST_EFFORT(ag__auth_persist_clock(a)); /* best effort: keeps the high-water mark fresh */
    uint8_t raw[TOKEN_RAW_LEN];
    char hmac[65];
    ag__random(raw, sizeof raw);
    token_encode(raw, token);
    sodium_memzero(raw, sizeof raw);
    ag_err herr = ag__token_hash(a, token, hmac);
    if (herr == AG_ESTORE) /* the keyring is not loaded yet: the store is down */
        return herr;
    if (herr != AG_OK) /* cannot happen: token_encode writes the canonical form */
        return ag__fail(AG_EINTERNAL, "token encoding");
    ag__random_hex((AG_ACCESSOR_BUF - 1) / 2, in->accessor);

    struct ag__tok t = {.info = *in, .num_uses = is->num_uses};
    char *text = ag__tok_text(&t);
    if (!text) {
        sodium_memzero(token, AG_TOKEN_BUF);
        return ag__fail(AG_ENOMEM, "token record");
    }
    json_t *data =
        json_pack("{s:s, s:I, s:b, s:I}", "parent", in->parent, "ttl_ms", (json_int_t)in->ttl_ms,
                  "renewable", in->renewable, "num_uses", (json_int_t)is->num_uses);
    put_time(data, "expire_time", in->expire_ms);
    ag_err err = ledger_token(a, in, is->action, is->resource, "allow", 1, data);
    json_decref(data);
    if (err != AG_OK) {
        free(text);
        sodium_memzero(token, AG_TOKEN_BUF);
        return err;
    }

    char tkey[80], akey[64], agkey[AG_AUTH_NAME_MAX + 32], ckey[64], until[24];
    snprintf(until, sizeof until, "%lld", (long long)in->max_expire_ms);
    snprintf(tkey, sizeof tkey, "auth:token:%s", hmac);
    snprintf(akey, sizeof akey, "auth:acc:%s", in->accessor);
    snprintf(agkey, sizeof agkey, "auth:agent_tokens:%s", in->agent_id);
    snprintf(ckey, sizeof ckey, "auth:children:%s", in->parent);
    int64_t ttl = ag__auth_store_ttl(a, in->expire_ms);
    struct ag_store_op ops[16];
    size_t n = 0;
    ops[n++] = (struct ag_store_op){.op = AG_OP_SET, .key = tkey, .value = text, .num = ttl};
    ops[n++] = (struct ag_store_op){.op = AG_OP_SET, .key = akey, .value = hmac, .num = ttl};
    ops[n++] =
        (struct ag_store_op){.op = AG_OP_HSET, .key = agkey, .field = in->accessor, .value = until};
    if (in->parent[0]) {
        ops[n++] = (struct ag_store_op){
            .op = AG_OP_HSET, .key = ckey, .field = in->accessor, .value = "1"};
        if (is->parent_store_ttl > 0)
            ops[n++] =
                (struct ag_store_op){.op = AG_OP_PEXPIRE, .key = ckey, .num = is->parent_store_ttl};
    }
    for (size_t k = 0; k < is->nextra && n < 16; k++)
        ops[n++] = is->extra[k];
    int ok = 0;
    err = ag__auth_exec(a, is->guard_key, is->guard_equals, ops, n, is->guard_key ? &ok : NULL);
    free(text);
    if (err == AG_OK && is->guard_key && !ok)
        err = ag__fail(AG_ECONFLICT, "token issue: %s changed concurrently", is->guard_key);
    if (err != AG_OK) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", ag_last_error());
        json_t *d = json_pack("{s:s}", "error", detail);
        AG__BEST_EFFORT(ledger_token(a, in, is->action, is->resource, "allow", 0, d));
        json_decref(d);
        sodium_memzero(token, AG_TOKEN_BUF);
        ag__fail(err, "%s", detail);
    }
    if (err == AG_OK && prune_due(a, agkey, in->max_expire_ms, ag__auth_now(a)))
        prune_agent_tokens(a, agkey);
    return err;
}

static ag_err tier_ttls(ag_auth *a, int tier, int64_t *ttl, int64_t *max)
{
    int64_t dttl, dmax;
    if (!ag__auth_tier_ttls(a, tier, &dttl, &dmax))
        return ag__fail(AG_EINVAL, "tier %d: no policy to take default TTLs from; give them", tier);
    if (*ttl == 0)
        *ttl = dttl;
    if (*max == 0)
        *max = dmax;
    return AG_OK;
}

static int has_policy(const struct ag_token_info *i, const char *p)
{
    for (size_t k = 0; k < i->npolicies; k++)
        if (strcmp(i->policies[k], p) == 0)
            return 1;
    return 0;
}

/* Fills a child's info from its parent and the request. */
static ag_err child_info(ag_auth *a, const struct ag__tok *parent, const struct ag_token_req *r,
                         int64_t now, struct ag_token_info *c)
{
    const struct ag_token_info *p = &parent->info;
    memset(c, 0, sizeof *c);
    c->tier = r->tier < 0 ? p->tier : r->tier;
    if (c->tier < AG_TIER_MIN || c->tier > AG_TIER_MAX)
        return ag__fail(AG_EINVAL, "tier %d: out of range 0..4", c->tier);
    if (c->tier > p->tier && !p->root)
        return ag__token_denied("a child token cannot have tier %d above its parent's %d", c->tier,
                                p->tier);
    if (r->npolicies > AG_TOKEN_MAX_POLICIES)
        return ag__fail(AG_EINVAL, "policies: at most %d", AG_TOKEN_MAX_POLICIES);
    for (size_t k = 0; k < r->npolicies; k++) {
        ag_err err = ag__auth_check_name("policies", r->policies[k], 0);
        if (err != AG_OK)
            return err;
        if (!p->root && !has_policy(p, r->policies[k]))
            return ag__token_denied("policy '%s' is not held by the parent token", r->policies[k]);
        ag__token_copy_str(c->policies[c->npolicies++], AG_AUTH_NAME_MAX, r->policies[k]);
    }
    if (!r->npolicies)
        ag__auth_tier_policy_name(a, c->tier, c->policies[c->npolicies++]);
    c->root = has_policy(c, AG_ROOT_POLICY);
    const char *agent = r->agent_id ? r->agent_id : p->agent_id;
    ag_err err = ag__auth_check_name("agent_id", agent, 1);
    if (err != AG_OK)
        return err;
    ag__token_copy_str(c->agent_id, sizeof c->agent_id, agent);
    int64_t ttl = r->ttl_ms, max = r->explicit_max_ttl_ms;
    if (ttl < 0 || max < 0 || ttl > AG_AUTH_TTL_LIMIT_MS || max > AG_AUTH_TTL_LIMIT_MS)
        return ag__fail(AG_EINVAL, "ttl and explicit_max_ttl: 0 (the default) up to %lld days",
                        (long long)(AG_AUTH_TTL_LIMIT_MS / (24 * 3600 * 1000LL)));
    if ((ttl == 0 || max == 0) && (err = tier_ttls(a, c->tier, &ttl, &max)) != AG_OK)
        return err;
    c->ttl_ms = ttl < max ? ttl : max;
    c->explicit_max_ttl_ms = r->explicit_max_ttl_ms;
    c->creation_ms = now;
    c->expire_ms = now + c->ttl_ms;
    c->max_expire_ms = now + max;
    /* A child never outlives its parent: Vault revokes children when the parent expires,
     * and without a background reaper the same follows from capping the child. */
    if (p->expire_ms && c->expire_ms > p->expire_ms)
        c->expire_ms = p->expire_ms;
    if (p->max_expire_ms && c->max_expire_ms > p->max_expire_ms)
        c->max_expire_ms = p->max_expire_ms;
    c->renewable = r->renewable;
    ag__token_copy_str(c->parent, sizeof c->parent, p->accessor);
    if (r->meta_json) {
        json_error_t jerr;
        json_t *m = json_loads(r->meta_json, 0, &jerr);
        int okm = json_is_object(m);
        json_decref(m);
        if (!okm)
            return ag__fail(AG_EINVAL, "meta: not a JSON object");
        if (!(c->meta_json = strdup(r->meta_json)))
            return ag__fail(AG_ENOMEM, "meta");
    }
    return AG_OK;
}

ag_err ag_auth_token_create(ag_auth *a, const char *parent_token, const struct ag_token_req *r,
                            char token[AG_TOKEN_BUF], struct ag_token_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    if (!r)
        return ag__fail(AG_EINVAL, "token create: no request");
    for (int attempt = 0; attempt < AG__AUTH_CAS_TRIES; attempt++) {
        struct ag__tok parent;
        ag_err err = ag__token_fetch(a, parent_token, &parent);
        if (err != AG_OK)
            return err;
        if (parent.num_uses) { /* as Vault: its children would not count against its uses */
            ag__tok_clear(&parent);
            return ag__token_denied("a token with a use limit cannot create child tokens");
        }
        struct ag_token_info c;
        char res[64];
        snprintf(res, sizeof res, "token/%s", parent.info.accessor);
        err = child_info(a, &parent, r, ag__auth_now(a), &c);
        if (err == AG_OK) {
            struct ag__issue is = {.info = &c,
                                   .num_uses = r->num_uses,
                                   /* the parent's renewals never pass its max expiry */
                                   .parent_store_ttl =
                                       ag__auth_store_ttl(a, parent.info.max_expire_ms),
                                   .guard_key = parent.key,
                                   .guard_equals = parent.raw,
                                   .action = "token.create",
                                   .resource = res};
            err = ag__token_issue(a, &is, token);
        }
        ag__tok_clear(&parent);
        if (err == AG_OK && info) {
            *info = c;
            info->remaining_ms = c.expire_ms - ag__auth_now(a);
            info->num_uses = r->num_uses;
        } else
            ag_token_info_clear(&c);
        if (err != AG_ECONFLICT)
            return err;
    }
    return ag__fail(AG_ECONFLICT, "token create: the parent changed concurrently too often");
}

ag_err ag_auth_root_token_create(ag_auth *a, char token[AG_TOKEN_BUF], struct ag_token_info *info)
{
    struct ag_token_info c;
    memset(&c, 0, sizeof c);
    ag__token_copy_str(c.agent_id, sizeof c.agent_id, "root");
    c.tier = AG_TIER_MAX;
    c.root = 1;
    ag__token_copy_str(c.policies[0], AG_AUTH_NAME_MAX, AG_ROOT_POLICY);
    c.npolicies = 1;
    c.creation_ms = ag__auth_now(a);
    struct ag__issue is = {.info = &c, .action = "token.create_root", .resource = "token/root"};
    ag_err err = ag__token_issue(a, &is, token);
    if (err == AG_OK && info) {
        *info = c;
        info->remaining_ms = -1;
    }
    return err;
}

/* ---- renewal --------------------------------------------------------------------- */

static ag_err renew_tok(ag_auth *a, struct ag__tok *t, int64_t increment_ms,
                        struct ag_token_info *out)
{
    for (int attempt = 0; attempt < AG__AUTH_CAS_TRIES; attempt++) {
        struct ag_token_info *i = &t->info;
        if (!i->renewable || !i->expire_ms)
            return ag__token_denied("token is not renewable");
        int64_t now = ag__auth_now(a);
        if (increment_ms > AG_AUTH_TTL_LIMIT_MS) /* the max TTL caps it anyway; no overflow */
            increment_ms = AG_AUTH_TTL_LIMIT_MS;
        int64_t target = now + (increment_ms > 0 ? increment_ms : i->ttl_ms);
        if (i->max_expire_ms && target > i->max_expire_ms)
            target = i->max_expire_ms;
        if (i->parent[0]) {
            struct ag__tok p;
            ag_err perr = ag__token_fetch_accessor(a, i->parent, 1, &p);
            if (perr == AG_OK && p.info.expire_ms && target > p.info.expire_ms)
                target = p.info.expire_ms;
            if (perr == AG_OK)
                ag__tok_clear(&p);
            else if (perr == AG_EPERM || perr == AG_ENOTFOUND)
                return ag__token_denied("the parent token is no longer valid");
            else
                return perr;
        }
        if (target < i->expire_ms) /* renewal extends, never shortens */
            target = i->expire_ms;
        struct ag__tok next = *t;
        next.info.expire_ms = target;
        char *text = ag__tok_text(&next);
        if (!text)
            return ag__fail(AG_ENOMEM, "token record");
        json_t *data = json_pack("{s:I}", "increment_ms", (json_int_t)increment_ms);
        put_time(data, "expire_time", target);
        char res[64];
        snprintf(res, sizeof res, "token/%s", i->accessor);
        ag_err err = ledger_token(a, i, "token.renew", res, "allow", 1, data);
        json_decref(data);
        if (err != AG_OK) {
            free(text);
            return err;
        }
        char akey[64];
        snprintf(akey, sizeof akey, "auth:acc:%s", i->accessor);
        int64_t ttl = ag__auth_store_ttl(a, target);
        struct ag_store_op ops[2] = {{.op = AG_OP_SET, .key = t->key, .value = text, .num = ttl},
                                     {.op = AG_OP_SET, .key = akey, .value = t->hmac, .num = ttl}};
        int ok = 0;
        err = ag__auth_exec(a, t->key, t->raw, ops, 2, &ok);
        if (err == AG_OK && ok) {
            free(t->raw);
            t->raw = text;
            i->expire_ms = target;
            i->remaining_ms = target - now;
            pthread_mutex_lock(&a->mu);
            ag__tcache_drop_accessor(&a->cache, i->accessor);
            pthread_mutex_unlock(&a->mu);
            if (out) {
                *out = *i;
                i->meta_json = NULL;
            }
            return AG_OK;
        }
        free(text);
        if (err != AG_OK)
            return err;
        char hmac[65];
        memcpy(hmac, t->hmac, sizeof hmac);
        ag__tok_clear(t);
        if ((err = ag__token_fetch_hmac(a, hmac, 1, t)) != AG_OK)
            return err;
    }
    return ag__fail(AG_ECONFLICT, "token renew: too many concurrent updates");
}

ag_err ag_auth_token_renew(ag_auth *a, const char *token, int64_t increment_ms,
                           struct ag_token_info *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    struct ag__tok t;
    ag_err err = ag__token_fetch(a, token, &t);
    if (err == AG_OK)
        err = renew_tok(a, &t, increment_ms, out);
    ag__tok_clear(&t);
    return err;
}

ag_err ag_auth_token_renew_accessor(ag_auth *a, const char *accessor, int64_t increment_ms,
                                    struct ag_token_info *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    struct ag__tok t;
    ag_err err = ag__token_fetch_accessor(a, accessor, 1, &t);
    if (err == AG_OK)
        err = renew_tok(a, &t, increment_ms, out);
    ag__tok_clear(&t);
    return err;
}
