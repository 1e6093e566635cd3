/* Governance endpoints: the governed lifecycle (bootstrap, transitions, heartbeats,
 * errors, the authorize hot path, handoffs), agent status, and the ledger. An agent's
 * token decides who it is: an agent acts only as itself. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/jcs.h"
#include "core/safestr.h"
#include "core/time.h"
#include "server/handlers.h"

/* ---- shared helpers ------------------------------------------------------------- */

void ag__reply_ag_error(struct ag__req *r, ag_err e, const char *what)
{
    const char *detail = ag_last_error();
    int status;
    switch (e) {
    case AG_EPERM:
    case AG_EEXPIRED:
    case AG_EREVOKED:
        /* Vault's wording, which clients match on. */
        if (strncmp(detail, "permission denied", 17) == 0)
            ag__reply_error(r, 403, "%s", detail);
        else
            ag__reply_error(r, 403, "permission denied: %s%s%s", what, detail[0] ? ": " : "",
                            detail);
        return;
    case AG_ENOTFOUND:
        status = 404;
        break;
    case AG_EINVAL:
    case AG_EPARSE:
    case AG_ECONFLICT:
    case AG_ELIMIT:
        status = 400;
        break;
    case AG_EEXIST:
    case AG_ESTATE:
    case AG_ELOCKED:
        status = 409;
        break;
    case AG_ESTORE:
    case AG_ELEDGER:
    case AG_EREADONLY:
    case AG_ENOSPACE:
    case AG_EIO:
        status = 503;
        break;
    default:
        status = 500;
    }
    if (detail[0])
        ag__reply_error(r, status, "%s: %s: %s", what, ag_strerror(e), detail);
    else
        ag__reply_error(r, status, "%s: %s", what, ag_strerror(e));
}

ag_gov *ag__req_gov(struct ag__req *r)
{
    if (!r->pol) {
        const ag_policy *p;
        r->pol = ag__polref_get(&r->srv->policy, &p);
    }
    ag_gov *g = ag__polref_gov(r->pol);
    if (!g)
        ag__reply_error(r, 503, "the lifecycle is unavailable: %s",
                        !r->srv->ledger  ? "ledger_unavailable"
                        : !r->srv->store ? "store_unavailable"
                                         : "no_policy");
    return g;
}

int ag__req_self(struct ag__req *r, const char *id, int admin_ok)
{
    if (strcmp(r->tok.agent_id, id) == 0 || (admin_ok && r->admin))
        return 1;
    ag__reply_error(r, 403, "permission denied: this token belongs to agent '%s', not '%s'",
                    r->tok.agent_id, id);
    return ag__req_refused(r, r->tok.agent_id, "other_agent");
}

int ag__query_int(struct ag__req *r, const char *name, int64_t def, int64_t max, int64_t *out)
{
    const char *v = ag__req_query(r, name);
    *out = def;
    if (!v || !*v)
        return 1;
    /* Digits only: strtoll alone would take " 5", "+5" and "-0", and clamp an
     * overflow to its maximum. */
    char *end = NULL;
    errno = 0;
    long long n = v[0] >= '0' && v[0] <= '9' ? strtoll(v, &end, 10) : -1;
    if (n < 0 || *end || errno || n > max) {
        ag__reply_error(r, 400, "%s must be an integer from 0 to %lld", name, (long long)max);
        return 0;
    }
    *out = n;
    return 1;
}

/* The start every agent endpoint shares: the path's {id}, which the token must own (or,
 * with admin_ok, an admin token), the JSON body when body is not NULL, and the
 * lifecycle. NULL when it has already replied (403, 400, 503). */
static ag_gov *agent_endpoint(struct ag__req *r, int admin_ok, const char **id, json_t **body)
{
    *id = ag__route_capture(&r->m, "id");
    if (body && !(*body = ag__req_json(r)))
        return NULL;
    if (!ag__req_self(r, *id, admin_ok))
        return NULL;
    return ag__req_gov(r);
}

