/* Phase transitions and heartbeats: a move checked against the packet's phases and
 * artifacts, made in one exec guarded by the lock value (ag_gov_transition). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/safestr.h"
#include "core/time.h"
#include "gov/budget.h"
#include "gov/gov.h"
#include "gov/lifecycle.h"
#include "gov/packet.h"
#include "gov/revoke.h"

/* ---------------------------------------------------------- transition ----- */

/* The agent's session: from the cache, else from agent:{id}:state (one read). Returns
 * AG__OK_REASON, or why the agent cannot act. */
static enum ag_reason session_for(ag_gov *g, const char *agent, struct ag__session *s)
{
    if (ag__gov_sess_get(g, agent, s))
        return AG__OK_REASON;
    char key[AG__KEY_MAX], *v = NULL;
    ag__key_agent(key, agent, "state");
    if (ag_store_get(g->store, key, &v))
        return AG_REASON_STORE_UNAVAILABLE;
    if (!v)
        return AG_REASON_NOT_BOOTSTRAPPED;
    ag_err e = ag__state_decode(v, s);
    free(v);
    if (e)
        return AG_REASON_INTERNAL_ERROR;
    if (s->revoked)
        return AG_REASON_AGENT_REVOKED;
    if (s->phase == AG_PHASE_EXIT)
        return AG_REASON_NOT_BOOTSTRAPPED; /* finished: a new run needs a bootstrap */
    ag__gov_sess_put(g, s);
    return AG__OK_REASON;
}

/* Ledgers a transition. A refused one (refused = 1) is recorded at the phase the agent
 * stays in, so that only real exits count as runs in agent_metrics; a run's exit has
 * success = 1 only when it was compliant. */
static void transition_ledger(ag_gov *g, const struct ag__session *s, enum ag_phase from,
                              enum ag_phase to, const char *reason, int refused, int success,
                              const char *extra, int64_t *seq, ag_err *err)
{
    struct ag__lentry le;
    ag__lentry_init(&le, "lifecycle", s->agent_id);
    le.task = s->task_id;
    le.tier = s->tier;
    le.phase = ag__phase_str(refused ? from : to);
    le.action = to == AG_PHASE_EXIT && !refused ? "lifecycle.exit" : "lifecycle.transition";
    le.decision = refused ? "deny" : "allow";
    le.reason = reason;
    le.success = success;
    le.agent_version = s->agent_version[0] ? s->agent_version : NULL;
    json_t *d = json_pack("{s:s,s:s,s:s}", "from", ag__phase_str(from), "to", ag__phase_str(to),
                          "step", s->step);
    if (d && extra) {
        json_t *x = json_loads(extra, 0, NULL);
        if (json_is_object(x))
            json_object_update(d, x);
        json_decref(x);
    }
    char *dj = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(d);
    le.data = dj;
    ag_err e = ag__gov_ledger(g, &le, seq);
    free(dj);
    if (err)
        *err = e;
}

/* A procedure violation: counted against the budget (which revokes at the default
 * max_procedure_violations 1). */
static void violation(ag_gov *g, const char *agent, const char *what,
                      struct ag_transition_result *r, enum ag_reason why)
{
    struct ag_transition_result vr;
    memset(&vr, 0, sizeof vr);
    ag_err e = ag__count_error(g, agent, "procedure_violation", "illegal_transition", what, &vr);
    ag__set_result(r, vr.revoked ? AG_REASON_AGENT_REVOKED : why, "%s%s", what,
                   vr.revoked ? " (agent revoked)" : "");
    r->violation = 1;
    r->revoked = vr.revoked;
    if (e && !r->revoked)
        ag__set_result(r, AG_REASON_STORE_UNAVAILABLE, "%s; counting it failed: %s", what,
                       ag_last_error());
}

/* Another process ended the run (EXIT) while this request was on its way: the request
 * is refused as any illegal move is, but not counted. The run it addressed is over and
 * compliant, and a duplicate EXIT (a retry, two workers) is no worse than one sent after
 * the run ended, which only gets not_bootstrapped; counting it would revoke and demote
 * the agent and record a second, failed run. */
