#include "server/audit.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/time.h"

#define QUEUE 32

/* One refusal as queued: copies, so that the request may end before it is appended. */
struct item {
    char agent[128], reason[32], method[16], path[512], remote[64], message[256];
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
                                .agent_id = it->agent,
                                .tier = -1,
                                .action = "auth.token",
                                .resource = resource,
                                .decision = "deny",
                                .reason = it->reason,
                                .confidence = -1,
                                .success = -1,
                                .data_json = data};
    /* Best effort: the request was refused whatever happens here. */
    if (data && ag_ledger_append(a->ledger, &e, NULL, NULL) == AG_OK) {
        pthread_mutex_lock(&a->mu);
        a->recorded++;
        pthread_mutex_unlock(&a->mu);
    } else {
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

ag_err ag__audit_start(ag_ledger *l, struct ag__audit **out)
{
    struct ag__audit *a = calloc(1, sizeof *a);
    if (!a)
        return ag__fail(AG_ENOMEM, "audit");
    a->ledger = l;
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
    if (a->tokens < 1 || a->len == QUEUE)
        return 0;
    a->tokens -= 1;
    return 1;
}

static void fill(struct ag__audit *a, const struct ag__audit_event *ev, struct item *it)
{
    memset(it, 0, sizeof *it);
    snprintf(it->agent, sizeof it->agent, "%s", ev->agent_id ? ev->agent_id : "unknown");
    snprintf(it->reason, sizeof it->reason, "%s", ev->reason);
    snprintf(it->method, sizeof it->method, "%s", ev->method ? ev->method : "");
    snprintf(it->path, sizeof it->path, "%s", ev->path ? ev->path : "");
    snprintf(it->remote, sizeof it->remote, "%s", ev->remote ? ev->remote : "");
    snprintf(it->message, sizeof it->message, "%s", ev->message ? ev->message : "");
    it->has_token = ev->token != NULL;
    if (ev->token && ag_ledger_hmac(a->ledger, ev->token, it->token_hmac) == AG_OK)
        it->has_hmac = 1;
    ag_clear_error();
}

void ag__audit_refusal(struct ag__audit *a, const struct ag__audit_event *ev)
{
    if (!a)
        return;
    struct item it;
    fill(a, ev, &it); /* outside the lock: the HMAC is the only work */
    pthread_mutex_lock(&a->mu);
    if (!a->stop && may_record(a)) {
        it.suppressed = a->pending_suppressed;
        a->pending_suppressed = 0;
        a->q[(a->head + a->len) % QUEUE] = it;
        a->len++;
        pthread_cond_signal(&a->cv);
    } else {
        a->pending_suppressed++;
        a->suppressed++;
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
        struct ag__audit_event ev = {.reason = "token_refused",
                                     .method = "*",
                                     .path = "*",
                                     .message = "refusals over the rate limit, not recorded "
                                                "one by one"};
        fill(a, &ev, &it);
        it.suppressed = a->pending_suppressed;
        append(a, &it);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}
