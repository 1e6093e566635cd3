/* The governance daemon: an HTTP/JSON server (libmicrohttpd) over the policy, the
 * ledger, the store, the lifecycle and the auth engine. Ownership: struct
 * ag__srv is made by ag__server_new and released by ag__server_free; a struct ag__req
 * lives for one HTTP request and everything a handler attaches to it (reply body,
 * parsed JSON) is freed with it. Only src/server and src/cli log. */
#ifndef AG_SERVER_SERVER_H
#define AG_SERVER_SERVER_H

#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "agentgov/store.h"
#include "core/buf.h"
#include "agentgov/approve.h"
#include "agentgov/auth.h"
#include "agentgov/config.h"
#include "agentgov/gov.h"
#include "agentgov/home.h"
#include "agentgov/notify.h"
#include "agentgov/otel.h"
#include "server/metrics.h"
#include "server/resilience.h"
#include "server/polref.h"
#include "server/router.h"

struct ag__conn; /* one TCP/Unix connection, tracked for the request deadline */

/* The daemon's settings, taken from the shared settings table (agentgov/config.h). */
struct ag__server_config {
    char listen[PATH_MAX];    /* "127.0.0.1:8200", "[::1]:8200" or "unix:PATH" */
    int allow_remote;         /* 1: a non-loopback address is allowed (logged) */
    int log_json;             /* 1: JSON log lines */
    int log_level;            /* enum ag__log_level */
    int64_t max_body_bytes;   /* request body limit (413 above) */
    int64_t max_header_bytes; /* total request header limit (431 above) */
    int64_t max_json_depth;   /* nesting limit of request bodies (400 above) */
    int64_t timeout_ms;       /* a request must arrive whole within this; also idle */
    int64_t max_connections;  /* connections beyond it are refused */
    int epoll;                /* 0: a thread per connection; 1: epoll pool */
    int64_t threads;          /* worker threads for blocking handlers (epoll mode) */
    int64_t drain_ms;         /* SIGTERM: how long in-flight requests may take */
    int64_t checkpoint_every; /* ledger checkpoint every N entries */
    struct ag_gov_opts gov;   /* lifecycle key TTLs */
    char policy[PATH_MAX];    /* policy file; "" = <dir>/policy.yaml or the default */
    char store[PATH_MAX];     /* store URL; "" = sqlite:<dir>/state.db */
    /* approvals.timeout, and notify.* (copies: the settings handle is gone once the
     * daemon runs) */
    int64_t approvals_timeout_ms;
    char slack_url[2048], slack_signing_secret[2048], slack_users[8192];
    char webhook_url[2048], webhook_secret[2048];
    char gh_api[2048], gh_repo[256], gh_token[2048];
    int64_t gh_issue, notify_timeout_ms, notify_backoff_ms, notify_backoff_max_ms;
    int notify_max_attempts;
    struct ag_breaker_config notify_breaker; /* breaker.notify.* */
    /* Breakers and health (server/resilience.h). */
    struct ag__resilience_config res;
    /* TLS: both PEM files set, HTTPS; a non-loopback address needs it unless
     * insecure_remote. */
    char tls_cert[PATH_MAX];
    char tls_key[PATH_MAX];
    int insecure_remote;
    struct ag_otel_config otel; /* otel.* and breaker.otel.* (server/otel_feed.h) */
};

/* --tls-cert and --tls-key read into s (s->tls set) and described in opts for
 * libmicrohttpd (three items, ending with MHD_OPTION_END; only the end without TLS).
 * One setting without the other, or a file that cannot be read, is an error naming it. */
AG_MUST_USE ag_err ag__server_tls_load(struct ag__srv *s, struct MHD_OptionItem opts[3]);

/* Reads the daemon's settings from a settings handle. */
void ag__server_config_from(const ag_config *c, struct ag__server_config *out);

struct ag__srv {
    struct ag__server_config cfg;
    char dir[PATH_MAX];              /* data directory */
    char policy_path[PATH_MAX + 32]; /* "" when no policy file was found */
    char store_url[PATH_MAX + 16];
    struct ag__polref policy;
    struct ag__metrics metrics;
    ag_home *home;           /* the data directory; owns ledger and store */
    ag_ledger *ledger;       /* NULL: every decision is deny ledger_unavailable */
    ag_store *store;         /* NULL: every decision is deny store_unavailable */
    ag_auth *auth;           /* NULL: endpoints that need a token answer 503 */
    struct ag__audit *audit; /* refused credentials into the ledger; NULL without one */
    struct ag__ui *ui;       /* dashboard sessions and live tails (server/ui.h) */
    int tls;                 /* 1: served over TLS (cookies are Secure) */
    _Atomic int ledger_ok;   /* 0 after a failed append, 1 after a good one */
    _Atomic int store_ok;    /* last store probe (main thread, every 250 ms) */
    int64_t store_probed_ms;
    /* TLS, read at start and kept for libmicrohttpd (server/tls.c). */
    char *tls_cert_pem;
    char *tls_key_pem;
    /* Approvals and notifications (events.c): NULL without store and ledger, and the
     * outbox also when its channels are misconfigured. */
    ag_approve *approve;
    int64_t approvals_swept_ms;
    ag_notify *notify;
    pthread_t notify_thread; /* delivers the outbox (started with the server) */
    int notify_running;
    _Atomic int notify_stop;
    ag_otel *otel; /* OpenTelemetry export (otel_feed.c); NULL: off */
    /* Breakers around the store and the ledger, and health. */
    struct ag__resilience res;
    const struct ag__route *routes;
    size_t nroutes;
    struct MHD_Daemon *mhd;
    int listen_fd;
    char unix_path[PATH_MAX]; /* socket file to unlink at exit */
    _Atomic int draining;     /* SIGTERM received: new requests get 503 */
    _Atomic long inflight;    /* requests between first byte handled and completion */
    pthread_mutex_t conns_mu;
    struct ag__conn *conns;
    /* Worker pool (epoll mode): blocking handlers run here while their connection is
     * suspended, so the I/O threads keep serving other connections. */
    pthread_mutex_t work_mu;
    pthread_cond_t work_cv;
    struct ag__req *work_head, *work_tail;
    int work_stop;
    _Atomic long work_active; /* queued or running */
    pthread_t *workers;
    size_t nworkers;
    struct ag__mcp_routes *mcp; /* /v1/mcp/{server}'s gateways (handlers_mcp.c) */
};

