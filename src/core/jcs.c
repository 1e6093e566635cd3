/* RFC 8785 canonical JSON. Written by hand because general-purpose writers differ from
 * JCS in small ways (jansson escapes control characters with uppercase hex, sorts keys
 * bytewise rather than by UTF-16 code units and prints reals with %.17g). */
#include "core/jcs.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* Length of the UTF-8 sequence starting at s (at most len bytes) and its code point,
 * or 0 if the sequence is malformed (truncated, overlong, surrogate, > U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

int ag__utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;
    while (i < len) {
        size_t n = utf8_decode(p + i, len - i, &cp);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

ag_err ag__jcs_string(struct ag_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (!ag__utf8_valid(s, len))
        return ag__fail(AG_EINVAL, "string is not valid UTF-8");
    ag__buf_putc(out, '"');
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                memcpy(u, "\\u00", 4);
                u[4] = hex[c >> 4];
                u[5] = hex[c & 15];
                u[6] = '\0';
                esc = u;
            }
        }
        if (esc) {
            ag__buf_append(out, s + run, i - run);
            ag__buf_puts(out, esc);
            run = i + 1;
        }
    }
    ag__buf_append(out, s + run, len - run);
    ag__buf_putc(out, '"');
    return AG_OK;
}

/* Shortest decimal digits that read back as d (d > 0, finite): fills digits (no
 * trailing zeros) and returns the decimal exponent n such that d = 0.DIGITS x 10^n.
 * glibc's printf rounds correctly, so the first precision that round-trips gives the
 * digit string closest to d, which is what ECMAScript's Number::toString asks for. */
static int shortest_digits(double d, char digits[32])
{
    char tmp[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, d);
        if (strtod(tmp, NULL) == d || prec == 16)
            break;
    }
    /* tmp is "D.DDDDe+XX" or "De+XX". */
    char *e = strchr(tmp, 'e');
    int exp10 = atoi(e + 1);
    size_t k = 0;
    for (char *p = tmp; p < e; p++)
        if (*p != '.')
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = '\0';
    return exp10 + 1;
}

