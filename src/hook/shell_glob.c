/* Shell glob against policy glob (see shell_glob.h). Both are cut into segments at
 * '/'; a policy segment holding "**" stands for any run of segments. Two segments meet
 * when some name matches both: each is a sequence of tokens (a byte set, repeated or
 * not), and the pairs of positions reachable by consuming the same byte are walked in
 * order, which is exact for such patterns. */
#include "hook/shell_glob.h"

#include <stdint.h>
#include <string.h>

#include "policy/glob.h"

#define TOK_MAX     128
#define SEG_MAX     64
#define PATTERN_MAX 1024 /* bytes: the work is bounded by their product */

struct tok {
    uint64_t set[4];
    int star;
};

struct seg {
    struct tok t[TOK_MAX];
    size_t n;
    int any;  /* a segment too long to follow: any name */
    int deep; /* a policy segment with "**": any run of segments */
};

static void set_add(uint64_t s[4], unsigned c)
{
    s[c >> 6] |= 1ULL << (c & 63);
}

static void set_all(uint64_t s[4])
{
    memset(s, 0xff, 4 * sizeof s[0]);
    s[0] &= ~(1ULL | 1ULL << '/');
}

/* The class at p[0] == '['; returns the length consumed, 0 when unterminated. */
static size_t parse_class(const char *p, size_t n, uint64_t s[4])
{
    size_t i = 1;
    int neg = 0;
    memset(s, 0, 4 * sizeof s[0]);
    if (i < n && (p[i] == '!' || p[i] == '^')) {
        neg = 1;
        i++;
    }
    size_t first = i;
    while (i < n && (p[i] != ']' || i == first)) {
        if (p[i] == '\\' && i + 1 < n)
            i++;
        unsigned lo = (unsigned char)p[i++], hi = lo;
        if (i + 1 < n && p[i] == '-' && p[i + 1] != ']') {
            i++;
            if (p[i] == '\\' && i + 1 < n)
                i++;
            hi = (unsigned char)p[i++];
        }
        for (unsigned c = lo; c <= hi && c < 256; c++)
            set_add(s, c);
    }
    if (i >= n)
        return 0;
    if (neg)
        for (int k = 0; k < 4; k++)
            s[k] = ~s[k];
    s[0] &= ~(1ULL | 1ULL << '/');
    return i + 1;
}

static void seg_parse(const char *p, size_t n, struct seg *g)
{
    g->n = 0;
    g->any = 0;
    g->deep = 0;
    for (size_t i = 0; i < n;) {
        if (g->n == TOK_MAX) {
            g->any = 1;
            return;
        }
        struct tok *t = &g->t[g->n++];
        memset(t, 0, sizeof *t);
        if (p[i] == '*') {
            if (i + 1 < n && p[i + 1] == '*')
                g->deep = 1;
            while (i < n && p[i] == '*')
                i++;
            t->star = 1;
            set_all(t->set);
            continue;
        }
        if (p[i] == '?') {
            set_all(t->set);
            i++;
            continue;
        }
        if (p[i] == '[') {
            size_t len = parse_class(p + i, n - i, t->set);
            if (len) {
                i += len;
                continue;
            }
        }
        if (p[i] == '\\' && i + 1 < n)
            i++;
        set_add(t->set, (unsigned char)p[i++]);
    }
}

static int set_meet(const uint64_t a[4], const uint64_t b[4], int nodot)
{
    uint64_t m0 = a[0] & b[0];
    if (nodot)
        m0 &= ~(1ULL << '.');
    return (m0 | (a[1] & b[1]) | (a[2] & b[2]) | (a[3] & b[3])) != 0;
}

/* Some name matches both; nodot: the name may not start with '.' (a shell glob
 * segment whose first token is a wildcard). */
