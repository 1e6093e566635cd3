#include "policy/load.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "policy/arena.h"
#include "policy/glob.h"
#include "policy/index.h"
#include "policy/load_int.h"
#include "policy/policy_int.h"
#include "policy/yaml.h"

#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)

/* Shipped defaults, used for every tier (or field) the file does not set. */
struct tier_default {
    const char *name;
    int64_t ttl_ms, max_ttl_ms;
    int workdir_write;
    int64_t cpu_seconds, memory_bytes, max_procs, file_bytes;
};

static const struct tier_default tier_defaults[AG_TIER_COUNT] = {
    {"Observer", 3600000, 4 * 3600000, 0, 60, 2 * GIB, 128, 16 * MIB},
    {"Operator", 1800000, 2 * 3600000, 1, 300, 4 * GIB, 256, 256 * MIB},
    {"Builder", 1800000, 2 * 3600000, 1, 600, 4 * GIB, 256, 1 * GIB},
    {"Executor", 900000, 3600000, 1, 1800, 4 * GIB, 512, 1 * GIB},
    {"Architect", 900000, 3600000, 1, 1800, 4 * GIB, 512, 1 * GIB},
};

static const char *const default_read_paths[] = {
    "/usr",  "/lib",      "/lib64",    "/bin",        "/sbin",        "/etc",
    "/proc", "/dev/null", "/dev/zero", "/dev/random", "/dev/urandom",
};
static const char *const default_write_paths[] = {"/dev/null"};

static void set_defaults(ag_policy *p)
{
    for (int t = 0; t < AG_TIER_COUNT; t++) {
        const struct tier_default *d = &tier_defaults[t];
        p->tiers[t] = (struct ag_tier_info){d->name, d->ttl_ms, d->max_ttl_ms};
        struct ag_sandbox_profile *s = &p->sandbox[t];
        memset(s, 0, sizeof *s);
        s->workdir_write = d->workdir_write;
        s->read_paths = default_read_paths;
        s->nread = sizeof default_read_paths / sizeof default_read_paths[0];
        s->write_paths = default_write_paths;
        s->nwrite = sizeof default_write_paths / sizeof default_write_paths[0];
        s->cpu_seconds = d->cpu_seconds;
        s->memory_bytes = d->memory_bytes;
        s->max_procs = d->max_procs;
        s->file_bytes = d->file_bytes;
    }
    p->mcp.ask_timeout_ms = 60000;
    p->mcp.redact_secrets = 1;
}

/* ---- problems --------------------------------------------------------------------- */

void ag__pl_problem_at(struct lctx *c, int line, int col, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->nprobs == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct problem *np = realloc(c->probs, cap * sizeof *np);
        if (np == NULL) {
            c->oom = 1;
            return;
        }
        c->probs = np;
        c->cap = cap;
    }
    size_t len = strlen(c->name) + strlen(what) + 32;
    char *msg = malloc(len);
    if (msg == NULL) {
        c->oom = 1;
        return;
    }
    snprintf(msg, len, "%s:%d:%d: %s", c->name, line, col, what);
    struct problem *pr = &c->probs[c->nprobs];
    pr->line = line;
    pr->col = col;
    pr->seq = c->nprobs++;
    pr->msg = msg;
}

static const char *type_name(const struct ag__ynode *n)
{
    if (n->type == AG__Y_MAP)
        return "a mapping";
    if (n->type == AG__Y_SEQ)
        return "a list";
    return n->is_null ? "nothing" : "a scalar";
}

/* ---- typed values ----------------------------------------------------------------- */

/* A quoted scalar may hold a NUL ("\0", "\x00", "\u0000"), and every consumer of the
 * text stops there: a resource glob "prod/x\0 and more" would become prod/x alone, a
 * key "effect\0x" would be read as effect. Such a scalar is refused, not cut. */
static int has_nul(const struct ag__ynode *n)
{
    return n->type == AG__Y_SCALAR && memchr(n->text, '\0', n->len) != NULL;
}

