/* Lifecycle benchmark: µs per ag_gov_authorize (state read, the pure decision, a
 * durable ledger entry) and per ag_gov_transition (one guarded exec: heartbeat, lock
 * refresh, budget check, state record, plus its ledger entry), single-threaded and with
 * several threads, on the embedded store and on Redis; and Redis round trips per
 * transition and per authorize.
 *
 *   build/bench/lifecycle [-n OPS_PER_THREAD] [-t THREADS] [-b sqlite|redis] [-d DIR]
 *                         [REDIS_URL]
 *
 * DIR (default /tmp) holds the ledger and the embedded store: on tmpfs (/dev/shm) the
 * figures show the CPU cost without the disk's fsync. CHECKPOINT_EVERY (default 1000,
 * the shipped setting) is the ledger's signed-checkpoint interval.
 * Each thread governs its own agent through its own ag_gov and store handle (as the
 * daemon's workers would); all threads share one ledger, so concurrent appends are
 * group-committed. Without REDIS_URL it starts its own redis-server on a free port and
 * kills it at exit. Figures: mean and p50/p99 latency of one call, and the amortised
 * cost (wall time / calls), which is what throughput is made of. */
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

#include "agentgov/gov.h"
#include "bench_redis.h"
#include "fsync_floor.h"
#include "core/time.h"
#include "ledger/keys.h"
#include "policy/path.h"

struct shared {
    const char *url;
    ag_ledger *ledger;
    const ag_policy *policy;
    int ops;
    pthread_barrier_t start, mid;
    int64_t t_auth0, t_auth1, t_tr0, t_tr1; /* wall of each phase, set by thread 0 */
};

struct job {
    struct shared *sh;
    int id;
    int64_t *auth_ns, *tr_ns;
    uint64_t auth_trips, tr_trips;
    int errors;
};

static int run_id;

static int setup_agent(ag_gov *g, const char *agent)
{
    char packet[1024], task[80];
    snprintf(task, sizeof task, "task-%s", agent);
    snprintf(packet, sizeof packet,
             "{\"agent_id\":\"%s\",\"task_id\":\"%s\",\"created_for\":\"bench\","
             "\"objective\":\"o\",\"deliverables\":[],\"success_criteria\":[],"
             "\"escalation_rules\":[],\"created_at\":\"2026-11-25T12:00:00Z\","
             "\"constraints\":{\"scope\":[\"sandbox/**\"],\"forbidden\":[\"prod.*\"],"
             "\"required_steps\":[]}}",
             agent, task);
    struct ag_bootstrap_result b;
    if (ag_gov_register(g, agent, 1, packet) || ag_gov_bootstrap(g, agent, NULL, &b))
        return -1;
    int ok = b.code == AG_BOOT_COMPLETE;
    ag_bootstrap_result_clear(&b);
    struct ag_transition_result r;
    for (int p = AG_PHASE_PREFLIGHT; ok && p <= AG_PHASE_EXECUTE; p++)
        ok = ag_gov_transition(g, agent, (enum ag_phase)p, "setup", &r) == AG_OK && r.ok;
    return ok ? 0 : -1;
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    struct shared *sh = j->sh;
    ag_store *s = NULL;
    ag_gov *g = NULL;
    char agent[64];
    snprintf(agent, sizeof agent, "bench-%d-%d-%d", (int)getpid(), run_id, j->id);
    if (ag_store_open(sh->url, &s) || ag_gov_new(s, sh->ledger, sh->policy, NULL, &g) ||
        setup_agent(g, agent)) {
        fprintf(stderr, "setup %s: %s\n", agent, ag_last_error());
        j->errors = 1;
    }
    pthread_barrier_wait(&sh->start);
    if (j->id == 0)
        sh->t_auth0 = ag__mono_ns();
    uint64_t trips = s ? ag_store_round_trips(s) : 0;
    for (int i = 0; !j->errors && i < sh->ops; i++) {
        struct ag_gov_decision d;
        int64_t t0 = ag__mono_ns();
        enum ag_effect e = ag_gov_authorize(g, agent, "ssh.exec", "sandbox/web/01", 900, &d);
        j->auth_ns[i] = ag__mono_ns() - t0;
        if (e != AG_EFFECT_ALLOW)
            j->errors++;
    }
    j->auth_trips = s ? ag_store_round_trips(s) - trips : 0;
    pthread_barrier_wait(&sh->mid);
    if (j->id == 0) {
        sh->t_auth1 = ag__mono_ns();
        sh->t_tr0 = sh->t_auth1;
    }
    trips = s ? ag_store_round_trips(s) : 0;
    for (int i = 0; !j->errors && i < sh->ops; i++) {
        struct ag_transition_result r;
        int64_t t0 = ag__mono_ns();
        /* EXECUTE again: a new step within the phase, legal any number of times. */
        ag_err e = ag_gov_transition(g, agent, AG_PHASE_EXECUTE, "step", &r);
        j->tr_ns[i] = ag__mono_ns() - t0;
        if (e || !r.ok)
            j->errors++;
    }
    j->tr_trips = s ? ag_store_round_trips(s) - trips : 0;
    ag_gov_free(g);
    ag_store_free(s);
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, const char *backend, int threads, int64_t *all, size_t n,
                   int64_t wall_ns, double trips_per_op)
{
    qsort(all, n, sizeof *all, cmp64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)all[i];
    printf("%-10s %-6s %2d thr  mean %8.1f us  p50 %8.1f us  p99 %8.1f us  amortised %7.1f us"
           "  %9.0f ops/s",
           what, backend, threads, sum / n / 1e3, all[n / 2] / 1e3, all[n * 99 / 100] / 1e3,
           wall_ns / 1e3 / n, n / (wall_ns / 1e9));
    if (trips_per_op >= 0)
        printf("  %.2f round trips/op", trips_per_op);
    printf("\n");
}

