/* The conformance suite (see store_conformance.h): every case talks to the store only
 * through include/agentgov/store.h, so the same expectations hold on every backend. */
#include "store_conformance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"

static const struct ag_sc_target *target;
static ag_store *cur; /* the case's handle; freed by the next ag_sc_run if a case fails */

void ag_sc_run(const struct ag_sc_target *t, void (*fn)(void))
{
    ag_store_free(cur);
    cur = NULL;
    target = t;
    t->reset();
    cur = t->open();
    fn();
    ag_store_free(cur);
    cur = NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

#define OP(...) ((struct ag_store_op){__VA_ARGS__})

static struct ag_store_reply run1(struct ag_store_op op)
{
    struct ag_store_reply r;
    ASSERT_OK(ag_store_exec(cur, NULL, &op, 1, &r, NULL));
    return r;
}

/* Runs op and returns its INT reply. */
static int64_t ival(struct ag_store_op op)
{
    struct ag_store_reply r = run1(op);
    ASSERT_EQ(r.type, AG_REPLY_INT);
    return r.integer;
}

/* Runs op and checks it replied NIL. */
static void nilv(struct ag_store_op op)
{
    struct ag_store_reply r = run1(op);
    int t = r.type;
    ag_store_reply_free(&r, 1);
    ASSERT_EQ(t, AG_REPLY_NIL);
}

/* Runs op and checks its STR reply equals want (byte for byte, length included). */
static void strv(struct ag_store_op op, const char *want)
{
    struct ag_store_reply r = run1(op);
    ASSERT_EQ(r.type, AG_REPLY_STR);
    ASSERT_EQ(r.len, strlen(want));
    ASSERT_STREQ(r.str, want);
    ag_store_reply_free(&r, 1);
}

/* Runs op and returns its ARRAY reply joined with '|' (static buffer). */
static const char *arrv(struct ag_store_op op)
{
    static char buf[8192];
    struct ag_store_reply r = run1(op);
    ASSERT_EQ(r.type, AG_REPLY_ARRAY);
    buf[0] = '\0';
    for (size_t i = 0; i < r.nelems; i++) {
        ASSERT_EQ(r.elems[i].type, AG_REPLY_STR);
        if (i)
            strncat(buf, "|", sizeof buf - strlen(buf) - 1);
        strncat(buf, r.elems[i].str, sizeof buf - strlen(buf) - 1);
    }
    ag_store_reply_free(&r, 1);
    return buf;
}

/* Runs op and checks it fails with code. */
static void errv(struct ag_store_op op, ag_err code)
{
    struct ag_store_reply r;
    ASSERT_ERR(ag_store_exec(cur, NULL, &op, 1, &r, NULL), code);
    ASSERT_EQ(r.type, AG_REPLY_NIL);
}

static void set(const char *k, const char *v)
{
    ASSERT_EQ(ival(OP(AG_OP_SET, k, .value = v)), 1);
}

void ag_sc_strings(void)
{
    nilv(OP(AG_OP_GET, "s:a"));
    set("s:a", "one");
    strv(OP(AG_OP_GET, "s:a"), "one");
    set("s:a", "two");
    strv(OP(AG_OP_GET, "s:a"), "two");
    set("s:empty", "");
    strv(OP(AG_OP_GET, "s:empty"), "");
    ASSERT_EQ(ival(OP(AG_OP_DEL, "s:a")), 1);
    ASSERT_EQ(ival(OP(AG_OP_DEL, "s:a")), 0);
    nilv(OP(AG_OP_GET, "s:a"));
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "s:a")), -2);
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "s:empty")), -1);
}

void ag_sc_setnx(void)
{
    ASSERT_EQ(ival(OP(AG_OP_SETNX, "n:a", .value = "first")), 1);
    ASSERT_EQ(ival(OP(AG_OP_SETNX, "n:a", .value = "second")), 0);
    strv(OP(AG_OP_GET, "n:a"), "first");
    ASSERT_EQ(ival(OP(AG_OP_SETNX, "n:t", .value = "x", .num = 60000)), 1);
    int64_t ttl = ival(OP(AG_OP_PTTL, "n:t"));
    ASSERT_TRUE(ttl > 50000 && ttl <= 60000);
    /* SETNX on a key of another type does nothing and is no error. */
    ASSERT_EQ(ival(OP(AG_OP_HSET, "n:h", .field = "f", .value = "v")), 1);
    ASSERT_EQ(ival(OP(AG_OP_SETNX, "n:h", .value = "x")), 0);
}

void ag_sc_ttl_expiry(void)
{
    ASSERT_EQ(ival(OP(AG_OP_SET, "t:a", .value = "v", .num = 50)), 1);
    int64_t ttl = ival(OP(AG_OP_PTTL, "t:a"));
    ASSERT_TRUE(ttl > 0 && ttl <= 50);
    strv(OP(AG_OP_GET, "t:a"), "v");
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "t:none", .num = 50)), 0);
    set("t:b", "w");
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "t:b", .num = 50)), 1);
    sleep_ms(120);
    nilv(OP(AG_OP_GET, "t:a"));
    nilv(OP(AG_OP_GET, "t:b"));
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "t:a")), -2);
    ASSERT_EQ(ival(OP(AG_OP_DEL, "t:b")), 0);
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "t:a", .num = 1000)), 0);
    /* An expired key is free again for SETNX, and INCRBY starts from zero. */
    ASSERT_EQ(ival(OP(AG_OP_SETNX, "t:a", .value = "again")), 1);
    ASSERT_EQ(ival(OP(AG_OP_SET, "t:n", .value = "41", .num = 50)), 1);
    sleep_ms(120);
    ASSERT_EQ(ival(OP(AG_OP_INCRBY, "t:n", .num = 1)), 1);
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "t:n")), -1);
}

