/* Embedded backend: Redis semantics on one SQLite file.
 *
 * Layout: `keyspace` holds one row per live key (its type, its string value when it is
 * a string, and expires_at in wall-clock ms), and `hashes`, `lists`, `zsets` hold the
 * members of container keys, deleted with their key by ON DELETE CASCADE. Every
 * ag_store_exec is one BEGIN IMMEDIATE transaction, so a batch is all or nothing and
 * several processes can share the file (WAL, busy_timeout). One connection per handle;
 * every handle on the same file in this process takes one shared mutex around its
 * transaction, so a handle is safe to share between threads and threads with handles of
 * their own queue on the mutex rather than in SQLite's sleeping busy handler.
 *
 * Expiry: a key whose expires_at has passed is deleted the moment an op touches it
 * (lazy expiry, so it always behaves as absent) and, about once a second, a purge deletes
 * every expired row. synchronous=NORMAL: a power cut may lose the last transactions of
 * runtime state (heartbeats, counters), never corrupt the file; durable history lives in
 * the ledger, which has its own settings. wal_autocheckpoint is 10000 pages (about 40
 * MB of WAL) rather than 1000: each checkpoint costs an fsync, and a transition writes
 * about five pages. */
#include "store/store_sqlite.h"

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

#define BUSY_TIMEOUT_MS 10000
#define PURGE_EVERY_MS  1000

