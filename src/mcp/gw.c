/* The Streamable HTTP gateway to one remote MCP server, whatever serves it (`agentgov
 * mcp serve`'s own listener, or the daemon's /v1/mcp/{server} routes): one gateway
 * session per Mcp-Session-Id, each bound to the agent that opened it, each judged by
 * the session core (session.c) as the stdio proxy is.
 *
 * Concurrency: requests are served in parallel. The table of sessions has one lock;
 * each session has its own, held only while the session core judges a message (never
 * during the upstream's I/O), so a slow upstream answer or a person's approval on one
 * session does not hold up the others. A session is reference-counted: an SSE stream
 * still being relayed keeps it alive after a DELETE or an eviction. The data
 * directory's handles are opened before the first request, so the threads only share
 * handles that are safe to share (ledger, store, auth, lifecycle). */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agentgov/auth.h"
#include "agentgov/gov.h"
#include "agentgov/mcp.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"
#include "mcp/mcp_int.h"
#include "mcp/session.h"
#include "mcp/upstream.h"

#define MAX_SESSIONS 256
#define UPSTREAM_MAX (64u << 20)
#define KEEPALIVE_MS 15000

struct gsess {
    pthread_mutex_t mu; /* the session core's state */
    char *id;           /* the upstream's Mcp-Session-Id; NULL: an upstream without sessions */
    char *agent;        /* who opened it; only that agent may use it */
    struct ag__mcp_session *s;
    int64_t used_ms;
    int refs; /* under the table's lock */
};

struct ag_mcp_gw {
    struct ag_mcp_gw_opts o;
    char *upstream;
    char auth[AG_TOKEN_BUF + 512]; /* "Authorization: Bearer ..." or "" */
    volatile int stop;
    pthread_mutex_t mu; /* the table */
    struct gsess *sess[MAX_SESSIONS];
};

struct ag_mcp_stream {
    ag_mcp_gw *gw;
    struct gsess *g;
    struct ag__mcp_up *u;
    struct ag_buf out; /* judged events not yet read */
    size_t out_off;
    struct ag_buf data; /* the event being read: its data lines */
    char evid[256];     /* and its id */
    int64_t last_ms;
};

/* The MCP-Protocol-Version values the gateway understands (the 2025-11-25 revision's
 * transport and the ones it stays compatible with). */
static const char *const versions[] = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};

/* ---- sessions ---------------------------------------------------------------------- */

static void sess_unref(ag_mcp_gw *gw, struct gsess *g)
{
    pthread_mutex_lock(&gw->mu);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&gw->mu);
    if (!last)
        return;
    ag__mcp_session_free(g->s);
    pthread_mutex_destroy(&g->mu);
    free(g->id);
    free(g->agent);
    free(g);
}

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* A table entry for (id, agent): an upstream without sessions (no id) has one per agent. */
static int sess_is(const struct gsess *g, const char *id, const char *agent)
{
    return g && same(g->id, id) && (id != NULL || same(g->agent, agent));
}

/* The session with this id, referenced; NULL when there is none. */
static struct gsess *sess_get(ag_mcp_gw *gw, const char *id, const char *agent)
{
    struct gsess *g = NULL;
    pthread_mutex_lock(&gw->mu);
    for (size_t i = 0; i < MAX_SESSIONS && g == NULL; i++)
        if (sess_is(gw->sess[i], id, agent))
            g = gw->sess[i];
    if (g) {
        g->refs++;
        g->used_ms = ag__mono_ms();
    }
    pthread_mutex_unlock(&gw->mu);
    return g;
}

/* Takes g out of the table (its table reference dropped). */
static void sess_remove(ag_mcp_gw *gw, struct gsess *g)
{
    int found = 0;
    pthread_mutex_lock(&gw->mu);
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (gw->sess[i] == g) {
            gw->sess[i] = NULL;
            found = 1;
        }
    pthread_mutex_unlock(&gw->mu);
    if (found)
        sess_unref(gw, g);
}

/* Puts g in the table: in place of the one it supersedes (the same id, or the same
 * agent's on an upstream without sessions), else a free slot, else in place of the
 * least recently used. */
