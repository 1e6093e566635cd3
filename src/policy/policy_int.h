/* The in-memory model of a loaded policy (types only), shared by the loader (load.c),
 * the index builder (index.c) and the decision function (policy.c). Ownership: everything hangs
 * off the policy's arena and is released by ag_policy_free. */
#ifndef AG_POLICY_POLICY_INT_H
#define AG_POLICY_POLICY_INT_H

#include <stdint.h>

#include "agentgov/policy.h"
#include "policy/arena.h"
#include "policy/glob.h"

/* Bit of a rule's phase mask that a phase-less request (AG_PHASE_NONE) tests: it is
 * set only on rules without `phases:`. */
#define AG__PHASE_NONE_BIT (1u << AG_PHASE_COUNT)
#define AG__PHASE_ALL      ((1u << AG_PHASE_COUNT) - 1)

struct ag__rule {
    enum ag_effect effect;
    uint32_t phase_bits; /* one bit per phase, plus AG__PHASE_NONE_BIT */
    uint32_t tier_bits;  /* bit t set: the rule applies at tier t */
    int has_phases;
    int line, col;
    const char *id;          /* NULL when the rule has none */
    const char *description; /* NULL when the rule has none */
    struct ag__glob *actions;
    size_t nactions;
    struct ag__glob *resources;
    size_t nresources;
    const char **action_src; /* the globs as written, for listings */
    const char **resource_src;
    /* `approval:` of an ask rule (has_approval 0: the defaults of struct ag_approval_spec). */
    int has_approval;
    int64_t approval_timeout_ms; /* 0: the config's approvals.timeout */
    int approval_required;       /* distinct approvers needed, >= 1 */
    const char **approvers;      /* "admin", "tier:N", "role:NAME", "user:NAME" */
    size_t napprovers;
};

/* One (rule, action glob) pair of a tier's index. */
struct ag__entry {
    const struct ag__rule *rule;
    const struct ag__glob *action;
};

/* Open-addressing slot keyed by a literal segment of action globs. */
struct ag__slot {
    const char *key; /* NULL: empty slot */
    uint32_t keylen;
    uint32_t hash;
    uint32_t first, count; /* range in the tier's entries */
};

/* A hash table of slots; mask = number of slots - 1 (no slots: slots == NULL). */
struct ag__table {
    struct ag__slot *slots;
    uint32_t mask;
};

/* Each (rule, action glob) pair sits in exactly one bucket: keyed by the glob's literal
 * first segment when it has one (`ssh` for ssh.exec), else by its literal last segment
 * (`exec` for **.exec), else in the residual wildcard bucket. */
struct ag__tier_index {
    struct ag__table head;
    struct ag__table tail;
    struct ag__entry *entries;
    uint32_t wild_first, wild_count;
};

struct ag_policy {
    struct ag__arena arena;
    const char *path;
    char hash[65]; /* lowercase hex SHA-256 of the file's bytes */
    int version;
    struct ag_tier_info tiers[AG_TIER_COUNT];
    struct ag_sandbox_profile sandbox[AG_TIER_COUNT];
    struct ag_promotion_rule *promotions;
    size_t npromotions;
    struct ag__rule *rules; /* in file order */
    size_t nrules;
    struct ag__tier_index index[AG_TIER_COUNT];
};

#endif
