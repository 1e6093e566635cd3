/* The daemon's life: building it, binding, the libmicrohttpd callbacks, slow-client
 * deadlines, SIGHUP reloads and the SIGTERM drain. */
#include "server/audit.h"
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "server/events.h"
#include "server/handlers.h"
#include "server/router.h"
#include "server/log.h"
#include "server/otel_feed.h"
#include "server/ui.h"

struct ag__conn {
    struct ag__conn *prev, *next;
    int fd;
    _Atomic int busy;         /* a request is being handled: no header deadline */
    _Atomic int64_t deadline; /* monotonic ms by which the next request must be whole */
    int cut;                  /* shut down by the reaper */
};

/* ---- policy ---------------------------------------------------------------- */

static void lint_diag(void *ctx, const char *msg)
{
    int *count = ctx;
    if (++*count == 1)
        ag__fail(AG_EPARSE, "%s", msg);
    ag__log(AG_LOG_WARN, "policy_lint", "%s", msg);
}

/* The policy file: the configured one, else policy.yaml in the data directory, else
 * the shipped default (see src/policy/path.h). */
static void choose_policy(struct ag__srv *s)
{
    const char *p = "";
    if (s->home && ag_home_policy_path(s->home, &p) != AG_OK)
        p = ""; /* reported by the reload: no policy file */
    snprintf(s->policy_path, sizeof s->policy_path, "%s", p);
}

/* Every revocation the lifecycle decides takes the agent's credentials away too. */
static ag_err revoke_hook(void *ctx, const char *agent_id)
{
    struct ag__srv *s = ctx;
    atomic_fetch_add_explicit(&s->metrics.revocations, 1, memory_order_relaxed);
    ag__srv_revocation_events(s, agent_id);
    ag__log(AG_LOG_WARN, "revoke", "agent %s revoked; revoking its tokens and secret IDs",
            agent_id);
    if (!s->auth)
        return ag__fail(AG_EUNSUPPORTED, "the auth engine is unavailable");
    return ag_auth_revoke_agent(s->auth, agent_id, NULL);
}

/* Builds the lifecycle handle over policy p (NULL: a kernel that denies everything
 * with no_policy) and publishes both. Takes p, even on failure. */
static ag_err install_policy(struct ag__srv *s, ag_policy *p)
{
    ag_gov *g = NULL;
    if (s->store && s->ledger) {
        ag_err e = ag_gov_new(s->store, s->ledger, p, &s->cfg.gov, &g);
        if (e) {
            ag_policy_free(p);
            return e;
        }
        ag_gov_set_revoke_hook(g, revoke_hook, s);
    }
    struct ag__polref_node *n;
    ag_err e = ag__polref_node_new(p, g, &n);
    if (e)
        return e;
    ag__polref_swap(&s->policy, n); /* the auth engine takes it from there (open_auth) */
    return AG_OK;
}

ag_err ag__server_reload_policy(struct ag__srv *s)
{
    if (!s->policy_path[0])
        return ag__fail(AG_ENOTFOUND, "no policy file (set policy = FILE or put policy.yaml "
                                      "in the data directory)");
    int problems = 0;
    ag_err e = ag_policy_lint(s->policy_path, lint_diag, &problems);
    if (e || problems) {
        if (!problems)
            return e;
        char first[512];
        snprintf(first, sizeof first, "%s", ag_last_error());
        return ag__fail(AG_EPARSE, "%d problem(s), first: %s", problems, first);
    }
    ag_policy *p;
    e = ag_policy_load(s->policy_path, &p);
    return e ? e : install_policy(s, p);
}

/* ---- construction ------------------------------------------------------------ */

/* The auth engine's policy source: a reference to the daemon's current policy for
 * each use, so that a reload cannot free a policy the engine is deciding with. */
static const ag_policy *auth_policy_get(void *ctx, void **ref)
{
    struct ag__srv *s = ctx;
    const ag_policy *p;
    *ref = ag__polref_get(&s->policy, &p);
    return p;
}

static void auth_policy_put(void *ctx, void *ref)
{
    (void)ctx;
    ag__polref_put(ref);
}

