#include "policy/index.h"

#include <stdlib.h>
#include <string.h>

long ag__policy_literal_head(const char *pattern)
{
    size_t n = strcspn(pattern, ".*?[\\");
    if (pattern[n] == '.' || pattern[n] == '\0')
        return (long)n;
    return -1;
}

long ag__policy_literal_tail(const char *pattern)
{
    const char *dot = strrchr(pattern, '.');
    if (dot == NULL || dot[1] == '\0' || strchr(pattern, '\\') || strpbrk(dot + 1, "*?[]"))
        return -1;
    return (long)(dot + 1 - pattern);
}

const struct ag__slot *ag__policy_lookup(const struct ag__table *t, const char *seg, size_t len,
                                         uint32_t hash)
{
    if (t->slots == NULL)
        return NULL;
    for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        const struct ag__slot *s = &t->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->hash == hash && s->keylen == len && memcmp(s->key, seg, len) == 0)
            return s;
    }
}

/* Finds or claims the slot for key; tables are sized so that they never fill. */
static struct ag__slot *claim(struct ag__table *t, const char *key, size_t len)
{
    uint32_t hash = ag__policy_hash(key, len);
    for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        struct ag__slot *s = &t->slots[i];
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

static uint32_t table_size(size_t keys)
{
    uint32_t nslots = 16;
    while (nslots < 2 * keys)
        nslots *= 2;
    return nslots;
}

/* Copies the keys (and their counts) of a scratch table into a table of the policy
 * sized for the keys it holds: decisions then probe a table that fits in cache rather
 * than one sized for every glob. */
static ag_err compact(ag_policy *p, const struct ag__table *scratch, struct ag__table *out)
{
    size_t keys = 0;
    for (uint32_t i = 0; i <= scratch->mask; i++)
        keys += scratch->slots[i].key != NULL;
    out->mask = table_size(keys) - 1;
    out->slots = ag__arena_alloc(&p->arena, ((size_t)out->mask + 1) * sizeof *out->slots);
    if (out->slots == NULL)
        return AG_ENOMEM;
    for (uint32_t i = 0; i <= scratch->mask; i++) {
        const struct ag__slot *s = &scratch->slots[i];
        if (s->key)
            claim(out, s->key, s->keylen)->count = s->count;
    }
    return AG_OK;
}

static ag_err scratch_table(struct ag__table *t, size_t entries)
{
    uint32_t nslots = table_size(entries);
    t->mask = nslots - 1;
    t->slots = calloc(nslots, sizeof *t->slots);
    return t->slots ? AG_OK : AG_ENOMEM;
}

/* Turns the counts of pass 0 into entry ranges, starting at *next. */
static void assign_ranges(struct ag__table *t, uint32_t *next)
{
    for (uint32_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].key) {
            t->slots[i].first = *next;
            *next += t->slots[i].count;
            t->slots[i].count = 0;
        }
    }
}

/* The slot a glob belongs in, or NULL for the wildcard bucket. */
static struct ag__slot *bucket_of(struct ag__tier_index *ix, const struct ag__glob *g)
{
    long head = ag__policy_literal_head(g->src);
    if (head >= 0)
        return claim(&ix->head, g->src, (size_t)head);
    long tail = ag__policy_literal_tail(g->src);
    if (tail >= 0)
        return claim(&ix->tail, g->src + tail, g->len - (size_t)tail);
    return NULL;
}

/* Places the tier's (rule, action) pairs: pass 0 counts entries per slot in scratch
 * tables, pass 1 fills each bucket as one contiguous run in rule order. */
static void fill(struct ag__tier_index *ix, const ag_policy *p, int tier, int pass)
{
    uint32_t wild = 0;
    for (size_t r = 0; r < p->nrules; r++) {
        const struct ag__rule *rule = &p->rules[r];
        if (!(rule->tier_bits & (1u << tier)))
            continue;
        for (size_t a = 0; a < rule->nactions; a++) {
            const struct ag__glob *g = &rule->actions[a];
            struct ag__slot *s = bucket_of(ix, g);
            uint32_t *count = s ? &s->count : &wild;
            if (pass == 1)
                ix->entries[(s ? s->first : ix->wild_first) + *count] = (struct ag__entry){rule, g};
            (*count)++;
        }
    }
    ix->wild_count = wild;
}

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
    ix->entries = ag__arena_alloc(&p->arena, total * sizeof *ix->entries);
    struct ag__table head = {0}, tail = {0};
    ag_err err = ix->entries ? AG_OK : AG_ENOMEM;
    if (err == AG_OK && (err = scratch_table(&head, total)) == AG_OK &&
        (err = scratch_table(&tail, total)) == AG_OK) {
        ix->head = head;
        ix->tail = tail;
        fill(ix, p, tier, 0);
        if ((err = compact(p, &head, &ix->head)) == AG_OK)
            err = compact(p, &tail, &ix->tail);
    }
    free(head.slots);
    free(tail.slots);
    if (err != AG_OK) {
        memset(ix, 0, sizeof *ix);
        return err;
    }
    uint32_t next = 0;
    assign_ranges(&ix->head, &next);
    assign_ranges(&ix->tail, &next);
    ix->wild_first = next;
    fill(ix, p, tier, 1);
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
