/* The authorize hot path: the run read in one exec, the policy decided at the run's
 * tier and phase, the decision ledgered before it is returned (ag_gov_authorize). */
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
#include "gov/authz.h"
#include "gov/lifecycle.h"
#include "gov/packet.h"

/* ----------------------------------------------------------- authorize ----- */

static void deny(struct ag_gov_decision *out, enum ag_reason why)
{
    out->effect = AG_EFFECT_DENY;
    out->reason = why;
    out->rule_file = NULL;
    out->rule_line = 0;
}

/* Ledgers the decision; returns 0 when committed. */
static int decision_ledger(ag_gov *g, const char *agent, const struct ag__session *s,
                           const char *action, const char *resource, int confidence,
                           struct ag_gov_decision *out)
{
    struct ag__lentry le;
    ag__lentry_init(&le, "decision", agent);
    le.task = s && s->task_id[0] ? s->task_id : NULL;
    le.agent_version = s && s->agent_version[0] ? s->agent_version : NULL;
    le.tier = out->tier;
    le.phase = out->phase == AG_PHASE_NONE ? NULL : ag__phase_str(out->phase);
    le.action = action;
    le.resource = resource;
    le.decision = ag_effect_name(out->effect);
    le.reason = ag_reason_name(out->reason);
    le.confidence = confidence;
    char data[300];
    if (out->rule_file) {
        /* A path needing JSON escapes goes through jansson; the usual one is printed. */
        if (strpbrk(out->rule_file, "\"\\\b\f\n\r\t") == NULL) {
            snprintf(data, sizeof data, "{\"rule\":\"%.200s:%d\"}", out->rule_file, out->rule_line);
        } else {
            char rule[256];
            snprintf(rule, sizeof rule, "%s:%d", out->rule_file, out->rule_line);
            json_t *d = json_pack("{s:s}", "rule", rule);
            char *dj = d ? json_dumps(d, JSON_COMPACT) : NULL;
            json_decref(d);
            snprintf(data, sizeof data, "%s", dj ? dj : "{}");
            free(dj);
        }
        le.data = data;
    }
    int64_t seq = 0;
    if (ag__gov_ledger(g, &le, &seq))
        return -1;
    out->ledger_seq = seq;
    return 0;
}

/* The tier of a registry entry (registry_write's JSON, keys sorted, so `"tier":` is
 * the last field), without building a jansson tree on the hot path. No entry, or one
 * that cannot be read, is the least privilege, as at bootstrap. */
static int registry_tier(const struct ag_store_reply *r)
{
    const char *t = r->type == AG_REPLY_STR ? strstr(r->str, "\"tier\":") : NULL;
    char *end;
    long v = t ? strtol(t + 7, &end, 10) : -1;
    return t && end != t + 7 && v >= AG_TIER_MIN && v <= AG_TIER_MAX ? (int)v : AG_TIER_MIN;
}

/* The run an action belongs to: state, lock and registry entry in one exec. A demotion
 * or a re-registration lowers the registry's tier at once, so the run acts at the
 * lower of its own tier and that one (a raise waits for the next bootstrap). Returns
 * AG__OK_REASON or why the agent cannot act; *have_s says whether s holds a decoded state. */
static enum ag_reason read_run(ag_gov *g, const char *agent, struct ag__session *s, int *have_s)
{
    char ks[AG__KEY_MAX], kl[AG__KEY_MAX], lv[AG__LOCKVAL_MAX];
    ag__key_agent(ks, agent, "state");
    ag__key_agent(kl, agent, "lock");
    struct ag_store_op ops[3] = {{.op = AG_OP_GET, .key = ks},
                                 {.op = AG_OP_GET, .key = kl},
                                 {.op = AG_OP_HGET, .key = AG__KEY_REGISTRY, .field = agent}};
    struct ag_store_reply rp[3];
    *have_s = 0;
    if (ag_store_exec(g->store, NULL, ops, 3, rp, NULL))
        return AG_REASON_STORE_UNAVAILABLE;
    enum ag_reason why = AG__OK_REASON;
    if (rp[0].type != AG_REPLY_STR)
        why = AG_REASON_NOT_BOOTSTRAPPED;
    else if (ag__state_decode(rp[0].str, s))
        why = AG_REASON_INTERNAL_ERROR;
    else if ((*have_s = 1, s->revoked))
        why = AG_REASON_AGENT_REVOKED;
    else if (s->phase == AG_PHASE_EXIT)
        why = AG_REASON_NOT_BOOTSTRAPPED;
    else if (ag__lockval(s, lv), rp[1].type != AG_REPLY_STR || strcmp(rp[1].str, lv) != 0)
        why = AG_REASON_LOCK_LOST;
    if (*have_s) {
        int reg = registry_tier(&rp[2]);
        s->tier = reg < s->tier ? reg : s->tier;
    }
    ag_store_reply_free(rp, 3);
    return why;
}

