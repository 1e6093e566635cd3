/* Component health: each part of agentgov (store, ledger, policy, auth, breakers, and
 * later the LLM endpoint, notifiers, the outbox, the pipeline runner, the hook helper)
 * registers a probe or pushes its state; the manager keeps the latest report of each,
 * says whether the whole is ready, and calls back once per change of state (not per
 * probe), so that changes can be ledgered. Ownership: ag_health is an opaque handle
 * (ag_health_new/ag_health_free); handles passed to the built-in probes are borrowed
 * and must outlive it; reports and snapshots are copied out.
 *
 * A later component registers itself with the daemon's manager, e.g. a notifier:
 *
 *     static void probe(void *ctx, struct ag_health_report *r) {
 *         struct notifier *n = ctx;
 *         r->status = n->backlog > 1000 ? AG_HEALTH_DEGRADED : AG_HEALTH_OK;
 *         snprintf(r->detail, sizeof r->detail, "%zu events waiting", n->backlog);
 *         ag_health_gauge(r, "backlog", (double)n->backlog);
 *     }
 *     ag_health_register(h, "notify.slack", 0, probe, n);   // 0: not critical
 *
 * or, with no probe, pushes its state when it changes:
 *
 *     ag_health_register(h, "hook_helper", 0, NULL, NULL);
 *     ag_health_set(h, "hook_helper", AG_HEALTH_DOWN, "socket gone");
 */
#ifndef AGENTGOV_HEALTH_H
#define AGENTGOV_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/breaker.h"
#include "agentgov/err.h"
#include "agentgov/ledger.h"
#include "agentgov/store.h"

typedef struct ag_health ag_health;

enum ag_health_status {
    AG_HEALTH_OK = 0,
    AG_HEALTH_DEGRADED = 1, /* works, but needs attention (disk filling, breaker probing) */
    AG_HEALTH_DOWN = 2,     /* does not work: a critical one down means not ready */
};
/* "ok", "degraded", "down". */
const char *ag_health_status_name(enum ag_health_status s);

#define AG_HEALTH_MAX_GAUGES 4
struct ag_health_report {
    enum ag_health_status status;
    char detail[256];
    int ngauges; /* numbers exported as agentgov_health_<gauge>{component=...} */
    struct {
        char name[32];
        double value;
    } gauges[AG_HEALTH_MAX_GAUGES];
};
/* Adds a gauge to a report (ignored past AG_HEALTH_MAX_GAUGES). name: [a-z_]. */
void ag_health_gauge(struct ag_health_report *r, const char *name, double value);

/* Fills r (zeroed, status OK on entry). Called from ag_health_check's thread; may block
 * for as long as the component's own timeout. */
typedef void (*ag_health_probe_fn)(void *ctx, struct ag_health_report *r);
/* Told once per change of a component's status (after the manager's lock is released). */
typedef void (*ag_health_change_cb)(void *ctx, const char *component, enum ag_health_status from,
                                    enum ag_health_status to, const char *detail);

AG_MUST_USE ag_err ag_health_new(ag_health **out);
void ag_health_free(ag_health *h);
void ag_health_on_change(ag_health *h, ag_health_change_cb cb, void *ctx);

/* Registers a component (name: 1..63 bytes, unique: AG_EEXIST otherwise). critical:
 * the daemon is not ready while it is down. fn NULL: the component pushes its state
 * with ag_health_set (it starts OK). */
AG_MUST_USE ag_err ag_health_register(ag_health *h, const char *component, int critical,
                                      ag_health_probe_fn fn, void *ctx);
/* Sets a push component's state (a change is reported as a probe's would be).
 * AG_ENOTFOUND for an unknown component. */
AG_MUST_USE ag_err ag_health_set(ag_health *h, const char *component, enum ag_health_status status,
                                 const char *detail);

/* Runs every probe once, in registration order, and records the reports. One check at
 * a time: a second caller waits for the first. */
void ag_health_check(ag_health *h);

struct ag_health_component {
    char name[64];
    int critical;
    struct ag_health_report report;
    int64_t since_ms;   /* wall-clock ms of the last change of status */
    int64_t checked_ms; /* wall-clock ms of the last report, 0 before the first */
    uint64_t changes;   /* changes of status so far */
};
/* Copies up to max components (in registration order) and returns how many there are. */
size_t ag_health_snapshot(ag_health *h, struct ag_health_component *out, size_t max);
/* The worst status over all components, and *ready (may be NULL): 1 when no critical
 * component is down. */
enum ag_health_status ag_health_overall(ag_health *h, int *ready);

/* Built-in probes. The store: one GET (through its breaker, if set); down when it fails.
 * Critical. */
AG_MUST_USE ag_err ag_health_add_store(ag_health *h, ag_store *s);
/* The ledger: down when its breaker is open (degraded while half-open); degraded when the
 * file system under db_path has fewer than disk_min free bytes or its WAL file is larger
 * than wal_max bytes (0 turns either check off). Gauges: free_bytes, wal_bytes. Critical. */
AG_MUST_USE ag_err ag_health_add_ledger(ag_health *h, ag_ledger *l, ag_breaker *b,
                                        const char *db_path, int64_t disk_min, int64_t wal_max);
/* A breaker as component "breaker.<dep>": ok closed, degraded half-open, down open.
 * Not critical (the component behind it says whether work stops). */
AG_MUST_USE ag_err ag_health_add_breaker(ag_health *h, ag_breaker *b);

#endif
