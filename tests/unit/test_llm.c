/* The LLM client against a scripted OpenAI-compatible server on loopback
 * (tests/llm/model_server.py) and through its replay provider: request shape and
 * headers, usage and cost, retries on 429/5xx honouring Retry-After, 4xx not retried,
 * timeouts, the breaker when the server is down, record then replay, the ledger entry
 * (digests, not text), and llm_budget revocation through the gov layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <netinet/in.h>
#include <unistd.h>

#include <jansson.h>

#include "agentgov/gov.h"
#include "agentgov/llm.h"
#include "core/time.h"
#include "ledger_fixture.h"
#include "model_fixture.h"
#include "test.h"

static const char msgs[] = "[{\"role\":\"system\",\"content\":\"You are ALPHA.\"},"
                           "{\"role\":\"user\",\"content\":\"secret-plan-text\"}]";
static const char tools[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"blackboard_write\",\"description\":\"write\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"entry\":{\"type\":\"string\"}}}}}]";

struct lfx {
    struct fx f;
    ag_ledger *ledger;
    ag_llm *llm;
};

static void lfx_open(struct lfx *x, const char *label, struct ag_llm_opts *o)
{
    memset(x, 0, sizeof *x);
    fx_init(&x->f, label, 0);
    x->ledger = fx_open(&x->f);
    o->ledger = x->ledger;
    if (!o->model)
        o->model = "test-model";
    ASSERT_OK(ag_llm_new(o, &x->llm));
}

static void lfx_close(struct lfx *x)
{
    ag_llm_free(x->llm);
    ag_ledger_close(x->ledger);
}

struct rows {
    int n;
    char last[8192];
};
static int collect(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    struct rows *r = ctx;
    r->n++;
    snprintf(r->last, sizeof r->last, "%s", row);
    return 0;
}

static struct rows llm_rows(ag_ledger *l)
{
    struct rows r = {0};
    struct ag_ledger_filter f = {.kind = "llm"};
    ASSERT_OK(ag_ledger_query(l, &f, collect, &r));
    return r;
}

static json_t *last_request(void)
{
    char *log = ag_test_model_log();
    ASSERT_TRUE(log != NULL);
    json_t *a = json_loads(log, 0, NULL);
    free(log);
    ASSERT_TRUE(json_array_size(a) > 0);
    json_t *r = json_incref(json_array_get(a, json_array_size(a) - 1));
    json_decref(a);
    return r;
}

TEST(llm_http_request_shape_usage_cost_and_ledger)
{
    const char *url = ag_test_model_url();
    ASSERT_TRUE(url != NULL);
    ASSERT_EQ(ag_test_model_reset(), 0);
    ASSERT_EQ(ag_test_model_script(
                  "[{\"body\":{\"tool_call\":{\"name\":\"blackboard_write\",\"arguments\":"
                  "{\"entry\":\"analysis\"}}},\"usage\":{\"prompt_tokens\":1000,"
                  "\"completion_tokens\":2000,\"total_tokens\":3000}}]"),
              0);
    struct ag_llm_opts o = {.provider = url,
                            .api_key = "sk-test-123",
                            .referer = "https://agentgov.example",
                            .title = "agentgov tests",
                            .prices = "other=9/9,test-model=0.15/0.6"};
    struct lfx x;
    lfx_open(&x, "llm-shape", &o);
    struct ag_llm_call c = {"alpha", "task-1", msgs, tools, 1};
    struct ag_llm_result r;
    ASSERT_OK(ag_llm_chat(x.llm, &c, &r));
    ASSERT_STREQ(r.finish_reason, "tool_calls");
    ASSERT_TRUE(strstr(r.message_json, "blackboard_write") != NULL);
    ASSERT_EQ(r.prompt_tokens, 1000);
    ASSERT_EQ(r.completion_tokens, 2000);
    /* 1000 * 0.15 + 2000 * 0.6 USD per million = 150 + 1200 micro-USD. */
    ASSERT_EQ(r.cost_microusd, 1350);
    ASSERT_EQ(r.attempts, 1);

    json_t *q = last_request();
    json_t *h = json_object_get(q, "headers"), *b = json_object_get(q, "body");
    ASSERT_STREQ(json_string_value(json_object_get(h, "authorization")), "Bearer sk-test-123");
    ASSERT_STREQ(json_string_value(json_object_get(h, "http-referer")), "https://agentgov.example");
    ASSERT_STREQ(json_string_value(json_object_get(h, "x-title")), "agentgov tests");
    ASSERT_STREQ(json_string_value(json_object_get(h, "content-type")), "application/json");
    ASSERT_STREQ(json_string_value(json_object_get(b, "model")), "test-model");
    ASSERT_TRUE(json_is_false(json_object_get(b, "stream")));
    ASSERT_EQ(json_array_size(json_object_get(b, "messages")), 2);
    ASSERT_EQ(json_array_size(json_object_get(b, "tools")), 1);
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(b, "response_format"), "type")),
                 "json_object");
    /* The ledger digest is of exactly the bytes sent. */
    const char *raw = json_string_value(json_object_get(q, "raw"));
    char dg[65];
    ASSERT_OK(ag_llm_request_digest(raw, dg));
    json_decref(q);

    struct rows rows = llm_rows(x.ledger);
    ASSERT_EQ(rows.n, 1);
    ASSERT_TRUE(strstr(rows.last, dg) != NULL);
    ASSERT_TRUE(strstr(rows.last, "\"cost_microusd\":1350") != NULL);
    ASSERT_TRUE(strstr(rows.last, "\"agent_id\":\"alpha\"") != NULL);
    ASSERT_TRUE(strstr(rows.last, "\"task_id\":\"task-1\"") != NULL);
    ASSERT_TRUE(strstr(rows.last, "secret-plan-text") == NULL); /* digest, not text */
    ASSERT_TRUE(strstr(rows.last, "sk-test-123") == NULL);
    struct ag_llm_usage u;
    ag_llm_usage_total(x.llm, &u);
    ASSERT_EQ(u.calls, 1);
    ASSERT_EQ(u.prompt_tokens + u.completion_tokens, 3000);
    ag_llm_result_clear(&r);
    lfx_close(&x);
}

