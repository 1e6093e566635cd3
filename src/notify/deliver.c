/* Delivery: one POST per due (event, channel) with libcurl, a time limit per attempt,
 * exponential backoff with jitter between attempts, and a dead letter after the last.
 * Several daemons sharing a store take turns through a store lock, so an attempt is
 * made by one of them at a time (delivery stays at least once: a reply lost after the
 * receiver acted is sent again, with the same event id). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "notify/notify_int.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_start(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

struct sink {
    char buf[200];
    size_t len;
};

static size_t sink_write(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct sink *s = ctx;
    size_t n = size * nmemb, room = sizeof s->buf - 1 - s->len;
    memcpy(s->buf + s->len, p, n < room ? n : room);
    s->len += n < room ? n : room;
    s->buf[s->len] = '\0';
    return n;
}

/* POSTs the request; AG_OK only for a 2xx answer. *status: the HTTP status or 0. */
static ag_err post(ag_notify *n, const struct ag__ntf_req *q, long *status)
{
    *status = 0;
    pthread_once(&curl_once, curl_start);
    if (!curl_ok)
        return ag__fail(AG_EINTERNAL, "notify: libcurl failed to initialise");
    CURL *c = curl_easy_init();
    if (c == NULL)
        return ag__fail(AG_ENOMEM, "notify: libcurl: out of memory");
    struct curl_slist *h = NULL;
    for (size_t i = 0; i < q->nheaders; i++)
        h = curl_slist_append(h, q->headers[i]);
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    struct sink sk = {.len = 0};
    curl_easy_setopt(c, CURLOPT_URL, q->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)n->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)n->timeout_ms);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "agentgov-notify/1");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sk);
    CURLcode rc = curl_easy_perform(c);
    ag_err e = AG_OK;
    if (rc != CURLE_OK) {
        e = ag__fail(rc == CURLE_OPERATION_TIMEDOUT ? AG_ETIMEOUT : AG_EIO, "%s",
                     curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        if (*status < 200 || *status > 299)
            e = ag__fail(AG_EIO, "HTTP %ld: %.150s", *status, sk.buf);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return e;
}

/* The delay before attempt number `attempts` + 1: backoff * 2^(attempts-1), capped,
 * with "equal jitter" (half fixed, half random) so that retries after an outage do not
 * all land at once. */
static int64_t next_delay(const ag_notify *n, int attempts)
{
    int64_t d = n->backoff_ms;
    for (int i = 1; i < attempts && d < n->backoff_max_ms; i++)
        d *= 2;
    if (d > n->backoff_max_ms)
        d = n->backoff_max_ms;
    uint32_t r;
    ag__random(&r, sizeof r);
    return d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1));
}

/* Records the outcome of one attempt: the delivery, the due and dead indexes. */
static ag_err record(ag_notify *n, const char *member, const char *dkey, json_t *d, int ok,
                     const char *err, int64_t now, struct ag_notify_round *r)
{
    int attempts = (int)json_integer_value(json_object_get(d, "attempts")) + 1;
    json_object_set_new(d, "attempts", json_integer(attempts));
    json_object_set_new(d, "last_error", json_string(ok ? "" : err));
    int dead = !ok && attempts >= n->max_attempts;
    int64_t next = ok || dead ? 0 : now + next_delay(n, attempts);
    json_object_set_new(d, "status", json_string(ok ? "delivered" : dead ? "dead" : "pending"));
    json_object_set_new(d, "next_ms", json_integer(next));
    if (ok || dead)
        json_object_set_new(d, "done_ms", json_integer(now));
    char *ds = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    if (ds == NULL)
        return ag__fail(AG_ENOMEM, "notify: out of memory");
    struct ag_store_op ops[3] = {
        {.op = AG_OP_SET, .key = dkey, .value = ds, .num = AG__NTF_KEEP_MS}};
    size_t k = 1;
    if (ok || dead)
        ops[k++] = (struct ag_store_op){.op = AG_OP_ZREM, .key = AG__NTF_PENDING, .field = member};
    else
        ops[k++] = (struct ag_store_op){
            .op = AG_OP_ZADD, .key = AG__NTF_PENDING, .field = member, .num = next};
    if (dead)
        ops[k++] = (struct ag_store_op){
            .op = AG_OP_ZADD, .key = AG__NTF_DEAD, .field = member, .num = now};
    struct ag_store_reply rp[3];
    ag_err e = ag_store_exec(n->store, NULL, ops, k, rp, NULL);
    ag_store_reply_free(rp, k);
    free(ds);
    if (ok) {
        atomic_fetch_add(&n->sent, 1);
        r->sent++;
    } else {
        atomic_fetch_add(&n->failed, 1);
        r->failed++;
    }
    if (dead) {
        atomic_fetch_add(&n->dead, 1);
        r->dead++;
        /* A notification nobody received is an audit fact. */
        json_t *data = json_pack("{s:s, s:s, s:s, s:i, s:s}", "event_id",
                                 json_string_value(json_object_get(d, "event_id")), "channel",
                                 json_string_value(json_object_get(d, "channel")), "type",
                                 json_string_value(json_object_get(d, "type")), "attempts",
                                 attempts, "last_error", err);
        char *dj = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(data);
        struct ag_ledger_entry le = {.kind = "notify",
                                     .tier = -1,
                                     .action = "notify.deliver",
                                     .resource = json_string_value(json_object_get(d, "channel")),
                                     .decision = "dead",
                                     .reason = "retries_exhausted",
                                     .confidence = -1,
                                     .success = 0,
                                     .data_json = dj};
        if (dj && ag_ledger_append(n->ledger, &le, NULL, NULL) != AG_OK && e == AG_OK) {
        }
        free(dj);
    }
    return e;
}

