/* ag_ledger_verify: recomputes the chain and every checkpoint signature. It reads the
 * database through its own read-only connection and trusts nothing in it: every row is
 * re-serialised from its stored values, so a changed byte, type or order shows up as a
 * hash mismatch at that row. */
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"
#include "ledger/backend.h"
#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "ledger/row.h"

struct walk {
    struct ag_verify_result *r;
    int has_pk;
    uint8_t pk[AG_LEDGER_PK_LEN];
    int64_t expect;             /* next seq expected */
    char prev[AG_HASH_HEX_LEN]; /* hash of the previous row */
    struct ag_buf scratch;
};

static int bad(struct ag_verify_result *r, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first problem; returns 1 to stop the scan. */
static int bad(struct ag_verify_result *r, int64_t seq, const char *fmt, ...)
{
    if (r->bad_seq == 0 || seq < r->bad_seq) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->problem, sizeof r->problem, fmt, ap);
        va_end(ap);
        r->bad_seq = seq;
        r->ok = 0;
    }
    return 1;
}

static int text_eq(const struct ag__value *v, const char *s)
{
    return v->type == AG__V_TEXT && v->len == strlen(s) && memcmp(v->s, s, v->len) == 0;
}

/* A checkpoint row at seq n signs (n-1, hash of row n-1): its data must name exactly
 * the row before it, and the signature must hold under the public key. */
static int check_checkpoint(struct walk *w, const struct ag__ledger_row *row, int64_t seq)
{
    const struct ag__value *d = &row->v[AG__COL_DATA];
    json_t *j = d->type == AG__V_TEXT ? json_loadb(d->s, d->len, 0, NULL) : NULL;
    json_t *sseq = json_object_get(j, "signed_seq");
    const char *shash = json_string_value(json_object_get(j, "signed_hash"));
    const char *sig = json_string_value(json_object_get(j, "signature"));
    int stop = 0;
    if (!json_is_integer(sseq) || shash == NULL || sig == NULL) {
        stop = bad(w->r, seq, "malformed checkpoint (signed_seq, signed_hash, signature)");
    } else if (!w->has_pk) {
        stop = bad(w->r, seq, "bad signature: no public key to check the checkpoint");
    } else if (!ag__checkpoint_verify(w->pk, json_integer_value(sseq), shash, sig)) {
        stop = bad(w->r, seq,
                   "bad signature on checkpoint (re-signed with another key, or "
                   "its signed seq/hash altered)");
    } else if (json_integer_value(sseq) != seq - 1 || strcmp(shash, w->prev) != 0) {
        int64_t s = json_integer_value(sseq);
        stop = bad(w->r, s > 0 && s < seq ? s : seq,
                   "truncated after a checkpoint: the checkpoint at seq %lld signed seq %lld "
                   "with hash %.16s..., the ledger now has %.16s... there",
                   (long long)seq, (long long)s, shash, w->prev);
    } else {
        w->r->checkpoints++;
    }
    json_decref(j);
    return stop;
}

static int walk_row(void *ctx, const struct ag__ledger_row *row)
{
    struct walk *w = ctx;
    const struct ag__value *vs = &row->v[AG__COL_SEQ];
    if (vs->type != AG__V_INT)
        return bad(w->r, w->expect, "malformed row after seq %lld: seq is not an integer",
                   (long long)w->expect - 1);
    int64_t seq = vs->i;
    if (seq != w->expect)
        return bad(w->r, w->expect, "gap: seq %lld is missing (next row is seq %lld)",
                   (long long)w->expect, (long long)seq);
    char h[AG_HASH_HEX_LEN];
    if (ag__row_hash(row, &w->scratch, h) != AG_OK)
        return bad(w->r, seq, "hash mismatch: %s", ag_last_error());
    if (!text_eq(&row->v[AG__COL_HASH], h))
        return bad(w->r, seq, "hash mismatch: stored hash differs from the recomputed %.16s...", h);
    if (!text_eq(&row->v[AG__COL_PREV_HASH], w->prev))
        return bad(w->r, seq, "broken link: prev_hash is not the hash of seq %lld",
                   (long long)seq - 1);
    if (text_eq(&row->v[AG__COL_KIND], "checkpoint") && check_checkpoint(w, row, seq))
        return 1;
    memcpy(w->prev, h, AG_HASH_HEX_LEN);
    w->expect = seq + 1;
    w->r->entries++;
    return 0;
}

/* Finds the hash of row seq with a second scan (the checkpoint file names a row that
 * the walk has already passed). */
struct find {
    int64_t seq;
    char hash[AG_HASH_HEX_LEN];
    int found;
};

