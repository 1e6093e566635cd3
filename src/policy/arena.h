/* Bump allocator for data that lives and dies together (a loaded policy, a parsed YAML
 * tree). Ownership: caller-owned struct; ag__arena_init/ag__arena_free; every pointer
 * the arena hands out is valid until ag__arena_free and is never freed on its own. */
#ifndef AG_POLICY_ARENA_H
#define AG_POLICY_ARENA_H

#include <stddef.h>

struct ag__arena_chunk;

struct ag__arena {
    struct ag__arena_chunk *head;
    size_t used; /* bytes used in head */
    size_t cap;  /* usable bytes of head */
};

void ag__arena_init(struct ag__arena *a);
void ag__arena_free(struct ag__arena *a);
/* Zeroed, 16-byte aligned memory; NULL when out of memory. */
void *ag__arena_alloc(struct ag__arena *a, size_t n);
/* Copies n bytes of s and adds a NUL; NULL when out of memory. */
char *ag__arena_strndup(struct ag__arena *a, const char *s, size_t n);

#endif
