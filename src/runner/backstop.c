/* The backstop's grant-list builder (backstop.h): wanted accesses in, Landlock rules
 * out, with the subtrees that must get less than their parent carved out by
 * enumerating the parent's entries. */
#include "runner/backstop.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/err.h"

const char *ag__access_name(int access)
{
    static const char *const names[] = {"none", "list", "read", "write"};
    return access >= AG__ACC_NONE && access <= AG__ACC_WRITE ? names[access] : "none";
}

/* ---- wants ---------------------------------------------------------------------------- */

/* Strips trailing slashes (but not the root's) in place. */
static void strip_slashes(char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
}

/* The canonical form of an absolute path into out: realpath when it exists, else the
 * realpath of its parent and its last component, else the path as given. A want for a
 * file that does not exist yet still names the place where it would be created. */
static void canonical(const char *path, char out[PATH_MAX])
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    strip_slashes(tmp);
    if (realpath(tmp, out))
        return;
    char *slash = strrchr(tmp, '/');
    char parent[PATH_MAX];
    if (slash && slash != tmp) {
        *slash = '\0';
        size_t pl = 0, nl = strlen(slash + 1);
        if (realpath(tmp, parent) && (pl = strlen(parent)) + nl + 2 <= PATH_MAX) {
            memcpy(out, parent, pl);
            if (strcmp(parent, "/") != 0)
                out[pl++] = '/';
            memcpy(out + pl, slash + 1, nl + 1);
            return;
        }
        *slash = '/';
    }
    snprintf(out, PATH_MAX, "%s", tmp);
}

ag_err ag__wants_add(struct ag__wants *w, const char *path, int access, const char *why)
{
    if (!path || path[0] != '/')
        return ag__fail(AG_EINVAL, "backstop: '%s' is not an absolute path", path ? path : "");
    if (strlen(path) >= PATH_MAX)
        return ag__fail(AG_EINVAL, "backstop: path too long: %.64s...", path);
    char c[PATH_MAX];
    canonical(path, c);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].path, c) == 0) {
            if (access < w->v[i].access) {
                w->v[i].access = access;
                w->v[i].why = why;
            }
            return AG_OK;
        }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        struct ag__want *v = realloc(w->v, cap * sizeof *v);
        if (!v)
            return AG_ENOMEM;
        w->v = v;
        w->cap = cap;
    }
    if (!(w->v[w->n].path = strdup(c)))
        return AG_ENOMEM;
    w->v[w->n].access = access;
    w->v[w->n].why = why;
    w->n++;
    return AG_OK;
}

ag_err ag__wants_add_pattern(struct ag__wants *w, const char *root, const char *pattern, int access,
                             const char *why)
{
    if (!root || root[0] != '/' || !pattern || !*pattern || pattern[0] == '/')
        return ag__fail(AG_EINVAL,
                        "backstop: pattern '%s' under '%s': need an absolute root "
                        "and a relative pattern",
                        pattern ? pattern : "", root ? root : "");
    if (w->npat == w->patcap) {
        size_t cap = w->patcap ? w->patcap * 2 : 8;
        struct ag__want_pattern *v = realloc(w->pat, cap * sizeof *v);
        if (!v)
            return AG_ENOMEM;
        w->pat = v;
        w->patcap = cap;
    }
    char c[PATH_MAX];
    canonical(root, c);
    struct ag__want_pattern *p = &w->pat[w->npat];
    p->root = strdup(c);
    p->pattern = strdup(pattern);
    if (!p->root || !p->pattern) {
        free(p->root);
        free(p->pattern);
        return AG_ENOMEM;
    }
    strip_slashes(p->pattern);
    p->ncomp = 1;
    for (const char *s = p->pattern; *s; s++)
        p->ncomp += *s == '/';
    p->access = access;
    p->why = why;
    w->npat++;
    return AG_OK;
}

void ag__wants_free(struct ag__wants *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i].path);
    for (size_t i = 0; i < w->npat; i++) {
        free(w->pat[i].root);
        free(w->pat[i].pattern);
    }
    free(w->v);
    free(w->pat);
    memset(w, 0, sizeof *w);
}

void ag__grants_free(struct ag__grants *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].path);
    free(g->v);
    memset(g, 0, sizeof *g);
}

/* ---- pattern walk --------------------------------------------------------------------- */

struct walk {
    struct ag__wants *w;
    size_t max, seen;
    const char *root;
};

