/* The pipeline scheduler with an in-process executor whose attempts are scripted, on the
 * embedded store and on a real redis-server: order and max_parallel, retries (same
 * idempotency key), revocations not retried, lost attempts retried under the budget,
 * reconciliation of running checkpoints after a crash, the run lock, gates (approvers,
 * counts, deadline), parameters, and the ledger entries written for it all. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agentgov/pipeline.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/time.h"
#include "ledger/keys.h"
#include "pipeline/gate.h"
#include "pipeline/state.h"
#include "redis_fixture.h"
#include "test.h"

/* ------------------------------------------------------- scripted executor --- */

#define MAXA 256

struct fx {
    char started[MAXA][160]; /* "stage#attempt key" in start order */
    int nstarted;
    char running[MAXA][64];
    int nrunning, max_running;
    /* Attempt fates by stage name prefix: ok*, fail1* (fails its first attempt), rev*,
     * lost1* (its first attempt is lost), never* (always fails). */
    struct {
        char id[64]; /* stage#attempt */
        enum ag_pipeline_check st;
    } pre[16]; /* answers for attempts this process did not start (a crash) */
    int npre;
    /* The invariant "checkpointed before it takes effect": at every start, the store
     * must already hold the stage as running this very attempt. */
    ag_store *store;
    int unrecorded;
    char unrecorded_what[200];
};

static void check_recorded(struct fx *x, const struct ag_pipeline_attempt *a)
{
    char k[AG__PL_KEY_MAX];
    ag__pl_key(k, a->run_id, "stages");
    struct ag_store_op op = {.op = AG_OP_HGET, .key = k, .field = a->stage};
    struct ag_store_reply r;
    struct ag__pl_stage_state st;
    int ok = ag_store_exec(x->store, NULL, &op, 1, &r, NULL) == AG_OK;
    if (ok) {
        ok = r.type == AG_REPLY_STR && ag__pl_stage_from_json(r.str, &st) == AG_OK &&
             st.state == AG__PS_RUNNING && st.attempt == a->attempt;
        ag_store_reply_free(&r, 1);
    }
    if (!ok && !x->unrecorded++)
        snprintf(x->unrecorded_what, sizeof x->unrecorded_what, "%s#%d started unrecorded",
                 a->stage, a->attempt);
}

static void attempt_id(const struct ag_pipeline_attempt *a, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s#%d", a->stage, a->attempt);
}

static ag_err f_start(void *ctx, const struct ag_pipeline_attempt *a)
{
    struct fx *x = ctx;
    char id[64];
    attempt_id(a, id, sizeof id);
    if (x->store)
        check_recorded(x, a);
    snprintf(x->started[x->nstarted++], sizeof x->started[0], "%s %s", id, a->idem_key);
    snprintf(x->running[x->nrunning++], sizeof x->running[0], "%s", id);
    if (x->nrunning > x->max_running)
        x->max_running = x->nrunning;
    /* An artifact is made by the stage, in its directory. */
    for (size_t i = 0; i < a->nartifacts; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", a->workdir, a->artifacts[i]);
        if (ag__write_file_atomic(p, "x", 1, 0644, 0) != AG_OK)
            return AG_EIO;
    }
    return AG_OK;
}

static ag_err f_check(void *ctx, const struct ag_pipeline_attempt *a, enum ag_pipeline_check *st,
                      struct ag_pipeline_result *r)
{
    struct fx *x = ctx;
    char id[64];
    attempt_id(a, id, sizeof id);
    int k = -1;
    for (int i = 0; i < x->nrunning; i++)
        if (strcmp(x->running[i], id) == 0)
            k = i;
    if (k < 0) {
        for (int i = 0; i < x->npre; i++)
            if (strcmp(x->pre[i].id, id) == 0) {
                *st = x->pre[i].st;
                r->ok = 1;
                snprintf(r->message, sizeof r->message, "finished while no driver ran");
                return AG_OK;
            }
        *st = AG_PL_NOT_STARTED;
        return AG_OK;
    }
    memmove(&x->running[k], &x->running[k + 1],
            (size_t)(x->nrunning - k - 1) * sizeof x->running[0]);
    x->nrunning--;
    *st = AG_PL_FINISHED;
    const char *s = a->stage;
    r->retryable = 1;
    if (strncmp(s, "rev", 3) == 0) {
        r->revoked = 1;
        snprintf(r->message, sizeof r->message, "revoked: budget exhausted");
    } else if ((strncmp(s, "fail1", 5) == 0 && a->attempt == 1) || strncmp(s, "never", 5) == 0) {
        snprintf(r->message, sizeof r->message, "child_failed: exit 1");
    } else if (strncmp(s, "lost1", 5) == 0 && a->attempt == 1) {
        *st = AG_PL_LOST;
    } else {
        r->ok = 1;
        snprintf(r->message, sizeof r->message, "success");
    }
    return AG_OK;
}

