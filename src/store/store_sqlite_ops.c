/* The SQLite backend's ops, one function per opcode, and the helpers they share: each
 * runs inside the transaction store_sqlite.c opened (Redis semantics on the tables
 * described there). */
#include "store/store_sqlite_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/time.h"

static const char *const type_names[] = {"none", "string", "hash", "list", "zset"};

ag_err ag__sq_db_fail(struct ag__sq *q, const char *what)
{
    return ag__fail(AG_ESTORE, "store: sqlite %s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
}

/* Resets stmt for reuse and binds ?1 to key (every statement but a few starts with it). */
sqlite3_stmt *ag__sq_prep(struct ag__sq *q, int which)
{
    sqlite3_stmt *st = q->st[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

void ag__sq_bind_str(sqlite3_stmt *st, int col, const char *s)
{
    sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

/* Steps a statement that returns no row. */
ag_err ag__sq_run(struct ag__sq *q, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ag__sq_db_fail(q, what);
    return AG_OK;
}

/* Steps a query: *row is 1 when a row is ready (the caller reads it, then resets). */
ag_err ag__sq_step_row(struct ag__sq *q, sqlite3_stmt *st, int *row, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *row = 1;
        return AG_OK;
    }
    sqlite3_reset(st);
    *row = 0;
    if (rc != SQLITE_DONE)
        return ag__sq_db_fail(q, what);
    return AG_OK;
}

__attribute__((format(printf, 2, 3))) static ag_err op_fail(const struct ag__sq_op *c,
                                                            const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ag__fail(AG_EINVAL, "store: op %zu (%s %s): %s", c->i, ag__store_opname(c->o->op),
                    c->o->key, msg);
}

static ag_err wrongtype(const struct ag__sq_op *c, int have)
{
    return op_fail(c, "WRONGTYPE the key holds a %s", type_names[have]);
}

static ag_err del_key(struct ag__sq *q, const char *key)
{
    sqlite3_stmt *st = ag__sq_prep(q, AG__SQ_DELKEY);
    ag__sq_bind_str(st, 1, key);
    return ag__sq_run(q, st, "delete key");
}

/* Type of the live key (AG__SQT_NONE when absent). An expired key is deleted here (or only
 * skipped in a read-only batch), so every op sees it exactly as an absent key. *expires
 * is 0 when the key has no TTL. */
ag_err ag__sq_lookup(struct ag__sq *q, const char *key, int64_t now, int *type, int64_t *expires)
{
    sqlite3_stmt *st = ag__sq_prep(q, AG__SQ_LOOKUP);
    ag__sq_bind_str(st, 1, key);
    int row;
    ag_err e = ag__sq_step_row(q, st, &row, "look up key");
    *type = AG__SQT_NONE;
    *expires = 0;
    if (e != AG_OK || !row)
        return e;
    int t = sqlite3_column_int(st, 0);
    int64_t exp = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (exp != 0 && exp <= now)
        return q->readonly ? AG_OK : del_key(q, key);
    *type = t;
    *expires = exp;
    return AG_OK;
}

/* Type of the op's key, failing with WRONGTYPE unless it is absent or `want`. */
static ag_err typed(const struct ag__sq_op *c, int want, int *type)
{
    int64_t exp;
    ag_err e = ag__sq_lookup(c->q, c->o->key, c->now, type, &exp);
    if (e == AG_OK && *type != AG__SQT_NONE && *type != want)
        return wrongtype(c, *type);
    return e;
}

/* Like typed(), but creates the container key when it is absent. */
static ag_err typed_create(const struct ag__sq_op *c, int want)
{
    int t;
    ag_err e = typed(c, want, &t);
    if (e != AG_OK || t != AG__SQT_NONE)
        return e;
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_NEWKEY);
    ag__sq_bind_str(st, 1, c->o->key);
    sqlite3_bind_int(st, 2, want);
    return ag__sq_run(c->q, st, "create key");
}

/* Redis accepts exactly the canonical decimal form of a signed 64-bit integer. */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 20)
        return 0;
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == len || (s[i] == '0' && len > i + 1) || (i == 1 && s[1] == '0'))
        return 0;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (s[0] == '-') {
        if (v > (uint64_t)INT64_MAX + 1)
            return 0;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)v;
    }
    return 1;
}

