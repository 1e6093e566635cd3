/* The LLM client: request building, dispatch (HTTP or replay), the breaker, metering,
 * budgets and the ledger entry of every call. See include/agentgov/llm.h. */
#include "agentgov/llm.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/time.h"
#include "llm/http.h"
#include "llm/price.h"
#include "llm/replay.h"

struct ag_llm {
    char *base_url; /* NULL for replay */
    char *url;      /* {base}/chat/completions */
    char *record_path, *model, *api_key, *referer, *title;
    int64_t connect_timeout_ms, timeout_ms, backoff_ms, backoff_max_ms;
    int retries, log_content;
    ag_breaker *breaker; /* NULL for replay */
    struct ag__llm_prices prices;
    struct ag__llm_replay replay;
    int replaying;
    ag_ledger *ledger;
    ag_gov *gov;
    ag_store *store;
    pthread_mutex_t mu; /* guards the counters */
    struct ag_llm_usage usage;
};

void ag_llm_opts_from_config(const ag_config *cfg, struct ag_llm_opts *o)
{
    memset(o, 0, sizeof *o);
    const char *s;
#define STR_OR_NULL(k) ((s = ag_config_str(cfg, k)) && *s ? s : NULL)
    o->provider = STR_OR_NULL("llm.base_url");
    o->model = STR_OR_NULL("llm.model");
    o->referer = STR_OR_NULL("llm.referer");
    o->title = STR_OR_NULL("llm.title");
    o->prices = STR_OR_NULL("llm.prices");
#undef STR_OR_NULL
    o->connect_timeout_ms = ag_config_ms(cfg, "llm.connect_timeout");
    o->timeout_ms = ag_config_ms(cfg, "llm.timeout");
    o->retries = (int)ag_config_int(cfg, "llm.retries");
    o->backoff_ms = ag_config_ms(cfg, "llm.backoff");
    o->backoff_max_ms = ag_config_ms(cfg, "llm.backoff_max");
    ag_breaker_config_from(cfg, "llm", &o->breaker);
    o->log_content = (int)ag_config_int(cfg, "llm.log_content");
}