/* The last n components of path (the whole path when it has fewer). */
static const char *last_components(const char *path, int n)
{
    const char *p = path + strlen(path);
    while (p > path) {
        if (p[-1] == '/' && --n == 0)
            return p;
        p--;
    }
    return path;
}

static int matches(const struct ag__want_pattern *p, const char *path)
{
    return fnmatch(p->pattern, last_components(path, p->ncomp), FNM_PATHNAME) == 0;
}

/* Walks dir (depth first, no symbolic links followed), turning every entry that matches
 * one of the patterns rooted at walk->root into a want; a matched directory is not
 * entered (the want covers it). */
static ag_err walk_dir(struct walk *k, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == EACCES || errno == ENOENT || errno == ENOTDIR
                   ? AG_OK /* the runner cannot read it: neither can the child */
                   : ag__fail(AG_EIO, "backstop: reading %s: %s", dir, strerror(errno));
    ag_err err = AG_OK;
    struct dirent *e;
    char path[PATH_MAX];
    while (err == AG_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (++k->seen > k->max) {
            err = ag__fail(AG_ELIMIT,
                           "backstop: more than %zu entries under %s to search for "
                           "credential files; give a narrower --project",
                           k->max, k->root);
            break;
        }
        if ((size_t)snprintf(path, sizeof path, "%s/%s", strcmp(dir, "/") ? dir : "", e->d_name) >=
            sizeof path)
            continue;
        int hit = 0;
        for (size_t i = 0; err == AG_OK && i < k->w->npat; i++) {
            const struct ag__want_pattern *p = &k->w->pat[i];
            if (strcmp(p->root, k->root) == 0 && matches(p, path)) {
                err = ag__wants_add(k->w, path, p->access, p->why);
                hit = 1;
            }
        }
        unsigned char t = e->d_type;
        if (t == DT_UNKNOWN) {
            struct stat st;
            t = lstat(path, &st) == 0 && S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
        }
        if (err == AG_OK && !hit && t == DT_DIR)
            err = walk_dir(k, path);
    }
    closedir(d);
    return err;
}

static ag_err expand_patterns(struct ag__wants *w, size_t max, size_t *walked)
{
    ag_err err = AG_OK;
    struct walk k = {.w = w, .max = max};
    for (size_t i = 0; err == AG_OK && i < w->npat; i++) {
        int done = 0; /* one walk per root serves all its patterns */
        for (size_t j = 0; j < i; j++)
            done |= strcmp(w->pat[j].root, w->pat[i].root) == 0;
        if (done)
            continue;
        k.root = w->pat[i].root;
        err = walk_dir(&k, k.root);
    }
    *walked = k.seen;
    return err;
}

/* ---- build ---------------------------------------------------------------------------- */

/* 1 when p lies strictly beneath dir. */
static int below(const char *p, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/')
        return p[0] == '/' && p[1] != '\0';
    return strncmp(p, dir, n) == 0 && p[n] == '/';
}

static ag_err emit(struct ag__grants *g, const char *path, int access, const char *why)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        struct ag__grant *v = realloc(g->v, cap * sizeof *v);
        if (!v)
            return AG_ENOMEM;
        g->v = v;
        g->cap = cap;
    }
    if (!(g->v[g->n].path = strdup(path)))
        return AG_ENOMEM;
    g->v[g->n].access = access;
    g->v[g->n].why = why;
    g->n++;
    return AG_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted (so that the list does not depend on readdir's order). */
static ag_err list_dir(const char *dir, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return ag__fail(AG_EIO,
                        "backstop: %s must be enumerated to carve out what lies "
                        "beneath it, but cannot be read: %s",
                        dir, strerror(errno));
    size_t cap = 0;
    ag_err err = AG_OK;
    struct dirent *e;
    while (err == AG_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **v = realloc(*names, cap * sizeof *v);
            if (!v) {
                err = AG_ENOMEM;
                break;
            }
            *names = v;
        }
        if (!((*names)[*n] = strdup(e->d_name)))
            err = AG_ENOMEM;
        else
            (*n)++;
    }
    closedir(d);
    if (err == AG_OK)
        qsort(*names, *n, sizeof **names, cmp_str);
    return err;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The want exactly at path, or NULL. */
static const struct ag__want *want_at(const struct ag__wants *w, const char *path)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].path, path) == 0)
            return &w->v[i];
    return NULL;
}