int ag__pl_want(struct lctx *c, const struct ag__ynode *n, enum ag__ytype type, const char *what)
{
    if (type == AG__Y_SCALAR && has_nul(n)) {
        PROBLEM(c, n, "NUL character (\\0) in a value of '%s'", what);
        return 0;
    }
    if (n->type == type && !(type == AG__Y_SCALAR && n->is_null))
        return 1;
    static const char *const names[] = {"a scalar", "a mapping", "a list"};
    PROBLEM(c, n, "wrong type for '%s': expected %s, got %s", what, names[type], type_name(n));
    return 0;
}

static int parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return 0;
    *out = v;
    return 1;
}

static int get_int(struct lctx *c, const struct ag__ynode *n, const char *what, long long lo,
                   long long hi, long long *out)
{
    if (!ag__pl_want(c, n, AG__Y_SCALAR, what))
        return 0;
    if (!parse_ll(n->text, out)) {
        PROBLEM(c, n, "'%s' must be an integer, got '%s'", what, n->text);
        return 0;
    }
    if (*out < lo || *out > hi) {
        PROBLEM(c, n, "'%s' out of range: %lld (expected %lld..%lld)", what, *out, lo, hi);
        return 0;
    }
    return 1;
}

static int get_tier(struct lctx *c, const struct ag__ynode *n, const char *what, int *out)
{
    long long v;
    if (!ag__pl_want(c, n, AG__Y_SCALAR, what))
        return 0;
    if (!parse_ll(n->text, &v)) {
        PROBLEM(c, n, "'%s' must be a tier number, got '%s'", what, n->text);
        return 0;
    }
    if (v < AG_TIER_MIN || v > AG_TIER_MAX) {
        PROBLEM(c, n, "tier out of range: %lld (tiers are %d..%d)", v, AG_TIER_MIN, AG_TIER_MAX);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int ag__pl_get_bool(struct lctx *c, const struct ag__ynode *n, const char *what, int *out)
{
    if (!ag__pl_want(c, n, AG__Y_SCALAR, what))
        return 0;
    if (strcmp(n->text, "true") == 0 || strcmp(n->text, "false") == 0) {
        *out = n->text[0] == 't';
        return 1;
    }
    PROBLEM(c, n, "'%s' must be true or false, got '%s'", what, n->text);
    return 0;
}

int ag__pl_get_duration(struct lctx *c, const struct ag__ynode *n, const char *what, int64_t *out)
{
    if (!ag__pl_want(c, n, AG__Y_SCALAR, what))
        return 0;
    if (ag__parse_duration(n->text, out) != AG_OK) {
        PROBLEM(c, n, "bad duration for '%s': '%s' (expected e.g. 90s, 30m, 1h, 1h30m)", what,
                n->text);
        return 0;
    }
    return 1;
}

/* Sizes: a byte count with an optional binary suffix (K, M, G, T, with or without
 * "iB"/"B"); 0 means unlimited. */
static int get_size(struct lctx *c, const struct ag__ynode *n, const char *what, int64_t *out)
{
    if (!ag__pl_want(c, n, AG__Y_SCALAR, what))
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(n->text, &end, 10);
    long long mult = 1;
    if (end != n->text && n->text[0] != '-' && errno == 0) {
        static const struct {
            const char *suffix;
            long long mult;
        } units[] = {
            {"", 1},      {"B", 1},          {"K", KIB},         {"KB", KIB},        {"KiB", KIB},
            {"M", MIB},   {"MB", MIB},       {"MiB", MIB},       {"G", GIB},         {"GB", GIB},
            {"GiB", GIB}, {"T", 1024 * GIB}, {"TB", 1024 * GIB}, {"TiB", 1024 * GIB}};
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            if (strcmp(end, units[i].suffix) == 0) {
                mult = units[i].mult;
                if (v <= (unsigned long long)INT64_MAX / (unsigned long long)mult) {
                    *out = (int64_t)(v * (unsigned long long)mult);
                    return 1;
                }
            }
        }
    }
    PROBLEM(c, n, "bad size for '%s': '%s' (expected e.g. 512M, 2G, 0 for unlimited)", what,
            n->text);
    return 0;
}

char *ag__pl_copy_text(struct lctx *c, const struct ag__ynode *n)
{
    char *s = ag__arena_strndup(&c->p->arena, n->text, n->len);
    if (s == NULL)
        c->oom = 1;
    return s;
}

/* Checks a mapping's keys: scalars, no duplicates, all in allowed (NULL-terminated). */
void ag__pl_check_keys(struct lctx *c, const struct ag__ynode *map, const char *const *allowed,
                       const char *where)
{
    for (size_t i = 0; i < map->n; i++) {
        const struct ag__ynode *k = map->items[2 * i];
        if (k->type != AG__Y_SCALAR) {
            PROBLEM(c, k, "wrong type for a key in %s: expected a scalar, got %s", where,
                    type_name(k));
            continue;
        }
        if (has_nul(k)) {
            PROBLEM(c, k, "NUL character (\\0) in a key of %s", where);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const struct ag__ynode *prev = map->items[2 * j];
            if (prev->type == AG__Y_SCALAR && prev->len == k->len &&
                memcmp(prev->text, k->text, k->len) == 0) {
                PROBLEM(c, k, "duplicate key '%s' in %s (first at line %d, column %d)", k->text,
                        where, prev->line, prev->col);
                break;
            }
        }
        size_t a = 0;
        while (allowed[a] && strcmp(allowed[a], k->text) != 0)
            a++;
        if (allowed[a] == NULL) {
            char list[256] = "";
            for (a = 0; allowed[a]; a++) {
                strncat(list, a ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, allowed[a], sizeof list - strlen(list) - 1);
            }
            PROBLEM(c, k, "unknown key '%s' in %s (expected one of: %s)", k->text, where, list);
        }
    }
}

/* Iterates a mapping whose keys are tier numbers; reports bad and duplicate tiers and
 * calls fn for each good one. */
static void for_each_tier(struct lctx *c, const struct ag__ynode *map, const char *section,
                          void (*fn)(struct lctx *, int, const struct ag__ynode *))
{
    const struct ag__ynode *seen[AG_TIER_COUNT] = {0};
    for (size_t i = 0; i < map->n; i++) {
        const struct ag__ynode *k = map->items[2 * i], *v = map->items[2 * i + 1];
        int t;
        if (!get_tier(c, k, section, &t))
            continue;
        if (seen[t]) {
            PROBLEM(c, k, "duplicate tier %d in %s (first at line %d, column %d)", t, section,
                    seen[t]->line, seen[t]->col);
            continue;
        }
        seen[t] = k;
        fn(c, t, v);
    }
}

/* ---- tiers ------------------------------------------------------------------------ */

static void load_tier(struct lctx *c, int t, const struct ag__ynode *v)
{
    static const char *const keys[] = {"name", "token_ttl", "max_ttl", NULL};
    if (!ag__pl_want(c, v, AG__Y_MAP, "tiers"))
        return;
    ag__pl_check_keys(c, v, keys, "a tier");
    struct ag_tier_info *ti = &c->p->tiers[t];
    const struct ag__ynode *n;
    if ((n = ag__yaml_get(v, "name")) && ag__pl_want(c, n, AG__Y_SCALAR, "name"))
        ti->name = ag__pl_copy_text(c, n);
    const struct ag__ynode *ttl = ag__yaml_get(v, "token_ttl"), *mx = ag__yaml_get(v, "max_ttl");
    int ok = 1;
    if (ttl && ag__pl_get_duration(c, ttl, "token_ttl", &ti->token_ttl_ms)) {
        if (ti->token_ttl_ms <= 0) {
            PROBLEM(c, ttl, "'token_ttl' must be positive");
            ok = 0;
        }
    } else if (ttl) {
        ok = 0;
    }
    if (mx && !ag__pl_get_duration(c, mx, "max_ttl", &ti->max_ttl_ms))
        ok = 0;
    /* A default on one side may clash with a value on the other: name the value. */
    if (ok && ti->max_ttl_ms < ti->token_ttl_ms) {
        char a[32], b[32];
        ag__format_duration(ti->token_ttl_ms, a, sizeof a);
        ag__format_duration(ti->max_ttl_ms, b, sizeof b);
        PROBLEM(c, mx ? mx : ttl, "'max_ttl' (%s) is shorter than 'token_ttl' (%s)%s", b, a,
                mx ? "" : "; set max_ttl too");
    }
}

/* ---- rules ------------------------------------------------------------------------ */

static int load_globs(struct lctx *c, const struct ag__ynode *rule, const char *what, char sep,
                      struct ag__glob **out, const char ***srcs, size_t *nout)
{
    const struct ag__ynode *list = ag__yaml_get(rule, what);
    if (list == NULL) {
        PROBLEM(c, rule, "rule is missing '%s'", what);
        return 0;
    }
    if (!ag__pl_want(c, list, AG__Y_SEQ, what))
        return 0;
    if (list->n == 0) {
        PROBLEM(c, list, "'%s' is empty (a rule needs at least one glob)", what);
        return 0;
    }
    struct ag__glob *g = ag__arena_alloc(&c->p->arena, list->n * sizeof *g);
    const char **src_list = ag__arena_alloc(&c->p->arena, list->n * sizeof *src_list);
    if (g == NULL || src_list == NULL) {
        c->oom = 1;
        return 0;
    }
    int ok = 1;
    for (size_t i = 0; i < list->n; i++) {
        const struct ag__ynode *item = list->items[i];
        const char *why;
        size_t off;
        if (!ag__pl_want(c, item, AG__Y_SCALAR, what)) {
            ok = 0;
        } else if (ag__glob_check(item->text, &why, &off) != AG_OK) {
            PROBLEM(c, item, "bad %s glob '%s': %s at offset %zu",
                    sep == AG__SEP_ACTION ? "action" : "resource", item->text, why, off);
            ok = 0;
        } else {
            char *src = ag__pl_copy_text(c, item);
            if (src == NULL)
                return 0;
            ag__glob_compile(&g[i], src, sep);
            src_list[i] = src;
        }
    }
    *out = g;
    *srcs = src_list;
    *nout = list->n;
    return ok;
}

static int load_phases(struct lctx *c, const struct ag__ynode *list, struct ag__rule *r)
{
    if (!ag__pl_want(c, list, AG__Y_SEQ, "phases"))
        return 0;
    if (list->n == 0) {
        PROBLEM(c, list, "'phases' is empty (omit it to allow every phase)");
        return 0;
    }
    int ok = 1;
    r->has_phases = 1;
    r->phase_bits = 0;
    for (size_t i = 0; i < list->n; i++) {
        const struct ag__ynode *item = list->items[i];
        enum ag_phase ph;
        if (!ag__pl_want(c, item, AG__Y_SCALAR, "phases")) {
            ok = 0;
        } else if (ag_phase_parse(item->text, &ph) != AG_OK) {
            PROBLEM(c, item,
                    "unknown phase '%s' (expected BOOTSTRAP, PREFLIGHT, PLAN, EXECUTE, "
                    "VERIFY, PACKAGE, REPORT or EXIT)",
                    item->text);
            ok = 0;
        } else {
            r->phase_bits |= 1u << ph;
        }
    }
    return ok;
}

static int load_rule_tiers(struct lctx *c, const struct ag__ynode *rule, struct ag__rule *r)
{
    const struct ag__ynode *tiers = ag__yaml_get(rule, "tiers");
    const struct ag__ynode *min = ag__yaml_get(rule, "min_tier");
    int t;
    if (tiers && min) {
        PROBLEM(c, min, "rule has both 'tiers' and 'min_tier' (use one)");
        return 0;
    }
    if (min) {
        if (!get_tier(c, min, "min_tier", &t))
            return 0;
        for (; t <= AG_TIER_MAX; t++)
            r->tier_bits |= 1u << t;
        return 1;
    }
    if (tiers == NULL) {
        PROBLEM(c, rule, "rule is missing 'tiers' or 'min_tier'");
        return 0;
    }
    if (!ag__pl_want(c, tiers, AG__Y_SEQ, "tiers"))
        return 0;
    if (tiers->n == 0) {
        PROBLEM(c, tiers, "'tiers' is empty");
        return 0;
    }
    int ok = 1;
    for (size_t i = 0; i < tiers->n; i++) {
        if (get_tier(c, tiers->items[i], "tiers", &t))
            r->tier_bits |= 1u << t;
        else
            ok = 0;
    }
    return ok;
}

static int load_effect(struct lctx *c, const struct ag__ynode *rule, struct ag__rule *r)
{
    const struct ag__ynode *e = ag__yaml_get(rule, "effect");
    if (e == NULL) {
        PROBLEM(c, rule, "rule is missing 'effect'");
        return 0;
    }
    if (!ag__pl_want(c, e, AG__Y_SCALAR, "effect"))
        return 0;
    for (int i = 0; i <= AG_EFFECT_ASK; i++) {
        if (strcmp(e->text, ag_effect_name((enum ag_effect)i)) == 0) {
            r->effect = (enum ag_effect)i;
            return 1;
        }
    }
    PROBLEM(c, e, "bad effect '%s' (expected allow, deny or ask)", e->text);
    return 0;
}

/* One approver entry: "admin", "tier:N" (a token of tier N or above), "role:NAME" (a
 * token from that AppRole role) or "user:NAME" (a named identity: a token's agent id or
 * a Slack user mapped to it). Names are what ids may hold, so they never break a key. */
static int approver_ok(const char *s)
{
    if (strcmp(s, "admin") == 0)
        return 1;
    if (strncmp(s, "tier:", 5) == 0)
        return s[5] >= '0' && s[5] <= '0' + AG_TIER_MAX && s[6] == '\0';
    const char *name = strncmp(s, "role:", 5) == 0 || strncmp(s, "user:", 5) == 0 ? s + 5 : NULL;
    if (name == NULL || *name == '\0' || strlen(name) > 128)
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") ==
           strlen(name);
}

/* `approval: {timeout, approvers, required}` of an ask rule. */
static int load_approval(struct lctx *c, const struct ag__ynode *v, struct ag__rule *r)
{
    static const char *const keys[] = {"timeout", "approvers", "required", NULL};
    if (!ag__pl_want(c, v, AG__Y_MAP, "approval"))
        return 0;
    size_t before = c->nprobs;
    ag__pl_check_keys(c, v, keys, "'approval'");
    if (r->effect != AG_EFFECT_ASK)
        PROBLEM(c, v, "'approval' is only for rules with effect ask (this one is %s)",
                ag_effect_name(r->effect));
    r->has_approval = 1;
    r->approval_required = 1;
    const struct ag__ynode *n;
    if ((n = ag__yaml_get(v, "timeout")) &&
        ag__pl_get_duration(c, n, "approval.timeout", &r->approval_timeout_ms)) {
        /* A grant that outlives a day is a standing permission, not an approval. */
        if (r->approval_timeout_ms < 1000 || r->approval_timeout_ms > 7LL * 24 * 3600 * 1000)
            PROBLEM(c, n, "'approval.timeout' out of range: '%s' (expected 1s..7d)", n->text);
    }
    if ((n = ag__yaml_get(v, "approvers")) && ag__pl_want(c, n, AG__Y_SEQ, "approval.approvers")) {
        r->approvers = ag__arena_alloc(&c->p->arena, (n->n ? n->n : 1) * sizeof *r->approvers);
        if (r->approvers == NULL)
            c->oom = 1;
        for (size_t i = 0; r->approvers && i < n->n; i++) {
            const struct ag__ynode *it = n->items[i];
            if (!ag__pl_want(c, it, AG__Y_SCALAR, "approval.approvers"))
                continue;
            if (!approver_ok(it->text)) {
                PROBLEM(c, it, "bad approver '%s' (expected admin, tier:N, role:NAME or user:NAME)",
                        it->text);
                continue;
            }
            r->approvers[r->napprovers++] = ag__pl_copy_text(c, it);
        }
    }
    long long req;
    if ((n = ag__yaml_get(v, "required")) && get_int(c, n, "approval.required", 1, 5, &req))
        r->approval_required = (int)req;
    return c->nprobs == before;
}

/* Loads one rule; returns 1 when it is valid. Every problem is reported, not only the
 * first, so that lint shows them all. */
static int load_rule(struct lctx *c, const struct ag__ynode *n, struct ag__rule *r)
{
    static const char *const keys[] = {"id",     "description", "effect",   "actions",  "resources",
                                       "phases", "tiers",       "min_tier", "approval", NULL};
    if (!ag__pl_want(c, n, AG__Y_MAP, "rules"))
        return 0;
    ag__pl_check_keys(c, n, keys, "a rule");
    size_t before = c->nprobs;
    memset(r, 0, sizeof *r);
    r->line = n->line;
    r->col = n->col;
    r->phase_bits = AG__PHASE_ALL | AG__PHASE_NONE_BIT;
    int ok = load_effect(c, n, r);
    ok &= load_globs(c, n, "actions", AG__SEP_ACTION, &r->actions, &r->action_src, &r->nactions);
    ok &= load_globs(c, n, "resources", AG__SEP_RESOURCE, &r->resources, &r->resource_src,
                     &r->nresources);
    ok &= load_rule_tiers(c, n, r);
    const struct ag__ynode *v;
    if ((v = ag__yaml_get(n, "phases")))
        ok &= load_phases(c, v, r);
    if ((v = ag__yaml_get(n, "approval")))
        ok &= load_approval(c, v, r);
    if ((v = ag__yaml_get(n, "id")) && ag__pl_want(c, v, AG__Y_SCALAR, "id"))
        r->id = ag__pl_copy_text(c, v);
    if ((v = ag__yaml_get(n, "description")) && ag__pl_want(c, v, AG__Y_SCALAR, "description"))
        r->description = ag__pl_copy_text(c, v);
    return ok && c->nprobs == before;
}

struct id_ref {
    const char *id;
    const struct ag__ynode *node;
};

static int cmp_id_ref(const void *a, const void *b)
{
    const struct id_ref *x = a, *y = b;
    int d = strcmp(x->id, y->id);
    if (d == 0)
        d = x->node->line != y->node->line ? x->node->line - y->node->line
                                           : x->node->col - y->node->col;
    return d;
}

/* Rule ids name rules in the ledger, so two rules may not share one. */
static void check_rule_ids(struct lctx *c, const struct ag__ynode *list)
{
    struct id_ref *refs = malloc((list->n + 1) * sizeof *refs);
    size_t n = 0;
    if (refs == NULL) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct ag__ynode *id = ag__yaml_get(list->items[i], "id");
        if (id && id->type == AG__Y_SCALAR && !id->is_null)
            refs[n++] = (struct id_ref){id->text, id};
    }
    qsort(refs, n, sizeof *refs, cmp_id_ref);
    for (size_t i = 1; i < n; i++)
        if (strcmp(refs[i].id, refs[i - 1].id) == 0)
            PROBLEM(c, refs[i].node, "duplicate rule id '%s' (first at line %d, column %d)",
                    refs[i].id, refs[i - 1].node->line, refs[i - 1].node->col);
    free(refs);
}