void ag_sc_ttl_kept_and_cleared(void)
{
    ASSERT_EQ(ival(OP(AG_OP_SET, "k:n", .value = "1", .num = 60000)), 1);
    ASSERT_EQ(ival(OP(AG_OP_INCRBY, "k:n", .num = 5)), 6);
    ASSERT_TRUE(ival(OP(AG_OP_PTTL, "k:n")) > 0); /* INCRBY keeps the TTL */
    set("k:n", "7");                              /* SET without TTL clears it */
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "k:n")), -1);
    ASSERT_EQ(ival(OP(AG_OP_HSET, "k:h", .field = "f", .value = "v")), 1);
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "k:h", .num = 60000)), 1);
    ASSERT_EQ(ival(OP(AG_OP_HSET, "k:h", .field = "g", .value = "w")), 1);
    ASSERT_TRUE(ival(OP(AG_OP_PTTL, "k:h")) > 0); /* writing a field keeps it too */
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "k:h", .num = 50)), 1);
    int64_t ttl = ival(OP(AG_OP_PTTL, "k:h"));
    ASSERT_TRUE(ttl > 0 && ttl <= 50); /* PEXPIRE replaces a longer TTL */
}

void ag_sc_expired_container(void)
{
    ASSERT_EQ(ival(OP(AG_OP_HSET, "c:h", .field = "old", .value = "1")), 1);
    ASSERT_EQ(ival(OP(AG_OP_RPUSH, "c:l", .value = "old")), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "c:z", .field = "old", .num = 1)), 1);
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "c:h", .num = 50)), 1);
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "c:l", .num = 50)), 1);
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "c:z", .num = 50)), 1);
    sleep_ms(120);
    /* A read-only batch (the wrapper) cannot delete the expired list: it must still
     * read as empty. */
    char **items;
    size_t ni;
    ASSERT_OK(ag_store_lrange(cur, "c:l", 0, -1, &items, &ni));
    ASSERT_EQ(ni, 0);
    ag_store_strv_free(items, ni);
    ASSERT_STREQ(arrv(OP(AG_OP_HGETALL, "c:h")), "");
    nilv(OP(AG_OP_HGET, "c:h", .field = "old"));
    ASSERT_EQ(ival(OP(AG_OP_LLEN, "c:l")), 0);
    nilv(OP(AG_OP_ZSCORE, "c:z", .field = "old"));
    /* New members start a fresh container: nothing of the expired one survives. */
    ASSERT_EQ(ival(OP(AG_OP_HSET, "c:h", .field = "new", .value = "2")), 1);
    ASSERT_STREQ(arrv(OP(AG_OP_HGETALL, "c:h")), "new|2");
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "c:h")), -1);
    ASSERT_EQ(ival(OP(AG_OP_RPUSH, "c:l", .value = "new")), 1);
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "c:l", .num = 0, .num2 = -1)), "new");
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "c:z", .field = "new", .num = 2)), 1);
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "c:z", .num = 0, .num2 = 10)), "new");
    char **keys;
    size_t n;
    ASSERT_OK(ag_store_keys(cur, "c:", &keys, &n));
    ASSERT_EQ(n, 3);
    ag_store_strv_free(keys, n);
}

void ag_sc_incrby(void)
{
    ASSERT_EQ(ival(OP(AG_OP_INCRBY, "i:a", .num = 5)), 5);
    ASSERT_EQ(ival(OP(AG_OP_INCRBY, "i:a", .num = -7)), -2);
    strv(OP(AG_OP_GET, "i:a"), "-2");
    set("i:s", "abc");
    errv(OP(AG_OP_INCRBY, "i:s", .num = 1), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "i:s");
    strv(OP(AG_OP_GET, "i:s"), "abc");
    set("i:big", "9007199254740000"); /* 2^53 - 992: exact on every backend */
    ASSERT_EQ(ival(OP(AG_OP_INCRBY, "i:big", .num = 991)), 9007199254740991LL);
    set("i:max", "9223372036854775807");
    errv(OP(AG_OP_INCRBY, "i:max", .num = 1), AG_EINVAL);
    strv(OP(AG_OP_GET, "i:max"), "9223372036854775807");
}

void ag_sc_hashes(void)
{
    nilv(OP(AG_OP_HGET, "h:a", .field = "f"));
    ASSERT_STREQ(arrv(OP(AG_OP_HGETALL, "h:a")), "");
    ASSERT_EQ(ival(OP(AG_OP_HSET, "h:a", .field = "f", .value = "1")), 1);
    ASSERT_EQ(ival(OP(AG_OP_HSET, "h:a", .field = "f", .value = "2")), 1);
    strv(OP(AG_OP_HGET, "h:a", .field = "f"), "2");
    ASSERT_EQ(ival(OP(AG_OP_HINCRBY, "h:a", .field = "f", .num = 10)), 12);
    ASSERT_EQ(ival(OP(AG_OP_HINCRBY, "h:a", .field = "g", .num = -3)), -3);
    const char *all = arrv(OP(AG_OP_HGETALL, "h:a"));
    ASSERT_TRUE(strcmp(all, "f|12|g|-3") == 0 || strcmp(all, "g|-3|f|12") == 0);
    ASSERT_EQ(ival(OP(AG_OP_HDEL, "h:a", .field = "f")), 1);
    ASSERT_EQ(ival(OP(AG_OP_HDEL, "h:a", .field = "f")), 0);
    ASSERT_EQ(ival(OP(AG_OP_HDEL, "h:none", .field = "f")), 0);
    ASSERT_STREQ(arrv(OP(AG_OP_HGETALL, "h:a")), "g|-3");
    ASSERT_EQ(ival(OP(AG_OP_HSET, "h:a", .field = "txt", .value = "x1")), 1);
    errv(OP(AG_OP_HINCRBY, "h:a", .field = "txt", .num = 1), AG_EINVAL);
    strv(OP(AG_OP_HGET, "h:a", .field = "txt"), "x1");
}

