/* Daemon metrics: lock-free counters and a latency histogram, rendered in the
 * Prometheus text exposition format. Ownership: struct ag__metrics is caller-owned
 * (zero it, or ag__metrics_init); names passed to it must outlive it. */
#ifndef AG_SERVER_METRICS_H
#define AG_SERVER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "agentgov/policy.h"
#include "core/buf.h"

#define AG_METRICS_MAX_ROUTES 128
/* Status codes counted one by one; anything else lands in the last slot ("other"). */
#define AG_METRICS_STATUS_MAP(X)                                                                   \
    X(200) X(204) X(400) X(401) X(403) X(404) X(405) X(409) X(413) X(429) X(431) X(500) X(503)
#define AG__METRICS_STATUS_COUNT_ONE(c) +1
#define AG_METRICS_NSTATUS              (0 AG_METRICS_STATUS_MAP(AG__METRICS_STATUS_COUNT_ONE) + 1)
/* Upper bounds (seconds) of the commit latency histogram, the last is +Inf. */
#define AG_METRICS_NBUCKETS 13

struct ag__metrics {
    size_t nroutes; /* route 0 is "unmatched" */
    const char *route_names[AG_METRICS_MAX_ROUTES];
    _Atomic uint64_t requests[AG_METRICS_MAX_ROUTES][AG_METRICS_NSTATUS];
    _Atomic uint64_t decisions[3][AG_REASON_COUNT]; /* by effect, reason */
    _Atomic uint64_t ledger_appends;
    _Atomic uint64_t ledger_errors;
    _Atomic uint64_t commit_buckets[AG_METRICS_NBUCKETS];
    _Atomic uint64_t commit_count;
    _Atomic uint64_t commit_sum_ns;
    _Atomic uint64_t revocations;
    _Atomic uint64_t auth_refusals;            /* requests refused for their token */
    _Atomic uint64_t auth_refusals_unrecorded; /* of which not ledgered one by one */
    _Atomic uint64_t store_errors;
    _Atomic uint64_t policy_reloads;
    _Atomic uint64_t policy_reload_failures;
    _Atomic int64_t active_agents;
    /* Coordinated tasks run by the daemon (POST /v1/tasks/{id}/orchestrate). */
    _Atomic uint64_t orch_tasks, orch_consensus, orch_llm_calls, orch_tokens, orch_cost_microusd;
    _Atomic uint64_t orch_gamma[5]; /* by enum ag_spawn_reason (0: not spawned) */
    _Atomic int64_t connections;
    /* The dashboard's live tails: open now; entries sent; entries a tail never got
     * because it fell more than the hub's ring behind (each such jump is one gap). */
    _Atomic int64_t ui_tails;
    _Atomic uint64_t ui_tail_sent, ui_tail_gaps, ui_tail_dropped;
    int64_t start_wall_ms;
};

/* Zeroes the counters and records the route names (index 0 must be "unmatched"). */
void ag__metrics_init(struct ag__metrics *m, const char *const *route_names, size_t n);
void ag__metrics_request(struct ag__metrics *m, size_t route, int status);
void ag__metrics_decision(struct ag__metrics *m, enum ag_effect effect, enum ag_reason r);
/* One committed ledger append and how long the commit took. */
void ag__metrics_commit(struct ag__metrics *m, int64_t ns);
/* One orchestrated task: its outcome, GAMMA's spawn reason (enum ag_spawn_reason),
 * LLM calls, tokens and cost. */
void ag__metrics_orchestration(struct ag__metrics *m, const char *outcome, int gamma_reason,
                               int64_t llm_calls, int64_t tokens, int64_t cost_microusd);
/* Renders every metric; active_agents is passed in because it comes from the store
 * (a negative value means unknown and is not printed). */
void ag__metrics_render(struct ag__metrics *m, int64_t active_agents, struct ag_buf *out);

#endif
