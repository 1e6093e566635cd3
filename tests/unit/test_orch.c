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
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>

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
    ag_approve *ap;
    struct ag_orch_opts o;
    struct ag_orch_result r;
};

static void ofx_open_policy(struct ofx *f, const char *label, int redis, const char *model_url,
                            const char *policy);
static void ofx_open(struct ofx *f, const char *label, int redis, const char *model_url)
{
    ofx_open_policy(f, label, redis, model_url, orch_policy);
}

static void ofx_open_policy(struct ofx *f, const char *label, int redis, const char *model_url,
                            const char *policy)
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
    ASSERT_OK(ag_policy_load_string("o.yaml", policy, strlen(policy), &f->policy));
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
    ag_approve_free(f->ap);
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

/* Rows of the ledger matching an SQL condition (read-only, after the run). */
static long count_ledger(const char *db_path, const char *where)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM ledger WHERE %s", where);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Every tool result the model saw in role's last request, one per line (malloc'd). */
static char *tool_results(const char *role)
{
    char *log = ag_test_model_log();
    json_t *a = json_loads(log, 0, NULL);
    free(log);
    json_t *last = NULL;
    size_t i;
    json_t *q;
    json_array_foreach(a, i, q)
    {
        const char *r = json_string_value(json_object_get(q, "role"));
        if (r && !strcmp(r, role))
            last = q;
    }
    size_t cap = 1, len = 0;
    char *out = calloc(1, 1);
    json_t *m;
    json_array_foreach(json_object_get(json_object_get(last, "body"), "messages"), i, m)
    {
        const char *c = json_string_value(json_object_get(m, "content"));
        if (!c || strcmp(json_string_value(json_object_get(m, "role")) ?: "", "tool") != 0)
            continue;
        cap += strlen(c) + 1;
        char *grown = realloc(out, cap);
        if (!grown)
            break; /* keep what was gathered; the caller's asserts will fail */
        out = grown;
        len += (size_t)sprintf(out + len, "%s\n", c);
    }
    json_decref(a);
    return out;
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

static void sc_denied_tool_call_reaches_the_model(int redis)
{
    struct ofx f;
    ofx_open(&f,
             redis ? "orch-denied"
                     "-redis"
                   : "orch-denied",
             redis, model());
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
TEST(orch_denied_tool_call_reaches_the_model)
{
    sc_denied_tool_call_reaches_the_model(0);
}
TEST(orch_denied_tool_call_reaches_the_model_redis)
{
    sc_denied_tool_call_reaches_the_model(1);
}

static void sc_forbidden_action_revokes_mid_task_with_handoff(int redis)
{
    struct ofx f;
    ofx_open(&f,
             redis ? "orch-forbidden"
                     "-redis"
                   : "orch-forbidden",
             redis, model());
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
TEST(orch_forbidden_action_revokes_mid_task_with_handoff)
{
    sc_forbidden_action_revokes_mid_task_with_handoff(0);
}
TEST(orch_forbidden_action_revokes_mid_task_with_handoff_redis)
{
    sc_forbidden_action_revokes_mid_task_with_handoff(1);
}

static void sc_token_budget_exhausted_revokes(int redis)
{
    struct ofx f;
    ofx_open(&f,
             redis ? "orch-budget"
                     "-redis"
                   : "orch-budget",
             redis, model());
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
TEST(orch_token_budget_exhausted_revokes)
{
    sc_token_budget_exhausted_revokes(0);
}
TEST(orch_token_budget_exhausted_revokes_redis)
{
    sc_token_budget_exhausted_revokes(1);
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
    /* The spawn and its reason are in the ledger, once. */
    char where[256];
    snprintf(where, sizeof where,
             "kind = 'coord' AND action = 'agent.spawn' AND resource = "
             "'agent/gamma@t-orch/spawn/%s'",
             ag_spawn_reason_name(why));
    ASSERT_EQ(count_ledger(f->lfx.db, where), 1);
    ASSERT_EQ(count_ledger(f->lfx.db, "kind = 'coord' AND action = 'agent.spawn'"), 1);
}

static void sc_stuck_spawns_gamma(int redis)
{
    struct ofx f;
    ofx_open(&f,
             redis ? "orch-stuck"
                     "-redis"
                   : "orch-stuck",
             redis, model());
    ASSERT_EQ(ag_test_model_script("[{\"agent\":\"alpha\",\"delay_ms\":700,\"body\":{\"content\":"
                                   "\"thinking\"}},{\"agent\":\"beta\",\"delay_ms\":700,\"body\":"
                                   "{\"content\":\"thinking\"}}]"),
              0);
    f.o.stuck_ms = 200;
    ofx_run(&f);
    expect_spawn(&f, AG_SPAWN_STUCK);
    ofx_close(&f);
}
TEST(orch_stuck_spawns_gamma)
{
    sc_stuck_spawns_gamma(0);
}
TEST(orch_stuck_spawns_gamma_redis)
{
    sc_stuck_spawns_gamma(1);
}

static void sc_conflict_spawns_gamma_and_consensus_follows(int redis)
{
    struct ofx f;
    ofx_open(&f,
             redis ? "orch-conflict"
                     "-redis"
                   : "orch-conflict",
             redis, model());
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
TEST(orch_conflict_spawns_gamma_and_consensus_follows)
{
    sc_conflict_spawns_gamma_and_consensus_follows(0);
}
TEST(orch_conflict_spawns_gamma_and_consensus_follows_redis)
{
    sc_conflict_spawns_gamma_and_consensus_follows(1);
}

static void sc_complexity_spawns_gamma(int redis)
{
    struct ofx f;
    ofx_open(&f,
             redis ? "orch-complex"
                     "-redis"
                   : "orch-complex",
             redis, model());
    ASSERT_EQ(ag_test_model_script(
                  "[" PLAN("\"{\\\"complexity\\\":0.93,\\\"needs_validation\\\":false}\"") "]"),
              0);
    ofx_run(&f);
    ASSERT_EQ(f.r.complexity_pm, 930);
    expect_spawn(&f, AG_SPAWN_COMPLEXITY);
    ofx_close(&f);
}
TEST(orch_complexity_spawns_gamma)
{
    sc_complexity_spawns_gamma(0);
}
TEST(orch_complexity_spawns_gamma_redis)
{
    sc_complexity_spawns_gamma(1);
}

static void sc_success_spawns_gamma_for_validation(int redis)
{
    struct ofx f;
    ofx_open(&f,
             redis ? "orch-success"
                     "-redis"
                   : "orch-success",
             redis, model());
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
TEST(orch_success_spawns_gamma_for_validation)
{
    sc_success_spawns_gamma_for_validation(0);
}
TEST(orch_success_spawns_gamma_for_validation_redis)
{
    sc_success_spawns_gamma_for_validation(1);
}

static void sc_required_reject_fails_consensus_blackboard_kept(int redis)
{
    struct ofx f;
    ofx_open(&f,
             redis ? "orch-reject"
                     "-redis"
                   : "orch-reject",
             redis, model());
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
TEST(orch_required_reject_fails_consensus_blackboard_kept)
{
    sc_required_reject_fails_consensus_blackboard_kept(0);
}
TEST(orch_required_reject_fails_consensus_blackboard_kept_redis)
{
    sc_required_reject_fails_consensus_blackboard_kept(1);
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

static void sc_model_down_agents_fail_closed_no_hang(int redis)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", dead_port());
    struct ofx f;
    ofx_open(&f,
             redis ? "orch-down"
                     "-redis"
                   : "orch-down",
             redis, url);
    int64_t t0 = ag__mono_ms();
    ofx_run(&f);
    ASSERT_TRUE(ag__mono_ms() - t0 < 5000);
    /* A clear failure, not a disagreement: the task failed for want of a model. */
    ASSERT_STREQ(f.r.outcome, "failed");
    ASSERT_CONTAINS(f.r.reason, "could not reach its model");
    ASSERT_EQ(f.r.llm_calls, 0);
    ASSERT_EQ(f.r.tool_calls, 0);
    ASSERT_EQ(f.r.revoked, 0);
    ASSERT_STREQ(ag_llm_breaker_state(f.llm), "open");
    /* Each agent walked out to EXIT (every step ledgered) and left a handoff. */
    const char *ids[] = {"alpha@t-orch", "beta@t-orch"};
    for (int i = 0; i < 2; i++) {
        struct ag_agent_status s;
        ASSERT_OK(ag_gov_status(f.gov, ids[i], &s));
        ASSERT_CONTAINS(s.state_json, "\"EXIT\"");
        ASSERT_EQ(s.revoked, 0);
        ag_agent_status_clear(&s);
    }
    char *h = NULL;
    ASSERT_OK(ag_gov_read_handoff(f.gov, "t-orch", &h));
    ASSERT_TRUE(h != NULL);
    ASSERT_CONTAINS(h, "\"type\":\"llm_unavailable\"");
    ASSERT_CONTAINS(h, "\"revoked\":false");
    free(h);
    ofx_close(&f);
    /* The walk is in the ledger: each agent's VERIFY, PACKAGE, REPORT and EXIT. */
    ASSERT_EQ(count_ledger(f.lfx.db, "kind = 'lifecycle' AND agent_id = 'alpha@t-orch' AND "
                                     "phase IN ('VERIFY','PACKAGE','REPORT','EXIT')"),
              4);
}
TEST(orch_model_down_agents_fail_closed_no_hang)
{
    sc_model_down_agents_fail_closed_no_hang(0);
}
TEST(orch_model_down_agents_fail_closed_no_hang_redis)
{
    sc_model_down_agents_fail_closed_no_hang(1);
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

/* ---- asks: the approvals flow, a person answering during the run ---------------- */

static const char ask_policy[] =
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
    " phases: [PLAN, EXECUTE, VERIFY], min_tier: 1}\n"
    "  - {id: synthesis-ask, effect: ask, actions: [blackboard.write],"
    " resources: [blackboard/*/solutions/synthesis], phases: [EXECUTE], min_tier: 1,"
    " approval: {approvers: ['user:alice']}}\n"
    "  - {id: artifacts, effect: allow, actions: [artifact.read], resources: [artifacts/**],"
    " phases: [EXECUTE], min_tier: 1}\n";

/* A person (alice, through the API) who answers the first pending approval. */
struct approver {
    ag_approve *ap;
    int approve; /* 1 approve, 0 deny */
    char id[AG_APPROVAL_ID_BUF];
    char agent[160], action[64], resource[160];
};

static void *approver_main(void *arg)
{
    struct approver *w = arg;
    int64_t until = ag__mono_ms() + 10000;
    while (!w->id[0] && ag__mono_ms() < until) {
        struct ag_approval_filter fl = {.pending_only = 1};
        struct ag_approval *items = NULL;
        size_t n = 0;
        if (ag_approve_list(w->ap, &fl, &items, &n) == AG_OK && n > 0) {
            snprintf(w->id, sizeof w->id, "%s", items[0].id);
            snprintf(w->agent, sizeof w->agent, "%s", items[0].agent_id);
            snprintf(w->action, sizeof w->action, "%s", items[0].action);
            snprintf(w->resource, sizeof w->resource, "%s", items[0].resource);
        }
        ag_approval_list_free(items, n);
        usleep(20000);
    }
    if (w->id[0]) {
        struct ag_identity alice;
        memset(&alice, 0, sizeof alice);
        snprintf(alice.entity, sizeof alice.entity, "alice");
        snprintf(alice.accessor, sizeof alice.accessor, "acc-alice");
        snprintf(alice.via, sizeof alice.via, "token");
        alice.tier = 1;
        if (ag_approve_decide(w->ap, w->id, &alice, w->approve,
                              w->approve ? NULL : "not without a benchmark", NULL) != AG_OK)
            w->id[0] = '\0';
    }
    return NULL;
}

#define ASK_SCRIPT                                                                                 \
    "[" SYNTH("beta") "," VOTE("beta", "ACCEPT") "," SAY("beta", "done") "," VOTE(                 \
        "alpha", "ACCEPT") "," SAY("alpha", "done") "]"

static void ask_open(struct ofx *f, const char *label, int redis)
{
    ofx_open_policy(f, label, redis, model(), ask_policy);
    struct ag_approve_opts ao = {.store = f->store, .ledger = f->ledger};
    ASSERT_OK(ag_approve_new(&ao, &f->ap));
    f->o.approve = f->ap;
    f->o.policy = f->policy;
    f->o.no_gamma = 1;
    ASSERT_EQ(ag_test_model_script(ASK_SCRIPT), 0);
}

static void scenario_ask_approved(int redis)
{
    struct ofx f;
    ask_open(&f, redis ? "orch-ask-ok-redis" : "orch-ask-ok", redis);
    struct approver w = {.ap = f.ap, .approve = 1};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, approver_main, &w), 0);
    ofx_run(&f);
    pthread_join(th, NULL);
    /* The call waited for alice, then ran: bound to the agent, action and resource. */
    ASSERT_TRUE(w.id[0] != '\0');
    ASSERT_STREQ(w.agent, "beta@t-orch");
    ASSERT_STREQ(w.action, "blackboard.write");
    ASSERT_STREQ(w.resource, "blackboard/t-orch/solutions/synthesis");
    char *bb = NULL;
    ASSERT_OK(ag_coord_bb_read(f.coord, "t-orch", "solutions", &bb));
    ASSERT_CONTAINS(bb, "\"synthesis\":\"LRU with a bound\"");
    free(bb);
    char *tr = tool_results("beta");
    ASSERT_CONTAINS(tr, "{\"ok\":true}\n{\"ok\":true}\n"); /* the write, then the vote */
    free(tr);
    struct ag_approval a;
    ASSERT_OK(ag_approve_get(f.ap, w.id, &a));
    ASSERT_STREQ(a.status, "approved");
    ASSERT_EQ(a.used, 1); /* the grant was spent by the call */
    ag_approval_clear(&a);
    ASSERT_STREQ(f.r.outcome, "consensus");
    ASSERT_EQ(f.r.tool_denied, 0);
    ofx_close(&f);
    ASSERT_TRUE(count_ledger(f.lfx.db, "kind = 'decision' AND reason = 'approval_granted' AND "
                                       "agent_id = 'beta@t-orch'") >= 1);
}
TEST(orch_ask_waits_for_a_person_and_runs_once_approved)
{
    scenario_ask_approved(0);
}
TEST(orch_ask_approved_on_redis)
{
    scenario_ask_approved(1);
}

TEST(orch_ask_denied_reaches_the_model_as_denied)
{
    struct ofx f;
    ask_open(&f, "orch-ask-no", 0);
    struct approver w = {.ap = f.ap, .approve = 0};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, approver_main, &w), 0);
    ofx_run(&f);
    pthread_join(th, NULL);
    ASSERT_TRUE(w.id[0] != '\0');
    char *tr = tool_results("beta");
    ASSERT_CONTAINS(tr, "\"reason\":\"approval_denied\"");
    ASSERT_CONTAINS(tr, "\"message\":\"denied: approval apv-");
    ASSERT_CONTAINS(tr, "was denied");
    free(tr);
    char *bb = NULL;
    ASSERT_OK(ag_coord_bb_read(f.coord, "t-orch", "solutions", &bb));
    ASSERT_TRUE(strstr(bb, "synthesis") == NULL); /* nothing written */
    free(bb);
    ASSERT_EQ(f.r.tool_denied, 1);
    ASSERT_EQ(f.r.revoked, 0);
    ofx_close(&f);
}

TEST(orch_ask_unanswered_times_out_as_denied)
{
    struct ofx f;
    ask_open(&f, "orch-ask-late", 0);
    /* Waiting for a person is not being stuck: the wait is three times STUCK's limit
     * and GAMMA is not spawned. */
    /* (STUCK's limit leaves room for a slow start, as under valgrind.) */
    f.o.ask_timeout_ms = 3000;
    f.o.stuck_ms = 1000;
    f.o.no_gamma = 0;
    int64_t t0 = ag__mono_ms();
    ofx_run(&f);
    ASSERT_TRUE(ag__mono_ms() - t0 >= 3000);
    char *tr = tool_results("beta");
    ASSERT_CONTAINS(tr, "\"reason\":\"approval_pending\"");
    ASSERT_CONTAINS(tr, "denied: nobody answered approval apv-");
    free(tr);
    ASSERT_EQ(f.r.gamma_reason, AG_SPAWN_NONE);
    ofx_close(&f);
    ASSERT_EQ(count_ledger(f.lfx.db, "kind = 'decision' AND reason = 'approval_timeout' AND "
                                     "resource = 'blackboard/t-orch/solutions/synthesis'"),
              1);
}

/* Someone revokes the agent while its call waits for a person: the wait ends at once,
 * the agent stops and leaves a handoff. */
struct revoker {
    ag_approve *ap;
    ag_gov *gov;
    int done;
};
static void *revoker_main(void *arg)
{
    struct revoker *w = arg;
    int64_t until = ag__mono_ms() + 10000;
    while (!w->done && ag__mono_ms() < until) {
        struct ag_approval_filter fl = {.pending_only = 1};
        struct ag_approval *items = NULL;
        size_t n = 0;
        if (ag_approve_list(w->ap, &fl, &items, &n) == AG_OK && n > 0)
            w->done = ag_gov_revoke(w->gov, items[0].agent_id, "operator", "stop it") == AG_OK;
        ag_approval_list_free(items, n);
        usleep(20000);
    }
    return NULL;
}

TEST(orch_revoked_while_its_ask_waits_stops_at_once)
{
    struct ofx f;
    ask_open(&f, "orch-ask-revoked", 0);
    f.o.ask_timeout_ms = 20000;
    struct revoker w = {.ap = f.ap, .gov = f.gov};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, revoker_main, &w), 0);
    int64_t t0 = ag__mono_ms();
    ofx_run(&f);
    pthread_join(th, NULL);
    ASSERT_EQ(w.done, 1);
    ASSERT_TRUE(ag__mono_ms() - t0 < 5000); /* not the 20 s of the ask's timeout */
    ASSERT_EQ(f.r.revoked, 1);
    ASSERT_EQ(count_role_requests("beta"), 1); /* no model call after the revocation */
    char *h = NULL;
    ASSERT_OK(ag_gov_read_handoff(f.gov, "t-orch", &h));
    ASSERT_TRUE(h != NULL);
    ASSERT_CONTAINS(h, "\"previous_agent_id\":\"beta@t-orch\"");
    free(h);
    ofx_close(&f);
}

/* ---- artifact_read: in-process, judged on the resolved path --------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ASSERT_TRUE(fp != NULL);
    fputs(text, fp);
    fclose(fp);
}

static void sc_artifact_read_judges_the_resolved_path(int redis)
{
    struct ofx f;
    ofx_open_policy(&f,
                    redis ? "orch-art"
                            "-redis"
                          : "orch-art",
                    redis, model(), ask_policy);
    char art[1200], p[1400];
    snprintf(art, sizeof art, "%s/artifacts", f.lfx.dir);
    ASSERT_EQ(mkdir(art, 0755), 0);
    snprintf(p, sizeof p, "%s/sub", art);
    ASSERT_EQ(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/report.md", art);
    write_file(p, "# report\nLRU wins\n");
    snprintf(p, sizeof p, "%s/outside.txt", f.lfx.dir);
    write_file(p, "secret-outside");
    snprintf(p, sizeof p, "%s/leak", art);
    ASSERT_EQ(symlink("../outside.txt", p), 0);
    snprintf(p, sizeof p, "%s/inner", art);
    ASSERT_EQ(symlink("sub/../report.md", p), 0);
    ASSERT_EQ(ag_test_model_script(
                  "[{\"agent\":\"alpha\",\"body\":{\"tool_calls\":["
                  "{\"name\":\"artifact_read\",\"arguments\":{}},"
                  "{\"name\":\"artifact_read\",\"arguments\":{\"path\":\"report.md\"}},"
                  "{\"name\":\"artifact_read\",\"arguments\":{\"path\":\"sub/../report.md\"}},"
                  "{\"name\":\"artifact_read\",\"arguments\":{\"path\":\"inner\"}},"
                  "{\"name\":\"artifact_read\",\"arguments\":{\"path\":\"../outside.txt\"}},"
                  "{\"name\":\"artifact_read\",\"arguments\":{\"path\":\"leak\"}},"
                  "{\"name\":\"artifact_read\",\"arguments\":{\"path\":\"/etc/passwd\"}},"
                  "{\"name\":\"artifact_read\",\"arguments\":{\"path\":\"missing.md\"}}]}},"
                  "{\"agent\":\"alpha\",\"body\":{\"content\":\"read\"}}]"),
              0);
    f.o.artifacts_dir = art;
    f.o.agents = (const char *const[]){"alpha"};
    f.o.nagents = 1;
    f.o.no_gamma = 1;
    ofx_run(&f);
    char *tr = tool_results("alpha");
    /* The listing, then the same file three ways (a link inside the directory is
     * followed: what counts is where it resolves). */
    ASSERT_CONTAINS(tr, "{\"name\":\"report.md\",\"type\":\"file\",\"size\":18}");
    ASSERT_CONTAINS(tr, "\"path\":\"report.md\",\"content\":\"# report\\nLRU wins\\n\"");
    const char *first = strstr(tr, "LRU wins");
    ASSERT_TRUE(first && strstr(first + 1, "LRU wins") &&
                strstr(strstr(first + 1, "LRU wins") + 1, "LRU wins"));
    /* Three escapes refused by the policy; nothing from outside reached the model. */
    const char *d = tr;
    int denied = 0;
    while ((d = strstr(d, "\"denied\":true"))) {
        denied++;
        d++;
    }
    ASSERT_EQ(denied, 3);
    ASSERT_TRUE(strstr(tr, "secret-outside") == NULL);
    ASSERT_TRUE(strstr(tr, "root:x:0") == NULL);
    ASSERT_CONTAINS(tr, "missing.md: No such file or directory");
    free(tr);
    ASSERT_EQ(f.r.tool_denied, 3);
    /* The result goes to the task's artifacts, beside what the agents read. */
    snprintf(p, sizeof p, "%s/consensus.json", art);
    FILE *cf = fopen(p, "r");
    ASSERT_TRUE(cf != NULL);
    char cj[2048] = "";
    size_t cn = fread(cj, 1, sizeof cj - 1, cf);
    fclose(cf);
    cj[cn] = '\0';
    ASSERT_CONTAINS(cj, "\"reached\":false");
    ofx_close(&f);
    /* The ledger names where the escapes led, not what the model wrote. */
    char where[1600], *real = realpath(f.lfx.dir, NULL);
    ASSERT_TRUE(real != NULL);
    snprintf(where, sizeof where,
             "kind = 'decision' AND action = 'artifact.read' AND resource = '%s/outside.txt' "
             "AND decision = 'deny'",
             real);
    free(real);
    ASSERT_EQ(count_ledger(f.lfx.db, where), 2);
    ASSERT_EQ(count_ledger(f.lfx.db, "kind = 'decision' AND action = 'artifact.read' AND "
                                     "resource = 'artifacts/t-orch/report.md' AND "
                                     "decision = 'allow'"),
              3);
}
TEST(orch_artifact_read_judges_the_resolved_path)
{
    sc_artifact_read_judges_the_resolved_path(0);
}
TEST(orch_artifact_read_judges_the_resolved_path_redis)
{
    sc_artifact_read_judges_the_resolved_path(1);
}