/* The policy's answer for the run's tier and phase and its packet's constraints.
 * Returns 1 when the action is one the packet forbids: an attempt counts as a violation
 * even when the request was refused as invalid first (a bad resource must not make a
 * forbidden action free to try). */
static int decide_for(ag_gov *g, const struct ag__session *s, const ag_packet *p,
                      const char *action, const char *resource, struct ag_gov_decision *out)
{
    struct ag_request req = {
        .tier = s->tier, .phase = s->phase, .action = action, .resource = resource};
    req.scope = ag_packet_list(p, "constraints.scope", &req.nscope);
    req.forbidden = ag_packet_list(p, "constraints.forbidden", &req.nforbidden);
    struct ag_decision d;
    ag_decide(g->policy, &req, &d);
    out->effect = d.effect;
    out->reason = d.reason;
    out->rule_file = d.rule_file;
    out->rule_line = d.rule_line;
    return d.reason == AG_REASON_FORBIDDEN_ACTION ||
           (d.reason == AG_REASON_INVALID_REQUEST && ag_request_forbidden(&req));
}

/* Counts an attempted forbidden action against the agent's budget (revoking at the
 * default max_procedure_violations 1); returns 1 when it revoked. */
static int count_forbidden(ag_gov *g, const char *agent, const char *action, const char *resource)
{
    char full[1600], what[300];
    snprintf(full, sizeof full, "forbidden action %s on %s", action, resource);
    ag__utf8_safe_copy(what, sizeof what, full); /* cut at a character, as the ledger needs */
    struct ag_transition_result vr;
    memset(&vr, 0, sizeof vr);
    if (ag__count_error(g, agent, "procedure_violation", "forbidden_action", what, &vr) != AG_OK)
        return 0;
    return vr.revoked;
}

enum ag_effect ag_gov_authorize(ag_gov *g, const char *agent_id, const char *action,
                                const char *resource, int confidence, struct ag_gov_decision *out)
{
    memset(out, 0, sizeof *out);
    out->tier = -1;
    out->phase = AG_PHASE_NONE;
    if (ag__gov_check_id("agent id", agent_id) || !action || !*action || !resource ||
        confidence < -1 || confidence > 1000) {
        deny(out, AG_REASON_INVALID_REQUEST);
        return out->effect; /* nothing trustworthy to ledger under */
    }
    struct ag__session s;
    int have_s, forbidden = 0;
    enum ag_reason why = read_run(g, agent_id, &s, &have_s);
    if (have_s) {
        out->tier = s.tier;
        out->phase = s.revoked ? AG_PHASE_NONE : s.phase;
    }
    struct ag__pkt *pk = NULL;
    if (why == AG__OK_REASON && !(pk = ag__packet_for(g, agent_id, s.packet)))
        why = AG_REASON_STORE_UNAVAILABLE;
    if (why != AG__OK_REASON)
        deny(out, why);
    else
        forbidden = decide_for(g, &s, pk->p, action, resource, out);
    ag__gov_packet_put(g, pk);
    char abuf[512], rbuf[1024];
    action = ag__ledger_text(action, abuf, sizeof abuf);
    resource = ag__ledger_text(resource, rbuf, sizeof rbuf);
    /* Committed before it is returned: a decision the ledger cannot hold is a deny. */
    if (decision_ledger(g, agent_id, have_s ? &s : NULL, action, resource, confidence, out)) {
        deny(out, AG_REASON_LEDGER_UNAVAILABLE);
        out->ledger_seq = 0;
    }
    /* Counted whatever the ledger said: the attempt was made. */
    if (forbidden)
        out->revoked = count_forbidden(g, agent_id, action, resource);
    return out->effect;
}

/* ------------------------------------------- for grant.c (authorize with a grant) --- */

enum ag_reason ag__authz_read_run(ag_gov *g, const char *agent, struct ag__session *s, int *have_s)
{
    return read_run(g, agent, s, have_s);
}

struct ag__pkt *ag__authz_packet_for(ag_gov *g, const char *agent, const char *digest)
{
    return ag__packet_for(g, agent, digest);
}

int ag__authz_decide_for(ag_gov *g, const struct ag__session *s, const ag_packet *p,
                         const char *action, const char *resource, struct ag_gov_decision *out)
{
    return decide_for(g, s, p, action, resource, out);
}

int ag__authz_count_forbidden(ag_gov *g, const char *agent, const char *action,
                              const char *resource)
{
    return count_forbidden(g, agent, action, resource);
}

const char *ag__authz_ledger_text(const char *s, char *buf, size_t cap)
{
    return ag__ledger_text(s, buf, cap);
}