enum { T_NONE = 0, T_STRING = 1, T_HASH = 2, T_LIST = 3, T_ZSET = 4 };
static const char *const type_names[] = {"none", "string", "hash", "list", "zset"};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS keyspace(key TEXT PRIMARY KEY, type INTEGER NOT NULL,"
    " value BLOB, expires_at INTEGER) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS keyspace_expiry ON keyspace(expires_at)"
    " WHERE expires_at IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS hashes(key TEXT NOT NULL REFERENCES keyspace(key)"
    " ON DELETE CASCADE, field TEXT NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY(key, field)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS lists(key TEXT NOT NULL REFERENCES keyspace(key)"
    " ON DELETE CASCADE, idx INTEGER NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY(key, idx)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS zsets(key TEXT NOT NULL REFERENCES keyspace(key)"
    " ON DELETE CASCADE, member TEXT NOT NULL, score INTEGER NOT NULL,"
    " PRIMARY KEY(key, member)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS zsets_by_score ON zsets(key, score, member);";

/* Every statement the backend runs, prepared once per connection. */
#define STMTS(X)                                                                                   \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                    \
    X(BEGIN_READ, "BEGIN")                                                                         \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(LOOKUP, "SELECT type, expires_at FROM keyspace WHERE key = ?1")                              \
    X(GETVAL, "SELECT value FROM keyspace WHERE key = ?1")                                         \
    X(DELKEY, "DELETE FROM keyspace WHERE key = ?1")                                               \
    X(NEWKEY, "INSERT INTO keyspace(key, type) VALUES(?1, ?2)")                                    \
    X(PUTSTR, "INSERT INTO keyspace(key, type, value, expires_at) VALUES(?1, 1, ?2, ?3)"           \
              " ON CONFLICT(key) DO UPDATE SET type = 1, value = excluded.value,"                  \
              " expires_at = excluded.expires_at")                                                 \
    X(SETVAL, "UPDATE keyspace SET value = ?2 WHERE key = ?1")                                     \
    X(SETEXP, "UPDATE keyspace SET expires_at = ?2 WHERE key = ?1")                                \
    X(PURGE, "DELETE FROM keyspace WHERE expires_at IS NOT NULL AND expires_at <= ?1")             \
    X(KEYS, "SELECT key FROM keyspace WHERE key >= ?1 AND"                                         \
            " (expires_at IS NULL OR expires_at > ?2) ORDER BY key")                               \
    X(HGET, "SELECT value FROM hashes WHERE key = ?1 AND field = ?2")                              \
    X(HPUT, "INSERT INTO hashes(key, field, value) VALUES(?1, ?2, ?3)"                             \
            " ON CONFLICT(key, field) DO UPDATE SET value = excluded.value")                       \
    X(HDEL, "DELETE FROM hashes WHERE key = ?1 AND field = ?2")                                    \
    X(HALL, "SELECT field, value FROM hashes WHERE key = ?1 ORDER BY field")                       \
    X(HANY, "SELECT 1 FROM hashes WHERE key = ?1 LIMIT 1")                                         \
    X(LSPAN, "SELECT min(idx), max(idx), count(*) FROM lists WHERE key = ?1")                      \
    X(LINS, "INSERT INTO lists(key, idx, value) VALUES(?1, ?2, ?3)")                               \
    X(LRANGE, "SELECT value FROM lists WHERE key = ?1 ORDER BY idx LIMIT ?2 OFFSET ?3")            \
    X(LIDXAT, "SELECT idx FROM lists WHERE key = ?1 ORDER BY idx LIMIT 1 OFFSET ?2")               \
    X(LTRIM, "DELETE FROM lists WHERE key = ?1 AND (idx < ?2 OR idx > ?3)")                        \
    X(ZSCORE, "SELECT score FROM zsets WHERE key = ?1 AND member = ?2")                            \
    X(ZPUT, "INSERT INTO zsets(key, member, score) VALUES(?1, ?2, ?3)"                             \
            " ON CONFLICT(key, member) DO UPDATE SET score = excluded.score")                      \
    X(ZREM, "DELETE FROM zsets WHERE key = ?1 AND member = ?2")                                    \
    X(ZRANGE, "SELECT member FROM zsets WHERE key = ?1 AND score BETWEEN ?2 AND ?3"                \
              " ORDER BY score, member")                                                           \
    X(ZANY, "SELECT 1 FROM zsets WHERE key = ?1 LIMIT 1")

enum {
#define STMT_ENUM(name, sql) S_##name,
    STMTS(STMT_ENUM)
#undef STMT_ENUM
        S_COUNT
};

static const char *const stmt_sql[] = {
#define STMT_SQL(name, sql) sql,
    STMTS(STMT_SQL)
#undef STMT_SQL
};

/* Handles on the same file in one process take turns on one mutex. Without it they
 * would meet only in SQLite's busy handler, which sleeps (up to 100 ms at a time) until
 * the write lock is free: contention between threads would turn into sleeps. Other
 * processes still meet busy_timeout. */
struct file_gate {
    struct file_gate *next;
    char *path; /* canonical path */
    pthread_mutex_t mu;
    int refs;
};

static pthread_mutex_t gates_mu = PTHREAD_MUTEX_INITIALIZER;
static struct file_gate *gates;

static struct file_gate *gate_get(const char *path)
{
    char *canon = realpath(path, NULL);
    if (canon == NULL)
        canon = strdup(path);
    if (canon == NULL)
        return NULL;
    pthread_mutex_lock(&gates_mu);
    struct file_gate *g = gates;
    while (g && strcmp(g->path, canon) != 0)
        g = g->next;
    if (g == NULL && (g = calloc(1, sizeof *g)) != NULL) {
        g->path = canon;
        canon = NULL;
        pthread_mutex_init(&g->mu, NULL);
        g->next = gates;
        gates = g;
    }
    if (g)
        g->refs++;
    pthread_mutex_unlock(&gates_mu);
    free(canon);
    return g;
}

static void gate_put(struct file_gate *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&gates_mu);
    if (--g->refs == 0) {
        struct file_gate **pp = &gates;
        while (*pp != g)
            pp = &(*pp)->next;
        *pp = g->next;
        pthread_mutex_destroy(&g->mu);
        free(g->path);
        free(g);
    }
    pthread_mutex_unlock(&gates_mu);
}

struct sq {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    struct file_gate *gate; /* serialises this handle with others on the same file */
    int64_t last_purge;
    int readonly; /* the running batch only reads: expired keys are skipped, not deleted */
    char *path;
};

/* What one op needs while it runs. */
struct opctx {
    struct sq *q;
    int64_t now;
    size_t i;
    const struct ag_store_op *o;
    struct ag_store_reply *r;
};

