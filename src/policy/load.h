/* Policy file loader and linter: YAML tree -> validated model -> index. Ownership: the
 * loader allocates the ag_policy it returns; diagnostics are handed to the caller's
 * callback and not kept. The public entry points are in agentgov/policy.h. */
#ifndef AG_POLICY_LOAD_H
#define AG_POLICY_LOAD_H

#include <stddef.h>

#include "agentgov/policy.h"

/* Validates yaml and reports every problem, sorted by position, through cb (which may
 * be NULL). With out non-NULL and no problem, *out receives the loaded policy.
 * Returns AG_EPARSE when there was a problem; ag_last_error() then holds the first. */
AG_MUST_USE ag_err ag__policy_parse(const char *name, const char *yaml, size_t len,
                                    ag_policy_diag_cb cb, void *ctx, ag_policy **out);

#endif
