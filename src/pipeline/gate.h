/* Human gates of pipeline runs, behind a small interface so that they can move onto
 * the approvals module (src/approve/) when it lands: the scheduler only opens a gate
 * and polls it. Today's implementation keeps each gate as one JSON record on the
 * state store (pipeline:{run}:gate:{stage}), answered by `agentgov pipeline
 * approve|deny` through ag_pipeline_gate_answer, updated by compare-and-set.
 * Ownership: callers pass their own buffers. */
#ifndef AG_PIPELINE_GATE_H
#define AG_PIPELINE_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/ledger.h"
#include "agentgov/store.h"

enum ag__gate_status { AG__GATE_PENDING, AG__GATE_APPROVED, AG__GATE_DENIED, AG__GATE_TIMED_OUT };

struct ag__pl_gates {
    /* Opens the gate unless it exists already (a resumed run keeps its gate). */
    AG_MUST_USE ag_err (*open)(ag_store *s, const char *run, const char *stage, int64_t deadline_ms,
                               const char *const *approvers, size_t n, int required,
                               int64_t ttl_ms);
    /* The gate's status at wall time now (a pending gate past its deadline is timed
     * out, durably); msg says who answered. */
    AG_MUST_USE ag_err (*poll)(ag_store *s, const char *run, const char *stage, int64_t now,
                               enum ag__gate_status *st, char *msg, size_t cap);
};

/* The store-backed gates. */
extern const struct ag__pl_gates ag__pl_store_gates;

#endif
