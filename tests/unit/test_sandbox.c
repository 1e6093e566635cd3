/* Sandbox tests with real processes: each confined child is this test binary re-run
 * in "child mode" (a constructor that runs before the test runner's main), doing one
 * thing and exiting with 0 or the errno it met. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/capability.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/sandbox.h"
#include "test.h"

#define CHILD_FLAG "--sandbox-test-child"

/* ---- child mode ---------------------------------------------------------------- */

static int child_touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

static int child_read(const char *path)
{
    char b[16];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    return n < 0 ? errno : 0;
}

static int child_connect(const char *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : errno;
    close(s);
    return rc;
}

/* Writes n bytes; with SIGXFSZ ignored, crossing RLIMIT_FSIZE gives EFBIG. */
static int child_bigfile(const char *path, const char *nbytes)
{
    signal(SIGXFSZ, SIG_IGN);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return errno;
    static char block[1024];
    long left = atol(nbytes);
    int rc = 0;
    while (left > 0 && rc == 0) {
        ssize_t w = write(fd, block, left < 1024 ? (size_t)left : sizeof block);
        if (w < 0)
            rc = errno;
        else
            left -= w;
    }
    close(fd);
    return rc;
}

/* 0 when the process has no capability in any set (effective, permitted,
 * inheritable, ambient, bounding); 1 + which set still holds one otherwise. */
static int child_caps(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &hdr, d) != 0)
        return 10;
    if (d[0].effective || d[1].effective)
        return 1;
    if (d[0].permitted || d[1].permitted)
        return 2;
    if (d[0].inheritable || d[1].inheritable)
        return 3;
    for (unsigned long cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
            return 4;
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
            return 5;
    }
    return 0;
}

/* socket() with raw 64-bit arguments "DOMAIN:TYPE:PROTOCOL" (any base): the high
 * halves reach the filter as given, as from a hand-written syscall. */
static int child_socket(const char *spec)
{
    char *end;
    unsigned long long d = strtoull(spec, &end, 0), t = 0, p = 0;
    if (*end == ':')
        t = strtoull(end + 1, &end, 0);
    if (*end == ':')
        p = strtoull(end + 1, &end, 0);
    long s = syscall(SYS_socket, d, t, p);
    return s >= 0 ? (close((int)s), 0) : errno;
}

/* TCP Fast Open to 127.0.0.1:port: "sendto" or "sendmsg" with MSG_FASTOPEN, or
 * "sockopt" (TCP_FASTOPEN_CONNECT then connect). */
static int child_fastopen(const char *how, const char *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char x = 'x';
    struct iovec iov = {&x, 1};
    struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = &iov, .msg_iovlen = 1};
    int one = 1;
    long rc;
    if (strcmp(how, "sendto") == 0)
        rc = sendto(s, &x, 1, MSG_FASTOPEN, (struct sockaddr *)&a, sizeof a);
    else if (strcmp(how, "sendmsg") == 0)
        rc = sendmsg(s, &m, MSG_FASTOPEN);
    else
        rc = setsockopt(s, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof one);
    int e = rc < 0 ? errno : 0;
    close(s);
    return e;
}

/* The kernel keyring: "keyctl" (the session keyring's id), "add_key", "request_key". */
static int child_key(const char *which)
{
    long rc;
    if (strcmp(which, "keyctl") == 0)
        rc = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    else if (strcmp(which, "add_key") == 0)
        rc = syscall(SYS_add_key, "user", "agentgov-test", "v", 1, -3);
    else
        rc = syscall(SYS_request_key, "user", "agentgov-test-absent", NULL, -3);
    return rc >= 0 ? 0 : errno;
}

