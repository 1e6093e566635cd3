/* The approvals handle, identities, reading and listing approvals, deciding them (the
 * two-person rule, no self-approval) and the sweeper that ledgers expiries. */
#include "approve/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/time.h"

#define DEFAULT_TIMEOUT_MS (15 * 60 * 1000)

ag_err ag_approve_new(const struct ag_approve_opts *o, ag_approve **out)
{
    *out = NULL;
    if (o == NULL || o->store == NULL || o->ledger == NULL)
        return ag__fail(AG_EINVAL, "approvals: a store and a ledger are required");
    ag_approve *ap = calloc(1, sizeof *ap);
    if (ap == NULL)
        return ag__fail(AG_ENOMEM, "approvals: out of memory");
    ap->store = o->store;
    ap->ledger = o->ledger;
    ap->auth = o->auth;
    ap->default_timeout_ms = o->default_timeout_ms > 0 ? o->default_timeout_ms : DEFAULT_TIMEOUT_MS;
    pthread_mutex_init(&ap->mu, NULL);
    *out = ap;
    return AG_OK;
}

void ag_approve_free(ag_approve *ap)
{
    if (ap == NULL)
        return;
    pthread_mutex_destroy(&ap->mu);
    free(ap);
}

void ag_approve_set_event_hook(ag_approve *ap, ag_approve_event_fn fn, void *ctx)
{
    pthread_mutex_lock(&ap->mu);
    ap->hook = fn;
    ap->hook_ctx = ctx;
    pthread_mutex_unlock(&ap->mu);
}

ag_err ag_approve_identity_token(ag_approve *ap, const char *token, struct ag_identity *out)
{
    memset(out, 0, sizeof *out);
    if (ap->auth == NULL)
        return ag__fail(AG_EINVAL, "approvals: no auth engine to look tokens up");
    struct ag_token_info ti;
    memset(&ti, 0, sizeof ti);
    ag_err e = ag_auth_token_lookup_fresh(ap->auth, token, &ti);
    if (e)
        return e;
    snprintf(out->accessor, sizeof out->accessor, "%s", ti.accessor);
    snprintf(out->entity, sizeof out->entity, "%s", ti.agent_id);
    snprintf(out->role, sizeof out->role, "%s", ti.role);
    out->tier = ti.tier;
    out->admin = ti.root || ti.tier == AG_TIER_MAX;
    snprintf(out->via, sizeof out->via, "token");
    ag_token_info_clear(&ti);
    return AG_OK;
}

/* ---- digests and grant messages ---------------------------------------------------- */

ag_err ag_approval_digest(const char *agent_id, const char *action, const char *resource,
                          const char *args_json, char args_digest[65], char digest[65])
{
    json_t *args = json_null();
    if (args_json) {
        json_error_t je;
        args = json_loads(args_json, JSON_DECODE_ANY, &je);
        if (args == NULL)
            return ag__fail(AG_EINVAL, "args: not JSON: %s (line %d)", je.text, je.line);
    }
    char *canon = NULL;
    ag_err e = ag__jcs_dump(args, 0, &canon);
    json_decref(args);
    if (e)
        return ag__fail(e, "args: %s", ag_last_error());
    ag__sha256_hex(canon, strlen(canon), args_digest);
    free(canon);
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "action", action, "agent_id", agent_id,
                            "args_digest", args_digest, "resource", resource);
    if (req == NULL)
        return ag__fail(AG_EINVAL, "approval digest: action, resource and agent must be UTF-8");
    e = ag__jcs_dump(req, 0, &canon);
    json_decref(req);
    if (e)
        return e;
    ag__sha256_hex(canon, strlen(canon), digest);
    free(canon);
    return AG_OK;
}

size_t ag_approval_grant_message(const char *id, const char *digest, int64_t expires_ms,
                                 const char *nonce, char out[256])
{
    int n = snprintf(out, 256, "agentgov-approval-grant:v1:%s:%s:%lld:%s", id, digest,
                     (long long)expires_ms, nonce);
    return n < 0 ? 0 : (size_t)n < 256 ? (size_t)n : 255;
}

