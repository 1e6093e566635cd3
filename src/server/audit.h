/* Refused credentials in the ledger: every request that the daemon turns away for its
 * token (none, unknown, expired, revoked, or not an admin's where one is needed)
 * becomes a `violation` entry, action `auth.token`, decision `deny`, with the request's
 * method, path and remote address and the HMAC of the token it presented (never the
 * token). The caller does not wait for the commit (the request is refused whatever
 * happens), and a flood of bad tokens cannot flood the ledger: at most AG__AUDIT_RATE
 * entries a second, in bursts of AG__AUDIT_BURST. What is left out (or cannot be
 * written) is counted, in the metric passed to ag__audit_start and as "suppressed" in
 * the next entry of no known agent (an agent may read its own entries), or in one entry
 * of reason "suppressed" at stop. Strings are made safe for the ledger (bytes that are
 * not UTF-8, and control characters, become %XX). One thread appends the entries.
 * Ownership: ag__audit_start/ag__audit_stop; the ledger must outlive the audit. */
#ifndef AG_SERVER_AUDIT_H
#define AG_SERVER_AUDIT_H

#include <stdatomic.h>
#include <stdint.h>

#include "agentgov/err.h"
#include "agentgov/ledger.h"

#define AG__AUDIT_RATE  10
#define AG__AUDIT_BURST 20

struct ag__audit;

struct ag__audit_event {
    const char *agent_id; /* NULL: the token did not say (unknown, expired, revoked);
                             the entry then has no agent_id */
    const char *reason;   /* "token_missing", "token_refused", "admin_required" */
    const char *method, *path, *remote;
    const char *token;   /* as presented, NULL when none: only its HMAC is kept */
    const char *message; /* what the caller was told */
};

AG_MUST_USE ag_err ag__audit_start(ag_ledger *l, _Atomic uint64_t *suppressed_metric,
                                   struct ag__audit **out);
/* Queues one refusal (or counts it as suppressed). Thread-safe; never blocks on I/O. */
void ag__audit_refusal(struct ag__audit *a, const struct ag__audit_event *ev);
/* Refusals recorded (appended) and suppressed so far. */
void ag__audit_counts(struct ag__audit *a, uint64_t *recorded, uint64_t *suppressed);
/* Appends what is queued, then stops the thread. Accepts NULL. */
void ag__audit_stop(struct ag__audit *a);

#endif
