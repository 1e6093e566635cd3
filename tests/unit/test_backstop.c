/* The backstop's grant-list builder (runner/backstop.h) on real directory trees, the
 * policy's deny rules as carve-outs (runner/backstop_profile.h), and one grant list
 * enforced by the kernel. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentgov/policy.h"
#include "core/err.h"
#include "runner/backstop.h"
#include "runner/backstop_profile.h"
#include "runner/sandbox.h"
#include "test.h"

static char root[PATH_MAX];

static const char *P(const char *rel)
{
    static char buf[8][PATH_MAX + 64];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, PATH_MAX + 64, "%s/%s", root, rel);
    return b;
}

static void mkdirs(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", P(rel));
    for (char *s = p + strlen(root) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static void touch(const char *rel)
{
    int fd = open(P(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(write(fd, "x\n", 2), 2);
    close(fd);
}

/* A fresh tree for one test; root is its canonical path. */
static void fresh(const char *label)
{
    ASSERT_TRUE(realpath(ag_test_fresh_dir(label), root) != NULL);
}

/* The access granted to rel exactly, or -1 when no rule names it. */
static int granted(const struct ag__grants *g, const char *rel)
{
    const char *p = P(rel);
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->v[i].path, p) == 0)
            return g->v[i].access;
    return -1;
}

static void build(struct ag__wants *w, struct ag__grants *g)
{
    ASSERT_OK(ag__grants_build(w, 0, g));
    ag__wants_free(w);
}

TEST(a_subtree_with_nothing_carved_is_one_rule)
{
    fresh("one");
    mkdirs("proj/src");
    touch("proj/src/a.c");
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__wants_add(&w, P("proj"), AG__ACC_WRITE, "project"));
    build(&w, &g);
    ASSERT_EQ(g.n, 1);
    ASSERT_EQ(granted(&g, "proj"), AG__ACC_WRITE);
    ag__grants_free(&g);
}

