/* The rule index that keeps ag_decide fast on large policies: per tier, a hash table
 * keyed by the literal first segment of each action glob, plus a wildcard bucket.
 * Ownership: the index lives in the policy's arena. */
#ifndef AG_POLICY_INDEX_H
#define AG_POLICY_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy_int.h"

/* FNV-1a over n bytes; the builder and ag_decide must agree on it. */
static inline uint32_t ag__policy_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Length of the first segment of an action glob when it is literal (no metacharacter
 * before the first '.' or the end), else -1: such globs go to the wildcard bucket. */
long ag__policy_literal_head(const char *pattern);

/* Builds p->index from p->rules. AG_ENOMEM on allocation failure. */
AG_MUST_USE ag_err ag__policy_build_index(ag_policy *p);

/* The slot for a request's first action segment in one tier, or NULL. */
const struct ag__slot *ag__policy_lookup(const struct ag__tier_index *ix, const char *seg,
                                         size_t len, uint32_t hash);

#endif
