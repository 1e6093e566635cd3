/* The shell judge's check list and the words that name files: tilde, $HOME/$PWD,
 * braces and globs expanded, searches and whole trees (see shell_judge_int.h). */
#include <ctype.h>
#include <dirent.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hook/shell_judge_int.h"

/* ---- judge state ------------------------------------------------------------------- */

static void push(struct judge *j, struct ag__shell_check c)
{
    struct ag__shell_result *r = j->r;
    if (r->n % 16 == 0) {
        struct ag__shell_check *n = realloc(r->c, (r->n + 16) * sizeof *n);
        if (!n) {
            j->oom = 1;
            free(c.resource);
            free(c.dir);
            free(c.glob);
            return;
        }
        r->c = n;
    }
    r->c[r->n++] = c;
}

/* Adds a check (taking resource, dir and glob). The last slot is kept for the opaque
 * check that says the line touches more than the judge takes. */
void ag__shj_check(struct judge *j, int cmd, const char *action, char *resource, int text,
                   enum ag__shell_kind kind, char *dir, char *glob)
{
    struct ag__shell_result *r = j->r;
    /* Past the limit a command's own shell.exec is still kept (a long rm -rf line is
     * still the rm rule's), up to AG__SHELL_MAX_EXEC more. */
    int exec_room =
        strcmp(action, "shell.exec") == 0 && r->n < AG__SHELL_MAX_CHECKS + AG__SHELL_MAX_EXEC;
    int drop = resource == NULL || (j->full && !exec_room);
    for (size_t i = 0; !drop && kind == AG__SHELL_REQ && i < r->n; i++)
        drop = r->c[i].kind == kind && strcmp(r->c[i].action, action) == 0 &&
               strcmp(r->c[i].resource, resource) == 0; /* the same request decides the same */
    if (resource == NULL)
        j->oom = 1;
    if (!drop && !j->full && r->n >= AG__SHELL_MAX_CHECKS - 1) {
        j->full = drop = 1;
        char *why = strdup("the line touches more paths and commands than the hook judges");
        if (why)
            push(j, (struct ag__shell_check){.action = "shell.opaque",
                                             .resource = why,
                                             .text = 1,
                                             .kind = AG__SHELL_REQ,
                                             .cmd = cmd});
        else
            j->oom = 1;
    }
    if (j->full && exec_room && resource)
        drop = 0;
    if (drop) {
        free(resource);
        free(dir);
        free(glob);
        return;
    }
    push(j, (struct ag__shell_check){.action = action,
                                     .resource = resource,
                                     .text = text,
                                     .kind = kind,
                                     .dir = dir,
                                     .glob = glob,
                                     .cmd = cmd});
}

void ag__shj_opaque(struct judge *j, int cmd, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ag__shj_check(j, cmd, "shell.opaque", strdup(buf), 1, AG__SHELL_REQ, NULL, NULL);
}

/* ---- paths ------------------------------------------------------------------------- */

/* Device names that are no file a rule protects. */
static int harmless_device(const char *p)
{
    static const char *const dev[] = {"/dev/null",    "/dev/zero",  "/dev/random",
                                      "/dev/urandom", "/dev/stdin", "/dev/stdout",
                                      "/dev/stderr",  "/dev/tty",   "-"};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (strcmp(p, dev[i]) == 0)
            return 1;
    return strncmp(p, "/dev/fd/", 8) == 0;
}

/* pat with the $HOME/$PWD markers and a leading ~ replaced; 0 when it cannot be. */
int ag__shj_substitute(struct judge *j, const struct ag__sh_word *w, struct ag_buf *out,
                       const char **why)
{
    const char *p = w->pat;
    const char *home = j->ctx->home;
    if ((w->flags & AG__SH_TILDE) && p[0] == '~') {
        if (!home) {
            *why = "a ~ path and no home directory";
            return 0;
        }
        ag__buf_puts(out, home);
        p++;
    }
    for (; *p; p++) {
        if (*p != AG__SH_MARK) {
            ag__buf_putc(out, *p);
            continue;
        }
        p++;
        if (*p == AG__SH_MARK_HOME && home) {
            ag__buf_puts(out, home);
        } else if (*p == AG__SH_MARK_PWD && j->cwd_known) {
            ag__buf_puts(out, j->cwd);
        } else {
            *why = "$HOME or $PWD where the hook does not know it";
            return 0;
        }
        if (!*p)
            break;
    }
    return ag__buf_status(out) == AG_OK;
}