ag_err ag_llm_key_resolve(ag_auth *a, const char *token, const char *ref, char **key)
{
    *key = NULL;
    if (!ref || strncmp(ref, "kv:", 3) != 0 || !strchr(ref, '#'))
        return ag__fail(AG_EINVAL, "llm.api_key: expected kv:<path>#<field> (the key is kept in "
                                   "the secret store: agentgov secret put <path> <field>=...)");
    const char *hash = strrchr(ref, '#');
    char path[AG_SECRET_PATH_MAX + 8];
    if ((size_t)(hash - ref - 3) >= sizeof path || hash == ref + 3 || !hash[1])
        return ag__fail(AG_EINVAL, "llm.api_key: '%s': empty or too long path or field", ref);
    memcpy(path, ref + 3, (size_t)(hash - ref - 3));
    path[hash - ref - 3] = '\0';
    struct ag_secret sec;
    memset(&sec, 0, sizeof sec);
    ag_err e = ag_auth_secret_get(a, token, path, 0, &sec);
    if (e)
        return e;
    json_t *o = json_loads(sec.data_json, 0, NULL);
    ag_secret_clear(&sec);
    const char *v = json_string_value(json_object_get(o, hash + 1));
    if (!v || !*v)
        e = ag__fail(AG_ENOTFOUND, "llm.api_key: secret %s has no string field '%s'", path,
                     hash + 1);
    else if (!(*key = strdup(v)))
        e = ag__fail(AG_ENOMEM, "llm: out of memory");
    /* The key's copy inside the parsed secret is wiped before it is freed (jansson
     * hands it out const; the buffer is its own and writable). */
    if (v)
        sodium_memzero((void *)(uintptr_t)v, strlen(v));
    json_decref(o);
    return e;
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

void ag_llm_free(ag_llm *l)
{
    if (!l)
        return;
    free(l->base_url);
    free(l->url);
    free(l->record_path);
    free(l->model);
    if (l->api_key) {
        sodium_memzero(l->api_key, strlen(l->api_key));
        free(l->api_key);
    }
    free(l->referer);
    free(l->title);
    ag__llm_prices_free(&l->prices);
    ag_breaker_free(l->breaker);
    if (l->replaying)
        ag__llm_replay_free(&l->replay);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The model endpoint's breaker opening or closing is a `system` ledger entry
 * (breaker.open / breaker.close, resource "llm"), as the daemon records its own
 * breakers; half-open is a moment and a failed probe the same outage going on.
 * Best effort: a ledger that cannot take it has the per-call entries all the same. */
static void ledger_breaker_change(void *ctx, ag_breaker *b, enum ag_breaker_state from,
                                  enum ag_breaker_state to, const char *why)
{
    struct ag_llm *l = ctx;
    if (to == AG_BREAKER_HALF_OPEN || (to == AG_BREAKER_OPEN && from == AG_BREAKER_HALF_OPEN))
        return;
    json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "dep", ag_breaker_name(b), "from",
                          ag_breaker_state_name(from), "to", ag_breaker_state_name(to), "why",
                          why ? why : "");
    char *dj = NULL;
    if (d == NULL || ag__jcs_dump(d, AG_JCS_NO_FLOATS, &dj) != AG_OK) {
        json_decref(d);
        return;
    }
    json_decref(d);
    struct ag_ledger_entry le = {.kind = "system",
                                 .tier = -1,
                                 .action = to == AG_BREAKER_OPEN ? "breaker.open" : "breaker.close",
                                 .resource = ag_breaker_name(b),
                                 .confidence = -1,
                                 .success = -1,
                                 .data_json = dj};
    if (ag_ledger_append(l->ledger, &le, NULL, NULL) != AG_OK)
        ag_clear_error();
    free(dj);
}

ag_err ag_llm_new(const struct ag_llm_opts *o, ag_llm **out)
{
    *out = NULL;
    if (!o || !o->provider || !*o->provider)
        return ag__fail(AG_EINVAL, "llm: no provider (llm.base_url, or --llm URL|replay:FILE)");
    if (!o->model || !*o->model)
        return ag__fail(AG_EINVAL, "llm: no model (llm.model, or --model)");
    if (!o->ledger)
        return ag__fail(AG_EINVAL, "llm: a ledger is required (no unaudited calls)");
    if (o->gov && !o->store)
        return ag__fail(AG_EINVAL, "llm: metering with a gov handle needs its store");
    int replay = strncmp(o->provider, "replay:", 7) == 0;
    if (!replay && strncmp(o->provider, "http://", 7) != 0 &&
        strncmp(o->provider, "https://", 8) != 0)
        return ag__fail(AG_EINVAL,
                        "llm: provider '%s': expected http(s)://HOST/... or "
                        "replay:FILE",
                        o->provider);
    ag_llm *l = calloc(1, sizeof *l);
    if (!l)
        return ag__fail(AG_ENOMEM, "llm: out of memory");
    pthread_mutex_init(&l->mu, NULL);
    int oom = 0;
    l->model = dup_or_null(o->model, &oom);
    l->record_path = dup_or_null(o->record_path, &oom);
    l->api_key = dup_or_null(o->api_key, &oom);
    l->referer = dup_or_null(o->referer, &oom);
    l->title = dup_or_null(o->title, &oom);
    if (!replay) {
        size_t n = strlen(o->provider);
        while (n > 0 && o->provider[n - 1] == '/')
            n--;
        l->base_url = strndup(o->provider, n);
        if (l->base_url && asprintf(&l->url, "%s/chat/completions", l->base_url) < 0)
            l->url = NULL;
        oom |= !l->url;
    }
    if (oom) {
        ag_llm_free(l);
        return ag__fail(AG_ENOMEM, "llm: out of memory");
    }
    l->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    l->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 120000;
    l->retries = o->retries > 0 ? o->retries : 0;
    l->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 500;
    l->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000;
    l->log_content = o->log_content;
    l->ledger = o->ledger;
    l->gov = o->gov;
    l->store = o->store;
    ag_err e = ag__llm_prices_parse(o->prices, &l->prices);
    if (!e && replay) {
        e = ag__llm_replay_load(o->provider + 7, &l->replay);
        l->replaying = !e;
    } else if (!e) {
        struct ag_breaker_config bc = o->breaker;
        if (bc.probes == 0 && bc.failures == 0 && bc.ratio_pct == 0)
            ag_breaker_config_default(&bc);
        e = ag_breaker_new("llm", &bc, &l->breaker);
        if (!e && l->ledger)
            ag_breaker_on_change(l->breaker, ledger_breaker_change, l);
    }
    if (e) {
        ag_llm_free(l);
        return e;
    }
    *out = l;
    return AG_OK;
}

void ag_llm_result_clear(struct ag_llm_result *r)
{
    if (!r)
        return;
    free(r->message_json);
    free(r->finish_reason);
    memset(r, 0, sizeof *r);
}

ag_err ag_llm_request_digest(const char *body_json, char out[65])
{
    json_t *v = json_loads(body_json, 0, NULL);
    char *canon = NULL;
    ag_err e = v ? ag__jcs_dump(v, 0, &canon) : ag__fail(AG_EPARSE, "llm: request is not JSON");
    json_decref(v);
    if (e)
        return e;
    ag__sha256_hex(canon, strlen(canon), out);
    free(canon);
    return AG_OK;
}

void ag_llm_usage_total(ag_llm *l, struct ag_llm_usage *u)
{
    pthread_mutex_lock(&l->mu);
    *u = l->usage;
    pthread_mutex_unlock(&l->mu);
}

const char *ag_llm_breaker_state(ag_llm *l)
{
    if (!l->breaker)
        return "closed";
    struct ag_breaker_stats st;
    ag_breaker_stats(l->breaker, &st);
    return ag_breaker_state_name(st.state);
}

/* ------------------------------------------------------------------ one call ---- */

static int id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 128)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '@' || *p == '-'))
            return 0;
    return 1;
}

