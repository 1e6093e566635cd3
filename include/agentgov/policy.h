/* Policy model, loader and the decision function. Ownership: ag_policy is an opaque
 * handle (ag_policy_load / ag_policy_free); every pointer a policy hands out (rule
 * files, tier names, sandbox profiles) lives as long as the policy. struct ag_request
 * and struct ag_decision are caller-owned and never allocated by ag_decide. */
#ifndef AGENTGOV_POLICY_H
#define AGENTGOV_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"

typedef struct ag_policy ag_policy;

#define AG_TIER_MIN   0
#define AG_TIER_MAX   4
#define AG_TIER_COUNT 5

enum ag_effect { AG_EFFECT_ALLOW = 0, AG_EFFECT_DENY = 1, AG_EFFECT_ASK = 2 };

/* Lifecycle phases in their only legal order. */
#define AG_PHASE_MAP(X)                                                                            \
    X(BOOTSTRAP) X(PREFLIGHT) X(PLAN) X(EXECUTE) X(VERIFY) X(PACKAGE) X(REPORT) X(EXIT)
enum ag_phase {
    AG_PHASE_NONE = -1, /* request without a phase: matches only rules without `phases:` */
#define AG__PHASE_ENUM(n) AG_PHASE_##n,
    AG_PHASE_MAP(AG__PHASE_ENUM)
#undef AG__PHASE_ENUM
        AG_PHASE_COUNT
};

/* Stable reason codes carried by every decision (and by the ledger). */
#define AG_REASON_MAP(X)                                                                           \
    X(DEFAULT_DENY, "default_deny")                                                                \
    X(RULE_DENY, "rule_deny")                                                                      \
    X(FORBIDDEN_ACTION, "forbidden_action")                                                        \
    X(OUT_OF_SCOPE, "out_of_scope")                                                                \
    X(PHASE_NOT_ALLOWED, "phase_not_allowed")                                                      \
    X(RULE_ASK, "rule_ask")                                                                        \
    X(RULE_ALLOW, "rule_allow")                                                                    \
    X(NO_POLICY, "no_policy")                                                                      \
    X(INVALID_REQUEST, "invalid_request")                                                          \
    X(LEDGER_UNAVAILABLE, "ledger_unavailable")                                                    \
    X(STORE_UNAVAILABLE, "store_unavailable")                                                      \
    X(AGENT_REVOKED, "agent_revoked")                                                              \
    X(BUDGET_EXHAUSTED, "budget_exhausted")                                                        \
    X(NOT_BOOTSTRAPPED, "not_bootstrapped")                                                        \
    X(LOCK_LOST, "lock_lost")                                                                      \
    X(PERMISSION_DENIED, "permission_denied")                                                      \
    X(INTERNAL_ERROR, "internal_error")                                                            \
    X(APPROVAL_GRANTED, "approval_granted")                                                        \
    X(APPROVAL_PENDING, "approval_pending")                                                        \
    X(APPROVAL_DENIED, "approval_denied")                                                          \
    X(APPROVAL_EXPIRED, "approval_expired")                                                        \
    X(APPROVAL_USED, "approval_used")                                                              \
    X(APPROVAL_MISMATCH, "approval_mismatch")
enum ag_reason {
#define AG__REASON_ENUM(n, s) AG_REASON_##n,
    AG_REASON_MAP(AG__REASON_ENUM)
#undef AG__REASON_ENUM
        AG_REASON_COUNT
};

/* One request to decide. scope/forbidden come from the task's instruction packet
 * (NULL/0 = no constraint); they are matched as globs without being copied. */
struct ag_request {
    int tier;             /* 0..4 */
    enum ag_phase phase;  /* AG_PHASE_NONE if the caller has no phase */
    const char *action;   /* dotted name, e.g. "ssh.exec" */
    const char *resource; /* slash path, e.g. "sandbox/web/01" */
    /* 1 when the resource is free text, such as a command line, rather than a path:
     * its '.' and '..' are then not path segments, and not refused as such. */
    int text_resource;
    const char *const *scope;
    size_t nscope;
    const char *const *forbidden;
    size_t nforbidden;
};

