/* The governed runner's parts that need no lock or token: PREFLIGHT against the
 * shipped policy, deliverables and hashing on real files, and the child's
 * environment, data-directory view and widened profile. The whole run, with real
 * processes, is tests/integration/run.sh. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentgov/gov.h"
#include "agentgov/policy.h"
#include "core/fileio.h"
#include "runner/run.h"
#include "runner/run_env.h"
#include "runner/run_files.h"
#include "runner/run_preflight.h"
#include "test.h"

static const char *src_path(const char *rel)
{
    static char path[4096];
    const char *src = getenv("AGENTGOV_SRC");
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
    return path;
}

static ag_policy *shipped(void)
{
    ag_policy *p = NULL;
    if (ag_policy_load(src_path("policies/default.yaml"), &p) != AG_OK)
        ag_test_fail(__FILE__, __LINE__, "load: %s", ag_last_error());
    return p;
}

static ag_packet *packet(const char *steps, const char *deliverables, const char *scope)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"agent_id\":\"a\",\"task_id\":\"t\",\"created_for\":\"x\",\"objective\":\"o\","
             "\"deliverables\":%s,\"constraints\":{\"scope\":%s,\"forbidden\":[\"ansible.apply\"],"
             "\"required_steps\":%s},\"success_criteria\":[],\"escalation_rules\":[],"
             "\"created_at\":\"2026-11-25T12:00:00Z\"}",
             deliverables, scope, steps);
    ag_packet *p = NULL;
    if (ag_packet_parse(json, strlen(json), &p) != AG_OK)
        ag_test_fail(__FILE__, __LINE__, "packet: %s", ag_last_error());
    return p;
}

/* ---- preflight ------------------------------------------------------------------ */

TEST(probe_resources_replace_wildcard_segments)
{
    char out[128];
    ag__run_probe_resource("sandbox/**", out, sizeof out);
    ASSERT_STREQ(out, "sandbox/preflight");
    ag__run_probe_resource("staging/web-*/conf", out, sizeof out);
    ASSERT_STREQ(out, "staging/preflight/conf");
    ag__run_probe_resource("**", out, sizeof out);
    ASSERT_STREQ(out, "preflight");
    ag__run_probe_resource("", out, sizeof out);
    ASSERT_STREQ(out, "preflight");
}

TEST(deliverables_must_stay_inside_the_workdir)
{
    ASSERT_TRUE(ag__run_relpath_ok("out.txt"));
    ASSERT_TRUE(ag__run_relpath_ok("dist/app.tar.gz"));
    ASSERT_TRUE(ag__run_relpath_ok(".hidden"));
    ASSERT_FALSE(ag__run_relpath_ok(""));
    ASSERT_FALSE(ag__run_relpath_ok("/etc/passwd"));
    ASSERT_FALSE(ag__run_relpath_ok("../up"));
    ASSERT_FALSE(ag__run_relpath_ok("a/../../b"));
    ASSERT_FALSE(ag__run_relpath_ok("./a"));
    ASSERT_FALSE(ag__run_relpath_ok("a//b"));
    ASSERT_FALSE(ag__run_relpath_ok("dir/"));
}

TEST(preflight_passes_steps_the_tier_may_take)
{
    ag_policy *pol = shipped();
    ag_packet *pk =
        packet("[\"docs.read\",\"plan.generate\"]", "[\"plan.md\"]", "[\"sandbox/**\"]");
    char problem[400] = "";
    ASSERT_TRUE(ag__run_preflight(pol, pk, 0, problem, sizeof problem));
    ag_packet_free(pk);
    /* ssh.exec on sandbox/ is a T1 action, allowed only in EXECUTE: still possible. */
    pk = packet("[\"ssh.exec\"]", "[]", "[\"sandbox/**\"]");
    ASSERT_TRUE(ag__run_preflight(pol, pk, 1, problem, sizeof problem));
    ag_packet_free(pk);
    ag_policy_free(pol);
}

