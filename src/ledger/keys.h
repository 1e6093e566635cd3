/* Ledger key files and checkpoint signatures. Files hold lowercase hex and a newline:
 * ledger.key the 64-byte libsodium Ed25519 secret key (seed || public key, mode 0600),
 * ledger.pub the 32-byte public key, ledger.hmac a 32-byte HMAC key (mode 0600).
 * Ownership: callers pass fixed-size buffers; nothing is allocated. */
#ifndef AG_LEDGER_KEYS_H
#define AG_LEDGER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"
#include "agentgov/ledger.h"

#define AG_LEDGER_SK_LEN     64
#define AG_LEDGER_SIG_LEN    64
#define AG_LEDGER_HMAC_LEN   32
#define AG_LEDGER_KEY_ID_LEN 17 /* 16 hex digits + NUL */
/* Longest checkpoint message: prefix, 20-digit seq, 64 hex digits. */
#define AG_LEDGER_CP_MSG_LEN 128

/* Creates a new Ed25519 key pair in sk_path (0600) and pk_path (0644); fails with
 * AG_EEXIST rather than replace either file. */
AG_MUST_USE ag_err ag__ledger_keygen(const char *sk_path, const char *pk_path);
/* Creates a new random HMAC key file (0600); AG_EEXIST if it exists. */
AG_MUST_USE ag_err ag__ledger_hmac_keygen(const char *path);

AG_MUST_USE ag_err ag__ledger_load_sk(const char *path, uint8_t sk[AG_LEDGER_SK_LEN]);
AG_MUST_USE ag_err ag__ledger_load_pk(const char *path, uint8_t pk[AG_LEDGER_PK_LEN]);
AG_MUST_USE ag_err ag__ledger_load_hmac(const char *path, uint8_t key[AG_LEDGER_HMAC_LEN]);

/* The signed message of a checkpoint over row (seq, hash): the ASCII bytes
 * "agentgov-ledger-checkpoint:v1:<seq in decimal>:<hash>", no newline. Returns its
 * length. */
size_t ag__checkpoint_message(int64_t seq, const char *hash, char out[AG_LEDGER_CP_MSG_LEN]);
/* Key id: the first 16 hex digits of SHA-256(public key). */
void ag__ledger_key_id(const uint8_t pk[AG_LEDGER_PK_LEN], char out[AG_LEDGER_KEY_ID_LEN]);
/* Signature (hex, 128 digits + NUL) of the checkpoint message for (seq, hash). */
void ag__checkpoint_sign(const uint8_t sk[AG_LEDGER_SK_LEN], int64_t seq, const char *hash,
                         char sig_hex[2 * AG_LEDGER_SIG_LEN + 1]);
/* 1 if sig_hex is a valid signature of (seq, hash) under pk, else 0. */
int ag__checkpoint_verify(const uint8_t pk[AG_LEDGER_PK_LEN], int64_t seq, const char *hash,
                          const char *sig_hex);

#endif
