/* The action path of approvals: an ask records a pending approval; a retry carrying an
 * approval id spends its grant once and lets the lifecycle decide again. */
#include "approve/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"

/* The pending approval of an ask, built from the decision and its rule. */
static json_t *new_record(ag_approve *ap, const ag_policy *p, const struct ag_approve_request *rq,
                          const struct ag_gov_decision *d, const char *task, const char *id,
                          const char *args_digest, const char *digest, int64_t now)
{
    struct ag_rule_info ri;
    memset(&ri, 0, sizeof ri);
    ri.approval_required = 1;
    if (ag_policy_rule_at(p, d->rule_file, d->rule_line, &ri) != AG_OK)
        return NULL; /* the decision named a rule this policy lacks: refuse */
    int64_t timeout = ri.approval_timeout_ms > 0 ? ri.approval_timeout_ms : ap->default_timeout_ms;
    json_t *approvers = json_array();
    for (size_t i = 0; approvers && i < ri.napprovers; i++)
        json_array_append_new(approvers, json_string(ri.approvers[i]));
    json_t *args = json_null();
    if (rq->args_json && !(args = json_loads(rq->args_json, JSON_DECODE_ANY, NULL)))
        args = json_null();
    char rule[4200];
    snprintf(rule, sizeof rule, "%s:%d", d->rule_file, d->rule_line);
    const char *acc = rq->requester_accessor ? rq->requester_accessor : "";
    return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s?, "
                     "s:s, s:i, s:o, s:i, s:I, s:I, s:{s:s}, s:[], s:n, s:I, s:I}",
                     "id", id, "agent_id", rq->agent_id, "task_id", task, "tier", d->tier, "phase",
                     d->phase == AG_PHASE_NONE ? "" : ag_phase_name(d->phase), "action", rq->action,
                     "resource", rq->resource, "args", args, "args_digest", args_digest, "digest",
                     digest, "policy_file", ag_policy_path(p), "policy_hash", ag_policy_hash(p),
                     "rule", rule, "rule_id", ri.id, "rule_file", d->rule_file, "rule_line",
                     d->rule_line, "approvers", approvers ? approvers : json_array(), "required",
                     ri.approval_required, "asked_at_ms", (json_int_t)now, "expires_at_ms",
                     (json_int_t)(now + timeout), "requester", "accessor", acc, "votes", "decision",
                     "decided_at_ms", (json_int_t)0, "used_at_ms", (json_int_t)0);
}

/* What the lifecycle's ask hook builds and the caller releases afterwards. */
struct ask_ctx {
    ag_approve *ap;
    const ag_policy *p;
    const struct ag_approve_request *rq;
    const char *id;
    json_t *rec; /* the pending approval, once stored */
    char *data;  /* its ledger entry's data */
    char key[AG__APV_KEY_MAX];
    char detail[160];
};

/* Stores a new approval and its index entry in one exec. */
static ag_err store_ask(ag_approve *ap, json_t *rec, const char *key)
{
    const char *id = ag__apv_str(rec, "id");
    char *val = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (val == NULL)
        return ag__fail(AG_ENOMEM, "approval: out of memory");
    int64_t asked = ag__apv_int(rec, "asked_at_ms");
    int64_t ttl = ag__apv_int(rec, "expires_at_ms") - asked + AG_APPROVAL_KEEP_MS;
    struct ag_store_op ops[3] = {
        {.op = AG_OP_SETNX, .key = key, .value = val, .num = ttl},
        {.op = AG_OP_ZADD, .key = AG_APPROVAL_INDEX, .field = id, .num = asked},
        {.op = AG_OP_ZADD,
         .key = AG_APPROVAL_OPEN,
         .field = id,
         .num = ag__apv_int(rec, "expires_at_ms")}};
    struct ag_store_reply rp[3];
    ag_err e = ag_store_exec(ap->store, NULL, ops, 3, rp, NULL);
    int fresh = rp[0].type == AG_REPLY_INT && rp[0].integer == 1;
    ag_store_reply_free(rp, 3);
    free(val);
    if (e == AG_OK && !fresh)
        e = ag__fail(AG_EEXIST, "approval %s already exists", id);
    return e;
}

