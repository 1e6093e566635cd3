/* Multi-agent coordination on the state store: the blackboard, direct and broadcast
 * messages, votes and the seed's consensus rule, with per-task counters. Every write
 * an agent makes is first authorized through the gov layer (actions blackboard.write,
 * message.send, vote.cast), so it is phase-gated, budgeted and ledgered like any
 * action; a denied write changes nothing. Ownership: ag_coord is an opaque handle
 * (ag_coord_new/ag_coord_free) borrowing its store, gov and ledger, which must outlive
 * it; strings and arrays returned through pointers are malloc'd for the caller
 * (free(), or ag_coord_msgs_free / ag_consensus_clear).
 *
 * Keys (both backends, the seed's names): blackboard:{task}:{section} is a hash
 * entry -> JSON value; msg:{task}:{channel} a list of message JSON (channel = the
 * recipient's agent id, or "broadcast"); votes:{task} a hash agent -> vote JSON;
 * task:{task}:coord a hash of counters (blackboard_ops, messages, votes). They live
 * as long as the task (a TTL refreshed on each write, default 7 days). */
#ifndef AGENTGOV_COORD_H
#define AGENTGOV_COORD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "agentgov/approve.h"
#include "agentgov/err.h"
#include "agentgov/gov.h"
#include "agentgov/ledger.h"
#include "agentgov/llm.h"
#include "agentgov/store.h"

typedef struct ag_coord ag_coord;

/* ttl_ms: lifetime of the task's coordination keys after their last write (0 = 7 d). */
AG_MUST_USE ag_err ag_coord_new(ag_store *store, ag_gov *gov, ag_ledger *ledger, int64_t ttl_ms,
                                ag_coord **out);
void ag_coord_free(ag_coord *c);

/* ------------------------------------------------------------- blackboard ---- */

/* Sections: "problem", "solutions", "progress", "consensus". Entries: "objective",
 * "analysis", "constraints", "proposal_N", "synthesis", "eval_N", "gamma_result",
 * "votes", "final" (N = 1..9999). 1 if the pair is a valid name. */
int ag_coord_section_valid(const char *section);
int ag_coord_entry_valid(const char *entry);

/* Writes value_json (any JSON value) at entry in blackboard:{task}:{section} for
 * agent_id after ag_gov_authorize(agent, "blackboard.write",
 * "blackboard/{task}/{section}/{entry}"). AG_EPERM when denied (d, which may be NULL,
 * holds the decision and reason); AG_EINVAL naming a bad section, entry or value.
 * agent_id NULL: the kernel itself writes (the orchestrator's tally), ledgered as kind
 * coord instead of authorized. */
AG_MUST_USE ag_err ag_coord_bb_write(ag_coord *c, const char *agent_id, const char *task,
                                     const char *section, const char *entry, const char *value_json,
                                     struct ag_gov_decision *d);
/* The whole section as a JSON object {entry: value}, "{}" when empty. Counted as one
 * blackboard op. */
AG_MUST_USE ag_err ag_coord_bb_read(ag_coord *c, const char *task, const char *section,
                                    char **json);

/* --------------------------------------------------------------- messages ---- */

#define AG_MSG_TYPES(X) X(PROPOSAL) X(FEEDBACK) X(HANDOFF)
/* 1 if type is PROPOSAL, FEEDBACK or HANDOFF. */
int ag_coord_msg_type_valid(const char *type);

/* Sends a message after ag_gov_authorize(from, "message.send", "msg/{task}/{to}"); to =
 * an agent id, or "*" for a broadcast (channel "broadcast"). The message gets a task-
 * wide sequence number (ordering across channels); *seq may be NULL. */
AG_MUST_USE ag_err ag_coord_send(ag_coord *c, const char *from, const char *task, const char *to,
                                 const char *type, const char *content_json, int64_t *seq,
                                 struct ag_gov_decision *d);

struct ag_coord_msg {
    int64_t seq;
    char *from, *to, *type;
    char *content_json;
    int64_t ts_ms;
};
/* Messages agent can see (its channel and the broadcasts; NULL agent: every channel)
 * with seq > after_seq, in seq order. */
