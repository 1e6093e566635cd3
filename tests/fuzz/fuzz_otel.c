/* libFuzzer target: the OpenTelemetry exporter's parsers and encoder. Each input is
 * read as a traceparent header (a valid one must print back as itself: version 00 is
 * exactly 55 characters), as a "k=v,k=v" list, and as the text of every string field of
 * an event, whose spans and log records must then be JSON that jansson reads back with
 * the text intact (or, for text that is not UTF-8, the documented placeholder). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/otel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pair(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    const char *list = ctx;
    /* Keys and values point into the list, keys never empty. */
    if (kl == 0 || k < list || v < list || k + kl > list + strlen(list) ||
        v + vl > list + strlen(list))
        abort();
}

static void traceparent(const char *s)
{
    struct ag_otel_trace t;
    if (!ag_otel_traceparent_parse(s, &t))
        return;
    static const char hx[] = "0123456789abcdef";
    char back[56];
    size_t n = 0;
    back[n++] = s[0];
    back[n++] = s[1];
    back[n++] = '-';
    for (int i = 0; i < 16; i++) {
        back[n++] = hx[t.trace_id[i] >> 4];
        back[n++] = hx[t.trace_id[i] & 15];
    }
    back[n++] = '-';
    for (int i = 0; i < 8; i++) {
        back[n++] = hx[t.span_id[i] >> 4];
        back[n++] = hx[t.span_id[i] & 15];
    }
    back[n++] = '-';
    back[n++] = hx[t.flags >> 4];
    back[n++] = hx[t.flags & 15];
    if (memcmp(back, s, 55) != 0)
        abort();
}

static const char *reason_of(json_t *attrs)
{
    size_t i;
    json_t *kv;
    json_array_foreach(attrs, i, kv)
    {
        const char *k = json_string_value(json_object_get(kv, "key"));
        if (k && strcmp(k, "agentgov.reason") == 0)
            return json_string_value(json_object_get(json_object_get(kv, "value"), "stringValue"));
    }
    return NULL;
}

static void encode(const char *s)
{
    struct ag_otel_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.resource_attributes, sizeof c.resource_attributes, "%.2000s", s);
    struct ag_otel_event e = {.start_ns = 1,
                              .end_ns = 2,
                              .seq = 7,
                              .kind = "llm",
                              .agent_id = s,
                              .task_id = s,
                              .phase = s,
                              .action = s,
                              .resource = s,
                              .decision = s,
                              .reason = s,
                              .error_type = s,
                              .error_message = s,
                              .route = s,
                              .data_json = s,
                              .tier = 1,
                              .confidence = -1,
                              .success = 0};
    const struct ag_otel_event *ev[1] = {&e};
    const uint8_t ids[1][8] = {{1, 2, 3, 4, 5, 6, 7, 8}};
    for (int logs = 0; logs < 2; logs++) {
        char *out = NULL;
        if ((logs ? ag_otel_encode_logs(&c, ev, ids, 1, &out)
                  : ag_otel_encode_traces(&c, ev, ids, 1, &out)) != AG_OK)
            abort();
        json_t *doc = json_loads(out, 0, NULL);
        if (!doc)
            abort(); /* not JSON */
        json_t *top =
            json_array_get(json_object_get(doc, logs ? "resourceLogs" : "resourceSpans"), 0);
        json_t *scope = json_array_get(json_object_get(top, logs ? "scopeLogs" : "scopeSpans"), 0);
        json_t *item = json_array_get(json_object_get(scope, logs ? "logRecords" : "spans"), 0);
        const char *r = reason_of(json_object_get(item, "attributes"));
        /* jansson refuses text that is not UTF-8 too: what it accepts round-trips. */
        json_t *probe = json_string(s);
        if (!r || (probe ? strcmp(r, s) != 0 : strcmp(r, "(not UTF-8)") != 0))
            abort();
        json_decref(probe);
        json_decref(doc);
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    traceparent(s);
    (void)ag_otel_pairs(s, pair, s);
    if (strlen(s) < 4096) /* the encoder's own cut (the queue's) is not under test here */
        encode(s);
    free(s);
    return 0;
}
