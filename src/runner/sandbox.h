/* Kernel sandbox for governed child processes: rlimits, no_new_privs, Landlock and a
 * seccomp filter, derived from a tier's struct ag_sandbox_profile.
 * Ownership: struct ag__sandbox is opaque, made by ag__sandbox_prepare and released by
 * ag__sandbox_free (accepts NULL); it copies everything it needs, so the profile,
 * workdir and scope may be freed once prepare returns. Rendered texts are malloc'd
 * and handed to the caller.
 *
 * Two-step design: everything that allocates or may fail slowly (opening paths,
 * building the Landlock ruleset, compiling the seccomp filter to BPF) happens in
 * ag__sandbox_prepare, in the parent. ag__sandbox_enter only issues system calls, so
 * it is safe in a child forked from a multi-threaded parent (no malloc, no locks). */
#ifndef AG_RUNNER_SANDBOX_H
#define AG_RUNNER_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "agentgov/err.h"
#include "agentgov/policy.h"
#include "runner/backstop.h"

struct ag__sandbox;

/* Landlock ABI of the running kernel: 0 when Landlock is absent or disabled, else
 * the version (1..). Cached after the first call. */
int ag__landlock_abi(void);

/* Flags for ag__sandbox_prepare. */
enum {
    /* Without Landlock, or with a Landlock that lacks a feature the profile relies on
     * (ag__sandbox_missing), prepare fails with AG_EUNSUPPORTED unless this flag is
     * given; with it, the sandbox uses what the kernel has (without Landlock: rlimits,
     * no_new_privs and seccomp, landlock_abi 0) and the caller records what is
     * missing. */
    AG_SANDBOX_ALLOW_NO_LANDLOCK = 1 << 0,
};

/* The Landlock features that profile p relies on and that ABI abi (0: no Landlock)
 * lacks: their names (static strings) go to out, up to cap; returns how many. Every
 * profile needs truncate rights (3), device ioctl rights (5) and the scoping of
 * signals and abstract unix sockets (6); one with TCP ports needs port rules (4). */
size_t ag__sandbox_missing(const struct ag_sandbox_profile *p, int abi, const char **out,
                           size_t cap);
/* The same as one line ("a; b" in buf), "" when nothing is missing. Returns buf. */
const char *ag__sandbox_missing_text(const struct ag_sandbox_profile *p, int abi, char *buf,
                                     size_t cap);

/* Builds a sandbox for one child. workdir must be an existing directory; it is
 * readable (and writable when profile->workdir_write) by the child. scope holds the
 * task packet's resource globs (NULL/0 = none): those whose literal prefix names an
 * existing filesystem location narrow the writable area to where they intersect the
 * workdir and the profile's write paths (see docs/sandbox.md). Paths of the profile
 * that do not exist are skipped. Errors: AG_EINVAL (bad argument, workdir missing),
 * AG_EUNSUPPORTED (no Landlock, or a Landlock feature the profile needs is missing:
 * the detail names it; see the flag), AG_ESANDBOX (a kernel or libseccomp call
 * failed; the detail names it). */
AG_MUST_USE ag_err ag__sandbox_prepare(const struct ag_sandbox_profile *profile,
                                       const char *workdir, const char *const *scope, size_t nscope,
                                       int flags, struct ag__sandbox **out);
/* The same with an explicit grant list (runner/backstop.h): Landlock grants each path
 * its access (list, read or write) and the base devices, and nothing else: not the
 * workdir, not the profile's read and write paths (the list has every path the child
 * may reach). The profile's ports, rlimits and socket rules apply as usual. A grant
 * whose path has gone is skipped. */
AG_MUST_USE ag_err ag__sandbox_prepare_grants(const struct ag_sandbox_profile *profile,
                                              const char *workdir, const struct ag__grant *grants,
                                              size_t ngrants, int flags, struct ag__sandbox **out);
void ag__sandbox_free(struct ag__sandbox *sb);

/* Landlock ABI the prepared sandbox will use (0 = none). */
int ag__sandbox_landlock_abi(const struct ag__sandbox *sb);

/* Confines the calling process: rlimits, PR_SET_NO_NEW_PRIVS, Landlock
 * restrict_self, then the seccomp filter. Irreversible. Async-signal-safe: meant for
 * a child between fork and exec. On failure returns AG_ESANDBOX and, when stage is
 * not NULL, points it at a static name of the failing step ("setrlimit(RLIMIT_AS)",
 * "landlock_restrict_self", ...) and sets errno; the process must then not run the
 * command. */
AG_MUST_USE ag_err ag__sandbox_enter(const struct ag__sandbox *sb, const char **stage);

/* Convenience for a single-threaded process that confines itself: prepare, enter,
 * free. */
AG_MUST_USE ag_err ag__sandbox_apply(const struct ag_sandbox_profile *profile, const char *workdir,
                                     const char *const *scope, size_t nscope, int flags);

/* Options of ag__sandbox_spawn; NULL means all defaults. */
struct ag__spawn_opts {
    int stdin_fd;             /* dup2'd to 0 in the child when >= 0; -1 keeps the parent's */
    int stdout_fd;            /* likewise for 1 */
    int stderr_fd;            /* likewise for 2 */
    int new_session;          /* 1: setsid() in the child, so the caller can signal the group */
    const char *const *scope; /* task scope, as for ag__sandbox_prepare */
    size_t nscope;
    int flags; /* AG_SANDBOX_* flags for ag__sandbox_prepare */
    /* With grants (see ag__sandbox_prepare_grants), Landlock grants exactly these paths
     * (and the base devices) instead of the workdir and the profile's paths. */
    const struct ag__grant *grants;
    size_t ngrants;
};

/* Fork, confine, chdir(workdir), exec. argv[0] is looked up in the caller's PATH
 * when it has no slash; envp NULL keeps the caller's environment. Only fds 0-2 pass to the command.
 * A setup failure in the child (sandbox, chdir, exec) is reported back through a close-on-exec
 * pipe, so a child that could not be confined never runs the command: the child is reaped and the
 * call fails with AG_ESANDBOX (AG_ENOTFOUND when the command does not exist), the
 * detail naming the step and errno. On success *pid is the running child. */
AG_MUST_USE ag_err ag__sandbox_spawn(const struct ag_sandbox_profile *profile, const char *workdir,
                                     char *const argv[], char *const envp[],
                                     const struct ag__spawn_opts *opts, pid_t *pid);

/* The names of the system calls the seccomp filter refuses with EPERM in every tier
 * (NULL-ended, static). The argument rules (socket families, TCP only, TCP Fast
 * Open, user namespaces, ...) depend on the profile: see the rendered profile. */
const char *const *ag__sandbox_denied_syscalls(void);

/* Renders the profile (as applied with this workdir; workdir may be NULL) as a JSON
 * object for the ledger: tier, workdir, read/write paths, ports and socket rules,
 * rlimits, denied syscalls and argument rules, the kernel's Landlock ABI and the
 * features it lacks for this profile. Integers only (no floats). tier may be -1 when
 * unknown. */
AG_MUST_USE ag_err ag__sandbox_profile_json(const struct ag_sandbox_profile *profile, int tier,
                                            const char *workdir, char **out);
/* The same as readable text (what `agentgov sandbox show` prints). */
AG_MUST_USE ag_err ag__sandbox_profile_text(const struct ag_sandbox_profile *profile, int tier,
                                            const char *workdir, char **out);

#endif
