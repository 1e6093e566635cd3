/* Where policy files are found. Ownership: returned paths are static (computed once,
 * thread-safe) or written into the caller's buffer. */
#ifndef AG_POLICY_PATH_H
#define AG_POLICY_PATH_H

#include <stddef.h>

/* The shipped default policy: <dir of /proc/self/exe>/../policies/default.yaml when that
 * file exists (a build tree or an install prefix), else AG_POLICY_DIR/default.yaml (set
 * at compile time). The second path is returned even when missing, so that the load
 * error names where the policy was looked for. */
const char *ag__policy_default_path(void);

/* The policy a command should use: flag when non-NULL, else <datadir>/policy.yaml when
 * datadir is non-NULL and that file is present (a dangling symlink included, so
 * that loading it fails under its name), else ag__policy_default_path(). Returns
 * flag, buf or the static default path. */
const char *ag__policy_resolve(const char *flag, const char *datadir, char *buf, size_t len);

#endif
