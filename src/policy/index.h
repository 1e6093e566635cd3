/* The rule index that keeps ag_decide fast on large policies: per tier, hash tables
 * keyed by the literal first or last segment of each action glob, plus a wildcard
 * bucket.
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
 * before the first '.' or the end), else -1. */
long ag__policy_literal_head(const char *pattern);

/* Offset of the last segment of an action glob when that segment is literal and the
 * glob has more than one segment and no escape, else -1. Any action the glob matches
 * then ends with exactly that segment. */
long ag__policy_literal_tail(const char *pattern);

/* Builds p->index from p->rules. AG_ENOMEM on allocation failure. */
AG_MUST_USE ag_err ag__policy_build_index(ag_policy *p);

/* The slot for a segment in one of a tier's tables, or NULL. */
const struct ag__slot *ag__policy_lookup(const struct ag__table *t, const char *seg, size_t len,
                                         uint32_t hash);

#endif
