/* Circuit breakers (src/core/breaker.c) against an injected clock: every transition,
 * the ratio window, probe bounds, backoff, callbacks, the registry and threads. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "agentgov/breaker.h"
#include "test.h"

static _Atomic int64_t fake_now = 1000000;

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}

struct log {
    int n;
    enum ag_breaker_state from[16], to[16];
    char why[16][224];
};

static void on_change(void *ctx, ag_breaker *b, enum ag_breaker_state from,
                      enum ag_breaker_state to, const char *why)
{
    (void)b;
    struct log *l = ctx;
    if (l->n < 16) {
        l->from[l->n] = from;
        l->to[l->n] = to;
        snprintf(l->why[l->n], sizeof l->why[0], "%s", why);
    }
    l->n++;
}

static ag_breaker *make(struct ag_breaker_config *c, struct log *l)
{
    ag_breaker *b;
    ASSERT_OK(ag_breaker_new("dep", c, &b));
    ag_breaker_set_clock(b, fake_clock, NULL);
    if (l)
        ag_breaker_on_change(b, on_change, l);
    return b;
}

/* One call with the given outcome; returns whether it was admitted. */
static int call(ag_breaker *b, int ok)
{
    struct ag_breaker_call c;
    if (!ag_breaker_allow(b, &c))
        return 0;
    ag_breaker_done(b, &c, ok, ok ? NULL : "connection refused");
    return 1;
}

static enum ag_breaker_state state(ag_breaker *b)
{
    struct ag_breaker_stats st;
    ag_breaker_stats(b, &st);
    return st.state;
}

TEST(breaker_opens_after_consecutive_failures_and_a_success_resets_the_count)
{
    struct ag_breaker_config c;
    ag_breaker_config_default(&c);
    c.failures = 3;
    c.ratio_pct = 0;
    struct log l = {0};
    ag_breaker *b = make(&c, &l);
    ASSERT_TRUE(call(b, 0));
    ASSERT_TRUE(call(b, 0));
    ASSERT_TRUE(call(b, 1)); /* resets */
    ASSERT_TRUE(call(b, 0));
    ASSERT_TRUE(call(b, 0));
    ASSERT_EQ(state(b), AG_BREAKER_CLOSED);
    ASSERT_EQ(l.n, 0);
    ASSERT_TRUE(call(b, 0));
    ASSERT_EQ(state(b), AG_BREAKER_OPEN);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.from[0], AG_BREAKER_CLOSED);
    ASSERT_EQ(l.to[0], AG_BREAKER_OPEN);
    ASSERT_CONTAINS(l.why[0], "3 consecutive failures: connection refused");

    /* Open: refused at once, with the time left and the last error. */
    struct ag_breaker_call k;
    ASSERT_FALSE(ag_breaker_allow(b, &k));
    ASSERT_EQ(k.retry_ms, 1000);
    ASSERT_CONTAINS(k.why, "circuit breaker 'dep' is open (retry in 1000 ms");
    ASSERT_CONTAINS(k.why, "connection refused");
    struct ag_breaker_stats st;
    ag_breaker_stats(b, &st);
    ASSERT_EQ(st.rejected, 1);
    ASSERT_EQ(st.failures, 5);
    ASSERT_EQ(st.successes, 1);
    ASSERT_EQ(st.opens, 1);
    ASSERT_EQ(st.retry_in_ms, 1000);
    ag_breaker_free(b);
}

TEST(breaker_half_open_lets_a_bounded_number_of_probes_and_closes_on_success)
{
    struct ag_breaker_config c;
    ag_breaker_config_default(&c);
    c.failures = 1;
    c.probes = 2;
    c.cooldown_ms = 500;
    struct log l = {0};
    ag_breaker *b = make(&c, &l);
    ASSERT_TRUE(call(b, 0));
    ASSERT_EQ(state(b), AG_BREAKER_OPEN);
    atomic_fetch_add(&fake_now, 499);
    ASSERT_FALSE(call(b, 1)); /* still cooling down */
    atomic_fetch_add(&fake_now, 1);
    struct ag_breaker_call p1, p2, p3;
    ASSERT_TRUE(ag_breaker_allow(b, &p1));
    ASSERT_EQ(p1.probe, 1);
    ASSERT_EQ(state(b), AG_BREAKER_HALF_OPEN);
    ASSERT_TRUE(ag_breaker_allow(b, &p2));
    ASSERT_FALSE(ag_breaker_allow(b, &p3)); /* only two probes at once */
    ASSERT_CONTAINS(p3.why, "half-open");
    ag_breaker_done(b, &p1, 1, NULL);
    ASSERT_EQ(state(b), AG_BREAKER_CLOSED);
    /* The second probe's late result belongs to the half-open generation: ignored. */
    ag_breaker_done(b, &p2, 0, "late");
    ASSERT_EQ(state(b), AG_BREAKER_CLOSED);
    ASSERT_EQ(l.n, 3);
    ASSERT_EQ(l.to[1], AG_BREAKER_HALF_OPEN);
    ASSERT_CONTAINS(l.why[1], "cool-down of 500ms elapsed");
    ASSERT_EQ(l.to[2], AG_BREAKER_CLOSED);
    ASSERT_STREQ(l.why[2], "probe succeeded");
    struct ag_breaker_stats st;
    ag_breaker_stats(b, &st);
    ASSERT_EQ(st.transitions, 3);
    ag_breaker_free(b);
}

