/* `agentgov mcp serve`: the Streamable HTTP gateway (gw.c) on a listener of its own, on
 * loopback. One thread per connection: a slow upstream, an SSE stream relayed as it
 * comes or a person's approval holds only its own connection. Each client presents an
 * agentgov token that names the agent it acts as (fail closed: none, or one that does
 * not check out, is 401), unless the operator turned that off for loopback development,
 * where every client acts as the configured agent. */
#include <arpa/inet.h>
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

#define STREAM_BLOCK (64 * 1024)

struct ag_mcp_http {
    ag_mcp_gw *gw;
    ag_auth *auth; /* client tokens (client_auth) */
    int client_auth;
    size_t max_message;
    struct MHD_Daemon *mhd;
    int port;
};

struct creq {
    struct ag_buf body;
    int too_big;
};

static enum MHD_Result queue(struct MHD_Connection *conn, struct MHD_Response *r, unsigned status,
                             const char *ctype, const char *session)
{
    if (r == NULL)
        return MHD_NO;
    if (ctype && ctype[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (session && session[0])
        MHD_add_response_header(r, "Mcp-Session-Id", session);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *body,
                                  const char *www_auth)
{
    size_t n = strlen(body);
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return MHD_NO;
    memcpy(copy, body, n + 1);
    struct MHD_Response *r = MHD_create_response_from_buffer(n, copy, MHD_RESPMEM_MUST_FREE);
    if (r == NULL)
        free(copy);
    if (r && www_auth)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, www_auth);
    return queue(conn, r, status, "application/json", NULL);
}

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    long n = ag_mcp_stream_read(cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free_cb(void *cls)
{
    ag_mcp_stream_free(cls);
}

/* The gateway's answer as an HTTP response: a buffer, or a stream read as it comes. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, struct ag_mcp_gw_reply *gr)
{
    struct MHD_Response *r;
    if (gr->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_cb, gr->stream,
                                              stream_free_cb);
        if (r == NULL)
            ag_mcp_stream_free(gr->stream);
        gr->stream = NULL; /* the response owns it now */
    } else {
        r = MHD_create_response_from_buffer(gr->len, gr->body, MHD_RESPMEM_MUST_FREE);
        if (r)
            gr->body = NULL;
    }
    enum MHD_Result ret = queue(conn, r, (unsigned)gr->status, gr->content_type, gr->session);
    ag_mcp_gw_reply_clear(gr);
    return ret;
}

/* The caller's agent from its token; 0 after answering 401. */
static int authenticate(struct ag_mcp_http *h, struct MHD_Connection *conn,
                        struct ag_token_info *ti, enum MHD_Result *ret)
{
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *why = "an agentgov token is required (Authorization: Bearer agv....)";
    if (a && strncasecmp(a, "Bearer ", 7) == 0) {
        char token[AG_TOKEN_BUF];
        const char *t = a + 7;
        while (*t == ' ')
            t++;
        if (strlen(t) < sizeof token) {
            snprintf(token, sizeof token, "%s", t);
            ag_err err = ag_auth_token_lookup(h->auth, token, ti);
            memset(token, 0, sizeof token);
            if (err == AG_OK)
                return 1;
        }
        why = "the agentgov token is not valid (unknown, expired or revoked)";
    }
    char body[300];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,\"message\":\"%s\"}}",
             why);
    *ret = reply_text(conn, MHD_HTTP_UNAUTHORIZED, body, "Bearer realm=\"agentgov\"");
    return 0;
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
        if (c->body.len + *upload_size > h->max_message)
            c->too_big = 1;
        else
            ag__buf_append(&c->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    struct ag_token_info ti = {0};
    enum MHD_Result ret;
    if (h->client_auth && !authenticate(h, conn, &ti, &ret))
        return ret;
#define HDR(n) MHD_lookup_connection_value(conn, MHD_HEADER_KIND, n)
    struct ag_mcp_gw_req q = {.method = method,
                              .session = HDR("Mcp-Session-Id"),
                              .version = HDR("MCP-Protocol-Version"),
                              .accept = HDR("Accept"),
                              .last_event_id = HDR("Last-Event-ID"),
                              .body = c->body.data ? c->body.data : "",
                              .len = c->too_big ? h->max_message + 1 : c->body.len,
                              .agent = h->client_auth ? ti.agent_id : NULL,
                              .tier = h->client_auth ? ti.tier : -1};
#undef HDR
    struct ag_mcp_gw_reply gr;
    ag_mcp_gw_handle(h->gw, &q, &gr);
    ag_token_info_clear(&ti);
    return send_reply(conn, &gr);
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

ag_err ag_mcp_http_start(const struct ag_mcp_http_opts *o, ag_mcp_http **out)
{
    *out = NULL;
    if (o == NULL)
        return ag__fail(AG_EINVAL, "no options");
    struct ag_mcp_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return AG_ENOMEM;
    h->client_auth = o->client_auth;
    h->max_message = o->mcp.max_message ? o->mcp.max_message : AG_MCP_MAX_MESSAGE;
    struct ag_mcp_gw_opts go = {
        .mcp = o->mcp, .upstream = o->upstream, .upstream_secret = o->upstream_secret};
    ag_err err = AG_OK;
    if (o->client_auth) {
        if (!ag_home_has_master_key(o->mcp.home))
            err = ag__fail(AG_EINVAL, "client tokens cannot be checked: the data directory has "
                                      "no master key (agentgov init), or use --no-client-auth "
                                      "for loopback development");
        else
            err = ag_home_auth(o->mcp.home, &h->auth);
    }
    if (err == AG_OK)
        err = ag_mcp_gw_new(&go, &h->gw);
    if (err != AG_OK) {
        free(h);
        return err;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                  MHD_USE_POLL | MHD_USE_ITC,
                              (uint16_t)o->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                              &sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                              MHD_OPTION_CONNECTION_TIMEOUT, 300u, MHD_OPTION_CONNECTION_LIMIT,
                              512u, MHD_OPTION_END);
    if (h->mhd == NULL) {
        ag_mcp_gw_free(h->gw);
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
    /* Streams and upstream waits end first, so the connection threads can be joined. */
    ag_mcp_gw_shutdown(h->gw);
    MHD_stop_daemon(h->mhd);
    ag_mcp_gw_free(h->gw);
    free(h);
}
