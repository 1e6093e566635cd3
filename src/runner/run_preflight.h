/* PREFLIGHT checks of a governed run: the packet's scope, required steps and
 * deliverables, judged against the policy at the agent's tier before anything runs.
 * Pure: no I/O. Ownership: nothing is allocated; the caller's buffer gets the problem. */
#ifndef AG_RUNNER_RUN_PREFLIGHT_H
#define AG_RUNNER_RUN_PREFLIGHT_H

#include <stddef.h>

#include "agentgov/gov.h"
#include "agentgov/policy.h"

/* A probe resource for a scope glob: each segment holding a wildcard becomes
 * "preflight", so sandbox/ followed by a double star probes "sandbox/preflight". */
void ag__run_probe_resource(const char *glob, char *out, size_t cap);

/* 1 when name is a safe path relative to the workdir: not empty, not absolute, no
 * "." or ".." segment, no empty segment. */
int ag__run_relpath_ok(const char *name);

/* Checks, in order: every scope entry is a non-empty glob; every deliverable and
 * required artifact is a safe relative path (they are files in the workdir); every
 * required step is an action the policy allows (or asks for) at this tier in some
 * phase of the run on a probe resource of the scope, and the packet does not forbid
 * it. Returns 1 when all hold, else 0 with the first problem in problem. */
int ag__run_preflight(const ag_policy *pol, const ag_packet *pk, int tier, char *problem,
                      size_t cap);

#endif