/* Adds by to the integer in column 0 of st (a row is ready; NULL row means 0). */
static ag_err incr_value(const struct ag__sq_op *c, sqlite3_stmt *st, int row, int64_t *out)
{
    int64_t cur = 0;
    if (row) {
        const char *txt = (const char *)sqlite3_column_blob(st, 0);
        int ok = parse_i64(txt ? txt : "", (size_t)sqlite3_column_bytes(st, 0), &cur);
        sqlite3_reset(st);
        if (!ok)
            return op_fail(c, "%s is not an integer", c->o->field ? "hash value" : "value");
    }
    if (__builtin_add_overflow(cur, c->o->num, out))
        return op_fail(c, "%s", "increment or decrement would overflow");
    return AG_OK;
}

static void bind_i64_text(sqlite3_stmt *st, int col, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    sqlite3_bind_blob(st, col, buf, n, SQLITE_TRANSIENT);
}

/* Copies column col of the ready row into the reply as a string. */
static ag_err col_str(sqlite3_stmt *st, int col, struct ag_store_reply *r)
{
    const void *p = sqlite3_column_blob(st, col);
    return ag__reply_str(r, p ? p : "", (size_t)sqlite3_column_bytes(st, col));
}

/* Collects every row of st into an ARRAY reply, ncols string elements per row. */
static ag_err collect(struct ag__sq *q, sqlite3_stmt *st, int ncols, struct ag_store_reply *r)
{
    size_t cap = 8, n = 0;
    struct ag_store_reply *el = calloc(cap, sizeof *el);
    ag_err e = el ? AG_OK : ag__fail(AG_ENOMEM, "store: out of memory");
    int row = 1;
    while (e == AG_OK && (e = ag__sq_step_row(q, st, &row, "read rows")) == AG_OK && row) {
        if (n + (size_t)ncols > cap) {
            struct ag_store_reply *nel = realloc(el, 2 * cap * sizeof *el);
            if (nel == NULL) {
                e = ag__fail(AG_ENOMEM, "store: out of memory");
                break;
            }
            memset(nel + cap, 0, cap * sizeof *nel);
            el = nel;
            cap *= 2;
        }
        for (int k = 0; k < ncols && e == AG_OK; k++)
            e = col_str(st, k, &el[n++]);
    }
    sqlite3_reset(st);
    r->type = AG_REPLY_ARRAY;
    r->elems = el;
    r->nelems = n;
    return e;
}

static ag_err empty_array(struct ag_store_reply *r)
{
    return ag__reply_array(r, 0);
}

/* --- one function per opcode ------------------------------------------------------ */

static ag_err do_get(const struct ag__sq_op *c)
{
    int t;
    ag_err e = typed(c, AG__SQT_STRING, &t);
    if (e != AG_OK || t == AG__SQT_NONE)
        return e;
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_GETVAL);
    ag__sq_bind_str(st, 1, c->o->key);
    int row;
    if ((e = ag__sq_step_row(c->q, st, &row, "GET")) != AG_OK || !row)
        return e;
    e = col_str(st, 0, c->r);
    sqlite3_reset(st);
    return e;
}

static ag_err put_string(const struct ag__sq_op *c, const char *val, int64_t ttl)
{
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_PUTSTR);
    ag__sq_bind_str(st, 1, c->o->key);
    sqlite3_bind_blob(st, 2, val, (int)strlen(val), SQLITE_STATIC);
    if (ttl > 0)
        sqlite3_bind_int64(st, 3, c->now + ttl);
    return ag__sq_run(c->q, st, "SET");
}

