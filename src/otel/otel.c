/* The OTLP exporter: settings, the bounded queue between the daemon's threads and the
 * export thread, and the export thread itself (batches, retries with backoff, a
 * breaker). See agentgov/otel.h. */
#include "agentgov/otel.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agentgov/ledger.h"
#include "core/err.h"
#include "core/crypto.h"
#include "core/time.h"

#define MAX_KINDS 32
#define POLL_MS   10 /* how often the idle thread looks at the queue and the stop flag */

/* One slot of the queue (Vyukov's bounded MPMC queue, used with a single consumer):
 * seq tells producers and the consumer whose turn the slot is, so a producer claims a
 * slot with one compare-and-swap and never waits. The event's strings are copied into
 * the slot's own buffer, which stays with the slot and only grows: in the steady state
 * an event costs no allocation (a malloc by the deciding thread and a free by the export
 * thread, for every event, showed up as a few per cent of the daemon's CPU in glibc's
 * arenas). */
struct cell {
    _Atomic size_t seq;
    int ok; /* the copy succeeded (0: an event lost to out of memory) */
    struct ag_otel_event e;
    char *buf;
    size_t cap;
};

struct ag_otel {
    struct ag_otel_config cfg;
    char kinds[MAX_KINDS][16];
    size_t nkinds;
    char traces_url[AG_OTEL_URL_MAX + 16], logs_url[AG_OTEL_URL_MAX + 16];
    struct curl_slist *headers;
    ag_breaker *breaker;
    ag_breaker_change_cb breaker_cb; /* the caller's, run at normal priority */
    void *breaker_ctx;
    CURL *curl;
    uint64_t rng; /* span ids (export thread only) */

    struct cell *cells;
    size_t cap;
    _Atomic size_t head; /* next position a producer claims */
    _Atomic size_t tail; /* next position the consumer reads */

    pthread_t thread;
    int running;
    _Atomic int stop;
    _Atomic uint64_t queued, dropped_full, dropped_failed, exported, requests, failed_requests;
};

/* ---- settings ------------------------------------------------------------------------ */

void ag_otel_config_from(const ag_config *c, struct ag_otel_config *o)
{
    memset(o, 0, sizeof *o);
#define CP(f, k) snprintf(o->f, sizeof o->f, "%s", ag_config_str(c, k))
    CP(endpoint, "otel.endpoint");
    CP(service_name, "otel.service_name");
    CP(resource_attributes, "otel.resource_attributes");
    CP(headers, "otel.headers");
    CP(kinds, "otel.kinds");
#undef CP
    const char *sig = ag_config_str(c, "otel.signals");
    o->traces = strcmp(sig, "logs") != 0;
    o->logs = strcmp(sig, "traces") != 0;
    o->batch = ag_config_int(c, "otel.batch");
    o->queue = ag_config_int(c, "otel.queue");
    o->interval_ms = ag_config_ms(c, "otel.interval");
    o->timeout_ms = ag_config_ms(c, "otel.timeout");
    o->retries = ag_config_int(c, "otel.retries");
    o->backoff_ms = ag_config_ms(c, "otel.backoff");
    o->backoff_max_ms = ag_config_ms(c, "otel.backoff_max");
    ag_breaker_config_from(c, "otel", &o->breaker);
}

