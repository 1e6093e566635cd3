/* Lifecycle scenarios run unchanged on every store backend: each test_gov_<backend>.c
 * defines gov_test_url() and includes this file. Header-only so that it is linked only
 * into those binaries. Ownership: each scenario opens and frees its own fixture. */
#ifndef AG_TEST_GOV_SCENARIOS_H
#define AG_TEST_GOV_SCENARIOS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <pthread.h>

#include "agentgov/gov.h"
#include "ledger_fixture.h"
#include "test.h"

/* The backend under test: its store URL, and a reset that empties it between
 * scenarios (an embedded store gets a fresh file per scenario instead). */
static const char *gov_test_url(void);
static void gov_test_reset(void);

static const char gov_policy_yaml[] =
    "version: 1\n"
    "tiers:\n"
    "  0: {name: Observer, token_ttl: 1h, max_ttl: 4h}\n"
    "  1: {name: Operator, token_ttl: 30m, max_ttl: 2h}\n"
    "  2: {name: Builder, token_ttl: 30m, max_ttl: 2h}\n"
    "  3: {name: Executor, token_ttl: 15m, max_ttl: 1h}\n"
    "  4: {name: Architect, token_ttl: 15m, max_ttl: 1h}\n"
    "rules:\n"
    "  - {id: observe, effect: allow, actions: [docs.read, inventory.read, plan.generate],"
    " resources: ['**'], min_tier: 0}\n"
    "  - {id: ssh, effect: allow, actions: [ssh.exec], resources: [sandbox/**],"
    " phases: [EXECUTE], min_tier: 1}\n"
    "  - {id: apply, effect: allow, actions: [ansible.apply], resources: ['**'],"
    " phases: [EXECUTE], min_tier: 1}\n"
    "promotion:\n"
    "  - {from: 0, to: 1, consecutive_compliant: 2}\n"
    "  - {from: 1, to: 2, consecutive_compliant: 1, requires_approval: true}\n";

struct gfx {
    struct fx lfx;
    ag_store *store;
    ag_ledger *ledger;
    ag_policy *policy;
    ag_gov *gov;
    int hook_calls;
    char hook_last[64];
};

static ag_err gfx_hook(void *ctx, const char *agent_id)
{
    struct gfx *f = ctx;
    f->hook_calls++;
    snprintf(f->hook_last, sizeof f->hook_last, "%s", agent_id);
    return AG_OK;
}

static void gfx_open(struct gfx *f, const char *label, const struct ag_gov_opts *o)
{
    memset(f, 0, sizeof *f);
    fx_init(&f->lfx, label, 0);
    f->ledger = fx_open(&f->lfx);
    const char *url = gov_test_url();
    ASSERT_TRUE(url != NULL);
    gov_test_reset();
    char buf[2048];
    if (strncmp(url, "sqlite:", 7) == 0) { /* a fresh embedded store per scenario */
        snprintf(buf, sizeof buf, "sqlite:%s/state.db", f->lfx.dir);
        url = buf;
    }
    ASSERT_OK(ag_store_open(url, &f->store));
    ASSERT_OK(
        ag_policy_load_string("test.yaml", gov_policy_yaml, strlen(gov_policy_yaml), &f->policy));
    ASSERT_OK(ag_gov_new(f->store, f->ledger, f->policy, o, &f->gov));
    ag_gov_set_revoke_hook(f->gov, gfx_hook, f);
}

static void gfx_close(struct gfx *f)
{
    ag_gov_free(f->gov);
    ag_policy_free(f->policy);
    ag_store_free(f->store);
    ag_ledger_close(f->ledger);
    struct ag_verify_result v = fx_verify(&f->lfx);
    ASSERT_TRUE(v.ok);
}

/* A packet for agent/task with a budget and required artifacts. */
static char *gfx_packet(const char *agent, const char *task, int max_pv, int max_same,
                        int max_total, const char *required)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"agent_id\":\"%s\",\"task_id\":\"%s\",\"created_for\":\"t\",\"objective\":\"o\","
             "\"deliverables\":[],\"success_criteria\":[],\"escalation_rules\":[],"
             "\"created_at\":\"2026-11-25T12:00:00Z\",\"required_artifacts\":[%s],"
             "\"constraints\":{\"scope\":[\"sandbox/**\"],\"forbidden\":[\"prod.*\",\"db.drop\"],"
             "\"required_steps\":[]},\"error_budget\":{\"max_procedure_violations\":%d,"
             "\"max_same_error_repeats\":%d,\"max_total_errors\":%d}}",
             agent, task, required ? required : "", max_pv, max_same, max_total);
    return buf;
}

static void gfx_start(struct gfx *f, const char *agent, const char *task, int tier)
{
    ASSERT_OK(ag_gov_register(f->gov, agent, tier, gfx_packet(agent, task, 1, 2, 8, NULL)));
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f->gov, agent, NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "BOOTSTRAP_COMPLETE");
    ag_bootstrap_result_clear(&b);
}

static void gfx_go(struct gfx *f, const char *agent, enum ag_phase ph)
{
    struct ag_transition_result r;
    ASSERT_OK(ag_gov_transition(f->gov, agent, ph, "step", &r));
    if (!r.ok)
        ag_test_fail(__FILE__, __LINE__, "transition to %d refused: %s (%s)", (int)ph,
                     ag_reason_name(r.reason), r.detail);
}

/* Walks a run through the phases from..upto (inclusive). */
static void gfx_walk_from(struct gfx *f, const char *agent, enum ag_phase from, enum ag_phase upto)
{
    for (int p = (int)from; p <= (int)upto; p++)
        gfx_go(f, agent, (enum ag_phase)p);
}

/* Walks a started run from BOOTSTRAP to `upto` (inclusive). */
static void gfx_walk(struct gfx *f, const char *agent, enum ag_phase upto)
{
    gfx_walk_from(f, agent, AG_PHASE_PREFLIGHT, upto);
}

static char *gfx_get(struct gfx *f, const char *key)
{
    char *v = NULL;
    ASSERT_OK(ag_store_get(f->store, key, &v));
    return v;
}

static int64_t gfx_pttl(struct gfx *f, const char *key)
{
    struct ag_store_op op = {.op = AG_OP_PTTL, .key = key};
    struct ag_store_reply r;
    ASSERT_OK(ag_store_exec(f->store, NULL, &op, 1, &r, NULL));
    int64_t v = r.integer;
    ag_store_reply_free(&r, 1);
    return v;
}

/* The agent is revoked: state, lock, revocation list, authorize denies, hook called. */
static void gfx_assert_revoked(struct gfx *f, const char *agent, const char *type)
{
    char key[256];
    snprintf(key, sizeof key, "agent:%s:state", agent);
    char *st = gfx_get(f, key);
    ASSERT_CONTAINS(st, "\"phase\":\"REVOKED\"");
    ASSERT_CONTAINS(st, type);
    free(st);
    snprintf(key, sizeof key, "agent:%s:lock", agent);
    char *lock = gfx_get(f, key);
    ASSERT_TRUE(lock == NULL);
    char **items;
    size_t n;
    ASSERT_OK(ag_store_lrange(f->store, "revocations:ledger", 0, -1, &items, &n));
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        seen |= strstr(items[i], agent) && strstr(items[i], type);
    ag_store_strv_free(items, n);
    ASSERT_TRUE(seen);
    ASSERT_STREQ(f->hook_last, agent);
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f->gov, agent, "docs.read", "x", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "agent_revoked");
    struct ag_agent_status s;
    ASSERT_OK(ag_gov_status(f->gov, agent, &s));
    ASSERT_TRUE(s.revoked);
    ag_agent_status_clear(&s);
}