static void sess_insert(ag_mcp_gw *gw, struct gsess *g)
{
    struct gsess *evicted = NULL;
    pthread_mutex_lock(&gw->mu);
    size_t slot = MAX_SESSIONS;
    for (size_t i = 0; i < MAX_SESSIONS && slot == MAX_SESSIONS; i++)
        if (sess_is(gw->sess[i], g->id, g->agent))
            slot = i;
    for (size_t i = 0; i < MAX_SESSIONS && slot == MAX_SESSIONS; i++)
        if (gw->sess[i] == NULL)
            slot = i;
    if (slot == MAX_SESSIONS) {
        slot = 0;
        for (size_t i = 1; i < MAX_SESSIONS; i++)
            if (gw->sess[i]->used_ms < gw->sess[slot]->used_ms)
                slot = i;
    }
    evicted = gw->sess[slot];
    g->refs++;
    gw->sess[slot] = g;
    pthread_mutex_unlock(&gw->mu);
    if (evicted)
        sess_unref(gw, evicted);
}

/* A new session for the caller: registered agents are judged at their registered tier
 * (read again before each decision), others at the tier their token carries. */
static ag_err sess_new(ag_mcp_gw *gw, const struct ag_mcp_gw_req *q, struct gsess **out)
{
    struct ag_mcp_opts o = gw->o.mcp;
    struct gsess *g = calloc(1, sizeof *g);
    if (g == NULL)
        return AG_ENOMEM;
    ag_err err = AG_OK;
    if (q->agent) {
        /* The session keeps the name: the request's copy is gone after it. */
        ag_gov *gov;
        struct ag_agent_status st = {0};
        if ((g->agent = strdup(q->agent)) == NULL)
            err = AG_ENOMEM;
        if (err == AG_OK)
            err = ag_home_gov(o.home, &gov);
        if (err == AG_OK)
            err = ag_gov_status(gov, g->agent, &st);
        o.agent = g->agent;
        o.tier = st.registered ? -1 : q->tier;
        ag_agent_status_clear(&st);
    }
    if (err == AG_OK)
        err = ag__mcp_session_new(&o, &g->s);
    if (err != AG_OK) {
        free(g->agent);
        free(g);
        return err;
    }
    pthread_mutex_init(&g->mu, NULL);
    g->refs = 1;
    g->used_ms = ag__mono_ms();
    *out = g;
    return AG_OK;
}

/* ---- replies ------------------------------------------------------------------------ */

static void set_body(struct ag_mcp_gw_reply *r, int status, const char *ctype, const char *body,
                     size_t len)
{
    r->status = status;
    snprintf(r->content_type, sizeof r->content_type, "%s", ctype ? ctype : "");
    free(r->body);
    r->body = malloc(len + 1);
    r->len = r->body ? len : 0;
    if (r->body) {
        memcpy(r->body, body, len);
        r->body[len] = '\0';
    }
}

/* A JSON-RPC error that belongs to no request (id null). */
static void rpc_error(struct ag_mcp_gw_reply *r, int status, int code, const char *message)
{
    struct ag_buf b;
    ag__buf_init(&b);
    ag__mcp_error(&b, NULL, code, message, NULL);
    size_t n = b.len;
    while (n && b.data[n - 1] == '\n')
        n--;
    set_body(r, status, "application/json", b.data ? b.data : "", n);
    ag__buf_free(&b);
}

/* What the session core says to the client, as one JSON answer. */
static void reply_lines(struct ag_mcp_gw_reply *r, struct ag_buf *lines)
{
    size_t n = lines->len;
    while (n && lines->data[n - 1] == '\n')
        n--;
    set_body(r, 200, "application/json", lines->data ? lines->data : "", n);
}

void ag_mcp_gw_reply_clear(struct ag_mcp_gw_reply *r)
{
    if (r == NULL)
        return;
    free(r->body);
    ag_mcp_stream_free(r->stream);
    memset(r, 0, sizeof *r);
}

/* ---- SSE, event by event ------------------------------------------------------------- */

/* One upstream event: its message judged, each message the client may see re-emitted as
 * one event carrying the upstream's event id (so Last-Event-ID resumes upstream). */
