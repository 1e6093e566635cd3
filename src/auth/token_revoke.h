/* Cascading token revocation. Ownership: list is the caller's; the stats are filled in
 * place. */
#ifndef AG_AUTH_TOKEN_REVOKE_H
#define AG_AUTH_TOKEN_REVOKE_H

#include "auth/auth.h"

/* Revokes the tree under accessor (see ag_auth_token_revoke) without a ledger entry;
 * appends every revoked accessor to list (a JSON array). AG_ENOTFOUND when the
 * accessor is unknown. */
AG_MUST_USE ag_err ag__token_revoke_tree(ag_auth *a, const char *accessor,
                                         struct ag_revoke_stats *st, json_t *list);

#endif
