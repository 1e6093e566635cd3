/* agentgov error codes. Ownership: ag_strerror/ag_errname return static strings;
 * ag_last_error returns a thread-local buffer owned by the library, valid until the
 * next failing call on the same thread (see ag_last_error). */
#ifndef AGENTGOV_ERR_H
#define AGENTGOV_ERR_H

#define AG_MUST_USE __attribute__((warn_unused_result))

/* One table for every error: X(name, value, message). Values are stable. */
#define AG_ERRNO_MAP(X)                                                                            \
    X(OK, 0, "success")                                                                            \
    X(ENOMEM, -1, "out of memory")                                                                 \
    X(EINVAL, -2, "invalid argument")                                                              \
    X(EPARSE, -3, "parse error")                                                                   \
    X(ENOTFOUND, -4, "not found")                                                                  \
    X(EEXIST, -5, "already exists")                                                                \
    X(EIO, -6, "I/O error")                                                                        \
    X(ESTORE, -7, "state store unavailable")                                                       \
    X(ELEDGER, -8, "ledger unavailable")                                                           \
    X(EPERM, -9, "permission denied")                                                              \
    X(EEXPIRED, -10, "expired")                                                                    \
    X(EREVOKED, -11, "revoked")                                                                    \
    X(ELOCKED, -12, "lock held by another owner")                                                  \
    X(ECRYPTO, -13, "cryptographic failure")                                                       \
    X(ETAMPER, -14, "integrity check failed")                                                      \
    X(ELIMIT, -15, "limit exceeded")                                                               \
    X(ETIMEOUT, -16, "timed out")                                                                  \
    X(EUNSUPPORTED, -17, "not supported")                                                          \
    X(ECONFLICT, -18, "conflict")                                                                  \
    X(ENOSPACE, -19, "no space left on device")                                                    \
    X(EREADONLY, -20, "read-only")                                                                 \
    X(ESANDBOX, -21, "sandbox setup failed")                                                       \
    X(ESTATE, -22, "illegal state")                                                                \
    X(EINTERNAL, -23, "internal error")

typedef enum {
#define AG__ERR_ENUM(name, val, msg) AG_##name = val,
    AG_ERRNO_MAP(AG__ERR_ENUM)
#undef AG__ERR_ENUM
} ag_err;

/* Human-readable message for an error code ("unknown error" for others). */
const char *ag_strerror(ag_err err);
/* Symbolic name without the AG_ prefix, e.g. "ENOTFOUND". */
const char *ag_errname(ag_err err);
/* Detail of the last error set on this thread (file:line, field, ...); "" if none.
 * The pointer is to a thread-local buffer of at most 1023 bytes (a longer detail is
 * cut, at a UTF-8 character boundary). Its text is valid until the next failing call
 * on the same thread, which may overwrite it, and until ag_clear_error: copy it before
 * calling into the library again (cleanup included) if it is still needed. A
 * successful call does not clear it, so read it only after a call returned an error.
 * Another thread's errors never touch it. */
const char *ag_last_error(void);
/* Clears the thread's last error detail. */
void ag_clear_error(void);

#endif
