/* The Streamable HTTP transport: `agentgov mcp serve` listens on loopback for an MCP
 * client's POSTs (one JSON-RPC message each) and relays the ones the gateway lets
 * through to the remote server (--upstream URL) with libcurl, adding the upstream's
 * credential from the KV secrets engine; the answer (JSON, or an SSE stream whose events
 * are each judged) goes back through the same session core as the stdio proxy. One
 * gateway session per Mcp-Session-Id. Requests are served one at a time (one MHD
 * thread): the session core needs no lock, and a slow upstream delays the others. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agentgov/auth.h"
#include "agentgov/mcp.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"
#include "mcp/session.h"

#define MAX_SESSIONS 256
#define UPSTREAM_MAX (64u << 20)

struct gsess {
    char *id; /* the upstream's Mcp-Session-Id; NULL: an upstream without sessions */
    struct ag__mcp_session *s;
    int64_t used_ms;
};

struct ag_mcp_http {
    struct ag_mcp_http_opts o;
    char *upstream;
    char auth[AG_TOKEN_BUF + 512]; /* "Authorization: Bearer ..." or "" */
    struct MHD_Daemon *mhd;
    int port;
    struct gsess sess[MAX_SESSIONS];
};

struct creq {
    struct ag_buf body;
    int too_big;
};

/* ---- upstream ----------------------------------------------------------------------- */

struct upresp {
    long status;
    struct ag_buf body;
    char ctype[128];
    char session[256];
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct upresp *u = ctx;
    if (u->body.len + size * n > UPSTREAM_MAX)
        return 0;
    ag__buf_append(&u->body, p, size * n);
    return size * n;
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

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct upresp *u = ctx;
    header_value(p, size * n, "content-type", u->ctype, sizeof u->ctype);
    header_value(p, size * n, "mcp-session-id", u->session, sizeof u->session);
    return size * n;
}

static ag_err upstream(struct ag_mcp_http *h, const char *method, const char *body, size_t len,
                       const char *session, const char *version, struct upresp *u)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return ag__fail(AG_ENOMEM, "curl: out of memory");
    struct curl_slist *hd = NULL;
    char line[512];
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Accept: application/json, text/event-stream");
    if (session) {
        snprintf(line, sizeof line, "Mcp-Session-Id: %s", session);
        hd = curl_slist_append(hd, line);
    }
    if (version) {
        snprintf(line, sizeof line, "MCP-Protocol-Version: %s", version);
        hd = curl_slist_append(hd, line);
    }
    if (h->auth[0])
        hd = curl_slist_append(hd, h->auth);
    curl_easy_setopt(c, CURLOPT_URL, h->upstream);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, u);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &u->status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return ag__fail(AG_EIO, "the upstream MCP server cannot be reached: %s",
                        curl_easy_strerror(rc));
    return AG_OK;
}

/* ---- sessions ---------------------------------------------------------------------- */

static struct gsess *find_sess(struct ag_mcp_http *h, const char *id)
{
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (h->sess[i].s && ((id == NULL && h->sess[i].id == NULL) ||
                             (id && h->sess[i].id && strcmp(h->sess[i].id, id) == 0)))
            return &h->sess[i];
    return NULL;
}

static void drop_sess(struct gsess *g)
{
    ag__mcp_session_free(g->s);
    free(g->id);
    memset(g, 0, sizeof *g);
}

/* A slot for a new session: a free one, else the least recently used. */
static struct gsess *new_sess(struct ag_mcp_http *h)
{
    struct gsess *lru = &h->sess[0];
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        if (h->sess[i].s == NULL)
            return &h->sess[i];
        if (h->sess[i].used_ms < lru->used_ms)
            lru = &h->sess[i];
    }
    drop_sess(lru);
    return lru;
}

/* ---- answering --------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
                             const char *body, size_t len, const char *session)
{
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return MHD_NO;
    if (len)
        memcpy(copy, body, len);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(copy);
        return MHD_NO;
    }
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (session)
        MHD_add_response_header(r, "Mcp-Session-Id", session);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_lines(struct MHD_Connection *conn, struct ag_buf *lines,
                                   const char *session)
{
    size_t n = lines->len;
    while (n && lines->data[n - 1] == '\n')
        n--;
    return reply(conn, MHD_HTTP_OK, "application/json", lines->data, n, session);
}

/* An SSE body: each event's data judged as a server message; the kept ones re-emitted. */
static void judge_sse(struct ag__mcp_session *s, const char *body, size_t len, struct ag_buf *out)
{
    struct ag_buf data;
    struct ag__mcp_io io;
    ag__buf_init(&data);
    ag__buf_init(&io.to_client);
    ag__buf_init(&io.to_server);
    const char *p = body, *end = body + len;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0) { /* end of an event */
            if (data.len) {
                ag__mcp_from_server(s, data.data, data.len, &io);
                ag__buf_reset(&data);
            }
        } else if (n >= 5 && strncmp(p, "data:", 5) == 0) {
            const char *v = p + 5;
            size_t vl = n - 5;
            if (vl && *v == ' ')
                v++, vl--;
            if (data.len)
                ag__buf_putc(&data, '\n');
            ag__buf_append(&data, v, vl);
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (data.len)
        ag__mcp_from_server(s, data.data, data.len, &io);
    /* Each judged message as one event. */
    const char *q = io.to_client.data ? io.to_client.data : "";
    while (*q) {
        const char *e = strchr(q, '\n');
        size_t n = e ? (size_t)(e - q) : strlen(q);
        ag__buf_puts(out, "event: message\ndata: ");
        ag__buf_append(out, q, n);
        ag__buf_puts(out, "\n\n");
        q += n + (e ? 1 : 0);
    }
    ag__buf_free(&data);
    ag__buf_free(&io.to_client);
    ag__buf_free(&io.to_server);
}

