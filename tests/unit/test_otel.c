/* OpenTelemetry export (src/otel): W3C traceparent parsing, the OTLP JSON encoding of
 * spans and log records (parsed back with jansson and checked field by field), the
 * settings and their checks, the bounded queue under contention, and the exporter's
 * breaker against a port nobody listens on. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/otel.h"
#include "test.h"

/* ---- traceparent -------------------------------------------------------------------- */

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

TEST(traceparent_valid)
{
    struct ag_otel_trace t;
    ASSERT_EQ(ag_otel_traceparent_parse("00-" TID "-" PID "-01", &t), 1);
    ASSERT_EQ(t.trace_id[0], 0x4b);
    ASSERT_EQ(t.trace_id[15], 0x36);
    ASSERT_EQ(t.span_id[0], 0x00);
    ASSERT_EQ(t.span_id[7], 0xb7);
    ASSERT_EQ(t.flags, 1);
    ASSERT_EQ(ag_otel_traceparent_parse("00-" TID "-" PID "-00", &t), 1);
    ASSERT_EQ(t.flags, 0);
    /* A later version may add fields after a dash: parsed as version 00. */
    ASSERT_EQ(ag_otel_traceparent_parse("01-" TID "-" PID "-01-what-comes-next", &t), 1);
    ASSERT_EQ(ag_otel_traceparent_parse("cc-" TID "-" PID "-09", &t), 1);
    ASSERT_EQ(t.flags, 9);
}

TEST(traceparent_invalid_is_ignored)
{
    static const char *const bad[] = {
        "",
        "00",
        "00-" TID "-" PID "-0",                           /* short */
        "00-" TID "-" PID "-01-extra",                    /* version 00 is exactly 55 */
        "00-" TID "-" PID "-011",                         /* ... no trailing bytes */
        "01-" TID "-" PID "-01x",                         /* later version: '-' after flags */
        "ff-" TID "-" PID "-01",                          /* version ff is invalid */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01", /* uppercase */
        "00-" TID "-00F067AA0BA902B7-01",                 /* uppercase */
        "00-00000000000000000000000000000000-" PID "-01", /* all-zero trace id */
        "00-" TID "-0000000000000000-01",                 /* all-zero parent */
        "00_" TID "-" PID "-01",                          /* separator */
        "00-" TID "_" PID "-01",
        "00-" TID "-" PID "_01",
        "0g-" TID "-" PID "-01", /* not hex */
        "00-4bf92f3577b34da6a3ce929d0e0e473z-" PID "-01",
        "00-" TID "-" PID "-zz",
        " 00-" TID "-" PID "-0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ag_otel_trace t = {.flags = 0x77};
        if (ag_otel_traceparent_parse(bad[i], &t) != 0)
            ag_test_fail(__FILE__, __LINE__, "accepted invalid traceparent \"%s\"", bad[i]);
        ASSERT_EQ(t.flags, 0x77); /* out untouched */
    }
    struct ag_otel_trace t;
    ASSERT_EQ(ag_otel_traceparent_parse(NULL, &t), 0);
}

/* ---- encoding -------------------------------------------------------------------------- */

static void config(struct ag_otel_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->service_name, sizeof c->service_name, "gov-test");
    snprintf(c->resource_attributes, sizeof c->resource_attributes,
             " deployment.environment = prod ,host.name=h1,service.name=ignored");
    c->traces = c->logs = 1;
}

static struct ag_otel_event decision_event(void)
{
    struct ag_otel_event e = {.start_ns = 1700000000123456789LL,
                              .end_ns = 1700000000223456789LL,
                              .seq = 42,
                              .has_parent = 1,
                              .kind = "decision",
                              .agent_id = "agent-a",
                              .task_id = "t-1",
                              .phase = "EXECUTE",
                              .action = "file.write",
                              .resource = "/etc/passwd",
                              .decision = "deny",
                              .reason = "rule \"x\"\nsaid\tno\x01",
                              .route = "agent_actions",
                              .tier = 2,
                              .confidence = -1,
                              .success = -1};
    ag_otel_traceparent_parse("00-" TID "-" PID "-01", &e.trace);
    return e;
}

