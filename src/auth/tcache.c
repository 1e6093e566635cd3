#include "auth/tcache.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

ag_err ag__tcache_init(struct ag__tcache *c, int64_t ttl_ms)
{
    memset(c, 0, sizeof *c);
    c->ttl_ms = ttl_ms;
    if (ttl_ms < 0)
        return AG_OK;
    c->slots = calloc(AG__TCACHE_SLOTS, sizeof *c->slots);
    return c->slots ? AG_OK : ag__fail(AG_ENOMEM, "token cache");
}

static void entry_clear(struct ag__tcache_entry *e)
{
    if (e->used)
        ag_token_info_clear(&e->info);
    memset(e, 0, sizeof *e);
}

void ag__tcache_clear(struct ag__tcache *c)
{
    c->generation++;
    if (!c->slots)
        return;
    for (size_t i = 0; i < AG__TCACHE_SLOTS; i++)
        entry_clear(&c->slots[i]);
}

void ag__tcache_free(struct ag__tcache *c)
{
    ag__tcache_clear(c);
    free(c->slots);
    c->slots = NULL;
}

/* The hmac is uniformly random hex: its first 8 digits are a fine slot index. */
static struct ag__tcache_entry *slot_of(struct ag__tcache *c, const char *hmac)
{
    uint32_t h = 0;
    for (int i = 0; i < 8 && hmac[i]; i++)
        h = h * 16 + (uint32_t)(hmac[i] <= '9' ? hmac[i] - '0' : hmac[i] - 'a' + 10);
    return &c->slots[h % AG__TCACHE_SLOTS];
}

int ag__tcache_get(struct ag__tcache *c, const char *hmac, int64_t now_mono,
                   struct ag_token_info *out, uint64_t *generation)
{
    *generation = c->generation;
    if (!c->slots)
        return 0;
    struct ag__tcache_entry *e = slot_of(c, hmac);
    if (!e->used || strcmp(e->hmac, hmac) != 0 || now_mono - e->fetched_mono > c->ttl_ms ||
        now_mono < e->fetched_mono) {
        c->misses++;
        return 0;
    }
    char *meta = e->info.meta_json ? strdup(e->info.meta_json) : NULL;
    if (e->info.meta_json && !meta)
        return 0;
    *out = e->info;
    out->meta_json = meta;
    c->hits++;
    return 1;
}

void ag__tcache_put(struct ag__tcache *c, const char *hmac, int64_t now_mono,
                    const struct ag_token_info *info, uint64_t generation)
{
    if (!c->slots || generation != c->generation)
        return;
    struct ag__tcache_entry *e = slot_of(c, hmac);
    entry_clear(e);
    char *meta = info->meta_json ? strdup(info->meta_json) : NULL;
    if (info->meta_json && !meta)
        return;
    e->info = *info;
    e->info.meta_json = meta;
    memcpy(e->hmac, hmac, 65);
    e->hmac[64] = '\0';
    e->fetched_mono = now_mono;
    e->used = 1;
}

void ag__tcache_drop_accessor(struct ag__tcache *c, const char *accessor)
{
    c->generation++;
    if (!c->slots)
        return;
    for (size_t i = 0; i < AG__TCACHE_SLOTS; i++)
        if (c->slots[i].used && strcmp(c->slots[i].info.accessor, accessor) == 0)
            entry_clear(&c->slots[i]);
}
