/* Deferred durability for one ledger handle: a background thread that makes committed
 * entries durable (one backend sync for all those committed since the last) at most a
 * set delay after the first of them. Ownership: ledger.c owns the handle
 * (ag__ledger_defer_start / ag__ledger_defer_stop); it borrows the backend context,
 * which must outlive it. */
#ifndef AG_LEDGER_DEFER_H
#define AG_LEDGER_DEFER_H

#include "agentgov/err.h"
#include "ledger/backend.h"

struct ag__ledger_defer;

/* Starts the thread; the backend must have been relaxed already. */
AG_MUST_USE ag_err ag__ledger_defer_start(const struct ag__ledger_backend *be, void *wctx,
                                          int max_delay_ms, struct ag__ledger_defer **out);
/* A batch was committed (the leader calls it after each commit). */
void ag__ledger_defer_committed(struct ag__ledger_defer *d);
/* AG_OK, or the error of a background sync that failed (detail in ag_last_error()):
 * from then on nothing committed can be called durable, so appends must fail. */
AG_MUST_USE ag_err ag__ledger_defer_failed(struct ag__ledger_defer *d);
/* Makes everything committed so far durable now; returns the sync's error. */
AG_MUST_USE ag_err ag__ledger_defer_flush(struct ag__ledger_defer *d);
/* Stops the thread after a last sync of what is committed. Accepts NULL. */
void ag__ledger_defer_stop(struct ag__ledger_defer *d);

#endif
