/* Public policy API: loading entry points, accessors, names and ag_decide, the hot path
 * (no I/O, no allocation: everything it reads was built by the loader). */
#include "agentgov/policy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "policy/glob.h"
#include "policy/index.h"
#include "policy/load.h"
#include "policy/policy_int.h"

/* A policy file is small text; anything bigger is a mistake, not a policy. */
#define AG_POLICY_MAX_BYTES (64u << 20)

static const char *const reason_names[] = {
#define AG__REASON_NAME(n, s) s,
    AG_REASON_MAP(AG__REASON_NAME)
#undef AG__REASON_NAME
};

static const char *const phase_names[] = {
#define AG__PHASE_NAME(n) #n,
    AG_PHASE_MAP(AG__PHASE_NAME)
#undef AG__PHASE_NAME
};

const char *ag_effect_name(enum ag_effect e)
{
    switch (e) {
    case AG_EFFECT_ALLOW:
        return "allow";
    case AG_EFFECT_ASK:
        return "ask";
    case AG_EFFECT_DENY:
        return "deny";
    }
    return "deny";
}

const char *ag_reason_name(enum ag_reason r)
{
    if ((int)r < 0 || r >= AG_REASON_COUNT)
        return "internal_error";
    return reason_names[r];
}

const char *ag_phase_name(enum ag_phase ph)
{
    if ((int)ph < 0 || ph >= AG_PHASE_COUNT)
        return "";
    return phase_names[ph];
}

ag_err ag_phase_parse(const char *s, enum ag_phase *out)
{
    for (int i = 0; s && i < AG_PHASE_COUNT; i++) {
        if (strcasecmp(s, phase_names[i]) == 0) {
            *out = (enum ag_phase)i;
            return AG_OK;
        }
    }
    return ag__fail(AG_EINVAL, "unknown phase '%s'", s ? s : "(null)");
}

ag_err ag_policy_load_string(const char *name, const char *yaml, size_t len, ag_policy **out)
{
    if (out == NULL)
        return ag__fail(AG_EINVAL, "ag_policy_load_string: no place for the policy");
    return ag__policy_parse(name, yaml, len, NULL, NULL, out);
}

static ag_err read_policy(const char *path, char **data, size_t *len)
{
    if (path == NULL)
        return ag__fail(AG_EINVAL, "no policy path given");
    ag_err err = ag__read_file(path, AG_POLICY_MAX_BYTES, data, len);
    if (err != AG_OK)
        return ag__fail(err, "%s: cannot read the policy file", path);
    return AG_OK;
}

ag_err ag_policy_load(const char *path, ag_policy **out)
{
    char *data;
    size_t len;
    if (out == NULL)
        return ag__fail(AG_EINVAL, "ag_policy_load: no place for the policy");
    *out = NULL;
    ag_err err = read_policy(path, &data, &len);
    if (err != AG_OK)
        return err;
    err = ag__policy_parse(path, data, len, NULL, NULL, out);
    free(data);
    return err;
}

ag_err ag_policy_lint(const char *path, ag_policy_diag_cb cb, void *ctx)
{
    char *data;
    size_t len;
    ag_err err = read_policy(path, &data, &len);
    if (err != AG_OK) {
        if (cb)
            cb(ctx, ag_last_error());
        return err;
    }
    err = ag__policy_parse(path, data, len, cb, ctx, NULL);
    free(data);
    return err;
}

void ag_policy_free(ag_policy *p)
{
    if (p == NULL)
        return;
    ag__arena_free(&p->arena);
    free(p);
}

ag_err ag_policy_tier(const ag_policy *p, int tier, struct ag_tier_info *out)
{
    if (p == NULL)
        return ag__fail(AG_EINVAL, "no policy loaded");
    if (tier < AG_TIER_MIN || tier > AG_TIER_MAX)
        return ag__fail(AG_EINVAL, "tier %d out of range (%d..%d)", tier, AG_TIER_MIN, AG_TIER_MAX);
    *out = p->tiers[tier];
    return AG_OK;
}