static int gfx_count_cb(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    (void)row;
    (*(int *)ctx)++;
    return 0;
}

static int gfx_ledger_count(struct gfx *f, const char *agent, const char *kind)
{
    int n = 0;
    struct ag_ledger_filter flt = {.agent_id = agent, .kind = kind};
    ASSERT_OK(ag_ledger_query(f->ledger, &flt, gfx_count_cb, &n));
    return n;
}

struct gfx_find {
    const char *needle;
    int found;
};

static int gfx_find_cb(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    struct gfx_find *f = ctx;
    f->found |= strstr(row, f->needle) != NULL;
    return 0;
}

/* Does one of the agent's ledger rows of this kind contain needle? */
static int gfx_ledger_has(struct gfx *f, const char *agent, const char *kind, const char *needle)
{
    struct gfx_find ff = {needle, 0};
    struct ag_ledger_filter flt = {.agent_id = agent, .kind = kind};
    ASSERT_OK(ag_ledger_query(f->ledger, &flt, gfx_find_cb, &ff));
    return ff.found;
}

struct gfx_tally {
    const char *needle;
    int n;
};

static int gfx_tally_cb(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    struct gfx_tally *t = ctx;
    t->n += strstr(row, t->needle) != NULL;
    return 0;
}

/* How many of the agent's ledger rows of this kind contain needle? */
static int gfx_ledger_count_with(struct gfx *f, const char *agent, const char *kind,
                                 const char *needle)
{
    struct gfx_tally t = {needle, 0};
    struct ag_ledger_filter flt = {.agent_id = agent, .kind = kind};
    ASSERT_OK(ag_ledger_query(f->ledger, &flt, gfx_tally_cb, &t));
    return t.n;
}

/* The ledger's own agent_metrics view (SQL) must agree with ag_gov_metrics. */
static void gfx_assert_view_agrees(struct gfx *f, const char *agent)
{
    struct ag_agent_metrics m;
    ASSERT_OK(ag_gov_metrics(f->gov, agent, &m));
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open_v2(f->lfx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT current_tier, total_runs, compliant_runs, "
                                 "consecutive_compliant, last_active_at FROM agent_metrics "
                                 "WHERE agent_id = ?",
                                 -1, &st, NULL),
              SQLITE_OK);
    sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int64(st, 0), m.current_tier);
    ASSERT_EQ(sqlite3_column_int64(st, 1), m.total_runs);
    ASSERT_EQ(sqlite3_column_int64(st, 2), m.compliant_runs);
    ASSERT_EQ(sqlite3_column_int64(st, 3), m.consecutive_compliant);
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 4), m.last_active_at);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void gfx_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------- scenarios --- */

static void sc_full_run(void)
{
    struct gfx f;
    gfx_open(&f, "full_run", NULL);
    ASSERT_OK(
        ag_gov_register(f.gov, "alpha", 1, gfx_packet("alpha", "t1", 1, 2, 8, "\"plan.md\"")));
    struct ag_gov_decision d;
    /* Not bootstrapped yet: deny, and the deny is ledgered. */
    ASSERT_EQ(ag_gov_authorize(f.gov, "alpha", "docs.read", "docs/x", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "not_bootstrapped");
    ASSERT_TRUE(d.ledger_seq > 0);
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f.gov, "alpha", "t1", &b));
    ASSERT_EQ(b.code, AG_BOOT_COMPLETE);
    ASSERT_EQ(b.tier, 1);
    ASSERT_TRUE(b.fence > 0);
    ASSERT_TRUE(b.handoff_json == NULL);
    ag_bootstrap_result_clear(&b);
    gfx_walk(&f, "alpha", AG_PHASE_PLAN);
    /* Phase-gated: ssh.exec is EXECUTE-only. */
    ASSERT_EQ(ag_gov_authorize(f.gov, "alpha", "ssh.exec", "sandbox/web/01", 900, &d),
              AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "phase_not_allowed");
    ASSERT_EQ(d.phase, AG_PHASE_PLAN);
    gfx_go(&f, "alpha", AG_PHASE_EXECUTE);
    ASSERT_EQ(ag_gov_authorize(f.gov, "alpha", "ssh.exec", "sandbox/web/01", 900, &d),
              AG_EFFECT_ALLOW);
    ASSERT_EQ(d.tier, 1);
    ASSERT_EQ(d.revoked, 0);
    /* Out of the packet's scope. */
    ASSERT_EQ(ag_gov_authorize(f.gov, "alpha", "ssh.exec", "staging/web/01", -1, &d),
              AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "out_of_scope");
    /* The same phase again is a new step. */
    struct ag_transition_result r;
    ASSERT_OK(ag_gov_transition(f.gov, "alpha", AG_PHASE_EXECUTE, "say \"hi\" \\ \u00e9", &r));
    ASSERT_TRUE(r.ok);
    /* A step that needs JSON escapes is read back by the slow path, from a cold handle. */
    ag_gov *cold;
    ASSERT_OK(ag_gov_new(f.store, f.ledger, f.policy, NULL, &cold));
    ASSERT_EQ(ag_gov_authorize(cold, "alpha", "ssh.exec", "sandbox/web/02", -1, &d),
              AG_EFFECT_ALLOW);
    ASSERT_EQ(d.phase, AG_PHASE_EXECUTE);
    ASSERT_OK(ag_gov_heartbeat(cold, "alpha", &r));
    ASSERT_TRUE(r.ok);
    ag_gov_free(cold);
    char *stj = gfx_get(&f, "agent:alpha:state");
    ASSERT_CONTAINS(stj, "say \\\"hi\\\" \\\\");
    free(stj);
    ASSERT_OK(ag_gov_add_artifact(f.gov, "t1", "alpha", "plan.md", NULL));
    gfx_walk_from(&f, "alpha", AG_PHASE_VERIFY, AG_PHASE_EXIT);
    /* TTLs on every runtime key; the packet and the registry are durable. */
    ASSERT_TRUE(gfx_pttl(&f, "agent:alpha:state") > 0);
    ASSERT_TRUE(gfx_pttl(&f, "task:t1:active_agent") > 0);
    ASSERT_TRUE(gfx_pttl(&f, "task:t1:artifacts") > 0);
    ASSERT_EQ(gfx_pttl(&f, "agent:alpha:packet"), -1);
    ASSERT_EQ(gfx_pttl(&f, "agent:alpha:lock"), -2); /* released at EXIT */
    ASSERT_EQ(gfx_pttl(&f, "agent:alpha:heartbeat"), -2);
    char *st = gfx_get(&f, "agent:alpha:state");
    ASSERT_CONTAINS(st, "\"phase\":\"EXIT\"");
    free(st);
    struct ag_agent_metrics m;
    ASSERT_OK(ag_gov_metrics(f.gov, "alpha", &m));
    ASSERT_EQ(m.total_runs, 1);
    ASSERT_EQ(m.compliant_runs, 1);
    ASSERT_EQ(m.consecutive_compliant, 1);
    ASSERT_EQ(m.current_tier, 1);
    ASSERT_TRUE(m.last_active_at[0] != 0);
    gfx_assert_view_agrees(&f, "alpha");
    /* After EXIT the run is over: transitions and actions need a new bootstrap. */
    ASSERT_EQ(ag_gov_authorize(f.gov, "alpha", "docs.read", "docs/x", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "not_bootstrapped");
    ASSERT_EQ(gfx_ledger_count(&f, "alpha", "lifecycle"), 1 + 1 + 8); /* register, boot, 8 moves */
    gfx_close(&f);
}