static void run_already_ended(ag_gov *g, const char *agent, const char *what,
                              struct ag_transition_result *r)
{
    ag__gov_sess_drop(g, agent);
    ag__set_result(r, AG_REASON_PHASE_NOT_ALLOWED, "%s: the run already ended", what);
}

/* Is every required artifact of the packet in the task's artifact list? Names the
 * first missing one in `missing`. */
static int artifacts_complete(const ag_packet *p, const struct ag_store_reply *list, char *missing,
                              size_t cap)
{
    size_t n;
    const char *const *req = ag_packet_list(p, "required_artifacts", &n);
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (size_t j = 0; !found && list->type == AG_REPLY_ARRAY && j < list->nelems; j++) {
            const char *v = list->elems[j].str;
            if (!v)
                continue;
            json_t *o = json_loads(v, 0, NULL);
            const char *name =
                json_is_object(o) ? json_string_value(json_object_get(o, "name")) : v;
            found = name && strcmp(name, req[i]) == 0;
            json_decref(o);
        }
        if (!found) {
            snprintf(missing, cap, "%s", req[i]);
            return 0;
        }
    }
    return 1;
}

/* Ends a run at EXIT: the lock is released, the agent leaves the deadline index. */
static void finish_run(ag_gov *g, const struct ag__session *s)
{
    char kl[AG__KEY_MAX], kh[AG__KEY_MAX];
    ag__key_agent(kl, s->agent_id, "lock");
    ag__key_agent(kh, s->agent_id, "heartbeat");
    AG__IGNORE(ag_store_lock_release(g->store, kl, s->owner, s->fence));
    struct ag_store_op ops[2] = {{.op = AG_OP_DEL, .key = kh},
                                 {.op = AG_OP_ZREM, .key = AG__KEY_HB_INDEX, .field = s->agent_id}};
    struct ag_store_reply r[2];
    if (ag_store_exec(g->store, NULL, ops, 2, r, NULL) == AG_OK)
        ag_store_reply_free(r, 2);
    ag__gov_sess_drop(g, s->agent_id);
}

enum { T_OLD, T_ERRS, T_SET, T_HB, T_IDX, T_LOCK, T_EXP_ERR, T_EXP_ACT, T_ARTS, T_NOPS };

/* Runs the guarded exec of a transition; returns AG__OK_REASON or why it was refused.
 * replies receive T_NOPS slots. */
static enum ag_reason transition_exec(ag_gov *g, const struct ag__session *ns, int want_arts,
                                      struct ag_store_reply *rp, char *why, size_t cap)
{
    char ks[AG__KEY_MAX], ke[AG__KEY_MAX], kh[AG__KEY_MAX], kl[AG__KEY_MAX], ka[AG__KEY_MAX],
        kart[AG__KEY_MAX], lv[AG__LOCKVAL_MAX], now[AG_RFC3339_LEN], *state = NULL;
    ag__key_agent(ks, ns->agent_id, "state");
    ag__key_agent(ke, ns->agent_id, "errors");
    ag__key_agent(kh, ns->agent_id, "heartbeat");
    ag__key_agent(kl, ns->agent_id, "lock");
    ag__key_task(ka, ns->task_id, "active_agent");
    ag__key_task(kart, ns->task_id, "artifacts");
    ag__lockval(ns, lv);
    int64_t t = ag__wall_ms();
    ag__rfc3339(t, now);
    if (ag__state_encode(ns, NULL, &state)) {
        snprintf(why, cap, "%s", ag_last_error());
        return AG_REASON_INTERNAL_ERROR;
    }
    struct ag_store_op ops[T_NOPS] = {
        [T_OLD] = {.op = AG_OP_GET, .key = ks},
        [T_ERRS] = {.op = AG_OP_HGETALL, .key = ke},
        [T_SET] = {.op = AG_OP_SET, .key = ks, .value = state, .num = g->o.state_ttl_ms},
        [T_HB] = {.op = AG_OP_SET, .key = kh, .value = now, .num = g->o.heartbeat_ttl_ms},
        [T_IDX] = {.op = AG_OP_ZADD, .key = AG__KEY_HB_INDEX, .field = ns->agent_id, .num = t},
        [T_LOCK] = {.op = AG_OP_PEXPIRE, .key = kl, .num = g->o.lock_ttl_ms},
        [T_EXP_ERR] = {.op = AG_OP_PEXPIRE, .key = ke, .num = g->o.state_ttl_ms},
        [T_EXP_ACT] = {.op = AG_OP_PEXPIRE, .key = ka, .num = g->o.state_ttl_ms},
        [T_ARTS] = {.op = AG_OP_LRANGE, .key = kart, .num = 0, .num2 = -1},
    };
    struct ag_store_guard guard = {kl, lv};
    int gok = 1;
    ag_err e = ag_store_exec(g->store, &guard, ops, want_arts ? T_NOPS : T_NOPS - 1, rp, &gok);
    free(state);
    if (!want_arts)
        memset(&rp[T_ARTS], 0, sizeof rp[T_ARTS]);
    if (e) {
        snprintf(why, cap, "store: %s", ag_last_error());
        return AG_REASON_STORE_UNAVAILABLE;
    }
    if (!gok) {
        snprintf(why, cap, "%.60s no longer holds %.60s (expired or taken)", kl, lv);
        return AG_REASON_LOCK_LOST;
    }
    return AG__OK_REASON;
}