static int has_glob(const char *pat)
{
    for (const char *p = pat; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '*' || *p == '?' || *p == '[')
            return 1;
    }
    return 0;
}

void ag__shj_unescape(const char *pat, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = pat; *p && o + 1 < size; p++) {
        if (*p == '\\' && p[1])
            p++;
        out[o++] = *p;
    }
    out[o] = '\0';
}

/* Brace expansion of a pattern into at most max alternatives; -1 when there are more
 * or they nest too deep. */
static int braces(const char *pat, char alts[][PATH_MAX], int n, int max, int depth)
{
    const char *open = NULL;
    int lvl = 0;
    const char *close = NULL;
    for (const char *p = pat; *p && !close; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '{') {
            if (lvl++ == 0)
                open = p;
        } else if (*p == '}' && lvl > 0 && --lvl == 0) {
            /* only a group with a comma or ".." expands */
            int comma = 0, l2 = 0;
            for (const char *q = open + 1; q < p; q++) {
                if (*q == '\\' && q[1]) {
                    q++;
                    continue;
                }
                l2 += *q == '{' ? 1 : *q == '}' ? -1 : 0;
                if (l2 == 0 && (*q == ',' || (q[0] == '.' && q[1] == '.')))
                    comma = 1;
            }
            if (comma)
                close = p;
            else
                open = NULL;
        }
    }
    if (!close) {
        if (n >= max)
            return -1;
        snprintf(alts[n], PATH_MAX, "%s", pat);
        return n + 1;
    }
    if (depth > 6)
        return -1;
    const char *start = open + 1;
    int l2 = 0;
    for (const char *q = open + 1; q <= close; q++) {
        if (q < close && *q == '\\' && q[1]) {
            q++;
            continue;
        }
        if (q < close && *q == '{')
            l2++;
        else if (q < close && *q == '}')
            l2--;
        if (q == close || (l2 == 0 && *q == ',')) {
            char tmp[PATH_MAX];
            int len = snprintf(tmp, sizeof tmp, "%.*s%.*s%s", (int)(open - pat), pat,
                               (int)(q - start), start, close + 1);
            if (len < 0 || len >= (int)sizeof tmp)
                return -1;
            if (q == close && memmem(start, (size_t)(q - start), "..", 2) &&
                !memchr(start, ',', (size_t)(q - start))) {
                /* {a..z}: a range; taken as any name there */
                len = snprintf(tmp, sizeof tmp, "%.*s*%s", (int)(open - pat), pat, close + 1);
                if (len < 0 || len >= (int)sizeof tmp)
                    return -1;
            }
            n = braces(tmp, alts, n, max, depth + 1);
            if (n < 0)
                return -1;
            start = q + 1;
        }
    }
    return n;
}

/* 1 when s[0..end) holds an unescaped glob character. */
static int has_glob_prefix(const char *s, const char *end)
{
    for (const char *p = s; p < end; p++) {
        if (*p == '\\' && p + 1 < end) {
            p++;
            continue;
        }
        if (*p == '*' || *p == '?' || *p == '[')
            return 1;
    }
    return 0;
}

#define MAX_ALTS    16
#define MAX_MATCHES 48
#define GLOB_BUDGET 4096 /* directory entries one glob may read */
#define WALK_DEPTH  64   /* segments of a glob it walks */

static void one_path(struct judge *j, int cmd, const char *action, const char *path)
{
    char *res = NULL;
    if (harmless_device(path))
        return;
    if (path[0] != '/' && !j->cwd_known) {
        ag__shj_opaque(j, cmd, "a relative path after a cd the hook cannot follow: %.200s", path);
        return;
    }
    ag_err err = j->ctx->path(j->cwd, j->ctx->home, path, &res);
    if (err == AG_ENOMEM) {
        j->oom = 1;
        return;
    }
    if (err != AG_OK) {
        ag__shj_opaque(j, cmd, "a path the hook cannot resolve: %.200s", path);
        return;
    }
    ag__shj_check(j, cmd, action, res, 0, AG__SHELL_REQ, NULL, NULL);
}

/* A glob pattern (absolute, escapes kept): every file it matches now, and the
 * pattern itself, which the policy's deny and ask rules are compared with. */
