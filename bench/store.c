/* Store benchmark: a transition-like batch of 5 ops under a lock guard (state, heartbeat
 * with TTL, deadline index, error counter, lock refresh), run through ag_store_exec on
 * the embedded SQLite store and on Redis, and a read-only batch of 5 ops. Prints batches/s, ops/s,
 * µs per exec (mean, p50, p99) and round trips per batch, single-threaded and with several threads.
 *
 *   build/bench/store [-b sqlite|redis] [-n BATCHES] [-t THREADS] [REDIS_URL]
 *
 * Without REDIS_URL it starts its own redis-server on a free port (killed at exit). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentgov/store.h"
#include "bench_redis.h"
#include "core/time.h"

struct job {
    const char *url;
    int id, batches;
    int reads;       /* 1: a read-only batch instead of the transition */
    int64_t *lat_ns; /* one per batch */
    uint64_t trips;
    int errors;
};

static int next_id; /* agent ids unique across runs, so locks never collide */

static void *run_job(void *arg)
{
    struct job *j = arg;
    ag_store *s;
    if (ag_store_open(j->url, &s) != AG_OK) {
        fprintf(stderr, "open %s: %s\n", j->url, ag_last_error());
        j->errors = j->batches;
        return NULL;
    }
    char agent[32], lock[64], state[64], hb[64], errs[64], owner[32];
    snprintf(agent, sizeof agent, "bench%d-%d", (int)getpid(), j->id); /* fresh per run */
    snprintf(owner, sizeof owner, "owner-%d", j->id);
    snprintf(lock, sizeof lock, "agent:%s:lock", agent);
    snprintf(state, sizeof state, "agent:%s:state", agent);
    snprintf(hb, sizeof hb, "agent:%s:heartbeat", agent);
    snprintf(errs, sizeof errs, "agent:%s:errors", agent);
    int64_t fence;
    if (ag_store_lock_acquire(s, lock, owner, 600000, &fence) != AG_OK) {
        fprintf(stderr, "lock: %s\n", ag_last_error());
        j->errors = j->batches;
        ag_store_free(s);
        return NULL;
    }
    char lockval[96], now[24];
    ag_store_lock_value(fence, owner, lockval, sizeof lockval);
    struct ag_store_guard g = {lock, lockval};
    static const char *phases[] = {"PREFLIGHT", "PLAN", "EXECUTE", "VERIFY", "PACKAGE"};
    uint64_t t0 = ag_store_round_trips(s);
    for (int i = 0; i < j->batches; i++) {
        int64_t wall = ag__wall_ms();
        snprintf(now, sizeof now, "%lld", (long long)wall);
        struct ag_store_op ops[5] = {
            {.op = AG_OP_HSET, .key = state, .field = "phase", .value = phases[i % 5]},
            {.op = AG_OP_SET, .key = hb, .value = now, .num = 120000},
            {.op = AG_OP_ZADD, .key = "agents:deadlines", .field = agent, .num = wall + 30000},
            {.op = AG_OP_HINCRBY, .key = errs, .field = "total", .num = 0},
            {.op = AG_OP_PEXPIRE, .key = lock, .num = 600000},
        };
        if (j->reads && i > 0) { /* the first batch wrote what these read */
            ops[0] = (struct ag_store_op){.op = AG_OP_HGET, .key = state, .field = "phase"};
            ops[1] = (struct ag_store_op){.op = AG_OP_GET, .key = hb};
            ops[2] =
                (struct ag_store_op){.op = AG_OP_ZSCORE, .key = "agents:deadlines", .field = agent};
            ops[3] = (struct ag_store_op){.op = AG_OP_HGETALL, .key = errs};
            ops[4] = (struct ag_store_op){.op = AG_OP_PTTL, .key = lock};
        }
        struct ag_store_reply r[5];
        int ok;
        int64_t a = ag__mono_ns();
        ag_err e = ag_store_exec(s, &g, ops, 5, r, &ok);
        j->lat_ns[i] = ag__mono_ns() - a;
        if (e != AG_OK || !ok)
            j->errors++;
        ag_store_reply_free(r, 5);
    }
    j->trips = ag_store_round_trips(s) - t0;
    ag_store_free(s);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void bench(const char *name, const char *url, int threads, int batches, int reads)
{
    struct job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    int64_t *lat = calloc((size_t)threads * (size_t)batches, sizeof *lat);
    for (int t = 0; t < threads; t++)
        jobs[t] =
            (struct job){url, next_id++, batches, reads, lat + (size_t)t * (size_t)batches, 0, 0};
    int64_t start = ag__mono_ns();
    for (int t = 0; t < threads; t++)
        pthread_create(&tids[t], NULL, run_job, &jobs[t]);
    uint64_t trips = 0;
    int errors = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        trips += jobs[t].trips;
        errors += jobs[t].errors;
    }
    double secs = (double)(ag__mono_ns() - start) / 1e9;
    size_t total = (size_t)threads * (size_t)batches;
    double sum = 0;
    for (size_t i = 0; i < total; i++)
        sum += (double)lat[i];
    qsort(lat, total, sizeof *lat, cmp_i64);
    printf("%-7s %-5s threads=%d batches=%zu: %8.0f batches/s %9.0f ops/s | us/exec mean %.1f "
           "p50 %.1f p99 %.1f max %.0f | round trips/batch %.2f | errors %d\n",
           name, reads ? "read" : "write", threads, total, (double)total / secs,
           5.0 * (double)total / secs, sum / (double)total / 1e3, (double)lat[total / 2] / 1e3,
           (double)lat[total * 99 / 100] / 1e3, (double)lat[total - 1] / 1e3,
           (double)trips / (double)total, errors);
    free(jobs);
    free(tids);
    free(lat);
}