/* Puts back the state a refused transition overwrote (guarded by the same lock). */
static void restore_state(ag_gov *g, const struct ag__session *s, const char *old)
{
    char ks[AG__KEY_MAX], kl[AG__KEY_MAX], lv[AG__LOCKVAL_MAX];
    ag__key_agent(ks, s->agent_id, "state");
    ag__key_agent(kl, s->agent_id, "lock");
    ag__lockval(s, lv);
    struct ag_store_op op = {.op = AG_OP_SET, .key = ks, .value = old, .num = g->o.state_ttl_ms};
    struct ag_store_guard guard = {kl, lv};
    struct ag_store_reply r;
    if (ag_store_exec(g->store, &guard, &op, 1, &r, NULL) == AG_OK)
        ag_store_reply_free(&r, 1);
}

/* The budget as agent:{id}:errors stands (an HGETALL reply): the revocation type if a
 * trigger fires, else NULL; the totals for the ledger. */
static const char *errors_trigger(const struct ag_store_reply *errs,
                                  const struct ag_error_budget *b, int64_t *total, int64_t *pv)
{
    *total = ag__hfield(errs, "total_errors");
    *pv = ag__hfield(errs, "procedure_violations");
    int64_t same = 0; /* the most repeated error type */
    for (size_t i = 0; errs->type == AG_REPLY_ARRAY && i + 1 < errs->nelems; i += 2)
        if (errs->elems[i].str && strncmp(errs->elems[i].str, "type:", 5) == 0) {
            int64_t v = strtoll(errs->elems[i + 1].str ?: "0", NULL, 10);
            same = v > same ? v : same;
        }
    return ag__budget_trigger(b, *total, same, *pv);
}

