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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/time.h"
#include "store/store_sqlite_ops.h"

#define BUSY_TIMEOUT_MS 10000
#define PURGE_EVERY_MS  1000

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

/* The SQL of every statement (AG__SQ_STMTS in store_sqlite_ops.h), prepared once per
 * connection. */
static const char *const stmt_sql[] = {
#define STMT_SQL(name, sql) sql,
    AG__SQ_STMTS(STMT_SQL)
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

/* --- transaction ------------------------------------------------------------------ */

/* 1 when the guard holds: the key is a string equal to guard->equals, or absent when
 * equals is NULL. */
static ag_err guard_holds(struct ag__sq *q, const struct ag_store_guard *g, int64_t now, int *ok)
{
    int t;
    int64_t exp;
    ag_err e = ag__sq_lookup(q, g->key, now, &t, &exp);
    *ok = 0;
    if (e != AG_OK)
        return e;
    if (g->equals == NULL || t != AG__SQT_STRING) {
        *ok = g->equals == NULL && t == AG__SQT_NONE;
        return AG_OK;
    }
    sqlite3_stmt *st = ag__sq_prep(q, AG__SQ_GETVAL);
    ag__sq_bind_str(st, 1, g->key);
    int row;
    if ((e = ag__sq_step_row(q, st, &row, "guard")) != AG_OK || !row)
        return e;
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    const void *v = sqlite3_column_blob(st, 0);
    *ok = len == strlen(g->equals) && (len == 0 || memcmp(v, g->equals, len) == 0);
    sqlite3_reset(st);
    return AG_OK;
}

static ag_err purge_expired(struct ag__sq *q, int64_t now)
{
    if (now - q->last_purge < PURGE_EVERY_MS)
        return AG_OK;
    q->last_purge = now;
    sqlite3_stmt *st = ag__sq_prep(q, AG__SQ_PURGE);
    sqlite3_bind_int64(st, 1, now);
    return ag__sq_run(q, st, "purge expired keys");
}

static ag_err exec_locked(struct ag__sq *q, const struct ag_store_guard *guard,
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
    struct ag__sq_op c = {.q = q, .now = now};
    for (size_t i = 0; i < n && e == AG_OK; i++) {
        c.i = i;
        c.o = &ops[i];
        c.r = &replies[i];
        e = ag__sq_op_table[ops[i].op](&c);
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
    struct ag__sq *q = impl;
    pthread_mutex_lock(&q->gate->mu);
    q->readonly = only_reads(ops, n);
    ag_err e =
        ag__sq_run(q, ag__sq_prep(q, q->readonly ? AG__SQ_BEGIN_READ : AG__SQ_BEGIN), "BEGIN");
    if (e == AG_OK) {
        e = exec_locked(q, guard, ops, n, replies, guard_ok);
        /* A failed guard changed nothing but may have deleted an expired key; keep that. */
        if (e == AG_OK)
            e = ag__sq_run(q, ag__sq_prep(q, AG__SQ_COMMIT), "COMMIT");
        if (e != AG_OK && !sqlite3_get_autocommit(q->db)) {
            ag_err keep = e;
            char detail[1024];
            snprintf(detail, sizeof detail, "%s", ag_last_error());
            if (ag__sq_run(q, ag__sq_prep(q, AG__SQ_ROLLBACK), "ROLLBACK") != AG_OK)
                sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
            e = ag__fail(keep, "%s", detail);
        }
    }
    pthread_mutex_unlock(&q->gate->mu);
    return e;
}

static ag_err sq_keys(void *impl, const char *prefix, char ***keys, size_t *n)
{
    struct ag__sq *q = impl;
    size_t plen = strlen(prefix), cap = 0;
    pthread_mutex_lock(&q->gate->mu);
    sqlite3_stmt *st = ag__sq_prep(q, AG__SQ_KEYS);
    ag__sq_bind_str(st, 1, prefix);
    sqlite3_bind_int64(st, 2, ag__wall_ms());
    int row;
    ag_err e;
    while ((e = ag__sq_step_row(q, st, &row, "list keys")) == AG_OK && row) {
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
    struct ag__sq *q = impl;
    if (q == NULL)
        return;
    for (int i = 0; i < AG__SQ_COUNT; i++)
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
static ag_err exec_retrying(struct ag__sq *q, const char *sql)
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

static ag_err sq_setup(struct ag__sq *q)
{
    if (sqlite3_open_v2(q->path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        return q->db ? ag__sq_db_fail(q, "open") : ag__fail(AG_ENOMEM, "store: out of memory");
    sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
    ag_err e = exec_retrying(q, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                " PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=10000;");
    if (e == AG_OK)
        e = exec_retrying(q, schema);
    if (e)
        return e;
    for (int i = 0; i < AG__SQ_COUNT; i++)
        if (sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
                               NULL) != SQLITE_OK)
            return ag__sq_db_fail(q, stmt_sql[i]);
    return AG_OK;
}

static ag_err sq_open(const char *url, int flags, void **impl)
{
    (void)flags; /* a file: nothing to reach later */
    const char *path = url + strlen("sqlite:");
    if (path[0] == '\0')
        return ag__fail(AG_EINVAL, "store: '%s' names no file (expected sqlite:PATH)", url);
    struct ag__sq *q = calloc(1, sizeof *q);
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
