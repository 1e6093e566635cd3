/* The steps of a run after its child ended: artifacts, handoff, report. Ownership: each
 * fills the run state it is given (the report goes to its result). */
#ifndef AG_RUNNER_RUN_REPORT_H
#define AG_RUNNER_RUN_REPORT_H

#include "runner/run_state.h"

/* The deliverables and required artifacts found in the workdir go to the task's
 * artifact list before VERIFY (the lifecycle checks the required ones there); the
 * required ones that are missing are noted. */
void ag__run_collect_deliverables(struct ag__run *R);
/* VERIFY: the child exited 0 and no required artifact is missing; records the phase. */
void ag__run_verify(struct ag__run *R);
/* The run's stdout and stderr captures, as artifacts. */
void ag__run_add_logs(struct ag__run *R);
/* What became of the child, in words, into buf (cap bytes); returns buf. */
const char *ag__run_child_fate(const struct ag__run *R, char *buf, size_t cap);
/* The HandoffObject a revoked run leaves for the next agent on the task. */
void ag__run_write_handoff(struct ag__run *R);
/* Renders the report into the result and, with to_file, writes it (atomically,
 * 0644). */
void ag__run_write_report(struct ag__run *R, int to_file);

#endif