/* The auth engine needs the store, the ledger and the master key; without it every
 * endpoint that needs a token answers 503 (nobody can be identified). */
static void open_auth(struct ag__srv *s)
{
    if (!s->store || !s->ledger)
        return;
    const char *path = ag_home_path(s->home, AG_HOME_MASTER_KEY);
    uint8_t key[AG_AUTH_KEY_LEN];
    ag_err e = ag_home_master_key(s->home, key);
    if (e == AG_OK) {
        struct ag_auth_opts ao = {
            .store = s->store,
            .ledger = s->ledger,
            .master_key = key,
            .master_key_path = path,
            /* Redis may be down at start: the keyring is loaded when it is up. */
            .lazy_keyring = 1};
        e = ag_auth_new(&ao, &s->auth);
    }
    if (e == AG_OK) {
        struct ag_auth_policy_source src = {auth_policy_get, auth_policy_put, s};
        ag_auth_set_policy_source(s->auth, &src);
    }
    explicit_bzero(key, sizeof key);
    if (e) {
        s->auth = NULL;
        ag__log(AG_LOG_ERROR, "auth",
                "cannot open the auth engine (%s): %s: %s; endpoints "
                "that need a token will answer 503",
                path, ag_strerror(e), ag_last_error());
    }
}

static void open_backends(struct ag__srv *s)
{
    /* The daemon holds the ledger: created when missing, sealed at close. Its settings
     * are complete (files and flags): the home reads no config for them. */
    struct ag_home_opts ho = {.store = s->cfg.store,
                              .policy = s->cfg.policy,
                              .ledger = AG_HOME_LEDGER_LONG,
                              .create_ledger = 1,
                              .lazy_config = 1,
                              /* A store down at start is connected when it comes up. */
                              .retry_store = 1};
    ag_err e = ag_home_open(s->dir, &ho, &s->home);
    if (e) {
        s->home = NULL;
        ag__log(AG_LOG_ERROR, "home", "cannot open the data directory %s: %s: %s", s->dir,
                ag_strerror(e), ag_last_error());
        return;
    }
    const char *url;
    if (ag_home_store_url(s->home, &url) == AG_OK)
        snprintf(s->store_url, sizeof s->store_url, "%s", url);
    e = ag_home_ledger(s->home, &s->ledger);
    if (e) {
        s->ledger = NULL;
        ag__log(AG_LOG_ERROR, "ledger",
                "cannot open %s: %s; every decision will be deny "
                "(ledger_unavailable)",
                ag_home_path(s->home, AG_HOME_LEDGER_DB), ag_last_error());
    }
    atomic_store(&s->ledger_ok, s->ledger != NULL);
    e = ag_home_store(s->home, &s->store);
    if (e) {
        s->store = NULL;
        ag__log(AG_LOG_ERROR, "store",
                "cannot open %s: %s; every decision will be deny "
                "(store_unavailable)",
                s->store_url, ag_last_error());
    }
    ag__resilience_attach(s);
    open_auth(s);
    ag__srv_open_events(s);
    if (s->ledger &&
        ag__audit_start(s->ledger, &s->metrics.auth_refusals_unrecorded, &s->audit) != AG_OK) {
        s->audit = NULL;
        ag__log(AG_LOG_ERROR, "audit", "refused credentials will not be ledgered: %s",
                ag_last_error());
    }
}

