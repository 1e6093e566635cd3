/* Coordination on both store backends (a fresh SQLite file, and the redis fixture):
 * governed blackboard writes, ordered direct and broadcast messages, votes and the
 * seed's consensus rule, the per-task counters, a revoked agent refused; the ledger
 * verifies after each scenario. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/coord.h"
#include "agentgov/gov.h"
#include "ledger_fixture.h"
#include "redis_fixture.h"
#include "test.h"

static const char coord_policy[] =
    "version: 1\n"
    "tiers:\n"
    "  0: {name: Observer, token_ttl: 1h, max_ttl: 4h}\n"
    "  1: {name: Operator, token_ttl: 30m, max_ttl: 2h}\n"
    "  2: {name: Builder, token_ttl: 30m, max_ttl: 2h}\n"
    "  3: {name: Executor, token_ttl: 15m, max_ttl: 1h}\n"
    "  4: {name: Architect, token_ttl: 15m, max_ttl: 1h}\n"
    "rules:\n"
    "  - {id: coord, effect: allow, actions: [blackboard.write, message.send, vote.cast],"
    " resources: ['**'], phases: [PLAN, EXECUTE, VERIFY], min_tier: 1}\n";

struct cfx {
    struct fx lfx;
    ag_store *store;
    ag_ledger *ledger;
    ag_policy *policy;
    ag_gov *gov;
    ag_coord *coord;
};

static void cfx_open(struct cfx *f, const char *label, int redis)
{
    memset(f, 0, sizeof *f);
    fx_init(&f->lfx, label, 0);
    f->ledger = fx_open(&f->lfx);
    char url[1200];
    if (redis) {
        const char *u = ag_test_redis_url();
        ASSERT_TRUE(u != NULL);
        ag_test_redis_flush();
        snprintf(url, sizeof url, "%s", u);
    } else {
        snprintf(url, sizeof url, "sqlite:%s/state.db", f->lfx.dir);
    }
    ASSERT_OK(ag_store_open(url, &f->store));
    ASSERT_OK(ag_policy_load_string("c.yaml", coord_policy, strlen(coord_policy), &f->policy));
    ASSERT_OK(ag_gov_new(f->store, f->ledger, f->policy, NULL, &f->gov));
    ASSERT_OK(ag_coord_new(f->store, f->gov, f->ledger, 0, &f->coord));
}

static void cfx_close(struct cfx *f)
{
    ag_coord_free(f->coord);
    ag_gov_free(f->gov);
    ag_policy_free(f->policy);
    ag_store_free(f->store);
    ag_ledger_close(f->ledger);
    struct ag_verify_result v;
    ASSERT_OK(ag_ledger_verify(f->lfx.db, f->lfx.pk, &v));
    ASSERT_TRUE(v.ok);
}

/* Registers, bootstraps and walks agent to phase upto on task. */
static void cfx_agent(struct cfx *f, const char *agent, const char *task, enum ag_phase upto)
{
    char pkt[1024];
    snprintf(pkt, sizeof pkt,
             "{\"agent_id\":\"%s\",\"task_id\":\"%s\",\"created_for\":\"t\",\"objective\":\"o\","
             "\"deliverables\":[],\"success_criteria\":[],\"escalation_rules\":[],"
             "\"created_at\":\"2026-12-06T00:00:00Z\",\"constraints\":{\"scope\":"
             "[\"blackboard/**\",\"msg/**\",\"votes/**\"],\"forbidden\":[\"db.drop\"],"
             "\"required_steps\":[]}}",
             agent, task);
    ASSERT_OK(ag_gov_register(f->gov, agent, 1, pkt));
    struct ag_bootstrap_result b;
    ASSERT_OK(ag_gov_bootstrap(f->gov, agent, NULL, &b));
    ASSERT_EQ(b.code, AG_BOOT_COMPLETE);
    ag_bootstrap_result_clear(&b);
    for (int p = AG_PHASE_PREFLIGHT; p <= (int)upto; p++) {
        struct ag_transition_result r;
        ASSERT_OK(ag_gov_transition(f->gov, agent, (enum ag_phase)p, NULL, &r));
        ASSERT_TRUE(r.ok);
    }
}

