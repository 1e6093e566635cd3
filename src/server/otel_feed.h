/* The daemon's feed of the OpenTelemetry exporter (agentgov/otel.h): every entry the
 * daemon commits to its ledger, of a kind otel.kinds names, becomes one span and one
 * log record, in the trace of the API request that caused it. Ownership: the exporter
 * hangs off struct ag__srv (s->otel); ag__otel_open makes it, ag__otel_close frees it. */
#ifndef AG_SERVER_OTEL_FEED_H
#define AG_SERVER_OTEL_FEED_H

#include "core/buf.h"

struct ag__srv;
struct ag__req;

/* With otel.endpoint set: resolves kv: header values, starts the exporter and watches
 * the ledger. A failure is logged and leaves export off (decisions never depend on it). */
void ag__otel_open(struct ag__srv *s);
/* Stops watching the ledger and frees the exporter (after one last send). Call it once
 * nothing else appends to the ledger, before the ledger closes. */
void ag__otel_close(struct ag__srv *s);
/* Around a handler: the request's trace context (its traceparent header, or a fresh
 * trace made on first use) for the entries it commits on this thread. */
void ag__otel_begin(struct ag__req *r);
void ag__otel_end(struct ag__req *r);
/* Prometheus lines: events exported, dropped (queue full, send failed), waiting. */
void ag__otel_metrics(struct ag__srv *s, struct ag_buf *out);

#endif
