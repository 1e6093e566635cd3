/* Approval scenarios run unchanged on every store backend: each test_approve_<backend>.c
 * defines apv_test_url() and apv_test_reset() and includes this file. Real ledger (with
 * its signing key), real store, real policy and lifecycle. Ownership: each scenario
 * opens and frees its own fixture. */
#ifndef AG_TEST_APPROVE_SCENARIOS_H
#define AG_TEST_APPROVE_SCENARIOS_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agentgov/approve.h"
#include "agentgov/gov.h"
#include "core/time.h"
#include "ledger_fixture.h"
#include "test.h"

static const char *apv_test_url(void);
static void apv_test_reset(void);

static const char apv_policy_yaml[] =
    "version: 1\n"
    "rules:\n"
    "  - {id: observe, effect: allow, actions: [docs.read], resources: ['**'], min_tier: 0}\n"
    "  - {id: deploy, effect: ask, actions: [deploy.run], resources: [sandbox/**],"
    " phases: [EXECUTE], min_tier: 1,"
    " approval: {approvers: ['user:alice', 'user:bob', 'role:ops', 'tier:3']}}\n"
    "  - {id: migrate, effect: ask, actions: [db.migrate], resources: [sandbox/**], min_tier: 1,"
    " approval: {approvers: ['user:alice', 'user:bob'], required: 2}}\n"
    "  - {id: quick, effect: ask, actions: [quick.op], resources: [sandbox/**], min_tier: 1,"
    " approval: {timeout: 1s, approvers: ['user:alice']}}\n";

struct afx {
    struct fx lfx;
    ag_store *store;
    ag_ledger *ledger;
    ag_policy *policy;
    ag_gov *gov;
    ag_approve *ap;
    int events[3];
};

static void afx_event(void *ctx, enum ag_approval_event ev, const char *id, const char *json)
{
    struct afx *f = ctx;
    ASSERT_TRUE(strstr(json, id) != NULL);
    f->events[ev]++;
}

static void afx_go(struct afx *f, const char *agent, enum ag_phase ph)
{
    struct ag_transition_result r;
    ASSERT_OK(ag_gov_transition(f->gov, agent, ph, "step", &r));
    ASSERT_TRUE(r.ok);
}

static void afx_start(struct afx *f, const char *agent, int tier)
{
    char pkt[1024];
    snprintf(pkt, sizeof pkt,
             "{\"agent_id\":\"%s\",\"task_id\":\"task-%s\",\"created_for\":\"t\","
             "\"objective\":\"o\",\"deliverables\":[],\"success_criteria\":[],"
             "\"escalation_rules\":[],\"created_at\":\"2026-11-25T12:00:00Z\","
             "\"constraints\":{\"scope\":[\"sandbox/**\"],\"forbidden\":[],"
             "\"required_steps\":[]}}",
             agent, agent);
    ASSERT_OK(ag_gov_register(f->gov, agent, tier, pkt));
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f->gov, agent, NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "BOOTSTRAP_COMPLETE");
    ag_bootstrap_result_clear(&b);
    afx_go(f, agent, AG_PHASE_PREFLIGHT);
    afx_go(f, agent, AG_PHASE_PLAN);
    afx_go(f, agent, AG_PHASE_EXECUTE);
}

static void afx_open(struct afx *f, const char *label)
{
    memset(f, 0, sizeof *f);
    fx_init(&f->lfx, label, 0);
    f->ledger = fx_open(&f->lfx);
    apv_test_reset();
    const char *url = apv_test_url();
    ASSERT_TRUE(url != NULL);
    char buf[2048];
    if (strncmp(url, "sqlite:", 7) == 0) {
        snprintf(buf, sizeof buf, "sqlite:%s/state.db", f->lfx.dir);
        url = buf;
    }
    ASSERT_OK(ag_store_open(url, &f->store));
    ASSERT_OK(
        ag_policy_load_string("apv.yaml", apv_policy_yaml, strlen(apv_policy_yaml), &f->policy));
    ASSERT_OK(ag_gov_new(f->store, f->ledger, f->policy, NULL, &f->gov));
    struct ag_approve_opts o = {.store = f->store, .ledger = f->ledger};
    ASSERT_OK(ag_approve_new(&o, &f->ap));
    ag_approve_set_event_hook(f->ap, afx_event, f);
}

