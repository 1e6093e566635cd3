/* What `agentgov notify` and `agentgov approval` share: the outbox of the data
 * directory's configuration, and `notify test`, which only the daemon binary can send
 * (the lean binary runs agentgovd for it). Ownership: the caller frees the handle. */
#ifndef AG_CLI_NOTIFYCTX_H
#define AG_CLI_NOTIFYCTX_H

#include "agentgov/approve.h"
#include "agentgov/notify.h"
#include "cli/govctx.h"

/* Opens the outbox over c's store and ledger; 0, or the exit status after printing. */
int ag__cli_notify_open(struct ag__cli_gov *c, ag_notify **n);
/* Wires an approvals handle to the outbox (best effort: a warning when notifications
 * are misconfigured); the daemon delivers what is queued. Returns the handle or NULL. */
ag_notify *ag__cli_notify_approvals(struct ag__cli_gov *c, ag_approve *ap);
/* `notify test CHANNEL` (argv[0] = "notify"). */
int ag__cli_notify_test(int argc, char **argv);

#endif
