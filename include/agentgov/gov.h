/* Governed lifecycle: instruction packets, handoffs, bootstrap, phase transitions,
 * authorize (the hot path), error budgets, revocation and promotion, over a state
 * store, a ledger and a policy. Ownership: ag_gov and ag_packet are opaque handles
 * (ag_gov_new/ag_gov_free, ag_packet_parse/ag_packet_free); ag_gov borrows the store,
 * ledger and policy, which must outlive it; result structs are caller-owned, and the
 * char * they hold are malloc'd for the caller and released by their _clear function. */
#ifndef AGENTGOV_GOV_H
#define AGENTGOV_GOV_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/config.h"
#include "agentgov/err.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "agentgov/store.h"

/* ---------------------------------------------------------------- packets ---- */

/* The seed's InstructionPacket, validated (see docs/packets.md). Extensions, all
 * optional: "tier" (a hint only; the registered tier wins), "agent_version",
 * "required_artifacts" (default: the deliverables). */
typedef struct ag_packet ag_packet;

struct ag_error_budget {
    int max_total_errors;         /* default 8 */
    int max_same_error_repeats;   /* default 2 */
    int max_procedure_violations; /* default 1 */
};

/* The packet's optional "llm_budget": {"max_tokens", "max_cost_microusd"}; 0 = no
 * limit. The LLM client revokes an agent whose model calls pass either. */
struct ag_llm_budget {
    int64_t max_tokens;
    int64_t max_cost_microusd;
};

/* Parses and validates a packet. A missing or mistyped field gives AG_EPARSE with
 * ag_last_error() naming it: "packet: constraints.scope[2]: expected string". */
AG_MUST_USE ag_err ag_packet_parse(const char *json, size_t len, ag_packet **out);
void ag_packet_free(ag_packet *p);
/* Accessors; strings live as long as the packet. */
const char *ag_packet_agent_id(const ag_packet *p);
const char *ag_packet_task_id(const ag_packet *p);
const char *ag_packet_agent_version(const ag_packet *p); /* NULL when absent */
int ag_packet_tier(const ag_packet *p);                  /* -1 when absent */
struct ag_error_budget ag_packet_budget(const ag_packet *p);
struct ag_llm_budget ag_packet_llm_budget(const ag_packet *p);
/* String lists: "deliverables", "success_criteria", "escalation_rules",
 * "constraints.scope", "constraints.forbidden", "constraints.required_steps",
 * "required_artifacts" (falls back to deliverables). NULL/0 for an unknown name. */
const char *const *ag_packet_list(const ag_packet *p, const char *name, size_t *n);
/* Canonical JSON of the packet (defaults filled in), malloc'd. */
AG_MUST_USE ag_err ag_packet_to_json(const ag_packet *p, char **json);

/* The seed's HandoffObject, validated the same way ("handoff: artifacts[0]: expected
 * string"). On success *canonical (may be NULL) receives the normalised JSON. */
AG_MUST_USE ag_err ag_handoff_validate(const char *json, size_t len, char **canonical);

/* ------------------------------------------------------------- phases ------ */

/* Legality of moving from `from` to `to`: the next phase in order, or the same phase
 * again (a new step within it) except EXIT, after which nothing is legal. AG_PHASE_NONE
 * as `from` means "not started": only BOOTSTRAP is legal. Returns 1 if legal. */
int ag_phase_transition_legal(enum ag_phase from, enum ag_phase to);

/* -------------------------------------------------------------- handle ----- */

typedef struct ag_gov ag_gov;

/* Time-to-live of each runtime key (ms); 0 fields take the defaults shown. */
struct ag_gov_opts {
    int64_t lock_ttl_ms;      /* agent:{id}:lock, 300000 (5 min) */
    int64_t heartbeat_ttl_ms; /* agent:{id}:heartbeat, 120000 */
    int64_t state_ttl_ms;     /* agent:{id}:state, :errors, task:{id}:active_agent, 86400000 */
    int64_t handoff_ttl_ms;   /* handoff:{task}:latest, 604800000 (7 days) */
    int64_t artifacts_ttl_ms; /* task:{id}:artifacts, 604800000 */
};

