/* Property test: 100,000 random (policy, request) pairs decided by ag_decide and by a
 * straightforward reference model written here (a recursive glob matcher over tokens
 * and a linear scan of the rules), plus invariance under rule shuffling and
 * duplication. The seed is fixed; AGENTGOV_SEED=N tries another one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "test.h"

#define NPOLICIES 2000
#define NREQUESTS 50
#define MAX_RULES 10
#define MAX_GLOBS 3

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* ---- reference glob matcher ------------------------------------------------------- */

enum { T_LIT, T_ONE, T_CLASS, T_STAR, T_DSTAR };

struct tok {
    int kind;
    unsigned char c;
    unsigned char set[256]; /* T_CLASS: 1 for members, after negation */
};

static int tokenize(const char *p, struct tok *t, int max)
{
    int n = 0;
    while (*p && n < max) {
        struct tok *k = &t[n++];
        memset(k, 0, sizeof *k);
        if (p[0] == '*') {
            k->kind = p[1] == '*' ? T_DSTAR : T_STAR;
            while (*p == '*')
                p++;
        } else if (p[0] == '?') {
            k->kind = T_ONE;
            p++;
        } else if (p[0] == '\\') {
            k->kind = T_LIT;
            k->c = (unsigned char)p[1];
            p += 2;
        } else if (p[0] == '[') {
            int neg = 0;
            k->kind = T_CLASS;
            p++;
            if (*p == '!' || *p == '^') {
                neg = 1;
                p++;
            }
            unsigned char in[256] = {0};
            while (*p != ']') {
                if (*p == '\\')
                    p++;
                unsigned char lo = (unsigned char)*p++, hi = lo;
                if (*p == '-' && p[1] != ']') {
                    p++;
                    if (*p == '\\')
                        p++;
                    hi = (unsigned char)*p++;
                }
                for (int c = lo; c <= hi; c++)
                    in[c] = 1;
            }
            p++;
            for (int c = 0; c < 256; c++)
                k->set[c] = in[c] != neg;
        } else {
            k->kind = T_LIT;
            k->c = (unsigned char)*p++;
        }
    }
    return n;
}

static int ref_rec(const struct tok *t, int nt, int i, const char *s, int j, char sep)
{
    if (i == nt)
        return s[j] == '\0';
    const struct tok *k = &t[i];
    switch (k->kind) {
    case T_STAR:
    case T_DSTAR:
        for (int m = j;; m++) {
            if (ref_rec(t, nt, i + 1, s, m, sep))
                return 1;
            if (s[m] == '\0' || (k->kind == T_STAR && s[m] == sep))
                return 0;
        }
    case T_ONE:
        return s[j] && s[j] != sep && ref_rec(t, nt, i + 1, s, j + 1, sep);
    case T_CLASS:
        return s[j] && s[j] != sep && k->set[(unsigned char)s[j]] &&
               ref_rec(t, nt, i + 1, s, j + 1, sep);
    default:
        return s[j] == (char)k->c && ref_rec(t, nt, i + 1, s, j + 1, sep);
    }
}

static int ref_match(const char *pat, const char *s, char sep)
{
    struct tok t[64];
    int n = tokenize(pat, t, 64);
    return ref_rec(t, n, 0, s, 0, sep);
}

/* ---- random policies and requests ------------------------------------------------- */

struct rrule {
    int effect; /* enum ag_effect */
    char act[MAX_GLOBS][48];
    int nact;
    char res[MAX_GLOBS][48];
    int nres;
    unsigned tiers;  /* bit per tier */
    int min_tier;    /* >= 0: written as min_tier */
    unsigned phases; /* 0: no `phases:` */
};

static void rand_glob(char *out, size_t len, char sep, const char *const *lits, int nlits)
{
    static const char *const shapes[] = {"*",  "**", "?",   "[ab]", "[!a]", "[x-y]",
                                         "a*", "*b", "\\a", "x?",   "*",    "**"};
    int nseg = 1 + (int)rnd(2);
    out[0] = '\0';
    if (rnd(10) == 0) {
        snprintf(out, len, "**");
        return;
    }
    for (int i = 0; i < nseg; i++) {
        char seg[16];
        if (rnd(2))
            snprintf(seg, sizeof seg, "%s", lits[rnd((uint32_t)nlits)]);
        else
            snprintf(seg, sizeof seg, "%s", shapes[rnd(sizeof shapes / sizeof shapes[0])]);
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", i ? (char[]){sep, 0} : "", seg);
    }
}