static int run(const char *backend, const char *url, ag_ledger *l, const ag_policy *p, int threads,
               int ops)
{
    struct shared sh = {.url = url, .ledger = l, .policy = p, .ops = ops};
    pthread_barrier_init(&sh.start, NULL, (unsigned)threads);
    pthread_barrier_init(&sh.mid, NULL, (unsigned)threads);
    struct job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    int64_t *auth = calloc((size_t)threads * ops, sizeof *auth);
    int64_t *tr = calloc((size_t)threads * ops, sizeof *tr);
    run_id++;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){
            .sh = &sh, .id = i, .auth_ns = auth + (size_t)i * ops, .tr_ns = tr + (size_t)i * ops};
        pthread_create(&tid[i], NULL, run_job, &jobs[i]);
    }
    int errors = 0;
    uint64_t at = 0, tt = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        errors += jobs[i].errors;
        at += jobs[i].auth_trips;
        tt += jobs[i].tr_trips;
    }
    int64_t t_end = ag__mono_ns();
    size_t n = (size_t)threads * ops;
    int redis = strcmp(backend, "redis") == 0;
    if (!errors) {
        report("authorize", backend, threads, auth, n, sh.t_auth1 - sh.t_auth0,
               redis ? (double)at / n : -1);
        report("transition", backend, threads, tr, n, t_end - sh.t_tr0,
               redis ? (double)tt / n : -1);
    } else {
        fprintf(stderr, "%s, %d threads: %d errors (%s)\n", backend, threads, errors,
                ag_last_error());
    }
    free(jobs);
    free(tid);
    free(auth);
    free(tr);
    pthread_barrier_destroy(&sh.start);
    pthread_barrier_destroy(&sh.mid);
    return errors ? -1 : 0;
}

int main(int argc, char **argv)
{
    int ops = 2000, threads = 8, cp_every = 1000, c;
    const char *only = NULL, *base = "/tmp";
    while ((c = getopt(argc, argv, "n:t:b:d:c:")) != -1) {
        if (c == 'c')
            cp_every = atoi(optarg);
        else if (c == 'd')
            base = optarg;
        else if (c == 'n')
            ops = atoi(optarg);
        else if (c == 't')
            threads = atoi(optarg);
        else if (c == 'b')
            only = optarg;
        else {
            fprintf(
                stderr,
                "usage: %s [-n OPS] [-t THREADS] [-b sqlite|redis] [-d DIR] [-c CHECKPOINT_EVERY] "
                "[REDIS_URL]\n",
                argv[0]);
            return 2;
        }
    }
    if (ops < 1 || threads < 1)
        return 2;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/agentgov-bench-lifecycle-XXXXXX", base);
    if (!mkdtemp(dir))
        return 1;
    char db[600], sk[600], pk[600], hk[600], sq[700], rurl[128];
    snprintf(db, sizeof db, "%s/ledger.db", dir);
    snprintf(sk, sizeof sk, "%s/ledger.key", dir);
    snprintf(pk, sizeof pk, "%s/ledger.pub", dir);
    snprintf(hk, sizeof hk, "%s/ledger.hmac", dir);
    snprintf(sq, sizeof sq, "sqlite:%s/state.db", dir);
    ag_ledger *l;
    ag_policy *p;
    struct ag_ledger_opts lo = {
        .signing_key_path = sk, .hmac_key_path = hk, .checkpoint_every = cp_every};
    if (ag__ledger_keygen(sk, pk) || ag__ledger_hmac_keygen(hk) || ag_ledger_open(db, &lo, &l) ||
        ag_policy_load(ag__policy_default_path(), &p)) {
        fprintf(stderr, "setup: %s\n", ag_last_error());
        return 1;
    }
    printf("bench/lifecycle: %d ops per thread; ledger %s (WAL, synchronous=FULL, group "
           "commit); default policy\n",
           ops, db);
    double floor_us = bench_fsync_floor_us(dir);
    printf("disk floor: one 4 KiB overwrite + fdatasync in %s takes %.1f us (median); with %d "
           "threads each waiting for its own durable entry, at most %d entries share one, so "
           "no authorize can amortise below %.1f us here\n",
           dir, floor_us, threads, threads, floor_us / threads);
    int rc = 0;
    int tcounts[2] = {1, threads};
    if (!only || strcmp(only, "sqlite") == 0)
        for (int i = 0; i < (threads > 1 ? 2 : 1); i++)
            rc |= run("sqlite", sq, l, p, tcounts[i], ops);
    if (!only || strcmp(only, "redis") == 0) {
        const char *url = optind < argc ? argv[optind] : NULL;
        if (!url && bench_redis_start(rurl, sizeof rurl, dir) == 0)
            url = rurl;
        if (!url) {
            fprintf(stderr, "redis: could not start redis-server\n");
            rc = 1;
        }
        for (int i = 0; url && i < (threads > 1 ? 2 : 1); i++)
            rc |= run("redis", url, l, p, tcounts[i], ops);
    }
    ag_ledger_close(l);
    struct ag_verify_result v;
    if (ag_ledger_verify(db, pk, &v) == AG_OK)
        printf("ledger: %lld entries, chain %s\n", (long long)v.entries,
               v.ok ? "intact" : "BROKEN");
    ag_policy_free(p);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc ? 1 : 0;
}
