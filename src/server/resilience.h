/* The daemon's circuit breakers (around the store and the ledger) and its health
 * manager: built from the settings, attached to the handles, ledgered when they change.
 * Ownership: struct ag__resilience is embedded in struct ag__srv and owns the breakers
 * and the health manager; ag__resilience_free releases them after the store and the
 * ledger that borrow them are closed. */
#ifndef AG_SERVER_RESILIENCE_H
#define AG_SERVER_RESILIENCE_H

#include <stdatomic.h>
#include <stdint.h>

#include "agentgov/breaker.h"
#include "agentgov/config.h"
#include "agentgov/health.h"
#include "core/buf.h"

struct ag__srv;

struct ag__resilience_config {
    struct ag_breaker_config store, ledger;
    int store_on, ledger_on; /* 0 when breaker.<dep>.failures and .ratio are both 0 */
    int64_t disk_min;        /* health.disk_min */
    int64_t wal_max;         /* health.wal_max */
};

struct ag__resilience {
    ag_breaker *store_breaker, *ledger_breaker; /* NULL when turned off */
    ag_health *health;                          /* NULL only when out of memory */
    _Atomic int64_t checked_ms; /* monotonic ms of the last health check (read by requests) */
    /* Why each breaker last opened (written by its change callback, one at a time). */
    char store_open_why[224], ledger_open_why[224];
};

/* Reads breaker.store.*, breaker.ledger.* and health.* from the settings. */
void ag__resilience_config_from(const ag_config *c, struct ag__resilience_config *out);
/* Builds the breakers and the health manager and attaches them to the store and the
 * ledger that s opened (either may be NULL). Failures are logged, never fatal: a
 * daemon without a breaker still fails closed, only more slowly. */
void ag__resilience_attach(struct ag__srv *s);
/* Runs the health probes (from the main loop; at most every 250 ms). */
void ag__resilience_tick(struct ag__srv *s);
/* A breaker's change callback (ctx: the daemon): logs every change and ledgers opens
 * and closes as `system` entries breaker.open / breaker.close. */
void ag__srv_on_breaker(void *ctx, ag_breaker *b, enum ag_breaker_state from,
                        enum ag_breaker_state to, const char *why);
/* Prometheus lines: breaker state, transitions, rejected calls; component gauges. */
void ag__resilience_metrics(struct ag__srv *s, struct ag_buf *out);
void ag__resilience_free(struct ag__srv *s);

#endif
