/* Feeds the OTLP exporter from the ledger. The daemon's ledger handle tells an observer
 * of every committed entry on the thread that appended it; a request's handler runs on
 * one thread from start to end, so a thread-local context set around the handler says
 * which request (and which trace) an entry belongs to. The observer copies the entry
 * into the exporter's lock-free queue and returns: the decision's answer waits for
 * nothing else. */
#include "server/otel_feed.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentgov/otel.h"
#include "core/crypto.h"
#include "core/err.h"
#include "server/log.h"
#include "server/server.h"

struct tctx {
    int active;     /* inside a handler of a daemon with export on */
    int have_trace; /* tr holds the request's trace id */
    int has_parent; /* ...taken from a valid traceparent */
    int64_t start_ns;
    const char *route;
    struct ag_otel_trace tr;
};

static _Thread_local struct tctx cur;
static _Thread_local uint64_t rng;

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A fresh trace id: xorshift64* seeded once per thread from the system's randomness
 * (trace ids must be unique and hard to collide, not secret; a syscall per request
 * would cost more than the rest of the feed). */
static uint64_t next(void)
{
    if (rng == 0) {
        ag__random(&rng, sizeof rng);
        rng |= 1;
    }
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static void fresh_trace(struct ag_otel_trace *t)
{
    uint64_t a = next(), b = next();
    memcpy(t->trace_id, &a, 8);
    memcpy(t->trace_id + 8, &b, 8);
    memset(t->span_id, 0, sizeof t->span_id);
    t->flags = 1;
}

void ag__otel_begin(struct ag__req *r)
{
    if (!r->srv->otel)
        return;
    cur.active = 1;
    cur.start_ns = wall_ns();
    cur.route = r->m.route ? r->m.route->name : NULL;
    cur.has_parent = ag_otel_traceparent_parse(ag__req_header(r, "traceparent"), &cur.tr);
    cur.have_trace = cur.has_parent;
}

void ag__otel_end(struct ag__req *r)
{
    (void)r;
    cur.active = 0;
}

/* The ledger observer (ctx: the daemon). */
static void on_entry(void *ctx, int64_t seq, const struct ag_ledger_entry *e)
{
    struct ag__srv *s = ctx;
    ag_otel *o = s->otel;
    if (!o || !ag_otel_wants(o, e->kind))
        return;
    struct ag_otel_event ev = {.seq = seq,
                               .kind = e->kind,
                               .agent_id = e->agent_id,
                               .agent_version = e->agent_version,
                               .task_id = e->task_id,
                               .phase = e->phase,
                               .action = e->action,
                               .resource = e->resource,
                               .decision = e->decision,
                               .reason = e->reason,
                               .error_type = e->error_type,
                               .error_message = e->error_message,
                               .tier = e->tier,
                               .confidence = e->confidence,
                               .success = e->success};
    /* Only an LLM call's data is read (model and token counts), and never an entry's
     * with sensitive values: they are in the clear here. */
    if (e->nsensitive == 0 && strcmp(e->kind, "llm") == 0)
        ev.data_json = e->data_json;
    ev.end_ns = wall_ns();
    if (cur.active) {
        if (!cur.have_trace) {
            fresh_trace(&cur.tr);
            cur.have_trace = 1;
        }
        ev.trace = cur.tr;
        ev.has_parent = cur.has_parent;
        ev.start_ns = cur.start_ns;
        ev.route = cur.route;
    } else {
        fresh_trace(&ev.trace); /* the daemon's own work: expiries, breakers, audit */
        ev.start_ns = ev.end_ns;
    }
    (void)ag_otel_emit(o, &ev);
}

/* Header values named kv:<path>#<field> read from the secret store ("agentgov:otel"
 * in the ledger), into "Name: value" lines. */
struct hdrs {
    struct ag__srv *s;
    char *line[32];
    size_t n;
    int bad;
};

static void add_header(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct hdrs *h = ctx;
    if (h->bad)
        return;
    if (h->n == sizeof h->line / sizeof h->line[0]) {
        h->bad = 1;
        ag__log(AG_LOG_ERROR, "otel", "otel.headers: more than 32 headers");
        return;
    }
    char *val = NULL;
    if (vl > 3 && strncmp(v, "kv:", 3) == 0) {
        const char *hash = memchr(v, '#', vl);
        char path[1024];
        snprintf(path, sizeof path, "%.*s", hash ? (int)(hash - v - 3) : 0, v + 3);
        char *data = NULL;
        if (!hash || !path[0] || hash + 1 == v + vl || !h->s->auth ||
            ag_auth_secret_read_service(h->s->auth, "otel", path, &data) != AG_OK) {
            ag__log(AG_LOG_ERROR, "otel", "otel.headers: %.*s: cannot read %.*s: %s", (int)kl, k,
                    (int)vl, v, h->s->auth ? ag_last_error() : "no secret store (master key)");
            h->bad = 1;
            return;
        }
        char field[256];
        snprintf(field, sizeof field, "%.*s", (int)(v + vl - hash - 1), hash + 1);
        json_t *j = json_loads(data, 0, NULL);
        sodium_memzero(data, strlen(data));
        free(data);
        const char *sv = json_string_value(json_object_get(j, field));
        val = sv && !strpbrk(sv, "\r\n") ? strdup(sv) : NULL;
        json_decref(j);
        if (!val) {
            ag__log(AG_LOG_ERROR, "otel",
                    "otel.headers: %.*s: secret %s has no string field %s on one line", (int)kl, k,
                    path, field);
            h->bad = 1;
            return;
        }
    } else {
        val = strndup(v, vl);
    }
    size_t len = kl + 2 + (val ? strlen(val) : 0) + 1;
    char *line = val ? malloc(len) : NULL;
    if (line)
        snprintf(line, len, "%.*s: %s", (int)kl, k, val);
    if (val) {
        sodium_memzero(val, strlen(val));
        free(val);
    }
    if (!line)
        h->bad = 1;
    else
        h->line[h->n++] = line;
}

static void free_headers(struct hdrs *h)
{
    for (size_t i = 0; i < h->n; i++) {
        sodium_memzero(h->line[i], strlen(h->line[i]));
        free(h->line[i]);
    }
}

void ag__otel_open(struct ag__srv *s)
{
    const struct ag_otel_config *c = &s->cfg.otel;
    if (!c->endpoint[0])
        return;
    if (!s->ledger) {
        ag__log(AG_LOG_ERROR, "otel", "export is off: no ledger to export from");
        return;
    }
    struct hdrs h = {.s = s};
    (void)ag_otel_pairs(c->headers, add_header, &h);
    struct ag_otel_opts oo = {.config = c,
                              .headers = (const char *const *)h.line,
                              .nheaders = h.n,
                              .breaker_cb = ag__srv_on_breaker,
                              .breaker_ctx = s};
    ag_otel *o = NULL;
    if (!h.bad && ag_otel_new(&oo, &o) == AG_OK && ag_otel_start(o) != AG_OK) {
        ag_otel_free(o);
        o = NULL;
    }
    free_headers(&h);
    if (!o) {
        ag__log(AG_LOG_ERROR, "otel", "export is off: %s",
                h.bad ? "a header could not be read" : ag_last_error());
        return;
    }
    s->otel = o;
    ag_ledger_set_observer(s->ledger, on_entry, s);
    ag__log(AG_LOG_INFO, "otel", "exporting %s%s%s of kinds %s to %s (batch %lld, queue %lld)",
            c->traces ? "spans" : "", c->traces && c->logs ? " and " : "",
            c->logs ? "log records" : "", c->kinds, c->endpoint, (long long)c->batch,
            (long long)c->queue);
}

void ag__otel_close(struct ag__srv *s)
{
    if (!s->otel)
        return;
    /* The thread first: its breaker may still ledger (and so feed) while it sends
     * the last batch; once it is gone nothing else appends, and the observer and the
     * handle can go without racing anyone. */
    ag_otel_stop(s->otel);
    if (s->ledger)
        ag_ledger_set_observer(s->ledger, NULL, NULL);
    ag_otel *o = s->otel;
    s->otel = NULL;
    ag_otel_free(o);
}

void ag__otel_metrics(struct ag__srv *s, struct ag_buf *b)
{
    struct ag_otel_stats st;
    ag_otel_stats(s->otel, &st);
    ag__buf_printf(b,
                   "# HELP agentgov_otel_enabled 1 when OpenTelemetry export is on.\n"
                   "# TYPE agentgov_otel_enabled gauge\nagentgov_otel_enabled %d\n"
                   "# HELP agentgov_otel_exported_total Events (spans and log records) the "
                   "collector accepted.\n"
                   "# TYPE agentgov_otel_exported_total counter\n"
                   "agentgov_otel_exported_total %llu\n"
                   "# HELP agentgov_otel_dropped_total Events not exported: the queue was full, "
                   "or their batch failed for good (collector down, breaker open, refused).\n"
                   "# TYPE agentgov_otel_dropped_total counter\n"
                   "agentgov_otel_dropped_total{cause=\"queue_full\"} %llu\n"
                   "agentgov_otel_dropped_total{cause=\"export_failed\"} %llu\n"
                   "# HELP agentgov_otel_requests_total OTLP/HTTP requests made (attempts).\n"
                   "# TYPE agentgov_otel_requests_total counter\n"
                   "agentgov_otel_requests_total{outcome=\"ok\"} %llu\n"
                   "agentgov_otel_requests_total{outcome=\"failed\"} %llu\n"
                   "# HELP agentgov_otel_queue Events waiting for export.\n"
                   "# TYPE agentgov_otel_queue gauge\nagentgov_otel_queue %llu\n",
                   s->otel != NULL, (unsigned long long)st.exported,
                   (unsigned long long)st.dropped_full, (unsigned long long)st.dropped_failed,
                   (unsigned long long)(st.requests - st.failed_requests),
                   (unsigned long long)st.failed_requests, (unsigned long long)st.waiting);
}