/* ---- reading ----------------------------------------------------------------------- */

ag_err ag_approve_get(ag_approve *ap, const char *id, struct ag_approval *out)
{
    memset(out, 0, sizeof *out);
    char *raw;
    json_t *rec;
    ag_err e = ag__apv_load(ap, id, &raw, &rec);
    if (e)
        return e;
    e = ag__apv_fill(rec, ag__wall_ms(), out);
    free(raw);
    json_decref(rec);
    return e;
}

void ag_approval_list_free(struct ag_approval *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        ag_approval_clear(&items[i]);
    free(items);
}

/* The ids of an index with scores in [min, max], lowest first (*ids malloc'd; free
 * with ag_store_strv_free). */
static ag_err index_ids(ag_approve *ap, const char *index, int64_t min, int64_t max, char ***ids,
                        size_t *n)
{
    struct ag_store_op op = {.op = AG_OP_ZRANGEBYSCORE, .key = index, .num = min, .num2 = max};
    struct ag_store_reply rp;
    *ids = NULL;
    *n = 0;
    ag_err e = ag_store_exec(ap->store, NULL, &op, 1, &rp, NULL);
    if (e)
        return e;
    if (rp.type == AG_REPLY_ARRAY && rp.nelems) {
        *ids = calloc(rp.nelems, sizeof **ids);
        if (*ids == NULL) {
            ag_store_reply_free(&rp, 1);
            return ag__fail(AG_ENOMEM, "approvals: out of memory");
        }
        for (size_t i = 0; i < rp.nelems; i++)
            if (rp.elems[i].type == AG_REPLY_STR) {
                (*ids)[*n] = rp.elems[i].str; /* taken from the reply */
                rp.elems[i].str = NULL;
                rp.elems[i].type = AG_REPLY_NIL;
                (*n)++;
            }
    }
    ag_store_reply_free(&rp, 1);
    return AG_OK;
}

/* The records of ids in one store round trip: replies[i] is STR or NIL. Ids whose
 * record aged out are dropped from the index on the way (best effort). */
