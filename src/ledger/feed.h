/* The row feed of one ledger handle: the rows its leader committed, as they are stored,
 * handed to one listener after each commit (ag_ledger_set_row_feed). Ownership: the
 * ledger embeds the struct and calls init/free; the leader alone calls begin, add and
 * deliver, one batch at a time. */
#ifndef AG_LEDGER_FEED_H
#define AG_LEDGER_FEED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "agentgov/ledger.h"
#include "core/buf.h"
#include "ledger/row.h"

struct ag__feed_slot {
    int64_t seq;
    size_t off, len;
};

struct ag__ledger_feed {
    pthread_mutex_t mu; /* held while the listener runs and while it is changed */
    ag_ledger_row_feed fn;
    void *ctx;
    atomic_int on;               /* rows are formatted only while someone listens */
    int active, broken;          /* this batch: being collected / lost to a failed alloc */
    struct ag_buf text;          /* the batch's rows, one after another */
    struct ag__feed_slot *slots; /* where each row is in text */
    size_t nslots, cap;
    struct ag_ledger_row_text *out; /* built at delivery (text may move while it grows) */
    size_t outcap;
};

void ag__ledger_feed_init(struct ag__ledger_feed *f);
void ag__ledger_feed_free(struct ag__ledger_feed *f);
void ag__ledger_feed_set(struct ag__ledger_feed *f, ag_ledger_row_feed fn, void *ctx);
/* A batch starts: collect its rows if someone listens. */
void ag__ledger_feed_begin(struct ag__ledger_feed *f);
/* Row r (with its hash) was inserted as seq. */
void ag__ledger_feed_add(struct ag__ledger_feed *f, const struct ag__ledger_row *r, int64_t seq);
/* The batch is committed: hands its rows to the listener. */
void ag__ledger_feed_deliver(struct ag__ledger_feed *f);

#endif
