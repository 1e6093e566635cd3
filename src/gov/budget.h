/* Error budgets, shared by transitions (violations) and authorize (forbidden actions).
 * Ownership: nothing here allocates for callers. */
#ifndef AG_GOV_BUDGET_H
#define AG_GOV_BUDGET_H

#include "gov/gov.h"

/* Counts one error of `type` (the budget's name for it) for agent, ledgers it as `ltype`
 * with message, and revokes when a trigger fires; r says whether it did. */
AG_MUST_USE ag_err ag__count_error(ag_gov *g, const char *agent, const char *type,
                                   const char *ltype, const char *message,
                                   struct ag_transition_result *r);

#endif
