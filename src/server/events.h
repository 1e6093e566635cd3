/* The daemon's approvals and notifications (events.c). Ownership: the handles hang
 * off struct ag__srv and are freed by ag__server_free; the delivery thread is stopped
 * by ag__srv_stop_notify before they are. */
#ifndef AG_SERVER_EVENTS_H
#define AG_SERVER_EVENTS_H

#include "server/server.h"

/* Opens the approvals module and the outbox over the store and ledger (each is NULL,
 * logged, when it cannot start) and wires approval events to the outbox. */
void ag__srv_open_events(struct ag__srv *s);
/* agent.revoked (and budget.exhausted when a budget was the cause) into the outbox. */
void ag__srv_revocation_events(struct ag__srv *s, const char *agent_id);
/* Ledgers expiries, at most once a second (called from the main loop). */
void ag__srv_sweep_approvals(struct ag__srv *s);
void ag__srv_start_notify(struct ag__srv *s);
void ag__srv_stop_notify(struct ag__srv *s);

#endif
