#include "auth/auth.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agentgov/policy.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/time.h"

#define CLOCK_KEY              "auth:clock"
#define CLOCK_PERSIST_EVERY_MS 1000

static int64_t real_wall(void *ctx)
{
    (void)ctx;
    return ag__wall_ms();
}

static int64_t real_mono(void *ctx)
{
    (void)ctx;
    return ag__mono_ms();
}

/* ---- handle ---------------------------------------------------------------------- */

static ag_err load_high_water(ag_auth *a, int64_t *hw)
{
    char *v = NULL;
    ag_err err = ag_store_get(a->store, CLOCK_KEY, &v);
    *hw = 0;
    if (err == AG_OK && v) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (*end == '\0' && x > 0)
            *hw = x;
    }
    free(v);
    return err;
}

ag_err ag_auth_new(const struct ag_auth_opts *o, ag_auth **out)
{
    *out = NULL;
    if (!o || !o->store || !o->master_key)
        return ag__fail(AG_EINVAL, "auth: a store and a master key are required");
    if (!o->ledger)
        return ag__fail(AG_EINVAL, "auth: a ledger is required (there is no unaudited mode)");
    ag_err err = ag__crypto_init();
    if (err != AG_OK)
        return err;
    ag_auth *a = calloc(1, sizeof *a);
    if (!a)
        return ag__fail(AG_ENOMEM, "auth handle");
    a->store = o->store;
    a->ledger = o->ledger;
    a->policy = o->policy;
    if (o->master_key_path && !(a->master_key_path = strdup(o->master_key_path))) {
        free(a);
        return ag__fail(AG_ENOMEM, "auth handle");
    }
    a->wall_fn = real_wall;
    a->mono_fn = real_mono;
    pthread_mutex_init(&a->mu, NULL);
    int64_t ttl = o->cache_ttl_ms == 0 ? 1000 : o->cache_ttl_ms;
    if ((err = ag__tcache_init(&a->cache, ttl)) != AG_OK ||
        (err = ag__keyring_open(a->store, o->master_key, &a->kr, NULL)) != AG_OK ||
        (err = load_high_water(a, &a->persisted_hw)) != AG_OK) {
        ag_auth_free(a);
        return err;
    }
    ag__auth_rekey_hmac(a);
    ag__auth_set_clock(a, real_wall, real_mono, NULL);
    *out = a;
    return AG_OK;
}

