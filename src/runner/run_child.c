/* Supervision of one governed child: capture, deadline, checks, SIGTERM/SIGKILL, and
 * the end of every process it left behind. */
#include "runner/run_child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "core/time.h"
#include "runner/run_reap.h"
#include "runner/sandbox.h"

#define DEFAULT_POLL_MS 150
/* Without a pidfd the loop wakes this often to notice the child's exit. */
#define FALLBACK_WAKE_MS 20
/* How long output is still drained after the child and its descendants are gone. */
#define DRAIN_MS 300
/* How long the runner keeps killing the child's leftover descendants. */
#define REAP_BUDGET_MS 2000
/* Reads per pump() call: a child that writes as fast as we read must not keep the
 * loop from its deadline and revocation checks. */
#define PUMP_READS 16

/* One output stream: the pipe's read end, the capture file, the pass-through fd. */
struct stream {
    int pipe; /* -1 once at EOF */
    int file;
    int pass;       /* -1 when not passed through (or after a failed write) */
    uint64_t bytes; /* what the child wrote */
    uint64_t kept;  /* what went to the file */
    uint64_t cap;   /* the most the file gets, 0: no cap */
    int truncated;
};

/* The supervision loop's state. */
struct sup {
    const struct ag__child_opts *o;
    struct ag__child_result *r;
    struct stream out[2];
    int pidfd;
    int64_t stop_at; /* mono ms of the SIGTERM, -1 before */
    int64_t kill_at; /* mono ms of the planned SIGKILL, -1 before */
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The capture file gets the first cap bytes; the rest is counted, not kept: the
 * file lies in the data directory, which the tier's file-size limit does not cover
 * (RLIMIT_FSIZE applies to files the child writes, not to a pipe). */
static void capture(struct stream *s, const char *buf, size_t n)
{
    size_t keep = n;
    if (s->cap > 0 && s->kept + n > s->cap) {
        keep = (size_t)(s->cap - s->kept);
        s->truncated = 1;
    }
    if (keep > 0 && s->file >= 0 && write_all(s->file, buf, keep) != 0) {
        close(s->file);
        s->file = -1;
    }
    s->kept += keep;
}

/* Moves what is available on one pipe to its file and pass-through fd. A failing
 * pass-through (a closed terminal) stops passing, never the capture. */
static void pump(struct stream *s)
{
    char buf[65536];
    for (int reads = 0; reads < PUMP_READS; reads++) {
        ssize_t n = read(s->pipe, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return; /* EAGAIN: nothing more now */
        if (n == 0) {
            close(s->pipe);
            s->pipe = -1;
            return;
        }
        s->bytes += (uint64_t)n;
        capture(s, buf, (size_t)n);
        if (s->pass >= 0 && write_all(s->pass, buf, (size_t)n) != 0)
            s->pass = -1;
        if ((size_t)n < sizeof buf)
            return;
    }
}

static void streams_close(struct sup *s)
{
    for (int i = 0; i < 2; i++) {
        if (s->out[i].pipe >= 0)
            close(s->out[i].pipe);
        if (s->out[i].file >= 0)
            close(s->out[i].file);
        s->out[i].pipe = s->out[i].file = -1;
    }
}

static ag_err streams_open(struct sup *s, int wr[2])
{
    const char *paths[2] = {s->o->stdout_path, s->o->stderr_path};
    const int pass[2] = {s->o->pass_stdout_fd, s->o->pass_stderr_fd};
    uint64_t cap = s->o->capture_max > 0 ? (uint64_t)s->o->capture_max : 0;
    for (int i = 0; i < 2; i++) {
        s->out[i] = (struct stream){.pipe = -1, .file = -1, .pass = pass[i], .cap = cap};
        wr[i] = -1;
    }
    for (int i = 0; i < 2; i++) {
        s->out[i].file =
            open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (s->out[i].file < 0)
            return ag__fail(AG_EIO, "run: cannot create %s: %s", paths[i], strerror(errno));
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0)
            return ag__fail(AG_EIO, "run: pipe: %s", strerror(errno));
        s->out[i].pipe = p[0];
        wr[i] = p[1];
        fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    }
    return AG_OK;
}

/* 1 once the child has ended; it stays a zombie (WNOWAIT), which keeps its pid and
 * process group id from being reused while the group is cleaned up. */
static int child_ended(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == ECHILD;
    return si.si_pid == pid;
}

/* Reaps the adopted orphans of the child's tree that have ended, as init would have:
 * zombies count against RLIMIT_NPROC, and a child that starts background jobs would
 * pile them up until the end of the run. The child itself is left alone. */
static void reap_orphans(pid_t child)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0 ||
            si.si_pid == child)
            return;
        waitpid(si.si_pid, NULL, WNOHANG);
    }
}

