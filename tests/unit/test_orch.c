/* The orchestrator end to end against the scripted model server on loopback: real
 * store (SQLite file or the redis fixture), real ledger, the gov layer, the LLM client.
 * Each agent role gets its own script of model answers (tool calls); the tests check
 * what the kernel did: governed writes, denials returned to the model, revocations
 * and handoffs, GAMMA's spawn reasons, the consensus, the metrics, and that the
 * ledger verifies. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "agentgov/coord.h"
#include "core/time.h"
#include "ledger_fixture.h"
#include "model_fixture.h"
#include "redis_fixture.h"
#include "test.h"

static const char orch_policy[] =
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

struct ofx {
    struct fx lfx;
    ag_store *store;
    ag_ledger *ledger;
    ag_policy *policy;
    ag_gov *gov;
    ag_coord *coord;
    ag_llm *llm;
    struct ag_orch_opts o;
    struct ag_orch_result r;
};

static void ofx_open(struct ofx *f, const char *label, int redis, const char *model_url)
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
    ASSERT_OK(ag_policy_load_string("o.yaml", orch_policy, strlen(orch_policy), &f->policy));
    ASSERT_OK(ag_gov_new(f->store, f->ledger, f->policy, NULL, &f->gov));
    ASSERT_OK(ag_coord_new(f->store, f->gov, f->ledger, 0, &f->coord));
    struct ag_llm_opts lo = {
        .provider = model_url,
        .model = "scripted",
        .ledger = f->ledger,
        .gov = f->gov,
        .store = f->store,
        .timeout_ms = 5000,
        .retries = 1,
        .backoff_ms = 5,
        .prices = "scripted=1/2",
        .breaker = {.failures = 3, .cooldown_ms = 30000, .cooldown_max_ms = 30000, .probes = 1}};
    ASSERT_OK(ag_llm_new(&lo, &f->llm));
    f->o = (struct ag_orch_opts){.objective = "design a bounded cache",
                                 .task_id = "t-orch",
                                 .llm = f->llm,
                                 .coord = f->coord,
                                 .gov = f->gov,
                                 .ledger = f->ledger,
                                 .store = f->store,
                                 .timeout_ms = 20000,
                                 .poll_ms = 10};
}

static void ofx_run(struct ofx *f)
{
    ASSERT_OK(ag_orchestrate(&f->o, &f->r));
}

static void ofx_close(struct ofx *f)
{
    ag_orch_result_clear(&f->r);
    ag_llm_free(f->llm);
    ag_coord_free(f->coord);
    ag_gov_free(f->gov);
    ag_policy_free(f->policy);
    ag_store_free(f->store);
    ag_ledger_close(f->ledger);
    struct ag_verify_result v;
    ASSERT_OK(ag_ledger_verify(f->lfx.db, f->lfx.pk, &v));
    ASSERT_TRUE(v.ok);
}

static const char *model(void)
{
    const char *u = ag_test_model_url();
    ASSERT_TRUE(u != NULL);
    ASSERT_EQ(ag_test_model_reset(), 0);
    return u;
}

/* Script helpers: one model answer calling a tool, for a role. */
#define CALL(role, name, args)                                                                     \
    "{\"agent\":\"" role "\",\"body\":{\"tool_call\":{\"name\":\"" name "\",\"arguments\":" args   \
    "}}}"
#define SAY(role, text) "{\"agent\":\"" role "\",\"body\":{\"content\":\"" text "\"}}"
#define PLAN(json)      "{\"agent\":\"planner\",\"body\":{\"content\":" json "}}"

#define ALPHA_HAPPY                                                                                \
    CALL("alpha", "blackboard_write",                                                              \
         "{\"section\":\"problem\",\"entry\":\"analysis\",\"value\":\"hot keys dominate\"}")       \
    "," CALL("alpha", "blackboard_write",                                                          \
             "{\"section\":\"solutions\",\"entry\":\"proposal_1\",\"value\":{\"policy\":\"LRU\"}"  \
             "}") "," CALL("alpha", "send_message",                                                \
                           "{\"to\":\"beta\",\"type\":\"PROPOSAL\",\"content\":{\"proposal\":1}}")
