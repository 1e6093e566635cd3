/* Identity, short-lived tokens and encrypted secrets (the Vault part of the seed):
 * AppRole roles and secret IDs, login, tokens with TTLs, accessors, children and leases,
 * and a versioned KV v2 secrets engine encrypted at rest. Ownership: ag_auth is an
 * opaque handle (ag_auth_new/ag_auth_free) that borrows its store, ledger and policy
 * (they must outlive it); every struct below is caller-owned; the few malloc'd members
 * (meta_json, data_json, arrays) are released by the matching _clear/_free function.
 *
 * Every state change lives in the state store (embedded or Redis): several processes
 * that share a store and a master key see the same roles, tokens and secrets.
 * Every login, token creation, renewal and revocation, secret write and secret read is
 * recorded in the ledger (kinds "token" and "secret"); secret values and tokens never
 * are. Fail closed: a grant whose ledger entry cannot be committed is refused.
 *
 * Thread safety: a handle may be shared between threads when its store handle may be;
 * the handle's own state (token cache, clock, keyring) is guarded by a mutex. */
#ifndef AGENTGOV_AUTH_H
#define AGENTGOV_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"
#include "agentgov/ledger.h"
#include "agentgov/store.h"

typedef struct ag_auth ag_auth;
/* From agentgov/policy.h (C11 allows the repeated typedef). */
typedef struct ag_policy ag_policy;

#define AG_AUTH_KEY_LEN        32 /* master key: 32 bytes, 64 hex digits in files and env */
#define AG_AUTH_MASTER_KEY_ENV "AGENTGOV_MASTER_KEY"
/* Printable token: "agv." + unpadded base64url of 32 random bytes (47 characters). */
#define AG_TOKEN_PREFIX       "agv."
#define AG_TOKEN_LEN          47
#define AG_TOKEN_BUF          48
#define AG_ACCESSOR_BUF       25  /* 24 hex digits + NUL */
#define AG_UUID_BUF           37  /* role_id, secret_id, secret_id accessor */
#define AG_AUTH_NAME_MAX      128 /* role names, agent ids, policy names, incl. NUL */
#define AG_TOKEN_MAX_POLICIES 8
#define AG_AUTH_CIDRS_MAX     512
#define AG_SECRET_PATH_MAX    256 /* canonical path, without "secret/", incl. NUL */
#define AG_LEASE_ID_MAX       300 /* "secret/<path>/<24 hex>" */
#define AG_ROOT_POLICY        "root"

/* Everything the handle needs. store, ledger and master_key are required (a NULL
 * ledger is refused: there is no unaudited mode). policy may be NULL: then only the
 * root token can read or write secrets and roles must give explicit TTLs. */
/* The longest TTL accepted anywhere (token, role, secret ID; about 100 years): keeps
 * now + TTL far from overflowing. A renewal increment above it is taken as it. */
#define AG_AUTH_TTL_LIMIT_MS AG_STORE_TTL_MAX_MS

struct ag_auth_opts {
    ag_store *store;
    ag_ledger *ledger;
    const ag_policy *policy;
    const uint8_t *master_key; /* AG_AUTH_KEY_LEN bytes; copied */
    /* Token lookups are served from an in-process cache for up to this many ms
     * (0 = default 1000, -1 = no cache). Revocations made through this handle
     * invalidate it at once; revocations by another process are seen after at most
     * this long. Expiry is always checked exactly, cached or not. */
    int64_t cache_ttl_ms;
    /* Where master_key came from (ag_auth_master_key_load's path; may be NULL). A
     * long-lived handle, such as the daemon's, reloads the key from there when another
     * process rotated it (`agentgov secret rekey`), instead of failing every secret
     * read until it is restarted. */
    const char *master_key_path;
};

/* Opens the auth engine over a store. On first use it creates the store's keyring
 * (a random data key and token-hashing key, wrapped by the master key); afterwards
 * AG_ECRYPTO when the master key does not unwrap the keyring. */
AG_MUST_USE ag_err ag_auth_new(const struct ag_auth_opts *opts, ag_auth **out);
void ag_auth_free(ag_auth *a);
/* Swaps the policy used for tier defaults and secret decisions (policy reload). The
 * caller keeps the previous policy alive until no thread can still be using the engine;
 * when that cannot be known, use a policy source instead. */
