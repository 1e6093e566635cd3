#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_detail[AG__ERR_DETAIL_MAX];

const char *ag_strerror(ag_err err)
{
    switch (err) {
#define AG__ERR_MSG(name, val, msg)                                                                \
    case AG_##name:                                                                                \
        return msg;
        AG_ERRNO_MAP(AG__ERR_MSG)
#undef AG__ERR_MSG
    }
    return "unknown error";
}

const char *ag_errname(ag_err err)
{
    switch (err) {
#define AG__ERR_NAME(name, val, msg)                                                               \
    case AG_##name:                                                                                \
        return #name;
        AG_ERRNO_MAP(AG__ERR_NAME)
#undef AG__ERR_NAME
    }
    return "EUNKNOWN";
}

const char *ag_last_error(void)
{
    return last_detail;
}

void ag_clear_error(void)
{
    last_detail[0] = '\0';
}

/* A cut string may end inside a multi-byte UTF-8 character: drops that partial
 * character so the detail stays valid UTF-8 (when its source was). */
static void trim_partial_utf8(char *s)
{
    size_t len = strlen(s), start = len;
    while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
        start--; /* continuation bytes */
    if (start == 0)
        return;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (len - (start - 1) < need)
        s[start - 1] = '\0';
}

/* Formats into out (AG__ERR_DETAIL_MAX bytes); cuts at a character boundary. */
__attribute__((format(printf, 2, 0))) static void format_detail(char *out, const char *fmt,
                                                                va_list ap)
{
    int n = vsnprintf(out, AG__ERR_DETAIL_MAX, fmt, ap);
    if (n < 0)
        out[0] = '\0';
    else if (n >= AG__ERR_DETAIL_MAX)
        trim_partial_utf8(out);
}

ag_err ag__fail(ag_err err, const char *fmt, ...)
{
    /* Aside first: an argument may be ag_last_error() itself, and vsnprintf into the
     * buffer it reads from is undefined. */
    char tmp[AG__ERR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    format_detail(tmp, fmt, ap);
    va_end(ap);
    memcpy(last_detail, tmp, strlen(tmp) + 1);
    return err;
}

ag_err ag__fail_wrap(ag_err err, const char *fmt, ...)
{
    char cause[AG__ERR_DETAIL_MAX], context[AG__ERR_DETAIL_MAX];
    memcpy(cause, last_detail, sizeof cause);
    va_list ap;
    va_start(ap, fmt);
    format_detail(context, fmt, ap);
    va_end(ap);
    if (cause[0] == '\0') {
        memcpy(last_detail, context, strlen(context) + 1);
        return err;
    }
    int n = snprintf(last_detail, sizeof last_detail, "%s: %s", context, cause);
    if (n >= (int)sizeof last_detail)
        trim_partial_utf8(last_detail);
    return err;
}