static int afx_count_kind(struct afx *f, const char *kind, const char *needle);

static void afx_close(struct afx *f)
{
    ag_approve_free(f->ap);
    ag_gov_free(f->gov);
    ag_policy_free(f->policy);
    ag_store_free(f->store);
    ag_ledger_close(f->ledger);
    struct ag_verify_result v = fx_verify(&f->lfx);
    ASSERT_TRUE(v.ok);
}

struct count_ctx {
    const char *needle;
    int n;
};

static int count_row(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    struct count_ctx *c = ctx;
    c->n += !c->needle || strstr(row, c->needle) != NULL;
    return 0;
}

/* Ledger rows of kind whose JSON contains needle (NULL: all of the kind). */
static int afx_count_kind(struct afx *f, const char *kind, const char *needle)
{
    struct ag_ledger_filter flt = {.kind = kind};
    struct count_ctx c = {.needle = needle};
    ASSERT_OK(ag_ledger_query(f->ledger, &flt, count_row, &c));
    return c.n;
}

static struct ag_identity apv_who(const char *entity, const char *accessor, int tier, int admin)
{
    struct ag_identity w;
    memset(&w, 0, sizeof w);
    snprintf(w.entity, sizeof w.entity, "%s", entity);
    snprintf(w.accessor, sizeof w.accessor, "%s", accessor);
    snprintf(w.via, sizeof w.via, "token");
    w.tier = tier;
    w.admin = admin;
    return w;
}

static enum ag_effect apv_act(struct afx *f, const char *agent, const char *action,
                              const char *args, const char *approval_id,
                              struct ag_approve_result *out)
{
    struct ag_approve_request rq = {.agent_id = agent,
                                    .action = action,
                                    .resource = "sandbox/web/01",
                                    .confidence = -1,
                                    .args_json = args,
                                    .approval_id = approval_id,
                                    .requester_accessor = "acc-agent"};
    return ag_approve_authorize(f->ap, f->gov, f->policy, &rq, out);
}

