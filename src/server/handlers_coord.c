/* Coordination over HTTP, so that agents written in any language can take part in a
 * task's blackboard, messages and votes, and an administrator can run a task with
 * governed LLM agents: docs/coordination.md. Writes are made as the caller's token's
 * agent and authorized through the lifecycle like any action (a refusal is 403 with
 * the decision). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agentgov/coord.h"
#include "agentgov/llm.h"
#include "server/handlers.h"

/* The task's coordination handle for this request (the request's lifecycle), or NULL
 * after replying. */
static ag_coord *req_coord(struct ag__req *r, const char **task)
{
    *task = ag__route_capture(&r->m, "id");
    ag_gov *g = ag__req_gov(r);
    if (!g)
        return NULL;
    ag_coord *c = NULL;
    ag_err e = ag_coord_new(r->srv->store, g, r->srv->ledger, 0, &c);
    if (e) {
        ag__reply_ag_error(r, e, "coordination");
        return NULL;
    }
    return c;
}

static json_t *decision_json(const struct ag_gov_decision *d)
{
    return json_pack("{s:s,s:s,s:I,s:b}", "decision",
                     d->effect == AG_EFFECT_ALLOW ? "allow"
                     : d->effect == AG_EFFECT_ASK ? "ask"
                                                  : "deny",
                     "reason", ag_reason_name(d->reason), "ledger_seq", (json_int_t)d->ledger_seq,
                     "revoked", d->revoked);
}

/* A write's outcome: 200 {"data": extra + decision}, or 403 with the decision, or the
 * error's status. */
static void reply_write(struct ag__req *r, ag_err e, const struct ag_gov_decision *d, json_t *extra)
{
    json_t *data = extra ? extra : json_object();
    json_object_set_new(data, "decision", decision_json(d));
    if (!e) {
        ag__reply_json(r, 200, json_pack("{s:o}", "data", data));
        return;
    }
    if (e == AG_EPERM) {
        snprintf(r->error, sizeof r->error, "permission denied: %s", ag_last_error());
        ag__reply_json(r, 403, json_pack("{s:[s],s:o}", "errors", r->error, "data", data));
        return;
    }
    json_decref(data);
    ag__reply_ag_error(r, e, "coordination");
}

void ag__h_bb_read(struct ag__req *r)
{
    const char *task;
    ag_coord *c = req_coord(r, &task);
    if (!c)
        return;
    char *json = NULL;
    ag_err e = ag_coord_bb_read(c, task, ag__route_capture(&r->m, "section"), &json);
    ag_coord_free(c);
    if (e) {
        ag__reply_ag_error(r, e, "blackboard");
        return;
    }
    json_t *o = json_loads(json, 0, NULL);
    free(json);
    ag__reply_json(r, 200, json_pack("{s:{s:o}}", "data", "entries", o ? o : json_object()));
}

void ag__h_bb_write(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    const char *task;
    ag_coord *c = b ? req_coord(r, &task) : NULL;
    if (!c)
        return;
    json_t *v = json_object_get(b, "value");
    const char *entry = json_string_value(json_object_get(b, "entry"));
    if (!entry || !v) {
        ag_coord_free(c);
        ag__reply_error(r, 400, "body: expected {\"entry\": NAME, \"value\": JSON}");
        return;
    }
    char *vt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    struct ag_gov_decision d = {.effect = AG_EFFECT_DENY, .reason = AG_REASON_INVALID_REQUEST};
    ag_err e = vt ? ag_coord_bb_write(c, r->tok.agent_id, task, ag__route_capture(&r->m, "section"),
                                      entry, vt, &d)
                  : AG_ENOMEM;
    free(vt);
    ag_coord_free(c);
    reply_write(r, e, &d, NULL);
}

