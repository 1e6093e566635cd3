/* The prepared sandbox, shared by sandbox.c (prepare, enter, spawn),
 * sandbox_landlock.c and sandbox_seccomp.c. Ownership: struct ag__sandbox owns its
 * ruleset fd, BPF program and workdir (ag__sandbox_free releases them). */
#ifndef AG_RUNNER_SANDBOX_STATE_H
#define AG_RUNNER_SANDBOX_STATE_H

#include <linux/filter.h>
#include <stdint.h>

#include "runner/sandbox.h"

struct ag__sandbox {
    int64_t cpu_seconds, memory_bytes, max_procs, file_bytes;
    int abi;        /* Landlock ABI in use, 0 = none */
    int ruleset_fd; /* -1 without Landlock */
    struct sock_fprog prog;
    char *workdir;
};

/* 1 when the profile allows IP sockets (any TCP port to connect to or bind). */
static inline int ag__sandbox_has_ip(const struct ag_sandbox_profile *p)
{
    return p->nconnect + p->nbind > 0;
}

#endif