TEST(preflight_refuses_a_step_the_tier_may_never_take)
{
    ag_policy *pol = shipped();
    ag_packet *pk = packet("[\"docs.read\",\"ssh.exec\"]", "[]", "[\"sandbox/**\"]");
    char problem[400] = "";
    ASSERT_FALSE(ag__run_preflight(pol, pk, 0, problem, sizeof problem));
    ASSERT_CONTAINS(problem, "constraints.required_steps[1]: 'ssh.exec' is denied at tier 0");
    ag_packet_free(pk);
    /* In scope at T1, but not outside the scope (ssh.exec on prod is never allowed). */
    pk = packet("[\"ssh.exec\"]", "[]", "[\"prod/**\"]");
    ASSERT_FALSE(ag__run_preflight(pol, pk, 1, problem, sizeof problem));
    ag_packet_free(pk);
    ag_policy_free(pol);
}

TEST(preflight_refuses_a_required_step_the_packet_forbids)
{
    ag_policy *pol = shipped();
    ag_packet *pk = packet("[\"ansible.apply\"]", "[]", "[\"staging/**\"]");
    char problem[400] = "";
    ASSERT_FALSE(ag__run_preflight(pol, pk, 4, problem, sizeof problem));
    ASSERT_CONTAINS(problem, "forbidden_action");
    ag_packet_free(pk);
    ag_policy_free(pol);
}

TEST(preflight_refuses_deliverables_outside_the_workdir)
{
    ag_policy *pol = shipped();
    ag_packet *pk = packet("[]", "[\"ok.txt\",\"../escape.txt\"]", "[]");
    char problem[400] = "";
    ASSERT_FALSE(ag__run_preflight(pol, pk, 2, problem, sizeof problem));
    ASSERT_CONTAINS(problem, "deliverables[1]: '../escape.txt'");
    ag_packet_free(pk);
    ag_policy_free(pol);
}