static void f_wait(void *ctx, int64_t ms)
{
    (void)ctx;
    (void)ms;
    usleep(1000);
}

static void f_stop(void *ctx, const struct ag_pipeline_attempt *a)
{
    (void)ctx;
    (void)a;
}

/* ----------------------------------------------------------------- rig --- */

struct rig {
    ag_store *store;
    ag_ledger *ledger;
    struct fx x;
    struct ag_pipeline_executor ex;
    struct ag_pipeline_env env;
    char dir[4096], work[4200];
};

static int alive_answer;
static int owner_alive(void *ctx, const char *owner)
{
    (void)ctx;
    (void)owner;
    return alive_answer;
}

static void rig_open(struct rig *g, const char *label, const char *url)
{
    memset(g, 0, sizeof *g);
    snprintf(g->dir, sizeof g->dir, "%s", ag_test_fresh_dir(label));
    snprintf(g->work, sizeof g->work, "%s/work", g->dir);
    char db[4200], surl[4200];
    snprintf(db, sizeof db, "%s/ledger.db", g->dir);
    snprintf(surl, sizeof surl, "sqlite:%s/state.db", g->dir);
    /* A signing key: a gate is an approval, whose grant the ledger's key signs. */
    char sk[4200], pk[4200];
    snprintf(sk, sizeof sk, "%s/ledger.key", g->dir);
    snprintf(pk, sizeof pk, "%s/ledger.pub", g->dir);
    ASSERT_OK(ag__ledger_keygen(sk, pk));
    struct ag_ledger_opts lo = {.signing_key_path = sk};
    ASSERT_OK(ag_ledger_open(db, &lo, &g->ledger));
    ASSERT_OK(ag_store_open(url ? url : surl, &g->store));
    if (url)
        ag_test_redis_flush();
    g->x.store = g->store;
    g->ex = (struct ag_pipeline_executor){&g->x, f_start, f_check, f_wait, f_stop};
    g->env = (struct ag_pipeline_env){.store = g->store,
                                      .ledger = g->ledger,
                                      .exec = &g->ex,
                                      .work_root = g->work,
                                      .poll_ms = 10,
                                      .owner = "me",
                                      .owner_alive = owner_alive};
    alive_answer = 1;
}

static void rig_close(struct rig *g)
{
    ASSERT_STREQ(g->x.unrecorded_what, "");
    ag_store_free(g->store);
    ag_ledger_close(g->ledger);
}

static ag_pipeline *load(const char *yaml)
{
    ag_pipeline *p = NULL;
    char *diags = NULL;
    ag_err e = ag_pipeline_load("t.yaml", yaml, strlen(yaml), NULL, &p, &diags);
    if (e)
        ag_test_fail(__FILE__, __LINE__, "load: %s %s", diags ? diags : "", ag_last_error());
    return p;
}

/* "state/attempt" of a stage from the status JSON. */
static const char *stage_of(struct rig *g, const char *run, const char *stage)
{
    static char out[64];
    char *js = NULL;
    if (ag_pipeline_status(g->store, run, &js) != AG_OK)
        return "no status";
    json_t *o = json_loads(js, 0, NULL);
    free(js);
    snprintf(out, sizeof out, "?");
    json_t *st = json_object_get(o, "stages");
    for (size_t i = 0; i < json_array_size(st); i++) {
        json_t *s = json_array_get(st, i);
        if (strcmp(json_string_value(json_object_get(s, "stage")), stage) == 0)
            snprintf(out, sizeof out, "%s/%lld", json_string_value(json_object_get(s, "state")),
                     (long long)json_integer_value(json_object_get(s, "attempt")));
    }
    json_decref(o);
    return out;
}

static int started_index(struct rig *g, const char *prefix)
{
    for (int i = 0; i < g->x.nstarted; i++)
        if (strncmp(g->x.started[i], prefix, strlen(prefix)) == 0)
            return i;
    return -1;
}

/* ------------------------------------------------------------ scenarios --- */

