/* The daemon's settings, read from the configuration table into one struct. */
#include "server/server.h"

#include <stdio.h>
#include <string.h>

#include "server/log.h"

void ag__server_config_from(const ag_config *c, struct ag__server_config *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->listen, sizeof o->listen, "%s", ag_config_str(c, "listen"));
    o->allow_remote = (int)ag_config_int(c, "allow_remote");
    o->insecure_remote = (int)ag_config_int(c, "insecure_remote");
    snprintf(o->tls_cert, sizeof o->tls_cert, "%s", ag_config_str(c, "tls.cert"));
    snprintf(o->tls_key, sizeof o->tls_key, "%s", ag_config_str(c, "tls.key"));
    o->log_json = strcmp(ag_config_str(c, "log_format"), "json") == 0;
    o->log_level = ag__log_level_parse(ag_config_str(c, "server.log_level"));
    o->max_body_bytes = ag_config_int(c, "server.max_body");
    o->max_header_bytes = ag_config_int(c, "server.max_header");
    o->max_json_depth = ag_config_int(c, "server.max_json_depth");
    o->timeout_ms = ag_config_ms(c, "server.timeout");
    o->max_connections = ag_config_int(c, "server.max_connections");
    o->epoll = strcmp(ag_config_str(c, "server.io"), "epoll") == 0;
    o->threads = ag_config_int(c, "server.threads");
    o->drain_ms = ag_config_ms(c, "server.drain");
    o->checkpoint_every = ag_config_int(c, "ledger.checkpoint_every");
    ag_gov_opts_from_config(c, &o->gov);
    snprintf(o->policy, sizeof o->policy, "%s", ag_config_str(c, "policy"));
    snprintf(o->store, sizeof o->store, "%s", ag_config_str(c, "store"));
    o->approvals_timeout_ms = ag_config_ms(c, "approvals.timeout");
#define CP(f, k) snprintf(o->f, sizeof o->f, "%s", ag_config_str(c, k))
    CP(slack_url, "notify.slack.webhook_url");
    CP(slack_signing_secret, "notify.slack.signing_secret");
    CP(slack_users, "notify.slack.users");
    CP(webhook_url, "notify.webhook.url");
    CP(webhook_secret, "notify.webhook.secret");
    CP(gh_api, "notify.github.api_url");
    CP(gh_repo, "notify.github.repo");
    CP(gh_token, "notify.github.token_secret");
#undef CP
    o->gh_issue = ag_config_int(c, "notify.github.issue");
    o->notify_timeout_ms = ag_config_ms(c, "notify.timeout");
    o->notify_backoff_ms = ag_config_ms(c, "notify.backoff");
    o->notify_backoff_max_ms = ag_config_ms(c, "notify.backoff_max");
    o->notify_max_attempts = (int)ag_config_int(c, "notify.max_attempts");
    ag_breaker_config_from(c, "notify", &o->notify_breaker);
    ag__resilience_config_from(c, &o->res);
    ag_otel_config_from(c, &o->otel);
}