ag_err ag__server_new(const struct ag__server_config *cfg, const char *dir, struct ag__srv **out)
{
    ag_err e = ag__crypto_init();
    if (e || (e = ag_otel_config_check(&cfg->otel)))
        return e;
    struct ag__srv *s = calloc(1, sizeof *s);
    if (!s)
        return AG_ENOMEM;
    s->cfg = *cfg;
    s->listen_fd = -1;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    pthread_mutex_init(&s->conns_mu, NULL);
    pthread_mutex_init(&s->work_mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    ag__polref_init(&s->policy);
    ag__handlers_routes(&s->routes, &s->nroutes);
    const char *names[AG_METRICS_MAX_ROUTES];
    names[0] = "unmatched";
    size_t nn = 1;
    for (size_t i = 0; i < s->nroutes && nn < AG_METRICS_MAX_ROUTES; i++)
        names[nn++] = s->routes[i].name;
    ag__metrics_init(&s->metrics, names, nn);
    open_backends(s);
    ag__otel_open(s);
    if (ag__ui_new(s, &s->ui) != AG_OK) {
        s->ui = NULL;
        ag__log(AG_LOG_ERROR, "ui", "the dashboard is unavailable: out of memory");
    }
    choose_policy(s);
    if (ag__server_reload_policy(s) == AG_OK) {
        ag__log(AG_LOG_INFO, "policy", "loaded %s", s->policy_path);
    } else {
        ag__log(AG_LOG_ERROR, "policy",
                "cannot load %s: %s; every decision is deny (no_policy) until a good "
                "policy is loaded with SIGHUP",
                s->policy_path[0] ? s->policy_path : "(no policy file)", ag_last_error());
        /* The lifecycle still runs, denying with no_policy (fail closed). */
        if (install_policy(s, NULL) != AG_OK)
            ag__log(AG_LOG_ERROR, "policy", "cannot start the lifecycle: %s", ag_last_error());
    }
    *out = s;
    return AG_OK;
}

/* ---- listening ---------------------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(a))
            return a->s6_addr[12] == 127;
    }
    return 0;
}

static ag_err listen_unix(struct ag__srv *s, const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path)
        return ag__fail(AG_EINVAL, "listen: socket path too long: %s", path);
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ag__fail(AG_EIO, "socket: %s", strerror(errno));
    /* A stale socket file from a killed daemon would make bind fail; a live daemon
     * answers connect, in which case we refuse rather than steal its path. */
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
        close(fd);
        return ag__fail(AG_EEXIST, "listen: %s: another daemon is listening there", path);
    }
    unlink(path);
    mode_t old = umask(0177); /* the socket is as private as the data directory */
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (rc != 0 || listen(fd, 1024) != 0) {
        int err = errno;
        close(fd);
        return ag__fail(AG_EIO, "listen: %s: %s", path, strerror(err));
    }
    snprintf(s->unix_path, sizeof s->unix_path, "%s", path);
    s->listen_fd = fd;
    return AG_OK;
}

static ag_err listen_tcp(struct ag__srv *s, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return ag__fail(AG_EINVAL, "listen: %s:%s: %s", host, port, gai_strerror(rc));
    if (!is_loopback(res->ai_addr)) {
        if (!s->cfg.allow_remote) {
            freeaddrinfo(res);
            return ag__fail(AG_EPERM,
                            "listen: %s is not a loopback address; pass "
                            "--allow-remote to listen on it",
                            host);
        }
        if (!s->tls && !s->cfg.insecure_remote) {
            freeaddrinfo(res);
            return ag__fail(AG_EPERM,
                            "listen: %s is not a loopback address and the daemon has no TLS: "
                            "tokens would cross the network in the clear; pass --tls-cert and "
                            "--tls-key (agentgov init --tls makes a pair), or --insecure-remote",
                            host);
        }
        ag__log(AG_LOG_WARN, "listen",
                "listening on non-loopback address %s:%s: anyone who "
                "can reach it can call the API (tokens still required)",
                host, port);
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return ag__fail(AG_EIO, "listen: %s:%s: %s", host, port, strerror(err));
    }
    freeaddrinfo(res);
    s->listen_fd = fd;
    return AG_OK;
}

/* ---- connections and the slow-client deadline ------------------------------------ */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct ag__srv *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct ag__conn *c = calloc(1, sizeof *c);
        if (!c)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? ci->connect_fd : -1;
        atomic_init(&c->deadline, ag__mono_ms() + s->cfg.timeout_ms);
        pthread_mutex_lock(&s->conns_mu);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        pthread_mutex_unlock(&s->conns_mu);
        atomic_fetch_add(&s->metrics.connections, 1);
        *socket_ctx = c;
        return;
    }
    struct ag__conn *c = *socket_ctx;
    if (!c)
        return;
    /* MHD notifies before it closes the socket, so under conns_mu the reaper never
     * shuts down a descriptor number that was reused by another connection. */
    pthread_mutex_lock(&s->conns_mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->conns_mu);
    atomic_fetch_sub(&s->metrics.connections, 1);
    free(c);
    *socket_ctx = NULL;
}