void ag_auth_set_policy(ag_auth *a, const ag_policy *policy);
/* Where the engine takes its policy from when another thread can swap it at any time
 * (the daemon's SIGHUP reload): get returns the current policy (NULL: none) and a
 * reference, which the engine hands to put once that one decision or lookup of a
 * tier's defaults is done. Takes the place of the policy of ag_auth_opts and
 * ag_auth_set_policy; src is copied, NULL goes back to them. */
struct ag_auth_policy_source {
    const ag_policy *(*get)(void *ctx, void **ref);
    void (*put)(void *ctx, void *ref);
    void *ctx;
};
void ag_auth_set_policy_source(ag_auth *a, const struct ag_auth_policy_source *src);

/* ---- keys and files -------------------------------------------------------------- */

/* Loads the master key: $AGENTGOV_MASTER_KEY (64 hex digits) when set, else the file
 * at path (64 hex digits, optional newline). The file must not be readable by group or
 * others (AG_EPERM naming the mode). */
AG_MUST_USE ag_err ag_auth_master_key_load(const char *path, uint8_t key[AG_AUTH_KEY_LEN]);
/* The identifier of a master key (16 hex digits), as `secret rekey` and the keyring
 * name it. */
#define AG_AUTH_KEY_ID_BUF 17
void ag_auth_master_key_id(const uint8_t key[AG_AUTH_KEY_LEN], char id[AG_AUTH_KEY_ID_BUF]);
/* Creates a new random master key file (0600, atomically, AG_EEXIST if present). */
AG_MUST_USE ag_err ag_auth_master_key_create(const char *path);
/* Reads a token from a file (first line, surrounding whitespace trimmed). */
AG_MUST_USE ag_err ag_auth_token_read_file(const char *path, char token[AG_TOKEN_BUF]);

/* ---- roles (AppRole) ------------------------------------------------------------- */

struct ag_role {
    char name[AG_AUTH_NAME_MAX];         /* [A-Za-z0-9._-]+ */
    char role_id[AG_UUID_BUF];           /* generated on create when empty; kept on update */
    char agent_id[AG_AUTH_NAME_MAX];     /* bound agent identity; "" = the role name */
    int tier;                            /* 0..4 */
    int64_t token_ttl_ms;                /* 0 = the tier's default (ag_policy_tier) */
    int64_t token_max_ttl_ms;            /* 0 = the tier's max TTL */
    int64_t token_num_uses;              /* 0 = unlimited */
    int64_t secret_id_ttl_ms;            /* 0 = secret IDs never expire */
    int64_t secret_id_num_uses;          /* 0 = unlimited */
    char bound_cidrs[AG_AUTH_CIDRS_MAX]; /* "10.0.0.0/8,::1/128"; "" = any source */
    int64_t creation_ms;                 /* set by the engine */
};

/* Creates or updates a role. Zero TTLs are resolved from the policy's tier now, and
 * the stored role holds the resolved values; role->role_id and creation_ms are filled
 * in. AG_EINVAL names the bad field. */
AG_MUST_USE ag_err ag_auth_role_write(ag_auth *a, struct ag_role *role);
AG_MUST_USE ag_err ag_auth_role_read(ag_auth *a, const char *name, struct ag_role *out);
/* Role names, sorted; free with ag_auth_strv_free. */
AG_MUST_USE ag_err ag_auth_role_list(ag_auth *a, char ***names, size_t *n);
/* Deletes a role and all its secret IDs. Tokens already issued stay valid until they
 * expire or are revoked (as in Vault). */
AG_MUST_USE ag_err ag_auth_role_delete(ag_auth *a, const char *name);

/* ---- secret IDs ------------------------------------------------------------------ */

struct ag_secret_id_info {
    char accessor[AG_UUID_BUF];
    int64_t creation_ms;
    int64_t expire_ms; /* 0 = never */
    int64_t ttl_ms;    /* 0 = never */
    int64_t num_uses;  /* uses left; 0 = unlimited */
};

/* Issues a secret ID for a role. ttl_ms/num_uses < 0 take the role's values. The
 * secret ID is returned once and stored only as a keyed hash. info may be NULL. */
