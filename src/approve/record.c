/* Approval records on the store: keys, load and compare-and-set, the status computed at
 * read time, the struct a reader gets, and the module's ledger entries. */
#include "approve/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/jcs.h"
#include "core/time.h"

ag_err ag__apv_key(const char *id, char *buf)
{
    if (id == NULL || strlen(id) != 28 || strncmp(id, "apv-", 4) != 0 ||
        strspn(id + 4, "0123456789abcdef") != 24)
        return ag__fail(AG_EINVAL, "bad approval id '%.40s' (expected apv- and 24 hex digits)",
                        id ? id : "");
    snprintf(buf, AG__APV_KEY_MAX, AG_APPROVAL_KEY_PREFIX "%s", id);
    return AG_OK;
}

ag_err ag__apv_load(ag_approve *ap, const char *id, char **raw, json_t **rec)
{
    char key[AG__APV_KEY_MAX];
    *raw = NULL;
    *rec = NULL;
    ag_err e = ag__apv_key(id, key);
    if (e)
        return e;
    if ((e = ag_store_get(ap->store, key, raw)))
        return e;
    if (*raw == NULL)
        return ag__fail(AG_ENOTFOUND, "no approval '%s'", id);
    json_error_t je;
    *rec = json_loads(*raw, 0, &je);
    if (*rec == NULL || !json_is_object(*rec)) {
        json_decref(*rec);
        *rec = NULL;
        free(*raw);
        *raw = NULL;
        return ag__fail(AG_ETAMPER, "approval '%s': the stored record is not a JSON object", id);
    }
    return AG_OK;
}

ag_err ag__apv_cas(ag_approve *ap, const char *id, const char *old, json_t *rec, int close,
                   int *won)
{
    char key[AG__APV_KEY_MAX];
    *won = 0;
    ag_err e = ag__apv_key(id, key);
    if (e)
        return e;
    char *val = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (val == NULL)
        return ag__fail(AG_ENOMEM, "approval '%s': cannot write the record", id);
    int64_t ttl = ag__apv_int(rec, "expires_at_ms") + AG_APPROVAL_KEEP_MS - ag__wall_ms();
    struct ag_store_guard g = {.key = key, .equals = old};
    struct ag_store_op op[2] = {
        {.op = AG_OP_SET, .key = key, .value = val, .num = ttl > 1000 ? ttl : 1000},
        {.op = AG_OP_ZREM, .key = AG_APPROVAL_OPEN, .field = id}};
    struct ag_store_reply rp[2];
    size_t n = close ? 2 : 1;
    e = ag_store_exec(ap->store, &g, op, n, rp, won);
    ag_store_reply_free(rp, n);
    free(val);
    return e;
}

const char *ag__apv_str(const json_t *rec, const char *key)
{
    const char *s = json_string_value(json_object_get(rec, key));
    return s ? s : "";
}

int64_t ag__apv_int(const json_t *rec, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(rec, key));
}

const char *ag__apv_status(const json_t *rec, int64_t now)
{
    const char *dec = ag__apv_str(rec, "decision");
    if (strcmp(dec, AG__APV_DENIED) == 0)
        return AG__APV_DENIED;
    if (strcmp(dec, AG__APV_WITHDRAWN) == 0)
        return AG__APV_WITHDRAWN;
    /* A spent grant stays "approved" (with used_at_ms); an unspent one dies at expiry. */
    if (strcmp(dec, AG__APV_APPROVED) == 0 && ag__apv_int(rec, "used_at_ms") > 0)
        return AG__APV_APPROVED;
    if (now >= ag__apv_int(rec, "expires_at_ms"))
        return AG__APV_EXPIRED;
    return strcmp(dec, AG__APV_APPROVED) == 0 ? AG__APV_APPROVED : AG__APV_PENDING;
}

static char *dup_str(const json_t *rec, const char *key)
{
    return strdup(ag__apv_str(rec, key));
}

void ag_approval_clear(struct ag_approval *a)
{
    if (a == NULL)
        return;
    free(a->agent_id);
    free(a->task_id);
    free(a->action);
    free(a->resource);
    free(a->phase);
    free(a->args_json);
    free(a->policy_file);
    free(a->policy_hash);
    free(a->rule);
    free(a->rule_id);
    free(a->json);
    memset(a, 0, sizeof *a);
}

/* The record as served: every stored field, plus the status at now, the count of
 * approvals, RFC 3339 times, and no internal bookkeeping. Made in place (a copy was
 * most of the cost of a listing): rec is the caller's loaded tree, never written back
 * to the store afterwards. Returns a new reference to rec. */
static json_t *served(json_t *rec, int64_t now)
{
    json_t *o = json_incref(rec);
    json_object_del(o, "expiry_ledgered");
    const char *st = ag__apv_status(rec, now);
    json_object_set_new(o, "status", json_string(st));
    json_object_set_new(o, "used", json_boolean(ag__apv_int(rec, "used_at_ms") > 0));
    char t[64];
    ag__rfc3339(ag__apv_int(rec, "asked_at_ms"), t);
    json_object_set_new(o, "asked_at", json_string(t));
    ag__rfc3339(ag__apv_int(rec, "expires_at_ms"), t);
    json_object_set_new(o, "expires_at", json_string(t));
    size_t n = 0;
    json_t *v, *votes = json_object_get(rec, "votes");
    size_t i;
    json_array_foreach(votes, i, v) n += strcmp(ag__apv_str(v, "decision"), "approve") == 0;
    json_object_set_new(o, "approvals", json_integer((json_int_t)n));
    return o;
}