/* The agent's llm_budget from its stored packet; zeros when none (or no gov). */
static ag_err agent_budget(ag_llm *l, const char *agent_id, struct ag_llm_budget *b)
{
    memset(b, 0, sizeof *b);
    if (!l->gov)
        return AG_OK;
    char key[160], *json = NULL;
    snprintf(key, sizeof key, "agent:%s:packet", agent_id);
    ag_err e = ag_store_get(l->store, key, &json);
    if (e || !json)
        return e;
    ag_packet *p;
    e = ag_packet_parse(json, strlen(json), &p);
    free(json);
    if (e)
        return e;
    *b = ag_packet_llm_budget(p);
    ag_packet_free(p);
    return AG_OK;
}

/* The agent's usage so far from agent:{id}:llm. */
static ag_err agent_spent(ag_llm *l, const char *agent_id, int64_t *tokens, int64_t *cost)
{
    *tokens = *cost = 0;
    char key[160];
    snprintf(key, sizeof key, "agent:%s:llm", agent_id);
    struct ag_store_op ops[3] = {{AG_OP_HGET, key, "prompt_tokens"},
                                 {AG_OP_HGET, key, "completion_tokens"},
                                 {AG_OP_HGET, key, "cost_microusd"}};
    struct ag_store_reply r[3];
    ag_err e = ag_store_exec(l->store, NULL, ops, 3, r, NULL);
    if (!e) {
        for (int i = 0; i < 3; i++) {
            int64_t v = r[i].type == AG_REPLY_STR ? strtoll(r[i].str, NULL, 10) : 0;
            if (i < 2)
                *tokens += v;
            else
                *cost = v;
        }
    }
    ag_store_reply_free(r, 3);
    return e;
}

/* Adds one call to agent:{id}:llm and task:{id}:llm in one atomic exec; returns the
 * agent's new totals. The counters are durable history of the task (no TTL). */