void ag_sc_hash_last_field(void)
{
    ASSERT_EQ(ival(OP(AG_OP_HSET, "hl:a", .field = "only", .value = "v")), 1);
    ASSERT_EQ(ival(OP(AG_OP_HDEL, "hl:a", .field = "only")), 1);
    /* A container whose last member went is gone, as in Redis: any type may reuse it. */
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "hl:a")), -2);
    ASSERT_EQ(ival(OP(AG_OP_RPUSH, "hl:a", .value = "x")), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "hl:z", .field = "m", .num = 1)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZREM, "hl:z", .field = "m")), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZREM, "hl:z", .field = "m")), 0);
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "hl:z")), -2);
}

void ag_sc_lists(void)
{
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = 0, .num2 = -1)), "");
    ASSERT_EQ(ival(OP(AG_OP_LLEN, "l:a")), 0);
    ASSERT_EQ(ival(OP(AG_OP_RPUSH, "l:a", .value = "b")), 1);
    ASSERT_EQ(ival(OP(AG_OP_RPUSH, "l:a", .value = "c")), 2);
    ASSERT_EQ(ival(OP(AG_OP_LPUSH, "l:a", .value = "a")), 3);
    ASSERT_EQ(ival(OP(AG_OP_RPUSH, "l:a", .value = "d")), 4);
    ASSERT_EQ(ival(OP(AG_OP_LLEN, "l:a")), 4);
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = 0, .num2 = -1)), "a|b|c|d");
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = 1, .num2 = 2)), "b|c");
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = -2, .num2 = -1)), "c|d");
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = -100, .num2 = 1)), "a|b");
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = 2, .num2 = 100)), "c|d");
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = 3, .num2 = 1)), "");
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = 4, .num2 = 10)), "");
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = 0, .num2 = 0)), "a");
    /* the same value twice is two elements */
    ASSERT_EQ(ival(OP(AG_OP_RPUSH, "l:a", .value = "d")), 5);
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "l:a", .num = -3, .num2 = -1)), "c|d|d");
}

void ag_sc_ltrim(void)
{
    const char *vals[] = {"1", "2", "3", "4", "5", "6"};
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(ival(OP(AG_OP_RPUSH, "lt:a", .value = vals[i])), i + 1);
    ASSERT_EQ(ival(OP(AG_OP_LTRIM, "lt:a", .num = -4, .num2 = -1)), 1); /* keep last 4 */
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "lt:a", .num = 0, .num2 = -1)), "3|4|5|6");
    ASSERT_EQ(ival(OP(AG_OP_LTRIM, "lt:a", .num = 1, .num2 = 2)), 1);
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "lt:a", .num = 0, .num2 = -1)), "4|5");
    ASSERT_EQ(ival(OP(AG_OP_LPUSH, "lt:a", .value = "3")), 3);
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "lt:a", .num = 0, .num2 = -1)), "3|4|5");
    ASSERT_EQ(ival(OP(AG_OP_LTRIM, "lt:a", .num = 0, .num2 = 100)), 1);
    ASSERT_EQ(ival(OP(AG_OP_LLEN, "lt:a")), 3);
    ASSERT_EQ(ival(OP(AG_OP_LTRIM, "lt:a", .num = 5, .num2 = 10)), 1); /* empty range */
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "lt:a")), -2);
    ASSERT_EQ(ival(OP(AG_OP_LTRIM, "lt:none", .num = 0, .num2 = 1)), 1);
}

void ag_sc_zsets(void)
{
    nilv(OP(AG_OP_ZSCORE, "z:a", .field = "m"));
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "z:a", .num = 0, .num2 = 100)), "");
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "z:a", .field = "c", .num = 30)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "z:a", .field = "a", .num = 10)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "z:a", .field = "b", .num = 20)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "z:a", .field = "b2", .num = 20)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "z:a", .field = "neg", .num = -5)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "z:a", .field = "a", .num = 15)), 0); /* update */
    ASSERT_EQ(ival(OP(AG_OP_ZSCORE, "z:a", .field = "a")), 15);
    ASSERT_EQ(ival(OP(AG_OP_ZSCORE, "z:a", .field = "neg")), -5);
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "z:a", .num = 0, .num2 = 100)), "a|b|b2|c");
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "z:a", .num = 15, .num2 = 20)), "a|b|b2");
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "z:a", .num = -10, .num2 = 14)), "neg");
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "z:a", .num = 31, .num2 = 40)), "");
    ASSERT_EQ(ival(OP(AG_OP_ZREM, "z:a", .field = "b")), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZREM, "z:a", .field = "b")), 0);
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "z:a", .num = 0, .num2 = 100)), "a|b2|c");
}

/* The stuck-detection pattern of docs/store.md: a heartbeat moves the agent's deadline,
 * and the stuck ones are a range query, not a scan of every agent. */
void ag_sc_deadline_index(void)
{
    int64_t now = 1764000000000LL; /* wall-clock ms in 2025: beyond 2^32, below 2^53 */
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "agents:deadlines", .field = "a1", .num = now - 5000)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "agents:deadlines", .field = "a2", .num = now + 30000)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "agents:deadlines", .field = "a3", .num = now - 1)), 1);
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "agents:deadlines", .num = 0, .num2 = now)), "a1|a3");
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "agents:deadlines", .field = "a1", .num = now + 30000)), 0);
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "agents:deadlines", .num = 0, .num2 = now)), "a3");
    ASSERT_EQ(ival(OP(AG_OP_ZSCORE, "agents:deadlines", .field = "a1")), now + 30000);
}

