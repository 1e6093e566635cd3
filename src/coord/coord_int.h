/* Internal side of the coordination handle, shared by coord.c, msg.c and vote.c.
 * Ownership: struct ag_coord borrows its store, gov and ledger. */
#ifndef AG_COORD_INT_H
#define AG_COORD_INT_H

#include "agentgov/coord.h"

#define AG__COORD_KEY_MAX 320

struct ag_coord {
    ag_store *store;
    ag_gov *gov;
    ag_ledger *ledger;
    int64_t ttl_ms;
};

/* Agent and task ids as the gov layer accepts them ([A-Za-z0-9._@-], 1..128). */
int ag__coord_id_ok(const char *id);
/* Authorizes agent for action on resource; AG_EPERM (naming the reason) unless allowed,
 * counting the refusal in task:{task}:coord. d may be NULL. */
AG_MUST_USE ag_err ag__coord_authorize(ag_coord *c, const char *agent, const char *task,
                                       const char *action, const char *resource,
                                       struct ag_gov_decision *d);
/* A write the kernel makes on its own behalf, recorded as ledger kind coord. */
AG_MUST_USE ag_err ag__coord_ledger(ag_coord *c, const char *task, const char *action,
                                    const char *resource);
/* "task:{task}:coord". */
void ag__coord_counter_key(char *buf, const char *task);

#endif
