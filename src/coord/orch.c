/* The orchestrator: set-up of the task and its agents, the planner's estimate, the
 * monitor of the spawn conditions, GAMMA, the consensus, the metrics. See
 * include/agentgov/coord.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "coord/coord_int.h"
#include "coord/orch_int.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"

static const char *const spawn_names[] = {
#define AG__SPAWN_NAME(n) #n,
    AG_SPAWN_MAP(AG__SPAWN_NAME)
#undef AG__SPAWN_NAME
};

const char *ag_spawn_reason_name(enum ag_spawn_reason r)
{
    return (unsigned)r < sizeof spawn_names / sizeof spawn_names[0] ? spawn_names[r] : "?";
}

void ag_orch_result_clear(struct ag_orch_result *r)
{
    if (!r)
        return;
    free(r->final_json);
    memset(r, 0, sizeof *r);
}

/* The packet of one agent: its scope is this task's coordination resources. */
static char *agent_packet(const struct ag__orch *o, const char *id)
{
    char now[40];
    ag__rfc3339(ag__wall_ms(), now);
    json_t *p =
        json_pack("{s:s,s:s,s:s,s:s,s:[s],s:[],s:{s:[s,s,s,s,s],s:[],s:[]},s:[s],s:[s],s:s}",
                  "agent_id", id, "task_id", o->task, "created_for", "agentgov orchestrate",
                  "objective", o->opts->objective, "deliverables", "blackboard consensus",
                  /* The consensus is the team's, recorded by the orchestrator at the end:
                   * no one agent must hold it when it leaves EXECUTE. */
                  "required_artifacts", "constraints", "scope", "blackboard/**", "msg/**",
                  "votes/**", "workdir/**", "artifacts/**", "forbidden", "required_steps",
                  "success_criteria", "consensus reached", "escalation_rules",
                  "no consensus: the task ends no_consensus", "created_at", now);
    json_t *fb = json_object_get(json_object_get(p, "constraints"), "forbidden");
    for (size_t i = 0; fb && i < o->opts->nforbidden; i++)
        json_array_append_new(fb, json_string(o->opts->forbidden[i]));
    if (p && o->opts->max_tokens_per_agent > 0)
        json_object_set_new(
            p, "llm_budget",
            json_pack("{s:I}", "max_tokens", (json_int_t)o->opts->max_tokens_per_agent));
    char *s = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    return s;
}

ag_err ag__orch_start_agent(struct ag__orch *o, const char *role, enum ag_spawn_reason why)
{
    if (o->nruns >= AG__ORCH_MAX_AGENTS)
        return ag__fail(AG_ELIMIT, "orchestrate: at most %d agents", AG__ORCH_MAX_AGENTS);
    struct ag__agent_run *run = &o->runs[o->nruns];
    memset(run, 0, sizeof *run);
    run->o = o;
    snprintf(run->role, sizeof run->role, "%s", role);
    ag__orch_agent_id(o, role, run->id, sizeof run->id);
    char *pkt = agent_packet(o, run->id);
    if (!pkt)
        return ag__fail(AG_ENOMEM, "orchestrate: out of memory");
    run->tier = o->opts->tier > 0 ? o->opts->tier : 1;
    ag_err e = ag_gov_register(o->opts->gov, run->id, run->tier, pkt);
    free(pkt);
    if (e)
        return e;
    struct ag_bootstrap_result b;
    if ((e = ag_gov_bootstrap(o->opts->gov, run->id, o->task, &b)))
        return e;
    enum ag_boot_code code = b.code;
    ag_bootstrap_result_clear(&b);
    if (code != AG_BOOT_COMPLETE)
        return ag__fail(AG_ESTATE, "orchestrate: %s did not bootstrap: %s", run->id,
                        ag_boot_code_name(code));
    if (why != AG_SPAWN_NONE) {
        o->spawn_reason = why;
        char res[AG__COORD_KEY_MAX];
        snprintf(res, sizeof res, "agent/%s/spawn/%s", run->id, ag_spawn_reason_name(why));
        if ((e = ag__coord_ledger(o->opts->coord, o->task, "agent.spawn", res)))
            return e;
    }
    if (pthread_create(&run->thread, NULL, ag__orch_agent_main, run) != 0)
        return ag__fail(AG_EINTERNAL, "orchestrate: cannot start a thread for %s", run->id);
    run->started = 1;
    o->nruns++;
    return AG_OK;
}

