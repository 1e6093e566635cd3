/* Cascading token revocation: a token, its children and their leases, by token,
 * accessor or agent (ag_auth_token_revoke*, ag_auth_revoke_agent). */
#include "auth/token_revoke.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "auth/approle.h"
#include "auth/token.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"

/* ---- revocation ------------------------------------------------------------------ */

/* Field names of a hash (every other element of HGETALL). */
static ag_err hash_fields(ag_auth *a, const char *key, char ***fields, size_t *n)
{
    struct ag_store_op op = {.op = AG_OP_HGETALL, .key = key};
    struct ag_store_reply rep;
    *fields = NULL;
    *n = 0;
    ag_err err = ag_store_exec(a->store, NULL, &op, 1, &rep, NULL);
    if (err != AG_OK) {
        ag_store_reply_free(&rep, 1);
        return err;
    }
    if (rep.type == AG_REPLY_ARRAY && rep.nelems >= 2) {
        *fields = calloc(rep.nelems / 2, sizeof **fields);
        if (!*fields)
            err = ag__fail(AG_ENOMEM, "hash fields");
        for (size_t i = 0; err == AG_OK && i + 1 < rep.nelems; i += 2) {
            (*fields)[*n] = rep.elems[i].str;
            rep.elems[i].str = NULL;
            if ((*fields)[*n])
                (*n)++;
        }
    }
    ag_store_reply_free(&rep, 1);
    return err;
}

/* Marks one token revoked (compare-and-set). *did = 1 when this call revoked it. */
static ag_err mark_revoked(ag_auth *a, struct ag__tok *t, int *did)
{
    *did = 0;
    for (int i = 0; i < AG__AUTH_CAS_TRIES; i++) {
        if (t->revoked_ms)
            return AG_OK;
        struct ag__tok next = *t;
        next.revoked_ms = ag__auth_now(a);
        char *text = ag__tok_text(&next);
        if (!text)
            return ag__fail(AG_ENOMEM, "token record");
        char akey[64], agkey[AG_AUTH_NAME_MAX + 32];
        snprintf(akey, sizeof akey, "auth:acc:%s", t->info.accessor);
        snprintf(agkey, sizeof agkey, "auth:agent_tokens:%s", t->info.agent_id);
        struct ag_store_op ops[3] = {
            {.op = AG_OP_SET, .key = t->key, .value = text, .num = AG__AUTH_GRACE_MS},
            {.op = AG_OP_SET, .key = akey, .value = t->hmac, .num = AG__AUTH_GRACE_MS},
            {.op = AG_OP_HDEL, .key = agkey, .field = t->info.accessor}};
        int ok = 0;
        ag_err err = ag__auth_exec(a, t->key, t->raw, ops, 3, &ok);
        free(text);
        if (err != AG_OK)
            return err;
        if (ok) {
            *did = 1;
            return AG_OK;
        }
        char hmac[65];
        memcpy(hmac, t->hmac, sizeof hmac);
        ag__tok_clear(t);
        if ((err = ag__token_fetch_hmac(a, hmac, 0, t)) != AG_OK)
            return err == AG_ENOTFOUND ? AG_OK : err;
    }
    return ag__fail(AG_ECONFLICT, "token revoke: too many concurrent updates");
}

/* Deletes every lease of a token and its lease index; counts them. */
static ag_err drop_leases(ag_auth *a, const char *accessor, size_t *count)
{
    char ikey[64];
    snprintf(ikey, sizeof ikey, "auth:leases:%s", accessor);
    char **ids = NULL;
    size_t n = 0;
    ag_err err = hash_fields(a, ikey, &ids, &n);
    if (err != AG_OK)
        return err;
    struct ag_store_op *ops = calloc(n + 1, sizeof *ops);
    char **keys = calloc(n + 1, sizeof *keys);
    if (!ops || !keys)
        err = ag__fail(AG_ENOMEM, "lease revocation");
    for (size_t i = 0; err == AG_OK && i < n; i++) {
        size_t len = strlen(ids[i]) + 16;
        if (!(keys[i] = malloc(len))) {
            err = ag__fail(AG_ENOMEM, "lease revocation");
            break;
        }
        snprintf(keys[i], len, "auth:lease:%s", ids[i]);
        ops[i] = (struct ag_store_op){.op = AG_OP_DEL, .key = keys[i]};
    }
    if (err == AG_OK) {
        ops[n] = (struct ag_store_op){.op = AG_OP_DEL, .key = ikey};
        err = ag__auth_exec(a, NULL, NULL, ops, n + 1, NULL);
    }
    if (err == AG_OK)
        *count += n;
    ag_auth_strv_free(keys, n);
    ag_auth_strv_free(ids, n);
    free(ops);
    return err;
}