TEST(llm_log_content_keeps_text)
{
    const char *url = ag_test_model_url();
    ASSERT_TRUE(url != NULL);
    ASSERT_EQ(ag_test_model_reset(), 0);
    struct ag_llm_opts o = {.provider = url, .log_content = 1};
    struct lfx x;
    lfx_open(&x, "llm-content", &o);
    struct ag_llm_call c = {"alpha", NULL, msgs, NULL, 0};
    struct ag_llm_result r;
    ASSERT_OK(ag_llm_chat(x.llm, &c, &r));
    ag_llm_result_clear(&r);
    struct rows rows = llm_rows(x.ledger);
    ASSERT_TRUE(strstr(rows.last, "secret-plan-text") != NULL);
    /* No Authorization header without a key. */
    json_t *q = last_request();
    ASSERT_TRUE(json_object_get(json_object_get(q, "headers"), "authorization") == NULL);
    ASSERT_TRUE(json_object_get(json_object_get(q, "body"), "tools") == NULL);
    json_decref(q);
    lfx_close(&x);
}

TEST(llm_429_retry_after_is_honoured)
{
    const char *url = ag_test_model_url();
    ASSERT_TRUE(url != NULL);
    ASSERT_EQ(ag_test_model_reset(), 0);
    ASSERT_EQ(ag_test_model_script("[{\"status\":429,\"headers\":{\"Retry-After\":\"1\"},"
                                   "\"body\":{\"error\":{\"message\":\"rate limited\"}}},"
                                   "{\"body\":{\"content\":\"after the wait\"}}]"),
              0);
    struct ag_llm_opts o = {.provider = url, .retries = 2, .backoff_ms = 10};
    struct lfx x;
    lfx_open(&x, "llm-429", &o);
    struct ag_llm_call c = {"alpha", NULL, msgs, NULL, 0};
    struct ag_llm_result r;
    int64_t t0 = ag__mono_ms();
    ASSERT_OK(ag_llm_chat(x.llm, &c, &r));
    int64_t took = ag__mono_ms() - t0;
    ASSERT_EQ(r.attempts, 2);
    ASSERT_TRUE(took >= 950); /* Retry-After: 1 beat the 10 ms backoff */
    ASSERT_TRUE(strstr(r.message_json, "after the wait") != NULL);
    ag_llm_result_clear(&r);
    lfx_close(&x);
}