static const char *const ACT_LITS[] = {"a", "b", "ab"};
static const char *const RES_LITS[] = {"x", "y", "xy"};

static void rand_text(char *out, size_t len, char sep, const char *const *lits)
{
    int nseg = 1 + (int)rnd(2) + (rnd(4) == 0);
    out[0] = '\0';
    for (int i = 0; i < nseg; i++) {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", i ? (char[]){sep, 0} : "", lits[rnd(3)]);
    }
}

static void rand_rule(struct rrule *r)
{
    memset(r, 0, sizeof *r);
    r->effect = (int)rnd(3);
    r->nact = 1 + (int)rnd(2);
    r->nres = 1 + (int)rnd(2);
    for (int i = 0; i < r->nact; i++)
        rand_glob(r->act[i], sizeof r->act[i], '.', ACT_LITS, 3);
    for (int i = 0; i < r->nres; i++)
        rand_glob(r->res[i], sizeof r->res[i], '/', RES_LITS, 3);
    r->min_tier = -1;
    if (rnd(2)) {
        r->min_tier = (int)rnd(5);
        r->tiers = (0x1fu << r->min_tier) & 0x1fu;
    } else {
        while (r->tiers == 0)
            r->tiers = rnd(32);
    }
    if (rnd(2))
        while (r->phases == 0)
            r->phases = rnd(256);
}

static void emit_list(char *buf, size_t len, const char (*g)[48], int n)
{
    size_t o = strlen(buf);
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s'%s'", i ? ", " : "", g[i]);
    snprintf(buf + o, len - o, "]");
}

/* One rule per line, so rule i of the emitted order sits on line 3 + i. */
static void emit_policy(char *buf, size_t len, const struct rrule *rules, const int *order, int n)
{
    static const char *const effects[] = {"allow", "deny", "ask"};
    snprintf(buf, len, "version: 1\nrules:\n");
    if (n == 0)
        snprintf(buf + strlen(buf), len - strlen(buf), "  []\n");
    for (int k = 0; k < n; k++) {
        const struct rrule *r = &rules[order[k]];
        size_t o = strlen(buf);
        snprintf(buf + o, len - o, "  - {effect: %s, actions: ", effects[r->effect]);
        emit_list(buf, len, r->act, r->nact);
        o = strlen(buf);
        snprintf(buf + o, len - o, ", resources: ");
        emit_list(buf, len, r->res, r->nres);
        o = strlen(buf);
        if (r->min_tier >= 0) {
            o += (size_t)snprintf(buf + o, len - o, ", min_tier: %d", r->min_tier);
        } else {
            o += (size_t)snprintf(buf + o, len - o, ", tiers: [");
            for (int t = 0, first = 1; t < 5; t++)
                if (r->tiers & (1u << t)) {
                    o += (size_t)snprintf(buf + o, len - o, "%s%d", first ? "" : ", ", t);
                    first = 0;
                }
            o += (size_t)snprintf(buf + o, len - o, "]");
        }
        if (r->phases) {
            o += (size_t)snprintf(buf + o, len - o, ", phases: [");
            for (int ph = 0, first = 1; ph < 8; ph++)
                if (r->phases & (1u << ph)) {
                    o += (size_t)snprintf(buf + o, len - o, "%s%s", first ? "" : ", ",
                                          ag_phase_name((enum ag_phase)ph));
                    first = 0;
                }
            o += (size_t)snprintf(buf + o, len - o, "]");
        }
        snprintf(buf + o, len - o, "}\n");
    }
}

struct rreq {
    int tier, phase;
    char action[48], resource[48];
    char scope[2][48], forbidden[2][48];
    int nscope, nforbidden;
};

