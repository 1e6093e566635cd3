/* A recursive-descent parser and evaluator for `when:` expressions (expr.h).
 *
 *   expr    := or
 *   or      := and ( "||" and )*
 *   and     := cmp ( "&&" cmp )*
 *   cmp     := unary ( ( "==" | "!=" | "<" | ">" | "<=" | ">=" ) unary )?
 *   unary   := "!" unary | primary
 *   primary := "(" expr ")" | STRING | INTEGER | "true" | "false" | "null" | ref
 *   ref     := "params" "." IDENT | "stages" "." IDENT "." IDENT
 *   STRING  := "'" ( any character but "'" | "''" )* "'"
 *   IDENT   := [A-Za-z_][A-Za-z0-9_-]*
 */
#include "pipeline/expr.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define MAX_DEPTH 64

struct parser {
    struct ag__arena *ar;
    const char *s;
    size_t pos;
    int depth;
    int err_col;
    char *msg;
    size_t cap;
    int failed;
};

static void skip_ws(struct parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
           p->s[p->pos] == '\r')
        p->pos++;
}

static struct ag__expr *fail(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct ag__expr *fail(struct parser *p, size_t at, const char *fmt, ...)
{
    if (!p->failed) {
        p->failed = 1;
        p->err_col = (int)at;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->msg, p->cap, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static struct ag__expr *node(struct parser *p, enum ag__xop op, size_t at)
{
    struct ag__expr *e = ag__arena_alloc(p->ar, sizeof *e);
    if (!e)
        return fail(p, at, "out of memory");
    e->op = op;
    e->col = (int)at;
    return e;
}

static int ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* An identifier at the cursor, copied into the arena; NULL (with the error) if none. */
static const char *ident(struct parser *p, const char *what)
{
    size_t start = p->pos;
    if (!ident_start(p->s[p->pos])) {
        fail(p, start, "expected %s", what);
        return NULL;
    }
    while (ident_char(p->s[p->pos]))
        p->pos++;
    const char *r = ag__arena_strndup(p->ar, p->s + start, p->pos - start);
    if (!r)
        fail(p, start, "out of memory");
    return r;
}

static struct ag__expr *parse_or(struct parser *p);

static struct ag__expr *parse_string(struct parser *p)
{
    size_t start = p->pos++;
    size_t cap = 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return fail(p, start, "out of memory");
    for (;;) {
        char c = p->s[p->pos];
        if (c == '\0') {
            free(buf);
            return fail(p, start, "unterminated string");
        }
        if (c == '\'') {
            if (p->s[p->pos + 1] != '\'') {
                p->pos++;
                break;
            }
            p->pos++; /* '' is one quote */
        }
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return fail(p, start, "out of memory");
            }
            buf = nb;
        }
        buf[n++] = c;
        p->pos++;
    }
    struct ag__expr *e = node(p, AG__X_LIT, start);
    if (e) {
        e->lit.type = AG__XV_STR;
        e->lit.s = ag__arena_strndup(p->ar, buf, n);
        if (!e->lit.s)
            e = fail(p, start, "out of memory");
    }
    free(buf);
    return e;
}

static struct ag__expr *parse_number(struct parser *p)
{
    size_t start = p->pos;
    if (p->s[p->pos] == '-')
        p->pos++;
    if (!isdigit((unsigned char)p->s[p->pos]))
        return fail(p, start, "expected a number");
    while (isdigit((unsigned char)p->s[p->pos]))
        p->pos++;
    if (ident_char(p->s[p->pos]) || p->s[p->pos] == '.')
        return fail(p, p->pos, "only integers are numbers here");
    char tmp[32];
    size_t len = p->pos - start;
    if (len >= sizeof tmp)
        return fail(p, start, "integer out of range");
    memcpy(tmp, p->s + start, len);
    tmp[len] = '\0';
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (errno)
        return fail(p, start, "integer out of range");
    struct ag__expr *e = node(p, AG__X_LIT, start);
    if (e) {
        e->lit.type = AG__XV_INT;
        e->lit.i = v;
    }
    return e;
}

static struct ag__expr *parse_ref(struct parser *p)
{
    size_t start = p->pos;
    const char *word = ident(p, "a value");
    if (!word)
        return NULL;
    struct ag__expr *e = NULL;
    if (strcmp(word, "true") == 0 || strcmp(word, "false") == 0) {
        if ((e = node(p, AG__X_LIT, start))) {
            e->lit.type = AG__XV_BOOL;
            e->lit.i = word[0] == 't';
        }
        return e;
    }
    if (strcmp(word, "null") == 0) {
        if ((e = node(p, AG__X_LIT, start)))
            e->lit.type = AG__XV_NULL;
        return e;
    }
    int is_param = strcmp(word, "params") == 0;
    if (!is_param && strcmp(word, "stages") != 0)
        return fail(p, start, "unknown name '%s' (expected params.NAME or stages.NAME.outcome)",
                    word);
    if (p->s[p->pos] != '.')
        return fail(p, p->pos, "expected '.' after '%s'", word);
    p->pos++;
    const char *name = ident(p, is_param ? "a parameter name" : "a stage name");
    if (!name)
        return NULL;
    e = node(p, is_param ? AG__X_PARAM : AG__X_STAGE, start);
    if (!e)
        return NULL;
    e->name = name;
    if (!is_param) {
        if (p->s[p->pos] != '.')
            return fail(p, p->pos, "expected '.outcome' or '.attempts' after stages.%s", name);
        p->pos++;
        size_t fpos = p->pos;
        const char *field = ident(p, "a stage field");
        if (!field)
            return NULL;
        if (strcmp(field, "outcome") != 0 && strcmp(field, "attempts") != 0)
            return fail(p, fpos, "unknown stage field '%s' (outcome or attempts)", field);
        e->field = field;
    }
    return e;
}

static struct ag__expr *parse_primary(struct parser *p)
{
    skip_ws(p);
    char c = p->s[p->pos];
    if (c == '(') {
        size_t open = p->pos++;
        if (++p->depth > MAX_DEPTH)
            return fail(p, open, "expression nested too deeply");
        struct ag__expr *e = parse_or(p);
        p->depth--;
        if (!e)
            return NULL;
        skip_ws(p);
        if (p->s[p->pos] != ')')
            return fail(p, p->pos, "expected ')'");
        p->pos++;
        return e;
    }
    if (c == '\'')
        return parse_string(p);
    if (c == '"')
        return fail(p, p->pos, "strings are in single quotes");
    if (isdigit((unsigned char)c) || c == '-')
        return parse_number(p);
    if (c == '\0')
        return fail(p, p->pos, "expected a value, found the end");
    if (ident_start(c))
        return parse_ref(p);
    char what[8];
    snprintf(what, sizeof what, "%c", c);
    return fail(p, p->pos, "unexpected '%s'", what);
}

static struct ag__expr *parse_unary(struct parser *p)
{
    skip_ws(p);
    if (p->s[p->pos] == '!' && p->s[p->pos + 1] != '=') {
        size_t at = p->pos++;
        if (++p->depth > MAX_DEPTH)
            return fail(p, at, "expression nested too deeply");
        struct ag__expr *a = parse_unary(p);
        p->depth--;
        if (!a)
            return NULL;
        struct ag__expr *e = node(p, AG__X_NOT, at);
        if (e)
            e->a = a;
        return e;
    }
    return parse_primary(p);
}

static struct ag__expr *parse_cmp(struct parser *p)
{
    struct ag__expr *a = parse_unary(p);
    if (!a)
        return NULL;
    skip_ws(p);
    static const struct {
        const char *tok;
        enum ag__xop op;
    } ops[] = {{"==", AG__X_EQ}, {"!=", AG__X_NE}, {"<=", AG__X_LE},
               {">=", AG__X_GE}, {"<", AG__X_LT},  {">", AG__X_GT}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].tok);
        if (strncmp(p->s + p->pos, ops[i].tok, n) != 0)
            continue;
        size_t at = p->pos;
        p->pos += n;
        struct ag__expr *b = parse_unary(p);
        if (!b)
            return NULL;
        struct ag__expr *e = node(p, ops[i].op, at);
        if (e) {
            e->a = a;
            e->b = b;
        }
        skip_ws(p);
        if (e && (p->s[p->pos] == '<' || p->s[p->pos] == '>' ||
                  (p->s[p->pos] == '=' && p->s[p->pos + 1] == '=') ||
                  (p->s[p->pos] == '!' && p->s[p->pos + 1] == '=')))
            return fail(p, p->pos, "comparisons do not chain: add parentheses");
        return e;
    }
    if (p->s[p->pos] == '=')
        return fail(p, p->pos, "'=' is not an operator (use '==')");
    return a;
}

