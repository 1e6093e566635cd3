/* Internal helpers of the lifecycle (bootstrap, transition, authorize, budgets,
 * revocation), shared with promote.c. Ownership: nothing here allocates for callers. */
#ifndef AG_GOV_LIFECYCLE_H
#define AG_GOV_LIFECYCLE_H

#include "gov/gov.h"

/* Budget triggers for counts (total, same type, violations): the revocation type
 * ("PROCEDURE_VIOLATION", "ERROR_REPEATED", "ERROR_BUDGET_EXCEEDED") or NULL. */
const char *ag__budget_trigger(const struct ag_error_budget *b, int64_t total, int64_t same,
                               int64_t violations);

#endif