TEST(a_carved_directory_is_listed_and_its_entries_granted_one_by_one)
{
    fresh("carve");
    mkdirs("proj/src");
    mkdirs("proj/.claude");
    mkdirs("proj/.git/hooks");
    mkdirs("proj/.git/objects");
    touch("proj/README");
    touch("proj/.env");
    touch("proj/.claude/settings.json");
    touch("proj/.claude/notes.md");
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__wants_add(&w, P("proj"), AG__ACC_WRITE, "project"));
    ASSERT_OK(ag__wants_add(&w, P("proj/.env"), AG__ACC_NONE, "credentials"));
    ASSERT_OK(ag__wants_add(&w, P("proj/.claude/settings.json"), AG__ACC_READ, "settings"));
    ASSERT_OK(ag__wants_add(&w, P("proj/.git/hooks"), AG__ACC_READ, "git hooks"));
    build(&w, &g);
    /* Something beneath is unreadable: the project itself only lists its entries. */
    ASSERT_EQ(granted(&g, "proj"), AG__ACC_LIST);
    ASSERT_EQ(granted(&g, "proj/src"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/README"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/.env"), -1);
    /* Only read-only entries beneath: the directory reads, its other entries write. */
    ASSERT_EQ(granted(&g, "proj/.claude"), AG__ACC_READ);
    ASSERT_EQ(granted(&g, "proj/.claude/notes.md"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/.claude/settings.json"), -1); /* covered by .claude */
    ASSERT_EQ(granted(&g, "proj/.git"), AG__ACC_READ);
    ASSERT_EQ(granted(&g, "proj/.git/objects"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/.git/hooks"), -1);
    /* Sorted by path. */
    for (size_t i = 1; i < g.n; i++)
        ASSERT_TRUE(strcmp(g.v[i - 1].path, g.v[i].path) < 0);
    ag__grants_free(&g);
}

TEST(a_file_that_does_not_exist_yet_still_carves_its_directory)
{
    fresh("absent");
    mkdirs("proj/.claude/commands");
    touch("proj/.claude/settings.json");
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__wants_add(&w, P("proj"), AG__ACC_WRITE, "project"));
    ASSERT_OK(ag__wants_add(&w, P("proj/.claude/settings.local.json"), AG__ACC_READ, "settings"));
    build(&w, &g);
    /* Creating settings.local.json needs a write right on .claude: it gets none. */
    ASSERT_EQ(granted(&g, "proj"), AG__ACC_READ);
    ASSERT_EQ(granted(&g, "proj/.claude"), -1); /* read, by the project's rule */
    ASSERT_EQ(granted(&g, "proj/.claude/commands"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/.claude/settings.json"), AG__ACC_WRITE);
    ag__grants_free(&g);
}

TEST(a_want_beneath_a_file_leaves_the_file_granted)
{
    fresh("gitfile");
    mkdirs("wt");
    touch("wt/.git"); /* a worktree's .git is a file naming the real git directory */
    touch("wt/.env");
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__wants_add(&w, P("wt"), AG__ACC_WRITE, "project"));
    ASSERT_OK(ag__wants_add(&w, P("wt/.git/hooks"), AG__ACC_READ, "git hooks"));
    ASSERT_OK(ag__wants_add(&w, P("wt/.env"), AG__ACC_NONE, "credentials"));
    build(&w, &g);
    ASSERT_EQ(granted(&g, "wt/.git"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "wt/.env"), -1);
    ag__grants_free(&g);
}

TEST(wants_that_only_add_rights_need_no_enumeration)
{
    fresh("add");
    mkdirs("home/.cache");
    mkdirs("home/docs");
    touch("home/.bashrc");
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__wants_add(&w, P("home"), AG__ACC_READ, "home"));
    ASSERT_OK(ag__wants_add(&w, P("home/.cache"), AG__ACC_WRITE, "state"));
    build(&w, &g);
    ASSERT_EQ(g.n, 2);
    ASSERT_EQ(granted(&g, "home"), AG__ACC_READ);
    ASSERT_EQ(granted(&g, "home/.cache"), AG__ACC_WRITE);
    ag__grants_free(&g);
}

TEST(a_pattern_carves_matches_at_any_depth)
{
    fresh("pattern");
    mkdirs("proj/a/b");
    mkdirs("proj/c");
    touch("proj/a/b/.env.local");
    touch("proj/a/b/main.c");
    touch("proj/a/x.c");
    touch("proj/c/y.c");
    mkdirs("proj/.aws");
    touch("proj/.aws/credentials");
    touch("proj/.aws/config");
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__wants_add(&w, P("proj"), AG__ACC_WRITE, "project"));
    ASSERT_OK(ag__wants_add_pattern(&w, P("proj"), ".env.*", AG__ACC_NONE, "credentials"));
    ASSERT_OK(
        ag__wants_add_pattern(&w, P("proj"), ".aws/credentials", AG__ACC_NONE, "credentials"));
    ASSERT_OK(ag__grants_build(&w, 0, &g));
    ASSERT_TRUE(g.walked >= 9);
    ag__wants_free(&w);
    ASSERT_EQ(granted(&g, "proj"), AG__ACC_LIST);
    ASSERT_EQ(granted(&g, "proj/c"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/a"), -1); /* listed, by the project's rule */
    ASSERT_EQ(granted(&g, "proj/a/x.c"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/a/b"), -1);
    ASSERT_EQ(granted(&g, "proj/a/b/main.c"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/a/b/.env.local"), -1);
    ASSERT_EQ(granted(&g, "proj/.aws/config"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/.aws/credentials"), -1);
    ag__grants_free(&g);
}

TEST(a_walk_past_its_budget_fails_closed_naming_the_root)
{
    fresh("budget");
    mkdirs("proj/d");
    for (int i = 0; i < 20; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "proj/d/f%d", i);
        touch(rel);
    }
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__wants_add(&w, P("proj"), AG__ACC_WRITE, "project"));
    ASSERT_OK(ag__wants_add_pattern(&w, P("proj"), ".env", AG__ACC_NONE, "credentials"));
    ASSERT_EQ(ag__grants_build(&w, 10, &g), AG_ELIMIT);
    ASSERT_CONTAINS(ag_last_error(), "more than 10 entries");
    ASSERT_CONTAINS(ag_last_error(), P("proj"));
    ASSERT_EQ(g.n, 0);
    ASSERT_OK(ag__grants_build(&w, 100, &g));
    ag__wants_free(&w);
    ag__grants_free(&g);
}

TEST(symbolic_links_met_while_carving_are_not_granted)
{
    fresh("links");
    mkdirs("proj/src");
    mkdirs("outside");
    touch("proj/.env");
    ASSERT_EQ(symlink(P("outside"), P("proj/out")), 0);
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__wants_add(&w, P("proj"), AG__ACC_WRITE, "project"));
    ASSERT_OK(ag__wants_add(&w, P("proj/.env"), AG__ACC_NONE, "credentials"));
    build(&w, &g);
    ASSERT_EQ(granted(&g, "proj/src"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj/out"), -1);
    ASSERT_EQ(granted(&g, "outside"), -1);
    ag__grants_free(&g);
}

TEST(two_wants_for_one_path_keep_the_lower_access)
{
    fresh("dup");
    mkdirs("home/.codex");
    struct ag__wants w = {0};
    ASSERT_OK(ag__wants_add(&w, P("home/.codex"), AG__ACC_WRITE, "state"));
    ASSERT_OK(ag__wants_add(&w, P("home/.codex/"), AG__ACC_READ, "settings"));
    ASSERT_OK(ag__wants_add(&w, P("home/.codex"), AG__ACC_WRITE, "state again"));
    ASSERT_EQ(w.n, 1);
    ASSERT_EQ(w.v[0].access, AG__ACC_READ);
    ASSERT_STREQ(w.v[0].why, "settings");
    ASSERT_EQ(ag__wants_add(&w, "relative/path", AG__ACC_READ, "x"), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "relative/path");
    ASSERT_EQ(ag__wants_add_pattern(&w, P("home"), "/abs", AG__ACC_NONE, "x"), AG_EINVAL);
    ag__wants_free(&w);
}

TEST(the_text_lists_each_grant_with_its_reason)
{
    fresh("text");
    mkdirs("proj/src");
    touch("proj/.env");
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__wants_add(&w, P("proj"), AG__ACC_WRITE, "the project"));
    ASSERT_OK(ag__wants_add(&w, P("proj/.env"), AG__ACC_NONE, "credentials"));
    build(&w, &g);
    char *text = NULL;
    ASSERT_OK(ag__grants_text(&g, &text));
    char line[PATH_MAX + 64];
    snprintf(line, sizeof line, "  write  %s  (the project)\n", P("proj/src"));
    ASSERT_CONTAINS(text, line);
    snprintf(line, sizeof line, "  list   %s  (", P("proj"));
    ASSERT_CONTAINS(text, line);
    ASSERT_TRUE(strstr(text, ".env") == NULL);
    free(text);
    ag__grants_free(&g);
}

/* ---- the policy's deny rules ---------------------------------------------------------- */

static const char policy_yaml[] =
    "version: 1\n"
    "rules:\n"
    "  - id: secrets\n"
    "    effect: deny\n"
    "    actions: [file.read, file.write]\n"
    "    resources: ['${HOME}/.vault/**', '**/.npmrc', '**/id_*', '**']\n"
    "    min_tier: 0\n"
    "  - id: locked\n"
    "    effect: deny\n"
    "    actions: [file.write]\n"
    "    resources: ['${PROJECT}/locked/**', '**/.codex/**']\n"
    "    min_tier: 0\n"
    "  - id: reads\n"
    "    effect: allow\n"
    "    actions: [file.read]\n"
    "    resources: ['${HOME}/.notes/**']\n"
    "    min_tier: 0\n";

static int want_access(const struct ag__wants *w, const char *path)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].path, path) == 0)
            return w->v[i].access;
    return -1;
}

TEST(the_policys_deny_rules_become_carve_outs)
{
    fresh("policy");
    mkdirs("home/.vault");
    mkdirs("home/.codex");
    mkdirs("home/.notes");
    mkdirs("proj/locked");
    touch("home/.npmrc");
    ag_policy *p = NULL;
    ASSERT_OK(ag_policy_load_string("t.yaml", policy_yaml, strlen(policy_yaml), &p));
    struct ag__wants w = {0};
    ASSERT_OK(ag__backstop_policy_wants(p, P("home"), P("proj"), &w));
    ASSERT_EQ(want_access(&w, P("home/.vault")), AG__ACC_NONE);
    ASSERT_EQ(want_access(&w, P("home/.npmrc")), AG__ACC_NONE);
    ASSERT_EQ(want_access(&w, P("proj/locked")), AG__ACC_READ);
    /* The agent's own state is not made read-only by a write rule... */
    ASSERT_EQ(want_access(&w, P("home/.codex")), -1);
    /* ...and allow rules carve nothing. */
    ASSERT_EQ(want_access(&w, P("home/.notes")), -1);
    /* **\/X resources are patterns over the project; a bare ** is skipped. */
    int npmrc = 0, ids = 0, codex = 0;
    for (size_t i = 0; i < w.npat; i++) {
        ASSERT_STREQ(w.pat[i].root, P("proj"));
        npmrc += strcmp(w.pat[i].pattern, ".npmrc") == 0 && w.pat[i].access == AG__ACC_NONE;
        ids += strcmp(w.pat[i].pattern, "id_*") == 0 && w.pat[i].access == AG__ACC_NONE;
        codex += strcmp(w.pat[i].pattern, ".codex") == 0 && w.pat[i].access == AG__ACC_READ;
    }
    ASSERT_EQ(npmrc, 1);
    ASSERT_EQ(ids, 1);
    ASSERT_EQ(codex, 1);
    ASSERT_EQ(w.npat, 3);
    ag__wants_free(&w);
    ag_policy_free(p);
}

TEST(the_coding_profile_protects_settings_and_hides_credentials)
{
    fresh("coding");
    mkdirs("home/.ssh");
    mkdirs("home/.claude/projects");
    mkdirs("proj/.git/hooks");
    mkdirs("data");
    touch("home/.ssh/id_ed25519");
    touch("home/.claude/settings.json");
    touch("home/.gitconfig");
    touch("data/master.key");
    touch("data/config");
    touch("data/ledger.db");
    const char *ledger[] = {P("data/ledger.db")};
    struct ag__backstop_opts o = {.home = P("home"),
                                  .project = P("proj"),
                                  .data_dir = P("data"),
                                  .data_writable = ledger,
                                  .ndata_writable = 1};
    struct ag__wants w = {0};
    struct ag__grants g;
    ASSERT_OK(ag__backstop_coding_wants(&o, &w));
    build(&w, &g);
    ASSERT_EQ(granted(&g, "home/.gitconfig"), AG__ACC_READ);
    ASSERT_EQ(granted(&g, "home/.ssh"), -1);
    ASSERT_EQ(granted(&g, "home/.claude"), AG__ACC_READ);
    ASSERT_EQ(granted(&g, "home/.claude/projects"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "proj"), AG__ACC_READ); /* settings and git hooks beneath */
    ASSERT_EQ(granted(&g, "proj/.git"), -1);
    ASSERT_TRUE(granted(&g, "data") <= AG__ACC_LIST); /* at most listed: keys inside */
    ASSERT_EQ(granted(&g, "data/config"), AG__ACC_READ);
    ASSERT_EQ(granted(&g, "data/ledger.db"), AG__ACC_WRITE);
    ASSERT_EQ(granted(&g, "data/master.key"), -1);
    ag__grants_free(&g);
}

/* ---- the kernel ----------------------------------------------------------------------- */

/* Runs sh -c script under the grant list; returns its exit status. */
static int run_sh(const struct ag__grants *g, const char *script)
{
    struct ag_sandbox_profile prof = {0};
    struct ag__spawn_opts so = {
        .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .grants = g->v, .ngrants = g->n};
    char copy[4096]; /* the spawn takes char *const[] */
    ASSERT_TRUE(strlen(script) < sizeof copy);
    snprintf(copy, sizeof copy, "%s", script);
    char *argv[] = {"sh", "-c", copy, NULL};
    pid_t pid;
    ASSERT_OK(ag__sandbox_spawn(&prof, P("proj"), argv, NULL, &so, &pid));
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    return WEXITSTATUS(st);
}

TEST(the_kernel_enforces_the_grant_list)
{
    if (ag__landlock_abi() < 6)
        return; /* without the features the sandbox needs, prepare refuses (tested above) */
    fresh("kernel");
    mkdirs("proj/src");
    mkdirs("proj/.claude");
    touch("proj/.claude/settings.json");
    touch("proj/.env");
    struct ag__wants w = {0};
    struct ag__grants g;
    static const char *const sys[] = {"/usr", "/bin", "/lib", "/lib64", "/etc"};
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        ASSERT_OK(ag__wants_add(&w, sys[i], AG__ACC_READ, "system"));
    ASSERT_OK(ag__wants_add(&w, P("proj"), AG__ACC_WRITE, "project"));
    ASSERT_OK(ag__wants_add(&w, P("proj/.claude/settings.json"), AG__ACC_READ, "settings"));
    ASSERT_OK(ag__wants_add(&w, P("proj/.env"), AG__ACC_NONE, "credentials"));
    build(&w, &g);
    ASSERT_EQ(run_sh(&g, "echo ok > src/new.c && cat src/new.c >/dev/null"), 0);
    ASSERT_EQ(run_sh(&g, "cat .claude/settings.json >/dev/null"), 0);
    ASSERT_NE(run_sh(&g, "echo '{}' > .claude/settings.json"), 0);
    ASSERT_NE(run_sh(&g, "echo '{}' > .claude/settings.local.json"), 0);
    ASSERT_NE(run_sh(&g, "rm .claude/settings.json"), 0);
    ASSERT_NE(run_sh(&g, "mv .claude .claude.old"), 0);
    ASSERT_NE(run_sh(&g, "cat .env"), 0);
    ASSERT_EQ(run_sh(&g, "ls . >/dev/null"), 0); /* names stay listable */
    struct stat st;
    ASSERT_EQ(stat(P("proj/.claude/settings.local.json"), &st), -1);
    ASSERT_EQ(stat(P("proj/src/new.c"), &st), 0);
    ag__grants_free(&g);
}