static void scenario_blackboard(int redis)
{
    struct cfx f;
    cfx_open(&f, redis ? "coord-bb-redis" : "coord-bb-sqlite", redis);
    cfx_agent(&f, "alpha", "t1", AG_PHASE_PLAN);
    cfx_agent(&f, "beta", "t1", AG_PHASE_PREFLIGHT);
    struct ag_gov_decision d;
    ASSERT_OK(ag_coord_bb_write(f.coord, "alpha", "t1", "problem", "objective",
                                "\"design a cache\"", &d));
    ASSERT_TRUE(d.ledger_seq > 0);
    ASSERT_OK(ag_coord_bb_write(f.coord, "alpha", "t1", "solutions", "proposal_1",
                                "{\"idea\":\"LRU\",\"confidence\":800}", &d));
    /* beta is still in PREFLIGHT: the rule's phases refuse it, nothing is written. */
    ASSERT_ERR(ag_coord_bb_write(f.coord, "beta", "t1", "solutions", "proposal_2", "{}", &d),
               AG_EPERM);
    ASSERT_EQ(d.reason, AG_REASON_PHASE_NOT_ALLOWED);
    ASSERT_CONTAINS(ag_last_error(), "phase_not_allowed");
    /* Unknown agents, sections and entries. */
    ASSERT_ERR(ag_coord_bb_write(f.coord, "ghost", "t1", "problem", "analysis", "1", &d), AG_EPERM);
    ASSERT_ERR(ag_coord_bb_write(f.coord, "alpha", "t1", "kitchen", "analysis", "1", &d),
               AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "section 'kitchen'");
    ASSERT_ERR(ag_coord_bb_write(f.coord, "alpha", "t1", "solutions", "proposal_0", "1", &d),
               AG_EINVAL);
    ASSERT_ERR(ag_coord_bb_write(f.coord, "alpha", "t1", "solutions", "proposal_1", "{bad", &d),
               AG_EINVAL);
    char *json = NULL;
    ASSERT_OK(ag_coord_bb_read(f.coord, "t1", "solutions", &json));
    ASSERT_STREQ(json, "{\"proposal_1\":{\"confidence\":800,\"idea\":\"LRU\"}}");
    free(json);
    ASSERT_OK(ag_coord_bb_read(f.coord, "t1", "progress", &json));
    ASSERT_STREQ(json, "{}");
    free(json);
    /* The seed's key, with a TTL (it lives as long as the task). */
    struct ag_store_op op = {AG_OP_PTTL, "blackboard:t1:solutions"};
    struct ag_store_reply r;
    ASSERT_OK(ag_store_exec(f.store, NULL, &op, 1, &r, NULL));
    ASSERT_TRUE(r.integer > 0);
    ag_store_reply_free(&r, 1);
    struct ag_coord_metrics m;
    ASSERT_OK(ag_coord_metrics(f.coord, "t1", &m));
    ASSERT_EQ(m.blackboard_ops, 4); /* 2 writes, 2 reads */
    ASSERT_EQ(m.denied, 2);
    cfx_close(&f);
}
TEST(coord_blackboard_governed_sqlite)
{
    scenario_blackboard(0);
}
TEST(coord_blackboard_governed_redis)
{
    scenario_blackboard(1);
}

static void scenario_messages(int redis)
{
    struct cfx f;
    cfx_open(&f, redis ? "coord-msg-redis" : "coord-msg-sqlite", redis);
    cfx_agent(&f, "alpha", "t2", AG_PHASE_EXECUTE);
    cfx_agent(&f, "beta", "t2", AG_PHASE_EXECUTE);
    int64_t s1, s2, s3, s4;
    ASSERT_OK(ag_coord_send(f.coord, "alpha", "t2", "beta", "PROPOSAL", "{\"p\":1}", &s1, NULL));
    ASSERT_OK(ag_coord_send(f.coord, "beta", "t2", "alpha", "FEEDBACK", "\"too slow\"", &s2, NULL));
    ASSERT_OK(ag_coord_send(f.coord, "alpha", "t2", "*", "PROPOSAL", "{\"p\":2}", &s3, NULL));
    ASSERT_OK(ag_coord_send(f.coord, "beta", "t2", "gamma", "HANDOFF", "{}", &s4, NULL));
    ASSERT_TRUE(s1 < s2 && s2 < s3 && s3 < s4);
    ASSERT_ERR(ag_coord_send(f.coord, "alpha", "t2", "beta", "GOSSIP", "{}", NULL, NULL),
               AG_EINVAL);
    struct ag_coord_msg *m;
    size_t n;
    ASSERT_OK(ag_coord_recv(f.coord, "t2", "beta", 0, &m, &n));
    ASSERT_EQ(n, 2); /* its PROPOSAL and the broadcast, in order */
    ASSERT_EQ(m[0].seq, s1);
    ASSERT_STREQ(m[0].from, "alpha");
    ASSERT_STREQ(m[0].type, "PROPOSAL");
    ASSERT_STREQ(m[0].content_json, "{\"p\":1}");
    ASSERT_EQ(m[1].seq, s3);
    ASSERT_STREQ(m[1].to, "*");
    ag_coord_msgs_free(m, n);
    ASSERT_OK(ag_coord_recv(f.coord, "t2", "beta", s1, &m, &n));
    ASSERT_EQ(n, 1);
    ag_coord_msgs_free(m, n);
    ASSERT_OK(ag_coord_recv(f.coord, "t2", NULL, 0, &m, &n));
    ASSERT_EQ(n, 4);
    for (size_t i = 1; i < n; i++)
        ASSERT_TRUE(m[i - 1].seq < m[i].seq);
    ag_coord_msgs_free(m, n);
    struct ag_coord_metrics mt;
    ASSERT_OK(ag_coord_metrics(f.coord, "t2", &mt));
    ASSERT_EQ(mt.messages, 4);

    /* A forbidden action revokes alpha mid-task: its next message is refused. */
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f.gov, "alpha", "db.drop", "blackboard/x", -1, &d), AG_EFFECT_DENY);
    ASSERT_EQ(d.revoked, 1);
    ASSERT_ERR(ag_coord_send(f.coord, "alpha", "t2", "beta", "PROPOSAL", "{}", NULL, &d), AG_EPERM);
    ASSERT_EQ(d.reason, AG_REASON_AGENT_REVOKED);
    ASSERT_OK(ag_coord_metrics(f.coord, "t2", &mt));
    ASSERT_EQ(mt.messages, 4);
    cfx_close(&f);
}
TEST(coord_messages_ordered_sqlite)
{
    scenario_messages(0);
}
TEST(coord_messages_ordered_redis)
{
    scenario_messages(1);
}

