/* ag_policy_lint on tests/data/policy/lint/ (every .yaml file): each file lists the exact problems
 * it must produce in "# expect: LINE:COL: MESSAGE" comments, in order. ag_policy_load on the same
 * file must fail with the first of them. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "test.h"

#define MAX_MSGS 64

struct msgs {
    char *v[MAX_MSGS];
    int n;
    size_t strip; /* length of the "<dir>/" prefix to drop */
};

static void collect(void *ctx, const char *message)
{
    struct msgs *m = ctx;
    if (m->n < MAX_MSGS)
        m->v[m->n++] = strdup(message + m->strip);
}

static void free_msgs(struct msgs *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->v[i]);
    m->n = 0;
}

static void read_expected(const char *path, const char *base, struct msgs *want)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    if (f == NULL)
        ag_test_fail(__FILE__, __LINE__, "cannot open %s", path);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "# expect: ", 10) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        char buf[1200];
        snprintf(buf, sizeof buf, "%s:%s", base, line + 10);
        if (want->n < MAX_MSGS)
            want->v[want->n++] = strdup(buf);
    }
    fclose(f);
}

/* Returns 0 when lint and load report exactly what the file expects; prints the
 * difference otherwise. */
static int check_file(const char *dir, const char *base)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, base);
    struct msgs got = {.strip = strlen(dir) + 1}, want = {0};
    read_expected(path, base, &want);
    ag_err err = ag_policy_lint(path, collect, &got);
    int same = got.n == want.n && want.n > 0 && err == AG_EPARSE;
    for (int i = 0; same && i < got.n; i++)
        same = strcmp(got.v[i], want.v[i]) == 0;
    if (!same) {
        printf("    %s: lint returned %s with %d problems, expected %d:\n", base, ag_errname(err),
               got.n, want.n);
        for (int i = 0; i < got.n || i < want.n; i++)
            printf("      got:  %s\n      want: %s\n", i < got.n ? got.v[i] : "-",
                   i < want.n ? want.v[i] : "-");
    }
    ag_policy *p = (ag_policy *)1;
    ag_err lerr = ag_policy_load(path, &p);
    int first_ok = lerr == AG_EPARSE && p == NULL && want.n > 0 &&
                   strcmp(ag_last_error() + got.strip, want.v[0]) == 0;
    if (!first_ok)
        printf("    %s: load gave %s '%s'\n", base, ag_errname(lerr), ag_last_error());
    free_msgs(&got);
    free_msgs(&want);
    return same && first_ok ? 0 : 1;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

TEST(lint_every_error_kind_with_position)
{
    const char *src = getenv("AGENTGOV_SRC");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/data/policy/lint", src ? src : ".");
    DIR *d = opendir(dir);
    ASSERT_TRUE(d != NULL);
    struct dirent *e;
    int files = 0, failures = 0;
    while ((e = readdir(d)) != NULL) {
        if (!has_suffix(e->d_name, ".yaml"))
            continue;
        files++;
        /* One bad file must not hide the others: count, then fail once. */
        failures += check_file(dir, e->d_name);
    }
    closedir(d);
    ASSERT_TRUE(files >= 12);
    ASSERT_EQ(failures, 0);
}
