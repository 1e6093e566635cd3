#include "server/router.h"

#include <string.h>

/* Splits s at '/' into segments (s is modified); the leading '/' gives no segment.
 * Returns the number of segments, or -1 when there are too many. rest[i] points at
 * the original text from segment i on, for {name*} captures, which are rebuilt by
 * restoring the slashes. */
static int split(char *s, char **seg, int max)
{
    int n = 0;
    if (*s == '/')
        s++;
    if (*s == '\0')
        return 0;
    for (;;) {
        if (n == max)
            return -1;
        seg[n++] = s;
        char *slash = strchr(s, '/');
        if (!slash)
            return n;
        *slash = '\0';
        s = slash + 1;
    }
}

/* Compares pattern segments with path segments; on success fills the captures.
 * Returns 1 on a match. */
static int match_pattern(const char *pattern, char **seg, int nseg, struct ag__route_match *m)
{
    const char *p = pattern + (*pattern == '/');
    int i = 0;
    m->ncaptures = 0;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (i >= nseg)
            return 0;
        if (p[0] == '{' && plen >= 3 && p[plen - 1] == '}') {
            int rest = p[plen - 2] == '*';
            if (seg[i][0] == '\0' || m->ncaptures == AG_ROUTE_MAX_CAPTURES)
                return 0;
            m->names[m->ncaptures] = p + 1; /* name ends at '}' or '*' */
            m->values[m->ncaptures++] = seg[i];
            if (rest) {
                for (int k = i + 1; k < nseg; k++)
                    if (seg[k][0] == '\0')
                        return 0;
                return 1;
            }
        } else if (strlen(seg[i]) != plen || memcmp(seg[i], p, plen) != 0) {
            return 0;
        }
        i++;
        p += plen + (end != NULL);
    }
    return i == nseg;
}

/* Restores the slashes inside a {name*} capture, which spans several segments. */
static void join_rest(struct ag__route_match *m, char **seg, int nseg)
{
    for (size_t c = 0; c < m->ncaptures; c++) {
        const char *close = strchr(m->names[c], '}');
        if (!close || close[-1] != '*')
            continue;
        for (int k = 0; k < nseg - 1; k++)
            if (seg[k] >= m->values[c])
                seg[k][strlen(seg[k])] = '/';
    }
}

void ag__route_find(const struct ag__route *routes, size_t n, const char *method, char *path,
                    struct ag__route_match *m)
{
    char *seg[AG_ROUTE_MAX_SEGMENTS];
    memset(m, 0, sizeof *m);
    int nseg = split(path, seg, AG_ROUTE_MAX_SEGMENTS);
    if (nseg < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!match_pattern(routes[i].pattern, seg, nseg, m))
            continue;
        m->path_matched = 1;
        if (strcmp(routes[i].method, method) != 0)
            continue;
        m->route = &routes[i];
        m->index = i;
        join_rest(m, seg, nseg);
        return;
    }
    m->ncaptures = 0;
}

const char *ag__route_capture(const struct ag__route_match *m, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < m->ncaptures; i++)
        if (strncmp(m->names[i], name, len) == 0 &&
            (m->names[i][len] == '}' || m->names[i][len] == '*'))
            return m->values[i];
    return NULL;
}
