/* The daemon's current policy, swappable while requests read it. Ownership: the
 * holder owns every policy handed to ag__polref_swap; a reader owns one reference
 * between ag__polref_get and ag__polref_put and may use the policy only in between. */
#ifndef AG_SERVER_POLREF_H
#define AG_SERVER_POLREF_H

#include <stdatomic.h>

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
/* Wraps a loaded policy for swap; AG_ENOMEM if allocation fails (p is then freed). */
AG_MUST_USE ag_err ag__polref_node_new(ag_policy *p, struct ag__polref_node **out);
/* Releases the current policy (call after the last reader stopped). */
void ag__polref_free(struct ag__polref *h);

/* Takes a reference to the current policy; *policy may be NULL. */
struct ag__polref_node *ag__polref_get(struct ag__polref *h, const ag_policy **policy);
void ag__polref_put(struct ag__polref_node *n);

#endif
