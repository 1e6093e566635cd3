/* Front end of the state store: picks a backend by URL, validates ops, keeps the
 * all-or-nothing reply contract, and builds the convenience wrappers and fenced locks
 * on top of ag_store_exec so that every backend gets them for free. */
#include "agentgov/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/breaker.h"
#include "core/err.h"
#include "store/backend.h"
#include "store/store_redis.h"
#include "store/store_sqlite.h"

/* The one counter every fencing token comes from. It has no TTL: if it were lost, old
 * tokens could be handed out again. */
#define FENCE_COUNTER_KEY "fence:counter"

struct ag_store {
    const struct ag__store_backend *be;
    void *impl;
    ag_breaker *breaker; /* borrowed; NULL: every call goes to the backend */
};

void ag_store_set_breaker(ag_store *s, ag_breaker *b)
{
    s->breaker = b;
}

/* Only an unreachable or failing backend counts against the breaker: a refused op
 * (bad arguments, a wrong type) is the caller's fault and the store answered. */
static int backend_failed(ag_err e)
{
    return e == AG_ESTORE || e == AG_ETIMEOUT || e == AG_EIO || e == AG_ENOSPACE;
}

static const struct ag__store_backend *const backends[] = {
    &ag__store_sqlite,
    &ag__store_redis,
};

ag_err ag_store_open(const char *url, ag_store **out)
{
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return ag__fail(AG_EINVAL, "store: empty store URL");
    const struct ag__store_backend *be = NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strncmp(url, backends[i]->scheme, strlen(backends[i]->scheme)) == 0) {
            be = backends[i];
            break;
        }
    }
    if (be == NULL)
        return ag__fail(AG_EINVAL,
                        "store: unknown store URL '%s' (expected sqlite:PATH or "
                        "redis://HOST:PORT/DB)",
                        url);
    ag_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ag__fail(AG_ENOMEM, "store: out of memory opening '%s'", url);
    s->be = be;
    ag_err e = be->open(url, &s->impl);
    if (e != AG_OK) {
        free(s);
        return e;
    }
    *out = s;
    return AG_OK;
}

void ag_store_free(ag_store *s)
{
    if (s == NULL)
        return;
    s->be->close(s->impl);
    free(s);
}

const char *ag_store_backend(const ag_store *s)
{
    return s->be->name;
}

uint64_t ag_store_round_trips(const ag_store *s)
{
    return s->be->round_trips(s->impl);
}

static void reply_clear(struct ag_store_reply *r)
{
    free(r->str);
    if (r->elems)
        ag_store_reply_free(r->elems, r->nelems);
    free(r->elems);
    memset(r, 0, sizeof *r);
}