static ag_err do_set(const struct ag__sq_op *c)
{
    int t;
    int64_t exp;
    ag_err e = ag__sq_lookup(c->q, c->o->key, c->now, &t, &exp);
    /* SET replaces a key of any type, as in Redis: drop the old container first. */
    if (e == AG_OK && t != AG__SQT_NONE && t != AG__SQT_STRING)
        e = del_key(c->q, c->o->key);
    if (e == AG_OK)
        e = put_string(c, c->o->value, c->o->num);
    if (e == AG_OK)
        ag__reply_int(c->r, 1);
    return e;
}

static ag_err do_setnx(const struct ag__sq_op *c)
{
    int t;
    int64_t exp;
    ag_err e = ag__sq_lookup(c->q, c->o->key, c->now, &t, &exp);
    if (e == AG_OK && t == AG__SQT_NONE)
        e = put_string(c, c->o->value, c->o->num);
    if (e == AG_OK)
        ag__reply_int(c->r, t == AG__SQT_NONE);
    return e;
}

static ag_err do_del(const struct ag__sq_op *c)
{
    int t;
    int64_t exp;
    ag_err e = ag__sq_lookup(c->q, c->o->key, c->now, &t, &exp);
    if (e == AG_OK && t != AG__SQT_NONE)
        e = del_key(c->q, c->o->key);
    if (e == AG_OK)
        ag__reply_int(c->r, t != AG__SQT_NONE);
    return e;
}

static ag_err set_expiry(struct ag__sq *q, const char *key, int64_t at)
{
    sqlite3_stmt *st = ag__sq_prep(q, AG__SQ_SETEXP);
    ag__sq_bind_str(st, 1, key);
    if (at > 0)
        sqlite3_bind_int64(st, 2, at);
    return ag__sq_run(q, st, "PEXPIRE");
}

static ag_err do_pexpire(const struct ag__sq_op *c)
{
    int t;
    int64_t exp;
    ag_err e = ag__sq_lookup(c->q, c->o->key, c->now, &t, &exp);
    if (e == AG_OK && t != AG__SQT_NONE)
        e = set_expiry(c->q, c->o->key, c->now + c->o->num);
    if (e == AG_OK)
        ag__reply_int(c->r, t != AG__SQT_NONE);
    return e;
}

static ag_err do_pttl(const struct ag__sq_op *c)
{
    int t;
    int64_t exp;
    ag_err e = ag__sq_lookup(c->q, c->o->key, c->now, &t, &exp);
    if (e == AG_OK)
        ag__reply_int(c->r, t == AG__SQT_NONE ? -2 : exp == 0 ? -1 : exp - c->now);
    return e;
}

static ag_err do_incrby(const struct ag__sq_op *c)
{
    int t;
    ag_err e = typed(c, AG__SQT_STRING, &t);
    if (e != AG_OK)
        return e;
    int row = 0;
    sqlite3_stmt *st = NULL;
    if (t == AG__SQT_STRING) {
        st = ag__sq_prep(c->q, AG__SQ_GETVAL);
        ag__sq_bind_str(st, 1, c->o->key);
        if ((e = ag__sq_step_row(c->q, st, &row, "INCRBY")) != AG_OK)
            return e;
    }
    int64_t v;
    if ((e = incr_value(c, st, row, &v)) != AG_OK)
        return e;
    if (t == AG__SQT_NONE) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        e = put_string(c, buf, 0);
    } else { /* INCRBY keeps the TTL, so only the value changes */
        st = ag__sq_prep(c->q, AG__SQ_SETVAL);
        ag__sq_bind_str(st, 1, c->o->key);
        bind_i64_text(st, 2, v);
        e = ag__sq_run(c->q, st, "INCRBY");
    }
    if (e == AG_OK)
        ag__reply_int(c->r, v);
    return e;
}

static ag_err hput(const struct ag__sq_op *c, const char *val, size_t len)
{
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_HPUT);
    ag__sq_bind_str(st, 1, c->o->key);
    ag__sq_bind_str(st, 2, c->o->field);
    sqlite3_bind_blob(st, 3, val, (int)len, SQLITE_TRANSIENT);
    return ag__sq_run(c->q, st, "HSET");
}