struct ag_decision {
    enum ag_effect effect;
    enum ag_reason reason;
    const char *rule_file; /* file of the deciding rule, NULL when no rule decided */
    int rule_line;         /* 1-based line of that rule, 0 when none */
    int tier;
    enum ag_phase phase;
};

/* Sandbox profile of one tier (the policy file's `sandbox:` section, or shipped
 * defaults derived from the tier when the file has none). */
struct ag_sandbox_profile {
    int workdir_write;             /* 1: the child may write inside its workdir */
    const char *const *read_paths; /* extra read-only paths (system dirs) */
    size_t nread;
    const char *const *write_paths; /* extra writable paths besides the workdir */
    size_t nwrite;
    const uint16_t *connect_ports; /* TCP ports the child may connect to; none = no network */
    size_t nconnect;
    const uint16_t *bind_ports; /* TCP ports the child may bind */
    size_t nbind;
    int64_t cpu_seconds;  /* RLIMIT_CPU, 0 = unlimited */
    int64_t memory_bytes; /* RLIMIT_AS, 0 = unlimited */
    int64_t max_procs;    /* RLIMIT_NPROC, 0 = unlimited */
    int64_t file_bytes;   /* RLIMIT_FSIZE, 0 = unlimited */
    /* 1: socket(AF_UNIX) is allowed (socketpair always is). Not a policy key: the
     * runner sets it for a daemon at a unix: address; Landlock does not restrict
     * connecting to named sockets, so the child can then reach any of them. */
    int unix_sockets;
};

struct ag_tier_info {
    const char *name;     /* "Observer", ... */
    int64_t token_ttl_ms; /* default token TTL */
    int64_t max_ttl_ms;   /* token max TTL */
};

/* Promotion rule from the policy's `promotion:` list: an agent at tier `from` moves to
 * `to` after `consecutive_compliant` compliant runs, and only with a human approval
 * when `requires_approval` is set. */
struct ag_promotion_rule {
    int from;
    int to;
    int consecutive_compliant;
    int requires_approval;
};

/* Loads and validates a policy file. On error returns AG_EPARSE (or an I/O code) and
 * ag_last_error() holds the first problem as "file:line:col: message". */
AG_MUST_USE ag_err ag_policy_load(const char *path, ag_policy **out);
/* Same, from a buffer; name is used in positions ("file:line"). */
AG_MUST_USE ag_err ag_policy_load_string(const char *name, const char *yaml, size_t len,
                                         ag_policy **out);
void ag_policy_free(ag_policy *p);

/* Lints a file and reports every problem (not just the first) through cb, one
 * "file:line:col: message" per call. Returns AG_OK when there are none. */
typedef void (*ag_policy_diag_cb)(void *ctx, const char *message);
AG_MUST_USE ag_err ag_policy_lint(const char *path, ag_policy_diag_cb cb, void *ctx);

/* The decision: a pure function of (policy, request). A NULL policy gives deny with
 * reason no_policy; a malformed request gives deny with invalid_request. Performs no
 * I/O and no allocation. Returns out->effect. */
enum ag_effect ag_decide(const ag_policy *p, const struct ag_request *req, struct ag_decision *out);
/* 1 when the request's action matches one of its (valid) forbidden globs, whatever the
 * rest of the request: the lifecycle counts an attempted forbidden action as a
 * violation even when ag_decide refused the request as invalid first. */
int ag_request_forbidden(const struct ag_request *req);

/* Accessors. */
AG_MUST_USE ag_err ag_policy_tier(const ag_policy *p, int tier, struct ag_tier_info *out);
const struct ag_sandbox_profile *ag_policy_sandbox(const ag_policy *p, int tier);
size_t ag_policy_promotions(const ag_policy *p, const struct ag_promotion_rule **rules);
const char *ag_policy_path(const ag_policy *p);
/* Where the shipped default policy is (next to the binary's ../policies, else the
 * install directory); returned even when missing, so that a load error names it.
 * Static. */
const char *ag_policy_default_path(void);
/* Checks a glob (a rule's resource or scope pattern) against the grammar: AG_EPARSE with
 * *why (static) naming the problem and *offset its 0-based byte offset. */