void ag_store_reply_free(struct ag_store_reply *replies, size_t n)
{
    if (replies == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        reply_clear(&replies[i]);
}

ag_err ag_store_exec(ag_store *s, const struct ag_store_guard *guard, const struct ag_store_op *ops,
                     size_t n, struct ag_store_reply *replies, int *guard_ok)
{
    int ok_local;
    if (guard_ok == NULL)
        guard_ok = &ok_local;
    *guard_ok = 0;
    if (n > 0 && replies == NULL)
        return ag__fail(AG_EINVAL, "store: %zu ops but no reply slots", n);
    if (n > 0)
        memset(replies, 0, n * sizeof *replies);
    if (guard != NULL && (guard->key == NULL || guard->key[0] == '\0'))
        return ag__fail(AG_EINVAL, "store: guard without a key");
    ag_err e = ag__store_validate_ops(ops, n);
    if (e != AG_OK)
        return e;
    struct ag_breaker_call call;
    if (!ag_breaker_allow(s->breaker, &call)) {
        *guard_ok = 0;
        return ag__fail(AG_ESTORE, "store: %s", call.why);
    }
    *guard_ok = 1;
    e = s->be->exec(s->impl, guard, ops, n, replies, guard_ok);
    ag_breaker_done(s->breaker, &call, !backend_failed(e), e ? ag_last_error() : NULL);
    if (e != AG_OK || !*guard_ok) {
        /* Whatever a backend filled in before failing is dropped: the contract is
         * all replies NIL unless the batch ran. */
        ag_store_reply_free(replies, n);
        if (e != AG_OK)
            *guard_ok = 0;
    }
    return e;
}

/* Runs one op without a guard; the caller frees *r. */
static ag_err exec1(ag_store *s, const struct ag_store_op *op, struct ag_store_reply *r)
{
    return ag_store_exec(s, NULL, op, 1, r, NULL);
}

ag_err ag_store_get(ag_store *s, const char *key, char **val)
{
    *val = NULL;
    struct ag_store_op op = {.op = AG_OP_GET, .key = key};
    struct ag_store_reply r;
    ag_err e = exec1(s, &op, &r);
    if (e != AG_OK)
        return e;
    if (r.type == AG_REPLY_STR) {
        *val = r.str; /* handed over */
        r.str = NULL;
    }
    ag_store_reply_free(&r, 1);
    return AG_OK;
}

ag_err ag_store_set(ag_store *s, const char *key, const char *val, int64_t ttl_ms)
{
    struct ag_store_op op = {.op = AG_OP_SET, .key = key, .value = val, .num = ttl_ms};
    struct ag_store_reply r;
    ag_err e = exec1(s, &op, &r);
    ag_store_reply_free(&r, 1);
    return e;
}

ag_err ag_store_del(ag_store *s, const char *key)
{
    struct ag_store_op op = {.op = AG_OP_DEL, .key = key};
    struct ag_store_reply r;
    ag_err e = exec1(s, &op, &r);
    ag_store_reply_free(&r, 1);
    return e;
}

ag_err ag_store_cas_del(ag_store *s, const char *key, const char *expected, int *deleted)
{
    *deleted = 0;
    if (expected == NULL)
        return ag__fail(AG_EINVAL, "store: compare-and-delete of '%s' without a value",
                        key ? key : "(null)");
    struct ag_store_guard g = {.key = key, .equals = expected};
    struct ag_store_op op = {.op = AG_OP_DEL, .key = key};
    struct ag_store_reply r;
    int ok;
    ag_err e = ag_store_exec(s, &g, &op, 1, &r, &ok);
    if (e == AG_OK && ok)
        *deleted = r.type == AG_REPLY_INT && r.integer > 0;
    ag_store_reply_free(&r, 1);
    return e;
}

ag_err ag_store_hincr(ag_store *s, const char *key, const char *field, int64_t by, int64_t *newval)
{
    struct ag_store_op op = {.op = AG_OP_HINCRBY, .key = key, .field = field, .num = by};
    struct ag_store_reply r;
    ag_err e = exec1(s, &op, &r);
    if (e == AG_OK && newval)
        *newval = r.integer;
    ag_store_reply_free(&r, 1);
    return e;
}

ag_err ag_store_rpush(ag_store *s, const char *key, const char *val)
{
    struct ag_store_op op = {.op = AG_OP_RPUSH, .key = key, .value = val};
    struct ag_store_reply r;
    ag_err e = exec1(s, &op, &r);
    ag_store_reply_free(&r, 1);
    return e;
}

void ag_store_strv_free(char **items, size_t n)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

ag_err ag_store_lrange(ag_store *s, const char *key, int64_t start, int64_t stop, char ***items,
                       size_t *n)
{
    *items = NULL;
    *n = 0;
    struct ag_store_op op = {.op = AG_OP_LRANGE, .key = key, .num = start, .num2 = stop};
    struct ag_store_reply r;
    ag_err e = exec1(s, &op, &r);
    if (e != AG_OK)
        return e;
    char **v = calloc(r.nelems ? r.nelems : 1, sizeof *v);
    if (v == NULL) {
        ag_store_reply_free(&r, 1);
        return ag__fail(AG_ENOMEM, "store: out of memory reading list '%s'", key);
    }
    for (size_t i = 0; i < r.nelems; i++) {
        v[i] = r.elems[i].str; /* handed over */
        r.elems[i].str = NULL;
    }
    *items = v;
    *n = r.nelems;
    ag_store_reply_free(&r, 1);
    return AG_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

ag_err ag_store_keys(ag_store *s, const char *prefix, char ***keys, size_t *n)
{
    *keys = NULL;
    *n = 0;
    char **v = NULL;
    size_t nv = 0;
    struct ag_breaker_call call;
    if (!ag_breaker_allow(s->breaker, &call))
        return ag__fail(AG_ESTORE, "store: %s", call.why);
    ag_err e = s->be->keys(s->impl, prefix ? prefix : "", &v, &nv);
    ag_breaker_done(s->breaker, &call, !backend_failed(e), e ? ag_last_error() : NULL);
    if (e != AG_OK)
        return e;
    if (nv > 1)
        qsort(v, nv, sizeof *v, cmp_str);
    /* A Redis SCAN may return a key twice; drop neighbours that repeat. */
    size_t w = 0;
    for (size_t i = 0; i < nv; i++) {
        if (w > 0 && strcmp(v[w - 1], v[i]) == 0)
            free(v[i]);
        else
            v[w++] = v[i];
    }
    *keys = v;
    *n = w;
    return AG_OK;
}

void ag_store_lock_value(int64_t fence, const char *owner, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRId64 ":%s", fence, owner);
}

static ag_err lock_args(const char *key, const char *owner, int64_t ttl_ms)
{
    if (key == NULL || key[0] == '\0' || owner == NULL || owner[0] == '\0')
        return ag__fail(AG_EINVAL, "store: lock needs a key and an owner");
    if (ttl_ms <= 0 || ttl_ms > AG_STORE_TTL_MAX_MS) /* beyond: now + TTL would wrap */
        return ag__fail(AG_EINVAL, "store: lock '%s': TTL must be 1..%lld ms, got %lld", key,
                        (long long)AG_STORE_TTL_MAX_MS, (long long)ttl_ms);
    return AG_OK;
}

/* Two round trips: the fence must be in the value SETNX writes, and a batch cannot feed
 * one op's reply into another. A fence taken for an attempt that finds the lock held is
 * simply skipped; the counter only has to grow. */
ag_err ag_store_lock_acquire(ag_store *s, const char *key, const char *owner, int64_t ttl_ms,
                             int64_t *fence)
{
    *fence = 0;
    ag_err e = lock_args(key, owner, ttl_ms);
    if (e != AG_OK)
        return e;
    struct ag_store_op inc = {.op = AG_OP_INCRBY, .key = FENCE_COUNTER_KEY, .num = 1};
    struct ag_store_reply r[2];
    if ((e = exec1(s, &inc, r)) != AG_OK)
        return e;
    int64_t f = r[0].integer;
    ag_store_reply_free(r, 1);

    char *val = NULL;
    size_t vlen = strlen(owner) + 24;
    if ((val = malloc(vlen)) == NULL)
        return ag__fail(AG_ENOMEM, "store: out of memory locking '%s'", key);
    ag_store_lock_value(f, owner, val, vlen);
    struct ag_store_op ops[2] = {
        {.op = AG_OP_SETNX, .key = key, .value = val, .num = ttl_ms},
        {.op = AG_OP_GET, .key = key},
    };
    e = ag_store_exec(s, NULL, ops, 2, r, NULL);
    free(val);
    if (e != AG_OK)
        return e;
    if (r[0].integer != 1) {
        e = ag__fail(AG_ELOCKED, "store: lock '%s' is held (value '%s')", key,
                     r[1].type == AG_REPLY_STR ? r[1].str : "?");
        ag_store_reply_free(r, 2);
        return e;
    }
    ag_store_reply_free(r, 2);
    *fence = f;
    return AG_OK;
}

/* Runs op on the lock key only if it still holds "<fence>:<owner>". */
static ag_err lock_guarded(ag_store *s, const char *key, const char *owner, int64_t fence,
                           struct ag_store_op *op, const char *what)
{
    size_t vlen = strlen(owner) + 24;
    char *val = malloc(vlen);
    if (val == NULL)
        return ag__fail(AG_ENOMEM, "store: out of memory locking '%s'", key);
    ag_store_lock_value(fence, owner, val, vlen);
    struct ag_store_guard g = {.key = key, .equals = val};
    struct ag_store_reply r;
    int ok;
    ag_err e = ag_store_exec(s, &g, op, 1, &r, &ok);
    ag_store_reply_free(&r, 1);
    if (e == AG_OK && !ok)
        e = ag__fail(AG_ELOCKED,
                     "store: cannot %s lock '%s': no longer held by '%s' with fence %lld", what,
                     key, owner, (long long)fence);
    free(val);
    return e;
}

ag_err ag_store_lock_refresh(ag_store *s, const char *key, const char *owner, int64_t fence,
                             int64_t ttl_ms)
{
    ag_err e = lock_args(key, owner, ttl_ms);
    if (e != AG_OK)
        return e;
    struct ag_store_op op = {.op = AG_OP_PEXPIRE, .key = key, .num = ttl_ms};
    return lock_guarded(s, key, owner, fence, &op, "refresh");
}

ag_err ag_store_lock_release(ag_store *s, const char *key, const char *owner, int64_t fence)
{
    ag_err e = lock_args(key, owner, 1);
    if (e != AG_OK)
        return e;
    struct ag_store_op op = {.op = AG_OP_DEL, .key = key};
    return lock_guarded(s, key, owner, fence, &op, "release");
}
