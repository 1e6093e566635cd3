#include "server/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/safestr.h"
#include "core/time.h"

/* A text line's size: a longer one is cut (each value made safe fits in it). */
#define LINE_CAP 1400

static enum ag__log_format log_format = AG_LOG_TEXT;
static enum ag__log_level log_min = AG_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ag__log_setup(enum ag__log_format fmt, enum ag__log_level min_level)
{
    log_format = fmt;
    log_min = min_level;
}

int ag__log_format_parse(const char *s)
{
    if (strcmp(s, "text") == 0)
        return AG_LOG_TEXT;
    if (strcmp(s, "json") == 0)
        return AG_LOG_JSON;
    return -1;
}

int ag__log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int ag__log_enabled(enum ag__log_level level)
{
    return level >= log_min;
}

/* One write(2) per line so that lines from concurrent threads never interleave. */
static void emit(const char *line, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, line, len);
        if (n <= 0)
            return;
        line += n;
        len -= (size_t)n;
    }
}

/* A value is first made safe (control characters and bytes that are not UTF-8 become
 * %XX, as in the ledger), so that a newline a client put in a path, decoded from %0A,
 * cannot end the line and forge the next one: one event is always one line. It is
 * then quoted when it holds a space, a quote, a backslash or "=", with the quote and the
 * backslash escaped, so that the line stays parseable as key=value pairs. */
static void text_kv(char *buf, size_t cap, size_t *len, const char *key, const char *val)
{
    if (*len >= cap)
        return;
    char safe[LINE_CAP];
    ag__utf8_safe_copy(safe, sizeof safe, val);
    int quote = safe[0] == '\0' || strpbrk(safe, " \"=\\") != NULL;
    int n;
    if (!quote) {
        n = snprintf(buf + *len, cap - *len, " %s=%s", key, safe);
    } else {
        n = snprintf(buf + *len, cap - *len, " %s=\"", key);
        if (n > 0)
            *len += (size_t)n;
        for (const char *p = safe; *p && *len + 3 < cap; p++) {
            if (*p == '"' || *p == '\\')
                buf[(*len)++] = '\\';
            buf[(*len)++] = *p;
        }
        n = snprintf(buf + *len, cap - *len, "\"");
    }
    if (n > 0)
        *len += (size_t)n;
    if (*len >= cap)
        *len = cap - 1;
}

/* A JSON string of s made safe as in text_kv: jansson refuses a string that is not
 * UTF-8, and the whole line would be lost with it. NULL only when out of memory. */
static json_t *safe_string(const char *s)
{
    size_t cap = strlen(s) * 3 + 1;
    char *safe = malloc(cap);
    if (!safe)
        return NULL;
    ag__utf8_safe_copy(safe, cap, s);
    json_t *j = json_string(safe);
    free(safe);
    return j;
}

static void emit_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return;
    size_t n = strlen(s);
    s[n] = '\n'; /* overwrites the NUL; length is known */
    emit(s, n + 1);
    free(s);
}

void ag__log(enum ag__log_level level, const char *event, const char *fmt, ...)
{
    if (!ag__log_enabled(level))
        return;
    char msg[1024], ts[AG_RFC3339_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ag__rfc3339(ag__wall_ms(), ts);
    if (log_format == AG_LOG_JSON) {
        emit_json(json_pack("{s:s, s:s, s:s, s:o}", "ts", ts, "level", level_names[level], "event",
                            event, "msg", safe_string(msg)));
        return;
    }
    char line[LINE_CAP];
    size_t len = (size_t)snprintf(line, sizeof line, "%s %s %s", ts, level_names[level], event);
    text_kv(line, sizeof line - 1, &len, "msg", msg);
    line[len++] = '\n';
    emit(line, len);
}

void ag__log_request(const struct ag__log_request *r)
{
    if (!ag__log_enabled(AG_LOG_INFO))
        return;
    char ts[AG_RFC3339_LEN];
    ag__rfc3339(ag__wall_ms(), ts);
    if (log_format == AG_LOG_JSON) {
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:i, s:I, s:o}", "ts", ts, "level", "info",
                      "event", "request", "method", safe_string(r->method), "path",
                      safe_string(r->path), "route", safe_string(r->route), "status", r->status,
                      "duration_us", (json_int_t)r->duration_us, "remote", safe_string(r->remote));
        if (o && r->agent)
            json_object_set_new(o, "agent", safe_string(r->agent));
        if (o && r->error)
            json_object_set_new(o, "error", safe_string(r->error));
        if (o)
            emit_json(o);
        return;
    }
    char line[LINE_CAP], num[32];
    size_t len = (size_t)snprintf(line, sizeof line, "%s info request", ts);
    size_t cap = sizeof line - 1;
    text_kv(line, cap, &len, "method", r->method);
    text_kv(line, cap, &len, "path", r->path);
    text_kv(line, cap, &len, "route", r->route);
    snprintf(num, sizeof num, "%d", r->status);
    text_kv(line, cap, &len, "status", num);
    snprintf(num, sizeof num, "%lld", (long long)r->duration_us);
    text_kv(line, cap, &len, "duration_us", num);
    text_kv(line, cap, &len, "remote", r->remote);
    if (r->agent)
        text_kv(line, cap, &len, "agent", r->agent);
    if (r->error)
        text_kv(line, cap, &len, "error", r->error);
    line[len++] = '\n';
    emit(line, len);
}
