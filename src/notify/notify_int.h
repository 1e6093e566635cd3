/* Internal side of notifications: the handle, the outbox's store keys, and the pieces
 * shared by the outbox (outbox.c), the message formats (format.c) and delivery
 * (deliver.c). Ownership: the handle owns copies of every option string. */
#ifndef AG_NOTIFY_INT_H
#define AG_NOTIFY_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "agentgov/notify.h"
#include "core/buf.h"

/* Store keys: the event, one delivery per channel, the due index (member
 * "<event id>:<channel>", score = next attempt in ms) and the dead index. */
#define AG__NTF_EVENT         "notify:event:"
#define AG__NTF_DELIVERY      "notify:delivery:"
#define AG__NTF_PENDING       "notify:pending"
#define AG__NTF_DEAD          "notify:dead"
#define AG__NTF_LOCK          "notify:worker"
#define AG__NTF_KEEP_MS       (7LL * 24 * 3600 * 1000)
#define AG__NTF_KEY_MAX       96
#define AG__NTF_SECRET_TTL_MS 30000

struct ag_notify {
    ag_store *store;
    ag_ledger *ledger;
    ag_auth *auth;
    char *slack_url, *webhook_url, *webhook_secret, *gh_api, *gh_repo, *gh_token, *ui_url;
    int64_t gh_issue, timeout_ms, backoff_ms, backoff_max_ms;
    int max_attempts;
    char owner[33];                           /* lock owner id of this handle */
    ag_breaker *breakers[AG_NOTIFY_CHANNELS]; /* one per channel, in ag__ntf_channels order */
    /* kv: secrets read in the last AG__NTF_SECRET_TTL_MS (each read is ledgered: one per
     * delivery attempt would flood the ledger during an outage). Guarded by mu. */
    pthread_mutex_t mu;
    struct {
        char *spec, *value;
        int64_t at_ms;
    } secrets[4];
    _Atomic uint64_t sent, failed, dead;
    _Atomic int64_t trimmed_ms; /* last trim of the dead index (ag_notify_deliver) */
};

extern const char *const ag__ntf_channels[AG_NOTIFY_CHANNELS];

/* The request one delivery sends: URL, body and headers ("Name: value" lines). */
struct ag__ntf_req {
    char *url;
    char *body;
    char *headers[6];
    size_t nheaders;
};
void ag__ntf_req_clear(struct ag__ntf_req *q);
/* Builds the request of event ev (the stored event JSON) for channel; secrets are
 * resolved here. Byte-identical for every attempt of one event, so that receivers can
 * drop duplicates and signatures stay valid. */
AG_MUST_USE ag_err ag__ntf_format(ag_notify *n, const char *channel, const json_t *ev,
                                  struct ag__ntf_req *q);
/* A secret: the literal value, or "kv:<path>#<field>" read through the auth engine.
 * *out is malloc'd. */
AG_MUST_USE ag_err ag__ntf_secret(ag_notify *n, const char *spec, char **out);

#endif
