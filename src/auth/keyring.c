#include "auth/keyring.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"

#define B64       sodium_base64_VARIANT_ORIGINAL
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN   crypto_aead_xchacha20poly1305_ietf_ABYTES

void ag__keyring_mkid(const uint8_t master[AG_AUTH_KEY_LEN], char out[AG__KR_ID_BUF])
{
    static const char label[] = "agentgov master key id";
    char hex[AG_SHA256_HEX_LEN];
    ag__hmac_sha256_hex(master, AG_AUTH_KEY_LEN, label, sizeof label - 1, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

void ag__keyring_wipe(struct ag__keyring *kr)
{
    sodium_memzero(kr, sizeof *kr);
}

/* Base64 of bin as a malloc'd string. */
static char *b64_encode(const uint8_t *bin, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, B64);
    char *out = malloc(cap);
    if (out)
        sodium_bin2base64(out, cap, bin, len, B64);
    return out;
}

/* Decodes base64 into a malloc'd buffer; NULL on bad input. */
static uint8_t *b64_decode(const char *s, size_t *len)
{
    size_t slen = strlen(s);
    uint8_t *bin = malloc(slen + 1);
    const char *end = NULL;
    if (!bin)
        return NULL;
    if (sodium_base642bin(bin, slen + 1, s, slen, NULL, len, &end, B64) != 0 || end != s + slen) {
        free(bin);
        return NULL;
    }
    return bin;
}

/* Encrypts msg with key and associated data into base64(nonce | ciphertext). */
static ag_err aead_seal_b64(const uint8_t *key, const char *ad, const uint8_t *msg, size_t len,
                            char **out)
{
    size_t total = NONCE_LEN + len + TAG_LEN;
    uint8_t *buf = malloc(total);
    if (!buf)
        return ag__fail(AG_ENOMEM, "sealing %zu bytes", len);
    ag__random(buf, NONCE_LEN);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + NONCE_LEN, &clen, msg, len,
                                               (const uint8_t *)ad, strlen(ad), NULL, buf, key);
    *out = b64_encode(buf, NONCE_LEN + (size_t)clen);
    free(buf);
    return *out ? AG_OK : ag__fail(AG_ENOMEM, "encoding ciphertext");
}

/* Decrypts base64(nonce | ciphertext) into a malloc'd NUL-terminated plaintext. */
static ag_err aead_open_b64(const uint8_t *key, const char *ad, const char *b64, const char *what,
                            char **plain, size_t *plen)
{
    size_t blen = 0;
    uint8_t *bin = b64_decode(b64, &blen);
    if (!bin)
        return ag__fail(AG_ETAMPER, "%s: ciphertext is not valid base64", what);
    if (blen < NONCE_LEN + TAG_LEN) {
        free(bin);
        return ag__fail(AG_ETAMPER, "%s: ciphertext too short", what);
    }
    size_t mlen_max = blen - NONCE_LEN - TAG_LEN;
    char *m = malloc(mlen_max + 1);
    if (!m) {
        free(bin);
        return ag__fail(AG_ENOMEM, "%s: opening", what);
    }
    unsigned long long mlen = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)m, &mlen, NULL, bin + NONCE_LEN,
                                                        blen - NONCE_LEN, (const uint8_t *)ad,
                                                        strlen(ad), bin, key);
    free(bin);
    if (rc != 0) {
        free(m);
        return ag__fail(AG_ETAMPER, "%s: ciphertext failed authentication", what);
    }
    m[mlen] = '\0';
    *plain = m;
    if (plen)
        *plen = (size_t)mlen;
    return AG_OK;
}

/* Overwrites every string held by a JSON object (recursively): jansson keeps its own
 * copies of key material, which must not linger in freed memory. */
static void wipe_json_strings(json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (json_is_string(v))
            ag__wipe_const(json_string_value(v), json_string_length(v));
        else if (json_is_object(v))
            wipe_json_strings(v);
    }
}

/* The plaintext blob {"current","deks","token_key"} (holds keys: wipe before free). */
static char *blob_json(const struct ag__keyring *kr)
{
    char hex[2 * AG_AUTH_KEY_LEN + 1];
    json_t *o = json_object(), *deks = json_object();
    for (size_t i = 0; i < kr->ndeks; i++) {
        ag__hex(kr->deks[i].key, AG_AUTH_KEY_LEN, hex);
        json_object_set_new(deks, kr->deks[i].id, json_string(hex));
    }
    json_object_set_new(o, "deks", deks);
    json_object_set_new(o, "current", json_string(kr->deks[kr->current].id));
    ag__hex(kr->token_key, AG_AUTH_KEY_LEN, hex);
    json_object_set_new(o, "token_key", json_string(hex));
    sodium_memzero(hex, sizeof hex);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    wipe_json_strings(o);
    json_decref(o);
    return s;
}