static int seg_meet(const struct seg *a, const struct seg *b, int nodot)
{
    const size_t W = b->n + 1;
    /* [started][i][j], only as large as these two segments need */
    static _Thread_local unsigned char reach[2][(TOK_MAX + 1) * (TOK_MAX + 1)];
    if (a->any || b->any)
        return 1;
    memset(reach[0], 0, (a->n + 1) * W);
    memset(reach[1], 0, (a->n + 1) * W);
    reach[0][0] = 1;
    for (size_t i = 0; i <= a->n; i++)
        for (size_t j = 0; j <= b->n; j++)
            for (int s = 0; s < 2; s++) {
                if (!reach[s][i * W + j])
                    continue;
                if (i == a->n && j == b->n && s) /* names are not empty */
                    return 1;
                if (i < a->n && a->t[i].star)
                    reach[s][(i + 1) * W + j] = 1;
                if (j < b->n && b->t[j].star)
                    reach[s][i * W + j + 1] = 1;
                if (i < a->n && j < b->n && set_meet(a->t[i].set, b->t[j].set, nodot && !s))
                    reach[1][(a->t[i].star ? i : i + 1) * W + (b->t[j].star ? j : j + 1)] = 1;
            }
    return 0;
}

/* Cuts s into segments at unescaped '/' (at most SEG_MAX; -1 beyond). */
static int split(const char *s, const char *start[SEG_MAX], size_t len[SEG_MAX])
{
    int n = 0;
    const char *p = s, *seg = s;
    for (;; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '/' || *p == '\0') {
            if (n == SEG_MAX)
                return -1;
            start[n] = seg;
            len[n++] = (size_t)(p - seg);
            if (*p == '\0')
                return n;
            seg = p + 1;
        }
    }
}

int ag__shell_globs_meet(const char *pattern, const char *rule)
{
    if (strlen(pattern) > PATTERN_MAX || strlen(rule) > PATTERN_MAX)
        return 1; /* too long to follow at a bounded cost: as if it met */
    const char *gs[SEG_MAX], *rs[SEG_MAX];
    size_t gl[SEG_MAX], rl[SEG_MAX];
    int m = split(pattern, gs, gl), n = split(rule, rs, rl);
    if (m < 0 || n < 0)
        return 1; /* too deep to follow: as if it met */
    static _Thread_local struct seg g, r;
    unsigned char reach[SEG_MAX + 1][SEG_MAX + 1];
    memset(reach, 0, sizeof reach);
    reach[0][0] = 1;
    for (int a = 0; a <= m; a++)
        for (int b = 0; b <= n; b++) {
            if (!reach[a][b])
                continue;
            if (a == m && b == n)
                return 1;
            if (b == n)
                continue;
            seg_parse(rs[b], rl[b], &r);
            if (r.deep) {
                reach[a][b + 1] = 1; /* no segment */
                if (a < m)
                    reach[a + 1][b] = 1; /* one more */
                continue;
            }
            if (a == m)
                continue;
            seg_parse(gs[a], gl[a], &g);
            int nodot = gl[a] > 0 && (gs[a][0] == '*' || gs[a][0] == '?' || gs[a][0] == '[');
            if (seg_meet(&g, &r, nodot))
                reach[a + 1][b + 1] = 1;
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

int ag__shell_pattern_hit(const ag_policy *p, int tier, const char *action, const char *pattern,
                          struct ag_decision *d)
{
    int best = 0;
    for (size_t i = 0; p && best < 2 && i < ag_policy_rule_count(p); i++) {
        struct ag_rule_info r;
        if (ag_policy_rule(p, i, &r) != AG_OK || !applies(&r, tier, action))
            continue;
        int rank = r.effect == AG_EFFECT_DENY ? 2 : 1;
        for (size_t k = 0; rank > best && k < r.nresources; k++) {
            if (!ag__shell_globs_meet(pattern, r.resources[k]))
                continue;
            best = rank;
            memset(d, 0, sizeof *d);
            d->effect = r.effect;
            d->reason = rank == 2 ? AG_REASON_RULE_DENY : AG_REASON_RULE_ASK;
            d->rule_file = r.file;
            d->rule_line = r.line;
            d->tier = tier;
            d->phase = AG_PHASE_NONE;
        }
    }
    return best > 0;
}
