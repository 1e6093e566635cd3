/* Promotion engine: the seed's agent_metrics, computed from the ledger (the same rules
 * as the ledger's agent_metrics view, through the ledger interface so that another
 * ledger backend works unchanged), and tier changes by the policy's promotion rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "gov/gov.h"
#include "gov/promote.h"

void ag__metrics_fold(struct ag_agent_metrics *m, const char *row_json)
{
    json_t *o = json_loads(row_json, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *phase = json_string_value(json_object_get(o, "phase"));
    const char *ts = json_string_value(json_object_get(o, "ts"));
    json_t *tier = json_object_get(o, "tier");
    json_t *succ = json_object_get(o, "success");
    if (json_is_integer(tier))
        m->current_tier = (int)json_integer_value(tier);
    if (ts && strcmp(ts, m->last_active_at) > 0)
        snprintf(m->last_active_at, sizeof m->last_active_at, "%s", ts);
    if (kind && strcmp(kind, "lifecycle") == 0 && phase && strcmp(phase, "EXIT") == 0) {
        m->total_runs++;
        if (json_is_integer(succ) && json_integer_value(succ) == 1) {
            m->compliant_runs++;
            m->consecutive_compliant++;
        } else {
            m->consecutive_compliant = 0;
        }
    } else if (kind && (strcmp(kind, "revocation") == 0 || strcmp(kind, "promotion") == 0)) {
        m->consecutive_compliant = 0;
    }
    json_decref(o);
}

struct rows {
    struct {
        int64_t seq;
        char *json;
    } * v;
    size_t n, cap;
};

static int collect(void *ctx, int64_t seq, const char *row_json)
{
    struct rows *r = ctx;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        void *nv = realloc(r->v, nc * sizeof *r->v);
        if (!nv)
            return 1;
        r->v = nv;
        r->cap = nc;
    }
    r->v[r->n].seq = seq;
    r->v[r->n].json = strdup(row_json);
    if (!r->v[r->n].json)
        return 1;
    r->n++;
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

ag_err ag_gov_metrics(ag_gov *g, const char *agent_id, struct ag_agent_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->current_tier = -1;
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    /* Only the rows that move the metrics: decisions can be millions. */
    static const char *const kinds[] = {"lifecycle", "revocation", "promotion"};
    struct rows rows = {0};
    for (size_t k = 0; k < 3 && !e; k++) {
        struct ag_ledger_filter f = {.agent_id = agent_id, .kind = kinds[k]};
        e = ag_ledger_query(g->ledger, &f, collect, &rows);
    }
    if (!e) {
        qsort(rows.v, rows.n, sizeof *rows.v, by_seq);
        for (size_t i = 0; i < rows.n; i++)
            ag__metrics_fold(m, rows.v[i].json);
    }
    for (size_t i = 0; i < rows.n; i++)
        free(rows.v[i].json);
    free(rows.v);
    return e;
}

/* Records a tier change: the registry first (what the next bootstrap reads), then the
 * ledger (kind promotion, which restarts the streak). */
static ag_err change_tier(ag_gov *g, const char *agent_id, int from, int to, const char *why,
                          const char *approved_by, int64_t streak)
{
    ag_err e = ag__registry_set_tier(g, agent_id, to);
    if (e)
        return e;
    char data[200];
    snprintf(data, sizeof data, "{\"consecutive_compliant\":%lld,\"from_tier\":%d,\"to_tier\":%d}",
             (long long)streak, from, to);
    struct ag__lentry le;
    ag__lentry_init(&le, "promotion", agent_id);
    le.tier = to;
    le.action = to > from ? "agent.promote" : "agent.demote";
    le.decision = approved_by; /* the promotions view's approved_by */
    le.reason = why;
    le.success = 1;
    le.data = data;
    return ag__gov_ledger(g, &le, NULL);
}

ag_err ag_gov_promote(ag_gov *g, const char *agent_id, int approve, int *new_tier)
{
    int found = 0, tier = -1;
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e || (e = ag__registry_get(g, agent_id, &found, &tier, NULL)))
        return e;
    if (!found)
        return ag__fail(AG_ENOTFOUND, "agent '%s' is not registered", agent_id);
    if (new_tier)
        *new_tier = tier;
    const struct ag_promotion_rule *rules = NULL;
    size_t n = g->policy ? ag_policy_promotions(g->policy, &rules) : 0;
    const struct ag_promotion_rule *rule = NULL;
    for (size_t i = 0; i < n; i++)
        if (rules[i].from == tier)
            rule = &rules[i];
    if (!rule)
        return ag__fail(AG_ESTATE, "no promotion rule from tier %d in the policy", tier);
    struct ag_agent_metrics m;
    if ((e = ag_gov_metrics(g, agent_id, &m)))
        return e;
    if (m.consecutive_compliant < rule->consecutive_compliant)
        return ag__fail(AG_ESTATE, "T%d->T%d needs %d consecutive compliant runs; '%s' has %lld",
                        rule->from, rule->to, rule->consecutive_compliant, agent_id,
                        (long long)m.consecutive_compliant);
    if (rule->requires_approval && !approve)
        return ag__fail(AG_EPERM, "T%d->T%d requires a human approval (agent promote %s --approve)",
                        rule->from, rule->to, agent_id);
    if ((e = change_tier(g, agent_id, tier, rule->to,
                         rule->requires_approval ? "APPROVED" : "STREAK",
                         approve ? "operator" : "policy", m.consecutive_compliant)))
        return e;
    if (new_tier)
        *new_tier = rule->to;
    return AG_OK;
}

void ag__gov_auto_promote(ag_gov *g, const char *agent_id)
{
    /* Rules that need approval wait for `agent promote --approve`; the rest apply at
     * the end of the run that completes the streak. */
    int t;
    AG__IGNORE(ag_gov_promote(g, agent_id, 0, &t));
}

ag_err ag_gov_demote(ag_gov *g, const char *agent_id, const char *reason, int *new_tier)
{
    int found = 0, tier = -1;
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e || (e = ag__registry_get(g, agent_id, &found, &tier, NULL)))
        return e;
    if (!found)
        return ag__fail(AG_ENOTFOUND, "agent '%s' is not registered", agent_id);
    int to = tier > AG_TIER_MIN ? tier - 1 : AG_TIER_MIN;
    int by_revocation = reason && strcmp(reason, "REVOKED") == 0;
    if ((e = change_tier(g, agent_id, tier, to, reason && *reason ? reason : "DEMOTED",
                         by_revocation ? "revocation" : "operator", 0)))
        return e;
    if (new_tier)
        *new_tier = to;
    return AG_OK;
}
