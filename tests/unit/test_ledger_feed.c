/* The row feed (ag_ledger_set_row_feed): while it is on, the listener is told of every
 * row the handle commits, checkpoints included, in seq order with no gap, each byte for
 * byte what ag_ledger_query gives for that seq (so sensitive values arrive as HMACs);
 * while it is off, or once removed, of nothing; of another handle's appends, of nothing
 * (the listener sees a gap). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_fixture.h"
#include "test.h"

#define MAXROWS 2048

struct heard {
    size_t n;
    int64_t seq[MAXROWS];
    char *json[MAXROWS];
    int out_of_order;
};

static void on_rows(void *ctx, const struct ag_ledger_row_text *rows, size_t n)
{
    struct heard *h = ctx;
    for (size_t i = 0; i < n && h->n < MAXROWS; i++) {
        if (h->n && rows[i].seq != h->seq[h->n - 1] + 1)
            h->out_of_order = 1;
        h->seq[h->n] = rows[i].seq;
        h->json[h->n] = strndup(rows[i].json, rows[i].len);
        h->n++;
    }
}

static void heard_free(struct heard *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->json[i]);
    h->n = 0;
}

struct cmp {
    struct heard *h;
    size_t next, mismatches;
};

static int cmp_row(void *ctx, int64_t seq, const char *row_json)
{
    struct cmp *c = ctx;
    if (c->next >= c->h->n || c->h->seq[c->next] != seq || strcmp(c->h->json[c->next], row_json))
        c->mismatches++;
    c->next++;
    return 0;
}

/* Every row of the ledger after after_seq, compared with what was heard. */
static void assert_heard_all(ag_ledger *l, struct heard *h, int64_t after_seq)
{
    struct ag_ledger_filter f = {.after_seq = after_seq, .limit = MAXROWS};
    struct cmp c = {.h = h};
    ASSERT_OK(ag_ledger_query(l, &f, cmp_row, &c));
    ASSERT_EQ(c.next, h->n);
    ASSERT_EQ(c.mismatches, 0);
    ASSERT_EQ(h->out_of_order, 0);
}

TEST(ledger_feed_gives_the_stored_rows_in_order)
{
    struct fx f;
    fx_init(&f, "feed", 3); /* a checkpoint row every 3 entries */
    ag_ledger *l = fx_open(&f);
    struct heard *h = calloc(1, sizeof *h);
    ag_ledger_set_row_feed(l, on_rows, h);
    fx_append(l, "a", "unheard"); /* the feed is off */
    ASSERT_EQ(h->n, 0);
    ag_ledger_row_feed_on(l, 1);
    int64_t seq = fx_append(l, "a", "one");
    ASSERT_EQ(h->n, 1); /* before the append returned */
    ASSERT_EQ(h->seq[0], seq);
    static const char *const secret[] = {"password"};
    struct ag_ledger_entry e = fx_entry("a", "login");
    e.data_json = "{\"password\":\"hunter2\",\"user\":\"ann\"}";
    e.sensitive_keys = secret;
    e.nsensitive = 1;
    const struct ag_ledger_entry *batch[2] = {&e, &e};
    ASSERT_OK(ag_ledger_append_batch(l, batch, 2, NULL));
    for (int i = 0; i < 5; i++)
        fx_append(l, "b", "more");
    ASSERT_OK(ag_ledger_checkpoint(l, NULL));
    assert_heard_all(l, h, seq - 1);
    int checkpoints = 0;
    for (size_t i = 0; i < h->n; i++) {
        ASSERT_TRUE(strstr(h->json[i], "hunter2") == NULL);
        checkpoints += strstr(h->json[i], "\"kind\":\"checkpoint\"") != NULL;
    }
    ASSERT_TRUE(checkpoints >= 3);
    ASSERT_TRUE(strstr(h->json[0], "\"hash\":\"") != NULL);
    size_t n = h->n;
    ag_ledger_row_feed_on(l, 0);
    fx_append(l, "a", "off again");
    ASSERT_EQ(h->n, n);
    ag_ledger_row_feed_on(l, 1);
    ag_ledger_set_row_feed(l, NULL, NULL);
    fx_append(l, "a", "removed");
    ASSERT_EQ(h->n, n);
    heard_free(h);
    free(h);
    ag_ledger_close(l);
}

struct worker {
    ag_ledger *l;
    int id, bad;
};

static void *append_worker(void *arg)
{
    struct worker *w = arg;
    char agent[16];
    snprintf(agent, sizeof agent, "w%d", w->id);
    for (int i = 0; i < 100; i++) {
        struct ag_ledger_entry e = fx_entry(agent, "act");
        const struct ag_ledger_entry *v[2] = {&e, &e};
        ag_err err = i % 4 ? ag_ledger_append(w->l, &e, NULL, NULL)
                           : ag_ledger_append_batch(w->l, v, 2, NULL);
        w->bad += err != AG_OK;
    }
    return NULL;
}

/* Under concurrent appenders (batched by the leader) the rows still arrive in seq
 * order, each once. */
TEST(ledger_feed_keeps_order_under_concurrent_appends)
{
    struct fx f;
    fx_init(&f, "feed-mt", 50);
    ag_ledger *l = fx_open(&f);
    struct heard *h = calloc(1, sizeof *h);
    ag_ledger_set_row_feed(l, on_rows, h); /* the leader calls it: one at a time */
    ag_ledger_row_feed_on(l, 1);
    pthread_t th[6];
    struct worker w[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (struct worker){.l = l, .id = i};
        ASSERT_EQ(pthread_create(&th[i], NULL, append_worker, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(w[i].bad, 0);
    }
    ASSERT_TRUE(h->n >= 6 * 125); /* 125 entries each, and the checkpoints */
    assert_heard_all(l, h, 0);
    heard_free(h);
    free(h);
    ag_ledger_close(l);
}

/* Another handle's appends are not fed: the listener's next row comes after a gap. */
TEST(ledger_feed_hears_only_its_own_handle)
{
    struct fx f;
    fx_init(&f, "feed-two", 0);
    ag_ledger *l = fx_open(&f), *other = fx_open(&f);
    struct heard *h = calloc(1, sizeof *h);
    ag_ledger_set_row_feed(l, on_rows, h);
    ag_ledger_row_feed_on(l, 1);
    int64_t s1 = fx_append(l, "a", "mine");
    int64_t s2 = fx_append(other, "b", "theirs");
    int64_t s3 = fx_append(l, "a", "mine again");
    ASSERT_EQ(s2, s1 + 1);
    ASSERT_EQ(s3, s2 + 1);
    ASSERT_EQ(h->n, 2);
    ASSERT_EQ(h->seq[0], s1);
    ASSERT_EQ(h->seq[1], s3);
    heard_free(h);
    free(h);
    ag_ledger_close(other);
    ag_ledger_close(l);
}
