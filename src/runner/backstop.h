/* The grant list of a kernel backstop: which paths a confined process may list, read or
 * write. Landlock only grants, and a right granted on a directory holds for everything
 * beneath it, so a subtree that must get less than its parent (an unreadable ~/.ssh in
 * a readable $HOME, a read-only .git/hooks in a writable project) is carved out: the
 * parent gets only what every carved entry may have, and each of its other entries is
 * granted on its own (docs/sandbox.md, "The coding-agent backstop", says what this costs).
 * Ownership: struct ag__wants and struct ag__grants are caller-owned (ag__wants_free,
 * ag__grants_free accept empty ones); both copy every path they are given; the `why`
 * strings are static and never copied. */
#ifndef AG_RUNNER_BACKSTOP_H
#define AG_RUNNER_BACKSTOP_H

#include <stddef.h>

#include "agentgov/err.h"

/* Access levels, each including the ones before it. LIST reads a directory's entry
 * names (not the files); READ also reads files and executes them; WRITE also creates,
 * writes, truncates, renames and removes. */
enum { AG__ACC_NONE = 0, AG__ACC_LIST = 1, AG__ACC_READ = 2, AG__ACC_WRITE = 3 };
/* "none", "list", "read", "write". */
const char *ag__access_name(int access);

/* What should be reachable: the subtree at `path` gets `access` unless a deeper want
 * says otherwise. A pattern want applies to every entry under `root` whose last path
 * components match `pattern` (fnmatch, '*' within one component: ".env", ".env.*",
 * ".aws/credentials"); it is expanded by a walk of root when the list is built. */
struct ag__want {
    char *path;
    int access;
    const char *why;
};
struct ag__want_pattern {
    char *root;
    char *pattern;
    int ncomp; /* components in pattern */
    int access;
    const char *why;
};
struct ag__wants {
    struct ag__want *v;
    size_t n, cap;
    struct ag__want_pattern *pat;
    size_t npat, patcap;
};

/* Adds a want for an absolute path (made canonical when it, or its parent, exists). Two
 * wants for one path keep the lower access: in doubt, less. AG_EINVAL for a relative
 * path. */
AG_MUST_USE ag_err ag__wants_add(struct ag__wants *w, const char *path, int access,
                                 const char *why);
/* Adds a pattern want (see above); root must be absolute. */
AG_MUST_USE ag_err ag__wants_add_pattern(struct ag__wants *w, const char *root, const char *pattern,
                                         int access, const char *why);
void ag__wants_free(struct ag__wants *w);

/* One Landlock rule: path (canonical, existing when the list was built) and its access. */
struct ag__grant {
    char *path;
    int access;
    const char *why;
};
struct ag__grants {
    struct ag__grant *v;
    size_t n, cap;
    size_t walked; /* entries the pattern walk visited */
};

/* The default for walk_max: entries a pattern walk may visit before the build fails. */
#define AG__BACKSTOP_WALK_MAX 500000

/* Builds the grant list of w, in path order: expands the patterns (walking at most
 * walk_max entries in all; 0 means AG__BACKSTOP_WALK_MAX), then grants each wanted
 * subtree, enumerating a directory's entries wherever something beneath it must get
 * less. Symbolic links met while enumerating are not granted (what they point to keeps
 * its own rights). Errors: AG_ELIMIT when the walk passes walk_max (the detail names the
 * root: fail closed rather than leave a match unseen), AG_EIO when a directory that
 * must be enumerated cannot be read, AG_ENOMEM. */
AG_MUST_USE ag_err ag__grants_build(struct ag__wants *w, size_t walk_max, struct ag__grants *out);
void ag__grants_free(struct ag__grants *g);

/* The list as text, one grant a line: "write  /home/ana/proj/src  (the project)". */
AG_MUST_USE ag_err ag__grants_text(const struct ag__grants *g, char **out);

#endif
