/* Internal helpers of the lifecycle (bootstrap.c, transition.c, authorize.c, budget.c,
 * revoke.c), shared with promote.c. Ownership: nothing here allocates for callers; the
 * packet ag__packet_for returns belongs to the gov handle's cache. */
#ifndef AG_GOV_LIFECYCLE_H
#define AG_GOV_LIFECYCLE_H

#include "gov/gov.h"

/* Budget triggers for counts (total, same type, violations): the revocation type
 * ("PROCEDURE_VIOLATION", "ERROR_REPEATED", "ERROR_BUDGET_EXCEEDED") or NULL. */
const char *ag__budget_trigger(const struct ag_error_budget *b, int64_t total, int64_t same,
                               int64_t violations);

/* "No reason to refuse": what the helpers that return an ag_reason give when the agent may
 * act. */
#define AG__OK_REASON AG_REASON_COUNT

/* The integer value of `field` in an HGETALL reply (0 when absent). */
int64_t ag__hfield(const struct ag_store_reply *r, const char *field);

/* The session's lock value (fence + owner) into buf (AG__LOCKVAL_MAX bytes). */
void ag__lockval(const struct ag__session *s, char *buf);

/* Marks r refused for `why`, with a formatted detail. */
void ag__set_result(struct ag_transition_result *r, enum ag_reason why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Text as the ledger can hold it: s itself when it is UTF-8, else a copy in buf (cap
 * bytes) with the bad bytes as %XX. */
const char *ag__ledger_text(const char *s, char *buf, size_t cap);

/* The packet in force for a session (digest: its packet's digest, or NULL): cached by
 * digest, else read and parsed; NULL with the detail set when there is none. */
struct ag__pkt *ag__packet_for(ag_gov *g, const char *agent, const char *digest);

#endif
