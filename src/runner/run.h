/* The governed runner: runs one command as a governed agent (bootstrap, login, the
 * lifecycle phases around a sandboxed child, report, handoff on revocation, token
 * revocation at the end). See docs/run.md.
 * Ownership: as agentgov/runner.h says (struct ag_run_opts borrowed during the call,
 * struct ag_run_result released by ag_run_result_clear). */
#ifndef AG_RUNNER_RUN_H
#define AG_RUNNER_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/auth.h"
#include "agentgov/err.h"
#include "agentgov/gov.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "agentgov/runner.h"
#include "agentgov/store.h"

/* The run's types and entry points are public (agentgov/runner.h); the runner's files
 * name them by their internal names. */
#define ag__run_outcome      ag_run_outcome
#define ag__run_outcome_name ag_run_outcome_name
#define ag__run_opts         ag_run_opts
#define ag__run_result       ag_run_result
#define ag__run_result_clear ag_run_result_clear
#define ag__run              ag_run

#endif
