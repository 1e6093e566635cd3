/* The operator's dashboard: static assets compiled into the binary, sign-in sessions
 * (an agentgov token exchanged for an HttpOnly cookie, with a CSRF token), and the
 * live ledger tail over Server-Sent Events. Ownership: struct ag__ui is made by
 * ag__ui_new and released by ag__ui_free; sessions hold a copy of their token that
 * never leaves the daemon; a tail stream is owned by its HTTP response. */
#ifndef AG_SERVER_UI_H
#define AG_SERVER_UI_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"

struct ag__srv;
struct ag__req;
struct ag__ui;
struct MHD_Response;

/* One file of the dashboard, generated at build time (scripts/embed-assets.py). */
struct ag__ui_asset {
    const char *name; /* "app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};
extern const struct ag__ui_asset ag__ui_assets[];
extern const size_t ag__ui_nassets;

/* The headers every dashboard reply carries (strict CSP, no framing, no sniffing). */
#define AG_UI_CSP                                                                                  \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
#define AG_UI_COOKIE "agentgov_session"

AG_MUST_USE ag_err ag__ui_new(struct ag__srv *s, struct ag__ui **out);
/* Ends every tail stream (they see end of stream) and frees; accepts NULL. */
void ag__ui_free(struct ag__ui *ui);
/* SIGTERM: live tails end so the drain does not wait for them. */
void ag__ui_drain(struct ag__ui *ui);

/* Called by authentication when a request carries no token header: a session cookie
 * stands for its token. Returns 1 to go on (r->token set when a session matched) or 0
 * after replying: an unknown or expired session (401) or a state change without the
 * session's CSRF token in X-CSRF-Token (403, ledgered as a refusal). */
int ag__ui_session_auth(struct ag__req *r);
/* After a handler ran for a request signed in through the dashboard: ledgers a state
 * change (kind system, action ui.<route>) with the signed-in identity. */
void ag__ui_after(struct ag__req *r);
/* Adds a dashboard reply's headers (AG_UI_CSP and friends, Set-Cookie) to resp. */
void ag__ui_headers(struct ag__req *r, struct MHD_Response *resp);
/* Frees what a request got from the dashboard layer. */
void ag__ui_req_done(struct ag__req *r);

/* Handlers (routes.c). */
void ag__h_ui_asset(struct ag__req *r);
void ag__h_ui_session_new(struct ag__req *r);
void ag__h_ui_session_get(struct ag__req *r);
void ag__h_ui_session_end(struct ag__req *r);
void ag__h_ui_overview(struct ag__req *r);
void ag__h_ui_tail(struct ag__req *r);

/* The tail's response (server.c builds it when r->stream is set). */
long ag__ui_tail_read(void *cls, uint64_t pos, char *buf, size_t max);
void ag__ui_tail_free(void *cls);

#endif
