/* The daemon's current policy (and the lifecycle handle built on it), swappable while
 * requests read them. Ownership: the holder owns every node handed to
 * ag__polref_swap, with its policy and lifecycle handle; a reader owns one reference
 * between ag__polref_get and ag__polref_put and may use them only in between. */
#ifndef AG_SERVER_POLREF_H
#define AG_SERVER_POLREF_H

#include <stdatomic.h>

#include "agentgov/gov.h"
#include "agentgov/policy.h"

struct ag__polref_node; /* one policy and its reference count */

struct ag__polref {
    _Atomic(struct ag__polref_node *) cur;
    /* Readers between loading cur and taking their reference; a swap waits for it to
     * drain once (a grace period) before dropping the old policy's base reference. */
    _Atomic long acquiring;
    _Atomic unsigned long generation;
};

void ag__polref_init(struct ag__polref *h);
/* Installs p (which may be NULL: every decision is then no_policy) and releases the
 * previous one once its last reader is done. Never fails: the node is allocated by
 * the caller's ag__polref_node_new beforehand. */
void ag__polref_swap(struct ag__polref *h, struct ag__polref_node *n);
/* Wraps a loaded policy and the lifecycle handle that borrows it (gov may be NULL)
 * for swap; AG_ENOMEM if allocation fails (both are then freed). */
AG_MUST_USE ag_err ag__polref_node_new(ag_policy *p, ag_gov *gov, struct ag__polref_node **out);
/* The policy of a node (NULL: no policy loaded). */
const ag_policy *ag__polref_policy(const struct ag__polref_node *n);
/* The lifecycle handle of a node (NULL when the store or ledger is unavailable). */
ag_gov *ag__polref_gov(const struct ag__polref_node *n);
/* Releases the current policy (call after the last reader stopped). */
void ag__polref_free(struct ag__polref *h);

/* Takes a reference to the current policy; *policy may be NULL. */
struct ag__polref_node *ag__polref_get(struct ag__polref *h, const ag_policy **policy);
void ag__polref_put(struct ag__polref_node *n);

#endif
