/* RFC 8785 JSON Canonicalization Scheme (JCS) over jansson values. Ownership: the
 * caller owns the json_t it passes and the struct ag_buf it appends to; nothing here
 * keeps a reference. */
#ifndef AG_CORE_JCS_H
#define AG_CORE_JCS_H

#include <jansson.h>
#include <stddef.h>

#include "agentgov/err.h"
#include "core/buf.h"

/* Flags for ag__jcs_append. */
#define AG_JCS_NO_FLOATS 1 /* reject real numbers (hashed ledger records hold none) */
/* Print integers beyond +-2^53 as their exact digits instead of refusing them: only for
 * reading ledger rows written before the limit existed (their hash covers those digits). */
#define AG_JCS_INT64 2

/* Appends the canonical serialisation of v to out: object keys sorted by UTF-16 code
 * units, strings escaped as ECMAScript's JSON.stringify does, numbers as ECMAScript's
 * Number.prototype.toString. Fails with AG_EINVAL, naming the value's JSONPath ($.a[2]),
 * on NaN/Infinity, on a real number when AG_JCS_NO_FLOATS is set, on an integer whose
 * magnitude exceeds 2^53 (no exact IEEE double, hence no RFC 8785 form) unless
 * AG_JCS_INT64 is set, or on a string that is not valid UTF-8. */
AG_MUST_USE ag_err ag__jcs_append(struct ag_buf *out, const json_t *v, int flags);
/* Canonical form of v as a malloc'd NUL-terminated string (*out; free() it). */
AG_MUST_USE ag_err ag__jcs_dump(const json_t *v, int flags, char **out);
/* Appends the JCS form of the UTF-8 string s (len bytes), quotes included. Fails with
 * AG_EINVAL if s is not valid UTF-8. */
AG_MUST_USE ag_err ag__jcs_string(struct ag_buf *out, const char *s, size_t len);
/* Appends the ECMAScript shortest round-trip form of a finite double. */
AG_MUST_USE ag_err ag__jcs_number(struct ag_buf *out, double d);
/* 1 if s[0..len) is well-formed UTF-8 (no surrogates, no overlongs), else 0. */
int ag__utf8_valid(const char *s, size_t len);

#endif
