/* Authorize for the approvals module (ag_gov_authorize_ex): the same run read, policy
 * answer and ledger-before-answer rule as ag_gov_authorize, with the approval's id in
 * the decision's entry, and an ask turned into allow only for a grant from the same
 * rule. The approvals module checks and spends the grant before it calls this. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/safestr.h"
#include "gov/authz.h"
#include "gov/lifecycle.h"
#include "gov/packet.h"

static void deny(struct ag_gov_decision *out, enum ag_reason why)
{
    out->effect = AG_EFFECT_DENY;
    out->reason = why;
    out->rule_file = NULL;
    out->rule_line = 0;
}

/* The decision's entry, with the rule and the approval (request or grant) in data,
 * committed together with extra (the approval's own entry) when there is one. Returns
 * 0 when committed. */
static int ledger_decision(ag_gov *g, const struct ag_gov_authz *rq, const struct ag__session *s,
                           const char *action, const char *resource, struct ag_gov_decision *out,
                           const struct ag_ledger_entry *extra)
{
    json_t *d = json_object();
    if (d && out->rule_file) {
        char rule[4200];
        snprintf(rule, sizeof rule, "%s:%d", out->rule_file, out->rule_line);
        json_object_set_new(d, "rule", json_string(rule));
    }
    const char *apv = rq->grant_approval_id ? rq->grant_approval_id : rq->ask_approval_id;
    if (d && apv && (out->effect == AG_EFFECT_ASK || rq->grant_approval_id))
        json_object_set_new(d, "approval_id", json_string(apv));
    char *data = d && json_object_size(d) ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(d);
    struct ag_ledger_entry e = {
        .kind = "decision",
        .agent_id = rq->agent_id,
        .agent_version = s && s->agent_version[0] ? s->agent_version : NULL,
        .task_id = s && s->task_id[0] ? s->task_id : NULL,
        .tier = out->tier,
        .phase = out->phase == AG_PHASE_NONE ? NULL : ag__phase_str(out->phase),
        .action = action,
        .resource = resource,
        .decision = ag_effect_name(out->effect),
        .reason = ag_reason_name(out->reason),
        .confidence = rq->confidence,
        .success = -1,
        .data_json = data,
    };
    const struct ag_ledger_entry *batch[2] = {&e, extra};
    int64_t seqs[2] = {0, 0};
    ag_err err = ag_ledger_append_batch(g->ledger, batch, extra ? 2 : 1, seqs);
    free(data);
    if (err)
        return -1;
    out->ledger_seq = seqs[0];
    return 0;
}

/* An ask from the grant's own rule is allowed; an ask from another is not. */
static void apply_grant(const struct ag_gov_authz *rq, struct ag_gov_decision *out)
{
    if (!rq->grant_approval_id || out->effect != AG_EFFECT_ASK)
        return;
    if (out->rule_file && rq->grant_rule_file && strcmp(out->rule_file, rq->grant_rule_file) == 0 &&
        out->rule_line == rq->grant_rule_line) {
        out->effect = AG_EFFECT_ALLOW;
        out->reason = AG_REASON_APPROVAL_GRANTED;
    } else {
        out->effect = AG_EFFECT_DENY;
        out->reason = AG_REASON_APPROVAL_MISMATCH;
    }
}

enum ag_effect ag_gov_authorize_ex(ag_gov *g, const struct ag_gov_authz *rq,
                                   struct ag_gov_decision *out, char task_id[AG_GOV_TASK_BUF])
{
    memset(out, 0, sizeof *out);
    out->tier = -1;
    out->phase = AG_PHASE_NONE;
    task_id[0] = '\0';
    if (!rq || ag__gov_check_id("agent id", rq->agent_id) || !rq->action || !*rq->action ||
        !rq->resource || rq->confidence < -1 || rq->confidence > 1000 ||
        (rq->grant_approval_id && !rq->grant_rule_file)) {
        deny(out, AG_REASON_INVALID_REQUEST);
        return out->effect;
    }
    struct ag__session s;
    int have_s, forbidden = 0;
    enum ag_reason why = ag__authz_read_run(g, rq->agent_id, &s, &have_s);
    if (have_s) {
        out->tier = s.tier;
        out->phase = s.revoked ? AG_PHASE_NONE : s.phase;
        snprintf(task_id, AG_GOV_TASK_BUF, "%s", s.task_id);
    }
    struct ag__pkt *pk = NULL;
    if (why == AG__OK_REASON && !(pk = ag__authz_packet_for(g, rq->agent_id, s.packet)))
        why = AG_REASON_STORE_UNAVAILABLE;
    if (why != AG__OK_REASON)
        deny(out, why);
    else
        forbidden = ag__authz_decide_for(g, &s, pk->p, rq->action, rq->resource, out);
    ag__gov_packet_put(g, pk);
    apply_grant(rq, out);
    /* An ask with somebody to record it: the pending approval first, its entry with
     * the decision's. */
    struct ag_ledger_entry extra;
    int have_extra = 0;
    if (out->effect == AG_EFFECT_ASK && rq->on_ask) {
        memset(&extra, 0, sizeof extra);
        ag_err he = rq->on_ask(rq->on_ask_ctx, out, task_id, &extra);
        if (he)
            deny(out, he == AG_ESTORE ? AG_REASON_STORE_UNAVAILABLE : AG_REASON_INTERNAL_ERROR);
        else
            have_extra = 1;
    }
    char abuf[512], rbuf[1024];
    const char *action = ag__authz_ledger_text(rq->action, abuf, sizeof abuf);
    const char *resource = ag__authz_ledger_text(rq->resource, rbuf, sizeof rbuf);
    if (ledger_decision(g, rq, have_s ? &s : NULL, action, resource, out,
                        have_extra ? &extra : NULL)) {
        deny(out, AG_REASON_LEDGER_UNAVAILABLE);
        out->ledger_seq = 0;
    }
    if (forbidden)
        out->revoked = ag__authz_count_forbidden(g, rq->agent_id, action, resource);
    return out->effect;
}