/* ---- files ---------------------------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
    if (ag__write_file_atomic(path, text, strlen(text), 0644, 0) != AG_OK)
        ag_test_fail(__FILE__, __LINE__, "write %s: %s", path, ag_last_error());
}

TEST(files_are_hashed_with_sha256)
{
    const char *dir = ag_test_fresh_dir("hash");
    char path[512], hex[65];
    int64_t bytes = -1;
    snprintf(path, sizeof path, "%s/abc", dir);
    write_text(path, "abc");
    ASSERT_OK(ag__run_hash_file(path, hex, &bytes));
    ASSERT_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_EQ(bytes, 3);
    snprintf(path, sizeof path, "%s/empty", dir);
    write_text(path, "");
    ASSERT_OK(ag__run_hash_file(path, hex, &bytes));
    ASSERT_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ASSERT_EQ(bytes, 0);
    snprintf(path, sizeof path, "%s/absent", dir);
    ASSERT_ERR(ag__run_hash_file(path, hex, &bytes), AG_ENOTFOUND);
}

TEST(deliverables_resolve_inside_the_workdir_only)
{
    const char *dir = ag_test_fresh_dir("deliver");
    char path[4096], p[512], outside[512];
    snprintf(p, sizeof p, "%s/wd", dir);
    ASSERT_OK(ag__mkdir_p(p, 0700));
    snprintf(p, sizeof p, "%s/wd/sub", dir);
    ASSERT_OK(ag__mkdir_p(p, 0700));
    snprintf(p, sizeof p, "%s/wd/sub/out.txt", dir);
    write_text(p, "x");
    snprintf(outside, sizeof outside, "%s/secret", dir);
    write_text(outside, "s");
    snprintf(p, sizeof p, "%s/wd/link", dir);
    ASSERT_EQ(symlink(outside, p), 0);
    snprintf(p, sizeof p, "%s/wd", dir);
    ASSERT_OK(ag__run_deliverable(p, "sub/out.txt", path));
    ASSERT_CONTAINS(path, "/wd/sub/out.txt");
    ASSERT_ERR(ag__run_deliverable(p, "missing.txt", path), AG_ENOTFOUND);
    ASSERT_ERR(ag__run_deliverable(p, "sub", path), AG_ENOTFOUND);
    ASSERT_ERR(ag__run_deliverable(p, "link", path), AG_EPERM);
}

/* ---- the child's environment ---------------------------------------------------- */

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (char **e = envp; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* A data directory with the files the view links (WAL files included). */
static void fake_data_dir(const char *dir)
{
    static const char *const files[] = {"ledger.db",  "ledger.db-wal", "ledger.db-shm",
                                        "state.db",   "state.db-wal",  "state.db-shm",
                                        "ledger.key", "master.key",    "config"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        write_text(p, files[i]);
    }
    char p[512];
    snprintf(p, sizeof p, "%s/runs/r1", dir);
    ASSERT_OK(ag__mkdir_p(p, 0700));
}

static struct ag__run_env_in env_in(const char *dir, const struct ag_sandbox_profile *base,
                                    char bufs[6][512])
{
    snprintf(bufs[0], 512, "%s/runs/r1", dir);
    snprintf(bufs[1], 512, "%s/ledger.db", dir);
    snprintf(bufs[2], 512, "%s/state.db", dir);
    snprintf(bufs[3], 512, "%s/config", dir);
    struct ag__run_env_in in = {.base = base,
                                .run_dir = bufs[0],
                                .ledger_path = bufs[1],
                                .store_path = bufs[2],
                                .store_url = "sqlite:x",
                                .policy_path = src_path("policies/default.yaml"),
                                .config_path = bufs[3],
                                .bin = "/bin/sh",
                                .addr_port = 8200,
                                .token = "agv.tok",
                                .addr = "http://127.0.0.1:8200",
                                .agent_id = "a",
                                .task_id = "t",
                                .run_id = "r1",
                                .workdir = dir};
    return in;
}

TEST(the_child_gets_its_identity_and_none_of_the_runners_secrets)
{
    const char *dir = ag_test_fresh_dir("env");
    fake_data_dir(dir);
    setenv("AGENTGOV_MASTER_KEY", "00ff", 1);
    setenv("VAULT_TOKEN", "s.root", 1);
    setenv("AGENTGOV_RUN_TEST_KEEP", "kept-by-the-parent", 1);
    setenv("RUN_TEST_PLAIN", "inherited", 1);
    ag_policy *pol = shipped();
    char bufs[6][512];
    struct ag__run_env_in in = env_in(dir, ag_policy_sandbox(pol, 1), bufs);
    struct ag__run_env e;
    ASSERT_OK(ag__run_env_build(&in, &e));
    ASSERT_STREQ(env_get(e.envp, "AGENTGOV_TOKEN"), "agv.tok");
    ASSERT_STREQ(env_get(e.envp, "AGENTGOV_ADDR"), "http://127.0.0.1:8200");
    ASSERT_STREQ(env_get(e.envp, "AGENTGOV_AGENT_ID"), "a");
    ASSERT_STREQ(env_get(e.envp, "AGENTGOV_TASK_ID"), "t");
    ASSERT_STREQ(env_get(e.envp, "AGENTGOV_DIR"), e.api_dir);
    ASSERT_CONTAINS(env_get(e.envp, "AGENTGOV_STORE"), "/runs/r1/api/state.db");
    ASSERT_STREQ(env_get(e.envp, "RUN_TEST_PLAIN"), "inherited");
    ASSERT_TRUE(env_get(e.envp, "AGENTGOV_MASTER_KEY") == NULL);
    ASSERT_TRUE(env_get(e.envp, "VAULT_TOKEN") == NULL);
    ASSERT_TRUE(env_get(e.envp, "AGENTGOV_RUN_TEST_KEEP") == NULL);
    ag__run_env_free(&e);
    unsetenv("AGENTGOV_MASTER_KEY");
    unsetenv("VAULT_TOKEN");
    unsetenv("AGENTGOV_RUN_TEST_KEEP");
    ag_policy_free(pol);
}

TEST(extra_environment_entries_reach_the_child_and_replace_inherited_ones)
{
    const char *dir = ag_test_fresh_dir("envx");
    fake_data_dir(dir);
    setenv("RUN_TEST_REPLACED", "from-the-parent", 1);
    ag_policy *pol = shipped();
    char bufs[6][512];
    struct ag__run_env_in in = env_in(dir, ag_policy_sandbox(pol, 1), bufs);
    const char *extra[] = {"AGENTGOV_IDEMPOTENCY_KEY=run1.stage", "RUN_TEST_REPLACED=extra",
                           "EMPTY="};
    in.extra = extra;
    in.nextra = 3;
    struct ag__run_env e;
    ASSERT_OK(ag__run_env_build(&in, &e));
    ASSERT_STREQ(env_get(e.envp, "AGENTGOV_IDEMPOTENCY_KEY"), "run1.stage");
    ASSERT_STREQ(env_get(e.envp, "RUN_TEST_REPLACED"), "extra");
    ASSERT_STREQ(env_get(e.envp, "EMPTY"), "");
    size_t seen = 0;
    for (char **v = e.envp; *v; v++)
        seen += strncmp(*v, "RUN_TEST_REPLACED=", 18) == 0;
    ASSERT_EQ(seen, 1);
    ASSERT_STREQ(env_get(e.envp, "AGENTGOV_TOKEN"), "agv.tok");
    ag__run_env_free(&e);
    unsetenv("RUN_TEST_REPLACED");
    ag_policy_free(pol);
}

TEST(extra_environment_entries_cannot_replace_what_the_runner_sets)
{
    ASSERT_OK(ag_run_env_entry_check("AGENTGOV_PIPELINE_RUN=abc"));
    ASSERT_OK(ag_run_env_entry_check("_x1=a=b"));
    ASSERT_EQ(ag_run_env_entry_check("AGENTGOV_TOKEN=forged"), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "AGENTGOV_TOKEN");
    ASSERT_EQ(ag_run_env_entry_check("AGENTGOV_AGENT_ID=root"), AG_EINVAL);
    ASSERT_EQ(ag_run_env_entry_check("AGENTGOV_CA_CERT=/tmp/evil.pem"), AG_EINVAL);
    ASSERT_EQ(ag_run_env_entry_check("VAULT_TOKEN=s.x"), AG_EINVAL);
    ASSERT_EQ(ag_run_env_entry_check("NOEQUALS"), AG_EINVAL);
    ASSERT_EQ(ag_run_env_entry_check("=v"), AG_EINVAL);
    ASSERT_EQ(ag_run_env_entry_check("1X=v"), AG_EINVAL);
    ASSERT_EQ(ag_run_env_entry_check("A-B=v"), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "not a variable name");
}

TEST(the_childs_view_links_store_and_ledger_but_no_key)
{
    const char *dir = ag_test_fresh_dir("view");
    fake_data_dir(dir);
    ag_policy *pol = shipped();
    char bufs[6][512], p[4200], q[700];
    struct ag__run_env_in in = env_in(dir, ag_policy_sandbox(pol, 1), bufs);
    struct ag__run_env e;
    ASSERT_OK(ag__run_env_build(&in, &e));
    static const char *const linked[] = {"ledger.db", "ledger.db-wal", "ledger.db-shm",
                                         "state.db",  "state.db-wal",  "state.db-shm"};
    for (size_t i = 0; i < 6; i++) {
        struct stat a, b;
        snprintf(p, sizeof p, "%s/%s", e.api_dir, linked[i]);
        snprintf(q, sizeof q, "%s/%s", dir, linked[i]);
        ASSERT_EQ(stat(p, &a), 0);
        ASSERT_EQ(stat(q, &b), 0);
        ASSERT_EQ(a.st_ino, b.st_ino); /* the same file, not a copy */
    }
    static const char *const absent[] = {"ledger.key", "master.key", "root.token", "ledger.hmac"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", e.api_dir, absent[i]);
        ASSERT_TRUE(access(p, F_OK) != 0);
    }
    snprintf(p, sizeof p, "%s/policy.yaml", e.api_dir);
    ASSERT_EQ(access(p, R_OK), 0);
    snprintf(p, sizeof p, "%s/config", e.api_dir);
    ASSERT_EQ(access(p, R_OK), 0);
    char api[4096];
    snprintf(api, sizeof api, "%s", e.api_dir);
    ag__run_env_free(&e);
    ASSERT_TRUE(access(api, F_OK) != 0); /* removed with the environment */
    snprintf(p, sizeof p, "%s/ledger.db", dir);
    ASSERT_EQ(access(p, F_OK), 0); /* the originals stay */
    ag_policy_free(pol);
}

TEST(the_profile_is_widened_by_the_view_the_binary_and_the_daemon_port)
{
    const char *dir = ag_test_fresh_dir("widen");
    fake_data_dir(dir);
    ag_policy *pol = shipped();
    const struct ag_sandbox_profile *base = ag_policy_sandbox(pol, 1);
    char bufs[6][512];
    struct ag__run_env_in in = env_in(dir, base, bufs);
    struct ag__run_env e;
    ASSERT_OK(ag__run_env_build(&in, &e));
    ASSERT_EQ(e.profile.nread, base->nread + 1);
    ASSERT_EQ(e.profile.nwrite, base->nwrite + 1);
    ASSERT_STREQ(e.profile.write_paths[e.profile.nwrite - 1], e.api_dir);
    ASSERT_EQ(e.profile.nconnect, base->nconnect + 1);
    ASSERT_EQ(e.profile.connect_ports[e.profile.nconnect - 1], 8200);
    ASSERT_EQ(e.profile.workdir_write, base->workdir_write);
    ASSERT_EQ(e.profile.memory_bytes, base->memory_bytes);
    ag__run_env_free(&e);
    /* Without store access: no view, nothing widened but the port. */
    in.no_store_access = 1;
    ASSERT_OK(ag__run_env_build(&in, &e));
    ASSERT_STREQ(e.api_dir, "");
    ASSERT_EQ(e.profile.nread, base->nread);
    ASSERT_EQ(e.profile.nwrite, base->nwrite);
    ASSERT_TRUE(env_get(e.envp, "AGENTGOV_DIR") == NULL);
    ag__run_env_free(&e);
    ag_policy_free(pol);
}

TEST(a_view_without_wal_files_is_refused)
{
    const char *dir = ag_test_fresh_dir("nowal");
    fake_data_dir(dir);
    char p[512];
    snprintf(p, sizeof p, "%s/state.db-wal", dir);
    ASSERT_EQ(unlink(p), 0);
    ag_policy *pol = shipped();
    char bufs[6][512];
    struct ag__run_env_in in = env_in(dir, ag_policy_sandbox(pol, 1), bufs);
    struct ag__run_env e;
    ASSERT_ERR(ag__run_env_build(&in, &e), AG_EIO);
    ASSERT_CONTAINS(ag_last_error(), "state.db-wal");
    snprintf(p, sizeof p, "%s/runs/r1/api", dir);
    ASSERT_TRUE(access(p, F_OK) != 0);
    ag_policy_free(pol);
}

TEST(outcome_names_and_codes_are_stable)
{
    /* Success, error and refusal are the statuses every command shares. */
    ASSERT_EQ(AG_RUN_SUCCESS, 0);
    ASSERT_EQ(AG_RUN_ERROR, 4);
    ASSERT_EQ(AG_RUN_REFUSED, 2);
    ASSERT_EQ(AG_RUN_ERROR, AG_EXIT_ERROR);
    ASSERT_EQ(AG_RUN_REFUSED, AG_EXIT_DENY);
    ASSERT_EQ(AG_RUN_CHILD_FAILED, 10);
    ASSERT_EQ(AG_RUN_REVOKED, 12);
    ASSERT_EQ(AG_RUN_TIMEOUT, 13);
    ASSERT_EQ(AG_RUN_SANDBOX, 14);
    ASSERT_EQ(AG_RUN_INTERRUPTED, 15);
    ASSERT_STREQ(ag__run_outcome_name(AG_RUN_REVOKED), "revoked");
    ASSERT_STREQ(ag__run_outcome_name(AG_RUN_SANDBOX), "sandbox_unavailable");
}