static void sc_bootstrap_refusals(void)
{
    struct gfx f;
    gfx_open(&f, "refusals", NULL);
    struct ag_bootstrap_result b;
    /* Unregistered and without a packet. */
    ASSERT_OK(ag_gov_bootstrap(f.gov, "ghost", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "NO_INSTRUCTION_PACKET");
    ag_bootstrap_result_clear(&b);
    ASSERT_OK(ag_gov_register(f.gov, "a", 2, NULL));
    ASSERT_OK(ag_gov_bootstrap(f.gov, "a", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "NO_INSTRUCTION_PACKET");
    ag_bootstrap_result_clear(&b);
    /* A packet for another agent is refused at registration. */
    ASSERT_ERR(ag_gov_set_packet(f.gov, "a", gfx_packet("b", "t", 1, 2, 8, NULL)), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "agent_id");
    ASSERT_OK(ag_gov_set_packet(f.gov, "a", gfx_packet("a", "t", 1, 2, 8, NULL)));
    ASSERT_OK(ag_gov_bootstrap(f.gov, "a", "other-task", &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "TASK_MISMATCH");
    ag_bootstrap_result_clear(&b);
    ASSERT_OK(ag_gov_bootstrap(f.gov, "a", "t", &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "BOOTSTRAP_COMPLETE");
    ag_bootstrap_result_clear(&b);
    /* Held lock: a second instance of the same agent is refused. */
    ASSERT_OK(ag_gov_bootstrap(f.gov, "a", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "CANNOT_ACQUIRE_LOCK");
    ag_bootstrap_result_clear(&b);
    /* Revoked: barred until re-registered. */
    ASSERT_OK(ag_gov_revoke(f.gov, "a", "MANUAL", "test"));
    ASSERT_ERR(ag_gov_revoke(f.gov, "a", "MANUAL", "again"), AG_EREVOKED);
    ASSERT_OK(ag_gov_bootstrap(f.gov, "a", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "AGENT_PREVIOUSLY_REVOKED");
    ag_bootstrap_result_clear(&b);
    gfx_sleep_ms(2); /* registration must be later than the revocation */
    ASSERT_OK(ag_gov_register(f.gov, "a", -1, NULL));
    ASSERT_OK(ag_gov_bootstrap(f.gov, "a", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "BOOTSTRAP_COMPLETE");
    ASSERT_EQ(b.tier, 1); /* demoted by the revocation, kept by re-registration */
    ag_bootstrap_result_clear(&b);
    /* Every bootstrap outcome is in the ledger. */
    /* 2 registrations, 6 bootstrap outcomes, and the EXIT (success 0) of the revoked run */
    ASSERT_EQ(gfx_ledger_count(&f, "a", "lifecycle"), 2 + 6 + 1);
    ASSERT_EQ(gfx_ledger_count(&f, "ghost", "lifecycle"), 1);
    /* Ids that would break a key are refused. */
    ASSERT_ERR(ag_gov_bootstrap(f.gov, "a:b", NULL, &b), AG_EINVAL);
    ASSERT_ERR(ag_gov_register(f.gov, "", 1, NULL), AG_EINVAL);
    ASSERT_ERR(ag_gov_register(f.gov, "x", 5, NULL), AG_EINVAL);
    gfx_close(&f);
}

/* Every illegal (from, to) pair is a violation that revokes at max_procedure_violations 1. */
static void sc_illegal_transitions(void)
{
    struct gfx f;
    gfx_open(&f, "illegal", NULL);
    int cases = 0;
    for (int from = 0; from < AG_PHASE_COUNT - 1; from++) /* EXIT ends the run */
        for (int to = 0; to < AG_PHASE_COUNT; to++) {
            if (ag_phase_transition_legal((enum ag_phase)from, (enum ag_phase)to))
                continue;
            char agent[32], task[32];
            snprintf(agent, sizeof agent, "ill-%d-%d", from, to);
            snprintf(task, sizeof task, "task-%d-%d", from, to);
            gfx_start(&f, agent, task, 1);
            gfx_walk(&f, agent, (enum ag_phase)from);
            struct ag_transition_result r;
            ASSERT_OK(ag_gov_transition(f.gov, agent, (enum ag_phase)to, "x", &r));
            ASSERT_FALSE(r.ok);
            ASSERT_TRUE(r.violation);
            ASSERT_TRUE(r.revoked);
            ASSERT_CONTAINS(r.detail, "illegal transition");
            gfx_assert_revoked(&f, agent, "PROCEDURE_VIOLATION");
            ASSERT_EQ(gfx_ledger_count(&f, agent, "violation"), 1);
            ASSERT_TRUE(
                gfx_ledger_has(&f, agent, "violation", "\"error_type\":\"illegal_transition\""));
            ASSERT_EQ(gfx_ledger_count(&f, agent, "revocation"), 1);
            cases++;
        }
    ASSERT_EQ(cases, 7 * 8 - 14); /* 42 illegal pairs from the 7 phases before EXIT */
    /* With a larger budget an illegal move is refused and the state stays put. */
    ASSERT_OK(ag_gov_register(f.gov, "lenient", 1, gfx_packet("lenient", "tl", 3, 5, 8, NULL)));
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f.gov, "lenient", NULL, &b));
    ag_bootstrap_result_clear(&b);
    struct ag_transition_result r;
    ASSERT_OK(ag_gov_transition(f.gov, "lenient", AG_PHASE_EXECUTE, "skip", &r));
    ASSERT_FALSE(r.ok);
    ASSERT_TRUE(r.violation);
    ASSERT_FALSE(r.revoked);
    ASSERT_STREQ(ag_reason_name(r.reason), "phase_not_allowed");
    char *st = gfx_get(&f, "agent:lenient:state");
    ASSERT_CONTAINS(st, "\"phase\":\"BOOTSTRAP\"");
    free(st);
    gfx_go(&f, "lenient", AG_PHASE_PREFLIGHT);
    /* The second violation of three allowed still does not revoke; the third does. */
    ASSERT_OK(ag_gov_transition(f.gov, "lenient", AG_PHASE_BOOTSTRAP, "back", &r));
    ASSERT_FALSE(r.revoked);
    ASSERT_OK(ag_gov_transition(f.gov, "lenient", AG_PHASE_REPORT, "jump", &r));
    ASSERT_TRUE(r.revoked);
    gfx_assert_revoked(&f, "lenient", "PROCEDURE_VIOLATION");
    gfx_close(&f);
}

static void sc_triggers(void)
{
    struct gfx f;
    gfx_open(&f, "triggers", NULL);
    struct ag_transition_result r;
    struct ag_bootstrap_result b;
    /* 1. procedure violations >= max. */
    gfx_start(&f, "pv", "t-pv", 1);
    ASSERT_OK(ag_gov_record_error(f.gov, "pv", "procedure_violation", "skipped a step", &r));
    ASSERT_TRUE(r.revoked);
    gfx_assert_revoked(&f, "pv", "PROCEDURE_VIOLATION");
    /* 2. the same error max_same_error_repeats times. */
    gfx_start(&f, "same", "t-same", 1);
    ASSERT_OK(ag_gov_record_error(f.gov, "same", "timeout", "ssh timed out", &r));
    ASSERT_TRUE(r.ok);
    ASSERT_FALSE(r.revoked);
    ASSERT_OK(ag_gov_record_error(f.gov, "same", "parse", "bad output", &r));
    ASSERT_FALSE(r.revoked);
    ASSERT_OK(ag_gov_record_error(f.gov, "same", "timeout", "ssh timed out again", &r));
    ASSERT_TRUE(r.revoked);
    ASSERT_STREQ(ag_reason_name(r.reason), "budget_exhausted");
    gfx_assert_revoked(&f, "same", "ERROR_REPEATED");
    /* 3. total errors >= max (3 here, all different). */
    ASSERT_OK(ag_gov_register(f.gov, "tot", 1, gfx_packet("tot", "t-tot", 1, 5, 3, NULL)));
    ASSERT_OK(ag_gov_bootstrap(f.gov, "tot", NULL, &b));
    ag_bootstrap_result_clear(&b);
    ASSERT_OK(ag_gov_record_error(f.gov, "tot", "e1", "m", &r));
    ASSERT_OK(ag_gov_record_error(f.gov, "tot", "e2", "m", &r));
    ASSERT_FALSE(r.revoked);
    char *errs = NULL;
    struct ag_agent_status s;
    ASSERT_OK(ag_gov_status(f.gov, "tot", &s));
    ASSERT_EQ(s.total_errors, 2);
    ASSERT_EQ(s.procedure_violations, 0);
    ag_agent_status_clear(&s);
    ASSERT_TRUE(gfx_pttl(&f, "agent:tot:errors") > 0);
    ASSERT_OK(ag_gov_record_error(f.gov, "tot", "e3", "m", &r));
    ASSERT_TRUE(r.revoked);
    gfx_assert_revoked(&f, "tot", "ERROR_BUDGET_EXCEEDED");
    free(errs);
    /* 4. a required artifact missing after EXECUTE. */
    ASSERT_OK(ag_gov_register(f.gov, "art", 1,
                              gfx_packet("art", "t-art", 1, 2, 8, "\"report.json\",\"plan.md\"")));
    ASSERT_OK(ag_gov_bootstrap(f.gov, "art", NULL, &b));
    ag_bootstrap_result_clear(&b);
    gfx_walk(&f, "art", AG_PHASE_EXECUTE);
    ASSERT_OK(ag_gov_add_artifact(f.gov, "t-art", "art", "plan.md", "00"));
    ASSERT_OK(ag_gov_transition(f.gov, "art", AG_PHASE_VERIFY, "v", &r));
    ASSERT_FALSE(r.ok);
    ASSERT_TRUE(r.revoked);
    ASSERT_CONTAINS(r.detail, "report.json");
    gfx_assert_revoked(&f, "art", "MISSING_ARTIFACT");
    char *st = gfx_get(&f, "agent:art:state");
    ASSERT_CONTAINS(st, "\"prev_phase\":\"EXECUTE\"");
    free(st);
    /* 5. a forbidden action (packet constraints.forbidden). */
    gfx_start(&f, "fa", "t-fa", 1);
    gfx_walk(&f, "fa", AG_PHASE_EXECUTE);
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f.gov, "fa", "db.drop", "sandbox/db", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "forbidden_action");
    ASSERT_TRUE(d.revoked);
    ASSERT_TRUE(d.ledger_seq > 0);
    gfx_assert_revoked(&f, "fa", "PROCEDURE_VIOLATION");
    ASSERT_TRUE(gfx_ledger_has(&f, "fa", "violation", "\"error_type\":\"forbidden_action\""));
    ASSERT_TRUE(gfx_ledger_has(&f, "fa", "lifecycle", "\"phase\":\"EXIT\",\"prev_hash\""));
    ASSERT_TRUE(gfx_ledger_has(&f, "fa", "promotion", "\"decision\":\"revocation\""));
    ASSERT_EQ(f.hook_calls, 5);
    /* A revocation demotes one tier (1 -> 0) through a promotion entry. */
    struct ag_agent_metrics m;
    ASSERT_OK(ag_gov_metrics(f.gov, "fa", &m));
    ASSERT_EQ(m.current_tier, 0);
    ASSERT_EQ(gfx_ledger_count(&f, "fa", "promotion"), 1);
    gfx_close(&f);
}

static void sc_lock_expiry_and_fencing(void)
{
    struct gfx f;
    struct ag_gov_opts o = {.lock_ttl_ms = 150};
    gfx_open(&f, "fencing", &o);
    /* Expiry without a taker: the holder can no longer write or act. */
    gfx_start(&f, "lk0", "t-lk0", 1);
    gfx_sleep_ms(250);
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f.gov, "lk0", "docs.read", "docs/a", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "lock_lost");
    struct ag_transition_result r;
    ASSERT_OK(ag_gov_transition(f.gov, "lk0", AG_PHASE_PREFLIGHT, "late", &r));
    ASSERT_FALSE(r.ok);
    ASSERT_STREQ(ag_reason_name(r.reason), "lock_lost");
    char *st = gfx_get(&f, "agent:lk0:state");
    ASSERT_CONTAINS(st, "\"phase\":\"BOOTSTRAP\"");
    free(st);
    /* Expiry and takeover by another instance (another handle, as another process). */
    gfx_start(&f, "lk", "t-lk", 1);
    gfx_go(&f, "lk", AG_PHASE_PREFLIGHT); /* refreshes the lock */
    gfx_sleep_ms(250);
    ag_gov *g2;
    ASSERT_OK(ag_gov_new(f.store, f.ledger, f.policy, &o, &g2));
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(g2, "lk", NULL, &b));
    ASSERT_EQ(b.code, AG_BOOT_COMPLETE);
    int64_t fence2 = b.fence;
    ag_bootstrap_result_clear(&b);
    /* The old holder, with its old fence cached, cannot write. */
    ASSERT_OK(ag_gov_transition(f.gov, "lk", AG_PHASE_PLAN, "late", &r));
    ASSERT_FALSE(r.ok);
    ASSERT_STREQ(ag_reason_name(r.reason), "lock_lost");
    st = gfx_get(&f, "agent:lk:state");
    ASSERT_CONTAINS(st, "\"phase\":\"BOOTSTRAP\"");
    char fs[32];
    snprintf(fs, sizeof fs, "\"fence\":%lld", (long long)fence2);
    ASSERT_CONTAINS(st, fs);
    free(st);
    /* The new holder can. */
    ASSERT_OK(ag_gov_transition(g2, "lk", AG_PHASE_PREFLIGHT, "s", &r));
    ASSERT_TRUE(r.ok);
    /* A handle with a cold cache picks the current run up from the store. */
    ag_gov *g3;
    ASSERT_OK(ag_gov_new(f.store, f.ledger, f.policy, &o, &g3));
    ASSERT_OK(ag_gov_transition(g3, "lk", AG_PHASE_PLAN, "s", &r));
    ASSERT_TRUE(r.ok);
    /* g2's cache is now stale (PREFLIGHT): EXECUTE is legal from the real PLAN. */
    ASSERT_OK(ag_gov_transition(g2, "lk", AG_PHASE_EXECUTE, "s", &r));
    ASSERT_TRUE(r.ok);
    ASSERT_OK(ag_gov_heartbeat(g2, "lk", &r));
    ASSERT_TRUE(r.ok);
    /* Revoked by another handle: g2 (whose cache still holds the run) is told why. */
    ASSERT_OK(ag_gov_revoke(g3, "lk", "MANUAL", "operator"));
    ASSERT_OK(ag_gov_transition(g2, "lk", AG_PHASE_VERIFY, "s", &r));
    ASSERT_FALSE(r.ok);
    ASSERT_TRUE(r.revoked);
    ASSERT_STREQ(ag_reason_name(r.reason), "agent_revoked");
    ag_gov_free(g3);
    ag_gov_free(g2);
    gfx_close(&f);
}

static void sc_handoff_round_trip(void)
{
    struct gfx f;
    gfx_open(&f, "handoff", NULL);
    gfx_start(&f, "A", "shared", 1);
    gfx_walk(&f, "A", AG_PHASE_EXECUTE);
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f.gov, "A", "prod.write", "sandbox/x", -1, &d), AG_EFFECT_DENY);
    ASSERT_TRUE(d.revoked);
    /* B may not take the task before A's handoff exists. */
    ASSERT_OK(ag_gov_register(f.gov, "B", 1, gfx_packet("B", "shared", 1, 2, 8, NULL)));
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f.gov, "B", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "HANDOFF_REQUIRED");
    ag_bootstrap_result_clear(&b);
    /* An invalid handoff is refused with the field named. */
    ASSERT_ERR(ag_gov_write_handoff(f.gov, "{\"task_id\":\"shared\"}"), AG_EPARSE);
    ASSERT_STREQ(ag_last_error(), "handoff: previous_agent_id: missing");
    const char *h =
        "{\"task_id\":\"shared\",\"previous_agent_id\":\"A\",\"revoked\":true,"
        "\"revocation_reason\":{\"type\":\"FORBIDDEN_ACTION\",\"details\":\"prod.write\"},"
        "\"last_known_state\":{\"phase\":\"EXECUTE\",\"step\":\"step\"},"
        "\"what_was_tried\":[\"prod.write\"],\"blocking_issue\":\"scope\","
        "\"required_next_actions\":[\"use sandbox\"],\"constraints_reminder\":[\"sandbox/**\"],"
        "\"artifacts\":[]}";
    ASSERT_OK(ag_gov_write_handoff(f.gov, h));
    char *back = NULL;
    ASSERT_OK(ag_gov_read_handoff(f.gov, "shared", &back));
    ASSERT_CONTAINS(back, "\"previous_agent_id\":\"A\"");
    ASSERT_CONTAINS(back, "\"created_at\":");
    ASSERT_TRUE(gfx_pttl(&f, "handoff:shared:latest") > 0);
    ASSERT_OK(ag_gov_bootstrap(f.gov, "B", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "BOOTSTRAP_COMPLETE");
    ASSERT_STREQ(b.handoff_json, back);
    ag_bootstrap_result_clear(&b);
    free(back);
    char *active = gfx_get(&f, "task:shared:active_agent");
    ASSERT_STREQ(active, "B");
    free(active);
    gfx_walk(&f, "B", AG_PHASE_EXIT);
    ASSERT_EQ(gfx_ledger_count(&f, "A", "handoff"), 1);
    char *none = NULL;
    ASSERT_OK(ag_gov_read_handoff(f.gov, "nothing-here", &none));
    ASSERT_TRUE(none == NULL);
    gfx_close(&f);
}