static ag_err do_hset(const struct ag__sq_op *c)
{
    ag_err e = typed_create(c, AG__SQT_HASH);
    if (e == AG_OK)
        e = hput(c, c->o->value, strlen(c->o->value));
    if (e == AG_OK)
        ag__reply_int(c->r, 1);
    return e;
}

static ag_err do_hget(const struct ag__sq_op *c)
{
    int t;
    ag_err e = typed(c, AG__SQT_HASH, &t);
    if (e != AG_OK || t == AG__SQT_NONE)
        return e;
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_HGET);
    ag__sq_bind_str(st, 1, c->o->key);
    ag__sq_bind_str(st, 2, c->o->field);
    int row;
    if ((e = ag__sq_step_row(c->q, st, &row, "HGET")) != AG_OK || !row)
        return e;
    e = col_str(st, 0, c->r);
    sqlite3_reset(st);
    return e;
}

/* Deletes the container key when its last member went, as Redis does. */
static ag_err drop_if_empty(struct ag__sq *q, const char *key, int which)
{
    sqlite3_stmt *st = ag__sq_prep(q, which);
    ag__sq_bind_str(st, 1, key);
    int row;
    ag_err e = ag__sq_step_row(q, st, &row, "count members");
    if (e != AG_OK)
        return e;
    sqlite3_reset(st);
    return row ? AG_OK : del_key(q, key);
}

/* Deletes one member with stmt `which` (?1 key, ?2 member) and replies the count. */
static ag_err del_member(const struct ag__sq_op *c, int type, int which, int any)
{
    int t;
    ag_err e = typed(c, type, &t);
    if (e != AG_OK)
        return e;
    int n = 0;
    if (t != AG__SQT_NONE) {
        sqlite3_stmt *st = ag__sq_prep(c->q, which);
        ag__sq_bind_str(st, 1, c->o->key);
        ag__sq_bind_str(st, 2, c->o->field);
        if ((e = ag__sq_run(c->q, st, "delete member")) != AG_OK)
            return e;
        n = sqlite3_changes(c->q->db);
        if (n > 0 && (e = drop_if_empty(c->q, c->o->key, any)) != AG_OK)
            return e;
    }
    ag__reply_int(c->r, n);
    return AG_OK;
}

static ag_err do_hdel(const struct ag__sq_op *c)
{
    return del_member(c, AG__SQT_HASH, AG__SQ_HDEL, AG__SQ_HANY);
}

static ag_err do_hincrby(const struct ag__sq_op *c)
{
    ag_err e = typed_create(c, AG__SQT_HASH);
    if (e != AG_OK)
        return e;
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_HGET);
    ag__sq_bind_str(st, 1, c->o->key);
    ag__sq_bind_str(st, 2, c->o->field);
    int row;
    int64_t v;
    if ((e = ag__sq_step_row(c->q, st, &row, "HINCRBY")) != AG_OK)
        return e;
    if ((e = incr_value(c, st, row, &v)) != AG_OK)
        return e;
    char buf[24];
    int len = snprintf(buf, sizeof buf, "%lld", (long long)v);
    if ((e = hput(c, buf, (size_t)len)) == AG_OK)
        ag__reply_int(c->r, v);
    return e;
}

static ag_err do_hgetall(const struct ag__sq_op *c)
{
    int t;
    ag_err e = typed(c, AG__SQT_HASH, &t);
    if (e != AG_OK)
        return e;
    if (t == AG__SQT_NONE)
        return empty_array(c->r);
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_HALL);
    ag__sq_bind_str(st, 1, c->o->key);
    return collect(c->q, st, 2, c->r);
}

/* Position range and length of a list (len 0 when absent). */
static ag_err list_span(struct ag__sq *q, const char *key, int64_t *lo, int64_t *hi, int64_t *len)
{
    sqlite3_stmt *st = ag__sq_prep(q, AG__SQ_LSPAN);
    ag__sq_bind_str(st, 1, key);
    int row;
    ag_err e = ag__sq_step_row(q, st, &row, "list length");
    *lo = *hi = *len = 0;
    if (e != AG_OK || !row)
        return e;
    *lo = sqlite3_column_int64(st, 0);
    *hi = sqlite3_column_int64(st, 1);
    *len = sqlite3_column_int64(st, 2);
    sqlite3_reset(st);
    return AG_OK;
}

