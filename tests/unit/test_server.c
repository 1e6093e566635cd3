/* Unit tests of the daemon's pieces that need no socket: routing, request limits,
 * listen addresses, metrics rendering and the swappable policy holder. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include <stdio.h>
#include <unistd.h>

#include "agentgov/config.h"
#include "ledger_fixture.h"
#include "server/audit.h"
#include "server/handlers.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/polref.h"
#include "server/router.h"
#include "server/server.h"
#include "test.h"

static void h_dummy(struct ag__req *r)
{
    (void)r;
}

static const struct ag__route table[] = {
    {"GET", "/v1/sys/health", "health", h_dummy, AG_ROUTE_PUBLIC, 0},
    {"POST", "/v1/agents/{id}/actions", "actions", h_dummy, AG_ROUTE_TOKEN, 1},
    {"GET", "/v1/agents/{id}", "agent", h_dummy, AG_ROUTE_TOKEN, 0},
    {"GET", "/v1/agents", "agents", h_dummy, AG_ROUTE_ADMIN, 0},
    {"GET", "/v1/secret/data/{path*}", "kv_read", h_dummy, AG_ROUTE_TOKEN, 1},
    {"LIST", "/v1/secret/metadata/{path*}", "kv_list", h_dummy, AG_ROUTE_TOKEN, 1},
    {"POST", "/v1/auth/approle/role/{name}/secret-id", "sid", h_dummy, AG_ROUTE_ADMIN, 1},
};
#define NT (sizeof table / sizeof table[0])

static struct ag__route_match find(const char *method, const char *path, char *buf)
{
    struct ag__route_match m;
    strcpy(buf, path);
    ag__route_find(table, NT, method, buf, &m);
    return m;
}

TEST(router_fixed_and_capture)
{
    char buf[256];
    struct ag__route_match m = find("GET", "/v1/sys/health", buf);
    ASSERT_TRUE(m.route != NULL);
    ASSERT_STREQ(m.route->name, "health");
    ASSERT_EQ(m.ncaptures, 0);
    m = find("POST", "/v1/agents/agent-7/actions", buf);
    ASSERT_STREQ(m.route->name, "actions");
    ASSERT_EQ(m.index, 1);
    ASSERT_STREQ(ag__route_capture(&m, "id"), "agent-7");
    ASSERT_TRUE(ag__route_capture(&m, "i") == NULL);
    ASSERT_TRUE(ag__route_capture(&m, "name") == NULL);
    m = find("GET", "/v1/agents/a1", buf);
    ASSERT_STREQ(m.route->name, "agent");
    m = find("GET", "/v1/agents", buf);
    ASSERT_STREQ(m.route->name, "agents");
    m = find("POST", "/v1/auth/approle/role/web/secret-id", buf);
    ASSERT_STREQ(m.route->name, "sid");
    ASSERT_STREQ(ag__route_capture(&m, "name"), "web");
}

TEST(router_rest_capture_keeps_slashes)
{
    char buf[256];
    struct ag__route_match m = find("GET", "/v1/secret/data/services/dragonfly/main", buf);
    ASSERT_STREQ(m.route->name, "kv_read");
    ASSERT_STREQ(ag__route_capture(&m, "path"), "services/dragonfly/main");
    m = find("LIST", "/v1/secret/metadata/services", buf);
    ASSERT_STREQ(m.route->name, "kv_list");
    ASSERT_STREQ(ag__route_capture(&m, "path"), "services");
}

TEST(router_method_mismatch_and_misses)
{
    char buf[256];
    struct ag__route_match m = find("DELETE", "/v1/agents/a1/actions", buf);
    ASSERT_TRUE(m.route == NULL);
    ASSERT_EQ(m.path_matched, 1); /* 405, not 404 */
    m = find("GET", "/v1/nothing", buf);
    ASSERT_TRUE(m.route == NULL);
    ASSERT_EQ(m.path_matched, 0);
    /* Empty segments never fill a capture. */
    m = find("POST", "/v1/agents//actions", buf);
    ASSERT_TRUE(m.route == NULL);
    m = find("GET", "/v1/secret/data/a//b", buf);
    ASSERT_TRUE(m.route == NULL);
    m = find("GET", "/v1/secret/data", buf);
    ASSERT_TRUE(m.route == NULL);
    /* Extra segments do not match a shorter pattern. */
    m = find("GET", "/v1/sys/health/x", buf);
    ASSERT_TRUE(m.route == NULL);
    m = find("GET", "/", buf);
    ASSERT_TRUE(m.route == NULL);
    /* Too many segments. */
    char longp[512] = "";
    for (int i = 0; i < 40; i++)
        strcat(longp, "/a");
    m = find("GET", longp, buf);
    ASSERT_TRUE(m.route == NULL);
}

