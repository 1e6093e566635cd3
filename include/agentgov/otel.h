/* OpenTelemetry export (OTLP/HTTP with the JSON encoding): governance events as spans
 * (POST <endpoint>/v1/traces) and log records (POST <endpoint>/v1/logs), sent by a
 * background thread in batches. Ownership: ag_otel is an opaque handle
 * (ag_otel_new/ag_otel_free); ag_otel_emit copies the event it is given, so the caller
 * keeps its strings; struct ag_otel_config is caller-owned and holds its own copies.
 *
 * The exporter never holds up the caller: ag_otel_emit puts the event in a bounded
 * lock-free queue and returns at once; a full queue drops the event and counts it. The
 * thread sends what it holds when a batch is full or the interval has passed, retries
 * a failed send with backoff, and sits behind a circuit breaker ("otel"): while the
 * collector is down, batches are dropped (and counted) instead of piling up.
 *
 * docs/observability.md names every attribute, setting and counter. */
#ifndef AGENTGOV_OTEL_H
#define AGENTGOV_OTEL_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/breaker.h"
#include "agentgov/config.h"
#include "agentgov/err.h"

typedef struct ag_otel ag_otel;

/* ---- W3C trace context -------------------------------------------------------------- */

struct ag_otel_trace {
    uint8_t trace_id[16];
    uint8_t span_id[8]; /* the caller's span: the parent of ours */
    uint8_t flags;      /* trace-flags (bit 0: sampled) */
};

/* Parses a W3C `traceparent` header value ("00-<32 hex>-<16 hex>-<2 hex>"). Returns 1
 * and fills out when it is valid; 0 when it is not, which the caller treats as absent
 * (W3C Trace Context: an invalid header is ignored and a new trace started). Rules:
 * lowercase hex only, version ff refused, version 00 exactly 55 characters, a later
 * version at least 55 with '-' after the flags, all-zero trace or parent id refused. */
int ag_otel_traceparent_parse(const char *value, struct ag_otel_trace *out);

/* Calls fn (may be NULL: only checks) for each pair of a "k=v,k=v" list (the form of
 * otel.headers and otel.resource_attributes), keys and values trimmed of blanks and
 * passed as pointers into list with their lengths. Returns 0 for a malformed list (a
 * pair without '=' or with an empty key), 1 otherwise. */
int ag_otel_pairs(const char *list,
                  void (*fn)(void *ctx, const char *k, size_t kl, const char *v, size_t vl),
                  void *ctx);

/* ---- settings ------------------------------------------------------------------------ */

#define AG_OTEL_URL_MAX 2048

struct ag_otel_config {
    char endpoint[AG_OTEL_URL_MAX]; /* base URL; "" = export off */
    char service_name[256];
    char resource_attributes[2048]; /* "k=v,k=v" added to the resource */
    char headers[4096];             /* "Name=value,Name=kv:path#field" */
    char kinds[512];                /* ledger kinds exported, comma-separated */
    int traces, logs;               /* which signals (otel.signals) */
    int64_t batch;                  /* events per request */
    int64_t queue;                  /* events held at most */
    int64_t interval_ms;            /* send at least this often when events wait */
    int64_t timeout_ms;             /* one HTTP request */
    int64_t retries;                /* extra attempts of a failed batch */
    int64_t backoff_ms, backoff_max_ms;
    struct ag_breaker_config breaker; /* breaker.otel.* */
};

/* Reads otel.* and breaker.otel.* (copies: cfg may be freed afterwards). */
void ag_otel_config_from(const ag_config *cfg, struct ag_otel_config *out);
/* Checks what the settings table cannot: the endpoint is an http(s) URL, the headers,
 * resource attributes and kinds parse. AG_EINVAL names the key and what is wrong. */
AG_MUST_USE ag_err ag_otel_config_check(const struct ag_otel_config *c);

/* ---- events --------------------------------------------------------------------------- */

/* One governance event: a ledger entry and the request it came from. Strings may be
 * NULL; integers are -1 when absent. */
struct ag_otel_event {
    int64_t start_ns, end_ns; /* wall clock, ns since the epoch */
    int64_t seq;              /* ledger seq, or -1 */
    struct ag_otel_trace trace;
    int has_parent; /* trace.span_id is a caller's span (a traceparent was given) */
    const char *kind, *agent_id, *agent_version, *task_id, *phase, *action, *resource;
    const char *decision, *reason, *error_type, *error_message;
    const char *route;     /* API route that caused it ("agent_actions"), or NULL */
    const char *data_json; /* the entry's data, read only for kind llm (model, tokens) */
    int tier, confidence, success;
};

/* ---- the exporter --------------------------------------------------------------------- */

struct ag_otel_opts {
    const struct ag_otel_config *config; /* copied; endpoint must be set */
    /* Extra headers with secrets already resolved ("Name: value" lines), or NULL for
     * config->headers taken as literal values. */
    const char *const *headers;
    size_t nheaders;
    ag_breaker_change_cb breaker_cb; /* told of the breaker's changes (may be NULL) */
    void *breaker_ctx;
};

AG_MUST_USE ag_err ag_otel_new(const struct ag_otel_opts *o, ag_otel **out);
/* Starts the export thread. */
AG_MUST_USE ag_err ag_otel_start(ag_otel *o);
/* Stops the thread after one last attempt to send what is queued (bounded by the
 * request timeout); events emitted afterwards stay queued until ag_otel_free. Accepts
 * NULL and a stopped exporter. */
void ag_otel_stop(ag_otel *o);
/* Stops (as ag_otel_stop), drops and counts what is left, and frees. Accepts NULL. */
void ag_otel_free(ag_otel *o);

/* 1 when events of this ledger kind are exported (otel.kinds). */
int ag_otel_wants(const ag_otel *o, const char *kind);
/* Queues a copy of ev without waiting. 1 when queued, 0 when dropped (queue full or
 * out of memory; counted in the stats). */
int ag_otel_emit(ag_otel *o, const struct ag_otel_event *ev);

struct ag_otel_stats {
    uint64_t queued;         /* events accepted */
    uint64_t dropped_full;   /* events dropped because the queue was full */
    uint64_t dropped_failed; /* events dropped after a send failed for good */
    uint64_t exported;       /* events whose batch the collector accepted */
    uint64_t requests;       /* HTTP requests made (attempts) */
    uint64_t failed_requests;
    uint64_t waiting; /* events in the queue now */
};
void ag_otel_stats(ag_otel *o, struct ag_otel_stats *out);

/* ---- encoding (exposed for tests and the bench) ---------------------------------------- */

/* Writes the OTLP JSON body of /v1/traces (ids[i] is event i's span id, 8 bytes) or
 * /v1/logs for n events, with the resource of config. A NUL-terminated malloc'd string
 * in *out. */
AG_MUST_USE ag_err ag_otel_encode_traces(const struct ag_otel_config *c,
                                         const struct ag_otel_event *const *ev,
                                         const uint8_t (*ids)[8], size_t n, char **out);
AG_MUST_USE ag_err ag_otel_encode_logs(const struct ag_otel_config *c,
                                       const struct ag_otel_event *const *ev,
                                       const uint8_t (*ids)[8], size_t n, char **out);

#endif