static ag_err load_many(ag_approve *ap, const char *index, char **ids, size_t n,
                        struct ag_store_reply **replies)
{
    struct ag_store_op *ops = calloc(n ? n : 1, sizeof *ops);
    char(*keys)[AG__APV_KEY_MAX] = calloc(n ? n : 1, sizeof *keys);
    *replies = calloc(n ? n : 1, sizeof **replies);
    ag_err e = AG_OK;
    if (!ops || !keys || !*replies) {
        e = ag__fail(AG_ENOMEM, "approvals: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (ag__apv_key(ids[i], keys[i]) != AG_OK)
            snprintf(keys[i], sizeof keys[i], AG_APPROVAL_KEY_PREFIX "invalid");
        ops[i] = (struct ag_store_op){.op = AG_OP_GET, .key = keys[i]};
    }
    if (n && (e = ag_store_exec(ap->store, NULL, ops, n, *replies, NULL)))
        goto out;
    size_t gone = 0;
    for (size_t i = 0; i < n; i++)
        if ((*replies)[i].type != AG_REPLY_STR)
            ops[gone++] = (struct ag_store_op){.op = AG_OP_ZREM, .key = index, .field = ids[i]};
    if (gone) {
        struct ag_store_reply *rz = calloc(gone, sizeof *rz);
        if (rz && ag_store_exec(ap->store, NULL, ops, gone, rz, NULL) == AG_OK) {
        }
        if (rz)
            ag_store_reply_free(rz, gone);
        free(rz);
    }
out:
    free(ops);
    free(keys);
    if (e) {
        free(*replies);
        *replies = NULL;
    }
    return e;
}

ag_err ag_approve_list(ag_approve *ap, const struct ag_approval_filter *f,
                       struct ag_approval **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    char **ids;
    size_t nids;
    int64_t now = ag__wall_ms();
    /* Pending ones are open and not past their expiry: the open index has them all,
     * without reading the history. */
    const char *index = f && f->pending_only ? AG_APPROVAL_OPEN : AG_APPROVAL_INDEX;
    ag_err e = f && f->pending_only ? index_ids(ap, index, now + 1, INT64_MAX, &ids, &nids)
                                    : index_ids(ap, index, 0, INT64_MAX, &ids, &nids);
    if (e)
        return e;
    struct ag_store_reply *rp = NULL;
    if ((e = load_many(ap, index, ids, nids, &rp))) {
        ag_store_strv_free(ids, nids);
        return e;
    }
    struct ag_approval *out = calloc(nids ? nids : 1, sizeof *out);
    if (out == NULL)
        e = ag__fail(AG_ENOMEM, "approvals: out of memory");
    /* Newest first: the history index is oldest first (the open one is by expiry). */
    for (size_t k = nids; e == AG_OK && k-- > 0;) {
        if (f && f->limit && *n >= f->limit)
            break;
        if (rp[k].type != AG_REPLY_STR)
            continue;
        json_t *rec = json_loads(rp[k].str, 0, NULL);
        if (rec == NULL)
            continue;
        int keep =
            (!f || !f->agent_id || strcmp(ag__apv_str(rec, "agent_id"), f->agent_id) == 0) &&
            (!f || !f->pending_only || strcmp(ag__apv_status(rec, now), AG__APV_PENDING) == 0);
        if (keep && (e = ag__apv_fill(rec, now, &out[*n])) == AG_OK)
            (*n)++;
        json_decref(rec);
    }
    ag_store_reply_free(rp, nids);
    free(rp);
    ag_store_strv_free(ids, nids);
    if (e) {
        ag_approval_list_free(out, *n);
        *n = 0;
        return e;
    }
    *items = out;
    return AG_OK;
}

/* ---- deciding ---------------------------------------------------------------------- */

static int may_decide_rec(const json_t *rec, const struct ag_identity *who)
{
    if (who->admin)
        return 1;
    json_t *v, *list = json_object_get(rec, "approvers");
    size_t i;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        if (s == NULL)
            continue;
        if (strncmp(s, "tier:", 5) == 0 && who->tier >= 0 && who->tier >= atoi(s + 5))
            return 1;
        if (strncmp(s, "role:", 5) == 0 && who->role[0] && strcmp(who->role, s + 5) == 0)
            return 1;
        if (strncmp(s, "user:", 5) == 0 && who->entity[0] && strcmp(who->entity, s + 5) == 0)
            return 1;
    }
    return 0;
}

int ag_approve_may_decide(const struct ag_approval *a, const struct ag_identity *who)
{
    if (who->admin)
        return a != NULL;
    json_t *rec = a && a->json ? json_loads(a->json, 0, NULL) : NULL;
    int ok = rec && may_decide_rec(rec, who);
    json_decref(rec);
    return ok;
}

/* 1 when who is the one who asked: the same entity (agent) or the same token. */
static int is_requester(const json_t *rec, const struct ag_identity *who)
{
    const char *acc = ag__apv_str(json_object_get(rec, "requester"), "accessor");
    return strcmp(who->entity, ag__apv_str(rec, "agent_id")) == 0 ||
           (acc[0] && strcmp(acc, who->accessor) == 0);
}

/* A refused decision, ledgered, then reported as err with the detail. */
static ag_err refuse(ag_approve *ap, const json_t *rec, const struct ag_identity *who,
                     const char *why, ag_err err, const char *detail)
{
    json_t *d = json_pack("{s:o, s:s}", "approver", ag__apv_who(who), "refused", why);
    ag_err le = ag__apv_ledger(ap, rec, "refused", "decision_refused", d);
    if (le)
        return ag__fail(le, "approval %s: could not record the refused decision: %s",
                        ag__apv_str(rec, "id"), ag_last_error());
    return ag__fail(err, "approval %s: %s", ag__apv_str(rec, "id"), detail);
}

