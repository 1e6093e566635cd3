/* Files of a governed run: SHA-256 of artifacts, deliverables resolved inside the
 * workdir, and the run directory's housekeeping. Ownership: callers pass buffers;
 * nothing returned needs freeing. */
#ifndef AG_RUNNER_RUN_FILES_H
#define AG_RUNNER_RUN_FILES_H

#include <limits.h>
#include <stdint.h>

#include "agentgov/err.h"

/* Lowercase hex SHA-256 and size of a file, streamed (any size). */
AG_MUST_USE ag_err ag__run_hash_file(const char *path, char hex[65], int64_t *bytes);

/* Resolves a deliverable name (a safe relative path, see ag__run_relpath_ok) inside
 * workdir into path. AG_ENOTFOUND when it is missing or not a regular file;
 * AG_EPERM when it resolves outside the workdir (a symlink that escapes). */
AG_MUST_USE ag_err ag__run_deliverable(const char *workdir, const char *name, char path[PATH_MAX]);

/* Removes a directory's files and empty subdirectories, then the directory itself;
 * best effort (what the child left behind in its view of the data directory). */
void ag__run_rmdir(const char *dir);

#endif
