/* Kernel sandbox: rlimits, no_new_privs, Landlock (raw syscalls) and seccomp. */
#include "runner/sandbox.h"

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

#define MAX_AREAS 64

struct ag__sandbox {
    int64_t cpu_seconds, memory_bytes, max_procs, file_bytes;
    int abi;        /* Landlock ABI in use, 0 = none */
    int ruleset_fd; /* -1 without Landlock */
    struct sock_fprog prog;
    char *workdir;
};

/* Devices every program expects to open (shell redirections to /dev/null, random
 * numbers, the controlling terminal). They get file rights only, never MAKE_CHAR. */
static const struct {
    const char *path;
    int writable;
} base_devices[] = {
    {"/dev/null", 1}, {"/dev/zero", 1},   {"/dev/full", 1},
    {"/dev/tty", 1},  {"/dev/random", 0}, {"/dev/urandom", 0},
};

/* Syscalls refused with EPERM in every tier: process inspection, mounts, kernel
 * code loading, reboot, swap, namespaces joined by fd, io_uring (its operations
 * bypass seccomp), handle-based opens, userfaultfd, perf events, and the kernel
 * keyring (keyrings follow the uid, not the sandbox: a child would read and plant
 * the keys of every process of its user, the runner's included). */
static const char *const denied_syscalls[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "open_tree",
    "mount_setattr",
    "kexec_load",
    "kexec_file_load",
    "bpf",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "setns",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_by_handle_at",
    "userfaultfd",
    "perf_event_open",
    "add_key",
    "keyctl",
    "request_key",
    NULL,
};

const char *const *ag__sandbox_denied_syscalls(void)
{
    return denied_syscalls;
}

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

static int has_ip(const struct ag_sandbox_profile *p)
{
    return p->nconnect + p->nbind > 0;
}

/* What each Landlock ABI brings that the profile relies on. Without one of these the
 * sandbox has a hole, not merely a coarser rule: truncate(2) of any file the uid may
 * write, ioctls on opened devices, TCP to any port, signals to the runner. (REFER,
 * ABI 2, is not listed: ABI 1 refuses every cross-directory rename instead.) */
static const struct {
    int abi;
    int ports; /* 1: needed only by a profile with TCP ports */
    const char *what;
} ll_features[] = {
    {1, 0, "filesystem rules (Landlock)"},
    {3, 0, "truncate rights (ABI 3)"},
    {4, 1, "TCP port rules (ABI 4)"},
    {5, 0, "device ioctl rights (ABI 5)"},
    {6, 0, "scoping of signals and abstract unix sockets (ABI 6)"},
};

size_t ag__sandbox_missing(const struct ag_sandbox_profile *p, int abi, const char **out,
                           size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof ll_features / sizeof ll_features[0]; i++)
        if (abi < ll_features[i].abi && (!ll_features[i].ports || has_ip(p)) && n < cap)
            out[n++] = ll_features[i].what;
    return n;
}

const char *ag__sandbox_missing_text(const struct ag_sandbox_profile *p, int abi, char *buf,
                                     size_t cap)
{
    const char *v[sizeof ll_features / sizeof ll_features[0]];
    size_t n = ag__sandbox_missing(p, abi, v, sizeof v / sizeof v[0]), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "; " : "", v[i]);
    return buf;
}

/* ------------------------------------------------------------------------------- */
/* Paths                                                                            */

struct areas {
    char *path[MAX_AREAS];
    size_t n;
};

static void areas_free(struct areas *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->path[i]);
    a->n = 0;
}