const struct ag_sandbox_profile *ag_policy_sandbox(const ag_policy *p, int tier)
{
    if (p == NULL || tier < AG_TIER_MIN || tier > AG_TIER_MAX)
        return NULL;
    return &p->sandbox[tier];
}

size_t ag_policy_promotions(const ag_policy *p, const struct ag_promotion_rule **rules)
{
    if (p == NULL) {
        if (rules)
            *rules = NULL;
        return 0;
    }
    if (rules)
        *rules = p->promotions;
    return p->npromotions;
}

const char *ag_policy_path(const ag_policy *p)
{
    return p ? p->path : NULL;
}

size_t ag_policy_rule_count(const ag_policy *p)
{
    return p ? p->nrules : 0;
}

ag_err ag_policy_rule(const ag_policy *p, size_t i, struct ag_rule_info *out)
{
    if (p == NULL || i >= p->nrules)
        return ag__fail(AG_EINVAL, "no rule %zu in the policy", i);
    const struct ag__rule *r = &p->rules[i];
    out->effect = r->effect;
    out->id = r->id;
    out->description = r->description;
    out->file = p->path;
    out->line = r->line;
    out->actions = r->action_src;
    out->nactions = r->nactions;
    out->resources = r->resource_src;
    out->nresources = r->nresources;
    out->tiers = r->tier_bits;
    out->phases = r->phase_bits & AG__PHASE_ALL;
    out->has_phases = r->has_phases;
    out->has_approval = r->has_approval;
    out->approval_timeout_ms = r->approval_timeout_ms;
    out->approval_required = r->has_approval ? r->approval_required : 1;
    out->approvers = r->approvers;
    out->napprovers = r->napprovers;
    return AG_OK;
}

ag_err ag_policy_rule_at(const ag_policy *p, const char *file, int line, struct ag_rule_info *out)
{
    if (p && file && strcmp(file, p->path) == 0)
        for (size_t i = 0; i < p->nrules; i++)
            if (p->rules[i].line == line)
                return ag_policy_rule(p, i, out);
    return ag__fail(AG_ENOTFOUND, "no rule at %s:%d in the policy", file ? file : "", line);
}

const char *ag_policy_hash(const ag_policy *p)
{
    return p ? p->hash : "";
}

/* ---- decide ----------------------------------------------------------------------- */

static enum ag_effect finish(struct ag_decision *out, enum ag_effect effect, enum ag_reason reason,
                             const ag_policy *p, const struct ag__rule *rule)
{
    out->effect = effect;
    out->reason = reason;
    out->rule_file = rule ? p->path : NULL;
    out->rule_line = rule ? rule->line : 0;
    return effect;
}

/* Packet globs arrive with each request and were not checked by a loader: a malformed
 * one makes the whole request invalid (fail closed) rather than silently not matching. */
static int globs_valid(const char *const *globs, size_t n)
{
    if (n > 0 && globs == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *why;
        size_t off;
        if (globs[i] == NULL || ag__glob_check(globs[i], &why, &off) != AG_OK)
            return 0;
    }
    return 1;
}

static int request_valid(const struct ag_request *req)
{
    return req->action && req->action[0] && req->resource && req->resource[0] &&
           req->tier >= AG_TIER_MIN && req->tier <= AG_TIER_MAX && req->phase >= AG_PHASE_NONE &&
           req->phase < AG_PHASE_COUNT && globs_valid(req->scope, req->nscope) &&
           globs_valid(req->forbidden, req->nforbidden);
}

static int any_match(const char *const *globs, size_t n, const char *text, char sep)
{
    for (size_t i = 0; i < n; i++)
        if (ag__glob_match_str(globs[i], text, sep))
            return 1;
    return 0;
}

/* The request's strings with their lengths, measured once per decision. */
struct subject {
    const char *action, *resource;
    size_t alen, rlen;
};

/* Text that is not UTF-8 cannot be recorded (the ledger holds JSON) and no policy glob
 * (YAML text) was written for it. ASCII, the usual case, is recognised eight bytes at a
 * time without decoding: this runs on every decision. */
