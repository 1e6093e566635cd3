/* YAML pipelines of governed stages (docs/pipelines.md): loading and validation, runs
 * checkpointed on the state store and ledgered, resume after a crash, human gates.
 * Ownership: ag_pipeline is an opaque handle (ag_pipeline_load/ag_pipeline_free);
 * strings returned through char ** are malloc'd for the caller; every other struct is
 * caller-owned and only borrowed during the call. */
#ifndef AGENTGOV_PIPELINE_H
#define AGENTGOV_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"
#include "agentgov/ledger.h"
#include "agentgov/store.h"

typedef struct ag_pipeline ag_pipeline;

/* The revocation type recorded when `pipeline cancel` stops a running stage by
 * revoking its agent (docs/pipelines.md, "Cancelling"). */
#define AG_PIPELINE_CANCEL_REVOCATION "PIPELINE_CANCELLED"

/* What the loader may not do itself (it opens nothing by path). */
struct ag_pipeline_source_ops {
    void *ctx;
    /* Reads a file a pipeline names (`uses:` templates and their packets), as written
     * in the file that names it and relative to the file `from`. *text is malloc'd. */
    ag_err (*read)(void *ctx, const char *from, const char *path, char **text, size_t *len);
    /* 1 when agent_id is registered. NULL: only agents declared under `agents:` (or
     * by a template) are known. */
    int (*agent_known)(void *ctx, const char *agent_id);
};

/* Loads and validates a pipeline. Every problem found is a "file:line:col: message"
 * line of *diags (malloc'd, NULL when there are none) and the result is AG_EPARSE with
 * *out NULL; otherwise *out is the pipeline. ops may be NULL (no templates, only
 * declared agents). */
AG_MUST_USE ag_err ag_pipeline_load(const char *file, const char *text, size_t len,
                                    const struct ag_pipeline_source_ops *ops, ag_pipeline **out,
                                    char **diags);
void ag_pipeline_free(ag_pipeline *p);
const char *ag_pipeline_name(const ag_pipeline *p);
size_t ag_pipeline_stage_count(const ag_pipeline *p);

/* ------------------------------------------------------------- execution --- */

/* One attempt of one stage, as handed to the executor. */
struct ag_pipeline_attempt {
    const char *run_id, *pipeline, *stage;
    const char *kind;        /* "agent", "shell" (a command), "orchestrate" or "llm" (an
                                LLM agent: an agent stage without run:) */
    const char *agent;       /* the governed agent the command runs as */
    int tier;                /* the declared tier, -1: the registered one */
    const char *packet_json; /* the declared packet template, NULL: the executor's */
    char *const *argv;       /* NULL-terminated, parameters substituted */
    const char *workdir;     /* the stage's directory (exists) */
    const char *ctl_dir;     /* where the executor keeps this attempt's files (exists) */
    const char *idem_key;    /* exported as AGENTGOV_IDEMPOTENCY_KEY; the same for
                                every attempt of the stage in this run */
    int attempt;             /* 1, 2, ... */
    int64_t timeout_ms;      /* 0: the executor's default */
    const char *const *artifacts;
    size_t nartifacts;
    /* orchestrate and llm: the objective (the stage's task:, parameters substituted;
     * NULL for an LLM agent without one: its packet's), the endpoint (URL or
     * "replay:FILE"; NULL: the executor's configured one) and the model (NULL: ditto).
     * argv is empty for them. */
    const char *task;
    const char *llm;
    const char *model;
};

enum ag_pipeline_check {
    AG_PL_RUNNING,     /* still running */
    AG_PL_FINISHED,    /* finished: the result is filled */
    AG_PL_NOT_STARTED, /* never launched (safe to start) */
    AG_PL_LOST,        /* launched, gone, no result: it may have run in part */
};

struct ag_pipeline_result {
    int ok;
    int revoked;   /* the agent was revoked: never retried with the same agent */
    int retryable; /* a failure worth another attempt (not a refusal) */
    char outcome[32];
    char message[256];
};

/* Runs stage attempts. Attempts are identified by (run_id, stage, attempt): check must
 * answer for an attempt this process started and for one a crashed process started. */
struct ag_pipeline_executor {
    void *ctx;
    AG_MUST_USE ag_err (*start)(void *ctx, const struct ag_pipeline_attempt *a);
    AG_MUST_USE ag_err (*check)(void *ctx, const struct ag_pipeline_attempt *a,
                                enum ag_pipeline_check *st, struct ag_pipeline_result *r);
    /* Blocks until an attempt may have finished, at most timeout_ms. */
    void (*wait)(void *ctx, int64_t timeout_ms);
    /* Asks a running attempt to stop (cancel). */
    void (*stop)(void *ctx, const struct ag_pipeline_attempt *a);
};

struct ag_pipeline_env {
    ag_store *store;
    ag_ledger *ledger;
    const struct ag_pipeline_executor *exec;
    const char *work_root;     /* <work_root>/<run id>/<stage>/ are the stage dirs */
    int64_t checkpoint_ttl_ms; /* a finished run's keys expire after this; 0: 7 days */
    int64_t poll_ms;           /* gate and cancel polling; 0: 100 ms */
    volatile int *interrupted; /* set from a signal handler: stop driving (resumable) */
    /* The driver's identity for the run lock ("pid:start@host"), and whether the
     * owner recorded in a lock is still alive (NULL: a lock is honoured until it
     * expires). */
    const char *owner;
    int (*owner_alive)(void *ctx, const char *owner);
    void *owner_ctx;
    /* Called with one JSON object per state change (for --json and logs). */
    void (*event)(void *ctx, const char *json);
    void *event_ctx;
};

/* Creates a run of p: checks params ("name=value"), stores the pipeline's sources,
 * parameters and every stage as pending, and ledgers the start. run_id gets the id. */
AG_MUST_USE ag_err ag_pipeline_create_run(const struct ag_pipeline_env *env, const ag_pipeline *p,
                                          const char *const *params, size_t nparams,
                                          char run_id[33]);
/* Drives a run from its last checkpoint until it ends, is cancelled or interrupted.
 * status gets "succeeded", "failed", "cancelled" or "interrupted". AG_ELOCKED when a
 * live process drives it already. */
AG_MUST_USE ag_err ag_pipeline_drive(const struct ag_pipeline_env *env, const char *run_id,
                                     char status[16]);

/* A run's meta and stage states as JSON ({"run_id":..,"status":..,"stages":[..]}). */
AG_MUST_USE ag_err ag_pipeline_status(ag_store *s, const char *run_id, char **json);
/* Known runs, newest first, as a JSON array of status summaries. */
AG_MUST_USE ag_err ag_pipeline_list(ag_store *s, char **json);
/* Asks the driver of a run to stop its running stages and end it as cancelled. */
AG_MUST_USE ag_err ag_pipeline_cancel(ag_store *s, ag_ledger *l, const char *run_id,
                                      const char *by);
/* Answers the human gate of stage in run, which is an approval (agentgov/approve.h):
 * votes on it as the person by (approve 1, or 0: deny). AG_ESTATE when the gate is not
 * pending; AG_EPERM when by is not one of its approvers; AG_ENOTFOUND when it is not
 * open (yet). An approver approving again counts once and is AG_OK. The ledger must
 * have its signing key (an approved gate's grant is signed), as for ag_pipeline_drive. */
AG_MUST_USE ag_err ag_pipeline_gate_answer(ag_store *s, ag_ledger *l, const char *run_id,
                                           const char *stage, int approve, const char *by,
                                           const char *reason);

#endif
