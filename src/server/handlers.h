/* HTTP handlers and the route table that names them. Ownership: handlers read the
 * request and attach their reply to it; the table is static. */
#ifndef AG_SERVER_HANDLERS_H
#define AG_SERVER_HANDLERS_H

#include <stddef.h>

#include "server/router.h"
#include "server/server.h"

/* The daemon's route table. */
void ag__handlers_routes(const struct ag__route **routes, size_t *n);

/* System: health, metrics, the OPA-style decision endpoint. */
void ag__h_health(struct ag__req *r);
void ag__h_metrics(struct ag__req *r);
void ag__h_opa_decision(struct ag__req *r);

/* A decision as the JSON object every endpoint returns (decision, allow, reason,
 * tier, phase, rule). */
json_t *ag__decision_json(const struct ag_decision *d);

/* Appends an entry to the daemon's ledger, timing the commit into the metrics.
 * AG_ELEDGER when there is no ledger. */
AG_MUST_USE ag_err ag__srv_ledger_append(struct ag__srv *s, const struct ag_ledger_entry *e,
                                         int64_t *seq);

#endif
