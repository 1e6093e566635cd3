/* Segment-aware glob patterns for action names (segments separated by '.') and
 * resource paths (separated by '/'); the grammar is in docs/policy.md. Ownership: a
 * compiled glob points into a pattern string the caller keeps alive (the policy arena);
 * matching allocates nothing. */
#ifndef AG_POLICY_GLOB_H
#define AG_POLICY_GLOB_H

#include <stddef.h>

#include "agentgov/err.h"

#define AG__SEP_ACTION   '.'
#define AG__SEP_RESOURCE '/'

/* How a compiled glob is matched: the common shapes skip the general matcher. */
enum ag__glob_kind {
    AG__GLOB_EXACT,   /* no metacharacters: plain string compare */
    AG__GLOB_PREFIX,  /* literal prefix then a final "**": prefix compare */
    AG__GLOB_ANY,     /* only stars, at least two: matches every string */
    AG__GLOB_GENERAL, /* anything else: the backtracking matcher */
    AG__GLOB_SEGMENT  /* a single "*": any string without a separator */
};

struct ag__glob {
    const char *src; /* the validated pattern */
    size_t len;      /* strlen(src) */
    size_t litlen;   /* EXACT: len; PREFIX: length of the literal prefix */
    int kind;        /* enum ag__glob_kind */
    char sep;
};

/* Checks a pattern against the grammar. On a problem returns AG_EPARSE, *why names it
 * (a static string) and *offset is the 0-based byte offset where it starts. */
AG_MUST_USE ag_err ag__glob_check(const char *pat, const char **why, size_t *offset);

/* Fills g for a pattern that passed ag__glob_check. */
void ag__glob_compile(struct ag__glob *g, const char *pat, char sep);

/* 1 if text matches the compiled glob, else 0. */
int ag__glob_match(const struct ag__glob *g, const char *text);

/* 1 if text matches a validated pattern that was not compiled (packet scope and
 * forbidden lists arrive with each request). */
int ag__glob_match_str(const char *pat, const char *text, char sep);

#endif
