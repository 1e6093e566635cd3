#include "server/polref.h"

#include <sched.h>
#include <stdlib.h>

struct ag__polref_node {
    ag_policy *policy;
    ag_gov *gov;       /* borrows policy: freed first */
    _Atomic long refs; /* one base reference held by the holder while current */
};

void ag__polref_init(struct ag__polref *h)
{
    atomic_init(&h->cur, NULL);
    atomic_init(&h->acquiring, 0);
    atomic_init(&h->generation, 0);
}

ag_err ag__polref_node_new(ag_policy *p, ag_gov *gov, struct ag__polref_node **out)
{
    struct ag__polref_node *n = malloc(sizeof *n);
    if (!n) {
        ag_gov_free(gov);
        ag_policy_free(p);
        return AG_ENOMEM;
    }
    n->policy = p;
    n->gov = gov;
    atomic_init(&n->refs, 1);
    *out = n;
    return AG_OK;
}

void ag__polref_put(struct ag__polref_node *n)
{
    if (n && atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) == 1) {
        ag_gov_free(n->gov);
        ag_policy_free(n->policy);
        free(n);
    }
}

/* A reader announces itself in `acquiring` before loading cur, so a node it loaded
 * cannot lose its base reference (and be freed) before the reader's own reference
 * is counted: the swapper waits for `acquiring` to reach zero after publishing the new
 * node, and any reader arriving later sees the new node. */
struct ag__polref_node *ag__polref_get(struct ag__polref *h, const ag_policy **policy)
{
    atomic_fetch_add_explicit(&h->acquiring, 1, memory_order_seq_cst);
    struct ag__polref_node *n = atomic_load_explicit(&h->cur, memory_order_seq_cst);
    if (n)
        atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&h->acquiring, 1, memory_order_release);
    *policy = n ? n->policy : NULL;
    return n;
}

void ag__polref_swap(struct ag__polref *h, struct ag__polref_node *n)
{
    struct ag__polref_node *old = atomic_exchange_explicit(&h->cur, n, memory_order_seq_cst);
    while (atomic_load_explicit(&h->acquiring, memory_order_acquire) != 0)
        sched_yield();
    atomic_fetch_add_explicit(&h->generation, 1, memory_order_relaxed);
    ag__polref_put(old);
}

void ag__polref_free(struct ag__polref *h)
{
    ag__polref_put(atomic_exchange(&h->cur, NULL));
}

ag_gov *ag__polref_gov(const struct ag__polref_node *n)
{
    return n ? n->gov : NULL;
}

const ag_policy *ag__polref_policy(const struct ag__polref_node *n)
{
    return n ? n->policy : NULL;
}
