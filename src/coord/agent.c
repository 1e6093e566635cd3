/* One governed LLM agent: its lifecycle walk, its conversation with the model and its
 * tool calls. See orch_int.h and include/agentgov/coord.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coord/orch_int.h"
#include "core/err.h"
#include "core/time.h"

/* Role prompts. The model is told what its role writes and how the task ends (a vote);
 * the kernel decides what it may actually do. */
static const char *role_prompt(const char *role, char *buf, size_t size)
{
    if (!strcmp(role, "alpha"))
        return "You are ALPHA, the research agent of a governed team. Analyse the objective, "
               "write your analysis to problem/analysis and your proposals to "
               "solutions/proposal_N, send each proposal to beta as a PROPOSAL message, read "
               "beta's FEEDBACK and revise. When a synthesis exists, vote on it.";
    if (!strcmp(role, "beta"))
        return "You are BETA, the evaluation agent of a governed team. Read alpha's proposals "
               "(read_messages, blackboard_read solutions), write solutions/eval_N, send "
               "FEEDBACK to alpha as {\"agree\": true|false, \"points\": [...]}; when you agree, "
               "write solutions/synthesis. Then vote on it.";
    if (!strcmp(role, "gamma"))
        return "You are GAMMA, the mediator of a governed team, called in because of the "
               "reason below. Read the blackboard and the messages, resolve the disagreement "
               "or validate the result, write solutions/gamma_result (and solutions/synthesis "
               "when there is none), broadcast your conclusion, then vote.";
    /* Any other role is an agent given the task on its own (a pipeline's LLM agent
     * stage): it is not a mediator and has nobody to wait for. */
    size_t n = 0;
    n += (size_t)snprintf(buf, size, "You are ");
    for (const char *c = role; *c && n + 1 < size; c++)
        buf[n++] = (char)toupper((unsigned char)*c);
    snprintf(buf + n, size - n,
             ", a governed agent working on this task alone. Do the work with the tools "
             "(files you produce go in your working directory), write your result to "
             "solutions/synthesis, then vote on it.");
    return buf;
}

static json_t *first_messages(struct ag__agent_run *run, enum ag_spawn_reason why)
{
    struct ag__orch *o = run->o;
    char sys[1024], user[2048], lone[512];
    int team =
        !strcmp(run->role, "alpha") || !strcmp(run->role, "beta") || !strcmp(run->role, "gamma");
    snprintf(sys, sizeof sys,
             "%s Your agent id is %s%s. Use the tools; every call is authorized by the "
             "governance kernel and a refusal comes back as the tool's result.",
             role_prompt(run->role, lone, sizeof lone), run->id,
             team ? "; the other agents are named alpha, beta and gamma" : "");
    if (why != AG_SPAWN_NONE)
        snprintf(user, sizeof user, "Task %s. Objective: %s\nYou were spawned because: %s.",
                 o->task, o->opts->objective, ag_spawn_reason_name(why));
    else
        snprintf(user, sizeof user, "Task %s. Objective: %s", o->task, o->opts->objective);
    return json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", sys, "role", "user",
                     "content", user);
}

static int walk(struct ag__agent_run *run, enum ag_phase to)
{
    struct ag_transition_result tr;
    ag_err e = ag_gov_transition(run->o->opts->gov, run->id, to, NULL, &tr);
    if (e || !tr.ok) {
        run->revoked |= tr.revoked || tr.reason == AG_REASON_AGENT_REVOKED;
        snprintf(run->why, sizeof run->why, "transition to %s refused: %s", ag_phase_name(to),
                 e ? ag_last_error() : tr.detail);
        return -1;
    }
    run->phase = to;
    return 0;
}

/* The handoff a revoked or failed agent leaves for whoever takes the task next. */
static void write_handoff(struct ag__agent_run *run, int revoked, const char *type,
                          const char *details)
{
    char now[40];
    ag__rfc3339(ag__wall_ms(), now);
    json_t *tried = json_array();
    char buf[sizeof run->tried];
    snprintf(buf, sizeof buf, "%s", run->tried);
    for (char *sv, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
        json_array_append_new(tried, json_string(t));
    json_t *h = json_pack(
        "{s:s,s:s,s:b,s:{s:s,s:s},s:{s:s,s:s},s:o,s:s,s:[s],s:[s],s:[],s:s}", "task_id",
        run->o->task, "previous_agent_id", run->id, "revoked", revoked, "revocation_reason", "type",
        type, "details", details, "last_known_state", "phase", ag_phase_name(run->phase), "step",
        "orchestrate", "what_was_tried", tried, "blocking_issue", details, "required_next_actions",
        "read the blackboard and messages of the task before acting", "constraints_reminder",
        "every tool call is authorized by the kernel", "artifacts", "created_at", now);
    char *txt = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (txt && ag_gov_write_handoff(run->o->opts->gov, txt) != AG_OK)
        snprintf(run->why + strlen(run->why), sizeof run->why - strlen(run->why),
                 "; handoff not written: %s", ag_last_error());
    free(txt);
}

static void note_tool(struct ag__agent_run *run, const char *name)
{
    size_t l = strlen(run->tried);
    if (strstr(run->tried, name) || l + strlen(name) + 2 >= sizeof run->tried)
        return;
    snprintf(run->tried + l, sizeof run->tried - l, "%s%s", l ? "," : "", name);
}

/* Runs the tool calls of one assistant message, appending their results to msgs.
 * Returns 1 when a call revoked the agent (the rest are not run), -1 on an error that
 * stops the agent, else 0. */
static int run_tools(struct ag__agent_run *run, json_t *calls, json_t *msgs)
{
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc)
    {
        json_t *fn = json_object_get(tc, "function");
        const char *id = json_string_value(json_object_get(tc, "id"));
        const char *name = json_string_value(json_object_get(fn, "name"));
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        char *out = NULL;
        int revoked = 0;
        if (!name) {
            snprintf(run->why, sizeof run->why, "the model sent a tool call without a name");
            return -1;
        }
        note_tool(run, name);
        if (ag__orch_tool(run, name, args, &out, &revoked)) {
            snprintf(run->why, sizeof run->why, "tool %s: %s", name, ag_last_error());
            return -1;
        }
        json_array_append_new(msgs, json_pack("{s:s,s:s,s:s}", "role", "tool", "tool_call_id",
                                              id ? id : "", "content", out));
        free(out);
        if (revoked) {
            snprintf(run->why, sizeof run->why, "revoked by its %s call", name);
            return 1;
        }
    }
    return 0;
}