/* The planner's estimate: one JSON-mode model call (metered as planner@task), its
 * complexity written to problem/constraints. An estimate that cannot be had is -1:
 * COMPLEXITY then does not fire, the task goes on. */
static void plan(struct ag__orch *o)
{
    o->complexity_pm = -1;
    char sys[] = "You are PLANNER. Estimate the task. Answer one JSON object: {\"complexity\": "
                 "a number from 0 to 1, \"needs_validation\": true|false, \"constraints\": "
                 "[strings]}.";
    json_t *m = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", sys, "role", "user",
                          "content", o->opts->objective);
    char *mt = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    char id[160];
    ag__orch_agent_id(o, "planner", id, sizeof id);
    struct ag_llm_call c = {id, o->task, mt, NULL, 1, o->deadline_mono};
    struct ag_llm_result r;
    if (!mt || ag_llm_chat(o->opts->llm, &c, &r)) {
        free(mt);
        return;
    }
    free(mt);
    json_t *msg = json_loads(r.message_json, 0, NULL);
    ag_llm_result_clear(&r);
    json_t *est = json_loads(json_string_value(json_object_get(msg, "content")) ?: "", 0, NULL);
    json_decref(msg);
    json_t *cx = json_object_get(est, "complexity");
    if (json_is_number(cx)) {
        double v = json_number_value(cx);
        o->complexity_pm = v < 0 ? 0 : v > 1 ? 1000 : (int)(v * 1000 + 0.5);
    }
    o->needs_validation = json_is_true(json_object_get(est, "needs_validation"));
    json_t *cons = json_object_get(est, "constraints");
    json_t *w = json_pack("{s:i,s:b,s:o}", "complexity_pm", o->complexity_pm, "needs_validation",
                          o->needs_validation, "constraints",
                          json_is_array(cons) ? json_incref(cons) : json_array());
    char *wt = w ? json_dumps(w, JSON_COMPACT) : NULL;
    if (wt && ag_coord_bb_write(o->opts->coord, NULL, o->task, "problem", "constraints", wt,
                                NULL) != AG_OK) {
        /* the estimate still steers this run; only its record on the board is missing */
    }
    free(wt);
    json_decref(w);
    json_decref(est);
}

/* Unresolved conflicts: FEEDBACK messages that disagree ({"agree": false}) while no
 * synthesis is on the blackboard. */
static int conflicts(struct ag__orch *o)
{
    char *sol = NULL;
    struct ag_coord_msg *m = NULL;
    size_t n = 0;
    int count = 0;
    char key[AG__COORD_KEY_MAX];
    snprintf(key, sizeof key, "blackboard:%s:solutions", o->task);
    struct ag_store_op op = {AG_OP_HGET, key, "synthesis"};
    struct ag_store_reply rep;
    if (ag_store_exec(o->opts->store, NULL, &op, 1, &rep, NULL) == AG_OK &&
        rep.type == AG_REPLY_STR) {
        ag_store_reply_free(&rep, 1);
        return 0;
    }
    ag_store_reply_free(&rep, 1);
    if (ag_coord_recv(o->opts->coord, o->task, NULL, 0, &m, &n) == AG_OK)
        for (size_t i = 0; i < n; i++) {
            if (strcmp(m[i].type, "FEEDBACK") != 0)
                continue;
            json_t *c = json_loads(m[i].content_json, JSON_DECODE_ANY, NULL);
            count += json_is_false(json_object_get(c, "agree"));
            json_decref(c);
        }
    ag_coord_msgs_free(m, n);
    free(sol);
    return count;
}

static int first_wave_done(struct ag__orch *o, size_t nfirst)
{
    for (size_t i = 0; i < nfirst; i++)
        if (!atomic_load(&o->runs[i].done))
            return 0;
    return 1;
}

