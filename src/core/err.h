/* Internal error helpers. Ownership: the detail buffer is thread-local and owned here. */
#ifndef AG_CORE_ERR_H
#define AG_CORE_ERR_H

#include "agentgov/err.h"

/* Records a printf-style detail for ag_last_error() and returns err, so that a
 * failing function can write `return ag__fail(AG_EPARSE, "%s:%d: ...", ...)`. */
ag_err ag__fail(ag_err err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
