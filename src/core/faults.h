/* Fault injection for the chaos harness (scripts/chaos.py), compiled only into the test
 * build (make faults: build/faults/, -DAG_FAULTS); in every other build this header
 * declares nothing that is linked. Ownership: process-wide state, set from a control
 * file named by $AGENTGOV_FAULTS, re-read when it changes (at most every 20 ms).
 *
 * The control file holds lines of `word value`:
 *   clock MS    the wall clock (ag__wall_ms) runs MS milliseconds ahead (negative: behind)
 *   write N     the next N writes to the ledger's files (ledger.db, its WAL) fail (EIO)
 *   fsync N     the next N syncs of those files fail
 * An empty or missing file: no fault. */
#ifndef AG_CORE_FAULTS_H
#define AG_CORE_FAULTS_H

#include <stdint.h>

#ifdef AG_FAULTS
/* The clock offset in ms (0 without a control file). */
int64_t ag__fault_clock_offset_ms(void);
#endif

#endif