static ag_err areas_add(struct areas *a, const char *path)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->path[i], path) == 0)
            return AG_OK;
    if (a->n == MAX_AREAS)
        return ag__fail(AG_ELIMIT, "sandbox: more than %d paths", MAX_AREAS);
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
static ag_err compute_writes(const struct ag_sandbox_profile *p, const char *workdir,
                             const char *const *scope, size_t nscope, struct areas *out)
{
    struct areas base = {0};
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
    areas_free(&base);
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

static ag_err ll_add_paths(int rfd, int abi, const struct ag_sandbox_profile *p,
                           const char *workdir, const struct areas *writes)
{
    uint64_t handled = fs_handled(abi);
    uint64_t write =
        LL_FS_WRITE_BASE | (abi >= 2 ? LL_FS_REFER : 0) | (abi >= 3 ? LL_FS_TRUNCATE : 0);
    ag_err err = ll_add_path(rfd, workdir, LL_FS_READ, handled);
    for (size_t i = 0; err == AG_OK && i < p->nread; i++)
        if (p->read_paths[i])
            err = ll_add_path(rfd, p->read_paths[i], LL_FS_READ, handled);
    for (size_t i = 0; err == AG_OK && i < writes->n; i++)
        err = ll_add_path(rfd, writes->path[i], LL_FS_READ | write | LL_FS_IOCTL_DEV, handled);
    for (size_t i = 0; err == AG_OK && i < sizeof base_devices / sizeof base_devices[0]; i++) {
        uint64_t a = LL_FS_READ_FILE | LL_FS_IOCTL_DEV;
        if (base_devices[i].writable)
            a |= LL_FS_WRITE_FILE | LL_FS_TRUNCATE;
        err = ll_add_path(rfd, base_devices[i].path, a, handled);
    }
    return err;
}

static ag_err ll_build(struct ag__sandbox *sb, const struct ag_sandbox_profile *p,
                       const struct areas *writes)
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
    ag_err err = ll_add_paths(sb->ruleset_fd, abi, p, sb->workdir, writes);
    for (size_t i = 0; err == AG_OK && abi >= 4 && i < p->nconnect; i++)
        err = ll_add_port(sb->ruleset_fd, p->connect_ports[i], LL_NET_CONNECT_TCP);
    for (size_t i = 0; err == AG_OK && abi >= 4 && i < p->nbind; i++)
        err = ll_add_port(sb->ruleset_fd, p->bind_ports[i], LL_NET_BIND_TCP);
    return err;
}

/* ------------------------------------------------------------------------------- */
/* seccomp                                                                          */

/* seccomp compares whole 64-bit registers, but the kernel reads an int argument's low
 * 32 bits only: socket(0x100000002, ...) is socket(AF_INET, ...) to the kernel and
 * not to an unmasked rule. So every rule on an int argument compares it masked to
 * 32 bits; a rule on a flag tests its bit alone, which the high half cannot hide. */
#define ARG32(n, v)    SCMP_CMP64((n), SCMP_CMP_MASKED_EQ, 0xffffffffU, (uint32_t)(v))
#define ARGBIT(n, bit) SCMP_CMP64((n), SCMP_CMP_MASKED_EQ, (bit), (bit))
#define EPERM_ACT      SCMP_ACT_ERRNO(EPERM)
/* Families are below AF_MAX (46 on Linux 6.18); the margin covers families a newer
 * kernel adds, and every value above it (a high half included) is refused whole. */
#define AF_CEILING 64

/* The address families the child may open: netlink always (glibc's getaddrinfo lists
 * local addresses with it), IP only with ports, AF_UNIX only when the profile allows
 * named sockets (Landlock does not restrict connecting to them), and socketpair only
 * AF_UNIX. Every other family (vsock, which reaches a VM's host; SMC, RDS, TIPC,
 * packet, ...) carries traffic Landlock does not see. */
static int family_allowed(int af, const struct ag_sandbox_profile *p, int pair)
{
    if (pair)
        return af == AF_UNIX;
    if (af == AF_INET || af == AF_INET6)
        return has_ip(p);
    return af == AF_NETLINK || (af == AF_UNIX && p->unix_sockets);
}

static int sc_families(scmp_filter_ctx ctx, const struct ag_sandbox_profile *p, int nr, int pair)
{
    int rc = seccomp_rule_add(ctx, EPERM_ACT, nr, 1, SCMP_A0(SCMP_CMP_GT, AF_CEILING - 1));
    for (int af = 0; rc == 0 && af < AF_CEILING; af++)
        if (!family_allowed(af, p, pair))
            rc = seccomp_rule_add(ctx, EPERM_ACT, nr, 1, ARG32(0, af));
    return rc;
}

/* IP sockets are TCP only: Landlock's port rules see TCP and nothing else, so a UDP,
 * raw or ICMP socket (any type but SOCK_STREAM) or another stream protocol (MPTCP,
 * SCTP) would reach any port. The protocol must be 0 or IPPROTO_TCP: above it, the
 * 64-bit comparison also refuses any value with a high half. */