AG_MUST_USE ag_err ag_auth_secret_id_create(ag_auth *a, const char *role, int64_t ttl_ms,
                                            int64_t num_uses, char secret_id[AG_UUID_BUF],
                                            struct ag_secret_id_info *info);
/* Live secret IDs of a role, sorted by accessor; free(*items). */
AG_MUST_USE ag_err ag_auth_secret_id_list(ag_auth *a, const char *role,
                                          struct ag_secret_id_info **items, size_t *n);
AG_MUST_USE ag_err ag_auth_secret_id_lookup(ag_auth *a, const char *role, const char *accessor,
                                            struct ag_secret_id_info *out);
/* Destroys one secret ID, named by its value or by its accessor. */
AG_MUST_USE ag_err ag_auth_secret_id_destroy(ag_auth *a, const char *role, const char *secret_id);
AG_MUST_USE ag_err ag_auth_secret_id_destroy_accessor(ag_auth *a, const char *role,
                                                      const char *accessor);

/* ---- tokens ---------------------------------------------------------------------- */

struct ag_token_info {
    char accessor[AG_ACCESSOR_BUF];
    char parent[AG_ACCESSOR_BUF];    /* parent's accessor; "" for orphans and logins */
    char agent_id[AG_AUTH_NAME_MAX]; /* "root" for the root token */
    char role[AG_AUTH_NAME_MAX];     /* role used to log in; "" otherwise */
    int tier;
    int root; /* 1 when the token carries the root policy */
    char policies[AG_TOKEN_MAX_POLICIES][AG_AUTH_NAME_MAX]; /* e.g. "t2-builder" */
    size_t npolicies;
    int64_t creation_ms;
    int64_t ttl_ms;              /* TTL granted at creation (creation_ttl) */
    int64_t expire_ms;           /* 0 = never (root) */
    int64_t explicit_max_ttl_ms; /* 0 = none */
    int64_t max_expire_ms;       /* hard ceiling renewals never pass; 0 = none */
    int64_t remaining_ms;        /* time left at lookup; -1 when it never expires */
    int renewable;
    int64_t num_uses; /* uses left; 0 = unlimited */
    char *meta_json;  /* JSON object of string values, e.g. {"role_name":"x"} */
};
/* Frees meta_json (accepts NULL or an already-cleared struct). */
void ag_token_info_clear(struct ag_token_info *t);

/* AppRole login. source_addr is the caller's IP address; a role with bound_cidrs
 * refuses a login without one or from outside them. Returns the token once in token
 * (AG_TOKEN_BUF bytes); info may be NULL. Every failure is AG_EPERM with a detail
 * beginning "permission denied" (the cause is in the ledger, never told to the caller
 * beyond "invalid role_id or secret_id"), except store/ledger failures. */
AG_MUST_USE ag_err ag_auth_login(ag_auth *a, const char *role_id, const char *secret_id,
                                 const char *source_addr, char token[AG_TOKEN_BUF],
                                 struct ag_token_info *info);

/* Child token request. A child never gets a higher tier than its parent, never policies
 * its parent lacks (unless the parent is root), and never outlives its parent. */
struct ag_token_req {
    const char *agent_id;        /* NULL = the parent's */
    int tier;                    /* -1 = the parent's */
    const char *const *policies; /* NULL = tier policy name ("t<tier>-<name>") */
    size_t npolicies;
    int64_t ttl_ms;              /* 0 = tier default */
    int64_t explicit_max_ttl_ms; /* 0 = tier max */
    int renewable;
    int64_t num_uses;      /* 0 = unlimited */
    const char *meta_json; /* NULL or a JSON object of strings */
};
AG_MUST_USE ag_err ag_auth_token_create(ag_auth *a, const char *parent_token,
                                        const struct ag_token_req *req, char token[AG_TOKEN_BUF],
                                        struct ag_token_info *info);
/* The root token: tier 4, policy "root", no expiry, not renewable. Called by
 * `agentgov init`; the library trusts its caller (the daemon guards its endpoints). */
AG_MUST_USE ag_err ag_auth_root_token_create(ag_auth *a, char token[AG_TOKEN_BUF],
                                             struct ag_token_info *info);

/* Validates a token and describes it. Does not consume a use. An unknown, tampered,
 * expired or revoked token gives AG_EPERM; ag_last_error() says "permission denied:
 * token expired at ...", "... token revoked" or "... invalid token". */
