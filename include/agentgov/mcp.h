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

/* The Streamable HTTP proxy (`agentgov mcp serve`): listens on 127.0.0.1:port (0: any
 * free port) for an MCP client and relays what the gateway lets through to the remote
 * server at upstream, with "Authorization: Bearer <token>" from the KV secret
 * upstream_secret (its field "token"; NULL: no credential) added on the way and never
 * shown to the client. Same decisions, pins, rates and redaction as the stdio proxy. */
struct ag_mcp_http_opts {
    struct ag_mcp_opts mcp;
    const char *upstream;        /* http:// or https:// URL of the remote MCP endpoint */
    const char *upstream_secret; /* KV path, e.g. "mcp/github" */
    int port;
};
typedef struct ag_mcp_http ag_mcp_http;
/* Checks the options (the policy loads, the agent has a tier, the secret reads) and
 * starts serving on a thread of its own. */
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