/* The attribute key's AnyValue in an OTLP attribute list, or NULL. */
static json_t *attr(json_t *list, const char *key)
{
    size_t i;
    json_t *kv;
    json_array_foreach(list, i, kv)
    {
        if (strcmp(json_string_value(json_object_get(kv, "key")) ?: "", key) == 0)
            return json_object_get(kv, "value");
    }
    return NULL;
}

static const char *sattr(json_t *list, const char *key)
{
    return json_string_value(json_object_get(attr(list, key), "stringValue"));
}

static const uint8_t ids[2][8] = {{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3}, {1, 2, 3, 4, 5, 6, 7, 8}};

TEST(encode_traces_follows_the_otlp_json_mapping)
{
    struct ag_otel_config c;
    config(&c);
    struct ag_otel_event e0 = decision_event();
    struct ag_otel_event e1 = {.start_ns = 5,
                               .end_ns = 5,
                               .seq = -1,
                               .kind = "llm",
                               .action = "llm.chat",
                               .success = 0,
                               .error_type = "timeout",
                               .data_json = "{\"model\":\"m-1\",\"prompt_tokens\":12,"
                                            "\"completion_tokens\":3,\"cost_microusd\":7}",
                               .tier = -1,
                               .confidence = 900};
    const struct ag_otel_event *ev[2] = {&e0, &e1};
    char *out = NULL;
    ASSERT_OK(ag_otel_encode_traces(&c, ev, ids, 2, &out));
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    if (!doc)
        ag_test_fail(__FILE__, __LINE__, "not JSON (%s): %s", jerr.text, out);
    ASSERT_EQ(json_object_size(doc), 1);
    json_t *rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
    json_t *res = json_object_get(json_object_get(rs, "resource"), "attributes");
    ASSERT_STREQ(sattr(res, "service.name"), "gov-test"); /* otel.service_name wins */
    ASSERT_STREQ(sattr(res, "deployment.environment"), "prod");
    ASSERT_STREQ(sattr(res, "host.name"), "h1");
    ASSERT_TRUE(sattr(res, "service.version") != NULL);
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(ss, "scope"), "name")),
                 "agentgov");
    json_t *spans = json_object_get(ss, "spans");
    ASSERT_EQ(json_array_size(spans), 2);

    json_t *s = json_array_get(spans, 0);
    ASSERT_STREQ(json_string_value(json_object_get(s, "traceId")), TID);
    ASSERT_STREQ(json_string_value(json_object_get(s, "parentSpanId")), PID);
    ASSERT_STREQ(json_string_value(json_object_get(s, "spanId")), "deadbeef00010203");
    ASSERT_STREQ(json_string_value(json_object_get(s, "name")), "agentgov.decision file.write");
    ASSERT_EQ(json_integer_value(json_object_get(s, "kind")), 1);
    /* 64-bit integers are strings in OTLP/JSON. */
    ASSERT_STREQ(json_string_value(json_object_get(s, "startTimeUnixNano")), "1700000000123456789");
    ASSERT_STREQ(json_string_value(json_object_get(s, "endTimeUnixNano")), "1700000000223456789");
    json_t *a = json_object_get(s, "attributes");
    ASSERT_STREQ(json_string_value(json_object_get(attr(a, "agentgov.ledger.seq"), "intValue")),
                 "42");
    ASSERT_STREQ(json_string_value(json_object_get(attr(a, "agentgov.agent.tier"), "intValue")),
                 "2");
    ASSERT_STREQ(sattr(a, "agentgov.agent.id"), "agent-a");
    ASSERT_STREQ(sattr(a, "agentgov.agent.phase"), "EXECUTE");
    ASSERT_STREQ(sattr(a, "agentgov.task.id"), "t-1");
    ASSERT_STREQ(sattr(a, "agentgov.action"), "file.write");
    ASSERT_STREQ(sattr(a, "agentgov.resource"), "/etc/passwd");
    ASSERT_STREQ(sattr(a, "agentgov.decision"), "deny");
    ASSERT_STREQ(sattr(a, "agentgov.reason"), "rule \"x\"\nsaid\tno\x01"); /* escaped, intact */
    ASSERT_STREQ(sattr(a, "agentgov.api.route"), "agent_actions");
    ASSERT_TRUE(attr(a, "agentgov.confidence") == NULL); /* -1: absent */
    ASSERT_TRUE(attr(a, "agentgov.success") == NULL);
    ASSERT_TRUE(attr(a, "agentgov.agent.version") == NULL); /* NULL: absent */
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(s, "status"), "code")), 0);

    s = json_array_get(spans, 1);
    ASSERT_TRUE(json_object_get(s, "parentSpanId") == NULL); /* no traceparent */
    ASSERT_STREQ(json_string_value(json_object_get(s, "spanId")), "0102030405060708");
    ASSERT_STREQ(json_string_value(json_object_get(s, "traceId")),
                 "00000000000000000000000000000000"); /* as given: the feed fills it */
    a = json_object_get(s, "attributes");
    ASSERT_TRUE(attr(a, "agentgov.ledger.seq") == NULL);
    ASSERT_TRUE(json_is_false(json_object_get(attr(a, "agentgov.success"), "boolValue")));
    ASSERT_STREQ(json_string_value(json_object_get(attr(a, "agentgov.confidence"), "intValue")),
                 "900");
    ASSERT_STREQ(sattr(a, "gen_ai.request.model"), "m-1");
    ASSERT_STREQ(
        json_string_value(json_object_get(attr(a, "gen_ai.usage.input_tokens"), "intValue")), "12");
    ASSERT_STREQ(
        json_string_value(json_object_get(attr(a, "gen_ai.usage.output_tokens"), "intValue")), "3");
    ASSERT_STREQ(sattr(a, "error.type"), "timeout");
    json_t *st = json_object_get(s, "status");
    ASSERT_EQ(json_integer_value(json_object_get(st, "code")), 2);
    ASSERT_STREQ(json_string_value(json_object_get(st, "message")), "timeout");
    json_decref(doc);
    free(out);
}