/* Signs the grant of an approval that reached its approvers. */
static ag_err sign_grant(ag_approve *ap, json_t *rec)
{
    char nonce[33], msg[256], sig[AG_LEDGER_SIG_HEX], kid[AG_LEDGER_KEY_ID_HEX];
    ag__random_hex(16, nonce);
    int64_t exp = ag__apv_int(rec, "expires_at_ms");
    size_t len = ag_approval_grant_message(ag__apv_str(rec, "id"), ag__apv_str(rec, "digest"), exp,
                                           nonce, msg);
    ag_err e = ag_ledger_sign(ap->ledger, msg, len, sig, kid);
    if (e)
        return e;
    json_object_set_new(rec, "grant",
                        json_pack("{s:s, s:s, s:s, s:I, s:s}", "nonce", nonce, "sig", sig, "key_id",
                                  kid, "expires_at_ms", (json_int_t)exp, "message", msg));
    return AG_OK;
}

/* Applies one vote to rec (already checked); returns the event to emit or -1. */
static int apply_vote(ag_approve *ap, json_t *rec, const struct ag_identity *who, int approve,
                      const char *reason, int64_t now, ag_err *err)
{
    json_t *votes = json_object_get(rec, "votes");
    json_t *vote =
        json_pack("{s:s, s:o, s:s?, s:I}", "decision", approve ? "approve" : "deny", "approver",
                  ag__apv_who(who), "reason", reason, "at_ms", (json_int_t)now);
    json_array_append_new(votes, vote);
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(votes, i, v) n += strcmp(ag__apv_str(v, "decision"), "approve") == 0;
    *err = AG_OK;
    if (!approve) {
        json_object_set_new(rec, "decision", json_string(AG__APV_DENIED));
        json_object_set_new(rec, "decided_at_ms", json_integer(now));
        return AG_APPROVAL_DECIDED;
    }
    if ((int64_t)n >= ag__apv_int(rec, "required")) {
        if ((*err = sign_grant(ap, rec)))
            return -1;
        json_object_set_new(rec, "decision", json_string(AG__APV_APPROVED));
        json_object_set_new(rec, "decided_at_ms", json_integer(now));
        return AG_APPROVAL_DECIDED;
    }
    return -1; /* a vote toward the two-person rule; still pending */
}

