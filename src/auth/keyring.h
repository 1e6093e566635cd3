/* The auth keyring: the token-hashing key and the data keys that encrypt secret values,
 * stored in the state store (key auth:keyring) only wrapped by master keys. Ownership:
 * struct ag__keyring is caller-owned, holds key material inline and must be wiped with
 * ag__keyring_wipe; records returned through char ** are malloc'd for the caller (and
 * plaintexts must be wiped before free: sodium_memzero).
 *
 * Stored form: {"v":1,"wraps":{"<mkid>":"<base64 nonce|ciphertext>"}} where each wrap
 * is the JSON blob {"current":id,"deks":{id:hex},"token_key":hex} encrypted with
 * XChaCha20-Poly1305 under one master key, with "agentgov/keyring/v1\n<mkid>" as
 * associated data. mkid = first 8 bytes (hex) of HMAC-SHA256(master, "agentgov master
 * key id"). Several wraps exist only in the middle of a rekey. */
#ifndef AG_AUTH_KEYRING_H
#define AG_AUTH_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/auth.h"

#define AG__KR_MAX_DEKS 64
#define AG__KR_ID_BUF   17
#define AG__KEYRING_KEY "auth:keyring"

struct ag__dek {
    char id[AG__KR_ID_BUF];
    uint8_t key[AG_AUTH_KEY_LEN];
};

struct ag__keyring {
    uint8_t master[AG_AUTH_KEY_LEN];
    char mkid[AG__KR_ID_BUF];
    uint8_t token_key[AG_AUTH_KEY_LEN];
    struct ag__dek deks[AG__KR_MAX_DEKS];
    size_t ndeks;
    size_t current; /* index of the data key new values are sealed with */
};

/* Key id of a master key (16 hex digits). */
void ag__keyring_mkid(const uint8_t master[AG_AUTH_KEY_LEN], char out[AG__KR_ID_BUF]);
/* Loads the keyring under master from the store, creating it on first use. *raw (may
 * be NULL) receives the stored text, for a later compare-and-set. */
AG_MUST_USE ag_err ag__keyring_open(ag_store *s, const uint8_t master[AG_AUTH_KEY_LEN],
                                    struct ag__keyring *kr, char **raw);
/* Serialises kr wrapped under each of the n master keys. */
AG_MUST_USE ag_err ag__keyring_serialize(const struct ag__keyring *kr,
                                         const uint8_t (*masters)[AG_AUTH_KEY_LEN], size_t n,
                                         char **out);
/* Adds a fresh random data key and makes it current. */
AG_MUST_USE ag_err ag__keyring_add_dek(struct ag__keyring *kr);
void ag__keyring_wipe(struct ag__keyring *kr);

/* Seals plaintext for (path, version) under the current data key: a record
 * {"k":dek id,"n":nonce b64,"c":ciphertext b64}, with "agentgov/kv/v1\n<path>\n
 * <version>\n<dek id>" as associated data, so a ciphertext moved to another path or
 * version does not decrypt. */
AG_MUST_USE ag_err ag__seal(const struct ag__keyring *kr, const char *path, int64_t version,
                            const char *plain, size_t len, char **record);
/* Opens a record. AG_ETAMPER when authentication fails; AG_ENOTFOUND (detail names
 * the key id) when its data key is not in kr (another process rotated: reload). */
AG_MUST_USE ag_err ag__unseal(const struct ag__keyring *kr, const char *path, int64_t version,
                              const char *record, char **plain, size_t *len);
/* Id of the data key that sealed a record, into out ("" when unreadable). */
void ag__sealed_dek(const char *record, char out[AG__KR_ID_BUF]);

#endif
