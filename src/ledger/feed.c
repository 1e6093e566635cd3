/* The row feed: a listener in the same process (the dashboard's live tail) learns of
 * each committed row without reading it back from the database, which would cost it a
 * query and a parse of the data column per row. The rows are formatted by the leader
 * after it inserts them (the same canonical text a query gives), only while the feed is
 * on, and handed over after the commit, in seq order, before the batch's appenders are
 * answered. A row that cannot be formatted for want of memory is not delivered at all
 * (nor is the rest of its batch): the listener sees a gap in the seqs and reads it. */
#include "ledger/feed.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void ag__ledger_feed_init(struct ag__ledger_feed *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    ag__buf_init(&f->text);
}

void ag__ledger_feed_free(struct ag__ledger_feed *f)
{
    ag__buf_free(&f->text);
    free(f->slots);
    free(f->out);
    pthread_mutex_destroy(&f->mu);
}

void ag__ledger_feed_set(struct ag__ledger_feed *f, ag_ledger_row_feed fn, void *ctx)
{
    pthread_mutex_lock(&f->mu); /* waits for a delivery in progress to end */
    f->fn = fn;
    f->ctx = ctx;
    pthread_mutex_unlock(&f->mu);
}

void ag__ledger_feed_begin(struct ag__ledger_feed *f)
{
    f->active = atomic_load_explicit(&f->on, memory_order_relaxed);
    f->broken = 0;
    f->nslots = 0;
    ag__buf_reset(&f->text);
}

void ag__ledger_feed_add(struct ag__ledger_feed *f, const struct ag__ledger_row *r, int64_t seq)
{
    if (!f->active || f->broken)
        return;
    if (f->nslots == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        struct ag__feed_slot *s = realloc(f->slots, cap * sizeof *s);
        if (!s) {
            f->broken = 1;
            return;
        }
        f->slots = s;
        f->cap = cap;
    }
    size_t off = f->text.len;
    /* The row was hashed from the same values a moment ago: this cannot find it
     * malformed, only run out of memory. */
    if (ag__row_canonical(r, 1, &f->text) != AG_OK) {
        ag_clear_error();
        f->broken = 1;
        return;
    }
    f->slots[f->nslots++] =
        (struct ag__feed_slot){.seq = seq, .off = off, .len = f->text.len - off};
}

void ag__ledger_feed_deliver(struct ag__ledger_feed *f)
{
    if (!f->active || f->broken || f->nslots == 0)
        return;
    if (f->outcap < f->nslots) {
        struct ag_ledger_row_text *o = realloc(f->out, f->cap * sizeof *o);
        if (!o)
            return;
        f->out = o;
        f->outcap = f->cap;
    }
    for (size_t i = 0; i < f->nslots; i++)
        f->out[i] = (struct ag_ledger_row_text){
            .seq = f->slots[i].seq, .json = f->text.data + f->slots[i].off, .len = f->slots[i].len};
    pthread_mutex_lock(&f->mu);
    if (f->fn)
        f->fn(f->ctx, f->out, f->nslots);
    pthread_mutex_unlock(&f->mu);
}
