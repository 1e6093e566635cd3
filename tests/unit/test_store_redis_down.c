/* The Redis backend when the server goes away and comes back. In a binary of its own
 * because it stops the fixture's server. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_fixture.h"
#include "test.h"
#include "agentgov/auth.h"
#include "agentgov/ledger.h"
#include "agentgov/store.h"
#include "core/time.h"

static ag_store *open_store(void)
{
    const char *url = ag_test_redis_url();
    ASSERT_TRUE(url != NULL);
    ag_store *s = NULL;
    ASSERT_OK(ag_store_open(url, &s));
    return s;
}

/* Sets k until it works, for at most ms: how long it took, or -1. */
static int64_t set_within(ag_store *s, const char *k, const char *v, int64_t ms)
{
    int64_t t0 = ag__mono_ms();
    while (ag_store_set(s, k, v, 0) != AG_OK) {
        if (ag__mono_ms() - t0 > ms)
            return -1;
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
    }
    return ag__mono_ms() - t0;
}

/* A server restarted under an idle handle: the next exec reconnects once and, since
 * the new server has no script cache, reloads the script. No error reaches the caller. */
TEST(redis_reconnects_after_restart)
{
    ag_store *s = open_store();
    ASSERT_OK(ag_store_set(s, "before", "x", 0));
    ASSERT_EQ(ag_test_redis_restart(), 0);
    char *v = (char *)"sentinel";
    ASSERT_OK(ag_store_get(s, "before", &v)); /* no persistence: the key is gone */
    ASSERT_TRUE(v == NULL);
    ASSERT_OK(ag_store_set(s, "after", "y", 0));
    ASSERT_OK(ag_store_get(s, "after", &v));
    ASSERT_STREQ(v, "y");
    free(v);
    ag_store_free(s);
}

TEST(redis_down_is_estore)
{
    ag_store *s = open_store();
    ASSERT_OK(ag_store_set(s, "k", "v", 0));
    ag_test_redis_stop();
    char *v = NULL;
    ASSERT_ERR(ag_store_get(s, "k", &v), AG_ESTORE);
    ASSERT_CONTAINS(ag_last_error(), "127.0.0.1");
    ASSERT_TRUE(v == NULL);
    /* the guard-fenced write of a lock holder fails closed too */
    int64_t fence;
    ASSERT_ERR(ag_store_lock_acquire(s, "agent:a:lock", "a", 1000, &fence), AG_ESTORE);
    struct ag_store_op op = {.op = AG_OP_SET, .key = "k", .value = "w"};
    struct ag_store_reply r;
    int ok = 1;
    ASSERT_ERR(ag_store_exec(s, &(struct ag_store_guard){"k", "v"}, &op, 1, &r, &ok), AG_ESTORE);
    ASSERT_EQ(ok, 0);
    ASSERT_EQ(r.type, AG_REPLY_NIL);
    char **keys;
    size_t n;
    ASSERT_ERR(ag_store_keys(s, "", &keys, &n), AG_ESTORE);
    ag_store *s2 = NULL;
    ASSERT_ERR(ag_store_open(ag_test_redis_url(), &s2), AG_ESTORE);
    ASSERT_TRUE(s2 == NULL);
    /* and it recovers once the server is back: within the reconnect backoff (1 s at
     * most) of its return */
    ASSERT_EQ(ag_test_redis_restart(), 0);
    ASSERT_TRUE(set_within(s, "k", "again", 1500) >= 0);
    ASSERT_OK(ag_store_get(s, "k", &v));
    ASSERT_STREQ(v, "again");
    free(v);
    ag_store_free(s);
}

/* A handle opened with AG_STORE_OPEN_RETRY while the server is down (a daemon started
 * before its Redis): the open succeeds, calls fail closed, fast, and without dialling
 * again inside the backoff; once the server is up the handle connects and loads the
 * script by itself, within the backoff's ceiling. */