static ag_err blob_parse(const char *blob, struct ag__keyring *kr)
{
    json_error_t jerr;
    json_t *o = json_loads(blob, 0, &jerr);
    if (!o)
        return ag__fail(AG_ECRYPTO, "keyring: blob is not JSON");
    ag_err err = AG_OK;
    const char *cur = json_string_value(json_object_get(o, "current"));
    const char *tk = json_string_value(json_object_get(o, "token_key"));
    json_t *deks = json_object_get(o, "deks");
    if (!cur || !tk || !json_is_object(deks) || ag__unhex(tk, kr->token_key, 32) != AG_OK) {
        err = ag__fail(AG_ECRYPTO, "keyring: blob lacks current, deks or token_key");
        goto out;
    }
    kr->ndeks = 0;
    const char *id;
    json_t *v;
    int found = 0;
    json_object_foreach(deks, id, v)
    {
        if (kr->ndeks == AG__KR_MAX_DEKS || strlen(id) >= AG__KR_ID_BUF || !json_is_string(v) ||
            ag__unhex(json_string_value(v), kr->deks[kr->ndeks].key, 32) != AG_OK) {
            err = ag__fail(AG_ECRYPTO, "keyring: bad data key '%s'", id);
            goto out;
        }
        snprintf(kr->deks[kr->ndeks].id, AG__KR_ID_BUF, "%s", id);
        if (strcmp(id, cur) == 0) {
            kr->current = kr->ndeks;
            found = 1;
        }
        kr->ndeks++;
    }
    if (!found)
        err = ag__fail(AG_ECRYPTO, "keyring: current data key '%s' is missing", cur);
out:
    wipe_json_strings(o);
    json_decref(o);
    return err;
}

static void ad_for_wrap(const char *mkid, char *ad, size_t len)
{
    snprintf(ad, len, "agentgov/keyring/v1\n%s", mkid);
}

ag_err ag__keyring_serialize(const struct ag__keyring *kr,
                             const uint8_t (*masters)[AG_AUTH_KEY_LEN], size_t n, char **out)
{
    char *blob = blob_json(kr);
    if (!blob)
        return ag__fail(AG_ENOMEM, "keyring: serialising");
    json_t *o = json_object(), *wraps = json_object();
    json_object_set_new(o, "v", json_integer(1));
    json_object_set_new(o, "wraps", wraps);
    ag_err err = AG_OK;
    for (size_t i = 0; i < n && err == AG_OK; i++) {
        char mkid[AG__KR_ID_BUF], ad[64], *w = NULL;
        ag__keyring_mkid(masters[i], mkid);
        ad_for_wrap(mkid, ad, sizeof ad);
        err = aead_seal_b64(masters[i], ad, (const uint8_t *)blob, strlen(blob), &w);
        if (err == AG_OK)
            json_object_set_new(wraps, mkid, json_string(w));
        free(w);
    }
    sodium_memzero(blob, strlen(blob));
    free(blob);
    if (err == AG_OK) {
        *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        if (!*out)
            err = ag__fail(AG_ENOMEM, "keyring: serialising");
    }
    json_decref(o);
    return err;
}

/* Unwraps a stored keyring with kr->master (already set, with kr->mkid). */
static ag_err keyring_parse(const char *stored, struct ag__keyring *kr)
{
    json_error_t jerr;
    json_t *o = json_loads(stored, 0, &jerr);
    if (!o)
        return ag__fail(AG_ECRYPTO, "keyring in the store is not JSON");
    json_t *wraps = json_object_get(o, "wraps");
    const char *w = json_string_value(json_object_get(wraps, kr->mkid));
    ag_err err;
    if (!w) {
        char have[128] = "";
        const char *id;
        json_t *v;
        json_object_foreach(wraps, id, v)
        {
            size_t l = strlen(have);
            snprintf(have + l, sizeof have - l, "%s%s", l ? ", " : "", id);
        }
        err = ag__fail(AG_ECRYPTO,
                       "the master key (id %s) does not open this store's keyring "
                       "(wrapped for %s): wrong master.key or %s?",
                       kr->mkid, have[0] ? have : "no key", AG_AUTH_MASTER_KEY_ENV);
    } else {
        char ad[64], *blob = NULL;
        size_t blen = 0;
        ad_for_wrap(kr->mkid, ad, sizeof ad);
        err = aead_open_b64(kr->master, ad, w, "keyring", &blob, &blen);
        if (err == AG_OK) {
            err = blob_parse(blob, kr);
            sodium_memzero(blob, blen);
            free(blob);
        }
    }
    json_decref(o);
    return err;
}

ag_err ag__keyring_add_dek(struct ag__keyring *kr)
{
    if (kr->ndeks == AG__KR_MAX_DEKS)
        return ag__fail(AG_ELIMIT, "keyring: %d data keys already; cannot rotate again",
                        AG__KR_MAX_DEKS);
    struct ag__dek *d = &kr->deks[kr->ndeks];
    for (;;) {
        ag__random_hex(8, d->id);
        int dup = 0;
        for (size_t i = 0; i < kr->ndeks; i++)
            dup |= strcmp(kr->deks[i].id, d->id) == 0;
        if (!dup)
            break;
    }
    ag__random(d->key, AG_AUTH_KEY_LEN);
    kr->current = kr->ndeks++;
    return AG_OK;
}

