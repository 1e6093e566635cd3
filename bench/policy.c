/* bench/policy: ag_decide throughput on one core for (a) the shipped default policy and
 * (b) a generated 10,000-rule policy, plus the time to load and index (b). Each figure is
 * the best of 5 rounds of about 0.5 s of thread CPU time over a fixed mix of requests.
 * Usage: build/bench/policy [DEFAULT_POLICY_PATH] */
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "core/buf.h"
#include "core/time.h"
#include "policy/path.h"

#define NREQ     4096
#define ROUNDS   5
#define ROUND_NS 500000000LL

static uint64_t rng = 0x2545f4914f6cdd1dull;

/* CPU time of this thread: the figure is per core, and a busy machine (other processes
 * on the same cores) must not make the policy look slower than it is. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

struct reqset {
    struct ag_request req[NREQ];
    char text[NREQ][2][64];
};

/* Decides the request set in a loop for about ROUND_NS of CPU time; returns decisions
 * per CPU second. */
static double measure(const ag_policy *p, const struct reqset *rs, long *allowed)
{
    double best = 0;
    for (int round = 0; round < ROUNDS; round++) {
        long n = 0, allow = 0;
        int64_t t0 = cpu_ns(), t1;
        do {
            for (int i = 0; i < NREQ; i++) {
                struct ag_decision d;
                allow += ag_decide(p, &rs->req[i], &d) == AG_EFFECT_ALLOW;
            }
            n += NREQ;
            t1 = cpu_ns();
        } while (t1 - t0 < ROUND_NS);
        double rate = (double)n * 1e9 / (double)(t1 - t0);
        if (rate > best)
            best = rate;
        *allowed = allow * NREQ / n;
    }
    return best;
}

/* (a) The default policy's vocabulary, every tier, typical phases, some packets. */
static void default_requests(struct reqset *rs)
{
    static const char *const actions[] = {
        "docs.read",     "inventory.read",   "logs.read",        "plan.generate",
        "ssh.exec",      "proxmox.read",     "ansible.check",    "ansible.apply",
        "sandbox.admin", "module.create",    "framework.create", "prod.read",
        "policy.read",   "governance.write", "secret.read",      "prod.write"};
    static const char *const resources[] = {
        "docs/runbook.md",  "sandbox/web-01",  "sandbox/db/02",     "staging/web-01",
        "staging/site.yml", "prod/db-01",      "secret/sandbox/db", "secret/staging/api",
        "governance/tiers", "inventory/hosts", "prod/db-01/log",    "task/42"};
    static const char *scope[] = {"sandbox/**", "staging/web-*"};
    static const char *forbidden[] = {"ansible.apply"};
    for (int i = 0; i < NREQ; i++) {
        struct ag_request *r = &rs->req[i];
        memset(r, 0, sizeof *r);
        r->tier = (int)rnd(5);
        r->phase = (enum ag_phase)((int)rnd(9) - 1);
        r->action = actions[rnd(sizeof actions / sizeof actions[0])];
        r->resource = resources[rnd(sizeof resources / sizeof resources[0])];
        if (rnd(8) == 0) {
            r->scope = scope;
            r->nscope = 2;
            r->forbidden = forbidden;
            r->nforbidden = 1;
        }
    }
}

/* (b) 1,000 services x 10 rules: literal and wildcard actions per service, resources
 * per environment, mixed tiers, phases and effects; plus 40 rules whose actions start
 * with a wildcard (the index's wildcard bucket). */
static char *generate_policy(int nrules)
{
    static const char *const effects[] = {"allow", "allow", "allow", "allow", "deny", "ask"};
    static const char *const wild[] = {"*.debug", "**.admin", "?vc0*.op1", "**.delete"};
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_puts(&b, "version: 1\nrules:\n");
    int nwild = 40;
    for (int i = 0; i < nrules - nwild; i++) {
        int svc = i / 10, op = i % 10;
        ag__buf_printf(&b, "  - {effect: %s, ", effects[rnd(6)]);
        if (op == 9)
            ag__buf_printf(&b, "actions: [svc%03d.*], ", svc);
        else
            ag__buf_printf(&b, "actions: [svc%03d.op%d, svc%03d.op%d.*], ", svc, op, svc, op);
        ag__buf_printf(&b, "resources: [env%d/svc%03d/**, shared/svc%03d/*], ", (int)rnd(3), svc,
                       svc);
        if (rnd(2))
            ag__buf_printf(&b, "min_tier: %d", (int)rnd(5));
        else
            ag__buf_printf(&b, "tiers: [%d, %d]", (int)rnd(5), (int)rnd(5));
        if (rnd(3) == 0)
            ag__buf_puts(&b, ", phases: [EXECUTE, VERIFY]");
        ag__buf_puts(&b, "}\n");
    }
    for (int i = 0; i < nwild; i++)
        ag__buf_printf(&b,
                       "  - {effect: %s, actions: ['%s'], resources: [env%d/**], min_tier: %d}\n",
                       effects[rnd(6)], wild[i % 4], i % 3, (int)rnd(5));
    return ag__buf_take(&b);
}

static void generated_requests(struct reqset *rs)
{
    for (int i = 0; i < NREQ; i++) {
        struct ag_request *r = &rs->req[i];
        memset(r, 0, sizeof *r);
        int svc = (int)rnd(1100); /* some services have no rules */
        snprintf(rs->text[i][0], sizeof rs->text[i][0], "svc%03d.op%d%s", svc, (int)rnd(12),
                 rnd(4) == 0 ? ".sub" : "");
        snprintf(rs->text[i][1], sizeof rs->text[i][1], "%s/svc%03d/host-%d",
                 rnd(5) == 0 ? "shared" : (const char *[]){"env0", "env1", "env2"}[rnd(3)], svc,
                 (int)rnd(100));
        r->action = rs->text[i][0];
        r->resource = rs->text[i][1];
        r->tier = (int)rnd(5);
        r->phase = (enum ag_phase)((int)rnd(9) - 1);
    }
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : ag__policy_default_path();
    static struct reqset rs;
    ag_policy *p;
    long allowed;
    if (ag_policy_load(path, &p) != AG_OK) {
        fprintf(stderr, "bench/policy: %s\n", ag_last_error());
        return 1;
    }
    default_requests(&rs);
    double a = measure(p, &rs, &allowed);
    printf("policy (a) default policy, %zu rules: %.0f decisions/s (one core; %ld of %d "
           "requests allowed)\n",
           ag_policy_rule_count(p), a, allowed, NREQ);
    ag_policy_free(p);

    char *yaml = generate_policy(10000);
    int64_t t0 = ag__mono_ns();
    if (yaml == NULL || ag_policy_load_string("generated.yaml", yaml, strlen(yaml), &p) != AG_OK) {
        fprintf(stderr, "bench/policy: generated policy: %s\n", ag_last_error());
        free(yaml);
        return 1;
    }
    double load_ms = (double)(ag__mono_ns() - t0) / 1e6;
    generated_requests(&rs);
    double b = measure(p, &rs, &allowed);
    printf("policy (b) generated policy, %zu rules: %.0f decisions/s (one core; %ld of %d "
           "requests allowed; load and index %.1f ms)\n",
           ag_policy_rule_count(p), b, allowed, NREQ, load_ms);
    ag_policy_free(p);
    free(yaml);
    printf("targets: (a) >= 2000000/s %s, (b) >= 500000/s %s\n", a >= 2e6 ? "met" : "MISSED",
           b >= 5e5 ? "met" : "MISSED");
    return 0;
}