AG_MUST_USE ag_err ag_coord_recv(ag_coord *c, const char *task, const char *agent,
                                 int64_t after_seq, struct ag_coord_msg **msgs, size_t *n);
void ag_coord_msgs_free(struct ag_coord_msg *msgs, size_t n);

/* ------------------------------------------------------------------ votes ---- */

enum ag_vote { AG_VOTE_ACCEPT, AG_VOTE_REJECT, AG_VOTE_ABSTAIN };
/* "ACCEPT"/"REJECT"/"ABSTAIN" <-> enum; parse returns -1 for anything else. */
const char *ag_vote_name(enum ag_vote v);
int ag_vote_parse(const char *s);

/* Records agent's vote (replacing an earlier one) after ag_gov_authorize(agent,
 * "vote.cast", "votes/{task}"). reasoning is required (a vote without one is
 * AG_EINVAL). */
AG_MUST_USE ag_err ag_coord_vote(ag_coord *c, const char *agent, const char *task, enum ag_vote v,
                                 const char *reasoning, struct ag_gov_decision *d);

struct ag_consensus {
    int reached;
    int accept, reject, abstain;
    char *missing;     /* comma-separated required agents without a vote; "" if none */
    char *rejected_by; /* comma-separated required agents that voted REJECT */
    char reason[160];  /* why it was or was not reached */
    char *votes_json;  /* {agent: {vote, reasoning, ts}} */
};
void ag_consensus_clear(struct ag_consensus *r);

/* The seed's rule: every required agent voted, ACCEPT > REJECT, and no required
 * agent voted REJECT. Writes the tally to consensus/votes and the verdict
 * ({reached, reason, accept, reject, abstain}) to consensus/final, as the kernel
 * (ledger kind coord). */
AG_MUST_USE ag_err ag_coord_consensus(ag_coord *c, const char *task, const char *const *required,
                                      size_t nrequired, struct ag_consensus *r);

/* ---------------------------------------------------------------- metrics ---- */

struct ag_coord_metrics {
    int64_t blackboard_ops, messages, votes, denied;
};
AG_MUST_USE ag_err ag_coord_metrics(ag_coord *c, const char *task, struct ag_coord_metrics *m);

/* ============================================================ orchestrator ==== */

/* The multi-agent orchestrator: governed LLM agents (ALPHA research/proposals, BETA
 * evaluation/synthesis, in parallel threads), GAMMA spawned on the seed's conditions
 * (STUCK, CONFLICT, COMPLEXITY, SUCCESS), and a consensus vote. The caller owns every handle in
 * ag_orch_opts (they must outlive the call); struct ag_orch_result is caller-owned and released by
 * ag_orch_result_clear.
 *
 * Every tool call a model makes is authorized through the gov layer before it runs
 * (blackboard.read/write, message.read/send, vote.cast, artifact.read); a denied call
 * goes back to the model as the tool's result with the reason. An agent walks
 * BOOTSTRAP..EXIT with a heartbeat per turn; a revocation (a forbidden action, an
 * exhausted error or LLM budget, or anyone's `agentgov agent revoke`) stops it before its
 * next model call, and a handoff is written for the task. */
/* Spawn reasons, as recorded. */
#define AG_SPAWN_MAP(X) X(NONE) X(STUCK) X(CONFLICT) X(COMPLEXITY) X(SUCCESS)
enum ag_spawn_reason {
#define AG__SPAWN_ENUM(n) AG_SPAWN_##n,
    AG_SPAWN_MAP(AG__SPAWN_ENUM)
#undef AG__SPAWN_ENUM
};
const char *ag_spawn_reason_name(enum ag_spawn_reason r);

/* Runs an action that has no in-process tool, after it was authorized for agent_id:
 * "shell.exec" (args {"argv": [strings]}), "file.read" ({"path"}) and "file.write"
 * ({"path", "content"}), each inside the task's workdir (the front end runs commands
 * through the runner's sandbox: coord sits below the runner). *result (malloc'd JSON
 * text) goes back to the model as the tool's result; an error stops the agent. */