/* Puts a delivery back in the due index for later, attempts unchanged. */
static ag_err defer(ag_notify *n, const char *member, json_t *d, const char *why, int64_t next)
{
    char dkey[AG__NTF_KEY_MAX];
    snprintf(dkey, sizeof dkey, AG__NTF_DELIVERY "%s", member);
    json_object_set_new(d, "next_ms", json_integer(next));
    json_object_set_new(d, "last_error", json_string(why));
    char *ds = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    if (ds == NULL)
        return ag__fail(AG_ENOMEM, "notify: out of memory");
    struct ag_store_op ops[2] = {
        {.op = AG_OP_SET, .key = dkey, .value = ds, .num = AG__NTF_KEEP_MS},
        {.op = AG_OP_ZADD, .key = AG__NTF_PENDING, .field = member, .num = next}};
    struct ag_store_reply rp[2];
    ag_err e = ag_store_exec(n->store, NULL, ops, 2, rp, NULL);
    ag_store_reply_free(rp, 2);
    free(ds);
    return e;
}

/* One attempt of the delivery named by member ("<event id>:<channel>"). */
static ag_err attempt(ag_notify *n, const char *member, int64_t now, struct ag_notify_round *r)
{
    const char *colon = strrchr(member, ':');
    char id[AG_NOTIFY_ID_BUF], ekey[AG__NTF_KEY_MAX], dkey[AG__NTF_KEY_MAX];
    if (colon == NULL || (size_t)(colon - member) >= sizeof id) {
        struct ag_store_op z = {.op = AG_OP_ZREM, .key = AG__NTF_PENDING, .field = member};
        struct ag_store_reply zr;
        ag_err e = ag_store_exec(n->store, NULL, &z, 1, &zr, NULL);
        ag_store_reply_free(&zr, 1);
        return e;
    }
    snprintf(id, sizeof id, "%.*s", (int)(colon - member), member);
    snprintf(ekey, sizeof ekey, AG__NTF_EVENT "%s", id);
    snprintf(dkey, sizeof dkey, AG__NTF_DELIVERY "%s", member);
    struct ag_store_op ops[2] = {{.op = AG_OP_GET, .key = ekey}, {.op = AG_OP_GET, .key = dkey}};
    struct ag_store_reply rp[2];
    ag_err e = ag_store_exec(n->store, NULL, ops, 2, rp, NULL);
    if (e)
        return e;
    json_t *ev = rp[0].type == AG_REPLY_STR ? json_loads(rp[0].str, 0, NULL) : NULL;
    json_t *d = rp[1].type == AG_REPLY_STR ? json_loads(rp[1].str, 0, NULL) : NULL;
    ag_store_reply_free(rp, 2);
    if (!ev || !d || strcmp(json_string_value(json_object_get(d, "status")) ?: "", "pending")) {
        /* Aged out or already settled: nothing left to send. */
        struct ag_store_op z = {.op = AG_OP_ZREM, .key = AG__NTF_PENDING, .field = member};
        struct ag_store_reply zr;
        e = ag_store_exec(n->store, NULL, &z, 1, &zr, NULL);
        ag_store_reply_free(&zr, 1);
    } else {
        ag_breaker *b = NULL;
        for (int c = 0; c < AG_NOTIFY_CHANNELS; c++)
            if (strcmp(colon + 1, ag__ntf_channels[c]) == 0)
                b = n->breakers[c];
        struct ag_breaker_call call;
        if (!ag_breaker_allow(b, &call)) {
            /* The channel is known to be down: wait for its breaker, without spending
             * one of the delivery's attempts on it. */
            e = defer(n, member, d, call.why,
                      ag__wall_ms() + (call.retry_ms > 0 ? call.retry_ms : 1000));
            r->deferred++;
        } else {
            struct ag__ntf_req q;
            long status = 0;
            ag_err se = ag__ntf_format(n, colon + 1, ev, &q);
            int sent = 0;
            if (se == AG_OK) {
                se = post(n, &q, &status);
                sent = 1;
                ag__ntf_req_clear(&q);
            }
            char err[256];
            snprintf(err, sizeof err, "%s", se ? ag_last_error() : "");
            /* The breaker counts the channel's health: an answer of its own (a 4xx, or
             * a secret we could not read) is not the channel being down. */
            ag_breaker_done(b, &call, se == AG_OK || !sent || (status >= 400 && status < 500),
                            se ? err : NULL);
            e = record(n, member, dkey, d, se == AG_OK, err, ag__wall_ms(), r);
        }
    }
    (void)now;
    json_decref(ev);
    json_decref(d);
    return e;
}

