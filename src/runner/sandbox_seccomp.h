/* The seccomp half of the sandbox. Ownership: the BPF program goes to the sandbox
 * (ag__sandbox_free releases it); descriptions are static strings. */
#ifndef AG_RUNNER_SANDBOX_SECCOMP_H
#define AG_RUNNER_SANDBOX_SECCOMP_H

#include "runner/sandbox_state.h"

/* At most this many argument rules are described. */
#define AG__SC_RULES_MAX 12

/* One line per argument rule of the filter, for the ledger and `sandbox show`; returns
 * how many. */
size_t ag__sc_describe(const struct ag_sandbox_profile *p, const char *out[AG__SC_RULES_MAX]);
/* Compiles the filter to BPF in the parent so the child only has to load it. */
AG_MUST_USE ag_err ag__sc_build(struct ag__sandbox *sb, const struct ag_sandbox_profile *p);

#endif
