/* The end of a governed child's process tree. A child can leave its process group and
 * session (setsid) and its parent (a double fork), out of reach of a signal to the
 * group; as a child subreaper the runner adopts such orphans, and at the end of the
 * run it kills and reaps every process still descending from it.
 * Ownership: nothing to free; the functions act on the calling process. */
#ifndef AG_RUNNER_RUN_REAP_H
#define AG_RUNNER_RUN_REAP_H

#include <stdint.h>

/* Makes the calling process the child subreaper of its descendants (prctl
 * PR_SET_CHILD_SUBREAPER): orphans reparent to it instead of to init. Returns 0, or -1
 * with errno. */
int ag__reap_adopt(void);

/* SIGKILLs every descendant of the calling process (found through the parent pids of
 * /proc/<pid>/stat), reaps those that become its children, and repeats until none is
 * left or budget_ms has passed. Meant for a process whose only children are the
 * governed ones. Returns how many processes it reaped; *left (may be NULL) gets how
 * many descendants its last round still found (0 unless the budget ran out). */
int ag__reap_descendants(int64_t budget_ms, int *left);

#endif
