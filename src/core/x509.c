/* Self-signed certificates with OpenSSL's libcrypto (already linked for the ledger's
 * hashing). The certificate is its own CA (basicConstraints CA:TRUE, keyCertSign) so
 * that strict verifiers accept it as a trust anchor, and carries serverAuth and the
 * addresses it is for, which TLS clients check rather than the CN. */
#include "core/x509.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e)
        return 0;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

static char *bio_text(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (out) {
        memcpy(out, p, (size_t)n);
        out[n] = '\0';
    }
    return out;
}

ag_err ag__x509_selfsigned(const char *cn, const char *san, int days, char **cert_pem,
                           char **key_pem)
{
    *cert_pem = *key_pem = NULL;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_secmem()); /* cleared when freed */
    ag_err err = AG_OK;
    if (!k || !x || !serial || !cb || !kb) {
        err = ag__fail(AG_ENOMEM, "x509: out of memory");
        goto out;
    }
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_set_version(x, 2) || !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) || !X509_set_pubkey(x, k) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_issuer_name(x, name) ||
        !add_ext(x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        !add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
        !add_ext(x, NID_ext_key_usage, "serverAuth") ||
        !add_ext(x, NID_subject_key_identifier, "hash") ||
        !add_ext(x, NID_authority_key_identifier, "keyid:always") ||
        !add_ext(x, NID_subject_alt_name, san) || !X509_sign(x, k, EVP_sha256()) ||
        !PEM_write_bio_X509(cb, x) || !PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL)) {
        err =
            ag__fail(AG_EINTERNAL, "x509: cannot make the certificate (subjectAltName '%s')", san);
        goto out;
    }
    *cert_pem = bio_text(cb);
    *key_pem = bio_text(kb);
    if (!*cert_pem || !*key_pem) {
        free(*cert_pem);
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
        err = ag__fail(AG_ENOMEM, "x509: out of memory");
    }
out:
    BIO_free(cb);
    BIO_free_all(kb);
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(k);
    return err;
}
