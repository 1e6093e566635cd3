/* Growable byte buffer. Ownership: caller-owned struct; ag__buf_init/ag__buf_free;
 * ag__buf_take hands the NUL-terminated data to the caller (free() it). */
#ifndef AG_CORE_BUF_H
#define AG_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "agentgov/err.h"

struct ag_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    int oom; /* sticky: set once an allocation failed; appends then do nothing */
};

void ag__buf_init(struct ag_buf *b);
void ag__buf_free(struct ag_buf *b);
/* Empties the buffer but keeps its memory for reuse. */
void ag__buf_reset(struct ag_buf *b);
void ag__buf_append(struct ag_buf *b, const void *data, size_t len);
void ag__buf_puts(struct ag_buf *b, const char *s);
void ag__buf_putc(struct ag_buf *b, char c);
void ag__buf_printf(struct ag_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* AG_ENOMEM if any append failed since init/reset, else AG_OK. */
AG_MUST_USE ag_err ag__buf_status(const struct ag_buf *b);
/* Returns the data (never NULL unless out of memory) and leaves the buffer empty. */
char *ag__buf_take(struct ag_buf *b);

#endif
