/* In-house unit-test runner. Ownership: tests own nothing of the runner; the runner
 * keeps a static registry filled by TEST() constructors.
 *
 *   TEST(name) { ASSERT_EQ(1 + 1, 2); }
 *
 * Each test binary runs its registered tests (or those whose name contains argv[1])
 * and prints "N passed, N failed" as its last line. A failed assertion prints both
 * values with file:line and ends the current test.
 *
 * Each test runs in a forked child: a crash (the signal is named) or a test still
 * running after 60 s times $AGENTGOV_TEST_TIMEOUT_MULT is that test's failure, and the
 * next tests run. So a test cannot leave state (statics, a started fixture) to the
 * next one; ag_test_tmpdir() is shared and removed once by the parent. Set
 * AGENTGOV_TEST_NOFORK=1 to run every test in process (debuggers, valgrind). */
#ifndef AG_TEST_H
#define AG_TEST_H

#include <stdint.h>
#include <string.h>

typedef void (*ag_test_fn)(void);
void ag_test_register(const char *name, ag_test_fn fn);
void ag_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
/* Directory unique to this test run (created on first use, removed at exit unless
 * AGENTGOV_KEEP_TMP is set). */
const char *ag_test_tmpdir(void);
/* Fresh empty subdirectory of ag_test_tmpdir() for one test; returns a static buffer. */
const char *ag_test_fresh_dir(const char *label);

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void ag_test_reg_##name(void)                              \
    {                                                                                              \
        ag_test_register(#name, name);                                                             \
    }                                                                                              \
    static void name(void)

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ag_test_fail(__FILE__, __LINE__, "expected true: %s", #c);                             \
    } while (0)

#define ASSERT_FALSE(c)                                                                            \
    do {                                                                                           \
        if (c)                                                                                     \
            ag_test_fail(__FILE__, __LINE__, "expected false: %s", #c);                            \
    } while (0)

#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long ag_a_ = (long long)(a), ag_b_ = (long long)(b);                                  \
        if (ag_a_ != ag_b_)                                                                        \
            ag_test_fail(__FILE__, __LINE__, "%s == %s: got %lld, expected %lld", #a, #b, ag_a_,   \
                         ag_b_);                                                                   \
    } while (0)

#define ASSERT_NE(a, b)                                                                            \
    do {                                                                                           \
        long long ag_a_ = (long long)(a), ag_b_ = (long long)(b);                                  \
        if (ag_a_ == ag_b_)                                                                        \
            ag_test_fail(__FILE__, __LINE__, "%s != %s: both are %lld", #a, #b, ag_a_);            \
    } while (0)

#define ASSERT_STREQ(a, b)                                                                         \
    do {                                                                                           \
        const char *ag_a_ = (a), *ag_b_ = (b);                                                     \
        if (ag_a_ == NULL || ag_b_ == NULL || strcmp(ag_a_, ag_b_) != 0)                           \
            ag_test_fail(__FILE__, __LINE__, "%s == %s: got \"%s\", expected \"%s\"", #a, #b,      \
                         ag_a_ ? ag_a_ : "(null)", ag_b_ ? ag_b_ : "(null)");                      \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *ag_h_ = (hay), *ag_n_ = (needle);                                              \
        if (ag_h_ == NULL || strstr(ag_h_, ag_n_) == NULL)                                         \
            ag_test_fail(__FILE__, __LINE__, "%s: \"%s\" does not contain \"%s\"", #hay,           \
                         ag_h_ ? ag_h_ : "(null)", ag_n_);                                         \
    } while (0)

/* Asserts an ag_err call succeeded; on failure prints the code and ag_last_error(). */
#define ASSERT_OK(expr)                                                                            \
    do {                                                                                           \
        int ag_e_ = (int)(expr);                                                                   \
        if (ag_e_ != 0)                                                                            \
            ag_test_fail(__FILE__, __LINE__, "%s: got error %d (%s): %s", #expr, ag_e_,            \
                         ag_errname((ag_err)ag_e_), ag_last_error());                              \
    } while (0)

/* Asserts an ag_err call failed with exactly the given code. */
#define ASSERT_ERR(expr, code)                                                                     \
    do {                                                                                           \
        int ag_e_ = (int)(expr);                                                                   \
        if (ag_e_ != (int)(code))                                                                  \
            ag_test_fail(__FILE__, __LINE__, "%s: got %s, expected %s", #expr,                     \
                         ag_errname((ag_err)ag_e_), ag_errname((ag_err)(code)));                   \
    } while (0)

#include "agentgov/err.h"

#endif
