/* The data directory opener (agentgov/home.h): where it resolves, what it opens and
 * when, and what it says when something is wrong. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentgov/home.h"
#include "core/fileio.h"
#include "test.h"

static void put(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ASSERT_OK(ag__write_file_atomic(path, text, strlen(text), 0600, 0));
}

static int exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

/* The shipped default policy, copied into dir as policy.yaml. */
static void put_default_policy(const char *dir)
{
    char *text;
    size_t len;
    ASSERT_OK(ag__read_file(ag_policy_default_path(), 1 << 20, &text, &len));
    put(dir, "policy.yaml", text);
    free(text);
}

/* Saves and clears the variables the resolution reads, and restores them. */
static const char *const vars[] = {"AGENTGOV_DIR", "XDG_DATA_HOME", "HOME", "AGENTGOV_STORE",
                                   "AGENTGOV_MASTER_KEY"};
#define NVARS (sizeof vars / sizeof vars[0])
static char *saved[NVARS];

static void env_clear(void)
{
    for (size_t i = 0; i < NVARS; i++) {
        const char *v = getenv(vars[i]);
        free(saved[i]);
        saved[i] = v ? strdup(v) : NULL;
        unsetenv(vars[i]);
    }
}

static void env_restore(void)
{
    for (size_t i = 0; i < NVARS; i++) {
        if (saved[i])
            setenv(vars[i], saved[i], 1);
        else
            unsetenv(vars[i]);
        free(saved[i]);
        saved[i] = NULL;
    }
}

TEST(home_dir_resolution_order)
{
    char buf[PATH_MAX];
    env_clear();
    setenv("HOME", "/h", 1);
    ASSERT_OK(ag_home_resolve_dir(NULL, buf, sizeof buf));
    ASSERT_STREQ(buf, "/h/.local/share/agentgov");
    setenv("XDG_DATA_HOME", "relative/xdg", 1); /* ignored: the spec says so */
    ASSERT_OK(ag_home_resolve_dir(NULL, buf, sizeof buf));
    ASSERT_STREQ(buf, "/h/.local/share/agentgov");
    setenv("XDG_DATA_HOME", "/xdg", 1);
    ASSERT_OK(ag_home_resolve_dir(NULL, buf, sizeof buf));
    ASSERT_STREQ(buf, "/xdg/agentgov");
    ASSERT_FALSE(ag_home_dir_is_set(NULL));
    setenv("AGENTGOV_DIR", "/env/dir", 1);
    ASSERT_OK(ag_home_resolve_dir(NULL, buf, sizeof buf));
    ASSERT_STREQ(buf, "/env/dir");
    ASSERT_OK(ag_home_resolve_dir("", buf, sizeof buf)); /* an empty --dir is no --dir */
    ASSERT_STREQ(buf, "/env/dir");
    ASSERT_TRUE(ag_home_dir_is_set(NULL));
    ASSERT_OK(ag_home_resolve_dir("flag/dir", buf, sizeof buf));
    ASSERT_STREQ(buf, "flag/dir");
    env_restore();
}

