/* Hashing and randomness helpers over libcrypto and libsodium. Ownership: callers pass
 * output buffers of the documented sizes. */
#ifndef AG_CORE_CRYPTO_H
#define AG_CORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"

/* Zeroes n bytes at p that a library hands out as const but owns as writable memory
 * (jansson's json_string_value, before the value is freed): the one place const is
 * cast away for a wipe. */
void ag__wipe_const(const void *p, size_t n);

#define AG_SHA256_LEN     32
#define AG_SHA256_HEX_LEN 65 /* 64 hex digits + NUL */

/* Must be called once before any other function here (idempotent, thread-safe). */
AG_MUST_USE ag_err ag__crypto_init(void);

/* SHA-256 of data (libcrypto EVP: faster than libsodium on this machine). */
void ag__sha256(const void *data, size_t len, uint8_t out[AG_SHA256_LEN]);
/* SHA-256 as lowercase hex, NUL-terminated. */
void ag__sha256_hex(const void *data, size_t len, char out[AG_SHA256_HEX_LEN]);
/* HMAC-SHA256 (keyed hash) as lowercase hex. */
void ag__hmac_sha256_hex(const uint8_t *key, size_t keylen, const void *data, size_t len,
                         char out[AG_SHA256_HEX_LEN]);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void ag__hex(const uint8_t *in, size_t n, char *out);
/* Parses 2n hex digits into n bytes; AG_EPARSE on bad input. */
AG_MUST_USE ag_err ag__unhex(const char *hex, uint8_t *out, size_t n);
/* n random bytes from the OS CSPRNG (libsodium). */
void ag__random(void *buf, size_t n);
/* Random identifier: nbytes random bytes as hex, NUL-terminated (out holds 2n+1). */
void ag__random_hex(size_t nbytes, char *out);
/* Random RFC 4122 version-4 UUID string (out holds 37 bytes). */
void ag__uuid4(char out[37]);
/* Constant-time comparison of two equal-length buffers; 1 if equal. */
int ag__ct_equal(const void *a, const void *b, size_t n);

#endif