static void load_rules(struct lctx *c, const struct ag__ynode *list)
{
    if (!ag__pl_want(c, list, AG__Y_SEQ, "rules"))
        return;
    if (list->n == 0)
        return;
    c->p->rules = ag__arena_alloc(&c->p->arena, list->n * sizeof *c->p->rules);
    if (c->p->rules == NULL) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < list->n; i++)
        if (load_rule(c, list->items[i], &c->p->rules[c->p->nrules]))
            c->p->nrules++;
    check_rule_ids(c, list);
}

/* ---- sandbox ---------------------------------------------------------------------- */

static void load_paths(struct lctx *c, const struct ag__ynode *list, const char *what,
                       const char *const **out, size_t *nout)
{
    if (!ag__pl_want(c, list, AG__Y_SEQ, what))
        return;
    const char **paths = ag__arena_alloc(&c->p->arena, (list->n + 1) * sizeof *paths);
    if (paths == NULL) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct ag__ynode *item = list->items[i];
        if (!ag__pl_want(c, item, AG__Y_SCALAR, what))
            return;
        if (item->text[0] != '/') {
            PROBLEM(c, item, "'%s' entry '%s' is not an absolute path", what, item->text);
            return;
        }
        paths[i] = ag__pl_copy_text(c, item);
    }
    *out = paths;
    *nout = list->n;
}