static void conversation(struct ag__agent_run *run, enum ag_spawn_reason why)
{
    struct ag__orch *o = run->o;
    const struct ag_orch_opts *op = o->opts;
    json_t *msgs = first_messages(run, why);
    int turns = op->max_turns > 0 ? op->max_turns : 12;
    for (int t = 0; msgs && t < turns; t++) {
        if (atomic_load(&o->stop) || ag__mono_ms() >= o->deadline_mono) {
            snprintf(run->why, sizeof run->why, "stopped: %s",
                     atomic_load(&o->interrupted) ? "interrupted" : "task timeout");
            break;
        }
        struct ag_transition_result hb;
        if (ag_gov_heartbeat(op->gov, run->id, &hb) || !hb.ok) {
            run->revoked = hb.revoked || hb.reason == AG_REASON_AGENT_REVOKED;
            snprintf(run->why, sizeof run->why, "heartbeat refused: %s", hb.detail);
            break;
        }
        char *mt = json_dumps(msgs, JSON_COMPACT);
        struct ag_llm_call c = {run->id, o->task,
                                mt,      ag__orch_tools_json(op->exec != NULL, o->art_fd >= 0),
                                0,       o->deadline_mono};
        struct ag_llm_result r;
        ag_err e = mt ? ag_llm_chat(op->llm, &c, &r) : AG_ENOMEM;
        free(mt);
        if (e) {
            /* Fail closed: no model, no action. The error counts against the budget. */
            snprintf(run->why, sizeof run->why, "model call failed: %s", ag_last_error());
            /* cut at the task's deadline: a timeout, not a model that is down */
            run->llm_down = !atomic_load(&o->stop) && ag__mono_ms() < o->deadline_mono;
            struct ag_transition_result er;
            if (ag_gov_record_error(op->gov, run->id, "llm_error", run->why, &er) == AG_OK)
                run->revoked = er.revoked;
            run->failed = 1;
            break;
        }
        json_t *m = json_loads(r.message_json, 0, NULL);
        int budget_revoked = r.revoked;
        ag_llm_result_clear(&r);
        if (!m) {
            snprintf(run->why, sizeof run->why, "the model's message is not JSON");
            run->failed = 1;
            break;
        }
        json_array_append(msgs, m);
        json_t *calls = json_object_get(m, "tool_calls");
        int rc = json_array_size(calls) && !budget_revoked ? run_tools(run, calls, msgs) : 0;
        json_decref(m);
        if (budget_revoked) {
            run->revoked = 1;
            snprintf(run->why, sizeof run->why, "revoked: llm budget exhausted");
            break;
        }
        if (rc == 1) {
            run->revoked = 1;
            break;
        }
        if (rc < 0) {
            run->failed = 1;
            break;
        }
        if (!json_array_size(calls)) {
            snprintf(run->why, sizeof run->why, "finished after %d model calls", t + 1);
            break;
        }
        if (t + 1 == turns)
            snprintf(run->why, sizeof run->why, "stopped: %d model calls (max_turns)", turns);
    }
    json_decref(msgs);
}

void *ag__orch_agent_main(void *arg)
{
    struct ag__agent_run *run = arg;
    enum ag_spawn_reason why =
        strcmp(run->role, "gamma") == 0 ? run->o->spawn_reason : AG_SPAWN_NONE;
    run->phase = AG_PHASE_BOOTSTRAP;
    if (walk(run, AG_PHASE_PREFLIGHT) == 0 && walk(run, AG_PHASE_PLAN) == 0 &&
        walk(run, AG_PHASE_EXECUTE) == 0)
        conversation(run, why);
    else
        run->failed = 1;
    if (run->revoked) {
        atomic_fetch_add(&run->o->revoked, 1);
        write_handoff(run, 1, "revoked", run->why);
    } else {
        /* A failed agent (its model unreachable, the store down) leaves a handoff and
         * still walks out to EXIT, each step ledgered; a refused step ends the walk. */
        char ended[sizeof run->why];
        snprintf(ended, sizeof ended, "%s", run->why);
        if (run->failed)
            write_handoff(run, 0, run->llm_down ? "llm_unavailable" : "agent_failed", ended);
        for (int p = (int)run->phase + 1; run->phase >= AG_PHASE_EXECUTE && p <= AG_PHASE_EXIT; p++)
            if (walk(run, (enum ag_phase)p))
                break;
        if (run->failed)
            snprintf(run->why, sizeof run->why, "%s", ended);
    }
    atomic_store(&run->done, 1);
    return NULL;
}