int main(int argc, char **argv)
{
    int batches = 20000, threads = 8, opt;
    const char *only = NULL;
    while ((opt = getopt(argc, argv, "b:n:t:h")) != -1) {
        if (opt == 'b')
            only = optarg;
        else if (opt == 'n')
            batches = atoi(optarg);
        else if (opt == 't')
            threads = atoi(optarg);
        else {
            fprintf(stderr, "usage: %s [-b sqlite|redis] [-n BATCHES] [-t THREADS] [REDIS_URL]\n",
                    argv[0]);
            return 2;
        }
    }
    if (batches < 1 || threads < 1)
        return 2;
    char dir[] = "/tmp/agentgov-bench-store-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char sqlite_url[128], redis_url[128];
    snprintf(sqlite_url, sizeof sqlite_url, "sqlite:%s/state.db", dir);
    int do_sqlite = only == NULL || strcmp(only, "sqlite") == 0;
    int do_redis = only == NULL || strcmp(only, "redis") == 0;
    if (optind < argc)
        snprintf(redis_url, sizeof redis_url, "%s", argv[optind]);
    else if (do_redis && bench_redis_start(redis_url, sizeof redis_url, dir) != 0) {
        fprintf(stderr, "could not start redis-server\n");
        return 1;
    }
    printf("write: transition-like batch, guard + HSET, SET PX, ZADD, HINCRBY, PEXPIRE\n"
           "read:  guard + HGET, GET, ZSCORE, HGETALL, PTTL\n");
    if (do_sqlite) {
        bench("sqlite", sqlite_url, 1, batches, 0);
        bench("sqlite", sqlite_url, threads, batches / threads, 0);
        bench("sqlite", sqlite_url, 1, batches, 1);
        bench("sqlite", sqlite_url, threads, batches / threads, 1);
    }
    if (do_redis) {
        bench("redis", redis_url, 1, batches, 0);
        bench("redis", redis_url, threads, batches / threads, 0);
        bench("redis", redis_url, 1, batches, 1);
        bench("redis", redis_url, threads, batches / threads, 1);
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    bench_redis_stop();
    return system(cmd) == 0 ? 0 : 1;
}
