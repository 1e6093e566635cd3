/* One HTTP exchange with the remote MCP server, read as it arrives: libcurl's multi
 * interface lets the caller wait for the response's head (status, Content-Type,
 * Mcp-Session-Id) and then take the body in pieces, so an SSE answer is relayed event by
 * event instead of once the upstream has finished it. One exchange belongs to one
 * thread at a time. */
#include "mcp/upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

struct ag__mcp_up {
    CURLM *m;
    CURL *c;
    struct curl_slist *hd;
    char *body;
    int added;
    int head_done, done;
    CURLcode rc;
    size_t limit;
    long status;
    char ctype[128];
    char session[256];
    struct ag_buf in;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct ag__mcp_up *u = ctx;
    if (u->in.len + size * n > u->limit)
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    ag__buf_append(&u->in, p, size * n);
    return u->in.oom ? 0 : size * n;
}

/* Copies a header's value (trimmed) when the line is that header. */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    size_t vl = n - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl < len) {
        memcpy(out, v, vl);
        out[vl] = '\0';
    }
}

/* The head is whole at its blank line, unless it was an interim (1xx) response. */
static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct ag__mcp_up *u = ctx;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        u->ctype[0] = u->session[0] = '\0';
    } else if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        long st = 0;
        curl_easy_getinfo(u->c, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 200) {
            u->status = st;
            u->head_done = 1;
        }
    }
    header_value(p, len, "content-type", u->ctype, sizeof u->ctype);
    header_value(p, len, "mcp-session-id", u->session, sizeof u->session);
    return len;
}

static void add_header(struct ag__mcp_up *u, const char *name, const char *value)
{
    char line[600];
    if (value == NULL || strpbrk(value, "\r\n") || strlen(value) > 500)
        return;
    snprintf(line, sizeof line, "%s: %s", name, value);
    u->hd = curl_slist_append(u->hd, line);
}

int ag__mcp_up_pump(struct ag__mcp_up *u, int timeout_ms)
{
    if (u->done)
        return 1;
    int running = 0;
    curl_multi_perform(u->m, &running);
    if (running == 0) {
        int left;
        CURLMsg *msg;
        u->rc = CURLE_OK;
        while ((msg = curl_multi_info_read(u->m, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                u->rc = msg->data.result;
        if (!u->head_done)
            curl_easy_getinfo(u->c, CURLINFO_RESPONSE_CODE, &u->status);
        u->done = 1;
        return 1;
    }
    curl_multi_poll(u->m, NULL, 0, timeout_ms, NULL);
    return 0;
}

ag_err ag__mcp_up_open(const struct ag__mcp_up_req *rq, const volatile int *stop,
                       struct ag__mcp_up **out)
{
    *out = NULL;
    struct ag__mcp_up *u = calloc(1, sizeof *u);
    if (u == NULL)
        return AG_ENOMEM;
    ag__buf_init(&u->in);
    u->limit = rq->limit;
    u->m = curl_multi_init();
    u->c = curl_easy_init();
    if (u->m == NULL || u->c == NULL) {
        ag__mcp_up_free(u);
        return ag__fail(AG_ENOMEM, "curl: out of memory");
    }
    int post = strcmp(rq->method, "POST") == 0;
    if (post)
        u->hd = curl_slist_append(u->hd, "Content-Type: application/json");
    add_header(u, "Accept",
               strcmp(rq->method, "GET") == 0 ? "text/event-stream"
                                              : "application/json, text/event-stream");
    add_header(u, "Mcp-Session-Id", rq->session);
    add_header(u, "MCP-Protocol-Version", rq->version);
    add_header(u, "Last-Event-ID", rq->last_event_id);
    if (rq->auth && rq->auth[0])
        u->hd = curl_slist_append(u->hd, rq->auth);
    curl_easy_setopt(u->c, CURLOPT_URL, rq->url);
    curl_easy_setopt(u->c, CURLOPT_HTTPHEADER, u->hd);
    curl_easy_setopt(u->c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (post) {
        if ((u->body = malloc(rq->len ? rq->len : 1)) == NULL) {
            ag__mcp_up_free(u);
            return AG_ENOMEM;
        }
        memcpy(u->body, rq->body, rq->len);
        curl_easy_setopt(u->c, CURLOPT_POSTFIELDS, u->body);
        curl_easy_setopt(u->c, CURLOPT_POSTFIELDSIZE, (long)rq->len);
    }
    curl_easy_setopt(u->c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(u->c, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(u->c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(u->c, CURLOPT_HEADERDATA, u);
    curl_easy_setopt(u->c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(u->c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(u->c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_multi_add_handle(u->m, u->c) != CURLM_OK) {
        ag__mcp_up_free(u);
        return ag__fail(AG_ENOMEM, "curl: cannot start the exchange");
    }
    u->added = 1;
    /* Waits for the head (or the end): the caller needs the status and type first. */
    while (!u->head_done && !ag__mcp_up_pump(u, 250))
        if (stop && *stop) {
            ag__mcp_up_free(u);
            return ag__fail(AG_EIO, "the gateway is stopping");
        }
    if (u->done && u->rc != CURLE_OK && !u->head_done) {
        ag_err err = ag__fail(AG_EIO, "the upstream MCP server cannot be reached: %s",
                              curl_easy_strerror(u->rc));
        ag__mcp_up_free(u);
        return err;
    }
    *out = u;
    return AG_OK;
}

ag_err ag__mcp_up_finish(struct ag__mcp_up *u, const volatile int *stop)
{
    while (!ag__mcp_up_pump(u, 250))
        if (stop && *stop)
            return ag__fail(AG_EIO, "the gateway is stopping");
    if (u->rc != CURLE_OK)
        return ag__fail(AG_EIO, "the upstream MCP server's answer broke off: %s",
                        curl_easy_strerror(u->rc));
    return AG_OK;
}

long ag__mcp_up_status(const struct ag__mcp_up *u)
{
    return u->status;
}
const char *ag__mcp_up_ctype(const struct ag__mcp_up *u)
{
    return u->ctype;
}
const char *ag__mcp_up_session(const struct ag__mcp_up *u)
{
    return u->session[0] ? u->session : NULL;
}
struct ag_buf *ag__mcp_up_body(struct ag__mcp_up *u)
{
    return &u->in;
}
int ag__mcp_up_done(const struct ag__mcp_up *u)
{
    return u->done;
}

void ag__mcp_up_free(struct ag__mcp_up *u)
{
    if (u == NULL)
        return;
    if (u->added)
        curl_multi_remove_handle(u->m, u->c);
    if (u->c)
        curl_easy_cleanup(u->c);
    if (u->m)
        curl_multi_cleanup(u->m);
    curl_slist_free_all(u->hd); /* holds the credential's header line */
    free(u->body);
    ag__buf_free(&u->in);
    free(u);
}
