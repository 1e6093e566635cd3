/* Pipeline benchmark: how long a generated 100-stage pipeline takes to load and
 * validate (target <= 20 ms), and the scheduling overhead per stage when 100 trivial
 * shell stages run (target <= 5 ms): every state change ledgered (synchronous=FULL)
 * and checkpointed on the embedded store, each stage a real process (/bin/true,
 * fork+exec+wait: the governed runner's own cost is not the scheduler's).
 *
 *   build/bench/pipeline [-n STAGES] [-d DIR] [-p MAX_PARALLEL]
 *
 * DIR (default /tmp) holds the ledger and the store. Figures: validation min/median/max
 * over 50 loads; scheduling wall time / stages, for a chain (each stage requires the
 * one before) and for independent stages at MAX_PARALLEL (default 4). The overhead
 * judged against the target is, for the chain, the wall time per stage less a bare
 * fork+exec+wait of the same program (the stage's own run); for independent stages,
 * whose processes overlap, the whole wall time per stage. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentgov/pipeline.h"
#include "core/buf.h"
#include "core/time.h"

static char *generate(int n, int chain, int par)
{
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_printf(&b,
                   "pipeline:\n  name: bench\n  max_parallel: %d\n  params:\n"
                   "    env: {type: string, default: staging}\n  stages:\n",
                   par);
    for (int i = 0; i < n; i++) {
        ag__buf_printf(&b, "    - s%d:\n        run: [/bin/true, \"${{ params.env }}\"]\n", i);
        if (!chain)
            ag__buf_printf(&b, "        requires: []\n");
        else if (i > 0)
            ag__buf_printf(&b,
                           "        when: \"${{ stages.s%d.outcome == 'success' && "
                           "params.env != 'prod' }}\"\n",
                           i - 1);
        ag__buf_printf(&b, "        retry: {max: 1, backoff: 1s}\n        timeout: 1m\n");
    }
    return ag__buf_take(&b);
}

/* ----------------------------------------------------- a process executor --- */

#define MAXP 4096
struct px {
    char id[MAXP][64];
    pid_t pid[MAXP];
    int fd[MAXP], status[MAXP], done[MAXP];
    int n;
};

static int find(struct px *x, const struct ag_pipeline_attempt *a)
{
    char id[64];
    snprintf(id, sizeof id, "%s/%d", a->stage, a->attempt);
    for (int i = 0; i < x->n; i++)
        if (strcmp(x->id[i], id) == 0)
            return i;
    return -1;
}

static ag_err px_start(void *ctx, const struct ag_pipeline_attempt *a)
{
    struct px *x = ctx;
    int i = x->n++;
    snprintf(x->id[i], sizeof x->id[i], "%s/%d", a->stage, a->attempt);
    pid_t p = fork();
    if (p == 0) {
        execv(a->argv[0], a->argv);
        _exit(127);
    }
    x->pid[i] = p;
    x->fd[i] = (int)syscall(SYS_pidfd_open, p, 0);
    x->done[i] = 0;
    return p > 0 ? AG_OK : AG_EIO;
}

static ag_err px_check(void *ctx, const struct ag_pipeline_attempt *a, enum ag_pipeline_check *st,
                       struct ag_pipeline_result *r)
{
    struct px *x = ctx;
    int i = find(x, a);
    if (i < 0) {
        *st = AG_PL_NOT_STARTED;
        return AG_OK;
    }
    if (!x->done[i]) {
        int s;
        if (waitpid(x->pid[i], &s, WNOHANG) == 0) {
            *st = AG_PL_RUNNING;
            return AG_OK;
        }
        x->done[i] = 1;
        x->status[i] = WIFEXITED(s) ? WEXITSTATUS(s) : 1;
        close(x->fd[i]);
    }
    r->ok = x->status[i] == 0;
    r->retryable = 1;
    snprintf(r->message, sizeof r->message, "exit %d", x->status[i]);
    *st = AG_PL_FINISHED;
    return AG_OK;
}

static void px_wait(void *ctx, int64_t ms)
{
    struct px *x = ctx;
    struct pollfd fds[MAXP];
    nfds_t n = 0;
    for (int i = 0; i < x->n; i++)
        if (!x->done[i])
            fds[n++] = (struct pollfd){.fd = x->fd[i], .events = POLLIN};
    poll(fds, n, (int)ms);
}

