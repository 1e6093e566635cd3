/* A search's reach (see hook_search.h). A rule's name and a glob's are compared each
 * as a pattern against the other as plain text: `*.env` matches the name ".env",
 * `.env*` the text ".env.*". Asking whether two patterns share any name would catch
 * `*.local` against `.env.*` (".env.local"), but also `*.ts` (".env.ts"): every
 * search with an extension would be denied. */
#include "hook/hook_search.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "policy/glob.h"

#define SEG_MAX  128  /* tokens of a segment; a longer one could name anything */
#define ALT_MAX  64   /* alternatives of a search glob; more could name anything */
#define GLOB_MAX 1024 /* bytes of a search glob, likewise */

/* ---- one segment as a pattern ------------------------------------------------------ */

struct tok {
    uint64_t set[4]; /* the bytes it consumes */
    int star;        /* 1: any run of them */
};

struct seg {
    struct tok t[SEG_MAX];
    size_t n;
    int any; /* 1: a pattern this cannot follow, taken as one that matches any name */
};

static void set_add(uint64_t set[4], unsigned c)
{
    set[c >> 6] |= 1ULL << (c & 63);
}

/* Names hold neither NUL nor the separator. */
static void set_clean(uint64_t set[4])
{
    set[0] &= ~(1ULL | 1ULL << '/');
}

static void set_all(uint64_t set[4])
{
    memset(set, 0xff, 4 * sizeof set[0]);
    set_clean(set);
}

static int set_meet(const uint64_t a[4], const uint64_t b[4])
{
    return ((a[0] & b[0]) | (a[1] & b[1]) | (a[2] & b[2]) | (a[3] & b[3])) != 0;
}

/* The class at s[i] == '[' into set; returns the index after its ']', or 0 when it has
 * none. tool: a search glob, where ']' first is a member and a POSIX class ("[:")
 * is one this does not follow (also 0). */
static size_t parse_class(const char *s, size_t n, size_t i, uint64_t set[4], int tool)
{
    size_t j = i + 1;
    int neg = 0;
    memset(set, 0, 4 * sizeof set[0]);
    if (j < n && (s[j] == '!' || s[j] == '^')) {
        neg = 1;
        j++;
    }
    size_t first = j;
    while (j < n && (s[j] != ']' || (tool && j == first))) {
        if (tool && s[j] == '[' && j + 1 < n && s[j + 1] == ':')
            return 0;
        if (s[j] == '\\' && j + 1 < n)
            j++;
        unsigned lo = (unsigned char)s[j++], hi = lo;
        if (j + 1 < n && s[j] == '-' && s[j + 1] != ']') {
            j++;
            if (s[j] == '\\' && j + 1 < n)
                j++;
            hi = (unsigned char)s[j++];
        }
        for (unsigned c = lo; c <= hi; c++)
            set_add(set, c);
    }
    if (j >= n)
        return 0;
    for (int k = 0; neg && k < 4; k++)
        set[k] = ~set[k];
    set_clean(set);
    return j + 1;
}

/* The end of the item at s[i]: an escape, a class, or one byte. */
static size_t item_end(const char *s, size_t n, size_t i, int tool)
{
    uint64_t set[4];
    if (s[i] == '\\')
        return i + 2 <= n ? i + 2 : n;
    if (s[i] == '[') {
        size_t e = parse_class(s, n, i, set, tool);
        return e ? e : i + 1;
    }
    return i + 1;
}

