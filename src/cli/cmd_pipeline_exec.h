/* The executor of `agentgov pipeline run|resume`: each stage attempt is an `agentgov
 * run` process (the governed runner, with its sandbox, lifecycle and report),
 * started so that a driver that crashes can find out afterwards what became of it.
 * Ownership: struct ag__cli_plexec is caller-owned (ag__cli_plexec_init/_free). */
#ifndef AG_CLI_CMD_PIPELINE_EXEC_H
#define AG_CLI_CMD_PIPELINE_EXEC_H

#include <stdint.h>
#include <sys/types.h>

#include "agentgov/gov.h"
#include "agentgov/pipeline.h"

#define AG__PLEXEC_SLOTS 1024

struct ag__plexec_slot {
    char id[300]; /* run/stage/attempt */
    pid_t pid;
    int pidfd; /* -1: none */
    int own;   /* our child (waitpid), else adopted after a restart */
    int done, status;
};

struct ag__cli_plexec {
    char bin[4096];
    const char *store_flag, *policy_flag;
    int64_t default_timeout_ms;
    ag_gov *gov; /* to tell new agents (given their declared tier) from registered ones */
    struct ag__plexec_slot slots[AG__PLEXEC_SLOTS];
    size_t nslots;
    struct ag_pipeline_executor exec;
};

void ag__cli_plexec_init(struct ag__cli_plexec *x);
void ag__cli_plexec_free(struct ag__cli_plexec *x);

/* Revokes the agents attempt a runs as (type AG_PIPELINE_CANCEL_REVOCATION): what a
 * cancel does to a running stage. Returns how many are revoked now (already revoked
 * ones included); 0 when none could be (none registered, the store refused). */
size_t ag__cli_pl_revoke_attempt(ag_gov *gov, const struct ag_pipeline_attempt *a);

/* "pid:starttime@host" of this process, for the run lock. */
void ag__cli_pl_owner(char *buf, size_t cap);
/* Whether the owner written by ag__cli_pl_owner (maybe in another process) still runs. */
int ag__cli_pl_owner_alive(void *ctx, const char *owner);

#endif
