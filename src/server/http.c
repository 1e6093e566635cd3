/* Request and reply helpers shared by every handler (declared in server.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/safestr.h"
#include "server/server.h"

void ag__reply_raw(struct ag__req *r, int status, const char *content_type, char *body, size_t len)
{
    if (r->status) {
        free(body);
        return;
    }
    r->status = status;
    r->content_type = content_type;
    r->reply = body;
    r->reply_len = len;
}

void ag__reply_json(struct ag__req *r, int status, json_t *body)
{
    if (r->status || !body) {
        json_decref(body);
        if (!r->status)
            ag__reply_error(r, 500, "out of memory");
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        ag__reply_error(r, 500, "out of memory");
        return;
    }
    size_t len = strlen(text);
    char *nl = realloc(text, len + 2); /* Vault ends bodies with a newline; curl users like it */
    if (nl) {
        text = nl;
        text[len++] = '\n';
        text[len] = '\0';
    }
    ag__reply_raw(r, status, "application/json", text, len);
}

/* Vault's error shape: {"errors": ["message"]}. The message often quotes the request
 * (an id from its path), so it is made safe first (bytes that are not UTF-8 become %XX):
 * jansson refuses a string that is not UTF-8, and the client would get "out of memory"
 * instead of its refusal. */
void ag__reply_error(struct ag__req *r, int status, const char *fmt, ...)
{
    if (r->status)
        return;
    char msg[sizeof r->error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ag__utf8_safe_copy(r->error, sizeof r->error, msg);
    json_t *body = json_pack("{s:[s]}", "errors", r->error);
    if (!body) {
        static const char oom[] = "{\"errors\":[\"out of memory\"]}\n";
        r->status = status;
        r->content_type = "application/json";
        r->reply = strdup(oom);
        r->reply_len = r->reply ? strlen(oom) : 0;
        return;
    }
    ag__reply_json(r, status, body);
}

int ag__json_depth(const char *text, size_t len, int limit)
{
    int depth = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return max;
            }
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return max;
}

json_t *ag__req_json(struct ag__req *r)
{
    if (r->json)
        return r->json;
    const char *text = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
        i++;
    if (i == len) {
        r->json = json_object();
        if (!r->json)
            ag__reply_error(r, 500, "out of memory");
        return r->json;
    }
    int limit = (int)r->srv->cfg.max_json_depth;
    if (ag__json_depth(text, len, limit) > limit) {
        ag__reply_error(r, 400, "request body nests deeper than %d levels", limit);
        return NULL;
    }
    json_error_t err;
    r->json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!r->json) {
        ag__reply_error(r, 400, "malformed JSON in request body at line %d column %d: %s", err.line,
                        err.column, err.text);
        return NULL;
    }
    if (!json_is_object(r->json)) {
        ag__reply_error(r, 400, "request body must be a JSON object");
        return NULL;
    }
    return r->json;
}

const char *ag__req_header(struct ag__req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *ag__req_query(struct ag__req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *ag__req_token(struct ag__req *r)
{
    const char *t = ag__req_header(r, "X-Vault-Token");
    if (t && *t)
        return t;
    const char *a = ag__req_header(r, "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7;
        while (*a == ' ')
            a++;
        return *a ? a : NULL;
    }
    return NULL;
}

ag_err ag__parse_listen(const char *addr, int *is_unix, char *host, size_t hostlen, char *port,
                        size_t portlen)
{
    *is_unix = 0;
    if (strncmp(addr, "unix:", 5) == 0) {
        if (addr[5] == '\0')
            return ag__fail(AG_EINVAL, "listen: 'unix:' needs a socket path");
        *is_unix = 1;
        return AG_OK;
    }
    const char *colon;
    const char *h = addr;
    size_t hl;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return ag__fail(AG_EINVAL, "listen: '%s' is not [IPV6]:PORT", addr);
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return ag__fail(AG_EINVAL, "listen: '%s' has no port (HOST:PORT or unix:PATH)", addr);
        hl = (size_t)(colon - addr);
    }
    const char *p = colon + 1;
    char *end;
    long pn = strtol(p, &end, 10);
    if (*p == '\0' || *end || pn < 0 || pn > 65535)
        return ag__fail(AG_EINVAL, "listen: bad port '%s' in '%s'", p, addr);
    if (hl == 0 || hl >= hostlen || strlen(p) >= portlen)
        return ag__fail(AG_EINVAL, "listen: bad host in '%s'", addr);
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, portlen, "%s", p);
    return AG_OK;
}
