/* Governed runs and the sandbox: `agentgov run`'s engine (one command as a governed
 * agent: bootstrap, login, the lifecycle phases around a sandboxed child, report,
 * handoff on revocation, token revocation at the end; docs/run.md) and a sandboxed
 * spawn (`agentgov sandbox`; docs/sandbox.md).
 * Ownership: struct ag_run_opts and struct ag_spawn_opts are caller-owned and only
 * borrowed during the call (a run's handles must outlive it); struct ag_run_result is
 * caller-owned and its malloc'd members are released by ag_run_result_clear; the
 * profile texts are malloc'd for the caller. */
#ifndef AGENTGOV_RUNNER_H
#define AGENTGOV_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agentgov/auth.h"
#include "agentgov/err.h"
#include "agentgov/exit.h"
#include "agentgov/gov.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "agentgov/store.h"

/* What happened, with the exit status `agentgov run` gives for it (stable: scripts
 * and docs/run.md depend on these values). Success, an error and a refusal are the
 * statuses every command shares (agentgov/exit.h); 10-15 describe the child. */
#define AG_RUN_OUTCOME_MAP(X)                                                                      \
    X(SUCCESS, AG_EXIT_OK, "success")                                                              \
    X(ERROR, AG_EXIT_ERROR, "error")                                                               \
    X(REFUSED, AG_EXIT_DENY, "refused")                                                            \
    X(CHILD_FAILED, 10, "child_failed")                                                            \
    X(REVOKED, 12, "revoked")                                                                      \
    X(TIMEOUT, 13, "timeout")                                                                      \
    X(SANDBOX, 14, "sandbox_unavailable")                                                          \
    X(INTERRUPTED, 15, "interrupted")
enum ag_run_outcome {
#define AG__RUN_ENUM(n, code, s) AG_RUN_##n = code,
    AG_RUN_OUTCOME_MAP(AG__RUN_ENUM)
#undef AG__RUN_ENUM
};
const char *ag_run_outcome_name(enum ag_run_outcome o);

/* Everything a run needs. The handles are opened by the caller on the same data
 * directory; auth should be opened without a token cache (cache_ttl_ms -1) so that a
 * revocation by another process is seen at the next poll. */
struct ag_run_opts {
    ag_store *store;
    ag_ledger *ledger;
    const ag_policy *policy;
    ag_gov *gov;
    ag_auth *auth;

    const char *agent_id;
    const char *task_id;     /* NULL: the packet's */
    const char *packet_json; /* NULL: the packet already stored for the agent */
    int tier;                /* -1: the registered tier (T0 for a new agent) */
    const char *workdir;     /* existing directory */
    const char *report_path; /* NULL: <workdir>/agentgov-report.json */
    char *const *argv;       /* the command */

    int64_t timeout_ms;   /* 0: none */
    int64_t grace_ms;     /* SIGTERM to SIGKILL */
    int64_t poll_ms;      /* revocation poll, 0: 150 ms */
    int64_t token_ttl_ms; /* 0: the run's timeout plus grace, capped by the tier's max TTL */
    int allow_unsandboxed;

    /* Where the child reaches governance. data_dir is the runner's data directory;
     * run dirs go to <data_dir>/runs/<run id>/ (captured output, the child's view of
     * the data directory). store_path is the embedded store's file ("" or NULL when
     * the store is not an SQLite file, e.g. Redis, given to the child as store_url).
     * addr is the daemon's address ("" in embedded mode); addr_port, when > 0, is
     * added to the ports the child may connect to. */
    const char *data_dir;
    const char *ledger_path;
    const char *store_path;
    const char *store_url;
    const char *addr;
    int addr_port;
    int store_port;      /* > 0: TCP port of a network store the child may connect to */
    int no_store_access; /* 1: the child gets no view of the data directory */
    const char *bin;     /* agentgov binary handed to the child as AGENTGOV_BIN */

    int pass_stdout_fd; /* where the child's output is passed through; -1: nowhere */
    int pass_stderr_fd;
    /* Set (from a signal handler) to stop the run: the child is stopped as on a
     * revocation and the run ends with AG_RUN_INTERRUPTED. May be NULL. */
    volatile int *interrupted;
};

struct ag_run_result {
    enum ag_run_outcome outcome;
    char run_id[33];
    char message[512]; /* one line for the operator: why the run ended as it did */
    char *report_path; /* where the report was written, NULL when it was not */
    char *report_json; /* the report */
};
void ag_run_result_clear(struct ag_run_result *r);

/* Runs the command as a governed agent. Returns AG_OK when the run reached an outcome
 * (see r->outcome, which may well be a refusal); an error only for invalid options. */
AG_MUST_USE ag_err ag_run(const struct ag_run_opts *o, struct ag_run_result *r);

/* Run anyway without Landlock, or with a Landlock that lacks a feature the profile
 * relies on: the sandbox uses what the kernel has (rlimits, no_new_privs, seccomp) and
 * the caller records what is missing. Without it such a spawn fails AG_EUNSUPPORTED. */
#define AG_SPAWN_ALLOW_NO_LANDLOCK 1

/* Options of ag_sandbox_spawn; NULL means all defaults. */
struct ag_spawn_opts {
    int stdin_fd;             /* dup2'd to 0 in the child when >= 0; -1 keeps the parent's */
    int stdout_fd;            /* likewise for 1 */
    int stderr_fd;            /* likewise for 2 */
    int new_session;          /* 1: setsid() in the child, so the caller can signal the group */
    const char *const *scope; /* task scope: the paths the child may write besides workdir */
    size_t nscope;
    int flags; /* AG_SPAWN_* */
};

/* Fork, confine (Landlock, seccomp, rlimits of profile), chdir(workdir), exec. argv[0]
 * is looked up in the caller's PATH when it has no slash; envp NULL keeps the caller's
 * environment; only fds 0-2 pass. A child that could not be confined never runs the
 * command: the call fails with AG_ESANDBOX (AG_ENOTFOUND when the command does not
 * exist), naming the step. On success *pid is the running child. */
AG_MUST_USE ag_err ag_sandbox_spawn(const struct ag_sandbox_profile *profile, const char *workdir,
                                    char *const argv[], char *const envp[],
                                    const struct ag_spawn_opts *opts, pid_t *pid);
/* The profile as applied with this workdir (may be NULL), as a JSON object (what the
 * ledger records) or as readable text (what `agentgov sandbox show` prints); tier may
 * be -1 when unknown. */
AG_MUST_USE ag_err ag_sandbox_profile_json(const struct ag_sandbox_profile *profile, int tier,
                                           const char *workdir, char **out);
AG_MUST_USE ag_err ag_sandbox_profile_text(const struct ag_sandbox_profile *profile, int tier,
                                           const char *workdir, char **out);

#endif