static void seg_parse(const char *s, size_t n, int tool, struct seg *g)
{
    g->n = 0;
    g->any = 0;
    for (size_t i = 0; i < n;) {
        if (g->n == SEG_MAX || (tool && s[i] == '(')) { /* extglob: @(a|b), !(x) */
            g->any = 1;
            return;
        }
        struct tok *t = &g->t[g->n++];
        memset(t, 0, sizeof *t);
        if (s[i] == '*' || s[i] == '?') {
            t->star = s[i] == '*';
            set_all(t->set);
            i++;
            while (t->star && i < n && s[i] == '*')
                i++;
            continue;
        }
        if (s[i] == '[') {
            size_t e = parse_class(s, n, i, t->set, tool);
            if (e) {
                i = e;
                continue;
            }
            if (tool) { /* unterminated, or a POSIX class */
                g->any = 1;
                return;
            }
        }
        if (s[i] == '\\' && i + 1 < n)
            i++;
        set_add(t->set, (unsigned char)s[i++]);
    }
}

/* A segment taken as plain text: every byte itself. */
static void seg_text(const char *s, size_t n, struct seg *g)
{
    g->n = 0;
    g->any = n > SEG_MAX;
    for (size_t i = 0; i < n && !g->any; i++) {
        struct tok *t = &g->t[g->n++];
        memset(t, 0, sizeof *t);
        set_add(t->set, (unsigned char)s[i]);
    }
}

/* 1 when some name matches both segments (here a pattern and a text). Every move keeps
 * or advances both positions, so one pass in order over the pairs finds every
 * reachable one. */
static int seg_meet(const struct seg *a, const struct seg *b)
{
    static const size_t W = SEG_MAX + 1;
    unsigned char reach[(SEG_MAX + 1) * (SEG_MAX + 1)];
    if (a->any || b->any)
        return 1;
    memset(reach, 0, (a->n + 1) * W);
    reach[0] = 1;
    for (size_t i = 0; i <= a->n; i++)
        for (size_t j = 0; j <= b->n; j++) {
            if (!reach[i * W + j])
                continue;
            if (i == a->n && j == b->n)
                return 1;
            if (i < a->n && a->t[i].star)
                reach[(i + 1) * W + j] = 1;
            if (j < b->n && b->t[j].star)
                reach[i * W + j + 1] = 1;
            if (i < a->n && j < b->n && set_meet(a->t[i].set, b->t[j].set))
                reach[(a->t[i].star ? i : i + 1) * W + (b->t[j].star ? j : j + 1)] = 1;
        }
    return 0;
}

static int only_stars(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] == '*')
        i++;
    return n > 0 && i == n;
}

/* ---- segments of a path pattern ---------------------------------------------------- */

static size_t next_sep(const char *s, size_t n, size_t i, int tool)
{
    while (i < n && s[i] != '/')
        i = item_end(s, n, i, tool);
    return i < n ? i : n;
}

struct tail {
    size_t last, last_end;     /* the last segment */
    size_t parent, parent_end; /* the one before (parent == parent_end: none) */
    int dir_stars;             /* every segment before the last is only stars */
};

static void split_tail(const char *s, size_t n, int tool, struct tail *t)
{
    size_t start = 0;
    t->parent = t->parent_end = 0;
    t->dir_stars = 1;
    for (;;) {
        size_t end = next_sep(s, n, start, tool);
        if (end == n) {
            t->last = start;
            t->last_end = n;
            return;
        }
        t->dir_stars &= only_stars(s + start, end - start);
        t->parent = start;
        t->parent_end = end;
        start = end + 1;
    }
}

/* ---- the search glob's alternatives ------------------------------------------------ */

struct alts {
    char buf[8192];
    size_t used, off[ALT_MAX], len[ALT_MAX], n;
    int any; /* 1: too many or too long to follow: could name anything */
};

static void push(struct alts *a, const char *s, size_t n)
{
    if (a->n == ALT_MAX || a->used + n > sizeof a->buf) {
        a->any = 1;
        return;
    }
    memcpy(a->buf + a->used, s, n);
    a->off[a->n] = a->used;
    a->len[a->n++] = n;
    a->used += n;
}

/* The '}' closing the '{' at s[open], or 0. */
static size_t brace_close(const char *s, size_t n, size_t open)
{
    int depth = 0;
    for (size_t i = open; i < n; i = item_end(s, n, i, 1)) {
        if (s[i] == '{')
            depth++;
        else if (s[i] == '}' && --depth == 0)
            return i;
    }
    return 0;
}

