/* Revocation: the agent's run is ended, its revocation record pushed and ledgered, and
 * its tier pinned, in one guarded exec (ag_gov_revoke and the budgets' triggers). */
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
#include "gov/gov.h"
#include "gov/lifecycle.h"
#include "gov/packet.h"
#include "gov/revoke.h"

/* ------------------------------------------------------------- revocation --- */

static ag_err push_revocation(ag_gov *g, const struct ag__session *s, const char *type,
                              const char *details, int64_t now)
{
    char ts[AG_RFC3339_LEN], ks[AG__KEY_MAX], kl[AG__KEY_MAX], kh[AG__KEY_MAX];
    ag__rfc3339(now, ts);
    json_t *ent = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i}", "agent_id", s->agent_id,
                            "task_id", s->task_id, "type", type, "details", details, "phase",
                            ag__phase_str(s->phase), "step", s->step, "revoked_at", ts,
                            "revoked_ms", (json_int_t)now, "tier", s->tier);
    json_t *extra = json_pack("{s:s,s:{s:s,s:s},s:s}", "revoked_at", ts, "revocation", "type", type,
                              "details", details, "prev_phase", ag__phase_str(s->phase));
    char *ej = ent ? json_dumps(ent, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *xj = extra ? json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(ent);
    json_decref(extra);
    struct ag__session rs = *s;
    rs.revoked = 1;
    char *state = NULL;
    ag_err e = (ej && xj) ? ag__state_encode(&rs, xj, &state) : ag__fail(AG_ENOMEM, "revoke: oom");
    if (!e) {
        ag__key_agent(ks, s->agent_id, "state");
        ag__key_agent(kl, s->agent_id, "lock");
        ag__key_agent(kh, s->agent_id, "heartbeat");
        struct ag_store_op ops[6] = {
            {.op = AG_OP_SET, .key = ks, .value = state, .num = g->o.state_ttl_ms},
            {.op = AG_OP_DEL, .key = kl},
            {.op = AG_OP_DEL, .key = kh},
            {.op = AG_OP_ZREM, .key = AG__KEY_HB_INDEX, .field = s->agent_id},
            {.op = AG_OP_RPUSH, .key = AG__KEY_REVOCATIONS, .value = ej},
            {.op = AG_OP_HSET, .key = AG__KEY_REV_INDEX, .field = s->agent_id, .value = ej},
        };
        struct ag_store_reply r[6];
        e = ag_store_exec(g->store, NULL, ops, 6, r, NULL);
        ag_store_reply_free(r, 6);
    }
    free(state);
    free(ej);
    free(xj);
    return e;
}

/* A task whose active agent was revoked on it may be taken by another agent only with
 * a handoff from it (docs/packets.md): task:{id}:active_agent is what says so, so it
 * loses its TTL here and keeps naming the revoked agent until the next bootstrap on the
 * task replaces it. With the state's TTL the requirement would lapse after a day. The
 * guard leaves it alone if another agent holds the task meanwhile. Best effort: the
 * revocation itself stands either way. */
static void pin_active_agent(ag_gov *g, const struct ag__session *s)
{
    if (!s->task_id[0])
        return;
    char ka[AG__KEY_MAX];
    ag__key_task(ka, s->task_id, "active_agent");
    struct ag_store_op op = {.op = AG_OP_SET, .key = ka, .value = s->agent_id, .num = 0};
    struct ag_store_guard guard = {ka, s->agent_id};
    struct ag_store_reply r;
    if (ag_store_exec(g->store, &guard, &op, 1, &r, NULL) == AG_OK)
        ag_store_reply_free(&r, 1);
}

