/* The decider of an orchestrated agent's tool calls: the lifecycle decides; an "ask"
 * goes through the approvals flow (src/approve) and the call waits for a person, as the
 * MCP relay's asks do. See orch_int.h and ag_orch_opts in include/agentgov/coord.h.
 *
 * While a call waits, its agent's thread waits with it (the model sees the answer as
 * the tool's result, after the decision), and the STUCK monitor pauses: the team is
 * waiting for a person, not stuck. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coord/orch_int.h"
#include "core/err.h"
#include "core/time.h"

#define DEFAULT_ASK_TIMEOUT_MS (5 * 60 * 1000)
#define POLL_MS                100

/* Ledgers how an ask ended without a grant (the approvals module ledgers the ask and
 * the decisions; an ask nobody answered in time is recorded here). */
static void record_refusal(struct ag__agent_run *run, const char *action, const char *resource,
                           const char *reason, const char *approval_id)
{
    char data[96];
    snprintf(data, sizeof data, "{\"approval_id\":\"%s\"}", approval_id);
    struct ag_ledger_entry le = {.kind = "decision",
                                 .agent_id = run->id,
                                 .task_id = run->o->task,
                                 .tier = run->tier,
                                 .phase = ag_phase_name(run->phase),
                                 .action = action,
                                 .resource = resource,
                                 .decision = ag_effect_name(AG_EFFECT_DENY),
                                 .reason = reason,
                                 .confidence = -1,
                                 .success = -1,
                                 .data_json = data};
    if (ag_ledger_append(run->o->opts->ledger, &le, NULL, NULL) != AG_OK) {
        /* the refusal stands (fail closed); the ask itself is in the ledger already */
    }
}

/* 1 when the agent has been revoked meanwhile (its run must stop at once, not at the
 * end of the wait). */
static int revoked_now(struct ag__agent_run *run)
{
    struct ag_agent_status st;
    memset(&st, 0, sizeof st);
    int r = ag_gov_status(run->o->opts->gov, run->id, &st) == AG_OK && st.revoked;
    ag_agent_status_clear(&st);
    return r;
}

/* Polls the approval until it is no longer pending, the wait's end, the task's stop or
 * the agent's revocation. Returns its status ("pending" when nobody answered in time,
 * "revoked" when the agent was revoked while it waited). */
static void wait_answer(struct ag__agent_run *run, const char *id, char status[12])
{
    struct ag__orch *o = run->o;
    const struct ag_orch_opts *op = o->opts;
    int64_t until =
        ag__mono_ms() + (op->ask_timeout_ms > 0 ? op->ask_timeout_ms : DEFAULT_ASK_TIMEOUT_MS);
    if (until > o->deadline_mono)
        until = o->deadline_mono;
    snprintf(status, 12, "pending");
    while (!strcmp(status, "pending") && ag__mono_ms() < until && !atomic_load(&o->stop)) {
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        struct ag_approval ap;
        memset(&ap, 0, sizeof ap);
        if (ag_approve_get(op->approve, id, &ap) == AG_OK)
            snprintf(status, 12, "%s", ap.status);
        ag_approval_clear(&ap);
        if (!strcmp(status, "pending") && revoked_now(run))
            snprintf(status, 12, "revoked");
    }
}

enum ag_effect ag__orch_decide(void *ctx, const char *agent, const char *action,
                               const char *resource, struct ag_gov_decision *d)
{
    struct ag__orch_ask *k = ctx;
    struct ag__orch *o = k->run->o;
    const struct ag_orch_opts *op = o->opts;
    if (!op->approve || !op->policy)
        return ag_gov_authorize(op->gov, agent, action, resource, -1, d);
    struct ag_approve_request rq = {.agent_id = agent,
                                    .action = action,
                                    .resource = resource,
                                    .confidence = -1,
                                    .args_json = k->args_json,
                                    .requester_accessor = ""};
    struct ag_approve_result res;
    memset(&res, 0, sizeof res);
    enum ag_effect eff = ag_approve_authorize(op->approve, op->gov, op->policy, &rq, &res);
    *d = res.d;
    if (eff != AG_EFFECT_ASK)
        return eff;
    snprintf(k->approval_id, sizeof k->approval_id, "%s", res.approval_id);
    char status[12];
    atomic_fetch_add(&o->waiting, 1);
    wait_answer(k->run, k->approval_id, status);
    atomic_store(&o->last_progress_mono, ag__mono_ms());
    atomic_fetch_sub(&o->waiting, 1);
    d->effect = AG_EFFECT_DENY;
    if (!strcmp(status, "revoked")) {
        d->reason = AG_REASON_AGENT_REVOKED;
        snprintf(k->detail, sizeof k->detail,
                 "denied: the agent was revoked while approval %s for %s on %s waited",
                 k->approval_id, action, resource);
        return AG_EFFECT_DENY;
    }
    if (!strcmp(status, "pending")) {
        d->reason = AG_REASON_APPROVAL_PENDING;
        snprintf(k->detail, sizeof k->detail,
                 "denied: nobody answered approval %s for %s on %s in time", k->approval_id, action,
                 resource);
        record_refusal(k->run, action, resource, "approval_timeout", k->approval_id);
        return AG_EFFECT_DENY;
    }
    if (strcmp(status, "approved") != 0) {
        d->reason =
            !strcmp(status, "denied") ? AG_REASON_APPROVAL_DENIED : AG_REASON_APPROVAL_EXPIRED;
        snprintf(k->detail, sizeof k->detail, "denied: approval %s for %s on %s was %s",
                 k->approval_id, action, resource, status);
        return AG_EFFECT_DENY;
    }
    /* Approved: the retry spends the grant and the lifecycle decides again (at the
     * agent's tier and phase now). */
    rq.approval_id = k->approval_id;
    eff = ag_approve_authorize(op->approve, op->gov, op->policy, &rq, &res);
    *d = res.d;
    if (eff == AG_EFFECT_ALLOW)
        return AG_EFFECT_ALLOW;
    d->effect = AG_EFFECT_DENY;
    snprintf(k->detail, sizeof k->detail, "denied: approval %s was not honoured: %s%s%s",
             k->approval_id, ag_reason_name(res.d.reason), res.detail[0] ? ": " : "", res.detail);
    return AG_EFFECT_DENY;
}