static void order_and_parallelism(const char *url)
{
    struct rig g;
    rig_open(&g, "order", url);
    ag_pipeline *p = load("pipeline:\n  name: order\n  max_parallel: 2\n  stages:\n"
                          "    - a: {run: [x], artifacts: [a.out]}\n"
                          "    - b: {run: [x], requires: [a], inputs: [a.out]}\n"
                          "    - c: {run: [x], requires: [a]}\n"
                          "    - d: {run: [x], requires: [a]}\n"
                          "    - e: {run: [x], requires: [b, c, d]}\n");
    char run[33], st[16];
    ASSERT_OK(ag_pipeline_create_run(&g.env, p, NULL, 0, run));
    ASSERT_OK(ag_pipeline_drive(&g.env, run, st));
    ASSERT_STREQ(st, "succeeded");
    ASSERT_EQ(g.x.nstarted, 5);
    ASSERT_EQ(started_index(&g, "a#1"), 0);
    ASSERT_EQ(started_index(&g, "e#1"), 4);
    ASSERT_EQ(g.x.max_running, 2);
    /* a's artifact was copied into b's directory. */
    char path[8192];
    snprintf(path, sizeof path, "%s/%s/b/a.out", g.work, run);
    ASSERT_EQ(access(path, F_OK), 0);
    char *list = NULL;
    ASSERT_OK(ag_pipeline_list(g.store, &list));
    ASSERT_CONTAINS(list, run);
    ASSERT_CONTAINS(list, "\"status\":\"succeeded\"");
    free(list);
    ag_pipeline_free(p);
    rig_close(&g);
}

static void retries_revocations_lost(const char *url)
{
    struct rig g;
    rig_open(&g, "retries", url);
    ag_pipeline *p = load("pipeline:\n  name: retries\n  stages:\n"
                          "    - fail1: {run: [x], retry: {max: 1, backoff: 20ms}}\n"
                          "    - rev: {run: [x], requires: [], retry: 3, on_failure: continue}\n"
                          "    - lost1: {run: [x], requires: [], retry: {max: 1}}\n"
                          "    - never: {run: [x], requires: [], retry: {max: 2}, "
                          "on_failure: continue}\n");
    char run[33], st[16];
    ASSERT_OK(ag_pipeline_create_run(&g.env, p, NULL, 0, run));
    ASSERT_OK(ag_pipeline_drive(&g.env, run, st));
    ASSERT_STREQ(st, "succeeded");
    ASSERT_STREQ(stage_of(&g, run, "fail1"), "succeeded/2");
    ASSERT_STREQ(stage_of(&g, run, "rev"), "failed/1"); /* never retried */
    ASSERT_STREQ(stage_of(&g, run, "lost1"), "succeeded/2");
    ASSERT_STREQ(stage_of(&g, run, "never"), "failed/3");
    /* Every attempt of a stage carries the same idempotency key. */
    char want[128];
    snprintf(want, sizeof want, "fail1#2 %s.fail1", run);
    ASSERT_TRUE(started_index(&g, want) >= 0);
    snprintf(want, sizeof want, "fail1#1 %s.fail1", run);
    ASSERT_TRUE(started_index(&g, want) >= 0);
    ag_pipeline_free(p);
    rig_close(&g);
}

/* A driver died with stage b checkpointed as running attempt 1 that never started, and
 * c as running attempt 1 that finished meanwhile: the resume starts b once and c never. */
