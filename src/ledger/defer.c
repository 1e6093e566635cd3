/* Deferred durability: the leader commits without waiting for the disk and tells this
 * module; a background thread waits until the oldest commit not yet durable is
 * max_delay old (so that one sync covers every commit of that window: a group commit
 * across time rather than across threads), then syncs through the backend, which is
 * safe beside running transactions. A failed sync is remembered: the ledger then
 * refuses every append, since it can no longer say what is on the disk. */
#include "ledger/defer.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/err.h"

struct ag__ledger_defer {
    const struct ag__ledger_backend *be;
    void *wctx;
    int64_t delay_ns;
    pthread_t th;
    pthread_mutex_t m;
    pthread_cond_t cv;          /* a commit arrived, or stop */
    uint64_t committed, synced; /* batches committed / made durable */
    struct timespec first;      /* CLOCK_MONOTONIC of the oldest batch not durable */
    int stop;
    ag_err err; /* a sync that failed: sticky */
    char detail[256];
};

/* One sync of what is committed now; the mutex is held on entry and on return. */
static void sync_now(struct ag__ledger_defer *d)
{
    uint64_t target = d->committed;
    pthread_mutex_unlock(&d->m);
    ag_err err = d->be->sync(d->wctx);
    char detail[256] = "";
    if (err != AG_OK)
        snprintf(detail, sizeof detail, "%s", ag_last_error());
    pthread_mutex_lock(&d->m);
    if (err != AG_OK && d->err == AG_OK) {
        d->err = err;
        snprintf(d->detail, sizeof d->detail, "%s", detail);
    }
    if (err == AG_OK && target > d->synced)
        d->synced = target;
}

static void *flusher(void *arg)
{
    struct ag__ledger_defer *d = arg;
    pthread_mutex_lock(&d->m);
    while (d->err == AG_OK) {
        while (!d->stop && d->committed == d->synced)
            pthread_cond_wait(&d->cv, &d->m);
        if (d->committed == d->synced)
            break; /* stopping, and everything is durable */
        struct timespec until = d->first;
        int64_t ns = until.tv_nsec + d->delay_ns;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        while (!d->stop && pthread_cond_timedwait(&d->cv, &d->m, &until) == 0)
            ; /* woken early only to stop (or spuriously): the window runs to its end */
        sync_now(d);
    }
    pthread_mutex_unlock(&d->m);
    return NULL;
}

ag_err ag__ledger_defer_start(const struct ag__ledger_backend *be, void *wctx, int max_delay_ms,
                              struct ag__ledger_defer **out)
{
    *out = NULL;
    struct ag__ledger_defer *d = calloc(1, sizeof *d);
    if (d == NULL)
        return ag__fail(AG_ENOMEM, "ledger: deferred sync");
    d->be = be;
    d->wctx = wctx;
    d->delay_ns = (int64_t)max_delay_ms * 1000000;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&d->m, NULL);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&d->th, NULL, flusher, d) != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->m);
        free(d);
        return ag__fail(AG_EIO, "ledger: cannot start the deferred sync thread");
    }
    *out = d;
    return AG_OK;
}

void ag__ledger_defer_committed(struct ag__ledger_defer *d)
{
    pthread_mutex_lock(&d->m);
    /* Only the first commit of a window wakes the thread: the others join the sync it
     * is already timing, without a wake-up (a context switch) each. */
    int first = d->committed == d->synced;
    if (first)
        clock_gettime(CLOCK_MONOTONIC, &d->first);
    d->committed++;
    if (first)
        pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->m);
}

ag_err ag__ledger_defer_failed(struct ag__ledger_defer *d)
{
    pthread_mutex_lock(&d->m);
    ag_err err = d->err;
    char detail[256];
    snprintf(detail, sizeof detail, "%s", d->detail);
    pthread_mutex_unlock(&d->m);
    return err == AG_OK ? AG_OK
                        : ag__fail(err,
                                   "ledger: a deferred sync failed, so nothing more is "
                                   "appended: %s",
                                   detail);
}

ag_err ag__ledger_defer_flush(struct ag__ledger_defer *d)
{
    pthread_mutex_lock(&d->m);
    if (d->committed != d->synced)
        sync_now(d);
    pthread_mutex_unlock(&d->m);
    return ag__ledger_defer_failed(d);
}

void ag__ledger_defer_stop(struct ag__ledger_defer *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->m);
    d->stop = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->m);
    pthread_join(d->th, NULL);
    if (ag__ledger_defer_flush(d) != AG_OK) /* the thread stops early after a failure */
        ag_clear_error();
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->m);
    free(d);
}
