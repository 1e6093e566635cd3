/* The hook helper: one process per data directory that answers `agentgov hook` events
 * over <data dir>/hook.sock with the ledger already open and the compiled policies
 * kept, so that a hook process only forwards its event and prints the answer. The
 * first hook that finds no helper decides in process, as without one, and then starts
 * one in the background; the helper stops after hook.helper_idle without events, when
 * its socket or data directory goes away, on SIGTERM, or when a hook from another build
 * of agentgov reaches it. Decisions, ledger entries and answers are the same either
 * way (docs/hooks.md). */
#ifndef AG_HOOK_HOOK_HELPER_H
#define AG_HOOK_HOOK_HELPER_H

#include <stddef.h>
#include <stdint.h>

#include "hook/hook_eval.h"

enum ag__helper_result {
    AG__HELPER_SERVED,      /* *code and out hold the helper's answer */
    AG__HELPER_UNAVAILABLE, /* no helper took the event: decide in process */
    AG__HELPER_FAILED       /* the helper was told to decide and did not answer: deny */
};

/* How long a hook waits for the helper to take its event before it decides in process,
 * and then how long for the answer before it denies. */
#define AG__HELPER_TAKE_MS   2000
#define AG__HELPER_TIMEOUT_S 15

/* ag_hook_helper_wanted, ag_hook_helper_idle_ms, ag_hook_helper_spawn,
 * ag_hook_helper_run and ag_hook_helper_control are public (agentgov/hook.h). */

/* A connected socket to the data directory's helper, checked to run as this user (non-
 * blocking: a full backlog is no helper), or -1. */
int ag__hook_helper_connect(ag_home *home);

enum ag__helper_result ag__hook_helper_ask(const struct ag_hook_opts *o, const char *text,
                                           size_t len, int *code, struct ag__hook_out *out);

#endif
