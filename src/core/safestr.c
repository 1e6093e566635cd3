#include "core/safestr.h"

#include <stdio.h>
#include <string.h>

#include "core/jcs.h"

/* A byte is kept only as part of a whole, valid character that is not a control
 * character; anything else takes the three bytes of %XX. */
size_t ag__utf8_safe_copy(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p;) {
        size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 0;
        int keep = n == 1 ? *p >= 0x20 && *p != 0x7f
                          : n > 1 && strnlen((const char *)p, n) == n &&
                                ag__utf8_valid((const char *)p, n);
        if (!keep)
            n = 1;
        size_t need = keep ? n : 3;
        if (o + need >= cap)
            break;
        if (keep)
            memcpy(dst + o, p, n);
        else
            snprintf(dst + o, 4, "%%%02X", *p);
        o += need;
        p += n;
    }
    dst[o] = '\0';
    return o;
}