static int child_action(const char *what, char **args)
{
    if (strcmp(what, "socket") == 0)
        return child_socket(args[0]);
    if (strcmp(what, "socketpair") == 0) {
        int sv[2];
        return socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 ? (close(sv[0]), close(sv[1]), 0)
                                                            : errno;
    }
    if (strcmp(what, "fastopen") == 0)
        return child_fastopen(args[0], args[1]);
    if (strcmp(what, "key") == 0)
        return child_key(args[0]);
    if (strcmp(what, "chmod") == 0) /* args[0]: a file, args[1]: an octal mode */
        return chmod(args[0], (mode_t)strtol(args[1], NULL, 8)) == 0 ? 0 : errno;
    if (strcmp(what, "tiocsti") == 0) {
        char c = 'x';
        int fd = open("/dev/null", O_RDONLY);
        int rc = ioctl(fd, TIOCSTI, &c) == 0 ? 0 : errno;
        close(fd);
        return rc;
    }
    if (strcmp(what, "touch") == 0)
        return child_touch(args[0]);
    if (strcmp(what, "read") == 0)
        return child_read(args[0]);
    if (strcmp(what, "connect") == 0)
        return child_connect(args[0]);
    if (strcmp(what, "bigfile") == 0)
        return child_bigfile(args[0], args[1]);
    if (strcmp(what, "ptrace") == 0)
        return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : errno;
    if (strcmp(what, "mount") == 0)
        return mount("none", args[0], "tmpfs", 0, NULL) == 0 ? 0 : errno;
    if (strcmp(what, "rawsock") == 0) {
        int s = socket(AF_PACKET, SOCK_RAW, 0);
        return s >= 0 ? (close(s), 0) : errno;
    }
    if (strcmp(what, "rawip") == 0) {
        int s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        return s >= 0 ? (close(s), 0) : errno;
    }
    if (strcmp(what, "spin") == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    if (strcmp(what, "userns") == 0)
        return unshare(CLONE_NEWUSER) == 0 ? 0 : errno;
    if (strcmp(what, "caps") == 0)
        return child_caps();
    return 250;
}

/* glibc passes argc/argv to constructors; in child mode the test runner never runs. */
__attribute__((constructor)) static void child_mode(int argc, char **argv)
{
    /* exit_group through syscall(): _exit is noreturn, and ASan warns about noreturn
     * calls made before its own start-up finished. */
    if (argc >= 3 && strcmp(argv[1], CHILD_FLAG) == 0)
        syscall(SYS_exit_group, child_action(argv[2], argv + 3));
}

/* ---- parent side --------------------------------------------------------------- */

static char self_exe[PATH_MAX];
static char self_dir[PATH_MAX];
static const char *sys_read[] = {"/usr", "/lib", "/lib64", "/etc", "/bin", self_dir};

static void init_self(void)
{
    if (self_exe[0])
        return;
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    ASSERT_TRUE(n > 0);
    self_exe[n] = '\0';
    snprintf(self_dir, sizeof self_dir, "%s", self_exe);
    *strrchr(self_dir, '/') = '\0';
}

/* A profile like the shipped tier defaults: system dirs readable, no limits. */
static struct ag_sandbox_profile profile(int workdir_write)
{
    init_self();
    struct ag_sandbox_profile p = {0};
    p.workdir_write = workdir_write;
    p.read_paths = sys_read;
    p.nread = sizeof sys_read / sizeof sys_read[0];
    return p;
}

/* Runs this binary in child mode under the profile; returns its exit code, or 128 +
 * the signal that ended it, or -1 when the spawn itself failed. */
static int run_child(const struct ag_sandbox_profile *p, const char *workdir,
                     const struct ag__spawn_opts *o, const char *what, const char *a1,
                     const char *a2)
{
    init_self();
    /* Copies: the spawn takes char *const[]. */
    char w[256], x1[PATH_MAX], x2[PATH_MAX];
    snprintf(w, sizeof w, "%s", what);
    snprintf(x1, sizeof x1, "%s", a1 ? a1 : "");
    snprintf(x2, sizeof x2, "%s", a2 ? a2 : "");
    char *argv[] = {self_exe, CHILD_FLAG, w, a1 ? x1 : NULL, a2 ? x2 : NULL, NULL};
    pid_t pid;
    if (ag__sandbox_spawn(p, workdir, argv, NULL, o, &pid) != AG_OK)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int exists(const char *dir, const char *name)
{
    char path[PATH_MAX + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static const char *join(const char *dir, const char *name)
{
    static char ring[4][PATH_MAX + 64];
    static int next;
    char *b = ring[next++ % 4];
    snprintf(b, sizeof ring[0], "%s/%s", dir, name);
    return b;
}

/* A TCP listener on 127.0.0.1 with a kernel-chosen port. */
static int listener(uint16_t *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 8) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return s;
}

/* Two listening ports: one a profile allows, one it does not; as strings for argv. */
struct two_ports {
    uint16_t allowed, other;
    int s1, s2;
    char a[8], o[8];
};

static void two_ports_open(struct two_ports *t)
{
    t->s1 = listener(&t->allowed);
    t->s2 = listener(&t->other);
    ASSERT_TRUE(t->s1 >= 0 && t->s2 >= 0);
    snprintf(t->a, sizeof t->a, "%u", t->allowed);
    snprintf(t->o, sizeof t->o, "%u", t->other);
}

static void two_ports_close(struct two_ports *t)
{
    close(t->s1);
    close(t->s2);
}

/* Valgrind does not know the Landlock system calls, so under it the kernel seems to
 * lack Landlock: the confinement tests then check only that the sandbox fails closed. */
static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

#define REQUIRE_LANDLOCK()                                                                         \
    do {                                                                                           \
        if (under_valgrind())                                                                      \
            return;                                                                                \
    } while (0)

TEST(kernel_has_landlock_with_network_rules)
{
    if (under_valgrind()) {
        ASSERT_EQ(ag__landlock_abi(), 0);
        return;
    }
    /* The project's machines run ABI 7; TCP rules need 4. */
    ASSERT_TRUE(ag__landlock_abi() >= 4);
}

TEST(without_landlock_prepare_fails_closed_unless_allowed)
{
    if (ag__landlock_abi() != 0)
        return; /* only observable on a kernel (or under a tool) without Landlock */
    struct ag_sandbox_profile p = profile(0);
    struct ag__sandbox *sb = NULL;
    const char *wd = ag_test_fresh_dir("noll");
    ASSERT_ERR(ag__sandbox_prepare(&p, wd, NULL, 0, 0, &sb), AG_EUNSUPPORTED);
    ASSERT_OK(ag__sandbox_prepare(&p, wd, NULL, 0, AG_SANDBOX_ALLOW_NO_LANDLOCK, &sb));
    ASSERT_EQ(ag__sandbox_landlock_abi(sb), 0);
    ag__sandbox_free(sb);
}

TEST(t0_child_cannot_create_a_file_in_its_workdir)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(0);
    const char *wd = ag_test_fresh_dir("t0");
    ASSERT_EQ(run_child(&p, wd, NULL, "touch", join(wd, "new"), NULL), EACCES);
    ASSERT_FALSE(exists(wd, "new"));
}

TEST(t0_child_reads_its_workdir_and_system_files)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(0);
    const char *wd = ag_test_fresh_dir("t0r");
    FILE *f = fopen(join(wd, "notes.txt"), "w");
    ASSERT_TRUE(f != NULL);
    fputs("hello", f);
    fclose(f);
    ASSERT_EQ(run_child(&p, wd, NULL, "read", join(wd, "notes.txt"), NULL), 0);
    ASSERT_EQ(run_child(&p, wd, NULL, "read", "/etc/hostname", NULL), 0);
}

TEST(t1_child_writes_in_its_workdir_but_not_outside)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    char wd[PATH_MAX], other[PATH_MAX];
    snprintf(wd, sizeof wd, "%s", ag_test_fresh_dir("t1"));
    snprintf(other, sizeof other, "%s", ag_test_fresh_dir("elsewhere"));
    ASSERT_EQ(run_child(&p, wd, NULL, "touch", join(wd, "made"), NULL), 0);
    ASSERT_TRUE(exists(wd, "made"));
    ASSERT_EQ(run_child(&p, wd, NULL, "touch", join(other, "escaped"), NULL), EACCES);
    ASSERT_FALSE(exists(other, "escaped"));
    /* Nor may it read a directory it was not given. */
    FILE *f = fopen(join(other, "secret"), "w");
    ASSERT_TRUE(f != NULL);
    fclose(f);
    ASSERT_EQ(run_child(&p, wd, NULL, "read", join(other, "secret"), NULL), EACCES);
}

