/* The sandbox's Landlock half: the writable areas a profile gives, and the ruleset
 * built from them (raw syscalls: Debian 12's headers stop at ABI 2). */
#include "runner/sandbox_landlock.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "runner/sandbox_state.h"

/* Landlock UAPI, restated here because Debian 12's <linux/landlock.h> stops at ABI 2
 * while the kernels we run on go to ABI 7. Values are fixed by the kernel ABI. */
struct ag__ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};
struct ag__ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
struct ag__ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};
#define LL_CREATE_RULESET_VERSION     (1U << 0)
#define LL_RULE_PATH_BENEATH          1
#define LL_RULE_NET_PORT              2
#define LL_FS_EXECUTE                 (1ULL << 0)
#define LL_FS_WRITE_FILE              (1ULL << 1)
#define LL_FS_READ_FILE               (1ULL << 2)
#define LL_FS_READ_DIR                (1ULL << 3)
#define LL_FS_REMOVE_DIR              (1ULL << 4)
#define LL_FS_REMOVE_FILE             (1ULL << 5)
#define LL_FS_MAKE_CHAR               (1ULL << 6)
#define LL_FS_MAKE_DIR                (1ULL << 7)
#define LL_FS_MAKE_REG                (1ULL << 8)
#define LL_FS_MAKE_SOCK               (1ULL << 9)
#define LL_FS_MAKE_FIFO               (1ULL << 10)
#define LL_FS_MAKE_BLOCK              (1ULL << 11)
#define LL_FS_MAKE_SYM                (1ULL << 12)
#define LL_FS_REFER                   (1ULL << 13) /* ABI 2 */
#define LL_FS_TRUNCATE                (1ULL << 14) /* ABI 3 */
#define LL_FS_IOCTL_DEV               (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP               (1ULL << 0)  /* ABI 4 */
#define LL_NET_CONNECT_TCP            (1ULL << 1)  /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)  /* ABI 6 */
#define LL_SCOPE_SIGNAL               (1ULL << 1)  /* ABI 6 */

/* Rights that Landlock accepts on a rule whose target is a file, not a directory. */
#define LL_FS_FILE_RIGHTS                                                                          \
    (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)
#define LL_FS_READ (LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR)
/* Device nodes are never created, whatever the tier. */
#define LL_FS_WRITE_BASE                                                                           \
    (LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_DIR | LL_FS_MAKE_REG |   \
     LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_SYM)

/* Devices every program expects to open (shell redirections to /dev/null, random
 * numbers, the controlling terminal). They get file rights only, never MAKE_CHAR. */
static const struct {
    const char *path;
    int writable;
} base_devices[] = {
    {"/dev/null", 1}, {"/dev/zero", 1},   {"/dev/full", 1},
    {"/dev/tty", 1},  {"/dev/random", 0}, {"/dev/urandom", 0},
};

static long ll_create_ruleset(const struct ag__ll_ruleset_attr *attr, size_t size, uint32_t flags)
{
    return syscall(__NR_landlock_create_ruleset, attr, size, flags);
}

int ag__landlock_abi(void)
{
    static int cached = -1;
    if (cached < 0) {
        long v = ll_create_ruleset(NULL, 0, LL_CREATE_RULESET_VERSION);
        cached = v < 0 ? 0 : (int)v;
    }
    return cached;
}

/* ------------------------------------------------------------------------------- */
/* Paths                                                                            */

void ag__areas_free(struct ag__areas *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->path[i]);
    a->n = 0;
}

static ag_err areas_add(struct ag__areas *a, const char *path)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->path[i], path) == 0)
            return AG_OK;
    if (a->n == AG__MAX_AREAS)
        return ag__fail(AG_ELIMIT, "sandbox: more than %d paths", AG__MAX_AREAS);
    if ((a->path[a->n] = strdup(path)) == NULL)
        return AG_ENOMEM;
    a->n++;
    return AG_OK;
}

/* 1 when path is dir itself or lies beneath it (both canonical). */
static int path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0)
        return 1;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The filesystem location a scope glob starts from: "/" + its literal prefix up to
 * the last '/' before the first wildcard, canonicalised. Returns 0 and fills out
 * when that location exists, -1 when the glob does not name one. */
static int scope_location(const char *glob, char out[PATH_MAX])
{
    char lit[PATH_MAX];
    const char *g = glob[0] == '/' ? glob + 1 : glob;
    size_t n = strcspn(g, "*?[{");
    if (n + 2 > sizeof lit)
        return -1;
    lit[0] = '/';
    memcpy(lit + 1, g, n);
    lit[n + 1] = '\0';
    if (g[n] != '\0') { /* a wildcard follows: keep only whole segments */
        char *slash = strrchr(lit, '/');
        slash[slash == lit ? 1 : 0] = '\0';
    }
    return realpath(lit, out) ? 0 : -1;
}

/* Writable areas: the workdir (when the profile allows) and the profile's write
 * paths, narrowed by the filesystem-naming scope entries to their intersection. */
ag_err ag__sandbox_compute_writes(const struct ag_sandbox_profile *p, const char *workdir,
                                  const char *const *scope, size_t nscope, struct ag__areas *out)
{
    struct ag__areas base = {0};
    char real[PATH_MAX];
    ag_err err = AG_OK;
    if (p->workdir_write)
        err = areas_add(&base, workdir);
    for (size_t i = 0; err == AG_OK && i < p->nwrite; i++)
        if (p->write_paths[i] && realpath(p->write_paths[i], real))
            err = areas_add(&base, real);
    int fs_scope = 0;
    for (size_t s = 0; err == AG_OK && s < nscope; s++) {
        if (!scope[s] || scope_location(scope[s], real) != 0)
            continue;
        fs_scope = 1;
        for (size_t i = 0; err == AG_OK && i < base.n; i++) {
            if (path_within(real, base.path[i]))
                err = areas_add(out, real);
            else if (path_within(base.path[i], real))
                err = areas_add(out, base.path[i]);
        }
    }
    for (size_t i = 0; err == AG_OK && !fs_scope && i < base.n; i++)
        err = areas_add(out, base.path[i]);
    ag__areas_free(&base);
    return err;
}

