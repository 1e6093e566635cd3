/* Strings a client sent, made safe for whatever must take them whole: a JSON writer
 * (jansson refuses a string that is not UTF-8), the ledger, a log line. Ownership: the
 * caller passes both buffers. */
#ifndef AG_CORE_SAFESTR_H
#define AG_CORE_SAFESTR_H

#include <stddef.h>

/* Copies src (NULL: "") into dst (cap bytes, NUL included): valid UTF-8 is kept, any
 * other byte and any control character becomes %XX, and nothing is cut in the middle
 * of a character or of an escape. Returns the length written. A request's path, or an
 * id taken from it, must not make the reply, the log line or the ledger entry that
 * quotes it fail. */
size_t ag__utf8_safe_copy(char *dst, size_t cap, const char *src);

#endif