TEST(t1_device_files_stay_usable)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(0);
    const char *wd = ag_test_fresh_dir("dev");
    ASSERT_EQ(run_child(&p, wd, NULL, "touch", "/dev/null", NULL), 0);
    ASSERT_EQ(run_child(&p, wd, NULL, "read", "/dev/urandom", NULL), 0);
}

TEST(child_connects_only_to_listed_tcp_ports)
{
    REQUIRE_LANDLOCK();
    struct two_ports t;
    two_ports_open(&t);
    struct ag_sandbox_profile p = profile(1);
    p.connect_ports = &t.allowed;
    p.nconnect = 1;
    const char *wd = ag_test_fresh_dir("net");
    char *a = t.a, *o = t.o;
    ASSERT_EQ(run_child(&p, wd, NULL, "connect", a, NULL), 0);
    ASSERT_EQ(run_child(&p, wd, NULL, "connect", o, NULL), EACCES);
    /* Unconfined, the same port is reachable: the refusal came from the sandbox. */
    char *argv[] = {self_exe, CHILD_FLAG, "connect", o, NULL};
    ASSERT_EQ(child_action(argv[2], argv + 3), 0);
    two_ports_close(&t);
}

TEST(tier_without_ports_has_no_ip_sockets)
{
    REQUIRE_LANDLOCK();
    uint16_t port;
    int s = listener(&port);
    ASSERT_TRUE(s >= 0);
    struct ag_sandbox_profile p = profile(0);
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    ASSERT_EQ(run_child(&p, ag_test_fresh_dir("nonet"), NULL, "connect", ps, NULL), EPERM);
    close(s);
}

