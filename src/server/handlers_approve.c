/* Approval endpoints: list and read approvals (with a long poll), approve and deny them
 * as the caller's token, and the action path's side of approvals (an ask answered with
 * its approval id, a retry carrying one). Who may see what: an administrator every
 * approval; an approver the approvals it may decide; the requesting agent its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/jcs.h"
#include "core/time.h"
#include "server/handlers.h"

/* The longest ?wait= a reader may ask for: a waiting request holds a worker. */
#define WAIT_MAX_MS  (60 * 1000)
#define WAIT_STEP_US (100 * 1000)

static ag_approve *req_approve(struct ag__req *r)
{
    if (!r->srv->approve)
        ag__reply_error(r, 503, "approvals are unavailable: %s",
                        !r->srv->ledger ? "ledger_unavailable" : "store_unavailable");
    return r->srv->approve;
}

/* The caller as an approver: its token's accessor, agent and role. */
static void token_identity(const struct ag__req *r, struct ag_identity *w)
{
    memset(w, 0, sizeof *w);
    snprintf(w->accessor, sizeof w->accessor, "%s", r->tok.accessor);
    snprintf(w->entity, sizeof w->entity, "%s", r->tok.agent_id);
    snprintf(w->role, sizeof w->role, "%s", r->tok.role);
    w->tier = r->tok.tier;
    w->admin = r->admin;
    snprintf(w->via, sizeof w->via, "token");
}

static json_t *approval_json(const struct ag_approval *a)
{
    json_t *o = a->json ? json_loads(a->json, 0, NULL) : NULL;
    return o ? o : json_null();
}

/* 1 when who is named among the approvers of some ask rule of the current policy. */
static int approver_somewhere(struct ag__req *r, const struct ag_identity *who)
{
    if (!r->pol) {
        const ag_policy *p;
        r->pol = ag__polref_get(&r->srv->policy, &p);
    }
    const ag_policy *p = ag__polref_policy(r->pol);
    for (size_t i = 0; p && i < ag_policy_rule_count(p); i++) {
        struct ag_rule_info ri;
        if (ag_policy_rule(p, i, &ri) != AG_OK || ri.effect != AG_EFFECT_ASK)
            continue;
        for (size_t k = 0; k < ri.napprovers; k++) {
            const char *s = ri.approvers[k];
            if ((strncmp(s, "tier:", 5) == 0 && who->tier >= atoi(s + 5)) ||
                (strncmp(s, "role:", 5) == 0 && who->role[0] && strcmp(who->role, s + 5) == 0) ||
                (strncmp(s, "user:", 5) == 0 && strcmp(who->entity, s + 5) == 0))
                return 1;
        }
    }
    return 0;
}

void ag__h_approvals_list(struct ag__req *r)
{
    ag_approve *ap = req_approve(r);
    if (!ap)
        return;
    struct ag_approval_filter f = {0};
    const char *pend = ag__req_query(r, "pending");
    f.pending_only = pend && (strcmp(pend, "true") == 0 || strcmp(pend, "1") == 0);
    const char *agent = ag__req_query(r, "agent");
    f.agent_id = agent && *agent ? agent : NULL;
    int64_t limit;
    if (!ag__query_int(r, "limit", 0, 100000, &limit))
        return;
    struct ag_approval *items;
    size_t n;
    ag_err e = ag_approve_list(ap, &f, &items, &n);
    if (e) {
        ag__reply_ag_error(r, e, "list approvals");
        return;
    }
    struct ag_identity who;
    token_identity(r, &who);
    /* The records are already JSON: the reply is written around them, not re-parsed. */
    struct ag_buf out;
    ag__buf_init(&out);
    ag__buf_puts(&out, "{\"data\":{\"approvals\":[");
    size_t shown = 0, decidable = 0;
    for (size_t i = 0; i < n; i++) {
        int may = ag_approve_may_decide(&items[i], &who);
        decidable += may;
        if (!may || (limit && (int64_t)shown >= limit))
            continue;
        ag__buf_printf(&out, "%s%s", shown ? "," : "", items[i].json);
        shown++;
    }
    ag__buf_printf(&out, "],\"count\":%zu}}\n", shown);
    ag_approval_list_free(items, n);
    /* Only administrators and approvers list approvals: an agent reads its own by id. */
    if (!r->admin && decidable == 0 && !approver_somewhere(r, &who)) {
        ag__buf_free(&out);
        ag__reply_error(r, 403,
                        "permission denied: listing approvals needs an admin or "
                        "approver token");
        ag__req_refused(r, r->tok.agent_id, "approver_required");
        return;
    }
    if (ag__buf_status(&out) != AG_OK) {
        ag__buf_free(&out);
        ag__reply_error(r, 500, "out of memory");
        return;
    }
    size_t len = out.len;
    ag__reply_raw(r, 200, "application/json", ag__buf_take(&out), len);
}

/* Reads the approval, replying 404/503 itself; then checks that the caller may see it. */
static int load_visible(struct ag__req *r, ag_approve *ap, const char *id, struct ag_approval *a)
{
    ag_err e = ag_approve_get(ap, id, a);
    if (e) {
        ag__reply_ag_error(r, e == AG_EINVAL ? AG_ENOTFOUND : e, "approval");
        return 0;
    }
    struct ag_identity who;
    token_identity(r, &who);
    if (strcmp(a->agent_id, r->tok.agent_id) == 0 || ag_approve_may_decide(a, &who))
        return 1;
    ag_approval_clear(a);
    ag__reply_error(r, 403,
                    "permission denied: approval %s belongs to another agent and this "
                    "token is not among its approvers",
                    id);
    return ag__req_refused(r, r->tok.agent_id, "other_agent");
}

