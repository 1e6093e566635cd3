/* The daemon as an MCP gateway: /v1/mcp/{server} is the Streamable HTTP endpoint of
 * the remote MCP server the policy names under mcp.servers, with the same decisions,
 * pins, rate limits and redaction as `agentgov mcp serve` (the gateway of
 * agentgov/mcp.h). The caller is the agent its daemon token names.
 *
 * One gateway per server and policy: a reload (SIGHUP) that installs a new policy
 * makes new gateways, so the next request is judged by it; the old gateways' sessions
 * are gone for new requests (their clients get 404 and initialize again, as the
 * specification has them do), and the old gateways are kept until the daemon stops,
 * since a stream still being relayed may use one. In thread-per-connection mode an SSE
 * answer and the GET stream are relayed as they come; in epoll mode a handler must not
 * hold an I/O thread, so an SSE answer is relayed once it is whole and there is no GET
 * stream (405, which the specification allows). */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agentgov/mcp.h"
#include "agentgov/policy.h"
#include "server/handlers.h"
#include "server/log.h"
#include "core/time.h"
#include "server/polref.h"

struct mcp_gw {
    char name[AG_AUTH_NAME_MAX];
    struct ag__polref_node *node; /* the policy it judges with (a reference) */
    ag_mcp_gw *gw;
    int retired; /* a newer policy replaced it */
    struct mcp_gw *next;
};

struct ag__mcp_routes {
    pthread_mutex_t mu;
    struct mcp_gw *list;
};

static pthread_mutex_t routes_init_mu = PTHREAD_MUTEX_INITIALIZER;

static struct ag__mcp_routes *routes_of(struct ag__srv *s)
{
    pthread_mutex_lock(&routes_init_mu);
    if (s->mcp == NULL && (s->mcp = calloc(1, sizeof *s->mcp)) != NULL)
        pthread_mutex_init(&s->mcp->mu, NULL);
    pthread_mutex_unlock(&routes_init_mu);
    return s->mcp;
}

static void report(void *ctx, const char *line)
{
    (void)ctx;
    ag__log(AG_LOG_WARN, "mcp", "%s", line);
}

/* The gateway of server under the current policy, made on first use. NULL after
 * replying (no such server, or it cannot be opened). */
static ag_mcp_gw *gateway(struct ag__req *r, const char *server)
{
    struct ag__mcp_routes *mr = routes_of(r->srv);
    const ag_policy *p;
    struct ag__polref_node *node = ag__polref_get(&r->srv->policy, &p);
    const struct ag_mcp_server_conf *sc = ag_policy_mcp_server(p, server);
    if (mr == NULL || sc == NULL) {
        ag__polref_put(node);
        ag__reply_error(r, 404, "no MCP server '%s' in the policy's mcp.servers", server);
        return NULL;
    }
    pthread_mutex_lock(&mr->mu);
    struct mcp_gw *e = mr->list;
    while (e && (e->retired || strcmp(e->name, server) != 0))
        e = e->next;
    if (e && e->node != node) { /* made under a policy since replaced */
        e->retired = 1;
        e = NULL;
    }
    ag_err err = AG_OK;
    if (e == NULL && (e = calloc(1, sizeof *e)) == NULL)
        err = AG_ENOMEM;
    else if (e->gw == NULL) {
        snprintf(e->name, sizeof e->name, "%s", server);
        struct ag_mcp_gw_opts o = {.mcp = {.home = r->srv->home,
                                           .server = e->name, /* outlives the request */
                                           .tier = -1,
                                           .policy = p,
                                           .report = report},
                                   .upstream = sc->url,
                                   .upstream_secret = sc->secret};
        if ((err = ag_mcp_gw_new(&o, &e->gw)) != AG_OK) {
            free(e);
            e = NULL;
        } else {
            e->node = node; /* the gateway keeps the reference */
            node = NULL;
            e->next = mr->list;
            mr->list = e;
        }
    }
    pthread_mutex_unlock(&mr->mu);
    if (node)
        ag__polref_put(node);
    if (err != AG_OK) {
        ag__reply_ag_error(r, err, "MCP gateway");
        return NULL;
    }
    return e->gw;
}