AG_MUST_USE ag_err ag_auth_token_lookup(ag_auth *a, const char *token, struct ag_token_info *out);
/* The same, always read from the store, never from the cache: for decisions that
 * must see at once a revocation made by another process (administrative rights). */
AG_MUST_USE ag_err ag_auth_token_lookup_fresh(ag_auth *a, const char *token,
                                              struct ag_token_info *out);
AG_MUST_USE ag_err ag_auth_token_lookup_accessor(ag_auth *a, const char *accessor,
                                                 struct ag_token_info *out);
/* Renews: new expiry = now + (increment_ms, or the token's ttl when 0), never past its
 * max_expire_ms nor its parent's expiry. A non-renewable or expired token gives
 * AG_EPERM. out may be NULL. */
AG_MUST_USE ag_err ag_auth_token_renew(ag_auth *a, const char *token, int64_t increment_ms,
                                       struct ag_token_info *out);
AG_MUST_USE ag_err ag_auth_token_renew_accessor(ag_auth *a, const char *accessor,
                                                int64_t increment_ms, struct ag_token_info *out);

/* Counts of what a revocation took away. */
struct ag_revoke_stats {
    size_t tokens;
    size_t leases;
    size_t secret_ids;
};
/* Revokes a token, its children (recursively) and all their leases. The revocation
 * happens even when the ledger cannot record it (taking access away is the safe
 * direction); the call then returns AG_ELEDGER to say it is unrecorded. Revoking an
 * unknown token gives AG_EPERM, an unknown accessor AG_ENOTFOUND. stats may be NULL. */
AG_MUST_USE ag_err ag_auth_token_revoke(ag_auth *a, const char *token,
                                        struct ag_revoke_stats *stats);
AG_MUST_USE ag_err ag_auth_token_revoke_accessor(ag_auth *a, const char *accessor,
                                                 struct ag_revoke_stats *stats);

/* Revokes everything an agent holds: all its tokens (with children and leases) and the
 * secret IDs of every role bound to it. Roles stay, so an operator can issue a new
 * secret ID later. Same ledger rule as ag_auth_token_revoke. */
AG_MUST_USE ag_err ag_auth_revoke_agent(ag_auth *a, const char *agent_id,
                                        struct ag_revoke_stats *stats);
/* The same with the signature of the lifecycle's revocation hook
 * (ag_err (*)(void *ctx, const char *agent_id)); ctx is the ag_auth handle. */
AG_MUST_USE ag_err ag_auth_revoke_agent_hook(void *ctx, const char *agent_id);

/* ---- leases ---------------------------------------------------------------------- */

struct ag_lease_info {
    char lease_id[AG_LEASE_ID_MAX];
    char accessor[AG_ACCESSOR_BUF]; /* token the lease is attached to */
    char path[AG_SECRET_PATH_MAX];
    int64_t version;
    int64_t issue_ms;
    int64_t expire_ms;
};
/* A live lease; AG_ENOTFOUND once it expired or was revoked (with its token). */
AG_MUST_USE ag_err ag_auth_lease_lookup(ag_auth *a, const char *lease_id,
                                        struct ag_lease_info *out);
AG_MUST_USE ag_err ag_auth_lease_revoke(ag_auth *a, const char *lease_id);

/* ---- secrets (KV v2) ------------------------------------------------------------- */
/* Paths: "secret/services/dragonfly" and "services/dragonfly" name the same secret
 * (one leading "secret/" is the mount and is stripped); segments are [A-Za-z0-9._-]+.
 * The policy sees action "secret.<op>" on resource "secret/<path>", for the token's
 * tier, without a phase. The root token is always allowed. Reads, writes, deletes and
 * destroys consume one of a token's limited uses. */

struct ag_secret_version {
    int64_t version;
    int64_t created_ms;
    int64_t deletion_ms; /* soft-deleted at; 0 = not deleted */
    int destroyed;
};

struct ag_secret_meta {
    int64_t current_version;
    int64_t oldest_version;
    int64_t max_versions;
    int64_t created_ms;
    int64_t updated_ms;
    struct ag_secret_version *versions; /* ascending by version; malloc'd */
    size_t nversions;
};
void ag_secret_meta_clear(struct ag_secret_meta *m);