static int is_initialize(const char *body, size_t len)
{
    json_error_t je;
    json_t *m = json_loadb(body, len, 0, &je);
    const char *method = json_string_value(json_object_get(m, "method"));
    int yes = method && strcmp(method, "initialize") == 0;
    json_decref(m);
    return yes;
}

static enum MHD_Result post(struct ag_mcp_http *h, struct MHD_Connection *conn, const char *body,
                            size_t len)
{
    const char *sid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id");
    const char *ver = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "MCP-Protocol-Version");
    struct gsess *g = find_sess(h, sid);
    struct gsess fresh = {0};
    int init = 0;
    if (g == NULL) {
        if (sid || !(init = is_initialize(body, len))) {
            static const char gone[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":"
                                       "-32600,\"message\":\"unknown or expired MCP session: "
                                       "initialize again\"}}";
            return reply(conn, sid ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST, "application/json",
                         gone, sizeof gone - 1, NULL);
        }
        if (ag__mcp_session_new(&h->o.mcp, &fresh.s) != AG_OK) {
            char msg[512];
            int n = snprintf(msg, sizeof msg,
                             "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
                             "\"message\":\"agentgov: the gateway cannot open a session\"}}");
            return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", msg, (size_t)n,
                         NULL);
        }
        g = &fresh;
    }
    g->used_ms = ag__mono_ms();
    struct ag__mcp_io io;
    ag__buf_init(&io.to_client);
    ag__buf_init(&io.to_server);
    ag__mcp_from_client(g->s, body, len, &io);
    enum MHD_Result ret;
    if (io.to_server.len == 0) {
        /* Decided here (a denial, a malformed message): the upstream never sees it. */
        ret = io.to_client.len ? reply_lines(conn, &io.to_client, NULL)
                               : reply(conn, MHD_HTTP_ACCEPTED, NULL, "", 0, NULL);
        goto done;
    }
    struct upresp u = {0};
    ag__buf_init(&u.body);
    ag_err err = upstream(h, "POST", io.to_server.data, io.to_server.len - 1, sid, ver, &u);
    ag__buf_reset(&io.to_client);
    if (err != AG_OK) {
        ag__mcp_server_gone(g->s, ag_last_error(), &io);
        ret = io.to_client.len ? reply_lines(conn, &io.to_client, NULL)
                               : reply(conn, MHD_HTTP_BAD_GATEWAY, NULL, "", 0, NULL);
    } else if (u.status == 200 && strncasecmp(u.ctype, "text/event-stream", 17) == 0) {
        struct ag_buf sse;
        ag__buf_init(&sse);
        judge_sse(g->s, u.body.data ? u.body.data : "", u.body.len, &sse);
        ret = reply(conn, MHD_HTTP_OK, "text/event-stream", sse.data, sse.len,
                    u.session[0] ? u.session : NULL);
        ag__buf_free(&sse);
    } else if (u.status == 200) {
        ag__mcp_from_server(g->s, u.body.data ? u.body.data : "", u.body.len, &io);
        ret = reply_lines(conn, &io.to_client, u.session[0] ? u.session : NULL);
    } else {
        /* 202 for a notification, or the upstream's refusal: passed on as it is. */
        ret = reply(conn, (unsigned)u.status, u.ctype[0] ? u.ctype : NULL, u.body.data, u.body.len,
                    u.session[0] ? u.session : NULL);
    }
    if (g == &fresh) {
        if (err == AG_OK && u.status == 200) {
            struct gsess *slot = new_sess(h);
            *slot = fresh;
            slot->id = u.session[0] ? strdup(u.session) : NULL;
            fresh.s = NULL;
        }
        ag__mcp_session_free(fresh.s);
    }
    ag__buf_free(&u.body);
    (void)init;
