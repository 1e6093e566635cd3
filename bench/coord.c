/* Coordination benchmark: what agentgov itself costs an LLM agent team, with a model
 * that answers in zero time (the replay provider: no network, no model latency).
 *
 *   build/bench/coord [-n CALLS] [-d DIR]
 *
 * 1. One governed tool call, as an agent's model makes it: authorize through the
 *    lifecycle (state read, decision, durable ledger entry), then the in-process tool
 *    (a blackboard write, a message): mean, p50 and p99 over CALLS of each.
 * 2. A whole 3-agent task through ag_orchestrate: ALPHA and BETA in parallel, GAMMA
 *    spawned on COMPLEXITY, 60 blackboard writes and 30 messages by the agents, then
 *    the votes and the consensus; every model answer replayed. All of its wall time is
 *    agentgov's (threads, lifecycle, ledger, store, JSON, replay lookup).
 * 3. The same task with the approvals module wired in as `agentgov orchestrate` wires it
 *    (every tool call decided through ag_approve_authorize, so that an ask could wait
 *    for a person; none does here).
 * DIR (default /tmp) holds the ledger and the embedded store; the disk's fsync floor is
 * printed beside the figures (each governed call commits one ledger entry). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agentgov/approve.h"
#include "agentgov/coord.h"
#include "agentgov/gov.h"
#include "agentgov/llm.h"
#include "core/time.h"
#include "fsync_floor.h"
#include "ledger/keys.h"

static const char policy_yaml[] =
    "version: 1\n"
    "tiers:\n"
    "  0: {name: Observer, token_ttl: 1h, max_ttl: 4h}\n"
    "  1: {name: Operator, token_ttl: 30m, max_ttl: 2h}\n"
    "  2: {name: Builder, token_ttl: 30m, max_ttl: 2h}\n"
    "  3: {name: Executor, token_ttl: 15m, max_ttl: 1h}\n"
    "  4: {name: Architect, token_ttl: 15m, max_ttl: 1h}\n"
    "rules:\n"
    "  - {id: coordinate, effect: allow, actions: [blackboard.read, blackboard.write,"
    " message.read, message.send, vote.cast], resources: [blackboard/**, msg/**, votes/**],"
    " phases: [PLAN, EXECUTE, VERIFY], min_tier: 1}\n";

static void die(const char *what)
{
    fprintf(stderr, "bench/coord: %s: %s\n", what, ag_last_error());
    exit(1);
}

/* CPU time (user + system) of the whole process so far, in ms: on a shared, loaded
 * machine it says what agentgov itself spent, whatever the wall clock waited for. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, int64_t *ns, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)ns[i];
    qsort(ns, (size_t)n, sizeof *ns, cmp_i64);
    printf("  %-34s mean %7.1f us   p50 %7.1f us   p99 %7.1f us\n", what, sum / n / 1000.0,
           ns[n / 2] / 1000.0, ns[n * 99 / 100] / 1000.0);
}

struct env {
    char dir[1024];
    ag_ledger *ledger;
    ag_store *store;
    ag_policy *policy;
    ag_gov *gov;
    ag_coord *coord;
};

static void env_open(struct env *e, const char *base, const char *label)
{
    snprintf(e->dir, sizeof e->dir, "%s/agentgov-bench-coord-%d-%s", base, (int)getpid(), label);
    char cmd[1200], sk[1100], pk[1100], hk[1100], db[1100], url[1100];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", e->dir);
    if (system(cmd) != 0)
        die("mkdir");
    snprintf(sk, sizeof sk, "%s/ledger.key", e->dir);
    snprintf(pk, sizeof pk, "%s/ledger.pub", e->dir);
    snprintf(hk, sizeof hk, "%s/ledger.hmac", e->dir);
    snprintf(db, sizeof db, "%s/ledger.db", e->dir);
    snprintf(url, sizeof url, "sqlite:%s/state.db", e->dir);
    struct ag_ledger_opts lo = {
        .signing_key_path = sk, .hmac_key_path = hk, .checkpoint_every = 1000};
    if (ag__ledger_keygen(sk, pk) || ag__ledger_hmac_keygen(hk) ||
        ag_ledger_open(db, &lo, &e->ledger))
        die("ledger");
    if (ag_store_open(url, &e->store))
        die("store");
    if (ag_policy_load_string("bench.yaml", policy_yaml, strlen(policy_yaml), &e->policy))
        die("policy");
    if (ag_gov_new(e->store, e->ledger, e->policy, NULL, &e->gov) ||
        ag_coord_new(e->store, e->gov, e->ledger, 0, &e->coord))
        die("gov");
}

static void env_close(struct env *e)
{
    ag_coord_free(e->coord);
    ag_gov_free(e->gov);
    ag_policy_free(e->policy);
    ag_store_free(e->store);
    ag_ledger_close(e->ledger);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench/coord: could not remove %s\n", e->dir);
}

static void tool_calls(const char *base, int n)
{
    struct env e;
    env_open(&e, base, "calls");
    const char *pkt = "{\"agent_id\":\"alpha\",\"task_id\":\"b1\",\"created_for\":\"bench\","
                      "\"objective\":\"o\",\"deliverables\":[],\"required_artifacts\":[],"
                      "\"constraints\":{\"scope\":[\"blackboard/**\",\"msg/**\"],\"forbidden\":[],"
                      "\"required_steps\":[]},\"success_criteria\":[],\"escalation_rules\":[],"
                      "\"created_at\":\"2026-12-06T00:00:00Z\"}";
    struct ag_bootstrap_result br;
    if (ag_gov_register(e.gov, "alpha", 1, pkt) || ag_gov_bootstrap(e.gov, "alpha", NULL, &br) ||
        br.code != AG_BOOT_COMPLETE)
        die("bootstrap");
    ag_bootstrap_result_clear(&br);
    for (int p = AG_PHASE_PREFLIGHT; p <= AG_PHASE_EXECUTE; p++) {
        struct ag_transition_result tr;
        if (ag_gov_transition(e.gov, "alpha", (enum ag_phase)p, NULL, &tr) || !tr.ok)
            die("transition");
    }
    int64_t *w = calloc((size_t)n, sizeof *w), *m = calloc((size_t)n, sizeof *m);
    double c0 = cpu_ms();
    char entry[32], val[64];
    for (int i = 0; i < n; i++) {
        snprintf(entry, sizeof entry, "proposal_%d", i % 9999 + 1);
        snprintf(val, sizeof val, "{\"i\":%d,\"idea\":\"bounded LRU\"}", i);
        int64_t t0 = ag__mono_ns();
        if (ag_coord_bb_write(e.coord, "alpha", "b1", "solutions", entry, val, NULL))
            die("blackboard write");
        int64_t t1 = ag__mono_ns();
        if (ag_coord_send(e.coord, "alpha", "b1", "beta", "PROPOSAL", val, NULL, NULL))
            die("send");
        m[i] = ag__mono_ns() - t1;
        w[i] = t1 - t0;
    }
    double cpu = cpu_ms() - c0;
    printf("1. governed tool calls (authorize + ledger + tool), %d each\n", n);
    report("blackboard_write", w, n);
    report("send_message", m, n);
    printf("  CPU time per governed call: %.1f us\n", cpu * 1000.0 / (2.0 * n));
    free(w);
    free(m);
    env_close(&e);
}

/* One replay line answering role with tool calls (JSON array text) or plain content. */
static void line(FILE *f, const char *role, const char *calls, const char *content)
{
    static int id;
    fprintf(f,
            "{\"request_sha256\":\"%064d\",\"agent\":\"%s\",\"response\":{\"choices\":[{"
            "\"index\":0,\"message\":{\"role\":\"assistant\",",
            0, role);
    if (calls) {
        fprintf(f, "\"content\":null,\"tool_calls\":[");
        /* calls: ";"-separated name|arguments pairs */
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", calls);
        int first = 1;
        for (char *sv, *t = strtok_r(buf, ";", &sv); t; t = strtok_r(NULL, ";", &sv)) {
            char *bar = strchr(t, '|');
            *bar = '\0';
            fprintf(f,
                    "%s{\"id\":\"c%d\",\"type\":\"function\",\"function\":{\"name\":\"%s\","
                    "\"arguments\":\"%s\"}}",
                    first ? "" : ",", ++id, t, bar + 1);
            first = 0;
        }
        fprintf(f, "]},\"finish_reason\":\"tool_calls\"}],");
    } else {
        fprintf(f, "\"content\":\"%s\"},\"finish_reason\":\"stop\"}],", content ? content : "");
    }
    fprintf(f, "\"usage\":{\"prompt_tokens\":200,\"completion_tokens\":40}}}\n");
}

