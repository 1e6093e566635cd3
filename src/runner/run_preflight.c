/* PREFLIGHT checks of a governed run (see run_preflight.h). */
#include "runner/run_preflight.h"

#include <stdio.h>
#include <string.h>

void ag__run_probe_resource(const char *glob, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    const char *p = glob ? glob : "";
    while (*p && o + 1 < cap) {
        size_t n = strcspn(p, "/");
        int wild = strcspn(p, "*?[{") < n;
        const char *seg = wild ? "preflight" : p;
        size_t len = wild ? strlen("preflight") : n;
        if (o + len + 2 > cap)
            break;
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, seg, len);
        o += len;
        out[o] = '\0';
        p += n;
        if (*p == '/')
            p++;
    }
    if (o == 0)
        snprintf(out, cap, "preflight");
}

int ag__run_relpath_ok(const char *name)
{
    if (!name || !*name || name[0] == '/')
        return 0;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n;
        if (*p == '/' && *++p == '\0')
            return 0;
    }
    return 1;
}

/* 1 when the policy allows (or asks for) action on resource in some phase of a run. */
static int step_possible(const ag_policy *pol, int tier, const char *action, const char *res,
                         const char *const *forbidden, size_t nforbidden, enum ag_reason *why)
{
    struct ag_request rq = {.tier = tier,
                            .action = action,
                            .resource = res,
                            .forbidden = forbidden,
                            .nforbidden = nforbidden};
    *why = AG_REASON_DEFAULT_DENY;
    for (int ph = AG_PHASE_PREFLIGHT; ph <= AG_PHASE_REPORT; ph++) {
        struct ag_decision d;
        rq.phase = (enum ag_phase)ph;
        if (ag_decide(pol, &rq, &d) != AG_EFFECT_DENY)
            return 1;
        /* The most telling reason: a forbidden action beats a plain default deny. */
        if (d.reason == AG_REASON_FORBIDDEN_ACTION || *why == AG_REASON_DEFAULT_DENY)
            *why = d.reason;
    }
    return 0;
}

static int check_steps(const ag_policy *pol, const ag_packet *pk, int tier, char *problem,
                       size_t cap)
{
    size_t nsteps, nscope, nforb;
    const char *const *steps = ag_packet_list(pk, "constraints.required_steps", &nsteps);
    const char *const *scope = ag_packet_list(pk, "constraints.scope", &nscope);
    const char *const *forb = ag_packet_list(pk, "constraints.forbidden", &nforb);
    for (size_t i = 0; i < nsteps; i++) {
        int possible = 0;
        enum ag_reason why = AG_REASON_DEFAULT_DENY;
        char res[256];
        for (size_t s = 0; !possible && s < (nscope ? nscope : 1); s++) {
            ag__run_probe_resource(nscope ? scope[s] : "", res, sizeof res);
            possible = step_possible(pol, tier, steps[i], res, forb, nforb, &why);
        }
        if (!possible) {
            snprintf(problem, cap,
                     "constraints.required_steps[%zu]: '%s' is denied at tier %d in every "
                     "phase on %s (%s)",
                     i, steps[i], tier, nscope ? "the packet's scope" : "any resource",
                     ag_reason_name(why));
            return 0;
        }
    }
    return 1;
}

int ag__run_preflight(const ag_policy *pol, const ag_packet *pk, int tier, char *problem,
                      size_t cap)
{
    size_t n;
    const char *const *scope = ag_packet_list(pk, "constraints.scope", &n);
    for (size_t i = 0; i < n; i++)
        if (!scope[i] || !*scope[i]) {
            snprintf(problem, cap, "constraints.scope[%zu]: empty glob", i);
            return 0;
        }
    static const char *const lists[] = {"deliverables", "required_artifacts"};
    for (size_t l = 0; l < 2; l++) {
        const char *const *v = ag_packet_list(pk, lists[l], &n);
        for (size_t i = 0; i < n; i++)
            if (!ag__run_relpath_ok(v[i])) {
                snprintf(problem, cap,
                         "%s[%zu]: '%s' is not a path inside the workdir (relative, no . "
                         "or .. segments)",
                         lists[l], i, v[i] ? v[i] : "");
                return 0;
            }
    }
    return check_steps(pol, pk, tier, problem, cap);
}