static int sc_tcp_only(scmp_filter_ctx ctx, int af)
{
    int rc = 0, nr = SCMP_SYS(socket);
    for (int type = 0; rc == 0 && type <= 0xf; type++)
        if (type != SOCK_STREAM)
            rc = seccomp_rule_add(ctx, EPERM_ACT, nr, 2, ARG32(0, af),
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, type));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, EPERM_ACT, nr, 2, ARG32(0, af),
                              SCMP_A2(SCMP_CMP_GT, IPPROTO_TCP));
    for (int proto = 1; rc == 0 && proto < IPPROTO_TCP; proto++)
        rc = seccomp_rule_add(ctx, EPERM_ACT, nr, 2, ARG32(0, af), ARG32(2, proto));
    return rc;
}

/* TCP Fast Open connects from sendto/sendmsg (MSG_FASTOPEN) without the connect()
 * that Landlock checks, so it would reach any port; TCP_FASTOPEN_CONNECT is its
 * connect()-based form, refused as well. */
static int sc_no_fastopen(scmp_filter_ctx ctx)
{
    int rc = seccomp_rule_add(ctx, EPERM_ACT, SCMP_SYS(sendto), 1, ARGBIT(3, MSG_FASTOPEN));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, EPERM_ACT, SCMP_SYS(sendmsg), 1, ARGBIT(2, MSG_FASTOPEN));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, EPERM_ACT, SCMP_SYS(sendmmsg), 1, ARGBIT(3, MSG_FASTOPEN));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, EPERM_ACT, SCMP_SYS(setsockopt), 2, ARG32(1, IPPROTO_TCP),
                              ARG32(2, TCP_FASTOPEN_CONNECT));
    return rc;
}

static int sc_network(scmp_filter_ctx ctx, const struct ag_sandbox_profile *p)
{
    int rc = sc_families(ctx, p, SCMP_SYS(socket), 0);
    if (rc == 0)
        rc = sc_families(ctx, p, SCMP_SYS(socketpair), 1);
    if (rc == 0 && has_ip(p))
        rc = sc_tcp_only(ctx, AF_INET);
    if (rc == 0 && has_ip(p))
        rc = sc_tcp_only(ctx, AF_INET6);
    if (rc == 0 && has_ip(p))
        rc = sc_no_fastopen(ctx);
    return rc;
}

/* No new user namespaces: unshare/clone with CLONE_NEWUSER. clone3 hides its flags in
 * memory seccomp cannot read, so it answers ENOSYS and libc falls back to clone. No
 * TIOCSTI: a child sharing the caller's terminal (`sandbox exec`) would type commands
 * into the shell that started it. */
static int sc_process(scmp_filter_ctx ctx)
{
    int rc = seccomp_rule_add(ctx, EPERM_ACT, SCMP_SYS(unshare), 1, ARGBIT(0, CLONE_NEWUSER));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, EPERM_ACT, SCMP_SYS(clone), 1, ARGBIT(0, CLONE_NEWUSER));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, EPERM_ACT, SCMP_SYS(ioctl), 1, ARG32(1, TIOCSTI));
    return rc;
}

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452 /* Linux 6.6, the same number on every architecture but alpha */
#endif

/* No setuid or setgid bits: Landlock does not govern chmod, and a child running as the
 * owner of a file outside its workdir (as root: of every system binary) could make it
 * set-id and hand its powers to any local user. By number for fchmodat2, which
 * libseccomp 2.5.4 does not know: unknown to the filter would mean allowed. */
static int sc_no_setid_bits(scmp_filter_ctx ctx)
{
    static const struct {
        int nr, mode_arg;
    } calls[] = {
        {SCMP_SYS(chmod), 1}, {SCMP_SYS(fchmod), 1}, {SCMP_SYS(fchmodat), 2}, {__NR_fchmodat2, 2}};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof calls / sizeof calls[0]; i++) {
        rc = seccomp_rule_add(ctx, EPERM_ACT, calls[i].nr, 1, ARGBIT(calls[i].mode_arg, S_ISUID));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, EPERM_ACT, calls[i].nr, 1,
                                  ARGBIT(calls[i].mode_arg, S_ISGID));
    }
    return rc;
}