static void run_to_exit(struct gfx *f, const char *agent)
{
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f->gov, agent, NULL, &b));
    ASSERT_EQ(b.code, AG_BOOT_COMPLETE);
    ag_bootstrap_result_clear(&b);
    gfx_walk(f, agent, AG_PHASE_EXIT);
}

static void sc_promotion_and_demotion(void)
{
    struct gfx f;
    gfx_open(&f, "promotion", NULL);
    ASSERT_OK(ag_gov_register(f.gov, "p", 0, gfx_packet("p", "tp", 1, 2, 8, NULL)));
    int t = -1;
    ASSERT_ERR(ag_gov_promote(f.gov, "p", 0, &t), AG_ESTATE);
    ASSERT_CONTAINS(ag_last_error(), "needs 2 consecutive compliant runs");
    run_to_exit(&f, "p");
    struct ag_agent_status s;
    ASSERT_OK(ag_gov_status(f.gov, "p", &s));
    ASSERT_EQ(s.tier, 0);
    ag_agent_status_clear(&s);
    run_to_exit(&f, "p"); /* the second compliant run promotes automatically: T0 -> T1 */
    ASSERT_OK(ag_gov_status(f.gov, "p", &s));
    ASSERT_EQ(s.tier, 1);
    ag_agent_status_clear(&s);
    struct ag_agent_metrics m;
    ASSERT_OK(ag_gov_metrics(f.gov, "p", &m));
    ASSERT_EQ(m.total_runs, 2);
    ASSERT_EQ(m.compliant_runs, 2);
    ASSERT_EQ(m.consecutive_compliant, 0); /* the promotion restarts the streak */
    ASSERT_EQ(m.current_tier, 1);
    /* T1 -> T2 needs a human approval. */
    run_to_exit(&f, "p");
    ASSERT_ERR(ag_gov_promote(f.gov, "p", 0, &t), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "--approve");
    ASSERT_OK(ag_gov_promote(f.gov, "p", 1, &t));
    ASSERT_EQ(t, 2);
    ASSERT_ERR(ag_gov_promote(f.gov, "p", 1, &t), AG_ESTATE); /* no rule from T2 */
    /* A revocation demotes one tier and resets the streak. */
    run_to_exit(&f, "p");
    ASSERT_OK(ag_gov_metrics(f.gov, "p", &m));
    ASSERT_EQ(m.consecutive_compliant, 1);
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f.gov, "p", NULL, &b));
    ag_bootstrap_result_clear(&b);
    ASSERT_OK(ag_gov_revoke(f.gov, "p", "MANUAL", "operator"));
    ASSERT_OK(ag_gov_metrics(f.gov, "p", &m));
    ASSERT_EQ(m.current_tier, 1);
    ASSERT_EQ(m.consecutive_compliant, 0);
    ASSERT_EQ(m.total_runs, 5); /* the revoked run counts, as not compliant */
    ASSERT_EQ(m.compliant_runs, 4);
    gfx_assert_view_agrees(&f, "p");
    ASSERT_OK(ag_gov_demote(f.gov, "p", NULL, &t));
    ASSERT_EQ(t, 0);
    ASSERT_OK(ag_gov_demote(f.gov, "p", NULL, &t));
    ASSERT_EQ(t, 0); /* not below T0 */
    ASSERT_OK(ag_gov_status(f.gov, "p", &s));
    ASSERT_EQ(s.tier, 0);
    ag_agent_status_clear(&s);
    gfx_assert_view_agrees(&f, "p");
    gfx_close(&f);
}