ag_err ag__apv_fill(json_t *rec, int64_t now, struct ag_approval *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", ag__apv_str(rec, "id"));
    snprintf(out->status, sizeof out->status, "%s", ag__apv_status(rec, now));
    out->used = ag__apv_int(rec, "used_at_ms") > 0;
    out->agent_id = dup_str(rec, "agent_id");
    out->task_id = dup_str(rec, "task_id");
    out->action = dup_str(rec, "action");
    out->resource = dup_str(rec, "resource");
    out->phase = dup_str(rec, "phase");
    out->tier = (int)ag__apv_int(rec, "tier");
    json_t *args = json_object_get(rec, "args");
    out->args_json = NULL;
    if (ag__jcs_dump(args ? args : json_null(), 0, &out->args_json) != AG_OK)
        out->args_json = strdup("null");
    snprintf(out->args_digest, sizeof out->args_digest, "%s", ag__apv_str(rec, "args_digest"));
    snprintf(out->digest, sizeof out->digest, "%s", ag__apv_str(rec, "digest"));
    out->policy_file = dup_str(rec, "policy_file");
    out->policy_hash = dup_str(rec, "policy_hash");
    out->rule = dup_str(rec, "rule");
    out->rule_id = dup_str(rec, "rule_id");
    out->asked_ms = ag__apv_int(rec, "asked_at_ms");
    out->expires_ms = ag__apv_int(rec, "expires_at_ms");
    out->decided_ms = ag__apv_int(rec, "decided_at_ms");
    out->required = (int)ag__apv_int(rec, "required");
    json_t *o = served(rec, now);
    out->approvals = o ? (int)ag__apv_int(o, "approvals") : 0;
    out->json = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!out->agent_id || !out->task_id || !out->action || !out->resource || !out->phase ||
        !out->args_json || !out->policy_file || !out->policy_hash || !out->rule || !out->rule_id ||
        !out->json) {
        ag_approval_clear(out);
        return ag__fail(AG_ENOMEM, "out of memory reading an approval");
    }
    return AG_OK;
}

json_t *ag__apv_who(const struct ag_identity *who)
{
    return json_pack("{s:s, s:s, s:s}", "accessor", who->accessor, "entity", who->entity, "via",
                     who->via);
}

ag_err ag__apv_ledger(ag_approve *ap, const json_t *rec, const char *decision, const char *event,
                      json_t *data)
{
    if (data == NULL)
        data = json_object();
    json_object_set_new(data, "approval_id", json_string(ag__apv_str(rec, "id")));
    json_object_set_new(data, "event", json_string(event));
    char *dj = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(data);
    if (dj == NULL)
        return ag__fail(AG_ENOMEM, "approval ledger entry: out of memory");
    const char *task = ag__apv_str(rec, "task_id"), *phase = ag__apv_str(rec, "phase");
    struct ag_ledger_entry e = {
        .kind = "approval",
        .agent_id = ag__apv_str(rec, "agent_id"),
        .task_id = *task ? task : NULL,
        .tier = json_is_integer(json_object_get(rec, "tier")) ? (int)ag__apv_int(rec, "tier") : -1,
        .phase = *phase ? phase : NULL,
        .action = ag__apv_str(rec, "action"),
        .resource = ag__apv_str(rec, "resource"),
        .decision = decision,
        .reason = event,
        .confidence = -1,
        .success = -1,
        .data_json = dj,
    };
    ag_err err = ag_ledger_append(ap->ledger, &e, NULL, NULL);
    free(dj);
    return err;
}

void ag__apv_emit(ag_approve *ap, enum ag_approval_event ev, json_t *rec)
{
    pthread_mutex_lock(&ap->mu);
    ag_approve_event_fn fn = ap->hook;
    void *ctx = ap->hook_ctx;
    pthread_mutex_unlock(&ap->mu);
    if (fn == NULL)
        return;
    json_t *o = served(rec, ag__wall_ms());
    char *j = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (j)
        fn(ctx, ev, ag__apv_str(rec, "id"), j);
    free(j);
}

void ag__apv_note_expiry(ag_approve *ap, const char *id, int64_t now)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        char *raw;
        json_t *rec;
        if (ag__apv_load(ap, id, &raw, &rec) != AG_OK)
            return;
        int won = 0;
        int due = strcmp(ag__apv_status(rec, now), AG__APV_EXPIRED) == 0 &&
                  !json_is_true(json_object_get(rec, "expiry_ledgered"));
        if (due) {
            /* Claimed on the store first, so that two sweepers record it once. */
            json_object_set_new(rec, "expiry_ledgered", json_true());
            if (ag__apv_cas(ap, id, raw, rec, 1, &won) == AG_OK && won) {
                if (ag__apv_ledger(ap, rec, "expired", "expired", NULL) == AG_OK) {
                    ag__apv_emit(ap, AG_APPROVAL_EXPIRED, rec);
                } else {
                    /* Not recorded: hand it back to the next sweep. */
                    char *raw2 = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
                    json_object_set_new(rec, "expiry_ledgered", json_false());
                    int w2;
                    if (raw2 && ag__apv_cas(ap, id, raw2, rec, 0, &w2) == AG_OK && w2) {
                        /* Open again, so that the next sweep finds it. */
                        struct ag_store_op op = {
                            .op = AG_OP_ZADD, .key = AG_APPROVAL_OPEN, .field = id, .num = 0};
                        struct ag_store_reply rp;
                        if (ag_store_exec(ap->store, NULL, &op, 1, &rp, NULL) == AG_OK)
                            ag_store_reply_free(&rp, 1);
                    }
                    free(raw2);
                }
            }
        }
        free(raw);
        json_decref(rec);
        if (!due || won)
            return;
    }
}