typedef ag_err (*ag_orch_exec_fn)(void *ctx, const char *agent_id, int tier, const char *action,
                                  const char *args_json, char **result);

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
    int tier;               /* registered tier of every agent; 0 = 1 */
    int64_t timeout_ms;     /* whole task; 0 = 10 min */
    int max_turns;          /* model calls per agent; 0 = 12 */
    int64_t stuck_ms;       /* STUCK: no progress for this long; 0 = 30 s */
    int conflict_threshold; /* CONFLICT: unresolved conflicts; 0 = 3 */
    int complexity_pm;      /* COMPLEXITY: planner's estimate above this (per mille); 0 = 800 */
    int no_success_spawn;   /* 1: SUCCESS never spawns GAMMA */
    int no_gamma;           /* 1: never spawn GAMMA */
    int64_t max_tokens_per_agent; /* the packets' llm_budget.max_tokens; 0 = none */
    const char *const *forbidden; /* the packets' constraints.forbidden (action globs) */
    size_t nforbidden;
    int64_t poll_ms; /* monitor period; 0 = 50 ms */
    /* Workdir tools (shell_exec, file_read, file_write) are offered to the models only
     * with an executor; they are authorized as shell.exec on "workdir/{task}" and
     * file.read / file.write on "workdir/{task}/{path}" (path relative, no "..")
     * before exec runs them. */
    ag_orch_exec_fn exec;
    void *exec_ctx;
    /* Asks: with approve and policy set, a tool call the policy answers "ask" opens a
     * pending approval (ag_approve_authorize, bound to the agent, action, resource and
     * the call's arguments) and waits for a person up to ask_timeout_ms (0 = 5 min, and
     * never past the task's deadline); approved, the grant is spent and the call runs;
     * denied, expired or unanswered, the model gets the refusal as the tool's result.
     * Without them an ask is a refusal (reason rule_ask). Borrowed. */
    ag_approve *approve;
    const ag_policy *policy;
    int64_t ask_timeout_ms;
    /* The task's artifacts directory: offers the artifact_read tool (in-process; read
     * only, at most 64 KiB a file; no path: the directory's listing), authorized as
     * artifact.read on "artifacts/{task}/{path}" where path is the resolved path (links
     * and ".." followed) relative to the directory; a path that resolves outside is
     * judged as its resolved absolute path, which no scope grants. NULL: no such tool. */
    const char *artifacts_dir;
    /* Set to nonzero (a signal handler may) to end the task early: the monitor stops it
     * within poll_ms, each agent ends after the model call or tool call it is in, a
     * waiting ask gives up, and the outcome is "interrupted" (metrics and the ledger's
     * entry are still written). NULL: only the timeout ends it early. */
    const volatile sig_atomic_t *interrupt;
};

struct ag_orch_result {
    char task_id[132];
    char outcome[24]; /* "consensus", "no_consensus", "timeout", "interrupted", "failed" */
    enum ag_spawn_reason gamma_reason; /* AG_SPAWN_NONE: not spawned */
    int complexity_pm;                 /* the planner's estimate, -1 when unknown */
    int64_t duration_ms;
    struct ag_coord_metrics coord;
    int64_t llm_calls, prompt_tokens, completion_tokens, cost_microusd;
    int revoked; /* agents revoked during the task */
    int tool_calls, tool_denied;
    char reason[200]; /* consensus reason, or why it failed */
    char *final_json; /* consensus/final, malloc'd (NULL when none) */
};
void ag_orch_result_clear(struct ag_orch_result *r);

/* Runs a task to its end. AG_OK whenever it reached an outcome (see r->outcome);
 * an error only when it could not start (bad options, store or ledger down). */
AG_MUST_USE ag_err ag_orchestrate(const struct ag_orch_opts *o, struct ag_orch_result *r);

/* The result as one JSON object (for --json and the daemon), malloc'd. */
AG_MUST_USE ag_err ag_orch_result_json(const struct ag_orch_result *r, char **json);

#endif
