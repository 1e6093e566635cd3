/* Shell command-line parser (see shell_parse.h). One pass over the text: words are
 * lexed with their quoting, operators split commands, and every $( ), ` `, <( ) and
 * bash -c string is parsed in turn into the same flat list, since the judge must see
 * each command the line can run, whatever runs it. Compound commands (if, while, for,
 * case, { }, functions) are read for the simple commands inside them: their
 * keywords are dropped, not interpreted. */
#include "hook/shell_parse.h"

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

static void *arena_alloc(struct ag__sh_script *s, size_t n)
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
    char *d = arena_alloc(s, n + 1);
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

struct heredoc {
    char delim[256];
    int quoted, strip;
};

struct lx {
    struct ag__sh_script *s;
    const char *t;
    size_t n, i;
    int depth;  /* nesting of parsed texts */
    int nested; /* > 0: inside a subshell or substitution */
    int pipeline, stage;
    int in_case;
    int oom;
    struct heredoc hd[16];
    int nhd;
};

static void opaque(struct lx *x, int cmd, const char *reason)
{
    if (ag__sh_add_opaque(x->s, cmd, reason) != AG_OK)
        x->oom = 1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Characters that end an unquoted word. */
static int is_meta(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '<' ||
           c == '>' || c == '(' || c == ')' || c == '\0';
}

static int is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static int is_name(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int is_globch(char c)
{
    return c == '*' || c == '?' || c == '[' || c == ']' || c == '{' || c == '}' || c == ',' ||
           c == '\\';
}

static void parse_list(struct lx *x, char close);

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
    parse_list(&y, 0);
    x->oom |= y.oom;
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
static void skip_group(struct lx *x, char open, char close);

/* $( ... ): the inner line is parsed in place, up to its ')'. */
static void command_subst(struct lx *x)
{
    if (x->depth + 1 >= AG__SH_MAX_DEPTH) {
        opaque(x, -1, "command substitutions nested too deeply");
        x->i = x->n;
        return;
    }
    x->depth++;
    x->nested++;
    int pl = x->pipeline, st = x->stage;
    x->pipeline = ++x->s->npipe;
    x->stage = 0;
    parse_list(x, ')');
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
        opaque(x, -1, "unterminated backquote");
    if (ag__buf_status(&inner) != AG_OK) {
        x->oom = 1;
    } else if (x->depth + 1 >= AG__SH_MAX_DEPTH) {
        opaque(x, -1, "command substitutions nested too deeply");
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

/* A '$' at x->i: an expansion, or a literal dollar. dq: inside "...". */
static void dollar(struct lx *x, struct word *w, int dq)
{
    const char *t = x->t;
    size_t i = x->i + 1;
    if (i < x->n && t[i] == '(' && i + 1 < x->n && t[i + 1] == '(') { /* $(( arith )) */
        x->i = i + 2;
        skip_group(x, '(', ')');
        for (int k = 0; k < 2 && x->i < x->n && t[x->i] == ')'; k++)
            x->i++;
        w->flags |= AG__SH_VAR;
        both(w, "$((...))", 8);
        return;
    }
    if (i < x->n && t[i] == '(') {
        x->i = i + 1;
        command_subst(x);
        w->flags |= AG__SH_SUBST;
        both(w, "$(...)", 6);
        return;
    }
    if (i < x->n && t[i] == '{') {
        size_t start = i + 1;
        x->i = start;
        skip_group(x, '{', '}');
        size_t end = x->i; /* at the '}' (or the end) */
        if (x->i < x->n)
            x->i++;
        char mark = 0;
        if (end - start == 4 && memcmp(t + start, "HOME", 4) == 0)
            mark = AG__SH_MARK_HOME;
        else if (end - start == 3 && memcmp(t + start, "PWD", 3) == 0)
            mark = AG__SH_MARK_PWD;
        if (mark) {
            char m[2] = {AG__SH_MARK, mark};
            both(w, m, 2);
        } else {
            w->flags |= AG__SH_VAR;
            both(w, "${...}", 6);
        }
        return;
    }
    if (i < x->n && is_name_start(t[i])) {
        size_t start = i;
        while (i < x->n && is_name(t[i]))
            i++;
        x->i = i;
        char mark = 0;
        if (i - start == 4 && memcmp(t + start, "HOME", 4) == 0)
            mark = AG__SH_MARK_HOME;
        else if (i - start == 3 && memcmp(t + start, "PWD", 3) == 0)
            mark = AG__SH_MARK_PWD;
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
    (void)dq;
    x->i = i;
    lit(w, '$', 1);
}

static void skip_group(struct lx *x, char open, char close)
{
    int depth = 1;
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
            dollar(x, &scratch, 1);
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
        opaque(x, -1, "unterminated expansion");
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
        case 'n': lit(w, '\n', 1); break;
        case 't': lit(w, '\t', 1); break;
        case 'r': lit(w, '\r', 1); break;
        case 'a': lit(w, '\a', 1); break;
        case 'b': lit(w, '\b', 1); break;
        case 'e':
        case 'E': lit(w, 27, 1); break;
        case 'f': lit(w, '\f', 1); break;
        case 'v': lit(w, '\v', 1); break;
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
        opaque(x, -1, "unterminated $'...' quote");
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
        if (is_meta(c))
            break;
        if (c == '\'') {
            const char *q = memchr(t + x->i + 1, '\'', x->n - x->i - 1);
            size_t end = q ? (size_t)(q - t) : x->n;
            for (size_t k = x->i + 1; k < end; k++)
                lit(w, t[k], 1);
            w->flags |= AG__SH_QUOTED;
            if (!q)
                opaque(x, -1, "unterminated single quote");
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
                    dollar(x, w, 1);
                } else if (d == '`') {
                    backquote(x, w, 1);
                } else {
                    lit(w, d, 1);
                    x->i++;
                }
            }
            if (!closed)
                opaque(x, -1, "unterminated double quote");
            w->started = 1;
            continue;
        }
        if (c == '$') {
            dollar(x, w, 0);
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
            while (k < x->n && !is_meta(t[k]) && t[k] != '/' && t[k] != ':')
                k++;
            w->flags |= k == x->i + 1 ? AG__SH_TILDE : AG__SH_TILDE | AG__SH_TUSER;
        }
        if (c == '*' || c == '?')
            w->flags |= AG__SH_GLOB;
        if (c == '[') { /* a bracket is a pattern only when a ']' closes it */
            size_t k = x->i + 1;
            while (k < x->n && !is_meta(t[k]) && t[k] != ']')
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
static void read_heredocs(struct lx *x)
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
                        dollar(&y, &scratch, 1);
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

/* ---- simple commands --------------------------------------------------------------- */

struct cmdbuf {
    struct ag__sh_word *w;
    size_t nw, cw;
    struct ag__sh_word *a;
    size_t na, ca;
    struct ag__sh_redir *r;
    size_t nr, cr;
};

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 1;
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, nc * size);
    if (!p)
        return 0;
    *arr = p;
    *cap = nc;
    return 1;
}

/* The word at x->i, copied into the arena. */
static int take_word(struct lx *x, struct ag__sh_word *out)
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

static int is_assignment(const char *s)
{
    if (!is_name_start(*s))
        return 0;
    while (is_name(*s))
        s++;
    if (*s == '[') {
        const char *e = strchr(s, ']');
        if (!e)
            return 0;
        s = e + 1;
    }
    return *s == '=' || (s[0] == '+' && s[1] == '=');
}

static int keyword(const struct ag__sh_word *w, const char *k)
{
    return w->flags == 0 && strcmp(w->text, k) == 0;
}

/* A redirection at x->i (after an optional descriptor number fd). */
static void redirection(struct lx *x, struct cmdbuf *c, int fd)
{
    const char *t = x->t;
    size_t i = x->i;
    enum ag__sh_redir_op op;
    int heredoc_strip = 0;
    if (t[i] == '&') { /* &> &>> */
        i += 2;
        op = i < x->n && t[i] == '>' ? (i++, AG__SH_R_APPEND) : AG__SH_R_OUT;
    } else if (t[i] == '<') {
        i++;
        if (i < x->n && t[i] == '<') {
            i++;
            if (i < x->n && t[i] == '<') {
                i++;
                op = AG__SH_R_HERESTR;
            } else {
                op = AG__SH_R_HEREDOC;
                if (i < x->n && t[i] == '-') {
                    heredoc_strip = 1;
                    i++;
                }
            }
        } else if (i < x->n && t[i] == '>') {
            i++;
            op = AG__SH_R_RDWR;
        } else if (i < x->n && t[i] == '&') {
            i++;
            op = AG__SH_R_DUP;
        } else {
            op = AG__SH_R_IN;
        }
    } else { /* > */
        i++;
        if (i < x->n && t[i] == '>') {
            i++;
            op = AG__SH_R_APPEND;
        } else if (i < x->n && t[i] == '|') {
            i++;
            op = AG__SH_R_OUT;
        } else if (i < x->n && t[i] == '&') {
            i++;
            op = AG__SH_R_DUP;
        } else {
            op = AG__SH_R_OUT;
        }
    }
    x->i = i;
    while (x->i < x->n && is_blank(t[x->i]))
        x->i++;
    struct ag__sh_redir r = {.fd = fd, .op = op};
    if (!take_word(x, &r.target)) {
        opaque(x, -1, "a redirection without a target");
        return;
    }
    if (op == AG__SH_R_DUP) {
        const char *s = r.target.text;
        size_t k = strspn(s, "0123456789");
        if (!(r.target.flags == 0 && ((k > 0 && (s[k] == '\0' || (s[k] == '-' && !s[k + 1]))) ||
                                      strcmp(s, "-") == 0)))
            r.op = t[i - 2] == '<' ? AG__SH_R_IN : AG__SH_R_OUT; /* >&file is &>file */
    }
    if (op == AG__SH_R_HEREDOC) {
        if (x->nhd == (int)(sizeof x->hd / sizeof x->hd[0]) || strlen(r.target.text) >= 256) {
            opaque(x, -1, "too many or too long here-document delimiters");
        } else {
            struct heredoc *h = &x->hd[x->nhd++];
            snprintf(h->delim, sizeof h->delim, "%s", r.target.text);
            h->quoted = (r.target.flags & AG__SH_QUOTED) != 0;
            h->strip = heredoc_strip;
        }
    }
    if (!grow((void **)&c->r, &c->cr, c->nr, sizeof *c->r)) {
        x->oom = 1;
        return;
    }
    c->r[c->nr++] = r;
}

static int at_redirection(struct lx *x, int *fd)
{
    const char *t = x->t;
    size_t i = x->i, k = i;
    *fd = -1;
    while (k < x->n && isdigit((unsigned char)t[k]) && k - i < 4)
        k++;
    if (k > i && k < x->n && (t[k] == '<' || t[k] == '>')) {
        *fd = atoi(t + i);
        x->i = k;
        return 1;
    }
    if (i < x->n && (t[i] == '<' || t[i] == '>'))
        return !(i + 1 < x->n && t[i + 1] == '('); /* <( ) is a process substitution */
    return i + 1 < x->n && t[i] == '&' && t[i + 1] == '>';
}

static void add_command(struct lx *x, struct cmdbuf *c, size_t start, size_t end)
{
    struct ag__sh_script *s = x->s;
    if (c->nw == 0 && c->na == 0 && c->nr == 0)
        return;
    if (s->ncmd == AG__SH_MAX_CMDS) {
        opaque(x, -1, "more simple commands than the parser takes");
        x->i = x->n;
        return;
    }
    if (s->ncmd % 16 == 0) {
        struct ag__sh_cmd *n = realloc(s->cmd, (s->ncmd + 16) * sizeof *n);
        if (!n) {
            x->oom = 1;
            return;
        }
        s->cmd = n;
    }
    struct ag__sh_cmd *cmd = &s->cmd[s->ncmd];
    memset(cmd, 0, sizeof *cmd);
    cmd->argv = arena_alloc(s, (c->nw + 1) * sizeof *cmd->argv);
    cmd->assign = arena_alloc(s, (c->na + 1) * sizeof *cmd->assign);
    cmd->redir = arena_alloc(s, (c->nr + 1) * sizeof *cmd->redir);
    if (end < start) /* a keyword moved the start past the last word */
        end = start;
    if (end > x->n)
        end = x->n;
    while (end > start && (is_blank(x->t[end - 1]) || x->t[end - 1] == '\n'))
        end--;
    while (start < end && (is_blank(x->t[start]) || x->t[start] == '\n'))
        start++;
    cmd->src = ag__sh_strndup(s, x->t + start, end - start);
    if (!cmd->argv || !cmd->assign || !cmd->redir || !cmd->src) {
        x->oom = 1;
        return;
    }
    if (c->nw)
        memcpy(cmd->argv, c->w, c->nw * sizeof *c->w);
    if (c->na)
        memcpy(cmd->assign, c->a, c->na * sizeof *c->a);
    if (c->nr)
        memcpy(cmd->redir, c->r, c->nr * sizeof *c->r);
    cmd->argc = c->nw;
    cmd->nassign = c->na;
    cmd->nredir = c->nr;
    cmd->pipeline = x->pipeline;
    cmd->stage = x->stage;
    cmd->nested = x->nested;
    cmd->depth = x->depth;
    s->ncmd++;
}

/* One simple command from x->i up to an operator. Compound-command keywords in
 * command position are dropped (their bodies are commands like any other). */
static void simple_command(struct lx *x)
{
    struct cmdbuf c;
    memset(&c, 0, sizeof c);
    size_t start = x->i, end = x->i;
    int skip_for = 0; /* inside "for NAME in WORDS": no command until ; or do */
    while (x->i < x->n && !x->oom) {
        while (x->i < x->n && is_blank(x->t[x->i]))
            x->i++;
        if (x->i + 1 < x->n && x->t[x->i] == '\\' && x->t[x->i + 1] == '\n') {
            x->i += 2;
            continue;
        }
        if (x->i >= x->n)
            break;
        char ch = x->t[x->i];
        if (ch == '#')
            break; /* a comment; the caller skips it */
        int fd;
        if (at_redirection(x, &fd)) {
            redirection(x, &c, fd);
            end = x->i;
            continue;
        }
        if ((ch == '<' || ch == '>') && x->i + 1 < x->n && x->t[x->i + 1] == '(') {
            x->i += 2; /* process substitution <( ) >( ) */
            command_subst(x);
            struct ag__sh_word w = {.text = "/dev/fd/63", .pat = "/dev/fd/63",
                                    .flags = AG__SH_SUBST};
            if (grow((void **)&c.w, &c.cw, c.nw, sizeof *c.w))
                c.w[c.nw++] = w;
            end = x->i;
            continue;
        }
        if (ch == '(' && c.nw == 1 && c.na == 0 && x->i + 1 < x->n) { /* f() body */
            size_t k = x->i + 1;
            while (k < x->n && is_blank(x->t[k]))
                k++;
            if (k < x->n && x->t[k] == ')') {
                x->i = k + 1;
                c.nw = 0;
                start = x->i;
                continue;
            }
        }
        if (is_meta(ch))
            break;
        struct ag__sh_word w;
        if (!take_word(x, &w))
            break;
        end = x->i;
        if (skip_for) {
            if (keyword(&w, "do")) {
                skip_for = 0;
                start = x->i;
            }
            continue;
        }
        if (c.nw == 0 && c.na == 0) {
            if (keyword(&w, "if") || keyword(&w, "then") || keyword(&w, "else") ||
                keyword(&w, "elif") || keyword(&w, "fi") || keyword(&w, "do") ||
                keyword(&w, "done") || keyword(&w, "while") || keyword(&w, "until") ||
                keyword(&w, "!") || keyword(&w, "{") || keyword(&w, "}") ||
                keyword(&w, "esac") || keyword(&w, "function")) {
                if (keyword(&w, "esac") && x->in_case > 0)
                    x->in_case--;
                if (keyword(&w, "function")) { /* function NAME: the name is no command */
                    while (x->i < x->n && is_blank(x->t[x->i]))
                        x->i++;
                    struct ag__sh_word name;
                    (void)take_word(x, &name);
                }
                start = x->i;
                continue;
            }
            if (keyword(&w, "for") || keyword(&w, "select")) {
                skip_for = 1;
                continue;
            }
            if (keyword(&w, "case")) { /* case WORD in: patterns end with ')' */
                while (x->i < x->n && is_blank(x->t[x->i]))
                    x->i++;
                struct ag__sh_word subject, in;
                (void)take_word(x, &subject);
                while (x->i < x->n && is_blank(x->t[x->i]))
                    x->i++;
                (void)take_word(x, &in);
                x->in_case++;
                start = x->i;
                continue;
            }
        }
        if (c.nw == 0 && is_assignment(w.text)) {
            if (!grow((void **)&c.a, &c.ca, c.na, sizeof *c.a)) {
                x->oom = 1;
                break;
            }
            c.a[c.na++] = w;
            continue;
        }
        if (c.nw == AG__SH_MAX_WORDS) {
            opaque(x, -1, "a command with more words than the parser takes");
            continue;
        }
        if (!grow((void **)&c.w, &c.cw, c.nw, sizeof *c.w)) {
            x->oom = 1;
            break;
        }
        c.w[c.nw++] = w;
    }
    /* In a case, "pattern)" is no command. */
    if (x->in_case > 0 && x->i < x->n && x->t[x->i] == ')' && c.nr == 0) {
        x->i++;
    } else if (!skip_for) {
        add_command(x, &c, start, end);
    }
    free(c.w);
    free(c.a);
    free(c.r);
}

/* A list of commands up to close (')' for a subshell or $( ), 0: the end). */
static void parse_list(struct lx *x, char close)
{
    while (!x->oom) {
        while (x->i < x->n && is_blank(x->t[x->i]))
            x->i++;
        if (x->i >= x->n) {
            if (close)
                opaque(x, -1, "unterminated parenthesis");
            return;
        }
        char c = x->t[x->i];
        const char *t = x->t;
        if (c == '\0') {
            opaque(x, -1, "a NUL byte in the command line");
            x->i = x->n;
            return;
        }
        if (c == '#') {
            const char *nl = memchr(t + x->i, '\n', x->n - x->i);
            x->i = nl ? (size_t)(nl - t) : x->n;
            continue;
        }
        if (c == '\\' && x->i + 1 < x->n && t[x->i + 1] == '\n') {
            x->i += 2;
            continue;
        }
        if (c == '\n') {
            x->i++;
            read_heredocs(x);
            x->pipeline = ++x->s->npipe;
            x->stage = 0;
            continue;
        }
        if (c == ';' || c == '&') {
            x->i++;
            while (x->i < x->n && (t[x->i] == ';' || t[x->i] == '&'))
                x->i++;
            x->pipeline = ++x->s->npipe;
            x->stage = 0;
            continue;
        }
        if (c == '|') {
            x->i++;
            if (x->i < x->n && t[x->i] == '|') {
                x->i++;
                x->pipeline = ++x->s->npipe;
                x->stage = 0;
            } else {
                if (x->i < x->n && t[x->i] == '&')
                    x->i++;
                x->stage++;
            }
            continue;
        }
        if (c == '(') {
            x->i++;
            if (x->i < x->n && t[x->i] == '(') { /* (( arithmetic )) */
                x->i++;
                skip_group(x, '(', ')');
                if (x->i < x->n)
                    x->i++;
                if (x->i < x->n && t[x->i] == ')')
                    x->i++;
                continue;
            }
            if (x->depth + 1 >= AG__SH_MAX_DEPTH) {
                opaque(x, -1, "subshells nested too deeply");
                x->i = x->n;
                return;
            }
            x->depth++;
            x->nested++;
            parse_list(x, ')');
            x->nested--;
            x->depth--;
            continue;
        }
        if (c == ')') {
            x->i++;
            if (close == ')')
                return;
            if (x->in_case == 0)
                opaque(x, -1, "an unbalanced ')'");
            continue;
        }
        size_t before = x->i;
        simple_command(x);
        if (x->i == before) /* nothing consumed: never loop in place */
            x->i++;
    }
}

static ag_err run(struct ag__sh_script *s, const char *text, size_t len, int depth, int nested)
{
    struct lx x;
    memset(&x, 0, sizeof x);
    x.s = s;
    x.depth = depth;
    x.nested = nested;
    x.pipeline = ++s->npipe;
    if (len > AG__SH_MAX_INPUT) {
        if (ag__sh_add_opaque(s, -1, "a command line over 1 MiB") != AG_OK)
            return AG_ENOMEM;
        len = AG__SH_MAX_INPUT;
    }
    char *copy = ag__sh_strndup(s, text, len);
    if (!copy)
        return AG_ENOMEM;
    x.t = copy;
    x.n = len;
    if (depth >= AG__SH_MAX_DEPTH)
        opaque(&x, -1, "shells nested too deeply");
    else
        parse_list(&x, 0);
    return x.oom ? AG_ENOMEM : AG_OK;
}

ag_err ag__sh_parse(const char *text, size_t len, struct ag__sh_script *out)
{
    memset(out, 0, sizeof *out);
    ag_err err = run(out, text, len, 0, 0);
    if (err != AG_OK)
        ag__sh_script_free(out);
    return err;
}

ag_err ag__sh_parse_more(struct ag__sh_script *s, const char *text, size_t len, int depth,
                         int nested)
{
    return run(s, text, len, depth, nested);
}
