/* Segment-aware glob patterns for action names (segments separated by '.') and
 * resource paths (separated by '/'); the grammar is in docs/policy.md. Ownership: a
 * compiled glob points into a pattern string the caller keeps alive (the policy arena);
 * matching allocates nothing. */
#ifndef AG_POLICY_GLOB_H
#define AG_POLICY_GLOB_H

#include <stddef.h>
#include <string.h>

#include "agentgov/err.h"

#define AG__SEP_ACTION   '.'
#define AG__SEP_RESOURCE '/'

/* How a compiled glob is matched: the common shapes skip the general matcher. */
enum ag__glob_kind {
    AG__GLOB_EXACT,      /* no metacharacters: plain string compare */
    AG__GLOB_PREFIX,     /* literal prefix, then a final "**" */
    AG__GLOB_ANY,        /* only stars, at least two: matches every string */
    AG__GLOB_SEGMENT,    /* a single "*": any string without a separator */
    AG__GLOB_SUFFIX,     /* "**" then a literal suffix */
    AG__GLOB_SEG_SUFFIX, /* "*" then a literal suffix: the rest holds no separator */
    AG__GLOB_SEG_PREFIX, /* literal prefix then a final "*" */
    AG__GLOB_GENERAL     /* anything else: literal prefix and suffix checks, then the
                            backtracking matcher */
};

struct ag__glob {
    const char *src;  /* the validated pattern */
    size_t len;       /* strlen(src) */
    size_t litlen;    /* literal prefix length (EXACT: len) */
    const char *tail; /* literal suffix (SUFFIX, SEG_SUFFIX, GENERAL; may be empty) */
    size_t taillen;
    int kind; /* enum ag__glob_kind */
    char sep;
};

/* Checks a pattern against the grammar. On a problem returns AG_EPARSE, *why names it
 * (a static string) and *offset is the 0-based byte offset where it starts. */
AG_MUST_USE ag_err ag__glob_check(const char *pat, const char **why, size_t *offset);

/* Fills g for a pattern that passed ag__glob_check. */
void ag__glob_compile(struct ag__glob *g, const char *pat, char sep);

/* The general case of ag__glob_match. */
int ag__glob_match_general(const struct ag__glob *g, const char *text, size_t n);

/* 1 if text (n bytes, NUL-terminated) matches the compiled glob, else 0. Inline:
 * ag_decide calls it for every candidate rule, and most globs take a shortcut. */
static inline int ag__glob_match(const struct ag__glob *g, const char *text, size_t n)
{
    switch (g->kind) {
    case AG__GLOB_EXACT:
        return n == g->len && memcmp(g->src, text, n) == 0;
    case AG__GLOB_PREFIX:
        return n >= g->litlen && memcmp(g->src, text, g->litlen) == 0;
    case AG__GLOB_ANY:
        return 1;
    case AG__GLOB_SEGMENT:
        return memchr(text, g->sep, n) == NULL;
    case AG__GLOB_SEG_PREFIX:
        return n >= g->litlen && memcmp(g->src, text, g->litlen) == 0 &&
               memchr(text + g->litlen, g->sep, n - g->litlen) == NULL;
    case AG__GLOB_SUFFIX:
        return n >= g->taillen && memcmp(text + n - g->taillen, g->tail, g->taillen) == 0;
    case AG__GLOB_SEG_SUFFIX:
        return n >= g->taillen && memcmp(text + n - g->taillen, g->tail, g->taillen) == 0 &&
               memchr(text, g->sep, n - g->taillen) == NULL;
    default:
        return ag__glob_match_general(g, text, n);
    }
}

/* 1 if text matches a validated pattern that was not compiled (packet scope and
 * forbidden lists arrive with each request). */
int ag__glob_match_str(const char *pat, const char *text, char sep);

#endif
