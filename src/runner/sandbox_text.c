/* A sandbox profile rendered as JSON (the run report, `sandbox show --json`) and as
 * text. */
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
#include "runner/sandbox.h"
#include "runner/sandbox_seccomp.h"
#include "runner/sandbox_state.h"

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
                     json_ports(p->bind_ports, p->nbind), "ip_sockets", ag__sandbox_has_ip(p),
                     "unix_sockets", p->unix_sockets != 0);
}

ag_err ag__sandbox_profile_json(const struct ag_sandbox_profile *p, int tier, const char *workdir,
                                char **out)
{
    const char *const *denied = ag__sandbox_denied_syscalls();
    size_t ndenied = 0;
    while (denied[ndenied])
        ndenied++;
    const char *rules[AG__SC_RULES_MAX], *missing[8];
    size_t nrules = ag__sc_describe(p, rules);
    size_t nmissing = ag__sandbox_missing(p, ag__landlock_abi(), missing, 8);
    json_t *o = json_pack(
        "{s:o, s:o, s:b, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I}, s:b, s:o, s:o, s:i, s:o}", "tier",
        tier >= 0 ? json_integer(tier) : json_null(), "workdir",
        workdir ? json_string(workdir) : json_null(), "workdir_write", p->workdir_write != 0,
        "read_paths", json_strings(p->read_paths, p->nread), "write_paths",
        json_strings(p->write_paths, p->nwrite), "network", json_network(p), "rlimits",
        "cpu_seconds", (json_int_t)p->cpu_seconds, "memory_bytes", (json_int_t)p->memory_bytes,
        "max_procs", (json_int_t)p->max_procs, "file_bytes", (json_int_t)p->file_bytes,
        "no_new_privs", 1, "seccomp_eperm", json_strings(denied, ndenied), "seccomp_rules",
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
    if (!ag__sandbox_has_ip(p)) {
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
    const char *const *denied_syscalls = ag__sandbox_denied_syscalls();
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
    const char *rules[AG__SC_RULES_MAX];
    size_t n = ag__sc_describe(p, rules);
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