static void resume_reconciles(const char *url)
{
    struct rig g;
    rig_open(&g, "resume", url);
    ag_pipeline *p = load("pipeline:\n  name: resume\n  stages:\n"
                          "    - a: {run: [x]}\n"
                          "    - b: {run: [x], requires: [a]}\n"
                          "    - c: {run: [x], requires: [a]}\n"
                          "    - d: {run: [x], requires: [b, c]}\n");
    char run[33], st[16];
    ASSERT_OK(ag_pipeline_create_run(&g.env, p, NULL, 0, run));
    struct ag__pl_stage_state s = {.state = AG__PS_SUCCEEDED, .attempt = 1};
    char kb[128], kc[128];
    snprintf(kb, sizeof kb, "%s.b", run);
    snprintf(kc, sizeof kc, "%s.c", run);
    ASSERT_OK(ag__pl_checkpoint(g.store, g.ledger, run, "resume", "a", NULL, "k", &s));
    s.state = AG__PS_RUNNING;
    ASSERT_OK(ag__pl_checkpoint(g.store, g.ledger, run, "resume", "b", NULL, kb, &s));
    ASSERT_OK(ag__pl_checkpoint(g.store, g.ledger, run, "resume", "c", NULL, kc, &s));
    snprintf(g.x.pre[0].id, sizeof g.x.pre[0].id, "c#1");
    g.x.pre[0].st = AG_PL_FINISHED;
    g.x.npre = 1;
    /* The dead driver's lock is still there: taken over only once it is known dead. */
    char lk[AG__PL_KEY_MAX];
    ag__pl_key(lk, run, "lock");
    int64_t fence;
    ASSERT_OK(ag_store_lock_acquire(g.store, lk, "dead-driver", 30000, &fence));
    alive_answer = 1;
    ASSERT_EQ(ag_pipeline_drive(&g.env, run, st), AG_ELOCKED);
    ASSERT_CONTAINS(ag_last_error(), "dead-driver");
    ASSERT_EQ(g.x.nstarted, 0);
    alive_answer = 0;
    ASSERT_OK(ag_pipeline_drive(&g.env, run, st));
    ASSERT_STREQ(st, "succeeded");
    ASSERT_EQ(g.x.nstarted, 2); /* b and d: neither a nor c ran again */
    ASSERT_EQ(started_index(&g, "b#1"), 0);
    ASSERT_EQ(started_index(&g, "d#1"), 1);
    ASSERT_STREQ(stage_of(&g, run, "c"), "succeeded/1");
    /* A finished run is not driven again. */
    ASSERT_OK(ag_pipeline_drive(&g.env, run, st));
    ASSERT_STREQ(st, "succeeded");
    ASSERT_EQ(g.x.nstarted, 2);
    ag_pipeline_free(p);
    rig_close(&g);
}

struct answerer {
    const char *url, *run;
    ag_ledger *ledger;
    ag_err first, ann, ann_again, bob, late;
};

/* Another "process": answers the review gate as people would, on its own store handle. */
static void *answer(void *arg)
{
    struct answerer *a = arg;
    ag_store *s = NULL;
    if (ag_store_open(a->url, &s) != AG_OK)
        return NULL;
    for (int i = 0; i < 2000; i++) {
        a->first = ag_pipeline_gate_answer(s, a->ledger, a->run, "review", 1, "mallory", NULL);
        if (a->first != AG_ENOTFOUND)
            break;
        usleep(2000);
    }
    a->ann = ag_pipeline_gate_answer(s, a->ledger, a->run, "review", 1, "ann", NULL);
    a->ann_again = ag_pipeline_gate_answer(s, a->ledger, a->run, "review", 1, "ann", NULL);
    usleep(50000);
    a->bob = ag_pipeline_gate_answer(s, a->ledger, a->run, "review", 1, "bob", "looks right");
    usleep(50000);
    a->late = ag_pipeline_gate_answer(s, a->ledger, a->run, "review", 0, "bob", NULL);
    ag_store_free(s);
    return NULL;
}