/* One HTTP request. */
struct ag__req {
    struct ag__srv *srv;
    struct MHD_Connection *conn;
    struct ag__conn *c;
    char method[16]; /* the effective method: LIST for GET ?list=true */
    const char *url; /* as received (decoded path, without the query) */
    char *path;      /* copy of url cut into segments by the router */
    struct ag__route_match m;
    struct ag_buf body;
    int body_too_big;
    int64_t start_ns;
    int64_t deadline_ms;         /* monotonic: the request must be whole by then */
    json_t *json;                /* parsed body, owned */
    struct ag__req *work_next;   /* worker queue link */
    _Atomic int work_done;       /* the worker produced the reply */
    char agent[128];             /* identity of the caller's token, for the log */
    const char *token;           /* the caller's token (routes that need one) */
    struct ag_token_info tok;    /* what the token is, once validated */
    int admin;                   /* the token is root or tier 4 */
    struct ag__polref_node *pol; /* policy + lifecycle held for this request, or NULL */
    /* Reply */
    int status;
    char *reply; /* malloc'd body */
    size_t reply_len;
    const char *content_type;
    char error[256]; /* first error message, for the log */
    /* Dashboard (server/ui.h) */
    char *session_token; /* the token a session cookie stands for, owned */
    int via_session;     /* authenticated by a dashboard session */
    int ui;              /* a dashboard reply: strict CSP and friends */
    char *set_cookie;    /* Set-Cookie value, owned */
    void *stream;        /* a live tail: the reply is streamed */
    /* How the stream is read and freed; NULL: a live tail's (ui.c) */
    long (*stream_read)(void *cls, uint64_t pos, char *buf, size_t max);
    void (*stream_free)(void *cls);
    char mcp_session[256]; /* Mcp-Session-Id to send back (handlers_mcp.c), "" : none */
};

/* Builds the daemon from a configuration and a data directory: loads the policy,
 * opens the ledger and the store. A ledger or store that cannot be opened is logged
 * and left NULL (the daemon then denies with that reason: fail closed); an address it
 * may not listen on is an error. */
AG_MUST_USE ag_err ag__server_new(const struct ag__server_config *cfg, const char *dir,
                                  struct ag__srv **out);
/* Binds and starts serving. */
AG_MUST_USE ag_err ag__server_start(struct ag__srv *s);
/* Waits for signals: SIGHUP reloads the policy, SIGTERM/SIGINT drain and stop.
 * Returns when the daemon has stopped. The caller must have blocked those signals
 * (ag__server_block_signals) before ag__server_start so no other thread takes them. */
void ag__server_run(struct ag__srv *s);
void ag__server_block_signals(void);
/* Reloads the policy file; a file that fails lint leaves the old policy in place and
 * the reason in ag_last_error(). */
AG_MUST_USE ag_err ag__server_reload_policy(struct ag__srv *s);
/* Stops serving (if started), closes the ledger with its final checkpoint, frees. */
void ag__server_free(struct ag__srv *s);

/* Replies, for handlers. Each sets the status and body once; later calls are ignored. */
void ag__reply_json(struct ag__req *r, int status, json_t *body); /* steals body */
void ag__reply_error(struct ag__req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ag__reply_raw(struct ag__req *r, int status, const char *content_type, char *body,
                   size_t len); /* takes body (malloc'd) */
/* The request body as a JSON object, parsed once with the depth limit. On a malformed,
 * too deep or non-object body it replies 400 and returns NULL. An empty body gives an
 * empty object. */
json_t *ag__req_json(struct ag__req *r);
const char *ag__req_header(struct ag__req *r, const char *name);
const char *ag__req_query(struct ag__req *r, const char *name);
/* The client token from X-Vault-Token or Authorization: Bearer, or NULL. */
const char *ag__req_token(struct ag__req *r);

/* Deepest nesting of arrays/objects in a JSON text (strings are skipped), stopping
 * early once limit is exceeded. */
int ag__json_depth(const char *text, size_t len, int limit);

/* Parses a listen address: "unix:PATH", "HOST:PORT" or "[V6]:PORT". *is_unix is set;
 * host/port are filled for TCP. AG_EINVAL names what is wrong. */
AG_MUST_USE ag_err ag__parse_listen(const char *addr, int *is_unix, char *host, size_t hostlen,
                                    char *port, size_t portlen);

#endif