/* The lifecycle's ask hook: the pending approval goes to the store, and its request
 * entry (kind approval) is handed back to be committed with the decision. */
static ag_err on_ask(void *vctx, const struct ag_gov_decision *d, const char *task,
                     struct ag_ledger_entry *extra)
{
    struct ask_ctx *c = vctx;
    char args_digest[65], digest[65];
    ag_err e = ag_approval_digest(c->rq->agent_id, c->rq->action, c->rq->resource, c->rq->args_json,
                                  args_digest, digest);
    if (e == AG_OK)
        e = ag__apv_key(c->id, c->key);
    json_t *rec =
        e ? NULL
          : new_record(c->ap, c->p, c->rq, d, task, c->id, args_digest, digest, ag__wall_ms());
    if (e == AG_OK && rec == NULL)
        e = ag__fail(AG_EINTERNAL, "approval: cannot build the record (rule %s:%d)",
                     d->rule_file ? d->rule_file : "", d->rule_line);
    if (e == AG_OK)
        e = store_ask(c->ap, rec, c->key);
    if (e) {
        snprintf(c->detail, sizeof c->detail, "the approval could not be recorded: %s",
                 ag_last_error());
        json_decref(rec);
        return e;
    }
    c->rec = rec;
    json_t *data = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:O, s:O, s:O}", "approval_id", c->id,
        "event", "requested", "args_digest", args_digest, "digest", digest, "rule",
        ag__apv_str(rec, "rule"), "policy_hash", ag__apv_str(rec, "policy_hash"), "policy_file",
        ag__apv_str(rec, "policy_file"), "expires_at_ms",
        (json_int_t)ag__apv_int(rec, "expires_at_ms"), "required",
        (json_int_t)ag__apv_int(rec, "required"), "approvers", json_object_get(rec, "approvers"),
        "requester", json_object_get(rec, "requester"), "args", json_object_get(rec, "args"));
    c->data = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(data);
    if (c->data == NULL)
        return ag__fail(AG_ENOMEM, "approval: out of memory");
    const char *tk = ag__apv_str(rec, "task_id"), *ph = ag__apv_str(rec, "phase");
    *extra = (struct ag_ledger_entry){
        .kind = "approval",
        .agent_id = ag__apv_str(rec, "agent_id"),
        .task_id = *tk ? tk : NULL,
        .tier = d->tier,
        .phase = *ph ? ph : NULL,
        .action = ag__apv_str(rec, "action"),
        .resource = ag__apv_str(rec, "resource"),
        .decision = "pending",
        .reason = "requested",
        .confidence = -1,
        .success = -1,
        .data_json = c->data,
    };
    return AG_OK;
}

static enum ag_effect first_ask(ag_approve *ap, ag_gov *g, const ag_policy *p,
                                const struct ag_approve_request *rq, struct ag_approve_result *out)
{
    char id[AG_APPROVAL_ID_BUF], task[AG_GOV_TASK_BUF];
    memcpy(id, "apv-", 4);
    ag__random_hex(12, id + 4);
    struct ask_ctx c = {.ap = ap, .p = p, .rq = rq, .id = id};
    struct ag_gov_authz az = {.agent_id = rq->agent_id,
                              .action = rq->action,
                              .resource = rq->resource,
                              .confidence = rq->confidence,
                              .ask_approval_id = id,
                              .on_ask = on_ask,
                              .on_ask_ctx = &c};
    ag_gov_authorize_ex(g, &az, &out->d, task);
    if (out->d.effect == AG_EFFECT_ASK && c.rec) {
        snprintf(out->approval_id, sizeof out->approval_id, "%s", id);
        out->expires_ms = ag__apv_int(c.rec, "expires_at_ms");
        ag__apv_emit(ap, AG_APPROVAL_REQUESTED, c.rec);
    } else if (c.rec) {
        /* Stored but not ledgered (the decision became a deny): nobody may approve what
         * the ledger lacks. */
        struct ag_store_op undo[3] = {{.op = AG_OP_DEL, .key = c.key},
                                      {.op = AG_OP_ZREM, .key = AG_APPROVAL_INDEX, .field = id},
                                      {.op = AG_OP_ZREM, .key = AG_APPROVAL_OPEN, .field = id}};
        struct ag_store_reply ur[3];
        if (ag_store_exec(ap->store, NULL, undo, 3, ur, NULL) == AG_OK)
            ag_store_reply_free(ur, 3);
    }
    if (c.detail[0])
        memcpy(out->detail, c.detail, sizeof out->detail);
    json_decref(c.rec);
    free(c.data);
    return out->d.effect;
}