TEST(llm_5xx_retried_with_backoff_4xx_not)
{
    const char *url = ag_test_model_url();
    ASSERT_TRUE(url != NULL);
    ASSERT_EQ(ag_test_model_reset(), 0);
    ASSERT_EQ(ag_test_model_script("[{\"status\":503,\"body\":\"busy\"},{\"status\":500,"
                                   "\"body\":\"oops\"},{\"body\":{\"content\":\"third\"}},"
                                   "{\"status\":400,\"body\":{\"error\":{\"message\":\"bad "
                                   "model name\"}}},{\"body\":{\"content\":\"unused\"}}]"),
              0);
    struct ag_llm_opts o = {.provider = url, .retries = 3, .backoff_ms = 20};
    struct lfx x;
    lfx_open(&x, "llm-5xx", &o);
    struct ag_llm_call c = {"alpha", NULL, msgs, NULL, 0};
    struct ag_llm_result r;
    int64_t t0 = ag__mono_ms();
    ASSERT_OK(ag_llm_chat(x.llm, &c, &r));
    ASSERT_EQ(r.attempts, 3);
    ASSERT_TRUE(ag__mono_ms() - t0 >= 60); /* 20 + 40 ms of backoff */
    ag_llm_result_clear(&r);
    ASSERT_EQ(ag_llm_chat(x.llm, &c, &r), AG_EINVAL);
    ASSERT_TRUE(strstr(ag_last_error(), "bad model name") != NULL);
    ASSERT_TRUE(strstr(ag_last_error(), "1 attempt") != NULL);
    struct rows rows = llm_rows(x.ledger);
    ASSERT_EQ(rows.n, 2); /* the failed call is ledgered too */
    ASSERT_TRUE(strstr(rows.last, "\"success\":0") != NULL);
    ASSERT_TRUE(strstr(rows.last, "EINVAL") != NULL);
    ASSERT_STREQ(ag_llm_breaker_state(x.llm), "closed"); /* our request, not their outage */
    lfx_close(&x);
}

TEST(llm_slow_answer_times_out)
{
    const char *url = ag_test_model_url();
    ASSERT_TRUE(url != NULL);
    ASSERT_EQ(ag_test_model_reset(), 0);
    ASSERT_EQ(ag_test_model_script("[{\"delay_ms\":2000,\"body\":{\"content\":\"late\"}}]"), 0);
    struct ag_llm_opts o = {.provider = url, .timeout_ms = 300};
    struct lfx x;
    lfx_open(&x, "llm-slow", &o);
    struct ag_llm_call c = {"alpha", NULL, msgs, NULL, 0};
    struct ag_llm_result r;
    int64_t t0 = ag__mono_ms();
    ASSERT_EQ(ag_llm_chat(x.llm, &c, &r), AG_ETIMEOUT);
    ASSERT_TRUE(ag__mono_ms() - t0 < 1500);
    lfx_close(&x);
}

/* A port nothing listens on: bound, then closed. */
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

TEST(llm_server_down_breaker_opens_fail_fast)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", dead_port());
    struct ag_llm_opts o = {
        .provider = url,
        .retries = 1,
        .backoff_ms = 5,
        .breaker = {.failures = 2, .cooldown_ms = 200, .cooldown_max_ms = 200, .probes = 1}};
    struct lfx x;
    lfx_open(&x, "llm-down", &o);
    struct ag_llm_call c = {"alpha", NULL, msgs, NULL, 0};
    struct ag_llm_result r;
    ASSERT_EQ(ag_llm_chat(x.llm, &c, &r), AG_EIO);
    ASSERT_STREQ(ag_llm_breaker_state(x.llm), "closed");
    ASSERT_EQ(ag_llm_chat(x.llm, &c, &r), AG_EIO);
    ASSERT_STREQ(ag_llm_breaker_state(x.llm), "open");
    int64_t t0 = ag__mono_ms();
    ASSERT_EQ(ag_llm_chat(x.llm, &c, &r), AG_ESTATE); /* refused at once */
    ASSERT_TRUE(ag__mono_ms() - t0 < 50);
    ASSERT_TRUE(strstr(ag_last_error(), "circuit breaker 'llm' is open") != NULL);
    struct rows rows = llm_rows(x.ledger);
    ASSERT_EQ(rows.n, 3);
    ASSERT_TRUE(strstr(rows.last, "\"reason\":\"refused\"") != NULL);
    /* The breaker's opening is a ledger entry of its own. */
    struct rows sys = {0};
    struct ag_ledger_filter sf = {.kind = "system"};
    ASSERT_OK(ag_ledger_query(x.ledger, &sf, collect, &sys));
    ASSERT_EQ(sys.n, 1);
    ASSERT_CONTAINS(sys.last, "\"action\":\"breaker.open\"");
    ASSERT_CONTAINS(sys.last, "\"resource\":\"llm\"");
    /* After the cool-down one probe goes; it fails and the breaker opens again. */
    struct timespec ts = {0, 250 * 1000000L};
    nanosleep(&ts, NULL);
    ASSERT_EQ(ag_llm_chat(x.llm, &c, &r), AG_EIO);
    ASSERT_EQ(ag_llm_chat(x.llm, &c, &r), AG_ESTATE);
    lfx_close(&x);
}