static int find_row(void *ctx, const struct ag__ledger_row *row)
{
    struct find *f = ctx;
    const struct ag__value *h = &row->v[AG__COL_HASH];
    if (row->v[AG__COL_SEQ].i == f->seq && h->type == AG__V_TEXT && h->len == 64) {
        memcpy(f->hash, h->s, 64);
        f->hash[64] = '\0';
        f->found = 1;
    }
    return 1;
}

/* The checkpoint file holds the newest checkpoint ever written; the database must still
 * contain the row it signed, unchanged. */
static ag_err check_witness(struct walk *w, const struct ag__ledger_backend *be, void *ctx,
                            const char *path)
{
    char *text = NULL;
    size_t len;
    if (access(path, F_OK) != 0)
        return AG_OK;
    ag_err err = ag__read_file(path, 4096, &text, &len);
    if (err)
        return err;
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    json_t *sseq = json_object_get(j, "signed_seq"), *cseq = json_object_get(j, "seq");
    const char *shash = json_string_value(json_object_get(j, "signed_hash"));
    const char *sig = json_string_value(json_object_get(j, "signature"));
    if (!json_is_integer(sseq) || !json_is_integer(cseq) || shash == NULL || sig == NULL) {
        json_decref(j);
        return ag__fail(AG_EPARSE, "%s: not a checkpoint file", path);
    }
    int64_t s = json_integer_value(sseq), c = json_integer_value(cseq);
    w->r->witnessed_seq = c;
    struct ag_ledger_filter f = {.after_seq = s - 1, .limit = 1};
    struct find fd = {.seq = s};
    if (!w->has_pk || !ag__checkpoint_verify(w->pk, s, shash, sig))
        bad(w->r, c, "bad signature on the checkpoint file %s", path);
    else if ((err = be->scan(ctx, &f, find_row, &fd)) != AG_OK)
        ;
    else if (!fd.found)
        bad(w->r, w->expect,
            "truncated after a checkpoint: the ledger ends at seq %lld, "
            "checkpoint %lld signed seq %lld",
            (long long)w->expect - 1, (long long)c, (long long)s);
    else if (strcmp(fd.hash, shash) != 0)
        bad(w->r, s,
            "truncated after a checkpoint: seq %lld is not the row checkpoint %lld "
            "signed (rewritten after truncation)",
            (long long)s, (long long)c);
    json_decref(j);
    return err;
}

static ag_err load_pk(struct walk *w, const char *db_target, const char *pubkey_path)
{
    char def[PATH_MAX];
    if (pubkey_path == NULL) {
        const char *p = strncmp(db_target, "sqlite:", 7) == 0 ? db_target + 7 : db_target;
        char copy[PATH_MAX];
        snprintf(copy, sizeof copy, "%s", p);
        snprintf(def, sizeof def, "%s/ledger.pub", dirname(copy));
        if (access(def, F_OK) != 0)
            return AG_OK; /* no key: any checkpoint will be reported as unverifiable */
        pubkey_path = def;
    }
    ag_err err = ag__ledger_load_pk(pubkey_path, w->pk);
    if (err == AG_OK)
        w->has_pk = 1;
    return err;
}

ag_err ag_ledger_verify_ex(const char *db_path, const char *pubkey_path,
                           const char *checkpoint_path, struct ag_verify_result *r)
{
    const struct ag__ledger_backend *be;
    const char *rest;
    void *ctx = NULL;
    memset(r, 0, sizeof *r);
    struct walk w = {.r = r, .expect = 1};
    memcpy(w.prev, AG__ZERO_HASH, sizeof w.prev);
    ag__buf_init(&w.scratch);
    struct ag__ledger_backend_opts bo = {.read_only = 1};
    ag_err err = ag__crypto_init();
    if (err == AG_OK)
        err = ag__ledger_backend_find(db_path, &be, &rest);
    if (err == AG_OK)
        err = load_pk(&w, db_path, pubkey_path);
    if (err == AG_OK)
        err = be->open(rest, &bo, &ctx);
    if (err)
        goto out;
    r->ok = 1;
    err = be->scan(ctx, NULL, walk_row, &w);
    char cp[PATH_MAX];
    if (checkpoint_path == NULL)
        ag__ledger_checkpoint_path(db_path, cp, sizeof cp);
    else
        snprintf(cp, sizeof cp, "%s", checkpoint_path);
    if (err == AG_OK && cp[0])
        err = check_witness(&w, be, ctx, cp);
    memcpy(r->head, w.prev, sizeof r->head);
    if (r->entries == 0 && r->ok)
        memcpy(r->head, AG__ZERO_HASH, sizeof r->head);
    if (err)
        r->ok = 0;
out:
    if (ctx)
        be->close(ctx);
    ag__buf_free(&w.scratch);
    return err;
}

ag_err ag_ledger_verify(const char *db_path, const char *pubkey_path, struct ag_verify_result *r)
{
    return ag_ledger_verify_ex(db_path, pubkey_path, NULL, r);
}