static const char *str_field(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Replies {"data": data}. */
static void reply_data(struct ag__req *r, int status, json_t *data)
{
    ag__reply_json(r, status, data ? json_pack("{s:o}", "data", data) : NULL);
}

/* A refusal or failure of a lifecycle step keeps Vault's error shape and also says
 * what happened in data. */
static void reply_refusal(struct ag__req *r, int status, const char *message, json_t *data)
{
    /* A detail cut to its buffer may end mid-character: made safe as ag__reply_error's. */
    ag__utf8_safe_copy(r->error, sizeof r->error, message);
    ag__reply_json(r, status, json_pack("{s:[s], s:o}", "errors", r->error, "data", data));
}

/* ---- registration (agentgov extension, admin) ------------------------------------- */

void ag__h_agent_register(struct ag__req *r)
{
    const char *id = ag__route_capture(&r->m, "id");
    json_t *b = ag__req_json(r);
    ag_gov *g = b ? ag__req_gov(r) : NULL;
    if (!g)
        return;
    json_t *tier = json_object_get(b, "tier");
    if (!json_is_integer(tier) || json_integer_value(tier) < 0 || json_integer_value(tier) > 4) {
        ag__reply_error(r, 400, "tier must be an integer from 0 to 4");
        return;
    }
    json_t *packet = json_object_get(b, "packet");
    if (packet && !json_is_object(packet)) {
        ag__reply_error(r, 400, "packet must be an instruction packet object");
        return;
    }
    char *pj = packet ? json_dumps(packet, JSON_COMPACT) : NULL;
    ag_err e = ag_gov_register(g, id, (int)json_integer_value(tier), pj);
    free(pj);
    if (e) {
        ag__reply_ag_error(r, e, "register");
        return;
    }
    reply_data(r, 200, json_pack("{s:s, s:I}", "agent_id", id, "tier", json_integer_value(tier)));
}

/* ---- bootstrap ------------------------------------------------------------------- */

static int boot_status(enum ag_boot_code c)
{
    switch (c) {
    case AG_BOOT_COMPLETE:
        return 200;
    case AG_BOOT_PREVIOUSLY_REVOKED:
        return 403;
    case AG_BOOT_NO_PACKET:
        return 412;
    case AG_BOOT_STORE_UNAVAILABLE:
    case AG_BOOT_LEDGER_UNAVAILABLE:
        return 503;
    default:
        return 409;
    }
}

void ag__h_agent_bootstrap(struct ag__req *r)
{
    const char *id;
    json_t *b;
    ag_gov *g = agent_endpoint(r, 0, &id, &b);
    if (!g)
        return;
    json_t *task = json_object_get(b, "task_id");
    if (task && !json_is_string(task)) {
        ag__reply_error(r, 400, "task_id must be a string");
        return;
    }
    struct ag_bootstrap_result br = {0};
    ag_err e = ag_gov_bootstrap(g, id, json_string_value(task), &br);
    if (e) {
        ag__reply_ag_error(r, e, "bootstrap");
        return;
    }
    json_t *handoff = NULL;
    if (br.handoff_json)
        handoff = json_loads(br.handoff_json, 0, NULL);
    const char *code = ag_boot_code_name(br.code);
    json_t *data = json_pack("{s:s, s:s?, s:i, s:I, s:o}", "code", code, "task_id", br.task_id,
                             "tier", br.tier, "fence", (json_int_t)br.fence, "handoff",
                             handoff ? handoff : json_null());
    int status = boot_status(br.code);
    ag_bootstrap_result_clear(&br);
    if (status == 200)
        reply_data(r, 200, data);
    else
        reply_refusal(r, status, code, data);
}

/* ---- transitions, heartbeats, errors ---------------------------------------------- */

static int transition_status(const struct ag_transition_result *t)
{
    if (t->ok)
        return 200;
    if (t->reason == AG_REASON_STORE_UNAVAILABLE || t->reason == AG_REASON_LEDGER_UNAVAILABLE)
        return 503;
    return 409;
}

static void reply_transition(struct ag__req *r, const struct ag_transition_result *t, json_t *extra)
{
    json_t *data = json_pack("{s:b, s:s, s:b, s:b}", "ok", t->ok, "reason",
                             t->ok ? "" : ag_reason_name(t->reason), "violation", t->violation,
                             "revoked", t->revoked);
    if (data && extra)
        json_object_update(data, extra);
    json_decref(extra);
    if (t->ok) {
        reply_data(r, 200, data);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", ag_reason_name(t->reason), t->detail);
    reply_refusal(r, transition_status(t), msg, data);
}

void ag__h_agent_transition(struct ag__req *r)
{
    const char *id;
    json_t *b;
    ag_gov *g = agent_endpoint(r, 0, &id, &b);
    if (!g)
        return;
    const char *phase = str_field(b, "phase");
    enum ag_phase ph;
    if (!phase || ag_phase_parse(phase, &ph) != AG_OK) {
        ag__reply_error(r, 400,
                        "phase must be one of BOOTSTRAP PREFLIGHT PLAN EXECUTE VERIFY "
                        "PACKAGE REPORT EXIT");
        return;
    }
    json_t *step = json_object_get(b, "step");
    if (step && !json_is_string(step)) {
        ag__reply_error(r, 400, "step must be a string");
        return;
    }
    struct ag_transition_result t = {0};
    ag_err e = ag_gov_transition(g, id, ph, json_string_value(step), &t);
    if (e) {
        ag__reply_ag_error(r, e, "transition");
        return;
    }
    reply_transition(r, &t, json_pack("{s:s}", "phase", ag_phase_name(ph)));
}

void ag__h_agent_heartbeat(struct ag__req *r)
{
    const char *id;
    ag_gov *g = agent_endpoint(r, 0, &id, NULL);
    if (!g)
        return;
    struct ag_transition_result t = {0};
    ag_err e = ag_gov_heartbeat(g, id, &t);
    if (e) {
        ag__reply_ag_error(r, e, "heartbeat");
        return;
    }
    reply_transition(r, &t, NULL);
}

void ag__h_agent_errors(struct ag__req *r)
{
    const char *id;
    json_t *b;
    ag_gov *g = agent_endpoint(r, 0, &id, &b);
    if (!g)
        return;
    const char *type = str_field(b, "error_type");
    json_t *msg = json_object_get(b, "message");
    if (!type || !*type || (msg && !json_is_string(msg))) {
        ag__reply_error(r, 400, "error_type must be a non-empty string and message a string");
        return;
    }
    struct ag_transition_result t = {0};
    ag_err e = ag_gov_record_error(g, id, type, json_string_value(msg), &t);
    if (e) {
        ag__reply_ag_error(r, e, "record error");
        return;
    }
    reply_transition(r, &t, json_pack("{s:s}", "error_type", type));
}

/* ---- the hot path: authorize and record -------------------------------------------- */

/* Counts a decision of the hot path. ledger_ok feeds the health check: sealed while
 * appends fail, open again after the next committed one. */
static void count_decision(struct ag__srv *s, const struct ag_gov_decision *d, int64_t ns)
{
    struct ag__metrics *m = &s->metrics;
    if (d->ledger_seq > 0) {
        ag__metrics_commit(m, ns);
        if (!atomic_load_explicit(&s->ledger_ok, memory_order_relaxed))
            atomic_store(&s->ledger_ok, 1);
    } else if (d->reason == AG_REASON_LEDGER_UNAVAILABLE) {
        atomic_fetch_add_explicit(&m->ledger_errors, 1, memory_order_relaxed);
        atomic_store(&s->ledger_ok, 0);
    }
    if (d->reason == AG_REASON_STORE_UNAVAILABLE)
        atomic_fetch_add_explicit(&m->store_errors, 1, memory_order_relaxed);
    ag__metrics_decision(m, d->effect, d->reason);
}

/* Reads {"action", "resource", "confidence"?}; replies 400 and returns 0 when wrong. */
static int action_request(struct ag__req *r, json_t *b, const char **action, const char **resource,
                          int *confidence)
{
    *action = str_field(b, "action");
    *resource = str_field(b, "resource");
    if (!*action || !*resource) {
        ag__reply_error(r, 400, "%s must be a string", *action ? "resource" : "action");
        return 0;
    }
    json_t *conf = json_object_get(b, "confidence");
    *confidence = -1;
    if (!conf || json_is_null(conf))
        return 1;
    if (!json_is_integer(conf) || json_integer_value(conf) < 0 || json_integer_value(conf) > 1000) {
        ag__reply_error(r, 400, "confidence must be an integer per mille (0 to 1000)");
        return 0;
    }
    *confidence = (int)json_integer_value(conf);
    return 1;
}

/* The reply of the hot path, written directly rather than through a JSON tree (it was
 * a tenth of the daemon's CPU per action): only the rule's file name is free text, and
 * it goes through the JCS string escaper. */
static void reply_decision(struct ag__req *r, const struct ag_gov_decision *d,
                           const struct ag_approve_result *ar)
{
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_printf(&b, "{\"data\":{\"decision\":\"%s\",\"allow\":%s,\"reason\":\"%s\",\"tier\":%d,",
                   ag_effect_name(d->effect), d->effect == AG_EFFECT_ALLOW ? "true" : "false",
                   ag_reason_name(d->reason), d->tier);
    if (d->phase == AG_PHASE_NONE)
        ag__buf_puts(&b, "\"phase\":null,\"rule\":");
    else
        ag__buf_printf(&b, "\"phase\":\"%s\",\"rule\":", ag_phase_name(d->phase));
    ag_err e = AG_OK;
    if (d->rule_file) {
        char rule[PATH_MAX + 32];
        int n = snprintf(rule, sizeof rule, "%s:%d", d->rule_file, d->rule_line);
        e = ag__jcs_string(&b, rule, (size_t)(n < (int)sizeof rule ? n : (int)sizeof rule - 1));
    } else {
        ag__buf_puts(&b, "null");
    }
    ag__buf_printf(&b, ",\"ledger_seq\":%lld,\"revoked\":%s", (long long)d->ledger_seq,
                   d->revoked ? "true" : "false");
    if (ar && ar->approval_id[0])
        ag__approval_reply_fields(&b, ar);
    ag__buf_puts(&b, "}}\n");
    if (e || ag__buf_status(&b) != AG_OK) {
        ag__buf_free(&b);
        ag__reply_error(r, 500, "cannot write the decision");
        return;
    }
    size_t len = b.len;
    ag__reply_raw(r, 200, "application/json", ag__buf_take(&b), len);
}

/* The hot path: the lifecycle decides with the agent's tier, phase and packet, commits
 * the decision to the ledger, and only then is it answered. Without a lifecycle handle
 * (ledger, store or policy missing) the answer is deny with that reason. */
void ag__h_agent_actions(struct ag__req *r)
{
    const char *id = ag__route_capture(&r->m, "id");
    json_t *b = ag__req_json(r);
    const char *action, *resource;
    int confidence;
    if (!b || !ag__req_self(r, id, 0) || !action_request(r, b, &action, &resource, &confidence))
        return;
    struct ag_gov_decision d = {.tier = -1, .phase = AG_PHASE_NONE};
    int64_t t0 = ag__mono_ns();
    if (!r->pol) {
        const ag_policy *p;
        r->pol = ag__polref_get(&r->srv->policy, &p);
    }
    ag_gov *g = ag__polref_gov(r->pol);
    struct ag_approve_result ar;
    memset(&ar, 0, sizeof ar);
    if (g && r->srv->approve) {
        /* Every action goes through the approvals module: an ask becomes a pending
         * approval, a retry with "approval_id" spends its grant. */
        if (!ag__approval_authorize(r, g, id, b, action, resource, confidence, &ar))
            return;
        d = ar.d;
    } else if (g) {
        ag_gov_authorize(g, id, action, resource, confidence, &d);
    } else {
        d.effect = AG_EFFECT_DENY;
        d.reason = !r->srv->ledger  ? AG_REASON_LEDGER_UNAVAILABLE
                   : !r->srv->store ? AG_REASON_STORE_UNAVAILABLE
                                    : AG_REASON_NO_POLICY;
    }
    count_decision(r->srv, &d, ag__mono_ns() - t0);
    reply_decision(r, &d, &ar);
}

/* ---- status ------------------------------------------------------------------------ */

void ag__h_agent_get(struct ag__req *r)
{
    const char *id;
    ag_gov *g = agent_endpoint(r, 1, &id, NULL);
    if (!g)
        return;
    struct ag_agent_status st = {0};
    ag_err e = ag_gov_status(g, id, &st);
    if (e) {
        ag__reply_ag_error(r, e, "agent status");
        return;
    }
    if (!st.registered) {
        ag_agent_status_clear(&st);
        ag__reply_error(r, 404, "agent '%s' is not registered", id);
        return;
    }
    json_t *state = st.state_json ? json_loads(st.state_json, 0, NULL) : NULL;
    json_t *data = json_pack("{s:s, s:b, s:i, s:o, s:b, s:s?, s:I, s:I, s:b}", "agent_id", id,
                             "registered", 1, "tier", st.tier, "state", state ? state : json_null(),
                             "locked", st.lock != NULL, "heartbeat", st.heartbeat, "total_errors",
                             (json_int_t)st.total_errors, "procedure_violations",
                             (json_int_t)st.procedure_violations, "revoked", st.revoked);
    ag_agent_status_clear(&st);
    struct ag_agent_metrics am;
    if (data && ag_gov_metrics(g, id, &am) == AG_OK)
        json_object_set_new(data, "metrics",
                            json_pack("{s:i, s:I, s:I, s:I, s:s}", "current_tier", am.current_tier,
                                      "total_runs", (json_int_t)am.total_runs, "compliant_runs",
                                      (json_int_t)am.compliant_runs, "consecutive_compliant",
                                      (json_int_t)am.consecutive_compliant, "last_active_at",
                                      am.last_active_at));
    reply_data(r, 200, data);
}

void ag__h_agents_list(struct ag__req *r)
{
    ag_gov *g = ag__req_gov(r);
    if (!g)
        return;
    char **ids;
    size_t n;
    ag_err e = ag_gov_list(g, &ids, &n);
    if (e) {
        ag__reply_ag_error(r, e, "list agents");
        return;
    }
    json_t *keys = json_array();
    for (size_t i = 0; keys && i < n; i++)
        json_array_append_new(keys, json_string(ids[i]));
    ag_store_strv_free(ids, n);
    reply_data(r, 200, keys ? json_pack("{s:o}", "keys", keys) : NULL);
}

/* ---- handoffs ---------------------------------------------------------------------- */

/* 1 when the task is the one the caller was bootstrapped for (the task_id of its state),
 * or the caller is an administrator. previous_agent_id is only the writer's own claim:
 * without this, any agent could overwrite any task's handoff. Otherwise replies 403,
 * ledgered as other_agent, and returns 0. */
static int handoff_own_task(struct ag__req *r, ag_gov *g, const char *task)
{
    if (r->admin)
        return 1;
    struct ag_agent_status st = {0};
    ag_err e = ag_gov_status(g, r->tok.agent_id, &st);
    if (e) {
        ag__reply_ag_error(r, e, "handoff");
        return 0;
    }
    json_t *state = st.state_json ? json_loads(st.state_json, 0, NULL) : NULL;
    const char *own = str_field(state, "task_id");
    int mine = own && strcmp(own, task) == 0;
    json_decref(state);
    ag_agent_status_clear(&st);
    if (mine)
        return 1;
    ag__reply_error(r, 403,
                    "permission denied: task '%s' is not the task agent '%s' was bootstrapped for",
                    task, r->tok.agent_id);
    return ag__req_refused(r, r->tok.agent_id, "other_agent");
}

/* The previous agent (while its token lives, and only for the task it was bootstrapped
 * for) or an administrator writes a task's handoff; the path's task must be the
 * handoff's. */
void ag__h_task_handoff_write(struct ag__req *r)
{
    const char *task = ag__route_capture(&r->m, "id");
    json_t *b = ag__req_json(r);
    if (!b)
        return;
    const char *tid = str_field(b, "task_id"), *prev = str_field(b, "previous_agent_id");
    if (!tid || strcmp(tid, task) != 0) {
        ag__reply_error(r, 400, "handoff: task_id must equal the path's task '%s'", task);
        return;
    }
    if (!prev || !ag__req_self(r, prev, 1)) {
        if (!prev)
            ag__reply_error(r, 400, "handoff: previous_agent_id: expected string");
        return;
    }
    ag_gov *g = ag__req_gov(r);
    if (!g || !handoff_own_task(r, g, task))
        return;
    char *text = json_dumps(b, JSON_COMPACT);
    ag_err e = text ? ag_gov_write_handoff(g, text) : AG_ENOMEM;
    free(text);
    if (e) {
        ag__reply_ag_error(r, e, "handoff");
        return;
    }
    reply_data(r, 200, json_pack("{s:s, s:b}", "task_id", task, "written", 1));
}

void ag__h_task_handoff_read(struct ag__req *r)
{
    const char *task = ag__route_capture(&r->m, "id");
    ag_gov *g = ag__req_gov(r);
    if (!g)
        return;
    char *json = NULL;
    ag_err e = ag_gov_read_handoff(g, task, &json);
    if (e) {
        ag__reply_ag_error(r, e, "handoff");
        return;
    }
    json_t *h = json ? json_loads(json, 0, NULL) : NULL;
    free(json);
    if (!h) {
        ag__reply_error(r, 404, "task '%s' has no handoff", task);
        return;
    }
    reply_data(r, 200, h);
}

/* ---- the ledger -------------------------------------------------------------------- */

struct query_ctx {
    json_t *rows;
    int64_t last;
};

static int collect_row(void *ctx, int64_t seq, const char *row_json)
{
    struct query_ctx *q = ctx;
    json_t *row = json_loads(row_json, 0, NULL);
    if (row)
        json_array_append_new(q->rows, row);
    q->last = seq;
    return 0;
}

static int time_param(struct ag__req *r, const char *name, int64_t *out)
{
    const char *v = ag__req_query(r, name);
    *out = 0;
    if (!v || !*v)
        return 1;
    if (ag__parse_rfc3339(v, out) == AG_OK)
        return 1;
    ag__reply_error(r, 400, "%s must be an RFC 3339 timestamp, got '%s'", name, v);
    return 0;
}

/* Paginated: ?after=SEQ&limit=N (max 1000) gives the next page; the reply's
 * data.next is the `after` of the following page (null at the end). A token that is
 * not an administrator's sees only its own agent's entries. */
void ag__h_ledger_query(struct ag__req *r)
{
    struct ag__srv *s = r->srv;
    if (!s->ledger) {
        ag__reply_error(r, 503, "ledger_unavailable");
        return;
    }
    struct ag_ledger_filter f = {0};
    f.agent_id = ag__req_query(r, "agent");
    f.task_id = ag__req_query(r, "task");
    f.kind = ag__req_query(r, "kind");
    if (!r->admin) {
        if (f.agent_id && strcmp(f.agent_id, r->tok.agent_id) != 0) {
            ag__reply_error(r, 403,
                            "permission denied: a tier-4 or root token is needed to "
                            "read another agent's entries");
            (void)ag__req_refused(r, r->tok.agent_id, "other_agent");
            return;
        }
        f.agent_id = r->tok.agent_id;
    }
    const char *order = ag__req_query(r, "order");
    f.descending = order && strcmp(order, "desc") == 0;
    if (!time_param(r, "since", &f.since_ms) || !time_param(r, "until", &f.until_ms) ||
        !ag__query_int(r, "after", 0, INT64_MAX, &f.after_seq) ||
        !ag__query_int(r, "limit", 100, 1000, &f.limit))
        return;
    if (f.limit == 0)
        f.limit = 100;
    struct query_ctx q = {json_array(), 0};
    ag_err e = q.rows ? ag_ledger_query(s->ledger, &f, collect_row, &q) : AG_ENOMEM;
    if (e) {
        json_decref(q.rows);
        ag__reply_ag_error(r, e, "ledger query");
        return;
    }
    int more = (int64_t)json_array_size(q.rows) == f.limit && !f.descending;
    reply_data(r, 200,
               json_pack("{s:o, s:o}", "entries", q.rows, "next",
                         more ? json_integer(q.last) : json_null()));
}

void ag__h_ledger_verify(struct ag__req *r)
{
    char db[PATH_MAX + 16];
    if (r->srv->home)
        snprintf(db, sizeof db, "%s", ag_home_path(r->srv->home, AG_HOME_LEDGER_DB));
    else
        snprintf(db, sizeof db, "%s/ledger.db", r->srv->dir);
    struct ag_verify_result v;
    memset(&v, 0, sizeof v);
    ag_err e = ag_ledger_verify(db, NULL, &v);
    if (e) {
        ag__reply_ag_error(r, e, "ledger verify");
        return;
    }
    reply_data(r, 200,
               json_pack("{s:b, s:I, s:I, s:I, s:s, s:I, s:b, s:s}", "ok", v.ok, "entries",
                         (json_int_t)v.entries, "checkpoints", (json_int_t)v.checkpoints,
                         "newest_checkpoint", (json_int_t)v.newest_checkpoint, "head", v.head,
                         "bad_seq", (json_int_t)v.bad_seq, "whole_ledger", v.whole_ledger,
                         "problem", v.problem));
}