/* RPUSH appends after the highest position, LPUSH before the lowest. */
static ag_err do_push(const struct ag__sq_op *c)
{
    ag_err e = typed_create(c, AG__SQT_LIST);
    int64_t lo, hi, len;
    if (e == AG_OK)
        e = list_span(c->q, c->o->key, &lo, &hi, &len);
    if (e != AG_OK)
        return e;
    int64_t idx = len == 0 ? 0 : c->o->op == AG_OP_RPUSH ? hi + 1 : lo - 1;
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_LINS);
    ag__sq_bind_str(st, 1, c->o->key);
    sqlite3_bind_int64(st, 2, idx);
    sqlite3_bind_blob(st, 3, c->o->value, (int)strlen(c->o->value), SQLITE_STATIC);
    if ((e = ag__sq_run(c->q, st, "push")) == AG_OK)
        ag__reply_int(c->r, len + 1);
    return e;
}

/* Turns Redis start/stop indexes (negative counts from the end) into 0-based ranks;
 * returns 0 when the range is empty. */
static int norm_range(int64_t start, int64_t stop, int64_t len, int64_t *a, int64_t *b)
{
    if (start < 0)
        start += len;
    if (stop < 0)
        stop += len;
    if (start < 0)
        start = 0;
    if (start > stop || start >= len)
        return 0;
    if (stop >= len)
        stop = len - 1;
    *a = start;
    *b = stop;
    return 1;
}

static ag_err do_lrange(const struct ag__sq_op *c)
{
    int t;
    int64_t lo, hi, len, a, b;
    ag_err e = typed(c, AG__SQT_LIST, &t);
    if (e != AG_OK)
        return e;
    /* An expired list that a read-only batch could not delete still has its rows. */
    if (t == AG__SQT_NONE)
        return empty_array(c->r);
    e = list_span(c->q, c->o->key, &lo, &hi, &len);
    if (e != AG_OK)
        return e;
    if (!norm_range(c->o->num, c->o->num2, len, &a, &b))
        return empty_array(c->r);
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_LRANGE);
    ag__sq_bind_str(st, 1, c->o->key);
    sqlite3_bind_int64(st, 2, b - a + 1);
    sqlite3_bind_int64(st, 3, a);
    return collect(c->q, st, 1, c->r);
}

static ag_err idx_at(struct ag__sq *q, const char *key, int64_t rank, int64_t *idx)
{
    sqlite3_stmt *st = ag__sq_prep(q, AG__SQ_LIDXAT);
    ag__sq_bind_str(st, 1, key);
    sqlite3_bind_int64(st, 2, rank);
    int row;
    ag_err e = ag__sq_step_row(q, st, &row, "LTRIM");
    if (e != AG_OK)
        return e;
    if (!row)
        return ag__fail(AG_EINTERNAL, "store: list '%s' has no element %lld", key, (long long)rank);
    *idx = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return AG_OK;
}

static ag_err do_ltrim(const struct ag__sq_op *c)
{
    int t;
    int64_t lo, hi, len, a, b, ia, ib;
    ag_err e = typed(c, AG__SQT_LIST, &t);
    if (e == AG_OK && t != AG__SQT_NONE)
        e = list_span(c->q, c->o->key, &lo, &hi, &len);
    if (e != AG_OK)
        return e;
    ag__reply_int(c->r, 1);
    if (t == AG__SQT_NONE)
        return AG_OK;
    if (!norm_range(c->o->num, c->o->num2, len, &a, &b))
        return del_key(c->q, c->o->key);
    if ((e = idx_at(c->q, c->o->key, a, &ia)) != AG_OK ||
        (e = idx_at(c->q, c->o->key, b, &ib)) != AG_OK)
        return e;
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_LTRIM);
    ag__sq_bind_str(st, 1, c->o->key);
    sqlite3_bind_int64(st, 2, ia);
    sqlite3_bind_int64(st, 3, ib);
    return ag__sq_run(c->q, st, "LTRIM");
}

