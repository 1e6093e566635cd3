#include "policy/glob.h"

#include "agentgov/policy.h"

#include <string.h>

/* Results of the general matcher. The two abort codes are what keep it polynomial (the
 * technique of rsync's and git's wildmatch): ABORT_ALL says the text ran out, so no
 * outer star can help by consuming more; ABORT_TO_DSTAR says a one-segment star hit a
 * separator, so only an outer "**" can help. */
enum { MATCH, NOMATCH, ABORT_ALL, ABORT_TO_DSTAR };

ag_err ag__glob_check(const char *pat, const char **why, size_t *offset)
{
    size_t i = 0;
    if (pat[0] == '\0') {
        *why = "empty glob";
        *offset = 0;
        return AG_EPARSE;
    }
    while (pat[i]) {
        if (pat[i] == '\\') {
            if (pat[i + 1] == '\0') {
                *why = "trailing backslash";
                *offset = i;
                return AG_EPARSE;
            }
            i += 2;
            continue;
        }
        if (pat[i] != '[') {
            i++;
            continue;
        }
        size_t start = i++;
        if (pat[i] == '!' || pat[i] == '^')
            i++;
        size_t items = 0;
        while (pat[i] && pat[i] != ']') {
            unsigned char lo, hi;
            if (pat[i] == '\\') {
                if (pat[i + 1] == '\0')
                    break;
                i++;
            }
            lo = (unsigned char)pat[i++];
            items++;
            if (pat[i] == '-' && pat[i + 1] && pat[i + 1] != ']') {
                i++;
                if (pat[i] == '\\') {
                    if (pat[i + 1] == '\0')
                        break;
                    i++;
                }
                hi = (unsigned char)pat[i++];
                if (hi < lo) {
                    *why = "reversed range in character class";
                    *offset = start;
                    return AG_EPARSE;
                }
            }
        }
        if (pat[i] != ']') {
            *why = "unterminated character class";
            *offset = start;
            return AG_EPARSE;
        }
        if (items == 0) {
            *why = "empty character class";
            *offset = start;
            return AG_EPARSE;
        }
        i++;
    }
    return AG_OK;
}

/* A run of stars at pat[i..]: its length. */
static size_t stars_at(const char *pat, size_t i)
{
    size_t n = 0;
    while (pat[i + n] == '*')
        n++;
    return n;
}

void ag__glob_compile(struct ag__glob *g, const char *pat, char sep)
{
    size_t n = strlen(pat);
    memset(g, 0, sizeof *g);
    g->src = pat;
    g->len = n;
    g->sep = sep;
    g->litlen = strcspn(pat, "*?[\\");
    /* The literal suffix: the longest tail with no metacharacter, bracket or escape. A
     * pattern with an escape anywhere gets none (the tail could be escaped text). */
    size_t tail = n;
    if (strchr(pat, '\\') == NULL)
        while (tail > 0 && strchr("*?[]", pat[tail - 1]) == NULL)
            tail--;
    g->tail = pat + tail;
    g->taillen = n - tail;
    size_t lit = g->litlen, stars = stars_at(pat, lit);
    if (lit == n)
        g->kind = AG__GLOB_EXACT;
    else if (stars >= 2 && lit + stars == n)
        g->kind = lit == 0 ? AG__GLOB_ANY : AG__GLOB_PREFIX;
    else if (stars == 1 && lit + 1 == n)
        g->kind = lit == 0 ? AG__GLOB_SEGMENT : AG__GLOB_SEG_PREFIX;
    else if (lit == 0 && stars >= 1 && stars == tail)
        g->kind = stars >= 2 ? AG__GLOB_SUFFIX : AG__GLOB_SEG_SUFFIX;
    else
        g->kind = AG__GLOB_GENERAL;
}

/* Matches one character class; *pp points just after '[' and is left on its ']'.
 * A class never matches the separator (the caller checks that). */
static int class_match(const char **pp, unsigned char c)
{
    const char *p = *pp;
    int negate = 0, hit = 0;
    if (*p == '!' || *p == '^') {
        negate = 1;
        p++;
    }
    while (*p != ']') {
        if (*p == '\\')
            p++;
        unsigned char lo = (unsigned char)*p++, hi = lo;
        if (*p == '-' && p[1] != ']') {
            p++;
            if (*p == '\\')
                p++;
            hi = (unsigned char)*p++;
        }
        if (c >= lo && c <= hi)
            hit = 1;
    }
    *pp = p;
    return hit != negate;
}

static int wild(const char *p, const char *t, char sep)
{
    for (; *p; p++, t++) {
        if (*t == '\0' && *p != '*')
            return ABORT_ALL;
        switch (*p) {
        case '\\':
            p++;
            if (*t != *p)
                return NOMATCH;
            break;
        case '?':
            if (*t == sep)
                return NOMATCH;
            break;
        case '[':
            p++;
            if (!class_match(&p, (unsigned char)*t) || *t == sep)
                return NOMATCH;
            break;
        case '*': {
            int dstar = p[1] == '*';
            while (p[1] == '*')
                p++;
            p++;
            if (*p == '\0')
                return (!dstar && strchr(t, sep)) ? ABORT_TO_DSTAR : MATCH;
            for (;;) {
                int r = wild(p, t, sep);
                if (r != NOMATCH && !(dstar && r == ABORT_TO_DSTAR))
                    return r;
                if (*t == '\0')
                    return ABORT_ALL;
                if (!dstar && *t == sep)
                    return ABORT_TO_DSTAR;
                t++;
            }
        }
        default:
            if (*t != *p)
                return NOMATCH;
        }
    }
    return *t ? NOMATCH : MATCH;
}

/* The literal prefix and suffix reject most non-matching texts before the backtracking
 * matcher runs; the matcher then starts after the prefix. */
int ag__glob_match_general(const struct ag__glob *g, const char *text, size_t n)
{
    if (n < g->litlen + g->taillen || memcmp(g->src, text, g->litlen) != 0 ||
        memcmp(text + n - g->taillen, g->tail, g->taillen) != 0)
        return 0;
    return wild(g->src + g->litlen, text + g->litlen, g->sep) == MATCH;
}

int ag__glob_match_str(const char *pat, const char *text, char sep)
{
    return wild(pat, text, sep) == MATCH;
}

ag_err ag_policy_glob_check(const char *pattern, const char **why, size_t *offset)
{
    return ag__glob_check(pattern, why, offset);
}