ag_err ag__jcs_number(struct ag_buf *out, double d)
{
    if (!isfinite(d))
        return ag__fail(AG_EINVAL, "NaN and Infinity have no JSON form");
    if (d == 0) { /* also -0 */
        ag__buf_putc(out, '0');
        return AG_OK;
    }
    if (d < 0) {
        ag__buf_putc(out, '-');
        d = -d;
    }
    char digits[32];
    int n = shortest_digits(d, digits);
    int k = (int)strlen(digits);
    if (k <= n && n <= 21) {
        ag__buf_puts(out, digits);
        for (int i = 0; i < n - k; i++)
            ag__buf_putc(out, '0');
    } else if (0 < n && n <= 21) {
        ag__buf_append(out, digits, (size_t)n);
        ag__buf_putc(out, '.');
        ag__buf_puts(out, digits + n);
    } else if (-6 < n && n <= 0) {
        ag__buf_puts(out, "0.");
        for (int i = 0; i < -n; i++)
            ag__buf_putc(out, '0');
        ag__buf_puts(out, digits);
    } else {
        ag__buf_putc(out, digits[0]);
        if (k > 1) {
            ag__buf_putc(out, '.');
            ag__buf_puts(out, digits + 1);
        }
        ag__buf_printf(out, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    return AG_OK;
}

/* Next UTF-16 code unit of a valid UTF-8 string, or -1 at the end. *pending holds the
 * low surrogate of a supplementary character between calls. */
static int next_unit(const unsigned char **p, const unsigned char *end, int *pending)
{
    if (*pending >= 0) {
        int u = *pending;
        *pending = -1;
        return u;
    }
    if (*p >= end)
        return -1;
    uint32_t cp;
    size_t n = utf8_decode(*p, (size_t)(end - *p), &cp);
    if (n == 0) { /* keys were validated before sorting; stay total anyway */
        cp = **p;
        n = 1;
    }
    *p += n;
    if (cp < 0x10000)
        return (int)cp;
    cp -= 0x10000;
    *pending = (int)(0xDC00 + (cp & 0x3FF));
    return (int)(0xD800 + (cp >> 10));
}

struct key {
    const char *s;
    size_t len;
    json_t *v;
};

/* Orders keys by their UTF-16 code units, as RFC 8785 section 3.2.3 requires. */
static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    const unsigned char *p = (const unsigned char *)x->s, *q = (const unsigned char *)y->s;
    const unsigned char *pe = p + x->len, *qe = q + y->len;
    int pp = -1, qp = -1;
    for (;;) {
        int u = next_unit(&p, pe, &pp), w = next_unit(&q, qe, &qp);
        if (u != w)
            return u < w ? -1 : 1;
        if (u < 0)
            return 0;
    }
}

/* Where a value sits in the document, for error messages: one frame per level on the
 * stack, from the value up to the root (nothing is built unless a value is refused). */
struct jpath {
    const struct jpath *up;
    const char *key; /* member name (keylen bytes), or NULL for an array element */
    size_t keylen, index;
};

static void path_text(const struct jpath *p, struct ag_buf *b)
{
    if (p == NULL) {
        ag__buf_putc(b, '$');
        return;
    }
    path_text(p->up, b);
    if (p->key) {
        ag__buf_putc(b, '.');
        ag__buf_append(b, p->key, p->keylen);
    } else {
        ag__buf_printf(b, "[%zu]", p->index);
    }
}

/* Refuses the value at `at`: "<what> at $.a.b[2]: <why>". */
static ag_err fail_at(const struct jpath *at, const char *what, const char *why)
{
    struct ag_buf p;
    ag__buf_init(&p);
    path_text(at, &p);
    ag_err err = ag__fail(AG_EINVAL, "%s at %s: %s", what, ag__buf_status(&p) ? "?" : p.data, why);
    ag__buf_free(&p);
    return err;
}

/* RFC 8785 serialises every number as an IEEE double. An integer of magnitude up to
 * 2^53 is a double exactly and prints as its own digits; a larger one has no canonical
 * form that keeps its value (a verifier following the RFC would print 2^60 as
 * 1152921504606847000), so it is refused unless the caller reads old records
 * (AG_JCS_INT64). */
#define JCS_MAX_EXACT_INT 9007199254740992LL /* 2^53 */

static ag_err append_integer(struct ag_buf *out, json_int_t i, int flags, const struct jpath *at)
{
    if ((i > JCS_MAX_EXACT_INT || i < -JCS_MAX_EXACT_INT) && !(flags & AG_JCS_INT64)) {
        char what[64];
        snprintf(what, sizeof what, "integer %" JSON_INTEGER_FORMAT, i);
        return fail_at(at, what,
                       "its magnitude exceeds 2^53, so it has no exact RFC 8785 form "
                       "(JSON numbers are IEEE doubles); store it as a string");
    }
    ag__buf_printf(out, "%" JSON_INTEGER_FORMAT, i);
    return AG_OK;
}

static ag_err append_value(struct ag_buf *out, const json_t *v, int flags, const struct jpath *at);

static ag_err append_object(struct ag_buf *out, const json_t *v, int flags, const struct jpath *at)
{
    size_t n = json_object_size(v);
    struct key *keys = calloc(n ? n : 1, sizeof *keys);
    if (keys == NULL)
        return ag__fail(AG_ENOMEM, "canonical JSON: %zu keys", n);
    size_t i = 0;
    /* jansson's iterator takes a json_t * but does not change the object. */
    json_t *obj = (json_t *)(uintptr_t)v;
    for (void *it = json_object_iter(obj); it && i < n; it = json_object_iter_next(obj, it), i++) {
        keys[i].s = json_object_iter_key(it);
        keys[i].len = json_object_iter_key_len(it);
        keys[i].v = json_object_iter_value(it);
        if (!ag__utf8_valid(keys[i].s, keys[i].len)) {
            free(keys);
            return fail_at(at, "object key", "not valid UTF-8");
        }
    }
    qsort(keys, i, sizeof *keys, key_cmp);
    ag_err err = AG_OK;
    ag__buf_putc(out, '{');
    for (size_t j = 0; j < i && err == AG_OK; j++) {
        struct jpath here = {.up = at, .key = keys[j].s, .keylen = keys[j].len};
        if (j)
            ag__buf_putc(out, ',');
        err = ag__jcs_string(out, keys[j].s, keys[j].len);
        ag__buf_putc(out, ':');
        if (err == AG_OK)
            err = append_value(out, keys[j].v, flags, &here);
    }
    ag__buf_putc(out, '}');
    free(keys);
    return err;
}

static ag_err append_array(struct ag_buf *out, const json_t *v, int flags, const struct jpath *at)
{
    ag__buf_putc(out, '[');
    for (size_t i = 0; i < json_array_size(v); i++) {
        struct jpath here = {.up = at, .index = i};
        if (i)
            ag__buf_putc(out, ',');
        ag_err err = append_value(out, json_array_get(v, i), flags, &here);
        if (err)
            return err;
    }
    ag__buf_putc(out, ']');
    return AG_OK;
}

static ag_err append_value(struct ag_buf *out, const json_t *v, int flags, const struct jpath *at)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return append_object(out, v, flags, at);
    case JSON_ARRAY:
        return append_array(out, v, flags, at);
    case JSON_STRING:
        if (ag__jcs_string(out, json_string_value(v), json_string_length(v)) != AG_OK)
            return fail_at(at, "string", "not valid UTF-8");
        return AG_OK;
    case JSON_INTEGER:
        return append_integer(out, json_integer_value(v), flags, at);
    case JSON_REAL:
        if (flags & AG_JCS_NO_FLOATS) {
            char what[64];
            snprintf(what, sizeof what, "floating-point number %g", json_real_value(v));
            return fail_at(at, what, "a hashed record holds none (use an integer, e.g. per mille)");
        }
        return ag__jcs_number(out, json_real_value(v));
    case JSON_TRUE:
        ag__buf_puts(out, "true");
        return AG_OK;
    case JSON_FALSE:
        ag__buf_puts(out, "false");
        return AG_OK;
    case JSON_NULL:
        ag__buf_puts(out, "null");
        return AG_OK;
    }
    return ag__fail(AG_EINTERNAL, "unknown JSON type");
}

ag_err ag__jcs_append(struct ag_buf *out, const json_t *v, int flags)
{
    return append_value(out, v, flags, NULL);
}

ag_err ag__jcs_dump(const json_t *v, int flags, char **out)
{
    struct ag_buf b;
    ag__buf_init(&b);
    ag_err err = ag__jcs_append(&b, v, flags);
    if (err == AG_OK)
        err = ag__buf_status(&b);
    if (err) {
        ag__buf_free(&b);
        return err == AG_ENOMEM ? ag__fail(AG_ENOMEM, "canonical JSON") : err;
    }
    *out = ag__buf_take(&b);
    return *out ? AG_OK : ag__fail(AG_ENOMEM, "canonical JSON");
}
