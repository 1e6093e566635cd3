/* bench/mcp: what `agentgov mcp proxy` adds to one tools/call. A trivial echo server
 * (this binary with --echo-server) is driven by a client in this process, first
 * directly over two pipes, then through the proxy (embedded on a fresh data directory,
 * a policy allowing the tool, every call decided and ledgered with its fsync). Each
 * client call is sent, then its answer read, one at a time; prints the median, p90 and
 * min round trip of each and the median difference, beside the disk's fsync floor
 * (the proxy commits one ledger entry per call before forwarding it). Then once more
 * on a second fresh data directory with mcp.ledger_sync = deferred in its config (each
 * entry committed before the call goes on, its fsync done in the background within
 * mcp.ledger_sync_delay, 20 ms).
 * Usage: build/bench/mcp [AGENTGOV_BINARY] [CALLS] [DATA_PARENT_DIR] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsync_floor.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The echo server: answers every request line (it has "id":N) with a tool result. */
static int echo_server(void)
{
    char line[65536];
    setvbuf(stdout, NULL, _IOFBF, 65536);
    while (fgets(line, sizeof line, stdin)) {
        const char *id = strstr(line, "\"id\":");
        if (id == NULL)
            continue;
        id += 5;
        size_t n = strcspn(id, ",}");
        if (strstr(line, "\"initialize\""))
            printf(
                "{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":{\"protocolVersion\":\"2025-06-18\","
                "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"echo\",\"version\":"
                "\"1\"}}}\n",
                (int)n, id);
        else
            printf("{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":{\"content\":[{\"type\":\"text\","
                   "\"text\":\"echo\"}]}}\n",
                   (int)n, id);
        fflush(stdout);
    }
    return 0;
}

struct conn {
    pid_t pid;
    FILE *to, *from;
};

static int start(char *const argv[], struct conn *c)
{
    int in[2], out[2];
    if (pipe(in) || pipe(out))
        return -1;
    c->pid = fork();
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->to = fdopen(in[1], "w");
    c->from = fdopen(out[0], "r");
    return c->to && c->from ? 0 : -1;
}

static int call(struct conn *c, const char *msg, char *reply, size_t len)
{
    fputs(msg, c->to);
    fflush(c->to);
    return fgets(reply, (int)len, c->from) ? 0 : -1;
}

/* Runs the calls; fills t[] with each round trip in µs; 0 on success. */
static int run(char *const argv[], int calls, double *t)
{
    struct conn c;
    char reply[65536], msg[512];
    if (start(argv, &c) != 0)
        return -1;
    int ok = call(&c,
                  "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                  "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{"
                  "\"name\":\"bench\",\"version\":\"1\"}}}\n",
                  reply, sizeof reply) == 0;
    for (int i = 0; ok && i < calls; i++) {
        snprintf(msg, sizeof msg,
                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
                 "\"echo\",\"arguments\":{\"text\":\"hello %d\"}}}\n",
                 i + 1, i);
        double a = now_us();
        ok = call(&c, msg, reply, sizeof reply) == 0 && strstr(reply, "\"echo\"") != NULL;
        t[i] = now_us() - a;
        if (!ok)
            fprintf(stderr, "bench/mcp: call %d failed: %s\n", i + 1, reply);
    }
    fclose(c.to);
    fclose(c.from);
    int st;
    waitpid(c.pid, &st, 0);
    return ok ? 0 : -1;
}

static void stats(const char *what, double *t, int n, double *median)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    *median = t[n / 2];
    printf("%-28s median %8.1f us   p90 %8.1f us   min %8.1f us   (%d calls)\n", what, t[n / 2],
           t[n * 9 / 10], t[0], n);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--echo-server") == 0)
        return echo_server();
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0)
        return 1;
    self[sl] = '\0';
    const char *bin = argc > 1 ? argv[1] : "build/agentgov";
    int calls = argc > 2 ? atoi(argv[2]) : 2000;
    const char *parent = argc > 3 ? argv[3] : "build";
    if (calls < 10)
        calls = 10;
    char dir[2048], policy[4300], cmd[8600];
    snprintf(dir, sizeof dir, "%s/bench-mcp-XXXXXX", parent);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cmd, sizeof cmd,
             "'%s' --dir '%s/data' init >/dev/null && '%s' --dir '%s/data2' init >/dev/null", bin,
             dir, bin, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench/mcp: %s failed\n", cmd);
        return 1;
    }
    snprintf(policy, sizeof policy, "%s/policy.yaml", dir);
    FILE *f = fopen(policy, "w");
    if (f == NULL)
        return 1;
    fputs("version: 1\nrules:\n  - {effect: allow, actions: [mcp.echo.echo], resources: "
          "[\"**\"], min_tier: 1}\n",
          f);
    fclose(f);
    char config[4400];
    snprintf(config, sizeof config, "%s/data2/config", dir);
    if ((f = fopen(config, "a")) == NULL)
        return 1;
    fputs("mcp.ledger_sync = deferred\n", f);
    fclose(f);
    char data[4300];
    snprintf(data, sizeof data, "%s/data", dir);
    double *direct = calloc((size_t)calls, sizeof(double));
    double *proxied = calloc((size_t)calls, sizeof(double));
    double *deferred = calloc((size_t)calls, sizeof(double));
    char *dargv[] = {self, "--echo-server", NULL};
    char binbuf[4096]; /* execvp takes char *const[]; bin is const */
    snprintf(binbuf, sizeof binbuf, "%s", bin);
    char *pargv[] = {binbuf, "mcp",      "proxy", "--dir", data, "--policy",      policy, "--tier",
                     "1",    "--server", "echo",  "--",    self, "--echo-server", NULL};
    if (direct == NULL || proxied == NULL || deferred == NULL || run(dargv, calls, direct) != 0 ||
        run(pargv, calls, proxied) != 0) {
        fprintf(stderr, "bench/mcp: a run failed\n");
        return 1;
    }
    snprintf(data, sizeof data, "%s/data2", dir); /* the deferred run's own fresh directory */
    if (run(pargv, calls, deferred) != 0) {
        fprintf(stderr, "bench/mcp: the deferred run failed\n");
        return 1;
    }
    double md, mp, mdf;
    stats("direct (echo server)", direct, calls, &md);
    stats("through agentgov mcp proxy", proxied, calls, &mp);
    stats("proxy, ledger_sync deferred", deferred, calls, &mdf);
    printf("added by the proxy: %.1f us median per tools/call (decided and ledgered, "
           "mcp.ledger_sync = commit)\n",
           mp - md);
    printf("added by the proxy: %.1f us median per tools/call (mcp.ledger_sync = deferred)\n",
           mdf - md);
    double floor = bench_fsync_floor_us(dir);
    if (floor >= 0)
        printf("fsync floor of %s: %.1f us (one durable ledger commit per call)\n", parent, floor);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    free(direct);
    free(proxied);
    free(deferred);
    return 0;
}