/* libmicrohttpd's own timeout only fires after a period of silence, so a client that
 * sends one header byte per second would hold its connection forever. This cuts
 * connections whose next request is not whole by its deadline. */
static void reap_slow(struct ag__srv *s)
{
    int64_t now = ag__mono_ms();
    pthread_mutex_lock(&s->conns_mu);
    for (struct ag__conn *c = s->conns; c; c = c->next) {
        if (c->cut || atomic_load(&c->busy) || now <= atomic_load(&c->deadline) || c->fd < 0)
            continue;
        c->cut = 1;
        shutdown(c->fd, SHUT_RDWR);
        ag__log(AG_LOG_INFO, "timeout",
                "closed a connection whose request was not complete "
                "within %lld ms",
                (long long)s->cfg.timeout_ms);
    }
    pthread_mutex_unlock(&s->conns_mu);
}

/* The health check reads the store's state from here rather than asking the store
 * itself: the health probes run from the main loop every 250 ms (server/resilience.c),
 * which keeps health answers cheap and never blocks an I/O thread on a store that hangs. */
static void probe_store(struct ag__srv *s)
{
    ag__resilience_tick(s);
}

/* ---- requests --------------------------------------------------------------------- */

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    size_t *total = cls;
    *total += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static void route_request(struct ag__req *r, const char *method)
{
    snprintf(r->method, sizeof r->method, "%s", method);
    if (strcmp(method, "GET") == 0) {
        const char *list = ag__req_query(r, "list");
        if (list && strcmp(list, "true") == 0)
            strcpy(r->method, "LIST");
    }
    size_t n = strlen(r->path);
    while (n > 1 && r->path[n - 1] == '/') /* Vault's LIST paths end in '/' */
        r->path[--n] = '\0';
    const char *m = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    ag__route_find(r->srv->routes, r->srv->nroutes, m, r->path, &r->m);
}

static struct ag__req *begin_request(struct ag__srv *s, struct MHD_Connection *conn,
                                     const char *url, const char *method)
{
    struct ag__req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->url = url;
    r->start_ns = ag__mono_ns();
    ag__buf_init(&r->body);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->c = ci ? ci->socket_context : NULL;
    if (r->c) {
        r->deadline_ms = atomic_load(&r->c->deadline);
        atomic_store(&r->c->busy, 1);
    } else {
        r->deadline_ms = ag__mono_ms() + s->cfg.timeout_ms;
    }
    atomic_fetch_add(&s->inflight, 1);
    r->path = strdup(url);
    if (!r->path) {
        ag__reply_error(r, 500, "out of memory");
        return r;
    }
    route_request(r, method);
    if (atomic_load(&s->draining)) {
        ag__reply_error(r, 503, "shutting down");
        return r;
    }
    size_t hdr = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, sum_header, &hdr);
    if ((int64_t)hdr > s->cfg.max_header_bytes) {
        ag__reply_error(r, 431, "request headers are %zu bytes, more than the limit of %lld", hdr,
                        (long long)s->cfg.max_header_bytes);
        return r;
    }
    const char *cl = ag__req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > s->cfg.max_body_bytes)
        ag__reply_error(r, 413, "request body of %s bytes is larger than the limit of %lld", cl,
                        (long long)s->cfg.max_body_bytes);
    return r;
}

static void remote_of(struct MHD_Connection *conn, char *buf, size_t len);

int ag__req_refused(struct ag__req *r, const char *agent, const char *reason)
{
    atomic_fetch_add(&r->srv->metrics.auth_refusals, 1);
    char remote[64];
    remote_of(r->conn, remote, sizeof remote);
    struct ag__audit_event ev = {.agent_id = agent,
                                 .reason = reason,
                                 .method = r->method,
                                 .path = r->url,
                                 .remote = remote,
                                 .token = r->token,
                                 .message = r->error};
    ag__audit_refusal(r->srv->audit, &ev);
    return 0;
}