TEST(llm_record_then_replay_offline)
{
    const char *url = ag_test_model_url();
    ASSERT_TRUE(url != NULL);
    ASSERT_EQ(ag_test_model_reset(), 0);
    ASSERT_EQ(ag_test_model_script("[{\"body\":{\"content\":\"first answer\"}},"
                                   "{\"body\":{\"content\":\"second answer\"}}]"),
              0);
    char rec[1200], prov[1300];
    snprintf(rec, sizeof rec, "%s/rec.jsonl", ag_test_fresh_dir("llm-rec"));
    struct ag_llm_opts o = {.provider = url, .record_path = rec};
    struct lfx x;
    lfx_open(&x, "llm-record", &o);
    struct ag_llm_call c = {"alpha", NULL, msgs, NULL, 0};
    struct ag_llm_result r;
    ASSERT_OK(ag_llm_chat(x.llm, &c, &r));
    ag_llm_result_clear(&r);
    ASSERT_OK(ag_llm_chat(x.llm, &c, &r)); /* same request, another answer */
    ag_llm_result_clear(&r);
    lfx_close(&x);

    ag_test_model_stop(); /* offline from here */
    snprintf(prov, sizeof prov, "replay:%s", rec);
    struct ag_llm_opts ro = {.provider = prov};
    lfx_open(&x, "llm-replay", &ro);
    ASSERT_OK(ag_llm_chat(x.llm, &c, &r));
    ASSERT_TRUE(strstr(r.message_json, "first answer") != NULL);
    ag_llm_result_clear(&r);
    ASSERT_OK(ag_llm_chat(x.llm, &c, &r));
    ASSERT_TRUE(strstr(r.message_json, "second answer") != NULL);
    ASSERT_EQ(r.prompt_tokens, 10);
    ag_llm_result_clear(&r);
    struct ag_llm_call other = {"alpha", NULL, "[{\"role\":\"user\",\"content\":\"x\"}]", NULL, 0};
    ASSERT_EQ(ag_llm_chat(x.llm, &other, &r), AG_ENOTFOUND);
    lfx_close(&x);

    /* A broken replay file is named with its line. */
    FILE *f = fopen(rec, "a");
    fputs("{\"request_sha256\":\"nothex\",\"response\":{}}\n", f);
    fclose(f);
    ag_llm *l = NULL;
    struct ag_llm_opts bo = {.provider = prov, .model = "m", .ledger = (ag_ledger *)1};
    ASSERT_EQ(ag_llm_new(&bo, &l), AG_EPARSE);
    ASSERT_TRUE(strstr(ag_last_error(), "rec.jsonl:3: request_sha256") != NULL);
}

TEST(llm_bad_options_are_named)
{
    ag_llm *l = NULL;
    struct ag_llm_opts o = {.provider = "ftp://x", .model = "m", .ledger = (ag_ledger *)1};
    ASSERT_EQ(ag_llm_new(&o, &l), AG_EINVAL);
    ASSERT_TRUE(strstr(ag_last_error(), "ftp://x") != NULL);
    o.provider = "http://127.0.0.1:1/v1";
    o.prices = "m=0.1";
    ASSERT_EQ(ag_llm_new(&o, &l), AG_EINVAL);
    ASSERT_TRUE(strstr(ag_last_error(), "llm.prices: entry 'm=0.1'") != NULL);
    o.prices = NULL;
    o.model = NULL;
    ASSERT_EQ(ag_llm_new(&o, &l), AG_EINVAL);
    ASSERT_TRUE(strstr(ag_last_error(), "no model") != NULL);
}