/* Two EXITs of one run (two processes, a retry): exactly one ends and counts the run.
 * The other is refused as an illegal move, without a violation against the agent
 * (docs/lifecycle.md), whether it loses the lock or lands while it is still held. */
static void sc_double_exit(void)
{
    struct gfx f;
    gfx_open(&f, "double_exit", NULL);
    gfx_start(&f, "dx", "t-dx", 1);
    gfx_walk(&f, "dx", AG_PHASE_REPORT);
    ag_gov *g2, *g3; /* other processes that know the run at REPORT */
    struct ag_transition_result r;
    ASSERT_OK(ag_gov_new(f.store, f.ledger, f.policy, NULL, &g2));
    ASSERT_OK(ag_gov_new(f.store, f.ledger, f.policy, NULL, &g3));
    ASSERT_OK(ag_gov_heartbeat(g2, "dx", &r));
    ASSERT_TRUE(r.ok);
    ASSERT_OK(ag_gov_heartbeat(g3, "dx", &r));
    ASSERT_TRUE(r.ok);
    char *lock = gfx_get(&f, "agent:dx:lock");
    ASSERT_TRUE(lock != NULL);
    gfx_go(&f, "dx", AG_PHASE_EXIT);
    /* Between the first EXIT's write and its release of the lock (replayed by putting
     * the lock back): the exec runs, and the state it replaced says EXIT. */
    ASSERT_OK(ag_store_set(f.store, "agent:dx:lock", lock, 60000));
    ASSERT_OK(ag_gov_transition(g2, "dx", AG_PHASE_EXIT, "again", &r));
    ASSERT_FALSE(r.ok);
    ASSERT_STREQ(ag_reason_name(r.reason), "phase_not_allowed");
    ASSERT_CONTAINS(r.detail, "already ended");
    ASSERT_FALSE(r.violation);
    ASSERT_FALSE(r.revoked);
    /* After the first EXIT released the lock. */
    ASSERT_OK(ag_store_del(f.store, "agent:dx:lock"));
    free(lock);
    ASSERT_OK(ag_gov_transition(g3, "dx", AG_PHASE_EXIT, "again", &r));
    ASSERT_FALSE(r.ok);
    ASSERT_STREQ(ag_reason_name(r.reason), "phase_not_allowed");
    ASSERT_FALSE(r.violation);
    ASSERT_FALSE(r.revoked);
    ASSERT_EQ(gfx_ledger_count_with(&f, "dx", "lifecycle", "\"lifecycle.exit\""), 1);
    ASSERT_EQ(gfx_ledger_count(&f, "dx", "violation"), 0);
    ASSERT_EQ(gfx_ledger_count(&f, "dx", "revocation"), 0);
    struct ag_agent_metrics m;
    ASSERT_OK(ag_gov_metrics(f.gov, "dx", &m));
    ASSERT_EQ(m.total_runs, 1);
    ASSERT_EQ(m.compliant_runs, 1);
    char *st = gfx_get(&f, "agent:dx:state");
    ASSERT_CONTAINS(st, "\"phase\":\"EXIT\"");
    free(st);
    ag_gov_free(g2);
    ag_gov_free(g3);
    gfx_close(&f);
}

