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
#include "hook/shell_lex.h"

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
static int is_assignment(const char *s)
{
    if (!ag__sh_is_name_start(*s))
        return 0;
    while (ag__sh_is_name(*s))
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
    while (x->i < x->n && ag__sh_is_blank(t[x->i]))
        x->i++;
    struct ag__sh_redir r = {.fd = fd, .op = op};
    if (!ag__sh_take_word(x, &r.target)) {
        ag__sh_lx_opaque(x, -1, "a redirection without a target");
        return;
    }
    if (op == AG__SH_R_DUP) {
        const char *s = r.target.text;
        size_t k = strspn(s, "0123456789");
        if (!(r.target.flags == 0 &&
              ((k > 0 && (s[k] == '\0' || (s[k] == '-' && !s[k + 1]))) || strcmp(s, "-") == 0)))
            r.op = t[i - 2] == '<' ? AG__SH_R_IN : AG__SH_R_OUT; /* >&file is &>file */
    }
    if (op == AG__SH_R_HEREDOC) {
        if (x->nhd == (int)(sizeof x->hd / sizeof x->hd[0]) || strlen(r.target.text) >= 256) {
            ag__sh_lx_opaque(x, -1, "too many or too long here-document delimiters");
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
        ag__sh_lx_opaque(x, -1, "more simple commands than the parser takes");
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
    cmd->argv = ag__sh_alloc(s, (c->nw + 1) * sizeof *cmd->argv);
    cmd->assign = ag__sh_alloc(s, (c->na + 1) * sizeof *cmd->assign);
    cmd->redir = ag__sh_alloc(s, (c->nr + 1) * sizeof *cmd->redir);
    if (end < start) /* a keyword moved the start past the last word */
        end = start;
    if (end > x->n)
        end = x->n;
    while (end > start && (ag__sh_is_blank(x->t[end - 1]) || x->t[end - 1] == '\n'))
        end--;
    while (start < end && (ag__sh_is_blank(x->t[start]) || x->t[start] == '\n'))
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
        while (x->i < x->n && ag__sh_is_blank(x->t[x->i]))
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
            ag__sh_command_subst(x);
            struct ag__sh_word w = {
                .text = "/dev/fd/63", .pat = "/dev/fd/63", .flags = AG__SH_SUBST};
            if (grow((void **)&c.w, &c.cw, c.nw, sizeof *c.w))
                c.w[c.nw++] = w;
            end = x->i;
            continue;
        }
        if (ch == '(' && c.nw == 1 && c.na == 0 && x->i + 1 < x->n) { /* f() body */
            size_t k = x->i + 1;
            while (k < x->n && ag__sh_is_blank(x->t[k]))
                k++;
            if (k < x->n && x->t[k] == ')') {
                x->i = k + 1;
                c.nw = 0;
                start = x->i;
                continue;
            }
        }
        if (ag__sh_is_meta(ch))
            break;
        struct ag__sh_word w;
        if (!ag__sh_take_word(x, &w))
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
                keyword(&w, "!") || keyword(&w, "{") || keyword(&w, "}") || keyword(&w, "esac") ||
                keyword(&w, "function")) {
                if (keyword(&w, "esac") && x->in_case > 0)
                    x->in_case--;
                if (keyword(&w, "function")) { /* function NAME: the name is no command */
                    while (x->i < x->n && ag__sh_is_blank(x->t[x->i]))
                        x->i++;
                    struct ag__sh_word name;
                    (void)ag__sh_take_word(x, &name);
                }
                start = x->i;
                continue;
            }
            if (keyword(&w, "for") || keyword(&w, "select")) {
                skip_for = 1;
                continue;
            }
            if (keyword(&w, "case")) { /* case WORD in: patterns end with ')' */
                while (x->i < x->n && ag__sh_is_blank(x->t[x->i]))
                    x->i++;
                struct ag__sh_word subject, in;
                (void)ag__sh_take_word(x, &subject);
                while (x->i < x->n && ag__sh_is_blank(x->t[x->i]))
                    x->i++;
                (void)ag__sh_take_word(x, &in);
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
            ag__sh_lx_opaque(x, -1, "a command with more words than the parser takes");
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
void ag__sh_parse_list(struct lx *x, char close)
{
    while (!x->oom) {
        while (x->i < x->n && ag__sh_is_blank(x->t[x->i]))
            x->i++;
        if (x->i >= x->n) {
            if (close)
                ag__sh_lx_opaque(x, -1, "unterminated parenthesis");
            return;
        }
        char c = x->t[x->i];
        const char *t = x->t;
        if (c == '\0') {
            ag__sh_lx_opaque(x, -1, "a NUL byte in the command line");
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
            ag__sh_read_heredocs(x);
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
                ag__sh_skip_group(x, '(', ')');
                if (x->i < x->n)
                    x->i++;
                if (x->i < x->n && t[x->i] == ')')
                    x->i++;
                continue;
            }
            if (x->depth + 1 >= AG__SH_MAX_DEPTH) {
                ag__sh_lx_opaque(x, -1, "subshells nested too deeply");
                x->i = x->n;
                return;
            }
            x->depth++;
            x->nested++;
            ag__sh_parse_list(x, ')');
            x->nested--;
            x->depth--;
            continue;
        }
        if (c == ')') {
            x->i++;
            if (close == ')')
                return;
            if (x->in_case == 0)
                ag__sh_lx_opaque(x, -1, "an unbalanced ')'");
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
        ag__sh_lx_opaque(&x, -1, "shells nested too deeply");
    else
        ag__sh_parse_list(&x, 0);
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