/* The TTLs of a configuration (lifecycle.lock_ttl, .heartbeat_ttl, .state_ttl; the
 * others keep their defaults), so that every process opening the lifecycle of a data
 * directory (CLI, runner, daemon) uses the same ones. */
void ag_gov_opts_from_config(const ag_config *c, struct ag_gov_opts *o);

/* Borrows store, ledger and policy (all three required; policy may be NULL only to
 * get a kernel that denies everything with no_policy). */
AG_MUST_USE ag_err ag_gov_new(ag_store *store, ag_ledger *ledger, const ag_policy *policy,
                              const struct ag_gov_opts *opts, ag_gov **out);
void ag_gov_free(ag_gov *g);

/* Credential revocation hook, called on every revocation with the agent id (the auth
 * module's ag_auth_revoke_agent plugs in here). Its failure is recorded in the
 * revocation's ledger entry; the revocation stands. */
typedef ag_err (*ag_gov_revoke_hook)(void *ctx, const char *agent_id);
void ag_gov_set_revoke_hook(ag_gov *g, ag_gov_revoke_hook fn, void *ctx);

/* ------------------------------------------------------------ registry ----- */

/* Registers (or re-registers) an agent with a tier, durably, in the store hash
 * "agents:registry" (field = id, value = JSON {"tier","registered_at",...}), and
 * stores its packet at agent:{id}:packet when packet_json is given (validated; its
 * agent_id must equal id). Re-registering lifts a past revocation's bar. Ledgered
 * (kind lifecycle, action agent.register). */
AG_MUST_USE ag_err ag_gov_register(ag_gov *g, const char *agent_id, int tier,
                                   const char *packet_json);
/* Stores or replaces the packet of a registered agent. */
AG_MUST_USE ag_err ag_gov_set_packet(ag_gov *g, const char *agent_id, const char *packet_json);

/* ----------------------------------------------------------- bootstrap ----- */

/* Bootstrap result codes (the seed's, plus the ones this kernel adds). */
#define AG_BOOT_MAP(X)                                                                             \
    X(COMPLETE, "BOOTSTRAP_COMPLETE")                                                              \
    X(PREVIOUSLY_REVOKED, "AGENT_PREVIOUSLY_REVOKED")                                              \
    X(NO_PACKET, "NO_INSTRUCTION_PACKET")                                                          \
    X(NO_LOCK, "CANNOT_ACQUIRE_LOCK")                                                              \
    X(HANDOFF_REQUIRED, "HANDOFF_REQUIRED")                                                        \
    X(TASK_MISMATCH, "TASK_MISMATCH")                                                              \
    X(STORE_UNAVAILABLE, "STORE_UNAVAILABLE")                                                      \
    X(LEDGER_UNAVAILABLE, "LEDGER_UNAVAILABLE")
enum ag_boot_code {
#define AG__BOOT_ENUM(n, s) AG_BOOT_##n,
    AG_BOOT_MAP(AG__BOOT_ENUM)
#undef AG__BOOT_ENUM
        AG_BOOT_COUNT
};
const char *ag_boot_code_name(enum ag_boot_code c);

struct ag_bootstrap_result {
    enum ag_boot_code code;
    char *task_id;      /* the task bootstrapped (argument, else the packet's) */
    char *handoff_json; /* handoff:{task}:latest when one exists, else NULL */
    int tier;           /* the agent's tier for this run */
    int64_t fence;      /* fencing token of the lock */
};
void ag_bootstrap_result_clear(struct ag_bootstrap_result *r);

/* Bootstraps agent_id on task_id (NULL = the packet's task). Returns AG_OK whenever it
 * reached a verdict (complete or refused: see r->code; every outcome is ledgered);
 * an error only when it could not (invalid arguments). */