TEST(json_depth_prescan)
{
    ASSERT_EQ(ag__json_depth("{}", 2, 10), 1);
    ASSERT_EQ(ag__json_depth("{\"a\":[1,{\"b\":[]}]}", 18, 10), 4);
    /* Brackets inside strings, with escaped quotes, do not count. */
    const char *s = "{\"a\":\"[[[[\\\"[[[\"}";
    ASSERT_EQ(ag__json_depth(s, strlen(s), 10), 1);
    char deep[2100];
    memset(deep, '[', 2000);
    memset(deep + 2000, ']', 10);
    /* Stops as soon as the limit is passed. */
    ASSERT_EQ(ag__json_depth(deep, 2010, 32), 33);
}

TEST(listen_addresses)
{
    int is_unix;
    char host[64], port[16];
    ASSERT_OK(ag__parse_listen("127.0.0.1:8200", &is_unix, host, sizeof host, port, sizeof port));
    ASSERT_EQ(is_unix, 0);
    ASSERT_STREQ(host, "127.0.0.1");
    ASSERT_STREQ(port, "8200");
    ASSERT_OK(ag__parse_listen("[::1]:9", &is_unix, host, sizeof host, port, sizeof port));
    ASSERT_STREQ(host, "::1");
    ASSERT_STREQ(port, "9");
    ASSERT_OK(ag__parse_listen("unix:/tmp/x.sock", &is_unix, host, sizeof host, port, sizeof port));
    ASSERT_EQ(is_unix, 1);
    ASSERT_ERR(ag__parse_listen("unix:", &is_unix, host, sizeof host, port, sizeof port),
               AG_EINVAL);
    ASSERT_ERR(ag__parse_listen("localhost", &is_unix, host, sizeof host, port, sizeof port),
               AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "no port");
    ASSERT_ERR(ag__parse_listen("h:99999", &is_unix, host, sizeof host, port, sizeof port),
               AG_EINVAL);
    ASSERT_ERR(ag__parse_listen(":80", &is_unix, host, sizeof host, port, sizeof port), AG_EINVAL);
    ASSERT_ERR(ag__parse_listen("[::1]80", &is_unix, host, sizeof host, port, sizeof port),
               AG_EINVAL);
}

