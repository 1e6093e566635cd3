/* AppRole: roles, secret IDs and login. Ownership: nothing is handed out beyond what
 * agentgov/auth.h documents. Store keys:
 *   auth:role:<name>               role record (JSON)
 *   auth:role_id:<role_id>         -> role name
 *   auth:agent_roles:<agent>       hash of role names bound to the agent
 *   auth:sid:<role>:<hmac>         secret ID record (hmac = keyed hash of the value)
 *   auth:sida:<role>:<accessor>    -> hmac */
#ifndef AG_AUTH_APPROLE_H
#define AG_AUTH_APPROLE_H

#include "auth/auth.h"

/* Destroys every secret ID of every role bound to agent; adds their number to *count.
 * Records nothing in the ledger (the caller's revocation entry does). */
AG_MUST_USE ag_err ag__approle_destroy_agent_sids(ag_auth *a, const char *agent, size_t *count);

/* 1 when addr (IPv4 or IPv6 text) lies inside one of the comma-separated CIDR blocks;
 * 0 when it does not; -1 when addr or a block does not parse. */
int ag__cidr_match(const char *cidrs, const char *addr);

#endif
