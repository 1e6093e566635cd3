/* bench/hook: wall time of one `agentgov hook claude-code` decision as a cold process:
 * fork, exec build/agentgov with a recorded PreToolUse event on stdin, wait. Embedded
 * mode (no daemon), ledger on (a fresh data directory; every run appends one entry).
 * Two modes, each N runs (default 200): as installed, where the first event starts the
 * hook helper and the hook process forwards the rest to it; and `--no-helper`, where
 * every process decides on its own (opens the ledger, parses the policy). Prints the
 * median, p90 and min of each, and the hook process's CPU time.
 * Without EVENT_JSON it times a one-command Bash event and a shell line of five simple
 * commands (tests/data/hooks/cc_bash_pipeline.json).
 * Usage: build/bench/hook [AGENTGOV_BINARY] [EVENT_JSON] [RUNS] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One decision; returns its wall time in ms, or -1 when the hook did not exit 0, and
 * stores the child's CPU time (user + system) in *cpu: on a busy machine the wall
 * time includes waiting for a core, the CPU time does not. */
static double one_run(const char *bin, const char *dir, const char *event, int helper, double *cpu)
{
    int in = open(event, O_RDONLY | O_CLOEXEC);
    int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (in < 0 || out < 0)
        return -1;
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(out, 1);
        execl(bin, bin, "--dir", dir, "hook", "claude-code", helper ? NULL : "--no-helper",
              (char *)NULL);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    double dt = now_ms() - t0;
    *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    close(in);
    close(out);
    return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? dt : -1;
}

/* Runs one mode in its own fresh data directory; 0 on success. */
static int one_mode(const char *bin, const char *event, int runs, int helper)
{
    char dir[] = "/tmp/agentgov-bench-hook-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    double *t = calloc((size_t)runs, sizeof *t), *c = calloc((size_t)runs, sizeof *c);
    if (!t || !c)
        return 1;
    /* Warm-up: the first run creates the ledger (and starts the helper); the page
     * cache fills. The helper needs a moment to bind its socket. */
    for (int i = 0; i < 3; i++) {
        if (one_run(bin, dir, event, helper, &c[0]) < 0) {
            fprintf(stderr, "bench/hook: %s hook claude-code < %s did not exit 0\n", bin, event);
            return 1;
        }
        usleep(100000);
    }
    for (int i = 0; i < runs; i++)
        if ((t[i] = one_run(bin, dir, event, helper, &c[i])) < 0) {
            fprintf(stderr, "bench/hook: run %d failed\n", i);
            return 1;
        }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    qsort(c, (size_t)runs, sizeof *c, cmp_double);
    double load[1] = {0};
    getloadavg(load, 1);
    printf("%-12s median %.3f ms, p90 %.3f ms, min %.3f ms over %d runs; hook process CPU "
           "median %.3f ms; load %.2f\n",
           helper ? "helper" : "--no-helper", t[runs / 2], t[runs * 9 / 10], t[0], runs,
           c[runs / 2], load[0]);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "'%s' --dir '%s' hook helper stop >/dev/null; rm -rf '%s'", bin, dir,
             dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench/hook: could not remove %s\n", dir);
    free(t);
    free(c);
    return 0;
}

int main(int argc, char **argv)
{
    const char *bin = argc > 1 ? argv[1] : "build/agentgov";
    int runs = argc > 3 ? atoi(argv[3]) : 200;
    if (runs < 1 || runs > 100000)
        runs = 200;
    /* Without an event: a one-command line, then a shell line of five simple commands
     * (git, ls, wc, grep, echo: parsed and judged, every path resolved). */
    const char *events[] = {"tests/data/hooks/cc_bash_allow.json",
                            "tests/data/hooks/cc_bash_pipeline.json"};
    int n = 2;
    if (argc > 2 && argv[2][0]) {
        events[0] = argv[2];
        n = 1;
    }
    for (int i = 0; i < n; i++) {
        printf("hook claude-code decision of %s, cold process, embedded, ledger on (target: "
               "median <= %s ms, helper <= 1.5 ms)\n",
               events[i], i == 1 ? "3 (five simple commands)" : "3");
        fflush(stdout);
        if (one_mode(bin, events[i], runs, 1) || one_mode(bin, events[i], runs, 0))
            return 1;
    }
    return 0;
}