#define BETA_EVAL(agree)                                                                           \
    CALL("beta", "read_messages", "{}")                                                            \
    "," CALL(                                                                                      \
        "beta", "blackboard_write",                                                                \
        "{\"section\":\"solutions\",\"entry\":\"eval_1\",\"value\":{\"ok\":" agree                 \
        "}}") "," CALL("beta", "send_message",                                                     \
                       "{\"to\":\"alpha\",\"type\":\"FEEDBACK\",\"content\":{\"agree\":" agree     \
                       "}}")
#define VOTE(role, v)                                                                              \
    CALL(role, "vote", "{\"vote\":\"" v "\",\"reasoning\":\"" role " says " v "\"}")
#define SYNTH(role)                                                                                \
    CALL(role, "blackboard_write",                                                                 \
         "{\"section\":\"solutions\",\"entry\":\"synthesis\",\"value\":\"LRU with a bound\"}")

static int count_role_requests(const char *role)
{
    char *log = ag_test_model_log();
    json_t *a = json_loads(log, 0, NULL);
    free(log);
    int n = 0;
    size_t i;
    json_t *q;
    json_array_foreach(a, i, q)
    {
        n += json_is_string(json_object_get(q, "role")) &&
             !strcmp(json_string_value(json_object_get(q, "role")), role);
    }
    json_decref(a);
    return n;
}

static void scenario_happy(int redis)
{
    struct ofx f;
    ofx_open(&f, redis ? "orch-happy-redis" : "orch-happy-sqlite", redis, model());
    ASSERT_EQ(ag_test_model_script("[" PLAN(
                  "\"{\\\"complexity\\\":0.3,\\\"needs_validation\\\":"
                  "false}\"") "," ALPHA_HAPPY
                              "," VOTE("alpha", "ACCEPT") "," SAY("alpha", "done") "," BETA_EVAL(
                                  "true") "," SYNTH("beta") "," VOTE("beta",
                                                                     "ACCEPT") "," SAY("beta",
                                                                                       "done") "]"),
              0);
    ofx_run(&f);
    ASSERT_STREQ(f.r.outcome, "consensus");
    ASSERT_EQ(f.r.gamma_reason, AG_SPAWN_NONE);
    ASSERT_EQ(f.r.complexity_pm, 300);
    ASSERT_EQ(f.r.coord.messages, 2);
    ASSERT_EQ(f.r.coord.votes, 2);
    ASSERT_EQ(f.r.coord.denied, 0);
    ASSERT_EQ(f.r.llm_calls, 12); /* planner 1, alpha 5, beta 6 */
    ASSERT_TRUE(f.r.cost_microusd > 0);
    ASSERT_CONTAINS(f.r.final_json, "\"reached\":true");
    /* Each agent walked to EXIT. */
    struct ag_agent_status s;
    ASSERT_OK(ag_gov_status(f.gov, "alpha@t-orch", &s));
    ASSERT_CONTAINS(s.state_json, "EXIT");
    ag_agent_status_clear(&s);
    char *js = NULL;
    ASSERT_OK(ag_orch_result_json(&f.r, &js));
    ASSERT_CONTAINS(js, "\"outcome\":\"consensus\"");
    free(js);
    ofx_close(&f);
}
TEST(orch_happy_path_consensus_sqlite)
{
    scenario_happy(0);
}
TEST(orch_happy_path_consensus_redis)
{
    scenario_happy(1);
}

