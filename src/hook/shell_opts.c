/* Options read with a program's table, and the canonical form they make (see
 * shell_judge_int.h). */
#include <ctype.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hook/shell_judge_int.h"

/* ---- canonical forms --------------------------------------------------------------- */

void ag__shj_canon_add(struct canon *c, const char *tok, size_t len)
{
    if (c->n == CANON_MAX)
        return;
    if (len >= sizeof c->own[0])
        len = sizeof c->own[0] - 1;
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->tok[i]) == len && memcmp(c->tok[i], tok, len) == 0)
            return;
    /* '/' and spaces would make the canonical form ambiguous to a glob */
    for (size_t i = 0; i < len; i++)
        c->own[c->n][i] = tok[i] == '/' || tok[i] == ' ' ? '_' : tok[i];
    c->own[c->n][len] = '\0';
    c->tok[c->n] = c->own[c->n];
    c->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* shell.exec on "NAME [SUB] OPTIONS" with the options sorted. */
void ag__shj_emit_exec(struct judge *j, int cmd, const char *name, const char *sub, struct canon *c)
{
    struct ag_buf b;
    ag__buf_init(&b);
    for (const char *p = name; *p; p++)
        ag__buf_putc(&b, *p == '/' || *p == ' ' ? '_' : *p);
    if (sub)
        ag__buf_printf(&b, " %s", sub);
    qsort(c->tok, c->n, sizeof c->tok[0], cmp_str);
    for (size_t i = 0; i < c->n; i++)
        ag__buf_printf(&b, " %s", c->tok[i]);
    ag__shj_check(j, cmd, "shell.exec", ag__buf_take(&b), 1, AG__SHELL_REQ, NULL, NULL);
}

/* ---- options ----------------------------------------------------------------------- */

static const struct opt *find_long(const struct opt *o, const char *name, size_t len)
{
    const struct opt *hit = NULL;
    int n = 0;
    for (; o->shorts; o++) {
        if (!o->lng)
            continue;
        if (strlen(o->lng) == len && memcmp(o->lng, name, len) == 0)
            return o;
        if (strlen(o->lng) > len && memcmp(o->lng, name, len) == 0) { /* GNU abbreviation */
            hit = o;
            n++;
        }
    }
    return n == 1 ? hit : NULL;
}

static const struct opt *find_short(const struct opt *o, char c)
{
    for (; o->shorts; o++)
        if (strchr(o->shorts, c) && c)
            return o;
    return NULL;
}

static void opt_value(struct judge *j, int cmd, const struct opt *o, const struct ag__sh_word *w,
                      struct parsed *p)
{
    switch (o->role) {
    case R_READ:
        ag__shj_path_word(j, cmd, "file.read", w);
        break;
    case R_WRITE:
        ag__shj_path_word(j, cmd, "file.write", w);
        break;
    case R_TARGET:
        p->target_word = *w;
        p->target = &p->target_word;
        break;
    case R_GLOB:
        if (p->nglobs < 8)
            p->globs[p->nglobs++] = w->text;
        break;
    case R_CODE:
        p->code = 1;
        break;
    case R_PAT:
        p->pat_given = 1;
        if (o->canon && strcmp(o->canon, "--file") == 0)
            ag__shj_path_word(j, cmd, "file.read", w);
        break;
    case R_DATA:
        if (w->text[0] == '@' || strstr(w->text, "=@") || strstr(w->text, "=<")) {
            const char *at = w->text[0] == '@' ? w->text + 1 : strpbrk(w->text, "@<") + 1;
            if (w->flags & (AG__SH_VAR | AG__SH_SUBST))
                ag__shj_opaque(j, cmd, "a variable in a file argument: %.200s", w->text);
            else if (strcmp(at, "-") != 0 && at[0]) {
                struct ag__sh_word f = {.text = at, .pat = at, .flags = 0};
                ag__shj_path_word(j, cmd, "file.read", &f);
            }
        }
        break;
    default:
        break;
    }
}