TEST(ptrace_mount_raw_sockets_and_user_namespaces_are_refused)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    const char *wd = ag_test_fresh_dir("sys");
    uint16_t port = 443;
    ASSERT_EQ(run_child(&p, wd, NULL, "ptrace", NULL, NULL), EPERM);
    ASSERT_OK(mkdir(join(wd, "mnt"), 0700));
    ASSERT_EQ(run_child(&p, wd, NULL, "mount", join(wd, "mnt"), NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "rawsock", NULL, NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "userns", NULL, NULL), EPERM);
    /* Raw IP stays refused in a tier that has network. */
    p.connect_ports = &port;
    p.nconnect = 1;
    ASSERT_EQ(run_child(&p, wd, NULL, "rawip", NULL, NULL), EPERM);
}

/* The kernel reads an int argument's low 32 bits, seccomp compares 64: a rule on the
 * whole register would let 0x1_0000_0002 (AF_INET to the kernel) through. */
TEST(socket_rules_compare_int_arguments_on_their_low_32_bits)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(0);
    const char *wd = ag_test_fresh_dir("hibits");
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "2:2:0", NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "0x100000002:2:0", NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "0xffffffff0000000a:1:0", NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "0x100000011:3:0", NULL), EPERM); /* packet */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "0x100000001:1:0", NULL), EPERM); /* unix */
    uint16_t port = 443;
    p.connect_ports = &port;
    p.nconnect = 1;
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "0x100000002:2:0", NULL), EPERM); /* udp */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "0x100000002:3:1", NULL), EPERM); /* raw */
    /* Unconfined, the kernel takes the high-half family as AF_INET. */
    char *argv[] = {"socket", "0x100000002:2:0", NULL};
    ASSERT_EQ(child_action(argv[0], argv + 1), 0);
}

/* Landlock's port rules see TCP only: with ports, an IP socket is TCP or nothing
 * (no UDP, raw, ICMP, MPTCP or SCTP, which would reach any port). */
