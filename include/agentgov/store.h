/* Runtime state store: one interface, backends chosen by URL ("sqlite:PATH",
 * "redis://HOST:PORT/DB"). Ownership: ag_store is an opaque handle
 * (ag_store_open/ag_store_free); replies are filled by the store and released with
 * ag_store_reply_free; strings returned through char ** are malloc'd for the caller. */
#ifndef AGENTGOV_STORE_H
#define AGENTGOV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/breaker.h"
#include "agentgov/err.h"

typedef struct ag_store ag_store;

/* Opens a store by URL. Unknown schemes give AG_EINVAL naming the URL. A store that
 * cannot be reached gives AG_ESTORE. */
AG_MUST_USE ag_err ag_store_open(const char *url, ag_store **out);
void ag_store_free(ag_store *s);
/* Puts every call of this handle behind a circuit breaker (borrowed: it must outlive
 * the handle's use; NULL removes it). While the breaker is open a call fails at once
 * with AG_ESTORE naming the breaker, which the lifecycle answers as deny
 * store_unavailable; only backend failures (unreachable, timed out, I/O) count. */
void ag_store_set_breaker(ag_store *s, ag_breaker *b);
/* "sqlite" or "redis". */
const char *ag_store_backend(const ag_store *s);
/* Number of network round trips made so far (0 for embedded backends): lets benches
 * and tests count them. */
uint64_t ag_store_round_trips(const ag_store *s);

/* Primitive operations, with Redis semantics on every backend. A key that has expired
 * behaves exactly as an absent key. TTLs are in milliseconds; 0 means no TTL. */
/* The longest TTL any op or lock takes (about 100 years: now + TTL stays far from
 * overflowing; Redis refuses larger ones too), and the largest value (Redis's 512 MiB
 * string limit, so that both backends refuse the same values). */
#define AG_STORE_TTL_MAX_MS (100LL * 365 * 24 * 3600 * 1000)
#define AG_STORE_VALUE_MAX  (512u << 20)

enum ag_store_opcode {
    AG_OP_GET,           /* key -> STR or NIL */
    AG_OP_SET,           /* key value [num=ttl_ms] -> INT 1 */
    AG_OP_SETNX,         /* key value [num=ttl_ms] -> INT 1 if set, 0 if present */
    AG_OP_DEL,           /* key -> INT number deleted */
    AG_OP_PEXPIRE,       /* key num=ttl_ms -> INT 1 if key exists */
    AG_OP_PTTL,          /* key -> INT ms left, -1 no ttl, -2 absent */
    AG_OP_INCRBY,        /* key num -> INT new value */
    AG_OP_HSET,          /* key field value -> INT 1 */
    AG_OP_HGET,          /* key field -> STR or NIL */
    AG_OP_HDEL,          /* key field -> INT deleted */
    AG_OP_HINCRBY,       /* key field num -> INT new value */
    AG_OP_HGETALL,       /* key -> ARRAY field, value, field, value ... */
    AG_OP_RPUSH,         /* key value -> INT new length */
    AG_OP_LPUSH,         /* key value -> INT new length */
    AG_OP_LRANGE,        /* key num=start num2=stop (Redis indexes) -> ARRAY */
    AG_OP_LTRIM,         /* key num=start num2=stop -> INT 1 */
    AG_OP_LLEN,          /* key -> INT */
    AG_OP_ZADD,          /* key field=member num=score -> INT 1 if new */
    AG_OP_ZREM,          /* key field=member -> INT removed */
    AG_OP_ZRANGEBYSCORE, /* key num=min num2=max -> ARRAY of members, by score */
    AG_OP_ZSCORE,        /* key field=member -> INT score or NIL */
};

struct ag_store_op {
    enum ag_store_opcode op;
    const char *key;
    const char *field; /* hash field or sorted-set member */
    const char *value;
    int64_t num;
    int64_t num2;
};

enum ag_reply_type { AG_REPLY_NIL = 0, AG_REPLY_INT, AG_REPLY_STR, AG_REPLY_ARRAY };

struct ag_store_reply {
    enum ag_reply_type type;
    int64_t integer;
    char *str; /* NUL-terminated, malloc'd */
    size_t len;
    struct ag_store_reply *elems;
    size_t nelems;
};

/* Optional precondition for ag_store_exec: the ops run only if the string at key
 * equals `equals` (or the key is absent when equals is NULL). Used for fencing. */
struct ag_store_guard {
    const char *key;
    const char *equals;
};

/* Runs ops atomically, all or nothing, in one round trip on network backends (a
 * Lua script on Redis/DragonflyDB, one transaction on SQLite). replies must have n
 * slots; they are always initialised (NIL when not run). *guard_ok (may be NULL) is
 * set to 0 when the guard failed, in which case no op ran and AG_OK is returned. */
AG_MUST_USE ag_err ag_store_exec(ag_store *s, const struct ag_store_guard *guard,
                                 const struct ag_store_op *ops, size_t n,
                                 struct ag_store_reply *replies, int *guard_ok);
void ag_store_reply_free(struct ag_store_reply *replies, size_t n);

/* Convenience wrappers over ag_store_exec. *val is malloc'd, or NULL when absent. */
AG_MUST_USE ag_err ag_store_get(ag_store *s, const char *key, char **val);
AG_MUST_USE ag_err ag_store_set(ag_store *s, const char *key, const char *val, int64_t ttl_ms);
AG_MUST_USE ag_err ag_store_del(ag_store *s, const char *key);
/* Deletes key only if it holds expected; *deleted says whether it did. */
AG_MUST_USE ag_err ag_store_cas_del(ag_store *s, const char *key, const char *expected,
                                    int *deleted);
AG_MUST_USE ag_err ag_store_hincr(ag_store *s, const char *key, const char *field, int64_t by,
                                  int64_t *newval);
AG_MUST_USE ag_err ag_store_rpush(ag_store *s, const char *key, const char *val);
/* Elements start..stop (Redis indexes, -1 = last) as a malloc'd array of malloc'd
 * strings; free with ag_store_strv_free. */
AG_MUST_USE ag_err ag_store_lrange(ag_store *s, const char *key, int64_t start, int64_t stop,
                                   char ***items, size_t *n);
void ag_store_strv_free(char **items, size_t n);

/* Keys matching a prefix (excluding expired keys), sorted; for listings and tests. */
AG_MUST_USE ag_err ag_store_keys(ag_store *s, const char *prefix, char ***keys, size_t *n);

/* Locks with fencing tokens. The lock value is "<fence>:<owner>", where fence comes
 * from a counter that only grows. acquire gives AG_ELOCKED if someone holds it;
 * refresh and release give AG_ELOCKED if the caller no longer holds it (expired and
 * maybe taken by another). Use the value as an ag_store_guard to fence writes. */
AG_MUST_USE ag_err ag_store_lock_acquire(ag_store *s, const char *key, const char *owner,
                                         int64_t ttl_ms, int64_t *fence);
AG_MUST_USE ag_err ag_store_lock_refresh(ag_store *s, const char *key, const char *owner,
                                         int64_t fence, int64_t ttl_ms);
AG_MUST_USE ag_err ag_store_lock_release(ag_store *s, const char *key, const char *owner,
                                         int64_t fence);
/* Formats the lock value for a guard: "<fence>:<owner>". */
void ag_store_lock_value(int64_t fence, const char *owner, char *buf, size_t len);

#endif
