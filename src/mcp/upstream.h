/* One HTTP exchange with a remote MCP server, read as it arrives (upstream.c).
 * Ownership: the exchange copies what it sends; its body buffer is the caller's to
 * drain (consumed bytes may be removed from it between pumps). */
#ifndef AG_MCP_UPSTREAM_H
#define AG_MCP_UPSTREAM_H

#include <curl/curl.h>
#include <stddef.h>

#include "agentgov/err.h"
#include "core/buf.h"

struct ag__mcp_up;

struct ag__mcp_up_req {
    const char *url;
    const char *method; /* POST, GET or DELETE */
    const char *body;   /* POST only */
    size_t len;
    const char *session, *version, *last_event_id; /* headers passed on; NULL: none */
    const char *auth;                              /* "Authorization: Bearer ..." or "" */
    size_t limit; /* the most body bytes held at once before the exchange is cut */
};

/* Starts the exchange and waits for the response's head. AG_EIO when the upstream
 * cannot be reached, or when *stop becomes non-zero meanwhile. */
AG_MUST_USE ag_err ag__mcp_up_open(const struct ag__mcp_up_req *rq, const volatile int *stop,
                                   struct ag__mcp_up **out);
/* Moves the transfer on, waiting at most timeout_ms for the network; 1 once it ended. */
int ag__mcp_up_pump(struct ag__mcp_up *u, int timeout_ms);
/* Reads the rest of the body. AG_EIO when it broke off or *stop became non-zero. */
AG_MUST_USE ag_err ag__mcp_up_finish(struct ag__mcp_up *u, const volatile int *stop);
long ag__mcp_up_status(const struct ag__mcp_up *u);
const char *ag__mcp_up_ctype(const struct ag__mcp_up *u);
const char *ag__mcp_up_session(const struct ag__mcp_up *u); /* NULL: none */
struct ag_buf *ag__mcp_up_body(struct ag__mcp_up *u);
int ag__mcp_up_done(const struct ag__mcp_up *u);
void ag__mcp_up_free(struct ag__mcp_up *u);

#endif
