/* Leases of secret reads: created with the read, looked up, dropped and revoked
 * (ag_auth_lease_*). */
#include "auth/lease.h"

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

/* ---- leases ---------------------------------------------------------------------- */

ag_err ag__lease_prepare(ag_auth *a, const struct ag__tok *t, const char *path, int64_t version,
                         int64_t now, struct ag__lease_ops *lo, char lease_id[AG_LEASE_ID_MAX],
                         int64_t *duration_ms)
{
    memset(lo, 0, sizeof *lo);
    lease_id[0] = '\0';
    *duration_ms = 0;
    if (!t->info.expire_ms)
        return AG_OK; /* a token that never expires gets no lease (nothing to bound) */
    char rnd[25];
    ag__random_hex(12, rnd);
    snprintf(lease_id, AG_LEASE_ID_MAX, "secret/%s/%s", path, rnd);
    *duration_ms = t->info.expire_ms - now;
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "accessor", t->info.accessor, "path", path,
                          "version", (json_int_t)version, "issue_ms", (json_int_t)now, "expire_ms",
                          (json_int_t)t->info.expire_ms);
    lo->record = o ? ag__j_dump(o) : NULL;
    json_decref(o);
    if (!lo->record)
        return ag__fail(AG_ENOMEM, "lease record");
    snprintf(lo->lease_key, sizeof lo->lease_key, "auth:lease:%s", lease_id);
    snprintf(lo->index_key, sizeof lo->index_key, "auth:leases:%s", t->info.accessor);
    lo->ops[0] = (struct ag_store_op){
        .op = AG_OP_SET, .key = lo->lease_key, .value = lo->record, .num = *duration_ms};
    lo->ops[1] = (struct ag_store_op){
        .op = AG_OP_HSET, .key = lo->index_key, .field = lease_id, .value = path};
    /* The index lives as long as the token's record, so revocation can still find it. */
    lo->ops[2] = (struct ag_store_op){
        .op = AG_OP_PEXPIRE, .key = lo->index_key, .num = ag__auth_store_ttl(a, t->info.expire_ms)};
    return AG_OK;
}

void ag__lease_ops_clear(struct ag__lease_ops *lo)
{
    free(lo->record);
    lo->record = NULL;
}

static ag_err lease_get(ag_auth *a, const char *lease_id, struct ag_lease_info *out, char *key,
                        size_t keylen)
{
    memset(out, 0, sizeof *out);
    if (!lease_id || strlen(lease_id) >= AG_LEASE_ID_MAX)
        return ag__fail(AG_ENOTFOUND, "lease not found");
    snprintf(key, keylen, "auth:lease:%s", lease_id);
    json_t *o = NULL;
    ag_err err = ag__auth_get_json(a, key, &o, NULL);
    if (err != AG_OK)
        return err;
    if (!o)
        return ag__fail(AG_ENOTFOUND, "lease %s not found (expired or revoked)", lease_id);
    ag__token_copy_str(out->lease_id, sizeof out->lease_id, lease_id);
    ag__token_copy_str(out->accessor, sizeof out->accessor, ag__j_str(o, "accessor"));
    ag__token_copy_str(out->path, sizeof out->path, ag__j_str(o, "path"));
    out->version = ag__j_int(o, "version");
    out->issue_ms = ag__j_int(o, "issue_ms");
    out->expire_ms = ag__j_int(o, "expire_ms");
    json_decref(o);
    if (out->expire_ms && ag__auth_now(a) >= out->expire_ms)
        return ag__fail(AG_ENOTFOUND, "lease %s expired", lease_id);
    return AG_OK;
}

ag_err ag_auth_lease_lookup(ag_auth *a, const char *lease_id, struct ag_lease_info *out)
{
    char key[AG_LEASE_ID_MAX + 16];
    return lease_get(a, lease_id, out, key, sizeof key);
}

ag_err ag__lease_drop(ag_auth *a, const char *lease_id, char *accessor_out)
{
    char key[AG_LEASE_ID_MAX + 16], ikey[64];
    struct ag_lease_info li;
    ag_err err = lease_get(a, lease_id, &li, key, sizeof key);
    if (err != AG_OK)
        return err;
    snprintf(ikey, sizeof ikey, "auth:leases:%s", li.accessor);
    struct ag_store_op ops[2] = {{.op = AG_OP_DEL, .key = key},
                                 {.op = AG_OP_HDEL, .key = ikey, .field = lease_id}};
    if (accessor_out)
        ag__token_copy_str(accessor_out, AG_ACCESSOR_BUF, li.accessor);
    return ag__auth_exec(a, NULL, NULL, ops, 2, NULL);
}

ag_err ag_auth_lease_revoke(ag_auth *a, const char *lease_id)
{
    char acc[AG_ACCESSOR_BUF];
    ag_err err = ag__lease_drop(a, lease_id, acc);
    if (err != AG_OK)
        return err;
    json_t *data = json_pack("{s:s}", "accessor", acc);
    char *dj = ag__j_dump(data);
    json_decref(data);
    struct ag_ledger_entry e = {.kind = "secret",
                                .tier = -1,
                                .action = "lease.revoke",
                                .resource = lease_id,
                                .decision = "revoke",
                                .confidence = -1,
                                .success = 1,
                                .data_json = dj};
    err = ag__auth_ledger(a, &e);
    free(dj);
    return err;
}