TEST(encode_logs_follows_the_otlp_json_mapping)
{
    struct ag_otel_config c;
    config(&c);
    struct ag_otel_event e0 = decision_event();
    const struct ag_otel_event *ev[1] = {&e0};
    char *out = NULL;
    ASSERT_OK(ag_otel_encode_logs(&c, ev, ids, 1, &out));
    json_t *doc = json_loads(out, 0, NULL);
    ASSERT_TRUE(doc != NULL);
    json_t *rl = json_array_get(json_object_get(doc, "resourceLogs"), 0);
    ASSERT_STREQ(
        sattr(json_object_get(json_object_get(rl, "resource"), "attributes"), "service.name"),
        "gov-test");
    json_t *sl = json_array_get(json_object_get(rl, "scopeLogs"), 0);
    json_t *r = json_array_get(json_object_get(sl, "logRecords"), 0);
    ASSERT_STREQ(json_string_value(json_object_get(r, "timeUnixNano")), "1700000000223456789");
    ASSERT_STREQ(json_string_value(json_object_get(r, "observedTimeUnixNano")),
                 "1700000000223456789");
    ASSERT_EQ(json_integer_value(json_object_get(r, "severityNumber")), 13); /* deny: WARN */
    ASSERT_STREQ(json_string_value(json_object_get(r, "severityText")), "WARN");
    ASSERT_STREQ(json_string_value(json_object_get(r, "traceId")), TID);
    ASSERT_STREQ(json_string_value(json_object_get(r, "spanId")), "deadbeef00010203");
    const char *body =
        json_string_value(json_object_get(json_object_get(r, "body"), "stringValue"));
    ASSERT_CONTAINS(body, "decision deny file.write on /etc/passwd by agent-a: rule");
    ASSERT_STREQ(sattr(json_object_get(r, "attributes"), "agentgov.decision"), "deny");
    json_decref(doc);
    free(out);
}

/* ---- settings ------------------------------------------------------------------------- */

