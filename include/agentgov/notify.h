/* Notifications: a durable outbox on the state store and its delivery to Slack (incoming
 * webhook, Block Kit), a generic signed webhook and GitHub issue comments, at least once,
 * with a stable event id sent unchanged on every attempt. Ownership: ag_notify is an
 * opaque handle (ag_notify_new/ag_notify_free) that borrows its store, ledger and auth
 * engine (they must outlive it) and copies its options; lists are caller-owned and
 * freed with ag_notify_list_free.
 *
 * Emitting only writes the outbox (one store exec): a channel that is down never delays
 * nor changes the decision that emitted the event. ag_notify_deliver (the daemon's
 * worker) sends what is due with a timeout, retries with exponential backoff and
 * jitter, and after max_attempts marks the delivery dead (ledgered, kind "notify"). */
#ifndef AGENTGOV_NOTIFY_H
#define AGENTGOV_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/auth.h"
#include "agentgov/breaker.h"
#include "agentgov/config.h"
#include "agentgov/err.h"
#include "agentgov/ledger.h"
#include "agentgov/store.h"

typedef struct ag_notify ag_notify;

#define AG_NOTIFY_ID_BUF 29 /* "evt-" + 24 hex digits + NUL */

/* Channels, by name: "slack", "webhook", "github". */
#define AG_NOTIFY_CHANNELS 3

struct ag_notify_opts {
    ag_store *store;   /* required: the outbox */
    ag_ledger *ledger; /* required: dead deliveries are ledgered */
    ag_auth *auth;     /* for kv:<path>#<field> secrets; NULL: literal secrets only */
    /* Channels: an empty URL (or repo) leaves the channel off. Secrets are literal or
     * "kv:<path>#<field>", read from the KV store at each delivery round. */
    const char *slack_webhook_url;
    const char *webhook_url, *webhook_secret;
    const char *github_api_url, *github_repo, *github_token_secret;
    int64_t github_issue;
    const char *ui_url;     /* link in messages ("" : none) */
    int64_t timeout_ms;     /* per attempt; 0 = 5 s */
    int64_t backoff_ms;     /* first retry delay; 0 = 1 s */
    int64_t backoff_max_ms; /* 0 = 5 min */
    int max_attempts;       /* 0 = 10 */
    /* Each channel sends through its own circuit breaker ("notify.slack", ...) with
     * these settings (breaker.notify.*; all zero: the defaults). While a channel's
     * breaker is open its deliveries wait for it without using up attempts. */
    struct ag_breaker_config breaker;
    /* Called on every state change of a channel's breaker (the daemon ledgers opens
     * and closes); NULL: none. */
    ag_breaker_change_cb breaker_cb;
    void *breaker_ctx;
};

/* The options from a configuration (notify.*); strings point into c. */
void ag_notify_opts_from_config(const ag_config *c, struct ag_notify_opts *o);

AG_MUST_USE ag_err ag_notify_new(const struct ag_notify_opts *o, ag_notify **out);
void ag_notify_free(ag_notify *n);
/* 1 when the channel is configured. */
int ag_notify_channel_on(const ag_notify *n, const char *channel);

/* Puts an event in the outbox for every configured channel. type: "approval.requested",
 * "approval.decided", "approval.expired", "agent.revoked", "budget.exhausted", "test";
 * data_json: a JSON object. id (may be NULL) receives the event id. With no channel
 * configured nothing is written and id is "". */
AG_MUST_USE ag_err ag_notify_emit(ag_notify *n, const char *type, const char *data_json,
                                  char id[AG_NOTIFY_ID_BUF]);

/* Sends every delivery that is due (at most max, 0 = all), one attempt each; counts
 * what happened. Several daemons on one store take turns through a store lock. */
struct ag_notify_round {
    size_t sent, failed, dead;
    size_t deferred; /* not sent: the channel's circuit breaker is open */
};
AG_MUST_USE ag_err ag_notify_deliver(ag_notify *n, size_t max, struct ag_notify_round *r);

/* One delivery of the outbox. */
struct ag_notify_item {
    char event_id[AG_NOTIFY_ID_BUF];
    char channel[16];
    char type[48];
    char status[12]; /* "pending", "delivered", "dead" */
    int attempts;
    int64_t created_ms, next_ms, done_ms;
    char last_error[256];
};
/* Deliveries newest first: dead ones (dead_only) or all that are pending or dead. */
AG_MUST_USE ag_err ag_notify_list(ag_notify *n, int dead_only, struct ag_notify_item **items,
                                  size_t *count);
void ag_notify_list_free(struct ag_notify_item *items);

/* Counters since the handle was made, and the outbox's current depth (for /metrics). */
struct ag_notify_stats {
    uint64_t sent, failed_attempts, dead;
    size_t pending, dead_total;
};
AG_MUST_USE ag_err ag_notify_stats(ag_notify *n, struct ag_notify_stats *s);

/* A secret as the channels take it: the literal text, or "kv:<path>#<field>" read from
 * the KV store (ledgered). *out is malloc'd (wipe and free it). */
AG_MUST_USE ag_err ag_notify_secret(ag_notify *n, const char *spec, char **out);

/* Sends one test event to one channel now, once, outside the outbox. *http_status gets
 * the receiver's status (0 when none came back). */
AG_MUST_USE ag_err ag_notify_test(ag_notify *n, const char *channel, long *http_status);

#endif