static ag_err meter(ag_llm *l, const struct ag_llm_call *c, const struct ag_llm_result *r,
                    int64_t *tokens, int64_t *cost)
{
    char ak[160], tk[160];
    snprintf(ak, sizeof ak, "agent:%s:llm", c->agent_id);
    snprintf(tk, sizeof tk, "task:%s:llm", c->task_id ? c->task_id : "");
    struct ag_store_op ops[8];
    size_t n = 0;
    for (int k = 0; k < (c->task_id ? 2 : 1); k++) {
        const char *key = k ? tk : ak;
        ops[n++] = (struct ag_store_op){AG_OP_HINCRBY, key, "calls", NULL, 1, 0};
        ops[n++] =
            (struct ag_store_op){AG_OP_HINCRBY, key, "prompt_tokens", NULL, r->prompt_tokens, 0};
        ops[n++] = (struct ag_store_op){AG_OP_HINCRBY,        key, "completion_tokens", NULL,
                                        r->completion_tokens, 0};
        ops[n++] =
            (struct ag_store_op){AG_OP_HINCRBY, key, "cost_microusd", NULL, r->cost_microusd, 0};
    }
    struct ag_store_reply rep[8];
    ag_err e = ag_store_exec(l->store, NULL, ops, n, rep, NULL);
    if (!e) {
        *tokens = rep[1].integer + rep[2].integer;
        *cost = rep[3].integer;
    }
    ag_store_reply_free(rep, n);
    return e;
}

/* The request body: model, messages, tools, response_format, stream false. */
static ag_err build_body(ag_llm *l, const struct ag_llm_call *c, char **body)
{
    json_error_t je;
    json_t *msgs = json_loads(c->messages_json, 0, &je);
    if (!json_is_array(msgs)) {
        json_decref(msgs);
        return ag__fail(AG_EINVAL, "llm: messages: expected a JSON array of messages");
    }
    /* Loaded first: json_is_array evaluates its argument twice. */
    json_t *tools = c->tools_json ? json_loads(c->tools_json, 0, &je) : NULL;
    if (c->tools_json && !json_is_array(tools)) {
        json_decref(msgs);
        json_decref(tools);
        return ag__fail(AG_EINVAL, "llm: tools: expected a JSON array of tool definitions");
    }
    json_t *o = json_pack("{s:s,s:o,s:b}", "model", l->model, "messages", msgs, "stream", 0);
    if (o && tools && json_array_size(tools))
        json_object_set(o, "tools", tools);
    if (o && c->json_mode)
        json_object_set_new(o, "response_format", json_pack("{s:s}", "type", "json_object"));
    json_decref(tools);
    ag_err e = o ? ag__jcs_dump(o, 0, body) : ag__fail(AG_ENOMEM, "llm: out of memory");
    json_decref(o);
    return e;
}

/* Reads the answer: choices[0].message, finish_reason, usage. */
static ag_err parse_answer(ag_llm *l, const char *text, struct ag_llm_result *r)
{
    json_t *o = json_loads(text ? text : "", 0, NULL);
    json_t *ch = json_array_get(json_object_get(o, "choices"), 0);
    json_t *msg = json_object_get(ch, "message");
    if (!json_is_object(msg)) {
        json_decref(o);
        return ag__fail(AG_EPARSE, "llm: the answer has no choices[0].message object (not a "
                                   "chat completion)");
    }
    json_t *u = json_object_get(o, "usage");
    r->prompt_tokens = json_integer_value(json_object_get(u, "prompt_tokens"));
    r->completion_tokens = json_integer_value(json_object_get(u, "completion_tokens"));
    if (r->prompt_tokens < 0 || r->completion_tokens < 0)
        r->prompt_tokens = r->completion_tokens = 0;
    const char *fr = json_string_value(json_object_get(ch, "finish_reason"));
    r->finish_reason = strdup(fr ? fr : "");
    r->message_json = json_dumps(msg, JSON_COMPACT);
    r->cost_microusd = ag__llm_cost(&l->prices, l->model, r->prompt_tokens, r->completion_tokens);
    json_decref(o);
    if (!r->finish_reason || !r->message_json)
        return ag__fail(AG_ENOMEM, "llm: out of memory");
    return AG_OK;
}

struct call_log {
    const char *outcome; /* "ok", "refused", "failed" */
    const char *error_type;
    const char *error_message;
    const char *req_digest, *body, *answer;
    int64_t spent_tokens, spent_cost;
};

