/* The multi-agent orchestrator: governed LLM agents (ALPHA research/proposals, BETA
 * evaluation/synthesis, in parallel threads), GAMMA spawned on the seed's conditions
 * (STUCK, CONFLICT, COMPLEXITY, SUCCESS), and a consensus vote. Ownership: the caller
 * owns every handle in ag_orch_opts (they must outlive the call); struct
 * ag_orch_result is caller-owned and released by ag_orch_result_clear.
 *
 * Every tool call a model makes is authorized through the gov layer before it runs
 * (blackboard.read/write, message.read/send, vote.cast, artifact.read); a denied call
 * goes back to the model as the tool's result with the reason. An agent walks
 * BOOTSTRAP..EXIT with a heartbeat per turn; a revocation (a forbidden action, an
 * exhausted error or LLM budget, or anyone's `agentgov agent revoke`) stops it before its
 * next model call, and a handoff is written for the task. */
#ifndef AGENTGOV_ORCHESTRATE_H
#define AGENTGOV_ORCHESTRATE_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/coord.h"
#include "agentgov/err.h"
#include "agentgov/gov.h"
#include "agentgov/llm.h"

/* Spawn reasons, as recorded. */
#define AG_SPAWN_MAP(X) X(NONE) X(STUCK) X(CONFLICT) X(COMPLEXITY) X(SUCCESS)
enum ag_spawn_reason {
#define AG__SPAWN_ENUM(n) AG_SPAWN_##n,
    AG_SPAWN_MAP(AG__SPAWN_ENUM)
#undef AG__SPAWN_ENUM
};
const char *ag_spawn_reason_name(enum ag_spawn_reason r);

struct ag_orch_opts {
    const char *objective; /* required */
    const char *task_id;   /* NULL: "task-<random>" */
    ag_llm *llm;           /* required (its gov handle meters the agents' budgets) */
    ag_coord *coord;
    ag_gov *gov;
    ag_ledger *ledger;
    ag_store *store;
    const char *const *agents; /* roles of the first wave; NULL = {"alpha","beta"} */
    size_t nagents;
    int tier;                  /* registered tier of every agent; 0 = 1 */
    int64_t timeout_ms;        /* whole task; 0 = 10 min */
    int max_turns;             /* model calls per agent; 0 = 12 */
    int64_t stuck_ms;          /* STUCK: no progress for this long; 0 = 30 s */
    int conflict_threshold;    /* CONFLICT: unresolved conflicts; 0 = 3 */
    int complexity_pm;         /* COMPLEXITY: planner's estimate above this (per mille); 0 = 800 */
    int no_success_spawn;      /* 1: SUCCESS never spawns GAMMA */
    int no_gamma;              /* 1: never spawn GAMMA */
    int64_t max_tokens_per_agent; /* the packets' llm_budget.max_tokens; 0 = none */
    const char *const *forbidden; /* the packets' constraints.forbidden (action globs) */
    size_t nforbidden;
    int64_t poll_ms;              /* monitor period; 0 = 50 ms */
};

struct ag_orch_result {
    char task_id[132];
    char outcome[24]; /* "consensus", "no_consensus", "timeout", "failed" */
    enum ag_spawn_reason gamma_reason; /* AG_SPAWN_NONE: not spawned */
    int complexity_pm;                 /* the planner's estimate, -1 when unknown */
    int64_t duration_ms;
    struct ag_coord_metrics coord;
    int64_t llm_calls, prompt_tokens, completion_tokens, cost_microusd;
    int revoked;          /* agents revoked during the task */
    int tool_calls, tool_denied;
    char reason[200];     /* consensus reason, or why it failed */
    char *final_json;     /* consensus/final, malloc'd (NULL when none) */
};
void ag_orch_result_clear(struct ag_orch_result *r);

/* Runs a task to its end. AG_OK whenever it reached an outcome (see r->outcome);
 * an error only when it could not start (bad options, store or ledger down). */
AG_MUST_USE ag_err ag_orchestrate(const struct ag_orch_opts *o, struct ag_orch_result *r);

/* The result as one JSON object (for --json and the daemon), malloc'd. */
AG_MUST_USE ag_err ag_orch_result_json(const struct ag_orch_result *r, char **json);

#endif
