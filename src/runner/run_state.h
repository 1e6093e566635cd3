/* The state of one governed run, shared by run.c (the run and its lifecycle),
 * run_prep.c (before the child) and run_report.c (after it). Ownership: struct ag__run
 * lives on ag__run's stack; its JSON members and handoff_in are released by run.c. */
#ifndef AG_RUNNER_RUN_STATE_H
#define AG_RUNNER_RUN_STATE_H

#include <jansson.h>
#include <limits.h>

#include "runner/run.h"
#include "runner/run_child.h"
#include "runner/sandbox.h"

/* Everything one run accumulates; the report is rendered from it. */
struct ag__run {
    const struct ag__run_opts *o;
    struct ag__run_result *r;
    char task[160];
    int tier;
    ag_packet *pk;
    const struct ag_sandbox_profile *profile;
    char boot_code[40];
    char *handoff_in; /* the task's handoff at bootstrap */
    int bootstrapped;
    int barred;          /* revoked before this run: bootstrap will refuse it */
    enum ag_phase phase; /* last phase recorded */
    char step[130];
    json_t *phases; /* [{phase, step, ok, at, detail}] */
    json_t *artifacts;
    json_t *missing;
    json_t *sandbox; /* the profile as applied */
    int confined;
    int sandbox_flags;  /* AG_SANDBOX_* for the spawn */
    json_t *ll_missing; /* Landlock features the run lacks (--allow-unsandboxed) */
    char ll_missing_txt[300];
    char run_dir[PATH_MAX];
    char out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
    /* credentials */
    char token[AG_TOKEN_BUF];
    struct ag_token_info tinfo;
    int have_token, token_revoked;
    /* the child */
    int child_ran;
    ag_err spawn_err;
    char spawn_detail[256];
    struct ag__child_result child;
    int64_t polls, last_hb;
    int interrupted; /* the watch stopped the child because of a signal */
    int watch_failures;
    char login_error[256];
    /* revocation */
    int revoked;
    char rev_type[64], rev_details[256], rev_phase[32], rev_step[130];
    int verify_ok;
    int handoff_written;
    enum ag__run_outcome outcome;
    int outcome_set;
    int64_t started_ms;
};

/* For best-effort calls: their failure changes nothing for the run (a refusal stays a
 * refusal). Passing the value on counts as using it for warn_unused_result. */
static inline void ag__run_ignore_err(ag_err e)
{
    (void)e;
}

/* Sets the run's outcome and message; the first call wins (the first cause is what the
 * exit status reports). */
void ag__run_set_outcome(struct ag__run *R, enum ag__run_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* One entry of the runner's own (kind action or lifecycle); data is a JSON object
 * (stolen). Failure is returned: the caller decides whether it is fatal. */
AG_MUST_USE ag_err ag__run_ledger_note(struct ag__run *R, const char *kind, const char *action,
                                       const char *decision, const char *reason, int success,
                                       json_t *data);
/* Appends phase ph (its step, whether it was recorded, the detail of a refusal) to the
 * report's phase list. */
void ag__run_note_phase(struct ag__run *R, enum ag_phase ph, const char *step, int ok,
                        const char *detail);
/* Reads the revocation recorded in the agent's state ({"phase":"REVOKED",
 * "revocation":{"type","details"},"prev_phase","step"}). Returns 1 when revoked, 0
 * when not, -1 when the store could not say. */
int ag__run_read_revocation(struct ag__run *R);
/* Moves the run to ph. Returns 1 when recorded; 0 when the lifecycle refused it
 * (then the run is revoked or has lost its lock, and walks no further). */
int ag__run_transition(struct ag__run *R, enum ag_phase ph, const char *step);
/* The capture files live in the data directory: each keeps at most the tier's file
 * size limit of its stream (or CAPTURE_MAX_DEFAULT without one). */
int64_t ag__run_capture_max(const struct ag__run *R);

#endif
