/* The ledger handle: validation, group commit, checkpoints, sensitive values, queries.
 *
 * Group commit (leader/follower, no background thread): an appender prepares its entry
 * (validation, HMAC of sensitive values, canonical data) without any lock, queues it,
 * and sleeps on its own semaphore. The first appender that finds no leader becomes the
 * leader: it waits (briefly, bounded) until every appender in flight has queued, takes
 * the queue, writes it in one transaction (re-reading the head inside the transaction,
 * so another process appending to the same file cannot fork the chain), commits, and
 * then wakes each waiter of that batch with its seq and hash, or with the error, and
 * hands the lead to the oldest waiter still queued. Nothing is acknowledged before
 * COMMIT has returned, and a failed batch leaves no trace: the head is re-read from the
 * database by the next leader. */
#include "ledger/ledger.h"

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/time.h"
#include "ledger/backend.h"
#include "ledger/defer.h"
#include "ledger/feed.h"
#include "ledger/keys.h"
#include "ledger/row.h"

#define MAX_BATCH 1024

struct pending {
    const struct ag_ledger_entry *e; /* NULL for a checkpoint request */
    char *data;                      /* canonical data object, or NULL */
    ag_err err;
    char detail[256];
    int64_t seq;
    char hash[AG_HASH_HEX_LEN];
    int done;     /* set by the leader before posting wake */
    int lead;     /* set instead when this waiter is to lead the next batch */
    sem_t wake;   /* each waiter sleeps on its own semaphore: no thundering herd */
    sem_t *wakep; /* NULL; in a chain (ag_ledger_append_batch): the last entry's wake */
    struct pending *next;
};

struct checkpoint_info {
    int64_t seq, signed_seq;
    char hash[AG_HASH_HEX_LEN], signed_hash[AG_HASH_HEX_LEN];
    char sig[2 * AG_LEDGER_SIG_LEN + 1];
};

struct ag_ledger {
    ag_breaker *breaker;         /* borrowed; NULL: appends are never refused up front */
    ag_ledger_observer observer; /* told of each committed entry (may be NULL) */
    void *observer_ctx;
    struct ag__ledger_feed feed; /* committed rows for an in-process listener */
    const struct ag__ledger_backend *be;
    void *wctx; /* writer connection: used by the leader only */
    void *rctx; /* reader connection: queries, under rlock; opened by reader() */
    struct ag__ledger_backend_opts reader_opts;
    char be_target[PATH_MAX];
    pthread_mutex_t rlock;
    char cp_path[PATH_MAX];
    int has_sk, has_hmac;
    uint8_t sk[AG_LEDGER_SK_LEN];
    uint8_t hmac[AG_LEDGER_HMAC_LEN];
    char key_id[AG_LEDGER_KEY_ID_LEN];
    int checkpoint_every, read_only, no_close_checkpoint;
    struct ag__ledger_defer *defer; /* deferred durability (ag_ledger_defer_sync), or NULL */

    pthread_mutex_t m;
    pthread_cond_t fill_cv; /* an entry was queued or an appender left */
    struct pending *qhead, *qtail;
    int queued;              /* entries in the queue */
    atomic_int inflight;     /* appenders between entry and return */
    atomic_int fill_waiting; /* the leader waits on fill_cv */
    int committing;          /* a leader exists */
    /* Leader-only state. */
    struct ag_buf scratch;
    int64_t cp_known_head; /* head seq at which last_cp was read */
    int64_t last_cp;       /* seq of the last checkpoint row */
};

static const char *const kinds[] = {"action",     "decision",  "violation", "error",  "lifecycle",
                                    "revocation", "promotion", "handoff",   "token",  "secret",
                                    "checkpoint", "system",    "approval",  "notify", "llm",
                                    "coord",      "pipeline"};

int ag_ledger_kind_valid(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kind, kinds[i]) == 0)
            return 1;
    return 0;
}

void ag__ledger_checkpoint_path(const char *target, char *out, size_t outlen)
{
    if (strncmp(target, "sqlite:", 7) == 0)
        target += 7;
    if (strstr(target, "://") != NULL || strcmp(target, ":memory:") == 0)
        snprintf(out, outlen, "%s", "");
    else
        snprintf(out, outlen, "%s.checkpoint", target);
}

/* Prefixes the current error detail with prefix and key. */
static ag_err rewrap(ag_err err, const char *prefix, const char *key)
{
    return ag__fail_wrap(err, "%s%s", prefix, key);
}

/* ---- open / close ---------------------------------------------------------------- */

static ag_err load_keys(ag_ledger *l, const struct ag_ledger_opts *o)
{
    ag_err err;
    if (o && o->signing_key_path) {
        if ((err = ag__ledger_load_sk(o->signing_key_path, l->sk)))
            return err;
        l->has_sk = 1;
        ag__ledger_key_id(l->sk + 32, l->key_id); /* libsodium: sk = seed || pk */
    }
    if (o && o->hmac_key_path) {
        if ((err = ag__ledger_load_hmac(o->hmac_key_path, l->hmac)))
            return err;
        l->has_hmac = 1;
    }
    return AG_OK;
}