void ag_sc_wrongtype(void)
{
    set("w:s", "v");
    ASSERT_EQ(ival(OP(AG_OP_HSET, "w:h", .field = "f", .value = "v")), 1);
    ASSERT_EQ(ival(OP(AG_OP_RPUSH, "w:l", .value = "v")), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "w:z", .field = "m", .num = 1)), 1);
    errv(OP(AG_OP_GET, "w:h"), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "WRONGTYPE");
    errv(OP(AG_OP_HSET, "w:s", .field = "f", .value = "v"), AG_EINVAL);
    errv(OP(AG_OP_HGET, "w:l", .field = "f"), AG_EINVAL);
    errv(OP(AG_OP_HGETALL, "w:z"), AG_EINVAL);
    errv(OP(AG_OP_RPUSH, "w:h", .value = "v"), AG_EINVAL);
    errv(OP(AG_OP_LRANGE, "w:s", .num = 0, .num2 = -1), AG_EINVAL);
    errv(OP(AG_OP_LLEN, "w:z"), AG_EINVAL);
    errv(OP(AG_OP_ZADD, "w:l", .field = "m", .num = 1), AG_EINVAL);
    errv(OP(AG_OP_ZSCORE, "w:h", .field = "m"), AG_EINVAL);
    errv(OP(AG_OP_INCRBY, "w:h", .num = 1), AG_EINVAL);
    /* SET, DEL, PEXPIRE and PTTL work on any type; SET replaces the container. */
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "w:l", .num = 60000)), 1);
    ASSERT_TRUE(ival(OP(AG_OP_PTTL, "w:l")) > 0);
    set("w:h", "now a string");
    strv(OP(AG_OP_GET, "w:h"), "now a string");
    ASSERT_EQ(ival(OP(AG_OP_DEL, "w:z")), 1);
}

void ag_sc_validation(void)
{
    errv(OP(AG_OP_GET, NULL), AG_EINVAL);
    errv(OP(AG_OP_GET, ""), AG_EINVAL);
    errv(OP(AG_OP_SET, "v:a"), AG_EINVAL); /* no value */
    ASSERT_CONTAINS(ag_last_error(), "value");
    errv(OP(AG_OP_SET, "v:a", .value = "x", .num = -1), AG_EINVAL);
    errv(OP(AG_OP_HSET, "v:a", .value = "x"), AG_EINVAL); /* no field */
    ASSERT_CONTAINS(ag_last_error(), "field");
    errv(OP(AG_OP_ZADD, "v:a", .num = 1), AG_EINVAL);
    errv(OP(AG_OP_RPUSH, "v:a"), AG_EINVAL);
    errv(OP(AG_OP_PEXPIRE, "v:a", .num = 0), AG_EINVAL);
    /* TTLs past the ceiling: now + TTL would wrap (an expired key, or one that never
     * expires) on one backend and be refused by the other. */
    errv(OP(AG_OP_SET, "v:a", .value = "x", .num = AG_STORE_TTL_MAX_MS + 1), AG_EINVAL);
    errv(OP(AG_OP_PEXPIRE, "v:a", .num = INT64_MAX), AG_EINVAL);
    int64_t fence;
    ASSERT_ERR(ag_store_lock_acquire(cur, "v:lock", "alice", INT64_MAX, &fence), AG_EINVAL);
    errv(OP((enum ag_store_opcode)99, "v:a"), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "opcode");
    /* an invalid op anywhere in a batch: nothing runs */
    struct ag_store_op ops[2] = {OP(AG_OP_SET, "v:b", .value = "x"), OP(AG_OP_HSET, "v:c")};
    struct ag_store_reply r[2];
    int ok = 1;
    ASSERT_ERR(ag_store_exec(cur, NULL, ops, 2, r, &ok), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "op 1");
    ASSERT_EQ(ok, 0);
    nilv(OP(AG_OP_GET, "v:b"));
    struct ag_store_guard g = {.key = NULL};
    ASSERT_ERR(ag_store_exec(cur, &g, ops, 1, r, &ok), AG_EINVAL);
}

void ag_sc_guard(void)
{
    set("g:lock", "7:alice");
    struct ag_store_guard g = {"g:lock", "7:alice"};
    struct ag_store_op ops[2] = {OP(AG_OP_SET, "g:x", .value = "1"), OP(AG_OP_GET, "g:lock")};
    struct ag_store_reply r[2];
    int ok = 0;
    ASSERT_OK(ag_store_exec(cur, &g, ops, 2, r, &ok));
    ASSERT_EQ(ok, 1);
    ASSERT_EQ(r[0].integer, 1);
    ASSERT_STREQ(r[1].str, "7:alice");
    ag_store_reply_free(r, 2);
    /* equals NULL: the key must be absent */
    struct ag_store_guard absent = {"g:free", NULL};
    ASSERT_OK(ag_store_exec(cur, &absent, ops, 1, r, &ok));
    ASSERT_EQ(ok, 1);
    ag_store_reply_free(r, 1);
    ASSERT_OK(ag_store_exec(cur, &(struct ag_store_guard){"g:lock", NULL}, ops, 1, r, &ok));
    ASSERT_EQ(ok, 0);
    /* a guard never matches a key of another type, nor a prefix of the value */
    ASSERT_EQ(ival(OP(AG_OP_HSET, "g:h", .field = "f", .value = "7:alice")), 1);
    ASSERT_OK(ag_store_exec(cur, &(struct ag_store_guard){"g:h", "7:alice"}, ops, 1, r, &ok));
    ASSERT_EQ(ok, 0);
    ASSERT_OK(ag_store_exec(cur, &(struct ag_store_guard){"g:lock", "7:alic"}, ops, 1, r, &ok));
    ASSERT_EQ(ok, 0);
    ASSERT_OK(ag_store_exec(cur, &(struct ag_store_guard){"g:lock", "7:alice "}, ops, 1, r, &ok));
    ASSERT_EQ(ok, 0);
    /* an empty batch still reports the guard */
    ASSERT_OK(ag_store_exec(cur, &g, NULL, 0, NULL, &ok));
    ASSERT_EQ(ok, 1);
    ASSERT_OK(ag_store_exec(cur, &(struct ag_store_guard){"g:lock", "8:bob"}, NULL, 0, NULL, &ok));
    ASSERT_EQ(ok, 0);
}

