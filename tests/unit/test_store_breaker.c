/* The Redis store behind a circuit breaker, against a real redis-server that is stopped
 * (SIGSTOP: it hangs), killed and restarted: callers never queue behind a hung call for
 * more than the command timeout, an open breaker answers at once, and the store comes
 * back by itself once the server does. In a binary of its own: it stops the fixture. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentgov/breaker.h"
#include "agentgov/store.h"
#include "core/time.h"
#include "redis_fixture.h"
#include "test.h"

static ag_store *open_store(ag_breaker **b, int failures, int64_t cooldown_ms)
{
    const char *base = ag_test_redis_url();
    ASSERT_TRUE(base != NULL);
    char url[256];
    snprintf(url, sizeof url, "%s?timeout=1s", base); /* each command: 1 s at most */
    ag_store *s = NULL;
    ASSERT_OK(ag_store_open(url, &s));
    struct ag_breaker_config c;
    ag_breaker_config_default(&c);
    c.failures = failures;
    c.cooldown_ms = cooldown_ms;
    c.cooldown_max_ms = cooldown_ms;
    ASSERT_OK(ag_breaker_new("store", &c, b));
    ag_store_set_breaker(s, *b);
    return s;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct worker {
    ag_store *s;
    int64_t max_ms;
    int errors, ok, breaker_errors;
};

static void *get_loop(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 6; i++) {
        int64_t t0 = ag__mono_ms();
        char *v = NULL;
        ag_err e = ag_store_get(w->s, "k", &v);
        int64_t dt = ag__mono_ms() - t0;
        if (dt > w->max_ms)
            w->max_ms = dt;
        if (e == AG_OK)
            w->ok++;
        else {
            w->errors++;
            if (strstr(ag_last_error(), "circuit breaker"))
                w->breaker_errors++;
        }
        free(v);
    }
    return NULL;
}

TEST(store_on_a_hung_redis_answers_within_its_timeout_and_the_breaker_opens)
{
    ag_breaker *b;
    ag_store *s = open_store(&b, 2, 2500);
    ASSERT_OK(ag_store_set(s, "k", "v", 0));
    ASSERT_EQ(ag_test_redis_signal(SIGSTOP), 0);
    struct worker w[6];
    pthread_t t[6];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 6; i++) {
        w[i].s = s;
        pthread_create(&t[i], NULL, get_loop, &w[i]);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    int64_t worst = 0;
    int errors = 0, fast = 0;
    for (int i = 0; i < 6; i++) {
        if (w[i].max_ms > worst)
            worst = w[i].max_ms;
        errors += w[i].errors;
        fast += w[i].breaker_errors;
        ASSERT_EQ(w[i].ok, 0);
    }
    /* 36 calls, none answered; without the bounded wait they would have queued for the
     * timeout each behind one another. No call took longer than its timeout + 1 s. */
    ASSERT_EQ(errors, 36);
    ASSERT_TRUE(worst <= 2000);
    ASSERT_TRUE(fast >= 24); /* most were refused by the open breaker, at once */
    struct ag_breaker_stats st;
    ag_breaker_stats(b, &st);
    ASSERT_EQ(st.state, AG_BREAKER_OPEN);
    ASSERT_TRUE(st.rejected >= 24);

    /* The server comes back: after the cool-down one probe goes through and closes it. */
    ASSERT_EQ(ag_test_redis_signal(SIGCONT), 0);
    sleep_ms(2600);
    char *v = NULL;
    int64_t t0 = ag__mono_ms();
    ASSERT_OK(ag_store_get(s, "k", &v));
    ASSERT_TRUE(ag__mono_ms() - t0 < 1000);
    ASSERT_STREQ(v, "v");
    free(v);
    ag_breaker_stats(b, &st);
    ASSERT_EQ(st.state, AG_BREAKER_CLOSED);
    ag_store_free(s);
    ag_breaker_free(b);
}

TEST(store_survives_a_redis_restart_through_the_breaker)
{
    ag_breaker *b;
    ag_store *s = open_store(&b, 3, 200);
    int64_t fence_before;
    ASSERT_OK(ag_store_lock_acquire(s, "agent:a:lock", "owner-1", 60000, &fence_before));
    ag_test_redis_stop();
    for (int i = 0; i < 3; i++) {
        char *v = NULL;
        ASSERT_ERR(ag_store_get(s, "k", &v), AG_ESTORE);
        ASSERT_CONTAINS(ag_last_error(), "127.0.0.1");
    }
    int64_t t0 = ag__mono_ms();
    char *v = NULL;
    ASSERT_ERR(ag_store_get(s, "k", &v), AG_ESTORE);
    ASSERT_CONTAINS(ag_last_error(), "circuit breaker 'store' is open");
    ASSERT_TRUE(ag__mono_ms() - t0 < 50);
    ASSERT_EQ(ag_test_redis_restart(), 0);
    sleep_ms(250);
    ASSERT_OK(ag_store_set(s, "k", "back", 0));
    /* The lock taken before the restart is not honoured: the server lost it (no
     * persistence), so the old holder's fenced refresh fails, and a new holder gets it. */
    ASSERT_ERR(ag_store_lock_refresh(s, "agent:a:lock", "owner-1", fence_before, 60000),
               AG_ELOCKED);
    int64_t fence_after;
    ASSERT_OK(ag_store_lock_acquire(s, "agent:a:lock", "owner-2", 60000, &fence_after));
    ASSERT_ERR(ag_store_lock_release(s, "agent:a:lock", "owner-1", fence_before), AG_ELOCKED);
    ASSERT_OK(ag_store_lock_release(s, "agent:a:lock", "owner-2", fence_after));
    ag_store_free(s);
    ag_breaker_free(b);
}

TEST(store_redis_url_timeout_option_is_checked)
{
    ag_store *s = NULL;
    ASSERT_ERR(ag_store_open("redis://127.0.0.1:1/0?timeout=5ms", &s), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "100ms..60s");
    ASSERT_ERR(ag_store_open("redis://127.0.0.1:1/0?retries=3", &s), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "unknown option 'retries=3'");
}
