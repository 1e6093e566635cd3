/* Internal side of the orchestrator, shared by orch.c (set-up, monitor, consensus),
 * agent.c (one governed LLM agent) and tools.c (the tools an agent's model may call).
 * Ownership: struct ag__orch owns the agents' run structs; handles are borrowed from
 * the caller's ag_orch_opts. */
#ifndef AG_COORD_ORCH_INT_H
#define AG_COORD_ORCH_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "agentgov/coord.h"
#include "coord/coord_int.h"

#define AG__ORCH_MAX_AGENTS 4

struct ag__orch;

/* One agent's run. */
struct ag__agent_run {
    struct ag__orch *o;
    char role[16]; /* "alpha", "beta", "gamma" */
    char id[160];  /* "<role>@<task>" */
    int tier;      /* its registered tier */
    pthread_t thread;
    int started;
    atomic_int done;
    int revoked;
    int failed;
    int llm_down;  /* it ended because its model could not be reached */
    char why[200]; /* how it ended */
    enum ag_phase phase;
    char tried[512]; /* the tools it called, for a handoff */
};

struct ag__orch {
    const struct ag_orch_opts *opts;
    char task[132];
    int64_t deadline_mono;
    atomic_int stop;
    atomic_int interrupted; /* stopped by opts->interrupt, not by the timeout */
    atomic_llong last_progress_mono;
    atomic_int tool_calls, tool_denied, revoked;
    atomic_int waiting; /* tool calls waiting for a person's approval (STUCK pauses) */
    int art_fd;         /* artifacts_dir opened O_PATH, -1 when none */
    char *art_real;     /* its realpath */
    enum ag_spawn_reason spawn_reason;
    int complexity_pm, needs_validation;
    struct ag__agent_run runs[AG__ORCH_MAX_AGENTS];
    size_t nruns;
};

/* The tools' JSON definitions (OpenAI function-calling format), static; with_workdir
 * adds shell_exec, file_read and file_write, with_artifacts artifact_read. */
const char *ag__orch_tools_json(int with_workdir, int with_artifacts);

/* The decider an agent's tool calls go through (struct ag__coord_authz's fn): the
 * lifecycle, and for an ask the approvals flow (ask.c). ctx is a struct ag__orch_ask. */
struct ag__orch_ask {
    struct ag__agent_run *run;
    const char *args_json; /* the tool call's arguments: the approval is bound to them */
    char approval_id[AG_APPROVAL_ID_BUF];
    char detail[240]; /* why an ask ended in a refusal, for the model */
};
enum ag_effect ag__orch_decide(void *ctx, const char *agent, const char *action,
                               const char *resource, struct ag_gov_decision *d);

/* Opens opts->artifacts_dir for the run (o->art_fd, o->art_real); AG_OK without one. */
AG_MUST_USE ag_err ag__orch_artifacts_open(struct ag__orch *o);
void ag__orch_artifacts_close(struct ag__orch *o);
/* Writes the task's result as file name in the artifacts directory (none: nothing),
 * beneath it only, and lists it in task:{id}:artifacts with its digest. Best effort:
 * the blackboard keeps the result whatever happens to the file. */
void ag__orch_artifact_save(struct ag__orch *o, const char *name, const char *text);
/* The artifact_read tool: resolves path, authorizes artifact.read through az, reads.
 * AG_EPERM when refused (d filled), AG_EINVAL for the model's mistakes. */
AG_MUST_USE ag_err ag__orch_artifact_read(struct ag__agent_run *run,
                                          const struct ag__coord_authz *az, const char *path,
                                          struct ag_gov_decision *d, char **result);
/* Runs one tool call for run: authorizes, executes, returns the text for the model
 * (malloc'd) in *result. *revoked is set when the call revoked the agent. */
AG_MUST_USE ag_err ag__orch_tool(struct ag__agent_run *run, const char *name, const char *args,
                                 char **result, int *revoked);
/* Maps a role name the model uses ("beta", "*") to an agent id of this task. */
void ag__orch_agent_id(const struct ag__orch *o, const char *role, char *out, size_t len);

/* Registers, bootstraps and starts an agent thread with role and a spawn reason for
 * GAMMA's prompt (AG_SPAWN_NONE for the first wave). */
AG_MUST_USE ag_err ag__orch_start_agent(struct ag__orch *o, const char *role,
                                        enum ag_spawn_reason why);
/* The thread body. */
void *ag__orch_agent_main(void *arg);

#endif
