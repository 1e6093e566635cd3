/* What a governed child is given: its environment (token, daemon address, ids, its
 * view of the data directory), that view itself (an "api" directory of hard links to
 * the store and ledger files, without any key), and its sandbox profile (the tier's,
 * widened by exactly what those need). Ownership: struct ag__run_env owns everything
 * it holds (strings, arrays, the api directory on disk) and ag__run_env_free releases
 * it and removes the directory; the profile it builds borrows from it. */
#ifndef AG_RUNNER_RUN_ENV_H
#define AG_RUNNER_RUN_ENV_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"
#include "agentgov/policy.h"

struct ag__run_env_in {
    const struct ag_sandbox_profile *base; /* the tier's profile */
    const char *run_dir;                   /* existing directory of this run */
    const char *ledger_path;               /* the ledger database */
    const char *store_path;                /* embedded store file, NULL/"" when none */
    const char *store_url;                 /* handed over when store_path is empty */
    const char *policy_path;               /* the policy in force (copied for the child) */
    const char *config_path;               /* may be missing */
    const char *bin;                       /* agentgov binary, NULL: none */
    int no_store_access;                   /* 1: no api directory */
    int addr_port, store_port;             /* extra TCP connect ports, 0: none */
    /* Environment values. */
    const char *token, *addr, *agent_id, *task_id, *run_id, *workdir;
    const char *ca_cert; /* AGENTGOV_CA_CERT, readable in the sandbox; NULL: none */
};

struct ag__run_env {
    char **envp; /* NULL-terminated */
    size_t nenv;
    char api_dir[PATH_MAX]; /* "" when none */
    struct ag_sandbox_profile profile;
    const char **read, **write;
    uint16_t *connect;
    char **owned; /* strings the arrays point to */
    size_t nowned;
};

/* Builds the child's environment from environ (without any AGENTGOV_* or VAULT_*
 * variable, which could carry keys or another identity) plus the run's, creates the
 * api directory, and widens the profile: the view (read/write), the binary (read),
 * the daemon's and the store's TCP ports, and socket(AF_UNIX) when addr is unix:. */
AG_MUST_USE ag_err ag__run_env_build(const struct ag__run_env_in *in, struct ag__run_env *out);
void ag__run_env_free(struct ag__run_env *e);

#endif
