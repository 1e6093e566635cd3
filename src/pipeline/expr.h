/* The expression language of `when:` conditions (docs/pipelines.md, "Expressions"):
 * literals, params.NAME, stages.NAME.outcome, == != < > <= >=, && || !, parentheses,
 * strings in single quotes. Parsed once at validation time into a tree; evaluated
 * against a lookup callback. No shell, no functions, no side effects.
 * Ownership: trees live in the arena passed to ag__expr_parse. */
#ifndef AG_PIPELINE_EXPR_H
#define AG_PIPELINE_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"
#include "policy/arena.h"

enum ag__xval_type { AG__XV_NULL, AG__XV_BOOL, AG__XV_INT, AG__XV_STR };

struct ag__xval {
    enum ag__xval_type type;
    int64_t i; /* BOOL (0/1) and INT */
    const char *s;
};

enum ag__xop {
    AG__X_LIT,
    AG__X_PARAM, /* params.NAME: name */
    AG__X_STAGE, /* stages.NAME.FIELD: name, field */
    AG__X_NOT,
    AG__X_AND,
    AG__X_OR,
    AG__X_EQ,
    AG__X_NE,
    AG__X_LT,
    AG__X_GT,
    AG__X_LE,
    AG__X_GE,
};

struct ag__expr {
    enum ag__xop op;
    int col; /* 0-based offset of the node in the source text */
    struct ag__xval lit;
    const char *name, *field;
    struct ag__expr *a, *b;
};

/* Parses text. On a syntax error returns AG_EPARSE with *err_col set to the 0-based
 * offset of the problem and msg (cap bytes) saying what was expected. */
AG_MUST_USE ag_err ag__expr_parse(struct ag__arena *ar, const char *text, struct ag__expr **out,
                                  int *err_col, char *msg, size_t cap);

/* Calls fn for every reference in the tree (params.x with field NULL, stages.x.f). */
void ag__expr_walk(const struct ag__expr *e, void (*fn)(void *ctx, const struct ag__expr *ref),
                   void *ctx);

/* Resolves a reference while evaluating: fills *v; returns AG_ENOTFOUND to fail. */
typedef ag_err (*ag__expr_lookup)(void *ctx, const struct ag__expr *ref, struct ag__xval *v);

/* Evaluates to a boolean: *result = 1 or 0. Comparisons of different types (other
 * than with null) and ordering of non-integers are AG_EINVAL with a message; && and
 * || take booleans and short-circuit. */
AG_MUST_USE ag_err ag__expr_eval(const struct ag__expr *e, ag__expr_lookup fn, void *ctx,
                                 int *result);

/* Strips a "${{ ... }}" wrapper: *off gets the offset of the inner text in s; returns
 * a pointer to it and its length in *len (the whole string when not wrapped). */
const char *ag__expr_unwrap(const char *s, size_t *len, int *off);

#endif
