/* Revocation of a running agent, shared by the budgets and transitions. Ownership: the
 * caller keeps the session; nothing is allocated for it. */
#ifndef AG_GOV_REVOKE_H
#define AG_GOV_REVOKE_H

#include "gov/gov.h"

/* Revokes the agent whose current session (possibly blank) is s, for `type` (e.g.
 * "ERROR_BUDGET_EXCEEDED") with details. */
AG_MUST_USE ag_err ag__revoke_session(ag_gov *g, struct ag__session *s, const char *type,
                                      const char *details);

#endif