ag_err ag_ledger_open(const char *path, const struct ag_ledger_opts *opts, ag_ledger **out)
{
    const char *rest;
    const struct ag__ledger_backend *be;
    ag_err err = ag__crypto_init();
    if (err == AG_OK)
        err = ag__ledger_backend_find(path, &be, &rest);
    if (err)
        return err;
    ag_ledger *l = calloc(1, sizeof *l);
    if (l == NULL)
        return ag__fail(AG_ENOMEM, "ledger handle");
    l->be = be;
    pthread_mutex_init(&l->m, NULL);
    /* Recursive so that a query callback may call ag_ledger_head. */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&l->rlock, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->fill_cv, &ca);
    pthread_condattr_destroy(&ca);
    ag__buf_init(&l->scratch);
    ag__ledger_feed_init(&l->feed);
    l->cp_known_head = -1;
    l->read_only = opts && opts->read_only;
    l->checkpoint_every = opts && opts->checkpoint_every > 0 ? opts->checkpoint_every : 0;
    l->no_close_checkpoint = opts && opts->no_close_checkpoint;
    if (opts && opts->checkpoint_path)
        snprintf(l->cp_path, sizeof l->cp_path, "%s", opts->checkpoint_path);
    else
        ag__ledger_checkpoint_path(path, l->cp_path, sizeof l->cp_path);
    struct ag__ledger_backend_opts bo = {.read_only = l->read_only,
                                         .busy_timeout_ms = opts ? opts->busy_timeout_ms : 0,
                                         .keep_wal = opts && opts->keep_wal};
    err = load_keys(l, opts);
    if (err == AG_OK && !l->read_only)
        err = be->open(rest, &bo, &l->wctx);
    /* A writer opens its reader connection at the first read: a process that only
     * appends (a hook) does not pay for a second connection and schema parse. */
    if (err == AG_OK && strlen(rest) >= sizeof l->be_target)
        err = ag__fail(AG_EINVAL, "ledger path is longer than %d bytes", PATH_MAX - 1);
    snprintf(l->be_target, sizeof l->be_target, "%s", rest);
    l->reader_opts = bo;
    l->reader_opts.read_only = 1;
    if (err == AG_OK && l->read_only)
        err = be->open(rest, &l->reader_opts, &l->rctx);
    if (err) {
        l->no_close_checkpoint = 1;
        ag_ledger_close(l);
        return err;
    }
    *out = l;
    return AG_OK;
}

/* ---- preparing an entry (no lock held) -------------------------------------------- */

static ag_err check_text(const char *field, const char *s)
{
    if (s && !ag__utf8_valid(s, strlen(s)))
        return ag__fail(AG_EINVAL, "ledger entry: field %s is not valid UTF-8", field);
    return AG_OK;
}

static ag_err check_fields(const struct ag_ledger_entry *e)
{
    if (e->kind == NULL || !ag_ledger_kind_valid(e->kind))
        return ag__fail(AG_EINVAL, "ledger entry: unknown kind '%s'", e->kind ? e->kind : "");
    if (strcmp(e->kind, "checkpoint") == 0)
        return ag__fail(AG_EINVAL, "ledger entry: checkpoint entries are written by the "
                                   "ledger itself (ag_ledger_checkpoint)");
    if (e->tier < -1 || e->tier > 4)
        return ag__fail(AG_EINVAL, "ledger entry: tier %d is not 0..4 (or -1)", e->tier);
    if (e->confidence < -1 || e->confidence > 1000)
        return ag__fail(AG_EINVAL, "ledger entry: confidence %d is not 0..1000 per mille",
                        e->confidence);
    if (e->success < -1 || e->success > 1)
        return ag__fail(AG_EINVAL, "ledger entry: success %d is not 0, 1 (or -1)", e->success);
    const char *names[] = {"agent_id", "agent_version", "task_id", "phase",      "action",
                           "resource", "decision",      "reason",  "error_type", "error_message"};
    const char *vals[] = {e->agent_id,   e->agent_version, e->task_id,  e->phase,
                          e->action,     e->resource,      e->decision, e->reason,
                          e->error_type, e->error_message};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ag_err err = check_text(names[i], vals[i]);
        if (err)
            return err;
    }
    return AG_OK;
}

/* Replaces each sensitive top-level value of data by its HMAC: a string is keyed as its
 * UTF-8 bytes (what `agentgov ledger hash VALUE` prints), any other value as its
 * canonical JSON text. */