static void rand_req(struct rreq *q)
{
    memset(q, 0, sizeof *q);
    q->tier = (int)rnd(5);
    q->phase = (int)rnd(9) - 1;
    rand_text(q->action, sizeof q->action, '.', ACT_LITS);
    rand_text(q->resource, sizeof q->resource, '/', RES_LITS);
    if (rnd(4) == 0) {
        q->nscope = 1 + (int)rnd(2);
        for (int i = 0; i < q->nscope; i++)
            rand_glob(q->scope[i], sizeof q->scope[i], '/', RES_LITS, 3);
    }
    if (rnd(4) == 0) {
        q->nforbidden = 1 + (int)rnd(2);
        for (int i = 0; i < q->nforbidden; i++)
            rand_glob(q->forbidden[i], sizeof q->forbidden[i], '.', ACT_LITS, 3);
    }
}

/* ---- the reference model ---------------------------------------------------------- */

struct ref_decision {
    int effect, reason, line;
};

static struct ref_decision ref_decide(const struct rrule *rules, const int *order, int n,
                                      const struct rreq *q)
{
    struct ref_decision d = {AG_EFFECT_DENY, AG_REASON_DEFAULT_DENY, 0};
    for (int i = 0; i < q->nforbidden; i++)
        if (ref_match(q->forbidden[i], q->action, '.'))
            return (struct ref_decision){AG_EFFECT_DENY, AG_REASON_FORBIDDEN_ACTION, 0};
    int in_scope = q->nscope == 0;
    for (int i = 0; i < q->nscope; i++)
        in_scope |= ref_match(q->scope[i], q->resource, '/');
    if (!in_scope)
        return (struct ref_decision){AG_EFFECT_DENY, AG_REASON_OUT_OF_SCOPE, 0};
    int first[3] = {0, 0, 0}, blocked = 0;
    for (int k = 0; k < n; k++) {
        const struct rrule *r = &rules[order[k]];
        int line = 3 + k, act = 0, res = 0;
        if (!(r->tiers & (1u << q->tier)))
            continue;
        for (int i = 0; i < r->nact; i++)
            act |= ref_match(r->act[i], q->action, '.');
        for (int i = 0; i < r->nres; i++)
            res |= ref_match(r->res[i], q->resource, '/');
        if (!act || !res)
            continue;
        int phase_ok =
            q->phase < 0 ? r->phases == 0 : (r->phases == 0 || (r->phases & (1u << q->phase)));
        if (phase_ok) {
            if (!first[r->effect])
                first[r->effect] = line;
        } else if (r->effect != AG_EFFECT_DENY && !blocked) {
            blocked = line;
        }
    }
    if (first[AG_EFFECT_DENY])
        return (struct ref_decision){AG_EFFECT_DENY, AG_REASON_RULE_DENY, first[AG_EFFECT_DENY]};
    if (first[AG_EFFECT_ASK])
        return (struct ref_decision){AG_EFFECT_ASK, AG_REASON_RULE_ASK, first[AG_EFFECT_ASK]};
    if (first[AG_EFFECT_ALLOW])
        return (struct ref_decision){AG_EFFECT_ALLOW, AG_REASON_RULE_ALLOW, first[AG_EFFECT_ALLOW]};
    if (blocked)
        return (struct ref_decision){AG_EFFECT_DENY, AG_REASON_PHASE_NOT_ALLOWED, blocked};
    return d;
}

static void real_decide(const ag_policy *p, const struct rreq *q, struct ag_decision *d)
{
    const char *scope[2] = {q->scope[0], q->scope[1]};
    const char *forbidden[2] = {q->forbidden[0], q->forbidden[1]};
    struct ag_request r = {.tier = q->tier,
                           .phase = (enum ag_phase)q->phase,
                           .action = q->action,
                           .resource = q->resource,
                           .scope = q->nscope ? scope : NULL,
                           .nscope = (size_t)q->nscope,
                           .forbidden = q->nforbidden ? forbidden : NULL,
                           .nforbidden = (size_t)q->nforbidden};
    ag_decide(p, &r, d);
}

static ag_policy *load_text(const char *yaml)
{
    ag_policy *p = NULL;
    if (ag_policy_load_string("prop.yaml", yaml, strlen(yaml), &p) != AG_OK)
        ag_test_fail(__FILE__, __LINE__, "generated policy rejected: %s\n%s", ag_last_error(),
                     yaml);
    return p;
}