TEST(redis_open_retry_connects_when_the_server_comes_up)
{
    const char *url = ag_test_redis_url();
    ASSERT_TRUE(url != NULL);
    ag_test_redis_stop();
    ag_store *s = NULL;
    ASSERT_ERR(ag_store_open(url, &s), AG_ESTORE); /* without the flag: down is an error */
    ASSERT_TRUE(s == NULL);
    ASSERT_OK(ag_store_open_flags(url, AG_STORE_OPEN_RETRY, &s));
    char *v = NULL;
    int64_t t0 = ag__mono_ms();
    ASSERT_ERR(ag_store_get(s, "k", &v), AG_ESTORE);
    ASSERT_ERR(ag_store_get(s, "k", &v), AG_ESTORE);
    ASSERT_CONTAINS(ag_last_error(), "not connected"); /* the backoff: no new attempt */
    ASSERT_TRUE(ag__mono_ms() - t0 < 1000);
    ASSERT_TRUE(v == NULL);
    ASSERT_EQ(ag_test_redis_restart(), 0);
    int64_t took = set_within(s, "k", "v", 1500);
    ASSERT_TRUE(took >= 0);
    ASSERT_OK(ag_store_get(s, "k", &v)); /* EVALSHA: the script was loaded */
    ASSERT_STREQ(v, "v");
    free(v);
    int64_t fence;
    ASSERT_OK(ag_store_lock_acquire(s, "agent:a:lock", "a", 1000, &fence));
    ag_store_free(s);
}

/* RETRY waits only for a server that cannot be reached: one that answers and refuses
 * (here SELECT of a database it does not have) fails the open, naming the command. */
TEST(redis_open_retry_still_fails_on_a_refusal)
{
    ASSERT_TRUE(ag_test_redis_url() != NULL);
    char url[128];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/999", ag_test_redis_port());
    ag_store *s = NULL;
    ASSERT_ERR(ag_store_open_flags(url, AG_STORE_OPEN_RETRY, &s), AG_ESTORE);
    ASSERT_CONTAINS(ag_last_error(), "SELECT");
    ASSERT_TRUE(s == NULL);
}

/* An auth engine over such a store (the daemon's, started before Redis): lazy_keyring
 * lets it open; until the store is up no token is valid (AG_ESTORE, not a refusal); once
 * it is, the keyring is made or loaded and tokens work. Without lazy_keyring the open
 * fails as before. */
TEST(auth_loads_its_keyring_when_the_store_comes_up)
{
    const char *url = ag_test_redis_url();
    ASSERT_TRUE(url != NULL);
    ag_test_redis_flush();
    ag_test_redis_stop();
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ledger.db", ag_test_fresh_dir("lazy-auth"));
    struct ag_ledger_opts lo = {0};
    ag_ledger *l = NULL;
    ASSERT_OK(ag_ledger_open(path, &lo, &l));
    ag_store *s = NULL;
    ASSERT_OK(ag_store_open_flags(url, AG_STORE_OPEN_RETRY, &s));
    uint8_t master[AG_AUTH_KEY_LEN];
    memset(master, 7, sizeof master);
    struct ag_auth_opts ao = {.store = s, .ledger = l, .master_key = master};
    ag_auth *a = NULL;
    ASSERT_ERR(ag_auth_new(&ao, &a), AG_ESTORE);
    ASSERT_TRUE(a == NULL);
    ao.lazy_keyring = 1;
    ASSERT_OK(ag_auth_new(&ao, &a));
    char tok[AG_TOKEN_BUF];
    ASSERT_ERR(ag_auth_root_token_create(a, tok, NULL), AG_ESTORE);
    struct ag_token_info ti;
    ASSERT_ERR(ag_auth_token_lookup(a, "agv.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &ti),
               AG_ESTORE);
    ASSERT_CONTAINS(ag_last_error(), "keyring");
    ASSERT_EQ(ag_test_redis_restart(), 0);
    ASSERT_TRUE(set_within(s, "up", "1", 1500) >= 0);
    ASSERT_OK(ag_auth_root_token_create(a, tok, NULL));
    ASSERT_OK(ag_auth_token_lookup(a, tok, &ti));
    ag_token_info_clear(&ti);
    ASSERT_EQ(ag_test_redis_cmd("EXISTS auth:keyring"), 0);
    ag_auth_free(a);
    ag_store_free(s);
    ag_ledger_close(l);
}
