/* The governance daemon: an HTTP/JSON server (libmicrohttpd) over the policy, the
 * ledger, the store, the lifecycle and the auth engine of one data directory
 * (docs/api.md). Ownership: the daemon copies what it needs of the settings; it logs
 * (on stderr), which the rest of the library never does. */
#ifndef AGENTGOV_SERVER_H
#define AGENTGOV_SERVER_H

#include "agentgov/config.h"
#include "agentgov/err.h"

/* Sets the daemon's log up from the settings (log_format, server.log_level). */
void ag_server_log_setup(const ag_config *settings);

/* Serves the data directory dir with settings (listen, store, policy, server.*: the
 * directory's config with the command's files and flags over it; an empty `store` is
 * the embedded one) until SIGTERM or SIGINT has drained the requests in flight. The
 * signals it handles are blocked first, so call it before starting threads. An error
 * only when the daemon cannot start (bind, the address refused). */
AG_MUST_USE ag_err ag_server_serve(const ag_config *settings, const char *dir);

#endif