static int sc_rules(scmp_filter_ctx ctx, const struct ag_sandbox_profile *p)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && denied_syscalls[i]; i++) {
        int nr = seccomp_syscall_resolve_name(denied_syscalls[i]);
        if (nr != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, EPERM_ACT, nr, 0);
    }
    if (rc == 0)
        rc = sc_network(ctx, p);
    if (rc == 0)
        rc = sc_process(ctx);
    if (rc == 0)
        rc = sc_no_setid_bits(ctx);
    return rc;
}

/* One line per argument rule of the filter, for the ledger and `sandbox show`. */
/* At most this many argument rules are described. */
#define SC_RULES_MAX 12

static size_t sc_describe(const struct ag_sandbox_profile *p, const char *out[SC_RULES_MAX])
{
    static const char *const families[2][2] = {
        {"socket: AF_NETLINK only", "socket: AF_UNIX and AF_NETLINK only"},
        {"socket: AF_INET, AF_INET6 and AF_NETLINK only",
         "socket: AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK only"}};
    size_t n = 0;
    out[n++] = families[has_ip(p)][p->unix_sockets != 0];
    out[n++] = "socketpair: AF_UNIX only";
    if (has_ip(p)) {
        out[n++] = "socket(AF_INET|AF_INET6): TCP only (SOCK_STREAM, protocol 0 or IPPROTO_TCP)";
        out[n++] = "no MSG_FASTOPEN in sendto/sendmsg/sendmmsg";
        out[n++] = "no setsockopt(IPPROTO_TCP, TCP_FASTOPEN_CONNECT)";
    }
    out[n++] = "no CLONE_NEWUSER in unshare/clone";
    out[n++] = "no ioctl(TIOCSTI)";
    out[n++] = "no setuid/setgid bit in chmod/fchmod/fchmodat/fchmodat2";
    out[n++] = "clone3: ENOSYS";
    return n;
}

/* Compiles the filter to BPF in the parent so the child only has to load it. */
static ag_err sc_build(struct ag__sandbox *sb, const struct ag_sandbox_profile *p)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return ag__fail(AG_ESANDBOX, "sandbox: seccomp_init failed");
    ag_err err = AG_OK;
    int memfd = -1;
    int rc = sc_rules(ctx, p);
    if (rc != 0) {
        err = ag__fail(AG_ESANDBOX, "sandbox: seccomp_rule_add: %s", strerror(-rc));
        goto out;
    }
    memfd = memfd_create("agentgov-seccomp", MFD_CLOEXEC);
    if (memfd < 0 || (rc = seccomp_export_bpf(ctx, memfd)) != 0) {
        err = ag__fail(AG_ESANDBOX, "sandbox: seccomp_export_bpf: %s",
                       strerror(memfd < 0 ? errno : -rc));
        goto out;
    }
    off_t size = lseek(memfd, 0, SEEK_CUR);
    if (size <= 0 || size % sizeof(struct sock_filter) != 0 || size > 65536) {
        err = ag__fail(AG_ESANDBOX, "sandbox: seccomp program of %lld bytes", (long long)size);
        goto out;
    }
    struct sock_filter *f = malloc((size_t)size);
    if (!f || pread(memfd, f, (size_t)size, 0) != size) {
        free(f);
        err = f ? ag__fail(AG_ESANDBOX, "sandbox: reading seccomp program") : AG_ENOMEM;
        goto out;
    }
    sb->prog.filter = f;
    sb->prog.len = (unsigned short)(size / sizeof(struct sock_filter));
out:
    if (memfd >= 0)
        close(memfd);
    seccomp_release(ctx);
    return err;
}

/* ------------------------------------------------------------------------------- */
/* Prepare / enter                                                                  */

/* Fails closed when the kernel's Landlock lacks something the profile relies on: a
 * sandbox with a hole is not run as if it had none, unless the caller accepts it. */
static ag_err check_features(const struct ag_sandbox_profile *p, int abi, int flags)
{
    char miss[256];
    if ((flags & AG_SANDBOX_ALLOW_NO_LANDLOCK) ||
        !*ag__sandbox_missing_text(p, abi, miss, sizeof miss))
        return AG_OK;
    if (abi == 0)
        return ag__fail(AG_EUNSUPPORTED, "sandbox: the kernel has no Landlock");
    return ag__fail(AG_EUNSUPPORTED, "sandbox: the kernel's Landlock (ABI %d) lacks %s", abi, miss);
}

