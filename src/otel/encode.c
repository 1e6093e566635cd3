/* The OTLP JSON encoding of governance events (the protobuf JSON mapping of
 * opentelemetry-proto's ExportTraceServiceRequest and ExportLogsServiceRequest):
 * lowerCamelCase field names, trace and span ids as lowercase hex (not base64, as
 * OTLP/JSON requires), 64-bit integers (timestamps, intValue) as decimal strings, enums
 * as numbers. Written by hand into a buffer: the shape is fixed and the exporter thread
 * encodes every batch, so a DOM would only cost allocations. */
#include "agentgov/otel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentgov/version.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jcs.h"

/* OTLP enums (opentelemetry-proto trace.proto and logs.proto). */
#define SPAN_KIND_INTERNAL    1
#define STATUS_CODE_UNSET     0
#define STATUS_CODE_ERROR     2
#define SEVERITY_NUMBER_INFO  9
#define SEVERITY_NUMBER_WARN  13
#define SEVERITY_NUMBER_ERROR 17

static void put_hex(struct ag_buf *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    ag__buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        ag__buf_putc(b, hx[p[i] >> 4]);
        ag__buf_putc(b, hx[p[i] & 15]);
    }
    ag__buf_putc(b, '"');
}

/* A JSON string; text that is not UTF-8 (the ledger refuses it, so only a caller's
 * mistake) is replaced rather than sent malformed. Most values (ids, actions, reasons)
 * are plain printable ASCII: those are copied as they are, the rest escaped by the
 * JCS writer (the exporter encodes every event twice, so this path is its hot one). */
static void put_str(struct ag_buf *b, const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p >= 0x80 || *p == '"' || *p == '\\')
            break;
    if (s[n] == '\0') {
        ag__buf_putc(b, '"');
        ag__buf_append(b, s, n);
        ag__buf_putc(b, '"');
        return;
    }
    if (ag__jcs_string(b, s, strlen(s)) != AG_OK) {
        ag_clear_error();
        ag__buf_puts(b, "\"(not UTF-8)\"");
    }
}

/* Attribute writers: each appends ",{...}" or "{...}" after the first. */
struct attrs {
    struct ag_buf *b;
    int n;
};

static void attr_open(struct attrs *a, const char *key)
{
    ag__buf_puts(a->b, a->n++ ? ",{\"key\":" : "{\"key\":");
    put_str(a->b, key);
    ag__buf_puts(a->b, ",\"value\":");
}

/* Decimal digits of v, without printf (called for every integer of every event). */
static void put_int(struct ag_buf *b, int64_t v)
{
    char d[24];
    size_t i = sizeof d;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--i] = '-';
    ag__buf_append(b, d + i, sizeof d - i);
}

static void attr_str(struct attrs *a, const char *key, const char *v)
{
    if (v == NULL)
        return;
    attr_open(a, key);
    ag__buf_puts(a->b, "{\"stringValue\":");
    put_str(a->b, v);
    ag__buf_puts(a->b, "}}");
}

static void attr_int(struct attrs *a, const char *key, int64_t v)
{
    attr_open(a, key);
    ag__buf_puts(a->b, "{\"intValue\":\"");
    put_int(a->b, v);
    ag__buf_puts(a->b, "\"}}");
}

static void attr_bool(struct attrs *a, const char *key, int v)
{
    attr_open(a, key);
    ag__buf_puts(a->b, v ? "{\"boolValue\":true}}" : "{\"boolValue\":false}}");
}

/* The model and token counts of an LLM call, from its ledger data, as the GenAI
 * semantic conventions name them. */
static void llm_attrs(struct attrs *a, const char *data_json)
{
    json_t *d = data_json ? json_loads(data_json, 0, NULL) : NULL;
    if (!json_is_object(d)) {
        json_decref(d);
        return;
    }
    attr_str(a, "gen_ai.request.model", json_string_value(json_object_get(d, "model")));
    static const char *const ints[][2] = {{"prompt_tokens", "gen_ai.usage.input_tokens"},
                                          {"completion_tokens", "gen_ai.usage.output_tokens"},
                                          {"cost_microusd", "agentgov.llm.cost_microusd"}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        json_t *v = json_object_get(d, ints[i][0]);
        if (json_is_integer(v))
            attr_int(a, ints[i][1], (int64_t)json_integer_value(v));
    }
    json_decref(d);
}