TEST(orch_denied_tool_call_reaches_the_model)
{
    struct ofx f;
    ofx_open(&f, "orch-denied", 0, model());
    ASSERT_EQ(
        ag_test_model_script("[" CALL(
            "alpha", "request_action",
            "{\"action\":\"prod.deploy\",\"resource\":\"web-1\"}") "," SAY("alpha",
                                                                           "understood") "," SAY("b"
                                                                                                 "e"
                                                                                                 "t"
                                                                                                 "a",
                                                                                                 "n"
                                                                                                 "o"
                                                                                                 "t"
                                                                                                 "h"
                                                                                                 "i"
                                                                                                 "n"
                                                                                                 "g"
                                                                                                 " "
                                                                                                 "t"
                                                                                                 "o"
                                                                                                 " "
                                                                                                 "d"
                                                                                                 "o") "]"),
        0);
    f.o.no_gamma = 1;
    ofx_run(&f);
    ASSERT_EQ(f.r.tool_denied, 1);
    ASSERT_EQ(f.r.revoked, 0);
    /* alpha's second request carries the refusal as the tool's result. */
    char *log = ag_test_model_log();
    json_t *a = json_loads(log, 0, NULL);
    free(log);
    int seen = 0;
    size_t i;
    json_t *q;
    json_array_foreach(a, i, q)
    {
        json_t *msgs = json_object_get(json_object_get(q, "body"), "messages");
        json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
        if (!strcmp(json_string_value(json_object_get(last, "role")) ?: "", "tool")) {
            ASSERT_CONTAINS(json_string_value(json_object_get(last, "content")),
                            "\"denied\":true,\"reason\":\"out_of_scope\"");
            ASSERT_TRUE(json_string_value(json_object_get(last, "tool_call_id"))[0] != '\0');
            seen++;
        }
    }
    json_decref(a);
    ASSERT_EQ(seen, 1);
    ASSERT_STREQ(f.r.outcome, "no_consensus"); /* nobody voted */
    ofx_close(&f);
}

TEST(orch_forbidden_action_revokes_mid_task_with_handoff)
{
    struct ofx f;
    ofx_open(&f, "orch-forbidden", 0, model());
    ASSERT_EQ(ag_test_model_script(
                  "[" CALL("alpha", "request_action",
                           "{\"action\":\"db.drop\",\"resource\":\"blackboard/"
                           "t-orch\"}") "," VOTE("alpha", "ACCEPT") "," SAY("beta", "waiting") "]"),
              0);
    static const char *const forbid[] = {"db.drop"};
    f.o.forbidden = forbid;
    f.o.nforbidden = 1;
    f.o.no_gamma = 1;
    ofx_run(&f);
    ASSERT_EQ(f.r.revoked, 1);
    ASSERT_EQ(count_role_requests("alpha"), 1); /* stopped at once: no second model call */
    char *h = NULL;
    ASSERT_OK(ag_gov_read_handoff(f.gov, "t-orch", &h));
    ASSERT_TRUE(h != NULL);
    ASSERT_CONTAINS(h, "\"previous_agent_id\":\"alpha@t-orch\"");
    ASSERT_CONTAINS(h, "request_action");
    free(h);
    struct ag_agent_status s;
    ASSERT_OK(ag_gov_status(f.gov, "alpha@t-orch", &s));
    ASSERT_EQ(s.revoked, 1);
    ag_agent_status_clear(&s);
    ASSERT_STREQ(f.r.outcome, "no_consensus");
    ofx_close(&f);
}

TEST(orch_token_budget_exhausted_revokes)
{
    struct ofx f;
    ofx_open(&f, "orch-budget", 0, model());
    ASSERT_EQ(ag_test_model_script("[" ALPHA_HAPPY "," SAY("beta", "ok") "]"), 0);
    f.o.max_tokens_per_agent = 20; /* every scripted answer costs 15 */
    f.o.no_gamma = 1;
    ofx_run(&f);
    ASSERT_EQ(f.r.revoked, 1);
    ASSERT_EQ(count_role_requests("alpha"), 2);
    char *h = NULL;
    ASSERT_OK(ag_gov_read_handoff(f.gov, "t-orch", &h));
    ASSERT_CONTAINS(h, "llm budget exhausted");
    free(h);
    ofx_close(&f);
}

static void expect_spawn(struct ofx *f, enum ag_spawn_reason why)
{
    ASSERT_STREQ(ag_spawn_reason_name(f->r.gamma_reason), ag_spawn_reason_name(why));
    char *js = NULL;
    ASSERT_OK(ag_orch_result_json(&f->r, &js));
    char want[64];
    snprintf(want, sizeof want, "\"gamma_spawned\":\"%s\"", ag_spawn_reason_name(why));
    ASSERT_CONTAINS(js, want);
    free(js);
    ASSERT_TRUE(count_role_requests("gamma") >= 1);
}

