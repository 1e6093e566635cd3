/* bench/ledger: durable ledger appends per second with 1, 8 and 64 concurrent appender
 * threads (group commit, synchronous=FULL, signed checkpoints every 1000 entries), and
 * in the same run the baseline: a plain SQLite insert of rows of the same size into the
 * same schema, with the same durability settings, committed in batches of 1, 8 and 64
 * rows by one thread. Prints rates, their ratio, and p50/p99 append latency.
 * The ledger and its baseline run in alternating slices, so that a disk whose fsync
 * time drifts, or a machine that other work keeps busy, weighs on both alike.
 *
 *   build/bench/ledger [SECONDS_PER_CONCURRENCY [APPENDERS [one-agent]]]
 *
 * SECONDS_PER_CONCURRENCY defaults to 8 (half ledger, half baseline); APPENDERS runs one
 * concurrency (1..64) instead of 1, 8 and 64. Each appender is its own agent (and the
 * baseline's rows carry the same agent ids), unless `one-agent` is given: then every
 * row, on both sides, is agent-00's, as when one agent's actions go through the daemon
 * (the agent index then grows at one place instead of 64).
 *
 * Works in a fresh directory under $TMPDIR (removed at exit). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agentgov/ledger.h"
#include "core/time.h"
#include "fsync_floor.h"
#include "ledger/backend_sqlite.h"
#include "ledger/keys.h"

#define SLICES  8
#define MAX_LAT 4000000

static char dir[4096];
static int one_agent; /* every row is agent-00's */

/* Process CPU time (user + system), ns: how much of the machine each side uses. */
static int64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static const char *const data_json = "{\"bytes\":1024,\"path\":\"/srv/app/config.yaml\"}";

static struct ag_ledger_entry entry(const char *agent)
{
    struct ag_ledger_entry e = {.kind = "action",
                                .agent_id = agent,
                                .agent_version = "1.2.0",
                                .task_id = "task-42",
                                .tier = 2,
                                .phase = "EXECUTE",
                                .action = "write_file",
                                .resource = "/srv/app/config.yaml",
                                .decision = "allow",
                                .reason = "rule sandbox-write matched",
                                .confidence = 900,
                                .success = 1,
                                .data_json = data_json};
    return e;
}

/* ---- the ledger side ---------------------------------------------------------------- */

struct ledger_run {
    ag_ledger *l;
    char db[4200], pk[4200];
    int threads;
    int64_t *lat; /* all latencies, ns */
    size_t nlat;
    int64_t total, ns, cpu;
};

struct worker {
    struct ledger_run *run;
    int id;
    int64_t deadline_ns;
    int64_t *lat;
    size_t n, cap;
};

static void *append_loop(void *arg)
{
    struct worker *w = arg;
    char agent[32];
    snprintf(agent, sizeof agent, "agent-%02d", one_agent ? 0 : w->id);
    struct ag_ledger_entry e = entry(agent);
    while (ag__mono_ns() < w->deadline_ns && w->n < w->cap) {
        int64_t t0 = ag__mono_ns();
        if (ag_ledger_append(w->run->l, &e, NULL, NULL) != AG_OK) {
            fprintf(stderr, "append failed: %s\n", ag_last_error());
            exit(1);
        }
        w->lat[w->n++] = ag__mono_ns() - t0;
    }
    return NULL;
}

static void ledger_open(struct ledger_run *r, int threads)
{
    char sk[4200];
    r->threads = threads;
    snprintf(r->db, sizeof r->db, "%s/ledger-%d.db", dir, threads);
    snprintf(sk, sizeof sk, "%s/ledger-%d.key", dir, threads);
    snprintf(r->pk, sizeof r->pk, "%s/ledger-%d.pub", dir, threads);
    struct ag_ledger_opts o = {.signing_key_path = sk, .checkpoint_every = 1000};
    if (ag__ledger_keygen(sk, r->pk) != AG_OK || ag_ledger_open(r->db, &o, &r->l) != AG_OK) {
        fprintf(stderr, "ledger: %s\n", ag_last_error());
        exit(1);
    }
    r->lat = malloc(sizeof *r->lat * MAX_LAT);
}