static const char llm_policy[] = "version: 1\n"
                                 "tiers:\n"
                                 "  0: {name: Observer, token_ttl: 1h, max_ttl: 4h}\n"
                                 "  1: {name: Operator, token_ttl: 30m, max_ttl: 2h}\n"
                                 "  2: {name: Builder, token_ttl: 30m, max_ttl: 2h}\n"
                                 "  3: {name: Executor, token_ttl: 15m, max_ttl: 1h}\n"
                                 "  4: {name: Architect, token_ttl: 15m, max_ttl: 1h}\n"
                                 "rules: []\n";

TEST(llm_token_budget_exhausted_revokes_agent)
{
    const char *url = ag_test_model_url();
    ASSERT_TRUE(url != NULL);
    ASSERT_EQ(ag_test_model_reset(), 0);
    struct fx f;
    fx_init(&f, "llm-budget", 0);
    ag_ledger *led = fx_open(&f);
    char surl[1200];
    snprintf(surl, sizeof surl, "sqlite:%s/state.db", f.dir);
    ag_store *st;
    ag_policy *pol;
    ag_gov *g;
    ASSERT_OK(ag_store_open(surl, &st));
    ASSERT_OK(ag_policy_load_string("t.yaml", llm_policy, strlen(llm_policy), &pol));
    ASSERT_OK(ag_gov_new(st, led, pol, NULL, &g));
    const char *pkt =
        "{\"agent_id\":\"alpha\",\"task_id\":\"task-b\",\"created_for\":\"t\",\"objective\":\"o\","
        "\"deliverables\":[],\"constraints\":{\"scope\":[],\"forbidden\":[],\"required_steps\":[]},"
        "\"success_criteria\":[],\"escalation_rules\":[],\"created_at\":\"2026-12-06T00:00:00Z\","
        "\"llm_budget\":{\"max_tokens\":20}}";
    ASSERT_OK(ag_gov_register(g, "alpha", 1, pkt));
    struct ag_bootstrap_result br;
    ASSERT_OK(ag_gov_bootstrap(g, "alpha", NULL, &br));
    ASSERT_EQ(br.code, AG_BOOT_COMPLETE);
    ag_bootstrap_result_clear(&br);

    struct ag_llm_opts o = {.provider = url, .model = "m", .ledger = led, .gov = g, .store = st};
    ag_llm *l;
    ASSERT_OK(ag_llm_new(&o, &l));
    struct ag_llm_call c = {"alpha", "task-b", msgs, NULL, 0};
    struct ag_llm_result r;
    ASSERT_OK(ag_llm_chat(l, &c, &r)); /* 15 tokens of 20 */
    ASSERT_EQ(r.revoked, 0);
    ag_llm_result_clear(&r);
    ASSERT_OK(ag_llm_chat(l, &c, &r)); /* 30 of 20: answered, and revoked */
    ASSERT_EQ(r.revoked, 1);
    ag_llm_result_clear(&r);
    struct ag_agent_status s;
    ASSERT_OK(ag_gov_status(g, "alpha", &s));
    ASSERT_EQ(s.revoked, 1);
    ag_agent_status_clear(&s);
    ASSERT_EQ(ag_llm_chat(l, &c, &r), AG_ELIMIT); /* no third request */
    char *log = ag_test_model_log();
    json_t *a = json_loads(log, 0, NULL);
    ASSERT_EQ(json_array_size(a), 2);
    json_decref(a);
    free(log);
    /* Counted per agent and per task in the store. */
    char *v = NULL;
    struct ag_store_op op = {AG_OP_HGET, "task:task-b:llm", "calls"};
    struct ag_store_reply rep;
    ASSERT_OK(ag_store_exec(st, NULL, &op, 1, &rep, NULL));
    ASSERT_STREQ(rep.str, "2");
    ag_store_reply_free(&rep, 1);
    free(v);
    struct ag_ledger_filter lf = {.kind = "revocation"};
    struct rows rows = {0};
    ASSERT_OK(ag_ledger_query(led, &lf, collect, &rows));
    ASSERT_EQ(rows.n, 1);
    ASSERT_TRUE(strstr(rows.last, "llm budget exhausted") != NULL);
    ag_llm_free(l);
    ag_gov_free(g);
    ag_policy_free(pol);
    ag_store_free(st);
    ag_ledger_close(led);
    struct ag_verify_result vr;
    ASSERT_OK(ag_ledger_verify(f.db, f.pk, &vr));
    ASSERT_TRUE(vr.ok);
}