static void canon_opt(struct parsed *p, const struct opt *o, char c)
{
    char buf[64];
    if (o->canon) {
        for (const char *t = o->canon; *t;) { /* "--delete --force": two */
            size_t len = strcspn(t, " ");
            ag__shj_canon_add(&p->canon, t, len);
            t += len;
            t += strspn(t, " ");
        }
    } else if (o->lng) {
        snprintf(buf, sizeof buf, "--%s", o->lng);
        ag__shj_canon_add(&p->canon, buf, strlen(buf));
    } else {
        snprintf(buf, sizeof buf, "-%c", c);
        ag__shj_canon_add(&p->canon, buf, strlen(buf));
    }
}

/* Reads argv[from..argc) with the option table: options into the canonical form
 * (values judged by role), operands into p->operand. unknown_values: judge the value
 * of an unknown --name=value as a path read (a program not in the table). */
void ag__shj_parse_opts(struct judge *j, int cmd, const struct ag__sh_word *argv, size_t argc,
                        size_t from, const struct opt *opts, struct parsed *p, int unknown_values,
                        int mode_operand)
{
    int done = 0;
    for (size_t k = from; k < argc; k++) {
        const struct ag__sh_word *w = &argv[k];
        const char *t = w->text;
        if (done || t[0] != '-' || t[1] == '\0' ||
            (w->flags & AG__SH_QUOTED && w->pat[0] == '\\')) {
            if (p->nop < AG__SH_MAX_WORDS)
                p->operand[p->nop++] = w;
            continue;
        }
        if (mode_operand && p->nop == 0 && strspn(t + 1, "rwxXstugoa") == strlen(t + 1)) {
            p->operand[p->nop++] = w; /* chmod -x file: a mode */
            continue;
        }
        if (w->flags & (AG__SH_VAR | AG__SH_SUBST)) {
            ag__shj_opaque(j, cmd, "a variable in an option: %.200s", t);
            continue;
        }
        if (strcmp(t, "--") == 0) {
            done = 1;
            continue;
        }
        if (t[1] == '-') {
            const char *eq = strchr(t + 2, '=');
            size_t len = eq ? (size_t)(eq - t - 2) : strlen(t + 2);
            const struct opt *o = find_long(opts, t + 2, len);
            if (!o) {
                ag__shj_canon_add(&p->canon, t, len + 2);
                if (eq && unknown_values && eq[1]) {
                    struct ag__sh_word v = {
                        .text = eq + 1, .pat = eq + 1, .flags = w->flags & ~AG__SH_TILDE};
                    if (!(v.flags & (AG__SH_VAR | AG__SH_SUBST)))
                        ag__shj_path_word(j, cmd, "file.read", &v);
                }
                continue;
            }
            canon_opt(p, o, 0);
            if (o->arg == 1 && !eq && k + 1 < argc) {
                opt_value(j, cmd, o, &argv[++k], p);
            } else if (o->arg && eq) {
                struct ag__sh_word v = {.text = eq + 1, .pat = eq + 1, .flags = w->flags};
                v.flags &= ~AG__SH_TILDE;
                if (eq[1] == '~')
                    v.flags |= AG__SH_TILDE; /* bash expands ~ after --opt= */
                opt_value(j, cmd, o, &v, p);
            }
            continue;
        }
        for (const char *c = t + 1; *c; c++) {
            const struct opt *o = find_short(opts, *c);
            if (!o) {
                char buf[3] = {'-', *c, 0};
                ag__shj_canon_add(&p->canon, buf, 2);
                continue;
            }
            canon_opt(p, o, *c);
            if (o->arg == 0)
                continue;
            if (c[1]) {
                struct ag__sh_word v = {
                    .text = c + 1, .pat = c + 1, .flags = w->flags & ~AG__SH_TILDE};
                opt_value(j, cmd, o, &v, p);
            } else if (o->arg == 1 && k + 1 < argc) {
                opt_value(j, cmd, o, &argv[++k], p);
            }
            break;
        }
    }
}

int ag__shj_has_canon(const struct parsed *p, const char *tok)
{
    for (size_t i = 0; i < p->canon.n; i++)
        if (strcmp(p->canon.tok[i], tok) == 0)
            return 1;
    return 0;
}