void ag_sc_guard_failure_runs_nothing(void)
{
    set("gf:lock", "1:a");
    struct ag_store_guard g = {"gf:lock", "2:b"};
    struct ag_store_op ops[4] = {
        OP(AG_OP_SET, "gf:s", .value = "x"),
        OP(AG_OP_HINCRBY, "gf:h", .field = "n", .num = 1),
        OP(AG_OP_DEL, "gf:lock"),
        OP(AG_OP_GET, "gf:lock"),
    };
    struct ag_store_reply r[4];
    int ok = 1;
    ASSERT_OK(ag_store_exec(cur, &g, ops, 4, r, &ok));
    ASSERT_EQ(ok, 0);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(r[i].type, AG_REPLY_NIL);
    nilv(OP(AG_OP_GET, "gf:s"));
    nilv(OP(AG_OP_HGET, "gf:h", .field = "n"));
    strv(OP(AG_OP_GET, "gf:lock"), "1:a");
}

/* A batch whose last op fails at run time (wrong type) leaves every earlier write undone:
 * strings, counters, TTLs. */
void ag_sc_atomic_rollback(void)
{
    set("ar:s", "before");
    ASSERT_EQ(ival(OP(AG_OP_SET, "ar:ttl", .value = "t", .num = 60000)), 1);
    set("ar:n", "10");
    set("ar:str", "not a hash");
    struct ag_store_op ops[] = {
        OP(AG_OP_SET, "ar:s", .value = "after"),
        OP(AG_OP_SET, "ar:new", .value = "x"),
        OP(AG_OP_INCRBY, "ar:n", .num = 5),
        OP(AG_OP_INCRBY, "ar:n2", .num = 5),
        OP(AG_OP_SET, "ar:ttl", .value = "no ttl now"),
        OP(AG_OP_SETNX, "ar:nx", .value = "x"),
        OP(AG_OP_DEL, "ar:str"),
        OP(AG_OP_SET, "ar:str", .value = "again"),
        OP(AG_OP_HSET, "ar:s", .field = "f", .value = "boom"), /* WRONGTYPE */
        OP(AG_OP_SET, "ar:never", .value = "x"),
    };
    size_t n = sizeof ops / sizeof ops[0];
    struct ag_store_reply r[10];
    int ok = 1;
    ASSERT_ERR(ag_store_exec(cur, NULL, ops, n, r, &ok), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "op 8");
    ASSERT_EQ(ok, 0);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(r[i].type, AG_REPLY_NIL);
    strv(OP(AG_OP_GET, "ar:s"), "before");
    nilv(OP(AG_OP_GET, "ar:new"));
    strv(OP(AG_OP_GET, "ar:n"), "10");
    nilv(OP(AG_OP_GET, "ar:n2"));
    strv(OP(AG_OP_GET, "ar:ttl"), "t");
    ASSERT_TRUE(ival(OP(AG_OP_PTTL, "ar:ttl")) > 50000);
    nilv(OP(AG_OP_GET, "ar:nx"));
    strv(OP(AG_OP_GET, "ar:str"), "not a hash");
    nilv(OP(AG_OP_GET, "ar:never"));
}