static ag_err apply_sensitive(ag_ledger *l, const struct ag_ledger_entry *e, json_t *data)
{
    if (e->nsensitive == 0)
        return AG_OK;
    if (!l->has_hmac)
        return ag__fail(AG_EINVAL, "ledger entry: sensitive keys given but the ledger has "
                                   "no HMAC key (hmac_key_path)");
    for (size_t i = 0; i < e->nsensitive; i++) {
        const char *key = e->sensitive_keys[i];
        json_t *v = data ? json_object_get(data, key) : NULL;
        if (v == NULL)
            continue;
        char hex[AG_HASH_HEX_LEN];
        if (json_is_string(v)) {
            ag__hmac_sha256_hex(l->hmac, sizeof l->hmac, json_string_value(v),
                                json_string_length(v), hex);
        } else {
            char *text = NULL;
            ag_err err = ag__jcs_dump(v, 0, &text);
            if (err)
                return rewrap(err, "ledger entry: data.", key);
            ag__hmac_sha256_hex(l->hmac, sizeof l->hmac, text, strlen(text), hex);
            free(text);
        }
        if (json_object_set_new(data, key, json_string(hex)) != 0)
            return ag__fail(AG_ENOMEM, "ledger entry: data.%s", key);
    }
    return AG_OK;
}

