/* ag_ledger_verify: recomputes the chain and every checkpoint signature. It reads the
 * database through its own read-only connection and trusts nothing in it: every row is
 * re-serialised from its stored values, so a changed byte, type or order shows up as a
 * hash mismatch at that row. */
#include <errno.h>
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

/* Records a problem in row seq and returns 1 (to stop a scan). Of several problems the
 * one at the lowest seq is kept: the first bad row. A row problem replaces a problem of
 * the whole ledger, which only names no row. */
static int bad(struct ag_verify_result *r, int64_t seq, const char *fmt, ...)
{
    if (r->problem[0] == '\0' || r->whole_ledger || seq < r->bad_seq) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->problem, sizeof r->problem, fmt, ap);
        va_end(ap);
        r->bad_seq = seq;
        r->whole_ledger = 0;
        r->ok = 0;
    }
    return 1;
}

/* Records a problem of the whole ledger (its file, its schema, no checkpoint): only
 * when no problem was found before, since a bad row says more. */
static void bad_ledger(struct ag_verify_result *r, const char *what, const char *detail)
{
    if (r->problem[0] != '\0')
        return;
    snprintf(r->problem, sizeof r->problem, "%s%s%s", what, detail[0] ? ": " : "", detail);
    r->bad_seq = 0;
    r->whole_ledger = 1;
    r->ok = 0;
}

static int text_eq(const struct ag__value *v, const char *s)
{
    return v->type == AG__V_TEXT && v->len == strlen(s) && memcmp(v->s, s, v->len) == 0;
}

/* A checkpoint row at seq n signs (n-1, hash of row n-1): its data must name exactly
 * the row before it, and the signature must hold under the public key. A valid
 * signature over another seq is a checkpoint that is not where its signer put it (a
 * copy, or rows before it added or removed): the bad row is the checkpoint itself. Over
 * the right seq but another hash, the row before it was rewritten. */