/* The same for containers: pushes, trims, member writes and deletes, expiries. */
void ag_sc_atomic_rollback_containers(void)
{
    const char *items[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(ival(OP(AG_OP_RPUSH, "arc:l", .value = items[i])), i + 1);
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "arc:l", .num = 60000)), 1);
    ASSERT_EQ(ival(OP(AG_OP_HSET, "arc:h", .field = "f", .value = "1")), 1);
    ASSERT_EQ(ival(OP(AG_OP_HSET, "arc:h", .field = "g", .value = "2")), 1);
    ASSERT_EQ(ival(OP(AG_OP_HSET, "arc:h1", .field = "only", .value = "v")), 1);
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "arc:h1", .num = 60000)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "arc:z", .field = "m", .num = 5)), 1);
    ASSERT_EQ(ival(OP(AG_OP_ZADD, "arc:z1", .field = "solo", .num = 9)), 1);
    set("arc:p", "persistent");
    set("arc:bad", "x");
    struct ag_store_op ops[] = {
        OP(AG_OP_RPUSH, "arc:l", .value = "e"),
        OP(AG_OP_LPUSH, "arc:l", .value = "z"),
        OP(AG_OP_LTRIM, "arc:l", .num = 0, .num2 = 1),
        OP(AG_OP_RPUSH, "arc:newl", .value = "x"),
        OP(AG_OP_HSET, "arc:h", .field = "f", .value = "changed"),
        OP(AG_OP_HSET, "arc:h", .field = "new", .value = "x"),
        OP(AG_OP_HINCRBY, "arc:h", .field = "g", .num = 40),
        OP(AG_OP_HDEL, "arc:h1", .field = "only"), /* deletes the key and its TTL */
        OP(AG_OP_ZADD, "arc:z", .field = "m", .num = 50),
        OP(AG_OP_ZADD, "arc:z", .field = "n", .num = 1),
        OP(AG_OP_ZREM, "arc:z1", .field = "solo"),
        OP(AG_OP_PEXPIRE, "arc:p", .num = 10),
        OP(AG_OP_DEL, "arc:h"),
        OP(AG_OP_INCRBY, "arc:bad", .num = 1), /* not an integer */
    };
    size_t n = sizeof ops / sizeof ops[0];
    struct ag_store_reply r[14];
    ASSERT_ERR(ag_store_exec(cur, NULL, ops, n, r, NULL), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "op 13");
    ASSERT_STREQ(arrv(OP(AG_OP_LRANGE, "arc:l", .num = 0, .num2 = -1)), "a|b|c|d");
    ASSERT_TRUE(ival(OP(AG_OP_PTTL, "arc:l")) > 50000);
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "arc:newl")), -2);
    const char *all = arrv(OP(AG_OP_HGETALL, "arc:h"));
    ASSERT_TRUE(strcmp(all, "f|1|g|2") == 0 || strcmp(all, "g|2|f|1") == 0);
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "arc:h")), -1);
    strv(OP(AG_OP_HGET, "arc:h1", .field = "only"), "v");
    ASSERT_TRUE(ival(OP(AG_OP_PTTL, "arc:h1")) > 50000);
    ASSERT_STREQ(arrv(OP(AG_OP_ZRANGEBYSCORE, "arc:z", .num = 0, .num2 = 100)), "m");
    ASSERT_EQ(ival(OP(AG_OP_ZSCORE, "arc:z", .field = "m")), 5);
    ASSERT_EQ(ival(OP(AG_OP_ZSCORE, "arc:z1", .field = "solo")), 9);
    ASSERT_EQ(ival(OP(AG_OP_PTTL, "arc:p")), -1);
    strv(OP(AG_OP_GET, "arc:bad"), "x");
}

void ag_sc_locks(void)
{
    int64_t f1, f2, f3;
    ASSERT_OK(ag_store_lock_acquire(cur, "agent:a1:lock", "alice", 60000, &f1));
    ASSERT_TRUE(f1 > 0);
    char val[64];
    ag_store_lock_value(f1, "alice", val, sizeof val);
    strv(OP(AG_OP_GET, "agent:a1:lock"), val);
    int64_t ttl = ival(OP(AG_OP_PTTL, "agent:a1:lock"));
    ASSERT_TRUE(ttl > 50000 && ttl <= 60000);
    ASSERT_ERR(ag_store_lock_acquire(cur, "agent:a1:lock", "bob", 60000, &f2), AG_ELOCKED);
    ASSERT_CONTAINS(ag_last_error(), "agent:a1:lock");
    ASSERT_EQ(f2, 0);
    /* the holder itself cannot take it twice either */
    ASSERT_ERR(ag_store_lock_acquire(cur, "agent:a1:lock", "alice", 60000, &f2), AG_ELOCKED);
    ASSERT_EQ(ival(OP(AG_OP_PEXPIRE, "agent:a1:lock", .num = 1000)), 1);
    ASSERT_OK(ag_store_lock_refresh(cur, "agent:a1:lock", "alice", f1, 60000));
    ASSERT_TRUE(ival(OP(AG_OP_PTTL, "agent:a1:lock")) > 50000);
    ASSERT_ERR(ag_store_lock_refresh(cur, "agent:a1:lock", "bob", f1, 60000), AG_ELOCKED);
    ASSERT_ERR(ag_store_lock_release(cur, "agent:a1:lock", "alice", f1 + 1), AG_ELOCKED);
    ASSERT_ERR(ag_store_lock_release(cur, "agent:a1:lock", "bob", f1), AG_ELOCKED);
    ASSERT_OK(ag_store_lock_release(cur, "agent:a1:lock", "alice", f1));
    nilv(OP(AG_OP_GET, "agent:a1:lock"));
    ASSERT_ERR(ag_store_lock_release(cur, "agent:a1:lock", "alice", f1), AG_ELOCKED);
    ASSERT_OK(ag_store_lock_acquire(cur, "agent:a1:lock", "bob", 60000, &f3));
    ASSERT_TRUE(f3 > f1);
    /* another lock gets its own, still larger, token */
    ASSERT_OK(ag_store_lock_acquire(cur, "agent:a2:lock", "carol", 60000, &f2));
    ASSERT_TRUE(f2 > f3);
    ASSERT_ERR(ag_store_lock_acquire(cur, "agent:a3:lock", "x", 0, &f2), AG_EINVAL);
    ASSERT_ERR(ag_store_lock_acquire(cur, "agent:a3:lock", "", 100, &f2), AG_EINVAL);
}

/* A holder whose lock expired and was taken cannot refresh, release, or write with a
 * guard built from its old value; the new holder can. */