void ag__h_messages_read(struct ag__req *r)
{
    const char *task;
    int64_t after;
    if (!ag__query_int(r, "after", 0, INT64_MAX, &after))
        return;
    ag_coord *c = req_coord(r, &task);
    if (!c)
        return;
    /* An agent reads its own channel and the broadcasts; an administrator every channel
     * (or one agent's with ?agent=). */
    const char *who = r->admin ? ag__req_query(r, "agent") : r->tok.agent_id;
    if (who && !*who)
        who = NULL;
    struct ag_coord_msg *m = NULL;
    size_t n = 0;
    ag_err e = ag_coord_recv(c, task, who, after, &m, &n);
    ag_coord_free(c);
    if (e) {
        ag__reply_ag_error(r, e, "messages");
        return;
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *ct = json_loads(m[i].content_json, JSON_DECODE_ANY, NULL);
        json_array_append_new(a, json_pack("{s:I,s:s,s:s,s:s,s:o,s:I}", "seq", (json_int_t)m[i].seq,
                                           "from", m[i].from, "to", m[i].to, "type", m[i].type,
                                           "content", ct ? ct : json_null(), "ts_ms",
                                           (json_int_t)m[i].ts_ms));
    }
    ag_coord_msgs_free(m, n);
    ag__reply_json(r, 200, json_pack("{s:{s:o}}", "data", "messages", a));
}