TEST(llm_cost_budget_exhausted_revokes_agent)
{
    const char *url = ag_test_model_url();
    ASSERT_TRUE(url != NULL);
    ASSERT_EQ(ag_test_model_reset(), 0);
    struct fx f;
    fx_init(&f, "llm-cost", 0);
    ag_ledger *led = fx_open(&f);
    char surl[1200];
    snprintf(surl, sizeof surl, "sqlite:%s/state.db", f.dir);
    ag_store *st;
    ag_policy *pol;
    ag_gov *g;
    ASSERT_OK(ag_store_open(surl, &st));
    ASSERT_OK(ag_policy_load_string("t.yaml", llm_policy, strlen(llm_policy), &pol));
    ASSERT_OK(ag_gov_new(st, led, pol, NULL, &g));
    /* 10 prompt + 5 completion tokens at $1000 per million each: 15000 micro-USD a call. */
    const char *pkt =
        "{\"agent_id\":\"beta\",\"task_id\":\"task-c\",\"created_for\":\"t\",\"objective\":\"o\","
        "\"deliverables\":[],\"constraints\":{\"scope\":[],\"forbidden\":[],\"required_steps\":[]},"
        "\"success_criteria\":[],\"escalation_rules\":[],\"created_at\":\"2026-12-06T00:00:00Z\","
        "\"llm_budget\":{\"max_cost_microusd\":20000}}";
    ASSERT_OK(ag_gov_register(g, "beta", 1, pkt));
    struct ag_bootstrap_result br;
    ASSERT_OK(ag_gov_bootstrap(g, "beta", NULL, &br));
    ag_bootstrap_result_clear(&br);
    struct ag_llm_opts o = {.provider = url,
                            .model = "m",
                            .prices = "m=1000/1000",
                            .ledger = led,
                            .gov = g,
                            .store = st};
    ag_llm *l;
    ASSERT_OK(ag_llm_new(&o, &l));
    struct ag_llm_call c = {"beta", "task-c", msgs, NULL, 0};
    struct ag_llm_result r;
    ASSERT_OK(ag_llm_chat(l, &c, &r));
    ASSERT_EQ(r.cost_microusd, 15000);
    ASSERT_EQ(r.revoked, 0);
    ag_llm_result_clear(&r);
    ASSERT_OK(ag_llm_chat(l, &c, &r));
    ASSERT_EQ(r.revoked, 1);
    ag_llm_result_clear(&r);
    ASSERT_EQ(ag_llm_chat(l, &c, &r), AG_ELIMIT);
    ASSERT_CONTAINS(ag_last_error(), "30000 micro-USD");
    /* A packet with a bad budget is refused, naming the field. */
    ag_packet *p = NULL;
    const char *bad = "{\"agent_id\":\"x\",\"task_id\":\"t\",\"created_for\":\"t\",\"objective\":"
                      "\"o\",\"deliverables\":[],\"constraints\":{\"scope\":[],\"forbidden\":[],"
                      "\"required_steps\":[]},\"success_criteria\":[],\"escalation_rules\":[],"
                      "\"created_at\":\"2026-12-06T00:00:00Z\",\"llm_budget\":{\"max_tokens\":0}}";
    ASSERT_EQ(ag_packet_parse(bad, strlen(bad), &p), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), "llm_budget.max_tokens");
    ag_llm_free(l);
    ag_gov_free(g);
    ag_policy_free(pol);
    ag_store_free(st);
    ag_ledger_close(led);
    struct ag_verify_result vr;
    ASSERT_OK(ag_ledger_verify(f.db, f.pk, &vr));
    ASSERT_TRUE(vr.ok);
}