void ag_sc_lock_fencing(void)
{
    int64_t fa, fb;
    ASSERT_OK(ag_store_lock_acquire(cur, "agent:x:lock", "A", 50, &fa));
    sleep_ms(120);
    ASSERT_OK(ag_store_lock_acquire(cur, "agent:x:lock", "B", 60000, &fb));
    ASSERT_TRUE(fb > fa);
    ASSERT_ERR(ag_store_lock_refresh(cur, "agent:x:lock", "A", fa, 60000), AG_ELOCKED);
    ASSERT_ERR(ag_store_lock_release(cur, "agent:x:lock", "A", fa), AG_ELOCKED);
    char old[64], now[64];
    ag_store_lock_value(fa, "A", old, sizeof old);
    ag_store_lock_value(fb, "B", now, sizeof now);
    struct ag_store_op w = OP(AG_OP_HSET, "agent:x:state", .field = "phase", .value = "EXECUTE");
    struct ag_store_reply r;
    int ok = 1;
    ASSERT_OK(ag_store_exec(cur, &(struct ag_store_guard){"agent:x:lock", old}, &w, 1, &r, &ok));
    ASSERT_EQ(ok, 0);
    nilv(OP(AG_OP_HGET, "agent:x:state", .field = "phase"));
    ASSERT_OK(ag_store_exec(cur, &(struct ag_store_guard){"agent:x:lock", now}, &w, 1, &r, &ok));
    ASSERT_EQ(ok, 1);
    ag_store_reply_free(&r, 1);
    strv(OP(AG_OP_HGET, "agent:x:state", .field = "phase"), "EXECUTE");
    /* a lapsed lock nobody took is still lost to its holder: the value is gone */
    ASSERT_OK(ag_store_lock_refresh(cur, "agent:x:lock", "B", fb, 50));
    sleep_ms(120);
    ASSERT_ERR(ag_store_lock_refresh(cur, "agent:x:lock", "B", fb, 60000), AG_ELOCKED);
}

void ag_sc_cas_del(void)
{
    set("cd:a", "v1");
    int deleted = 7;
    ASSERT_OK(ag_store_cas_del(cur, "cd:a", "v2", &deleted));
    ASSERT_EQ(deleted, 0);
    strv(OP(AG_OP_GET, "cd:a"), "v1");
    ASSERT_OK(ag_store_cas_del(cur, "cd:a", "v1", &deleted));
    ASSERT_EQ(deleted, 1);
    nilv(OP(AG_OP_GET, "cd:a"));
    ASSERT_OK(ag_store_cas_del(cur, "cd:a", "v1", &deleted));
    ASSERT_EQ(deleted, 0);
    ASSERT_ERR(ag_store_cas_del(cur, "cd:a", NULL, &deleted), AG_EINVAL);
}

