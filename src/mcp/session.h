/* One MCP session's gateway, whatever the transport: judges each message of the client
 * and of the server and says what goes where. Ownership: the session borrows the home's
 * policy, ledger and store (the home outlives it); the io buffers are the caller's. */
#ifndef AG_MCP_SESSION_H
#define AG_MCP_SESSION_H

#include <stddef.h>

#include "agentgov/mcp.h"
#include "core/buf.h"

/* JSON-RPC error codes the gateway answers with. */
#define AG__MCP_PARSE_ERROR     (-32700)
#define AG__MCP_INVALID_REQUEST (-32600)
#define AG__MCP_DENIED          (-32001) /* the policy refused the call */
#define AG__MCP_SERVER_GONE     (-32002) /* the server exited before it answered */

struct ag__mcp_session;

/* What one message turned into: whole lines (each ending in '\n') for each side. */
struct ag__mcp_io {
    struct ag_buf to_client;
    struct ag_buf to_server;
};

/* Opens what the session needs (policy, ledger, the agent's tier) through o->home. */
AG_MUST_USE ag_err ag__mcp_session_new(const struct ag_mcp_opts *o, struct ag__mcp_session **out);
void ag__mcp_session_free(struct ag__mcp_session *s);

/* One message of the client (without its newline). Never fails: what cannot be judged
 * is answered with an error and not forwarded. */
void ag__mcp_from_client(struct ag__mcp_session *s, const char *msg, size_t len,
                         struct ag__mcp_io *io);
/* A client message longer than the limit (len bytes seen, dropped). */
void ag__mcp_client_oversized(struct ag__mcp_session *s, size_t len, struct ag__mcp_io *io);
/* One message of the server (without its newline). */
void ag__mcp_from_server(struct ag__mcp_session *s, const char *msg, size_t len,
                         struct ag__mcp_io *io);
/* Time passing, for what the gateway does on its own: under on_change: ask, a change
 * approved meanwhile is pinned and the client told notifications/tools/list_changed.
 * Returns the ms until it wants to be called again, or -1 when it has nothing to watch. */
int ag__mcp_tick(struct ag__mcp_session *s, struct ag__mcp_io *io);
/* The server is gone: every request still pending gets an error naming why. */
void ag__mcp_server_gone(struct ag__mcp_session *s, const char *why, struct ag__mcp_io *io);
/* One forwarded message (msg) will not be answered (its exchange with the server
 * failed): a request gets an error naming why and is no longer pending; the session's
 * other requests are left alone (on HTTP each has its own exchange). */
void ag__mcp_request_failed(struct ag__mcp_session *s, const char *msg, size_t len, const char *why,
                            struct ag__mcp_io *io);

#endif