static void expand(struct alts *a, const char *s, size_t n, int depth);

/* s with s[open..close] replaced by from[0..len), expanded further. */
static void expand_with(struct alts *a, const char *s, size_t n, size_t open, size_t close,
                        const char *from, size_t len, int depth)
{
    char tmp[GLOB_MAX];
    if (n >= GLOB_MAX || depth == 8) {
        a->any = 1;
        return;
    }
    memcpy(tmp, s, open);
    memcpy(tmp + open, from, len);
    memcpy(tmp + open + len, s + close + 1, n - close - 1);
    expand(a, tmp, open + len + n - close - 1, depth + 1);
}

/* Brace alternatives: {a,b} is a and b (nested too); a group without a comma stays as
 * written (minimatch) and may also be a range ({1..3}): any name there. */
static void expand(struct alts *a, const char *s, size_t n, int depth)
{
    size_t open = 0, close = 0;
    for (size_t i = 0; i < n && !close; i = item_end(s, n, i, 1))
        if (s[i] == '{')
            close = brace_close(s, n, open = i);
    if (close == 0) {
        push(a, s, n);
        return;
    }
    size_t start = open + 1, commas = 0;
    int lvl = 0;
    for (size_t i = open + 1; i <= close; i = i == close ? i + 1 : item_end(s, n, i, 1)) {
        if (i == close || (lvl == 0 && s[i] == ',')) {
            commas += i != close;
            if (i != close || commas)
                expand_with(a, s, n, open, close, s + start, i - start, depth);
            start = i + 1;
        } else {
            lvl += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
        }
    }
    if (commas == 0) {
        push(a, s, n);
        expand_with(a, s, n, open, close, "*", 1, depth);
    }
}

/* One glob as a tool may take it: as written, braces expanded, and split at commas
 * outside braces (Claude Code's Grep splits "a,b" into two globs). */
static void add_piece(struct alts *a, const char *s, size_t n)
{
    if (n == 0 || s[0] == '!') /* an exclusion: what is left is as without a glob */
        return;
    expand(a, s, n, 0);
    size_t start = 0, i = 0;
    int lvl = 0, split = 0;
    for (; i < n; i = item_end(s, n, i, 1)) {
        lvl += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
        if (lvl == 0 && s[i] == ',') {
            add_piece(a, s + start, i - start);
            start = i + 1;
            split = 1;
        }
    }
    if (split)
        add_piece(a, s + start, n - start);
}

/* The glob whole, and each whitespace-separated part of it (several globs). */
static void glob_alts(const char *glob, struct alts *a)
{
    a->used = a->n = 0;
    a->any = 0;
    if (glob == NULL)
        return;
    size_t n = strlen(glob);
    if (n >= GLOB_MAX) {
        a->any = 1;
        return;
    }
    add_piece(a, glob, n);
    size_t span = strcspn(glob, " \t\n\r\f\v");
    for (const char *p = glob; span < n && *p;) {
        p += strspn(p, " \t\n\r\f\v");
        size_t len = strcspn(p, " \t\n\r\f\v");
        add_piece(a, p, len);
        p += len;
    }
}

/* ---- a rule's resource against the search ------------------------------------------ */

/* The search's directory is one r names on its path: dir matches r cut before one of
 * its '/', where the cut holds more than stars; the root, when r begins with more. */
static int dir_named(const char *r, const char *dir)
{
    size_t n = strlen(r), end = next_sep(r, n, 0, 0);
    int named = !only_stars(r, end);
    if (strcmp(dir, "/") == 0)
        return named;
    char cut[PATH_MAX];
    while (end < n) {
        if (end >= sizeof cut)
            return 1; /* a rule this long is not followed: as if it named the directory */
        memcpy(cut, r, end);
        cut[end] = '\0';
        if (named && ag__glob_match_str(cut, dir, AG__SEP_RESOURCE))
            return 1;
        size_t next = next_sep(r, n, end + 1, 0);
        named |= !only_stars(r + end + 1, next - end - 1);
        end = next;
    }
    return 0;
}

