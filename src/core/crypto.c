#include "core/crypto.h"

/* SHA-256 uses libcrypto's direct SHA256_* functions, which OpenSSL 3 marks
 * deprecated: unlike EVP they need no provider, so a cold process does not pay
 * OpenSSL's provider and configuration start-up (about 6 million instructions, most
 * of a hook decision), and each call skips the EVP fetch (3x more hashes/s of 200 B).
 * Nothing here may use EVP: one EVP call links 2 MB of OpenSSL into the CLI, whose
 * relocations every cold process pays. HMAC is libsodium's. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

ag_err ag__crypto_init(void)
{
    if (sodium_init() < 0)
        return ag__fail(AG_ECRYPTO, "libsodium failed to initialise");
    return AG_OK;
}

void ag__sha256(const void *data, size_t len, uint8_t out[AG_SHA256_LEN])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, data, len);
    SHA256_Final(out, &c);
}

void ag__hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ag_err ag__unhex(const char *hex, uint8_t *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return ag__fail(AG_EPARSE, "expected %zu hex digits", 2 * n);
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ag__fail(AG_EPARSE, "bad hex digit");
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return AG_OK;
}

void ag__sha256_hex(const void *data, size_t len, char out[AG_SHA256_HEX_LEN])
{
    uint8_t d[AG_SHA256_LEN];
    ag__sha256(data, len, d);
    ag__hex(d, sizeof d, out);
}

void ag__hmac_sha256_hex(const uint8_t *key, size_t keylen, const void *data, size_t len,
                         char out[AG_SHA256_HEX_LEN])
{
    uint8_t d[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, data, len);
    crypto_auth_hmacsha256_final(&st, d);
    ag__hex(d, sizeof d, out);
}

void ag__random(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}

void ag__random_hex(size_t nbytes, char *out)
{
    uint8_t tmp[64];
    while (nbytes > 0) {
        size_t chunk = nbytes < sizeof tmp ? nbytes : sizeof tmp;
        randombytes_buf(tmp, chunk);
        ag__hex(tmp, chunk, out);
        out += 2 * chunk;
        nbytes -= chunk;
    }
}

void ag__uuid4(char out[37])
{
    uint8_t b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int ag__ct_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

void ag__wipe_const(const void *p, size_t n)
{
    sodium_memzero((void *)(uintptr_t)p, n);
}
