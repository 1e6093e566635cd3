/* Error budgets: an error or a violation is counted against the agent's budget, and
 * the run revoked when a trigger fires (ag_gov_record_error, violations). */
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

/* -------------------------------------------------------------- errors ----- */

/* Counts one error of `type` (the budget's name for it) and ledgers it as `ltype`
 * (for violations: procedure_violation, illegal_transition, forbidden_action), then
 * revokes when a trigger fires. */
ag_err ag__count_error(ag_gov *g, const char *agent, const char *type, const char *ltype,
                       const char *message, struct ag_transition_result *r)
{
    char mbuf[1024], tbuf[256];
    message = message ? ag__ledger_text(message, mbuf, sizeof mbuf) : NULL;
    ltype = ag__ledger_text(ltype, tbuf, sizeof tbuf);
    int is_pv = strcmp(type, "procedure_violation") == 0;
    char ke[AG__KEY_MAX], ks[AG__KEY_MAX], kp[AG__KEY_MAX], tf[96];
    ag__key_agent(ke, agent, "errors");
    ag__key_agent(ks, agent, "state");
    ag__key_agent(kp, agent, "packet");
    snprintf(tf, sizeof tf, "type:%s", type);
    struct ag_store_op ops[6] = {
        {.op = AG_OP_HINCRBY, .key = ke, .field = "total_errors", .num = 1},
        {.op = AG_OP_HINCRBY, .key = ke, .field = tf, .num = 1},
        {.op = AG_OP_HINCRBY, .key = ke, .field = "procedure_violations", .num = is_pv},
        {.op = AG_OP_PEXPIRE, .key = ke, .num = g->o.state_ttl_ms},
        {.op = AG_OP_GET, .key = ks},
        {.op = AG_OP_GET, .key = kp},
    };
    struct ag_store_reply rp[6];
    ag_err e = ag_store_exec(g->store, NULL, ops, 6, rp, NULL);
    if (e) {
        ag__set_result(r, AG_REASON_STORE_UNAVAILABLE, "store: %s", ag_last_error());
        return AG_OK;
    }
    struct ag__session s;
    memset(&s, 0, sizeof s);
    s.phase = AG_PHASE_NONE;
    s.tier = -1;
    if (rp[4].type == AG_REPLY_STR && ag__state_decode(rp[4].str, &s)) {
        memset(&s, 0, sizeof s);
        s.phase = AG_PHASE_NONE;
    }
    snprintf(s.agent_id, sizeof s.agent_id, "%s", agent);
    struct ag_error_budget b = {8, 2, 1};
    ag_packet *p = NULL;
    if (rp[5].type == AG_REPLY_STR && ag_packet_parse(rp[5].str, rp[5].len, &p) == AG_OK) {
        b = ag_packet_budget(p);
        if (!s.task_id[0])
            snprintf(s.task_id, sizeof s.task_id, "%s", ag_packet_task_id(p));
    }
    ag_packet_free(p);
    int64_t total = rp[0].integer, same = rp[1].integer, pv = rp[2].integer;
    ag_store_reply_free(rp, 6);

    struct ag__lentry le;
    ag__lentry_init(&le, is_pv ? "violation" : "error", agent);
    le.task = s.task_id[0] ? s.task_id : NULL;
    le.tier = s.tier;
    le.phase = s.revoked || s.phase == AG_PHASE_NONE ? NULL : ag__phase_str(s.phase);
    le.success = 0;
    le.error_type = ltype;
    le.error_message = message;
    le.reason = is_pv ? message : NULL; /* the violations view's `details` */
    char data[160];
    snprintf(data, sizeof data,
             "{\"procedure_violations\":%lld,\"same_type\":%lld,\"total_errors\":%lld}",
             (long long)pv, (long long)same, (long long)total);
    le.data = data;
    ag_err le_err = ag__gov_ledger(g, &le, NULL);

    r->violation = is_pv;
    const char *trig = ag__budget_trigger(&b, total, same, pv);
    if (trig && !s.revoked) {
        char full[1400], det[256];
        snprintf(full, sizeof full, "%s: %s (total %lld/%d, same %lld/%d, violations %lld/%d)",
                 type, message ? message : "", (long long)total, b.max_total_errors,
                 (long long)same, b.max_same_error_repeats, (long long)pv,
                 b.max_procedure_violations);
        /* Cut at a character, never inside one: the revocation entry is JSON. */
        ag__utf8_safe_copy(det, sizeof det, full);
        if ((e = ag__revoke_session(g, &s, trig, det)))
            return e;
        r->revoked = 1;
        ag__set_result(r, AG_REASON_BUDGET_EXHAUSTED, "revoked: %s", det);
        return AG_OK;
    }
    if (s.revoked)
        r->revoked = 1;
    if (le_err) {
        ag__set_result(r, AG_REASON_LEDGER_UNAVAILABLE, "ledger: %s", ag_last_error());
        return AG_OK;
    }
    r->ok = 1;
    return AG_OK;
}

ag_err ag_gov_record_error(ag_gov *g, const char *agent_id, const char *error_type,
                           const char *message, struct ag_transition_result *r)
{
    memset(r, 0, sizeof *r);
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    if (!error_type || !*error_type || strlen(error_type) > 64)
        return ag__fail(AG_EINVAL, "error type: 1..64 characters required");
    return ag__count_error(g, agent_id, error_type, error_type, message, r);
}
