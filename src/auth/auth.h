/* Internal state of the auth engine, shared by its modules (keyring, tokens, approle,
 * kv). Ownership: struct ag_auth is created by ag_auth_new and released by
 * ag_auth_free; the store, ledger and policy are borrowed; the keyring and the token
 * cache are owned. JSON objects returned through json_t ** belong to the caller
 * (json_decref), strings through char ** are malloc'd for the caller. */
#ifndef AG_AUTH_AUTH_H
#define AG_AUTH_AUTH_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>

#include "agentgov/auth.h"
#include "auth/keyring.h"
#include "auth/tcache.h"

/* A clock source: wall-clock or monotonic milliseconds. Tests inject their own. */
typedef int64_t (*ag__auth_clock_fn)(void *ctx);

/* Store records that are not history keep a grace period after they stop mattering,
 * so that a lookup can say "expired" or "revoked" instead of "invalid". */
#define AG__AUTH_GRACE_MS (3600 * 1000LL)
/* Discards the result of a best-effort call (GCC ignores a (void) cast on
 * warn_unused_result). */
#define AG__BEST_EFFORT(call)                                                                      \
    do {                                                                                           \
        ag_err ag__be_ = (call);                                                                   \
        (void)ag__be_;                                                                             \
    } while (0)
/* Guarded read-modify-write loops give up after this many lost races. */
#define AG__AUTH_CAS_TRIES 16
/* Agents whose token-index pruning time a handle remembers (more share slots). */
#define AG__PRUNE_SLOTS 64

struct ag_auth {
    ag_store *store;
    ag_ledger *ledger;
    const ag_policy *policy;
    struct ag_auth_policy_source policy_src; /* get == NULL: use policy */
    char *master_key_path;                   /* NULL: the master key cannot be reloaded */
    pthread_mutex_t mu;                      /* guards the keyring, the clock and the cache */
    struct ag__keyring kr;
    /* 1 once kr (and hmac_base, persisted_hw) are loaded: with lazy_keyring they may be
     * loaded after the open, by the first call that finds the store up. Set once, with
     * release order, after everything it guards is written. */
    atomic_int kr_ready;
    pthread_mutex_t kr_mu;              /* one loader at a time */
    uint8_t kr_master[AG_AUTH_KEY_LEN]; /* the master key, until the keyring is loaded */
    /* HMAC-SHA256 state keyed with kr.token_key, computed once: hashing a token then
     * costs two compressions and no allocation (the token lookup hot path). */
    crypto_auth_hmacsha256_state hmac_base;
    /* Effective clock (see ag__auth_now). */
    ag__auth_clock_fn wall_fn;
    ag__auth_clock_fn mono_fn;
    void *clock_ctx;
    int64_t base_wall;
    int64_t base_mono;
    int64_t high_water;
    int64_t persisted_hw;
    struct ag__tcache cache;
    /* When each agent's token index next needs pruning (see token.c), by agent hash:
     * a cache, guarded by mu; a slot that names another agent means "now". */
    struct ag__prune_due {
        uint64_t agent_hash;
        int64_t due_ms;
    } prune[AG__PRUNE_SLOTS];
};

/* The engine's notion of "now" in wall-clock ms: the largest of the wall clock, the
 * wall time at open plus monotonic time elapsed since, and every value returned
 * before (in this process, and by any process, through the persisted high-water
 * mark). Expiry is only ever compared against this value, so a wall clock set
 * backwards cannot make an expired token or secret ID valid again. */
int64_t ag__auth_now(ag_auth *a);
/* The same, also returning the monotonic reading it used (for cache ages). */
int64_t ag__auth_now_mono(ag_auth *a, int64_t *mono);
/* Writes the high-water mark to the store (auth:clock) when it advanced by more than
 * a second since the last write. Compare-and-set: it never lowers the stored value. */
AG_MUST_USE ag_err ag__auth_persist_clock(ag_auth *a);
/* Writes it at once: called when something was found expired, so that no process
 * (a new CLI one included) can find it valid again after the wall clock is set back. */
AG_MUST_USE ag_err ag__auth_persist_expiry(ag_auth *a);
/* AG_OK once the keyring is loaded, loading it now if the open could not (lazy_keyring);
 * AG_ESTORE (with the cause) while the store cannot be reached. Every use of kr or of
 * ag__auth_hash comes after it. */
AG_MUST_USE ag_err ag__auth_keyring_ready(ag_auth *a);
/* Keys the HMAC state from kr.token_key (after the keyring is loaded). Caller holds
 * the mutex or owns the handle exclusively. */
void ag__auth_rekey_hmac(ag_auth *a);
/* Test hook: replaces the clock sources and re-bases the effective clock on them.
 * The persisted high-water mark still applies. */
void ag__auth_set_clock(ag_auth *a, ag__auth_clock_fn wall, ag__auth_clock_fn mono, void *ctx);

/* The current policy (read under the mutex: ag_auth_set_policy may swap it). */
/* The policy for one use, with a reference that ag__auth_policy_put releases (the
 * policy must not be used after it). */
const ag_policy *ag__auth_policy_get(ag_auth *a, void **ref);
void ag__auth_policy_put(ag_auth *a, void *ref);
/* The TTL defaults of tier in the current policy: 1 if it defines the tier, else 0. */
int ag__auth_tier_ttls(ag_auth *a, int tier, int64_t *ttl_ms, int64_t *max_ttl_ms);
/* ag_auth_tier_policy under the current policy. */
void ag__auth_tier_policy_name(ag_auth *a, int tier, char out[AG_AUTH_NAME_MAX]);
/* Appends a ledger entry; the ledger's error otherwise, with a detail naming what was
 * being recorded. */
AG_MUST_USE ag_err ag__auth_ledger(ag_auth *a, const struct ag_ledger_entry *e);
/* Names: [A-Za-z0-9._-]+ (plus '@' and ':' for agent ids), shorter than
 * AG_AUTH_NAME_MAX. what names the field in the error. */
AG_MUST_USE ag_err ag__auth_check_name(const char *what, const char *s, int agent);

/* Store helpers. *raw / *obj are NULL when the key is absent. */
AG_MUST_USE ag_err ag__auth_get_json(ag_auth *a, const char *key, json_t **obj, char **raw);
/* Runs ops under an optional guard (guard_key NULL: none) and discards the replies.
 * *ok is 0 when the guard failed. */
AG_MUST_USE ag_err ag__auth_exec(ag_auth *a, const char *guard_key, const char *guard_equals,
                                 const struct ag_store_op *ops, size_t n, int *ok);
/* Field readers that tolerate absence: 0 / "" / 0. */
int64_t ag__j_int(const json_t *o, const char *k);
const char *ag__j_str(const json_t *o, const char *k);
int ag__j_bool(const json_t *o, const char *k);
/* Compact JSON with sorted keys; NULL on allocation failure. */
char *ag__j_dump(const json_t *o);
/* HMAC-SHA256 hex under the keyring's hashing key, domain-separated by label. Fails
 * (AG_ESTORE) while the keyring is not loaded: see ag__auth_keyring_ready. */
AG_MUST_USE ag_err ag__auth_hash(ag_auth *a, const char *label, const void *data, size_t len,
                                 char out[65]);
/* Millisecond TTL for a store key that should outlive expire_ms by the grace period;
 * 0 (no TTL) when expire_ms is 0. */
int64_t ag__auth_store_ttl(ag_auth *a, int64_t expire_ms);

#endif
