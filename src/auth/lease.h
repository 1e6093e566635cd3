/* Leases of secret reads. Ownership: struct ag__lease_ops is caller-owned
 * (ag__lease_ops_clear releases its record). */
#ifndef AG_AUTH_LEASE_H
#define AG_AUTH_LEASE_H

#include "auth/token.h"

/* Creates a lease for a secret read, attached to t: returns the ops to run guarded on
 * t->raw (lease record, the token's lease index and its TTL). No ops and an empty
 * lease_id for a token that never expires. */
#define AG__LEASE_NOPS 3
struct ag__lease_ops {
    struct ag_store_op ops[AG__LEASE_NOPS];
    char lease_key[AG_LEASE_ID_MAX + 16];
    char index_key[AG_ACCESSOR_BUF + 16];
    char *record;
};
AG_MUST_USE ag_err ag__lease_prepare(ag_auth *a, const struct ag__tok *t, const char *path,
                                     int64_t version, int64_t now, struct ag__lease_ops *lo,
                                     char lease_id[AG_LEASE_ID_MAX], int64_t *duration_ms);
void ag__lease_ops_clear(struct ag__lease_ops *lo);
/* Deletes a lease and its index entry without a ledger entry; *accessor_out (may be
 * NULL, AG_ACCESSOR_BUF bytes) receives the token it was attached to. */
AG_MUST_USE ag_err ag__lease_drop(ag_auth *a, const char *lease_id, char *accessor_out);

#endif