/* ask -> pending -> refused deciders -> approved -> retry allowed once -> reuse denied. */
static void sc_ask_approve_once(void)
{
    struct afx f;
    afx_open(&f, "apv_once");
    afx_start(&f, "agent-a", 1);
    afx_start(&f, "agent-b", 1);
    struct ag_approve_result r;
    /* An allow is untouched: no approval. */
    ASSERT_EQ(apv_act(&f, "agent-a", "docs.read", NULL, NULL, &r), AG_EFFECT_ALLOW);
    ASSERT_STREQ(r.approval_id, "");
    const char *args = "{\"tag\": \"v1.2\", \"replicas\": 3}";
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", args, NULL, &r), AG_EFFECT_ASK);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "rule_ask");
    ASSERT_EQ(strlen(r.approval_id), 28);
    int64_t now = ag__wall_ms();
    ASSERT_TRUE(r.expires_ms > now + 14 * 60 * 1000 && r.expires_ms <= now + 15 * 60 * 1000);
    ASSERT_EQ(f.events[AG_APPROVAL_REQUESTED], 1);
    char id[AG_APPROVAL_ID_BUF];
    snprintf(id, sizeof id, "%s", r.approval_id);

    struct ag_approval a;
    ASSERT_OK(ag_approve_get(f.ap, id, &a));
    ASSERT_STREQ(a.status, "pending");
    ASSERT_STREQ(a.agent_id, "agent-a");
    ASSERT_STREQ(a.task_id, "task-agent-a");
    ASSERT_STREQ(a.phase, "EXECUTE");
    ASSERT_STREQ(a.action, "deploy.run");
    ASSERT_STREQ(a.args_json, "{\"replicas\":3,\"tag\":\"v1.2\"}"); /* canonical */
    ASSERT_STREQ(a.rule_id, "deploy");
    ASSERT_STREQ(a.rule, "apv.yaml:4");
    ASSERT_STREQ(a.policy_hash, ag_policy_hash(f.policy));
    ASSERT_EQ(a.required, 1);
    ag_approval_clear(&a);

    /* A retry while pending is refused. */
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", args, id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_pending");

    /* The agent itself, its token, and a non-approver may not decide. */
    struct ag_identity self = apv_who("agent-a", "acc-other", 1, 0);
    ASSERT_ERR(ag_approve_decide(f.ap, id, &self, 1, NULL, NULL), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "requester");
    struct ag_identity self_tok = apv_who("root", "acc-agent", 4, 1);
    ASSERT_ERR(ag_approve_decide(f.ap, id, &self_tok, 1, NULL, NULL), AG_EPERM);
    struct ag_identity carol = apv_who("carol", "acc-carol", 2, 0);
    ASSERT_ERR(ag_approve_decide(f.ap, id, &carol, 1, NULL, NULL), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "not among");
    ASSERT_EQ(afx_count_kind(&f, "approval", "\"decision_refused\""), 3);

    struct ag_identity alice = apv_who("alice", "acc-alice", 2, 0);
    ASSERT_OK(ag_approve_decide(f.ap, id, &alice, 1, "looks right", &a));
    ASSERT_STREQ(a.status, "approved");
    ASSERT_CONTAINS(a.json, "\"sig\":");
    ag_approval_clear(&a);
    ASSERT_EQ(f.events[AG_APPROVAL_DECIDED], 1);
    /* Deciding again: no longer pending. */
    struct ag_identity bob = apv_who("bob", "acc-bob", 2, 0);
    ASSERT_ERR(ag_approve_decide(f.ap, id, &bob, 0, "no", NULL), AG_ESTATE);

    /* Changed arguments, another agent, another resource: mismatch, grant kept. */
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", "{\"tag\":\"v1.3\",\"replicas\":3}", id, &r),
              AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_mismatch");
    ASSERT_EQ(apv_act(&f, "agent-b", "deploy.run", args, id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_mismatch");
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", NULL, id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_mismatch");

    /* The same action (arguments in another key order: the same canonical JSON). */
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", "{\"replicas\":3,\"tag\":\"v1.2\"}", id, &r),
              AG_EFFECT_ALLOW);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_granted");
    ASSERT_TRUE(r.d.ledger_seq > 0);
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", args, id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_used");
    ASSERT_EQ(afx_count_kind(&f, "decision", "\"approval_granted\""), 1);
    /* Spent: it left the open index the sweeper and pending listings read. */
    struct ag_store_op zs = {.op = AG_OP_ZSCORE, .key = AG_APPROVAL_OPEN, .field = id};
    struct ag_store_reply zr;
    ASSERT_OK(ag_store_exec(f.store, NULL, &zs, 1, &zr, NULL));
    ASSERT_EQ(zr.type, AG_REPLY_NIL);
    ag_store_reply_free(&zr, 1);
    ASSERT_EQ(afx_count_kind(&f, "decision", "\"approval_used\""), 1);
    ASSERT_EQ(afx_count_kind(&f, "approval", "\"requested\""), 1);
    ASSERT_EQ(afx_count_kind(&f, "approval", "\"approved\""), 1);
    afx_close(&f);
}

/* Two distinct approvers are needed; the same one twice does not count. */
static void sc_two_person(void)
{
    struct afx f;
    afx_open(&f, "apv_two");
    afx_start(&f, "agent-a", 1);
    struct ag_approve_result r;
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", "[1,2]", NULL, &r), AG_EFFECT_ASK);
    char id[AG_APPROVAL_ID_BUF];
    snprintf(id, sizeof id, "%s", r.approval_id);
    struct ag_identity alice = apv_who("alice", "acc-alice", 2, 0);
    struct ag_identity alice2 = apv_who("alice", "acc-alice-2", 2, 0);
    struct ag_identity bob = apv_who("bob", "acc-bob", 2, 0);
    struct ag_approval a;
    ASSERT_OK(ag_approve_decide(f.ap, id, &alice, 1, NULL, &a));
    ASSERT_STREQ(a.status, "pending");
    ASSERT_EQ(a.approvals, 1);
    ag_approval_clear(&a);
    ASSERT_ERR(ag_approve_decide(f.ap, id, &alice2, 1, NULL, NULL), AG_EEXIST);
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", "[1,2]", id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_pending");
    ASSERT_OK(ag_approve_decide(f.ap, id, &bob, 1, NULL, &a));
    ASSERT_STREQ(a.status, "approved");
    ASSERT_EQ(a.approvals, 2);
    /* The grant verifies against the ledger key over (id, digest, expiry, nonce). */
    json_t *rec = json_loads(a.json, 0, NULL);
    json_t *g = json_object_get(rec, "grant");
    char msg[256];
    size_t len = ag_approval_grant_message(id, a.digest, a.expires_ms,
                                           json_string_value(json_object_get(g, "nonce")), msg);
    ASSERT_STREQ(json_string_value(json_object_get(g, "message")), msg);
    const char *sig = json_string_value(json_object_get(g, "sig"));
    ASSERT_TRUE(ag_ledger_sig_valid(f.ledger, msg, len, sig));
    msg[len - 1] ^= 1;
    ASSERT_FALSE(ag_ledger_sig_valid(f.ledger, msg, len, sig));
    json_decref(rec);
    ag_approval_clear(&a);
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", "[1,2]", id, &r), AG_EFFECT_ALLOW);
    afx_close(&f);
}

