#include "policy/index.h"

#include <string.h>

long ag__policy_literal_head(const char *pattern)
{
    size_t n = strcspn(pattern, ".*?[\\");
    if (pattern[n] == '.' || pattern[n] == '\0')
        return (long)n;
    return -1;
}

const struct ag__slot *ag__policy_lookup(const struct ag__tier_index *ix, const char *seg,
                                         size_t len, uint32_t hash)
{
    if (ix->slots == NULL)
        return NULL;
    for (uint32_t i = hash & ix->mask;; i = (i + 1) & ix->mask) {
        const struct ag__slot *s = &ix->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->hash == hash && s->keylen == len && memcmp(s->key, seg, len) == 0)
            return s;
    }
}

/* Finds or claims the slot for key; the table is sized so that it never fills. */
static struct ag__slot *claim(struct ag__tier_index *ix, const char *key, size_t len)
{
    uint32_t hash = ag__policy_hash(key, len);
    for (uint32_t i = hash & ix->mask;; i = (i + 1) & ix->mask) {
        struct ag__slot *s = &ix->slots[i];
        if (s->key == NULL) {
            s->key = key;
            s->keylen = (uint32_t)len;
            s->hash = hash;
            return s;
        }
        if (s->hash == hash && s->keylen == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

/* Two passes over the tier's (rule, action) pairs: the first counts entries per slot,
 * the second places them, so each bucket is one contiguous run in rule order. */
static ag_err build_tier(ag_policy *p, int tier)
{
    struct ag__tier_index *ix = &p->index[tier];
    size_t total = 0;
    for (size_t r = 0; r < p->nrules; r++)
        if (p->rules[r].tier_bits & (1u << tier))
            total += p->rules[r].nactions;
    memset(ix, 0, sizeof *ix);
    if (total == 0)
        return AG_OK;
    uint32_t nslots = 16;
    while (nslots < 2 * total)
        nslots *= 2;
    ix->mask = nslots - 1;
    ix->slots = ag__arena_alloc(&p->arena, nslots * sizeof *ix->slots);
    ix->entries = ag__arena_alloc(&p->arena, total * sizeof *ix->entries);
    if (ix->slots == NULL || ix->entries == NULL)
        return AG_ENOMEM;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t wild = 0;
        for (size_t r = 0; r < p->nrules; r++) {
            const struct ag__rule *rule = &p->rules[r];
            if (!(rule->tier_bits & (1u << tier)))
                continue;
            for (size_t a = 0; a < rule->nactions; a++) {
                const struct ag__glob *g = &rule->actions[a];
                long head = ag__policy_literal_head(g->src);
                if (head < 0) {
                    if (pass == 1)
                        ix->entries[ix->wild_first + wild] = (struct ag__entry){rule, g};
                    wild++;
                    continue;
                }
                struct ag__slot *s = claim(ix, g->src, (size_t)head);
                if (pass == 1)
                    ix->entries[s->first + s->count] = (struct ag__entry){rule, g};
                s->count++;
            }
        }
        if (pass == 0) {
            uint32_t next = 0;
            for (uint32_t i = 0; i < nslots; i++) {
                if (ix->slots[i].key) {
                    ix->slots[i].first = next;
                    next += ix->slots[i].count;
                    ix->slots[i].count = 0;
                }
            }
            ix->wild_first = next;
            ix->wild_count = wild;
        }
    }
    return AG_OK;
}

ag_err ag__policy_build_index(ag_policy *p)
{
    for (int t = 0; t < AG_TIER_COUNT; t++) {
        ag_err err = build_tier(p, t);
        if (err != AG_OK)
            return err;
    }
    return AG_OK;
}
