#include "server/metrics.h"

#include <string.h>

#include "core/time.h"

static const int status_codes[] = {
#define AG__METRICS_STATUS_VALUE(c) c,
    AG_METRICS_STATUS_MAP(AG__METRICS_STATUS_VALUE)
#undef AG__METRICS_STATUS_VALUE
};

/* Bucket bounds in ns, chosen around a group commit of a few milliseconds. */
static const int64_t bucket_ns[AG_METRICS_NBUCKETS - 1] = {
    100000,   250000,   500000,   1000000,   2500000,   5000000,
    10000000, 25000000, 50000000, 100000000, 250000000, 1000000000};
static const char *const bucket_label[AG_METRICS_NBUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025",  "0.05",    "0.1",    "0.25",  "1",      "+Inf"};

void ag__metrics_init(struct ag__metrics *m, const char *const *route_names, size_t n)
{
    memset(m, 0, sizeof *m);
    if (n > AG_METRICS_MAX_ROUTES)
        n = AG_METRICS_MAX_ROUTES;
    m->nroutes = n;
    for (size_t i = 0; i < n; i++)
        m->route_names[i] = route_names[i];
    m->start_wall_ms = ag__wall_ms();
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < sizeof status_codes / sizeof status_codes[0]; i++)
        if (status_codes[i] == status)
            return i;
    return AG_METRICS_NSTATUS - 1;
}

/* Relaxed atomics: counters need atomicity, not ordering with other memory. */
void ag__metrics_request(struct ag__metrics *m, size_t route, int status)
{
    if (route >= m->nroutes)
        route = 0;
    atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1, memory_order_relaxed);
}

void ag__metrics_decision(struct ag__metrics *m, enum ag_effect effect, enum ag_reason r)
{
    if ((unsigned)effect > 2 || (unsigned)r >= AG_REASON_COUNT)
        return;
    atomic_fetch_add_explicit(&m->decisions[effect][r], 1, memory_order_relaxed);
}

void ag__metrics_commit(struct ag__metrics *m, int64_t ns)
{
    size_t b = 0;
    while (b < AG_METRICS_NBUCKETS - 1 && ns > bucket_ns[b])
        b++;
    atomic_fetch_add_explicit(&m->commit_buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->commit_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->commit_sum_ns, (uint64_t)(ns > 0 ? ns : 0), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->ledger_appends, 1, memory_order_relaxed);
}

static uint64_t ld(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void counter(struct ag_buf *o, const char *name, const char *help, uint64_t v)
{
    ag__buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                   (unsigned long long)v);
}