TEST(with_ports_only_tcp_sockets_open)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    uint16_t port = 443;
    p.connect_ports = &port;
    p.nconnect = 1;
    const char *wd = ag_test_fresh_dir("tcponly");
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "2:1:0", NULL), 0);
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "2:1:6", NULL), 0);
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "10:0x80801:0", NULL), 0);    /* NONBLOCK|CLOEXEC */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "2:2:0", NULL), EPERM);       /* udp */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "10:2:17", NULL), EPERM);     /* udp6 */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "2:0x80802:0", NULL), EPERM); /* udp, flags */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "2:2:1", NULL), EPERM);       /* ping */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "2:1:262", NULL), EPERM);     /* MPTCP */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "10:1:132", NULL), EPERM);    /* SCTP */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "2:5:132", NULL), EPERM);     /* seqpacket */
}

/* Families Landlock does not see are refused in every tier: vsock (which reaches a
 * VM's host), packet, TIPC, ...; netlink stays (getaddrinfo), socketpair is AF_UNIX. */
TEST(socket_families_other_than_unix_ip_and_netlink_are_refused)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    uint16_t port = 443;
    p.connect_ports = &port;
    p.nconnect = 1;
    const char *wd = ag_test_fresh_dir("families");
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "40:1:0", NULL), EPERM); /* vsock */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "17:2:0", NULL), EPERM); /* packet */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "30:5:0", NULL), EPERM); /* tipc */
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "63:1:0", NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "1000:1:0", NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "16:3:0", NULL), 0); /* netlink */
    ASSERT_EQ(run_child(&p, wd, NULL, "socketpair", NULL, NULL), 0);
}

/* Landlock (ABI 7) does not restrict connecting to a named unix socket, so
 * socket(AF_UNIX) is refused unless the profile allows it (a daemon at unix:). */
TEST(unix_sockets_only_when_the_profile_allows_them)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    const char *wd = ag_test_fresh_dir("unix");
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "1:1:0", NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "1:0x80002:0", NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "socketpair", NULL, NULL), 0);
    p.unix_sockets = 1;
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "1:1:0", NULL), 0);
    ASSERT_EQ(run_child(&p, wd, NULL, "socket", "2:1:0", NULL), EPERM); /* still no IP */
}

static int tcp_fastopen_client_enabled(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "r");
    int v = 0;
    if (f && fscanf(f, "%d", &v) != 1)
        v = 0;
    if (f)
        fclose(f);
    return v & 1;
}

/* TCP Fast Open connects without the connect() that Landlock checks. */
TEST(tcp_fast_open_is_refused_whatever_the_port)
{
    REQUIRE_LANDLOCK();
    struct two_ports t;
    two_ports_open(&t);
    struct ag_sandbox_profile p = profile(1);
    p.connect_ports = &t.allowed;
    p.nconnect = 1;
    const char *wd = ag_test_fresh_dir("tfo");
    char *a = t.a, *o = t.o;
    ASSERT_EQ(run_child(&p, wd, NULL, "fastopen", "sendto", o), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "fastopen", "sendmsg", o), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "fastopen", "sendto", a), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "fastopen", "sockopt", a), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "connect", a, NULL), 0); /* plain TCP still works */
    if (tcp_fastopen_client_enabled()) { /* unconfined, the same call connects */
        char *argv[] = {"fastopen", "sendto", o, NULL};
        ASSERT_EQ(child_action(argv[0], argv + 1), 0);
    }
    two_ports_close(&t);
}

TEST(the_kernel_keyring_is_refused)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(0);
    const char *wd = ag_test_fresh_dir("keys");
    ASSERT_EQ(run_child(&p, wd, NULL, "key", "keyctl", NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "key", "add_key", NULL), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "key", "request_key", NULL), EPERM);
    char *argv[] = {"key", "keyctl", NULL}; /* unconfined: the session keyring's id */
    ASSERT_EQ(child_action(argv[0], argv + 1), 0);
}