static ag_err prepare_data(ag_ledger *l, const struct ag_ledger_entry *e, char **out)
{
    *out = NULL;
    if (e->data_json == NULL)
        return e->nsensitive && !l->has_hmac ? apply_sensitive(l, e, NULL) : AG_OK;
    json_error_t jerr;
    json_t *data = json_loads(e->data_json, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (data == NULL)
        return ag__fail(AG_EINVAL, "ledger entry: data: %d:%d: %s", jerr.line, jerr.column,
                        jerr.text);
    ag_err err = AG_OK;
    if (!json_is_object(data))
        err = ag__fail(AG_EINVAL, "ledger entry: data must be a JSON object");
    if (err == AG_OK)
        err = apply_sensitive(l, e, data);
    if (err == AG_OK) {
        err = ag__jcs_dump(data, AG_JCS_NO_FLOATS, out);
        if (err)
            err = rewrap(err, "ledger entry: data", "");
    }
    json_decref(data);
    return err;
}

/* ---- the leader's batch ------------------------------------------------------------ */

static void entry_row(const struct pending *p, struct ag__ledger_row *r)
{
    const struct ag_ledger_entry *e = p->e;
    ag__row_clear(r);
    ag__row_text(r, AG__COL_KIND, e->kind);
    ag__row_text(r, AG__COL_AGENT_ID, e->agent_id);
    ag__row_text(r, AG__COL_AGENT_VERSION, e->agent_version);
    ag__row_text(r, AG__COL_TASK_ID, e->task_id);
    if (e->tier >= 0)
        ag__row_int(r, AG__COL_TIER, e->tier);
    ag__row_text(r, AG__COL_PHASE, e->phase);
    ag__row_text(r, AG__COL_ACTION, e->action);
    ag__row_text(r, AG__COL_RESOURCE, e->resource);
    ag__row_text(r, AG__COL_DECISION, e->decision);
    ag__row_text(r, AG__COL_REASON, e->reason);
    if (e->confidence >= 0)
        ag__row_int(r, AG__COL_CONFIDENCE, e->confidence);
    if (e->success >= 0)
        ag__row_int(r, AG__COL_SUCCESS, e->success);
    ag__row_text(r, AG__COL_ERROR_TYPE, e->error_type);
    ag__row_text(r, AG__COL_ERROR_MESSAGE, e->error_message);
    ag__row_text(r, AG__COL_DATA, p->data);
    r->data_is_canonical = 1; /* prepare_data produced it with ag__jcs_dump */
}

/* Chains r after (*seq, hash), computes its hash, inserts it and advances the head. */
static ag_err chain_insert(ag_ledger *l, struct ag__ledger_row *r, const char *ts, int64_t *seq,
                           char hash[AG_HASH_HEX_LEN])
{
    char h[AG_HASH_HEX_LEN];
    ag__row_int(r, AG__COL_SEQ, *seq + 1);
    ag__row_text(r, AG__COL_TS, ts);
    ag__row_text(r, AG__COL_PREV_HASH, hash);
    ag_err err = ag__row_hash(r, &l->scratch, h);
    if (err)
        return err;
    ag__row_text(r, AG__COL_HASH, h);
    err = l->be->insert(l->wctx, r);
    if (err)
        return err;
    *seq += 1;
    ag__ledger_feed_add(&l->feed, r, *seq);
    memcpy(hash, h, AG_HASH_HEX_LEN);
    return AG_OK;
}

/* Appends a checkpoint row signing the current head (*seq, hash). */
static ag_err insert_checkpoint(ag_ledger *l, const char *ts, int64_t *seq,
                                char hash[AG_HASH_HEX_LEN], struct checkpoint_info *cp)
{
    cp->signed_seq = *seq;
    memcpy(cp->signed_hash, hash, AG_HASH_HEX_LEN);
    ag__checkpoint_sign(l->sk, *seq, hash, cp->sig);
    char data[512];
    snprintf(data, sizeof data,
             "{\"key_id\":\"%s\",\"signature\":\"%s\",\"signed_hash\":\"%s\","
             "\"signed_seq\":%lld}",
             l->key_id, cp->sig, hash, (long long)*seq);
    struct ag__ledger_row r;
    ag__row_clear(&r);
    ag__row_text(&r, AG__COL_KIND, "checkpoint");
    ag__row_text(&r, AG__COL_DATA, data);
    r.data_is_canonical = 1; /* written above in key order, no escapes needed */
    ag_err err = chain_insert(l, &r, ts, seq, hash);
    if (err == AG_OK) {
        cp->seq = *seq;
        memcpy(cp->hash, hash, AG_HASH_HEX_LEN);
        l->last_cp = *seq;
    }
    return err;
}

/* Keeps the latest checkpoint outside the database too, so that a database truncated
 * below it (and perhaps re-grown with a forged chain) is detected by verify. */
static void write_checkpoint_file(ag_ledger *l, const struct checkpoint_info *cp)
{
    if (l->cp_path[0] == '\0')
        return;
    char line[768];
    int n = snprintf(line, sizeof line,
                     "{\"hash\":\"%s\",\"key_id\":\"%s\",\"seq\":%lld,\"signature\":\"%s\","
                     "\"signed_hash\":\"%s\",\"signed_seq\":%lld}\n",
                     cp->hash, l->key_id, (long long)cp->seq, cp->sig, cp->signed_hash,
                     (long long)cp->signed_seq);
    /* The entries are committed whatever happens here; a stale file only means that
     * verify checks an older checkpoint. */
    if (ag__write_file_atomic(l->cp_path, line, (size_t)n, 0644, 0) != AG_OK)
        ag_clear_error();
}

static ag_err write_one(ag_ledger *l, struct pending *p, const char *ts, int64_t *seq,
                        char hash[AG_HASH_HEX_LEN], struct checkpoint_info *cp, int *wrote_cp)
{
    ag_err err;
    if (p->e == NULL) { /* explicit checkpoint request */
        if (*seq == 0)
            return ag__fail(AG_ESTATE, "ledger: nothing to checkpoint (empty ledger)");
        if (l->last_cp != *seq) {
            if ((err = insert_checkpoint(l, ts, seq, hash, cp)))
                return err;
            *wrote_cp = 1;
        }
    } else {
        struct ag__ledger_row r;
        entry_row(p, &r);
        if ((err = chain_insert(l, &r, ts, seq, hash)))
            return err;
        if (l->has_sk && l->checkpoint_every && *seq - l->last_cp >= l->checkpoint_every) {
            p->seq = *seq;
            memcpy(p->hash, hash, AG_HASH_HEX_LEN);
            if ((err = insert_checkpoint(l, ts, seq, hash, cp)))
                return err;
            *wrote_cp = 1;
            return AG_OK;
        }
    }
    p->seq = *seq;
    memcpy(p->hash, hash, AG_HASH_HEX_LEN);
    return AG_OK;
}

static ag_err write_batch(ag_ledger *l, struct pending *batch)
{
    int64_t seq;
    char hash[AG_HASH_HEX_LEN], ts[AG_RFC3339_LEN];
    struct checkpoint_info cp;
    int wrote_cp = 0;
    ag_err err = l->be->begin(l->wctx);
    if (err)
        return err;
    err = l->be->head(l->wctx, &seq, hash);
    if (err == AG_OK && seq == 0)
        memcpy(hash, AG__ZERO_HASH, AG_HASH_HEX_LEN);
    if (err == AG_OK && l->cp_known_head != seq)
        err = l->be->last_of_kind(l->wctx, "checkpoint", &l->last_cp);
    ag__rfc3339(ag__wall_ms(), ts);
    ag__ledger_feed_begin(&l->feed);
    for (struct pending *p = batch; p && err == AG_OK; p = p->next)
        err = write_one(l, p, ts, &seq, hash, &cp, &wrote_cp);
    if (err == AG_OK)
        err = l->be->commit(l->wctx);
    if (err) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", ag_last_error());
        l->be->rollback(l->wctx);
        l->cp_known_head = -1; /* re-read after a failure */
        return ag__fail(err, "%s", detail);
    }
    l->cp_known_head = seq;
    if (l->defer)
        ag__ledger_defer_committed(l->defer);
    if (wrote_cp)
        write_checkpoint_file(l, &cp);
    ag__ledger_feed_deliver(&l->feed);
    return AG_OK;
}

/* The leader waits (at most FILL_WAIT_NS) until every appender that is in flight, that
 * is preparing an entry, has queued it: a commit costs one fsync whatever its size, so
 * one batch of 64 beats a batch of 3 followed by a batch of 61. A lone appender never
 * waits (it is the only one in flight). */
