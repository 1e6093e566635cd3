/* The stop signals of a process that ends its work cleanly when asked to (agentgov run,
 * pipeline, orchestrate, the hook helper). */
#ifndef AG_CORE_STOPSIG_H
#define AG_CORE_STOPSIG_H

#include <signal.h>

/* SIGINT, SIGTERM and SIGHUP set *flag to 1 (without SA_RESTART, so that a blocking wait
 * returns EINTR and the flag is looked at), and SIGPIPE is ignored (a closed output is
 * an error to report, not a reason to die halfway). One flag per process: the last
 * call's. */
void ag__catch_stop_signals(volatile sig_atomic_t *flag);

#endif