static void sse_dispatch(struct ag_mcp_stream *st)
{
    if (st->data.len == 0) {
        if (st->evid[0]) /* a priming event: the id alone, for a later resumption */
            ag__buf_printf(&st->out, "id: %s\ndata: \n\n", st->evid);
        st->evid[0] = '\0';
        return;
    }
    struct ag__mcp_io io;
    ag__buf_init(&io.to_client);
    ag__buf_init(&io.to_server);
    pthread_mutex_lock(&st->g->mu);
    ag__mcp_from_server(st->g->s, st->data.data, st->data.len, &io);
    pthread_mutex_unlock(&st->g->mu);
    const char *q = io.to_client.data ? io.to_client.data : "";
    while (*q) {
        const char *e = strchr(q, '\n');
        size_t n = e ? (size_t)(e - q) : strlen(q);
        ag__buf_puts(&st->out, "event: message\n");
        if (st->evid[0])
            ag__buf_printf(&st->out, "id: %s\n", st->evid);
        ag__buf_puts(&st->out, "data: ");
        ag__buf_append(&st->out, q, n);
        ag__buf_puts(&st->out, "\n\n");
        q += n + (e ? 1 : 0);
    }
    ag__buf_free(&io.to_client);
    ag__buf_free(&io.to_server);
    ag__buf_reset(&st->data);
    st->evid[0] = '\0';
}

/* Reads the whole lines the upstream has sent so far (the SSE format: data:, id:,
 * a blank line ends an event; comments, event: and retry: are the gateway's own). */
static void sse_parse(struct ag_mcp_stream *st, int at_end)
{
    struct ag_buf *in = ag__mcp_up_body(st->u);
    size_t off = 0;
    while (off < in->len) {
        const char *p = in->data + off;
        const char *nl = memchr(p, '\n', in->len - off);
        if (nl == NULL && !at_end)
            break;
        size_t n = nl ? (size_t)(nl - p) : in->len - off;
        off += n + (nl ? 1 : 0);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0) {
            sse_dispatch(st);
        } else if (n >= 5 && strncmp(p, "data:", 5) == 0) {
            const char *v = p + 5 + (n > 5 && p[5] == ' ');
            if (st->data.len)
                ag__buf_putc(&st->data, '\n');
            ag__buf_append(&st->data, v, n - (size_t)(v - p));
        } else if (n >= 3 && strncmp(p, "id:", 3) == 0) {
            const char *v = p + 3 + (n > 3 && p[3] == ' ');
            size_t vl = n - (size_t)(v - p);
            if (vl < sizeof st->evid) {
                memcpy(st->evid, v, vl);
                st->evid[vl] = '\0';
            }
        }
    }
    if (off) { /* the lines read leave the buffer */
        memmove(in->data, in->data + off, in->len - off);
        in->len -= off;
        in->data[in->len] = '\0';
    }
    if (at_end && st->data.len)
        sse_dispatch(st);
}

long ag_mcp_stream_read(ag_mcp_stream *st, char *buf, size_t max)
{
    for (;;) {
        if (st->out_off < st->out.len) {
            size_t n = st->out.len - st->out_off;
            if (n > max)
                n = max;
            memcpy(buf, st->out.data + st->out_off, n);
            st->out_off += n;
            if (st->out_off == st->out.len) {
                ag__buf_reset(&st->out);
                st->out_off = 0;
            }
            st->last_ms = ag__mono_ms();
            return (long)n;
        }
        if (st->gw->stop)
            return -1;
        int ended = ag__mcp_up_pump(st->u, 250);
        sse_parse(st, ended);
        if (ended && st->out.len == 0)
            return -1;
        /* A comment now and then: a client that went away is noticed on the write. */
        if (st->out.len == 0 && !ended && ag__mono_ms() - st->last_ms >= KEEPALIVE_MS)
            ag__buf_puts(&st->out, ": keepalive\n\n");
    }
}

void ag_mcp_stream_free(ag_mcp_stream *st)
{
    if (st == NULL)
        return;
    ag__mcp_up_free(st->u);
    sess_unref(st->gw, st->g);
    ag__buf_free(&st->out);
    ag__buf_free(&st->data);
    free(st);
}

static ag_mcp_stream *stream_new(ag_mcp_gw *gw, struct gsess *g, struct ag__mcp_up *u)
{
    ag_mcp_stream *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    st->gw = gw;
    st->g = g;
    st->u = u;
    ag__buf_init(&st->out);
    ag__buf_init(&st->data);
    st->last_ms = ag__mono_ms();
    return st;
}

/* ---- the methods ---------------------------------------------------------------------- */

static int is_initialize(const char *body, size_t len)
{
    json_error_t je;
    json_t *m = json_loadb(body, len, 0, &je);
    const char *method = json_string_value(json_object_get(m, "method"));
    int yes = method && strcmp(method, "initialize") == 0;
    json_decref(m);
    return yes;
}

static int is_sse(const char *ctype)
{
    return strncasecmp(ctype, "text/event-stream", 17) == 0;
}

