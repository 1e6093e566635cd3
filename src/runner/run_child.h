/* Supervision of one governed child process: spawn it under the sandbox, capture its
 * stdout and stderr to files (up to a cap, and pass them through), watch a deadline
 * and a caller's check, stop its process group with SIGTERM then SIGKILL after a
 * grace period, and at its end kill every process it left behind (the caller becomes
 * a child subreaper: see run_reap.h; it must have no other children to keep).
 * Ownership: struct ag__child_opts and struct ag__child_result are caller-owned; the
 * options only borrow their strings and arrays for the duration of ag__child_run. */
#ifndef AG_RUNNER_RUN_CHILD_H
#define AG_RUNNER_RUN_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agentgov/err.h"
#include "agentgov/policy.h"

/* Why the child ended. */
enum ag__child_end {
    AG_CHILD_EXITED = 0,  /* it exited (or died of a signal) on its own */
    AG_CHILD_STOPPED = 1, /* the check asked for it to stop (revocation, interrupt) */
    AG_CHILD_TIMEOUT = 2, /* the deadline passed */
};

/* Called about every poll_ms while the child runs. Returns 0 to let it run, non-0 to
 * stop it; the reason written to why is kept in the result. */
typedef int (*ag__child_check_fn)(void *ctx, char *why, size_t cap);

struct ag__child_opts {
    const struct ag_sandbox_profile *profile;
    const char *workdir;
    const char *const *scope; /* the packet's scope, narrowing writes (see sandbox.h) */
    size_t nscope;
    int sandbox_flags; /* AG_SANDBOX_* */
    char *const *argv;
    char *const *envp;       /* NULL: the caller's environment */
    const char *stdout_path; /* capture files (created 0600, truncated); required */
    const char *stderr_path;
    int64_t capture_max; /* bytes kept per capture file (the rest is dropped); 0: all */
    int pass_stdout_fd;  /* copies of the output also go here; -1: none */
    int pass_stderr_fd;
    int64_t timeout_ms; /* 0: none */
    int64_t grace_ms;   /* SIGTERM to SIGKILL */
    int64_t poll_ms;    /* how often check runs; 0: 150 ms */
    ag__child_check_fn check;
    void *check_ctx;
};

struct ag__child_result {
    pid_t pid;
    enum ag__child_end end;
    int exit_code;         /* exit status when it exited, else -1 */
    int term_signal;       /* signal that ended it, else 0 */
    int killed;            /* 1: SIGKILL was needed after the grace period */
    int64_t started_ms;    /* wall clock */
    int64_t ended_ms;      /* wall clock */
    int64_t stop_ms;       /* time from SIGTERM to the child's end, -1 when not stopped */
    uint64_t stdout_bytes; /* bytes the child wrote (the file keeps capture_max of them) */
    uint64_t stderr_bytes;
    int stdout_truncated; /* 1: it wrote more than capture_max; the rest was dropped */
    int stderr_truncated;
    int leftovers;       /* processes it left behind, killed and reaped at its end */
    int leftovers_alive; /* descendants still found when the reaping gave up (0) */
    char why[256];       /* the stop reason ("timeout after 2s", the check's text) */
};

/* Runs argv to its end. Returns AG_OK once the child ran (whatever its fate, see r);
 * AG_ENOTFOUND when the command does not exist, AG_ESANDBOX when it could not be
 * confined (nothing ran), AG_EIO when a capture file cannot be created. */
AG_MUST_USE ag_err ag__child_run(const struct ag__child_opts *o, struct ag__child_result *r);

#endif