static void seed(void)
{
    const char *s = getenv("AGENTGOV_SEED");
    rng_state = s ? strtoull(s, NULL, 10) : 0x9e3779b97f4a7c15ull;
    if (rng_state == 0)
        rng_state = 1;
}

TEST(prop_decide_matches_reference_model)
{
    static char yaml[16384];
    struct rrule rules[MAX_RULES];
    int order[MAX_RULES];
    long pairs = 0, reasons[AG_REASON_COUNT] = {0};
    seed();
    for (int pi = 0; pi < NPOLICIES; pi++) {
        int n = (int)rnd(MAX_RULES + 1);
        for (int i = 0; i < n; i++) {
            rand_rule(&rules[i]);
            order[i] = i;
        }
        emit_policy(yaml, sizeof yaml, rules, order, n);
        ag_policy *p = load_text(yaml);
        for (int k = 0; k < NREQUESTS; k++) {
            struct rreq q;
            rand_req(&q);
            struct ag_decision d;
            real_decide(p, &q, &d);
            struct ref_decision want = ref_decide(rules, order, n, &q);
            if ((int)d.effect != want.effect || (int)d.reason != want.reason ||
                d.rule_line != want.line)
                ag_test_fail(__FILE__, __LINE__,
                             "T%d %s %s %s: got %s/%s line %d, want %s/%s line %d\n%s", q.tier,
                             ag_phase_name((enum ag_phase)q.phase), q.action, q.resource,
                             ag_effect_name(d.effect), ag_reason_name(d.reason), d.rule_line,
                             ag_effect_name((enum ag_effect)want.effect),
                             ag_reason_name((enum ag_reason)want.reason), want.line, yaml);
            pairs++;
            reasons[d.reason]++;
        }
        ag_policy_free(p);
    }
    printf("    %ld pairs:", pairs);
    for (int r = 0; r <= AG_REASON_INVALID_REQUEST; r++)
        printf(" %s %ld", ag_reason_name((enum ag_reason)r), reasons[r]);
    printf("\n");
    ASSERT_EQ(pairs, (long)NPOLICIES * NREQUESTS);
    /* The generator must exercise every outcome, or the comparison proves little. */
    for (int r = 0; r <= AG_REASON_RULE_ALLOW; r++)
        if (reasons[r] < pairs / 50)
            ag_test_fail(__FILE__, __LINE__, "only %ld decisions with reason %s", reasons[r],
                         ag_reason_name((enum ag_reason)r));
}

TEST(prop_shuffling_and_duplication_do_not_change_decisions)
{
    static char yaml[16384], yaml2[32768];
    struct rrule rules[MAX_RULES];
    int order[MAX_RULES], shuffled[2 * MAX_RULES];
    seed();
    for (int pi = 0; pi < NPOLICIES / 4; pi++) {
        int n = 1 + (int)rnd(MAX_RULES);
        for (int i = 0; i < n; i++) {
            rand_rule(&rules[i]);
            order[i] = i;
        }
        /* Every rule once or twice, in a random order. */
        int m = 0;
        for (int i = 0; i < n; i++) {
            shuffled[m++] = i;
            if (rnd(2))
                shuffled[m++] = i;
        }
        for (int i = m - 1; i > 0; i--) {
            int j = (int)rnd((uint32_t)i + 1), t = shuffled[i];
            shuffled[i] = shuffled[j];
            shuffled[j] = t;
        }
        emit_policy(yaml, sizeof yaml, rules, order, n);
        emit_policy(yaml2, sizeof yaml2, rules, shuffled, m);
        ag_policy *p = load_text(yaml), *q = load_text(yaml2);
        for (int k = 0; k < NREQUESTS; k++) {
            struct rreq rq;
            rand_req(&rq);
            struct ag_decision a, b;
            real_decide(p, &rq, &a);
            real_decide(q, &rq, &b);
            if (a.effect != b.effect || a.reason != b.reason)
                ag_test_fail(__FILE__, __LINE__, "%s %s: %s/%s vs %s/%s\n%s\n---\n%s", rq.action,
                             rq.resource, ag_effect_name(a.effect), ag_reason_name(a.reason),
                             ag_effect_name(b.effect), ag_reason_name(b.reason), yaml, yaml2);
        }
        ag_policy_free(p);
        ag_policy_free(q);
    }
}