struct walk {
    struct judge *j;
    int cmd;
    const char *action;
    int budget;  /* directory entries it may still read */
    int matches; /* files found so far */
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files the pattern rest matches below the directory base (len bytes of a
 * PATH_MAX buffer), each segment matched as the shell does (fnmatch with FNM_PERIOD:
 * a leading dot only literally), in name order. Bounded: glob(3) could read a whole
 * file system (/x/y/z) and a hook that does not answer in time lets the call run. */
static void walk(struct walk *w, char *base, size_t len, const char *rest, int depth)
{
    while (*rest == '/')
        rest++;
    if (depth > WALK_DEPTH) { /* a path this deep is not walked: as if over budget */
        w->budget = 0;
        return;
    }
    if (*rest == '\0') {
        struct stat st;
        if (w->matches < MAX_MATCHES && lstat(base[0] ? base : "/", &st) == 0) {
            w->matches++;
            one_path(w->j, w->cmd, w->action, base[0] ? base : "/");
        }
        return;
    }
    const char *end = rest;
    while (*end && *end != '/')
        end += end[0] == '\\' && end[1] ? 2 : 1;
    char seg[PATH_MAX];
    snprintf(seg, sizeof seg, "%.*s", (int)(end - rest), rest);
    if (!has_glob_prefix(seg, seg + strlen(seg))) {
        char plain[PATH_MAX];
        ag__shj_unescape(seg, plain, sizeof plain);
        int n = snprintf(base + len, PATH_MAX - len, "/%s", plain);
        if (n > 0 && (size_t)n < PATH_MAX - len)
            walk(w, base, len + (size_t)n, end, depth + 1);
        base[len] = '\0';
        return;
    }
    DIR *d = opendir(base[0] ? base : "/");
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && w->budget > 0) {
        w->budget--;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            fnmatch(seg, e->d_name, FNM_PERIOD) != 0)
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names);
            if (!nn)
                break;
            names = nn;
        }
        if ((names[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++) {
        int m = snprintf(base + len, PATH_MAX - len, "/%s", names[i]);
        if (m > 0 && (size_t)m < PATH_MAX - len && w->matches < MAX_MATCHES)
            walk(w, base, len + (size_t)m, end, depth + 1);
        base[len] = '\0';
        free(names[i]);
    }
    free(names);
}

static void glob_path(struct judge *j, int cmd, const char *action, const char *abs)
{
    char plain[PATH_MAX], base[PATH_MAX] = "";
    struct walk w = {.j = j, .cmd = cmd, .action = action, .budget = GLOB_BUDGET};
    walk(&w, base, 0, abs, 0);
    if (w.budget <= 0)
        ag__shj_opaque(j, cmd, "a glob that matches more than the hook reads: %.200s", abs);
    /* The pattern: links resolved in its literal leading directories. */
    const char *rest = abs, *slash;
    while ((slash = strchr(rest, '/')) != NULL && !has_glob_prefix(rest, slash))
        rest = slash + 1;
    snprintf(plain, sizeof plain, "%.*s", (int)(rest - abs), abs);
    char *dir = NULL;
    ag_err err = plain[0] ? j->ctx->path(j->cwd, j->ctx->home, plain, &dir) : AG_EINVAL;
    if (err == AG_ENOMEM) {
        j->oom = 1;
        return;
    }
    if (err != AG_OK) {
        ag__shj_opaque(j, cmd, "a glob the hook cannot resolve: %.200s", abs);
        return;
    }
    struct ag_buf b;
    ag__buf_init(&b);
    if (strcmp(dir, "/") == 0)
        ag__buf_puts(&b, rest);
    else
        ag__buf_printf(&b, "%s/%s", dir, rest);
    free(dir);
    ag__shj_check(j, cmd, action, ag__buf_take(&b), 0, AG__SHELL_PATTERN, NULL, NULL);
}

/* A word that names a file: tilde, $HOME/$PWD, braces and globs expanded. */
void ag__shj_path_word(struct judge *j, int cmd, const char *action, const struct ag__sh_word *w)
{
    if (w->flags & AG__SH_SUBST) {
        if (strcmp(w->text, "/dev/fd/63") == 0)
            return; /* <( ): its commands are judged themselves */
        ag__shj_opaque(j, cmd, "a command substitution in a path: %.200s", w->text);
        return;
    }
    if (w->flags & AG__SH_VAR) {
        ag__shj_opaque(j, cmd, "a variable in a path: %.200s", w->text);
        return;
    }
    if (w->flags & AG__SH_TUSER) {
        ag__shj_opaque(j, cmd, "another user's home in a path: %.200s", w->text);
        return;
    }
    struct ag_buf b;
    const char *why = NULL;
    ag__buf_init(&b);
    if (!ag__shj_substitute(j, w, &b, &why)) {
        if (why)
            ag__shj_opaque(j, cmd, "%s", why);
        else
            j->oom = 1;
        ag__buf_free(&b);
        return;
    }
    char(*alts)[PATH_MAX] = malloc(MAX_ALTS * sizeof *alts);
    if (!alts) {
        j->oom = 1;
        ag__buf_free(&b);
        return;
    }
    int n = (w->flags & AG__SH_BRACE) ? braces(b.data ? b.data : "", alts, 0, MAX_ALTS, 0) : -2;
    if (n == -2) {
        snprintf(alts[0], PATH_MAX, "%s", b.data ? b.data : "");
        n = 1;
    }
    if (n < 0)
        ag__shj_opaque(j, cmd, "a brace expansion with too many alternatives: %.200s", w->text);
    for (int i = 0; i < n; i++) {
        const char *pat = alts[i];
        if ((w->flags & AG__SH_GLOB) && has_glob(pat)) {
            char abs[PATH_MAX * 2];
            if (pat[0] != '/' && !j->cwd_known) {
                ag__shj_opaque(j, cmd, "a relative glob after a cd the hook cannot follow: %.200s",
                               pat);
                continue;
            }
            if (pat[0] == '/') {
                snprintf(abs, sizeof abs, "%s", pat);
            } else { /* the directory's own glob characters escaped */
                size_t o = 0;
                for (const char *c = j->cwd; *c && o + 2 < PATH_MAX; c++) {
                    if (strchr("*?[]\\{}", *c))
                        abs[o++] = '\\';
                    abs[o++] = *c;
                }
                snprintf(abs + o, sizeof abs - o, "/%s", pat);
            }
            if (strlen(abs) >= PATH_MAX) {
                ag__shj_opaque(j, cmd, "a path too long: %.200s", pat);
                continue;
            }
            glob_path(j, cmd, action, abs);
        } else {
            char plain[PATH_MAX];
            ag__shj_unescape(pat, plain, sizeof plain);
            if (plain[0] == '\0')
                continue;
            one_path(j, cmd, action, plain);
        }
    }
    free(alts);
    ag__buf_free(&b);
}

/* A search of a directory word (grep -r, rg, find), narrowed by glob (NULL: none):
 * the directory, everything below it, and the search's reach. */
void ag__shj_search_word(struct judge *j, int cmd, const char *action, const struct ag__sh_word *w,
                         const char *glob)
{
    if (w->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_TUSER | AG__SH_GLOB | AG__SH_BRACE)) {
        ag__shj_path_word(j, cmd, action, w); /* the names it matches, or opaque */
        if (!(w->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_TUSER)))
            ag__shj_opaque(j, cmd, "a search of directories named by a pattern: %.200s", w->text);
        return;
    }
    struct ag_buf b;
    const char *why = NULL;
    char plain[PATH_MAX], *res = NULL;
    ag__buf_init(&b);
    if (!ag__shj_substitute(j, w, &b, &why)) {
        ag__shj_opaque(j, cmd, "%s", why ? why : "out of memory");
        ag__buf_free(&b);
        return;
    }
    ag__shj_unescape(b.data ? b.data : ".", plain, sizeof plain);
    ag__buf_free(&b);
    if (plain[0] != '/' && !j->cwd_known) {
        ag__shj_opaque(j, cmd, "a relative path after a cd the hook cannot follow: %.200s", plain);
        return;
    }
    ag_err err = j->ctx->path(j->cwd, j->ctx->home, plain[0] ? plain : ".", &res);
    if (err != AG_OK) {
        if (err == AG_ENOMEM)
            j->oom = 1;
        else
            ag__shj_opaque(j, cmd, "a path the hook cannot resolve: %.200s", plain);
        return;
    }
    struct ag_buf all;
    ag__buf_init(&all);
    if (strcmp(res, "/") == 0)
        ag__buf_puts(&all, "**");
    else
        ag__buf_printf(&all, "%s/**", res);
    char *dir = strdup(res);
    char *g = glob ? strdup(glob) : NULL;
    ag__shj_check(j, cmd, action, res, 0, AG__SHELL_REQ, NULL, NULL);
    ag__shj_check(j, cmd, action, ag__buf_take(&all), 0, AG__SHELL_SEARCH, dir, g);
}

