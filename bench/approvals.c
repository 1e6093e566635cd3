/* Approvals benchmark: the cost of the ask path (decision, pending approval on the store,
 * its ledger entry) against an allow of the same shape through the same call
 * (ag_approve_authorize), single-threaded and with several threads sharing the ledger;
 * and the time to list 1,000 pending approvals. On the embedded store and on Redis.
 *
 *   build/bench/approvals [-n OPS (>= 1000)] [-t THREADS (default 8)] [-b sqlite|redis]
 *                         [-d DIR]
 *
 * DIR (default /tmp) holds the ledger and the embedded store. Without -b both backends
 * run; Redis is a private redis-server on a free port, stopped at exit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentgov/approve.h"
#include "agentgov/gov.h"
#include "bench_redis.h"
#include "core/time.h"
#include "ledger/keys.h"

static const char policy_yaml[] =
    "version: 1\nrules:\n"
    "  - {id: read, effect: allow, actions: [deploy.read], resources: [sandbox/**], min_tier: 0}\n"
    "  - {id: deploy, effect: ask, actions: [deploy.run], resources: [sandbox/**], min_tier: 1,"
    " approval: {approvers: ['user:alice']}}\n";

struct shared {
    const char *url;
    ag_ledger *ledger;
    ag_policy *policy;
    int ops;
    pthread_barrier_t b1, b2;
    int64_t t[4];
};

struct job {
    struct shared *sh;
    int id, errors;
    int64_t *allow_ns, *ask_ns;
};

static int setup_agent(ag_gov *g, const char *agent)
{
    char packet[1024];
    snprintf(packet, sizeof packet,
             "{\"agent_id\":\"%s\",\"task_id\":\"task-%s\",\"created_for\":\"bench\","
             "\"objective\":\"o\",\"deliverables\":[],\"success_criteria\":[],"
             "\"escalation_rules\":[],\"created_at\":\"2026-11-25T12:00:00Z\","
             "\"constraints\":{\"scope\":[\"sandbox/**\"],\"forbidden\":[],"
             "\"required_steps\":[]}}",
             agent, agent);
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
    ag_approve *ap = NULL;
    char agent[64];
    static _Atomic int runs;
    snprintf(agent, sizeof agent, "bench-%d-%d-%d", (int)getpid(), j->id, runs++);
    struct ag_approve_opts ao = {.ledger = sh->ledger};
    if (ag_store_open(sh->url, &s) || ag_gov_new(s, sh->ledger, sh->policy, NULL, &g) ||
        setup_agent(g, agent) || (ao.store = s, ag_approve_new(&ao, &ap))) {
        fprintf(stderr, "setup %s: %s\n", agent, ag_last_error());
        j->errors = 1;
    }
    /* Alternating is fairer to both than two phases (the WAL and the disk cache are in
     * the same state for each); each phase is timed on its own wall clock too. */
    pthread_barrier_wait(&sh->b1);
    for (int i = 0; !j->errors && i < sh->ops; i++) {
        struct ag_approve_request rq = {.agent_id = agent,
                                        .action = "deploy.read",
                                        .resource = "sandbox/web/01",
                                        .confidence = -1,
                                        .args_json = "{\"tag\":\"v1\"}"};
        struct ag_approve_result r;
        int64_t t0 = ag__mono_ns();
        if (ag_approve_authorize(ap, g, sh->policy, &rq, &r) != AG_EFFECT_ALLOW)
            j->errors++;
        j->allow_ns[i] = ag__mono_ns() - t0;
        rq.action = "deploy.run";
        t0 = ag__mono_ns();
        if (ag_approve_authorize(ap, g, sh->policy, &rq, &r) != AG_EFFECT_ASK)
            j->errors++;
        j->ask_ns[i] = ag__mono_ns() - t0;
    }
    pthread_barrier_wait(&sh->b2);
    ag_approve_free(ap);
    ag_gov_free(g);
    ag_store_free(s);
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void stats(const char *what, int64_t *v, size_t n, double *mean_out)
{
    qsort(v, n, sizeof *v, cmp64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    *mean_out = sum / (double)n / 1000.0;
    printf("  %-6s mean %8.1f us  p50 %8.1f us  p99 %8.1f us\n", what, *mean_out,
           (double)v[n / 2] / 1000.0, (double)v[n * 99 / 100] / 1000.0);
}

static int run(const char *backend, const char *url, ag_ledger *l, ag_policy *p, int threads,
               int ops)
{
    struct shared sh = {.url = url, .ledger = l, .policy = p, .ops = ops};
    pthread_barrier_init(&sh.b1, NULL, (unsigned)threads);
    pthread_barrier_init(&sh.b2, NULL, (unsigned)threads);
    struct job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    int64_t *allow = calloc((size_t)threads * (size_t)ops, sizeof *allow);
    int64_t *ask = calloc((size_t)threads * (size_t)ops, sizeof *ask);
    int errors = 0;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){.sh = &sh,
                               .id = i,
                               .allow_ns = allow + (size_t)i * (size_t)ops,
                               .ask_ns = ask + (size_t)i * (size_t)ops};
        pthread_create(&tid[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        errors += jobs[i].errors;
    }
    printf("%s, %d thread(s) x %d allow + %d ask:\n", backend, threads, ops, ops);
    double ma, mk;
    stats("allow", allow, (size_t)threads * (size_t)ops, &ma);
    stats("ask", ask, (size_t)threads * (size_t)ops, &mk);
    printf("  ask / allow (mean): %.2fx%s\n", mk / ma, errors ? "  (ERRORS)" : "");
    free(jobs);
    free(tid);
    free(allow);
    free(ask);
    pthread_barrier_destroy(&sh.b1);
    pthread_barrier_destroy(&sh.b2);
    return errors ? 1 : 0;
}

/* Lists the pending approvals the runs left (at least 1,000), 20 times. */
static int list_bench(const char *backend, const char *url, ag_ledger *l)
{
    ag_store *s = NULL;
    ag_approve *ap = NULL;
    struct ag_approve_opts ao = {.ledger = l};
    if (ag_store_open(url, &s) || (ao.store = s, ag_approve_new(&ao, &ap))) {
        fprintf(stderr, "list: %s\n", ag_last_error());
        return 1;
    }
    int64_t best = INT64_MAX, worst = 0, all[20], cpu[20];
    size_t n = 0;
    for (int i = 0; i < 20; i++) {
        struct ag_approval_filter f = {.pending_only = 1};
        struct ag_approval *items;
        struct timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        int64_t t0 = ag__mono_ns();
        if (ag_approve_list(ap, &f, &items, &n)) {
            fprintf(stderr, "list: %s\n", ag_last_error());
            return 1;
        }
        int64_t dt = ag__mono_ns() - t0;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        cpu[i] = (c1.tv_sec - c0.tv_sec) * 1000000000LL + (c1.tv_nsec - c0.tv_nsec);
        ag_approval_list_free(items, n);
        all[i] = dt;
        best = dt < best ? dt : best;
        worst = dt > worst ? dt : worst;
    }
    qsort(all, 20, sizeof all[0], cmp64);
    qsort(cpu, 20, sizeof cpu[0], cmp64);
    /* The CPU time of the listing thread is what a loaded machine does not inflate. */
    printf("%s: list %zu pending approvals (ag_approve_list, pending only): wall median %.1f ms "
           "(best %.1f, worst %.1f), CPU median %.1f ms (20 runs)\n",
           backend, n, (double)all[10] / 1e6, (double)best / 1e6, (double)worst / 1e6,
           (double)cpu[10] / 1e6);
    ag_approve_free(ap);
    ag_store_free(s);
    return n < 1000;
}

int main(int argc, char **argv)
{
    int ops = 500, threads = 0, c;
    const char *dir = "/tmp", *only = NULL;
    while ((c = getopt(argc, argv, "n:t:b:d:")) != -1) {
        if (c == 'n')
            ops = atoi(optarg);
        else if (c == 't')
            threads = atoi(optarg);
        else if (c == 'b')
            only = optarg;
        else if (c == 'd')
            dir = optarg;
        else {
            fprintf(stderr, "usage: %s [-n OPS] [-t THREADS] [-b sqlite|redis] [-d DIR]\n",
                    argv[0]);
            return 1;
        }
    }
    if (ops < 1000)
        ops = 1000; /* at least 1,000 pending to list */
    char work[4096], db[4200], sk[4200], pk[4200], surl[4300], rurl[256];
    snprintf(work, sizeof work, "%s/agentgov-bench-approvals-%d", dir, (int)getpid());
    if (mkdir(work, 0700) != 0) {
        perror(work);
        return 1;
    }
    snprintf(sk, sizeof sk, "%s/ledger.key", work);
    snprintf(pk, sizeof pk, "%s/ledger.pub", work);
    if (ag__ledger_keygen(sk, pk)) {
        fprintf(stderr, "keygen: %s\n", ag_last_error());
        return 1;
    }
    ag_policy *p = NULL;
    if (ag_policy_load_string("bench.yaml", policy_yaml, strlen(policy_yaml), &p)) {
        fprintf(stderr, "policy: %s\n", ag_last_error());
        return 1;
    }
    int rc = 0;
    const char *backends[2] = {"sqlite", "redis"};
    for (int b = 0; b < 2; b++) {
        if (only && strcmp(only, backends[b]) != 0)
            continue;
        if (b == 0) {
            snprintf(surl, sizeof surl, "sqlite:%s/state.db", work);
        } else {
            if (bench_redis_start(rurl, sizeof rurl, work) != 0) {
                fprintf(stderr, "redis: could not start redis-server\n");
                continue;
            }
            snprintf(surl, sizeof surl, "%s", rurl);
        }
        snprintf(db, sizeof db, "%s/ledger-%s.db", work, backends[b]);
        struct ag_ledger_opts lo = {.signing_key_path = sk, .checkpoint_every = 1000};
        ag_ledger *l = NULL;
        if (ag_ledger_open(db, &lo, &l)) {
            fprintf(stderr, "ledger: %s\n", ag_last_error());
            return 1;
        }
        /* One thread first: it leaves exactly ops (>= 1,000) pending approvals to list. */
        rc |= run(backends[b], surl, l, p, 1, ops);
        rc |= list_bench(backends[b], surl, l);
        rc |= run(backends[b], surl, l, p, threads > 1 ? threads : 8, ops / 4 + 1);
        ag_ledger_close(l);
        if (b == 1)
            bench_redis_stop();
    }
    ag_policy_free(p);
    return rc;
}