/* A run whose agent went silent is closed as not compliant by the next bootstrap: its
 * errors are on the record and the streak restarts, so no promotion follows. */
static void sc_abandoned_run(void)
{
    struct gfx f;
    struct ag_gov_opts o = {.lock_ttl_ms = 150};
    gfx_open(&f, "abandoned", &o);
    ASSERT_OK(ag_gov_register(f.gov, "ab", 0, gfx_packet("ab", "t-ab", 2, 8, 8, NULL)));
    run_to_exit(&f, "ab"); /* compliant: streak 1 of the 2 that promote T0 -> T1 */
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f.gov, "ab", NULL, &b));
    ASSERT_EQ(b.code, AG_BOOT_COMPLETE);
    ag_bootstrap_result_clear(&b);
    gfx_walk(&f, "ab", AG_PHASE_EXECUTE);
    struct ag_transition_result r;
    ASSERT_OK(ag_gov_record_error(f.gov, "ab", "procedure_violation", "skipped a step", &r));
    ASSERT_FALSE(r.revoked);
    for (int i = 0; i < 6; i++) { /* 7 of the 8 errors allowed, all told */
        char type[16];
        snprintf(type, sizeof type, "e%d", i);
        ASSERT_OK(ag_gov_record_error(f.gov, "ab", type, "m", &r));
        ASSERT_FALSE(r.revoked);
    }
    gfx_sleep_ms(250); /* silent: the lock expires */
    ASSERT_OK(ag_gov_bootstrap(f.gov, "ab", NULL, &b));
    ASSERT_EQ(b.code, AG_BOOT_COMPLETE);
    ag_bootstrap_result_clear(&b);
    ASSERT_EQ(gfx_ledger_count_with(&f, "ab", "lifecycle", "\"lifecycle.abandon\""), 1);
    ASSERT_TRUE(gfx_ledger_has(&f, "ab", "lifecycle",
                               "\"procedure_violations\":1,\"step\":\"step\",\"total_errors\":7"));
    ASSERT_TRUE(gfx_ledger_has(&f, "ab", "lifecycle", "\"errors\":{\"e0\":1,"));
    struct ag_agent_metrics m;
    ASSERT_OK(ag_gov_metrics(f.gov, "ab", &m));
    ASSERT_EQ(m.total_runs, 2);
    ASSERT_EQ(m.compliant_runs, 1);
    ASSERT_EQ(m.consecutive_compliant, 0);
    gfx_walk(&f, "ab", AG_PHASE_EXIT); /* compliant, but only the first of a new streak */
    struct ag_agent_status s;
    ASSERT_OK(ag_gov_status(f.gov, "ab", &s));
    ASSERT_EQ(s.tier, 0);
    ag_agent_status_clear(&s);
    ASSERT_OK(ag_gov_metrics(f.gov, "ab", &m));
    ASSERT_EQ(m.total_runs, 3);
    ASSERT_EQ(m.consecutive_compliant, 1);
    gfx_assert_view_agrees(&f, "ab");
    /* A run that ended at EXIT is not abandoned: the next bootstrap adds nothing. */
    run_to_exit(&f, "ab");
    ASSERT_EQ(gfx_ledger_count_with(&f, "ab", "lifecycle", "\"lifecycle.abandon\""), 1);
    gfx_close(&f);
}

