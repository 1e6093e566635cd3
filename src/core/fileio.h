/* Whole-file reads and crash-safe writes. Ownership: ag__read_file returns a malloc'd
 * buffer the caller frees. */
#ifndef AG_CORE_FILEIO_H
#define AG_CORE_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "agentgov/err.h"

/* Reads a whole file (up to max bytes) into a NUL-terminated malloc'd buffer. */
AG_MUST_USE ag_err ag__read_file(const char *path, size_t max, char **data, size_t *len);
/* Writes data to path atomically: temp file in the same directory, fsync, rename, fsync
 * of the directory. mode is applied to the new file (e.g. 0600 for keys). With excl set
 * it fails with AG_EEXIST instead of replacing an existing file. The temp file has a
 * random name and is created exclusively, never through a symlink, so the directory
 * may be writable by others; a symlink at path itself is replaced, not followed. */
AG_MUST_USE ag_err ag__write_file_atomic(const char *path, const void *data, size_t len,
                                         mode_t mode, int excl);
/* Opens rel beneath the directory dirfd: openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS (and RESOLVE_NO_SYMLINKS with no_symlinks), O_CLOEXEC added.
 * Where openat2 is missing (kernels before 5.6, valgrind), it walks rel one component
 * at a time with O_NOFOLLOW and resolves ".." and symbolic links itself, with
 * openat2's answers: EXDEV for an absolute rel or link or a ".." above dirfd, ELOOP
 * for a link under no_symlinks. Returns the fd, or -1 with errno set. */
int ag__open_beneath(int dirfd, const char *rel, int flags, mode_t mode, int no_symlinks);
/* Tests only: nonzero makes ag__open_beneath take its fallback even where openat2 is
 * there, so that the tests hold both to the same answers. */
extern int ag__open_beneath_walk_only;
/* mkdir -p with the given mode for directories it creates. */
AG_MUST_USE ag_err ag__mkdir_p(const char *path, mode_t mode);

#endif