AG_MUST_USE ag_err ag_gov_bootstrap(ag_gov *g, const char *agent_id, const char *task_id,
                                    struct ag_bootstrap_result *r);

/* ---------------------------------------------------------- transition ----- */

/* Outcome of a transition (or of anything that may revoke). */
struct ag_transition_result {
    int ok;                /* 1: the state was recorded */
    enum ag_reason reason; /* when !ok: LOCK_LOST, AGENT_REVOKED, NOT_BOOTSTRAPPED,
                              BUDGET_EXHAUSTED, STORE_UNAVAILABLE, ... */
    int violation;         /* 1: the request was a procedure violation */
    int revoked;           /* 1: the agent is revoked as a consequence */
    char detail[160];      /* human-readable cause */
};

/* Heartbeat, lock refresh, error-budget check and state record as one atomic store
 * exec guarded by the lock value (one round trip once the agent's session is known
 * to this handle). step may be NULL. Returns AG_OK when it reached a verdict (see
 * r->ok); AG_EINVAL for bad arguments. */
AG_MUST_USE ag_err ag_gov_transition(ag_gov *g, const char *agent_id, enum ag_phase phase,
                                     const char *step, struct ag_transition_result *r);
/* Heartbeat alone (key + deadline index + lock refresh), guarded like a transition. */
AG_MUST_USE ag_err ag_gov_heartbeat(ag_gov *g, const char *agent_id,
                                    struct ag_transition_result *r);

/* ----------------------------------------------------------- authorize ----- */

struct ag_gov_decision {
    enum ag_effect effect;
    enum ag_reason reason;
    const char *rule_file; /* borrowed from the policy; NULL when no rule decided */
    int rule_line;
    int tier;            /* -1 when unknown */
    enum ag_phase phase; /* AG_PHASE_NONE when unknown */
    int64_t ledger_seq;  /* seq of the decision's ledger entry, 0 when none */
    int revoked;         /* 1: this request revoked the agent (forbidden action) */
};

/* The hot path: reads the agent's state and lock (one store exec), decides with its
 * tier, phase and packet constraints, commits the decision to the ledger, then
 * returns it. confidence is per mille (0..1000) or -1. Fails closed: every problem
 * is a deny with a reason; the return value is out->effect. */
enum ag_effect ag_gov_authorize(ag_gov *g, const char *agent_id, const char *action,
                                const char *resource, int confidence, struct ag_gov_decision *out);

/* ------------------------------------------- authorize for approvals ----- */

#define AG_GOV_TASK_BUF 129

/* An authorize request from the approvals module (src/approve/), which owns the pending
 * approvals and checks grants; the lifecycle only decides and ledgers. */
struct ag_gov_authz {
    const char *agent_id, *action, *resource;
    int confidence; /* per mille or -1 */
    /* A first ask: the id the approval will have, named in the decision's entry, and a
     * hook called when the answer is ask, before anything is ledgered: it records the
     * pending approval and fills *extra with its ledger entry, which is committed with
     * the decision (one group commit). Its error turns the ask into a deny
     * (store_unavailable for AG_ESTORE, else internal_error). */
    const char *ask_approval_id;
    ag_err (*on_ask)(void *ctx, const struct ag_gov_decision *d, const char *task_id,
                     struct ag_ledger_entry *extra);
    void *on_ask_ctx;
    /* A retry whose grant the caller verified and spent: the approval's id and the ask
     * rule it was granted under (file and line, as a decision names it). */
    const char *grant_approval_id;
    const char *grant_rule_file;
    int grant_rule_line;
};

/* ag_gov_authorize, plus the task of the agent's run in task_id ("" when unknown). With
 * a grant, the policy still decides at the agent's current tier and phase: an ask from
 * the grant's own rule becomes allow (reason approval_granted); an ask from any other
 * rule is a deny (approval_mismatch); a deny stays a deny (the rule no longer applies:
 * another phase, a lower tier) and an allow an allow. The entry names the approval. */