void ag__h_messages_send(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    const char *task;
    ag_coord *c = b ? req_coord(r, &task) : NULL;
    if (!c)
        return;
    json_t *ct = json_object_get(b, "content");
    char *cs = ct ? json_dumps(ct, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    struct ag_gov_decision d = {.effect = AG_EFFECT_DENY, .reason = AG_REASON_INVALID_REQUEST};
    int64_t seq = 0;
    ag_err e = ag_coord_send(c, r->tok.agent_id, task, json_string_value(json_object_get(b, "to")),
                             json_string_value(json_object_get(b, "type")), cs, &seq, &d);
    free(cs);
    ag_coord_free(c);
    reply_write(r, e, &d, e ? NULL : json_pack("{s:I}", "seq", (json_int_t)seq));
}

void ag__h_votes_cast(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    const char *task;
    ag_coord *c = b ? req_coord(r, &task) : NULL;
    if (!c)
        return;
    int v = ag_vote_parse(json_string_value(json_object_get(b, "vote")));
    if (v < 0) {
        ag_coord_free(c);
        ag__reply_error(r, 400, "vote: expected ACCEPT, REJECT or ABSTAIN");
        return;
    }
    struct ag_gov_decision d = {.effect = AG_EFFECT_DENY, .reason = AG_REASON_INVALID_REQUEST};
    ag_err e = ag_coord_vote(c, r->tok.agent_id, task, (enum ag_vote)v,
                             json_string_value(json_object_get(b, "reasoning")), &d);
    ag_coord_free(c);
    reply_write(r, e, &d, NULL);
}

/* The tally with the consensus rule applied for ?required=a,b (default: every agent
 * that voted). */
void ag__h_votes_read(struct ag__req *r)
{
    const char *task;
    ag_coord *c = req_coord(r, &task);
    if (!c)
        return;
    char buf[1024];
    const char *req[16];
    size_t n = 0;
    const char *q = ag__req_query(r, "required");
    snprintf(buf, sizeof buf, "%s", q ? q : "");
    for (char *sv, *t = strtok_r(buf, ",", &sv); t && n < 16; t = strtok_r(NULL, ",", &sv))
        req[n++] = t;
    struct ag_consensus cs;
    ag_err e = ag_coord_consensus(c, task, req, n, &cs);
    ag_coord_free(c);
    if (e) {
        ag__reply_ag_error(r, e, "votes");
        return;
    }
    json_t *votes = json_loads(cs.votes_json, 0, NULL);
    json_t *data = json_pack("{s:o,s:b,s:s,s:i,s:i,s:i,s:s,s:s}", "votes",
                             votes ? votes : json_object(), "reached", cs.reached, "reason",
                             cs.reason, "accept", cs.accept, "reject", cs.reject, "abstain",
                             cs.abstain, "missing", cs.missing, "rejected_by", cs.rejected_by);
    ag_consensus_clear(&cs);
    ag__reply_json(r, 200, json_pack("{s:o}", "data", data));
}

/* Runs a task to its end (admin): {"objective", "llm"?, "model"?, "agents"?: [..],
 * "timeout_ms"?, "max_turns"?, "max_tokens"?, "no_gamma"?, "ask_timeout_ms"?}. The model settings
 * default to the daemon's llm.* configuration; the API key is read from the secret store with the
 * caller's own token. */
void ag__h_orchestrate(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    const char *task;
    ag_coord *c = b ? req_coord(r, &task) : NULL;
    if (!c)
        return;
    const ag_config *cfg = NULL;
    struct ag_llm_opts lo;
    memset(&lo, 0, sizeof lo);
    if (ag_home_config(r->srv->home, &cfg) == AG_OK)
        ag_llm_opts_from_config(cfg, &lo);
    const char *s;
    if ((s = json_string_value(json_object_get(b, "llm"))))
        lo.provider = s;
    if ((s = json_string_value(json_object_get(b, "model"))))
        lo.model = s;
    lo.ledger = r->srv->ledger;
    lo.gov = ag__req_gov(r);
    lo.store = r->srv->store;
    char *key = NULL;
    ag_err e = AG_OK;
    const char *ref = cfg ? ag_config_str(cfg, "llm.api_key") : NULL;
    if (ref && *ref && lo.provider && strncmp(lo.provider, "replay:", 7) != 0)
        e = r->srv->auth ? ag_llm_key_resolve(r->srv->auth, r->token, ref, &key) : AG_EUNSUPPORTED;
    lo.api_key = key;
    ag_llm *llm = NULL;
    if (!e)
        e = ag_llm_new(&lo, &llm);
    if (key) {
        sodium_memzero(key, strlen(key));
        free(key);
    }
    if (e) {
        ag_coord_free(c);
        ag__reply_ag_error(r, e, "llm");
        return;
    }
    struct ag_orch_opts o;
    memset(&o, 0, sizeof o);
    const char *roles[3];
    json_t *ag = json_object_get(b, "agents");
    for (size_t i = 0; json_is_array(ag) && i < json_array_size(ag) && i < 3; i++)
        roles[o.nagents++] = json_string_value(json_array_get(ag, i)) ?: "";
    o.agents = o.nagents ? roles : NULL;
    o.objective = json_string_value(json_object_get(b, "objective"));
    o.task_id = task;
    o.llm = llm;
    o.coord = c;
    o.gov = lo.gov;
    o.ledger = r->srv->ledger;
    o.store = r->srv->store;
    o.timeout_ms = json_integer_value(json_object_get(b, "timeout_ms"));
    o.max_turns = (int)json_integer_value(json_object_get(b, "max_turns"));
    o.max_tokens_per_agent = json_integer_value(json_object_get(b, "max_tokens"));
    o.no_gamma = json_is_true(json_object_get(b, "no_gamma"));
    /* Asks wait for a person, decided through /v1/approvals like any other. */
    if (r->srv->approve && r->pol) {
        o.approve = r->srv->approve;
        o.policy = ag__polref_policy(r->pol);
    }
    o.ask_timeout_ms = json_integer_value(json_object_get(b, "ask_timeout_ms"));
    if (o.ask_timeout_ms <= 0 && cfg)
        o.ask_timeout_ms = ag_config_ms(cfg, "orchestrate.ask_timeout");
    struct ag_orch_result res;
    e = ag_orchestrate(&o, &res);
    char *js = NULL;
    if (!e)
        e = ag_orch_result_json(&res, &js);
    if (!e)
        ag__metrics_orchestration(&r->srv->metrics, res.outcome, res.gamma_reason, res.llm_calls,
                                  res.prompt_tokens + res.completion_tokens, res.cost_microusd);
    ag_orch_result_clear(&res);
    ag_llm_free(llm);
    ag_coord_free(c);
    if (e) {
        ag__reply_ag_error(r, e, "orchestrate");
        return;
    }
    json_t *data = json_loads(js, 0, NULL);
    free(js);
    ag__reply_json(r, 200, json_pack("{s:o}", "data", data ? data : json_object()));
}
