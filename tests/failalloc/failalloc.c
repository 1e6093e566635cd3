/* The failing-allocator loop (`make failalloc`, part of `make check`): each scenario runs
 * once to count its allocations, then once for every allocation N with the N-th one
 * failing. A failure must come back as an error or be absorbed, never as a crash, an
 * invalid access or a leak; the binary is built with ASan+UBSan, so any of those ends the
 * run. malloc, calloc, realloc, strdup and strndup are wrapped at link time
 * (-Wl,--wrap), in our code and in the static archives of SQLite and jansson linked into
 * this binary alike; allocations inside libc and libfyaml (linked shared: see the
 * Makefile) are not counted.
 *
 *   build-asan/failalloc/failalloc [SCENARIO]    (default: all of them)
 *
 * A scenario with more than MAX_POINTS allocations (the ledger's, which opens SQLite
 * connections: 5,500, 4 minutes under ASan) has every k-th one failed, k chosen to run
 * about MAX_POINTS of them, the first and the last included; FAILALLOC_ALL=1 in the
 * environment runs every one.
 *
 * Prints one line per scenario: allocations, failure points run, how many of them ended
 * in an error, and how many still succeeded (the failure was absorbed). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "core/err.h"
#include "core/jcs.h"
#include "ledger/keys.h"
#include "hook/hook.h"

/* ---- the allocator ---------------------------------------------------------------- */

static long counted; /* allocations since the scenario started */
static long fail_at; /* the allocation that fails; 0: none */
static int counting; /* inside a scenario */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

/* 1 if this allocation is the one to fail. */
static int fails(void)
{
    return counting && ++counted == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fails() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fails() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fails() ? NULL : __real_strndup(s, n);
}

/* ---- scenarios: each returns 0 when it succeeded, 1 when it reported an error ------- */

static const char policy_yaml[] = "version: 1\n"
                                  "tiers:\n"
                                  "  1: {name: Operator, token_ttl: 30m, max_ttl: 2h}\n"
                                  "rules:\n"
                                  "  - id: read-docs\n"
                                  "    effect: allow\n"
                                  "    actions: [docs.read, 'file.*']\n"
                                  "    resources: ['docs/**', 'src/*.c']\n"
                                  "    phases: [EXECUTE]\n"
                                  "    min_tier: 1\n"
                                  "  - id: no-prod\n"
                                  "    effect: deny\n"
                                  "    actions: ['*']\n"
                                  "    resources: ['prod/**']\n"
                                  "    tiers: [0, 1, 2, 3, 4]\n";

static int sc_policy(void)
{
    ag_policy *p = NULL;
    if (ag_policy_load_string("mem.yaml", policy_yaml, sizeof policy_yaml - 1, &p) != AG_OK)
        return 1;
    struct ag_request rq = {
        .tier = 1, .phase = AG_PHASE_EXECUTE, .action = "docs.read", .resource = "docs/a"};
    struct ag_decision d;
    ag_decide(p, &rq, &d);
    ag_policy_free(p);
    return 0;
}

static int sc_jcs(void)
{
    static const char text[] =
        "{\"b\":[1,2,{\"z\":\"\\u001f\",\"a\":null}],\"a\":\"caf\\u00e9\",\"\\u00e9\":true}";
    json_error_t e;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (v == NULL)
        return 1;
    char *out = NULL;
    ag_err err = ag__jcs_dump(v, AG_JCS_NO_FLOATS, &out);
    json_decref(v);
    free(out);
    return err != AG_OK;
}

static int sc_hook(void)
{
    static const char ev[] =
        "{\"session_id\":\"s1\",\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\","
        "\"tool_input\":{\"command\":\"ls docs && cat src/a.c\"},\"cwd\":\"/srv\"}";
    struct ag__hook_event e;
    if (ag__hook_parse(AG_HOOK_CLAUDE_CODE, ev, sizeof ev - 1, &e) != AG_OK)
        return 1;
    ag__hook_event_free(&e);
    return 0;
}

static char dir[64];