static struct ag__expr *parse_chain(struct parser *p, const char *tok, enum ag__xop op,
                                    struct ag__expr *(*next)(struct parser *))
{
    struct ag__expr *a = next(p);
    while (a) {
        skip_ws(p);
        if (strncmp(p->s + p->pos, tok, 2) != 0) {
            if (p->s[p->pos] == tok[0] && p->s[p->pos + 1] != tok[0])
                return fail(p, p->pos, "'%s' is not an operator", tok[0] == '&' ? "&" : "|");
            break;
        }
        size_t at = p->pos;
        p->pos += 2;
        struct ag__expr *b = next(p);
        if (!b)
            return NULL;
        struct ag__expr *e = node(p, op, at);
        if (!e)
            return NULL;
        e->a = a;
        e->b = b;
        a = e;
    }
    return a;
}

static struct ag__expr *parse_and(struct parser *p)
{
    return parse_chain(p, "&&", AG__X_AND, parse_cmp);
}

static struct ag__expr *parse_or(struct parser *p)
{
    return parse_chain(p, "||", AG__X_OR, parse_and);
}

ag_err ag__expr_parse(struct ag__arena *ar, const char *text, struct ag__expr **out, int *err_col,
                      char *msg, size_t cap)
{
    struct parser p = {.ar = ar, .s = text, .msg = msg, .cap = cap};
    *out = NULL;
    *err_col = 0;
    if (cap)
        msg[0] = '\0';
    skip_ws(&p);
    struct ag__expr *e = p.s[p.pos] ? parse_or(&p) : fail(&p, 0, "empty expression");
    if (e) {
        skip_ws(&p);
        if (p.s[p.pos] != '\0')
            e = fail(&p, p.pos, "unexpected text after the expression");
    }
    if (!e) {
        *err_col = p.err_col;
        return AG_EPARSE;
    }
    *out = e;
    return AG_OK;
}