/* A retry refused before the lifecycle: ledgered as the decision it is. */
static enum ag_effect refuse_retry(ag_approve *ap, const struct ag_approve_request *rq,
                                   const json_t *rec, enum ag_reason why, const char *detail,
                                   struct ag_approve_result *out)
{
    out->d.effect = AG_EFFECT_DENY;
    out->d.reason = why;
    out->d.rule_file = NULL;
    out->d.rule_line = 0;
    snprintf(out->detail, sizeof out->detail, "%s", detail);
    json_t *data = json_pack("{s:s, s:s}", "approval_id", rq->approval_id, "detail", detail);
    char *dj = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(data);
    const char *task = rec ? ag__apv_str(rec, "task_id") : "";
    struct ag_ledger_entry e = {
        .kind = "decision",
        .agent_id = rq->agent_id,
        .task_id = *task ? task : NULL,
        .tier = out->d.tier,
        .phase = out->d.phase == AG_PHASE_NONE ? NULL : ag_phase_name(out->d.phase),
        .action = rq->action,
        .resource = rq->resource,
        .decision = "deny",
        .reason = ag_reason_name(why),
        .confidence = rq->confidence,
        .success = -1,
        .data_json = dj,
    };
    int64_t seq = 0;
    if (!dj || ag_ledger_append(ap->ledger, &e, &seq, NULL) != AG_OK) {
        out->d.reason = AG_REASON_LEDGER_UNAVAILABLE;
        seq = 0;
    }
    out->d.ledger_seq = seq;
    free(dj);
    return AG_EFFECT_DENY;
}