/* Splits a comma-separated kinds list into o (o NULL: only checks). */
static ag_err parse_kinds(const char *list, ag_otel *o)
{
    const char *p = list;
    size_t n = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        char k[32];
        snprintf(k, sizeof k, "%.*s", (int)(len < sizeof k ? len : sizeof k - 1), p);
        char *s = k, *e = k + strlen(k);
        while (*s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            *--e = '\0';
        if (*s) {
            if (!ag_ledger_kind_valid(s) || len >= sizeof k || n >= MAX_KINDS)
                return ag__fail(AG_EINVAL, "otel.kinds: '%.*s' is not a ledger kind", (int)len, p);
            if (o)
                snprintf(o->kinds[o->nkinds++], sizeof o->kinds[0], "%s", s);
            n++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return AG_OK;
}

ag_err ag_otel_config_check(const struct ag_otel_config *c)
{
    /* Checked with export off too: a typo is reported when it is made, not on the day
     * an endpoint is set. */
    const char *ep = c->endpoint;
    if (ep[0] && strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)
        return ag__fail(AG_EINVAL,
                        "otel.endpoint: '%s' is not an http:// or https:// URL "
                        "(the collector's OTLP/HTTP base, e.g. http://127.0.0.1:4318)",
                        ep);
    if (strchr(ep, ' ') || strchr(ep, '?') || strchr(ep, '#'))
        return ag__fail(AG_EINVAL, "otel.endpoint: '%s': no spaces, query or fragment", ep);
    if (!ag_otel_pairs(c->headers, NULL, NULL) || strpbrk(c->headers, "\r\n"))
        return ag__fail(AG_EINVAL, "otel.headers: expected Name=value[,Name=value...], got '%s'",
                        c->headers);
    if (!ag_otel_pairs(c->resource_attributes, NULL, NULL))
        return ag__fail(AG_EINVAL,
                        "otel.resource_attributes: expected key=value[,key=value...], got '%s'",
                        c->resource_attributes);
    if (!c->traces && !c->logs)
        return ag__fail(AG_EINVAL, "otel.signals: neither traces nor logs");
    if (c->batch > c->queue) /* a batch is sent from the queue's own slots */
        return ag__fail(AG_EINVAL, "otel.batch (%lld) is larger than otel.queue (%lld)",
                        (long long)c->batch, (long long)c->queue);
    return parse_kinds(c->kinds, NULL);
}

/* ---- the handle ------------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void literal_header(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    ag_otel *o = ctx;
    char line[4200];
    snprintf(line, sizeof line, "%.*s: %.*s", (int)kl, k, (int)vl, v);
    struct curl_slist *n = curl_slist_append(o->headers, line);
    if (n)
        o->headers = n;
}

static ag_err build_headers(ag_otel *o, const struct ag_otel_opts *opts)
{
    struct curl_slist *n = curl_slist_append(NULL, "Content-Type: application/json");
    if (!n)
        return ag__fail(AG_ENOMEM, "otel: out of memory");
    o->headers = n;
    /* libcurl would otherwise send "Expect: 100-continue" for bodies over 1 MiB and
     * wait for a collector that does not answer it. */
    if ((n = curl_slist_append(o->headers, "Expect:")))
        o->headers = n;
    if (opts->headers) {
        for (size_t i = 0; i < opts->nheaders; i++)
            if ((n = curl_slist_append(o->headers, opts->headers[i])))
                o->headers = n;
    } else {
        (void)ag_otel_pairs(o->cfg.headers, literal_header, o);
    }
    return AG_OK;
}

/* The caller's breaker callback ledgers the change: an append that may make this
 * thread the ledger's leader, which every decision then waits for. An idle-priority
 * thread could be kept off the CPU meanwhile by the very decisions waiting for it, so
 * the callback runs at normal priority. */
static void breaker_changed(void *ctx, ag_breaker *b, enum ag_breaker_state from,
                            enum ag_breaker_state to, const char *why)
{
    ag_otel *o = ctx;
    int policy;
    struct sched_param sp, zero = {0};
    int idle = pthread_getschedparam(pthread_self(), &policy, &sp) == 0 && policy == SCHED_IDLE;
    if (idle)
        (void)pthread_setschedparam(pthread_self(), SCHED_OTHER, &zero);
    o->breaker_cb(o->breaker_ctx, b, from, to, why);
    if (idle)
        (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &zero);
}

ag_err ag_otel_new(const struct ag_otel_opts *opts, ag_otel **out)
{
    *out = NULL;
    const struct ag_otel_config *c = opts ? opts->config : NULL;
    if (!c || !c->endpoint[0])
        return ag__fail(AG_EINVAL, "otel: no endpoint (otel.endpoint)");
    ag_err e = ag_otel_config_check(c);
    if (e)
        return e;
    if (c->batch < 1 || c->queue < 1 || c->interval_ms < 1)
        return ag__fail(AG_EINVAL, "otel: batch, queue and interval must be at least 1");

    ag_otel *o = calloc(1, sizeof *o);
    if (!o)
        return ag__fail(AG_ENOMEM, "otel: out of memory");
    o->cfg = *c;
    o->cap = (size_t)c->queue;
    o->cells = calloc(o->cap, sizeof *o->cells);
    if (!o->cells) {
        free(o);
        return ag__fail(AG_ENOMEM, "otel: out of memory for a queue of %zu", (size_t)c->queue);
    }
    for (size_t i = 0; i < o->cap; i++)
        atomic_init(&o->cells[i].seq, i);
    (void)parse_kinds(c->kinds, o);
    size_t el = strlen(c->endpoint);
    while (el && c->endpoint[el - 1] == '/')
        el--;
    snprintf(o->traces_url, sizeof o->traces_url, "%.*s/v1/traces", (int)el, c->endpoint);
    snprintf(o->logs_url, sizeof o->logs_url, "%.*s/v1/logs", (int)el, c->endpoint);
    ag__random(&o->rng, sizeof o->rng);
    o->rng |= 1;
    pthread_once(&curl_once, curl_init_once);
    if ((e = build_headers(o, opts)) == AG_OK)
        e = ag_breaker_new("otel", &c->breaker, &o->breaker);
    if (e == AG_OK && !(o->curl = curl_easy_init()))
        e = ag__fail(AG_ENOMEM, "otel: cannot make a curl handle");
    if (e) {
        ag_otel_free(o);
        return e;
    }
    o->breaker_cb = opts->breaker_cb;
    o->breaker_ctx = opts->breaker_ctx;
    if (opts->breaker_cb)
        ag_breaker_on_change(o->breaker, breaker_changed, o);
    *out = o;
    return AG_OK;
}

int ag_otel_wants(const ag_otel *o, const char *kind)
{
    if (!o || !kind)
        return 0;
    for (size_t i = 0; i < o->nkinds; i++)
        if (strcmp(o->kinds[i], kind) == 0)
            return 1;
    return 0;
}

/* ---- the queue ------------------------------------------------------------------------ */

#define NSTR 13
static const size_t str_off[NSTR] = {
    offsetof(struct ag_otel_event, kind),          offsetof(struct ag_otel_event, agent_id),
    offsetof(struct ag_otel_event, agent_version), offsetof(struct ag_otel_event, task_id),
    offsetof(struct ag_otel_event, phase),         offsetof(struct ag_otel_event, action),
    offsetof(struct ag_otel_event, resource),      offsetof(struct ag_otel_event, decision),
    offsetof(struct ag_otel_event, reason),        offsetof(struct ag_otel_event, error_type),
    offsetof(struct ag_otel_event, error_message), offsetof(struct ag_otel_event, route),
    offsetof(struct ag_otel_event, data_json)};

#define STR_AT(ev, i) (*(const char **)((char *)(ev) + str_off[i]))

/* Copies ev into the slot c, its strings into c->buf (grown when too small). A long
 * error message or data is cut at 4 KiB: the ledger has it whole. Returns 0 when out
 * of memory. */
static int slot_copy(struct cell *c, const struct ag_otel_event *ev)
{
    size_t len[NSTR], total = 0;
    for (int i = 0; i < NSTR; i++) {
        const char *s = *(const char *const *)((const char *)ev + str_off[i]);
        len[i] = s ? strnlen(s, 4096) : 0;
        total += s ? len[i] + 1 : 0;
    }
    if (total > c->cap) {
        size_t cap = (total + 255) & ~(size_t)255;
        char *b = realloc(c->buf, cap);
        if (!b)
            return 0;
        c->buf = b;
        c->cap = cap;
    }
    c->e = *ev;
    char *p = c->buf;
    for (int i = 0; i < NSTR; i++) {
        const char *s = *(const char *const *)((const char *)ev + str_off[i]);
        if (!s)
            continue;
        memcpy(p, s, len[i]);
        p[len[i]] = '\0';
        STR_AT(&c->e, i) = p;
        p += len[i] + 1;
    }
    return 1;
}

int ag_otel_emit(ag_otel *o, const struct ag_otel_event *ev)
{
    if (!o || !ev)
        return 0;
    size_t pos = atomic_load_explicit(&o->head, memory_order_relaxed);
    struct cell *c;
    for (;;) {
        c = &o->cells[pos % o->cap];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        ptrdiff_t dif = (ptrdiff_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&o->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            atomic_fetch_add_explicit(&o->dropped_full, 1, memory_order_relaxed);
            return 0;
        } else {
            pos = atomic_load_explicit(&o->head, memory_order_relaxed);
        }
    }
    /* The slot is ours: a failed copy still has to hand it on, marked empty. */
    c->ok = slot_copy(c, ev);
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    if (!c->ok) {
        atomic_fetch_add_explicit(&o->dropped_full, 1, memory_order_relaxed);
        return 0;
    }
    atomic_fetch_add_explicit(&o->queued, 1, memory_order_relaxed);
    return 1;
}

/* The export thread's view of the queue: up to max published events from the tail,
 * left in their slots (ev[] points into them) until release() hands the slots back.
 * Returns how many slots it took; *nev of them hold events (a failed copy holds none). */
static size_t peek(ag_otel *o, const struct ag_otel_event **ev, size_t max, size_t *nev)
{
    size_t pos = atomic_load_explicit(&o->tail, memory_order_relaxed), n = 0;
    *nev = 0;
    while (n < max) {
        struct cell *c = &o->cells[(pos + n) % o->cap];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        if ((ptrdiff_t)(seq - (pos + n + 1)) < 0)
            break; /* not published yet */
        if (c->ok)
            ev[(*nev)++] = &c->e;
        n++;
    }
    return n;
}

static void release(ag_otel *o, size_t n)
{
    size_t pos = atomic_load_explicit(&o->tail, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&o->cells[(pos + i) % o->cap].seq, pos + i + o->cap,
                              memory_order_release);
    atomic_store_explicit(&o->tail, pos + n, memory_order_relaxed);
}

static size_t waiting(ag_otel *o)
{
    size_t h = atomic_load_explicit(&o->head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&o->tail, memory_order_relaxed);
    return h > t ? h - t : 0;
}

void ag_otel_stats(ag_otel *o, struct ag_otel_stats *s)
{
    memset(s, 0, sizeof *s);
    if (!o)
        return;
    s->queued = atomic_load(&o->queued);
    s->dropped_full = atomic_load(&o->dropped_full);
    s->dropped_failed = atomic_load(&o->dropped_failed);
    s->exported = atomic_load(&o->exported);
    s->requests = atomic_load(&o->requests);
    s->failed_requests = atomic_load(&o->failed_requests);
    s->waiting = waiting(o);
}

/* ---- sending --------------------------------------------------------------------------- */

static size_t discard(char *p, size_t sz, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return sz * n;
}

enum outcome { SENT, RETRY, REFUSED };

/* One POST. A transport failure, 429 and 5xx are worth retrying (OTLP/HTTP's retryable
 * answers are 429, 502, 503 and 504); another 4xx means the collector will never take
 * this body. *ok_dep says whether the collector answered at all (for the breaker). */
static enum outcome post(ag_otel *o, const char *url, const char *body, int *ok_dep, char *why,
                         size_t whylen)
{
    CURL *h = o->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, o->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->cfg.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)o->cfg.timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    atomic_fetch_add(&o->requests, 1);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    *ok_dep = rc == CURLE_OK && status < 500;
    if (rc == CURLE_OK && status >= 200 && status < 300)
        return SENT;
    atomic_fetch_add(&o->failed_requests, 1);
    if (rc != CURLE_OK)
        snprintf(why, whylen, "%s: %s", url, curl_easy_strerror(rc));
    else
        snprintf(why, whylen, "%s: HTTP %ld", url, status);
    return rc != CURLE_OK || status == 429 || status >= 500 ? RETRY : REFUSED;
}

