/* The state store's conformance suite: one table of test cases that runs unchanged
 * against every backend. Ownership: the suite keeps a pointer to the caller's target
 * for the duration of a case and owns nothing else.
 *
 * It registers no tests itself (this file is linked into every test binary); a thin
 * test file registers each case against its backend:
 *
 *   static const struct ag_sc_target target = {"sqlite", reset_fn, open_fn};
 *   #define REG(name) TEST(sqlite_##name) { ag_sc_run(&target, ag_sc_##name); }
 *   AG_SC_CASES(REG)
 */
#ifndef AG_TEST_STORE_CONFORMANCE_H
#define AG_TEST_STORE_CONFORMANCE_H

#include "agentgov/store.h"

struct ag_sc_target {
    const char *name;
    /* Makes the database the next open() reaches empty (new file, FLUSHDB...). */
    void (*reset)(void);
    /* Opens a new handle on that database; fails the test if it cannot. */
    ag_store *(*open)(void);
};

#define AG_SC_CASES(X)                                                                             \
    X(strings)                                                                                     \
    X(setnx)                                                                                       \
    X(ttl_expiry)                                                                                  \
    X(ttl_kept_and_cleared)                                                                        \
    X(expired_container)                                                                           \
    X(incrby)                                                                                      \
    X(hashes)                                                                                      \
    X(hash_last_field)                                                                             \
    X(lists)                                                                                       \
    X(ltrim)                                                                                       \
    X(zsets)                                                                                       \
    X(deadline_index)                                                                              \
    X(wrongtype)                                                                                   \
    X(validation)                                                                                  \
    X(guard)                                                                                       \
    X(guard_failure_runs_nothing)                                                                  \
    X(atomic_rollback)                                                                             \
    X(atomic_rollback_containers)                                                                  \
    X(locks)                                                                                       \
    X(lock_fencing)                                                                                \
    X(cas_del)                                                                                     \
    X(keys_listing)                                                                                \
    X(values_verbatim)                                                                             \
    X(wrappers)                                                                                    \
    X(big_batch)                                                                                   \
    X(threads_shared_handle)                                                                       \
    X(threads_own_handles)

#define AG_SC_DECLARE(name) void ag_sc_##name(void);
AG_SC_CASES(AG_SC_DECLARE)
#undef AG_SC_DECLARE

/* Resets the target's database and runs one case against it. */
void ag_sc_run(const struct ag_sc_target *target, void (*fn)(void));

#endif
