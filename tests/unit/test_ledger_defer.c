/* Deferred durability (src/ledger/defer.c, ag_ledger_defer_sync): the background sync
 * covers every commit, groups the commits of its window into one sync, remembers a sync
 * that failed (so that the ledger refuses further appends), and syncs the rest when it
 * stops; on the real SQLite backend, entries appended with deferred syncs are all there
 * after a reopen and the chain verifies. SIGKILL survival: test_ledger_crash. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "ledger/defer.h"
#include "ledger_fixture.h"

/* A backend that only counts syncs (and fails them on demand). */
static atomic_int syncs, fail_syncs;

static ag_err fake_sync(void *ctx)
{
    (void)ctx;
    if (atomic_load(&fail_syncs))
        return ag__fail(AG_EIO, "fake: fdatasync: Input/output error");
    atomic_fetch_add(&syncs, 1);
    return AG_OK;
}

static const struct ag__ledger_backend fake = {.name = "fake", .sync = fake_sync};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (up to 5 s) until at least n syncs were made; returns how many. */
static int wait_syncs(int n)
{
    for (int i = 0; i < 500 && atomic_load(&syncs) < n; i++)
        sleep_ms(10);
    return atomic_load(&syncs);
}

TEST(ledger_defer_syncs_every_commit_grouped_in_its_window)
{
    atomic_store(&syncs, 0);
    atomic_store(&fail_syncs, 0);
    struct ag__ledger_defer *d;
    ASSERT_OK(ag__ledger_defer_start(&fake, NULL, 200, &d));
    sleep_ms(50);
    ASSERT_EQ(atomic_load(&syncs), 0); /* nothing committed: nothing to sync */
    for (int i = 0; i < 100; i++)
        ag__ledger_defer_committed(d);
    ASSERT_EQ(wait_syncs(1), 1); /* 100 commits within the window: one sync */
    sleep_ms(250);
    ASSERT_EQ(atomic_load(&syncs), 1); /* and no more while nothing new is committed */
    ag__ledger_defer_committed(d);
    ASSERT_EQ(wait_syncs(2), 2);
    ASSERT_OK(ag__ledger_defer_failed(d));
    ag__ledger_defer_stop(d);
    ASSERT_EQ(atomic_load(&syncs), 2); /* everything was durable already */
}

TEST(ledger_defer_flush_and_stop_sync_what_is_committed)
{
    atomic_store(&syncs, 0);
    atomic_store(&fail_syncs, 0);
    struct ag__ledger_defer *d;
    ASSERT_OK(ag__ledger_defer_start(&fake, NULL, 10000, &d));
    ag__ledger_defer_committed(d);
    ASSERT_OK(ag__ledger_defer_flush(d)); /* now, not in 10 s */
    ASSERT_EQ(atomic_load(&syncs), 1);
    ASSERT_OK(ag__ledger_defer_flush(d)); /* nothing new: no sync */
    ASSERT_EQ(atomic_load(&syncs), 1);
    ag__ledger_defer_committed(d);
    ag__ledger_defer_stop(d); /* the last commit is synced before it stops */
    ASSERT_EQ(atomic_load(&syncs), 2);
}

TEST(ledger_defer_a_failed_sync_is_sticky)
{
    atomic_store(&syncs, 0);
    atomic_store(&fail_syncs, 1);
    struct ag__ledger_defer *d;
    ASSERT_OK(ag__ledger_defer_start(&fake, NULL, 1, &d));
    ag__ledger_defer_committed(d);
    ag_err err = AG_OK;
    for (int i = 0; i < 500 && err == AG_OK; i++) {
        sleep_ms(10);
        err = ag__ledger_defer_failed(d);
    }
    ASSERT_ERR(err, AG_EIO);
    ASSERT_CONTAINS(ag_last_error(), "a deferred sync failed, so nothing more is appended");
    ASSERT_CONTAINS(ag_last_error(), "fake: fdatasync: Input/output error");
    atomic_store(&fail_syncs, 0); /* the disk is back: still refused, durability was lost */
    ASSERT_ERR(ag__ledger_defer_flush(d), AG_EIO);
    ag__ledger_defer_stop(d);
}

TEST(ledger_defer_sync_on_sqlite_keeps_every_entry_and_verifies)
{
    struct fx f;
    fx_init(&f, "defer", 0);
    ag_ledger *l = fx_open(&f);
    ASSERT_ERR(ag_ledger_defer_sync(l, 0), AG_EINVAL);
    ASSERT_OK(ag_ledger_defer_sync(l, 5));
    ASSERT_OK(ag_ledger_defer_sync(l, 5)); /* twice: nothing changes */
    int64_t last = 0;
    for (int i = 0; i < 300; i++)
        last = fx_append(l, "deferred", "act");
    ASSERT_OK(ag_ledger_sync(l));
    int64_t head;
    ASSERT_OK(ag_ledger_head(l, &head, NULL));
    ASSERT_EQ(head, last); /* committed entries are visible to readers at once */
    ag_ledger_close(l);
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_TRUE(r.ok);
    ASSERT_TRUE(r.entries >= 300);
    struct ag_ledger_opts ro = {.read_only = 1};
    ASSERT_OK(ag_ledger_open(f.db, &ro, &l));
    ASSERT_ERR(ag_ledger_defer_sync(l, 5), AG_EREADONLY);
    ag_ledger_close(l);
}
