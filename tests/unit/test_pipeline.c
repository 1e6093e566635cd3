/* Pipelines: the expression language (parse errors with columns, evaluation, types),
 * and the validation cases of tests/data/pipelines/ (each file lists every diagnostic
 * it must produce, exactly and in order, in "# expect:" comments). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/pipeline.h"
#include "core/err.h"
#include "core/fileio.h"
#include "pipeline/expr.h"
#include "test.h"

/* ----------------------------------------------------------- expressions --- */

struct env {
    const char *env;
    long long count;
    const char *plan;
};

static ag_err lookup(void *ctx, const struct ag__expr *ref, struct ag__xval *v)
{
    const struct env *e = ctx;
    if (ref->op == AG__X_PARAM && strcmp(ref->name, "env") == 0) {
        v->type = AG__XV_STR;
        v->s = e->env;
    } else if (ref->op == AG__X_PARAM && strcmp(ref->name, "count") == 0) {
        v->type = AG__XV_INT;
        v->i = e->count;
    } else if (ref->op == AG__X_STAGE && strcmp(ref->name, "plan") == 0) {
        v->type = AG__XV_STR;
        v->s = e->plan;
    } else {
        return ag__fail(AG_ENOTFOUND, "no %s", ref->name);
    }
    return AG_OK;
}

/* Evaluates text; returns 1/0, or -1 (parse error: *col set) or -2 (eval error). */
static int eval(const char *text, struct env *e, int *col)
{
    struct ag__arena ar;
    ag__arena_init(&ar);
    struct ag__expr *x = NULL;
    char msg[256];
    size_t len;
    int off, r = -1;
    const char *inner = ag__expr_unwrap(text, &len, &off);
    char *copy = strndup(inner, len);
    if (ag__expr_parse(&ar, copy, &x, col, msg, sizeof msg) == AG_OK)
        r = ag__expr_eval(x, lookup, e, &r) == AG_OK ? r : -2;
    else
        *col += off;
    free(copy);
    ag__arena_free(&ar);
    return r;
}

TEST(pipeline_expr_evaluates)
{
    struct env e = {"staging", 3, "success"};
    int col = 0;
    ASSERT_EQ(eval("${{ stages.plan.outcome == 'success' && params.env == 'staging' }}", &e, &col),
              1);
    ASSERT_EQ(eval("params.env != 'staging'", &e, &col), 0);
    ASSERT_EQ(eval("params.count > 2 && params.count < 4 && params.count >= 3", &e, &col), 1);
    ASSERT_EQ(eval("params.count <= 2 || !(params.env == 'prod')", &e, &col), 1);
    ASSERT_EQ(eval("!true || false", &e, &col), 0);
    ASSERT_EQ(eval("'it''s' == 'it''s'", &e, &col), 1);
    ASSERT_EQ(eval("params.env == null", &e, &col), 0);
    ASSERT_EQ(eval("-1 < 0", &e, &col), 1);
    e.plan = "failure";
    ASSERT_EQ(eval("stages.plan.outcome == 'success' && params.env == 'staging'", &e, &col), 0);
    /* && binds tighter than ||. */
    ASSERT_EQ(eval("true || false && false", &e, &col), 1);
    ASSERT_EQ(eval("(true || false) && false", &e, &col), 0);
}

TEST(pipeline_expr_type_errors)
{
    struct env e = {"staging", 3, "success"};
    int col = 0;
    ASSERT_EQ(eval("params.env == 3", &e, &col), -2);
    ASSERT_CONTAINS(ag_last_error(), "cannot compare a string with a integer");
    ASSERT_EQ(eval("params.env < 'z'", &e, &col), -2);
    ASSERT_EQ(eval("params.count && true", &e, &col), -2);
    ASSERT_CONTAINS(ag_last_error(), "expected a boolean");
    ASSERT_EQ(eval("params.missing == 'x'", &e, &col), -2);
}