#define FILL_WAIT_NS 1000000

static void wait_for_fill(ag_ledger *l)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += FILL_WAIT_NS;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    atomic_store(&l->fill_waiting, 1);
    while (l->queued < atomic_load(&l->inflight))
        if (pthread_cond_timedwait(&l->fill_cv, &l->m, &until) != 0)
            break;
    atomic_store(&l->fill_waiting, 0);
}

/* An appender leaves: the leader may be waiting for it to queue. */
static void leave(ag_ledger *l)
{
    atomic_fetch_sub(&l->inflight, 1);
    if (atomic_load(&l->fill_waiting)) { /* rare: it waits for appenders being woken */
        pthread_mutex_lock(&l->m);
        pthread_cond_signal(&l->fill_cv);
        pthread_mutex_unlock(&l->m);
    }
}

/* Takes up to MAX_BATCH entries off the queue (the mutex is held). */
static struct pending *take_batch(ag_ledger *l)
{
    struct pending *batch = l->qhead, *last = batch;
    int n = 1;
    for (; n < MAX_BATCH && last->next; n++)
        last = last->next;
    l->qhead = last->next;
    if (l->qhead == NULL)
        l->qtail = NULL;
    last->next = NULL;
    l->queued -= n;
    return batch;
}

/* Ends a leader's turn (the mutex is held): the oldest queued waiter leads next, or
 * the next appender will. */
static void hand_off(ag_ledger *l)
{
    if (l->qhead) {
        l->qhead->lead = 1;
        sem_post(l->qhead->wakep ? l->qhead->wakep : &l->qhead->wake);
    } else {
        l->committing = 0;
    }
}

/* Leads batches (the mutex is held on entry and on return) until p is done, then
 * hands leadership to the oldest queued waiter, if any. */
static void lead(ag_ledger *l, struct pending *p)
{
    while (!p->done) {
        wait_for_fill(l);
        struct pending *batch = take_batch(l);
        pthread_mutex_unlock(&l->m);

        ag_err err = write_batch(l, batch);
        const char *detail = err ? ag_last_error() : "";
        for (struct pending *q = batch, *next; q; q = next) {
            next = q->next; /* q may be gone as soon as it is woken */
            q->err = err;
            if (err)
                snprintf(q->detail, sizeof q->detail, "%s", detail);
            q->done = 1;
            /* An entry of a chain other than its last has no waiter of its own: the
             * chain's thread waits for the last one (one post per wait, as for single
             * entries, so that no post can come after the waiter has left). */
            if (q != p && (q->wakep == NULL || q->wakep == &q->wake))
                sem_post(&q->wake);
        }
        pthread_mutex_lock(&l->m);
    }
    hand_off(l);
}

/* Queues p and waits until a leader (perhaps this thread) has committed it or failed.
 * The caller counted itself in l->inflight; submit takes it out again. */
static void submit(ag_ledger *l, struct pending *p)
{
    sem_init(&p->wake, 0, 0);
    pthread_mutex_lock(&l->m);
    if (l->qtail)
        l->qtail->next = p;
    else
        l->qhead = p;
    l->qtail = p;
    l->queued++;
    /* Wake a waiting leader only when its batch is complete, not at every entry. */
    if (atomic_load(&l->fill_waiting) && l->queued >= atomic_load(&l->inflight))
        pthread_cond_signal(&l->fill_cv);
    int leader = !l->committing;
    l->committing = 1;
    pthread_mutex_unlock(&l->m);
    while (!leader) {
        while (sem_wait(&p->wake) != 0)
            ; /* EINTR */
        if (p->done)
            break;
        leader = p->lead;
    }
    if (leader) {
        pthread_mutex_lock(&l->m);
        lead(l, p);
        pthread_mutex_unlock(&l->m);
    }
    sem_destroy(&p->wake);
    leave(l);
}

static ag_err finish(struct pending *p, int64_t *seq, char hash[AG_HASH_HEX_LEN])
{
    if (p->err)
        return ag__fail(p->err, "%s", p->detail);
    if (seq)
        *seq = p->seq;
    if (hash)
        memcpy(hash, p->hash, AG_HASH_HEX_LEN);
    return AG_OK;
}