static void load_ports(struct lctx *c, const struct ag__ynode *list, const char *what,
                       const uint16_t **out, size_t *nout)
{
    if (!ag__pl_want(c, list, AG__Y_SEQ, what))
        return;
    uint16_t *ports = ag__arena_alloc(&c->p->arena, (list->n + 1) * sizeof *ports);
    if (ports == NULL) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        long long v;
        if (!get_int(c, list->items[i], what, 1, 65535, &v))
            return;
        ports[i] = (uint16_t)v;
    }
    *out = ports;
    *nout = list->n;
}

static void load_sandbox_tier(struct lctx *c, int t, const struct ag__ynode *v)
{
    static const char *const keys[] = {
        "workdir_write", "read_paths", "write_paths", "connect_ports", "bind_ports",
        "cpu_time",      "memory",     "procs",       "file_size",     NULL};
    if (!ag__pl_want(c, v, AG__Y_MAP, "sandbox"))
        return;
    ag__pl_check_keys(c, v, keys, "a sandbox profile");
    struct ag_sandbox_profile *s = &c->p->sandbox[t];
    const struct ag__ynode *n;
    int64_t ms;
    long long procs;
    if ((n = ag__yaml_get(v, "workdir_write")))
        (void)ag__pl_get_bool(c, n, "workdir_write", &s->workdir_write);
    if ((n = ag__yaml_get(v, "read_paths")))
        load_paths(c, n, "read_paths", &s->read_paths, &s->nread);
    if ((n = ag__yaml_get(v, "write_paths")))
        load_paths(c, n, "write_paths", &s->write_paths, &s->nwrite);
    if ((n = ag__yaml_get(v, "connect_ports")))
        load_ports(c, n, "connect_ports", &s->connect_ports, &s->nconnect);
    if ((n = ag__yaml_get(v, "bind_ports")))
        load_ports(c, n, "bind_ports", &s->bind_ports, &s->nbind);
    if ((n = ag__yaml_get(v, "cpu_time")) && ag__pl_get_duration(c, n, "cpu_time", &ms))
        s->cpu_seconds = (ms + 999) / 1000;
    if ((n = ag__yaml_get(v, "memory")))
        (void)get_size(c, n, "memory", &s->memory_bytes);
    if ((n = ag__yaml_get(v, "procs")) && get_int(c, n, "procs", 0, 1 << 22, &procs))
        s->max_procs = procs;
    if ((n = ag__yaml_get(v, "file_size")))
        (void)get_size(c, n, "file_size", &s->file_bytes);
}

