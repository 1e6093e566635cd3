/* Private to the SQLite backend (store_sqlite.c, store_sqlite_ops.c): the connection,
 * its prepared statements and the ops run inside a transaction. Ownership: struct ag__sq
 * owns its connection, statements and path; an op borrows it for one call. */
#ifndef AG_STORE_SQLITE_OPS_H
#define AG_STORE_SQLITE_OPS_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/backend.h"

/* Key types as stored in keyspace.type. */
enum { AG__SQT_NONE = 0, AG__SQT_STRING = 1, AG__SQT_HASH = 2, AG__SQT_LIST = 3, AG__SQT_ZSET = 4 };

/* Every statement the backend runs, prepared once per connection. */
#define AG__SQ_STMTS(X)                                                                            \
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
#define STMT_ENUM(name, sql) AG__SQ_##name,
    AG__SQ_STMTS(STMT_ENUM)
#undef STMT_ENUM
        AG__SQ_COUNT
};

struct file_gate;

struct ag__sq {
    sqlite3 *db;
    sqlite3_stmt *st[AG__SQ_COUNT];
    struct file_gate *gate; /* serialises this handle with others on the same file */
    int64_t last_purge;
    int readonly; /* the running batch only reads: expired keys are skipped, not deleted */
    char *path;
};

/* What one op needs while it runs. */
struct ag__sq_op {
    struct ag__sq *q;
    int64_t now;
    size_t i;
    const struct ag_store_op *o;
    struct ag_store_reply *r;
};

/* The store error for a failed SQLite call `what` on q (the detail names file and cause). */
AG_MUST_USE ag_err ag__sq_db_fail(struct ag__sq *q, const char *what);
/* Resets statement `which` for reuse and clears its bindings. */
sqlite3_stmt *ag__sq_prep(struct ag__sq *q, int which);
/* Binds text s (static) to column col. */
void ag__sq_bind_str(sqlite3_stmt *st, int col, const char *s);
/* Steps a statement that returns no row; `what` names it in the error. */
AG_MUST_USE ag_err ag__sq_run(struct ag__sq *q, sqlite3_stmt *st, const char *what);
/* Steps a query: *row is 1 when a row is ready (the caller reads it, then resets). */
AG_MUST_USE ag_err ag__sq_step_row(struct ag__sq *q, sqlite3_stmt *st, int *row, const char *what);
/* Type of the live key (AG__SQT_NONE when absent). An expired key is deleted here (or
 * only skipped in a read-only batch), so every op sees it exactly as an absent key.
 * *expires is 0 when the key has no TTL. */
AG_MUST_USE ag_err ag__sq_lookup(struct ag__sq *q, const char *key, int64_t now, int *type,
                                 int64_t *expires);

/* One function per opcode, indexed by enum ag_store_opcode. */
typedef ag_err (*ag__sq_op_fn)(const struct ag__sq_op *c);
extern const ag__sq_op_fn ag__sq_op_table[];

#endif