/* 1 when no other want of w lies between dir and the want at i. */
static int topmost_below(const struct ag__wants *w, size_t i, const char *dir)
{
    for (size_t j = 0; j < w->n; j++)
        if (j != i && below(w->v[j].path, dir) && below(w->v[i].path, w->v[j].path))
            return 0;
    return 1;
}

static int max_i(int a, int b)
{
    return a > b ? a : b;
}
static int min_i(int a, int b)
{
    return a < b ? a : b;
}

/* Grants node (which exists) the access `level`, given that its ancestors' rules already
 * grant it `covered`. When nothing beneath node must get less, one rule does, and the
 * wants beneath it that get more are built on their own. Otherwise node gets what every
 * entry beneath it may have (at least LIST: the names of a carved directory stay
 * visible, or `ls` would fail in the project itself), and each of its entries is built
 * with its own level. */
static ag_err build(const struct ag__wants *w, struct ag__grants *g, const char *node, int level,
                    const char *why, int covered)
{
    int any = 0, floor = AG__ACC_WRITE;
    for (size_t i = 0; i < w->n; i++)
        if (below(w->v[i].path, node)) {
            any = 1;
            floor = min_i(floor, w->v[i].access);
        }
    ag_err err = AG_OK;
    if (!any || floor >= level) {
        if (level > covered)
            err = emit(g, node, level, why);
        for (size_t i = 0; err == AG_OK && any && i < w->n; i++) {
            struct stat st;
            if (below(w->v[i].path, node) && topmost_below(w, i, node) &&
                lstat(w->v[i].path, &st) == 0)
                err = build(w, g, w->v[i].path, w->v[i].access, w->v[i].why, max_i(covered, level));
        }
        return err;
    }
    struct stat st;
    if (lstat(node, &st) != 0)
        return AG_OK;
    if (!S_ISDIR(st.st_mode)) /* nothing can lie beneath a file (a worktree's .git) */
        return level > covered ? emit(g, node, level, why) : AG_OK;
    int own = min_i(level, max_i(floor, AG__ACC_LIST));
    if (own > covered)
        err = emit(g, node, own, own < level ? "entries beneath are granted one by one" : why);
    char **names;
    size_t n;
    if (err == AG_OK)
        err = list_dir(node, &names, &n);
    if (err != AG_OK)
        return err;
    char path[PATH_MAX];
    for (size_t i = 0; err == AG_OK && i < n; i++) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", strcmp(node, "/") ? node : "", names[i]) >=
            sizeof path)
            continue;
        if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode))
            continue; /* a link leads where its target's own rules say */
        const struct ag__want *x = want_at(w, path);
        err = build(w, g, path, x ? x->access : level, x ? x->why : why, max_i(covered, own));
    }
    free_names(names, n);
    return err;
}

static int cmp_grant(const void *a, const void *b)
{
    return strcmp(((const struct ag__grant *)a)->path, ((const struct ag__grant *)b)->path);
}

ag_err ag__grants_build(struct ag__wants *w, size_t walk_max, struct ag__grants *out)
{
    memset(out, 0, sizeof *out);
    ag_err err = expand_patterns(w, walk_max ? walk_max : AG__BACKSTOP_WALK_MAX, &out->walked);
    for (size_t i = 0; err == AG_OK && i < w->n; i++) {
        int top = 1;
        for (size_t j = 0; j < w->n && top; j++)
            top = j == i || !below(w->v[i].path, w->v[j].path);
        struct stat st;
        if (top && lstat(w->v[i].path, &st) == 0)
            err = build(w, out, w->v[i].path, w->v[i].access, w->v[i].why, AG__ACC_NONE);
    }
    if (err != AG_OK) {
        ag__grants_free(out);
        return err;
    }
    qsort(out->v, out->n, sizeof *out->v, cmp_grant);
    return AG_OK;
}

ag_err ag__grants_text(const struct ag__grants *g, char **out)
{
    struct ag_buf b;
    ag__buf_init(&b);
    for (size_t i = 0; i < g->n; i++)
        ag__buf_printf(&b, "  %-6s %s%s%s%s\n", ag__access_name(g->v[i].access), g->v[i].path,
                       g->v[i].why ? "  (" : "", g->v[i].why ? g->v[i].why : "",
                       g->v[i].why ? ")" : "");
    ag_err err = ag__buf_status(&b);
    if (err != AG_OK) {
        ag__buf_free(&b);
        return err;
    }
    *out = ag__buf_take(&b);
    return *out ? AG_OK : AG_ENOMEM;
}
