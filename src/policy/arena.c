#include "policy/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Chunks grow geometrically so that a 10,000-rule policy costs a handful of mallocs. */
#define ARENA_MIN_CHUNK 4096

struct ag__arena_chunk {
    struct ag__arena_chunk *next;
    max_align_t align[]; /* data follows, aligned for any type */
};

void ag__arena_init(struct ag__arena *a)
{
    a->head = NULL;
    a->used = 0;
    a->cap = 0;
}

void ag__arena_free(struct ag__arena *a)
{
    if (a == NULL)
        return;
    struct ag__arena_chunk *c = a->head;
    while (c) {
        struct ag__arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    ag__arena_init(a);
}

void *ag__arena_alloc(struct ag__arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (a->head == NULL || a->cap - a->used < n) {
        size_t cap = a->cap ? a->cap * 2 : ARENA_MIN_CHUNK;
        if (cap < n)
            cap = n;
        if (cap > SIZE_MAX - sizeof(struct ag__arena_chunk))
            return NULL;
        struct ag__arena_chunk *c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        a->head = c;
        a->used = 0;
        a->cap = cap;
    }
    void *p = (char *)a->head->align + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

char *ag__arena_strndup(struct ag__arena *a, const char *s, size_t n)
{
    char *d = ag__arena_alloc(a, n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