TEST(config_defaults_are_off_and_valid)
{
    ag_config *cfg;
    ASSERT_OK(ag_config_new(&cfg));
    struct ag_otel_config c;
    ag_otel_config_from(cfg, &c);
    ASSERT_STREQ(c.endpoint, "");
    ASSERT_STREQ(c.service_name, "agentgov");
    ASSERT_TRUE(c.traces && c.logs);
    ASSERT_EQ(c.batch, 512);
    ASSERT_EQ(c.queue, 8192);
    ASSERT_EQ(c.interval_ms, 1000);
    ASSERT_OK(ag_otel_config_check(&c));
    ASSERT_OK(ag_config_set(cfg, "otel.signals", "logs"));
    ASSERT_ERR(ag_config_set(cfg, "otel.signals", "metrics"), AG_EINVAL);
    ASSERT_ERR(ag_config_set(cfg, "otel.batch", "0"), AG_EINVAL);
    ASSERT_ERR(ag_config_set(cfg, "otel.queue", "-1"), AG_EINVAL);
    ASSERT_OK(ag_config_set(cfg, "breaker.otel.failures", "2"));
    ag_otel_config_from(cfg, &c);
    ASSERT_TRUE(!c.traces && c.logs);
    ASSERT_EQ(c.breaker.failures, 2);
    ag_config_free(cfg);
}

