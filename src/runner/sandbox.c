/* Kernel sandbox: rlimits, no_new_privs, Landlock (raw syscalls) and seccomp. */
#include "runner/sandbox.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "runner/sandbox_landlock.h"
#include "runner/sandbox_seccomp.h"
#include "runner/sandbox_state.h"

/* What each Landlock ABI brings that the profile relies on. Without one of these the
 * sandbox has a hole, not merely a coarser rule: truncate(2) of any file the uid may
 * write, ioctls on opened devices, TCP to any port, signals to the runner. (REFER,
 * ABI 2, is not listed: ABI 1 refuses every cross-directory rename instead.) */
static const struct {
    int abi;
    int ports; /* 1: needed only by a profile with TCP ports */
    const char *what;
} ll_features[] = {
    {1, 0, "filesystem rules (Landlock)"},
    {3, 0, "truncate rights (ABI 3)"},
    {4, 1, "TCP port rules (ABI 4)"},
    {5, 0, "device ioctl rights (ABI 5)"},
    {6, 0, "scoping of signals and abstract unix sockets (ABI 6)"},
};

size_t ag__sandbox_missing(const struct ag_sandbox_profile *p, int abi, const char **out,
                           size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof ll_features / sizeof ll_features[0]; i++)
        if (abi < ll_features[i].abi && (!ll_features[i].ports || ag__sandbox_has_ip(p)) && n < cap)
            out[n++] = ll_features[i].what;
    return n;
}

const char *ag__sandbox_missing_text(const struct ag_sandbox_profile *p, int abi, char *buf,
                                     size_t cap)
{
    const char *v[sizeof ll_features / sizeof ll_features[0]];
    size_t n = ag__sandbox_missing(p, abi, v, sizeof v / sizeof v[0]), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "; " : "", v[i]);
    return buf;
}

/* ------------------------------------------------------------------------------- */
/* Prepare / enter                                                                  */

/* Fails closed when the kernel's Landlock lacks something the profile relies on: a
 * sandbox with a hole is not run as if it had none, unless the caller accepts it. */
static ag_err check_features(const struct ag_sandbox_profile *p, int abi, int flags)
{
    char miss[256];
    if ((flags & AG_SANDBOX_ALLOW_NO_LANDLOCK) ||
        !*ag__sandbox_missing_text(p, abi, miss, sizeof miss))
        return AG_OK;
    if (abi == 0)
        return ag__fail(AG_EUNSUPPORTED, "sandbox: the kernel has no Landlock");
    return ag__fail(AG_EUNSUPPORTED, "sandbox: the kernel's Landlock (ABI %d) lacks %s", abi, miss);
}

