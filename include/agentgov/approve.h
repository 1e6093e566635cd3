/* Human approvals for the policy's "ask": a pending approval on the state store for
 * every ask, decided by approvers (two-person rule, never the requester), and a grant
 * bound to the exact action (agent, action, resource, arguments), usable once, signed
 * with the ledger's Ed25519 key. Ownership: ag_approve is an opaque handle
 * (ag_approve_new/ag_approve_free) that borrows its store, ledger and auth engine
 * (they must outlive it); struct ag_approval and the result structs are caller-owned
 * and released by their _clear function; the gov and policy handles passed to a call
 * are borrowed for that call only (the daemon swaps them on a policy reload).
 *
 * Every request, decision, refused decision and expiry is ledgered (kind "approval",
 * with the approval id and, for decisions, the approver's accessor and entity). The
 * status is computed when read: an approval past its expiry reads "expired" at once,
 * whether or not the sweeper has recorded it yet. Nothing ever approves by itself. */
#ifndef AGENTGOV_APPROVE_H
#define AGENTGOV_APPROVE_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/auth.h"
#include "agentgov/err.h"
#include "agentgov/gov.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "agentgov/store.h"

typedef struct ag_approve ag_approve;

#define AG_APPROVAL_ID_BUF 33 /* "apv-" + 24 hex digits + NUL, padded */
/* Store keys: the record (JSON) and the index of every approval by time asked. */
#define AG_APPROVAL_KEY_PREFIX "approval:"
#define AG_APPROVAL_INDEX      "approvals:index"
/* Approvals still open (pending, or approved and not used yet), by expiry: what the
 * sweeper and a pending listing read, however long the history grows. */
#define AG_APPROVAL_OPEN "approvals:open"
/* A record stays on the store this long after it expires (the ledger keeps it for good). */
#define AG_APPROVAL_KEEP_MS (7LL * 24 * 3600 * 1000)

/* Events for notifications (src/notify/ plugs in through ag_approve_set_event_hook). */
enum ag_approval_event { AG_APPROVAL_REQUESTED, AG_APPROVAL_DECIDED, AG_APPROVAL_EXPIRED };
/* Called after the event is ledgered, with the approval's JSON (ag_approval_to_json's
 * form). Its failure changes nothing: a notification never delays or changes a decision. */
typedef void (*ag_approve_event_fn)(void *ctx, enum ag_approval_event ev, const char *id,
                                    const char *approval_json);

struct ag_approve_opts {
    ag_store *store;            /* required */
    ag_ledger *ledger;          /* required, with its signing key (grants are signed) */
    ag_auth *auth;              /* may be NULL: then only identities built by the caller */
    int64_t default_timeout_ms; /* approvals.timeout; 0 = 15 minutes */
};

AG_MUST_USE ag_err ag_approve_new(const struct ag_approve_opts *o, ag_approve **out);
void ag_approve_free(ag_approve *ap);
void ag_approve_set_event_hook(ag_approve *ap, ag_approve_event_fn fn, void *ctx);

/* Who decides (or asks). accessor and entity identify a person or token: a token's
 * accessor and agent id ("root" for the root token), or "slack:<user id>" and the
 * identity configured for that Slack user, or "cli:<uid>" and the login name. */
struct ag_identity {
    char accessor[64];
    char entity[AG_AUTH_NAME_MAX];
    char role[AG_AUTH_NAME_MAX]; /* AppRole role the token came from; "" */
    int tier;                    /* -1 when not a token */
    int admin;                   /* root or tier-4 token, or the local operator */
    char via[16];                /* "token", "slack", "cli" */
};
/* The identity of a token (looked up fresh: a revoked token is refused at once).
 * AG_EPERM for a bad token; AG_EINVAL without an auth engine. */
AG_MUST_USE ag_err ag_approve_identity_token(ag_approve *ap, const char *token,
                                             struct ag_identity *out);

/* One approval as read (status computed at the time of the read). */
struct ag_approval {
    char id[AG_APPROVAL_ID_BUF];
    char status[12]; /* "pending", "approved", "denied", "expired", "withdrawn" */
    int used;        /* the grant was spent by the agent's retry */
    char *agent_id, *task_id, *action, *resource, *phase;
    int tier;
    char *args_json;      /* canonical JSON of the arguments ("null" when none) */
    char args_digest[65]; /* SHA-256 of args_json */
    char digest[65];      /* the request digest the grant signs (see docs/approvals.md) */
    char *policy_file, *policy_hash, *rule, *rule_id;
    int64_t asked_ms, expires_ms, decided_ms;
    int required, approvals; /* distinct approvers needed / given */
    char *json;              /* the whole record, as served by the API */
};
void ag_approval_clear(struct ag_approval *a);

/* ---- asking and retrying (the action path) ---------------------------------------- */

struct ag_approve_request {
    const char *agent_id, *action, *resource;
    int confidence;                 /* per mille or -1 */
    const char *args_json;          /* JSON of the action's arguments, or NULL */
    const char *approval_id;        /* a retry carrying an approval; NULL for a first ask */
    const char *requester_accessor; /* the token that asked (never an approver); "" */
};

struct ag_approve_result {
    struct ag_gov_decision d;
    char approval_id[AG_APPROVAL_ID_BUF]; /* set on an ask and on a retry */
    int64_t expires_ms;                   /* of that approval; 0 when none */
    char detail[160];
};