ag_err ag_ledger_append(ag_ledger *l, const struct ag_ledger_entry *e, int64_t *seq,
                        char hash[AG_HASH_HEX_LEN])
{
    if (l == NULL || e == NULL)
        return ag__fail(AG_EINVAL, "ledger append: no ledger or no entry");
    if (l->read_only)
        return ag__fail(AG_EREADONLY, "ledger append: the ledger was opened read-only");
    ag_err derr = l->defer ? ag__ledger_defer_failed(l->defer) : AG_OK;
    if (derr != AG_OK)
        return derr;
    struct pending p = {.e = e};
    atomic_fetch_add(&l->inflight, 1);
    ag_err err = check_fields(e);
    if (err == AG_OK)
        err = prepare_data(l, e, &p.data);
    if (err) {
        leave(l);
        return err;
    }
    struct ag_breaker_call call;
    if (!ag_breaker_allow(l->breaker, &call)) {
        free(p.data);
        leave(l);
        return ag__fail(AG_ELEDGER, "ledger: %s", call.why);
    }
    submit(l, &p);
    free(p.data);
    /* A write the disk or the file refused counts against the breaker; an entry the
     * ledger refused for its own content (EINVAL, ELIMIT) does not. */
    ag_breaker_done(l->breaker, &call,
                    !(p.err == AG_ENOSPACE || p.err == AG_EIO || p.err == AG_ELEDGER ||
                      p.err == AG_EREADONLY || p.err == AG_ETIMEOUT || p.err == AG_ETAMPER),
                    p.err ? p.detail : NULL);
    if (p.err == AG_OK && l->observer)
        l->observer(l->observer_ctx, p.seq, e);
    return finish(&p, seq, hash);
}

/* Queues the chain p[0..n) at once (so that they stay adjacent, in order) and waits on
 * the last one's semaphore, which every entry of the chain posts: whichever of them a
 * leader wakes (done, or to lead), this thread sees it. */
static void submit_chain(ag_ledger *l, struct pending *p, size_t n)
{
    struct pending *last = &p[n - 1];
    sem_init(&last->wake, 0, 0);
    for (size_t i = 0; i < n; i++) {
        p[i].wakep = &last->wake;
        p[i].next = i + 1 < n ? &p[i + 1] : NULL;
    }
    pthread_mutex_lock(&l->m);
    if (l->qtail)
        l->qtail->next = &p[0];
    else
        l->qhead = &p[0];
    l->qtail = last;
    l->queued += (int)n;
    if (atomic_load(&l->fill_waiting) && l->queued >= atomic_load(&l->inflight))
        pthread_cond_signal(&l->fill_cv);
    int leader = !l->committing;
    l->committing = 1;
    pthread_mutex_unlock(&l->m);
    for (;;) {
        if (!leader) {
            while (sem_wait(&last->wake) != 0)
                ; /* EINTR */
            if (last->done)
                break;
            for (size_t i = 0; i < n; i++)
                leader |= p[i].lead;
            if (!leader)
                continue;
        }
        pthread_mutex_lock(&l->m);
        lead(l, last); /* commits up to the last entry of the chain */
        pthread_mutex_unlock(&l->m);
        break;
    }
    sem_destroy(&last->wake);
    for (size_t i = 0; i < n; i++)
        leave(l);
}

ag_err ag_ledger_append_batch(ag_ledger *l, const struct ag_ledger_entry *const *e, size_t n,
                              int64_t *seqs)
{
    if (l == NULL || e == NULL || n == 0 || n > 8)
        return ag__fail(AG_EINVAL, "ledger append: 1 to 8 entries");
    if (l->read_only)
        return ag__fail(AG_EREADONLY, "ledger append: the ledger was opened read-only");
    ag_err derr = l->defer ? ag__ledger_defer_failed(l->defer) : AG_OK;
    if (derr != AG_OK)
        return derr;
    struct pending p[8];
    memset(p, 0, sizeof p);
    ag_err err = AG_OK;
    for (size_t i = 0; i < n && err == AG_OK; i++) {
        p[i].e = e[i];
        if ((err = e[i] ? check_fields(e[i]) : ag__fail(AG_EINVAL, "ledger append: no entry")) ==
            AG_OK)
            err = prepare_data(l, e[i], &p[i].data);
    }
    if (err) {
        for (size_t i = 0; i < n; i++)
            free(p[i].data);
        return err;
    }
    struct ag_breaker_call call;
    if (!ag_breaker_allow(l->breaker, &call)) {
        for (size_t i = 0; i < n; i++)
            free(p[i].data);
        return ag__fail(AG_ELEDGER, "ledger: %s", call.why);
    }
    atomic_fetch_add(&l->inflight, (int)n);
    submit_chain(l, p, n);
    ag_err werr = AG_OK;
    const char *wdetail = NULL;
    for (size_t i = 0; i < n; i++) {
        free(p[i].data);
        if (werr == AG_OK && p[i].err) {
            werr = p[i].err;
            wdetail = p[i].detail;
        }
        if (err == AG_OK)
            err = finish(&p[i], seqs ? &seqs[i] : NULL, NULL);
        if (p[i].err == AG_OK && l->observer)
            l->observer(l->observer_ctx, p[i].seq, e[i]);
    }
    /* As ag_ledger_append: only writes the disk or the file refused count. */
    ag_breaker_done(l->breaker, &call,
                    !(werr == AG_ENOSPACE || werr == AG_EIO || werr == AG_ELEDGER ||
                      werr == AG_EREADONLY || werr == AG_ETIMEOUT || werr == AG_ETAMPER),
                    wdetail);
    return err;
}