/* A demotion or a re-registration at a lower tier applies to the run in progress. */
static void sc_tier_follows_registry(void)
{
    struct gfx f;
    gfx_open(&f, "tier_registry", NULL);
    gfx_start(&f, "dm", "t-dm", 1);
    gfx_walk(&f, "dm", AG_PHASE_EXECUTE);
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f.gov, "dm", "ssh.exec", "sandbox/a", -1, &d), AG_EFFECT_ALLOW);
    ASSERT_EQ(d.tier, 1);
    int t;
    ASSERT_OK(ag_gov_demote(f.gov, "dm", NULL, &t));
    ASSERT_EQ(t, 0);
    ASSERT_EQ(ag_gov_authorize(f.gov, "dm", "ssh.exec", "sandbox/a", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "default_deny");
    ASSERT_EQ(d.tier, 0);
    ASSERT_TRUE(gfx_ledger_has(&f, "dm", "decision", "\"reason\":\"default_deny\""));
    ASSERT_OK(ag_gov_register(f.gov, "dm", 1, NULL));
    ASSERT_EQ(ag_gov_authorize(f.gov, "dm", "ssh.exec", "sandbox/a", -1, &d), AG_EFFECT_ALLOW);
    ASSERT_EQ(d.tier, 1);
    /* A raise waits for the next run: the run keeps at most the tier it started with. */
    ASSERT_OK(ag_gov_register(f.gov, "dm", 3, NULL));
    ASSERT_EQ(ag_gov_authorize(f.gov, "dm", "ssh.exec", "sandbox/a", -1, &d), AG_EFFECT_ALLOW);
    ASSERT_EQ(d.tier, 1);
    ASSERT_OK(ag_gov_register(f.gov, "dm", 0, NULL));
    ag_gov *cold; /* another process sees it as well */
    ASSERT_OK(ag_gov_new(f.store, f.ledger, f.policy, NULL, &cold));
    ASSERT_EQ(ag_gov_authorize(cold, "dm", "ssh.exec", "sandbox/a", -1, &d), AG_EFFECT_DENY);
    ASSERT_EQ(d.tier, 0);
    ag_gov_free(cold);
    gfx_close(&f);
}

/* Requests the policy refuses as invalid are still recorded (with the bad bytes made
 * safe), and a forbidden action among them still counts as a violation. */
static void sc_invalid_resource(void)
{
    struct gfx f;
    gfx_open(&f, "invalid_resource", NULL);
    gfx_start(&f, "iv", "t-iv", 1);
    gfx_walk(&f, "iv", AG_PHASE_EXECUTE);
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f.gov, "iv", "ssh.exec", "sandbox/web\xff", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "invalid_request");
    ASSERT_TRUE(d.ledger_seq > 0);
    ASSERT_FALSE(d.revoked);
    ASSERT_TRUE(gfx_ledger_has(&f, "iv", "decision", "\"resource\":\"sandbox/web%FF\""));
    ASSERT_EQ(gfx_ledger_count(&f, "iv", "violation"), 0);
    ASSERT_EQ(ag_gov_authorize(f.gov, "iv", "db.drop", "sandbox/web\xff", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "invalid_request");
    ASSERT_TRUE(d.ledger_seq > 0);
    ASSERT_TRUE(d.revoked);
    gfx_assert_revoked(&f, "iv", "PROCEDURE_VIOLATION");
    ASSERT_TRUE(gfx_ledger_has(&f, "iv", "violation", "\"error_type\":\"forbidden_action\""));
    ASSERT_TRUE(gfx_ledger_has(&f, "iv", "violation", "db.drop on sandbox/web%FF"));
    /* The same with a resource that climbs out of its scope. */
    gfx_start(&f, "iv2", "t-iv2", 1);
    gfx_walk(&f, "iv2", AG_PHASE_EXECUTE);
    ASSERT_EQ(ag_gov_authorize(f.gov, "iv2", "ssh.exec", "sandbox/../prod/db", -1, &d),
              AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "invalid_request");
    ASSERT_FALSE(d.revoked);
    ASSERT_EQ(ag_gov_authorize(f.gov, "iv2", "prod.write", "sandbox/../prod/db", -1, &d),
              AG_EFFECT_DENY);
    ASSERT_TRUE(d.revoked);
    gfx_close(&f);
}

/* The handoff a revoked agent's task requires does not lapse with the state's TTL. */
static void sc_handoff_requirement_persists(void)
{
    struct gfx f;
    struct ag_gov_opts o = {.state_ttl_ms = 300};
    gfx_open(&f, "handoff_persists", &o);
    gfx_start(&f, "A", "kept", 1);
    gfx_walk(&f, "A", AG_PHASE_EXECUTE);
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f.gov, "A", "prod.write", "sandbox/x", -1, &d), AG_EFFECT_DENY);
    ASSERT_TRUE(d.revoked);
    gfx_sleep_ms(450); /* longer than every TTL of the run */
    ASSERT_OK(ag_gov_register(f.gov, "B", 1, gfx_packet("B", "kept", 1, 2, 8, NULL)));
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f.gov, "B", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "HANDOFF_REQUIRED");
    ag_bootstrap_result_clear(&b);
    ASSERT_EQ(gfx_pttl(&f, "task:kept:active_agent"), -1);
    const char *h =
        "{\"task_id\":\"kept\",\"previous_agent_id\":\"A\",\"revoked\":true,"
        "\"revocation_reason\":{\"type\":\"PROCEDURE_VIOLATION\",\"details\":\"prod.write\"},"
        "\"last_known_state\":{\"phase\":\"EXECUTE\",\"step\":\"step\"},"
        "\"what_was_tried\":[],\"blocking_issue\":\"scope\",\"required_next_actions\":[],"
        "\"constraints_reminder\":[],\"artifacts\":[]}";
    ASSERT_OK(ag_gov_write_handoff(f.gov, h));
    ASSERT_OK(ag_gov_bootstrap(f.gov, "B", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "BOOTSTRAP_COMPLETE");
    ag_bootstrap_result_clear(&b);
    ASSERT_TRUE(gfx_pttl(&f, "task:kept:active_agent") > 0); /* B's run: a TTL again */
    gfx_close(&f);
}

