#include "core/time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/faults.h"

int64_t ag__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
#ifdef AG_FAULTS
    /* The chaos harness's clock jumps (src/core/faults.c; test build only). */
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ag__fault_clock_offset_ms();
#else
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

int64_t ag__mono_ms(void)
{
    return ag__mono_ns() / 1000000;
}

int64_t ag__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ag__rfc3339(int64_t wall_ms, char *buf)
{
    time_t secs = (time_t)(wall_ms / 1000);
    int ms = (int)(wall_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, AG_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* Reads exactly n decimal digits from *p, advancing it. */
static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

ag_err ag__parse_rfc3339(const char *s, int64_t *wall_ms)
{
    const char *p = s;
    int Y, M, D, h, m, sec, frac_ms = 0;
    if (read_digits(&p, 4, &Y) || *p++ != '-' || read_digits(&p, 2, &M) || *p++ != '-' ||
        read_digits(&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
        return ag__fail(AG_EPARSE, "bad timestamp '%s': expected YYYY-MM-DDThh:mm:ss", s);
    p++;
    if (read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &m) || *p++ != ':' ||
        read_digits(&p, 2, &sec))
        return ag__fail(AG_EPARSE, "bad timestamp '%s': expected hh:mm:ss", s);
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return ag__fail(AG_EPARSE, "bad timestamp '%s': field out of range", s);
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return ag__fail(AG_EPARSE, "bad timestamp '%s': empty fraction", s);
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (read_digits(&p, 2, &oh) || *p++ != ':' || read_digits(&p, 2, &om))
            return ag__fail(AG_EPARSE, "bad timestamp '%s': bad offset", s);
        offset_min = sign * (oh * 60 + om);
    } else {
        return ag__fail(AG_EPARSE, "bad timestamp '%s': missing Z or offset", s);
    }
    if (*p != '\0')
        return ag__fail(AG_EPARSE, "bad timestamp '%s': trailing characters", s);
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *wall_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac_ms;
    return AG_OK;
}

ag_err ag__parse_duration(const char *s, int64_t *ms)
{
    if (s == NULL || *s == '\0')
        return ag__fail(AG_EPARSE, "empty duration");
    const char *p = s;
    int64_t total = 0;
    while (*p) {
        if (*p < '0' || *p > '9')
            return ag__fail(AG_EPARSE, "bad duration '%s': expected a number", s);
        errno = 0;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v > (unsigned long long)INT64_MAX / 86400000)
            return ag__fail(AG_EPARSE, "bad duration '%s': too large", s);
        int64_t unit;
        const char *u = end;
        if (strncmp(u, "ms", 2) == 0) {
            unit = 1;
            u += 2;
        } else if (*u == 's') {
            unit = 1000;
            u++;
        } else if (*u == 'm') {
            unit = 60000;
            u++;
        } else if (*u == 'h') {
            unit = 3600000;
            u++;
        } else if (*u == 'd') {
            unit = 86400000;
            u++;
        } else if (*u == '\0' && p == s) {
            unit = 1000;
        } else {
            return ag__fail(AG_EPARSE, "bad duration '%s': unknown unit (use ms, s, m, h, d)", s);
        }
        int64_t add = (int64_t)v * unit;
        if (total > INT64_MAX - add)
            return ag__fail(AG_EPARSE, "bad duration '%s': too large", s);
        total += add;
        p = u;
    }
    *ms = total;
    return AG_OK;
}

void ag__format_duration(int64_t ms, char *buf, size_t len)
{
    if (ms % 3600000 == 0 && ms != 0)
        snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0 && ms != 0)
        snprintf(buf, len, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, len, "%lldms", (long long)ms);
}