/* One deny denies; a deny needs a reason; the retry is approval_denied. */
static void sc_deny(void)
{
    struct afx f;
    afx_open(&f, "apv_deny");
    afx_start(&f, "agent-a", 1);
    struct ag_approve_result r;
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", NULL, NULL, &r), AG_EFFECT_ASK);
    char id[AG_APPROVAL_ID_BUF];
    snprintf(id, sizeof id, "%s", r.approval_id);
    struct ag_identity admin = apv_who("root", "acc-root", 4, 1);
    ASSERT_ERR(ag_approve_decide(f.ap, id, &admin, 0, NULL, NULL), AG_EINVAL);
    ASSERT_OK(ag_approve_decide(f.ap, id, &admin, 0, "not during the freeze", NULL));
    struct ag_approval a;
    ASSERT_OK(ag_approve_get(f.ap, id, &a));
    ASSERT_STREQ(a.status, "denied");
    ASSERT_CONTAINS(a.json, "not during the freeze");
    ag_approval_clear(&a);
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", NULL, id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_denied");
    ASSERT_ERR(ag_approve_decide(f.ap, id, &admin, 1, NULL, NULL), AG_ESTATE);
    ASSERT_ERR(ag_approve_get(f.ap, "apv-000000000000000000000000", &a), AG_ENOTFOUND);
    ASSERT_ERR(ag_approve_get(f.ap, "../etc", &a), AG_EINVAL);
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", NULL, "apv-000000000000000000000000", &r),
              AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_mismatch");
    afx_close(&f);
}

/* A pending approval its opener withdraws reads "withdrawn", leaves the pending list,
 * cannot be decided or used, and the withdrawal is ledgered once; withdrawing again,
 * or withdrawing a decided approval, changes nothing. */
static void sc_withdraw(void)
{
    struct afx f;
    afx_open(&f, "apv_withdraw");
    afx_start(&f, "agent-a", 1);
    struct ag_approve_result r;
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", NULL, NULL, &r), AG_EFFECT_ASK);
    char id[AG_APPROVAL_ID_BUF];
    snprintf(id, sizeof id, "%s", r.approval_id);
    int done = -1;
    ASSERT_ERR(ag_approve_withdraw(f.ap, id, "", "x", &done), AG_EINVAL);
    ASSERT_OK(ag_approve_withdraw(f.ap, id, "pipeline-run:r1", "the run was cancelled", &done));
    ASSERT_EQ(done, 1);
    struct ag_approval a;
    ASSERT_OK(ag_approve_get(f.ap, id, &a));
    ASSERT_STREQ(a.status, "withdrawn");
    ASSERT_CONTAINS(a.json, "the run was cancelled");
    ag_approval_clear(&a);
    struct ag_approval_filter flt = {.pending_only = 1};
    struct ag_approval *items = NULL;
    size_t n = 0;
    ASSERT_OK(ag_approve_list(f.ap, &flt, &items, &n));
    ASSERT_EQ(n, 0);
    ag_approval_list_free(items, n);
    struct ag_identity admin = apv_who("root", "acc-root", 4, 1);
    ASSERT_ERR(ag_approve_decide(f.ap, id, &admin, 1, NULL, NULL), AG_ESTATE);
    ASSERT_CONTAINS(ag_last_error(), "withdrawn");
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", NULL, id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_denied");
    ASSERT_OK(ag_approve_withdraw(f.ap, id, "pipeline-run:r1", "again", &done));
    ASSERT_EQ(done, 0);
    ASSERT_EQ(afx_count_kind(&f, "approval", "\"event\":\"withdrawn\""), 1);
    /* A decided approval stays decided. */
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", "{\"n\":2}", NULL, &r), AG_EFFECT_ASK);
    snprintf(id, sizeof id, "%s", r.approval_id);
    ASSERT_OK(ag_approve_decide(f.ap, id, &admin, 0, "no", NULL));
    ASSERT_OK(ag_approve_withdraw(f.ap, id, "pipeline-run:r1", "late", &done));
    ASSERT_EQ(done, 0);
    ASSERT_OK(ag_approve_get(f.ap, id, &a));
    ASSERT_STREQ(a.status, "denied");
    ag_approval_clear(&a);
    ASSERT_ERR(ag_approve_withdraw(f.ap, "apv-000000000000000000000000", "x", NULL, NULL),
               AG_ENOTFOUND);
    afx_close(&f);
}