static void scenario_consensus(int redis)
{
    struct cfx f;
    cfx_open(&f, redis ? "coord-vote-redis" : "coord-vote-sqlite", redis);
    cfx_agent(&f, "alpha", "t3", AG_PHASE_VERIFY);
    cfx_agent(&f, "beta", "t3", AG_PHASE_VERIFY);
    cfx_agent(&f, "gamma", "t3", AG_PHASE_VERIFY);
    const char *req[] = {"alpha", "beta"};
    struct ag_consensus c;
    ASSERT_ERR(ag_coord_vote(f.coord, "alpha", "t3", AG_VOTE_ACCEPT, "", NULL), AG_EINVAL);
    ASSERT_OK(ag_coord_vote(f.coord, "alpha", "t3", AG_VOTE_ACCEPT, "meets the criteria", NULL));
    ASSERT_OK(ag_coord_consensus(f.coord, "t3", req, 2, &c));
    ASSERT_EQ(c.reached, 0);
    ASSERT_STREQ(c.missing, "beta");
    ag_consensus_clear(&c);
    /* A required agent's REJECT fails it even when ACCEPTs outnumber it. */
    ASSERT_OK(ag_coord_vote(f.coord, "beta", "t3", AG_VOTE_REJECT, "no eviction bound", NULL));
    ASSERT_OK(ag_coord_vote(f.coord, "gamma", "t3", AG_VOTE_ACCEPT, "fine by me", NULL));
    ASSERT_OK(ag_coord_consensus(f.coord, "t3", req, 2, &c));
    ASSERT_EQ(c.reached, 0);
    ASSERT_EQ(c.accept, 2);
    ASSERT_EQ(c.reject, 1);
    ASSERT_STREQ(c.rejected_by, "beta");
    ASSERT_CONTAINS(c.reason, "rejected by required");
    ag_consensus_clear(&c);
    /* beta changes its vote: reached, and the tally is on the blackboard. */
    ASSERT_OK(ag_coord_vote(f.coord, "beta", "t3", AG_VOTE_ACCEPT, "bound added", NULL));
    ASSERT_OK(ag_coord_consensus(f.coord, "t3", req, 2, &c));
    ASSERT_EQ(c.reached, 1);
    ASSERT_CONTAINS(c.votes_json, "\"bound added\"");
    ag_consensus_clear(&c);
    char *json = NULL;
    ASSERT_OK(ag_coord_bb_read(f.coord, "t3", "consensus", &json));
    ASSERT_CONTAINS(json, "\"reached\":true");
    ASSERT_CONTAINS(json, "\"votes\":{\"alpha\"");
    free(json);
    /* ABSTAINs alone are no consensus (ACCEPT must beat REJECT). */
    ASSERT_OK(ag_coord_vote(f.coord, "alpha", "t3", AG_VOTE_ABSTAIN, "unsure", NULL));
    ASSERT_OK(ag_coord_vote(f.coord, "beta", "t3", AG_VOTE_ABSTAIN, "unsure", NULL));
    ASSERT_OK(ag_coord_vote(f.coord, "gamma", "t3", AG_VOTE_ABSTAIN, "unsure", NULL));
    ASSERT_OK(ag_coord_consensus(f.coord, "t3", req, 2, &c));
    ASSERT_EQ(c.reached, 0);
    ASSERT_CONTAINS(c.reason, "ACCEPT 0 is not more than REJECT 0");
    ag_consensus_clear(&c);
    cfx_close(&f);
}
TEST(coord_consensus_rule_sqlite)
{
    scenario_consensus(0);
}
TEST(coord_consensus_rule_redis)
{
    scenario_consensus(1);
}