struct ag_secret {
    char *data_json; /* the decrypted JSON object; wiped and freed by ag_secret_clear */
    struct ag_secret_version version;
    char lease_id[AG_LEASE_ID_MAX]; /* "" when the token never expires (root) */
    int64_t lease_duration_ms;      /* the token's remaining TTL; 0 without lease */
};
void ag_secret_clear(struct ag_secret *s);

/* Writes a new version (action secret.write). data_json must be a JSON object. cas >= 0
 * requires the current version to equal cas (0: the secret must not exist), else
 * AG_ECONFLICT. Versions beyond max_versions (default 10) are removed. */
AG_MUST_USE ag_err ag_auth_secret_put(ag_auth *a, const char *token, const char *path,
                                      const char *data_json, int64_t cas,
                                      struct ag_secret_version *out);
/* Reads a version (0 = latest; action secret.read): decided, recorded, decrypted, then
 * a lease attached to the token. A deleted or destroyed version is AG_ENOTFOUND; a
 * ciphertext that fails authentication is AG_ETAMPER and is never returned. */
AG_MUST_USE ag_err ag_auth_secret_get(ag_auth *a, const char *token, const char *path,
                                      int64_t version, struct ag_secret *out);
/* Metadata (action secret.read); never holds values. */
AG_MUST_USE ag_err ag_auth_secret_metadata(ag_auth *a, const char *token, const char *path,
                                           struct ag_secret_meta *out);
/* Immediate children under prefix (action secret.list), Vault-style: "name" for a
 * secret, "name/" for a folder; sorted; free with ag_auth_strv_free. */
AG_MUST_USE ag_err ag_auth_secret_list(ag_auth *a, const char *token, const char *prefix,
                                       char ***keys, size_t *n);
/* Soft-deletes versions (nversions == 0: the latest); action secret.delete. */
AG_MUST_USE ag_err ag_auth_secret_delete(ag_auth *a, const char *token, const char *path,
                                         const int64_t *versions, size_t nversions);
/* Undoes a soft delete; action secret.write. */
AG_MUST_USE ag_err ag_auth_secret_undelete(ag_auth *a, const char *token, const char *path,
                                           const int64_t *versions, size_t nversions);
/* Destroys versions for good (ciphertext removed); action secret.destroy. */
AG_MUST_USE ag_err ag_auth_secret_destroy(ag_auth *a, const char *token, const char *path,
                                          const int64_t *versions, size_t nversions);

/* The latest version of a secret for agentgov itself (the daemon's notification
 * secrets: `kv:<path>#<field>` in its configuration), without a token: the caller is
 * the process that holds the master key. Ledgered as a read by "agentgov:<service>".
 * *data_json is malloc'd (wipe and free it). */
AG_MUST_USE ag_err ag_auth_secret_read_service(ag_auth *a, const char *service, const char *path,
                                               char **data_json);

/* Rotates the master key to new_key without a window where a crash loses data: the
 * keyring is first wrapped under both keys, then persist(ctx, new_key) must store the
 * new key durably (e.g. write master.key atomically), then the old wrap is dropped.
 * With rotate_data_key, a new data key becomes current and every stored version is
 * re-encrypted under it; the old data key stays in the keyring for decryption only.
 * persist may be NULL when the caller stores the key itself beforehand. */
typedef ag_err (*ag_auth_persist_key_fn)(void *ctx, const uint8_t key[AG_AUTH_KEY_LEN]);
AG_MUST_USE ag_err ag_auth_rekey(ag_auth *a, const uint8_t new_key[AG_AUTH_KEY_LEN],
                                 int rotate_data_key, ag_auth_persist_key_fn persist, void *ctx,
                                 size_t *reencrypted);

/* ---- helpers --------------------------------------------------------------------- */

/* Policy name of a tier: "t<tier>-<lowercase tier name>" (e.g. "t2-builder"), or
 * "t<tier>" without a policy. */
void ag_auth_tier_policy(const ag_policy *p, int tier, char out[AG_AUTH_NAME_MAX]);
/* Canonical secret path (strips one "secret/"), AG_EINVAL naming the problem. */
AG_MUST_USE ag_err ag_auth_secret_path(const char *in, char out[AG_SECRET_PATH_MAX]);
void ag_auth_strv_free(char **v, size_t n);

#endif
