/* The runner behind test.h: registry, per-test isolation, temp dirs.
 *
 * Each TEST() runs in a forked child, so that a crash or a hang is that test's failure
 * and the others still run: the parent waits with an alarm and kills a child that
 * outlives its timeout. AGENTGOV_TEST_NOFORK=1 runs every test in this process instead
 * (for a debugger, or valgrind, which then checks leaks once for the whole binary); a
 * failed assertion then ends its test with longjmp, and a crash ends the binary. */
#include "test.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 4096
/* Seconds a test may run before it is killed, times AGENTGOV_TEST_TIMEOUT_MULT. */
#define DEFAULT_TIMEOUT_S 60
/* The status a child exits with when an assertion failed (a crash is a signal). */
#define CHILD_FAILED 1

static struct {
    const char *name;
    ag_test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static jmp_buf on_fail;
static char tmpdir[PATH_MAX];
static pid_t runner_pid; /* the parent: only it removes tmpdir */
static volatile sig_atomic_t timed_out;

void ag_test_register(const char *name, ag_test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

void ag_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    longjmp(on_fail, 1);
}

static void remove_tmpdir(void)
{
    /* Children exit() too (their own atexit handlers stop what they started), and
     * must not remove the directory the next tests share. */
    if (getpid() != runner_pid)
        return;
    if (tmpdir[0] && getenv("AGENTGOV_KEEP_TMP") == NULL) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    }
}

const char *ag_test_tmpdir(void)
{
    if (tmpdir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/agentgov-test-XXXXXX", base ? base : "/tmp");
        if (mkdtemp(tmpdir) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

const char *ag_test_fresh_dir(const char *label)
{
    static char dir[PATH_MAX];
    static unsigned counter;
    /* The pid keeps names unique across tests: each child starts from the parent's
     * counter. */
    snprintf(dir, sizeof dir, "%s/%s-%ld-%u", ag_test_tmpdir(), label, (long)getpid(), counter++);
    if (mkdir(dir, 0700) != 0) {
        perror(dir);
        exit(2);
    }
    return dir;
}

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* DEFAULT_TIMEOUT_S times AGENTGOV_TEST_TIMEOUT_MULT (a positive number, e.g. 10 under
 * valgrind), at least one second. */
static unsigned timeout_s(void)
{
    const char *m = getenv("AGENTGOV_TEST_TIMEOUT_MULT");
    double mult = 1;
    if (m && *m) {
        char *end;
        mult = strtod(m, &end);
        if (*end || !(mult > 0) || mult > 1000) {
            fprintf(stderr, "AGENTGOV_TEST_TIMEOUT_MULT: '%s' is not a number in (0, 1000]\n", m);
            exit(2);
        }
    }
    double t = DEFAULT_TIMEOUT_S * mult;
    return t < 1 ? 1 : (unsigned)t;
}

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
}

/* Runs test i in this process; 1 if it passed. */
static int run_in_process(int i)
{
    if (setjmp(on_fail) == 0) {
        tests[i].fn();
        return 1;
    }
    return 0;
}

/* Runs test i in a child and reports how it ended; 1 if it passed. */
static int run_forked(int i, unsigned timeout)
{
    fflush(NULL); /* nothing buffered twice */
    pid_t pid = fork();
    if (pid < 0) {
        printf("    fork: %s\n", strerror(errno));
        return 0;
    }
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        int ok = run_in_process(i);
        fflush(NULL);
        /* exit, not _exit: the test's own atexit handlers (a fixture's server) run,
         * and sanitizers check leaks. */
        exit(ok ? 0 : CHILD_FAILED);
    }
    timed_out = 0;
    alarm(timeout);
    int st;
    pid_t w;
    while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
        if (timed_out)
            kill(pid, SIGKILL);
    }
    alarm(0);
    if (w < 0) {
        printf("    waitpid: %s\n", strerror(errno));
        return 0;
    }
    if (timed_out && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
        printf("    %s: timed out after %u s (killed; AGENTGOV_TEST_TIMEOUT_MULT scales it)\n",
               tests[i].name, timeout);
        return 0;
    }
    if (WIFSIGNALED(st)) {
        printf("    %s: killed by signal %d (%s)\n", tests[i].name, WTERMSIG(st),
               strsignal(WTERMSIG(st)));
        return 0;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 1;
    if (WIFEXITED(st) && WEXITSTATUS(st) != CHILD_FAILED)
        printf("    %s: exited with status %d\n", tests[i].name, WEXITSTATUS(st));
    return 0;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int nofork = env_flag("AGENTGOV_TEST_NOFORK");
    unsigned timeout = timeout_s();
    static int passed, failed, i; /* static: they must survive longjmp */
    runner_pid = getpid();
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Made here, so that every child shares it and the parent alone removes it. */
    ag_test_tmpdir();
    /* No SA_RESTART: the alarm must interrupt waitpid. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    for (i = 0; i < ntests; i++) {
        if (filter && strstr(tests[i].name, filter) == NULL)
            continue;
        if (nofork ? run_in_process(i) : run_forked(i, timeout)) {
            printf("ok   %s\n", tests[i].name);
            passed++;
        } else {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
