/* In-process cache of token records, keyed by the token's keyed hash, so that a token
 * lookup does not go to the store every time. Ownership: struct ag__tcache is owned by
 * the auth handle (ag__tcache_init/ag__tcache_free); entries own a copy of meta_json;
 * ag__tcache_get hands the caller its own copy. Not thread-safe: the caller holds the
 * auth handle's mutex. */
#ifndef AG_AUTH_TCACHE_H
#define AG_AUTH_TCACHE_H

#include <stdint.h>

#include "agentgov/auth.h"

#define AG__TCACHE_SLOTS 1024 /* direct-mapped; a collision simply evicts */

struct ag__tcache_entry {
    int used;
    char hmac[65];
    int64_t fetched_mono;
    struct ag_token_info info;
};

struct ag__tcache {
    struct ag__tcache_entry *slots; /* NULL when the cache is disabled */
    int64_t ttl_ms;
    uint64_t hits;
    uint64_t misses;
    /* Bumped by every drop and clear. A lookup that missed notes it before going to
     * the store and may fill the cache only if it has not moved since: a revocation
     * that lands between the store read and the fill would otherwise be undone by the
     * fill of the record read before it. */
    uint64_t generation;
};

/* ttl_ms < 0 disables the cache. */
AG_MUST_USE ag_err ag__tcache_init(struct ag__tcache *c, int64_t ttl_ms);
void ag__tcache_free(struct ag__tcache *c);
/* 1 and a copy of the record in *out when a fresh entry exists for hmac; 0 otherwise,
 * with the cache's generation in *generation for the ag__tcache_put that may follow. */
int ag__tcache_get(struct ag__tcache *c, const char *hmac, int64_t now_mono,
                   struct ag_token_info *out, uint64_t *generation);
/* Fills the entry of hmac, unless something was dropped since generation was read. */
void ag__tcache_put(struct ag__tcache *c, const char *hmac, int64_t now_mono,
                    const struct ag_token_info *info, uint64_t generation);
/* Drops the entry of one token (by accessor), or every entry. */
void ag__tcache_drop_accessor(struct ag__tcache *c, const char *accessor);
void ag__tcache_clear(struct ag__tcache *c);

#endif
