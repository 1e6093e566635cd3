/* Could a shell glob name a file a rule protects? `cat ~/.s?h/id_ed25519` matches
 * ~/.ssh/id_ed25519 only if that file exists; the hook judges the pattern as if it did.
 * Pure: no I/O, no allocation. */
#ifndef AG_HOOK_SHELL_GLOB_H
#define AG_HOOK_SHELL_GLOB_H

#include "agentgov/policy.h"

/* 1 and *d (deny or ask, the rule) when a deny or ask rule for action at tier (a rule
 * without phases, as for every hook request) has a resource that shares a path with
 * pattern, a shell glob in resource form (no leading '/'; * ? [...] within a
 * segment, '\' escapes; a leading '.' of a name only matched literally, as the shell
 * does). A pattern or resource over 1 KiB is taken to meet every rule. Deny beats ask; among equals
 * the first rule. 0 when none. */
int ag__shell_pattern_hit(const ag_policy *p, int tier, const char *action, const char *pattern,
                          struct ag_decision *d);

/* 1 when the shell glob pattern and the policy resource glob rule share a path. */
int ag__shell_globs_meet(const char *pattern, const char *rule);

#endif
