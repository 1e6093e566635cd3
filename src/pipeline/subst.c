/* Parameter substitution in strings (subst.h). */
#include "pipeline/subst.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* Finds the next ${{ ... }} at or after s: *start and *end (one past "}}"), and the
 * trimmed inner text in inner (cap bytes). 0 when there is none. */
static int next_ref(const char *s, const char **start, const char **end, char *inner, size_t cap)
{
    const char *a = strstr(s, "${{");
    if (!a)
        return 0;
    const char *b = strstr(a + 3, "}}");
    if (!b)
        return 0;
    const char *i = a + 3, *j = b;
    while (i < j && isspace((unsigned char)*i))
        i++;
    while (j > i && isspace((unsigned char)j[-1]))
        j--;
    snprintf(inner, cap, "%.*s", (int)(j - i), i);
    *start = a;
    *end = b + 2;
    return 1;
}

/* NAME of "params.NAME", or NULL. */
static const char *param_name(const char *inner)
{
    if (strncmp(inner, "params.", 7) != 0 || inner[7] == '\0')
        return NULL;
    for (const char *p = inner + 7; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return NULL;
    return inner + 7;
}

char *ag__pl_subst(const char *s, ag__pl_param_fn fn, void *ctx)
{
    struct ag_buf b;
    ag__buf_init(&b);
    const char *cur = s, *a, *e;
    char inner[256];
    while (next_ref(cur, &a, &e, inner, sizeof inner)) {
        const char *name = param_name(inner);
        const char *val = name ? fn(ctx, name) : NULL;
        ag__buf_append(&b, cur, (size_t)(val ? a - cur : e - cur));
        if (val)
            ag__buf_puts(&b, val);
        cur = e;
    }
    ag__buf_puts(&b, cur);
    if (ag__buf_status(&b) != 0) {
        ag__buf_free(&b);
        return NULL;
    }
    return ag__buf_take(&b);
}

int ag__pl_subst_check(const char *s, int (*known)(void *ctx, const char *name),
                       void (*bad)(void *ctx, size_t off, const char *inner), void *ctx)
{
    const char *cur = s, *a, *e;
    char inner[256];
    int n = 0;
    while (next_ref(cur, &a, &e, inner, sizeof inner)) {
        const char *name = param_name(inner);
        if (!name || !known(ctx, name)) {
            bad(ctx, (size_t)(a - s), inner);
            n++;
        }
        cur = e;
    }
    return n;
}
