/* The store conformance suite on the Redis backend (a private redis-server from
 * redis_fixture), plus what only this backend has: round trips, the script cache, AUTH,
 * database numbers, key layout readable by other Redis tools. */
#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_fixture.h"
#include "store_conformance.h"
#include "test.h"

static void redis_reset(void)
{
    ASSERT_TRUE(ag_test_redis_url() != NULL);
    ag_test_redis_flush();
}

static ag_store *redis_open(void)
{
    ag_store *s = NULL;
    ASSERT_OK(ag_store_open(ag_test_redis_url(), &s));
    return s;
}

static const struct ag_sc_target target = {"redis", redis_reset, redis_open};

#define REG(name)                                                                                  \
    TEST(redis_##name)                                                                             \
    {                                                                                              \
        ag_sc_run(&target, ag_sc_##name);                                                          \
    }
AG_SC_CASES(REG)
#undef REG

#define OP(...) ((struct ag_store_op){__VA_ARGS__})

/* Runs a batch and returns how many round trips it took. */
static uint64_t trips_of(ag_store *s, const struct ag_store_guard *g, const struct ag_store_op *ops,
                         size_t n, ag_err want)
{
    struct ag_store_reply r[8];
    uint64_t before = ag_store_round_trips(s);
    ASSERT_ERR(ag_store_exec(s, g, ops, n, r, NULL), want);
    ag_store_reply_free(r, n);
    return ag_store_round_trips(s) - before;
}

TEST(redis_one_round_trip_per_exec)
{
    redis_reset();
    ag_store *s = redis_open();
    ASSERT_STREQ(ag_store_backend(s), "redis");
    /* a transition-like batch: state, heartbeat, deadline, error budget, lock refresh */
    struct ag_store_op t[5] = {
        OP(AG_OP_HSET, "agent:a:state", .field = "phase", .value = "PLAN"),
        OP(AG_OP_SET, "agent:a:heartbeat", .value = "1764000000000", .num = 60000),
        OP(AG_OP_ZADD, "agents:deadlines", .field = "a", .num = 1764000030000),
        OP(AG_OP_HINCRBY, "agent:a:errors", .field = "total", .num = 0),
        OP(AG_OP_PEXPIRE, "agent:a:lock", .num = 30000),
    };
    ASSERT_EQ(trips_of(s, NULL, t, 5, AG_OK), 1);
    ASSERT_EQ(trips_of(s, NULL, t, 1, AG_OK), 1);
    ASSERT_OK(ag_store_set(s, "agent:a:lock", "1:a", 30000));
    struct ag_store_guard g = {"agent:a:lock", "1:a"}, bad = {"agent:a:lock", "2:b"};
    ASSERT_EQ(trips_of(s, &g, t, 5, AG_OK), 1);
    ASSERT_EQ(trips_of(s, &bad, t, 5, AG_OK), 1);
    struct ag_store_op fail[2] = {OP(AG_OP_SET, "x", .value = "1"),
                                  OP(AG_OP_HGET, "x", .field = "f")};
    ASSERT_EQ(trips_of(s, NULL, fail, 2, AG_EINVAL), 1);
    /* invalid before sending: no round trip at all */
    struct ag_store_op invalid = OP(AG_OP_HSET, "x");
    ASSERT_EQ(trips_of(s, NULL, &invalid, 1, AG_EINVAL), 0);
    ag_store_free(s);
}

TEST(redis_script_reloaded_after_flush)
{
    redis_reset();
    ag_store *s = redis_open();
    ASSERT_OK(ag_store_set(s, "k", "v", 0));
    ASSERT_EQ(ag_test_redis_cmd("SCRIPT FLUSH"), 0);
    uint64_t before = ag_store_round_trips(s);
    char *v;
    ASSERT_OK(ag_store_get(s, "k", &v));
    ASSERT_STREQ(v, "v");
    free(v);
    /* NOSCRIPT, SCRIPT LOAD, EVALSHA; then back to one */
    ASSERT_EQ(ag_store_round_trips(s) - before, 3);
    before = ag_store_round_trips(s);
    ASSERT_OK(ag_store_get(s, "k", &v));
    free(v);
    ASSERT_EQ(ag_store_round_trips(s) - before, 1);
    ag_store_free(s);
}

/* Keys and values are plain Redis data under the seed's names: redis-cli reads them. */
TEST(redis_plain_redis_layout)
{
    redis_reset();
    ag_store *s = redis_open();
    ASSERT_OK(ag_store_set(s, "handoff:t1:latest", "{\"from\":\"a\"}", 0));
    int64_t nv;
    ASSERT_OK(ag_store_hincr(s, "agent:a:errors", "total", 3, &nv));
    ASSERT_OK(ag_store_rpush(s, "revocations:ledger", "r1"));
    ag_store_free(s);
    redisContext *c = redisConnect("127.0.0.1", ag_test_redis_port());
    ASSERT_TRUE(c && !c->err);
    redisReply *r = redisCommand(c, "GET handoff:t1:latest");
    ASSERT_STREQ(r->str, "{\"from\":\"a\"}");
    freeReplyObject(r);
    r = redisCommand(c, "HGET agent:a:errors total");
    ASSERT_STREQ(r->str, "3");
    freeReplyObject(r);
    r = redisCommand(c, "TYPE revocations:ledger");
    ASSERT_STREQ(r->str, "list");
    freeReplyObject(r);
    redisFree(c);
}

TEST(redis_database_number)
{
    redis_reset();
    char url[128];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/3", ag_test_redis_port());
    ag_store *s3, *s0 = redis_open();
    ASSERT_OK(ag_store_open(url, &s3));
    ASSERT_OK(ag_store_set(s3, "only-in-3", "x", 0));
    char *v;
    ASSERT_OK(ag_store_get(s0, "only-in-3", &v));
    ASSERT_TRUE(v == NULL);
    ASSERT_OK(ag_store_get(s3, "only-in-3", &v));
    ASSERT_STREQ(v, "x");
    free(v);
    ag_store_free(s3);
    ag_store_free(s0);
}

TEST(redis_url_errors)
{
    ag_store *s = NULL;
    int port = ag_test_redis_port() ? ag_test_redis_port() : 6379;
    char url[128];
    ASSERT_ERR(ag_store_open("redis://", &s), AG_EINVAL);
    ASSERT_ERR(ag_store_open("redis://host:notaport/0", &s), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "notaport");
    ASSERT_ERR(ag_store_open("redis://127.0.0.1:99999/0", &s), AG_EINVAL);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/x", port);
    ASSERT_ERR(ag_store_open(url, &s), AG_EINVAL);
    ASSERT_ERR(ag_store_open("rediss://127.0.0.1:6379/0", &s), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "rediss://127.0.0.1:6379/0");
    /* nothing listens on port 1 */
    ASSERT_ERR(ag_store_open("redis://127.0.0.1:1/0", &s), AG_ESTORE);
    ASSERT_CONTAINS(ag_last_error(), "127.0.0.1:1");
    ASSERT_TRUE(s == NULL);
}

/* Sets (or clears, with "") the default user's password through an authenticated
 * connection when one is set. */
static void set_requirepass(const char *current, const char *pw)
{
    redisContext *c = redisConnect("127.0.0.1", ag_test_redis_port());
    ASSERT_TRUE(c && !c->err);
    if (current) {
        redisReply *a = redisCommand(c, "AUTH %s", current);
        freeReplyObject(a);
    }
    redisReply *r = redisCommand(c, "CONFIG SET requirepass %s", pw);
    ASSERT_TRUE(r && r->type != REDIS_REPLY_ERROR);
    freeReplyObject(r);
    redisFree(c);
}

TEST(redis_password)
{
    redis_reset();
    int port = ag_test_redis_port();
    char url[160];
    ag_store *s = NULL;
    set_requirepass(NULL, "s3cret");
    snprintf(url, sizeof url, "redis://:s3cret@127.0.0.1:%d/0", port);
    ag_err e1 = ag_store_open(url, &s);
    if (e1 == AG_OK) {
        ag_err e2 = ag_store_set(s, "k", "v", 0);
        ag_store_free(s);
        e1 = e2;
    }
    snprintf(url, sizeof url, "redis://:wrong-pw@127.0.0.1:%d/0", port);
    ag_err wrong = ag_store_open(url, &s);
    char detail[512];
    snprintf(detail, sizeof detail, "%s", ag_last_error());
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    ag_err none = ag_store_open(url, &s);
    set_requirepass("s3cret", "");
    ASSERT_OK(e1);
    ASSERT_EQ(wrong, AG_ESTORE);
    ASSERT_TRUE(strstr(detail, "wrong-pw") == NULL); /* never echo the password */
    /* not even a part of one holding '/': the credentials end at the last '@' */
    snprintf(url, sizeof url, "redis://:hunter2/secret@127.0.0.1:%d/0", port);
    ASSERT_EQ(ag_store_open(url, &s), AG_ESTORE);
    ASSERT_TRUE(strstr(ag_last_error(), "hunter2") == NULL);
    ASSERT_EQ(none, AG_ESTORE);
    /* an ACL user: redis://USER:PASSWORD@ */
    ASSERT_EQ(ag_test_redis_cmd("ACL SETUSER agtest on >pw2 ~* &* +@all"), 0);
    snprintf(url, sizeof url, "redis://agtest:pw2@127.0.0.1:%d/0", port);
    ASSERT_OK(ag_store_open(url, &s));
    ASSERT_OK(ag_store_set(s, "k", "v", 0));
    ag_store_free(s);
    ASSERT_EQ(ag_test_redis_cmd("ACL DELUSER agtest"), 0);
}

/* More keys than one SCAN page. */
TEST(redis_keys_many_pages)
{
    redis_reset();
    ag_store *s = redis_open();
    enum { N = 2500 };
    static struct ag_store_op ops[N];
    static struct ag_store_reply r[N];
    static char keys[N][24];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "many:%05d", i);
        ops[i] = OP(AG_OP_SET, keys[i], .value = "x");
    }
    ASSERT_OK(ag_store_exec(s, NULL, ops, N, r, NULL));
    ag_store_reply_free(r, N);
    char **k;
    size_t n;
    ASSERT_OK(ag_store_keys(s, "many:", &k, &n));
    ASSERT_EQ(n, N);
    ASSERT_STREQ(k[0], "many:00000");
    ASSERT_STREQ(k[N - 1], "many:02499");
    ag_store_strv_free(k, n);
    ag_store_free(s);
}
