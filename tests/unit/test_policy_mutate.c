/* Robustness: a thousand byte-level mutations of the shipped policy, and random
 * byte strings as globs, must load, lint or fail cleanly (no crash, no leak under
 * valgrind/ASan), and a policy that loads must still answer every request. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "core/fileio.h"
#include "policy/glob.h"
#include "test.h"

static uint64_t rng = 0x853c49e6748fea9bull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void count_problem(void *ctx, const char *message)
{
    int *n = ctx;
    if (message == NULL || strchr(message, ':') == NULL)
        ag_test_fail(__FILE__, __LINE__, "problem without a position: %s",
                     message ? message : "(null)");
    (*n)++;
}

/* Replaces, inserts or deletes a few bytes, favouring YAML's structural characters. */
static size_t mutate(char *buf, size_t len, size_t cap)
{
    static const char alphabet[] = ":-[]{},'\"#&*!|>\n \t0123456789abcxyz.*?\\";
    int edits = 1 + (int)rnd(4);
    for (int e = 0; e < edits && len > 0; e++) {
        size_t at = rnd((uint32_t)len);
        char c = alphabet[rnd(sizeof alphabet - 1)];
        switch (rnd(3)) {
        case 0:
            buf[at] = c;
            break;
        case 1:
            if (len + 1 < cap) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = c;
                len++;
            }
            break;
        default:
            memmove(buf + at, buf + at + 1, len - at - 1);
            len--;
        }
    }
    buf[len] = '\0';
    return len;
}

TEST(mutated_policies_load_or_fail_cleanly)
{
    const char *src = getenv("AGENTGOV_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/policies/default.yaml", src ? src : ".");
    char *orig;
    size_t olen;
    ASSERT_OK(ag__read_file(path, 1 << 20, &orig, &olen));
    size_t cap = olen + 64;
    char *buf = malloc(cap);
    char *lint_path = malloc(4200);
    ASSERT_TRUE(buf && lint_path);
    snprintf(lint_path, 4200, "%s/m.yaml", ag_test_fresh_dir("mutate"));
    int loaded = 0, rejected = 0;
    for (int i = 0; i < 1000; i++) {
        memcpy(buf, orig, olen + 1);
        size_t len = mutate(buf, olen, cap);
        ag_policy *p = NULL;
        ag_err err = ag_policy_load_string("m.yaml", buf, len, &p);
        if (err == AG_OK) {
            loaded++;
            struct ag_request r = {.tier = (int)rnd(5),
                                   .phase = AG_PHASE_EXECUTE,
                                   .action = "ssh.exec",
                                   .resource = "sandbox/web-01"};
            struct ag_decision d;
            ag_decide(p, &r, &d);
            ASSERT_TRUE(d.effect <= AG_EFFECT_ASK);
            ag_policy_free(p);
        } else {
            ASSERT_EQ(err, AG_EPARSE);
            ASSERT_CONTAINS(ag_last_error(), "m.yaml:");
            ASSERT_TRUE(p == NULL);
            rejected++;
        }
        if (i % 10 == 0) { /* the linter walks the same paths, through a file */
            FILE *f = fopen(lint_path, "w");
            ASSERT_TRUE(f != NULL);
            fwrite(buf, 1, len, f);
            fclose(f);
            int problems = 0;
            ag_err lerr = ag_policy_lint(lint_path, count_problem, &problems);
            ASSERT_EQ(lerr == AG_OK, err == AG_OK);
            ASSERT_EQ(problems == 0, err == AG_OK);
        }
    }
    printf("    1000 mutations: %d loaded, %d rejected with a position\n", loaded, rejected);
    ASSERT_TRUE(loaded > 50 && rejected > 50);
    free(buf);
    free(lint_path);
    free(orig);
}

TEST(random_globs_are_checked_and_matched_safely)
{
    static const char alphabet[] = "ab./*?[]!^-\\";
    char pat[16], text[16];
    int valid = 0;
    for (int i = 0; i < 100000; i++) {
        size_t n = 1 + rnd(sizeof pat - 1), m = rnd(sizeof text);
        for (size_t k = 0; k < n; k++)
            pat[k] = alphabet[rnd(sizeof alphabet - 1)];
        pat[n] = '\0';
        for (size_t k = 0; k < m; k++)
            text[k] = "ab./"[rnd(4)];
        text[m] = '\0';
        const char *why;
        size_t off;
        if (ag__glob_check(pat, &why, &off) != AG_OK) {
            ASSERT_TRUE(off < n);
            continue;
        }
        valid++;
        char sep = rnd(2) ? '.' : '/';
        struct ag__glob g;
        ag__glob_compile(&g, pat, sep);
        if (ag__glob_match(&g, text, m) != ag__glob_match_str(pat, text, sep))
            ag_test_fail(__FILE__, __LINE__, "'%s' vs '%s': compiled and plain disagree", pat,
                         text);
    }
    ASSERT_TRUE(valid > 5000);
}