/* The upstream's answer to what the session core let through: relayed as an SSE
 * stream (judged event by event as it comes) or one JSON answer. g is referenced by
 * the caller; a stream takes a reference of its own. */
static void relay(ag_mcp_gw *gw, struct gsess *g, struct ag__mcp_up *u, struct ag_mcp_gw_reply *r)
{
    long status = ag__mcp_up_status(u);
    const char *up_sid = ag__mcp_up_session(u);
    snprintf(r->session, sizeof r->session, "%s", up_sid ? up_sid : "");
    if (status == 200 && is_sse(ag__mcp_up_ctype(u))) {
        pthread_mutex_lock(&gw->mu);
        g->refs++;
        pthread_mutex_unlock(&gw->mu);
        r->status = 200;
        snprintf(r->content_type, sizeof r->content_type, "text/event-stream");
        if ((r->stream = stream_new(gw, g, u)) == NULL) {
            sess_unref(gw, g);
            ag__mcp_up_free(u);
            rpc_error(r, 500, -32603, "agentgov: out of memory");
        }
        return;
    }
    ag_err err = ag__mcp_up_finish(u, &gw->stop);
    struct ag_buf *in = ag__mcp_up_body(u);
    if (err == AG_OK && status == 200) {
        struct ag__mcp_io io;
        ag__buf_init(&io.to_client);
        ag__buf_init(&io.to_server);
        pthread_mutex_lock(&g->mu);
        ag__mcp_from_server(g->s, in->data ? in->data : "", in->len, &io);
        pthread_mutex_unlock(&g->mu);
        reply_lines(r, &io.to_client);
        ag__buf_free(&io.to_client);
        ag__buf_free(&io.to_server);
    } else if (err == AG_OK) {
        /* 202 for a notification or a response, or the upstream's refusal: as it is.
         * A session the upstream no longer knows (404) is forgotten here too. */
        set_body(r, (int)status, ag__mcp_up_ctype(u), in->data ? in->data : "", in->len);
        if (status == 404 && g->id)
            sess_remove(gw, g);
    } else {
        rpc_error(r, 502, -32603, ag_last_error());
    }
    ag__mcp_up_free(u);
}

static void post(ag_mcp_gw *gw, const struct ag_mcp_gw_req *q, struct ag_mcp_gw_reply *r)
{
    /* An initialize without a session starts a new one (also on an upstream without
     * sessions, where it replaces the agent's previous one). */
    int init = q->session == NULL && is_initialize(q->body, q->len);
    struct gsess *g = init ? NULL : sess_get(gw, q->session, q->agent);
    int fresh = 0;
    if (g == NULL) {
        if (!init) {
            rpc_error(r, q->session ? 404 : 400, -32600,
                      "unknown or expired MCP session: initialize again");
            return;
        }
        ag_err err = sess_new(gw, q, &g);
        if (err != AG_OK) {
            char msg[1200];
            snprintf(msg, sizeof msg, "agentgov: the gateway cannot open a session: %s",
                     ag_last_error());
            rpc_error(r, err == AG_EINVAL || err == AG_EPERM ? 403 : 500, -32603, msg);
            return;
        }
        fresh = 1;
    } else if (!same(g->agent, q->agent)) {
        sess_unref(gw, g);
        rpc_error(r, 403, -32600, "this MCP session belongs to another agent");
        return;
    }
    struct ag__mcp_io io;
    ag__buf_init(&io.to_client);
    ag__buf_init(&io.to_server);
    pthread_mutex_lock(&g->mu);
    ag__mcp_from_client(g->s, q->body, q->len, &io);
    pthread_mutex_unlock(&g->mu);
    if (io.to_server.len == 0) {
        /* Decided here (a denial, a malformed message): the upstream never sees it. */
        if (io.to_client.len)
            reply_lines(r, &io.to_client);
        else
            set_body(r, 202, NULL, "", 0);
        goto done;
    }
    struct ag__mcp_up_req rq = {.url = gw->upstream,
                                .method = "POST",
                                .body = io.to_server.data,
                                .len = io.to_server.len - 1,
                                .session = q->session,
                                .version = q->version,
                                .auth = gw->auth,
                                .limit = UPSTREAM_MAX};
    struct ag__mcp_up *u;
    if (ag__mcp_up_open(&rq, &gw->stop, &u) != AG_OK) {
        ag__buf_reset(&io.to_client);
        pthread_mutex_lock(&g->mu);
        ag__mcp_request_failed(g->s, q->body, q->len, ag_last_error(), &io);
        pthread_mutex_unlock(&g->mu);
        if (io.to_client.len)
            reply_lines(r, &io.to_client);
        else
            rpc_error(r, 502, -32603, ag_last_error());
        goto done;
    }
    if (fresh && ag__mcp_up_status(u) == 200) {
        const char *sid = ag__mcp_up_session(u);
        g->id = sid ? strdup(sid) : NULL;
        sess_insert(gw, g);
    }
    relay(gw, g, u, r);
done:
    sess_unref(gw, g);
    ag__buf_free(&io.to_client);
    ag__buf_free(&io.to_server);
}