static void sc_listing_and_stuck(void)
{
    struct gfx f;
    gfx_open(&f, "listing", NULL);
    gfx_start(&f, "s1", "ts1", 1);
    gfx_start(&f, "s2", "ts2", 1);
    ASSERT_OK(ag_gov_register(f.gov, "s0", 0, NULL));
    char **ids;
    size_t n;
    ASSERT_OK(ag_gov_list(f.gov, &ids, &n));
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(ids[0], "s0");
    ASSERT_STREQ(ids[2], "s2");
    ag_store_strv_free(ids, n);
    gfx_sleep_ms(30);
    ASSERT_OK(ag_gov_stuck(f.gov, 3600000, &ids, &n));
    ASSERT_EQ(n, 0);
    ag_store_strv_free(ids, n);
    struct ag_transition_result r;
    ASSERT_OK(ag_gov_heartbeat(f.gov, "s2", &r));
    ASSERT_TRUE(r.ok);
    ASSERT_OK(ag_gov_stuck(f.gov, 20, &ids, &n)); /* s1 beat 30 ms ago, s2 just now */
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(ids[0], "s1");
    ag_store_strv_free(ids, n);
    ASSERT_OK(ag_gov_revoke(f.gov, "s1", NULL, NULL)); /* revoked agents leave the index */
    gfx_sleep_ms(30);
    ASSERT_OK(ag_gov_stuck(f.gov, 20, &ids, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(ids[0], "s2");
    ag_store_strv_free(ids, n);
    struct ag_agent_status s;
    ASSERT_OK(ag_gov_status(f.gov, "s2", &s));
    ASSERT_TRUE(s.registered);
    ASSERT_EQ(s.tier, 1);
    ASSERT_TRUE(s.lock != NULL);
    ASSERT_TRUE(s.heartbeat != NULL);
    ASSERT_CONTAINS(s.state_json, "\"phase\":\"BOOTSTRAP\"");
    ASSERT_FALSE(s.revoked);
    ag_agent_status_clear(&s);
    gfx_close(&f);
}

/* A ledger that cannot be written denies (fail closed). */
static void sc_ledger_unavailable(void)
{
    struct gfx f;
    gfx_open(&f, "ledger_down", NULL);
    gfx_start(&f, "lu", "t-lu", 1);
    gfx_walk(&f, "lu", AG_PHASE_EXECUTE);
    ag_ledger *ro = NULL;
    struct ag_ledger_opts o = f.lfx.opts;
    o.read_only = 1;
    ASSERT_OK(ag_ledger_open(f.lfx.db, &o, &ro));
    ag_gov *g2;
    ASSERT_OK(ag_gov_new(f.store, ro, f.policy, NULL, &g2));
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(g2, "lu", "ssh.exec", "sandbox/a", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "ledger_unavailable");
    ASSERT_EQ(d.ledger_seq, 0);
    /* A bootstrap that cannot be ledgered does not start a run. */
    ASSERT_OK(ag_gov_register(f.gov, "lu2", 1, gfx_packet("lu2", "t-lu2", 1, 2, 8, NULL)));
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(g2, "lu2", NULL, &b));
    ASSERT_STREQ(ag_boot_code_name(b.code), "LEDGER_UNAVAILABLE");
    ag_bootstrap_result_clear(&b);
    ASSERT_TRUE(gfx_get(&f, "agent:lu2:lock") == NULL);
    ag_gov_free(g2);
    ag_ledger_close(ro);
    /* With the writable ledger the same request is allowed. */
    ASSERT_EQ(ag_gov_authorize(f.gov, "lu", "ssh.exec", "sandbox/a", -1, &d), AG_EFFECT_ALLOW);
    gfx_close(&f);
}

struct gfx_thread {
    struct gfx *f;
    int id, errors;
};

static void *gfx_thread_run(void *arg)
{
    struct gfx_thread *t = arg;
    char agent[32];
    snprintf(agent, sizeof agent, "th%d", t->id);
    struct ag_bootstrap_result b;
    if (ag_gov_bootstrap(t->f->gov, agent, NULL, &b) || b.code != AG_BOOT_COMPLETE)
        t->errors++;
    ag_bootstrap_result_clear(&b);
    struct ag_transition_result r;
    for (int p = AG_PHASE_PREFLIGHT; p <= AG_PHASE_EXECUTE; p++)
        if (ag_gov_transition(t->f->gov, agent, (enum ag_phase)p, "s", &r) || !r.ok)
            t->errors++;
    for (int i = 0; i < 40; i++) {
        struct ag_gov_decision d;
        if (ag_gov_authorize(t->f->gov, agent, "ssh.exec", "sandbox/a", -1, &d) != AG_EFFECT_ALLOW)
            t->errors++;
        if (i % 10 == 0 &&
            (ag_gov_transition(t->f->gov, agent, AG_PHASE_EXECUTE, "again", &r) || !r.ok))
            t->errors++;
    }
    for (int p = AG_PHASE_VERIFY; p <= AG_PHASE_EXIT; p++)
        if (ag_gov_transition(t->f->gov, agent, (enum ag_phase)p, "s", &r) || !r.ok)
            t->errors++;
    return NULL;
}

/* One handle shared by 8 threads, as the daemon's workers share it: every run goes
 * through, every decision is in the ledger once, the chain verifies. */
static void sc_shared_handle_threads(void)
{
    struct gfx f;
    gfx_open(&f, "threads", NULL);
    enum { N = 8 };
    struct gfx_thread t[N];
    pthread_t tid[N];
    for (int i = 0; i < N; i++) {
        char agent[32];
        snprintf(agent, sizeof agent, "th%d", i);
        ASSERT_OK(ag_gov_register(f.gov, agent, 1, gfx_packet(agent, agent, 1, 2, 8, NULL)));
        t[i] = (struct gfx_thread){&f, i, 0};
    }
    for (int i = 0; i < N; i++)
        ASSERT_EQ(pthread_create(&tid[i], NULL, gfx_thread_run, &t[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(tid[i], NULL);
        ASSERT_EQ(t[i].errors, 0);
        char agent[32];
        snprintf(agent, sizeof agent, "th%d", i);
        ASSERT_EQ(gfx_ledger_count(&f, agent, "decision"), 40);
        struct ag_agent_metrics m;
        ASSERT_OK(ag_gov_metrics(f.gov, agent, &m));
        ASSERT_EQ(m.compliant_runs, 1);
    }
    gfx_close(&f);
}

#define GOV_SCENARIO_TESTS(backend)                                                                \
    TEST(full_run_##backend)                                                                       \
    {                                                                                              \
        sc_full_run();                                                                             \
    }                                                                                              \
    TEST(bootstrap_refusals_##backend)                                                             \
    {                                                                                              \
        sc_bootstrap_refusals();                                                                   \
    }                                                                                              \
    TEST(illegal_transitions_##backend)                                                            \
    {                                                                                              \
        sc_illegal_transitions();                                                                  \
    }                                                                                              \
    TEST(revocation_triggers_##backend)                                                            \
    {                                                                                              \
        sc_triggers();                                                                             \
    }                                                                                              \
    TEST(lock_expiry_and_fencing_##backend)                                                        \
    {                                                                                              \
        sc_lock_expiry_and_fencing();                                                              \
    }                                                                                              \
    TEST(handoff_round_trip_##backend)                                                             \
    {                                                                                              \
        sc_handoff_round_trip();                                                                   \
    }                                                                                              \
    TEST(promotion_and_demotion_##backend)                                                         \
    {                                                                                              \
        sc_promotion_and_demotion();                                                               \
    }                                                                                              \
    TEST(listing_and_stuck_##backend)                                                              \
    {                                                                                              \
        sc_listing_and_stuck();                                                                    \
    }                                                                                              \
    TEST(ledger_unavailable_##backend)                                                             \
    {                                                                                              \
        sc_ledger_unavailable();                                                                   \
    }                                                                                              \
    TEST(shared_handle_threads_##backend)                                                          \
    {                                                                                              \
        sc_shared_handle_threads();                                                                \
    }                                                                                              \
    TEST(double_exit_counts_once_##backend)                                                        \
    {                                                                                              \
        sc_double_exit();                                                                          \
    }                                                                                              \
    TEST(abandoned_run_is_closed_##backend)                                                        \
    {                                                                                              \
        sc_abandoned_run();                                                                        \
    }                                                                                              \
    TEST(tier_follows_registry_##backend)                                                          \
    {                                                                                              \
        sc_tier_follows_registry();                                                                \
    }                                                                                              \
    TEST(invalid_resource_recorded_and_counted_##backend)                                          \
    {                                                                                              \
        sc_invalid_resource();                                                                     \
    }                                                                                              \
    TEST(handoff_requirement_persists_##backend)                                                   \
    {                                                                                              \
        sc_handoff_requirement_persists();                                                         \
    }

#endif
