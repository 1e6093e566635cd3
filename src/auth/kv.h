/* KV v2 secrets engine: versioned values sealed with the keyring's data key, and the
 * master-key rotation that re-wraps (and optionally re-encrypts) them. Ownership: see
 * agentgov/auth.h (ag_secret, ag_secret_meta). Store keys:
 *   auth:kv:meta:<path>            metadata (JSON): versions, times, flags; no values
 *   auth:kv:data:<path>@<version>  sealed value (see keyring.h)
 *   auth:keyring:lock              held while a rekey runs */
#ifndef AG_AUTH_KV_H
#define AG_AUTH_KV_H

#include "auth/auth.h"

#define AG__KV_DEFAULT_MAX_VERSIONS 10
#define AG__KV_MAX_VALUE            (1024 * 1024) /* bytes of JSON per version */

#endif