void ag_ledger_set_breaker(ag_ledger *l, ag_breaker *b)
{
    l->breaker = b;
}

void ag_ledger_set_observer(ag_ledger *l, ag_ledger_observer fn, void *ctx)
{
    l->observer_ctx = ctx;
    l->observer = fn;
}

void ag_ledger_set_row_feed(ag_ledger *l, ag_ledger_row_feed fn, void *ctx)
{
    ag__ledger_feed_set(&l->feed, fn, ctx);
}

void ag_ledger_row_feed_on(ag_ledger *l, int on)
{
    atomic_store(&l->feed.on, on ? 1 : 0);
}

ag_err ag_ledger_checkpoint(ag_ledger *l, int64_t *seq)
{
    if (l == NULL)
        return ag__fail(AG_EINVAL, "ledger checkpoint: no ledger");
    if (l->read_only)
        return ag__fail(AG_EREADONLY, "ledger checkpoint: the ledger was opened read-only");
    if (!l->has_sk)
        return ag__fail(AG_EINVAL, "ledger checkpoint: no signing key (signing_key_path)");
    struct pending p = {.e = NULL};
    atomic_fetch_add(&l->inflight, 1);
    submit(l, &p);
    return finish(&p, seq, NULL);
}

static int signable(const char *msg, size_t len)
{
    static const char cp[] = "agentgov-ledger-checkpoint:";
    return msg && len >= 9 && memcmp(msg, "agentgov-", 9) == 0 &&
           !(len >= sizeof cp - 1 && memcmp(msg, cp, sizeof cp - 1) == 0);
}

ag_err ag_ledger_sign(ag_ledger *l, const char *msg, size_t len, char sig_hex[AG_LEDGER_SIG_HEX],
                      char key_id[AG_LEDGER_KEY_ID_HEX])
{
    if (l == NULL || !l->has_sk)
        return ag__fail(AG_EINVAL, "ledger sign: no signing key (signing_key_path)");
    if (!signable(msg, len))
        return ag__fail(AG_EINVAL, "ledger sign: the message must begin with 'agentgov-' and "
                                   "must not be a checkpoint message");
    uint8_t sig[AG_LEDGER_SIG_LEN];
    crypto_sign_detached(sig, NULL, (const uint8_t *)msg, len, l->sk);
    ag__hex(sig, sizeof sig, sig_hex);
    if (key_id)
        memcpy(key_id, l->key_id, AG_LEDGER_KEY_ID_LEN);
    return AG_OK;
}

int ag_ledger_sig_valid(ag_ledger *l, const char *msg, size_t len, const char *sig_hex)
{
    uint8_t sig[AG_LEDGER_SIG_LEN];
    if (l == NULL || !l->has_sk || !signable(msg, len) || sig_hex == NULL ||
        ag__unhex(sig_hex, sig, sizeof sig) != AG_OK)
        return 0;
    return crypto_sign_verify_detached(sig, (const uint8_t *)msg, len, l->sk + 32) == 0;
}

void ag_ledger_tidy(ag_ledger *l)
{
    if (l == NULL || l->wctx == NULL || l->be->tidy == NULL)
        return;
    /* Takes the leader's role, as an appender would, so that no batch runs meanwhile;
     * appenders that queue in the meantime get a leader when it is handed back. */
    pthread_mutex_lock(&l->m);
    if (l->committing || l->qhead) {
        pthread_mutex_unlock(&l->m);
        return;
    }
    l->committing = 1;
    pthread_mutex_unlock(&l->m);
    l->be->tidy(l->wctx);
    pthread_mutex_lock(&l->m);
    hand_off(l);
    pthread_mutex_unlock(&l->m);
}

ag_err ag_ledger_defer_sync(ag_ledger *l, int max_delay_ms)
{
    if (l == NULL || max_delay_ms < 1 || max_delay_ms > 10000)
        return ag__fail(AG_EINVAL, "ledger: a deferred sync needs a delay of 1..10000 ms");
    if (l->read_only || l->wctx == NULL)
        return ag__fail(AG_EREADONLY, "ledger: deferred sync on a ledger opened read-only");
    if (l->defer)
        return AG_OK;
    if (l->be->relax == NULL || l->be->sync == NULL)
        return ag__fail(AG_EUNSUPPORTED, "ledger: the %s backend cannot defer its syncs",
                        l->be->name);
    /* Takes the leader's role, as ag_ledger_tidy does, waiting for a batch in flight:
     * the writer connection changes its settings with no transaction open. */
    pthread_mutex_lock(&l->m);
    while (l->committing) {
        pthread_mutex_unlock(&l->m);
        usleep(1000);
        pthread_mutex_lock(&l->m);
    }
    l->committing = 1;
    pthread_mutex_unlock(&l->m);
    ag_err err = l->be->relax(l->wctx);
    if (err == AG_OK)
        err = ag__ledger_defer_start(l->be, l->wctx, max_delay_ms, &l->defer);
    pthread_mutex_lock(&l->m);
    hand_off(l);
    pthread_mutex_unlock(&l->m);
    return err;
}

