#include "server/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/time.h"

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

/* Text values are quoted when they hold spaces or quotes, so a line stays parseable
 * as key=value pairs. */
static void text_kv(char *buf, size_t cap, size_t *len, const char *key, const char *val)
{
    if (*len >= cap)
        return;
    int quote = val[0] == '\0' || strpbrk(val, " \"=") != NULL;
    int n;
    if (!quote) {
        n = snprintf(buf + *len, cap - *len, " %s=%s", key, val);
    } else {
        n = snprintf(buf + *len, cap - *len, " %s=\"", key);
        if (n > 0)
            *len += (size_t)n;
        for (const char *p = val; *p && *len + 3 < cap; p++) {
            if (*p == '"' || *p == '\\')
                buf[(*len)++] = '\\';
            buf[(*len)++] = (*p == '\n') ? ' ' : *p;
        }
        n = snprintf(buf + *len, cap - *len, "\"");
    }
    if (n > 0)
        *len += (size_t)n;
    if (*len >= cap)
        *len = cap - 1;
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
        emit_json(json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[level], "event",
                            event, "msg", msg));
        return;
    }
    char line[1400];
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
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s}", "ts", ts, "level",
                              "info", "event", "request", "method", r->method, "path", r->path,
                              "route", r->route, "status", r->status, "duration_us",
                              (json_int_t)r->duration_us, "remote", r->remote);
        if (o && r->agent)
            json_object_set_new(o, "agent", json_string(r->agent));
        if (o && r->error)
            json_object_set_new(o, "error", json_string(r->error));
        if (o)
            emit_json(o);
        return;
    }
    char line[1400], num[32];
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
