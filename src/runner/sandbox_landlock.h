/* The Landlock half of the sandbox. Ownership: struct ag__areas is caller-owned
 * (ag__areas_free releases its paths); the ruleset fd goes to the sandbox. */
#ifndef AG_RUNNER_SANDBOX_LANDLOCK_H
#define AG_RUNNER_SANDBOX_LANDLOCK_H

#include "runner/sandbox_state.h"

#define AG__MAX_AREAS 64

/* Canonical paths, without duplicates. */
struct ag__areas {
    char *path[AG__MAX_AREAS];
    size_t n;
};

/* Frees the paths of a (not a itself) and empties it. */
void ag__areas_free(struct ag__areas *a);
/* Writable areas: the workdir (when the profile allows) and the profile's write
 * paths, narrowed by the filesystem-naming scope entries to their intersection. */
AG_MUST_USE ag_err ag__sandbox_compute_writes(const struct ag_sandbox_profile *p,
                                              const char *workdir, const char *const *scope,
                                              size_t nscope, struct ag__areas *out);
/* Builds the Landlock ruleset of profile p with the writable areas into sb
 * (sb->ruleset_fd), for the ABI sb->abi. With grants (non-NULL), the paths are those
 * of the grant list instead of the workdir, the profile's paths and writes. */
AG_MUST_USE ag_err ag__ll_build(struct ag__sandbox *sb, const struct ag_sandbox_profile *p,
                                const struct ag__areas *writes, const struct ag__grant *grants,
                                size_t ngrants);

#endif