/* Past its expiry an approval reads expired at once, is denied, cannot be approved, and
 * its expiry is ledgered exactly once. */
static void sc_expiry(void)
{
    struct afx f;
    afx_open(&f, "apv_exp");
    afx_start(&f, "agent-a", 1);
    struct ag_approve_result r;
    ASSERT_EQ(apv_act(&f, "agent-a", "quick.op", NULL, NULL, &r), AG_EFFECT_ASK);
    char id[AG_APPROVAL_ID_BUF];
    snprintf(id, sizeof id, "%s", r.approval_id);
    size_t n;
    ASSERT_OK(ag_approve_sweep(f.ap, &n));
    ASSERT_EQ(n, 0);
    usleep(1100 * 1000);
    struct ag_approval a;
    ASSERT_OK(ag_approve_get(f.ap, id, &a));
    ASSERT_STREQ(a.status, "expired");
    ag_approval_clear(&a);
    struct ag_identity alice = apv_who("alice", "acc-alice", 2, 0);
    ASSERT_ERR(ag_approve_decide(f.ap, id, &alice, 1, NULL, NULL), AG_ESTATE);
    ASSERT_EQ(apv_act(&f, "agent-a", "quick.op", NULL, id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_expired");
    ASSERT_OK(ag_approve_sweep(f.ap, &n));
    ASSERT_EQ(n, 0); /* the retry already recorded it */
    ASSERT_EQ(afx_count_kind(&f, "approval", "\"event\":\"expired\""), 1);
    ASSERT_EQ(f.events[AG_APPROVAL_EXPIRED], 1);
    /* A second one, recorded by the sweeper. */
    ASSERT_EQ(apv_act(&f, "agent-a", "quick.op", NULL, NULL, &r), AG_EFFECT_ASK);
    usleep(1100 * 1000);
    ASSERT_OK(ag_approve_sweep(f.ap, &n));
    ASSERT_EQ(n, 1);
    ASSERT_OK(ag_approve_sweep(f.ap, &n));
    ASSERT_EQ(n, 0);
    ASSERT_EQ(afx_count_kind(&f, "approval", "\"event\":\"expired\""), 2);
    afx_close(&f);
}

/* The grant is spent even when the lifecycle then refuses: the rule applies in EXECUTE
 * only, and the agent moved on. */
static void sc_phase_moved(void)
{
    struct afx f;
    afx_open(&f, "apv_phase");
    afx_start(&f, "agent-a", 1);
    struct ag_approve_result r;
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", NULL, NULL, &r), AG_EFFECT_ASK);
    char id[AG_APPROVAL_ID_BUF];
    snprintf(id, sizeof id, "%s", r.approval_id);
    struct ag_identity ops = apv_who("deployer", "acc-ops", 2, 0);
    snprintf(ops.role, sizeof ops.role, "ops");
    ASSERT_OK(ag_approve_decide(f.ap, id, &ops, 1, NULL, NULL));
    afx_go(&f, "agent-a", AG_PHASE_VERIFY);
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", NULL, id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "phase_not_allowed");
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", NULL, id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_used");
    afx_close(&f);
}

/* A record edited on the store (new arguments with a matching digest) fails the grant's
 * signature. */
static void sc_tampered_record(void)
{
    struct afx f;
    afx_open(&f, "apv_tamper");
    afx_start(&f, "agent-a", 1);
    struct ag_approve_result r;
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", "{\"n\":1}", NULL, &r), AG_EFFECT_ASK);
    char id[AG_APPROVAL_ID_BUF], key[80];
    snprintf(id, sizeof id, "%s", r.approval_id);
    struct ag_identity tier3 = apv_who("t3-agent", "acc-t3", 3, 0);
    ASSERT_OK(ag_approve_decide(f.ap, id, &tier3, 1, NULL, NULL));
    snprintf(key, sizeof key, "approval:%s", id);
    char *raw = NULL;
    ASSERT_OK(ag_store_get(f.store, key, &raw));
    json_t *rec = json_loads(raw, 0, NULL);
    free(raw);
    char ad[65], dg[65];
    ASSERT_OK(ag_approval_digest("agent-a", "deploy.run", "sandbox/web/01", "{\"n\":999}", ad, dg));
    json_object_set_new(rec, "digest", json_string(dg));
    json_object_set_new(rec, "args_digest", json_string(ad));
    raw = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_OK(ag_store_set(f.store, key, raw, 60000));
    free(raw);
    json_decref(rec);
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", "{\"n\":999}", id, &r), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(r.d.reason), "approval_mismatch");
    ASSERT_CONTAINS(r.detail, "signature");
    afx_close(&f);
}