/* Identifies the caller of a route that needs a token: X-Vault-Token or
 * Authorization: Bearer, validated by the auth engine. Replies and returns 0 when the
 * caller may not go on. */
static int authenticate(struct ag__req *r)
{
    enum ag__route_auth need = r->m.route->auth;
    if (need == AG_ROUTE_PUBLIC)
        return 1;
    if (!r->srv->auth) {
        ag__reply_error(r, 503, "the auth engine is unavailable; nobody can be identified");
        return 0;
    }
    r->token = ag__req_token(r);
    if (!r->token && !ag__ui_session_auth(r))
        return 0; /* a dashboard session that has ended, or a CSRF refusal */
    if (!r->token) {
        ag__reply_error(r, 403,
                        "permission denied: missing client token (X-Vault-Token or "
                        "Authorization: Bearer)");
        return ag__req_refused(r, NULL, "token_missing");
    }
    ag_err e = ag_auth_token_lookup(r->srv->auth, r->token, &r->tok);
    if (e == AG_OK && (r->tok.root || r->tok.tier >= AG_TIER_MAX)) {
        /* Administrative rights: a revocation by another process counts at once. */
        ag_token_info_clear(&r->tok);
        e = ag_auth_token_lookup_fresh(r->srv->auth, r->token, &r->tok);
    }
    if (e) {
        ag__reply_ag_error(r, e, "token");
        /* A store or engine failure (5xx) says nothing about the caller's token. */
        return e == AG_EPERM ? ag__req_refused(r, NULL, "token_refused") : 0;
    }
    r->admin = r->tok.root || r->tok.tier >= AG_TIER_MAX;
    snprintf(r->agent, sizeof r->agent, "%s", r->tok.agent_id);
    if (need == AG_ROUTE_ADMIN && !r->admin) {
        ag__reply_error(r, 403, "permission denied: %s %s needs a tier-4 or root token", r->method,
                        r->url);
        return ag__req_refused(r, r->tok.agent_id, "admin_required");
    }
    return 1;
}

static void dispatch(struct ag__req *r)
{
    if (r->status)
        return;
    if (r->body_too_big) {
        ag__reply_error(r, 413, "request body is larger than the limit of %lld bytes",
                        (long long)r->srv->cfg.max_body_bytes);
        return;
    }
    if (!r->m.route) {
        if (r->m.path_matched)
            ag__reply_error(r, 405, "unsupported operation: %s %s", r->method, r->url);
        else
            ag__reply_error(r, 404, "no handler for route \"%s\"", r->url);
        return;
    }
    if (!authenticate(r))
        return;
    ag__otel_begin(r);
    r->m.route->fn(r);
    ag__otel_end(r);
    if (!r->status)
        ag__reply_error(r, 500, "handler gave no reply");
    ag__ui_after(r);
}

static enum MHD_Result send_reply(struct ag__req *r)
{
    struct MHD_Response *resp;
    if (r->stream) /* a live tail: the response owns the stream from here */
        resp = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, 64 * 1024, r->stream_read ? r->stream_read : ag__ui_tail_read,
            r->stream, r->stream_free ? r->stream_free : ag__ui_tail_free);
    else
        resp = MHD_create_response_from_buffer(r->reply_len, r->reply ? r->reply : (void *)"",
                                               r->reply ? MHD_RESPMEM_MUST_FREE
                                                        : MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    r->reply = NULL; /* owned by the response now */
    r->stream = NULL;
    ag__ui_headers(r, resp);
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->mcp_session[0])
        MHD_add_response_header(resp, "Mcp-Session-Id", r->mcp_session);
    if (atomic_load(&r->srv->draining) || r->status == 413 || r->status == 431)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- worker pool ------------------------------------------------------------------ */