TEST(orch_stuck_spawns_gamma)
{
    struct ofx f;
    ofx_open(&f, "orch-stuck", 0, model());
    ASSERT_EQ(ag_test_model_script("[{\"agent\":\"alpha\",\"delay_ms\":700,\"body\":{\"content\":"
                                   "\"thinking\"}},{\"agent\":\"beta\",\"delay_ms\":700,\"body\":"
                                   "{\"content\":\"thinking\"}}]"),
              0);
    f.o.stuck_ms = 200;
    ofx_run(&f);
    expect_spawn(&f, AG_SPAWN_STUCK);
    ofx_close(&f);
}

TEST(orch_conflict_spawns_gamma_and_consensus_follows)
{
    struct ofx f;
    ofx_open(&f, "orch-conflict", 0, model());
    ASSERT_EQ(
        ag_test_model_script("[" ALPHA_HAPPY "," CALL("alpha", "read_messages", "{}") "," VOTE(
            "alpha",
            "ACCEP"
            "T") "," SAY("alpha",
                         "done") "," BETA_EVAL("false") "," CALL("beta", "send_message",
                                                                 "{\"to\":\"alpha\",\"type\":"
                                                                 "\"FEEDBACK\",\"content\":{"
                                                                 "\"agree\":false}}") "," CALL("bet"
                                                                                               "a",
                                                                                               "sen"
                                                                                               "d_"
                                                                                               "mes"
                                                                                               "sag"
                                                                                               "e",
                                                                                               "{\""
                                                                                               "to"
                                                                                               "\":"
                                                                                               "\"a"
                                                                                               "lph"
                                                                                               "a\""
                                                                                               ",\""
                                                                                               "typ"
                                                                                               "e\""
                                                                                               ":"
                                                                                               "\"F"
                                                                                               "EED"
                                                                                               "BAC"
                                                                                               "K\""
                                                                                               ",\""
                                                                                               "con"
                                                                                               "ten"
                                                                                               "t\""
                                                                                               ":{"
                                                                                               "\"a"
                                                                                               "gre"
                                                                                               "e\""
                                                                                               ":fa"
                                                                                               "lse"
                                                                                               "}}") ","
                                                                                                     "{\"agen"
                                                                                                     "t\":"
                                                                                                     "\"beta"
                                                                                                     "\","
                                                                                                     "\"delay"
                                                                                                     "_ms\":"
                                                                                                     "400,"
                                                                                                     "\"body"
                                                                                                     "\":{"
                                                                                                     "\"tool_"
                                                                                                     "call\":"
                                                                                                     "{\"name"
                                                                                                     "\":"
                                                                                                     "\"vote"
                                                                                                     "\","
                                                                                                     "\"argum"
                                                                                                     "ents\":"
                                                                                                     "{\"vote"
                                                                                                     "\":"
                                                                                                     "\"ACCEP"
                                                                                                     "T\","
                                                                                                     "\"reaso"
                                                                                                     "ning\":"
                                                                                                     "\"gamma"
                                                                                                     " settle"
                                                                                                     "d "
                                                                                                     "it\"}}}"
                                                                                                     "}," SAY("beta", "done") "," CALL("gamma", "blackboard_read", "{\"section\":\"solutions\"}") "," SYNTH("gamma") "," CALL(
                                                                                                         "gam"
                                                                                                         "ma",
                                                                                                         "bla"
                                                                                                         "ckb"
                                                                                                         "oar"
                                                                                                         "d_"
                                                                                                         "wri"
                                                                                                         "te",
                                                                                                         "{\""
                                                                                                         "sec"
                                                                                                         "tio"
                                                                                                         "n\""
                                                                                                         ":\""
                                                                                                         "sol"
                                                                                                         "uti"
                                                                                                         "ons"
                                                                                                         "\","
                                                                                                         "\"e"
                                                                                                         "ntr"
                                                                                                         "y\""
                                                                                                         ":\""
                                                                                                         "gam"
                                                                                                         "ma_"
                                                                                                         "res"
                                                                                                         "ult"
                                                                                                         "\","
                                                                                                         "\"v"
                                                                                                         "alu"
                                                                                                         "e\""
                                                                                                         ":{"
                                                                                                         "\"r"
                                                                                                         "eso"
                                                                                                         "lve"
                                                                                                         "d\""
                                                                                                         ":tr"
                                                                                                         "ue}"
                                                                                                         "}") "," VOTE("gamma",
                                                                                                                       "ACCEPT") "," SAY("gamma",
                                                                                                                                         "done") "]"),
        0);
    ofx_run(&f);
    expect_spawn(&f, AG_SPAWN_CONFLICT);
    ASSERT_STREQ(f.r.outcome, "consensus");
    ofx_close(&f);
}