static void render_requests(struct ag__metrics *m, struct ag_buf *o)
{
    ag__buf_puts(o, "# HELP agentgov_http_requests_total HTTP requests by route and status.\n"
                    "# TYPE agentgov_http_requests_total counter\n");
    for (size_t r = 0; r < m->nroutes; r++)
        for (size_t s = 0; s < AG_METRICS_NSTATUS; s++) {
            uint64_t v = ld(&m->requests[r][s]);
            if (v == 0)
                continue;
            if (s == AG_METRICS_NSTATUS - 1)
                ag__buf_printf(o,
                               "agentgov_http_requests_total{route=\"%s\",code=\"other\"} %llu\n",
                               m->route_names[r], (unsigned long long)v);
            else
                ag__buf_printf(o, "agentgov_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                               m->route_names[r], status_codes[s], (unsigned long long)v);
        }
}

static void render_decisions(struct ag__metrics *m, struct ag_buf *o)
{
    ag__buf_puts(o, "# HELP agentgov_decisions_total Decisions by outcome and reason.\n"
                    "# TYPE agentgov_decisions_total counter\n");
    for (int e = 0; e < 3; e++)
        for (int r = 0; r < AG_REASON_COUNT; r++) {
            uint64_t v = ld(&m->decisions[e][r]);
            if (v)
                ag__buf_printf(o, "agentgov_decisions_total{decision=\"%s\",reason=\"%s\"} %llu\n",
                               ag_effect_name((enum ag_effect)e), ag_reason_name((enum ag_reason)r),
                               (unsigned long long)v);
        }
}

static void render_histogram(struct ag__metrics *m, struct ag_buf *o)
{
    const char *n = "agentgov_ledger_commit_seconds";
    ag__buf_printf(
        o,
        "# HELP %s Time to decide and durably commit a decision (ledger append included).\n"
        "# TYPE %s histogram\n",
        n, n);
    uint64_t cum = 0;
    for (int b = 0; b < AG_METRICS_NBUCKETS; b++) {
        cum += ld(&m->commit_buckets[b]);
        ag__buf_printf(o, "%s_bucket{le=\"%s\"} %llu\n", n, bucket_label[b],
                       (unsigned long long)cum);
    }
    ag__buf_printf(o, "%s_sum %.9f\n%s_count %llu\n", n, (double)ld(&m->commit_sum_ns) / 1e9, n,
                   (unsigned long long)ld(&m->commit_count));
}

void ag__metrics_orchestration(struct ag__metrics *m, const char *outcome, int gamma_reason,
                               int64_t llm_calls, int64_t tokens, int64_t cost_microusd)
{
    atomic_fetch_add(&m->orch_tasks, 1);
    if (strcmp(outcome, "consensus") == 0)
        atomic_fetch_add(&m->orch_consensus, 1);
    if (gamma_reason >= 0 && gamma_reason < 5)
        atomic_fetch_add(&m->orch_gamma[gamma_reason], 1);
    atomic_fetch_add(&m->orch_llm_calls, (uint64_t)(llm_calls > 0 ? llm_calls : 0));
    atomic_fetch_add(&m->orch_tokens, (uint64_t)(tokens > 0 ? tokens : 0));
    atomic_fetch_add(&m->orch_cost_microusd, (uint64_t)(cost_microusd > 0 ? cost_microusd : 0));
}

static void render_orchestration(struct ag__metrics *m, struct ag_buf *o)
{
    counter(o, "agentgov_orchestrated_tasks_total", "Tasks run by governed LLM agents.",
            ld(&m->orch_tasks));
    counter(o, "agentgov_orchestrated_consensus_total", "Of those, tasks that reached consensus.",
            ld(&m->orch_consensus));
    counter(o, "agentgov_llm_calls_total", "Model calls made by orchestrated agents.",
            ld(&m->orch_llm_calls));
    counter(o, "agentgov_llm_tokens_total", "Tokens (prompt and completion) of those calls.",
            ld(&m->orch_tokens));
    counter(o, "agentgov_llm_cost_microusd_total", "Their cost from llm.prices, in micro-USD.",
            ld(&m->orch_cost_microusd));
    static const char *const why[] = {"none", "STUCK", "CONFLICT", "COMPLEXITY", "SUCCESS"};
    ag__buf_puts(o, "# HELP agentgov_gamma_spawned_total Orchestrated tasks by GAMMA's spawn "
                    "reason (none: not spawned).\n# TYPE agentgov_gamma_spawned_total counter\n");
    for (int i = 0; i < 5; i++)
        ag__buf_printf(o, "agentgov_gamma_spawned_total{reason=\"%s\"} %llu\n", why[i],
                       (unsigned long long)ld(&m->orch_gamma[i]));
}

void ag__metrics_render(struct ag__metrics *m, int64_t active_agents, struct ag_buf *o)
{
    render_requests(m, o);
    render_decisions(m, o);
    counter(o, "agentgov_ledger_appends_total", "Ledger entries committed by the daemon.",
            ld(&m->ledger_appends));
    counter(o, "agentgov_ledger_errors_total", "Ledger appends that failed (answered deny).",
            ld(&m->ledger_errors));
    render_histogram(m, o);
    counter(o, "agentgov_revocations_total", "Agent and token revocations.", ld(&m->revocations));
    render_orchestration(m, o);
    counter(o, "agentgov_auth_refusals_total",
            "Requests refused for their token (none, unknown, expired, revoked, not an admin's).",
            ld(&m->auth_refusals));
    counter(o, "agentgov_auth_refusals_unrecorded_total",
            "Of those, refusals over the audit's rate limit (or not written), counted but not "
            "ledgered one by one.",
            ld(&m->auth_refusals_unrecorded));
    counter(o, "agentgov_store_errors_total", "State store operations that failed.",
            ld(&m->store_errors));
    counter(o, "agentgov_policy_reloads_total", "Successful policy reloads.",
            ld(&m->policy_reloads));
    counter(o, "agentgov_policy_reload_failures_total", "Rejected policy reloads.",
            ld(&m->policy_reload_failures));
    if (active_agents >= 0)
        ag__buf_printf(o,
                       "# HELP agentgov_active_agents Agents holding a live lock.\n"
                       "# TYPE agentgov_active_agents gauge\nagentgov_active_agents %lld\n",
                       (long long)active_agents);
    ag__buf_printf(o,
                   "# HELP agentgov_open_connections Open HTTP connections.\n"
                   "# TYPE agentgov_open_connections gauge\nagentgov_open_connections %lld\n",
                   (long long)atomic_load(&m->connections));
    ag__buf_printf(o,
                   "# HELP agentgov_ui_tails Open live ledger tails (dashboards).\n"
                   "# TYPE agentgov_ui_tails gauge\nagentgov_ui_tails %lld\n",
                   (long long)atomic_load(&m->ui_tails));
    counter(o, "agentgov_ui_tail_entries_total",
            "Ledger entries sent to live tails from the ring (backfills not counted).",
            ld(&m->ui_tail_sent));
    counter(o, "agentgov_ui_tail_gaps_total",
            "Times a live tail fell behind the hub's ring and was sent a gap event.",
            ld(&m->ui_tail_gaps));
    counter(o, "agentgov_ui_tail_dropped_total",
            "Ledger entries live tails skipped in those gaps (the page queries them).",
            ld(&m->ui_tail_dropped));
    ag__buf_printf(o,
                   "# HELP agentgov_start_time_seconds Daemon start time.\n"
                   "# TYPE agentgov_start_time_seconds gauge\n"
                   "agentgov_start_time_seconds %lld\n",
                   (long long)(m->start_wall_ms / 1000));
}
