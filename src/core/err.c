#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_detail[1024];

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

ag_err ag__fail(ag_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_detail, sizeof last_detail, fmt, ap);
    va_end(ap);
    return err;
}
