/* The shell lexer (see shell_lex.h): an arena for everything a parse makes, and
 * words read with their quoting and expansions; every $( ), ` ` and <( ) met on the
 * way is parsed in place (shell_parse.c) into the same flat list. */
#include "hook/shell_lex.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* ---- arena ------------------------------------------------------------------------- */

struct block {
    struct block *next;
    size_t used, size;
    char data[];
};

void *ag__sh_alloc(struct ag__sh_script *s, size_t n)
{
    struct block *b = s->arena;
    n = (n + 15) & ~(size_t)15;
    if (b == NULL || b->size - b->used < n) {
        size_t size = n > 16384 ? n : 16384;
        struct block *nb = malloc(sizeof *nb + size);
        if (nb == NULL)
            return NULL;
        nb->used = 0;
        nb->size = size;
        if (b && n > 4096) { /* a big one goes behind the current block */
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            return nb->data;
        }
        nb->next = b;
        s->arena = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *ag__sh_strndup(struct ag__sh_script *s, const char *p, size_t n)
{
    char *d = ag__sh_alloc(s, n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

void ag__sh_script_free(struct ag__sh_script *s)
{
    if (!s)
        return;
    for (struct block *b = s->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(s->cmd);
    free(s->opaque);
    memset(s, 0, sizeof *s);
}

ag_err ag__sh_add_opaque(struct ag__sh_script *s, int cmd, const char *reason)
{
    if (s->nopaque % 16 == 0) {
        struct ag__sh_opaque *o = realloc(s->opaque, (s->nopaque + 16) * sizeof *o);
        if (o == NULL)
            return AG_ENOMEM;
        s->opaque = o;
    }
    const char *r = ag__sh_strndup(s, reason, strlen(reason));
    if (r == NULL)
        return AG_ENOMEM;
    s->opaque[s->nopaque].reason = r;
    s->opaque[s->nopaque++].cmd = cmd;
    return AG_OK;
}

/* ---- lexer state ------------------------------------------------------------------- */

/* Parses text[0..len) (its own buffer) as a nested line at one more depth. */
static void parse_nested(struct lx *x, const char *text, size_t len)
{
    struct lx y;
    memset(&y, 0, sizeof y);
    y.s = x->s;
    y.t = text;
    y.n = len;
    y.depth = x->depth + 1;
    y.nested = x->nested + 1;
    y.pipeline = ++x->s->npipe; /* distinct from the outer line's */
    ag__sh_parse_list(&y, 0);
    x->oom |= y.oom;
}

void ag__sh_lx_opaque(struct lx *x, int cmd, const char *reason)
{
    if (ag__sh_add_opaque(x->s, cmd, reason) != AG_OK)
        x->oom = 1;
}

int ag__sh_is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

int ag__sh_is_name(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int is_globch(char c)
{
    return c == '*' || c == '?' || c == '[' || c == ']' || c == '{' || c == '}' || c == ',' ||
           c == '\\';
}

/* ---- words ------------------------------------------------------------------------- */

struct word {
    struct ag_buf text, pat;
    unsigned flags;
    int started; /* some character or quote seen */
};

static void lit(struct word *w, char c, int quoted)
{
    ag__buf_putc(&w->text, c);
    if (quoted && is_globch(c))
        ag__buf_putc(&w->pat, '\\');
    ag__buf_putc(&w->pat, c);
    if (quoted)
        w->flags |= AG__SH_QUOTED;
    if ((unsigned char)c == (unsigned char)AG__SH_MARK)
        w->flags |= AG__SH_VAR; /* a literal marker byte: the judge must not read it */
}

static void both(struct word *w, const char *s, size_t n)
{
    ag__buf_append(&w->text, s, n);
    ag__buf_append(&w->pat, s, n);
}

/* Skips from x->i (just after an opening bracket) to after its matching close,
 * parsing the command substitutions on the way. quote: 1 inside "...". */
void ag__sh_skip_group(struct lx *x, char open, char close);

/* $( ... ): the inner line is parsed in place, up to its ')'. */
void ag__sh_command_subst(struct lx *x)
{
    if (x->depth + 1 >= AG__SH_MAX_DEPTH) {
        ag__sh_lx_opaque(x, -1, "command substitutions nested too deeply");
        x->i = x->n;
        return;
    }
    x->depth++;
    x->nested++;
    int pl = x->pipeline, st = x->stage;
    x->pipeline = ++x->s->npipe;
    x->stage = 0;
    ag__sh_parse_list(x, ')');
    x->pipeline = pl;
    x->stage = st;
    x->nested--;
    x->depth--;
}

/* `...`: the text up to the closing backquote, with \` \\ \$ unescaped, parsed as a
 * line of its own. */
static void backquote(struct lx *x, struct word *w, int dq)
{
    struct ag_buf inner;
    ag__buf_init(&inner);
    x->i++;
    int closed = 0;
    while (x->i < x->n) {
        char c = x->t[x->i];
        if (c == '`') {
            closed = 1;
            x->i++;
            break;
        }
        if (c == '\\' && x->i + 1 < x->n &&
            (x->t[x->i + 1] == '`' || x->t[x->i + 1] == '\\' || x->t[x->i + 1] == '$' ||
             (dq && x->t[x->i + 1] == '"'))) {
            ag__buf_putc(&inner, x->t[x->i + 1]);
            x->i += 2;
            continue;
        }
        ag__buf_putc(&inner, c);
        x->i++;
    }
    if (!closed)
        ag__sh_lx_opaque(x, -1, "unterminated backquote");
    if (ag__buf_status(&inner) != AG_OK) {
        x->oom = 1;
    } else if (x->depth + 1 >= AG__SH_MAX_DEPTH) {
        ag__sh_lx_opaque(x, -1, "command substitutions nested too deeply");
    } else {
        char *copy = ag__sh_strndup(x->s, inner.data ? inner.data : "", inner.len);
        if (copy)
            parse_nested(x, copy, inner.len);
        else
            x->oom = 1;
    }
    ag__buf_free(&inner);
    w->flags |= AG__SH_SUBST;
    both(w, "`...`", 5);
}

/* The variables whose value the judge knows ($HOME and $PWD, braced or not) become a
 * mark the path resolver expands; any other name is 0 (the word is opaque there). */
static char var_mark(const char *name, size_t len)
{
    if (len == 4 && memcmp(name, "HOME", 4) == 0)
        return AG__SH_MARK_HOME;
    if (len == 3 && memcmp(name, "PWD", 3) == 0)
        return AG__SH_MARK_PWD;
    return 0;
}

/* A '$' at x->i: an expansion, or a literal dollar. */
static void dollar(struct lx *x, struct word *w)
{
    const char *t = x->t;
    size_t i = x->i + 1;
    if (i < x->n && t[i] == '(' && i + 1 < x->n && t[i + 1] == '(') { /* $(( arith )) */
        x->i = i + 2;
        ag__sh_skip_group(x, '(', ')');
        for (int k = 0; k < 2 && x->i < x->n && t[x->i] == ')'; k++)
            x->i++;
        w->flags |= AG__SH_VAR;
        both(w, "$((...))", 8);
        return;
    }
    if (i < x->n && t[i] == '(') {
        x->i = i + 1;
        ag__sh_command_subst(x);
        w->flags |= AG__SH_SUBST;
        both(w, "$(...)", 6);
        return;
    }
    if (i < x->n && t[i] == '{') {
        size_t start = i + 1;
        x->i = start;
        ag__sh_skip_group(x, '{', '}');
        size_t end = x->i; /* at the '}' (or the end) */
        if (x->i < x->n)
            x->i++;
        char mark = var_mark(t + start, end - start);
        if (mark) {
            char m[2] = {AG__SH_MARK, mark};
            both(w, m, 2);
        } else {
            w->flags |= AG__SH_VAR;
            both(w, "${...}", 6);
        }
        return;
    }
    if (i < x->n && ag__sh_is_name_start(t[i])) {
        size_t start = i;
        while (i < x->n && ag__sh_is_name(t[i]))
            i++;
        x->i = i;
        char mark = var_mark(t + start, i - start);
        if (mark) {
            char m[2] = {AG__SH_MARK, mark};
            both(w, m, 2);
        } else {
            w->flags |= AG__SH_VAR;
            both(w, "$", 1);
            both(w, t + start, i - start);
        }
        return;
    }
    if (i < x->n && (isdigit((unsigned char)t[i]) || strchr("@*#?$!-", t[i]))) {
        x->i = i + 1;
        w->flags |= AG__SH_VAR;
        both(w, "$", 1);
        both(w, t + i, 1);
        return;
    }
    x->i = i;
    lit(w, '$', 1);
}

void ag__sh_skip_group(struct lx *x, char open, char close)
{
    int depth = 1;
    if (x->depth + 1 >= AG__SH_MAX_DEPTH) { /* ${a:-${b:-...}}: bounded like $( ) */
        ag__sh_lx_opaque(x, -1, "expansions nested too deeply");
        x->i = x->n;
        return;
    }
    x->depth++;
    struct word scratch;
    memset(&scratch, 0, sizeof scratch);
    ag__buf_init(&scratch.text);
    ag__buf_init(&scratch.pat);
    while (x->i < x->n) {
        char c = x->t[x->i];
        if (c == '\\') {
            x->i += 2;
        } else if (c == '\'' && open == '{') {
            const char *q = memchr(x->t + x->i + 1, '\'', x->n - x->i - 1);
            x->i = q ? (size_t)(q - x->t) + 1 : x->n;
        } else if (c == '$') {
            dollar(x, &scratch);
        } else if (c == '`') {
            backquote(x, &scratch, 1);
        } else if (c == open) {
            depth++;
            x->i++;
        } else if (c == close) {
            if (--depth == 0)
                break;
            x->i++;
        } else {
            x->i++;
        }
    }
    if (x->i > x->n)
        x->i = x->n;
    if (depth > 0 && x->i >= x->n)
        ag__sh_lx_opaque(x, -1, "unterminated expansion");
    x->depth--;
    ag__buf_free(&scratch.text);
    ag__buf_free(&scratch.pat);
}

/* $'...': ANSI-C quoting, escapes decoded. */
static void ansi_c(struct lx *x, struct word *w)
{
    const char *t = x->t;
    size_t i = x->i + 2;
    while (i < x->n && t[i] != '\'') {
        char c = t[i++];
        if (c != '\\' || i >= x->n) {
            lit(w, c, 1);
            continue;
        }
        c = t[i++];
        unsigned v = 0;
        int k;
        switch (c) {
        case 'n':
            lit(w, '\n', 1);
            break;
        case 't':
            lit(w, '\t', 1);
            break;
        case 'r':
            lit(w, '\r', 1);
            break;
        case 'a':
            lit(w, '\a', 1);
            break;
        case 'b':
            lit(w, '\b', 1);
            break;
        case 'e':
        case 'E':
            lit(w, 27, 1);
            break;
        case 'f':
            lit(w, '\f', 1);
            break;
        case 'v':
            lit(w, '\v', 1);
            break;
        case 'c':
            if (i < x->n)
                lit(w, (char)(t[i++] & 0x1f), 1);
            break;
        case 'x':
            for (k = 0; k < 2 && i < x->n && isxdigit((unsigned char)t[i]); k++, i++)
                v = v * 16 + (unsigned)(isdigit((unsigned char)t[i]) ? t[i] - '0'
                                                                     : (tolower(t[i]) - 'a' + 10));
            if (k)
                lit(w, (char)v, 1);
            else {
                lit(w, '\\', 1);
                lit(w, 'x', 1);
            }
            break;
        case 'u':
        case 'U':
            /* A code point: only ASCII ones are decoded; others cannot name the
             * files the rules protect, and stay as an opaque byte. */
            for (k = 0; k < (c == 'u' ? 4 : 8) && i < x->n && isxdigit((unsigned char)t[i]);
                 k++, i++)
                v = v * 16 + (unsigned)(isdigit((unsigned char)t[i]) ? t[i] - '0'
                                                                     : (tolower(t[i]) - 'a' + 10));
            if (v > 0 && v < 128)
                lit(w, (char)v, 1);
            else
                w->flags |= AG__SH_VAR;
            break;
        default:
            if (c >= '0' && c <= '7') {
                v = (unsigned)(c - '0');
                for (k = 0; k < 2 && i < x->n && t[i] >= '0' && t[i] <= '7'; k++, i++)
                    v = v * 8 + (unsigned)(t[i] - '0');
                lit(w, (char)v, 1);
            } else if (c == '\\' || c == '\'' || c == '"' || c == '?') {
                lit(w, c, 1);
            } else {
                lit(w, '\\', 1);
                lit(w, c, 1);
            }
        }
    }
    if (i >= x->n)
        ag__sh_lx_opaque(x, -1, "unterminated $'...' quote");
    x->i = i < x->n ? i + 1 : x->n;
    w->started = 1;
}

/* Reads one word at x->i into w (its buffers initialised by the caller). */
static void read_word(struct lx *x, struct word *w)
{
    const char *t = x->t;
    int brace_open = 0;
    while (x->i < x->n && !x->oom) {
        char c = t[x->i];
        if (c == '\\') {
            if (x->i + 1 >= x->n) {
                lit(w, '\\', 0);
                x->i++;
            } else if (t[x->i + 1] == '\n') {
                x->i += 2;
            } else {
                lit(w, t[x->i + 1], 1);
                x->i += 2;
            }
            w->started = 1;
            continue;
        }
        if (ag__sh_is_meta(c))
            break;
        if (c == '\'') {
            const char *q = memchr(t + x->i + 1, '\'', x->n - x->i - 1);
            size_t end = q ? (size_t)(q - t) : x->n;
            for (size_t k = x->i + 1; k < end; k++)
                lit(w, t[k], 1);
            w->flags |= AG__SH_QUOTED;
            if (!q)
                ag__sh_lx_opaque(x, -1, "unterminated single quote");
            x->i = q ? end + 1 : x->n;
            w->started = 1;
            continue;
        }
        if (c == '$' && x->i + 1 < x->n && t[x->i + 1] == '\'') {
            ansi_c(x, w);
            continue;
        }
        if (c == '"' || (c == '$' && x->i + 1 < x->n && t[x->i + 1] == '"')) {
            x->i += c == '"' ? 1 : 2;
            int closed = 0;
            w->flags |= AG__SH_QUOTED;
            while (x->i < x->n && !x->oom) {
                char d = t[x->i];
                if (d == '"') {
                    closed = 1;
                    x->i++;
                    break;
                }
                if (d == '\\' && x->i + 1 < x->n && strchr("$`\"\\\n", t[x->i + 1])) {
                    if (t[x->i + 1] != '\n')
                        lit(w, t[x->i + 1], 1);
                    x->i += 2;
                } else if (d == '$') {
                    dollar(x, w);
                } else if (d == '`') {
                    backquote(x, w, 1);
                } else {
                    lit(w, d, 1);
                    x->i++;
                }
            }
            if (!closed)
                ag__sh_lx_opaque(x, -1, "unterminated double quote");
            w->started = 1;
            continue;
        }
        if (c == '$') {
            dollar(x, w);
            w->started = 1;
            continue;
        }
        if (c == '`') {
            backquote(x, w, 0);
            w->started = 1;
            continue;
        }
        if (c == '~' && !w->started) {
            size_t k = x->i + 1;
            while (k < x->n && !ag__sh_is_meta(t[k]) && t[k] != '/' && t[k] != ':')
                k++;
            w->flags |= k == x->i + 1 ? AG__SH_TILDE : AG__SH_TILDE | AG__SH_TUSER;
        }
        if (c == '*' || c == '?')
            w->flags |= AG__SH_GLOB;
        if (c == '[') { /* a bracket is a pattern only when a ']' closes it */
            size_t k = x->i + 1;
            while (k < x->n && !ag__sh_is_meta(t[k]) && t[k] != ']')
                k++;
            if (k < x->n && t[k] == ']')
                w->flags |= AG__SH_GLOB;
        }
        if (c == '{')
            brace_open = 1;
        if (c == '}' && brace_open)
            w->flags |= AG__SH_BRACE;
        lit(w, c, 0);
        x->i++;
        w->started = 1;
    }
}

/* ---- here-documents ---------------------------------------------------------------- */

/* The bodies of the pending here-documents, which start after the newline at x->i.
 * An unquoted body is expanded by the shell: its substitutions run, so they are
 * parsed. */
void ag__sh_read_heredocs(struct lx *x)
{
    for (int h = 0; h < x->nhd && x->i < x->n; h++) {
        struct heredoc *d = &x->hd[h];
        size_t dl = strlen(d->delim);
        while (x->i < x->n) {
            size_t start = x->i;
            const char *nl = memchr(x->t + start, '\n', x->n - start);
            size_t end = nl ? (size_t)(nl - x->t) : x->n;
            size_t s = start;
            if (d->strip)
                while (s < end && x->t[s] == '\t')
                    s++;
            x->i = nl ? end + 1 : x->n;
            if (end - s == dl && memcmp(x->t + s, d->delim, dl) == 0)
                break;
            if (!d->quoted) {
                struct lx y = *x;
                struct word scratch;
                memset(&scratch, 0, sizeof scratch);
                ag__buf_init(&scratch.text);
                ag__buf_init(&scratch.pat);
                y.n = end;
                y.nhd = 0;
                for (y.i = s; y.i < end;) {
                    char c = y.t[y.i];
                    if (c == '\\')
                        y.i += 2;
                    else if (c == '$')
                        dollar(&y, &scratch);
                    else if (c == '`')
                        backquote(&y, &scratch, 1);
                    else
                        y.i++;
                }
                x->oom |= y.oom;
                ag__buf_free(&scratch.text);
                ag__buf_free(&scratch.pat);
                if (y.i > end) /* a substitution spanning lines: the rest is its */
                    x->i = y.i;
            }
        }
    }
    x->nhd = 0;
}

int ag__sh_take_word(struct lx *x, struct ag__sh_word *out)
{
    struct word w;
    memset(&w, 0, sizeof w);
    ag__buf_init(&w.text);
    ag__buf_init(&w.pat);
    read_word(x, &w);
    int ok = ag__buf_status(&w.text) == AG_OK && ag__buf_status(&w.pat) == AG_OK;
    if (ok) {
        out->text = ag__sh_strndup(x->s, w.text.data ? w.text.data : "", w.text.len);
        out->pat = ag__sh_strndup(x->s, w.pat.data ? w.pat.data : "", w.pat.len);
        out->flags = w.flags;
        ok = out->text && out->pat;
    }
    ag__buf_free(&w.text);
    ag__buf_free(&w.pat);
    if (!ok)
        x->oom = 1;
    return ok && w.started;
}