static void event_attrs(struct ag_buf *b, const struct ag_otel_event *e)
{
    struct attrs a = {b, 0};
    ag__buf_puts(b, "\"attributes\":[");
    attr_str(&a, "agentgov.ledger.kind", e->kind);
    if (e->seq >= 0)
        attr_int(&a, "agentgov.ledger.seq", e->seq);
    attr_str(&a, "agentgov.agent.id", e->agent_id);
    attr_str(&a, "agentgov.agent.version", e->agent_version);
    if (e->tier >= 0)
        attr_int(&a, "agentgov.agent.tier", e->tier);
    attr_str(&a, "agentgov.agent.phase", e->phase);
    attr_str(&a, "agentgov.task.id", e->task_id);
    attr_str(&a, "agentgov.action", e->action);
    attr_str(&a, "agentgov.resource", e->resource);
    attr_str(&a, "agentgov.decision", e->decision);
    attr_str(&a, "agentgov.reason", e->reason);
    if (e->confidence >= 0)
        attr_int(&a, "agentgov.confidence", e->confidence);
    if (e->success >= 0)
        attr_bool(&a, "agentgov.success", e->success);
    attr_str(&a, "error.type", e->error_type);
    attr_str(&a, "agentgov.error.message", e->error_message);
    attr_str(&a, "agentgov.api.route", e->route);
    if (e->kind && strcmp(e->kind, "llm") == 0)
        llm_attrs(&a, e->data_json);
    ag__buf_putc(b, ']');
}

/* "k=v,k=v" (OTEL_RESOURCE_ATTRIBUTES' form): calls fn for each pair. Returns 0 on a
 * malformed list (an empty key, a pair without '='). */
int ag_otel_pairs(const char *list,
                  void (*fn)(void *ctx, const char *k, size_t kl, const char *v, size_t vl),
                  void *ctx)
{
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *eq = p;
        while (eq < end && *eq != '=')
            eq++;
        if (eq == end)
            eq = NULL;
        const char *ke = eq;
        while (ke && ke > p && (ke[-1] == ' ' || ke[-1] == '\t'))
            ke--;
        if (p < end) {
            if (!eq || ke == p)
                return 0;
            const char *v = eq + 1, *ve = end;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (fn)
                fn(ctx, p, (size_t)(ke - p), v, (size_t)(ve - v));
        }
        p = *end ? end + 1 : end;
    }
    return 1;
}

static void resource_pair(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    char key[256], val[1024];
    snprintf(key, sizeof key, "%.*s", (int)kl, k);
    snprintf(val, sizeof val, "%.*s", (int)vl, v);
    if (strcmp(key, "service.name") != 0) /* otel.service_name has the last word */
        attr_str(ctx, key, val);
}

static void resource(struct ag_buf *b, const struct ag_otel_config *c)
{
    struct attrs a = {b, 0};
    ag__buf_puts(b, "{\"resource\":{\"attributes\":[");
    attr_str(&a, "service.name", c->service_name[0] ? c->service_name : "agentgov");
    attr_str(&a, "service.version", AG_VERSION);
    attr_str(&a, "telemetry.sdk.name", "agentgov");
    attr_str(&a, "telemetry.sdk.language", "c");
    attr_str(&a, "telemetry.sdk.version", AG_VERSION);
    (void)ag_otel_pairs(c->resource_attributes, resource_pair, &a);
    ag__buf_puts(b, "]},");
}

static void scope(struct ag_buf *b)
{
    ag__buf_puts(b, "{\"scope\":{\"name\":\"agentgov\",\"version\":\"" AG_VERSION "\"},");
}

/* "agentgov.decision file.write" or "agentgov.lifecycle". */
static void span_name(struct ag_buf *b, const struct ag_otel_event *e)
{
    char name[320];
    snprintf(name, sizeof name, "agentgov.%s%s%s", e->kind ? e->kind : "event",
             e->action ? " " : "", e->action ? e->action : "");
    put_str(b, name);
}

static int failed(const struct ag_otel_event *e)
{
    return e->success == 0 || e->error_type != NULL;
}

static void span(struct ag_buf *b, const struct ag_otel_event *e, const uint8_t id[8])
{
    ag__buf_puts(b, "{\"traceId\":");
    put_hex(b, e->trace.trace_id, 16);
    ag__buf_puts(b, ",\"spanId\":");
    put_hex(b, id, 8);
    if (e->has_parent) {
        ag__buf_puts(b, ",\"parentSpanId\":");
        put_hex(b, e->trace.span_id, 8);
    }
    ag__buf_puts(b, ",\"name\":");
    span_name(b, e);
    int64_t end = e->end_ns > e->start_ns ? e->end_ns : e->start_ns;
    ag__buf_printf(b, ",\"kind\":%d,\"startTimeUnixNano\":\"", SPAN_KIND_INTERNAL);
    put_int(b, e->start_ns);
    ag__buf_puts(b, "\",\"endTimeUnixNano\":\"");
    put_int(b, end);
    ag__buf_puts(b, "\",");
    event_attrs(b, e);
    if (failed(e)) {
        ag__buf_printf(b, ",\"status\":{\"code\":%d,\"message\":", STATUS_CODE_ERROR);
        put_str(b, e->error_message ? e->error_message : e->error_type ? e->error_type : "failed");
        ag__buf_putc(b, '}');
    } else {
        ag__buf_printf(b, ",\"status\":{\"code\":%d}", STATUS_CODE_UNSET);
    }
    ag__buf_putc(b, '}');
}

