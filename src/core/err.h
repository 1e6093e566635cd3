/* Internal error helpers. Ownership: the detail buffer is thread-local and owned here. */
#ifndef AG_CORE_ERR_H
#define AG_CORE_ERR_H

#include "agentgov/err.h"

/* The longest detail kept, terminating NUL included; a longer one is cut, at a UTF-8
 * character boundary. */
#define AG__ERR_DETAIL_MAX 1024

/* Records a printf-style detail for ag_last_error() and returns err, so that a
 * failing function can write `return ag__fail(AG_EPARSE, "%s:%d: ...", ...)`. The
 * arguments may point into the current detail (it is formatted aside first). */
ag_err ag__fail(ag_err err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Wraps the detail of the error being passed up in a printf-style context: the detail
 * becomes "<context>: <previous detail>" (just the context when there was none), and
 * err is returned. The previous detail is copied before anything is written, so the
 * cause is kept once; when the two do not fit, the end of the cause is cut. Use it
 * where a failure is passed up with more context:
 * `return ag__fail_wrap(err, "reading %s", path)`, not `ag__fail(err, "...: %s",
 * ag_last_error())`. */
ag_err ag__fail_wrap(ag_err err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
