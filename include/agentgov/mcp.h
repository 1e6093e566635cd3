/* The MCP gateway: an MCP client talks to agentgov in place of the server, and every
 * tools/call, resources/read and prompts/get is decided by the policy and ledgered before
 * the server sees it. `agentgov mcp proxy` relays the stdio transport (newline-delimited
 * JSON-RPC 2.0) to a child server. Ownership: the options lend the home and strings for
 * the life of the call; the library prints nothing, and reports through o->report. */
#ifndef AGENTGOV_MCP_H
#define AGENTGOV_MCP_H

#include <stddef.h>
#include <sys/types.h>

#include "agentgov/err.h"
#include "agentgov/home.h"

/* The longest message either side may send, unless the options say otherwise. */
#define AG_MCP_MAX_MESSAGE (4u << 20)

/* One line for the operator (the CLI prints it on stderr). */
typedef void (*ag_mcp_report_fn)(void *ctx, const char *line);
/* Starts the server: argv with stdin on in_fd and stdout on out_fd (stderr shared),
 * e.g. under the sandbox of a tier; *pid the child. */
typedef ag_err (*ag_mcp_spawn_fn)(void *ctx, char *const argv[], int in_fd, int out_fd, pid_t *pid);

struct ag_mcp_opts {
    ag_home *home;      /* the data directory (lent): policy, ledger, store; required */
    const char *server; /* the server's name in actions mcp.<server>.<tool>; required */
    const char *agent;  /* the agent recorded and judged; NULL: "mcp" (then tier is needed) */
    int tier;           /* -1: the agent's registered tier */
    size_t max_message; /* 0: AG_MCP_MAX_MESSAGE */
    ag_mcp_report_fn report;
    void *report_ctx;
    /* The policy to judge with, lent for the session's life; NULL: the home's. (The
     * daemon passes the policy it has loaded, which a reload replaces.) */
    const ag_policy *policy;
    ag_mcp_spawn_fn spawn; /* NULL: fork and exec, unconfined */
    void *spawn_ctx;
};

/* Starts argv (argv[0] looked up on PATH) as the server, with its stdin and stdout on
 * pipes and its stderr shared, and relays between this process's stdin/stdout and the
 * child until the client closes stdin (the child is then given its stdin's EOF, then
 * SIGTERM after 2 s) or the child exits (its status reported, the client's pending
 * requests answered with an error). *status: the child's exit status (128+signal when
 * killed). Errors: AG_EINVAL for bad options or an agent without a tier, the home's
 * errors for a policy, ledger or store that does not open, AG_ENOTFOUND when the
 * command is not found or not executable, AG_EIO when the child cannot start otherwise,
 * the ledger's error when the config's mcp.ledger_sync = deferred cannot be set up (the
 * child is then stopped before any message is relayed). */
AG_MUST_USE ag_err ag_mcp_proxy_stdio(const struct ag_mcp_opts *o, char *const argv[], int *status);

/* The Streamable HTTP gateway to one remote MCP server (the current Streamable HTTP
 * transport: POST with JSON or SSE answers, the GET stream, DELETE, Mcp-Session-Id,
 * MCP-Protocol-Version), for whatever serves HTTP: `agentgov mcp serve`'s listener or
 * the daemon's /v1/mcp/{server} routes. What is let through goes to upstream with
 * "Authorization: Bearer <token>" from the KV secret upstream_secret (its field
 * "token"; NULL: no credential) added on the way and never shown to the client. Same
 * decisions, pins, rates and redaction as the stdio proxy. Thread-safe: requests may
 * be handled from several threads at once. */
struct ag_mcp_gw_opts {
    /* home, server, report; agent and tier: who the clients act as when requests carry
     * no identity of their own (agent NULL and tier -1: every request brings one) */
    struct ag_mcp_opts mcp;
    const char *upstream;        /* http:// or https:// URL of the remote MCP endpoint */
    const char *upstream_secret; /* KV path, e.g. "mcp/github" */
};
typedef struct ag_mcp_gw ag_mcp_gw;
/* Checks the options (the policy loads, the secret reads) and opens the data
 * directory's handles. */