static enum ag_effect retry(ag_approve *ap, ag_gov *g, const struct ag_approve_request *rq,
                            const char *digest, struct ag_approve_result *out)
{
    snprintf(out->approval_id, sizeof out->approval_id, "%.32s", rq->approval_id);
    for (int attempt = 0; attempt < 8; attempt++) {
        char *raw;
        json_t *rec;
        ag_err e = ag__apv_load(ap, rq->approval_id, &raw, &rec);
        if (e == AG_ESTORE) {
            out->d.effect = AG_EFFECT_DENY;
            out->d.reason = AG_REASON_STORE_UNAVAILABLE;
            return AG_EFFECT_DENY;
        }
        if (e)
            return refuse_retry(ap, rq, NULL, AG_REASON_APPROVAL_MISMATCH, "no such approval", out);
        out->expires_ms = ag__apv_int(rec, "expires_at_ms");
        int64_t now = ag__wall_ms();
        const char *st = ag__apv_status(rec, now);
        enum ag_reason why = AG_REASON_COUNT;
        const char *detail = NULL;
        if (strcmp(ag__apv_str(rec, "agent_id"), rq->agent_id) != 0)
            why = AG_REASON_APPROVAL_MISMATCH, detail = "the approval was asked by another agent";
        else if (strcmp(ag__apv_str(rec, "digest"), digest) != 0)
            why = AG_REASON_APPROVAL_MISMATCH,
            detail = "the action, resource or arguments differ from the approved ones";
        else if (strcmp(st, AG__APV_DENIED) == 0)
            why = AG_REASON_APPROVAL_DENIED, detail = "the approval was denied";
        else if (strcmp(st, AG__APV_WITHDRAWN) == 0)
            why = AG_REASON_APPROVAL_DENIED, detail = "the approval was withdrawn";
        else if (ag__apv_int(rec, "used_at_ms") > 0)
            why = AG_REASON_APPROVAL_USED, detail = "the approval was already used";
        else if (strcmp(st, AG__APV_EXPIRED) == 0)
            why = AG_REASON_APPROVAL_EXPIRED, detail = "the approval expired";
        else if (strcmp(st, AG__APV_PENDING) == 0)
            why = AG_REASON_APPROVAL_PENDING, detail = "the approval is still pending";
        if (why == AG_REASON_COUNT) {
            /* The grant must carry the ledger key's signature over this very approval: a
             * record edited on the store does not pass. */
            json_t *gr = json_object_get(rec, "grant");
            char msg[256];
            size_t len = ag_approval_grant_message(rq->approval_id, digest, out->expires_ms,
                                                   ag__apv_str(gr, "nonce"), msg);
            if (ag__apv_int(gr, "expires_at_ms") != out->expires_ms ||
                !ag_ledger_sig_valid(ap->ledger, msg, len, ag__apv_str(gr, "sig")))
                why = AG_REASON_APPROVAL_MISMATCH, detail = "the grant's signature does not verify";
        }
        if (why != AG_REASON_COUNT) {
            /* Another agent's approval tells this one nothing about itself. */
            int own = strcmp(ag__apv_str(rec, "agent_id"), rq->agent_id) == 0;
            out->d.tier = own ? (int)ag__apv_int(rec, "tier") : -1;
            if (!own || ag_phase_parse(ag__apv_str(rec, "phase"), &out->d.phase) != AG_OK)
                out->d.phase = AG_PHASE_NONE;
            refuse_retry(ap, rq, own ? rec : NULL, why, detail, out);
            free(raw);
            json_decref(rec);
            if (why == AG_REASON_APPROVAL_EXPIRED)
                ag__apv_note_expiry(ap, rq->approval_id, now);
            return AG_EFFECT_DENY;
        }
        /* Spent before it is used: of two concurrent retries only one wins the CAS. */
        json_object_set_new(rec, "used_at_ms", json_integer(now));
        int won = 0;
        e = ag__apv_cas(ap, rq->approval_id, raw, rec, 1, &won);
        free(raw);
        if (e) {
            json_decref(rec);
            out->d.effect = AG_EFFECT_DENY;
            out->d.reason = AG_REASON_STORE_UNAVAILABLE;
            return AG_EFFECT_DENY;
        }
        if (!won) {
            json_decref(rec);
            continue;
        }
        char task[AG_GOV_TASK_BUF];
        struct ag_gov_authz az = {.agent_id = rq->agent_id,
                                  .action = rq->action,
                                  .resource = rq->resource,
                                  .confidence = rq->confidence,
                                  .grant_approval_id = rq->approval_id,
                                  .grant_rule_file = ag__apv_str(rec, "rule_file"),
                                  .grant_rule_line = (int)ag__apv_int(rec, "rule_line")};
        ag_gov_authorize_ex(g, &az, &out->d, task);
        json_decref(rec);
        return out->d.effect;
    }
    out->d.effect = AG_EFFECT_DENY;
    out->d.reason = AG_REASON_APPROVAL_USED;
    return AG_EFFECT_DENY;
}

enum ag_effect ag_approve_authorize(ag_approve *ap, ag_gov *g, const ag_policy *p,
                                    const struct ag_approve_request *rq,
                                    struct ag_approve_result *out)
{
    memset(out, 0, sizeof *out);
    out->d.effect = AG_EFFECT_DENY;
    out->d.reason = AG_REASON_INVALID_REQUEST;
    out->d.tier = -1;
    out->d.phase = AG_PHASE_NONE;
    if (!ap || !g || !rq || !rq->agent_id || !rq->action || !rq->resource)
        return AG_EFFECT_DENY;
    if (!rq->approval_id)
        return first_ask(ap, g, p, rq, out);
    char args_digest[65], digest[65];
    if (ag_approval_digest(rq->agent_id, rq->action, rq->resource, rq->args_json, args_digest,
                           digest) != AG_OK) {
        snprintf(out->detail, sizeof out->detail, "%s", ag_last_error());
        return AG_EFFECT_DENY;
    }
    return retry(ap, g, rq, digest, out);
}