/* Signals the child's process group (it runs in its own session) and the child
 * itself, in case it moved to another group. */
static void signal_child(pid_t pid, int sig)
{
    kill(-pid, sig);
    kill(pid, sig);
}

static void begin_stop(struct sup *s, int64_t now, enum ag__child_end why)
{
    s->r->end = why;
    s->stop_at = now;
    s->kill_at = now + s->o->grace_ms;
    signal_child(s->r->pid, SIGTERM);
    if (s->o->grace_ms <= 0) {
        signal_child(s->r->pid, SIGKILL);
        s->r->killed = 1;
    }
}

/* Deadline, check and escalation, then the time to sleep until the next of them. */
static int64_t tick(struct sup *s, int64_t now, int64_t deadline, int64_t *next_check)
{
    int64_t poll_ms = s->o->poll_ms > 0 ? s->o->poll_ms : DEFAULT_POLL_MS;
    if (s->stop_at < 0) {
        if (now >= deadline) {
            char d[32];
            ag__format_duration(s->o->timeout_ms, d, sizeof d);
            snprintf(s->r->why, sizeof s->r->why, "timeout after %s", d);
            begin_stop(s, now, AG_CHILD_TIMEOUT);
        } else if (s->o->check && now >= *next_check) {
            if (s->o->check(s->o->check_ctx, s->r->why, sizeof s->r->why))
                begin_stop(s, now, AG_CHILD_STOPPED);
            *next_check = ag__mono_ms() + poll_ms;
        }
    } else if (!s->r->killed && now >= s->kill_at) {
        signal_child(s->r->pid, SIGKILL);
        s->r->killed = 1;
    }
    int64_t wake = s->stop_at < 0 ? deadline : s->r->killed ? now + poll_ms : s->kill_at;
    if (s->stop_at < 0 && s->o->check && *next_check < wake)
        wake = *next_check;
    int64_t wait = wake - ag__mono_ms();
    if (s->pidfd < 0 && wait > FALLBACK_WAKE_MS)
        wait = FALLBACK_WAKE_MS;
    return wait < 0 ? 0 : wait > poll_ms ? poll_ms : wait;
}

static void wait_io(struct sup *s, int64_t wait_ms)
{
    struct pollfd p[3];
    int n = 0;
    for (int i = 0; i < 2; i++)
        if (s->out[i].pipe >= 0)
            p[n++] = (struct pollfd){.fd = s->out[i].pipe, .events = POLLIN};
    if (s->pidfd >= 0)
        p[n++] = (struct pollfd){.fd = s->pidfd, .events = POLLIN};
    if (poll(p, (nfds_t)n, (int)wait_ms) > 0)
        for (int i = 0; i < 2; i++)
            if (s->out[i].pipe >= 0)
                pump(&s->out[i]);
}

/* The child's end, as its status and the time since the stop was asked for. */
static void note_end(struct sup *s, int status)
{
    if (s->stop_at >= 0)
        s->r->stop_ms = ag__mono_ms() - s->stop_at;
    s->r->ended_ms = ag__wall_ms();
    if (WIFEXITED(status))
        s->r->exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        s->r->term_signal = WTERMSIG(status);
}

