#include "server/audit.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/safestr.h"
#include "core/time.h"
#include "server/log.h"

#define QUEUE 32

/* One refusal as queued: copies, so that the request may end before it is appended. */
struct item {
    char agent[128], reason[32], method[16], path[512], remote[64],
        message[256]; /* agent "": unknown */
    char token_hmac[AG_HASH_HEX_LEN];
    int has_token, has_hmac;
    uint64_t suppressed; /* refusals left out before this one */
};

struct ag__audit {
    ag_ledger *ledger;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item q[QUEUE];
    size_t head, len;
    int stop;
    double tokens; /* the rate limit's bucket */
    int64_t refilled_ms;
    uint64_t pending_suppressed, recorded, suppressed;
    _Atomic uint64_t *suppressed_metric; /* may be NULL */
};

static char *item_data(const struct item *it)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "message", it->message, "method", it->method,
                          "path", it->path, "remote", it->remote);
    if (o && it->suppressed)
        json_object_set_new(o, "suppressed", json_integer((json_int_t)it->suppressed));
    if (o && it->has_hmac)
        json_object_set_new(o, "token_hmac", json_string(it->token_hmac));
    else if (o && it->has_token) /* the ledger has no HMAC key: say so, keep nothing */
        json_object_set_new(o, "token_hmac", json_null());
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static void append(struct ag__audit *a, const struct item *it)
{
    char *data = item_data(it);
    char resource[sizeof it->method + sizeof it->path + 2];
    snprintf(resource, sizeof resource, "%s %s", it->method, it->path);
    struct ag_ledger_entry e = {.kind = "violation",
                                .agent_id = it->agent[0] ? it->agent : NULL,
                                .tier = -1,
                                .action = "auth.token",
                                .resource = resource,
                                .decision = "deny",
                                .reason = it->reason,
                                .confidence = -1,
                                .success = -1,
                                .data_json = data};
    /* The request was refused whatever happens here; an entry that cannot be written
     * is counted with the suppressed ones, and so are those it carried. */
    ag_err err = data ? ag_ledger_append(a->ledger, &e, NULL, NULL) : AG_ENOMEM;
    pthread_mutex_lock(&a->mu);
    if (err == AG_OK) {
        a->recorded++;
    } else {
        a->pending_suppressed += it->suppressed + 1;
        a->suppressed++;
        if (a->suppressed_metric)
            atomic_fetch_add(a->suppressed_metric, 1);
    }
    pthread_mutex_unlock(&a->mu);
    if (err != AG_OK) {
        ag__log(AG_LOG_WARN, "audit", "a refused credential was not ledgered: %s", ag_last_error());
        ag_clear_error();
    }
    free(data);
}

static void *run(void *arg)
{
    struct ag__audit *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->len == 0 && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->len == 0)
            break; /* stopping, and everything queued is appended */
        struct item it = a->q[a->head];
        a->head = (a->head + 1) % QUEUE;
        a->len--;
        pthread_mutex_unlock(&a->mu);
        append(a, &it);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

ag_err ag__audit_start(ag_ledger *l, _Atomic uint64_t *suppressed_metric, struct ag__audit **out)
{
    struct ag__audit *a = calloc(1, sizeof *a);
    if (!a)
        return ag__fail(AG_ENOMEM, "audit");
    a->ledger = l;
    a->suppressed_metric = suppressed_metric;
    a->tokens = AG__AUDIT_BURST;
    a->refilled_ms = ag__mono_ms();
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        free(a);
        return ag__fail(AG_EINTERNAL, "audit: cannot start its thread");
    }
    *out = a;
    return AG_OK;
}

/* Takes one entry's worth from the bucket (the mutex is held). */
static int may_record(struct ag__audit *a)
{
    int64_t now = ag__mono_ms();
    a->tokens += (double)(now - a->refilled_ms) * AG__AUDIT_RATE / 1000.0;
    if (a->tokens > AG__AUDIT_BURST)
        a->tokens = AG__AUDIT_BURST;
    a->refilled_ms = now;
    if (a->tokens < 1)
        return 0;
    a->tokens -= 1;
    return 1;
}

static void fill(struct ag__audit *a, const struct ag__audit_event *ev, struct item *it)
{
    memset(it, 0, sizeof *it);
    /* A request's path is attacker-controlled: a byte that the ledger would refuse
     * must not let the refusal go unrecorded. */
    ag__utf8_safe_copy(it->agent, sizeof it->agent, ev->agent_id);
    ag__utf8_safe_copy(it->reason, sizeof it->reason, ev->reason);
    ag__utf8_safe_copy(it->method, sizeof it->method, ev->method);
    ag__utf8_safe_copy(it->path, sizeof it->path, ev->path);
    ag__utf8_safe_copy(it->remote, sizeof it->remote, ev->remote);
    ag__utf8_safe_copy(it->message, sizeof it->message, ev->message);
    it->has_token = ev->token != NULL;
    if (ev->token && ag_ledger_hmac(a->ledger, ev->token, it->token_hmac) == AG_OK)
        it->has_hmac = 1;
    ag_clear_error();
}

/* One more refusal left out (the mutex is held). */
static void suppress(struct ag__audit *a)
{
    a->pending_suppressed++;
    a->suppressed++;
    if (a->suppressed_metric)
        atomic_fetch_add(a->suppressed_metric, 1);
}

void ag__audit_refusal(struct ag__audit *a, const struct ag__audit_event *ev)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    int ok = !a->stop && may_record(a);
    if (!ok)
        suppress(a);
    pthread_mutex_unlock(&a->mu);
    if (!ok)
        return;
    struct item it;
    fill(a, ev, &it); /* outside the lock: the HMAC is the only work */
    pthread_mutex_lock(&a->mu);
    if (a->len == QUEUE) {
        suppress(a);
    } else {
        /* The count of those left out goes only with an entry of no agent's: an
         * agent may read its own entries, and the flood was not its doing. */
        if (!it.agent[0]) {
            it.suppressed = a->pending_suppressed;
            a->pending_suppressed = 0;
        }
        a->q[(a->head + a->len) % QUEUE] = it;
        a->len++;
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
}

void ag__audit_counts(struct ag__audit *a, uint64_t *recorded, uint64_t *suppressed)
{
    *recorded = *suppressed = 0;
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    *recorded = a->recorded;
    *suppressed = a->suppressed;
    pthread_mutex_unlock(&a->mu);
}

void ag__audit_stop(struct ag__audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    if (a->pending_suppressed) {
        /* Refusals left out since the last entry: one entry says how many. */
        struct item it;
        struct ag__audit_event ev = {.reason = "suppressed",
                                     .method = "*",
                                     .path = "*",
                                     .message = "refusals over the rate limit (or not "
                                                "written), not recorded one by one"};
        fill(a, &ev, &it);
        it.suppressed = a->pending_suppressed;
        append(a, &it);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}