/* A path that may be a directory read or written whole (cp -r, tar c, zip -r): a
 * search of it; a pattern or variable is judged as a path. */
void ag__shj_tree_word(struct judge *j, int cmd, const char *action, const struct ag__sh_word *w)
{
    if (w->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_TUSER | AG__SH_GLOB | AG__SH_BRACE))
        ag__shj_path_word(j, cmd, action, w);
    else
        ag__shj_search_word(j, cmd, action, w, NULL);
}

void ag__shj_search_cwd(struct judge *j, int cmd, const char *action, const char *glob)
{
    struct ag__sh_word dot = {.text = ".", .pat = ".", .flags = 0};
    ag__shj_search_word(j, cmd, action, &dot, glob);
}

/* 1 when w names an existing directory (links followed). */
static int existing_dir(struct judge *j, const struct ag__sh_word *w)
{
    struct ag_buf b;
    const char *why = NULL;
    char plain[PATH_MAX], *res = NULL;
    struct stat st;
    ag__buf_init(&b);
    int ok = ag__shj_substitute(j, w, &b, &why);
    ag__shj_unescape(ok && b.data ? b.data : "", plain, sizeof plain);
    ag__buf_free(&b);
    if (!ok || !plain[0] || (plain[0] != '/' && !j->cwd_known) ||
        j->ctx->path(j->cwd, j->ctx->home, plain, &res) != AG_OK)
        return 0;
    snprintf(plain, sizeof plain, "/%s", strcmp(res, "/") == 0 ? "" : res);
    free(res);
    return stat(plain, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The target of cp/mv/install/ln: written, and the names copied into it when it is
 * an existing directory. */
void ag__shj_copy_target(struct judge *j, int ci, const struct ag__sh_word *dst,
                         const struct ag__sh_word *const *src, size_t nsrc, int tree)
{
    if (dst->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_GLOB | AG__SH_BRACE | AG__SH_TUSER)) {
        ag__shj_path_word(j, ci, "file.write", dst);
        return;
    }
    if (!existing_dir(j, dst) || nsrc == 0) {
        ag__shj_path_word(j, ci, "file.write", dst);
        /* A directory moved or copied to a new name lands there whole. */
        if (tree && nsrc > 0)
            ag__shj_tree_word(j, ci, "file.write", dst);
    }
    for (size_t i = 0; i < nsrc; i++) {
        if (src[i]->flags & (AG__SH_VAR | AG__SH_SUBST))
            continue;
        char name[PATH_MAX], joined[PATH_MAX * 2];
        ag__shj_unescape(src[i]->pat, name, sizeof name);
        size_t len = strlen(name);
        while (len > 1 && name[len - 1] == '/')
            name[--len] = '\0';
        /* dst/<name>: the name as a glob when the source is one */
        int n = snprintf(joined, sizeof joined, "%s/%s", dst->pat,
                         (src[i]->flags & AG__SH_GLOB) ? ag__shj_base(src[i]->pat)
                                                       : ag__shj_base(name));
        if (n < 0 || n >= PATH_MAX)
            continue;
        struct ag__sh_word w = {.text = joined,
                                .pat = joined,
                                .flags = (dst->flags & (AG__SH_TILDE | AG__SH_QUOTED)) |
                                         (src[i]->flags & AG__SH_GLOB)};
        ag__shj_path_word(j, ci, "file.write", &w);
    }
}

int ag__shj_chdir(struct judge *j, const struct ag__sh_word *w)
{
    if (w->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_GLOB | AG__SH_BRACE | AG__SH_TUSER))
        return 0;
    struct ag_buf b;
    const char *why = NULL;
    char plain[PATH_MAX], *res = NULL;
    ag__buf_init(&b);
    int ok = ag__shj_substitute(j, w, &b, &why);
    ag__shj_unescape(ok && b.data ? b.data : "", plain, sizeof plain);
    ag__buf_free(&b);
    if (!ok || (plain[0] != '/' && !j->cwd_known) ||
        j->ctx->path(j->cwd, j->ctx->home, plain[0] ? plain : ".", &res) != AG_OK)
        return 0;
    snprintf(j->cwd, sizeof j->cwd, "%s%s", strcmp(res, "/") == 0 ? "" : "/", res);
    free(res);
    j->cwd_known = 1;
    return 1;
}