static void gates(const char *url)
{
    struct rig g;
    rig_open(&g, "gates", url);
    ag_pipeline *p = load("pipeline:\n  name: gates\n  stages:\n"
                          "    - review:\n        type: human-gate\n        timeout: 1h\n"
                          "        approvers: [ann, bob]\n        required: 2\n"
                          "    - short:\n        type: human-gate\n        requires: []\n"
                          "        timeout: 1s\n        on_failure: continue\n"
                          "    - go: {run: [x], requires: [review]}\n");
    char run[33], st[16], surl[4200];
    ASSERT_OK(ag_pipeline_create_run(&g.env, p, NULL, 0, run));
    ASSERT_EQ(ag_pipeline_gate_answer(g.store, g.ledger, run, "review", 1, "ann", NULL),
              AG_ENOTFOUND); /* not open yet */
    snprintf(surl, sizeof surl, "sqlite:%s/state.db", g.dir);
    struct answerer a = {.url = url ? url : surl, .run = run, .ledger = g.ledger};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, answer, &a), 0);
    int64_t t0 = ag__mono_ms();
    ag_err e = ag_pipeline_drive(&g.env, run, st);
    pthread_join(t, NULL);
    ASSERT_OK(e);
    ASSERT_EQ(a.first, AG_EPERM); /* mallory is not an approver */
    ASSERT_OK(a.ann);
    ASSERT_OK(a.ann_again);
    ASSERT_OK(a.bob);
    ASSERT_EQ(a.late, AG_ESTATE); /* answered already */
    ASSERT_STREQ(st, "succeeded");
    ASSERT_STREQ(stage_of(&g, run, "review"), "succeeded/1");
    ASSERT_STREQ(stage_of(&g, run, "go"), "succeeded/1");
    /* The 1 s gate timed out: failed (under continue), after about a second. */
    ASSERT_STREQ(stage_of(&g, run, "short"), "failed/1");
    ASSERT_TRUE(ag__mono_ms() - t0 >= 1000);
    char *js = NULL;
    ASSERT_OK(ag_pipeline_status(g.store, run, &js));
    ASSERT_CONTAINS(js, "approved by bob (2 of 2): looks right");
    ASSERT_CONTAINS(js, "timed out: no answer before the deadline");
    free(js);
    /* Each gate is an approval under its run+stage id: review approved by two... */
    char id[AG_APPROVAL_ID_BUF];
    struct ag_approval ap;
    ag__pl_gate_id(run, "review", id);
    ASSERT_OK(ag_approve_peek(g.store, id, &ap));
    ASSERT_STREQ(ap.status, "approved");
    ASSERT_STREQ(ap.action, "pipeline.gate");
    ASSERT_STREQ(ap.agent_id, "pipeline:gates");
    ASSERT_EQ(ap.approvals, 2);
    ASSERT_EQ(ap.required, 2);
    ag_approval_clear(&ap);
    /* ...short expired; opening it again (as a resume would) changes nothing. */
    ag__pl_gate_id(run, "short", id);
    ag_approve *apv = NULL;
    ASSERT_OK(
        ag_approve_new(&(struct ag_approve_opts){.store = g.store, .ledger = g.ledger}, &apv));
    struct ag_approve_open o = {.id = id,
                                .requester = "pipeline:gates",
                                .action = "pipeline.gate",
                                .resource = "x",
                                .required = 1,
                                .expires_ms = ag__wall_ms() + 3600000};
    int created = 1;
    ASSERT_OK(ag_approve_open(apv, &o, &created));
    ASSERT_EQ(created, 0);
    ASSERT_OK(ag_approve_peek(g.store, id, &ap));
    ASSERT_STREQ(ap.status, "expired");
    ag_approval_clear(&ap);
    ag_approve_free(apv);
    ag_pipeline_free(p);
    rig_close(&g);
}

static void params(const char *url)
{
    struct rig g;
    rig_open(&g, "params", url);
    ag_pipeline *p =
        load("pipeline:\n  name: params\n  params:\n"
             "    env: {type: string}\n    n: {type: int, default: 2}\n"
             "    dry: {type: bool, default: true}\n  stages:\n"
             "    - a:\n        run: [x]\n"
             "        when: \"${{ params.n > 1 && params.dry && params.env == 'eu' }}\"\n"
             "    - b:\n        run: [x]\n        when: \"${{ params.n > 5 }}\"\n");
    char run[33], st[16];
    ASSERT_EQ(ag_pipeline_create_run(&g.env, p, NULL, 0, run), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "parameter 'env' has no default");
    const char *bad[] = {"env=eu", "n=many"};
    ASSERT_EQ(ag_pipeline_create_run(&g.env, p, bad, 2, run), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "'many' is not a int");
    const char *unknown[] = {"env=eu", "zone=b"};
    ASSERT_EQ(ag_pipeline_create_run(&g.env, p, unknown, 2, run), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "no parameter 'zone'");
    const char *good[] = {"env=eu"};
    ASSERT_OK(ag_pipeline_create_run(&g.env, p, good, 1, run));
    ASSERT_OK(ag_pipeline_drive(&g.env, run, st));
    ASSERT_STREQ(st, "succeeded");
    ASSERT_STREQ(stage_of(&g, run, "a"), "succeeded/1");
    ASSERT_STREQ(stage_of(&g, run, "b"), "skipped/0");
    ag_pipeline_free(p);
    rig_close(&g);
}

#define BOTH(fn)                                                                                   \
    TEST(pipeline_run_##fn##_sqlite)                                                               \
    {                                                                                              \
        fn(NULL);                                                                                  \
    }                                                                                              \
    TEST(pipeline_run_##fn##_redis)                                                                \
    {                                                                                              \
        const char *url = ag_test_redis_url();                                                     \
        ASSERT_TRUE(url != NULL);                                                                  \
        fn(url);                                                                                   \
    }

BOTH(order_and_parallelism)
BOTH(retries_revocations_lost)
BOTH(resume_reconciles)
BOTH(gates)
BOTH(params)