void ag__expr_walk(const struct ag__expr *e, void (*fn)(void *ctx, const struct ag__expr *ref),
                   void *ctx)
{
    if (!e)
        return;
    if (e->op == AG__X_PARAM || e->op == AG__X_STAGE)
        fn(ctx, e);
    ag__expr_walk(e->a, fn, ctx);
    ag__expr_walk(e->b, fn, ctx);
}

static const char *type_name(enum ag__xval_type t)
{
    return t == AG__XV_NULL   ? "null"
           : t == AG__XV_BOOL ? "boolean"
           : t == AG__XV_INT  ? "integer"
                              : "string";
}

static ag_err value(const struct ag__expr *e, ag__expr_lookup fn, void *ctx, struct ag__xval *v);

static ag_err truth(const struct ag__expr *e, ag__expr_lookup fn, void *ctx, int *r)
{
    struct ag__xval v;
    ag_err err = value(e, fn, ctx, &v);
    if (err)
        return err;
    if (v.type != AG__XV_BOOL)
        return ag__fail(AG_EINVAL, "column %d: expected a boolean, got a %s", e->col + 1,
                        type_name(v.type));
    *r = (int)v.i;
    return AG_OK;
}

static ag_err compare(const struct ag__expr *e, ag__expr_lookup fn, void *ctx, int *r)
{
    struct ag__xval a, b;
    ag_err err = value(e->a, fn, ctx, &a);
    if (!err)
        err = value(e->b, fn, ctx, &b);
    if (err)
        return err;
    int eq_op = e->op == AG__X_EQ || e->op == AG__X_NE;
    if (eq_op && (a.type == AG__XV_NULL || b.type == AG__XV_NULL)) {
        *r = (a.type == b.type) == (e->op == AG__X_EQ);
        return AG_OK;
    }
    if (a.type != b.type)
        return ag__fail(AG_EINVAL, "column %d: cannot compare a %s with a %s", e->col + 1,
                        type_name(a.type), type_name(b.type));
    int c;
    if (a.type == AG__XV_STR)
        c = strcmp(a.s, b.s);
    else
        c = a.i < b.i ? -1 : a.i > b.i;
    if (!eq_op && a.type != AG__XV_INT)
        return ag__fail(AG_EINVAL, "column %d: only integers are ordered, not a %s", e->col + 1,
                        type_name(a.type));
    switch (e->op) {
    case AG__X_EQ:
        *r = c == 0;
        break;
    case AG__X_NE:
        *r = c != 0;
        break;
    case AG__X_LT:
        *r = c < 0;
        break;
    case AG__X_GT:
        *r = c > 0;
        break;
    case AG__X_LE:
        *r = c <= 0;
        break;
    default:
        *r = c >= 0;
        break;
    }
    return AG_OK;
}

static ag_err value(const struct ag__expr *e, ag__expr_lookup fn, void *ctx, struct ag__xval *v)
{
    int r = 0;
    ag_err err = AG_OK;
    switch (e->op) {
    case AG__X_LIT:
        *v = e->lit;
        return AG_OK;
    case AG__X_PARAM:
    case AG__X_STAGE:
        memset(v, 0, sizeof *v);
        return fn(ctx, e, v);
    case AG__X_NOT:
        err = truth(e->a, fn, ctx, &r);
        r = !r;
        break;
    case AG__X_AND:
        err = truth(e->a, fn, ctx, &r);
        if (!err && r)
            err = truth(e->b, fn, ctx, &r);
        break;
    case AG__X_OR:
        err = truth(e->a, fn, ctx, &r);
        if (!err && !r)
            err = truth(e->b, fn, ctx, &r);
        break;
    default:
        err = compare(e, fn, ctx, &r);
        break;
    }
    v->type = AG__XV_BOOL;
    v->i = r;
    v->s = NULL;
    return err;
}

ag_err ag__expr_eval(const struct ag__expr *e, ag__expr_lookup fn, void *ctx, int *result)
{
    *result = 0;
    return truth(e, fn, ctx, result);
}

const char *ag__expr_unwrap(const char *s, size_t *len, int *off)
{
    size_t n = strlen(s);
    size_t b = 0;
    while (b < n && (s[b] == ' ' || s[b] == '\t'))
        b++;
    size_t end = n;
    while (end > b && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    if (end - b >= 5 && strncmp(s + b, "${{", 3) == 0 && strncmp(s + end - 2, "}}", 2) == 0) {
        *off = (int)(b + 3);
        *len = end - 2 - (b + 3);
        return s + b + 3;
    }
    *off = 0;
    *len = n;
    return s;
}