void ag__h_approval_get(struct ag__req *r)
{
    ag_approve *ap = req_approve(r);
    if (!ap)
        return;
    const char *id = ag__route_capture(&r->m, "id");
    int64_t wait_ms = 0;
    const char *w = ag__req_query(r, "wait");
    if (w && *w && (ag__parse_duration(w, &wait_ms) != AG_OK || wait_ms < 0)) {
        ag__reply_error(r, 400, "wait must be a duration such as 30s");
        return;
    }
    if (wait_ms > WAIT_MAX_MS)
        wait_ms = WAIT_MAX_MS;
    struct ag_approval a;
    if (!load_visible(r, ap, id, &a))
        return;
    /* The long poll: read again until decided, expired, or the wait is over. The store
     * is the truth (a CLI in another process may decide), so it is polled. */
    int64_t until = ag__mono_ms() + wait_ms;
    while (strcmp(a.status, "pending") == 0 && ag__mono_ms() < until &&
           !atomic_load(&r->srv->draining)) {
        usleep(WAIT_STEP_US);
        struct ag_approval b;
        if (ag_approve_get(ap, id, &b) != AG_OK)
            break;
        ag_approval_clear(&a);
        a = b;
    }
    json_t *o = approval_json(&a);
    ag_approval_clear(&a);
    ag__reply_json(r, 200, json_pack("{s:o}", "data", o));
}

static void decide(struct ag__req *r, int approve)
{
    ag_approve *ap = req_approve(r);
    if (!ap)
        return;
    const char *id = ag__route_capture(&r->m, "id");
    const char *reason = NULL;
    if (r->body.len) {
        json_t *b = ag__req_json(r);
        if (!b)
            return;
        json_t *v = json_object_get(b, "reason");
        if (v && !json_is_null(v) && !json_is_string(v)) {
            ag__reply_error(r, 400, "reason must be a string");
            return;
        }
        reason = json_string_value(v);
    }
    struct ag_identity who;
    token_identity(r, &who);
    struct ag_approval a;
    ag_err e = ag_approve_decide(ap, id, &who, approve, reason, &a);
    if (e) {
        if (e == AG_EPERM) {
            ag__reply_error(r, 403, "%s", ag_last_error());
            ag__req_refused(r, r->tok.agent_id,
                            strstr(ag_last_error(), "requester") ? "self_approval"
                                                                 : "not_an_approver");
            return;
        }
        ag__reply_ag_error(
            r, e == AG_EINVAL && strstr(ag_last_error(), "bad approval id") ? AG_ENOTFOUND : e,
            approve ? "approve" : "deny");
        return;
    }
    json_t *o = approval_json(&a);
    ag_approval_clear(&a);
    ag__reply_json(r, 200, json_pack("{s:o}", "data", o));
}

void ag__h_approval_approve(struct ag__req *r)
{
    decide(r, 1);
}

void ag__h_approval_deny(struct ag__req *r)
{
    decide(r, 0);
}

/* ---- the action path -------------------------------------------------------------- */

int ag__approval_authorize(struct ag__req *r, ag_gov *g, const char *agent, json_t *b,
                           const char *action, const char *resource, int confidence,
                           struct ag_approve_result *ar)
{
    json_t *idv = json_object_get(b, "approval_id");
    if (idv && !json_is_null(idv) && !json_is_string(idv)) {
        ag__reply_error(r, 400, "approval_id must be a string");
        return 0;
    }
    json_t *args = json_object_get(b, "args");
    char *args_json = NULL;
    if (args && !json_is_null(args)) {
        /* Canonical already here: what the digest covers is what the approver sees. */
        if (ag__jcs_dump(args, 0, &args_json) != AG_OK) {
            ag__reply_error(r, 400, "args: %s", ag_last_error());
            return 0;
        }
    }
    struct ag_approve_request rq = {.agent_id = agent,
                                    .action = action,
                                    .resource = resource,
                                    .confidence = confidence,
                                    .args_json = args_json,
                                    .approval_id = json_string_value(idv),
                                    .requester_accessor = r->tok.accessor};
    ag_approve_authorize(r->srv->approve, g, ag__polref_policy(r->pol), &rq, ar);
    free(args_json);
    return 1;
}

void ag__approval_reply_fields(struct ag_buf *b, const struct ag_approve_result *ar)
{
    char exp[64] = "";
    if (ar->expires_ms > 0)
        ag__rfc3339(ar->expires_ms, exp);
    ag__buf_puts(b, ",\"approval_id\":"); /* on a retry: the client's own text */
    if (ag__jcs_string(b, ar->approval_id, strlen(ar->approval_id)) != AG_OK)
        ag__buf_puts(b, "null");
    if (exp[0])
        ag__buf_printf(b, ",\"expires_at\":\"%s\"", exp);
    if (ar->detail[0]) {
        ag__buf_puts(b, ",\"detail\":");
        if (ag__jcs_string(b, ar->detail, strlen(ar->detail)) != AG_OK)
            ag__buf_puts(b, "null");
    }
}
