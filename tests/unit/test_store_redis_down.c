/* The Redis backend when the server goes away and comes back. In a binary of its own
 * because it stops the fixture's server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_fixture.h"
#include "test.h"
#include "agentgov/store.h"

static ag_store *open_store(void)
{
    const char *url = ag_test_redis_url();
    ASSERT_TRUE(url != NULL);
    ag_store *s = NULL;
    ASSERT_OK(ag_store_open(url, &s));
    return s;
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
    /* and it recovers once the server is back */
    ASSERT_EQ(ag_test_redis_restart(), 0);
    ASSERT_OK(ag_store_set(s, "k", "again", 0));
    ASSERT_OK(ag_store_get(s, "k", &v));
    ASSERT_STREQ(v, "again");
    free(v);
    ag_store_free(s);
}
