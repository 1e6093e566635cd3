/* HTTP handlers and the route table that names them. Ownership: handlers read the
 * request and attach their reply to it; the table is static. */
#ifndef AG_SERVER_HANDLERS_H
#define AG_SERVER_HANDLERS_H

#include <stddef.h>

#include "server/router.h"
#include "server/server.h"

/* The daemon's route table. */
void ag__handlers_routes(const struct ag__route **routes, size_t *n);

/* System: health, metrics, the OPA-style decision endpoint. */
void ag__h_health(struct ag__req *r);
void ag__h_metrics(struct ag__req *r);
void ag__h_opa_decision(struct ag__req *r);

/* Governance: the lifecycle over HTTP (handlers_gov.c). */
void ag__h_agent_register(struct ag__req *r);
void ag__h_agent_bootstrap(struct ag__req *r);
void ag__h_agent_transition(struct ag__req *r);
void ag__h_agent_heartbeat(struct ag__req *r);
void ag__h_agent_errors(struct ag__req *r);
void ag__h_agent_actions(struct ag__req *r);
void ag__h_agent_get(struct ag__req *r);
void ag__h_agents_list(struct ag__req *r);
void ag__h_task_handoff_write(struct ag__req *r);
void ag__h_task_handoff_read(struct ag__req *r);
void ag__h_ledger_query(struct ag__req *r);
void ag__h_ledger_verify(struct ag__req *r);

/* An operator's actions on an agent (handlers_admin.c). */
void ag__h_agent_revoke(struct ag__req *r);
void ag__h_agent_promote(struct ag__req *r);
void ag__h_agent_demote(struct ag__req *r);
/* Pipelines (handlers_pipeline.c): start a run (driven by a detached `agentgov
 * pipeline resume` process), read and list runs; at start, a driver for every run
 * still marked running. */
void ag__h_pipeline_start(struct ag__req *r);
void ag__h_pipeline_get(struct ag__req *r);
void ag__h_pipeline_list(struct ag__req *r);
void ag__pipelines_resume(struct ag__srv *s);

/* Approvals (handlers_approve.c). */
void ag__h_approvals_list(struct ag__req *r);
void ag__h_approval_get(struct ag__req *r);
void ag__h_approval_approve(struct ag__req *r);
void ag__h_approval_deny(struct ag__req *r);
/* Slack's interactive buttons, verified with Slack's signature (handlers_slack.c). */
void ag__h_slack_interactions(struct ag__req *r);
/* The action path through the approvals module: reads "args" and "approval_id" from
 * the body b and decides into ar. Returns 0 after replying 400 for a bad field. */
int ag__approval_authorize(struct ag__req *r, ag_gov *g, const char *agent, json_t *b,
                           const char *action, const char *resource, int confidence,
                           struct ag_approve_result *ar);
/* Appends ,"approval_id":...,"expires_at":...,"approval_status"... to a decision reply. */
void ag__approval_reply_fields(struct ag_buf *b, const struct ag_approve_result *ar);
/* Coordination: blackboard, messages, votes, orchestrate (handlers_coord.c). */
void ag__h_bb_read(struct ag__req *r);
void ag__h_bb_write(struct ag__req *r);
void ag__h_messages_read(struct ag__req *r);
void ag__h_messages_send(struct ag__req *r);
void ag__h_votes_read(struct ag__req *r);
void ag__h_votes_cast(struct ag__req *r);
void ag__h_orchestrate(struct ag__req *r);

/* Vault-compatible auth and KV v2 (handlers_vault.c). */
void ag__h_approle_login(struct ag__req *r);
void ag__h_approle_role_write(struct ag__req *r);
void ag__h_approle_role_read(struct ag__req *r);
void ag__h_approle_role_id(struct ag__req *r);
void ag__h_approle_secret_id(struct ag__req *r);
void ag__h_token_lookup_self(struct ag__req *r);
void ag__h_token_renew_self(struct ag__req *r);
void ag__h_token_revoke_self(struct ag__req *r);
void ag__h_token_revoke_accessor(struct ag__req *r);
void ag__h_token_lookup_accessor(struct ag__req *r);
void ag__h_kv_read(struct ag__req *r);
void ag__h_kv_write(struct ag__req *r);
void ag__h_kv_delete(struct ag__req *r);
void ag__h_kv_delete_versions(struct ag__req *r);
void ag__h_kv_undelete(struct ag__req *r);
void ag__h_kv_destroy(struct ag__req *r);
void ag__h_kv_metadata(struct ag__req *r);
void ag__h_kv_list(struct ag__req *r);
void ag__h_sys_mounts(struct ag__req *r);

/* The MCP gateway (handlers_mcp.c): /v1/mcp/{server}, POST, GET and DELETE. drain
 * makes its streams end (before the HTTP server stops); free releases the gateways. */
void ag__h_mcp(struct ag__req *r);
void ag__mcp_routes_drain(struct ag__srv *s);
void ag__mcp_routes_free(struct ag__srv *s);

/* Replies with the HTTP status that fits an error from a module (403 for permission
 * problems, 404, 400, 503 when the store or ledger is down, 500 otherwise) and the
 * module's detail; `what` prefixes the message. */
void ag__reply_ag_error(struct ag__req *r, ag_err e, const char *what);
/* A request refused for its credentials (already answered): counted in the metrics and
 * ledgered as a violation (server/audit.h) with reason token_missing, token_refused,
 * admin_required or other_agent. agent: the token's agent, NULL when unknown. Returns 0. */
int ag__req_refused(struct ag__req *r, const char *agent, const char *reason);
/* The lifecycle handle for this request (held until the request completes), or NULL
 * after replying 503 when the store or ledger is unavailable. */
ag_gov *ag__req_gov(struct ag__req *r);
/* 1 when the token's agent is `id`; otherwise replies 403 and returns 0. With
 * admin_ok, a root or tier-4 token may also act on another agent's record. */
int ag__req_self(struct ag__req *r, const char *id, int admin_ok);

/* The query parameter `name` as an integer from 0 to max, def when it is absent or
 * empty. Anything else (a sign, spaces, junk, an overflow) replies 400 naming it and
 * returns 0. */
int ag__query_int(struct ag__req *r, const char *name, int64_t def, int64_t max, int64_t *out);

/* A decision as the JSON object every endpoint returns (decision, allow, reason,
 * tier, phase, rule). */
json_t *ag__decision_json(const struct ag_decision *d);

/* Appends an entry to the daemon's ledger, timing the commit into the metrics.
 * AG_ELEDGER when there is no ledger. */
AG_MUST_USE ag_err ag__srv_ledger_append(struct ag__srv *s, const struct ag_ledger_entry *e,
                                         int64_t *seq);

#endif
