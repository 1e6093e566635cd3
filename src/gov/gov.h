/* Internal side of the governance handle: its struct, key names, the per-agent
 * session cache and the packet cache, shared by gov.c, lifecycle.c and promote.c.
 * Ownership: struct ag_gov owns its caches; cached packets are reference-counted and
 * handed out with ag__gov_packet_get / ag__gov_packet_put. */
#ifndef AG_GOV_GOV_H
#define AG_GOV_GOV_H

#include <pthread.h>
#include <stdint.h>

#include "agentgov/gov.h"

/* Best-effort calls whose failure changes nothing for the caller (warn_unused_result
 * is not silenced by a (void) cast in GCC). */
#define AG__IGNORE(x)                                                                              \
    do {                                                                                           \
        if (x) {                                                                                   \
        }                                                                                          \
    } while (0)

#define AG__ID_MAX      128
#define AG__KEY_MAX     192
#define AG__LOCKVAL_MAX 192

/* Durable keys besides the seed's: the registry of agents (hash id -> JSON) and the
 * heartbeat deadline index (sorted set, member = agent id, score = last beat in ms). */
#define AG__KEY_REGISTRY    "agents:registry"
#define AG__KEY_HB_INDEX    "agents:heartbeats"
#define AG__KEY_REVOCATIONS "revocations:ledger"
/* The latest entry of revocations:ledger per agent (hash id -> the same JSON), so that a
 * bootstrap checks one field instead of reading the whole history. */
#define AG__KEY_REV_INDEX "revocations:index"

/* What one agent's current run looks like, as recorded in agent:{id}:state. */
struct ag__session {
    char agent_id[AG__ID_MAX + 1];
    char task_id[AG__ID_MAX + 1];
    char owner[33]; /* random run id: the lock owner */
    int64_t fence;  /* fencing token of the lock */
    int tier;
    enum ag_phase phase; /* AG_PHASE_NONE when revoked */
    int revoked;
    char step[AG__ID_MAX + 1];
    char packet[65]; /* digest of the packet in force */
    char agent_version[64];
    int64_t started_ms;
};

struct ag__pkt {
    char digest[65];
    ag_packet *p;
    int refs; /* the cache holds one; each user one more (under g->mu) */
    struct ag__pkt *next;
};

struct ag__sess_node {
    struct ag__session s;
    struct ag__sess_node *next;
};

struct ag_gov {
    ag_store *store;
    ag_ledger *ledger;
    const ag_policy *policy;
    struct ag_gov_opts o;
    ag_gov_revoke_hook hook;
    void *hook_ctx;
    pthread_mutex_t mu; /* guards the two caches */
    struct ag__pkt *pkts;
    size_t npkts;
    struct ag__sess_node *sess;
    size_t nsess;
};

/* Agent and task ids: 1..128 of [A-Za-z0-9._@-], so they never break a key. */
AG_MUST_USE ag_err ag__gov_check_id(const char *what, const char *id);
/* "agent:{id}:{suffix}" / "task:{id}:{suffix}" / "handoff:{task}:latest". */
void ag__key_agent(char *buf, const char *id, const char *suffix);
void ag__key_task(char *buf, const char *id, const char *suffix);
void ag__key_handoff(char *buf, const char *task);

/* Packet by digest from the cache, else parsed from `json` (when given) and cached.
 * Returns NULL with ag_last_error set when neither works. */
struct ag__pkt *ag__gov_packet_get(ag_gov *g, const char *digest, const char *json);
void ag__gov_packet_put(ag_gov *g, struct ag__pkt *pk);

/* Session cache: copy out (1 if found), store, forget. */
int ag__gov_sess_get(ag_gov *g, const char *agent_id, struct ag__session *out);
void ag__gov_sess_put(ag_gov *g, const struct ag__session *s);
void ag__gov_sess_drop(ag_gov *g, const char *agent_id);

/* State JSON <-> session. */
AG_MUST_USE ag_err ag__state_encode(const struct ag__session *s, const char *extra_json,
                                    char **json);
AG_MUST_USE ag_err ag__state_decode(const char *json, struct ag__session *s);

/* Registry entry of an agent: tier and registration time (ms); *found = 0 if none. */
AG_MUST_USE ag_err ag__registry_get(ag_gov *g, const char *agent_id, int *found, int *tier,
                                    int64_t *registered_ms);
AG_MUST_USE ag_err ag__registry_set_tier(ag_gov *g, const char *agent_id, int tier);

/* Ledger append with the common columns filled; -1/NULL for the rest. */
struct ag__lentry {
    const char *kind, *agent, *task, *phase, *action, *resource, *decision, *reason;
    const char *error_type, *error_message, *data, *agent_version;
    int tier, success, confidence;
};
void ag__lentry_init(struct ag__lentry *e, const char *kind, const char *agent);
AG_MUST_USE ag_err ag__gov_ledger(ag_gov *g, const struct ag__lentry *e, int64_t *seq);

/* Auto-promotion check after a compliant run (rules without approval only). */
void ag__gov_auto_promote(ag_gov *g, const char *agent_id);

#endif