/* Revokes the agent whose current session (possibly blank) is s. */
ag_err ag__revoke_session(ag_gov *g, struct ag__session *s, const char *type, const char *details)
{
    int64_t now = ag__wall_ms();
    ag_err e = push_revocation(g, s, type, details, now);
    if (e)
        return e;
    pin_active_agent(g, s);
    ag__gov_sess_drop(g, s->agent_id);
    int found = 0, tier = -1;
    if (ag__registry_get(g, s->agent_id, &found, &tier, NULL))
        found = 0;
    char hook[128] = "none";
    if (g->hook) {
        ag_err he = g->hook(g->hook_ctx, s->agent_id);
        if (he)
            snprintf(hook, sizeof hook, "error: %s: %s", ag_errname(he), ag_last_error());
        else
            snprintf(hook, sizeof hook, "ok");
    }
    int to = !found ? -1 : tier > AG_TIER_MIN ? tier - 1 : tier;
    json_t *d =
        json_pack("{s:s,s:s,s:i,s:i,s:s,s:s}", "type", type, "details", details, "from_tier",
                  found ? tier : -1, "to_tier", to, "credentials", hook, "step", s->step);
    char *dj = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(d);
    struct ag__lentry le;
    ag__lentry_init(&le, "revocation", s->agent_id);
    le.task = s->task_id[0] ? s->task_id : NULL;
    le.tier = found ? tier : -1;
    le.phase = s->phase == AG_PHASE_NONE ? NULL : ag__phase_str(s->phase);
    le.action = "agent.revoke";
    le.decision = "deny";
    le.reason = type;
    le.success = 0;
    le.error_type = type;
    le.error_message = details;
    le.data = dj;
    e = dj ? ag__gov_ledger(g, &le, NULL) : ag__fail(AG_ENOMEM, "revoke: out of memory");
    free(dj);
    /* A run in progress ends here: its EXIT entry (success 0) counts it as a run that
     * was not compliant (docs/ledger-format.md, agent_metrics). */
    if (s->phase != AG_PHASE_NONE && !e) {
        struct ag__lentry x;
        ag__lentry_init(&x, "lifecycle", s->agent_id);
        x.task = le.task;
        x.tier = le.tier;
        x.phase = "EXIT";
        x.action = "lifecycle.exit";
        x.decision = "deny";
        x.reason = "REVOKED";
        x.success = 0;
        char xd[96];
        snprintf(xd, sizeof xd, "{\"compliant\":false,\"from\":\"%s\"}", ag__phase_str(s->phase));
        x.data = xd;
        e = ag__gov_ledger(g, &x, NULL);
    }
    /* A revocation demotes one tier (a promotion-kind entry, which also restarts the
     * compliant streak). */
    if (found && tier > AG_TIER_MIN) {
        ag_err de = ag_gov_demote(g, s->agent_id, "REVOKED", NULL);
        e = e ? e : de;
    }
    return e;
}

ag_err ag_gov_revoke(ag_gov *g, const char *agent_id, const char *type, const char *details)
{
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    char ks[AG__KEY_MAX], kp[AG__KEY_MAX];
    ag__key_agent(ks, agent_id, "state");
    ag__key_agent(kp, agent_id, "packet");
    struct ag_store_op ops[2] = {{.op = AG_OP_GET, .key = ks}, {.op = AG_OP_GET, .key = kp}};
    struct ag_store_reply r[2];
    if ((e = ag_store_exec(g->store, NULL, ops, 2, r, NULL)))
        return e;
    struct ag__session s;
    memset(&s, 0, sizeof s);
    if (r[0].type == AG_REPLY_STR && ag__state_decode(r[0].str, &s) == AG_OK && s.revoked) {
        ag_store_reply_free(r, 2);
        return ag__fail(AG_EREVOKED, "agent '%s' is already revoked", agent_id);
    }
    if (r[0].type != AG_REPLY_STR) { /* not running: bar it all the same */
        memset(&s, 0, sizeof s);
        s.phase = AG_PHASE_NONE;
        s.tier = -1;
        if (r[1].type == AG_REPLY_STR) {
            json_t *p = json_loads(r[1].str, 0, NULL);
            snprintf(s.task_id, sizeof s.task_id, "%s",
                     json_string_value(json_object_get(p, "task_id")) ?: "");
            json_decref(p);
        }
    }
    snprintf(s.agent_id, sizeof s.agent_id, "%s", agent_id);
    ag_store_reply_free(r, 2);
    return ag__revoke_session(g, &s, type && *type ? type : "MANUAL",
                              details ? details : "revoked by an operator");
}
