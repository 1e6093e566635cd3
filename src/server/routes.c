/* The route table: every endpoint of the daemon in one place. A path matches at most
 * one pattern per method, so order does not matter. Every route but the health check
 * and the Vault CLI's mount lookup may wait on the store or the ledger and is marked
 * blocking (run on a worker thread in epoll mode). */
#include "server/handlers.h"
#include "server/ui.h"

#define PUB AG_ROUTE_PUBLIC
#define TOK AG_ROUTE_TOKEN
#define ADM AG_ROUTE_ADMIN

static const struct ag__route routes[] = {
    /* System */
    {"GET", "/v1/sys/health", "sys_health", ag__h_health, PUB, 0}, /* reads atomics only */
    {"GET", "/metrics", "metrics", ag__h_metrics, PUB, 1},
    {"POST", "/v1/data/agentgov/decision", "opa_decision", ag__h_opa_decision, TOK, 1},
    /* Vault: AppRole */
    {"POST", "/v1/auth/approle/login", "approle_login", ag__h_approle_login, PUB, 1},
    {"POST", "/v1/auth/approle/role/{name}", "approle_role_write", ag__h_approle_role_write, ADM,
     1},
    {"GET", "/v1/auth/approle/role/{name}", "approle_role_read", ag__h_approle_role_read, ADM, 1},
    {"GET", "/v1/auth/approle/role/{name}/role-id", "approle_role_id", ag__h_approle_role_id, ADM,
     1},
    {"POST", "/v1/auth/approle/role/{name}/secret-id", "approle_secret_id", ag__h_approle_secret_id,
     ADM, 1},
    /* Vault: tokens */
    {"GET", "/v1/auth/token/lookup-self", "token_lookup_self", ag__h_token_lookup_self, TOK, 1},
    {"POST", "/v1/auth/token/renew-self", "token_renew_self", ag__h_token_renew_self, TOK, 1},
    {"POST", "/v1/auth/token/revoke-self", "token_revoke_self", ag__h_token_revoke_self, TOK, 1},
    {"POST", "/v1/auth/token/revoke-accessor", "token_revoke_accessor", ag__h_token_revoke_accessor,
     ADM, 1},
    {"POST", "/v1/auth/token/lookup-accessor", "token_lookup_accessor", ag__h_token_lookup_accessor,
     ADM, 1},
    /* Vault: KV v2 */
    {"GET", "/v1/sys/internal/ui/mounts/{path*}", "sys_mounts", ag__h_sys_mounts, TOK, 0},
    {"GET", "/v1/secret/data/{path*}", "kv_read", ag__h_kv_read, TOK, 1},
    {"POST", "/v1/secret/data/{path*}", "kv_write", ag__h_kv_write, TOK, 1},
    {"PUT", "/v1/secret/data/{path*}", "kv_write", ag__h_kv_write, TOK, 1},
    {"DELETE", "/v1/secret/data/{path*}", "kv_delete", ag__h_kv_delete, TOK, 1},
    {"POST", "/v1/secret/delete/{path*}", "kv_delete_versions", ag__h_kv_delete_versions, TOK, 1},
    {"PUT", "/v1/secret/delete/{path*}", "kv_delete_versions", ag__h_kv_delete_versions, TOK, 1},
    {"POST", "/v1/secret/undelete/{path*}", "kv_undelete", ag__h_kv_undelete, TOK, 1},
    {"PUT", "/v1/secret/undelete/{path*}", "kv_undelete", ag__h_kv_undelete, TOK, 1},
    {"POST", "/v1/secret/destroy/{path*}", "kv_destroy", ag__h_kv_destroy, TOK, 1},
    {"PUT", "/v1/secret/destroy/{path*}", "kv_destroy", ag__h_kv_destroy, TOK, 1},
    {"GET", "/v1/secret/metadata/{path*}", "kv_metadata", ag__h_kv_metadata, TOK, 1},
    {"LIST", "/v1/secret/metadata/{path*}", "kv_list", ag__h_kv_list, TOK, 1},
    {"LIST", "/v1/secret/metadata", "kv_list", ag__h_kv_list, TOK, 1},
    /* Governance */
    {"POST", "/v1/agents/{id}", "agent_register", ag__h_agent_register, ADM, 1},
    {"GET", "/v1/agents/{id}", "agent_get", ag__h_agent_get, TOK, 1},
    {"GET", "/v1/agents", "agents_list", ag__h_agents_list, ADM, 1},
    {"LIST", "/v1/agents", "agents_list", ag__h_agents_list, ADM, 1},
    {"POST", "/v1/agents/{id}/bootstrap", "agent_bootstrap", ag__h_agent_bootstrap, TOK, 1},
    {"POST", "/v1/agents/{id}/transition", "agent_transition", ag__h_agent_transition, TOK, 1},
    {"POST", "/v1/agents/{id}/heartbeat", "agent_heartbeat", ag__h_agent_heartbeat, TOK, 1},
    {"POST", "/v1/agents/{id}/errors", "agent_errors", ag__h_agent_errors, TOK, 1},
    {"POST", "/v1/agents/{id}/actions", "agent_actions", ag__h_agent_actions, TOK, 1},
    {"POST", "/v1/tasks/{id}/handoff", "task_handoff_write", ag__h_task_handoff_write, TOK, 1},
    {"GET", "/v1/tasks/{id}/handoff", "task_handoff_read", ag__h_task_handoff_read, TOK, 1},
    /* Approvals */
    {"GET", "/v1/approvals", "approvals_list", ag__h_approvals_list, TOK, 1},
    {"GET", "/v1/approvals/{id}", "approval_get", ag__h_approval_get, TOK, 1},
    {"POST", "/v1/approvals/{id}/approve", "approval_approve", ag__h_approval_approve, TOK, 1},
    {"POST", "/v1/approvals/{id}/deny", "approval_deny", ag__h_approval_deny, TOK, 1},
    /* Slack signs these requests itself (no token): verified in the handler. */
    {"POST", "/v1/notify/slack/interactions", "slack_interactions", ag__h_slack_interactions, PUB,
     1},
    /* Coordination */
    {"GET", "/v1/tasks/{id}/blackboard/{section}", "bb_read", ag__h_bb_read, TOK, 1},
    {"POST", "/v1/tasks/{id}/blackboard/{section}", "bb_write", ag__h_bb_write, TOK, 1},
    {"GET", "/v1/tasks/{id}/messages", "messages_read", ag__h_messages_read, TOK, 1},
    {"POST", "/v1/tasks/{id}/messages", "messages_send", ag__h_messages_send, TOK, 1},
    {"GET", "/v1/tasks/{id}/votes", "votes_read", ag__h_votes_read, TOK, 1},
    {"POST", "/v1/tasks/{id}/votes", "votes_cast", ag__h_votes_cast, TOK, 1},
    {"POST", "/v1/tasks/{id}/orchestrate", "orchestrate", ag__h_orchestrate, ADM, 1},
    {"GET", "/v1/ledger", "ledger_query", ag__h_ledger_query, TOK, 1},
    {"GET", "/v1/ledger/verify", "ledger_verify", ag__h_ledger_verify, ADM, 1},
    {"POST", "/v1/agents/{id}/revoke", "agent_revoke", ag__h_agent_revoke, ADM, 1},
    {"POST", "/v1/agents/{id}/promote", "agent_promote", ag__h_agent_promote, ADM, 1},
    {"POST", "/v1/agents/{id}/demote", "agent_demote", ag__h_agent_demote, ADM, 1},
    /* The dashboard (server/ui.h): its files, sign-in, the overview and the live tail */
    {"GET", "/ui", "ui_asset", ag__h_ui_asset, PUB, 0},
    {"GET", "/ui/{file}", "ui_asset", ag__h_ui_asset, PUB, 0},
    {"POST", "/ui/api/session", "ui_session_new", ag__h_ui_session_new, PUB, 1},
    {"GET", "/ui/api/session", "ui_session_get", ag__h_ui_session_get, PUB, 0},
    {"DELETE", "/ui/api/session", "ui_session_end", ag__h_ui_session_end, TOK, 0},
    {"GET", "/ui/api/overview", "ui_overview", ag__h_ui_overview, ADM, 1},
    {"GET", "/ui/api/tail", "ui_tail", ag__h_ui_tail, ADM, 1},
    /* The MCP gateway (handlers_mcp.c): the remote servers of the policy's mcp.servers */
    {"POST", "/v1/mcp/{server}", "mcp", ag__h_mcp, TOK, 1},
    {"GET", "/v1/mcp/{server}", "mcp", ag__h_mcp, TOK, 1},
    {"DELETE", "/v1/mcp/{server}", "mcp", ag__h_mcp, TOK, 1},
    /* Pipelines (handlers_pipeline.c) */
    {"POST", "/v1/pipelines/runs", "pipeline_start", ag__h_pipeline_start, ADM, 1},
    {"GET", "/v1/pipelines/runs", "pipeline_list", ag__h_pipeline_list, TOK, 1},
    {"GET", "/v1/pipelines/runs/{id}", "pipeline_get", ag__h_pipeline_get, TOK, 1},
};

void ag__handlers_routes(const struct ag__route **out, size_t *n)
{
    *out = routes;
    *n = sizeof routes / sizeof routes[0];
}