/* The standalone stream: the server's own messages outside any answer. */
static void get(ag_mcp_gw *gw, const struct ag_mcp_gw_req *q, struct ag_mcp_gw_reply *r)
{
    if (q->accept == NULL || strstr(q->accept, "text/event-stream") == NULL) {
        rpc_error(r, 406, -32600, "GET opens an SSE stream: Accept must name text/event-stream");
        return;
    }
    struct gsess *g = q->session ? sess_get(gw, q->session, q->agent) : NULL;
    if (g == NULL) {
        rpc_error(r, q->session ? 404 : 400, -32600,
                  "unknown or expired MCP session: initialize again");
        return;
    }
    if (!same(g->agent, q->agent)) {
        sess_unref(gw, g);
        rpc_error(r, 403, -32600, "this MCP session belongs to another agent");
        return;
    }
    struct ag__mcp_up_req rq = {.url = gw->upstream,
                                .method = "GET",
                                .session = q->session,
                                .version = q->version,
                                .last_event_id = q->last_event_id,
                                .auth = gw->auth,
                                .limit = UPSTREAM_MAX};
    struct ag__mcp_up *u;
    if (ag__mcp_up_open(&rq, &gw->stop, &u) != AG_OK)
        rpc_error(r, 502, -32603, ag_last_error());
    else
        relay(gw, g, u, r);
    sess_unref(gw, g);
}

static void del(ag_mcp_gw *gw, const struct ag_mcp_gw_req *q, struct ag_mcp_gw_reply *r)
{
    struct gsess *g = q->session ? sess_get(gw, q->session, q->agent) : NULL;
    if (g == NULL) {
        rpc_error(r, q->session ? 404 : 400, -32600, "unknown or expired MCP session");
        return;
    }
    if (!same(g->agent, q->agent)) {
        sess_unref(gw, g);
        rpc_error(r, 403, -32600, "this MCP session belongs to another agent");
        return;
    }
    struct ag__mcp_up_req rq = {.url = gw->upstream,
                                .method = "DELETE",
                                .session = q->session,
                                .version = q->version,
                                .auth = gw->auth,
                                .limit = 1u << 20};
    struct ag__mcp_up *u;
    long status = 502;
    if (ag__mcp_up_open(&rq, &gw->stop, &u) == AG_OK) {
        if (ag__mcp_up_finish(u, &gw->stop) == AG_OK)
            status = ag__mcp_up_status(u);
        ag__mcp_up_free(u);
    }
    sess_remove(gw, g);
    sess_unref(gw, g);
    set_body(r, (int)status, NULL, "", 0);
}

void ag_mcp_gw_handle(ag_mcp_gw *gw, const struct ag_mcp_gw_req *q, struct ag_mcp_gw_reply *r)
{
    memset(r, 0, sizeof *r);
    if (q->version) {
        size_t i = 0;
        while (i < sizeof versions / sizeof versions[0] && strcmp(q->version, versions[i]) != 0)
            i++;
        if (i == sizeof versions / sizeof versions[0]) {
            char msg[300];
            snprintf(msg, sizeof msg, "unsupported MCP-Protocol-Version '%.64s'", q->version);
            rpc_error(r, 400, -32600, msg);
            return;
        }
    }
    if (strcmp(q->method, "POST") == 0) {
        size_t max = gw->o.mcp.max_message ? gw->o.mcp.max_message : AG_MCP_MAX_MESSAGE;
        if (q->len > max)
            rpc_error(r, 413, -32600, "message exceeds the gateway's limit");
        else
            post(gw, q, r);
    } else if (strcmp(q->method, "GET") == 0) {
        get(gw, q, r);
    } else if (strcmp(q->method, "DELETE") == 0) {
        del(gw, q, r);
    } else {
        rpc_error(r, 405, -32600, "the MCP endpoint takes POST, GET and DELETE");
    }
}