static void ledger_slice(struct ledger_run *r, double secs)
{
    struct worker w[64];
    pthread_t th[64];
    int64_t start = ag__mono_ns(), cpu0 = cpu_ns();
    size_t room = (MAX_LAT - r->nlat) / (size_t)r->threads;
    for (int i = 0; i < r->threads; i++) {
        w[i] = (struct worker){.run = r,
                               .id = i,
                               .deadline_ns = start + (int64_t)(secs * 1e9),
                               .lat = r->lat + r->nlat + (size_t)i * room,
                               .cap = room};
        pthread_create(&th[i], NULL, append_loop, &w[i]);
    }
    size_t k = r->nlat;
    for (int i = 0; i < r->threads; i++) {
        pthread_join(th[i], NULL);
        memmove(r->lat + k, w[i].lat, w[i].n * sizeof *r->lat);
        k += w[i].n;
        r->total += (int64_t)w[i].n;
    }
    r->nlat = k;
    r->ns += ag__mono_ns() - start;
    r->cpu += cpu_ns() - cpu0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void ledger_close(struct ledger_run *r, double *p50_us, double *p99_us)
{
    ag_ledger_close(r->l);
    qsort(r->lat, r->nlat, sizeof *r->lat, cmp_i64);
    *p50_us = r->nlat ? (double)r->lat[r->nlat / 2] / 1e3 : 0;
    *p99_us = r->nlat ? (double)r->lat[r->nlat * 99 / 100] / 1e3 : 0;
    free(r->lat);
    struct ag_verify_result v;
    if (ag_ledger_verify(r->db, r->pk, &v) != AG_OK || !v.ok)
        fprintf(stderr, "warning: the benchmark ledger does not verify\n");
}

/* ---- the baseline: the same rows (same values, a ts and two 64-hex hashes) inserted by
 * one thread into the same schema, WAL and synchronous=FULL, batch rows per commit ---- */

struct base_run {
    sqlite3 *h;
    sqlite3_stmt *st;
    int batch;
    int64_t total, ns, cpu;
};

static void base_open(struct base_run *b, int batch)
{
    char db[4200];
    b->batch = batch;
    snprintf(db, sizeof db, "%s/baseline-%d.db", dir, batch);
    if (sqlite3_open(db, &b->h) != SQLITE_OK ||
        sqlite3_exec(b->h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(b->h, ag__ledger_sqlite_schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(b->h,
                           "INSERT INTO ledger(seq, ts, kind, agent_id, agent_version, "
                           "task_id, tier, phase, action, resource, decision, reason, "
                           "confidence, success, error_type, error_message, data, "
                           "prev_hash, hash) VALUES (?, ?, 'action', ?, '1.2.0', 'task-42', "
                           "2, 'EXECUTE', 'write_file', '/srv/app/config.yaml', 'allow', "
                           "'rule sandbox-write matched', 900, 1, NULL, NULL, ?, ?, ?)",
                           -1, &b->st, NULL) != SQLITE_OK) {
        fprintf(stderr, "baseline: %s\n", sqlite3_errmsg(b->h));
        exit(1);
    }
}

static void base_slice(struct base_run *b, double secs)
{
    static const char hash[] = "5f1c0a4b8e2d9f3a7c6b1e0d4a8f2c9b3e7d1a6f0c5b8e2d4a9f3c7b1e6d0a5f";
    char ts[AG_RFC3339_LEN];
    int64_t start = ag__mono_ns(), deadline = start + (int64_t)(secs * 1e9), cpu0 = cpu_ns();
    while (ag__mono_ns() < deadline) {
        sqlite3_exec(b->h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        ag__rfc3339(ag__wall_ms(), ts);
        for (int i = 0; i < b->batch; i++) {
            sqlite3_bind_int64(b->st, 1, ++b->total);
            sqlite3_bind_text(b->st, 2, ts, -1, SQLITE_STATIC);
            char agent[32];
            snprintf(agent, sizeof agent, "agent-%02d", one_agent ? 0 : (int)(b->total % b->batch));
            sqlite3_bind_text(b->st, 3, agent, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(b->st, 4, data_json, -1, SQLITE_STATIC);
            sqlite3_bind_text(b->st, 5, hash, -1, SQLITE_STATIC);
            sqlite3_bind_text(b->st, 6, hash, -1, SQLITE_STATIC);
            if (sqlite3_step(b->st) != SQLITE_DONE)
                exit(1);
            sqlite3_reset(b->st);
        }
        if (sqlite3_exec(b->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            exit(1);
    }
    b->ns += ag__mono_ns() - start;
    b->cpu += cpu_ns() - cpu0;
}

static void base_close(struct base_run *b)
{
    sqlite3_finalize(b->st);
    sqlite3_close(b->h);
}

static void cleanup(void)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 && atof(argv[1]) > 0 ? atof(argv[1]) : 8;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/agentgov-bench-ledger-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        return 1;
    atexit(cleanup);
    int conc[3] = {1, 8, 64}, nconc = 3;
    if (argc > 2) {
        conc[0] = atoi(argv[2]);
        nconc = 1;
        one_agent = argc > 3 && strcmp(argv[3], "one-agent") == 0;
        if (conc[0] < 1 || conc[0] > 64 || (argc > 3 && !one_agent)) {
            fprintf(stderr, "usage: %s [SECONDS [APPENDERS (1..64) [one-agent]]]\n", argv[0]);
            return 2;
        }
    }
    printf("durable appends (WAL, synchronous=FULL); ledger: group commit, checkpoint every "
           "1000; %.1f s per row, ledger and baseline in %d alternating slices each; %s; in %s\n",
           seconds, SLICES, one_agent ? "every row agent-00's" : "one agent per appender", dir);
    printf("disk floor: one 4 KiB overwrite + fdatasync takes %.1f us (median) here\n",
           bench_fsync_floor_us(dir));
    printf("%-10s %10s %10s %6s %8s %8s %10s %10s\n", "appenders", "ledger/s", "baseline/s",
           "ratio", "p50 us", "p99 us", "cpu us/op", "base cpu");
    for (int i = 0; i < nconc; i++) {
        struct ledger_run lr = {0};
        struct base_run br = {0};
        ledger_open(&lr, conc[i]);
        base_open(&br, conc[i]);
        for (int s = 0; s < SLICES; s++) {
            ledger_slice(&lr, seconds / 2 / SLICES);
            base_slice(&br, seconds / 2 / SLICES);
        }
        double p50, p99;
        ledger_close(&lr, &p50, &p99);
        base_close(&br);
        double lrate = (double)lr.total / ((double)lr.ns / 1e9);
        double brate = (double)br.total / ((double)br.ns / 1e9);
        printf("%-10d %10.0f %10.0f %6.2f %8.0f %8.0f %10.1f %10.1f\n", conc[i], lrate, brate,
               lrate / brate, p50, p99, (double)lr.cpu / 1e3 / (double)lr.total,
               (double)br.cpu / 1e3 / (double)br.total);
        fflush(stdout);
    }
    printf("baseline: one thread, plain INSERTs of rows of the same size into the same "
           "schema, committed in batches of 1, 8 and 64 rows (as many as the row's "
           "appenders)\ncpu us/op: process CPU time (user + system) per append and per "
           "baseline row\n");
    return 0;
}
