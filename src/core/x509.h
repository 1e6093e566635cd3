/* A self-signed TLS certificate for the daemon (`agentgov init --tls`). Ownership: the
 * PEM texts are malloc'd and given to the caller, who frees them (the key after
 * explicit_bzero). */
#ifndef AG_CORE_X509_H
#define AG_CORE_X509_H

#include "core/err.h"

/* An ECDSA P-256 key and a certificate signed with it: subject CN=cn, subjectAltName
 * san (OpenSSL's syntax, "DNS:localhost,IP:127.0.0.1"), valid from an hour ago for
 * days days, usable as its own trust anchor (curl --cacert, Python's cafile). */
AG_MUST_USE ag_err ag__x509_selfsigned(const char *cn, const char *san, int days, char **cert_pem,
                                       char **key_pem);

#endif