TEST(home_no_dir_without_absolute_home)
{
    char buf[PATH_MAX];
    env_clear();
    setenv("HOME", "relative/home", 1);
    ASSERT_ERR(ag_home_resolve_dir(NULL, buf, sizeof buf), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "no data directory");
    ASSERT_CONTAINS(ag_last_error(), "set --dir or $AGENTGOV_DIR");
    unsetenv("HOME");
    ag_home *h = (ag_home *)1;
    ASSERT_ERR(ag_home_open(NULL, NULL, &h), AG_EINVAL);
    ASSERT_TRUE(h == NULL);
    char big[PATH_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ASSERT_ERR(ag_home_resolve_dir(big, buf, sizeof buf), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "--dir: path longer than");
    env_restore();
}

TEST(home_file_layout_is_one_table)
{
    const char *dir = ag_test_fresh_dir("home_layout");
    ag_home *h;
    ASSERT_OK(ag_home_open(dir, NULL, &h));
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/ledger.db", dir);
    ASSERT_STREQ(ag_home_path(h, AG_HOME_LEDGER_DB), want);
    snprintf(want, sizeof want, "%s/hook.sock", dir);
    ASSERT_STREQ(ag_home_path(h, AG_HOME_HOOK_SOCK), want);
    ASSERT_STREQ(ag_home_file_name(AG_HOME_ROOT_TOKEN), "root.token");
    ASSERT_TRUE(ag_home_path(h, AG_HOME_NFILES) == NULL);
    ASSERT_TRUE(ag_home_file_name((enum ag_home_file) - 1) == NULL);
    ASSERT_STREQ(ag_home_dir(h), dir);
    ag_home_free(h);
    ag_home_free(NULL);
}

/* A command that needs only the policy creates nothing: no ledger, no store. */
TEST(home_opens_lazily)
{
    const char *dir = ag_test_fresh_dir("home_lazy");
    put_default_policy(dir);
    struct ag_home_opts o = {.create_ledger = 1};
    ag_home *h;
    ASSERT_OK(ag_home_open(dir, &o, &h));
    ASSERT_FALSE(exists(dir, "ledger.db"));
    ag_policy *p, *again;
    ASSERT_OK(ag_home_policy(h, &p));
    ASSERT_OK(ag_home_policy(h, &again));
    ASSERT_TRUE(p == again); /* kept, not loaded twice */
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/policy.yaml", dir);
    ASSERT_STREQ(ag_policy_path(p), want);
    ASSERT_FALSE(exists(dir, "ledger.db"));
    ASSERT_FALSE(exists(dir, "state.db"));
    /* Only when asked for. */
    ag_ledger *l;
    ASSERT_OK(ag_home_ledger(h, &l));
    ASSERT_TRUE(exists(dir, "ledger.db"));
    ASSERT_FALSE(exists(dir, "state.db"));
    ag_home_free(h);
}

TEST(home_command_needs_an_initialised_ledger)
{
    const char *dir = ag_test_fresh_dir("home_noledger");
    ag_home *h;
    ASSERT_OK(ag_home_open(dir, NULL, &h));
    ag_ledger *l = (ag_ledger *)1;
    ASSERT_ERR(ag_home_ledger(h, &l), AG_ENOTFOUND);
    ASSERT_TRUE(l == NULL);
    ASSERT_CONTAINS(ag_last_error(), "no ledger at ");
    ASSERT_CONTAINS(ag_last_error(), "run `agentgov init` first");
    ASSERT_FALSE(exists(dir, "ledger.db"));
    ASSERT_ERR(ag_home_open_ledger(h, AG_HOME_LEDGER_READ, &l), AG_ENOTFOUND);
    ag_home_free(h);
}

TEST(home_bad_config_names_file_and_line)
{
    const char *dir = ag_test_fresh_dir("home_badcfg");
    put(dir, "config", "# fine\nledger.checkpoint_every = 5\nserver.threads = 999\n");
    ag_home *h = (ag_home *)1;
    ASSERT_NE(ag_home_open(dir, NULL, &h), AG_OK);
    ASSERT_TRUE(h == NULL);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/config:3", dir);
    ASSERT_CONTAINS(ag_last_error(), want);
    ASSERT_CONTAINS(ag_last_error(), "server.threads");
    ASSERT_CONTAINS(ag_last_error(), "config: ");
    /* Lazily: the open succeeds, the first use fails the same way. */
    struct ag_home_opts o = {.lazy_config = 1};
    ASSERT_OK(ag_home_open(dir, &o, &h));
    const ag_config *c;
    ASSERT_NE(ag_home_config(h, &c), AG_OK);
    ASSERT_CONTAINS(ag_last_error(), want);
    ag_policy *p;
    ASSERT_NE(ag_home_policy(h, &p), AG_OK); /* config `policy` is unknown: no guess */
    ag_home_free(h);
}

TEST(home_store_url_order)
{
    const char *dir = ag_test_fresh_dir("home_store");
    env_clear();
    const char *url;
    ag_home *h;
    ASSERT_OK(ag_home_open(dir, NULL, &h));
    ASSERT_OK(ag_home_store_url(h, &url));
    char want[PATH_MAX + 16];
    snprintf(want, sizeof want, "sqlite:%s/state.db", dir);
    ASSERT_STREQ(url, want);
    ag_home_free(h);
    put(dir, "config", "store = sqlite:/from/config.db\n");
    ASSERT_OK(ag_home_open(dir, NULL, &h));
    ASSERT_OK(ag_home_store_url(h, &url));
    ASSERT_STREQ(url, "sqlite:/from/config.db");
    ag_home_free(h);
    setenv("AGENTGOV_STORE", "sqlite:/from/env.db", 1);
    ASSERT_OK(ag_home_open(dir, NULL, &h));
    ASSERT_OK(ag_home_store_url(h, &url));
    ASSERT_STREQ(url, "sqlite:/from/env.db");
    ag_home_free(h);
    struct ag_home_opts o = {.store = "sqlite:/from/flag.db"};
    ASSERT_OK(ag_home_open(dir, &o, &h));
    ASSERT_OK(ag_home_store_url(h, &url));
    ASSERT_STREQ(url, "sqlite:/from/flag.db");
    ag_home_free(h);
    env_restore();
}

TEST(home_policy_path_order)
{
    const char *dir = ag_test_fresh_dir("home_policy");
    const char *path;
    ag_home *h;
    ASSERT_OK(ag_home_open(dir, NULL, &h));
    ASSERT_OK(ag_home_policy_path(h, &path));
    ASSERT_STREQ(path, ag_policy_default_path());
    ag_home_free(h);
    put(dir, "policy.yaml", "not: [a policy\n");
    ASSERT_OK(ag_home_open(dir, NULL, &h));
    ASSERT_OK(ag_home_policy_path(h, &path));
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/policy.yaml", dir);
    ASSERT_STREQ(path, want);
    ag_policy *p;
    ASSERT_NE(ag_home_policy(h, &p), AG_OK);
    ASSERT_CONTAINS(ag_last_error(), "loading the policy: ");
    ASSERT_CONTAINS(ag_last_error(), want);
    ag_home_free(h);
    put(dir, "config", "policy = /from/config.yaml\n");
    ASSERT_OK(ag_home_open(dir, NULL, &h));
    ASSERT_OK(ag_home_policy_path(h, &path));
    ASSERT_STREQ(path, "/from/config.yaml");
    ag_home_free(h);
    struct ag_home_opts o = {.policy = "/from/flag.yaml"};
    ASSERT_OK(ag_home_open(dir, &o, &h));
    ASSERT_OK(ag_home_policy_path(h, &path));
    ASSERT_STREQ(path, "/from/flag.yaml");
    ag_home_free(h);
}

/* A home whose later opens failed frees what the earlier ones opened (the leak check
 * of `make asan` and valgrind sees the rest). */
TEST(home_free_after_a_failed_open)
{
    const char *dir = ag_test_fresh_dir("home_half");
    put(dir, "policy.yaml", "tiers: [broken\n");
    struct ag_home_opts o = {.create_ledger = 1};
    ag_home *h;
    ASSERT_OK(ag_home_open(dir, &o, &h));
    ag_store *s;
    ag_ledger *l;
    ag_gov *g = (ag_gov *)1;
    ASSERT_OK(ag_home_store(h, &s));
    ASSERT_OK(ag_home_ledger(h, &l));
    ASSERT_NE(ag_home_gov(h, &g), AG_OK); /* the policy does not load */
    ASSERT_TRUE(g == NULL);
    ASSERT_CONTAINS(ag_last_error(), "loading the policy");
    ag_home_free(h);
}

TEST(home_gov_plugs_auth_when_a_master_key_exists)
{
    const char *dir = ag_test_fresh_dir("home_gov");
    env_clear();
    put_default_policy(dir);
    struct ag_home_opts o = {.create_ledger = 1};
    ag_home *h;
    ag_gov *g;
    ag_auth *a;
    /* No key: the lifecycle opens without an auth engine (no credentials exist). */
    ASSERT_OK(ag_home_open(dir, &o, &h));
    ASSERT_FALSE(ag_home_has_master_key(h));
    ASSERT_OK(ag_home_gov(h, &g));
    ASSERT_ERR(ag_home_auth(h, &a), AG_ENOTFOUND);
    ag_home_free(h);
    /* A key: the auth engine opens with it. */
    char key[PATH_MAX];
    snprintf(key, sizeof key, "%s/master.key", dir);
    ASSERT_OK(ag_auth_master_key_create(key));
    ASSERT_OK(ag_home_open(dir, &o, &h));
    ASSERT_TRUE(ag_home_has_master_key(h));
    ASSERT_OK(ag_home_gov(h, &g));
    ag_auth *a2;
    ASSERT_OK(ag_home_auth(h, &a));
    ASSERT_OK(ag_home_auth(h, &a2));
    ASSERT_TRUE(a != NULL && a == a2);
    ag_home_free(h);
    /* A key that is there but unusable fails the lifecycle: a revocation could
     * otherwise leave a live token behind. */
    chmod(key, 0644);
    ASSERT_OK(ag_home_open(dir, &o, &h));
    ASSERT_NE(ag_home_gov(h, &g), AG_OK);
    ASSERT_CONTAINS(ag_last_error(), "loading the master key");
    ag_home_free(h);
    env_restore();
}

TEST(home_config_into_layers_the_directory_file)
{
    const char *dir = ag_test_fresh_dir("home_into");
    put(dir, "config", "server.threads = 7\n");
    struct ag_home_opts o = {.lazy_config = 1};
    ag_home *h;
    ASSERT_OK(ag_home_open(dir, &o, &h));
    ag_config *c;
    ASSERT_OK(ag_config_new(&c));
    ASSERT_OK(ag_config_set(c, "server.threads", "3"));
    ASSERT_OK(ag_home_config_into(h, c));
    ASSERT_EQ(ag_config_int(c, "server.threads"), 7);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/config:1", dir);
    ASSERT_STREQ(ag_config_origin(c, "server.threads"), want);
    ag_config_free(c);
    ag_home_free(h);
}