static ag_err prepare(const struct ag_sandbox_profile *profile, const char *workdir,
                      const char *const *scope, size_t nscope, const struct ag__grant *grants,
                      size_t ngrants, int flags, struct ag__sandbox **out)
{
    char real[PATH_MAX];
    struct stat st;
    *out = NULL;
    if (!profile || !workdir)
        return ag__fail(AG_EINVAL, "sandbox: profile and workdir are required");
    if (!realpath(workdir, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return ag__fail(AG_EINVAL, "sandbox: workdir %s is not a directory", workdir);
    int abi = ag__landlock_abi();
    ag_err err = check_features(profile, abi, flags);
    if (err != AG_OK)
        return err;

    struct ag__sandbox *sb = calloc(1, sizeof *sb);
    if (!sb || !(sb->workdir = strdup(real))) {
        free(sb);
        return AG_ENOMEM;
    }
    sb->ruleset_fd = -1;
    sb->abi = abi;
    sb->cpu_seconds = profile->cpu_seconds;
    sb->memory_bytes = profile->memory_bytes;
    sb->max_procs = profile->max_procs;
    sb->file_bytes = profile->file_bytes;

    struct ag__areas writes = {0};
    if (!grants)
        err = ag__sandbox_compute_writes(profile, sb->workdir, scope, nscope, &writes);
    if (err == AG_OK && abi > 0)
        err = ag__ll_build(sb, profile, &writes, grants, ngrants);
    if (err == AG_OK)
        err = ag__sc_build(sb, profile);
    ag__areas_free(&writes);
    if (err != AG_OK) {
        ag__sandbox_free(sb);
        return err;
    }
    *out = sb;
    return AG_OK;
}

ag_err ag__sandbox_prepare(const struct ag_sandbox_profile *profile, const char *workdir,
                           const char *const *scope, size_t nscope, int flags,
                           struct ag__sandbox **out)
{
    return prepare(profile, workdir, scope, nscope, NULL, 0, flags, out);
}

ag_err ag__sandbox_prepare_grants(const struct ag_sandbox_profile *profile, const char *workdir,
                                  const struct ag__grant *grants, size_t ngrants, int flags,
                                  struct ag__sandbox **out)
{
    static const struct ag__grant none;
    return prepare(profile, workdir, NULL, 0, grants ? grants : &none, ngrants, flags, out);
}

void ag__sandbox_free(struct ag__sandbox *sb)
{
    if (!sb)
        return;
    if (sb->ruleset_fd >= 0)
        close(sb->ruleset_fd);
    free(sb->prog.filter);
    free(sb->workdir);
    free(sb);
}

int ag__sandbox_landlock_abi(const struct ag__sandbox *sb)
{
    return sb ? sb->abi : 0;
}

static int set_limit(int resource, int64_t value, int64_t hard_extra)
{
    if (value <= 0)
        return 0;
    if (value > INT64_MAX - hard_extra)
        hard_extra = 0;
    struct rlimit rl = {.rlim_cur = (rlim_t)value, .rlim_max = (rlim_t)(value + hard_extra)};
    return setrlimit(resource, &rl);
}

/* A governed agent gets what its tier grants, not what the runner's user could do, so a
 * runner started as root hands its child no capability. The ambient set is cleared;
 * the bounding set is emptied when we may (CAP_SETPCAP: root), so that no later exec
 * can hand capabilities back; then the effective, permitted and inheritable sets are
 * cleared. no_new_privs, set right after, keeps an exec by uid 0 from refilling them
 * (the kernel then caps the new permitted set at the old one). An unprivileged runner
 * has nothing to drop and cannot empty its bounding set: that is not an error. */
static int drop_capabilities(void)
{
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return -1;
    for (unsigned long cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            break; /* EPERM: no CAP_SETPCAP, so none of the rest either */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &hdr, data);
}

/* Names the failing step for the caller (a static string) and fails. */
static ag_err enter_failed(const char **stage, const char *step)
{
    *stage = step;
    return AG_ESANDBOX;
}

ag_err ag__sandbox_enter(const struct ag__sandbox *sb, const char **stage)
{
    const char *dummy;
    if (!stage)
        stage = &dummy;
    /* CPU: SIGXCPU at the soft limit, SIGKILL one second later. */
    if (set_limit(RLIMIT_CPU, sb->cpu_seconds, 1) != 0)
        return enter_failed(stage, "setrlimit(RLIMIT_CPU)");
    if (set_limit(RLIMIT_AS, sb->memory_bytes, 0) != 0)
        return enter_failed(stage, "setrlimit(RLIMIT_AS)");
    if (set_limit(RLIMIT_NPROC, sb->max_procs, 0) != 0)
        return enter_failed(stage, "setrlimit(RLIMIT_NPROC)");
    if (set_limit(RLIMIT_FSIZE, sb->file_bytes, 0) != 0)
        return enter_failed(stage, "setrlimit(RLIMIT_FSIZE)");
    if (drop_capabilities() != 0)
        return enter_failed(stage, "dropping capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return enter_failed(stage, "prctl(PR_SET_NO_NEW_PRIVS)");
    if (sb->ruleset_fd >= 0 && syscall(__NR_landlock_restrict_self, sb->ruleset_fd, 0) != 0)
        return enter_failed(stage, "landlock_restrict_self");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sb->prog, 0, 0) != 0)
        return enter_failed(stage, "prctl(PR_SET_SECCOMP)");
    return AG_OK;
}

ag_err ag__sandbox_apply(const struct ag_sandbox_profile *profile, const char *workdir,
                         const char *const *scope, size_t nscope, int flags)
{
    struct ag__sandbox *sb;
    ag_err err = ag__sandbox_prepare(profile, workdir, scope, nscope, flags, &sb);
    if (err != AG_OK)
        return err;
    const char *stage = "";
    err = ag__sandbox_enter(sb, &stage);
    if (err != AG_OK)
        err = ag__fail(err, "sandbox: %s: %s", stage, strerror(errno));
    ag__sandbox_free(sb);
    return err;
}

/* ------------------------------------------------------------------------------- */
/* Spawn                                                                            */

/* What a child that could not start tells its parent through the pipe. */
struct spawn_report {
    int32_t kind; /* 1 sandbox, 2 chdir, 3 exec, 4 stdio/session */
    int32_t err;  /* errno */
    char stage[64];
};

static void child_fail(int fd, int kind, const char *stage)
{
    struct spawn_report r = {.kind = kind, .err = errno};
    size_t n = strlen(stage);
    memcpy(r.stage, stage, n < sizeof r.stage - 1 ? n : sizeof r.stage - 1);
    ssize_t w;
    do
        w = write(fd, &r, sizeof r);
    while (w < 0 && errno == EINTR);
    _exit(127);
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void child_main(const struct ag__sandbox *sb, const struct ag__spawn_opts *o,
                       char *const argv[], char *const envp[], int fd)
{
    static const int reset[] = {SIGPIPE, SIGXFSZ, SIGXCPU, SIGCHLD,
                                SIGINT,  SIGTERM, SIGQUIT, SIGHUP};
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        sigaction(reset[i], &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    const int want[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
    for (int i = 0; i < 3; i++)
        if (want[i] >= 0 && want[i] != i && dup2(want[i], i) < 0)
            child_fail(fd, 4, "dup2");
    if (o->new_session && setsid() < 0)
        child_fail(fd, 4, "setsid");
    if (chdir(sb->workdir) != 0)
        child_fail(fd, 2, "chdir");
    const char *stage = "sandbox";
    if (ag__sandbox_enter(sb, &stage) != AG_OK)
        child_fail(fd, 1, stage);
    /* Only 0-2 (and the report pipe, already close-on-exec) survive exec. */
    syscall(__NR_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
    if (envp)
        execvpe(argv[0], argv, envp);
    else
        execvp(argv[0], argv);
    child_fail(fd, 3, "exec");
}

/* Reads the child's report; 0 bytes (EOF at exec) means the command runs. */
static ag_err spawn_outcome(int fd, pid_t pid, const char *cmd)
{
    struct spawn_report r;
    ssize_t n;
    do
        n = read(fd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return AG_OK;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof r)
        return ag__fail(AG_ESANDBOX, "sandbox: child setup report truncated");
    r.stage[sizeof r.stage - 1] = '\0';
    if (r.kind == 3 && (r.err == ENOENT || r.err == ENOTDIR))
        return ag__fail(AG_ENOTFOUND, "sandbox: exec %s: %s", cmd, strerror(r.err));
    if (r.kind == 3)
        return ag__fail(AG_ESANDBOX, "sandbox: exec %s: %s", cmd, strerror(r.err));
    return ag__fail(AG_ESANDBOX, "sandbox: child setup failed at %s: %s", r.stage, strerror(r.err));
}

ag_err ag__sandbox_spawn(const struct ag_sandbox_profile *profile, const char *workdir,
                         char *const argv[], char *const envp[], const struct ag__spawn_opts *opts,
                         pid_t *pid)
{
    static const struct ag__spawn_opts defaults = {-1, -1, -1, 0, NULL, 0, 0};
    const struct ag__spawn_opts *o = opts ? opts : &defaults;
    if (!argv || !argv[0] || !pid)
        return ag__fail(AG_EINVAL, "sandbox: spawn needs a command");
    struct ag__sandbox *sb;
    ag_err err =
        o->grants
            ? ag__sandbox_prepare_grants(profile, workdir, o->grants, o->ngrants, o->flags, &sb)
            : ag__sandbox_prepare(profile, workdir, o->scope, o->nscope, o->flags, &sb);
    if (err != AG_OK)
        return err;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        ag__sandbox_free(sb);
        return ag__fail(AG_ESANDBOX, "sandbox: pipe: %s", strerror(errno));
    }
    pid_t child = fork();
    if (child == 0) {
        close(p[0]);
        child_main(sb, o, argv, envp, p[1]);
    }
    int fork_errno = errno;
    close(p[1]);
    if (child < 0)
        err = ag__fail(AG_ESANDBOX, "sandbox: fork: %s", strerror(fork_errno));
    else
        err = spawn_outcome(p[0], child, argv[0]);
    close(p[0]);
    ag__sandbox_free(sb);
    if (err == AG_OK)
        *pid = child;
    return err;
}