static void work_push(struct ag__srv *s, struct ag__req *r)
{
    atomic_fetch_add(&s->work_active, 1);
    pthread_mutex_lock(&s->work_mu);
    r->work_next = NULL;
    if (s->work_tail)
        s->work_tail->work_next = r;
    else
        s->work_head = r;
    s->work_tail = r;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->work_mu);
}

/* Runs queued handlers. After MHD_resume_connection the request belongs to the I/O
 * thread again, so the worker must not touch it afterwards. */
static void *worker_main(void *arg)
{
    struct ag__srv *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->work_mu);
        while (!s->work_head && !s->work_stop)
            pthread_cond_wait(&s->work_cv, &s->work_mu);
        struct ag__req *r = s->work_head;
        if (!r) {
            pthread_mutex_unlock(&s->work_mu);
            return NULL;
        }
        s->work_head = r->work_next;
        if (!s->work_head)
            s->work_tail = NULL;
        pthread_mutex_unlock(&s->work_mu);
        dispatch(r);
        struct MHD_Connection *conn = r->conn;
        atomic_store(&r->work_done, 1);
        MHD_resume_connection(conn);
        atomic_fetch_sub(&s->work_active, 1);
    }
}

static ag_err start_workers(struct ag__srv *s, size_t n)
{
    s->workers = calloc(n, sizeof *s->workers);
    if (!s->workers)
        return AG_ENOMEM;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&s->workers[i], &attr, worker_main, s) != 0)
            break;
        s->nworkers++;
    }
    pthread_attr_destroy(&attr);
    return s->nworkers ? AG_OK : ag__fail(AG_EINTERNAL, "cannot start worker threads");
}

static void stop_workers(struct ag__srv *s)
{
    pthread_mutex_lock(&s->work_mu);
    s->work_stop = 1;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->work_mu);
    for (size_t i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_ctx)
{
    (void)version;
    struct ag__srv *s = cls;
    struct ag__req *r = *req_ctx;
    if (!r) {
        r = begin_request(s, conn, url, method);
        if (!r)
            return MHD_NO;
        *req_ctx = r;
        /* An early error (413 on Content-Length, 431, draining) is sent at once; MHD
         * then closes the connection instead of reading the body. */
        return r->status ? send_reply(r) : MHD_YES;
    }
    if (*upload_size) {
        if (ag__mono_ms() > r->deadline_ms) {
            ag__log(AG_LOG_INFO, "timeout", "cut %s %s: body not complete within %lld ms",
                    r->method, r->url, (long long)s->cfg.timeout_ms);
            return MHD_NO;
        }
        if (!r->status && !r->body_too_big) {
            if ((int64_t)(r->body.len + *upload_size) > s->cfg.max_body_bytes)
                r->body_too_big = 1;
            else
                ag__buf_append(&r->body, upload, *upload_size);
        }
        /* libmicrohttpd accepts a reply only before the body or after all of it, so
         * the rest of an oversized body is read and dropped (within the deadline). */
        *upload_size = 0;
        return MHD_YES;
    }
    if (atomic_load(&r->work_done)) /* resumed after a worker ran the handler */
        return send_reply(r);
    if (r->status) /* already replied early; MHD is finishing the exchange */
        return MHD_YES;
    if (ag__buf_status(&r->body) != AG_OK)
        ag__reply_error(r, 500, "out of memory");
    if (s->nworkers && r->m.route && r->m.route->blocking && !r->body_too_big) {
        MHD_suspend_connection(conn);
        work_push(s, r);
        return MHD_YES;
    }
    dispatch(r);
    return send_reply(r);
}