/* A set-id bit is refused on any file, the workdir's included; plain modes still work
 * there (builds chmod +x their outputs). Outside the workdir Landlock does not govern
 * chmod at all, hence the rule. */
TEST(setuid_and_setgid_bits_are_refused)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    const char *wd = ag_test_fresh_dir("setid");
    char f[PATH_MAX];
    snprintf(f, sizeof f, "%s/tool", wd);
    FILE *fp = fopen(f, "w");
    ASSERT_TRUE(fp != NULL);
    fclose(fp);
    ASSERT_EQ(run_child(&p, wd, NULL, "chmod", f, "4755"), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "chmod", f, "2755"), EPERM);
    ASSERT_EQ(run_child(&p, wd, NULL, "chmod", f, "0755"), 0);
    struct stat st;
    ASSERT_EQ(stat(f, &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 0755);
}

/* TIOCSTI would let a child sharing the caller's terminal type into its shell. */
TEST(tiocsti_is_refused)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(0);
    ASSERT_EQ(run_child(&p, ag_test_fresh_dir("sti"), NULL, "tiocsti", NULL, NULL), EPERM);
    char *argv[] = {"tiocsti", NULL}; /* unconfined: /dev/null is simply not a tty */
    ASSERT_EQ(child_action(argv[0], argv + 1), ENOTTY);
}

/* Fail closed needs to know what an older kernel lacks; the ABI is a parameter here
 * since this kernel has them all. */
TEST(missing_landlock_features_are_named_by_abi)
{
    struct ag_sandbox_profile p = profile(0);
    const char *v[8];
    char text[300];
    ASSERT_EQ(ag__sandbox_missing(&p, 7, v, 8), 0);
    ASSERT_EQ(ag__sandbox_missing(&p, 6, v, 8), 0);
    ASSERT_STREQ(ag__sandbox_missing_text(&p, 6, text, sizeof text), "");
    ASSERT_EQ(ag__sandbox_missing(&p, 5, v, 8), 1);
    ASSERT_CONTAINS(v[0], "scoping of signals");
    /* Without ports, TCP port rules are not needed. */
    ASSERT_EQ(ag__sandbox_missing(&p, 3, v, 8), 2);
    ASSERT_CONTAINS(ag__sandbox_missing_text(&p, 3, text, sizeof text), "device ioctl");
    uint16_t port = 443;
    p.connect_ports = &port;
    p.nconnect = 1;
    ASSERT_EQ(ag__sandbox_missing(&p, 3, v, 8), 3);
    ASSERT_CONTAINS(ag__sandbox_missing_text(&p, 3, text, sizeof text),
                    "TCP port rules (ABI 4); device ioctl rights (ABI 5); scoping");
    ASSERT_EQ(ag__sandbox_missing(&p, 0, v, 8), 5);
    ASSERT_CONTAINS(v[0], "filesystem rules");
    ASSERT_EQ(ag__sandbox_missing(&p, 0, v, 2), 2); /* never more than asked for */
    /* On this kernel, prepare finds nothing missing and needs no flag. */
    struct ag__sandbox *sb = NULL;
    if (!under_valgrind()) {
        ASSERT_OK(ag__sandbox_prepare(&p, ag_test_fresh_dir("feat"), NULL, 0, 0, &sb));
        ag__sandbox_free(sb);
    }
}

/* A runner started as root gives its child no capability, even after the exec (uid 0
 * would get the bounding set back at exec without no_new_privs and the dropped
 * bounding set). Meaningful when the tests run as root, as CI does; as another user
 * the child has none to begin with. */
TEST(a_root_runner_hands_its_child_no_capability)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(0);
    const char *wd = ag_test_fresh_dir("caps");
    ASSERT_EQ(run_child(&p, wd, NULL, "caps", NULL, NULL), 0);
    if (geteuid() != 0)
        printf("    (not root: the child had no capability to drop)\n");
}

