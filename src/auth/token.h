/* Token records, issuing, validation, renewal, cascading revocation and leases.
 * Ownership: struct ag__tok is caller-owned (ag__tok_clear releases its raw record and
 * meta_json); records are JSON strings in the store:
 *   auth:token:<hmac>        the record (hmac = HMAC-SHA256 of the token's 32 bytes)
 *   auth:acc:<accessor>      -> hmac
 *   auth:children:<accessor> hash of child accessors
 *   auth:leases:<accessor>   hash lease_id -> path
 *   auth:agent_tokens:<agent> hash: accessor -> the token's max expiry (ms; 0 none)
 *   auth:lease:<lease_id>    lease record, with a store TTL */
#ifndef AG_AUTH_TOKEN_H
#define AG_AUTH_TOKEN_H

#include "auth/auth.h"

/* A token record as read from the store, with its raw text for compare-and-set. */
struct ag__tok {
    struct ag_token_info info; /* info.num_uses = uses left (0 = unlimited) */
    int64_t num_uses;          /* limit, 0 = unlimited */
    int64_t uses;              /* uses consumed */
    int64_t revoked_ms;
    char hmac[65];
    char key[80]; /* auth:token:<hmac> */
    char *raw;
};
void ag__tok_clear(struct ag__tok *t);

/* Fetches and validates a token from the store (never from the cache): AG_EPERM with
 * a "permission denied: ..." detail when it is unknown, expired, revoked or used up. */
AG_MUST_USE ag_err ag__token_fetch(ag_auth *a, const char *token, struct ag__tok *t);
/* Same by accessor; validate = 0 returns expired and revoked records too. */
AG_MUST_USE ag_err ag__token_fetch_accessor(ag_auth *a, const char *accessor, int validate,
                                            struct ag__tok *t);
/* Builds the op that records one more use of t (a SET of its record, to run guarded
 * on t->raw); *text holds the new record (free it after the exec). *op is left
 * untouched and 0 returned when the token has unlimited uses. */
AG_MUST_USE ag_err ag__token_use_op(ag_auth *a, const struct ag__tok *t, struct ag_store_op *op,
                                    char **text, int *needed);
/* Records one use of t now (compare-and-set on its record); a no-op for unlimited
 * tokens. AG_EPERM when the last use was taken meanwhile. */
AG_MUST_USE ag_err ag__token_consume(ag_auth *a, struct ag__tok *t);

/* Issue request: info is filled by the caller (agent_id, role, tier, root, policies,
 * ttl_ms, creation_ms, expire_ms, explicit_max_ttl_ms, max_expire_ms, renewable,
 * parent, meta_json); issuing adds the accessor. The token is written together with
 * extra ops under the guard (guard_key NULL: none) after the ledger entry
 * (kind token, action, resource) is committed. A failed guard gives AG_ECONFLICT. */
struct ag__issue {
    struct ag_token_info *info;
    int64_t num_uses;
    int64_t parent_store_ttl; /* store TTL for the parent's children hash */
    const char *guard_key;
    const char *guard_equals;
    const struct ag_store_op *extra;
    size_t nextra;
    const char *action;
    const char *resource;
};
AG_MUST_USE ag_err ag__token_issue(ag_auth *a, struct ag__issue *is, char token[AG_TOKEN_BUF]);

/* "permission denied: <why>" as AG_EPERM: the detail a caller can show as is. */
AG_MUST_USE ag_err ag__token_denied(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Keyed hash (hex, 64 characters and a NUL) of a printable token; AG_EPERM when the text
 * is not the canonical encoding of a token. */
AG_MUST_USE ag_err ag__token_hash(ag_auth *a, const char *token, char hmac[65]);
/* Fetches the record whose hash is hmac into t; validate as ag__token_fetch_accessor. */
AG_MUST_USE ag_err ag__token_fetch_hmac(ag_auth *a, const char *hmac, int validate,
                                        struct ag__tok *t);
/* t's record as JSON text (the caller frees it), NULL when out of memory. */
char *ag__tok_text(const struct ag__tok *t);
/* src copied into dst (cap bytes), cut to fit. */
void ag__token_copy_str(char *dst, size_t cap, const char *src);

#endif