ag_err ag_otel_encode_traces(const struct ag_otel_config *c, const struct ag_otel_event *const *ev,
                             const uint8_t (*ids)[8], size_t n, char **out)
{
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_puts(&b, "{\"resourceSpans\":[");
    resource(&b, c);
    ag__buf_puts(&b, "\"scopeSpans\":[");
    scope(&b);
    ag__buf_puts(&b, "\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ag__buf_putc(&b, ',');
        span(&b, ev[i], ids[i]);
    }
    ag__buf_puts(&b, "]}]}]}");
    if (ag__buf_status(&b) != AG_OK) {
        ag__buf_free(&b);
        return ag__fail(AG_ENOMEM, "otel: out of memory encoding %zu spans", n);
    }
    *out = ag__buf_take(&b);
    return AG_OK;
}

/* The log line a person reads: "deny file.write on /etc/passwd: policy_deny". */
static void log_body(struct ag_buf *b, const struct ag_otel_event *e)
{
    char text[1024];
    snprintf(text, sizeof text, "%s%s%s%s%s%s%s%s%s%s%s", e->kind ? e->kind : "event",
             e->decision ? " " : "", e->decision ? e->decision : "", e->action ? " " : "",
             e->action ? e->action : "", e->resource ? " on " : "", e->resource ? e->resource : "",
             e->agent_id ? " by " : "", e->agent_id ? e->agent_id : "", e->reason ? ": " : "",
             e->reason ? e->reason : "");
    ag__buf_puts(b, "\"body\":{\"stringValue\":");
    put_str(b, text);
    ag__buf_putc(b, '}');
}

static void log_record(struct ag_buf *b, const struct ag_otel_event *e, const uint8_t id[8])
{
    int sev = failed(e)                                          ? SEVERITY_NUMBER_ERROR
              : e->decision && strcmp(e->decision, "allow") != 0 ? SEVERITY_NUMBER_WARN
                                                                 : SEVERITY_NUMBER_INFO;
    const char *sevtext = sev == SEVERITY_NUMBER_ERROR  ? "ERROR"
                          : sev == SEVERITY_NUMBER_WARN ? "WARN"
                                                        : "INFO";
    int64_t t = e->end_ns > e->start_ns ? e->end_ns : e->start_ns;
    ag__buf_puts(b, "{\"timeUnixNano\":\"");
    put_int(b, t);
    ag__buf_puts(b, "\",\"observedTimeUnixNano\":\"");
    put_int(b, t);
    ag__buf_printf(b, "\",\"severityNumber\":%d,\"severityText\":\"%s\",", sev, sevtext);
    log_body(b, e);
    ag__buf_putc(b, ',');
    event_attrs(b, e);
    ag__buf_puts(b, ",\"traceId\":");
    put_hex(b, e->trace.trace_id, 16);
    ag__buf_puts(b, ",\"spanId\":");
    put_hex(b, id, 8);
    ag__buf_putc(b, '}');
}

ag_err ag_otel_encode_logs(const struct ag_otel_config *c, const struct ag_otel_event *const *ev,
                           const uint8_t (*ids)[8], size_t n, char **out)
{
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_puts(&b, "{\"resourceLogs\":[");
    resource(&b, c);
    ag__buf_puts(&b, "\"scopeLogs\":[");
    scope(&b);
    ag__buf_puts(&b, "\"logRecords\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ag__buf_putc(&b, ',');
        log_record(&b, ev[i], ids[i]);
    }
    ag__buf_puts(&b, "]}]}]}");
    if (ag__buf_status(&b) != AG_OK) {
        ag__buf_free(&b);
        return ag__fail(AG_ENOMEM, "otel: out of memory encoding %zu log records", n);
    }
    *out = ag__buf_take(&b);
    return AG_OK;
}

/* ---- traceparent ------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* uppercase is invalid in traceparent */
}

static int hex_field(const char *s, uint8_t *out, size_t n)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
        nonzero |= out[i];
    }
    return nonzero != 0;
}

int ag_otel_traceparent_parse(const char *v, struct ag_otel_trace *out)
{
    if (v == NULL)
        return 0;
    size_t len = strlen(v);
    uint8_t ver;
    if (len < 55 || hex_field(v, &ver, 1) < 0 || ver == 0xff)
        return 0;
    if (ver == 0 ? len != 55 : (len > 55 && v[55] != '-'))
        return 0;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-')
        return 0;
    struct ag_otel_trace t;
    if (hex_field(v + 3, t.trace_id, 16) != 1 || hex_field(v + 36, t.span_id, 8) != 1 ||
        hex_field(v + 53, &t.flags, 1) < 0)
        return 0;
    *out = t;
    return 1;
}