static int check_checkpoint(struct walk *w, const struct ag__ledger_row *row, int64_t seq)
{
    const struct ag__value *d = &row->v[AG__COL_DATA];
    json_t *j = d->type == AG__V_TEXT ? json_loadb(d->s, d->len, 0, NULL) : NULL;
    json_t *sseq = json_object_get(j, "signed_seq");
    const char *shash = json_string_value(json_object_get(j, "signed_hash"));
    const char *sig = json_string_value(json_object_get(j, "signature"));
    int64_t s = json_integer_value(sseq);
    int stop = 0;
    if (!json_is_integer(sseq) || shash == NULL || sig == NULL)
        stop = bad(w->r, seq, "malformed checkpoint (signed_seq, signed_hash, signature)");
    else if (!w->has_pk)
        stop = bad(w->r, seq, "bad signature: no public key to check the checkpoint");
    else if (!ag__checkpoint_verify(w->pk, s, shash, sig))
        stop = bad(w->r, seq,
                   "bad signature on checkpoint (re-signed with another key, or "
                   "its signed seq/hash altered)");
    else if (s != seq - 1)
        stop = bad(w->r, seq,
                   "misplaced checkpoint: it signs seq %lld but stands at seq %lld (a copied "
                   "checkpoint, or rows before it added or removed)",
                   (long long)s, (long long)seq);
    else if (strcmp(shash, w->prev) != 0)
        stop = bad(w->r, s,
                   "truncated after a checkpoint: the checkpoint at seq %lld signed seq %lld "
                   "with hash %.16s..., the ledger now has %.16s... there",
                   (long long)seq, (long long)s, shash, w->prev);
    else {
        w->r->checkpoints++;
        w->r->newest_checkpoint = seq;
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
    /* Rows come in seq order, so a lower seq than expected is one below 1. */
    if (seq < w->expect)
        return bad(w->r, seq, "unexpected row: seq %lld is below 1 (seq starts at 1)",
                   (long long)seq);
    if (seq > w->expect)
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

/* Finds the hash of row seq with a second scan (the checkpoint file names rows that
 * the walk has already passed). */
struct find {
    int64_t seq;
    char hash[AG_HASH_HEX_LEN]; /* "" when the row's hash is not 64 characters */
    int found;
};

static int find_row(void *ctx, const struct ag__ledger_row *row)
{
    struct find *f = ctx;
    const struct ag__value *s = &row->v[AG__COL_SEQ], *h = &row->v[AG__COL_HASH];
    if (s->type != AG__V_INT || s->i < f->seq)
        return 0; /* a row below 1 when looking for row 1 */
    f->found = s->i == f->seq;
    if (f->found && h->type == AG__V_TEXT && h->len == 64) {
        memcpy(f->hash, h->s, 64);
        f->hash[64] = '\0';
    }
    return 1;
}

static ag_err find_hash(const struct ag__ledger_backend *be, void *ctx, int64_t seq,
                        struct find *fd)
{
    struct ag_ledger_filter f = {.after_seq = seq - 1};
    memset(fd, 0, sizeof *fd);
    fd->seq = seq;
    return be->scan(ctx, seq > 1 ? &f : NULL, find_row, fd);
}

/* The checkpoint file: the newest checkpoint row (seq, hash) and what it signed. */
struct witness {
    int64_t seq, signed_seq;
    char hash[AG_HASH_HEX_LEN], signed_hash[AG_HASH_HEX_LEN];
    char sig[2 * AG_LEDGER_SIG_LEN + 1];
};

static int copy_hex(char *out, size_t len, const char *s)
{
    return s && strlen(s) < len && snprintf(out, len, "%s", s) > 0;
}

static ag_err load_witness(const char *path, struct witness *wf)
{
    char *text = NULL;
    size_t len;
    ag_err err = ag__read_file(path, 4096, &text, &len);
    if (err)
        return err;
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    json_t *sseq = json_object_get(j, "signed_seq"), *cseq = json_object_get(j, "seq");
    wf->signed_seq = json_integer_value(sseq);
    wf->seq = json_integer_value(cseq);
    int ok = json_is_integer(sseq) && json_is_integer(cseq) && wf->signed_seq >= 1 &&
             copy_hex(wf->hash, sizeof wf->hash, json_string_value(json_object_get(j, "hash"))) &&
             copy_hex(wf->signed_hash, sizeof wf->signed_hash,
                      json_string_value(json_object_get(j, "signed_hash"))) &&
             copy_hex(wf->sig, sizeof wf->sig, json_string_value(json_object_get(j, "signature")));
    json_decref(j);
    return ok ? AG_OK : ag__fail(AG_EPARSE, "%s: not a checkpoint file", path);
}

/* The row the file's checkpoint signed must still be there, unchanged. */
static ag_err check_signed_row(struct walk *w, const struct ag__ledger_backend *be, void *ctx,
                               const struct witness *wf)
{
    struct find fd;
    ag_err err = find_hash(be, ctx, wf->signed_seq, &fd);
    if (err == AG_OK && !fd.found)
        bad(w->r, w->expect,
            "truncated after a checkpoint: the ledger ends at seq %lld, "
            "checkpoint %lld signed seq %lld",
            (long long)w->expect - 1, (long long)wf->seq, (long long)wf->signed_seq);
    else if (err == AG_OK && strcmp(fd.hash, wf->signed_hash) != 0)
        bad(w->r, wf->signed_seq,
            "truncated after a checkpoint: seq %lld is not the row checkpoint %lld "
            "signed (rewritten after truncation)",
            (long long)wf->signed_seq, (long long)wf->seq);
    return err;
}

/* And the checkpoint row itself, which nothing else vouches for when it is the last
 * row: deleted, or replaced by a rehashed row of another kind, it leaves a valid
 * chain behind. */
static ag_err check_checkpoint_row(struct walk *w, const struct ag__ledger_backend *be, void *ctx,
                                   const struct witness *wf, const char *path)
{
    struct find fd;
    ag_err err = find_hash(be, ctx, wf->seq, &fd);
    if (err == AG_OK && !fd.found)
        bad(w->r, wf->seq, "checkpoint row %lld, which %s names as the newest, is gone",
            (long long)wf->seq, path);
    else if (err == AG_OK && strcmp(fd.hash, wf->hash) != 0)
        bad(w->r, wf->seq, "checkpoint row %lld is not the one %s names (rewritten or replaced)",
            (long long)wf->seq, path);
    return err;
}

/* The checkpoint file holds the newest checkpoint ever written; the database must still
 * contain both the checkpoint row it names and the row that checkpoint signed. */
static ag_err check_witness(struct walk *w, const struct ag__ledger_backend *be, void *ctx,
                            const char *path)
{
    struct witness wf;
    ag_err err = load_witness(path, &wf);
    if (err)
        return err;
    w->r->witnessed_seq = wf.seq;
    if (!w->has_pk || !ag__checkpoint_verify(w->pk, wf.signed_seq, wf.signed_hash, wf.sig))
        bad(w->r, wf.seq, "bad signature on the checkpoint file %s", path);
    else if (wf.seq != wf.signed_seq + 1)
        bad(w->r, wf.seq, "the checkpoint file %s is inconsistent: checkpoint %lld signs seq %lld",
            path, (long long)wf.seq, (long long)wf.signed_seq);
    else if ((err = check_signed_row(w, be, ctx, &wf)) == AG_OK)
        err = check_checkpoint_row(w, be, ctx, &wf, path);
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

/* Which checkpoint file to check: one named by the caller must exist (a typo must not
 * turn into a skipped check); the default one next to the database only if it does. */
static ag_err witness_path(const char *db_path, const char *named, char *out, size_t len)
{
    if (named == NULL) {
        ag__ledger_checkpoint_path(db_path, out, len);
        if (out[0] && access(out, F_OK) != 0)
            out[0] = '\0';
        return AG_OK;
    }
    snprintf(out, len, "%s", named);
    if (named[0] && access(named, F_OK) != 0)
        return ag__fail(errno == ENOENT ? AG_ENOTFOUND : AG_EIO, "checkpoint file %s: %s", named,
                        strerror(errno));
    return AG_OK;
}

/* The storage reports a corrupt file (AG_ETAMPER): a verdict, not a failure to check.
 * During the walk the first row it could not read is named. */
static ag_err corrupt(struct ag_verify_result *r, int64_t seq, ag_err err)
{
    if (err != AG_ETAMPER)
        return err;
    if (seq > 0)
        bad(r, seq, "database corrupt at or after seq %lld: %s", (long long)seq, ag_last_error());
    else
        bad_ledger(r, "database corrupt", ag_last_error());
    ag_clear_error();
    return AG_OK;
}

/* The file under the rows, once they all held: a damaged or rebuilt index or a changed
 * view would make queries disagree with the chain that verified. */
static ag_err check_storage(struct walk *w, const struct ag__ledger_backend *be, void *ctx)
{
    char problem[sizeof w->r->problem - 16];
    if (!w->r->ok || be->check == NULL)
        return AG_OK;
    ag_err err = be->check(ctx, problem, sizeof problem);
    if (err == AG_OK && problem[0])
        bad_ledger(w->r, "database", problem);
    return corrupt(w->r, 0, err);
}

static ag_err check_all(struct walk *w, const struct ag__ledger_backend *be, void *ctx,
                        const char *cp, unsigned flags)
{
    ag_err err = corrupt(w->r, w->expect, be->scan(ctx, NULL, walk_row, w));
    if (err == AG_OK && cp[0])
        err = corrupt(w->r, 0, check_witness(w, be, ctx, cp));
    if (err == AG_OK && (flags & AG_VERIFY_REQUIRE_CHECKPOINT) && w->r->checkpoints == 0)
        bad_ledger(w->r, "no signed checkpoint",
                   "nothing in this ledger is signed, so a rewrite of the whole chain by "
                   "someone without the key would not show");
    if (err == AG_OK)
        err = check_storage(w, be, ctx);
    return err;
}

ag_err ag_ledger_verify_ex(const char *db_path, const char *pubkey_path,
                           const char *checkpoint_path, unsigned flags, struct ag_verify_result *r)
{
    const struct ag__ledger_backend *be;
    const char *rest;
    void *ctx = NULL;
    char cp[PATH_MAX];
    memset(r, 0, sizeof *r);
    r->ok = 1;
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
        err = witness_path(db_path, checkpoint_path, cp, sizeof cp);
    if (err == AG_OK)
        err = corrupt(r, 0, be->open(rest, &bo, &ctx));
    if (err == AG_OK && ctx)
        err = check_all(&w, be, ctx, cp, flags);
    memcpy(r->head, r->entries ? w.prev : AG__ZERO_HASH, sizeof r->head);
    if (err)
        r->ok = 0;
    if (ctx)
        be->close(ctx);
    ag__buf_free(&w.scratch);
    return err;
}

ag_err ag_ledger_verify(const char *db_path, const char *pubkey_path, struct ag_verify_result *r)
{
    return ag_ledger_verify_ex(db_path, pubkey_path, NULL, 0, r);
}
