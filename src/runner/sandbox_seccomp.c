/* The sandbox's seccomp filter: denied syscalls, socket families and options, process
 * and set-id rules, compiled to a BPF program. */
#include "runner/sandbox_seccomp.h"

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
        return ag__sandbox_has_ip(p);
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
    if (rc == 0 && ag__sandbox_has_ip(p))
        rc = sc_tcp_only(ctx, AF_INET);
    if (rc == 0 && ag__sandbox_has_ip(p))
        rc = sc_tcp_only(ctx, AF_INET6);
    if (rc == 0 && ag__sandbox_has_ip(p))
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

size_t ag__sc_describe(const struct ag_sandbox_profile *p, const char *out[AG__SC_RULES_MAX])
{
    static const char *const families[2][2] = {
        {"socket: AF_NETLINK only", "socket: AF_UNIX and AF_NETLINK only"},
        {"socket: AF_INET, AF_INET6 and AF_NETLINK only",
         "socket: AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK only"}};
    size_t n = 0;
    out[n++] = families[ag__sandbox_has_ip(p)][p->unix_sockets != 0];
    out[n++] = "socketpair: AF_UNIX only";
    if (ag__sandbox_has_ip(p)) {
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
ag_err ag__sc_build(struct ag__sandbox *sb, const struct ag_sandbox_profile *p)
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