ag_err ag_approve_decide(ag_approve *ap, const char *id, const struct ag_identity *who, int approve,
                         const char *reason, struct ag_approval *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (who == NULL || !who->entity[0] || !who->accessor[0])
        return ag__fail(AG_EINVAL, "approval %s: the approver has no identity", id ? id : "");
    if (!approve && (reason == NULL || !*reason))
        return ag__fail(AG_EINVAL, "approval %s: a denial needs a reason", id ? id : "");
    if (reason && strlen(reason) > 1000)
        return ag__fail(AG_EINVAL, "approval %s: the reason is longer than 1000 bytes", id);
    for (int attempt = 0; attempt < 8; attempt++) {
        char *raw;
        json_t *rec;
        ag_err e = ag__apv_load(ap, id, &raw, &rec);
        if (e)
            return e;
        int64_t now = ag__wall_ms();
        const char *st = ag__apv_status(rec, now);
        json_t *v;
        size_t i;
        int dup = 0;
        json_array_foreach(json_object_get(rec, "votes"), i, v)
        {
            json_t *ap_who = json_object_get(v, "approver");
            dup |= strcmp(ag__apv_str(ap_who, "entity"), who->entity) == 0 ||
                   strcmp(ag__apv_str(ap_who, "accessor"), who->accessor) == 0;
        }
        if (is_requester(rec, who))
            e = refuse(ap, rec, who, "self_approval", AG_EPERM,
                       "permission denied: the requester cannot decide its own approval");
        else if (!may_decide_rec(rec, who))
            e = refuse(ap, rec, who, "not_an_approver", AG_EPERM,
                       "permission denied: not among this approval's approvers");
        else if (strcmp(st, AG__APV_WITHDRAWN) == 0)
            e = refuse(ap, rec, who, "withdrawn", AG_ESTATE,
                       "the approval was withdrawn by its opener (it is no longer pending)");
        else if (strcmp(st, AG__APV_PENDING) != 0)
            e = refuse(ap, rec, who, "not_pending", AG_ESTATE, "the approval is no longer pending");
        else if (dup)
            e = refuse(ap, rec, who, "already_voted", AG_EEXIST,
                       "this approver has already approved it (two-person rule: another "
                       "approver is needed)");
        if (e) {
            char detail[512];
            snprintf(detail, sizeof detail, "%s", ag_last_error());
            free(raw);
            json_decref(rec);
            return ag__fail(e, "%s", detail);
        }
        int ev = apply_vote(ap, rec, who, approve, reason, now, &e);
        int won = 0;
        if (e == AG_OK)
            e = ag__apv_cas(ap, id, raw, rec, ev >= 0 && !approve, &won);
        free(raw);
        if (e || !won) {
            json_decref(rec);
            if (e)
                return e;
            continue; /* someone else decided in between: look again */
        }
        /* The store holds the decision; the ledger must too before it is reported. */
        json_t *d =
            json_pack("{s:o, s:s?, s:I, s:I}", "approver", ag__apv_who(who), "comment", reason,
                      "approvals", (json_int_t)json_array_size(json_object_get(rec, "votes")),
                      "required", (json_int_t)ag__apv_int(rec, "required"));
        json_t *g = json_object_get(rec, "grant");
        if (ev >= 0 && g)
            json_object_set(d, "grant", g);
        const char *event = ev < 0 ? "vote" : approve ? "approved" : "denied";
        e = ag__apv_ledger(ap, rec, approve ? "approve" : "deny", event, d);
        if (e == AG_OK && ev >= 0)
            ag__apv_emit(ap, AG_APPROVAL_DECIDED, rec);
        if (e == AG_OK && out)
            e = ag__apv_fill(rec, now, out);
        json_decref(rec);
        return e;
    }
    return ag__fail(AG_ECONFLICT, "approval %s: too many concurrent decisions, try again", id);
}

ag_err ag_approve_sweep(ag_approve *ap, size_t *n)
{
    if (n)
        *n = 0;
    char **ids;
    size_t nids;
    int64_t now = ag__wall_ms();
    ag_err e = index_ids(ap, AG_APPROVAL_OPEN, 0, now, &ids, &nids);
    if (e)
        return e;
    struct ag_store_reply *rp = NULL;
    if ((e = load_many(ap, AG_APPROVAL_OPEN, ids, nids, &rp)) == AG_OK) {
        for (size_t i = 0; i < nids; i++) {
            if (rp[i].type != AG_REPLY_STR)
                continue;
            json_t *rec = json_loads(rp[i].str, 0, NULL);
            int due = rec && strcmp(ag__apv_status(rec, now), AG__APV_EXPIRED) == 0 &&
                      !json_is_true(json_object_get(rec, "expiry_ledgered"));
            if (rec && !due) {
                /* Settled without leaving the index (an old record): stop reading it. */
                struct ag_store_op z = {.op = AG_OP_ZREM, .key = AG_APPROVAL_OPEN, .field = ids[i]};
                struct ag_store_reply zr;
                if (ag_store_exec(ap->store, NULL, &z, 1, &zr, NULL) == AG_OK)
                    ag_store_reply_free(&zr, 1);
            }
            json_decref(rec);
            if (due) {
                ag__apv_note_expiry(ap, ids[i], now);
                if (n)
                    (*n)++;
            }
        }
        ag_store_reply_free(rp, nids);
        free(rp);
    }
    ag_store_strv_free(ids, nids);
    return e;
}
