/* Storage behind the ledger: a table of function pointers chosen by name, so that a
 * PostgreSQL backend can slot in without touching the ledger's callers (as OpenSMTPD's
 * queue backends do). Ownership: open returns a context the backend owns until close;
 * rows handed to a scan callback are valid only during the call. */
#ifndef AG_LEDGER_BACKEND_H
#define AG_LEDGER_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"
#include "agentgov/ledger.h"
#include "ledger/row.h"

struct ag__ledger_backend_opts {
    int read_only;
    int busy_timeout_ms; /* how long to wait for another writer before failing */
    int keep_wal;        /* close without checkpointing or deleting the WAL */
};

/* Called for each row of a scan, in seq order (or reversed); non-0 stops the scan. */
typedef int (*ag__row_fn)(void *ctx, const struct ag__ledger_row *row);

struct ag__ledger_backend {
    const char *name;
    /* Opens (creating the schema unless read-only) the ledger at target. */
    ag_err (*open)(const char *target, const struct ag__ledger_backend_opts *o, void **ctx);
    void (*close)(void *ctx);
    /* Starts the one write transaction; it excludes every other writer, in this
     * process or another, until commit or rollback. */
    ag_err (*begin)(void *ctx);
    ag_err (*insert)(void *ctx, const struct ag__ledger_row *row);
    /* Commits durably: returns only when the rows survive a power loss (unless relax
     * was called: then only once they survive this process's end). */
    ag_err (*commit)(void *ctx);
    void (*rollback)(void *ctx);
    /* Highest seq and its hash (0 and "" when empty). */
    ag_err (*head)(void *ctx, int64_t *seq, char hash[AG_HASH_HEX_LEN]);
    /* Highest seq of a row of the given kind (0 when none). */
    ag_err (*last_of_kind)(void *ctx, const char *kind, int64_t *seq);
    /* Rows matching f (NULL: all rows, in seq order). */
    ag_err (*scan)(void *ctx, const struct ag_ledger_filter *f, ag__row_fn fn, void *fnctx);
    /* Housekeeping between appends (NULL: none): bounds a keep_wal writer's WAL. */
    void (*tidy)(void *ctx);
    /* Checks the storage under the rows (NULL: nothing to check): the file is intact and
     * every index, view and trigger is exactly one that open creates, so that no query
     * can disagree with the rows verify hashed. Writes the first problem into problem
     * ("" when none); returns an error only when it could not check. */
    ag_err (*check)(void *ctx, char *problem, size_t len);
    /* Deferred durability (NULL: not offered). relax: from now on a commit returns
     * once it is atomic and survives this process's crash, without waiting for the
     * disk (a power loss may undo the newest commits, never split or corrupt one);
     * called by the leader, no transaction open. sync: makes every commit that has
     * returned durable; called from another thread than the leader's, concurrently
     * with transactions, so it touches nothing but its own file descriptor. */
    ag_err (*relax)(void *ctx);
    ag_err (*sync)(void *ctx);
};

/* Finds the backend for a target: "sqlite:PATH" or a plain PATH is SQLite;
 * "postgres://..." is refused (AG_EUNSUPPORTED) until that backend exists. *rest is
 * the backend-specific part of the target. */
AG_MUST_USE ag_err ag__ledger_backend_find(const char *target, const struct ag__ledger_backend **be,
                                           const char **rest);

#endif