/* What is left in the pipes, for a bounded time: a writer the reaping did not get
 * within its budget must not hold the run. */
static void drain(struct sup *s)
{
    int64_t start = ag__mono_ms();
    while ((s->out[0].pipe >= 0 || s->out[1].pipe >= 0) && ag__mono_ms() - start < DRAIN_MS) {
        struct pollfd p[2];
        int n = 0;
        for (int i = 0; i < 2; i++)
            if (s->out[i].pipe >= 0)
                p[n++] = (struct pollfd){.fd = s->out[i].pipe, .events = POLLIN};
        if (poll(p, (nfds_t)n, 50) > 0)
            for (int i = 0; i < 2; i++)
                if (s->out[i].pipe >= 0)
                    pump(&s->out[i]);
    }
}

/* After the child's end: its group is killed and the child reaped, then every process
 * still descending from the runner (those that left the group or the session, adopted
 * by the runner as their subreaper): whatever the child left running ends with the
 * run, however it ended. Then the output is drained. */
static void finish(struct sup *s)
{
    kill(-s->r->pid, SIGKILL);
    int status = 0;
    while (waitpid(s->r->pid, &status, 0) < 0 && errno == EINTR)
        ;
    note_end(s, status);
    s->r->leftovers = ag__reap_descendants(REAP_BUDGET_MS, &s->r->leftovers_alive);
    drain(s);
    s->r->stdout_bytes = s->out[0].bytes;
    s->r->stderr_bytes = s->out[1].bytes;
    s->r->stdout_truncated = s->out[0].truncated;
    s->r->stderr_truncated = s->out[1].truncated;
}

ag_err ag__child_run(const struct ag__child_opts *o, struct ag__child_result *r)
{
    memset(r, 0, sizeof *r);
    r->exit_code = -1;
    r->stop_ms = -1;
    if (!o || !o->argv || !o->argv[0] || !o->stdout_path || !o->stderr_path || !o->workdir)
        return ag__fail(AG_EINVAL, "run: child needs a command, a workdir and capture files");
    struct sup s = {.o = o, .r = r, .pidfd = -1, .stop_at = -1, .kill_at = -1};
    int wr[2];
    /* Orphans of the child's tree (a double fork, setsid) reparent to us, not to
     * init, so that finish() finds and ends them. */
    if (ag__reap_adopt() != 0)
        return ag__fail(AG_ESANDBOX, "run: prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
    ag_err err = streams_open(&s, wr);
    if (err == AG_OK) {
        struct ag__spawn_opts so = {.stdin_fd = -1,
                                    .stdout_fd = wr[0],
                                    .stderr_fd = wr[1],
                                    .new_session = 1,
                                    .scope = o->scope,
                                    .nscope = o->nscope,
                                    .flags = o->sandbox_flags};
        r->started_ms = ag__wall_ms();
        err = ag__sandbox_spawn(o->profile, o->workdir, o->argv, o->envp, &so, &r->pid);
    }
    for (int i = 0; i < 2; i++)
        if (wr[i] >= 0)
            close(wr[i]);
    if (err != AG_OK) {
        streams_close(&s);
        return err;
    }
    s.pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
    int64_t start = ag__mono_ms();
    int64_t deadline = o->timeout_ms > 0 ? start + o->timeout_ms : INT64_MAX / 2;
    int64_t next_check = start + (o->poll_ms > 0 ? o->poll_ms : DEFAULT_POLL_MS);
    while (!child_ended(r->pid)) {
        reap_orphans(r->pid);
        wait_io(&s, tick(&s, ag__mono_ms(), deadline, &next_check));
    }
    finish(&s);
    if (s.pidfd >= 0)
        close(s.pidfd);
    streams_close(&s);
    return AG_OK;
}