TEST(breaker_failed_probe_reopens_with_a_doubled_cooldown_up_to_the_max)
{
    struct ag_breaker_config c;
    ag_breaker_config_default(&c);
    c.failures = 1;
    c.cooldown_ms = 100;
    c.cooldown_max_ms = 300;
    ag_breaker *b = make(&c, NULL);
    ASSERT_TRUE(call(b, 0));
    int64_t expect[] = {200, 300, 300};
    for (int i = 0; i < 3; i++) {
        struct ag_breaker_stats st;
        ag_breaker_stats(b, &st);
        atomic_fetch_add(&fake_now, st.cooldown_ms);
        ASSERT_TRUE(call(b, 0)); /* the probe, failing */
        ag_breaker_stats(b, &st);
        ASSERT_EQ(st.state, AG_BREAKER_OPEN);
        ASSERT_EQ(st.cooldown_ms, expect[i]);
        ASSERT_EQ(st.retry_in_ms, expect[i]);
    }
    atomic_fetch_add(&fake_now, 300);
    ASSERT_TRUE(call(b, 1));
    struct ag_breaker_stats st;
    ag_breaker_stats(b, &st);
    ASSERT_EQ(st.state, AG_BREAKER_CLOSED);
    ASSERT_EQ(st.cooldown_ms, 100); /* back to the base after closing */
    ASSERT_EQ(st.opens, 4);
    ag_breaker_free(b);
}

TEST(breaker_opens_on_a_failure_ratio_over_the_sliding_window)
{
    struct ag_breaker_config c;
    ag_breaker_config_default(&c);
    c.failures = 0; /* ratio only */
    c.ratio_pct = 50;
    c.min_calls = 10;
    c.window_ms = 1000;
    ag_breaker *b = make(&c, NULL);
    /* Alternating: never 2 in a row, 50% of 10 at the 10th call. */
    for (int i = 0; i < 9; i++)
        ASSERT_TRUE(call(b, i % 2));
    ASSERT_EQ(state(b), AG_BREAKER_CLOSED); /* 9 calls: under min_calls */
    ASSERT_TRUE(call(b, 0));
    ASSERT_EQ(state(b), AG_BREAKER_OPEN);
    ag_breaker_free(b);

    /* Failures older than the window are forgotten. */
    b = make(&c, NULL);
    for (int i = 0; i < 9; i++)
        ASSERT_TRUE(call(b, 0));
    atomic_fetch_add(&fake_now, 1500);
    for (int i = 0; i < 9; i++)
        ASSERT_TRUE(call(b, 1));
    ASSERT_TRUE(call(b, 0));
    struct ag_breaker_stats st;
    ag_breaker_stats(b, &st);
    ASSERT_EQ(st.state, AG_BREAKER_CLOSED);
    ASSERT_EQ(st.window_calls, 10);
    ASSERT_EQ(st.window_failures, 1);
    ag_breaker_free(b);
}

TEST(breaker_null_allows_everything_and_bad_configs_are_refused)
{
    struct ag_breaker_call k;
    ASSERT_TRUE(ag_breaker_allow(NULL, &k));
    ag_breaker_done(NULL, &k, 0, "x");
    struct ag_breaker_config c;
    ag_breaker_config_default(&c);
    ag_breaker *b;
    c.probes = 0;
    ASSERT_ERR(ag_breaker_new("x", &c, &b), AG_EINVAL);
    ag_breaker_config_default(&c);
    c.failures = 0;
    c.ratio_pct = 0;
    ASSERT_ERR(ag_breaker_new("x", &c, &b), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "never opens");
    ag_breaker_config_default(&c);
    ASSERT_ERR(ag_breaker_new("", &c, &b), AG_EINVAL);
}