static ag_err db_fail(struct sq *q, const char *what)
{
    return ag__fail(AG_ESTORE, "store: sqlite %s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
}

/* Resets stmt for reuse and binds ?1 to key (every statement but a few starts with it). */
static sqlite3_stmt *prep(struct sq *q, int which)
{
    sqlite3_stmt *st = q->st[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_str(sqlite3_stmt *st, int col, const char *s)
{
    sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

/* Steps a statement that returns no row. */
static ag_err run(struct sq *q, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(q, what);
    return AG_OK;
}

/* Steps a query: *row is 1 when a row is ready (the caller reads it, then resets). */
static ag_err step_row(struct sq *q, sqlite3_stmt *st, int *row, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *row = 1;
        return AG_OK;
    }
    sqlite3_reset(st);
    *row = 0;
    if (rc != SQLITE_DONE)
        return db_fail(q, what);
    return AG_OK;
}

__attribute__((format(printf, 2, 3))) static ag_err op_fail(const struct opctx *c, const char *fmt,
                                                            ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ag__fail(AG_EINVAL, "store: op %zu (%s %s): %s", c->i, ag__store_opname(c->o->op),
                    c->o->key, msg);
}

static ag_err wrongtype(const struct opctx *c, int have)
{
    return op_fail(c, "WRONGTYPE the key holds a %s", type_names[have]);
}

static ag_err del_key(struct sq *q, const char *key)
{
    sqlite3_stmt *st = prep(q, S_DELKEY);
    bind_str(st, 1, key);
    return run(q, st, "delete key");
}

/* Type of the live key (T_NONE when absent). An expired key is deleted here (or only
 * skipped in a read-only batch), so every op sees it exactly as an absent key. *expires
 * is 0 when the key has no TTL. */
static ag_err lookup(struct sq *q, const char *key, int64_t now, int *type, int64_t *expires)
{
    sqlite3_stmt *st = prep(q, S_LOOKUP);
    bind_str(st, 1, key);
    int row;
    ag_err e = step_row(q, st, &row, "look up key");
    *type = T_NONE;
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
static ag_err typed(const struct opctx *c, int want, int *type)
{
    int64_t exp;
    ag_err e = lookup(c->q, c->o->key, c->now, type, &exp);
    if (e == AG_OK && *type != T_NONE && *type != want)
        return wrongtype(c, *type);
    return e;
}

/* Like typed(), but creates the container key when it is absent. */
static ag_err typed_create(const struct opctx *c, int want)
{
    int t;
    ag_err e = typed(c, want, &t);
    if (e != AG_OK || t != T_NONE)
        return e;
    sqlite3_stmt *st = prep(c->q, S_NEWKEY);
    bind_str(st, 1, c->o->key);
    sqlite3_bind_int(st, 2, want);
    return run(c->q, st, "create key");
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
static ag_err incr_value(const struct opctx *c, sqlite3_stmt *st, int row, int64_t *out)
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
static ag_err collect(struct sq *q, sqlite3_stmt *st, int ncols, struct ag_store_reply *r)
{
    size_t cap = 8, n = 0;
    struct ag_store_reply *el = calloc(cap, sizeof *el);
    ag_err e = el ? AG_OK : ag__fail(AG_ENOMEM, "store: out of memory");
    int row = 1;
    while (e == AG_OK && (e = step_row(q, st, &row, "read rows")) == AG_OK && row) {
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

static ag_err do_get(const struct opctx *c)
{
    int t;
    ag_err e = typed(c, T_STRING, &t);
    if (e != AG_OK || t == T_NONE)
        return e;
    sqlite3_stmt *st = prep(c->q, S_GETVAL);
    bind_str(st, 1, c->o->key);
    int row;
    if ((e = step_row(c->q, st, &row, "GET")) != AG_OK || !row)
        return e;
    e = col_str(st, 0, c->r);
    sqlite3_reset(st);
    return e;
}

static ag_err put_string(const struct opctx *c, const char *val, int64_t ttl)
{
    sqlite3_stmt *st = prep(c->q, S_PUTSTR);
    bind_str(st, 1, c->o->key);
    sqlite3_bind_blob(st, 2, val, (int)strlen(val), SQLITE_STATIC);
    if (ttl > 0)
        sqlite3_bind_int64(st, 3, c->now + ttl);
    return run(c->q, st, "SET");
}

static ag_err do_set(const struct opctx *c)
{
    int t;
    int64_t exp;
    ag_err e = lookup(c->q, c->o->key, c->now, &t, &exp);
    /* SET replaces a key of any type, as in Redis: drop the old container first. */
    if (e == AG_OK && t != T_NONE && t != T_STRING)
        e = del_key(c->q, c->o->key);
    if (e == AG_OK)
        e = put_string(c, c->o->value, c->o->num);
    if (e == AG_OK)
        ag__reply_int(c->r, 1);
    return e;
}

static ag_err do_setnx(const struct opctx *c)
{
    int t;
    int64_t exp;
    ag_err e = lookup(c->q, c->o->key, c->now, &t, &exp);
    if (e == AG_OK && t == T_NONE)
        e = put_string(c, c->o->value, c->o->num);
    if (e == AG_OK)
        ag__reply_int(c->r, t == T_NONE);
    return e;
}

static ag_err do_del(const struct opctx *c)
{
    int t;
    int64_t exp;
    ag_err e = lookup(c->q, c->o->key, c->now, &t, &exp);
    if (e == AG_OK && t != T_NONE)
        e = del_key(c->q, c->o->key);
    if (e == AG_OK)
        ag__reply_int(c->r, t != T_NONE);
    return e;
}

static ag_err set_expiry(struct sq *q, const char *key, int64_t at)
{
    sqlite3_stmt *st = prep(q, S_SETEXP);
    bind_str(st, 1, key);
    if (at > 0)
        sqlite3_bind_int64(st, 2, at);
    return run(q, st, "PEXPIRE");
}

static ag_err do_pexpire(const struct opctx *c)
{
    int t;
    int64_t exp;
    ag_err e = lookup(c->q, c->o->key, c->now, &t, &exp);
    if (e == AG_OK && t != T_NONE)
        e = set_expiry(c->q, c->o->key, c->now + c->o->num);
    if (e == AG_OK)
        ag__reply_int(c->r, t != T_NONE);
    return e;
}

static ag_err do_pttl(const struct opctx *c)
{
    int t;
    int64_t exp;
    ag_err e = lookup(c->q, c->o->key, c->now, &t, &exp);
    if (e == AG_OK)
        ag__reply_int(c->r, t == T_NONE ? -2 : exp == 0 ? -1 : exp - c->now);
    return e;
}

static ag_err do_incrby(const struct opctx *c)
{
    int t;
    ag_err e = typed(c, T_STRING, &t);
    if (e != AG_OK)
        return e;
    int row = 0;
    sqlite3_stmt *st = NULL;
    if (t == T_STRING) {
        st = prep(c->q, S_GETVAL);
        bind_str(st, 1, c->o->key);
        if ((e = step_row(c->q, st, &row, "INCRBY")) != AG_OK)
            return e;
    }
    int64_t v;
    if ((e = incr_value(c, st, row, &v)) != AG_OK)
        return e;
    if (t == T_NONE) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        e = put_string(c, buf, 0);
    } else { /* INCRBY keeps the TTL, so only the value changes */
        st = prep(c->q, S_SETVAL);
        bind_str(st, 1, c->o->key);
        bind_i64_text(st, 2, v);
        e = run(c->q, st, "INCRBY");
    }
    if (e == AG_OK)
        ag__reply_int(c->r, v);
    return e;
}

static ag_err hput(const struct opctx *c, const char *val, size_t len)
{
    sqlite3_stmt *st = prep(c->q, S_HPUT);
    bind_str(st, 1, c->o->key);
    bind_str(st, 2, c->o->field);
    sqlite3_bind_blob(st, 3, val, (int)len, SQLITE_TRANSIENT);
    return run(c->q, st, "HSET");
}

static ag_err do_hset(const struct opctx *c)
{
    ag_err e = typed_create(c, T_HASH);
    if (e == AG_OK)
        e = hput(c, c->o->value, strlen(c->o->value));
    if (e == AG_OK)
        ag__reply_int(c->r, 1);
    return e;
}

static ag_err do_hget(const struct opctx *c)
{
    int t;
    ag_err e = typed(c, T_HASH, &t);
    if (e != AG_OK || t == T_NONE)
        return e;
    sqlite3_stmt *st = prep(c->q, S_HGET);
    bind_str(st, 1, c->o->key);
    bind_str(st, 2, c->o->field);
    int row;
    if ((e = step_row(c->q, st, &row, "HGET")) != AG_OK || !row)
        return e;
    e = col_str(st, 0, c->r);
    sqlite3_reset(st);
    return e;
}

/* Deletes the container key when its last member went, as Redis does. */
static ag_err drop_if_empty(struct sq *q, const char *key, int which)
{
    sqlite3_stmt *st = prep(q, which);
    bind_str(st, 1, key);
    int row;
    ag_err e = step_row(q, st, &row, "count members");
    if (e != AG_OK)
        return e;
    sqlite3_reset(st);
    return row ? AG_OK : del_key(q, key);
}

/* Deletes one member with stmt `which` (?1 key, ?2 member) and replies the count. */
static ag_err del_member(const struct opctx *c, int type, int which, int any)
{
    int t;
    ag_err e = typed(c, type, &t);
    if (e != AG_OK)
        return e;
    int n = 0;
    if (t != T_NONE) {
        sqlite3_stmt *st = prep(c->q, which);
        bind_str(st, 1, c->o->key);
        bind_str(st, 2, c->o->field);
        if ((e = run(c->q, st, "delete member")) != AG_OK)
            return e;
        n = sqlite3_changes(c->q->db);
        if (n > 0 && (e = drop_if_empty(c->q, c->o->key, any)) != AG_OK)
            return e;
    }
    ag__reply_int(c->r, n);
    return AG_OK;
}

static ag_err do_hdel(const struct opctx *c)
{
    return del_member(c, T_HASH, S_HDEL, S_HANY);
}

static ag_err do_hincrby(const struct opctx *c)
{
    ag_err e = typed_create(c, T_HASH);
    if (e != AG_OK)
        return e;
    sqlite3_stmt *st = prep(c->q, S_HGET);
    bind_str(st, 1, c->o->key);
    bind_str(st, 2, c->o->field);
    int row;
    int64_t v;
    if ((e = step_row(c->q, st, &row, "HINCRBY")) != AG_OK)
        return e;
    if ((e = incr_value(c, st, row, &v)) != AG_OK)
        return e;
    char buf[24];
    int len = snprintf(buf, sizeof buf, "%lld", (long long)v);
    if ((e = hput(c, buf, (size_t)len)) == AG_OK)
        ag__reply_int(c->r, v);
    return e;
}

static ag_err do_hgetall(const struct opctx *c)
{
    int t;
    ag_err e = typed(c, T_HASH, &t);
    if (e != AG_OK)
        return e;
    if (t == T_NONE)
        return empty_array(c->r);
    sqlite3_stmt *st = prep(c->q, S_HALL);
    bind_str(st, 1, c->o->key);
    return collect(c->q, st, 2, c->r);
}

/* Position range and length of a list (len 0 when absent). */
static ag_err list_span(struct sq *q, const char *key, int64_t *lo, int64_t *hi, int64_t *len)
{
    sqlite3_stmt *st = prep(q, S_LSPAN);
    bind_str(st, 1, key);
    int row;
    ag_err e = step_row(q, st, &row, "list length");
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
static ag_err do_push(const struct opctx *c)
{
    ag_err e = typed_create(c, T_LIST);
    int64_t lo, hi, len;
    if (e == AG_OK)
        e = list_span(c->q, c->o->key, &lo, &hi, &len);
    if (e != AG_OK)
        return e;
    int64_t idx = len == 0 ? 0 : c->o->op == AG_OP_RPUSH ? hi + 1 : lo - 1;
    sqlite3_stmt *st = prep(c->q, S_LINS);
    bind_str(st, 1, c->o->key);
    sqlite3_bind_int64(st, 2, idx);
    sqlite3_bind_blob(st, 3, c->o->value, (int)strlen(c->o->value), SQLITE_STATIC);
    if ((e = run(c->q, st, "push")) == AG_OK)
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

static ag_err do_lrange(const struct opctx *c)
{
    int t;
    int64_t lo, hi, len, a, b;
    ag_err e = typed(c, T_LIST, &t);
    if (e != AG_OK)
        return e;
    /* An expired list that a read-only batch could not delete still has its rows. */
    if (t == T_NONE)
        return empty_array(c->r);
    e = list_span(c->q, c->o->key, &lo, &hi, &len);
    if (e != AG_OK)
        return e;
    if (!norm_range(c->o->num, c->o->num2, len, &a, &b))
        return empty_array(c->r);
    sqlite3_stmt *st = prep(c->q, S_LRANGE);
    bind_str(st, 1, c->o->key);
    sqlite3_bind_int64(st, 2, b - a + 1);
    sqlite3_bind_int64(st, 3, a);
    return collect(c->q, st, 1, c->r);
}

static ag_err idx_at(struct sq *q, const char *key, int64_t rank, int64_t *idx)
{
    sqlite3_stmt *st = prep(q, S_LIDXAT);
    bind_str(st, 1, key);
    sqlite3_bind_int64(st, 2, rank);
    int row;
    ag_err e = step_row(q, st, &row, "LTRIM");
    if (e != AG_OK)
        return e;
    if (!row)
        return ag__fail(AG_EINTERNAL, "store: list '%s' has no element %lld", key, (long long)rank);
    *idx = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return AG_OK;
}

static ag_err do_ltrim(const struct opctx *c)
{
    int t;
    int64_t lo, hi, len, a, b, ia, ib;
    ag_err e = typed(c, T_LIST, &t);
    if (e == AG_OK && t != T_NONE)
        e = list_span(c->q, c->o->key, &lo, &hi, &len);
    if (e != AG_OK)
        return e;
    ag__reply_int(c->r, 1);
    if (t == T_NONE)
        return AG_OK;
    if (!norm_range(c->o->num, c->o->num2, len, &a, &b))
        return del_key(c->q, c->o->key);
    if ((e = idx_at(c->q, c->o->key, a, &ia)) != AG_OK ||
        (e = idx_at(c->q, c->o->key, b, &ib)) != AG_OK)
        return e;
    sqlite3_stmt *st = prep(c->q, S_LTRIM);
    bind_str(st, 1, c->o->key);
    sqlite3_bind_int64(st, 2, ia);
    sqlite3_bind_int64(st, 3, ib);
    return run(c->q, st, "LTRIM");
}

static ag_err do_llen(const struct opctx *c)
{
    int t;
    int64_t lo, hi, len = 0;
    ag_err e = typed(c, T_LIST, &t);
    if (e == AG_OK && t != T_NONE)
        e = list_span(c->q, c->o->key, &lo, &hi, &len);
    if (e == AG_OK)
        ag__reply_int(c->r, len);
    return e;
}

/* Score of member in the op's zset; *found 0 when absent. */
static ag_err zscore(const struct opctx *c, int64_t *score, int *found)
{
    sqlite3_stmt *st = prep(c->q, S_ZSCORE);
    bind_str(st, 1, c->o->key);
    bind_str(st, 2, c->o->field);
    ag_err e = step_row(c->q, st, found, "ZSCORE");
    if (e == AG_OK && *found) {
        *score = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return e;
}

static ag_err do_zadd(const struct opctx *c)
{
    int found;
    int64_t old;
    ag_err e = typed_create(c, T_ZSET);
    if (e == AG_OK)
        e = zscore(c, &old, &found);
    if (e != AG_OK)
        return e;
    sqlite3_stmt *st = prep(c->q, S_ZPUT);
    bind_str(st, 1, c->o->key);
    bind_str(st, 2, c->o->field);
    sqlite3_bind_int64(st, 3, c->o->num);
    if ((e = run(c->q, st, "ZADD")) == AG_OK)
        ag__reply_int(c->r, !found);
    return e;
}

static ag_err do_zrem(const struct opctx *c)
{
    return del_member(c, T_ZSET, S_ZREM, S_ZANY);
}

static ag_err do_zrangebyscore(const struct opctx *c)
{
    int t;
    ag_err e = typed(c, T_ZSET, &t);
    if (e != AG_OK)
        return e;
    if (t == T_NONE)
        return empty_array(c->r);
    sqlite3_stmt *st = prep(c->q, S_ZRANGE);
    bind_str(st, 1, c->o->key);
    sqlite3_bind_int64(st, 2, c->o->num);
    sqlite3_bind_int64(st, 3, c->o->num2);
    return collect(c->q, st, 1, c->r);
}

static ag_err do_zscore(const struct opctx *c)
{
    int t, found;
    int64_t score;
    ag_err e = typed(c, T_ZSET, &t);
    if (e != AG_OK || t == T_NONE)
        return e;
    if ((e = zscore(c, &score, &found)) == AG_OK && found)
        ag__reply_int(c->r, score);
    return e;
}

typedef ag_err (*op_fn)(const struct opctx *c);
static const op_fn op_table[] = {
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

/* --- transaction ------------------------------------------------------------------ */

/* 1 when the guard holds: the key is a string equal to guard->equals, or absent when
 * equals is NULL. */
static ag_err guard_holds(struct sq *q, const struct ag_store_guard *g, int64_t now, int *ok)
{
    int t;
    int64_t exp;
    ag_err e = lookup(q, g->key, now, &t, &exp);
    *ok = 0;
    if (e != AG_OK)
        return e;
    if (g->equals == NULL || t != T_STRING) {
        *ok = g->equals == NULL && t == T_NONE;
        return AG_OK;
    }
    sqlite3_stmt *st = prep(q, S_GETVAL);
    bind_str(st, 1, g->key);
    int row;
    if ((e = step_row(q, st, &row, "guard")) != AG_OK || !row)
        return e;
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    const void *v = sqlite3_column_blob(st, 0);
    *ok = len == strlen(g->equals) && (len == 0 || memcmp(v, g->equals, len) == 0);
    sqlite3_reset(st);
    return AG_OK;
}

static ag_err purge_expired(struct sq *q, int64_t now)
{
    if (now - q->last_purge < PURGE_EVERY_MS)
        return AG_OK;
    q->last_purge = now;
    sqlite3_stmt *st = prep(q, S_PURGE);
    sqlite3_bind_int64(st, 1, now);
    return run(q, st, "purge expired keys");
}

static ag_err exec_locked(struct sq *q, const struct ag_store_guard *guard,
                          const struct ag_store_op *ops, size_t n, struct ag_store_reply *replies,
                          int *guard_ok)
{
    /* One clock reading per batch: like a Redis script, the whole batch sees one time. */
    int64_t now = ag__wall_ms();
    ag_err e = q->readonly ? AG_OK : purge_expired(q, now);
    if (e == AG_OK && guard)
        e = guard_holds(q, guard, now, guard_ok);
    if (e != AG_OK || !*guard_ok)
        return e;
    struct opctx c = {.q = q, .now = now};
    for (size_t i = 0; i < n && e == AG_OK; i++) {
        c.i = i;
        c.o = &ops[i];
        c.r = &replies[i];
        e = op_table[ops[i].op](&c);
    }
    return e;
}

static int only_reads(const struct ag_store_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (ops[i].op) {
        case AG_OP_GET:
        case AG_OP_PTTL:
        case AG_OP_HGET:
        case AG_OP_HGETALL:
        case AG_OP_LRANGE:
        case AG_OP_LLEN:
        case AG_OP_ZRANGEBYSCORE:
        case AG_OP_ZSCORE:
            break;
        default:
            return 0;
        }
    }
    return 1;
}

/* A batch that only reads runs in a deferred (read) transaction: it takes no write lock
 * and writes nothing to the WAL, so it is cheaper and never waits for a writer in
 * another process. */
static ag_err sq_exec(void *impl, const struct ag_store_guard *guard, const struct ag_store_op *ops,
                      size_t n, struct ag_store_reply *replies, int *guard_ok)
{
    struct sq *q = impl;
    pthread_mutex_lock(&q->gate->mu);
    q->readonly = only_reads(ops, n);
    ag_err e = run(q, prep(q, q->readonly ? S_BEGIN_READ : S_BEGIN), "BEGIN");
    if (e == AG_OK) {
        e = exec_locked(q, guard, ops, n, replies, guard_ok);
        /* A failed guard changed nothing but may have deleted an expired key; keep that. */
        if (e == AG_OK)
            e = run(q, prep(q, S_COMMIT), "COMMIT");
        if (e != AG_OK && !sqlite3_get_autocommit(q->db)) {
            ag_err keep = e;
            char detail[1024];
            snprintf(detail, sizeof detail, "%s", ag_last_error());
            if (run(q, prep(q, S_ROLLBACK), "ROLLBACK") != AG_OK)
                sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
            e = ag__fail(keep, "%s", detail);
        }
    }
    pthread_mutex_unlock(&q->gate->mu);
    return e;
}

static ag_err sq_keys(void *impl, const char *prefix, char ***keys, size_t *n)
{
    struct sq *q = impl;
    size_t plen = strlen(prefix), cap = 0;
    pthread_mutex_lock(&q->gate->mu);
    sqlite3_stmt *st = prep(q, S_KEYS);
    bind_str(st, 1, prefix);
    sqlite3_bind_int64(st, 2, ag__wall_ms());
    int row;
    ag_err e;
    while ((e = step_row(q, st, &row, "list keys")) == AG_OK && row) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        size_t klen = (size_t)sqlite3_column_bytes(st, 0);
        if (klen < plen || memcmp(k, prefix, plen) != 0)
            break; /* sorted: past the last key with this prefix */
        if ((e = ag__strv_push(keys, n, &cap, k, klen)) != AG_OK)
            break;
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&q->gate->mu);
    if (e != AG_OK) {
        ag_store_strv_free(*keys, *n);
        *keys = NULL;
        *n = 0;
    }
    return e;
}

static uint64_t sq_round_trips(const void *impl)
{
    (void)impl;
    return 0;
}

/* --- open/close ------------------------------------------------------------------- */

static void sq_close(void *impl)
{
    struct sq *q = impl;
    if (q == NULL)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_close(q->db);
    gate_put(q->gate);
    free(q->path);
    free(q);
}

/* Creates the file 0600 before SQLite does (it would use the umask): runtime state
 * holds lock owners and agent packets. */
static ag_err precreate(const char *path)
{
    if (strcmp(path, ":memory:") == 0)
        return AG_OK;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return ag__fail(AG_ESTORE, "store: cannot open sqlite file %s: %s", path, strerror(errno));
    close(fd);
    return AG_OK;
}

/* Runs setup SQL, retrying while another process holds the file. SQLite skips the busy
 * handler when waiting could deadlock (a reader upgrading to writer while another
 * connection switches the file to WAL or creates the schema) and answers SQLITE_BUSY at
 * once, so several processes opening a new file together need this loop. */
static ag_err exec_retrying(struct sq *q, const char *sql)
{
    int64_t deadline = ag__mono_ms() + BUSY_TIMEOUT_MS;
    for (;;) {
        char *msg = NULL;
        int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            return AG_OK;
        int busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
        if (!busy || ag__mono_ms() > deadline) {
            ag_err e = ag__fail(AG_ESTORE, "store: sqlite %s: schema: %s", q->path,
                                msg ? msg : sqlite3_errmsg(q->db));
            sqlite3_free(msg);
            return e;
        }
        sqlite3_free(msg);
        usleep(1000 + (useconds_t)(ag__mono_ns() % 4000));
    }
}

static ag_err sq_setup(struct sq *q)
{
    if (sqlite3_open_v2(q->path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return q->db ? db_fail(q, "open") : ag__fail(AG_ENOMEM, "store: out of memory");
    sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
    ag_err e = exec_retrying(q, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                " PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=10000;");
    if (e == AG_OK)
        e = exec_retrying(q, schema);
    if (e)
        return e;
    for (int i = 0; i < S_COUNT; i++)
        if (sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
                               NULL) != SQLITE_OK)
            return db_fail(q, stmt_sql[i]);
    return AG_OK;
}

static ag_err sq_open(const char *url, void **impl)
{
    const char *path = url + strlen("sqlite:");
    if (path[0] == '\0')
        return ag__fail(AG_EINVAL, "store: '%s' names no file (expected sqlite:PATH)", url);
    struct sq *q = calloc(1, sizeof *q);
    if (q == NULL || (q->path = strdup(path)) == NULL) {
        free(q);
        return ag__fail(AG_ENOMEM, "store: out of memory opening '%s'", url);
    }
    ag_err e = precreate(path);
    if (e == AG_OK && (q->gate = gate_get(path)) == NULL)
        e = ag__fail(AG_ENOMEM, "store: out of memory opening '%s'", url);
    if (e == AG_OK)
        e = sq_setup(q);
    if (e != AG_OK) {
        sq_close(q);
        return e;
    }
    *impl = q;
    return AG_OK;
}

const struct ag__store_backend ag__store_sqlite = {
    .name = "sqlite",
    .scheme = "sqlite:",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .keys = sq_keys,
    .round_trips = sq_round_trips,
};
