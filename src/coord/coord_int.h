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

/* Who decides an agent's request. NULL (or fn NULL): ag_gov_authorize. The orchestrator
 * passes its own, which takes an ask through the approvals flow and waits for a person;
 * it returns the final effect and fills d. */
struct ag__coord_authz {
    enum ag_effect (*fn)(void *ctx, const char *agent, const char *action, const char *resource,
                         struct ag_gov_decision *d);
    void *ctx;
};
/* The same operations with the decider az (ag_coord_bb_write, ag_coord_send, ag_coord_vote
 * and ag__coord_authorize pass NULL). */
AG_MUST_USE ag_err ag__coord_authorize_x(ag_coord *c, const struct ag__coord_authz *az,
                                         const char *agent, const char *task, const char *action,
                                         const char *resource, struct ag_gov_decision *d);
AG_MUST_USE ag_err ag__coord_bb_write_x(ag_coord *c, const struct ag__coord_authz *az,
                                        const char *agent_id, const char *task, const char *section,
                                        const char *entry, const char *value_json,
                                        struct ag_gov_decision *d);
AG_MUST_USE ag_err ag__coord_send_x(ag_coord *c, const struct ag__coord_authz *az, const char *from,
                                    const char *task, const char *to, const char *type,
                                    const char *content_json, int64_t *seq,
                                    struct ag_gov_decision *d);
AG_MUST_USE ag_err ag__coord_vote_x(ag_coord *c, const struct ag__coord_authz *az,
                                    const char *agent, const char *task, enum ag_vote v,
                                    const char *reasoning, struct ag_gov_decision *d);
/* A write the kernel makes on its own behalf, recorded as ledger kind coord. */
AG_MUST_USE ag_err ag__coord_ledger(ag_coord *c, const char *task, const char *action,
                                    const char *resource);
/* "task:{task}:coord". */
void ag__coord_counter_key(char *buf, const char *task);

#endif