static void whole_task(const char *base, int approvals)
{
    struct env e;
    env_open(&e, base, approvals ? "task-apv" : "task");
    char path[1200];
    snprintf(path, sizeof path, "%s/replay.jsonl", e.dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die("replay file");
    line(f, "planner", NULL, "{\\\"complexity\\\":0.9,\\\"needs_validation\\\":false}");
    static const char *const roles[] = {"alpha", "beta", "gamma"};
    static const char *const peer[] = {"beta", "alpha", "*"};
    for (int r = 0; r < 3; r++) {
        for (int t = 0; t < 10; t++) { /* 2 blackboard writes and 1 message per turn */
            char calls[2048];
            snprintf(calls, sizeof calls,
                     "blackboard_write|{\\\"section\\\":\\\"solutions\\\",\\\"entry\\\":"
                     "\\\"proposal_%d\\\",\\\"value\\\":{\\\"t\\\":%d}};"
                     "blackboard_write|{\\\"section\\\":\\\"progress\\\",\\\"entry\\\":"
                     "\\\"eval_%d\\\",\\\"value\\\":\\\"step %d\\\"};"
                     "send_message|{\\\"to\\\":\\\"%s\\\",\\\"type\\\":\\\"PROPOSAL\\\","
                     "\\\"content\\\":{\\\"t\\\":%d}}",
                     r * 10 + t + 1, t, r * 10 + t + 1, t, peer[r], t);
            line(f, roles[r], calls, NULL);
        }
        line(f, roles[r], "vote|{\\\"vote\\\":\\\"ACCEPT\\\",\\\"reasoning\\\":\\\"ok\\\"}", NULL);
        line(f, roles[r], NULL, "done");
    }
    fclose(f);
    char prov[1300];
    snprintf(prov, sizeof prov, "replay:%s", path);
    struct ag_llm_opts lo = {
        .provider = prov, .model = "bench", .ledger = e.ledger, .gov = e.gov, .store = e.store};
    ag_llm *llm;
    if (ag_llm_new(&lo, &llm))
        die("llm");
    ag_approve *ap = NULL;
    struct ag_approve_opts ao = {.store = e.store, .ledger = e.ledger};
    if (approvals && ag_approve_new(&ao, &ap))
        die("approvals");
    struct ag_orch_opts o = {.objective = "bench",
                             .task_id = "bench-task",
                             .llm = llm,
                             .coord = e.coord,
                             .gov = e.gov,
                             .ledger = e.ledger,
                             .store = e.store,
                             .poll_ms = 5,
                             .approve = ap,
                             .policy = approvals ? e.policy : NULL};
    struct ag_orch_result r;
    double c0 = cpu_ms();
    int64_t t0 = ag__mono_ns();
    if (ag_orchestrate(&o, &r))
        die("orchestrate");
    double ms = (double)(ag__mono_ns() - t0) / 1e6, cpu = cpu_ms() - c0;
    printf("%d. a 3-agent task (ALPHA, BETA, GAMMA on %s), zero-latency model, %s\n",
           approvals ? 3 : 2, ag_spawn_reason_name(r.gamma_reason),
           approvals ? "approvals wired (as agentgov orchestrate runs it)" : "no approvals");
    printf("  outcome %s; %lld blackboard ops, %lld messages, %lld votes, %d tool calls, "
           "%lld LLM calls\n",
           r.outcome, (long long)r.coord.blackboard_ops, (long long)r.coord.messages,
           (long long)r.coord.votes, r.tool_calls, (long long)r.llm_calls);
    printf("  wall time %.1f ms (%.2f ms per tool call, all included); CPU time %.1f ms\n", ms,
           ms / (r.tool_calls ? r.tool_calls : 1), cpu);
    ag_orch_result_clear(&r);
    ag_approve_free(ap);
    ag_llm_free(llm);
    env_close(&e);
}

int main(int argc, char **argv)
{
    int n = 500, c;
    const char *dir = "/tmp";
    while ((c = getopt(argc, argv, "n:d:")) != -1) {
        if (c == 'n')
            n = atoi(optarg);
        else if (c == 'd')
            dir = optarg;
        else {
            fprintf(stderr, "usage: bench/coord [-n CALLS] [-d DIR]\n");
            return 2;
        }
    }
    if (n < 10)
        n = 10;
    double load[1] = {0};
    if (getloadavg(load, 1) != 1)
        load[0] = -1;
    printf("bench/coord: data in %s; fsync floor there %.0f us; load average %.1f on %ld CPUs\n",
           dir, bench_fsync_floor_us(dir), load[0], sysconf(_SC_NPROCESSORS_ONLN));
    tool_calls(dir, n);
    whole_task(dir, 0);
    whole_task(dir, 1);
    return 0;
}