TEST(metrics_render_prometheus_text)
{
    static const char *const names[] = {"unmatched", "health", "actions"};
    struct ag__metrics *m = malloc(sizeof *m);
    ag__metrics_init(m, names, 3);
    ag__metrics_request(m, 1, 200);
    ag__metrics_request(m, 1, 200);
    ag__metrics_request(m, 2, 403);
    ag__metrics_request(m, 2, 418);  /* counted as "other" */
    ag__metrics_request(m, 99, 404); /* unknown route index: unmatched */
    ag__metrics_decision(m, AG_EFFECT_DENY, AG_REASON_LEDGER_UNAVAILABLE);
    ag__metrics_commit(m, 1500000);  /* 1.5 ms */
    ag__metrics_commit(m, 30000000); /* 30 ms */
    struct ag_buf b;
    ag__buf_init(&b);
    ag__metrics_render(m, 3, &b);
    ASSERT_OK(ag__buf_status(&b));
    ASSERT_CONTAINS(b.data, "agentgov_http_requests_total{route=\"health\",code=\"200\"} 2\n");
    ASSERT_CONTAINS(b.data, "agentgov_http_requests_total{route=\"actions\",code=\"403\"} 1\n");
    ASSERT_CONTAINS(b.data, "agentgov_http_requests_total{route=\"actions\",code=\"other\"} 1\n");
    ASSERT_CONTAINS(b.data, "agentgov_http_requests_total{route=\"unmatched\",code=\"404\"} 1\n");
    ASSERT_CONTAINS(b.data, "agentgov_decisions_total{decision=\"deny\",reason="
                            "\"ledger_unavailable\"} 1\n");
    ASSERT_CONTAINS(b.data, "agentgov_ledger_commit_seconds_bucket{le=\"0.001\"} 0\n");
    ASSERT_CONTAINS(b.data, "agentgov_ledger_commit_seconds_bucket{le=\"0.0025\"} 1\n");
    ASSERT_CONTAINS(b.data, "agentgov_ledger_commit_seconds_bucket{le=\"0.025\"} 1\n");
    ASSERT_CONTAINS(b.data, "agentgov_ledger_commit_seconds_bucket{le=\"0.05\"} 2\n");
    ASSERT_CONTAINS(b.data, "agentgov_ledger_commit_seconds_bucket{le=\"+Inf\"} 2\n");
    ASSERT_CONTAINS(b.data, "agentgov_ledger_commit_seconds_count 2\n");
    ASSERT_CONTAINS(b.data, "agentgov_ledger_commit_seconds_sum 0.031500000\n");
    ASSERT_CONTAINS(b.data, "agentgov_ledger_appends_total 2\n");
    ASSERT_CONTAINS(b.data, "# TYPE agentgov_active_agents gauge\nagentgov_active_agents 3\n");
    ag__buf_free(&b);
    free(m);
}

/* ---- policy holder ------------------------------------------------------------------ */

static const char policy_yaml[] = "version: 1\n"
                                  "tiers:\n"
                                  "  0: {name: Observer, token_ttl: 1h, max_ttl: 2h}\n"
                                  "rules:\n"
                                  "  - effect: allow\n"
                                  "    actions: [docs.read]\n"
                                  "    resources: ['**']\n"
                                  "    tiers: [0]\n";

struct reader_ctx {
    struct ag__polref *h;
    _Atomic int stop;
    _Atomic long reads;
    long allowed;
};

static void *reader(void *arg)
{
    struct reader_ctx *c = arg;
    struct ag_request req = {
        .tier = 0, .phase = AG_PHASE_NONE, .action = "docs.read", .resource = "x"};
    while (!c->stop) {
        const ag_policy *p;
        struct ag__polref_node *n = ag__polref_get(c->h, &p);
        struct ag_decision d;
        if (ag_decide(p, &req, &d) == AG_EFFECT_ALLOW)
            c->allowed++;
        ag__polref_put(n);
        c->reads++;
    }
    return NULL;
}

/* Readers decide continuously while the policy is swapped hundreds of times; under
 * ASan/valgrind a use-after-free of a swapped-out policy would show here. */