TEST(file_size_limit_takes_effect)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    p.file_bytes = 4096;
    const char *wd = ag_test_fresh_dir("fsize");
    ASSERT_EQ(run_child(&p, wd, NULL, "bigfile", join(wd, "small"), "4096"), 0);
    ASSERT_EQ(run_child(&p, wd, NULL, "bigfile", join(wd, "big"), "8192"), EFBIG);
    struct stat st;
    ASSERT_OK(stat(join(wd, "big"), &st));
    ASSERT_EQ(st.st_size, 4096);
}

TEST(cpu_limit_takes_effect)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(0);
    p.cpu_seconds = 1;
    ASSERT_EQ(run_child(&p, ag_test_fresh_dir("cpu"), NULL, "spin", NULL, NULL), 128 + SIGXCPU);
}

TEST(scope_naming_a_subdirectory_narrows_writes)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    char wd[PATH_MAX], glob[PATH_MAX + 8];
    ASSERT_TRUE(realpath(ag_test_fresh_dir("scope"), wd) != NULL);
    ASSERT_OK(mkdir(join(wd, "src"), 0700));
    snprintf(glob, sizeof glob, "%s/src/**", wd + 1); /* resource form: no leading '/' */
    const char *scope[] = {glob};
    struct ag__spawn_opts o = {-1, -1, -1, 0, scope, 1, 0};
    ASSERT_EQ(run_child(&p, wd, &o, "touch", join(wd, "src/ok"), NULL), 0);
    ASSERT_EQ(run_child(&p, wd, &o, "touch", join(wd, "top"), NULL), EACCES);
    /* A scope that names no filesystem location leaves the tier's write area. */
    const char *hosts[] = {"sandbox/web/01"};
    struct ag__spawn_opts h = {-1, -1, -1, 0, hosts, 1, 0};
    ASSERT_EQ(run_child(&p, wd, &h, "touch", join(wd, "top"), NULL), 0);
}

TEST(spawn_of_a_missing_command_fails_in_the_parent)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    char *argv[] = {"/nonexistent/agent", NULL};
    pid_t pid = 0;
    ASSERT_ERR(ag__sandbox_spawn(&p, ag_test_fresh_dir("miss"), argv, NULL, NULL, &pid),
               AG_ENOTFOUND);
    ASSERT_CONTAINS(ag_last_error(), "/nonexistent/agent");
    ASSERT_EQ(pid, 0);
    ASSERT_EQ(waitpid(-1, NULL, WNOHANG), -1); /* the failed child was reaped */
}

TEST(a_child_that_cannot_be_set_up_never_runs_the_command)
{
    REQUIRE_LANDLOCK();
    /* The child fails before exec (here: its stdin cannot be installed); the parent
     * learns why through the report pipe and the command never starts. */
    struct ag_sandbox_profile p = profile(1);
    const char *wd = ag_test_fresh_dir("nosetup");
    char *argv[] = {"/bin/sh", "-c", "touch ran", NULL};
    struct ag__spawn_opts o = {900, -1, -1, 0, NULL, 0, 0}; /* fd 900 is not open */
    pid_t pid = 0;
    ASSERT_ERR(ag__sandbox_spawn(&p, wd, argv, NULL, &o, &pid), AG_ESANDBOX);
    ASSERT_CONTAINS(ag_last_error(), "dup2");
    ASSERT_FALSE(exists(wd, "ran"));
    ASSERT_EQ(waitpid(-1, NULL, WNOHANG), -1);
}