struct seen {
    int n;
    char names[8][96];
};

static void collect(void *ctx, const struct ag_breaker_stats *st)
{
    struct seen *s = ctx;
    if (s->n < 8)
        snprintf(s->names[s->n], sizeof s->names[0], "%s:%s", st->dep,
                 ag_breaker_state_name(st->state));
    s->n++;
}

TEST(breaker_registry_lists_live_breakers_in_creation_order)
{
    struct ag_breaker_config c;
    ag_breaker_config_default(&c);
    c.failures = 1;
    ag_breaker *a, *b;
    ASSERT_OK(ag_breaker_new("store", &c, &a));
    ASSERT_OK(ag_breaker_new("ledger", &c, &b));
    ASSERT_TRUE(call(b, 0));
    struct seen s = {0};
    ag_breaker_foreach(collect, &s);
    ASSERT_EQ(s.n, 2);
    ASSERT_STREQ(s.names[0], "store:closed");
    ASSERT_STREQ(s.names[1], "ledger:open");
    ag_breaker_free(a);
    memset(&s, 0, sizeof s);
    ag_breaker_foreach(collect, &s);
    ASSERT_EQ(s.n, 1);
    ag_breaker_free(b);
}

TEST(breaker_config_from_reads_the_settings_table)
{
    ag_config *cfg;
    ASSERT_OK(ag_config_new(&cfg));
    ASSERT_OK(ag_config_set(cfg, "breaker.store.failures", "7"));
    ASSERT_OK(ag_config_set(cfg, "breaker.store.cooldown", "250ms"));
    ASSERT_OK(ag_config_set(cfg, "breaker.store.probes", "3"));
    struct ag_breaker_config c;
    ag_breaker_config_from(cfg, "store", &c);
    ASSERT_EQ(c.failures, 7);
    ASSERT_EQ(c.cooldown_ms, 250);
    ASSERT_EQ(c.probes, 3);
    ASSERT_EQ(c.ratio_pct, 50);
    ag_breaker_config_from(cfg, "ledger", &c);
    ASSERT_EQ(c.failures, 3);
    /* A dependency with no rows of its own gets the defaults. */
    ag_breaker_config_from(cfg, "github", &c);
    ASSERT_EQ(c.failures, 5);
    ASSERT_EQ(c.cooldown_ms, 1000);
    ASSERT_ERR(ag_config_set(cfg, "breaker.store.ratio", "101"), AG_EINVAL);
    ag_config_free(cfg);
}

struct hammer {
    ag_breaker *b;
    _Atomic int admitted, in_probe, max_in_probe;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 20000; i++) {
        struct ag_breaker_call k;
        if (!ag_breaker_allow(h->b, &k))
            continue;
        atomic_fetch_add(&h->admitted, 1);
        if (k.probe) {
            int now = atomic_fetch_add(&h->in_probe, 1) + 1;
            int m = atomic_load(&h->max_in_probe);
            while (now > m && !atomic_compare_exchange_weak(&h->max_in_probe, &m, now))
                ;
            atomic_fetch_sub(&h->in_probe, 1);
        }
        if (i % 50 == 0)
            atomic_fetch_add(&fake_now, 7);
        ag_breaker_done(h->b, &k, (i / 100) % 2, "boom"); /* bursts of 100 failures */
    }
    return NULL;
}

TEST(breaker_is_thread_safe_and_never_exceeds_its_probes)
{
    struct ag_breaker_config c;
    ag_breaker_config_default(&c);
    c.failures = 2;
    c.probes = 2;
    c.cooldown_ms = 20;
    c.cooldown_max_ms = 40;
    struct hammer h = {0};
    h.b = make(&c, NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer_main, &h);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct ag_breaker_stats st;
    ag_breaker_stats(h.b, &st);
    ASSERT_TRUE(st.opens > 0);
    ASSERT_TRUE(st.rejected > 0);
    ASSERT_EQ(st.successes + st.failures, (uint64_t)atomic_load(&h.admitted));
    ASSERT_EQ(st.successes + st.failures + st.rejected, 80000);
    ASSERT_TRUE(atomic_load(&h.max_in_probe) <= 2);
    ag_breaker_free(h.b);
}