static ag_err ledger_call(ag_llm *l, const struct ag_llm_call *c, struct ag_llm_result *r,
                          const struct call_log *g)
{
    json_t *d =
        json_pack("{s:s,s:s,s:I,s:I,s:I,s:i}", "model", l->model, "provider",
                  l->replaying ? "replay" : "http", "prompt_tokens", (json_int_t)r->prompt_tokens,
                  "completion_tokens", (json_int_t)r->completion_tokens, "cost_microusd",
                  (json_int_t)r->cost_microusd, "attempts", r->attempts);
    if (!d)
        return ag__fail(AG_ENOMEM, "llm: out of memory");
    if (g->req_digest)
        json_object_set_new(d, "request_sha256", json_string(g->req_digest));
    if (g->answer) {
        char dg[AG_SHA256_HEX_LEN];
        ag__sha256_hex(g->answer, strlen(g->answer), dg);
        json_object_set_new(d, "response_sha256", json_string(dg));
    }
    if (r->finish_reason)
        json_object_set_new(d, "finish_reason", json_string(r->finish_reason));
    if (l->gov) {
        json_object_set_new(d, "agent_tokens", json_integer(g->spent_tokens));
        json_object_set_new(d, "agent_cost_microusd", json_integer(g->spent_cost));
    }
    if (l->log_content && g->body)
        json_object_set_new(d, "request", json_loads(g->body, 0, NULL));
    if (l->log_content && g->answer)
        json_object_set_new(d, "response", json_loads(g->answer, 0, NULL));
    char *dj = NULL;
    ag_err e = ag__jcs_dump(d, AG_JCS_NO_FLOATS, &dj);
    json_decref(d);
    if (e)
        return e;
    int ok = strcmp(g->outcome, "ok") == 0;
    struct ag_ledger_entry le = {.kind = "llm",
                                 .agent_id = c->agent_id,
                                 .task_id = c->task_id,
                                 .tier = -1,
                                 .action = "llm.chat",
                                 .resource = l->model,
                                 .decision = strcmp(g->outcome, "refused") == 0 ? "deny" : NULL,
                                 .reason = g->outcome,
                                 .confidence = -1,
                                 .success = ok,
                                 .error_type = g->error_type,
                                 .error_message = g->error_message,
                                 .data_json = dj};
    e = ag_ledger_append(l->ledger, &le, &r->ledger_seq, NULL);
    free(dj);
    return e;
}

static void count(ag_llm *l, const struct ag_llm_result *r, int failed)
{
    pthread_mutex_lock(&l->mu);
    if (failed) {
        l->usage.failures++;
    } else {
        l->usage.calls++;
        l->usage.prompt_tokens += r->prompt_tokens;
        l->usage.completion_tokens += r->completion_tokens;
        l->usage.cost_microusd += r->cost_microusd;
    }
    pthread_mutex_unlock(&l->mu);
}

/* Records a call that did not produce an answer and returns its error (the ledger's
 * own failure wins: then nothing about the call is known durably). */
static ag_err refuse(ag_llm *l, const struct ag_llm_call *c, struct ag_llm_result *r,
                     struct call_log *g, ag_err why)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ag_last_error());
    g->error_type = ag_errname(why);
    g->error_message = msg;
    count(l, r, 1);
    ag_err e = ledger_call(l, c, r, g);
    ag_llm_result_clear(r);
    if (e)
        return e;
    return ag__fail(why, "%s", msg);
}

