#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ag__buf_init(struct ag_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void ag__buf_free(struct ag_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    ag__buf_init(b);
}

void ag__buf_reset(struct ag_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for extra more bytes plus the terminating NUL. */
static int grow(struct ag_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void ag__buf_append(struct ag_buf *b, const void *data, size_t len)
{
    if (grow(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void ag__buf_puts(struct ag_buf *b, const char *s)
{
    ag__buf_append(b, s, strlen(s));
}

void ag__buf_putc(struct ag_buf *b, char c)
{
    ag__buf_append(b, &c, 1);
}

void ag__buf_printf(struct ag_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        ag__buf_append(b, small, (size_t)n);
        return;
    }
    if (grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

ag_err ag__buf_status(const struct ag_buf *b)
{
    return b->oom ? AG_ENOMEM : AG_OK;
}

char *ag__buf_take(struct ag_buf *b)
{
    if (b->oom) {
        ag__buf_free(b);
        return NULL;
    }
    char *d = b->data;
    if (d == NULL)
        d = calloc(1, 1);
    ag__buf_init(b);
    return d;
}
