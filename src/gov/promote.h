/* Promotion engine internals: agent_metrics from ledger rows. Ownership: callers own
 * every struct passed in. */
#ifndef AG_GOV_PROMOTE_H
#define AG_GOV_PROMOTE_H

#include "gov/gov.h"

/* Folds one ledger row (the export JSON) into m, in seq order, with the rules of the
 * ledger's agent_metrics view: a run is a lifecycle row at phase EXIT, compliant when
 * its success is 1; the streak restarts after a revocation, a promotion (tier change)
 * or a non-compliant run. */
void ag__metrics_fold(struct ag_agent_metrics *m, const char *row_json);

#endif
