/* Child supervision with real processes under the real sandbox: capture and
 * pass-through, exit status, timeout, SIGKILL after the grace period, a check that
 * stops the child, and the cleanup of a child's leftover background processes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "runner/run_child.h"
#include "runner/sandbox.h"
#include "test.h"

static const char *const sys_read[] = {"/usr",  "/lib", "/lib64", "/bin",
                                       "/sbin", "/etc", "/proc",  "/dev/null"};
static const char *const sys_write[] = {"/dev/null"};

static struct ag_sandbox_profile profile(void)
{
    struct ag_sandbox_profile p = {0};
    p.workdir_write = 1;
    p.read_paths = sys_read;
    p.nread = sizeof sys_read / sizeof sys_read[0];
    p.write_paths = sys_write;
    p.nwrite = 1;
    p.max_procs = 0;
    return p;
}

struct fixture {
    struct ag_sandbox_profile prof;
    struct ag__child_opts o;
    char out[512], err[512];
};

static void setup(struct fixture *f, const char *label, char *const argv[])
{
    const char *dir = ag_test_fresh_dir(label);
    memset(f, 0, sizeof *f);
    f->prof = profile();
    snprintf(f->out, sizeof f->out, "%s/stdout.log", dir);
    snprintf(f->err, sizeof f->err, "%s/stderr.log", dir);
    f->o.profile = &f->prof;
    f->o.workdir = dir;
    f->o.argv = argv;
    f->o.stdout_path = f->out;
    f->o.stderr_path = f->err;
    f->o.pass_stdout_fd = -1;
    f->o.pass_stderr_fd = -1;
    f->o.grace_ms = 200;
    f->o.poll_ms = 50;
    f->o.sandbox_flags = ag__landlock_abi() ? 0 : AG_SANDBOX_ALLOW_NO_LANDLOCK;
}

static char *slurp(const char *path)
{
    char *d = NULL;
    size_t n;
    if (ag__read_file(path, 1 << 20, &d, &n) != AG_OK)
        return NULL;
    return d;
}

TEST(child_output_is_captured_and_passed_through)
{
    char *argv[] = {"/bin/sh", "-c", "echo out-line; echo err-line >&2; exit 3", NULL};
    struct fixture f;
    setup(&f, "capture", argv);
    char pass_path[600];
    snprintf(pass_path, sizeof pass_path, "%s.pass", f.out);
    int pass = open(pass_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(pass >= 0);
    f.o.pass_stdout_fd = pass;
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    close(pass);
    ASSERT_EQ(r.end, AG_CHILD_EXITED);
    ASSERT_EQ(r.exit_code, 3);
    ASSERT_EQ(r.term_signal, 0);
    ASSERT_EQ(r.stdout_bytes, 9);
    ASSERT_EQ(r.stderr_bytes, 9);
    char *o = slurp(f.out), *e = slurp(f.err), *p = slurp(pass_path);
    ASSERT_STREQ(o, "out-line\n");
    ASSERT_STREQ(e, "err-line\n");
    ASSERT_STREQ(p, "out-line\n");
    free(o);
    free(e);
    free(p);
}

TEST(timeout_stops_the_child_with_sigterm)
{
    char *argv[] = {"/bin/sleep", "10", NULL};
    struct fixture f;
    setup(&f, "timeout", argv);
    f.o.timeout_ms = 200;
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.end, AG_CHILD_TIMEOUT);
    ASSERT_EQ(r.term_signal, SIGTERM);
    ASSERT_EQ(r.killed, 0);
    ASSERT_TRUE(r.ended_ms - r.started_ms < 2000);
    ASSERT_CONTAINS(r.why, "timeout");
}

TEST(a_child_that_ignores_sigterm_is_killed_after_the_grace)
{
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done",
                    NULL};
    struct fixture f;
    setup(&f, "grace", argv);
    f.o.timeout_ms = 200;
    f.o.grace_ms = 300;
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.end, AG_CHILD_TIMEOUT);
    ASSERT_EQ(r.killed, 1);
    ASSERT_EQ(r.term_signal, SIGKILL);
    ASSERT_TRUE(r.stop_ms >= 250);
    ASSERT_TRUE(r.stop_ms < 2000);
}

struct counter {
    int calls;
};

static int stop_on_third(void *ctx, char *why, size_t cap)
{
    struct counter *c = ctx;
    if (++c->calls < 3)
        return 0;
    snprintf(why, cap, "revoked: test");
    return 1;
}

TEST(a_check_that_says_stop_ends_the_child)
{
    char *argv[] = {"/bin/sleep", "10", NULL};
    struct fixture f;
    setup(&f, "check", argv);
    struct counter c = {0};
    f.o.check = stop_on_third;
    f.o.check_ctx = &c;
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.end, AG_CHILD_STOPPED);
    ASSERT_EQ(c.calls, 3);
    ASSERT_STREQ(r.why, "revoked: test");
    ASSERT_EQ(r.term_signal, SIGTERM);
}

/* 1 while pid exists and is not a zombie. */
static int running(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

TEST(leftover_background_processes_end_with_the_child)
{
    char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!", NULL};
    struct fixture f;
    setup(&f, "leftover", argv);
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.exit_code, 0);
    char *o = slurp(f.out);
    ASSERT_TRUE(o != NULL);
    pid_t bg = (pid_t)atoi(o);
    free(o);
    ASSERT_TRUE(bg > 0);
    int alive = 1;
    for (int i = 0; i < 100 && alive; i++) {
        /* The background sleep is not our child: once killed it is gone, or a zombie
         * until whoever adopted it reaps it. */
        alive = running(bg);
        if (alive)
            usleep(10000);
    }
    ASSERT_FALSE(alive);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* 1 when path keeps growing over 300 ms (something still writes to it). */
static int still_growing(const char *path)
{
    long before = file_size(path);
    usleep(300000);
    return file_size(path) != before;
}

/* A child that leaves a loop behind out of reach of its process group: a double fork
 * (the loop's parent exits, so it is orphaned) into a new session (setsid). The loop
 * appends to grow.txt for at most ~10 s, so that nothing outlives a failed test. */
#define DOUBLE_FORK_LOOP                                                                           \
    "(setsid sh -c 'for i in $(seq 500); do echo x >> grow.txt; sleep 0.02; done' "                \
    "</dev/null >/dev/null 2>&1 &); while [ ! -s grow.txt ]; do sleep 0.01; done; "

TEST(a_loop_that_left_the_session_ends_with_the_run)
{
    char *argv[] = {"/bin/sh", "-c", DOUBLE_FORK_LOOP "exit 0", NULL};
    struct fixture f;
    setup(&f, "setsid", argv);
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.exit_code, 0);
    char grow[600];
    snprintf(grow, sizeof grow, "%s/grow.txt", f.o.workdir);
    ASSERT_TRUE(file_size(grow) > 0);
    ASSERT_FALSE(still_growing(grow));
    ASSERT_TRUE(r.leftovers >= 1);
    ASSERT_EQ(r.leftovers_alive, 0);
}

