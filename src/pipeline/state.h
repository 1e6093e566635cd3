/* A pipeline run's checkpoints on the state store and its ledger entries (kind
 * `pipeline`). Keys (docs/pipelines.md, "Checkpoints"):
 *   pipeline:{run}:meta          JSON: pipeline, status, params, times
 *   pipeline:{run}:source        JSON: the pipeline file and templates it was run from
 *   pipeline:{run}:stages        hash: stage -> JSON state
 *   (a human gate is an approval, approval:{id}, opened by gate.c)
 *   pipeline:{run}:cancel        set by `pipeline cancel`
 *   pipeline:{run}:lock          the driver's lock
 *   pipelines:runs               sorted set of run ids by creation time
 * Ownership: struct ag__pl_stage_state is caller-owned; its strings are fixed arrays. */
#ifndef AG_PIPELINE_STATE_H
#define AG_PIPELINE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agentgov/ledger.h"
#include "agentgov/store.h"

#define AG__PL_KEY_MAX 256

enum ag__pl_sstate {
    AG__PS_PENDING,
    AG__PS_RUNNING,
    AG__PS_WAITING,
    AG__PS_SUCCEEDED,
    AG__PS_FAILED,
    AG__PS_SKIPPED,
};

struct ag__pl_stage_state {
    enum ag__pl_sstate state;
    int attempt;        /* attempts started so far (running: the current one) */
    int64_t not_before; /* pending retry: wall ms before which it does not start */
    int64_t updated_at; /* wall ms */
    char message[300];
};

const char *ag__pl_state_name(enum ag__pl_sstate s);
int ag__pl_state_parse(const char *s, enum ag__pl_sstate *out);
/* "success", "failure", "skipped" for finished states, "" otherwise. */
const char *ag__pl_outcome(enum ag__pl_sstate s);

void ag__pl_key(char *buf, const char *run, const char *suffix);
/* AG_OK when run is a run id (32 lowercase hex digits), else AG_EINVAL saying so. */
AG_MUST_USE ag_err ag__pl_check_run_id(const char *run);

/* Ledgers then stores the state of one stage: the entry is committed before the
 * store holds it, and both before the caller acts on it. */
AG_MUST_USE ag_err ag__pl_checkpoint(ag_store *s, ag_ledger *l, const char *run,
                                     const char *pipeline, const char *stage, const char *agent,
                                     const char *key, const struct ag__pl_stage_state *st);
/* One stage's new state, for ag__pl_checkpoint_batch. */
struct ag__pl_change {
    const char *stage, *agent, *key;
    const struct ag__pl_stage_state *st;
};
/* The same for n changes of one run at once: their ledger entries are appended in
 * one group commit (one fsync for up to 8), then the store takes them all in one
 * exec; the caller acts on none of them before it returns AG_OK. */
AG_MUST_USE ag_err ag__pl_checkpoint_batch(ag_store *s, ag_ledger *l, const char *run,
                                           const char *pipeline, const struct ag__pl_change *c,
                                           size_t n);
AG_MUST_USE ag_err ag__pl_stage_json(const struct ag__pl_stage_state *st, char **json);
AG_MUST_USE ag_err ag__pl_stage_from_json(const char *json, struct ag__pl_stage_state *st);

/* A run-level ledger entry (action "run.start", "run.end", "run.cancel", ...). */
AG_MUST_USE ag_err ag__pl_ledger_run(ag_ledger *l, const char *run, const char *pipeline,
                                     const char *action, int success, const char *reason,
                                     const char *data_json);

/* The JSON at pipeline:{run}:SUFFIX; AG_ENOTFOUND naming the run when absent. */
AG_MUST_USE ag_err ag__pl_get_json(ag_store *s, const char *run, const char *suffix, json_t **out);
/* The run's pipeline, loaded from the sources stored with it (runs.c). */
struct ag_pipeline;
AG_MUST_USE ag_err ag__pl_load_stored(ag_store *s, const char *run, struct ag_pipeline **out);

#endif