struct acc_stack {
    char **v;
    size_t n, cap;
};

static ag_err stack_push(struct acc_stack *s, char *owned)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            free(owned);
            return ag__fail(AG_ENOMEM, "revocation stack");
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = owned;
    return AG_OK;
}

/* Revokes one token (already marked or not), queues its children, drops its leases. */
static ag_err revoke_one(ag_auth *a, const char *acc, struct acc_stack *stack,
                         struct ag_revoke_stats *st, json_t *list, int *found)
{
    struct ag__tok t;
    ag_err err = ag__token_fetch_accessor(a, acc, 0, &t);
    *found = err != AG_ENOTFOUND;
    if (err == AG_ENOTFOUND)
        return AG_OK;
    if (err != AG_OK)
        return err;
    int did = 0;
    err = mark_revoked(a, &t, &did);
    ag__tok_clear(&t);
    pthread_mutex_lock(&a->mu);
    ag__tcache_drop_accessor(&a->cache, acc);
    pthread_mutex_unlock(&a->mu);
    if (err != AG_OK)
        return err;
    if (did) {
        st->tokens++;
        json_array_append_new(list, json_string(acc));
    }
    char ckey[64], **kids = NULL;
    size_t nk = 0;
    snprintf(ckey, sizeof ckey, "auth:children:%s", acc);
    if ((err = hash_fields(a, ckey, &kids, &nk)) != AG_OK)
        return err;
    for (size_t i = 0; i < nk && err == AG_OK; i++) {
        err = stack_push(stack, kids[i]);
        kids[i] = NULL;
    }
    ag_auth_strv_free(kids, nk);
    if (err == AG_OK)
        err = ag_store_del(a->store, ckey);
    return err == AG_OK ? drop_leases(a, acc, &st->leases) : err;
}

ag_err ag__token_revoke_tree(ag_auth *a, const char *accessor, struct ag_revoke_stats *st,
                             json_t *list)
{
    struct acc_stack stack = {0};
    char *first = strdup(accessor);
    ag_err err = first ? stack_push(&stack, first) : ag__fail(AG_ENOMEM, "revoke");
    int top = 1;
    /* The parent is marked first, so that no new child or lease can attach to it (their
     * writes are guarded on the parent's record) while the tree is walked. */
    while (err == AG_OK && stack.n > 0) {
        char *acc = stack.v[--stack.n];
        int found = 0;
        err = revoke_one(a, acc, &stack, st, list, &found);
        if (err == AG_OK && top && !found)
            err = ag__fail(AG_ENOTFOUND, "token accessor '%s' not found", acc);
        top = 0;
        free(acc);
    }
    ag_auth_strv_free(stack.v, stack.n);
    return err;
}

static ag_err ledger_revocation(ag_auth *a, const char *action, const char *resource,
                                const char *agent, int tier, const struct ag_revoke_stats *st,
                                json_t *list, ag_err outcome)
{
    json_t *data = json_pack("{s:O, s:I, s:I}", "revoked", list, "leases", (json_int_t)st->leases,
                             "secret_ids", (json_int_t)st->secret_ids);
    if (outcome != AG_OK)
        json_object_set_new(data, "error", json_string(ag_last_error()));
    char *dj = ag__j_dump(data);
    json_decref(data);
    struct ag_ledger_entry e = {.kind = "token",
                                .agent_id = agent && *agent ? agent : NULL,
                                .tier = tier,
                                .action = action,
                                .resource = resource,
                                .decision = "revoke",
                                .confidence = -1,
                                .success = outcome == AG_OK,
                                .data_json = dj};
    ag_err err = ag__auth_ledger(a, &e);
    free(dj);
    if (err != AG_OK) {
        return ag__fail_wrap(err, "revoked, but unrecorded");
    }
    return AG_OK;
}