TEST(a_loop_that_left_the_session_ends_when_the_child_is_stopped)
{
    char *argv[] = {"/bin/sh", "-c", DOUBLE_FORK_LOOP "sleep 10", NULL};
    struct fixture f;
    setup(&f, "setsid-stop", argv);
    struct counter c = {0};
    f.o.check = stop_on_third;
    f.o.check_ctx = &c;
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.end, AG_CHILD_STOPPED);
    char grow[600];
    snprintf(grow, sizeof grow, "%s/grow.txt", f.o.workdir);
    ASSERT_FALSE(still_growing(grow));
}

/* How many zombies the calling process has as children. */
static int my_zombies(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
    FILE *f = fopen(path, "r");
    int n = 0;
    if (!f)
        return -1;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n")) {
        char st[300], *rp;
        snprintf(path, sizeof path, "/proc/%s/stat", tok);
        FILE *g = fopen(path, "r");
        size_t m = g ? fread(st, 1, sizeof st - 1, g) : 0;
        if (g)
            fclose(g);
        st[m] = '\0';
        n += (rp = strrchr(st, ')')) && rp[1] == ' ' && rp[2] == 'Z';
    }
    return n;
}

struct zombie_watch {
    int calls, most;
};

/* Notes the zombies the runner holds while the child runs; stops it at the 8th call. */
static int count_zombies(void *ctx, char *why, size_t cap)
{
    struct zombie_watch *z = ctx;
    int n = my_zombies();
    if (n > z->most)
        z->most = n;
    snprintf(why, cap, "enough");
    return ++z->calls >= 8;
}

/* As the subreaper, the runner adopts every orphan of the child's tree; those that end
 * while the child runs are reaped as they go, not kept as zombies until the end. */
TEST(orphans_that_end_during_the_run_are_reaped_at_once)
{
    char *argv[] = {"/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do (true &); done; sleep 10",
                    NULL};
    struct fixture f;
    setup(&f, "zombies", argv);
    struct zombie_watch z = {0};
    f.o.check = count_zombies;
    f.o.check_ctx = &z;
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.end, AG_CHILD_STOPPED);
    ASSERT_TRUE(z.most <= 2); /* one ending between the reaping and the check, at most */
}

/* RLIMIT_FSIZE does not apply to a pipe: the capture itself keeps at most
 * capture_max bytes of each stream and says when it dropped the rest. */
TEST(captured_output_is_capped)
{
    char *argv[] = {"/bin/sh", "-c", "head -c 100000 /dev/zero; echo small >&2", NULL};
    struct fixture f;
    setup(&f, "cap", argv);
    f.o.capture_max = 4096;
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.exit_code, 0);
    ASSERT_EQ(r.stdout_bytes, 100000);
    ASSERT_EQ(r.stdout_truncated, 1);
    ASSERT_EQ(file_size(f.out), 4096);
    ASSERT_EQ(r.stderr_truncated, 0);
    ASSERT_EQ(file_size(f.err), 6);
}

/* A child writing as fast as the runner reads must not keep it from the deadline. */
TEST(a_flood_of_output_does_not_hold_off_the_timeout)
{
    char *argv[] = {"/bin/sh", "-c", "exec yes flood", NULL};
    struct fixture f;
    setup(&f, "flood", argv);
    f.o.timeout_ms = 300;
    f.o.capture_max = 1 << 20;
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.end, AG_CHILD_TIMEOUT);
    ASSERT_TRUE(r.ended_ms - r.started_ms < 3000);
    ASSERT_EQ(file_size(f.out), 1 << 20);
}

TEST(a_missing_command_is_reported_and_nothing_runs)
{
    char *argv[] = {"/nonexistent/agent-binary", NULL};
    struct fixture f;
    setup(&f, "missing", argv);
    struct ag__child_result r;
    ASSERT_ERR(ag__child_run(&f.o, &r), AG_ENOTFOUND);
}

TEST(the_child_runs_in_the_workdir_and_may_write_there)
{
    char *argv[] = {"/bin/sh", "-c", "pwd; echo hi > made.txt", NULL};
    struct fixture f;
    setup(&f, "workdir", argv);
    struct ag__child_result r;
    ASSERT_OK(ag__child_run(&f.o, &r));
    ASSERT_EQ(r.exit_code, 0);
    char path[600];
    snprintf(path, sizeof path, "%s/made.txt", f.o.workdir);
    ASSERT_EQ(access(path, F_OK), 0);
}