/* ------------------------------------------------------------------------------- */
/* Landlock                                                                         */

static uint64_t fs_handled(int abi)
{
    uint64_t h = LL_FS_READ | LL_FS_WRITE_BASE | LL_FS_MAKE_CHAR | LL_FS_MAKE_BLOCK;
    if (abi >= 2)
        h |= LL_FS_REFER;
    if (abi >= 3)
        h |= LL_FS_TRUNCATE;
    if (abi >= 5)
        h |= LL_FS_IOCTL_DEV;
    return h;
}

/* Adds a path rule; a path that does not exist is skipped (profiles list system
 * directories that not every distribution has). */
static ag_err ll_add_path(int rfd, const char *path, uint64_t access, uint64_t handled)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return AG_OK;
        return ag__fail(AG_ESANDBOX, "sandbox: open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        access &= LL_FS_FILE_RIGHTS;
    if ((access & handled) == 0) { /* "list" on a file: nothing to grant */
        close(fd);
        return AG_OK;
    }
    struct ag__ll_path_beneath_attr pb = {.allowed_access = access & handled, .parent_fd = fd};
    long rc = syscall(__NR_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return ag__fail(AG_ESANDBOX, "sandbox: landlock_add_rule %s: %s", path, strerror(saved));
    return AG_OK;
}

static ag_err ll_add_port(int rfd, uint16_t port, uint64_t access)
{
    struct ag__ll_net_port_attr np = {.allowed_access = access, .port = port};
    if (syscall(__NR_landlock_add_rule, rfd, LL_RULE_NET_PORT, &np, 0) != 0)
        return ag__fail(AG_ESANDBOX, "sandbox: landlock_add_rule port %u: %s", port,
                        strerror(errno));
    return AG_OK;
}

/* The Landlock rights of a grant's access level. */
static uint64_t grant_rights(int access, uint64_t write)
{
    switch (access) {
    case AG__ACC_LIST:
        return LL_FS_READ_DIR;
    case AG__ACC_READ:
        return LL_FS_READ;
    case AG__ACC_WRITE:
        return LL_FS_READ | write | LL_FS_IOCTL_DEV;
    default:
        return 0;
    }
}

static ag_err ll_add_paths(int rfd, int abi, const struct ag_sandbox_profile *p,
                           const char *workdir, const struct ag__areas *writes,
                           const struct ag__grant *grants, size_t ngrants)
{
    uint64_t handled = fs_handled(abi);
    uint64_t write =
        LL_FS_WRITE_BASE | (abi >= 2 ? LL_FS_REFER : 0) | (abi >= 3 ? LL_FS_TRUNCATE : 0);
    ag_err err = AG_OK;
    if (grants) {
        for (size_t i = 0; err == AG_OK && i < ngrants; i++)
            if (grants[i].access > AG__ACC_NONE)
                err = ll_add_path(rfd, grants[i].path, grant_rights(grants[i].access, write),
                                  handled);
    } else {
        err = ll_add_path(rfd, workdir, LL_FS_READ, handled);
        for (size_t i = 0; err == AG_OK && i < p->nread; i++)
            if (p->read_paths[i])
                err = ll_add_path(rfd, p->read_paths[i], LL_FS_READ, handled);
        for (size_t i = 0; err == AG_OK && i < writes->n; i++)
            err = ll_add_path(rfd, writes->path[i], LL_FS_READ | write | LL_FS_IOCTL_DEV, handled);
    }
    for (size_t i = 0; err == AG_OK && i < sizeof base_devices / sizeof base_devices[0]; i++) {
        uint64_t a = LL_FS_READ_FILE | LL_FS_IOCTL_DEV;
        if (base_devices[i].writable)
            a |= LL_FS_WRITE_FILE | LL_FS_TRUNCATE;
        err = ll_add_path(rfd, base_devices[i].path, a, handled);
    }
    return err;
}

ag_err ag__ll_build(struct ag__sandbox *sb, const struct ag_sandbox_profile *p,
                    const struct ag__areas *writes, const struct ag__grant *grants, size_t ngrants)
{
    int abi = sb->abi;
    struct ag__ll_ruleset_attr attr = {.handled_access_fs = fs_handled(abi)};
    if (abi >= 4)
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
    if (abi >= 6)
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
    /* Older kernels reject a struct with fields they do not know unless those are 0,
     * which they are; the size always covers the struct we fill. */
    long fd = ll_create_ruleset(&attr, sizeof attr, 0);
    if (fd < 0)
        return ag__fail(AG_ESANDBOX, "sandbox: landlock_create_ruleset (ABI %d): %s", abi,
                        strerror(errno));
    sb->ruleset_fd = (int)fd;
    ag_err err = ll_add_paths(sb->ruleset_fd, abi, p, sb->workdir, writes, grants, ngrants);
    for (size_t i = 0; err == AG_OK && abi >= 4 && i < p->nconnect; i++)
        err = ll_add_port(sb->ruleset_fd, p->connect_ports[i], LL_NET_CONNECT_TCP);
    for (size_t i = 0; err == AG_OK && abi >= 4 && i < p->nbind; i++)
        err = ll_add_port(sb->ruleset_fd, p->bind_ports[i], LL_NET_BIND_TCP);
    return err;
}
