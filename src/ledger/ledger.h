/* Internals shared by the ledger's files (ledger.c appends and queries, verify.c
 * verifies). The public API is include/agentgov/ledger.h. Ownership: returned strings
 * are written into caller buffers. */
#ifndef AG_LEDGER_LEDGER_H
#define AG_LEDGER_LEDGER_H

#include <stddef.h>

#include "agentgov/ledger.h"

#define AG__ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The default checkpoint file of a database target: "<path>.checkpoint" for a file
 * path or "sqlite:PATH", "" for targets that are not files. */
void ag__ledger_checkpoint_path(const char *target, char *out, size_t outlen);

#endif
