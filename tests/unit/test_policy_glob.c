/* The glob grammar of docs/policy.md, driven by tests/data/policy/globs.txt, and the
 * compiled fast paths checked against the general matcher. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/glob.h"
#include "test.h"

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Splits "a | b | c | d" into four trimmed fields; 0 if the line has another shape. */
static int split4(char *line, char **f)
{
    for (int i = 0; i < 3; i++) {
        char *bar = strstr(line, " | ");
        if (bar == NULL)
            return 0;
        *bar = '\0';
        f[i] = trim(line);
        line = bar + 3;
    }
    f[3] = trim(line);
    return 1;
}

TEST(glob_cases_from_data_file)
{
    const char *src = getenv("AGENTGOV_SRC");
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s/tests/data/policy/globs.txt", src ? src : ".");
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f != NULL);
    int lineno = 0, cases = 0;
    while (fgets(line, sizeof line, f)) {
        char *fld[4];
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (!split4(line, fld))
            ag_test_fail(__FILE__, __LINE__, "globs.txt:%d: malformed line", lineno);
        char sep = fld[0][0] == 'A' ? AG__SEP_ACTION : AG__SEP_RESOURCE;
        const char *why = "";
        size_t off = 0;
        ag_err err = ag__glob_check(fld[1], &why, &off);
        if (strncmp(fld[3], "error:", 6) == 0) {
            char got[256];
            snprintf(got, sizeof got, "%s at offset %zu", why, off);
            if (err != AG_EPARSE || strcmp(got, fld[3] + 6) != 0)
                ag_test_fail(__FILE__, __LINE__, "globs.txt:%d: '%s': got '%s', want '%s'", lineno,
                             fld[1], err ? got : "valid", fld[3] + 6);
        } else {
            if (err != AG_OK)
                ag_test_fail(__FILE__, __LINE__, "globs.txt:%d: '%s' rejected: %s", lineno, fld[1],
                             why);
            struct ag__glob g;
            ag__glob_compile(&g, fld[1], sep);
            int want = strcmp(fld[3], "match") == 0;
            if (ag__glob_match(&g, fld[2], strlen(fld[2])) != want ||
                ag__glob_match_str(fld[1], fld[2], sep) != want)
                ag_test_fail(__FILE__, __LINE__, "globs.txt:%d: '%s' vs '%s': want %s", lineno,
                             fld[1], fld[2], fld[3]);
        }
        cases++;
    }
    fclose(f);
    ASSERT_TRUE(cases > 50);
}

TEST(glob_fast_paths_agree_with_general_matcher)
{
    const char *pats[] = {"ssh.exec", "sandbox/**", "**", "*", "a.b.**", "***", "x***"};
    const char *texts[] = {"ssh.exec", "sandbox/a", "sandbox/", "sandbox", "a.b.c", "a.b",
                           "x",        "x/y",       "x.y",      "",        "xyz"};
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        for (int s = 0; s < 2; s++) {
            char sep = s ? '/' : '.';
            struct ag__glob g;
            ag__glob_compile(&g, pats[i], sep);
            for (size_t j = 0; j < sizeof texts / sizeof texts[0]; j++)
                if (ag__glob_match(&g, texts[j], strlen(texts[j])) !=
                    ag__glob_match_str(pats[i], texts[j], sep))
                    ag_test_fail(__FILE__, __LINE__, "'%s' (kind %d) vs '%s' sep '%c'", pats[i],
                                 g.kind, texts[j], sep);
        }
    }
}

TEST(glob_compile_kinds)
{
    struct ag__glob g;
    ag__glob_compile(&g, "ssh.exec", '.');
    ASSERT_EQ(g.kind, AG__GLOB_EXACT);
    ag__glob_compile(&g, "sandbox/**", '/');
    ASSERT_EQ(g.kind, AG__GLOB_PREFIX);
    ASSERT_EQ(g.litlen, 8);
    ag__glob_compile(&g, "**", '/');
    ASSERT_EQ(g.kind, AG__GLOB_ANY);
    ag__glob_compile(&g, "*", '/');
    ASSERT_EQ(g.kind, AG__GLOB_SEGMENT);
    ag__glob_compile(&g, "a\\*", '/');
    ASSERT_EQ(g.kind, AG__GLOB_GENERAL);
    ASSERT_EQ(g.taillen, 0);
    ag__glob_compile(&g, "**.exec", '.');
    ASSERT_EQ(g.kind, AG__GLOB_SUFFIX);
    ASSERT_EQ(g.taillen, 5);
    ag__glob_compile(&g, "*.exec", '.');
    ASSERT_EQ(g.kind, AG__GLOB_SEG_SUFFIX);
    ag__glob_compile(&g, "ssh.*", '.');
    ASSERT_EQ(g.kind, AG__GLOB_SEG_PREFIX);
    ag__glob_compile(&g, "a?b[cd]e", '.');
    ASSERT_EQ(g.kind, AG__GLOB_GENERAL);
    ASSERT_EQ(g.litlen, 1);
    ASSERT_EQ(g.taillen, 1);
}