static void after_exec(ag_gov *g, struct ag__session *s, struct ag__session *ns, const ag_packet *p,
                       struct ag_store_reply *rp, struct ag_transition_result *r)
{
    enum ag_phase from = s->phase, to = ns->phase;
    struct ag__session old;
    /* The cache may be stale if another process moved this run: judge the request
     * against the state the exec actually replaced. */
    if (rp[T_OLD].type == AG_REPLY_STR && ag__state_decode(rp[T_OLD].str, &old) == AG_OK &&
        !old.revoked && old.phase != from) {
        from = old.phase;
        if (!ag_phase_transition_legal(from, to)) {
            restore_state(g, s, rp[T_OLD].str);
            char what[128];
            snprintf(what, sizeof what, "illegal transition %s -> %s", ag__phase_str(from),
                     ag__phase_str(to));
            if (from == AG_PHASE_EXIT) {
                run_already_ended(g, s->agent_id, what, r);
                return;
            }
            ag__gov_sess_put(g, &old);
            violation(g, s->agent_id, what, r, AG_REASON_PHASE_NOT_ALLOWED);
            return;
        }
    }
    struct ag_error_budget b = ag_packet_budget(p);
    int64_t total, pv;
    const char *trig = errors_trigger(&rp[T_ERRS], &b, &total, &pv);
    char det[200];
    if (trig) {
        snprintf(det, sizeof det, "error budget exhausted at %s (total %lld, violations %lld)",
                 ag__phase_str(to), (long long)total, (long long)pv);
        AG__IGNORE(ag__revoke_session(g, ns, trig, det));
        r->revoked = 1;
        ag__set_result(r, AG_REASON_BUDGET_EXHAUSTED, "%s", det);
        return;
    }
    if (from == AG_PHASE_EXECUTE && to == AG_PHASE_VERIFY &&
        !artifacts_complete(p, &rp[T_ARTS], det, sizeof det)) {
        char what[300];
        snprintf(what, sizeof what, "required artifact '%s' missing after EXECUTE", det);
        ns->phase = from; /* the revocation records where the run really stood */
        AG__IGNORE(ag__revoke_session(g, ns, "MISSING_ARTIFACT", what));
        r->revoked = 1;
        ag__set_result(r, AG_REASON_AGENT_REVOKED, "%s", what);
        return;
    }
    char extra[128];
    snprintf(extra, sizeof extra,
             "{\"compliant\":%s,\"procedure_violations\":%lld,\"total_errors\":%lld}",
             pv == 0 ? "true" : "false", (long long)pv, (long long)total);
    ag_err le;
    transition_ledger(g, ns, from, to, "TRANSITION", 0, to == AG_PHASE_EXIT ? pv == 0 : 1,
                      to == AG_PHASE_EXIT ? extra : NULL, NULL, &le);
    if (to == AG_PHASE_EXIT) {
        finish_run(g, ns);
        if (!le && pv == 0)
            ag__gov_auto_promote(g, ns->agent_id);
    } else {
        ag__gov_sess_put(g, ns);
    }
    if (le) {
        ag__set_result(r, AG_REASON_LEDGER_UNAVAILABLE, "ledger: %s", ag_last_error());
        return;
    }
    r->ok = 1;
}

/* A lost lock may mean the run was revoked meanwhile (revocation deletes the lock), or,
 * for a transition to `to` (AG_PHASE_NONE: not a transition), that another process
 * ended this very run at EXIT (which releases it): then say so rather than lock_lost.
 * Returns 1 when it was one of those. */
static int lock_lost_explained(ag_gov *g, const struct ag__session *mine, enum ag_phase to,
                               struct ag_transition_result *r)
{
    char ks[AG__KEY_MAX], *v = NULL;
    ag__key_agent(ks, mine->agent_id, "state");
    struct ag__session s;
    int known = ag_store_get(g->store, ks, &v) == AG_OK && v && ag__state_decode(v, &s) == AG_OK;
    free(v);
    if (known && s.revoked) {
        ag__set_result(r, AG_REASON_AGENT_REVOKED, "agent '%s' was revoked", mine->agent_id);
        r->revoked = 1;
        return 1;
    }
    if (known && to != AG_PHASE_NONE && s.phase == AG_PHASE_EXIT && s.fence == mine->fence) {
        char what[128];
        snprintf(what, sizeof what, "illegal transition EXIT -> %s", ag__phase_str(to));
        run_already_ended(g, mine->agent_id, what, r);
        return 1;
    }
    return 0;
}