static int sc_ledger(void)
{
    char db[96], sk[96], hk[96], pk[96];
    snprintf(db, sizeof db, "%s/ledger.db", dir);
    snprintf(sk, sizeof sk, "%s/ledger.key", dir);
    snprintf(pk, sizeof pk, "%s/ledger.pub", dir);
    snprintf(hk, sizeof hk, "%s/ledger.hmac", dir);
    struct ag_ledger_opts o = {.signing_key_path = sk, .hmac_key_path = hk, .checkpoint_every = 2};
    ag_ledger *l = NULL;
    if (ag_ledger_open(db, &o, &l) != AG_OK)
        return 1;
    const char *sens[] = {"secret"};
    struct ag_ledger_entry e = {.kind = "decision",
                                .agent_id = "agent-1",
                                .action = "docs.read",
                                .resource = "docs/a",
                                .decision = "allow",
                                .tier = 1,
                                .confidence = 900,
                                .success = -1,
                                .data_json = "{\"secret\":\"s3cret\",\"rule\":\"mem.yaml:5\"}",
                                .sensitive_keys = sens,
                                .nsensitive = 1};
    int failed = 0;
    for (int i = 0; i < 3; i++)
        failed |= ag_ledger_append(l, &e, NULL, NULL) != AG_OK;
    int64_t seq;
    failed |= ag_ledger_head(l, &seq, NULL) != AG_OK;
    ag_ledger_close(l);
    struct ag_verify_result r;
    failed |= ag_ledger_verify(db, pk, &r) != AG_OK;
    return failed;
}

#define MAX_POINTS 800

struct scenario {
    const char *name;
    int (*run)(void);
};

static const struct scenario scenarios[] = {
    {"policy", sc_policy}, {"jcs", sc_jcs}, {"hook", sc_hook}, {"ledger", sc_ledger}};

static int run_one(const struct scenario *s, long n)
{
    ag_clear_error();
    counted = 0;
    fail_at = n;
    counting = 1;
    int rc = s->run();
    counting = 0;
    return rc;
}

int main(int argc, char **argv)
{
    /* tmpfs when there is one: thousands of runs of the ledger scenario would otherwise
     * wait for as many fsyncs. */
    snprintf(dir, sizeof dir, "%s/agentgov-failalloc-%d",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    char sk[96], pk[96], hk[96];
    snprintf(sk, sizeof sk, "%s/ledger.key", dir);
    snprintf(pk, sizeof pk, "%s/ledger.pub", dir);
    snprintf(hk, sizeof hk, "%s/ledger.hmac", dir);
    if (system(cmd) != 0 || ag__ledger_keygen(sk, pk) != AG_OK ||
        ag__ledger_hmac_keygen(hk) != AG_OK) {
        fprintf(stderr, "failalloc: set-up in %s failed\n", dir);
        return 1;
    }
    int bad = 0, ran = 0;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        const struct scenario *s = &scenarios[i];
        if (argc > 1 && strcmp(argv[1], s->name) != 0)
            continue;
        ran++;
        if (run_one(s, 0) != 0) {
            fprintf(stderr, "failalloc: %s fails without any failing allocation: %s\n", s->name,
                    ag_last_error());
            bad = 1;
            continue;
        }
        long total = counted, errors = 0, absorbed = 0, points = 0;
        const char *all = getenv("FAILALLOC_ALL");
        long stride = all && *all == '1' ? 1 : (total + MAX_POINTS - 1) / MAX_POINTS;
        for (long n = 1; n <= total; n = n + stride > total && n < total ? total : n + stride) {
            points++;
            if (run_one(s, n))
                errors++;
            else
                absorbed++;
        }
        printf("%-8s %6ld allocations, %6ld failure points (every %ld): %ld reported an error, "
               "%ld absorbed\n",
               s->name, total, points, stride, errors, absorbed);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "failalloc: could not remove %s\n", dir);
    if (ran == 0) {
        fprintf(stderr, "usage: %s [policy|jcs|hook|ledger]\n", argv[0]);
        return 2;
    }
    return bad;
}
