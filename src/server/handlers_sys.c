/* System endpoints: health (Vault's shape and codes), Prometheus metrics, and the
 * OPA-style decision endpoint. */
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "server/handlers.h"
#include "server/otel_feed.h"

#define AG__SERVER_VERSION "0.1.0"

ag_err ag__srv_ledger_append(struct ag__srv *s, const struct ag_ledger_entry *e, int64_t *seq)
{
    if (!s->ledger)
        return ag__fail(AG_ELEDGER, "the ledger could not be opened at start");
    int64_t t0 = ag__mono_ns();
    ag_err err = ag_ledger_append(s->ledger, e, seq, NULL);
    if (err) {
        atomic_fetch_add_explicit(&s->metrics.ledger_errors, 1, memory_order_relaxed);
        atomic_store(&s->ledger_ok, 0);
        return err;
    }
    ag__metrics_commit(&s->metrics, ag__mono_ns() - t0);
    if (!atomic_load_explicit(&s->ledger_ok, memory_order_relaxed))
        atomic_store(&s->ledger_ok, 1);
    return AG_OK;
}

/* ---- health ------------------------------------------------------------------------ */

static int query_code(struct ag__req *r, const char *name, int def)
{
    const char *v = ag__req_query(r, name);
    if (!v || !*v)
        return def;
    int code = atoi(v);
    return code >= 100 && code <= 599 ? code : def;
}

/* Per-component detail from the health manager: {"store": {"status": "ok", ...}}. */
static json_t *components_json(struct ag__srv *s)
{
    json_t *o = json_object();
    if (s->res.health == NULL)
        return o;
    struct ag_health_component comp[32];
    size_t n = ag_health_snapshot(s->res.health, comp, 32);
    for (size_t i = 0; i < n && i < 32; i++) {
        char since[AG_RFC3339_LEN];
        ag__rfc3339(comp[i].since_ms, since);
        json_t *c = json_pack("{s:s, s:s, s:b, s:s}", "status",
                              ag_health_status_name(comp[i].report.status), "detail",
                              comp[i].report.detail, "critical", comp[i].critical, "since", since);
        for (int g = 0; c && g < comp[i].report.ngauges; g++)
            json_object_set_new(c, comp[i].report.gauges[g].name,
                                json_real(comp[i].report.gauges[g].value));
        if (c)
            json_object_set_new(o, comp[i].name, c);
    }
    return o;
}

/* Vault answers 200 when initialized, unsealed and active, 501 when not initialized
 * and 503 when sealed. agentgov is "sealed" when it would deny everything: no
 * policy, or the ledger or the store unavailable (a critical component down).
 * ?ready is readiness: 200 only when decisions can be made, else 503. ?live is
 * liveness: 200 while the main loop runs its health checks, 503 when they stalled. */
void ag__h_health(struct ag__req *r)
{
    struct ag__srv *s = r->srv;
    const ag_policy *p;
    struct ag__polref_node *n = ag__polref_get(&s->policy, &p);
    int policy_ok = p != NULL;
    ag__polref_put(n);
    int ledger_ok = s->ledger && atomic_load(&s->ledger_ok);
    int store_ok = atomic_load_explicit(&s->store_ok, memory_order_relaxed);
    int ready = 1;
    enum ag_health_status overall = AG_HEALTH_OK;
    if (s->res.health)
        overall = ag_health_overall(s->res.health, &ready);
    int initialized = s->ledger != NULL;
    int sealed = !(policy_ok && ledger_ok && store_ok && ready);
    int64_t checked = atomic_load(&s->res.checked_ms);
    int64_t age = checked ? ag__mono_ms() - checked : 0;
    int live = age < 15000;
    int code;
    if (ag__req_query(r, "live"))
        code = live ? 200 : 503;
    else if (ag__req_query(r, "ready"))
        code = initialized && !sealed ? 200 : 503;
    else
        code = !initialized ? query_code(r, "uninitcode", 501)
               : sealed     ? query_code(r, "sealedcode", 503)
                            : query_code(r, "activecode", 200);
    json_t *body = json_pack(
        "{s:b, s:b, s:b, s:b, s:s, s:s, s:I, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:b, s:b, "
        "s:o}}",
        "initialized", initialized, "sealed", sealed, "standby", 0, "performance_standby", 0,
        "replication_performance_mode", "disabled", "replication_dr_mode", "disabled",
        "server_time_utc", (json_int_t)(ag__wall_ms() / 1000), "version", AG__SERVER_VERSION,
        "cluster_name", "agentgov", "cluster_id", "agentgov-local", "agentgov", "policy",
        policy_ok ? "ok" : "missing", "ledger", ledger_ok ? "ok" : "unavailable", "store",
        store_ok ? "ok" : "unavailable", "status", ag_health_status_name(overall), "ready",
        initialized && !sealed, "live", live, "components", components_json(s));
    ag__reply_json(r, code, body);
}