ag_err ag_gov_transition(ag_gov *g, const char *agent_id, enum ag_phase phase, const char *step,
                         struct ag_transition_result *r)
{
    memset(r, 0, sizeof *r);
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    if (phase < 0 || phase >= AG_PHASE_COUNT)
        return ag__fail(AG_EINVAL, "transition: phase %d out of range", (int)phase);
    if (step && strlen(step) > AG__ID_MAX)
        return ag__fail(AG_EINVAL, "transition: step longer than %d characters", AG__ID_MAX);
    struct ag__session s, ns;
    enum ag_reason why = session_for(g, agent_id, &s);
    if (why != AG__OK_REASON) {
        ag__set_result(r, why, "agent '%s' cannot transition: %s", agent_id, ag_reason_name(why));
        r->revoked = why == AG_REASON_AGENT_REVOKED;
        return AG_OK;
    }
    if (!ag_phase_transition_legal(s.phase, phase)) {
        /* Before punishing, make sure the cache is not behind another process. */
        ag__gov_sess_drop(g, agent_id);
        why = session_for(g, agent_id, &s);
        if (why != AG__OK_REASON) {
            ag__set_result(r, why, "agent '%s' cannot transition: %s", agent_id,
                           ag_reason_name(why));
            r->revoked = why == AG_REASON_AGENT_REVOKED;
            return AG_OK;
        }
    }
    if (!ag_phase_transition_legal(s.phase, phase)) {
        char what[128];
        snprintf(what, sizeof what, "illegal transition %s -> %s", ag__phase_str(s.phase),
                 ag__phase_str(phase));
        violation(g, agent_id, what, r, AG_REASON_PHASE_NOT_ALLOWED);
        return AG_OK;
    }
    struct ag__pkt *pk = ag__packet_for(g, agent_id, s.packet);
    if (!pk) {
        ag__set_result(r, AG_REASON_STORE_UNAVAILABLE, "packet: %s", ag_last_error());
        return AG_OK;
    }
    ns = s;
    ns.phase = phase;
    snprintf(ns.step, sizeof ns.step, "%s", step ? step : "");
    struct ag_store_reply rp[T_NOPS];
    int want_arts = s.phase == AG_PHASE_EXECUTE && phase == AG_PHASE_VERIFY;
    why = transition_exec(g, &ns, want_arts, rp, r->detail, sizeof r->detail);
    if (why == AG__OK_REASON) {
        after_exec(g, &s, &ns, pk->p, rp, r);
        ag_store_reply_free(rp, T_NOPS);
    } else {
        r->reason = why;
        if (why == AG_REASON_LOCK_LOST) {
            ag__gov_sess_drop(g, agent_id);
            if (!lock_lost_explained(g, &s, phase, r))
                transition_ledger(g, &ns, s.phase, phase, "LOCK_LOST", 1, 0, NULL, NULL, NULL);
        }
    }
    ag__gov_packet_put(g, pk);
    return AG_OK;
}

ag_err ag_gov_heartbeat(ag_gov *g, const char *agent_id, struct ag_transition_result *r)
{
    memset(r, 0, sizeof *r);
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    struct ag__session s;
    enum ag_reason why = session_for(g, agent_id, &s);
    if (why != AG__OK_REASON) {
        ag__set_result(r, why, "agent '%s': %s", agent_id, ag_reason_name(why));
        return AG_OK;
    }
    char kh[AG__KEY_MAX], kl[AG__KEY_MAX], ks[AG__KEY_MAX], lv[AG__LOCKVAL_MAX],
        now[AG_RFC3339_LEN];
    ag__key_agent(kh, agent_id, "heartbeat");
    ag__key_agent(kl, agent_id, "lock");
    ag__key_agent(ks, agent_id, "state");
    ag__lockval(&s, lv);
    int64_t t = ag__wall_ms();
    ag__rfc3339(t, now);
    struct ag_store_op ops[4] = {
        {.op = AG_OP_SET, .key = kh, .value = now, .num = g->o.heartbeat_ttl_ms},
        {.op = AG_OP_ZADD, .key = AG__KEY_HB_INDEX, .field = agent_id, .num = t},
        {.op = AG_OP_PEXPIRE, .key = kl, .num = g->o.lock_ttl_ms},
        {.op = AG_OP_PEXPIRE, .key = ks, .num = g->o.state_ttl_ms},
    };
    struct ag_store_reply rp[4];
    struct ag_store_guard guard = {kl, lv};
    int gok = 1;
    if ((e = ag_store_exec(g->store, &guard, ops, 4, rp, &gok))) {
        ag__set_result(r, AG_REASON_STORE_UNAVAILABLE, "store: %s", ag_last_error());
        return AG_OK;
    }
    ag_store_reply_free(rp, 4);
    if (!gok) {
        ag__gov_sess_drop(g, agent_id);
        if (!lock_lost_explained(g, &s, AG_PHASE_NONE, r))
            ag__set_result(r, AG_REASON_LOCK_LOST, "%.60s no longer holds %.80s", kl, lv);
        return AG_OK;
    }
    r->ok = 1;
    return AG_OK;
}
