/* Approvals that are not an agent's ask: a caller (a pipeline's human gate) opens a
 * pending approval under a stable id, so that opening it again finds the same one. */
#include "approve/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"

void ag_approval_id_for(const char *key, char id[AG_APPROVAL_ID_BUF])
{
    char hex[65];
    ag__sha256_hex(key, strlen(key), hex);
    snprintf(id, AG_APPROVAL_ID_BUF, "apv-%.24s", hex);
}

ag_err ag_approve_open(ag_approve *ap, const struct ag_approve_open *o, int *created)
{
    if (created)
        *created = 0;
    if (!o || !o->id || !o->requester || !*o->requester || !o->action || !o->resource)
        return ag__fail(AG_EINVAL, "approval: id, requester, action and resource are required");
    if (o->required < 1 || o->expires_ms <= 0)
        return ag__fail(AG_EINVAL, "approval %s: needs at least one approval and an expiry", o->id);
    char key[AG__APV_KEY_MAX], args_digest[65], digest[65];
    ag_err e = ag__apv_key(o->id, key);
    if (!e)
        e = ag_approval_digest(o->requester, o->action, o->resource, o->args_json, args_digest,
                               digest);
    if (e)
        return e;
    json_t *approvers = json_array();
    for (size_t i = 0; approvers && i < o->napprovers; i++)
        json_array_append_new(approvers, json_string(o->approvers[i]));
    json_t *args = o->args_json ? json_loads(o->args_json, JSON_DECODE_ANY, NULL) : NULL;
    int64_t now = ag__wall_ms();
    json_t *rec = json_pack(
        "{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:i, "
        "s:I, s:I, s:{s:s}, s:[], s:n, s:I, s:I}",
        "id", o->id, "agent_id", o->requester, "task_id", "", "tier", -1, "phase", "", "action",
        o->action, "resource", o->resource, "args", args ? args : json_null(), "args_digest",
        args_digest, "digest", digest, "policy_file", "", "policy_hash", "", "rule", "", "rule_id",
        "", "approvers", approvers ? approvers : json_array(), "required", o->required,
        "asked_at_ms", (json_int_t)now, "expires_at_ms", (json_int_t)o->expires_ms, "requester",
        "accessor", "", "votes", "decision", "decided_at_ms", (json_int_t)0, "used_at_ms",
        (json_int_t)0);
    if (rec == NULL)
        return ag__fail(AG_EINVAL, "approval %s: cannot build the record (not UTF-8?)", o->id);
    char *val = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    /* The record stays as long as an ask's does: its expiry plus the keeping time. */
    int64_t ttl = (o->expires_ms > now ? o->expires_ms - now : 0) + AG_APPROVAL_KEEP_MS;
    struct ag_store_op ops[3] = {
        {.op = AG_OP_SETNX, .key = key, .value = val, .num = ttl},
        {.op = AG_OP_ZADD, .key = AG_APPROVAL_INDEX, .field = o->id, .num = now},
        {.op = AG_OP_ZADD, .key = AG_APPROVAL_OPEN, .field = o->id, .num = o->expires_ms}};
    struct ag_store_reply rp[3];
    int fresh = 0;
    e = val ? AG_OK : ag__fail(AG_ENOMEM, "approval: out of memory");
    if (!e) {
        /* SETNX first on its own: an existing approval must not be re-indexed. */
        e = ag_store_exec(ap->store, NULL, ops, 1, rp, NULL);
        if (!e) {
            fresh = rp[0].type == AG_REPLY_INT && rp[0].integer == 1;
            ag_store_reply_free(rp, 1);
        }
        if (!e && fresh) {
            e = ag_store_exec(ap->store, NULL, ops + 1, 2, rp + 1, NULL);
            if (!e)
                ag_store_reply_free(rp + 1, 2);
        }
    }
    free(val);
    if (!e && fresh) {
        json_t *d =
            json_pack("{s:s, s:s, s:I, s:I, s:O}", "args_digest", args_digest, "digest", digest,
                      "expires_at_ms", (json_int_t)o->expires_ms, "required",
                      (json_int_t)o->required, "approvers", json_object_get(rec, "approvers"));
        e = ag__apv_ledger(ap, rec, "pending", "requested", d);
        if (!e)
            ag__apv_emit(ap, AG_APPROVAL_REQUESTED, rec);
    }
    json_decref(rec);
    if (!e && created)
        *created = fresh;
    return e;
}

ag_err ag_approve_peek(ag_store *s, const char *id, struct ag_approval *out)
{
    memset(out, 0, sizeof *out);
    /* Reading needs only the store: a handle without ledger nor auth. */
    struct ag_approve ap = {.store = s};
    char *raw;
    json_t *rec;
    ag_err e = ag__apv_load(&ap, id, &raw, &rec);
    if (e)
        return e;
    e = ag__apv_fill(rec, ag__wall_ms(), out);
    free(raw);
    json_decref(rec);
    return e;
}

/* Withdrawing is a compare-and-set like a decision: a vote that lands first wins, and
 * then the approval is simply no longer pending. The store holds the withdrawal before
 * the ledger records it (as for decisions), and it is reported only once both do. */
ag_err ag_approve_withdraw(ag_approve *ap, const char *id, const char *by, const char *reason,
                           int *withdrawn)
{
    if (withdrawn)
        *withdrawn = 0;
    if (!by || !*by)
        return ag__fail(AG_EINVAL, "approval %s: withdrawing needs a name (by)", id ? id : "");
    for (int attempt = 0; attempt < 8; attempt++) {
        char *raw;
        json_t *rec;
        ag_err e = ag__apv_load(ap, id, &raw, &rec);
        if (e)
            return e;
        int64_t now = ag__wall_ms();
        if (strcmp(ag__apv_status(rec, now), AG__APV_PENDING) != 0) {
            free(raw);
            json_decref(rec);
            return AG_OK;
        }
        json_object_set_new(rec, "decision", json_string(AG__APV_WITHDRAWN));
        json_object_set_new(rec, "decided_at_ms", json_integer(now));
        json_object_set_new(rec, "withdrawn", json_pack("{s:s, s:s?}", "by", by, "reason", reason));
        int won = 0;
        e = ag__apv_cas(ap, id, raw, rec, 1, &won);
        free(raw);
        if (!e && won) {
            json_t *d = json_pack("{s:s, s:s?}", "by", by, "reason", reason);
            e = ag__apv_ledger(ap, rec, AG__APV_WITHDRAWN, "withdrawn", d);
            if (!e) {
                ag__apv_emit(ap, AG_APPROVAL_DECIDED, rec);
                if (withdrawn)
                    *withdrawn = 1;
            }
        }
        json_decref(rec);
        if (e || won)
            return e;
    }
    return ag__fail(AG_ECONFLICT, "approval %s: too many concurrent decisions, try again", id);
}