void ag_auth_free(ag_auth *a)
{
    if (!a)
        return;
    ag__tcache_free(&a->cache);
    ag__keyring_wipe(&a->kr);
    free(a->master_key_path);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void ag_auth_set_policy(ag_auth *a, const ag_policy *policy)
{
    pthread_mutex_lock(&a->mu);
    a->policy = policy;
    pthread_mutex_unlock(&a->mu);
}

void ag_auth_set_policy_source(ag_auth *a, const struct ag_auth_policy_source *src)
{
    pthread_mutex_lock(&a->mu);
    if (src)
        a->policy_src = *src;
    else
        memset(&a->policy_src, 0, sizeof a->policy_src);
    pthread_mutex_unlock(&a->mu);
}

const ag_policy *ag__auth_policy_get(ag_auth *a, void **ref)
{
    *ref = NULL;
    pthread_mutex_lock(&a->mu);
    struct ag_auth_policy_source src = a->policy_src;
    const ag_policy *p = a->policy;
    pthread_mutex_unlock(&a->mu);
    return src.get ? src.get(src.ctx, ref) : p;
}

void ag__auth_policy_put(ag_auth *a, void *ref)
{
    pthread_mutex_lock(&a->mu);
    struct ag_auth_policy_source src = a->policy_src;
    pthread_mutex_unlock(&a->mu);
    if (src.put)
        src.put(src.ctx, ref);
}

int ag__auth_tier_ttls(ag_auth *a, int tier, int64_t *ttl_ms, int64_t *max_ttl_ms)
{
    void *ref;
    const ag_policy *p = ag__auth_policy_get(a, &ref);
    struct ag_tier_info ti;
    int found = p && ag_policy_tier(p, tier, &ti) == AG_OK;
    if (found) {
        *ttl_ms = ti.token_ttl_ms;
        *max_ttl_ms = ti.max_ttl_ms;
    }
    ag__auth_policy_put(a, ref);
    return found;
}

void ag__auth_tier_policy_name(ag_auth *a, int tier, char out[AG_AUTH_NAME_MAX])
{
    void *ref;
    ag_auth_tier_policy(ag__auth_policy_get(a, &ref), tier, out);
    ag__auth_policy_put(a, ref);
}

/* ---- clock ----------------------------------------------------------------------- */

void ag__auth_set_clock(ag_auth *a, ag__auth_clock_fn wall, ag__auth_clock_fn mono, void *ctx)
{
    pthread_mutex_lock(&a->mu);
    a->wall_fn = wall;
    a->mono_fn = mono;
    a->clock_ctx = ctx;
    int64_t w = wall(ctx);
    a->base_wall = w > a->persisted_hw ? w : a->persisted_hw;
    a->base_mono = mono(ctx);
    a->high_water = a->base_wall;
    ag__tcache_clear(&a->cache);
    pthread_mutex_unlock(&a->mu);
}

int64_t ag__auth_now_mono(ag_auth *a, int64_t *mono)
{
    pthread_mutex_lock(&a->mu);
    int64_t w = a->wall_fn(a->clock_ctx), mo = a->mono_fn(a->clock_ctx);
    int64_t m = a->base_wall + (mo - a->base_mono);
    int64_t now = w > m ? w : m;
    if (a->high_water > now)
        now = a->high_water;
    a->high_water = now;
    pthread_mutex_unlock(&a->mu);
    if (mono)
        *mono = mo;
    return now;
}

int64_t ag__auth_now(ag_auth *a)
{
    return ag__auth_now_mono(a, NULL);
}

static ag_err persist_clock(ag_auth *a, int force)
{
    pthread_mutex_lock(&a->mu);
    int64_t now = a->high_water;
    int due = force ? now > a->persisted_hw : now - a->persisted_hw >= CLOCK_PERSIST_EVERY_MS;
    pthread_mutex_unlock(&a->mu);
    if (!due)
        return AG_OK;
    for (int i = 0; i < AG__AUTH_CAS_TRIES; i++) {
        char *cur = NULL;
        ag_err err = ag_store_get(a->store, CLOCK_KEY, &cur);
        if (err != AG_OK)
            return err;
        int64_t stored = cur ? strtoll(cur, NULL, 10) : 0;
        if (stored >= now) {
            free(cur);
            now = stored;
            break;
        }
        char val[32];
        snprintf(val, sizeof val, "%lld", (long long)now);
        struct ag_store_op op = {.op = AG_OP_SET, .key = CLOCK_KEY, .value = val};
        int ok = 0;
        err = ag__auth_exec(a, CLOCK_KEY, cur, &op, 1, &ok);
        free(cur);
        if (err != AG_OK)
            return err;
        if (ok)
            break;
    }
    pthread_mutex_lock(&a->mu);
    if (now > a->persisted_hw)
        a->persisted_hw = now;
    pthread_mutex_unlock(&a->mu);
    return AG_OK;
}

ag_err ag__auth_persist_clock(ag_auth *a)
{
    return persist_clock(a, 0);
}

ag_err ag__auth_persist_expiry(ag_auth *a)
{
    return persist_clock(a, 1);
}

/* ---- ledger and store helpers ---------------------------------------------------- */

ag_err ag__auth_ledger(ag_auth *a, const struct ag_ledger_entry *e)
{
    ag_err err = ag_ledger_append(a->ledger, e, NULL, NULL);
    if (err == AG_OK)
        return AG_OK;
    return ag__fail_wrap(err, "ledger: cannot record %s on %s, so it is refused: %s", e->action,
                         e->resource ? e->resource : "-", ag_strerror(err));
}

ag_err ag__auth_get_json(ag_auth *a, const char *key, json_t **obj, char **raw)
{
    char *v = NULL;
    *obj = NULL;
    if (raw)
        *raw = NULL;
    ag_err err = ag_store_get(a->store, key, &v);
    if (err != AG_OK || !v)
        return err;
    json_error_t jerr;
    *obj = json_loads(v, 0, &jerr);
    if (!*obj || !json_is_object(*obj)) {
        json_decref(*obj);
        *obj = NULL;
        free(v);
        return ag__fail(AG_ESTORE, "auth: record %s is not a JSON object", key);
    }
    if (raw)
        *raw = v;
    else
        free(v);
    return AG_OK;
}

ag_err ag__auth_exec(ag_auth *a, const char *guard_key, const char *guard_equals,
                     const struct ag_store_op *ops, size_t n, int *ok)
{
    struct ag_store_reply stack[16], *rep = stack;
    if (n > 16 && !(rep = calloc(n, sizeof *rep)))
        return ag__fail(AG_ENOMEM, "store replies");
    struct ag_store_guard g = {.key = guard_key, .equals = guard_equals};
    int gok = 1;
    ag_err err = ag_store_exec(a->store, guard_key ? &g : NULL, ops, n, rep, &gok);
    ag_store_reply_free(rep, n);
    if (rep != stack)
        free(rep);
    if (ok)
        *ok = gok;
    else if (err == AG_OK && !gok)
        err = ag__fail(AG_ECONFLICT, "auth: %s changed concurrently", guard_key);
    return err;
}

int64_t ag__j_int(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

const char *ag__j_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int ag__j_bool(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

char *ag__j_dump(const json_t *o)
{
    return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
}

void ag__auth_rekey_hmac(ag_auth *a)
{
    crypto_auth_hmacsha256_init(&a->hmac_base, a->kr.token_key, AG_AUTH_KEY_LEN);
}

void ag__auth_hash(ag_auth *a, const char *label, const void *data, size_t len, char out[65])
{
    /* label \0 data, so that a token and a secret ID can never hash alike. */
    crypto_auth_hmacsha256_state st = a->hmac_base;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label) + 1);
    crypto_auth_hmacsha256_update(&st, data, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    ag__hex(mac, sizeof mac, out);
}

int64_t ag__auth_store_ttl(ag_auth *a, int64_t expire_ms)
{
    if (expire_ms <= 0)
        return 0;
    int64_t left = expire_ms - ag__auth_now(a);
    int64_t ttl = (left > 0 ? left : 0) + AG__AUTH_GRACE_MS;
    /* The grace on top of a TTL at the ceiling would pass the store's own ceiling; the
     * store TTL only collects garbage, so it is simply capped. */
    return ttl < AG_STORE_TTL_MAX_MS ? ttl : AG_STORE_TTL_MAX_MS;
}

ag_err ag__auth_check_name(const char *what, const char *s, int agent)
{
    if (!s || !*s)
        return ag__fail(AG_EINVAL, "%s: must not be empty", what);
    size_t n = strlen(s);
    if (n >= AG_AUTH_NAME_MAX)
        return ag__fail(AG_EINVAL, "%s: longer than %d characters", what, AG_AUTH_NAME_MAX - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '.' || c == '_' || c == '-' || (agent && (c == '@' || c == ':')))
            continue;
        return ag__fail(AG_EINVAL, "%s: '%s' has a character outside [A-Za-z0-9._-%s] at %zu", what,
                        s, agent ? "@:" : "", i + 1);
    }
    return AG_OK;
}

/* ---- keys and files -------------------------------------------------------------- */

static ag_err parse_key_hex(const char *text, const char *where, uint8_t key[AG_AUTH_KEY_LEN])
{
    char hex[2 * AG_AUTH_KEY_LEN + 1];
    size_t n = 0;
    while (*text && isspace((unsigned char)*text))
        text++;
    while (text[n] && !isspace((unsigned char)text[n]))
        n++;
    if (n != 2 * AG_AUTH_KEY_LEN)
        return ag__fail(AG_EPARSE, "%s: expected %d hex digits, found %zu characters", where,
                        2 * AG_AUTH_KEY_LEN, n);
    memcpy(hex, text, n);
    hex[n] = '\0';
    ag_err err = ag__unhex(hex, key, AG_AUTH_KEY_LEN);
    sodium_memzero(hex, sizeof hex);
    if (err != AG_OK)
        return ag__fail(AG_EPARSE, "%s: not a hex key", where);
    return AG_OK;
}

ag_err ag_auth_master_key_load(const char *path, uint8_t key[AG_AUTH_KEY_LEN])
{
    const char *env = getenv(AG_AUTH_MASTER_KEY_ENV);
    if (env && *env)
        return parse_key_hex(env, "$" AG_AUTH_MASTER_KEY_ENV, key);
    if (!path)
        return ag__fail(AG_EINVAL, "no master key: set $%s or give a key file",
                        AG_AUTH_MASTER_KEY_ENV);
    struct stat st;
    if (stat(path, &st) != 0)
        return ag__fail(errno == ENOENT ? AG_ENOTFOUND : AG_EIO,
                        "%s: %s (run `agentgov init`, or set $%s)", path, strerror(errno),
                        AG_AUTH_MASTER_KEY_ENV);
    if (st.st_mode & 077)
        return ag__fail(AG_EPERM, "%s: mode %04o lets others read the master key; chmod 600", path,
                        (unsigned)(st.st_mode & 07777));
    char *data = NULL;
    size_t len = 0;
    ag_err err = ag__read_file(path, 4096, &data, &len);
    if (err != AG_OK)
        return err;
    err = parse_key_hex(data, path, key);
    sodium_memzero(data, len);
    free(data);
    return err;
}

ag_err ag_auth_master_key_create(const char *path)
{
    ag_err err = ag__crypto_init();
    if (err != AG_OK)
        return err;
    uint8_t key[AG_AUTH_KEY_LEN];
    char hex[2 * AG_AUTH_KEY_LEN + 2];
    ag__random(key, sizeof key);
    ag__hex(key, sizeof key, hex);
    strcat(hex, "\n");
    err = ag__write_file_atomic(path, hex, strlen(hex), 0600, 1);
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    return err;
}

ag_err ag_auth_token_read_file(const char *path, char token[AG_TOKEN_BUF])
{
    char *data = NULL;
    size_t len = 0;
    ag_err err = ag__read_file(path, 4096, &data, &len);
    if (err != AG_OK)
        return err;
    char *s = data;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = 0;
    while (s[n] && !isspace((unsigned char)s[n]))
        n++;
    if (n == 0 || n >= AG_TOKEN_BUF)
        err = ag__fail(AG_EPARSE, "%s: no token on its first line", path);
    else {
        memcpy(token, s, n);
        token[n] = '\0';
    }
    sodium_memzero(data, len);
    free(data);
    return err;
}

/* ---- small helpers --------------------------------------------------------------- */

void ag_auth_tier_policy(const ag_policy *p, int tier, char out[AG_AUTH_NAME_MAX])
{
    struct ag_tier_info ti;
    if (p && ag_policy_tier(p, tier, &ti) == AG_OK && ti.name && *ti.name) {
        int n = snprintf(out, AG_AUTH_NAME_MAX, "t%d-%s", tier, ti.name);
        for (int i = 0; i < n && i < AG_AUTH_NAME_MAX; i++)
            out[i] = (char)tolower((unsigned char)out[i]);
        return;
    }
    snprintf(out, AG_AUTH_NAME_MAX, "t%d", tier);
}

ag_err ag_auth_secret_path(const char *in, char out[AG_SECRET_PATH_MAX])
{
    if (!in)
        return ag__fail(AG_EINVAL, "secret path: missing");
    const char *p = strncmp(in, "secret/", 7) == 0 ? in + 7 : in;
    size_t n = strlen(p);
    if (n == 0)
        return ag__fail(AG_EINVAL, "secret path '%s': names no secret", in);
    if (n >= AG_SECRET_PATH_MAX)
        return ag__fail(AG_EINVAL, "secret path '%s': longer than %d characters", in,
                        AG_SECRET_PATH_MAX - 1);
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = p[i];
        if (c == '/' || c == '\0') {
            if (seg == 0)
                return ag__fail(AG_EINVAL, "secret path '%s': empty segment", in);
            if ((seg == 1 && p[i - 1] == '.') || (seg == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
                return ag__fail(AG_EINVAL, "secret path '%s': '.' and '..' are not names", in);
            seg = 0;
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '.' && c != '_' && c != '-')
            return ag__fail(AG_EINVAL, "secret path '%s': character '%c' outside [A-Za-z0-9._-/]",
                            in, c);
        seg++;
    }
    memcpy(out, p, n + 1);
    return AG_OK;
}

void ag_auth_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void ag_token_info_clear(struct ag_token_info *t)
{
    if (!t)
        return;
    free(t->meta_json);
    t->meta_json = NULL;
}