/* Sleeps ms unless the exporter is told to stop; returns 0 when it was. */
static int nap(ag_otel *o, int64_t ms)
{
    for (int64_t t = 0; t < ms; t += POLL_MS) {
        if (atomic_load(&o->stop))
            return 0;
        struct timespec ts = {0, (long)(ms - t < POLL_MS ? ms - t : POLL_MS) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return !atomic_load(&o->stop);
}

/* Sends one body with retries and backoff, through the breaker. Returns 1 when the
 * collector took it. last (1 at shutdown) allows a single attempt. */
static int send_body(ag_otel *o, const char *url, const char *body, int last)
{
    int64_t backoff = o->cfg.backoff_ms;
    for (int64_t attempt = 0;; attempt++) {
        struct ag_breaker_call call;
        if (!ag_breaker_allow(o->breaker, &call))
            return 0; /* open: the batch is dropped, not held (no pile-up behind it) */
        int ok_dep = 0;
        char why[320] = "";
        enum outcome r = post(o, url, body, &ok_dep, why, sizeof why);
        ag_breaker_done(o->breaker, &call, ok_dep, ok_dep ? NULL : why);
        if (r == SENT)
            return 1;
        if (r == REFUSED || last || attempt >= o->cfg.retries || !nap(o, backoff))
            return 0;
        backoff = backoff * 2 > o->cfg.backoff_max_ms ? o->cfg.backoff_max_ms : backoff * 2;
    }
}

static void span_id(ag_otel *o, uint8_t id[8])
{
    /* xorshift64*: span ids need to be unique, not secret. */
    uint64_t x;
    do {
        o->rng ^= o->rng >> 12;
        o->rng ^= o->rng << 25;
        o->rng ^= o->rng >> 27;
        x = o->rng * 0x2545F4914F6CDD1DULL;
    } while (x == 0);
    memcpy(id, &x, 8);
}

/* Encodes and sends one batch; every event in it is counted exported or dropped. */
static void send_batch(ag_otel *o, const struct ag_otel_event **ev, size_t n, int last)
{
    uint8_t(*ids)[8] = malloc(n * sizeof *ids);
    int ok = ids != NULL;
    for (size_t i = 0; ok && i < n; i++)
        span_id(o, ids[i]);
    char *body = NULL;
    if (ok && o->cfg.traces) {
        ok = ag_otel_encode_traces(&o->cfg, ev, (const uint8_t(*)[8])ids, n, &body) == AG_OK &&
             send_body(o, o->traces_url, body, last);
        free(body);
        body = NULL;
    }
    if (ok && o->cfg.logs) {
        ok = ag_otel_encode_logs(&o->cfg, ev, (const uint8_t(*)[8])ids, n, &body) == AG_OK &&
             send_body(o, o->logs_url, body, last);
        free(body);
    }
    ag_clear_error();
    atomic_fetch_add(ok ? &o->exported : &o->dropped_failed, n);
    free(ids);
}

/* Sends up to a batch from the queue; returns how many slots it freed. */
static size_t flush_one(ag_otel *o, const struct ag_otel_event **ev, int last)
{
    size_t nev;
    size_t n = peek(o, ev, (size_t)o->cfg.batch, &nev);
    if (nev)
        send_batch(o, ev, nev, last);
    release(o, n);
    return n;
}

static void *export_main(void *arg)
{
    ag_otel *o = arg;
    /* The export thread yields to the threads that decide: SCHED_IDLE (per thread on
     * Linux) runs it only on CPU they leave, so that it never delays one (a nice value
     * only lowers its share: a batch being encoded still took a core from a decision
     * often enough to show in p99). When they leave none, the queue fills and the
     * overflow is counted, rather than a decision waiting. Nice 19 where SCHED_IDLE
     * is refused (a seccomp filter, an old kernel). */
    struct sched_param sp = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0 &&
        setpriority(PRIO_PROCESS, (id_t)gettid(), 19) != 0)
        ag_clear_error();
    pthread_setname_np(pthread_self(), "otel-export"); /* top -H, /proc/PID/task */
    const struct ag_otel_event **ev = malloc((size_t)o->cfg.batch * sizeof *ev);
    if (!ev)
        return NULL;
    int64_t last_send = ag__mono_ms();
    while (!atomic_load(&o->stop)) {
        size_t w = waiting(o);
        if (w == 0 ||
            (w < (size_t)o->cfg.batch && ag__mono_ms() - last_send < o->cfg.interval_ms)) {
            nap(o, POLL_MS);
            continue;
        }
        flush_one(o, ev, 0);
        last_send = ag__mono_ms();
    }
    /* Stopping: one attempt for what is left, within one request timeout; whatever
     * remains then is dropped (ag_otel_free counts it). */
    int64_t until = ag__mono_ms() + o->cfg.timeout_ms;
    while (ag__mono_ms() < until && flush_one(o, ev, 1))
        ;
    free(ev);
    return NULL;
}

ag_err ag_otel_start(ag_otel *o)
{
    if (!o || o->running)
        return AG_OK;
    atomic_store(&o->stop, 0);
    if (pthread_create(&o->thread, NULL, export_main, o) != 0)
        return ag__fail(AG_EINTERNAL, "otel: cannot start the export thread");
    o->running = 1;
    return AG_OK;
}

void ag_otel_stop(ag_otel *o)
{
    if (!o || !o->running)
        return;
    atomic_store(&o->stop, 1);
    pthread_join(o->thread, NULL);
    o->running = 0;
}

void ag_otel_free(ag_otel *o)
{
    if (!o)
        return;
    ag_otel_stop(o);
    /* Events left after the thread stopped, or with no thread, are dropped. */
    const struct ag_otel_event *ev[64];
    size_t n, nev;
    while ((n = peek(o, ev, 64, &nev)) > 0) {
        atomic_fetch_add(&o->dropped_failed, nev);
        release(o, n);
    }
    if (o->curl)
        curl_easy_cleanup(o->curl);
    /* Header lines may hold a credential: wiped before they go back to the allocator. */
    for (struct curl_slist *h = o->headers; h; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(o->headers);
    ag_breaker_free(o->breaker);
    for (size_t i = 0; o->cells && i < o->cap; i++)
        free(o->cells[i].buf);
    free(o->cells);
    free(o);
}