static ag_err do_llen(const struct ag__sq_op *c)
{
    int t;
    int64_t lo, hi, len = 0;
    ag_err e = typed(c, AG__SQT_LIST, &t);
    if (e == AG_OK && t != AG__SQT_NONE)
        e = list_span(c->q, c->o->key, &lo, &hi, &len);
    if (e == AG_OK)
        ag__reply_int(c->r, len);
    return e;
}

/* Score of member in the op's zset; *found 0 when absent. */
static ag_err zscore(const struct ag__sq_op *c, int64_t *score, int *found)
{
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_ZSCORE);
    ag__sq_bind_str(st, 1, c->o->key);
    ag__sq_bind_str(st, 2, c->o->field);
    ag_err e = ag__sq_step_row(c->q, st, found, "ZSCORE");
    if (e == AG_OK && *found) {
        *score = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return e;
}

static ag_err do_zadd(const struct ag__sq_op *c)
{
    int found;
    int64_t old;
    ag_err e = typed_create(c, AG__SQT_ZSET);
    if (e == AG_OK)
        e = zscore(c, &old, &found);
    if (e != AG_OK)
        return e;
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_ZPUT);
    ag__sq_bind_str(st, 1, c->o->key);
    ag__sq_bind_str(st, 2, c->o->field);
    sqlite3_bind_int64(st, 3, c->o->num);
    if ((e = ag__sq_run(c->q, st, "ZADD")) == AG_OK)
        ag__reply_int(c->r, !found);
    return e;
}

static ag_err do_zrem(const struct ag__sq_op *c)
{
    return del_member(c, AG__SQT_ZSET, AG__SQ_ZREM, AG__SQ_ZANY);
}

static ag_err do_zrangebyscore(const struct ag__sq_op *c)
{
    int t;
    ag_err e = typed(c, AG__SQT_ZSET, &t);
    if (e != AG_OK)
        return e;
    if (t == AG__SQT_NONE)
        return empty_array(c->r);
    sqlite3_stmt *st = ag__sq_prep(c->q, AG__SQ_ZRANGE);
    ag__sq_bind_str(st, 1, c->o->key);
    sqlite3_bind_int64(st, 2, c->o->num);
    sqlite3_bind_int64(st, 3, c->o->num2);
    return collect(c->q, st, 1, c->r);
}

static ag_err do_zscore(const struct ag__sq_op *c)
{
    int t, found;
    int64_t score;
    ag_err e = typed(c, AG__SQT_ZSET, &t);
    if (e != AG_OK || t == AG__SQT_NONE)
        return e;
    if ((e = zscore(c, &score, &found)) == AG_OK && found)
        ag__reply_int(c->r, score);
    return e;
}

const ag__sq_op_fn ag__sq_op_table[] = {
    [AG_OP_GET] = do_get,         [AG_OP_SET] = do_set,
    [AG_OP_SETNX] = do_setnx,     [AG_OP_DEL] = do_del,
    [AG_OP_PEXPIRE] = do_pexpire, [AG_OP_PTTL] = do_pttl,
    [AG_OP_INCRBY] = do_incrby,   [AG_OP_HSET] = do_hset,
    [AG_OP_HGET] = do_hget,       [AG_OP_HDEL] = do_hdel,
    [AG_OP_HINCRBY] = do_hincrby, [AG_OP_HGETALL] = do_hgetall,
    [AG_OP_RPUSH] = do_push,      [AG_OP_LPUSH] = do_push,
    [AG_OP_LRANGE] = do_lrange,   [AG_OP_LTRIM] = do_ltrim,
    [AG_OP_LLEN] = do_llen,       [AG_OP_ZADD] = do_zadd,
    [AG_OP_ZREM] = do_zrem,       [AG_OP_ZRANGEBYSCORE] = do_zrangebyscore,
    [AG_OP_ZSCORE] = do_zscore,
};