struct race {
    struct afx *f;
    const char *id;
    int allowed;
};

static void *race_one(void *arg)
{
    struct race *rc = arg;
    struct ag_approve_result r;
    if (apv_act(rc->f, "agent-a", "deploy.run", NULL, rc->id, &r) == AG_EFFECT_ALLOW)
        __atomic_fetch_add(&rc->allowed, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Eight concurrent retries of one grant: exactly one is allowed. */
static void sc_concurrent_use(void)
{
    struct afx f;
    afx_open(&f, "apv_race");
    afx_start(&f, "agent-a", 1);
    struct ag_approve_result r;
    ASSERT_EQ(apv_act(&f, "agent-a", "deploy.run", NULL, NULL, &r), AG_EFFECT_ASK);
    struct ag_identity admin = apv_who("root", "acc-root", 4, 1);
    ASSERT_OK(ag_approve_decide(f.ap, r.approval_id, &admin, 1, NULL, NULL));
    struct race rc = {.f = &f, .id = r.approval_id};
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, race_one, &rc), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    ASSERT_EQ(rc.allowed, 1);
    ASSERT_EQ(afx_count_kind(&f, "decision", "\"approval_used\""), 7);
    afx_close(&f);
}

/* Listing: newest first, filters by agent and pending. */
static void sc_list(void)
{
    struct afx f;
    afx_open(&f, "apv_list");
    afx_start(&f, "agent-a", 1);
    afx_start(&f, "agent-b", 1);
    struct ag_approve_result r;
    char first[AG_APPROVAL_ID_BUF];
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", "1", NULL, &r), AG_EFFECT_ASK);
    snprintf(first, sizeof first, "%s", r.approval_id);
    usleep(2000);
    ASSERT_EQ(apv_act(&f, "agent-b", "db.migrate", "2", NULL, &r), AG_EFFECT_ASK);
    usleep(2000);
    ASSERT_EQ(apv_act(&f, "agent-a", "db.migrate", "3", NULL, &r), AG_EFFECT_ASK);
    struct ag_identity admin = apv_who("root", "acc-root", 4, 1);
    ASSERT_OK(ag_approve_decide(f.ap, first, &admin, 0, "no", NULL));
    struct ag_approval *items;
    size_t n;
    ASSERT_OK(ag_approve_list(f.ap, NULL, &items, &n));
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(items[0].id, r.approval_id);
    ASSERT_STREQ(items[2].id, first);
    ag_approval_list_free(items, n);
    struct ag_approval_filter flt = {.pending_only = 1, .agent_id = "agent-a"};
    ASSERT_OK(ag_approve_list(f.ap, &flt, &items, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(items[0].id, r.approval_id);
    ag_approval_list_free(items, n);
    afx_close(&f);
}

/* Identities from real tokens (looked up fresh: a revoked token is refused at once), and
 * the service read of a secret the notifications use (ledgered under its name). */
static void sc_identity(void)
{
    struct afx f;
    afx_open(&f, "apv_ident");
    uint8_t mk[AG_AUTH_KEY_LEN];
    memset(mk, 7, sizeof mk);
    struct ag_auth_opts ao = {
        .store = f.store, .ledger = f.ledger, .policy = f.policy, .master_key = mk};
    ag_auth *auth = NULL;
    ASSERT_OK(ag_auth_new(&ao, &auth));
    struct ag_approve_opts po = {.store = f.store, .ledger = f.ledger, .auth = auth};
    ag_approve *ap = NULL;
    ASSERT_OK(ag_approve_new(&po, &ap));
    char root[AG_TOKEN_BUF], tok[AG_TOKEN_BUF];
    ASSERT_OK(ag_auth_root_token_create(auth, root, NULL));
    struct ag_token_req rq = {.agent_id = "alice", .tier = 2, .ttl_ms = 600000};
    ASSERT_OK(ag_auth_token_create(auth, root, &rq, tok, NULL));
    struct ag_identity w;
    ASSERT_OK(ag_approve_identity_token(ap, tok, &w));
    ASSERT_STREQ(w.entity, "alice");
    ASSERT_EQ(w.tier, 2);
    ASSERT_EQ(w.admin, 0);
    ASSERT_STREQ(w.via, "token");
    ASSERT_EQ(strlen(w.accessor), 24);
    ASSERT_OK(ag_approve_identity_token(ap, root, &w));
    ASSERT_EQ(w.admin, 1);
    ASSERT_OK(ag_auth_token_revoke(auth, tok, NULL));
    ASSERT_ERR(ag_approve_identity_token(ap, tok, &w), AG_EPERM);
    ASSERT_OK(ag_auth_secret_put(auth, root, "notify/webhook", "{\"secret\":\"s3\"}", -1, NULL));
    char *data = NULL;
    ASSERT_OK(ag_auth_secret_read_service(auth, "notify", "notify/webhook", &data));
    ASSERT_STREQ(data, "{\"secret\":\"s3\"}");
    free(data);
    ASSERT_ERR(ag_auth_secret_read_service(auth, "notify", "notify/absent", &data), AG_ENOTFOUND);
    ASSERT_EQ(afx_count_kind(&f, "secret", "\"agentgov:notify\""), 2);
    ag_approve_free(ap);
    ag_auth_free(auth);
    afx_close(&f);
}

#define APPROVE_SCENARIO_TESTS(backend)                                                            \
    TEST(approve_ask_approve_once_##backend)                                                       \
    {                                                                                              \
        sc_ask_approve_once();                                                                     \
    }                                                                                              \
    TEST(approve_two_person_##backend)                                                             \
    {                                                                                              \
        sc_two_person();                                                                           \
    }                                                                                              \
    TEST(approve_deny_##backend)                                                                   \
    {                                                                                              \
        sc_deny();                                                                                 \
    }                                                                                              \
    TEST(approve_withdraw_##backend)                                                               \
    {                                                                                              \
        sc_withdraw();                                                                             \
    }                                                                                              \
    TEST(approve_expiry_##backend)                                                                 \
    {                                                                                              \
        sc_expiry();                                                                               \
    }                                                                                              \
    TEST(approve_phase_moved_##backend)                                                            \
    {                                                                                              \
        sc_phase_moved();                                                                          \
    }                                                                                              \
    TEST(approve_tampered_record_##backend)                                                        \
    {                                                                                              \
        sc_tampered_record();                                                                      \
    }                                                                                              \
    TEST(approve_concurrent_use_##backend)                                                         \
    {                                                                                              \
        sc_concurrent_use();                                                                       \
    }                                                                                              \
    TEST(approve_list_##backend)                                                                   \
    {                                                                                              \
        sc_list();                                                                                 \
    }                                                                                              \
    TEST(approve_identity_##backend)                                                               \
    {                                                                                              \
        sc_identity();                                                                             \
    }

#endif