/* ---- promotion -------------------------------------------------------------------- */

static void load_promotion(struct lctx *c, const struct ag__ynode *list)
{
    static const char *const keys[] = {"from", "to", "consecutive_compliant", "requires_approval",
                                       NULL};
    if (!ag__pl_want(c, list, AG__Y_SEQ, "promotion") || list->n == 0)
        return;
    struct ag_promotion_rule *pr = ag__arena_alloc(&c->p->arena, list->n * sizeof *pr);
    const struct ag__ynode *seen[AG_TIER_COUNT] = {0};
    if (pr == NULL) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct ag__ynode *n = list->items[i], *v;
        struct ag_promotion_rule r = {0};
        long long cc = 0;
        if (!ag__pl_want(c, n, AG__Y_MAP, "promotion"))
            continue;
        ag__pl_check_keys(c, n, keys, "a promotion rule");
        size_t before = c->nprobs;
        const struct ag__ynode *from = ag__yaml_get(n, "from"), *to = ag__yaml_get(n, "to");
        if (from == NULL || to == NULL) {
            PROBLEM(c, n, "promotion rule is missing '%s'", from ? "to" : "from");
            continue;
        }
        if (!get_tier(c, from, "from", &r.from) || !get_tier(c, to, "to", &r.to))
            continue;
        if (r.to <= r.from)
            PROBLEM(c, to, "promotion goes from tier %d to tier %d (must go up)", r.from, r.to);
        if (seen[r.from])
            PROBLEM(c, from, "duplicate promotion from tier %d (first at line %d, column %d)",
                    r.from, seen[r.from]->line, seen[r.from]->col);
        seen[r.from] = from;
        if ((v = ag__yaml_get(n, "consecutive_compliant")) &&
            get_int(c, v, "consecutive_compliant", 0, 1000000, &cc))
            r.consecutive_compliant = (int)cc;
        if ((v = ag__yaml_get(n, "requires_approval")))
            (void)ag__pl_get_bool(c, v, "requires_approval", &r.requires_approval);
        if (r.consecutive_compliant == 0 && !r.requires_approval && c->nprobs == before)
            PROBLEM(c, n,
                    "promotion from tier %d needs 'consecutive_compliant' > 0 or "
                    "'requires_approval: true'",
                    r.from);
        if (c->nprobs == before)
            pr[c->p->npromotions++] = r;
    }
    c->p->promotions = pr;
}