/* ---- metrics ------------------------------------------------------------------------ */

static int64_t count_active_agents(struct ag__srv *s)
{
    if (!s->store)
        return -1;
    char **keys;
    size_t n;
    if (ag_store_keys(s->store, "agent:", &keys, &n) != AG_OK) {
        atomic_fetch_add_explicit(&s->metrics.store_errors, 1, memory_order_relaxed);
        return -1;
    }
    int64_t active = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(keys[i]);
        if (len > 5 && strcmp(keys[i] + len - 5, ":lock") == 0)
            active++;
    }
    ag_store_strv_free(keys, n);
    return active;
}

void ag__h_metrics(struct ag__req *r)
{
    struct ag_buf out;
    ag__buf_init(&out);
    ag__metrics_render(&r->srv->metrics, count_active_agents(r->srv), &out);
    struct ag_notify_stats ns;
    if (r->srv->notify && ag_notify_stats(r->srv->notify, &ns) == AG_OK)
        ag__buf_printf(&out,
                       "# HELP agentgov_notify_sent_total Notifications delivered (2xx).\n"
                       "# TYPE agentgov_notify_sent_total counter\n"
                       "agentgov_notify_sent_total %llu\n"
                       "# HELP agentgov_notify_failed_attempts_total Delivery attempts that "
                       "failed (retried or dead).\n"
                       "# TYPE agentgov_notify_failed_attempts_total counter\n"
                       "agentgov_notify_failed_attempts_total %llu\n"
                       "# HELP agentgov_notify_dead Deliveries dead after their last attempt "
                       "(agentgov notify list --dead).\n"
                       "# TYPE agentgov_notify_dead gauge\n"
                       "agentgov_notify_dead %zu\n"
                       "# HELP agentgov_notify_pending Deliveries waiting in the outbox.\n"
                       "# TYPE agentgov_notify_pending gauge\n"
                       "agentgov_notify_pending %zu\n",
                       (unsigned long long)ns.sent, (unsigned long long)ns.failed_attempts,
                       ns.dead_total, ns.pending);
    ag__resilience_metrics(r->srv, &out);
    ag__otel_metrics(r->srv, &out);
    if (ag__buf_status(&out) != AG_OK) {
        ag__buf_free(&out);
        ag__reply_error(r, 500, "out of memory");
        return;
    }
    size_t len = out.len;
    ag__reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", ag__buf_take(&out), len);
}

/* ---- OPA-style decision --------------------------------------------------------------- */

/* Reads an optional array of strings; *v points into the JSON (valid while it lives).
 * Returns 0 and replies 400 on a wrong type. */
static int string_array(struct ag__req *r, json_t *in, const char *key, const char **v, size_t max,
                        size_t *n)
{
    json_t *a = json_object_get(in, key);
    *n = 0;
    if (!a || json_is_null(a))
        return 1;
    if (!json_is_array(a) || json_array_size(a) > max) {
        ag__reply_error(r, 400, "input.%s must be an array of at most %zu strings", key, max);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        v[i] = json_string_value(json_array_get(a, i));
        if (!v[i]) {
            ag__reply_error(r, 400, "input.%s[%zu] must be a string", key, i);
            return 0;
        }
    }
    *n = json_array_size(a);
    return 1;
}

#define AG__MAX_GLOBS 64

struct opa_input {
    struct ag_request req;
    const char *scope[AG__MAX_GLOBS];
    const char *forbidden[AG__MAX_GLOBS];
};

