/* Key files and Ed25519 checkpoint signatures (libsodium). */
#include "ledger/keys.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"

static ag_err write_hex_file(const char *path, const uint8_t *key, size_t n, mode_t mode)
{
    char hex[2 * AG_LEDGER_SK_LEN + 2];
    ag__hex(key, n, hex);
    hex[2 * n] = '\n';
    ag_err err = ag__write_file_atomic(path, hex, 2 * n + 1, mode, 1);
    sodium_memzero(hex, sizeof hex);
    return err;
}

/* Reads a hex key file of exactly n bytes (a trailing newline is allowed). */
static ag_err read_hex_file(const char *path, uint8_t *key, size_t n, const char *what)
{
    char *data = NULL;
    size_t len = 0;
    ag_err err = ag__read_file(path, 4096, &data, &len);
    if (err)
        return err;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        data[--len] = '\0';
    err = ag__unhex(data, key, n);
    sodium_memzero(data, len);
    free(data);
    if (err)
        return ag__fail(AG_EPARSE, "%s: not a %s (%zu hex-encoded bytes expected)", path, what, n);
    return AG_OK;
}

ag_err ag__ledger_keygen(const char *sk_path, const char *pk_path)
{
    uint8_t pk[AG_LEDGER_PK_LEN], sk[AG_LEDGER_SK_LEN];
    if (crypto_sign_keypair(pk, sk) != 0)
        return ag__fail(AG_ECRYPTO, "Ed25519 key generation failed");
    ag_err err = write_hex_file(sk_path, sk, sizeof sk, 0600);
    sodium_memzero(sk, sizeof sk);
    if (err == AG_OK)
        err = write_hex_file(pk_path, pk, sizeof pk, 0644);
    return err;
}

ag_err ag__ledger_hmac_keygen(const char *path)
{
    uint8_t key[AG_LEDGER_HMAC_LEN];
    ag__random(key, sizeof key);
    ag_err err = write_hex_file(path, key, sizeof key, 0600);
    sodium_memzero(key, sizeof key);
    return err;
}

ag_err ag__ledger_load_sk(const char *path, uint8_t sk[AG_LEDGER_SK_LEN])
{
    return read_hex_file(path, sk, AG_LEDGER_SK_LEN, "Ed25519 secret key");
}

ag_err ag__ledger_load_pk(const char *path, uint8_t pk[AG_LEDGER_PK_LEN])
{
    return read_hex_file(path, pk, AG_LEDGER_PK_LEN, "Ed25519 public key");
}

ag_err ag__ledger_load_hmac(const char *path, uint8_t key[AG_LEDGER_HMAC_LEN])
{
    return read_hex_file(path, key, AG_LEDGER_HMAC_LEN, "ledger HMAC key");
}

size_t ag__checkpoint_message(int64_t seq, const char *hash, char out[AG_LEDGER_CP_MSG_LEN])
{
    int n = snprintf(out, AG_LEDGER_CP_MSG_LEN, "agentgov-ledger-checkpoint:v1:%lld:%s",
                     (long long)seq, hash);
    return n < 0 ? 0 : (size_t)n;
}

void ag__ledger_key_id(const uint8_t pk[AG_LEDGER_PK_LEN], char out[AG_LEDGER_KEY_ID_LEN])
{
    char hex[AG_SHA256_HEX_LEN];
    ag__sha256_hex(pk, AG_LEDGER_PK_LEN, hex);
    memcpy(out, hex, AG_LEDGER_KEY_ID_LEN - 1);
    out[AG_LEDGER_KEY_ID_LEN - 1] = '\0';
}

void ag__checkpoint_sign(const uint8_t sk[AG_LEDGER_SK_LEN], int64_t seq, const char *hash,
                         char sig_hex[2 * AG_LEDGER_SIG_LEN + 1])
{
    char msg[AG_LEDGER_CP_MSG_LEN];
    size_t len = ag__checkpoint_message(seq, hash, msg);
    uint8_t sig[AG_LEDGER_SIG_LEN];
    crypto_sign_detached(sig, NULL, (const uint8_t *)msg, len, sk);
    ag__hex(sig, sizeof sig, sig_hex);
}

int ag__checkpoint_verify(const uint8_t pk[AG_LEDGER_PK_LEN], int64_t seq, const char *hash,
                          const char *sig_hex)
{
    uint8_t sig[AG_LEDGER_SIG_LEN];
    if (sig_hex == NULL || ag__unhex(sig_hex, sig, sizeof sig) != AG_OK)
        return 0;
    char msg[AG_LEDGER_CP_MSG_LEN];
    size_t len = ag__checkpoint_message(seq, hash, msg);
    return crypto_sign_verify_detached(sig, (const uint8_t *)msg, len, pk) == 0;
}