ag_err ag__keyring_open(ag_store *s, const uint8_t master[AG_AUTH_KEY_LEN], struct ag__keyring *kr,
                        char **raw)
{
    memset(kr, 0, sizeof *kr);
    memcpy(kr->master, master, AG_AUTH_KEY_LEN);
    ag__keyring_mkid(master, kr->mkid);
    for (int attempt = 0; attempt < 4; attempt++) {
        char *stored = NULL;
        ag_err err = ag_store_get(s, AG__KEYRING_KEY, &stored);
        if (err != AG_OK)
            return err;
        if (stored) {
            err = keyring_parse(stored, kr);
            if (err == AG_OK && raw)
                *raw = stored;
            else
                free(stored);
            return err;
        }
        /* First use of this store: create the keyring, unless another process wins. */
        ag__random(kr->token_key, AG_AUTH_KEY_LEN);
        kr->ndeks = 0;
        if ((err = ag__keyring_add_dek(kr)) != AG_OK)
            return err;
        char *text = NULL;
        uint8_t one[1][AG_AUTH_KEY_LEN]; /* the one master key, as the array serialize takes */
        memcpy(one[0], master, AG_AUTH_KEY_LEN);
        err = ag__keyring_serialize(kr, (const uint8_t(*)[AG_AUTH_KEY_LEN])one, 1, &text);
        sodium_memzero(one, sizeof one);
        if (err != AG_OK)
            return err;
        struct ag_store_op op = {.op = AG_OP_SET, .key = AG__KEYRING_KEY, .value = text};
        struct ag_store_guard g = {.key = AG__KEYRING_KEY, .equals = NULL};
        struct ag_store_reply rep;
        int ok = 0;
        err = ag_store_exec(s, &g, &op, 1, &rep, &ok);
        ag_store_reply_free(&rep, 1);
        if (err == AG_OK && ok) {
            if (raw)
                *raw = text;
            else
                free(text);
            return AG_OK;
        }
        free(text);
        if (err != AG_OK)
            return err;
    }
    return ag__fail(AG_ECONFLICT, "keyring: lost the race to create it four times");
}

static void value_ad(const char *path, int64_t version, const char *dek, char *ad, size_t len)
{
    snprintf(ad, len, "agentgov/kv/v1\n%s\n%lld\n%s", path, (long long)version, dek);
}

ag_err ag__seal(const struct ag__keyring *kr, const char *path, int64_t version, const char *plain,
                size_t len, char **record)
{
    const struct ag__dek *d = &kr->deks[kr->current];
    char ad[AG_SECRET_PATH_MAX + 64], *c = NULL;
    value_ad(path, version, d->id, ad, sizeof ad);
    ag_err err = aead_seal_b64(d->key, ad, (const uint8_t *)plain, len, &c);
    if (err != AG_OK)
        return err;
    json_t *o = json_pack("{s:s, s:s}", "k", d->id, "c", c);
    free(c);
    *record = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return *record ? AG_OK : ag__fail(AG_ENOMEM, "sealing %s", path);
}

void ag__sealed_dek(const char *record, char out[AG__KR_ID_BUF])
{
    json_error_t jerr;
    json_t *o = json_loads(record, 0, &jerr);
    const char *k = json_string_value(json_object_get(o, "k"));
    snprintf(out, AG__KR_ID_BUF, "%s", k ? k : "");
    json_decref(o);
}

ag_err ag__unseal(const struct ag__keyring *kr, const char *path, int64_t version,
                  const char *record, char **plain, size_t *len)
{
    json_error_t jerr;
    json_t *o = json_loads(record, 0, &jerr);
    const char *k = json_string_value(json_object_get(o, "k"));
    const char *c = json_string_value(json_object_get(o, "c"));
    ag_err err;
    if (!k || !c) {
        err = ag__fail(AG_ETAMPER, "secret/%s version %lld: sealed record is malformed", path,
                       (long long)version);
        goto out;
    }
    const struct ag__dek *d = NULL;
    for (size_t i = 0; i < kr->ndeks; i++)
        if (strcmp(kr->deks[i].id, k) == 0)
            d = &kr->deks[i];
    if (!d) {
        err = ag__fail(AG_ENOTFOUND, "secret/%s version %lld: data key %s is not in the keyring",
                       path, (long long)version, k);
        goto out;
    }
    char ad[AG_SECRET_PATH_MAX + 64], what[AG_SECRET_PATH_MAX + 48];
    value_ad(path, version, d->id, ad, sizeof ad);
    snprintf(what, sizeof what, "secret/%s version %lld", path, (long long)version);
    err = aead_open_b64(d->key, ad, c, what, plain, len);
out:
    json_decref(o);
    return err;
}

_Static_assert(AG__KR_ID_BUF == AG_AUTH_KEY_ID_BUF, "one length for a key id");

void ag_auth_master_key_id(const uint8_t key[AG_AUTH_KEY_LEN], char id[AG_AUTH_KEY_ID_BUF])
{
    ag__keyring_mkid(key, id);
}