static int parse_opa_input(struct ag__req *r, json_t *in, struct opa_input *o)
{
    memset(o, 0, sizeof *o);
    json_t *tier = json_object_get(in, "tier");
    if (!json_is_integer(tier) || json_integer_value(tier) < AG_TIER_MIN ||
        json_integer_value(tier) > AG_TIER_MAX) {
        ag__reply_error(r, 400, "input.tier must be an integer from 0 to 4");
        return 0;
    }
    o->req.tier = (int)json_integer_value(tier);
    o->req.action = json_string_value(json_object_get(in, "action"));
    o->req.resource = json_string_value(json_object_get(in, "resource"));
    if (!o->req.action || !o->req.resource) {
        ag__reply_error(r, 400, "input.%s must be a string", o->req.action ? "resource" : "action");
        return 0;
    }
    o->req.phase = AG_PHASE_NONE;
    json_t *ph = json_object_get(in, "phase");
    if (ph && !json_is_null(ph)) {
        if (!json_is_string(ph) || ag_phase_parse(json_string_value(ph), &o->req.phase)) {
            ag__reply_error(r, 400,
                            "input.phase must be one of BOOTSTRAP PREFLIGHT PLAN "
                            "EXECUTE VERIFY PACKAGE REPORT EXIT");
            return 0;
        }
    }
    if (!string_array(r, in, "scope", o->scope, AG__MAX_GLOBS, &o->req.nscope) ||
        !string_array(r, in, "forbidden", o->forbidden, AG__MAX_GLOBS, &o->req.nforbidden))
        return 0;
    o->req.scope = o->req.nscope ? o->scope : NULL;
    o->req.forbidden = o->req.nforbidden ? o->forbidden : NULL;
    return 1;
}

/* A decision, as the JSON object every endpoint returns. */
json_t *ag__decision_json(const struct ag_decision *d)
{
    json_t *o = json_pack("{s:s, s:b, s:s, s:i}", "decision", ag_effect_name(d->effect), "allow",
                          d->effect == AG_EFFECT_ALLOW, "reason", ag_reason_name(d->reason), "tier",
                          d->tier);
    if (!o)
        return NULL;
    json_object_set_new(
        o, "phase", d->phase == AG_PHASE_NONE ? json_null() : json_string(ag_phase_name(d->phase)));
    if (d->rule_file) {
        char rule[1024];
        snprintf(rule, sizeof rule, "%s:%d", d->rule_file, d->rule_line);
        json_object_set_new(o, "rule", json_string(rule));
    } else {
        json_object_set_new(o, "rule", json_null());
    }
    return o;
}

/* OPA's data API shape: {"input": {...}} → {"result": {...}, "decision_id": "..."}.
 * The decision is recorded in the ledger (kind "decision") before it is returned; if
 * it cannot be, the answer is deny with ledger_unavailable. */
void ag__h_opa_decision(struct ag__req *r)
{
    json_t *body = ag__req_json(r);
    if (!body)
        return;
    json_t *in = json_object_get(body, "input");
    if (!json_is_object(in)) {
        ag__reply_error(r, 400, "body must be {\"input\": {...}}");
        return;
    }
    struct opa_input o;
    if (!parse_opa_input(r, in, &o))
        return;
    struct ag_decision d;
    const ag_policy *p;
    struct ag__polref_node *pn = ag__polref_get(&r->srv->policy, &p);
    ag_decide(p, &o.req, &d);
    ag__polref_put(pn); /* d.rule_file may point into p: format it before the put */
    char rule[512] = "";
    if (d.rule_file)
        snprintf(rule, sizeof rule, "%s:%d", d.rule_file, d.rule_line);
    char id[37];
    ag__uuid4(id);
    json_t *data = json_pack("{s:s, s:s, s:s}", "decision_id", id, "source", "opa", "rule", rule);
    char *data_text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    struct ag_ledger_entry e = {.kind = "decision",
                                .tier = o.req.tier,
                                .phase = o.req.phase == AG_PHASE_NONE ? NULL
                                                                      : ag_phase_name(o.req.phase),
                                .action = o.req.action,
                                .resource = o.req.resource,
                                .decision = ag_effect_name(d.effect),
                                .reason = ag_reason_name(d.reason),
                                .confidence = -1,
                                .success = -1,
                                .data_json = data_text};
    ag_err err = ag__srv_ledger_append(r->srv, &e, NULL);
    free(data_text);
    if (err) {
        d.effect = AG_EFFECT_DENY;
        d.reason = AG_REASON_LEDGER_UNAVAILABLE;
        d.rule_file = NULL;
        rule[0] = '\0';
    }
    ag__metrics_decision(&r->srv->metrics, d.effect, d.reason);
    d.rule_file = NULL;
    json_t *res = ag__decision_json(&d);
    if (res && rule[0])
        json_object_set_new(res, "rule", json_string(rule));
    ag__reply_json(r, 200, json_pack("{s:o, s:s}", "result", res, "decision_id", id));
}
