/* "${{ params.NAME }}" substitution in strings (template parameters at load time,
 * pipeline parameters in `run:` arguments at run time). One argument stays one
 * argument whatever the value holds: no shell ever sees the text.
 * Ownership: ag__pl_subst returns a malloc'd string. */
#ifndef AG_PIPELINE_SUBST_H
#define AG_PIPELINE_SUBST_H

#include <stddef.h>

/* Returns the value of parameter name, or NULL to leave the reference as written. */
typedef const char *(*ag__pl_param_fn)(void *ctx, const char *name);

/* s with every ${{ params.NAME }} that fn resolves replaced; NULL when out of memory. */
char *ag__pl_subst(const char *s, ag__pl_param_fn fn, void *ctx);

/* Calls bad(ctx, offset, inner) for each ${{ ... }} in s that is not params.NAME, or
 * whose NAME known(ctx, NAME) rejects. Returns the number of such references. */
int ag__pl_subst_check(const char *s, int (*known)(void *ctx, const char *name),
                       void (*bad)(void *ctx, size_t off, const char *inner), void *ctx);

#endif