TEST(orch_complexity_spawns_gamma)
{
    struct ofx f;
    ofx_open(&f, "orch-complex", 0, model());
    ASSERT_EQ(ag_test_model_script(
                  "[" PLAN("\"{\\\"complexity\\\":0.93,\\\"needs_validation\\\":false}\"") "]"),
              0);
    ofx_run(&f);
    ASSERT_EQ(f.r.complexity_pm, 930);
    expect_spawn(&f, AG_SPAWN_COMPLEXITY);
    ofx_close(&f);
}

TEST(orch_success_spawns_gamma_for_validation)
{
    struct ofx f;
    ofx_open(&f, "orch-success", 0, model());
    ASSERT_EQ(
        ag_test_model_script(
            "[" PLAN("\"{\\\"complexity\\\":0.2,\\\"needs_validation\\\":true}\"") "," VOTE(
                "alpha", "ACCEPT") "," SYNTH("beta") "," VOTE("beta",
                                                              "ACCEPT") "," VOTE("gamma",
                                                                                 "ACCEPT") "]"),
        0);
    ofx_run(&f);
    expect_spawn(&f, AG_SPAWN_SUCCESS);
    ASSERT_STREQ(f.r.outcome, "consensus");
    ofx_close(&f);
}

TEST(orch_required_reject_fails_consensus_blackboard_kept)
{
    struct ofx f;
    ofx_open(&f, "orch-reject", 0, model());
    ASSERT_EQ(ag_test_model_script("[" ALPHA_HAPPY "," VOTE("alpha", "ACCEPT") "," BETA_EVAL(
                  "true") "," VOTE("beta", "REJECT") "]"),
              0);
    f.o.no_gamma = 1;
    ofx_run(&f);
    ASSERT_STREQ(f.r.outcome, "no_consensus");
    ASSERT_CONTAINS(f.r.reason, "rejected by required agent(s): beta@t-orch");
    char *bb = NULL;
    ASSERT_OK(ag_coord_bb_read(f.coord, "t-orch", "solutions", &bb));
    ASSERT_CONTAINS(bb, "proposal_1");
    free(bb);
    ofx_close(&f);
}

/* A port nothing listens on. */
static int dead_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    ASSERT_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    return ntohs(a.sin_port);
}

TEST(orch_model_down_agents_fail_closed_no_hang)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", dead_port());
    struct ofx f;
    ofx_open(&f, "orch-down", 0, url);
    int64_t t0 = ag__mono_ms();
    ofx_run(&f);
    ASSERT_TRUE(ag__mono_ms() - t0 < 5000);
    ASSERT_STREQ(f.r.outcome, "no_consensus");
    ASSERT_EQ(f.r.llm_calls, 0);
    ASSERT_EQ(f.r.tool_calls, 0);
    ASSERT_STREQ(ag_llm_breaker_state(f.llm), "open");
    ofx_close(&f);
}

TEST(orch_task_timeout_bounds_slow_models)
{
    struct ofx f;
    ofx_open(&f, "orch-timeout", 0, model());
    ASSERT_EQ(ag_test_model_script("[{\"agent\":\"alpha\",\"delay_ms\":3000,\"body\":{\"content\":"
                                   "\"late\"}},{\"agent\":\"beta\",\"delay_ms\":3000,\"body\":"
                                   "{\"content\":\"late\"}}]"),
              0);
    f.o.timeout_ms = 600;
    f.o.no_gamma = 1;
    int64_t t0 = ag__mono_ms();
    ofx_run(&f);
    ASSERT_TRUE(ag__mono_ms() - t0 < 2500); /* the model calls were cut at the deadline */
    ASSERT_STREQ(f.r.outcome, "timeout");
    ofx_close(&f);
}