AG_MUST_USE ag_err ag_policy_glob_check(const char *pattern, const char **why, size_t *offset);

/* One rule as written in the file, for listings (`agentgov policy show`). */
struct ag_rule_info {
    enum ag_effect effect;
    const char *id;          /* NULL when the rule has none */
    const char *description; /* NULL when the rule has none */
    const char *file;
    int line;
    const char *const *actions;
    size_t nactions;
    const char *const *resources;
    size_t nresources;
    unsigned tiers;  /* bit t set: the rule applies at tier t */
    unsigned phases; /* bit p set: allowed in phase p (all eight when has_phases is 0) */
    int has_phases;
    /* The rule's `approval:` (ask rules only; has_approval 0: every default). */
    int has_approval;
    int64_t approval_timeout_ms;  /* 0: the config's approvals.timeout */
    int approval_required;        /* distinct approvers needed (two-person rule: 2); >= 1 */
    const char *const *approvers; /* "admin", "tier:N", "role:NAME", "user:NAME" */
    size_t napprovers;
};
/* The rule that starts at (file, line), as a decision names it (ag_decision.rule_file
 * and rule_line); AG_ENOTFOUND when this policy has none there. */
AG_MUST_USE ag_err ag_policy_rule_at(const ag_policy *p, const char *file, int line,
                                     struct ag_rule_info *out);
/* Lowercase hex SHA-256 of the policy file's bytes (64 digits), as loaded. */
const char *ag_policy_hash(const ag_policy *p);
/* Number of rules, in file order. */
size_t ag_policy_rule_count(const ag_policy *p);
/* Rule i (0-based, file order); AG_EINVAL when out of range. */
AG_MUST_USE ag_err ag_policy_rule(const ag_policy *p, size_t i, struct ag_rule_info *out);

/* The policy's `mcp:` section: how the MCP gateway (agentgov mcp proxy|serve) judges the
 * calls the rules decide. One entry per tool the section names ("server.tool"). */
struct ag_mcp_tool_conf {
    const char *tool;         /* "server.tool", as written */
    const char *resource_arg; /* the argument that is the resource (a path); NULL: none */
    int64_t rate_count;       /* calls allowed per window; 0: no limit */
    int64_t rate_window_ms;
};
/* One remote MCP server the daemon serves at /v1/mcp/<name> (`mcp: servers:`). */
struct ag_mcp_server_conf {
    const char *name;   /* letters, digits, '-', '_' */
    const char *url;    /* http:// or https:// */
    const char *secret; /* KV path of its credential (field token), or NULL */
};
struct ag_policy_mcp {
    int deny_as_result;     /* 1: a denied tools/call is a tool result with isError: true */
    int change_ask;         /* 1: a pinned tool that changed is sent for approval, else denied */
    int64_t ask_timeout_ms; /* how long an ask waits for a person's answer */
    int redact_secrets;     /* 1: the KV store's secret values are replaced in results */
    const char *const *redact_patterns; /* POSIX extended regexes, checked at load */
    size_t npatterns;
    const struct ag_mcp_tool_conf *tools;
    size_t ntools;
    const struct ag_mcp_server_conf *servers;
    size_t nservers;
};
/* The section (its defaults when the file has none): never NULL for a loaded policy. */
const struct ag_policy_mcp *ag_policy_mcp(const ag_policy *p);
/* The remote server the daemon serves under name, or NULL. */
const struct ag_mcp_server_conf *ag_policy_mcp_server(const ag_policy *p, const char *name);
/* The entry of a tool ("server.tool"), or NULL. */
const struct ag_mcp_tool_conf *ag_policy_mcp_tool(const ag_policy *p, const char *tool);

/* Names. */
const char *ag_effect_name(enum ag_effect e); /* "allow" | "deny" | "ask" */
const char *ag_reason_name(enum ag_reason r); /* "default_deny", ... */
const char *ag_phase_name(enum ag_phase ph);  /* "EXECUTE", ...; "" for NONE */
/* Parses a phase name (case-insensitive); AG_EINVAL if unknown. */
AG_MUST_USE ag_err ag_phase_parse(const char *s, enum ag_phase *out);

#endif