static void remote_of(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, len, "unix");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)len);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_ctx,
                         enum MHD_RequestTerminationCode toe)
{
    struct ag__srv *s = cls;
    struct ag__req *r = *req_ctx;
    if (!r)
        return;
    int status = r->status ? r->status : 499; /* 499: the client went away first */
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->status)
        status = r->status;
    size_t ri = r->m.route ? r->m.index + 1 : 0;
    ag__metrics_request(&s->metrics, ri, status);
    if (ag__log_enabled(AG_LOG_INFO)) {
        char remote[64];
        remote_of(conn, remote, sizeof remote);
        struct ag__log_request lr = {.method = r->method,
                                     .path = r->url ? r->url : "",
                                     .status = status,
                                     .route = r->m.route ? r->m.route->name : "-",
                                     .duration_us = (ag__mono_ns() - r->start_ns) / 1000,
                                     .remote = remote,
                                     .agent = r->agent[0] ? r->agent : NULL,
                                     .error = r->error[0] ? r->error : NULL};
        ag__log_request(&lr);
    }
    if (r->c) {
        atomic_store(&r->c->deadline, ag__mono_ms() + s->cfg.timeout_ms);
        atomic_store(&r->c->busy, 0);
    }
    json_decref(r->json);
    ag__polref_put(r->pol);
    ag_token_info_clear(&r->tok);
    ag__ui_req_done(r);
    ag__buf_free(&r->body);
    free(r->reply);
    free(r->path);
    free(r);
    *req_ctx = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    ag__log(AG_LOG_DEBUG, "http", "%s", msg);
}

ag_err ag__server_start(struct ag__srv *s)
{
    int is_unix;
    char host[256], port[16];
    ag_err e = ag__parse_listen(s->cfg.listen, &is_unix, host, sizeof host, port, sizeof port);
    if (e)
        return e;
    struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}};
    e = ag__server_tls_load(s, tls);
    if (e)
        return e;
    e = is_unix ? listen_unix(s, s->cfg.listen + 5) : listen_tcp(s, host, port);
    if (e)
        return e;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (s->tls)
        flags |= MHD_USE_TLS;
    unsigned pool = 0;
    if (!s->cfg.epoll) {
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    } else {
        /* One I/O thread per core; blocking handlers go to the worker pool. */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        pool = (unsigned)(cpus < 1 ? 1 : cpus > 8 ? 8 : cpus);
        flags |= MHD_USE_EPOLL | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME;
        e = start_workers(s, (size_t)s->cfg.threads);
        if (e)
            return e;
    }
    unsigned timeout_s = (unsigned)((s->cfg.timeout_ms + 999) / 1000);
    /* The connection's memory pool holds the headers and the read/write buffers; it is
     * sized above max_header_bytes so the daemon's own check (a JSON 431) fires before
     * libmicrohttpd's built-in refusal, but not much more: libmicrohttpd clears the
     * pool between requests, so its size is paid on every request. */
    size_t pool_mem = (size_t)s->cfg.max_header_bytes + 16384;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool_mem,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)(256 * 1024), MHD_OPTION_ARRAY, tls,
        pool ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, pool, MHD_OPTION_END);
    if (!s->mhd && s->tls) /* GnuTLS refused the pair (its reason is in the debug log) */
        return ag__fail(AG_EINVAL,
                        "cannot serve TLS on %s: tls.cert %s and tls.key %s are not a PEM "
                        "certificate and its private key",
                        s->cfg.listen, s->cfg.tls_cert, s->cfg.tls_key);
    if (!s->mhd)
        return ag__fail(AG_EIO, "libmicrohttpd could not start on %s", s->cfg.listen);
    probe_store(s);
    ag__pipelines_resume(s); /* runs whose driver died with the previous daemon */
    if (pool)
        ag__log(AG_LOG_INFO, "start",
                "listening on %s%s (epoll, %u I/O threads, %zu workers), "
                "data directory %s, store %s",
                s->cfg.listen, s->tls ? " with TLS" : "", pool, s->nworkers, s->dir, s->store_url);
    else
        ag__log(AG_LOG_INFO, "start",
                "listening on %s%s (thread per connection), data "
                "directory %s, store %s",
                s->cfg.listen, s->tls ? " with TLS" : "", s->dir, s->store_url);
    ag__srv_start_notify(s);
    return AG_OK;
}

/* ---- signals, drain, teardown -------------------------------------------------------- */

