/* The health manager (src/health/health.c): probes, pushed states, one callback per
 * change, readiness, the built-in store, ledger and breaker probes against a real
 * SQLite store and ledger; and the store's and the ledger's breakers refusing at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/breaker.h"
#include "agentgov/health.h"
#include "ledger_fixture.h"
#include "test.h"

struct changes {
    int n;
    char last[128];
};

static void on_change(void *ctx, const char *component, enum ag_health_status from,
                      enum ag_health_status to, const char *detail)
{
    struct changes *c = ctx;
    c->n++;
    snprintf(c->last, sizeof c->last, "%s %s->%s %s", component, ag_health_status_name(from),
             ag_health_status_name(to), detail);
}

static enum ag_health_status flip_status;

static void flip(void *ctx, struct ag_health_report *r)
{
    (void)ctx;
    r->status = flip_status;
    snprintf(r->detail, sizeof r->detail, "flip is %s", ag_health_status_name(flip_status));
    ag_health_gauge(r, "answer", 42);
}

static const struct ag_health_component *find(const struct ag_health_component *c, size_t n,
                                              const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return &c[i];
    return NULL;
}

TEST(health_reports_each_change_once_not_each_probe)
{
    ag_health *h;
    ASSERT_OK(ag_health_new(&h));
    struct changes ch = {0};
    ag_health_on_change(h, on_change, &ch);
    flip_status = AG_HEALTH_OK;
    ASSERT_OK(ag_health_register(h, "flip", 1, flip, NULL));
    ASSERT_ERR(ag_health_register(h, "flip", 0, flip, NULL), AG_EEXIST);
    ASSERT_OK(ag_health_register(h, "helper", 0, NULL, NULL));
    for (int i = 0; i < 5; i++)
        ag_health_check(h);
    ASSERT_EQ(ch.n, 0); /* ok from the start: nothing changed */
    int ready;
    ASSERT_EQ(ag_health_overall(h, &ready), AG_HEALTH_OK);
    ASSERT_EQ(ready, 1);

    flip_status = AG_HEALTH_DOWN;
    for (int i = 0; i < 5; i++)
        ag_health_check(h);
    ASSERT_EQ(ch.n, 1);
    ASSERT_STREQ(ch.last, "flip ok->down flip is down");
    ASSERT_EQ(ag_health_overall(h, &ready), AG_HEALTH_DOWN);
    ASSERT_EQ(ready, 0); /* critical and down */

    flip_status = AG_HEALTH_OK;
    ag_health_check(h);
    ASSERT_EQ(ch.n, 2);
    /* A non-critical component that is down makes it worse, not unready. */
    ASSERT_OK(ag_health_set(h, "helper", AG_HEALTH_DOWN, "socket gone"));
    ASSERT_OK(ag_health_set(h, "helper", AG_HEALTH_DOWN, "socket gone"));
    ASSERT_EQ(ch.n, 3);
    ASSERT_STREQ(ch.last, "helper ok->down socket gone");
    ASSERT_EQ(ag_health_overall(h, &ready), AG_HEALTH_DOWN);
    ASSERT_EQ(ready, 1);
    ASSERT_ERR(ag_health_set(h, "nobody", AG_HEALTH_OK, ""), AG_ENOTFOUND);

    struct ag_health_component c[4];
    ASSERT_EQ(ag_health_snapshot(h, c, 4), 2);
    const struct ag_health_component *f = find(c, 2, "flip");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(f->changes, 2);
    ASSERT_EQ(f->report.ngauges, 1);
    ASSERT_STREQ(f->report.gauges[0].name, "answer");
    ASSERT_TRUE(f->checked_ms > 0);
    ag_health_free(h);
}