/* ---- top level -------------------------------------------------------------------- */

static void load_root(struct lctx *c, const struct ag__ynode *root)
{
    static const char *const keys[] = {"version",   "tiers", "rules", "sandbox",
                                       "promotion", "mcp",   NULL};
    if (root == NULL) {
        ag__pl_problem_at(c, 1, 1, "empty policy (expected a mapping with 'version' and 'rules')");
        return;
    }
    if (root->type != AG__Y_MAP) {
        PROBLEM(c, root, "wrong type for the policy: expected a mapping, got %s", type_name(root));
        return;
    }
    ag__pl_check_keys(c, root, keys, "the policy");
    const struct ag__ynode *n = ag__yaml_get(root, "version");
    long long version;
    if (n == NULL)
        PROBLEM(c, root, "policy is missing 'version' (use version: 1)");
    else if (ag__pl_want(c, n, AG__Y_SCALAR, "version") &&
             (!parse_ll(n->text, &version) || version != 1))
        PROBLEM(c, n, "unsupported version '%s' (this agentgov reads version 1)", n->text);
    else
        c->p->version = 1;
    if ((n = ag__yaml_get(root, "tiers")) && ag__pl_want(c, n, AG__Y_MAP, "tiers"))
        for_each_tier(c, n, "tiers", load_tier);
    if ((n = ag__yaml_get(root, "rules")))
        load_rules(c, n);
    if ((n = ag__yaml_get(root, "sandbox")) && ag__pl_want(c, n, AG__Y_MAP, "sandbox"))
        for_each_tier(c, n, "sandbox", load_sandbox_tier);
    if ((n = ag__yaml_get(root, "promotion")))
        load_promotion(c, n);
    if ((n = ag__yaml_get(root, "mcp")) && ag__pl_want(c, n, AG__Y_MAP, "mcp"))
        ag__pl_load_mcp(c, n);
}