TEST(pipeline_expr_parse_errors_have_columns)
{
    struct env e = {"staging", 3, "success"};
    static const struct {
        const char *text;
        int col;
    } bad[] = {
        {"params.env = 'x'", 11},
        {"params.env == \"x\"", 14},
        {"(true", 5},
        {"'open", 0},
        {"stages.plan.colour == 'x'", 12},
        {"env == 'x'", 0},
        {"true && ", 8},
        {"1 < 2 < 3", 6},
        {"true & false", 5},
        {"${{ params.env == }}", 18},
        {"", 0},
        {"1.5 > 1", 1},
        {"true false", 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int col = -1;
        int r = eval(bad[i].text, &e, &col);
        if (r != -1 || col != bad[i].col)
            ag_test_fail(__FILE__, __LINE__,
                         "'%s': got %d at column %d, expected a parse error at %d", bad[i].text, r,
                         col, bad[i].col);
    }
}

TEST(pipeline_expr_depth_is_bounded)
{
    char text[400];
    memset(text, '(', 200);
    strcpy(text + 200, "true");
    memset(text + 204, ')', 150);
    text[354] = '\0';
    int col = 0;
    struct env e = {"s", 1, "success"};
    ASSERT_EQ(eval(text, &e, &col), -1);
}

/* -------------------------------------------------------- validation cases --- */

static ag_err read_rel(void *ctx, const char *from, const char *path, char **text, size_t *len)
{
    (void)ctx;
    char full[4096];
    const char *slash = strrchr(from, '/');
    snprintf(full, sizeof full, "%.*s/%s", slash ? (int)(slash - from) : 1, slash ? from : ".",
             path);
    ag_err e = ag__read_file(full, 1 << 20, text, len);
    return e ? ag__fail(e, "no such file next to %s, here or in the shipped templates", from) : e;
}

static int registered(void *ctx, const char *id)
{
    (void)ctx;
    return strncmp(id, "registered-", 11) == 0;
}

/* Runs from the source root, so that a case's name in messages is
 * tests/data/pipelines/NAME and its templates resolve next to it. */
static int check_case(const char *base)
{
    char path[512];
    snprintf(path, sizeof path, "tests/data/pipelines/%.300s", base);
    char *text = NULL;
    size_t len = 0;
    if (ag__read_file(path, 1 << 20, &text, &len) != AG_OK)
        return 1;
    char want[8192] = "";
    int valid = 0;
    for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, "# expect: ", 10) != 0)
            continue;
        size_t n = strcspn(l + 10, "\n");
        if (n == 5 && strncmp(l + 10, "valid", 5) == 0)
            valid = 1;
        else
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s:%.*s\n", path, (int)n,
                     l + 10);
    }
    struct ag_pipeline_source_ops ops = {.read = read_rel, .agent_known = registered};
    ag_pipeline *p = NULL;
    char *diags = NULL;
    ag_err e = ag_pipeline_load(path, text, len, &ops, &p, &diags);
    int ok = valid ? e == AG_OK && p != NULL && diags == NULL
                   : e == AG_EPARSE && p == NULL && diags && strcmp(diags, want) == 0;
    if (!ok)
        printf("    %s: %s\n    got:\n%s    want:\n%s", base, ag_errname(e), diags ? diags : "",
               valid ? "valid\n" : want);
    ag_pipeline_free(p);
    free(diags);
    free(text);
    return ok ? 0 : 1;
}

TEST(pipeline_validation_cases)
{
    const char *src = getenv("AGENTGOV_SRC");
    if (src && chdir(src) != 0)
        ag_test_fail(__FILE__, __LINE__, "chdir %s", src);
    DIR *d = opendir("tests/data/pipelines");
    ASSERT_TRUE(d != NULL);
    struct dirent *de;
    int cases = 0, failed = 0;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0)
            continue;
        cases++;
        failed += check_case(de->d_name);
    }
    closedir(d);
    ASSERT_TRUE(cases >= 9);
    ASSERT_EQ(failed, 0);
}

/* ---------------------------------------------------------- substitution --- */

#include "pipeline/subst.h"

static const char *vals(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "env") == 0)
        return "prod; rm -rf / #";
    if (strcmp(name, "empty") == 0)
        return "";
    return NULL;
}

static int known_env(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "env") == 0;
}

static int nbad;
static void count_bad(void *ctx, size_t off, const char *inner)
{
    (void)ctx;
    (void)inner;
    nbad += (int)off + 1000;
}

TEST(pipeline_subst)
{
    char *s = ag__pl_subst("-var=env=${{ params.env }}", vals, NULL);
    /* The value lands in the one argument, as text. */
    ASSERT_STREQ(s, "-var=env=prod; rm -rf / #");
    free(s);
    s = ag__pl_subst("${{params.empty}}x${{ params.other }}y${{ stages.a.outcome }}", vals, NULL);
    ASSERT_STREQ(s, "x${{ params.other }}y${{ stages.a.outcome }}");
    free(s);
    s = ag__pl_subst("no refs, ${{ unclosed", vals, NULL);
    ASSERT_STREQ(s, "no refs, ${{ unclosed");
    free(s);
    nbad = 0;
    ASSERT_EQ(ag__pl_subst_check("a ${{ params.env }} b ${{ params.x }} ${{ 1 + 1 }}", known_env,
                                 count_bad, NULL),
              2);
    ASSERT_EQ(nbad, (22 + 1000) + (38 + 1000)); /* at the offsets of the two bad ones */
}