static ag_err revoke_accessor(ag_auth *a, const struct ag__tok *t, struct ag_revoke_stats *st)
{
    struct ag_revoke_stats local = {0};
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    json_t *list = json_array();
    char res[64], agent[AG_AUTH_NAME_MAX];
    snprintf(res, sizeof res, "token/%s", t->info.accessor);
    snprintf(agent, sizeof agent, "%s", t->info.agent_id);
    int tier = t->info.tier;
    ag_err err = ag__token_revoke_tree(a, t->info.accessor, st, list);
    if (err == AG_ENOTFOUND) {
        json_decref(list);
        return err;
    }
    char detail[256];
    snprintf(detail, sizeof detail, "%s", ag_last_error());
    ag_err lerr = ledger_revocation(a, "token.revoke", res, agent, tier, st, list, err);
    json_decref(list);
    if (err != AG_OK)
        return ag__fail(err, "%s", detail);
    return lerr;
}

ag_err ag_auth_token_revoke(ag_auth *a, const char *token, struct ag_revoke_stats *st)
{
    char hmac[65];
    ag_err err = ag__token_hash(a, token, hmac);
    if (err != AG_OK)
        return err;
    struct ag__tok t;
    if ((err = ag__token_fetch_hmac(a, hmac, 0, &t)) != AG_OK)
        return err == AG_ENOTFOUND ? ag__token_denied("invalid token") : err;
    err = revoke_accessor(a, &t, st);
    ag__tok_clear(&t);
    return err;
}

ag_err ag_auth_token_revoke_accessor(ag_auth *a, const char *accessor, struct ag_revoke_stats *st)
{
    struct ag__tok t;
    ag_err err = ag__token_fetch_accessor(a, accessor, 0, &t);
    if (err != AG_OK)
        return err;
    err = revoke_accessor(a, &t, st);
    ag__tok_clear(&t);
    return err;
}

ag_err ag_auth_revoke_agent(ag_auth *a, const char *agent_id, struct ag_revoke_stats *st)
{
    struct ag_revoke_stats local = {0};
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    ag_err err = ag__auth_check_name("agent_id", agent_id, 1);
    if (err != AG_OK)
        return err;
    /* Secret IDs first: a login that is under way is guarded on its secret ID's record,
     * so once they are gone no new token can appear for this agent. */
    err = ag__approle_destroy_agent_sids(a, agent_id, &st->secret_ids);
    char key[AG_AUTH_NAME_MAX + 32], **accs = NULL;
    size_t n = 0;
    snprintf(key, sizeof key, "auth:agent_tokens:%s", agent_id);
    if (err == AG_OK)
        err = hash_fields(a, key, &accs, &n);
    json_t *list = json_array();
    for (size_t i = 0; i < n && err == AG_OK; i++) {
        err = ag__token_revoke_tree(a, accs[i], st, list);
        if (err == AG_ENOTFOUND) /* expired long ago and cleaned up by the store */
            err = AG_OK;
    }
    ag_auth_strv_free(accs, n);
    if (err == AG_OK)
        err = ag_store_del(a->store, key);
    char detail[256], res[AG_AUTH_NAME_MAX + 16];
    snprintf(detail, sizeof detail, "%s", ag_last_error());
    snprintf(res, sizeof res, "agent/%s", agent_id);
    ag_err lerr = ledger_revocation(a, "token.revoke_agent", res, agent_id, -1, st, list, err);
    json_decref(list);
    if (err != AG_OK)
        return ag__fail(err, "%s", detail);
    return lerr;
}

ag_err ag_auth_revoke_agent_hook(void *ctx, const char *agent_id)
{
    return ag_auth_revoke_agent((ag_auth *)ctx, agent_id, NULL);
}
