/* Human gates of pipeline runs: each gate IS an approval of the approvals module
 * (src/approve/), opened under an id derived from the run and the stage, so that a
 * resumed run finds the same approval; `agentgov approval` lists and decides it like any
 * other, and `agentgov pipeline approve|deny` is a shortcut to it. The scheduler only
 * opens a gate and polls it. Ownership: callers pass their own buffers and handles. */
#ifndef AG_PIPELINE_GATE_H
#define AG_PIPELINE_GATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "agentgov/approve.h"
#include "agentgov/ledger.h"
#include "agentgov/store.h"

enum ag__gate_status { AG__GATE_PENDING, AG__GATE_APPROVED, AG__GATE_DENIED, AG__GATE_TIMED_OUT };

/* The approval id of the gate of stage in run. */
void ag__pl_gate_id(const char *run, const char *stage, char id[AG_APPROVAL_ID_BUF]);

struct ag__pl_gates {
    /* Opens the gate's approval unless it exists already (a resumed run keeps its
     * gate, deadline and answers). approvers are names ("user:" is implied) or
     * "role:R" / "tier:N"; none: anyone may answer. */
    AG_MUST_USE ag_err (*open)(ag_store *s, ag_ledger *l, const char *run, const char *pipeline,
                               const char *stage, int64_t deadline_ms, const char *const *approvers,
                               size_t n, int required);
    /* The gate's status, computed when read (past its deadline: timed out); msg says
     * who answered. AG_ENOTFOUND when it was never opened. */
    AG_MUST_USE ag_err (*poll)(ag_store *s, const char *run, const char *stage,
                               enum ag__gate_status *st, char *msg, size_t cap);
    /* Withdraws the gate's approval if it is still pending (the run was cancelled or
     * ended without it); AG_OK when there is none or it was already decided. */
    AG_MUST_USE ag_err (*withdraw)(ag_store *s, ag_ledger *l, const char *run, const char *stage,
                                   const char *reason);
};

/* The gates on approvals. */
extern const struct ag__pl_gates ag__pl_approval_gates;

/* The gate as `pipeline status` shows it ({"approval_id","status","approvers",
 * "approvals","required","deadline","answer"}); *out NULL when it was never opened. */
AG_MUST_USE ag_err ag__pl_gate_json(ag_store *s, const char *run, const char *stage, json_t **out);

#endif