/* A rule's segment r and a glob's g name the same: either, as a pattern, matches the
 * other as text. */
static int names_meet(const char *r, size_t rn, const char *g, size_t gn)
{
    struct seg pat, text;
    seg_parse(r, rn, 0, &pat);
    seg_text(g, gn, &text);
    if (seg_meet(&pat, &text))
        return 1;
    seg_parse(g, gn, 1, &pat);
    seg_text(r, rn, &text);
    return seg_meet(&pat, &text);
}

/* The glob could name a file r names (see hook_search.h). A glob whose last segment
 * is only stars names every file: alone that is a search without a glob, but with a
 * parent segment it names the rule's directory (".aws" + "/" + two stars). */
static int glob_names(const char *r, const struct alts *a)
{
    struct tail rt, gt;
    split_tail(r, strlen(r), 0, &rt);
    size_t rl_len = rt.last_end - rt.last, rp_len = rt.parent_end - rt.parent;
    if (only_stars(r + rt.last, rl_len))
        return 0; /* everything below a directory: the literal requests judge that */
    if (a->any)
        return 1;
    int rp_named = rp_len && !only_stars(r + rt.parent, rp_len);
    for (size_t k = 0; k < a->n; k++) {
        const char *g = a->buf + a->off[k];
        split_tail(g, a->len[k], 1, &gt);
        size_t gl_len = gt.last_end - gt.last, gp_len = gt.parent_end - gt.parent;
        int every = gl_len == 0 || only_stars(g + gt.last, gl_len);
        if (!every && !names_meet(r + rt.last, rl_len, g + gt.last, gl_len))
            continue;
        if (rt.dir_stars ? !every
                         : rp_named && gp_len && !only_stars(g + gt.parent, gp_len) &&
                               names_meet(r + rt.parent, rp_len, g + gt.parent, gp_len))
            return 1;
    }
    return 0;
}

static int applies(const struct ag_rule_info *r, int tier, const char *action)
{
    if (r->effect == AG_EFFECT_ALLOW || r->has_phases || tier < AG_TIER_MIN || tier > AG_TIER_MAX ||
        !(r->tiers & (1u << tier)))
        return 0;
    for (size_t i = 0; i < r->nactions; i++)
        if (ag__glob_match_str(r->actions[i], action, AG__SEP_ACTION))
            return 1;
    return 0;
}

int ag__hook_search_hit(const ag_policy *p, int tier, const char *action, const char *dir,
                        const char *glob, struct ag__search_hit *hit)
{
    struct alts a;
    int best = 0; /* 2: a deny found, 1: an ask */
    glob_alts(glob, &a);
    for (size_t i = 0; p && best < 2 && i < ag_policy_rule_count(p); i++) {
        struct ag_rule_info r;
        if (ag_policy_rule(p, i, &r) != AG_OK || !applies(&r, tier, action))
            continue;
        int rank = r.effect == AG_EFFECT_DENY ? 2 : 1;
        for (size_t k = 0; rank > best && k < r.nresources; k++) {
            int by_dir = dir_named(r.resources[k], dir);
            if (!by_dir && !(glob && glob_names(r.resources[k], &a)))
                continue;
            best = rank;
            memset(hit, 0, sizeof *hit);
            hit->decision.effect = r.effect;
            hit->decision.reason = rank == 2 ? AG_REASON_RULE_DENY : AG_REASON_RULE_ASK;
            hit->decision.rule_file = r.file;
            hit->decision.rule_line = r.line;
            hit->decision.tier = tier;
            hit->decision.phase = AG_PHASE_NONE;
            hit->by_glob = !by_dir;
        }
    }
    return best > 0;
}
