/* The state store's backend interface: a table of function pointers chosen by URL
 * scheme (as OpenSMTPD's queue_backend.c), plus reply helpers shared by backends.
 * Ownership: a backend's open() returns an opaque impl that only its close() frees;
 * exec() fills caller-provided replies with malloc'd data freed by
 * ag_store_reply_free. */
#ifndef AG_STORE_BACKEND_H
#define AG_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/store.h"

struct ag__store_backend {
    const char *name;   /* "sqlite", "redis" */
    const char *scheme; /* URL prefix that selects it, e.g. "sqlite:" */
    /* url is the whole URL, scheme included; flags are AG_STORE_OPEN_* (a backend
     * without a server ignores them). */
    ag_err (*open)(const char *url, int flags, void **impl);
    void (*close)(void *impl);
    /* ops were validated by the front end (ag__store_validate_ops); replies are zeroed
     * (NIL) on entry. On failure the front end frees whatever was filled in. */
    ag_err (*exec)(void *impl, const struct ag_store_guard *guard, const struct ag_store_op *ops,
                   size_t n, struct ag_store_reply *replies, int *guard_ok);
    /* Live keys starting with prefix, in any order (the front end sorts them). */
    ag_err (*keys)(void *impl, const char *prefix, char ***keys, size_t *n);
    uint64_t (*round_trips)(const void *impl);
};

/* Name of an opcode as Redis spells the command ("HINCRBY"); "?" if out of range. */
const char *ag__store_opname(enum ag_store_opcode op);
/* Checks each op has what its opcode needs (key, field, value, non-negative TTL):
 * AG_EINVAL naming the op's index, opcode and key otherwise. Backends rely on it. */
AG_MUST_USE ag_err ag__store_validate_ops(const struct ag_store_op *ops, size_t n);
/* Fill one reply. ag__reply_str copies len bytes and adds a NUL. */
void ag__reply_int(struct ag_store_reply *r, int64_t v);
AG_MUST_USE ag_err ag__reply_str(struct ag_store_reply *r, const char *s, size_t len);
/* Makes r an ARRAY of n NIL elements. */
AG_MUST_USE ag_err ag__reply_array(struct ag_store_reply *r, size_t n);
/* Appends a malloc'd copy of s to a growing string vector (for keys listings). */
AG_MUST_USE ag_err ag__strv_push(char ***v, size_t *n, size_t *cap, const char *s, size_t len);

#endif