TEST(polref_swaps_under_concurrent_readers)
{
    struct ag__polref h;
    ag__polref_init(&h);
    ag_policy *first;
    ASSERT_OK(ag_policy_load_string("swap.yaml", policy_yaml, strlen(policy_yaml), &first));
    ag_policy_free(first);
    struct reader_ctx ctx[3] = {{&h, 0, 0, 0}, {&h, 0, 0, 0}, {&h, 0, 0, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, reader, &ctx[i]), 0);
    /* Every reader is running before the swaps start (valgrind serialises threads). */
    for (int i = 0; i < 3; i++)
        while (atomic_load(&ctx[i].reads) == 0)
            sched_yield();
    int failures = 0; /* asserted after the join: a failed assertion jumps out */
    for (int i = 0; i < 300; i++) {
        ag_policy *p = NULL;
        if (i % 5 != 3 && /* every fifth swap installs "no policy" */
            ag_policy_load_string("swap.yaml", policy_yaml, strlen(policy_yaml), &p) != AG_OK)
            failures++;
        struct ag__polref_node *n;
        if (ag__polref_node_new(p, NULL, &n) == AG_OK)
            ag__polref_swap(&h, n);
        else
            failures++;
    }
    for (int i = 0; i < 3; i++)
        atomic_store(&ctx[i].stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    ASSERT_EQ(failures, 0);
    ASSERT_EQ(atomic_load(&h.generation), 300);
    const ag_policy *p;
    struct ag__polref_node *n = ag__polref_get(&h, &p);
    ASSERT_TRUE(p != NULL); /* the last swap (i = 299) installed a policy */
    ag__polref_put(n);
    ag__polref_free(&h);
}

/* ---- log lines ------------------------------------------------------------------------ */

/* Runs fn with stderr redirected to a file and returns what it wrote (static buffer). */
static const char *capture_stderr(void (*fn)(void))
{
    static char out[4096];
    char path[512];
    snprintf(path, sizeof path, "%s/stderr.txt", ag_test_fresh_dir("log"));
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w+");
    dup2(fileno(f), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

static void log_some_json(void)
{
    ag__log_setup(AG_LOG_JSON, AG_LOG_INFO);
    struct ag__log_request lr = {.method = "POST",
                                 .path = "/v1/agents/a \"1\"/actions",
                                 .route = "agent_actions",
                                 .status = 403,
                                 .duration_us = 42,
                                 .remote = "127.0.0.1",
                                 .agent = "a1",
                                 .error = "permission denied"};
    ag__log_request(&lr);
    ag__log(AG_LOG_DEBUG, "hidden", "below the level");
    ag__log(AG_LOG_WARN, "reload", "policy %s rejected", "x.yaml");
}

static void log_some_text(void)
{
    ag__log_setup(AG_LOG_TEXT, AG_LOG_WARN);
    struct ag__log_request lr = {.method = "GET",
                                 .path = "/v1/sys/health",
                                 .route = "sys_health",
                                 .status = 200,
                                 .duration_us = 7,
                                 .remote = "unix"};
    ag__log_request(&lr); /* info: below warn, not written */
    ag__log(AG_LOG_ERROR, "ledger", "cannot open %s", "a b.db");
}

TEST(log_json_lines_one_per_event)
{
    const char *out = capture_stderr(log_some_json);
    /* Two lines: the request and the warning; the debug event is filtered out. */
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    ASSERT_EQ(lines, 2);
    ASSERT_CONTAINS(out, "\"event\":\"request\",\"method\":\"POST\"");
    ASSERT_CONTAINS(out, "\"path\":\"/v1/agents/a \\\"1\\\"/actions\""); /* escaped */
    ASSERT_CONTAINS(out, "\"status\":403");
    ASSERT_CONTAINS(out, "\"agent\":\"a1\"");
    ASSERT_CONTAINS(out, "\"error\":\"permission denied\"");
    ASSERT_CONTAINS(out,
                    "\"level\":\"warn\",\"event\":\"reload\",\"msg\":\"policy x.yaml rejected\"");
    ASSERT_TRUE(strstr(out, "hidden") == NULL);
}

TEST(log_text_lines_and_levels)
{
    const char *out = capture_stderr(log_some_text);
    ASSERT_TRUE(strstr(out, "sys_health") == NULL);
    ASSERT_CONTAINS(out, " error ledger msg=\"cannot open a b.db\"\n");
    ag__log_setup(AG_LOG_TEXT, AG_LOG_INFO);
}

/* A request whose path held a newline (decoded from %0A), a tab, a backslash and a byte
 * that is not UTF-8, in both formats. */
static void log_hostile_path(void)
{
    struct ag__log_request lr = {.method = "GET",
                                 .path = "/v1/x\n2026-12-02T01:00:00.000Z\twarn\trevoke \\ \xff",
                                 .route = "-",
                                 .status = 404,
                                 .duration_us = 1,
                                 .remote = "127.0.0.1",
                                 .error = "no handler for \xff"};
    ag__log_setup(AG_LOG_TEXT, AG_LOG_INFO);
    ag__log_request(&lr);
    ag__log_setup(AG_LOG_JSON, AG_LOG_INFO);
    ag__log_request(&lr);
    ag__log_setup(AG_LOG_TEXT, AG_LOG_INFO);
}

TEST(log_values_cannot_forge_lines_or_drop_them)
{
    const char *out = capture_stderr(log_hostile_path);
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    ASSERT_EQ(lines, 2); /* one per event, and the JSON one is not dropped */
    ASSERT_CONTAINS(out, " path=\"/v1/x%0A2026-12-02T01:00:00.000Z%09warn%09revoke \\\\ %FF\" ");
    ASSERT_CONTAINS(out, "\"path\":\"/v1/x%0A2026-12-02T01:00:00.000Z%09warn%09revoke \\\\ %FF\"");
    ASSERT_CONTAINS(out, "\"error\":\"no handler for %FF\"");
}

TEST(log_option_names)
{
    ASSERT_EQ(ag__log_format_parse("json"), AG_LOG_JSON);
    ASSERT_EQ(ag__log_format_parse("xml"), -1);
    ASSERT_EQ(ag__log_level_parse("warn"), AG_LOG_WARN);
    ASSERT_EQ(ag__log_level_parse("loud"), -1);
}

/* ---- settings ------------------------------------------------------------------------- */

TEST(server_settings_from_the_shared_table)
{
    ag_config *c;
    ASSERT_OK(ag_config_new(&c));
    ASSERT_OK(ag_config_set(c, "listen", "unix:/run/ag.sock"));
    ASSERT_OK(ag_config_set(c, "server.io", "epoll"));
    ASSERT_OK(ag_config_set(c, "server.timeout", "2s"));
    ASSERT_OK(ag_config_set(c, "log_format", "json"));
    ASSERT_ERR(ag_config_set(c, "server.io", "fibers"), AG_EINVAL);
    struct ag__server_config sc;
    ag__server_config_from(c, &sc);
    ag_config_free(c);
    ASSERT_STREQ(sc.listen, "unix:/run/ag.sock");
    ASSERT_EQ(sc.epoll, 1);
    ASSERT_EQ(sc.timeout_ms, 2000);
    ASSERT_EQ(sc.log_json, 1);
    ASSERT_EQ(sc.log_level, AG_LOG_INFO);
    ASSERT_EQ(sc.max_body_bytes, 1048576);
    ASSERT_EQ(sc.max_json_depth, 32);
    ASSERT_EQ(sc.drain_ms, 30000);
    ASSERT_TRUE(sc.gov.lock_ttl_ms > 0);
}

/* ---- refused credentials into the ledger -------------------------------------------- */

struct audit_rows {
    int rows, with_hmac, clear;
    long long suppressed;
};

static int audit_row(void *ctx, int64_t seq, const char *row_json)
{
    (void)seq;
    struct audit_rows *a = ctx;
    a->rows++;
    if (strstr(row_json, "token_hmac") && !strstr(row_json, "\"token_hmac\":null"))
        a->with_hmac++;
    if (strstr(row_json, "agv.secret-token"))
        a->clear++;
    const char *sup = strstr(row_json, "suppressed\":");
    if (sup)
        a->suppressed += atoll(sup + 12);
    return 0;
}

/* A fresh ledger (no checkpoint at close) and an audit on it. */
static ag_ledger *audit_fixture(struct fx *f, const char *label, _Atomic uint64_t *metric,
                                struct ag__audit **a)
{
    fx_init(f, label, 0);
    f->opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(f);
    if (ag__audit_start(l, metric, a) != AG_OK) {
        fprintf(stderr, "audit start: %s\n", ag_last_error());
        abort();
    }
    return l;
}

/* 50 refusals at once: a burst of 20 is recorded one by one (the rate adds maybe one
 * more while the loop runs), the rest is counted and carried by a later entry (the last
 * one, written at stop); every entry has the token's HMAC, none the token. */
TEST(audit_records_refusals_within_its_rate)
{
    struct fx f;
    _Atomic uint64_t metric = 0;
    struct ag__audit *a = NULL;
    ag_ledger *l = audit_fixture(&f, "audit", &metric, &a);
    struct ag__audit_event ev = {.reason = "token_refused",
                                 .method = "GET",
                                 .path = "/v1/auth/token/lookup-self",
                                 .remote = "127.0.0.1",
                                 .token = "agv.secret-token",
                                 .message = "permission denied: invalid token"};
    for (int i = 0; i < 50; i++)
        ag__audit_refusal(a, &ev);
    uint64_t recorded, suppressed;
    ag__audit_counts(a, &recorded, &suppressed);
    ASSERT_TRUE(suppressed >= 25 && suppressed <= 30);
    ASSERT_EQ(atomic_load(&metric), suppressed);
    ag__audit_stop(a);
    struct audit_rows rows = {0};
    struct ag_ledger_filter q = {.kind = "violation"};
    ASSERT_OK(ag_ledger_query(l, &q, audit_row, &rows));
    ASSERT_EQ(rows.rows, (int)(50 - suppressed) + 1); /* + the entry written at stop */
    ASSERT_EQ(rows.suppressed, (long long)suppressed);
    ASSERT_EQ(rows.with_hmac, rows.rows - 1); /* the stop entry names no token */
    ASSERT_EQ(rows.clear, 0);
    ag_ledger_close(l);
}

/* Strings the ledger would refuse (a path that is not UTF-8, a character cut at the
 * buffer's end) are made safe rather than lost; a known agent's entry does not carry
 * the count of refusals left out. */
TEST(audit_keeps_refusals_with_unsafe_paths)
{
    struct fx f;
    struct ag__audit *a = NULL;
    ag_ledger *l = audit_fixture(&f, "audit-utf8", NULL, &a);
    char longpath[700];
    memset(longpath, 'x', sizeof longpath);
    for (size_t i = 1; i + 2 < sizeof longpath; i += 2) /* "x" then "é" (2 bytes) ... */
        memcpy(longpath + i, "\xc3\xa9", 2);
    longpath[sizeof longpath - 1] = '\0';
    struct ag__audit_event bad = {.reason = "token_refused",
                                  .method = "GET",
                                  .path = "/v1/secret/data/\xff\xfe\x01",
                                  .remote = "r",
                                  .token = "t",
                                  .message = "m"};
    struct ag__audit_event cut = bad;
    cut.path = longpath;
    struct ag__audit_event agent = bad;
    agent.agent_id = "agent-b";
    agent.reason = "admin_required";
    ag__audit_refusal(a, &bad);
    ag__audit_refusal(a, &cut);
    ag__audit_refusal(a, &agent);
    ag__audit_stop(a);
    struct audit_rows rows = {0};
    struct ag_ledger_filter q = {.kind = "violation"};
    ASSERT_OK(ag_ledger_query(l, &q, audit_row, &rows));
    ASSERT_EQ(rows.rows, 3);
    struct ag_ledger_filter qa = {.kind = "violation", .agent_id = "agent-b"};
    struct audit_rows arows = {0};
    ASSERT_OK(ag_ledger_query(l, &qa, audit_row, &arows));
    ASSERT_EQ(arows.rows, 1);
    ASSERT_EQ(arows.suppressed, 0);
    ag_ledger_close(l);
    ASSERT_EQ(fx_verify(&f).ok, 1);
}
