/* ag_ledger_append_batch: entries of one call commit in order and adjacent (consecutive
 * seqs, or one apart when an automatic checkpoint row falls between them) while other threads
 * append single entries and batches at the same time; the chain verifies afterwards. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ledger_fixture.h"
#include "test.h"

struct worker {
    ag_ledger *l;
    int id, batches, bad;
};

static void *batch_worker(void *arg)
{
    struct worker *w = arg;
    char agent[32];
    snprintf(agent, sizeof agent, "w%d", w->id);
    for (int i = 0; i < 150; i++) {
        struct ag_ledger_entry a = {.kind = "decision",
                                    .agent_id = agent,
                                    .tier = -1,
                                    .decision = "ask",
                                    .confidence = -1,
                                    .success = -1};
        struct ag_ledger_entry b = a;
        b.kind = "approval";
        b.decision = "pending";
        const struct ag_ledger_entry *v[2] = {&a, &b};
        int64_t seqs[2] = {0, 0};
        if (w->id % 3 == 2) { /* a third of the threads append one at a time */
            if (ag_ledger_append(w->l, &a, NULL, NULL) != AG_OK)
                w->bad++;
            continue;
        }
        if (ag_ledger_append_batch(w->l, v, 2, seqs) != AG_OK || seqs[1] <= seqs[0] ||
            seqs[1] > seqs[0] + 2)
            w->bad++;
        w->batches++;
    }
    return NULL;
}

TEST(ledger_batch_entries_are_adjacent_under_concurrency)
{
    struct fx f;
    fx_init(&f, "ledger_batch", 100); /* checkpoints between entries too */
    ag_ledger *l = fx_open(&f);
    struct worker w[9];
    pthread_t t[9];
    for (int i = 0; i < 9; i++) {
        w[i] = (struct worker){.l = l, .id = i};
        ASSERT_EQ(pthread_create(&t[i], NULL, batch_worker, &w[i]), 0);
    }
    int batches = 0;
    for (int i = 0; i < 9; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ(w[i].bad, 0);
        batches += w[i].batches;
    }
    ASSERT_EQ(batches, 6 * 150);
    const struct ag_ledger_entry *none[1] = {NULL};
    ASSERT_ERR(ag_ledger_append_batch(l, none, 1, NULL), AG_EINVAL);
    ASSERT_ERR(ag_ledger_append_batch(l, none, 0, NULL), AG_EINVAL);
    ag_ledger_close(l);
    struct ag_verify_result v = fx_verify(&f);
    ASSERT_TRUE(v.ok);
    ASSERT_TRUE(v.entries >= 6 * 150 * 2 + 3 * 150);
}