TEST(health_ledger_probe_sees_free_disk_wal_size_and_its_breaker)
{
    struct fx fx;
    fx_init(&fx, "health-ledger", 0);
    ag_ledger *l = fx_open(&fx);
    struct ag_ledger_entry e = {.kind = "system", .tier = -1, .confidence = -1, .success = -1};
    ASSERT_OK(ag_ledger_append(l, &e, NULL, NULL));

    struct ag_breaker_config bc;
    ag_breaker_config_default(&bc);
    bc.failures = 1;
    bc.cooldown_ms = 60000;
    ag_breaker *b;
    ASSERT_OK(ag_breaker_new("ledger", &bc, &b));

    ag_health *h;
    ASSERT_OK(ag_health_new(&h));
    /* A threshold above any disk: degraded, with the numbers. */
    ASSERT_OK(ag_health_add_ledger(h, l, b, fx.db, INT64_MAX / 2, 0));
    ag_health_check(h);
    struct ag_health_component c[2];
    ASSERT_EQ(ag_health_snapshot(h, c, 2), 1);
    ASSERT_EQ(c[0].report.status, AG_HEALTH_DEGRADED);
    ASSERT_CONTAINS(c[0].report.detail, "bytes free under");
    ASSERT_STREQ(c[0].report.gauges[0].name, "free_bytes");
    ASSERT_TRUE(c[0].report.gauges[0].value > 0);
    ag_health_free(h);

    /* A WAL limit of one byte: the WAL of a ledger just written to is larger. */
    ASSERT_OK(ag_health_new(&h));
    ASSERT_OK(ag_health_add_ledger(h, l, b, fx.db, 0, 1));
    ag_health_check(h);
    ag_health_snapshot(h, c, 2);
    ASSERT_EQ(c[0].report.status, AG_HEALTH_DEGRADED);
    ASSERT_CONTAINS(c[0].report.detail, "WAL is");
    ASSERT_TRUE(c[0].report.gauges[1].value > 1);
    ag_health_free(h);

    /* The ledger's breaker open: appends are refused at once, the ledger is down. */
    ASSERT_OK(ag_health_new(&h));
    ASSERT_OK(ag_health_add_ledger(h, l, b, fx.db, 0, 0));
    ag_health_check(h);
    ag_health_snapshot(h, c, 2);
    ASSERT_EQ(c[0].report.status, AG_HEALTH_OK);
    ag_ledger_set_breaker(l, b);
    struct ag_breaker_call k;
    ASSERT_TRUE(ag_breaker_allow(b, &k));
    ag_breaker_done(b, &k, 0, "disk full");
    int64_t head_before, head_after;
    ASSERT_OK(ag_ledger_head(l, &head_before, NULL));
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_ELEDGER);
    ASSERT_CONTAINS(ag_last_error(), "circuit breaker 'ledger' is open");
    ASSERT_CONTAINS(ag_last_error(), "disk full");
    ASSERT_OK(ag_ledger_head(l, &head_after, NULL));
    ASSERT_EQ(head_after, head_before); /* nothing was written */
    ag_health_check(h);
    ag_health_snapshot(h, c, 2);
    ASSERT_EQ(c[0].report.status, AG_HEALTH_DOWN);
    ASSERT_CONTAINS(c[0].report.detail, "breaker open: disk full");
    ag_ledger_set_breaker(l, NULL);
    ASSERT_OK(ag_ledger_append(l, &e, NULL, NULL));
    ag_health_free(h);
    ag_ledger_close(l);
    ag_breaker_free(b);
}

TEST(health_store_probe_and_the_store_breaker)
{
    char url[1200];
    snprintf(url, sizeof url, "sqlite:%s/state.db", ag_test_fresh_dir("health-store"));
    ag_store *s;
    ASSERT_OK(ag_store_open(url, &s));
    struct ag_breaker_config bc;
    ag_breaker_config_default(&bc);
    bc.failures = 1;
    bc.cooldown_ms = 60000;
    ag_breaker *b;
    ASSERT_OK(ag_breaker_new("store", &bc, &b));
    ag_health *h;
    ASSERT_OK(ag_health_new(&h));
    ASSERT_OK(ag_health_add_store(h, s));
    ASSERT_OK(ag_health_add_breaker(h, b));
    ag_health_check(h);
    struct ag_health_component c[2];
    ASSERT_EQ(ag_health_snapshot(h, c, 2), 2);
    ASSERT_EQ(c[0].report.status, AG_HEALTH_OK);
    ASSERT_CONTAINS(c[0].report.detail, "sqlite backend answers");
    ASSERT_STREQ(c[1].name, "breaker.store");
    ASSERT_EQ(c[1].critical, 0);

    /* A refused op is the caller's fault: it does not count against the breaker. */
    ag_store_set_breaker(s, b);
    struct ag_store_op bad = {.op = AG_OP_INCRBY, .key = "k", .num = 1};
    ASSERT_OK(ag_store_set(s, "k", "not a number", 0));
    struct ag_store_reply r;
    ASSERT_ERR(ag_store_exec(s, NULL, &bad, 1, &r, NULL), AG_EINVAL);
    struct ag_breaker_stats st;
    ag_breaker_stats(b, &st);
    ASSERT_EQ(st.state, AG_BREAKER_CLOSED);
    ASSERT_EQ(st.failures, 0);

    /* Open: every call fails at once with AG_ESTORE naming the breaker. */
    struct ag_breaker_call k;
    ASSERT_TRUE(ag_breaker_allow(b, &k));
    ag_breaker_done(b, &k, 0, "connection refused");
    char *v = NULL;
    ASSERT_ERR(ag_store_get(s, "k", &v), AG_ESTORE);
    ASSERT_CONTAINS(ag_last_error(), "circuit breaker 'store' is open");
    char **keys;
    size_t n;
    ASSERT_ERR(ag_store_keys(s, "", &keys, &n), AG_ESTORE);
    ag_health_check(h);
    ag_health_snapshot(h, c, 2);
    ASSERT_EQ(c[0].report.status, AG_HEALTH_DOWN);
    ASSERT_EQ(c[1].report.status, AG_HEALTH_DOWN);
    int ready;
    ag_health_overall(h, &ready);
    ASSERT_EQ(ready, 0);
    ag_breaker_stats(b, &st);
    ASSERT_EQ(st.rejected, 3); /* the get, the keys, the probe's get */
    ag_health_free(h);
    ag_store_free(s);
    ag_breaker_free(b);
}