ag_err ag_llm_chat(ag_llm *l, const struct ag_llm_call *c, struct ag_llm_result *r)
{
    memset(r, 0, sizeof *r);
    if (!l || !c || !id_ok(c->agent_id) || (c->task_id && !id_ok(c->task_id)) || !c->messages_json)
        return ag__fail(AG_EINVAL, "llm: a call needs a valid agent id, task id and messages");
    struct call_log g = {.outcome = "refused"};
    struct ag_llm_budget b;
    ag_err e = agent_budget(l, c->agent_id, &b);
    if (!e && l->gov && (b.max_tokens || b.max_cost_microusd))
        e = agent_spent(l, c->agent_id, &g.spent_tokens, &g.spent_cost);
    if (e) /* fail closed: a budget that cannot be read is not a budget that allows */
        return refuse(l, c, r, &g, e);
    if ((b.max_tokens && g.spent_tokens >= b.max_tokens) ||
        (b.max_cost_microusd && g.spent_cost >= b.max_cost_microusd)) {
        (void)ag__fail(AG_ELIMIT,
                       "llm: agent %s has spent its llm_budget (%lld tokens, %lld "
                       "micro-USD)",
                       c->agent_id, (long long)g.spent_tokens, (long long)g.spent_cost);
        return refuse(l, c, r, &g, AG_ELIMIT);
    }
    char *body = NULL, digest[65] = "";
    if ((e = build_body(l, c, &body)))
        return e;
    ag__sha256_hex(body, strlen(body), digest);
    g.req_digest = digest;
    g.body = body;
    struct ag_breaker_call bcall;
    memset(&bcall, 0, sizeof bcall);
    if (l->breaker && !ag_breaker_allow(l->breaker, &bcall)) {
        (void)ag__fail(AG_ESTATE, "llm: %s: %s", l->base_url, bcall.why);
        e = refuse(l, c, r, &g, AG_ESTATE);
        free(body);
        return e;
    }
    g.outcome = "failed";
    char *answer = NULL;
    if (l->replaying) {
        e = ag__llm_replay_next(&l->replay, digest, c->agent_id, &answer);
    } else {
        struct ag__llm_http_req q = {l->url,
                                     body,
                                     l->api_key,
                                     l->referer,
                                     l->title,
                                     l->connect_timeout_ms,
                                     l->timeout_ms,
                                     l->retries,
                                     l->backoff_ms,
                                     l->backoff_max_ms,
                                     c->deadline_mono_ms};
        /* The caller's deadline bounds each attempt (a task's --timeout). */
        int64_t left = c->deadline_mono_ms ? c->deadline_mono_ms - ag__mono_ms() : 0;
        if (c->deadline_mono_ms && left < q.timeout_ms)
            q.timeout_ms = left > 1 ? left : 1;
        if (c->deadline_mono_ms && left < q.connect_timeout_ms)
            q.connect_timeout_ms = left > 1 ? left : 1;
        struct ag__llm_http_res hr;
        e = ag__llm_http_post(&q, &hr);
        r->attempts = hr.attempts;
        answer = hr.body;
        /* Only the dependency's own failures trip the breaker: a 4xx is our request. */
        ag_breaker_done(l->breaker, &bcall, !(e == AG_EIO || e == AG_ETIMEOUT),
                        e ? ag_last_error() : NULL);
        if (e) {
            free(answer);
            answer = NULL;
        }
    }
    if (!e)
        e = parse_answer(l, answer, r);
    if (e) {
        g.answer = answer;
        e = refuse(l, c, r, &g, e);
        free(answer);
        free(body);
        return e;
    }
    g.outcome = "ok";
    g.answer = answer;
    if (l->record_path && !l->replaying)
        e = ag__llm_record(l->record_path, digest, c->agent_id, body, answer);
    if (!e && l->gov)
        e = meter(l, c, r, &g.spent_tokens, &g.spent_cost);
    if (!e) {
        count(l, r, 0);
        e = ledger_call(l, c, r, &g);
    }
    free(answer);
    free(body);
    if (e) {
        ag_llm_result_clear(r);
        return e;
    }
    if ((b.max_tokens && g.spent_tokens >= b.max_tokens) ||
        (b.max_cost_microusd && g.spent_cost >= b.max_cost_microusd)) {
        char det[200];
        snprintf(det, sizeof det, "llm budget exhausted: %lld/%lld tokens, %lld/%lld micro-USD",
                 (long long)g.spent_tokens, (long long)b.max_tokens, (long long)g.spent_cost,
                 (long long)b.max_cost_microusd);
        ag_err re = ag_gov_revoke(l->gov, c->agent_id, "budget_exhausted", det);
        r->revoked = re == AG_OK || re == AG_EREVOKED;
        if (!r->revoked) {
            ag_llm_result_clear(r);
            return re;
        }
    }
    return AG_OK;
}