/* Authorizes through the lifecycle. An ask records a pending approval (the store first,
 * then the ledger; either failing is a deny with its reason) and returns it in out. A
 * request with approval_id is checked against that approval: same agent, action,
 * resource and arguments, decided "approved", not expired, never used; then the grant
 * is spent (atomically: two concurrent retries never both pass) and the lifecycle
 * decides again, where only the same ask rule at the agent's current tier and phase
 * turns into allow (reason approval_granted). Any other outcome is a deny with
 * approval_pending, approval_denied, approval_expired, approval_used or
 * approval_mismatch, ledgered. Returns out->d.effect. */
enum ag_effect ag_approve_authorize(ag_approve *ap, ag_gov *g, const ag_policy *p,
                                    const struct ag_approve_request *rq,
                                    struct ag_approve_result *out);

/* ---- reading and deciding --------------------------------------------------------- */

/* AG_ENOTFOUND when there is no such approval (or its record aged out). */
AG_MUST_USE ag_err ag_approve_get(ag_approve *ap, const char *id, struct ag_approval *out);

struct ag_approval_filter {
    int pending_only;
    const char *agent_id; /* NULL: every agent */
    size_t limit;         /* 0: no limit */
};
/* Approvals newest first; free with ag_approval_list_free. */
AG_MUST_USE ag_err ag_approve_list(ag_approve *ap, const struct ag_approval_filter *f,
                                   struct ag_approval **items, size_t *n);
void ag_approval_list_free(struct ag_approval *items, size_t n);

/* 1 when who may decide this approval under its rule's approvers (admin always). */
int ag_approve_may_decide(const struct ag_approval *a, const struct ag_identity *who);

/* Approves (approve = 1) or denies (0) as who, with an optional reason (required to
 * deny). Refused, and ledgered as refused: AG_EPERM for the requester itself (same
 * entity or same token) or someone not among the approvers, AG_EEXIST for a second
 * vote by the same approver, AG_ESTATE for an approval no longer pending (decided or
 * expired). One deny denies; `required` distinct approvals approve, and then the grant
 * is signed. out (may be NULL) receives the approval after the decision. */
AG_MUST_USE ag_err ag_approve_decide(ag_approve *ap, const char *id, const struct ag_identity *who,
                                     int approve, const char *reason, struct ag_approval *out);

/* Ledgers the expiry of every pending approval past its expiry that has not been
 * recorded yet (the daemon calls it every second; *n may be NULL). */
AG_MUST_USE ag_err ag_approve_sweep(ag_approve *ap, size_t *n);

/* ---- approvals opened by a caller (a pipeline's human gate) ----------------------- */

/* A stable approval id for a caller's key: "apv-" and the first 24 hex digits of the
 * SHA-256 of key (so that opening again, after a crash, finds the same approval). */
void ag_approval_id_for(const char *key, char id[AG_APPROVAL_ID_BUF]);

struct ag_approve_open {
    const char *id;        /* from ag_approval_id_for */
    const char *requester; /* recorded as agent_id; never one of its approvers */
    const char *action, *resource;
    const char *args_json;        /* NULL: none */
    const char *const *approvers; /* "user:NAME", "role:R", "tier:N"; none: admins only */
    size_t napprovers;
    int required;       /* distinct approvals needed, >= 1 */
    int64_t expires_ms; /* wall time: past it, the approval reads "expired" */
};
/* Opens a pending approval (stored, indexed, ledgered "requested") unless one with that
 * id exists already: then nothing changes and *created (may be NULL) is 0. It is
 * decided like any other (ag_approve_decide); it carries no policy rule. */
AG_MUST_USE ag_err ag_approve_open(ag_approve *ap, const struct ag_approve_open *o, int *created);
/* Withdraws a pending approval its opener no longer needs (a pipeline run that was
 * cancelled or ended while its gate waited): it reads "withdrawn" from then on, leaves
 * the open index, and a later decision is refused (AG_ESTATE, "withdrawn"). Ledgered
 * (event "withdrawn", with by and reason). *withdrawn (may be NULL) is 1 when this
 * call withdrew it, 0 when it was no longer pending (nothing changes: AG_OK).
 * AG_ENOTFOUND when there is no such approval. */
AG_MUST_USE ag_err ag_approve_withdraw(ag_approve *ap, const char *id, const char *by,
                                       const char *reason, int *withdrawn);
/* Reads an approval from a store without a handle (status computed at read time);
 * AG_ENOTFOUND when there is none. */
AG_MUST_USE ag_err ag_approve_peek(ag_store *s, const char *id, struct ag_approval *out);

/* ---- offline verification --------------------------------------------------------- */

/* The message a grant signs: "agentgov-approval-grant:v1:<id>:<digest>:<expires_ms>:<nonce>"
 * (no newline). Returns its length; out holds 256 bytes. */
size_t ag_approval_grant_message(const char *id, const char *digest, int64_t expires_ms,
                                 const char *nonce, char out[256]);
/* The request digest: lowercase hex SHA-256 of the canonical JSON (RFC 8785) of
 * {"action","agent_id","args_digest","resource"}; args_digest is the SHA-256 of the
 * canonical JSON of the arguments (of `null` when there are none). AG_EINVAL for
 * arguments that are not JSON. */
AG_MUST_USE ag_err ag_approval_digest(const char *agent_id, const char *action,
                                      const char *resource, const char *args_json,
                                      char args_digest[65], char digest[65]);

#endif