/* Drops dead deliveries older than the outbox keeps anything (their records are gone by
 * then), at most once a minute, so that the dead index does not grow for ever. */
static void trim_dead(ag_notify *n, int64_t now)
{
    if (now - atomic_load(&n->trimmed_ms) < 60000)
        return;
    atomic_store(&n->trimmed_ms, now);
    struct ag_store_op op = {
        .op = AG_OP_ZRANGEBYSCORE, .key = AG__NTF_DEAD, .num = 0, .num2 = now - AG__NTF_KEEP_MS};
    struct ag_store_reply old;
    if (ag_store_exec(n->store, NULL, &op, 1, &old, NULL) != AG_OK)
        return;
    for (size_t i = 0; old.type == AG_REPLY_ARRAY && i < old.nelems; i++) {
        struct ag_store_op z = {.op = AG_OP_ZREM, .key = AG__NTF_DEAD, .field = old.elems[i].str};
        struct ag_store_reply zr;
        if (old.elems[i].type == AG_REPLY_STR &&
            ag_store_exec(n->store, NULL, &z, 1, &zr, NULL) == AG_OK)
            ag_store_reply_free(&zr, 1);
    }
    ag_store_reply_free(&old, 1);
}

ag_err ag_notify_deliver(ag_notify *n, size_t max, struct ag_notify_round *r)
{
    memset(r, 0, sizeof *r);
    int64_t now = ag__wall_ms();
    trim_dead(n, now);
    struct ag_store_op op = {
        .op = AG_OP_ZRANGEBYSCORE, .key = AG__NTF_PENDING, .num = 0, .num2 = now};
    struct ag_store_reply due;
    ag_err e = ag_store_exec(n->store, NULL, &op, 1, &due, NULL);
    if (e)
        return e;
    if (due.type != AG_REPLY_ARRAY || due.nelems == 0) {
        ag_store_reply_free(&due, 1);
        return AG_OK;
    }
    /* One sender at a time across daemons; the lock outlives one round's worst case. */
    int64_t fence;
    int64_t ttl = n->timeout_ms * (int64_t)(due.nelems < 64 ? due.nelems : 64) * 2 + 10000;
    e = ag_store_lock_acquire(n->store, AG__NTF_LOCK, n->owner, ttl, &fence);
    if (e == AG_ELOCKED) {
        ag_store_reply_free(&due, 1);
        return AG_OK;
    }
    for (size_t i = 0; e == AG_OK && i < due.nelems && (!max || i < max) && i < 64; i++)
        if (due.elems[i].type == AG_REPLY_STR)
            e = attempt(n, due.elems[i].str, now, r);
    ag_store_reply_free(&due, 1);
    if (ag_store_lock_release(n->store, AG__NTF_LOCK, n->owner, fence) != AG_OK && e == AG_OK) {
    }
    return e;
}

ag_err ag_notify_test(ag_notify *n, const char *channel, long *http_status)
{
    *http_status = 0;
    if (!ag_notify_channel_on(n, channel))
        return ag__fail(AG_EINVAL,
                        "notify test: channel '%s' is not configured (slack, webhook, "
                        "github: see docs/notify.md)",
                        channel);
    char id[AG_NOTIFY_ID_BUF];
    memcpy(id, "evt-", 4);
    ag__random_hex(12, id + 4);
    json_t *ev = json_pack("{s:s, s:s, s:I, s:{s:s}}", "id", id, "type", "test", "created_ms",
                           (json_int_t)ag__wall_ms(), "data", "message",
                           "test notification from agentgov notify test");
    struct ag__ntf_req q;
    ag_err e = ev ? ag__ntf_format(n, channel, ev, &q) : ag__fail(AG_ENOMEM, "notify test");
    json_decref(ev);
    if (e)
        return e;
    e = post(n, &q, http_status);
    ag__ntf_req_clear(&q);
    return e;
}