enum ag_effect ag_gov_authorize_ex(ag_gov *g, const struct ag_gov_authz *rq,
                                   struct ag_gov_decision *out, char task_id[AG_GOV_TASK_BUF]);

/* -------------------------------------------------------------- errors ----- */

/* Counts an error in agent:{id}:errors (total_errors, type:<error_type>) and revokes
 * when the budget is exhausted. error_type "procedure_violation" counts a violation. */
AG_MUST_USE ag_err ag_gov_record_error(ag_gov *g, const char *agent_id, const char *error_type,
                                       const char *message, struct ag_transition_result *r);

/* Revokes at once: state REVOKED, lock released, entry on revocations:ledger, ledger
 * entry kind revocation, the revoke hook called, one-tier demotion, and a handoff
 * required before another agent takes the task. AG_EREVOKED if already revoked. */
AG_MUST_USE ag_err ag_gov_revoke(ag_gov *g, const char *agent_id, const char *type,
                                 const char *details);

/* ----------------------------------------------------- artifacts, handoffs ----- */

/* Appends an artifact name (and optional JSON details) to task:{task}:artifacts. */
AG_MUST_USE ag_err ag_gov_add_artifact(ag_gov *g, const char *task_id, const char *agent_id,
                                       const char *name, const char *sha256);
/* Validates and stores a HandoffObject at handoff:{task}:latest (ledger kind handoff). */
AG_MUST_USE ag_err ag_gov_write_handoff(ag_gov *g, const char *handoff_json);
/* *json is malloc'd, or NULL when the task has no handoff. */
AG_MUST_USE ag_err ag_gov_read_handoff(ag_gov *g, const char *task_id, char **json);

/* -------------------------------------------------------------- status ----- */

struct ag_agent_status {
    char *agent_id;
    int registered;
    int tier;         /* registered tier, -1 if unknown */
    char *state_json; /* agent:{id}:state, NULL when absent */
    char *lock;       /* agent:{id}:lock value, NULL when free */
    char *heartbeat;  /* RFC 3339 of the last heartbeat, NULL when expired */
    int64_t total_errors, procedure_violations;
    int revoked; /* barred by a revocation since its registration */
};
void ag_agent_status_clear(struct ag_agent_status *s);
AG_MUST_USE ag_err ag_gov_status(ag_gov *g, const char *agent_id, struct ag_agent_status *s);
/* Registered agent ids (sorted), malloc'd; free with ag_store_strv_free. */
AG_MUST_USE ag_err ag_gov_list(ag_gov *g, char ***ids, size_t *n);
/* Agents whose last heartbeat is older than older_than_ms (from the deadline index,
 * without scanning all agents). */
AG_MUST_USE ag_err ag_gov_stuck(ag_gov *g, int64_t older_than_ms, char ***ids, size_t *n);

/* ----------------------------------------------------------- promotion ----- */

/* The seed's agent_metrics row, computed from the ledger. */
struct ag_agent_metrics {
    int current_tier;
    int64_t total_runs;
    int64_t compliant_runs;
    int64_t consecutive_compliant;
    char last_active_at[64]; /* RFC 3339, "" when never */
};
AG_MUST_USE ag_err ag_gov_metrics(ag_gov *g, const char *agent_id, struct ag_agent_metrics *m);

/* Applies the policy's promotion rule for the agent's tier if its streak qualifies.
 * A rule that requires approval promotes only with approve=1. AG_ESTATE (with the
 * reason in ag_last_error()) when not eligible. *new_tier may be NULL. */
AG_MUST_USE ag_err ag_gov_promote(ag_gov *g, const char *agent_id, int approve, int *new_tier);
/* Lowers the tier by one (not below 0) and resets the streak; ledgered. */
AG_MUST_USE ag_err ag_gov_demote(ag_gov *g, const char *agent_id, const char *reason,
                                 int *new_tier);

#endif