ag_err ag__sandbox_prepare(const struct ag_sandbox_profile *profile, const char *workdir,
                           const char *const *scope, size_t nscope, int flags,
                           struct ag__sandbox **out)
{
    char real[PATH_MAX];
    struct stat st;
    *out = NULL;
    if (!profile || !workdir)
        return ag__fail(AG_EINVAL, "sandbox: profile and workdir are required");
    if (!realpath(workdir, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return ag__fail(AG_EINVAL, "sandbox: workdir %s is not a directory", workdir);
    int abi = ag__landlock_abi();
    ag_err err = check_features(profile, abi, flags);
    if (err != AG_OK)
        return err;

    struct ag__sandbox *sb = calloc(1, sizeof *sb);
    if (!sb || !(sb->workdir = strdup(real))) {
        free(sb);
        return AG_ENOMEM;
    }
    sb->ruleset_fd = -1;
    sb->abi = abi;
    sb->cpu_seconds = profile->cpu_seconds;
    sb->memory_bytes = profile->memory_bytes;
    sb->max_procs = profile->max_procs;
    sb->file_bytes = profile->file_bytes;

    struct areas writes = {0};
    err = compute_writes(profile, sb->workdir, scope, nscope, &writes);
    if (err == AG_OK && abi > 0)
        err = ll_build(sb, profile, &writes);
    if (err == AG_OK)
        err = sc_build(sb, profile);
    areas_free(&writes);
    if (err != AG_OK) {
        ag__sandbox_free(sb);
        return err;
    }
    *out = sb;
    return AG_OK;
}

void ag__sandbox_free(struct ag__sandbox *sb)
{
    if (!sb)
        return;
    if (sb->ruleset_fd >= 0)
        close(sb->ruleset_fd);
    free(sb->prog.filter);
    free(sb->workdir);
    free(sb);
}

int ag__sandbox_landlock_abi(const struct ag__sandbox *sb)
{
    return sb ? sb->abi : 0;
}

static int set_limit(int resource, int64_t value, int64_t hard_extra)
{
    if (value <= 0)
        return 0;
    if (value > INT64_MAX - hard_extra)
        hard_extra = 0;
    struct rlimit rl = {.rlim_cur = (rlim_t)value, .rlim_max = (rlim_t)(value + hard_extra)};
    return setrlimit(resource, &rl);
}

/* A governed agent gets what its tier grants, not what the runner's user could do, so a
 * runner started as root hands its child no capability. The ambient set is cleared;
 * the bounding set is emptied when we may (CAP_SETPCAP: root), so that no later exec
 * can hand capabilities back; then the effective, permitted and inheritable sets are
 * cleared. no_new_privs, set right after, keeps an exec by uid 0 from refilling them
 * (the kernel then caps the new permitted set at the old one). An unprivileged runner
 * has nothing to drop and cannot empty its bounding set: that is not an error. */
static int drop_capabilities(void)
{
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return -1;
    for (unsigned long cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            break; /* EPERM: no CAP_SETPCAP, so none of the rest either */
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &hdr, data);
}

/* Names the failing step for the caller (a static string) and fails. */
static ag_err enter_failed(const char **stage, const char *step)
{
    *stage = step;
    return AG_ESANDBOX;
}

ag_err ag__sandbox_enter(const struct ag__sandbox *sb, const char **stage)
{
    const char *dummy;
    if (!stage)
        stage = &dummy;
    /* CPU: SIGXCPU at the soft limit, SIGKILL one second later. */
    if (set_limit(RLIMIT_CPU, sb->cpu_seconds, 1) != 0)
        return enter_failed(stage, "setrlimit(RLIMIT_CPU)");
    if (set_limit(RLIMIT_AS, sb->memory_bytes, 0) != 0)
        return enter_failed(stage, "setrlimit(RLIMIT_AS)");
    if (set_limit(RLIMIT_NPROC, sb->max_procs, 0) != 0)
        return enter_failed(stage, "setrlimit(RLIMIT_NPROC)");
    if (set_limit(RLIMIT_FSIZE, sb->file_bytes, 0) != 0)
        return enter_failed(stage, "setrlimit(RLIMIT_FSIZE)");
    if (drop_capabilities() != 0)
        return enter_failed(stage, "dropping capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return enter_failed(stage, "prctl(PR_SET_NO_NEW_PRIVS)");
    if (sb->ruleset_fd >= 0 && syscall(__NR_landlock_restrict_self, sb->ruleset_fd, 0) != 0)
        return enter_failed(stage, "landlock_restrict_self");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sb->prog, 0, 0) != 0)
        return enter_failed(stage, "prctl(PR_SET_SECCOMP)");
    return AG_OK;
}

ag_err ag__sandbox_apply(const struct ag_sandbox_profile *profile, const char *workdir,
                         const char *const *scope, size_t nscope, int flags)
{
    struct ag__sandbox *sb;
    ag_err err = ag__sandbox_prepare(profile, workdir, scope, nscope, flags, &sb);
    if (err != AG_OK)
        return err;
    const char *stage = "";
    err = ag__sandbox_enter(sb, &stage);
    if (err != AG_OK)
        err = ag__fail(err, "sandbox: %s: %s", stage, strerror(errno));
    ag__sandbox_free(sb);
    return err;
}

/* ------------------------------------------------------------------------------- */
/* Spawn                                                                            */

/* What a child that could not start tells its parent through the pipe. */
struct spawn_report {
    int32_t kind; /* 1 sandbox, 2 chdir, 3 exec, 4 stdio/session */
    int32_t err;  /* errno */
    char stage[64];
};

static void child_fail(int fd, int kind, const char *stage)
{
    struct spawn_report r = {.kind = kind, .err = errno};
    size_t n = strlen(stage);
    memcpy(r.stage, stage, n < sizeof r.stage - 1 ? n : sizeof r.stage - 1);
    ssize_t w;
    do
        w = write(fd, &r, sizeof r);
    while (w < 0 && errno == EINTR);
    _exit(127);
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void child_main(const struct ag__sandbox *sb, const struct ag__spawn_opts *o,
                       char *const argv[], char *const envp[], int fd)
{
    static const int reset[] = {SIGPIPE, SIGXFSZ, SIGXCPU, SIGCHLD,
                                SIGINT,  SIGTERM, SIGQUIT, SIGHUP};
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        sigaction(reset[i], &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    const int want[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
    for (int i = 0; i < 3; i++)
        if (want[i] >= 0 && want[i] != i && dup2(want[i], i) < 0)
            child_fail(fd, 4, "dup2");
    if (o->new_session && setsid() < 0)
        child_fail(fd, 4, "setsid");
    if (chdir(sb->workdir) != 0)
        child_fail(fd, 2, "chdir");
    const char *stage = "sandbox";
    if (ag__sandbox_enter(sb, &stage) != AG_OK)
        child_fail(fd, 1, stage);
    /* Only 0-2 (and the report pipe, already close-on-exec) survive exec. */
    syscall(__NR_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
    if (envp)
        execvpe(argv[0], argv, envp);
    else
        execvp(argv[0], argv);
    child_fail(fd, 3, "exec");
}

/* Reads the child's report; 0 bytes (EOF at exec) means the command runs. */
static ag_err spawn_outcome(int fd, pid_t pid, const char *cmd)
{
    struct spawn_report r;
    ssize_t n;
    do
        n = read(fd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return AG_OK;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof r)
        return ag__fail(AG_ESANDBOX, "sandbox: child setup report truncated");
    r.stage[sizeof r.stage - 1] = '\0';
    if (r.kind == 3 && (r.err == ENOENT || r.err == ENOTDIR))
        return ag__fail(AG_ENOTFOUND, "sandbox: exec %s: %s", cmd, strerror(r.err));
    if (r.kind == 3)
        return ag__fail(AG_ESANDBOX, "sandbox: exec %s: %s", cmd, strerror(r.err));
    return ag__fail(AG_ESANDBOX, "sandbox: child setup failed at %s: %s", r.stage, strerror(r.err));
}

ag_err ag__sandbox_spawn(const struct ag_sandbox_profile *profile, const char *workdir,
                         char *const argv[], char *const envp[], const struct ag__spawn_opts *opts,
                         pid_t *pid)
{
    static const struct ag__spawn_opts defaults = {-1, -1, -1, 0, NULL, 0, 0};
    const struct ag__spawn_opts *o = opts ? opts : &defaults;
    if (!argv || !argv[0] || !pid)
        return ag__fail(AG_EINVAL, "sandbox: spawn needs a command");
    struct ag__sandbox *sb;
    ag_err err = ag__sandbox_prepare(profile, workdir, o->scope, o->nscope, o->flags, &sb);
    if (err != AG_OK)
        return err;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        ag__sandbox_free(sb);
        return ag__fail(AG_ESANDBOX, "sandbox: pipe: %s", strerror(errno));
    }
    pid_t child = fork();
    if (child == 0) {
        close(p[0]);
        child_main(sb, o, argv, envp, p[1]);
    }
    int fork_errno = errno;
    close(p[1]);
    if (child < 0)
        err = ag__fail(AG_ESANDBOX, "sandbox: fork: %s", strerror(fork_errno));
    else
        err = spawn_outcome(p[0], child, argv[0]);
    close(p[0]);
    ag__sandbox_free(sb);
    if (err == AG_OK)
        *pid = child;
    return err;
}

/* ------------------------------------------------------------------------------- */
/* Rendering                                                                        */

static json_t *json_strings(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (v[i])
            json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *json_ports(const uint16_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *json_network(const struct ag_sandbox_profile *p)
{
    return json_pack("{s:o, s:o, s:b, s:b}", "connect_tcp",
                     json_ports(p->connect_ports, p->nconnect), "bind_tcp",
                     json_ports(p->bind_ports, p->nbind), "ip_sockets", has_ip(p), "unix_sockets",
                     p->unix_sockets != 0);
}

ag_err ag__sandbox_profile_json(const struct ag_sandbox_profile *p, int tier, const char *workdir,
                                char **out)
{
    size_t ndenied = sizeof denied_syscalls / sizeof denied_syscalls[0] - 1;
    const char *rules[SC_RULES_MAX], *missing[8];
    size_t nrules = sc_describe(p, rules);
    size_t nmissing = ag__sandbox_missing(p, ag__landlock_abi(), missing, 8);
    json_t *o = json_pack(
        "{s:o, s:o, s:b, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I}, s:b, s:o, s:o, s:i, s:o}", "tier",
        tier >= 0 ? json_integer(tier) : json_null(), "workdir",
        workdir ? json_string(workdir) : json_null(), "workdir_write", p->workdir_write != 0,
        "read_paths", json_strings(p->read_paths, p->nread), "write_paths",
        json_strings(p->write_paths, p->nwrite), "network", json_network(p), "rlimits",
        "cpu_seconds", (json_int_t)p->cpu_seconds, "memory_bytes", (json_int_t)p->memory_bytes,
        "max_procs", (json_int_t)p->max_procs, "file_bytes", (json_int_t)p->file_bytes,
        "no_new_privs", 1, "seccomp_eperm", json_strings(denied_syscalls, ndenied), "seccomp_rules",
        json_strings(rules, nrules), "landlock_abi", ag__landlock_abi(), "landlock_missing",
        json_strings(missing, nmissing));
    if (!o)
        return ag__fail(AG_ENOMEM, "sandbox: building the profile JSON");
    *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return *out ? AG_OK : AG_ENOMEM;
}

static void text_list(struct ag_buf *b, const char *label, const char *const *v, size_t n,
                      const char *none)
{
    ag__buf_printf(b, "  %-13s", label);
    size_t shown = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i])
            ag__buf_printf(b, "%s%s", shown++ ? " " : "", v[i]);
    ag__buf_printf(b, "%s\n", shown ? "" : none);
}

static void text_ports(struct ag_buf *b, const char *what, const uint16_t *v, size_t n)
{
    ag__buf_printf(b, "%s tcp ", what);
    for (size_t i = 0; i < n; i++)
        ag__buf_printf(b, "%s%u", i ? "," : "", v[i]);
    if (n == 0)
        ag__buf_puts(b, "none");
}

static void text_size(struct ag_buf *b, const char *label, int64_t v, const char *unit)
{
    if (v <= 0)
        ag__buf_printf(b, "%s unlimited", label);
    else if (unit[0] == 'B' && v >= (1LL << 20) && v % (1LL << 20) == 0)
        ag__buf_printf(b, "%s %lld MiB", label, (long long)(v >> 20));
    else
        ag__buf_printf(b, "%s %lld%s%s", label, (long long)v, unit[0] ? " " : "", unit);
}

static void text_kernel(struct ag_buf *b, const struct ag_sandbox_profile *p)
{
    int abi = ag__landlock_abi();
    char miss[256];
    if (abi == 0) {
        ag__buf_puts(b, "  landlock     not available on this kernel (run refuses unless "
                        "--allow-unsandboxed)\n");
        return;
    }
    ag__buf_printf(b, "  landlock     ABI %d: filesystem%s%s%s%s\n", abi,
                   abi >= 3 ? ", truncate" : "", abi >= 4 ? ", tcp bind/connect" : "",
                   abi >= 5 ? ", device ioctl" : "",
                   abi >= 6 ? ", abstract unix sockets and signals scoped" : "");
    if (*ag__sandbox_missing_text(p, abi, miss, sizeof miss))
        ag__buf_printf(b,
                       "               missing for this profile: %s (run refuses unless "
                       "--allow-unsandboxed)\n",
                       miss);
}

static void text_network(struct ag_buf *b, const struct ag_sandbox_profile *p)
{
    ag__buf_printf(b, "  %-13s", "network");
    if (!has_ip(p)) {
        ag__buf_puts(b, "none (no IP sockets)\n");
    } else {
        text_ports(b, "connect", p->connect_ports, p->nconnect);
        text_ports(b, "; bind", p->bind_ports, p->nbind);
        ag__buf_puts(b, " (TCP only: no UDP, raw or other IP sockets)\n");
    }
    ag__buf_printf(b, "  %-13s%s\n", "unix sockets",
                   p->unix_sockets ? "any named socket (the daemon's unix: address)"
                                   : "socketpair only (no socket(AF_UNIX))");
}

static void text_seccomp(struct ag_buf *b, const struct ag_sandbox_profile *p)
{
    ag__buf_printf(b, "  %-13sEPERM for", "seccomp");
    size_t col = 24;
    for (size_t i = 0; denied_syscalls[i]; i++) {
        size_t n = strlen(denied_syscalls[i]) + 1;
        if (col + n > 88) {
            ag__buf_printf(b, "\n%14s", "");
            col = 15;
        }
        ag__buf_printf(b, " %s", denied_syscalls[i]);
        col += n;
    }
    const char *rules[SC_RULES_MAX];
    size_t n = sc_describe(p, rules);
    ag__buf_puts(b, ";\n               rules (EPERM otherwise):");
    for (size_t i = 0; i < n; i++)
        ag__buf_printf(b, "\n                 %s", rules[i]);
    ag__buf_puts(b, "\n");
}

ag_err ag__sandbox_profile_text(const struct ag_sandbox_profile *p, int tier, const char *workdir,
                                char **out)
{
    struct ag_buf b;
    ag__buf_init(&b);
    if (tier >= 0)
        ag__buf_printf(&b, "sandbox profile of tier %d\n", tier);
    ag__buf_printf(&b, "  %-13s%s (%s)\n", "workdir", workdir ? workdir : "the run's --workdir",
                   p->workdir_write ? "read, write" : "read only");
    text_list(&b, "read", p->read_paths, p->nread, "(workdir only)");
    text_list(&b, "write", p->write_paths, p->nwrite,
              p->workdir_write ? "(workdir only)" : "(nothing)");
    text_network(&b, p);
    ag__buf_printf(&b, "  %-13s", "rlimits");
    text_size(&b, "cpu", p->cpu_seconds, "s");
    text_size(&b, ", memory", p->memory_bytes, "B");
    text_size(&b, ", processes", p->max_procs, "");
    text_size(&b, ", file size", p->file_bytes, "B");
    ag__buf_printf(&b, "\n  %-13syes\n", "no_new_privs");
    text_seccomp(&b, p);
    text_kernel(&b, p);
    if (ag__buf_status(&b) != AG_OK) {
        ag__buf_free(&b);
        return AG_ENOMEM;
    }
    *out = ag__buf_take(&b);
    return AG_OK;
}