/* ---- start, stop --------------------------------------------------------------------- */

/* "Authorization: Bearer <field token of the secret>", read with the root token. */
static ag_err load_credential(ag_mcp_gw *gw)
{
    if (gw->o.upstream_secret == NULL)
        return AG_OK;
    ag_auth *a;
    char token[AG_TOKEN_BUF];
    struct ag_secret sec = {0};
    ag_err err = ag_home_auth(gw->o.mcp.home, &a);
    if (err == AG_OK)
        err = ag_auth_token_read_file(ag_home_path(gw->o.mcp.home, AG_HOME_ROOT_TOKEN), token);
    if (err == AG_OK)
        err = ag_auth_secret_get(a, token, gw->o.upstream_secret, 0, &sec);
    memset(token, 0, sizeof token);
    if (err != AG_OK)
        return ag__fail(err, "the upstream credential (secret %s): %s", gw->o.upstream_secret,
                        ag_last_error());
    json_t *d = json_loads(sec.data_json, 0, NULL);
    const char *v = json_string_value(json_object_get(d, "token"));
    if (v == NULL || !v[0] || strlen(v) >= AG_TOKEN_BUF + 400 || strpbrk(v, "\r\n"))
        err = ag__fail(AG_EINVAL, "secret %s has no usable 'token' field", gw->o.upstream_secret);
    else
        snprintf(gw->auth, sizeof gw->auth, "Authorization: Bearer %s", v);
    json_decref(d);
    ag_secret_clear(&sec);
    return err;
}

/* Opens every handle of the data directory a session may use, before any thread does
 * (the home opens them on first use, and that is not safe from two threads at once). */
static ag_err open_handles(ag_home *home)
{
    ag_policy *p;
    ag_ledger *l;
    ag_gov *g;
    ag_store *s;
    ag_auth *a;
    ag_err err;
    if ((err = ag_home_policy(home, &p)) != AG_OK || (err = ag_home_ledger(home, &l)) != AG_OK ||
        (err = ag_home_store(home, &s)) != AG_OK || (err = ag_home_gov(home, &g)) != AG_OK)
        return err;
    if (ag_home_has_master_key(home) && (err = ag_home_auth(home, &a)) != AG_OK)
        return err;
    return AG_OK;
}

ag_err ag_mcp_gw_new(const struct ag_mcp_gw_opts *o, ag_mcp_gw **out)
{
    *out = NULL;
    if (o == NULL || o->upstream == NULL ||
        (strncmp(o->upstream, "http://", 7) != 0 && strncmp(o->upstream, "https://", 8) != 0))
        return ag__fail(AG_EINVAL, "the upstream must be an http:// or https:// URL");
    ag_mcp_gw *gw = calloc(1, sizeof *gw);
    if (gw == NULL)
        return AG_ENOMEM;
    gw->o = *o;
    gw->upstream = strdup(o->upstream);
    ag_err err = gw->upstream ? AG_OK : AG_ENOMEM;
    if (err == AG_OK && o->mcp.home)
        err = open_handles(o->mcp.home);
    /* A throwaway session checks the options (server name, policy, ledger, tier). */
    struct ag__mcp_session *probe = NULL;
    struct ag_mcp_opts po = o->mcp;
    if (po.agent == NULL && po.tier < 0)
        po.tier = 0; /* clients bring their identity: only the rest is checked */
    if (err == AG_OK && (err = ag__mcp_session_new(&po, &probe)) == AG_OK)
        ag__mcp_session_free(probe);
    if (err == AG_OK)
        err = load_credential(gw);
    if (err == AG_OK && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        err = ag__fail(AG_EINTERNAL, "curl_global_init failed");
    if (err != AG_OK) {
        free(gw->upstream);
        free(gw);
        return err;
    }
    pthread_mutex_init(&gw->mu, NULL);
    *out = gw;
    return AG_OK;
}

void ag_mcp_gw_shutdown(ag_mcp_gw *gw)
{
    if (gw)
        gw->stop = 1;
}

void ag_mcp_gw_free(ag_mcp_gw *gw)
{
    if (gw == NULL)
        return;
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (gw->sess[i]) {
            struct gsess *g = gw->sess[i];
            gw->sess[i] = NULL;
            sess_unref(gw, g);
        }
    pthread_mutex_destroy(&gw->mu);
    memset(gw->auth, 0, sizeof gw->auth);
    free(gw->upstream);
    free(gw);
    curl_global_cleanup();
}