static int cmp_problem(const void *a, const void *b)
{
    const struct problem *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the problems by position, hands them to cb and records the first one as the
 * thread's error detail. */
static ag_err report(struct lctx *c, ag_policy_diag_cb cb, void *ctx)
{
    ag_err err = AG_OK;
    if (c->oom)
        err = ag__fail(AG_ENOMEM, "%s: out of memory while loading the policy", c->name);
    else if (c->nprobs) {
        qsort(c->probs, c->nprobs, sizeof *c->probs, cmp_problem);
        for (size_t i = 0; cb && i < c->nprobs; i++)
            cb(ctx, c->probs[i].msg);
        err = ag__fail(AG_EPARSE, "%s", c->probs[0].msg);
    }
    for (size_t i = 0; i < c->nprobs; i++)
        free(c->probs[i].msg);
    free(c->probs);
    return err;
}

ag_err ag__policy_parse(const char *name, const char *yaml, size_t len, ag_policy_diag_cb cb,
                        void *ctx, ag_policy **out)
{
    if (out)
        *out = NULL;
    if (name == NULL || yaml == NULL)
        return ag__fail(AG_EINVAL, "policy name and text are required");
    ag_policy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ag__fail(AG_ENOMEM, "%s: out of memory", name);
    ag__arena_init(&p->arena);
    set_defaults(p);
    p->path = ag__arena_strndup(&p->arena, name, strlen(name));
    ag__sha256_hex(yaml, len, p->hash);

    struct ag__arena tree;
    ag__arena_init(&tree);
    struct ag__ynode *root = NULL;
    ag_err err = p->path ? ag__yaml_parse(&tree, name, yaml, len, &root) : AG_ENOMEM;
    if (err != AG_OK) {
        if (err == AG_ENOMEM)
            err = ag__fail(AG_ENOMEM, "%s: out of memory", name);
        else if (cb)
            cb(ctx, ag_last_error());
    } else {
        struct lctx c = {.name = name, .p = p};
        load_root(&c, root);
        err = report(&c, cb, ctx);
    }
    ag__arena_free(&tree);
    if (err == AG_OK && (err = ag__policy_build_index(p)) != AG_OK)
        err = ag__fail(err, "%s: out of memory while indexing the policy", name);
    if (err != AG_OK || out == NULL) {
        ag_policy_free(p);
        return err;
    }
    *out = p;
    return AG_OK;
}
