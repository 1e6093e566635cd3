/* The workdir tools of `agentgov orchestrate --workdir DIR` (ag_orch_exec_fn): commands
 * run through the runner's kernel sandbox with the agent's tier profile, files read and
 * written beneath the workdir only. Ownership: struct ag__orch_exec is caller-owned
 * and borrows the policy; results are malloc'd for the caller. */
#ifndef AG_CLI_ORCH_EXEC_H
#define AG_CLI_ORCH_EXEC_H

#include "agentgov/coord.h"
#include "agentgov/policy.h"

struct ag__orch_exec {
    const ag_policy *policy;
    const char *workdir;
    int dirfd;          /* the workdir, opened O_PATH; -1 until ag__orch_exec_init */
    int64_t timeout_ms; /* per command */
};

/* Opens the workdir (it must exist and be a directory). 0, or -1 after printing why. */
int ag__orch_exec_init(struct ag__orch_exec *x, const ag_policy *policy, const char *workdir,
                       int64_t timeout_ms);
void ag__orch_exec_close(struct ag__orch_exec *x);
/* The ag_orch_exec_fn: ctx is a struct ag__orch_exec. */
ag_err ag__orch_exec(void *ctx, const char *agent_id, int tier, const char *action,
                     const char *args_json, char **result);

#endif