TEST(config_check_names_the_bad_key)
{
    ag_config *cfg;
    ASSERT_OK(ag_config_new(&cfg));
    struct ag_otel_config c;
    ag_otel_config_from(cfg, &c);
    struct {
        const char *key, *val, *needle;
    } bad[] = {{"otel.endpoint", "ftp://collector:4318", "otel.endpoint"},
               {"otel.endpoint", "collector:4318", "otel.endpoint"},
               {"otel.endpoint", "http://c:4318/?x=1", "otel.endpoint"},
               {"otel.kinds", "decision,nonsense", "otel.kinds"},
               {"otel.headers", "Authorization", "otel.headers"},
               {"otel.headers", "=v", "otel.headers"},
               {"otel.headers", "X-A=1\r\nX-Injected: 2", "otel.headers"},
               {"otel.resource_attributes", "a=1,b", "otel.resource_attributes"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ag_otel_config t = c;
        if (strcmp(bad[i].key, "otel.endpoint") == 0)
            snprintf(t.endpoint, sizeof t.endpoint, "%s", bad[i].val);
        else if (strcmp(bad[i].key, "otel.kinds") == 0)
            snprintf(t.kinds, sizeof t.kinds, "%s", bad[i].val);
        else if (strcmp(bad[i].key, "otel.headers") == 0)
            snprintf(t.headers, sizeof t.headers, "%s", bad[i].val);
        else
            snprintf(t.resource_attributes, sizeof t.resource_attributes, "%s", bad[i].val);
        ASSERT_ERR(ag_otel_config_check(&t), AG_EINVAL);
        ASSERT_CONTAINS(ag_last_error(), bad[i].needle);
    }
    struct ag_otel_config t = c;
    t.batch = t.queue + 1;
    ASSERT_ERR(ag_otel_config_check(&t), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "otel.batch");
    snprintf(c.endpoint, sizeof c.endpoint, "https://otel.example:4318/");
    snprintf(c.headers, sizeof c.headers, "Authorization=Bearer a=b, X-Scope = t1 ,");
    ASSERT_OK(ag_otel_config_check(&c));
    ag_config_free(cfg);
}

struct pairs {
    char got[4][2][64];
    int n;
};

static void collect(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct pairs *p = ctx;
    if (p->n < 4) {
        snprintf(p->got[p->n][0], 64, "%.*s", (int)kl, k);
        snprintf(p->got[p->n][1], 64, "%.*s", (int)vl, v);
    }
    p->n++;
}

TEST(pairs_are_trimmed_and_keep_equals_in_values)
{
    struct pairs p = {0};
    ASSERT_EQ(ag_otel_pairs(" Authorization = Bearer a=b ,X=1,, Y=", collect, &p), 1);
    ASSERT_EQ(p.n, 3);
    ASSERT_STREQ(p.got[0][0], "Authorization");
    ASSERT_STREQ(p.got[0][1], "Bearer a=b");
    ASSERT_STREQ(p.got[1][0], "X");
    ASSERT_STREQ(p.got[2][0], "Y");
    ASSERT_STREQ(p.got[2][1], "");
    ASSERT_EQ(ag_otel_pairs("", NULL, NULL), 1);
    ASSERT_EQ(ag_otel_pairs("novalue", NULL, NULL), 0);
}

/* ---- the queue and the exporter ------------------------------------------------------------ */

static struct ag_otel_config dead_config(int64_t queue)
{
    struct ag_otel_config c;
    config(&c);
    /* A port nobody listens on: port 1 on loopback refuses at once. */
    snprintf(c.endpoint, sizeof c.endpoint, "http://127.0.0.1:1");
    snprintf(c.kinds, sizeof c.kinds, "decision, lifecycle");
    c.batch = 1;
    c.queue = queue;
    c.interval_ms = 10;
    c.timeout_ms = 1000;
    c.retries = 0;
    c.backoff_ms = c.backoff_max_ms = 1;
    ag_breaker_config_default(&c.breaker);
    c.breaker.failures = 2;
    c.breaker.cooldown_ms = c.breaker.cooldown_max_ms = 60000;
    return c;
}

TEST(kinds_select_what_is_exported)
{
    struct ag_otel_config c = dead_config(4);
    struct ag_otel_opts o = {.config = &c};
    ag_otel *x;
    ASSERT_OK(ag_otel_new(&o, &x));
    ASSERT_EQ(ag_otel_wants(x, "decision"), 1);
    ASSERT_EQ(ag_otel_wants(x, "lifecycle"), 1);
    ASSERT_EQ(ag_otel_wants(x, "secret"), 0);
    ASSERT_EQ(ag_otel_wants(x, NULL), 0);
    ag_otel_free(x);
}

struct emitter {
    ag_otel *o;
    int n, ok;
};

static void *emit_many(void *arg)
{
    struct emitter *e = arg;
    struct ag_otel_event ev = decision_event();
    for (int i = 0; i < e->n; i++) {
        ev.seq = i;
        e->ok += ag_otel_emit(e->o, &ev);
    }
    return NULL;
}

TEST(queue_is_bounded_and_counts_drops_under_contention)
{
    struct ag_otel_config c = dead_config(1000);
    struct ag_otel_opts o = {.config = &c};
    ag_otel *x;
    ASSERT_OK(ag_otel_new(&o, &x)); /* not started: nothing consumes */
    pthread_t th[4];
    struct emitter em[4];
    for (int i = 0; i < 4; i++) {
        em[i] = (struct emitter){x, 5000, 0};
        ASSERT_EQ(pthread_create(&th[i], NULL, emit_many, &em[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += em[i].ok;
    }
    struct ag_otel_stats st;
    ag_otel_stats(x, &st);
    ASSERT_EQ(ok, 1000);
    ASSERT_EQ(st.queued, 1000);
    ASSERT_EQ(st.dropped_full, 19000);
    ASSERT_EQ(st.waiting, 1000);
    ag_otel_free(x);
}

static int otel_breaker_state = -1;
static void find_otel(void *ctx, const struct ag_breaker_stats *st)
{
    (void)ctx;
    if (strcmp(st->dep, "otel") == 0)
        otel_breaker_state = (int)st->state;
}

TEST(collector_down_opens_the_breaker_and_batches_are_dropped)
{
    struct ag_otel_config c = dead_config(64);
    struct ag_otel_opts o = {.config = &c};
    ag_otel *x;
    ASSERT_OK(ag_otel_new(&o, &x));
    struct ag_otel_event ev = decision_event();
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(ag_otel_emit(x, &ev), 1);
    ASSERT_OK(ag_otel_start(x));
    struct ag_otel_stats st;
    for (int i = 0; i < 500; i++) {
        ag_otel_stats(x, &st);
        if (st.dropped_failed == 10)
            break;
        usleep(10000);
    }
    ASSERT_EQ(st.dropped_failed, 10);
    ASSERT_EQ(st.exported, 0);
    /* Two refused connections opened it; the other batches never tried. */
    ASSERT_EQ(st.requests, 2);
    ASSERT_EQ(st.failed_requests, 2);
    ag_breaker_foreach(find_otel, NULL);
    ASSERT_EQ(otel_breaker_state, AG_BREAKER_OPEN);
    ag_otel_free(x);
}