static long stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    long n = ag_mcp_stream_read(cls, buf, max);
    return n < 0 ? -1 /* MHD_CONTENT_READER_END_OF_STREAM */ : n;
}

static void stream_free(void *cls)
{
    ag_mcp_stream_free(cls);
}

/* A stream read to its end, for epoll mode, for at most DRAIN_MS: an answer that does
 * not end (the upstream waits for the client's answer to a request of its own, which
 * the client cannot see before this one is relayed) must not hold the worker. */
#define DRAIN_MS (300 * 1000)
static void drain_stream(struct ag_mcp_gw_reply *gr)
{
    struct ag_buf b;
    ag__buf_init(&b);
    char chunk[16384];
    long n;
    int64_t until = ag__mono_ms() + DRAIN_MS;
    while (ag__mono_ms() < until && (n = ag_mcp_stream_read(gr->stream, chunk, sizeof chunk)) >= 0)
        ag__buf_append(&b, chunk, (size_t)n);
    ag_mcp_stream_free(gr->stream);
    gr->stream = NULL;
    free(gr->body);
    gr->len = b.len;
    gr->body = ag__buf_take(&b);
}

/* A static string for the reply's type (the request keeps a pointer, not a copy). */
static const char *content_type(const char *t)
{
    static const char *const known[] = {"application/json", "text/event-stream", "text/plain"};
    if (!t[0])
        return NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strncasecmp(t, known[i], strlen(known[i])) == 0)
            return known[i];
    return "application/octet-stream";
}

void ag__h_mcp(struct ag__req *r)
{
    const char *server = ag__route_capture(&r->m, "server");
    int epoll = r->srv->cfg.epoll;
    if (strcmp(r->method, "GET") == 0 && epoll) {
        ag__reply_error(r, 405, "no standalone SSE stream in the daemon's epoll mode");
        return;
    }
    ag_mcp_gw *gw = gateway(r, server);
    if (gw == NULL)
        return;
    struct ag_mcp_gw_req q = {.method = r->method,
                              .session = ag__req_header(r, "Mcp-Session-Id"),
                              .version = ag__req_header(r, "MCP-Protocol-Version"),
                              .accept = ag__req_header(r, "Accept"),
                              .last_event_id = ag__req_header(r, "Last-Event-ID"),
                              .body = r->body.data ? r->body.data : "",
                              .len = r->body.len,
                              .agent = r->tok.agent_id,
                              .tier = r->tok.tier};
    struct ag_mcp_gw_reply gr;
    ag_mcp_gw_handle(gw, &q, &gr);
    snprintf(r->mcp_session, sizeof r->mcp_session, "%s", gr.session);
    if (gr.stream && epoll)
        drain_stream(&gr);
    if (gr.stream) {
        r->status = gr.status;
        r->content_type = "text/event-stream";
        r->stream = gr.stream;
        r->stream_read = stream_read;
        r->stream_free = stream_free;
        gr.stream = NULL;
    } else {
        ag__reply_raw(r, gr.status, content_type(gr.content_type), gr.body, gr.len);
        gr.body = NULL;
    }
    ag_mcp_gw_reply_clear(&gr);
}

void ag__mcp_routes_drain(struct ag__srv *s)
{
    if (s->mcp == NULL)
        return;
    pthread_mutex_lock(&s->mcp->mu);
    for (struct mcp_gw *e = s->mcp->list; e; e = e->next)
        ag_mcp_gw_shutdown(e->gw);
    pthread_mutex_unlock(&s->mcp->mu);
}

void ag__mcp_routes_free(struct ag__srv *s)
{
    if (s->mcp == NULL)
        return;
    struct mcp_gw *e = s->mcp->list;
    while (e) {
        struct mcp_gw *next = e->next;
        ag_mcp_gw_free(e->gw);
        ag__polref_put(e->node);
        free(e);
        e = next;
    }
    pthread_mutex_destroy(&s->mcp->mu);
    free(s->mcp);
    s->mcp = NULL;
}
