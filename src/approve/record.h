/* Approval records as stored (JSON on the state store), their computed status, and the
 * ledger entries of the approvals module. Ownership: the handle struct is the module's;
 * records are jansson trees owned by whoever loaded them (json_decref). */
#ifndef AG_APPROVE_RECORD_H
#define AG_APPROVE_RECORD_H

#include <jansson.h>
#include <pthread.h>

#include "agentgov/approve.h"

struct ag_approve {
    ag_store *store;
    ag_ledger *ledger;
    ag_auth *auth;
    int64_t default_timeout_ms;
    pthread_mutex_t mu; /* guards the hook */
    ag_approve_event_fn hook;
    void *hook_ctx;
};

/* Status names (struct ag_approval.status). */
#define AG__APV_PENDING   "pending"
#define AG__APV_APPROVED  "approved"
#define AG__APV_DENIED    "denied"
#define AG__APV_EXPIRED   "expired"
#define AG__APV_WITHDRAWN "withdrawn"

/* "approval:<id>" into buf (AG__APV_KEY_MAX bytes); AG_EINVAL for an id that is not
 * "apv-" and 24 lowercase hex digits. */
#define AG__APV_KEY_MAX 64
AG_MUST_USE ag_err ag__apv_key(const char *id, char *buf);

/* The raw record and its tree; *raw NULL and AG_ENOTFOUND when absent. */
AG_MUST_USE ag_err ag__apv_load(ag_approve *ap, const char *id, char **raw, json_t **rec);
/* Replaces the record only if it still holds `old` (a compare-and-set on the whole
 * record): *won 0 when another writer got there first. close: the approval is settled
 * (denied, used, expiry recorded) and leaves the open index in the same exec. */
AG_MUST_USE ag_err ag__apv_cas(ag_approve *ap, const char *id, const char *old, json_t *rec,
                               int close, int *won);

/* The status at time now. */
const char *ag__apv_status(const json_t *rec, int64_t now);
/* Fills a struct ag_approval from a record (status at now). Adds the served fields to
 * rec itself: the caller must not write rec back to the store afterwards. */
AG_MUST_USE ag_err ag__apv_fill(json_t *rec, int64_t now, struct ag_approval *out);

/* Record accessors (0 / "" when absent). */
const char *ag__apv_str(const json_t *rec, const char *key);
int64_t ag__apv_int(const json_t *rec, const char *key);

/* A ledger entry of kind "approval" about rec: decision and reason columns, and data
 * (a JSON object, stolen) to which approval_id and event are added. */
AG_MUST_USE ag_err ag__apv_ledger(ag_approve *ap, const json_t *rec, const char *decision,
                                  const char *event, json_t *data);
/* {"accessor","entity","via"} of an identity. */
json_t *ag__apv_who(const struct ag_identity *who);
/* Calls the event hook, if any, with the record as served (added to rec in place, as
 * ag__apv_fill does). */
void ag__apv_emit(ag_approve *ap, enum ag_approval_event ev, json_t *rec);
/* Records an approval's expiry once (ledger + event); no-op if already recorded or not
 * expired. */
void ag__apv_note_expiry(ag_approve *ap, const char *id, int64_t now);

#endif
