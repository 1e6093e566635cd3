/* Governed runs and the sandbox: `agentgov run`'s engine (one command as a governed
 * agent: bootstrap, login, the lifecycle phases around a sandboxed child, report,
 * handoff on revocation, token revocation at the end; docs/run.md) and a sandboxed
 * spawn (`agentgov sandbox`; docs/sandbox.md).
 * Ownership: struct ag_run_opts and struct ag_spawn_opts are caller-owned and only
 * borrowed during the call (a run's handles must outlive it); struct ag_run_result is
 * caller-owned and its malloc'd members are released by ag_run_result_clear; the
 * profile texts are malloc'd for the caller; an ag_backstop is opaque, made by
 * ag_backstop_build and released by ag_backstop_free, copies what it is given, and
 * lends the strings ag_backstop_grant returns until it is freed. */
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
     * added to the ports the child may connect to. ca_cert (NULL: none) is the CA
     * certificate of a daemon serving TLS: handed over as AGENTGOV_CA_CERT and made
     * readable in the sandbox. */
    const char *data_dir;
    const char *ledger_path;
    const char *store_path;
    const char *store_url;
    const char *addr;
    const char *ca_cert;
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

/* Landlock ABI of the running kernel: 0 when Landlock is absent or disabled, else the
 * version (1..). */
int ag_landlock_abi(void);

/* ---- The coding-agent backstop (docs/sandbox.md, "The coding-agent backstop") ---------- */

/* A computed grant list: the paths a confined coding agent may list, read or write
 * (anything not listed is unreachable). */
typedef struct ag_backstop ag_backstop;

/* What the grant list is computed from; every member is borrowed during the build. */
struct ag_backstop_opts {
    const char *home;     /* the user's home directory; NULL or "" for none */
    const char *project;  /* the project directory (writable, protected files carved out) */
    const char *data_dir; /* agentgov's data directory, read-only; NULL for none */
    /* Files in data_dir the agent's hooks must write (the ledger's); every other file
     * there is read-only, and its keys unreadable. */
    const char *const *data_writable;
    size_t ndata_writable;
    const char *const *binaries; /* agentgov's executables and policies: read-only */
    size_t nbinaries;
    const char *const *programs; /* the agent's program (its package): read-only */
    size_t nprograms;
    /* The policy whose deny rules on file.read (unreadable) and file.write (read-only)
     * are carved out too; NULL for none. */
    const ag_policy *policy;
};

/* Computes the coding-agent profile's grant list (system directories read-only, the
 * project and the agent's state writable, credential stores and agentgov's keys
 * unreadable, the policy's deny rules carved out). Errors: AG_EINVAL (a relative
 * path), AG_ELIMIT (a pattern walk visited too many entries: the detail names the
 * root), AG_EIO (a directory that must be enumerated cannot be read), AG_ENOMEM. */
AG_MUST_USE ag_err ag_backstop_build(const struct ag_backstop_opts *o, ag_backstop **out);
void ag_backstop_free(ag_backstop *b);

/* The number of grants, and the i-th one in path order: its path, its access ("list",
 * "read" or "write") and why it is granted ("" when no reason is recorded). Returns 0,
 * or -1 (and leaves the outputs alone) when i is out of range. */
size_t ag_backstop_ngrants(const ag_backstop *b);
int ag_backstop_grant(const ag_backstop *b, size_t i, const char **path, const char **access,
                      const char **why);
/* The list as text, one grant a line ("  write  /home/ana/proj  (the project)"). */
AG_MUST_USE ag_err ag_backstop_text(const ag_backstop *b, char **out);

/* As ag_sandbox_spawn, except that Landlock grants exactly b's paths (and the base
 * devices) instead of the workdir and the profile's paths; the profile's ports, rlimits
 * and socket rules apply as usual. opts->scope is ignored (the grants say it all). */
AG_MUST_USE ag_err ag_backstop_spawn(const ag_backstop *b, const struct ag_sandbox_profile *profile,
                                     const char *workdir, char *const argv[], char *const envp[],
                                     const struct ag_spawn_opts *opts, pid_t *pid);

#endif