static int utf8_ok(const char *s, size_t n)
{
    uint64_t acc = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= (unsigned char)s[i];
    return (acc & 0x8080808080808080ull) == 0 || ag__utf8_valid(s, n);
}

/* Whoever uses a resource as a path resolves `.` and `..` (`sandbox/../prod/db` is
 * `prod/db`), but globs match it as text: a scope or allow rule for everything under
 * sandbox would take it, a deny rule for everything under prod would miss it. Resources
 * are not normalised (they may be URLs or command lines), so such a resource is refused,
 * fail closed. Empty segments stay legal: a glob that takes `a/b` as a prefix ("a/" then
 * "**") also takes `a//b`, and URLs (`https://...`) and the hook's root `/` need them
 * (docs/policy.md). */
static int segments_ok(const char *r, size_t n)
{
    /* Only a dot that starts a segment can start "." or ".."; r[n] is the NUL. */
    for (const char *d = memchr(r, '.', n); d; d = memchr(d + 1, '.', (size_t)(r + n - d - 1))) {
        if (d > r && d[-1] != '/')
            continue;
        size_t k = d[1] == '.' ? 2 : 1;
        if (d + k == r + n || d[k] == '/')
            return 0;
    }
    return 1;
}

static int subject_valid(const struct subject *s, int text_resource)
{
    return utf8_ok(s->action, s->alen) && utf8_ok(s->resource, s->rlen) &&
           (text_resource || segments_ok(s->resource, s->rlen));
}

int ag_request_forbidden(const struct ag_request *req)
{
    return req && req->action && globs_valid(req->forbidden, req->nforbidden) &&
           any_match(req->forbidden, req->nforbidden, req->action, AG__SEP_ACTION);
}

/* What the scan of the candidate rules found: the first rule (in file order) of each
 * effect that matched in this phase, and the first allow/ask rule that matched except
 * for its phases. */
struct verdict {
    const struct ag__rule *best[3];
    const struct ag__rule *phase_blocked;
};

/* 1 when matching rule r could still change the decision or its deciding rule; the
 * scan skips the glob matching otherwise. Deny beats ask beats allow, an earlier rule
 * of the same effect is the one reported, and a phase-blocked rule matters only while
 * nothing else matched. */
static int could_matter(const struct verdict *v, const struct ag__rule *r, int phase_ok)
{
    const struct ag__rule *deny = v->best[AG_EFFECT_DENY];
    if (!phase_ok)
        return r->effect != AG_EFFECT_DENY && !deny && !v->best[AG_EFFECT_ASK] &&
               !v->best[AG_EFFECT_ALLOW] && (!v->phase_blocked || r < v->phase_blocked);
    if (deny)
        return r->effect == AG_EFFECT_DENY && r < deny;
    if (r->effect == AG_EFFECT_ALLOW && v->best[AG_EFFECT_ASK])
        return 0;
    return !v->best[r->effect] || r < v->best[r->effect];
}

static void scan(const struct ag__entry *e, uint32_t n, const struct subject *s, uint32_t phase_bit,
                 struct verdict *v)
{
    for (const struct ag__entry *end = e + n; e < end; e++) {
        const struct ag__rule *r = e->rule;
        int phase_ok = (r->phase_bits & phase_bit) != 0;
        if (!could_matter(v, r, phase_ok) || !ag__glob_match(e->action, s->action, s->alen))
            continue;
        size_t i = 0;
        while (i < r->nresources && !ag__glob_match(&r->resources[i], s->resource, s->rlen))
            i++;
        if (i == r->nresources)
            continue;
        if (phase_ok)
            v->best[r->effect] = r;
        else
            v->phase_blocked = r;
    }
}