void ag_sc_keys_listing(void)
{
    set("agent:b:state", "x");
    set("agent:a:state", "x");
    ASSERT_EQ(ival(OP(AG_OP_HSET, "agent:a:errors", .field = "total", .value = "1")), 1);
    ASSERT_EQ(ival(OP(AG_OP_RPUSH, "agent:c:list", .value = "x")), 1);
    ASSERT_EQ(ival(OP(AG_OP_SET, "agent:gone", .value = "x", .num = 50)), 1);
    set("agents", "not under agent:");
    set("task:1:active_agent", "a");
    set("weird*[?]\\:1", "x");
    set("weird*[?]\\:2", "x");
    set("weirdo", "x");
    sleep_ms(120);
    char **k;
    size_t n;
    ASSERT_OK(ag_store_keys(cur, "agent:", &k, &n));
    ASSERT_EQ(n, 4);
    ASSERT_STREQ(k[0], "agent:a:errors");
    ASSERT_STREQ(k[1], "agent:a:state");
    ASSERT_STREQ(k[2], "agent:b:state");
    ASSERT_STREQ(k[3], "agent:c:list");
    ag_store_strv_free(k, n);
    /* glob characters in the prefix are literal */
    ASSERT_OK(ag_store_keys(cur, "weird*[?]\\", &k, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(k[0], "weird*[?]\\:1");
    ag_store_strv_free(k, n);
    ASSERT_OK(ag_store_keys(cur, "", &k, &n));
    ASSERT_EQ(n, 9);
    ag_store_strv_free(k, n);
    ASSERT_OK(ag_store_keys(cur, "nothing:", &k, &n));
    ASSERT_EQ(n, 0);
    ag_store_strv_free(k, n);
}

void ag_sc_values_verbatim(void)
{
    static const char *vals[] = {
        "",
        "\"quoted\" 'single' `back`",
        "line1\nline2\r\nline3\n",
        "tab\there \\ backslash \\n not a newline",
        "UTF-8: h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\x92 \xe6\x97\xa5\xe6\x9c\xac",
        "{\"json\": [1, 2, {\"k\": \"v\"}], \"esc\": \"\\u0000\"}",
        "lua: ]] [[ -- %s %d ' \" end",
        "\x01\x02\x7f\xff\xfe control and high bytes",
    };
    size_t nv = sizeof vals / sizeof vals[0];
    char key[64];
    for (size_t i = 0; i < nv; i++) {
        snprintf(key, sizeof key, "vv:%zu \xc3\xa9 \"k\"\n", i);
        set(key, vals[i]);
        strv(OP(AG_OP_GET, key), vals[i]);
        ASSERT_EQ(ival(OP(AG_OP_HSET, "vv:h", .field = vals[i], .value = vals[i])), 1);
        strv(OP(AG_OP_HGET, "vv:h", .field = vals[i]), vals[i]);
        ASSERT_EQ(ival(OP(AG_OP_RPUSH, "vv:l", .value = vals[i])), (int64_t)i + 1);
        ASSERT_EQ(ival(OP(AG_OP_ZADD, "vv:z", .field = vals[i], .num = (int64_t)i)), 1);
    }
    struct ag_store_reply r = run1(OP(AG_OP_LRANGE, "vv:l", .num = 0, .num2 = -1));
    ASSERT_EQ(r.nelems, nv);
    for (size_t i = 0; i < nv; i++)
        ASSERT_STREQ(r.elems[i].str, vals[i]);
    ag_store_reply_free(&r, 1);
    r = run1(OP(AG_OP_ZRANGEBYSCORE, "vv:z", .num = 0, .num2 = 100));
    ASSERT_EQ(r.nelems, nv);
    for (size_t i = 0; i < nv; i++)
        ASSERT_STREQ(r.elems[i].str, vals[i]);
    ag_store_reply_free(&r, 1);
    /* a guard compares the exact bytes */
    set("vv:lock", vals[2]);
    int ok = 0;
    ASSERT_OK(ag_store_exec(cur, &(struct ag_store_guard){"vv:lock", vals[2]}, NULL, 0, NULL, &ok));
    ASSERT_EQ(ok, 1);
    /* a large value (256 KiB) */
    size_t big = 256 * 1024;
    char *v = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        v[i] = (char)('a' + i % 26);
    v[big] = '\0';
    set("vv:big", v);
    r = run1(OP(AG_OP_GET, "vv:big"));
    ASSERT_EQ(r.len, big);
    ASSERT_TRUE(memcmp(r.str, v, big) == 0);
    ag_store_reply_free(&r, 1);
    free(v);
}

void ag_sc_wrappers(void)
{
    char *v = (char *)"sentinel";
    ASSERT_OK(ag_store_get(cur, "wr:a", &v));
    ASSERT_TRUE(v == NULL);
    ASSERT_OK(ag_store_set(cur, "wr:a", "hello", 0));
    ASSERT_OK(ag_store_get(cur, "wr:a", &v));
    ASSERT_STREQ(v, "hello");
    free(v);
    ASSERT_OK(ag_store_set(cur, "wr:t", "x", 60000));
    ASSERT_TRUE(ival(OP(AG_OP_PTTL, "wr:t")) > 0);
    ASSERT_OK(ag_store_del(cur, "wr:a"));
    ASSERT_OK(ag_store_get(cur, "wr:a", &v));
    ASSERT_TRUE(v == NULL);
    int64_t nv;
    ASSERT_OK(ag_store_hincr(cur, "wr:h", "errors", 2, &nv));
    ASSERT_OK(ag_store_hincr(cur, "wr:h", "errors", 3, &nv));
    ASSERT_EQ(nv, 5);
    ASSERT_OK(ag_store_rpush(cur, "wr:l", "one"));
    ASSERT_OK(ag_store_rpush(cur, "wr:l", "two"));
    ASSERT_OK(ag_store_rpush(cur, "wr:l", "three"));
    char **items;
    size_t n;
    ASSERT_OK(ag_store_lrange(cur, "wr:l", 1, -1, &items, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(items[0], "two");
    ASSERT_STREQ(items[1], "three");
    ag_store_strv_free(items, n);
    ASSERT_OK(ag_store_lrange(cur, "wr:none", 0, -1, &items, &n));
    ASSERT_EQ(n, 0);
    ag_store_strv_free(items, n);
    ASSERT_ERR(ag_store_get(cur, "wr:h", &v), AG_EINVAL);
    ASSERT_TRUE(v == NULL);
    ASSERT_ERR(ag_store_set(cur, "wr:a", NULL, 0), AG_EINVAL);
}

/* A transition-sized batch and a much larger one each run as one unit. */
void ag_sc_big_batch(void)
{
    enum { N = 500 };
    static struct ag_store_op ops[N];
    static struct ag_store_reply r[N];
    static char fields[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(fields[i], sizeof fields[i], "f%d", i);
        ops[i] = OP(AG_OP_HINCRBY, "bb:h", .field = fields[i], .num = i);
    }
    ASSERT_OK(ag_store_exec(cur, NULL, ops, N, r, NULL));
    for (int i = 0; i < N; i++)
        ASSERT_EQ(r[i].integer, i);
    ag_store_reply_free(r, N);
    struct ag_store_reply one = run1(OP(AG_OP_HGETALL, "bb:h"));
    ASSERT_EQ(one.nelems, 2 * N);
    ag_store_reply_free(&one, 1);
}

enum { THREADS = 8, PER_THREAD = 200 };

struct worker {
    ag_store *s; /* shared, or NULL to open a handle of its own */
    int failures;
    ag_err first_err;
};

static void *incr_worker(void *arg)
{
    struct worker *w = arg;
    ag_store *s = w->s ? w->s : target->open();
    for (int i = 0; i < PER_THREAD; i++) {
        struct ag_store_op ops[2] = {OP(AG_OP_HINCRBY, "th:h", .field = "n", .num = 1),
                                     OP(AG_OP_RPUSH, "th:l", .value = "x")};
        struct ag_store_reply r[2];
        ag_err e = ag_store_exec(s, NULL, ops, 2, r, NULL);
        if (e != AG_OK) {
            if (w->failures++ == 0)
                w->first_err = e;
        }
        ag_store_reply_free(r, 2);
    }
    if (w->s == NULL)
        ag_store_free(s);
    return NULL;
}

static void run_threads(int shared)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.s = shared ? cur : NULL};
        ASSERT_EQ(pthread_create(&t[i], NULL, incr_worker, &w[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
        if (w[i].failures)
            printf("    thread %d: %d failures, first %s\n", i, w[i].failures,
                   ag_errname(w[i].first_err));
    }
    ASSERT_EQ(failures, 0);
    char want[32];
    snprintf(want, sizeof want, "%d", THREADS * PER_THREAD);
    strv(OP(AG_OP_HGET, "th:h", .field = "n"), want);
    ASSERT_EQ(ival(OP(AG_OP_LLEN, "th:l")), THREADS * PER_THREAD);
}

void ag_sc_threads_shared_handle(void)
{
    run_threads(1);
}

void ag_sc_threads_own_handles(void)
{
    run_threads(0);
}