TEST(spawn_runs_a_shell_command_with_stdio_redirected)
{
    REQUIRE_LANDLOCK();
    struct ag_sandbox_profile p = profile(1);
    const char *wd = ag_test_fresh_dir("sh");
    int out = open(join(wd, "out.txt"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_TRUE(out >= 0);
    char *argv[] = {"sh", "-c", "echo hi; pwd; echo data > f && cat f", NULL};
    struct ag__spawn_opts o = {-1, out, -1, 1, NULL, 0, 0};
    pid_t pid;
    ASSERT_OK(ag__sandbox_spawn(&p, wd, argv, NULL, &o, &pid));
    close(out);
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(join(wd, "out.txt"), "r");
    ASSERT_TRUE(f != NULL);
    ASSERT_TRUE(getdelim(&text, &len, '\0', f) > 0);
    fclose(f);
    char real[PATH_MAX];
    ASSERT_TRUE(realpath(wd, real) != NULL);
    ASSERT_CONTAINS(text, "hi\n");
    ASSERT_CONTAINS(text, real);
    ASSERT_CONTAINS(text, "data\n");
    free(text);
}

TEST(prepare_rejects_a_missing_workdir)
{
    struct ag_sandbox_profile p = profile(1);
    struct ag__sandbox *sb = NULL;
    ASSERT_ERR(ag__sandbox_prepare(&p, "/nonexistent/wd", NULL, 0, 0, &sb), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "/nonexistent/wd");
    ASSERT_TRUE(sb == NULL);
}

TEST(profile_renders_as_json_for_the_ledger)
{
    uint16_t ports[] = {443, 8080};
    struct ag_sandbox_profile p = profile(1);
    p.connect_ports = ports;
    p.nconnect = 2;
    p.cpu_seconds = 60;
    p.file_bytes = 1 << 20;
    char *js = NULL;
    ASSERT_OK(ag__sandbox_profile_json(&p, 3, "/work/proj", &js));
    json_error_t je;
    json_t *o = json_loads(js, 0, &je);
    ASSERT_TRUE(o != NULL);
    ASSERT_EQ(json_integer_value(json_object_get(o, "tier")), 3);
    ASSERT_STREQ(json_string_value(json_object_get(o, "workdir")), "/work/proj");
    ASSERT_TRUE(json_is_true(json_object_get(o, "workdir_write")));
    json_t *net = json_object_get(o, "network");
    ASSERT_EQ(json_array_size(json_object_get(net, "connect_tcp")), 2);
    ASSERT_EQ(json_integer_value(json_array_get(json_object_get(net, "connect_tcp"), 1)), 8080);
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(o, "rlimits"), "cpu_seconds")),
              60);
    ASSERT_CONTAINS(js, "\"ptrace\"");
    ASSERT_CONTAINS(js, "\"keyctl\"");
    ASSERT_CONTAINS(js, "\"landlock_abi\"");
    ASSERT_CONTAINS(js, "\"landlock_missing\"");
    ASSERT_TRUE(json_is_false(json_object_get(net, "unix_sockets")));
    ASSERT_CONTAINS(js, "socket(AF_INET|AF_INET6): TCP only");
    ASSERT_CONTAINS(js, "no MSG_FASTOPEN in sendto/sendmsg/sendmmsg");
    ASSERT_TRUE(strchr(js, '.') == NULL || strstr(js, "\"/") != NULL); /* no floats */
    json_decref(o);
    free(js);
}

TEST(profile_renders_as_text)
{
    struct ag_sandbox_profile p = profile(0);
    p.memory_bytes = 2LL << 30;
    char *t = NULL;
    ASSERT_OK(ag__sandbox_profile_text(&p, 0, NULL, &t));
    ASSERT_CONTAINS(t, "tier 0");
    ASSERT_CONTAINS(t, "read only");
    ASSERT_CONTAINS(t, "none (no IP sockets)");
    ASSERT_CONTAINS(t, "memory 2048 MiB");
    ASSERT_CONTAINS(t, "cpu unlimited");
    ASSERT_CONTAINS(t, "ptrace");
    ASSERT_CONTAINS(t, "request_key");
    ASSERT_CONTAINS(t, "socket: AF_NETLINK only");
    ASSERT_CONTAINS(t, "socketpair only (no socket(AF_UNIX))");
    free(t);
    p.unix_sockets = 1;
    ASSERT_OK(ag__sandbox_profile_text(&p, 0, NULL, &t));
    ASSERT_CONTAINS(t, "socket: AF_UNIX and AF_NETLINK only");
    ASSERT_CONTAINS(t, "any named socket");
    free(t);
}