void ag__server_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void drain(struct ag__srv *s)
{
    atomic_store(&s->draining, 1);
    MHD_socket lfd = MHD_quiesce_daemon(s->mhd); /* stop accepting; keep the socket */
    ag__log(AG_LOG_INFO, "stop", "draining: no new connections, %ld request(s) in flight",
            atomic_load(&s->inflight));
    ag__ui_drain(s->ui);     /* live tails end rather than hold the drain */
    ag__mcp_routes_drain(s); /* and so do relayed MCP streams */
    int64_t until = ag__mono_ms() + s->cfg.drain_ms;
    while (atomic_load(&s->inflight) > 0 && ag__mono_ms() < until)
        usleep(5000);
    if (atomic_load(&s->inflight) > 0)
        ag__log(AG_LOG_WARN, "stop", "%ld request(s) still in flight after %lld ms; closing",
                atomic_load(&s->inflight), (long long)s->cfg.drain_ms);
    /* A handler on a worker holds a suspended connection that MHD must not free under
     * it: those are always waited for (they are bounded by the ledger and store). */
    while (atomic_load(&s->work_active) > 0)
        usleep(5000);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    s->listen_fd = -1;
}

void ag__server_run(struct ag__srv *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig < 0) {
            reap_slow(s);
            probe_store(s);
            ag__srv_sweep_approvals(s);
            continue;
        }
        if (sig == SIGHUP) {
            choose_policy(s); /* a policy.yaml may have appeared in the data directory */
            if (ag__server_reload_policy(s) == AG_OK) {
                atomic_fetch_add(&s->metrics.policy_reloads, 1);
                ag__log(AG_LOG_INFO, "reload", "policy reloaded from %s", s->policy_path);
            } else {
                atomic_fetch_add(&s->metrics.policy_reload_failures, 1);
                ag__log(AG_LOG_ERROR, "reload", "policy %s rejected, keeping the old one: %s",
                        s->policy_path[0] ? s->policy_path : "(none)", ag_last_error());
            }
            continue;
        }
        ag__log(AG_LOG_INFO, "stop", "received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        drain(s);
        return;
    }
}

void ag__server_free(struct ag__srv *s)
{
    if (!s)
        return;
    if (s->mhd) {
        /* Suspended live tails must be resumed (and end) before libmicrohttpd stops. */
        ag__ui_drain(s->ui);
        ag__mcp_routes_drain(s);
        for (int i = 0; i < 200 && atomic_load(&s->inflight) > 0; i++)
            usleep(5000);
        while (atomic_load(&s->work_active) > 0)
            usleep(5000);
        MHD_stop_daemon(s->mhd);
    }
    stop_workers(s);
    pthread_mutex_destroy(&s->work_mu);
    pthread_cond_destroy(&s->work_cv);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->unix_path[0])
        unlink(s->unix_path);
    /* Users of the ledger and the store go first: the lifecycle handles (in the policy
     * nodes) and the auth engine borrow them. */
    ag__ui_free(s->ui);     /* after the daemon: its tails' responses are gone */
    ag__mcp_routes_free(s); /* before the policies its gateways hold */
    free(s->tls_cert_pem);
    if (s->tls_key_pem) {
        explicit_bzero(s->tls_key_pem, strlen(s->tls_key_pem));
        free(s->tls_key_pem);
    }
    ag__srv_stop_notify(s);
    ag__polref_free(&s->policy);
    ag_approve_free(s->approve);
    ag_notify_free(s->notify);
    ag_auth_free(s->auth);
    ag__audit_stop(s->audit); /* appends what it holds */
    ag__otel_close(s);        /* the last appender gone; before the ledger closes */
    if (s->ledger) {
        int64_t seq = 0;
        char hash[AG_HASH_HEX_LEN] = "";
        if (ag_ledger_head(s->ledger, &seq, hash) == AG_OK)
            ag__log(AG_LOG_INFO, "stop", "ledger head seq %lld %s; writing final checkpoint",
                    (long long)seq, hash);
    }
    ag_home_free(s->home);  /* the ledger (final checkpoint) and the store */
    ag__resilience_free(s); /* after them: they borrow its breakers */
    pthread_mutex_destroy(&s->conns_mu);
    free(s);
}