AG_MUST_USE ag_err ag_mcp_gw_new(const struct ag_mcp_gw_opts *o, ag_mcp_gw **out);
/* Makes every stream end and every wait on the upstream give up soon (before freeing,
 * while threads may still be in ag_mcp_gw_handle or ag_mcp_stream_read). */
void ag_mcp_gw_shutdown(ag_mcp_gw *gw);
/* Forgets the sessions and the credential; no request may be in flight. Accepts NULL. */
void ag_mcp_gw_free(ag_mcp_gw *gw);

/* One HTTP request on the MCP endpoint (strings lent for the call). */
struct ag_mcp_gw_req {
    const char *method;        /* POST, GET, DELETE */
    const char *session;       /* Mcp-Session-Id, or NULL */
    const char *version;       /* MCP-Protocol-Version, or NULL */
    const char *accept;        /* Accept, or NULL */
    const char *last_event_id; /* Last-Event-ID (GET: resume a stream), or NULL */
    const char *body;          /* POST: one JSON-RPC message */
    size_t len;
    /* The authenticated caller (its token's agent; a session is bound to the agent
     * that opened it), NULL: the options' agent. tier: its token's tier, used when the
     * agent is not registered (a registered one is judged at its registered tier). */
    const char *agent;
    int tier;
};
typedef struct ag_mcp_stream ag_mcp_stream;
struct ag_mcp_gw_reply {
    int status;
    char content_type[64]; /* "" : none */
    char session[256];     /* the Mcp-Session-Id to send back, "" : none */
    char *body;            /* malloc'd, NUL-terminated */
    size_t len;
    ag_mcp_stream *stream; /* non-NULL: an SSE stream (text/event-stream) to read */
};
/* Answers a request: r->body, or r->stream for an SSE answer relayed as it comes (each
 * JSON-RPC message in it judged as it arrives). Never fails: errors are answers. */
void ag_mcp_gw_handle(ag_mcp_gw *gw, const struct ag_mcp_gw_req *q, struct ag_mcp_gw_reply *r);
/* The next bytes of a stream, waiting for them (a comment every 15 s while the
 * upstream is quiet): the count written, or -1 once the stream has ended. */
long ag_mcp_stream_read(ag_mcp_stream *st, char *buf, size_t max);
void ag_mcp_stream_free(ag_mcp_stream *st);
/* Frees the body and the stream. */
void ag_mcp_gw_reply_clear(struct ag_mcp_gw_reply *r);

/* `agentgov mcp serve`: the gateway on its own listener, 127.0.0.1:port (0: any free
 * port), one thread per connection. With client_auth, each client presents an agentgov
 * token (Authorization: Bearer) that names its agent; no token or an invalid one gets
 * 401. Without it (loopback development only), every client acts as mcp.agent. */
struct ag_mcp_http_opts {
    struct ag_mcp_opts mcp;
    const char *upstream;
    const char *upstream_secret;
    int port;
    int client_auth;
};
typedef struct ag_mcp_http ag_mcp_http;
/* Checks the options (the policy loads, the agent has a tier, the secret reads) and
 * starts serving on threads of its own. */
AG_MUST_USE ag_err ag_mcp_http_start(const struct ag_mcp_http_opts *o, ag_mcp_http **out);
/* The port it listens on. */
int ag_mcp_http_port(const ag_mcp_http *h);
/* Stops serving and forgets the sessions and the credential. Accepts NULL. */
void ag_mcp_http_stop(ag_mcp_http *h);

/* The tools pinned for a server: *json is a JSON object, tool name -> SHA-256 hex
 * (malloc'd), or NULL when nothing is pinned yet. */
AG_MUST_USE ag_err ag_mcp_pins_get(ag_home *home, const char *server, char **json);
/* Forgets a server's pins (after a change a person accepted): the next tools/list pins
 * again. Ledgered (kind system, reason tools_unpinned). *had: 1 when there were pins. */
AG_MUST_USE ag_err ag_mcp_pins_reset(ag_home *home, const char *server, int *had);

#endif