ag_err ag_ledger_sync(ag_ledger *l)
{
    if (l == NULL)
        return ag__fail(AG_EINVAL, "ledger sync: no ledger");
    return l->defer ? ag__ledger_defer_flush(l->defer) : AG_OK;
}

void ag_ledger_close(ag_ledger *l)
{
    if (l == NULL)
        return;
    if (l->wctx && l->has_sk && !l->no_close_checkpoint) {
        int64_t seq;
        char hash[AG_HASH_HEX_LEN];
        /* Best effort: a failure leaves the tail unsigned, which verify reports as
         * nothing worse than unsigned. */
        if (ag_ledger_head(l, &seq, hash) != AG_OK || seq == 0 ||
            ag_ledger_checkpoint(l, NULL) != AG_OK)
            ag_clear_error();
    }
    /* What was committed with its sync deferred is made durable before anything closes. */
    ag__ledger_defer_stop(l->defer);
    /* The reader goes first: the last connection to close checkpoints the WAL into
     * the database, which only a writable connection can do. */
    if (l->rctx)
        l->be->close(l->rctx);
    if (l->wctx)
        l->be->close(l->wctx);
    ag__buf_free(&l->scratch);
    ag__ledger_feed_free(&l->feed);
    sodium_memzero(l->sk, sizeof l->sk);
    sodium_memzero(l->hmac, sizeof l->hmac);
    pthread_mutex_destroy(&l->m);
    pthread_mutex_destroy(&l->rlock);
    pthread_cond_destroy(&l->fill_cv);
    free(l);
}

ag_err ag_ledger_hmac(ag_ledger *l, const char *value, char out[AG_HASH_HEX_LEN])
{
    if (l == NULL || value == NULL)
        return ag__fail(AG_EINVAL, "ledger hmac: no ledger or no value");
    if (!l->has_hmac)
        return ag__fail(AG_EINVAL, "ledger hmac: the ledger has no HMAC key");
    ag__hmac_sha256_hex(l->hmac, sizeof l->hmac, value, strlen(value), out);
    return AG_OK;
}

/* ---- reads ------------------------------------------------------------------------- */

/* The reader connection, opened on first use (rlock is held). */
static ag_err reader(ag_ledger *l)
{
    if (l->rctx)
        return AG_OK;
    return l->be->open(l->be_target, &l->reader_opts, &l->rctx);
}

ag_err ag_ledger_head(ag_ledger *l, int64_t *seq, char hash[AG_HASH_HEX_LEN])
{
    if (l == NULL)
        return ag__fail(AG_EINVAL, "ledger head: no ledger");
    int64_t s;
    char h[AG_HASH_HEX_LEN];
    pthread_mutex_lock(&l->rlock);
    ag_err err = reader(l);
    if (err == AG_OK)
        err = l->be->head(l->rctx, &s, h);
    pthread_mutex_unlock(&l->rlock);
    if (err)
        return err;
    if (seq)
        *seq = s;
    if (hash)
        memcpy(hash, s ? h : AG__ZERO_HASH, AG_HASH_HEX_LEN);
    return AG_OK;
}

struct query_ctx {
    ag_ledger_row_cb cb;
    void *ctx;
    struct ag_buf buf;
    ag_err err;
    char detail[256];
};

static int query_row(void *ctx, const struct ag__ledger_row *row)
{
    struct query_ctx *q = ctx;
    ag__buf_reset(&q->buf);
    q->err = ag__row_canonical(row, 1, &q->buf);
    if (q->err) {
        snprintf(q->detail, sizeof q->detail, "seq %lld: %s", (long long)row->v[AG__COL_SEQ].i,
                 ag_last_error());
        return 1;
    }
    return q->cb(q->ctx, row->v[AG__COL_SEQ].i, q->buf.data);
}

ag_err ag_ledger_query(ag_ledger *l, const struct ag_ledger_filter *f, ag_ledger_row_cb cb,
                       void *ctx)
{
    if (l == NULL || cb == NULL)
        return ag__fail(AG_EINVAL, "ledger query: no ledger or no callback");
    struct query_ctx q = {.cb = cb, .ctx = ctx};
    ag__buf_init(&q.buf);
    pthread_mutex_lock(&l->rlock);
    ag_err err = reader(l);
    if (err == AG_OK)
        err = l->be->scan(l->rctx, f, query_row, &q);
    pthread_mutex_unlock(&l->rlock);
    ag__buf_free(&q.buf);
    if (err == AG_OK && q.err)
        err = ag__fail(q.err, "%s", q.detail);
    return err;
}