static void monitor(struct ag__orch *o, size_t nfirst)
{
    const struct ag_orch_opts *op = o->opts;
    int64_t stuck = op->stuck_ms > 0 ? op->stuck_ms : 30000;
    int thr = op->conflict_threshold > 0 ? op->conflict_threshold : 3;
    int64_t poll = op->poll_ms > 0 ? op->poll_ms : 50;
    for (;;) {
        int all = 1;
        for (size_t i = 0; i < o->nruns; i++)
            all &= atomic_load(&o->runs[i].done);
        int64_t now = ag__mono_ms();
        if (now >= o->deadline_mono)
            atomic_store(&o->stop, 1);
        if (op->interrupt && *op->interrupt && !atomic_load(&o->stop)) {
            atomic_store(&o->interrupted, 1);
            atomic_store(&o->stop, 1);
        }
        if (!op->no_gamma && o->spawn_reason == AG_SPAWN_NONE && !atomic_load(&o->stop)) {
            enum ag_spawn_reason why = AG_SPAWN_NONE;
            /* While the first wave works: STUCK (no progress), CONFLICT (disagreements
             * without a synthesis). Once it is done: CONFLICT still unresolved, else
             * SUCCESS when the planner asked for validation. */
            if (first_wave_done(o, nfirst))
                why = conflicts(o) >= thr                            ? AG_SPAWN_CONFLICT
                      : !op->no_success_spawn && o->needs_validation ? AG_SPAWN_SUCCESS
                                                                     : AG_SPAWN_NONE;
            else if (!atomic_load(&o->waiting) && now - atomic_load(&o->last_progress_mono) > stuck)
                why = AG_SPAWN_STUCK;
            else if (conflicts(o) >= thr)
                why = AG_SPAWN_CONFLICT;
            if (why != AG_SPAWN_NONE) {
                all = 0;
                if (ag__orch_start_agent(o, "gamma", why) != AG_OK)
                    o->spawn_reason = why; /* recorded as attempted; the task goes on */
            }
        }
        if (all)
            return;
        struct timespec ts = {poll / 1000, (poll % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* A required agent that ended because its model could not be reached, or NULL: then
 * the task failed for want of a model, which is not a disagreement. */
static const struct ag__agent_run *model_down(const struct ag__orch *o, size_t nfirst)
{
    for (size_t i = 0; i < nfirst && i < o->nruns; i++)
        if (o->runs[i].llm_down)
            return &o->runs[i];
    return NULL;
}

/* Per-task LLM usage from task:{id}:llm. */
static void llm_usage(struct ag__orch *o, struct ag_orch_result *r)
{
    char key[AG__COORD_KEY_MAX];
    snprintf(key, sizeof key, "task:%s:llm", o->task);
    struct ag_store_op op = {AG_OP_HGETALL, key};
    struct ag_store_reply rep;
    if (ag_store_exec(o->opts->store, NULL, &op, 1, &rep, NULL) == AG_OK)
        for (size_t i = 0; rep.type == AG_REPLY_ARRAY && i + 1 < rep.nelems; i += 2) {
            int64_t v = strtoll(rep.elems[i + 1].str, NULL, 10);
            const char *f = rep.elems[i].str;
            if (!strcmp(f, "calls"))
                r->llm_calls = v;
            else if (!strcmp(f, "prompt_tokens"))
                r->prompt_tokens = v;
            else if (!strcmp(f, "completion_tokens"))
                r->completion_tokens = v;
            else if (!strcmp(f, "cost_microusd"))
                r->cost_microusd = v;
        }
    ag_store_reply_free(&rep, 1);
}

ag_err ag_orch_result_json(const struct ag_orch_result *r, char **json)
{
    json_t *f = r->final_json ? json_loads(r->final_json, 0, NULL) : NULL;
    json_t *o = json_pack(
        "{s:s,s:s,s:s?,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:i,s:i,s:s,s:o}", "task_id",
        r->task_id, "outcome", r->outcome, "gamma_spawned",
        r->gamma_reason != AG_SPAWN_NONE ? ag_spawn_reason_name(r->gamma_reason) : NULL,
        "complexity_pm", r->complexity_pm, "duration_ms", (json_int_t)r->duration_ms, "messages",
        (json_int_t)r->coord.messages, "blackboard_ops", (json_int_t)r->coord.blackboard_ops,
        "votes", (json_int_t)r->coord.votes, "denied", (json_int_t)r->coord.denied, "llm_calls",
        (json_int_t)r->llm_calls, "prompt_tokens", (json_int_t)r->prompt_tokens,
        "completion_tokens", (json_int_t)r->completion_tokens, "cost_microusd",
        (json_int_t)r->cost_microusd, "tool_calls", r->tool_calls, "tool_denied", r->tool_denied,
        "revoked", r->revoked, "reason", r->reason, "final", f ? f : json_null());
    *json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *json ? AG_OK : ag__fail(AG_ENOMEM, "orchestrate: out of memory");
}

/* The metrics row of the task (ledger kind coord, action task.metrics), and the same
 * fields on task:{id}:coord for `agentgov task status`. */
static ag_err record_metrics(struct ag__orch *o, struct ag_orch_result *r)
{
    char *js = NULL;
    ag_err e = ag_orch_result_json(r, &js);
    if (e)
        return e;
    json_t *d = json_loads(js, 0, NULL);
    free(js);
    json_object_del(d, "final"); /* it is on the blackboard; the row says how it went */
    char *dj = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    struct ag_ledger_entry le = {.kind = "coord",
                                 .agent_id = "orchestrator",
                                 .task_id = o->task,
                                 .tier = -1,
                                 .action = "task.metrics",
                                 .reason = r->outcome,
                                 .confidence = -1,
                                 .success = strcmp(r->outcome, "consensus") == 0,
                                 .data_json = dj};
    e = dj ? ag_ledger_append(o->opts->ledger, &le, NULL, NULL)
           : ag__fail(AG_ENOMEM, "orchestrate: out of memory");
    if (!e) {
        char key[AG__COORD_KEY_MAX], dur[32];
        ag__coord_counter_key(key, o->task);
        snprintf(dur, sizeof dur, "%lld", (long long)r->duration_ms);
        struct ag_store_op ops[4] = {
            {AG_OP_HSET, key, "outcome", r->outcome, 0, 0},
            {AG_OP_HSET, key, "gamma_spawned", ag_spawn_reason_name(r->gamma_reason), 0, 0},
            {AG_OP_HSET, key, "duration_ms", dur, 0, 0},
            {AG_OP_HSET, key, "metrics", dj, 0, 0}};
        struct ag_store_reply rep[4];
        e = ag_store_exec(o->opts->store, NULL, ops, 4, rep, NULL);
        ag_store_reply_free(rep, 4);
    }
    free(dj);
    return e;
}

ag_err ag_orchestrate(const struct ag_orch_opts *op, struct ag_orch_result *r)
{
    memset(r, 0, sizeof *r);
    if (!op || !op->objective || !*op->objective || !op->llm || !op->coord || !op->gov ||
        !op->ledger || !op->store)
        return ag__fail(AG_EINVAL, "orchestrate: an objective and the llm, coord, gov, ledger "
                                   "and store handles are required");
    static const char *const dflt[] = {"alpha", "beta"};
    const char *const *roles = op->agents ? op->agents : dflt;
    size_t nroles = op->agents ? op->nagents : 2;
    if (nroles == 0 || nroles > AG__ORCH_MAX_AGENTS - 1)
        return ag__fail(AG_EINVAL, "orchestrate: 1 to %d agents (GAMMA comes on top)",
                        AG__ORCH_MAX_AGENTS - 1);
    struct ag__orch *o = calloc(1, sizeof *o);
    if (!o)
        return ag__fail(AG_ENOMEM, "orchestrate: out of memory");
    o->opts = op;
    o->art_fd = -1;
    if (op->task_id) {
        snprintf(o->task, sizeof o->task, "%s", op->task_id);
    } else {
        char hex[17];
        ag__random_hex(8, hex);
        snprintf(o->task, sizeof o->task, "task-%s", hex);
    }
    ag_err e = ag__coord_id_ok(o->task) && strlen(o->task) < 100
                   ? AG_OK
                   : ag__fail(AG_EINVAL, "orchestrate: task id '%s' is not valid", o->task);
    for (size_t i = 0; !e && i < nroles; i++)
        if (!ag__coord_id_ok(roles[i]) || strlen(roles[i]) >= 16 || strchr(roles[i], '@'))
            e = ag__fail(AG_EINVAL, "orchestrate: agent name '%s' is not valid", roles[i]);
    int64_t t0 = ag__mono_ms();
    o->deadline_mono = t0 + (op->timeout_ms > 0 ? op->timeout_ms : 600000);
    atomic_store(&o->last_progress_mono, t0);
    snprintf(r->task_id, sizeof r->task_id, "%s", o->task);
    if (!e) {
        json_t *obj = json_string(op->objective);
        char *ot = obj ? json_dumps(obj, JSON_ENCODE_ANY) : NULL;
        json_decref(obj);
        e = ot ? ag_coord_bb_write(op->coord, NULL, o->task, "problem", "objective", ot, NULL)
               : ag__fail(AG_ENOMEM, "orchestrate: out of memory");
        free(ot);
    }
    if (!e)
        e = ag__orch_artifacts_open(o);
    if (e) {
        free(o);
        return e;
    }
    plan(o);
    r->complexity_pm = o->complexity_pm;
    int thr = op->complexity_pm > 0 ? op->complexity_pm : 800;
    for (size_t i = 0; !e && i < nroles; i++)
        e = ag__orch_start_agent(o, roles[i], AG_SPAWN_NONE);
    if (!e && !op->no_gamma && o->complexity_pm > thr)
        e = ag__orch_start_agent(o, "gamma", AG_SPAWN_COMPLEXITY);
    if (e) {
        snprintf(r->reason, sizeof r->reason, "%s", ag_last_error());
        atomic_store(&o->stop, 1);
    } else {
        monitor(o, nroles);
    }
    for (size_t i = 0; i < o->nruns; i++)
        pthread_join(o->runs[i].thread, NULL);
    r->duration_ms = ag__mono_ms() - t0;
    r->gamma_reason = o->spawn_reason;
    r->revoked = atomic_load(&o->revoked);
    r->tool_calls = atomic_load(&o->tool_calls);
    r->tool_denied = atomic_load(&o->tool_denied);
    if (e) {
        snprintf(r->outcome, sizeof r->outcome, "failed");
    } else {
        const char *req[AG__ORCH_MAX_AGENTS];
        char ids[AG__ORCH_MAX_AGENTS][160];
        for (size_t i = 0; i < nroles; i++) {
            ag__orch_agent_id(o, roles[i], ids[i], sizeof ids[i]);
            req[i] = ids[i];
        }
        struct ag_consensus c;
        ag_err ce = ag_coord_consensus(op->coord, o->task, req, nroles, &c);
        if (ce) {
            snprintf(r->outcome, sizeof r->outcome, "failed");
            snprintf(r->reason, sizeof r->reason, "consensus: %s", ag_last_error());
        } else {
            const struct ag__agent_run *down = model_down(o, nroles);
            snprintf(r->outcome, sizeof r->outcome, "%s",
                     c.reached                      ? "consensus"
                     : down                         ? "failed"
                     : atomic_load(&o->interrupted) ? "interrupted"
                     : atomic_load(&o->stop) != 0   ? "timeout"
                                                    : "no_consensus");
            if (!c.reached && down) {
                char msg[sizeof down->id + sizeof down->why + 40];
                snprintf(msg, sizeof msg, "%s could not reach its model: %s", down->id, down->why);
                size_t n = strlen(msg) < sizeof r->reason ? strlen(msg) : sizeof r->reason - 1;
                memcpy(r->reason, msg, n); /* cut to fit: the agent's id comes first */
                r->reason[n] = '\0';
            } else
                snprintf(r->reason, sizeof r->reason, "%s", c.reason);
            ag_consensus_clear(&c);
            char *fin = NULL;
            if (ag_coord_bb_read(op->coord, o->task, "consensus", &fin) == AG_OK) {
                r->final_json = fin;
                char dg[AG_SHA256_HEX_LEN];
                ag__sha256_hex(fin, strlen(fin), dg);
                char name[AG__COORD_KEY_MAX];
                snprintf(name, sizeof name, "blackboard:%s:consensus", o->task);
                if (ag_gov_add_artifact(op->gov, o->task, o->runs[0].id, name, dg) != AG_OK) {
                    /* the blackboard keeps it; the artifact list is a pointer to it */
                }
                ag__orch_artifact_save(o, "consensus.json", fin);
            }
        }
    }
    if (ag_coord_metrics(op->coord, o->task, &r->coord) == AG_OK)
        llm_usage(o, r);
    ag_err me = record_metrics(o, r);
    ag__orch_artifacts_close(o);
    free(o);
    return me;
}