enum ag_effect ag_decide(const ag_policy *p, const struct ag_request *req, struct ag_decision *out)
{
    struct ag_decision scratch;
    if (out == NULL) /* the caller only wants the effect */
        out = &scratch;
    out->tier = req ? req->tier : -1;
    out->phase = req ? req->phase : AG_PHASE_NONE;
    if (p == NULL)
        return finish(out, AG_EFFECT_DENY, AG_REASON_NO_POLICY, p, NULL);
    if (req == NULL || !request_valid(req))
        return finish(out, AG_EFFECT_DENY, AG_REASON_INVALID_REQUEST, p, NULL);
    struct subject s = {req->action, req->resource, strlen(req->action), strlen(req->resource)};
    if (!subject_valid(&s, req->text_resource))
        return finish(out, AG_EFFECT_DENY, AG_REASON_INVALID_REQUEST, p, NULL);
    if (any_match(req->forbidden, req->nforbidden, req->action, AG__SEP_ACTION))
        return finish(out, AG_EFFECT_DENY, AG_REASON_FORBIDDEN_ACTION, p, NULL);
    if (req->nscope > 0 && !any_match(req->scope, req->nscope, req->resource, AG__SEP_RESOURCE))
        return finish(out, AG_EFFECT_DENY, AG_REASON_OUT_OF_SCOPE, p, NULL);

    const struct ag__tier_index *ix = &p->index[req->tier];
    uint32_t phase_bit = req->phase == AG_PHASE_NONE ? AG__PHASE_NONE_BIT : 1u << req->phase;
    struct verdict v = {{NULL, NULL, NULL}, NULL};
    const char *dot = memchr(s.action, '.', s.alen);
    size_t seglen = dot ? (size_t)(dot - s.action) : s.alen;
    const struct ag__slot *slot =
        ag__policy_lookup(&ix->head, s.action, seglen, ag__policy_hash(s.action, seglen));
    if (slot)
        scan(ix->entries + slot->first, slot->count, &s, phase_bit, &v);
    /* Globs keyed by their last segment can only match an action with two or more. */
    const char *last = dot ? strrchr(s.action, '.') + 1 : NULL;
    if (last && ix->tail.slots) {
        size_t lastlen = s.alen - (size_t)(last - s.action);
        slot = ag__policy_lookup(&ix->tail, last, lastlen, ag__policy_hash(last, lastlen));
        if (slot)
            scan(ix->entries + slot->first, slot->count, &s, phase_bit, &v);
    }
    if (ix->wild_count) /* a tier without rules has no entries array (NULL + 0 is UB) */
        scan(ix->entries + ix->wild_first, ix->wild_count, &s, phase_bit, &v);

    if (v.best[AG_EFFECT_DENY])
        return finish(out, AG_EFFECT_DENY, AG_REASON_RULE_DENY, p, v.best[AG_EFFECT_DENY]);
    if (v.best[AG_EFFECT_ASK])
        return finish(out, AG_EFFECT_ASK, AG_REASON_RULE_ASK, p, v.best[AG_EFFECT_ASK]);
    if (v.best[AG_EFFECT_ALLOW])
        return finish(out, AG_EFFECT_ALLOW, AG_REASON_RULE_ALLOW, p, v.best[AG_EFFECT_ALLOW]);
    if (v.phase_blocked)
        return finish(out, AG_EFFECT_DENY, AG_REASON_PHASE_NOT_ALLOWED, p, v.phase_blocked);
    return finish(out, AG_EFFECT_DENY, AG_REASON_DEFAULT_DENY, p, NULL);
}

const struct ag_policy_mcp *ag_policy_mcp(const ag_policy *p)
{
    return p ? &p->mcp : NULL;
}

const struct ag_mcp_server_conf *ag_policy_mcp_server(const ag_policy *p, const char *name)
{
    for (size_t i = 0; p && name && i < p->mcp.nservers; i++)
        if (strcmp(p->mcp.servers[i].name, name) == 0)
            return &p->mcp.servers[i];
    return NULL;
}

const struct ag_mcp_tool_conf *ag_policy_mcp_tool(const ag_policy *p, const char *tool)
{
    if (p == NULL || tool == NULL)
        return NULL;
    for (size_t i = 0; i < p->mcp.ntools; i++)
        if (strcmp(p->mcp.tools[i].tool, tool) == 0)
            return &p->mcp.tools[i];
    return NULL;
}
