/* The steps of a run before its child starts. Ownership: each fills the run state it
 * is given; nothing is allocated for the caller. */
#ifndef AG_RUNNER_RUN_PREP_H
#define AG_RUNNER_RUN_PREP_H

#include "runner/run_state.h"

/* The run's packet: from the options, else the agent's stored one; R->pk stays NULL
 * when there is none. */
AG_MUST_USE ag_err ag__run_load_packet(struct ag__run *R);
/* Registers the agent or checks its tier, and stores the packet. Returns 0 to go
 * on, or 1 after setting a refusal. A barred (revoked) agent is left untouched, so
 * that bootstrap refuses it: re-registering would lift the bar. */
int ag__run_prepare_agent(struct ag__run *R);
/* Checks that need no lock: the packet's preflight and the sandbox. Returns 0 to go
 * on, or 1 after setting a refusal (ledgered). */
int ag__run_prechecks(struct ag__run *R);
/* Bootstraps the run (ag_gov_bootstrap): its task, code and handoff. Returns 0 to go
 * on, or 1 after setting a refusal or an error. */
int ag__run_bootstrap(struct ag__run *R);
/* An AppRole role for the agent ("run.<agent id>", bound to it and its tier), a
 * one-use secret ID, and a login: the child's short-lived token. */
AG_MUST_USE ag_err ag__run_login(struct ag__run *R);

#endif