static void px_stop(void *ctx, const struct ag_pipeline_attempt *a)
{
    (void)ctx;
    (void)a;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int sched(const char *dir, int n, int chain, int par)
{
    char *text = generate(n, chain, par);
    ag_pipeline *p = NULL;
    char *diags = NULL;
    if (ag_pipeline_load("bench.yaml", text, strlen(text), NULL, &p, &diags) != AG_OK) {
        fprintf(stderr, "load: %s\n", diags ? diags : ag_last_error());
        return 1;
    }
    char path[2048], url[4200], work[4096];
    snprintf(path, sizeof path, "%s/agentgov-bench-pipeline-%d", dir, (int)getpid());
    snprintf(work, sizeof work, "%s/work", path);
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, work);
    if (system(cmd) != 0)
        return 1;
    snprintf(url, sizeof url, "sqlite:%s/state.db", path);
    char ldb[4200];
    snprintf(ldb, sizeof ldb, "%s/ledger.db", path);
    ag_store *st = NULL;
    ag_ledger *l = NULL;
    struct ag_ledger_opts lo = {0};
    if (ag_store_open(url, &st) || ag_ledger_open(ldb, &lo, &l)) {
        fprintf(stderr, "open: %s\n", ag_last_error());
        return 1;
    }
    static struct px x;
    memset(&x, 0, sizeof x);
    struct ag_pipeline_executor ex = {&x, px_start, px_check, px_wait, px_stop};
    struct ag_pipeline_env env = {
        .store = st, .ledger = l, .exec = &ex, .work_root = work, .owner = "bench", .poll_ms = 100};
    char run[33], status[16] = "";
    int64_t t0 = ag__mono_ns();
    ag_err e = ag_pipeline_create_run(&env, p, NULL, 0, run);
    if (!e)
        e = ag_pipeline_drive(&env, run, status);
    int64_t t1 = ag__mono_ns();
    if (e || strcmp(status, "succeeded") != 0) {
        fprintf(stderr, "drive: %s %s\n", status, ag_last_error());
        return 1;
    }
    /* The same number of bare fork+exec+wait, to tell the process cost apart. */
    int64_t f0 = ag__mono_ns();
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        waitpid(c, NULL, 0);
    }
    int64_t f1 = ag__mono_ns();
    /* The overhead is what the scheduler adds to the stages' own processes: the wall time
     * per stage less a bare fork+exec+wait of the same program (for independent stages
     * run max_parallel at once this undercounts nothing: their processes overlap). */
    double per = (double)(t1 - t0) / 1e6 / n, bare = (double)(f1 - f0) / 1e6 / n;
    double over = per - (chain ? bare : 0);
    printf("schedule %-28s %d stages: %.1f ms total, %.2f ms/stage, fork+exec+wait %.2f ms, "
           "overhead %.2f ms/stage %s\n",
           chain ? "chain (when on each)" : "independent", n, (double)(t1 - t0) / 1e6, per, bare,
           over, over <= 5.0 ? "[<= 5 ms: ok]" : "[> 5 ms: OVER]");
    ag_pipeline_free(p);
    free(text);
    ag_ledger_close(l);
    ag_store_free(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        return 1;
    return over <= 5.0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    int n = 100, par = 4, opt;
    const char *dir = "/tmp";
    while ((opt = getopt(argc, argv, "n:d:p:")) != -1) {
        if (opt == 'n')
            n = atoi(optarg);
        else if (opt == 'd')
            dir = optarg;
        else if (opt == 'p')
            par = atoi(optarg);
        else {
            fprintf(stderr, "usage: %s [-n STAGES] [-d DIR] [-p MAX_PARALLEL]\n", argv[0]);
            return 1;
        }
    }
    if (n < 1 || n > 4000 || par < 1)
        return 1;
    char *text = generate(n, 1, par);
    int64_t t[50];
    for (int i = 0; i < 50; i++) {
        ag_pipeline *p = NULL;
        char *diags = NULL;
        int64_t a = ag__mono_ns();
        ag_err e = ag_pipeline_load("bench.yaml", text, strlen(text), NULL, &p, &diags);
        t[i] = ag__mono_ns() - a;
        if (e) {
            fprintf(stderr, "load: %s\n", diags ? diags : ag_last_error());
            return 1;
        }
        ag_pipeline_free(p);
    }
    free(text);
    qsort(t, 50, sizeof t[0], cmp64);
    printf("validate %d stages: min %.2f ms, median %.2f ms, max %.2f ms %s\n", n, t[0] / 1e6,
           t[25] / 1e6, t[49] / 1e6, t[25] / 1e6 <= 20.0 ? "[<= 20 ms: ok]" : "[> 20 ms: OVER]");
    int rc = sched(dir, n, 1, par);
    int rc2 = sched(dir, n, 0, par);
    return rc ? rc : rc2;
}