done:
    ag__buf_free(&io.to_client);
    ag__buf_free(&io.to_server);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    struct ag_mcp_http *h = cls;
    struct creq *c = *con_cls;
    (void)url;
    (void)version;
    if (c == NULL) {
        if ((c = calloc(1, sizeof *c)) == NULL)
            return MHD_NO;
        ag__buf_init(&c->body);
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t max = h->o.mcp.max_message ? h->o.mcp.max_message : AG_MCP_MAX_MESSAGE;
        if (c->body.len + *upload_size > max)
            c->too_big = 1;
        else
            ag__buf_append(&c->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") == 0) {
        if (c->too_big) {
            static const char big[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
                                      "\"message\":\"message exceeds the gateway's limit\"}}";
            return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "application/json", big, sizeof big - 1,
                         NULL);
        }
        return post(h, conn, c->body.data ? c->body.data : "", c->body.len);
    }
    if (strcmp(method, "DELETE") == 0) {
        const char *sid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id");
        struct gsess *g = sid ? find_sess(h, sid) : NULL;
        struct upresp u = {0};
        ag__buf_init(&u.body);
        long status = 404;
        if (g && upstream(h, "DELETE", NULL, 0, sid, NULL, &u) == AG_OK)
            status = u.status;
        if (g)
            drop_sess(g);
        ag__buf_free(&u.body);
        return reply(conn, (unsigned)status, NULL, "", 0, NULL);
    }
    /* No standalone SSE stream (GET): the specification lets a server refuse it. */
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST, DELETE");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct creq *c = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (c) {
        ag__buf_free(&c->body);
        free(c);
        *con_cls = NULL;
    }
}

/* ---- start, stop ------------------------------------------------------------------- */

/* "Authorization: Bearer <field token of the secret>", read with the root token. */
static ag_err load_credential(struct ag_mcp_http *h)
{
    if (h->o.upstream_secret == NULL)
        return AG_OK;
    ag_auth *a;
    char token[AG_TOKEN_BUF];
    struct ag_secret sec = {0};
    ag_err err = ag_home_auth(h->o.mcp.home, &a);
    if (err == AG_OK)
        err = ag_auth_token_read_file(ag_home_path(h->o.mcp.home, AG_HOME_ROOT_TOKEN), token);
    if (err == AG_OK)
        err = ag_auth_secret_get(a, token, h->o.upstream_secret, 0, &sec);
    memset(token, 0, sizeof token);
    if (err != AG_OK)
        return ag__fail(err, "the upstream credential (secret %s): %s", h->o.upstream_secret,
                        ag_last_error());
    json_t *d = json_loads(sec.data_json, 0, NULL);
    const char *v = json_string_value(json_object_get(d, "token"));
    if (v == NULL || !v[0] || strlen(v) >= AG_TOKEN_BUF + 400 || strpbrk(v, "\r\n"))
        err = ag__fail(AG_EINVAL, "secret %s has no usable 'token' field", h->o.upstream_secret);
    else
        snprintf(h->auth, sizeof h->auth, "Authorization: Bearer %s", v);
    json_decref(d);
    ag_secret_clear(&sec);
    return err;
}

ag_err ag_mcp_http_start(const struct ag_mcp_http_opts *o, ag_mcp_http **out)
{
    *out = NULL;
    if (o == NULL || o->upstream == NULL ||
        (strncmp(o->upstream, "http://", 7) != 0 && strncmp(o->upstream, "https://", 8) != 0))
        return ag__fail(AG_EINVAL, "--upstream must be an http:// or https:// URL");
    struct ag_mcp_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return AG_ENOMEM;
    h->o = *o;
    h->upstream = strdup(o->upstream);
    ag_err err = h->upstream ? AG_OK : AG_ENOMEM;
    /* A throwaway session checks the options (policy, ledger, tier) before listening. */
    struct ag__mcp_session *probe = NULL;
    if (err == AG_OK && (err = ag__mcp_session_new(&o->mcp, &probe)) == AG_OK)
        ag__mcp_session_free(probe);
    if (err == AG_OK)
        err = load_credential(h);
    if (err == AG_OK && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        err = ag__fail(AG_EINTERNAL, "curl_global_init failed");
    if (err != AG_OK) {
        free(h->upstream);
        free(h);
        return err;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, (uint16_t)o->port,
                              NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                              MHD_OPTION_CONNECTION_TIMEOUT, 300u, MHD_OPTION_END);
    if (h->mhd == NULL) {
        free(h->upstream);
        free(h);
        return ag__fail(AG_EIO, "cannot listen on 127.0.0.1:%d", o->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : o->port;
    *out = h;
    return AG_OK;
}

int ag_mcp_http_port(const ag_mcp_http *h)
{
    return h ? h->port : -1;
}

void ag_mcp_http_stop(ag_mcp_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->mhd);
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (h->sess[i].s)
            drop_sess(&h->sess[i]);
    memset(h->auth, 0, sizeof h->auth);
    free(h->upstream);
    free(h);
    curl_global_cleanup();
}
