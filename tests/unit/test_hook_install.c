/* src/hook/install.c: the settings `agentgov hook install` merges into the agents' files
 * and the checks `agentgov hook doctor` runs on them. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "agentgov/hook.h"
#include "test.h"

#define CMD "/usr/bin/agentgov --dir /d hook claude-code"

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    ASSERT_TRUE(j != NULL);
    return j;
}

/* The first PreToolUse handler of a settings text. */
static json_t *first_handler(json_t *root)
{
    json_t *g = json_array_get(json_object_get(json_object_get(root, "hooks"), "PreToolUse"), 0);
    return json_array_get(json_object_get(g, "hooks"), 0);
}

TEST(claude_settings_gain_the_hook_and_keep_everything_else)
{
    const char *in = "{\"model\": \"opus\", \"permissions\": {\"deny\": [\"Bash(curl:*)\"]},\n"
                     " \"hooks\": {\"PostToolUse\": [{\"matcher\": \"Write\", \"hooks\": "
                     "[{\"type\": \"command\", \"command\": \"fmt\"}]}]},\n"
                     " \"disableAllHooks\": true}";
    char *out = NULL;
    char *ch = NULL;
    ASSERT_OK(ag_hook_install_claude(in, strlen(in), CMD, 1, &out, &ch));
    json_t *o = parse(out);
    ASSERT_STREQ(json_string_value(json_object_get(o, "model")), "opus");
    ASSERT_STREQ(json_string_value(
                     json_array_get(json_object_get(json_object_get(o, "permissions"), "deny"), 0)),
                 "Bash(curl:*)");
    ASSERT_TRUE(json_object_get(json_object_get(o, "hooks"), "PostToolUse") != NULL);
    ASSERT_TRUE(json_object_get(o, "disableAllHooks") == NULL);
    json_t *h = first_handler(o);
    ASSERT_STREQ(json_string_value(json_object_get(h, "command")), CMD);
    ASSERT_STREQ(json_string_value(json_object_get(h, "onFailure")), "block");
    ASSERT_CONTAINS(ch, "added a PreToolUse hook");
    ASSERT_CONTAINS(ch, "disableAllHooks");
    /* Once more: the same text, nothing new. */
    char *again = NULL;
    free(ch);
    ch = NULL;
    ASSERT_OK(ag_hook_install_claude(out, strlen(out), CMD, 1, &again, &ch));
    ASSERT_STREQ(again, out);
    ASSERT_STREQ(ch, "");
    free(again);
    json_decref(o);
    free(out);
    free(ch);
}

TEST(an_existing_agentgov_hook_is_updated_not_repeated)
{
    const char *in =
        "{\"hooks\": {\"PreToolUse\": [{\"matcher\": \"*\", \"hooks\": "
        "[{\"type\": \"command\", \"command\": \"/old/agentgov hook claude-code\"}]}]}}";
    char *out = NULL;
    char *ch = NULL;
    ASSERT_OK(ag_hook_install_claude(in, strlen(in), CMD, 0, &out, &ch));
    json_t *o = parse(out);
    json_t *groups = json_object_get(json_object_get(o, "hooks"), "PreToolUse");
    ASSERT_EQ(json_array_size(groups), 1);
    json_t *h = first_handler(o);
    ASSERT_STREQ(json_string_value(json_object_get(h, "command")), CMD);
    ASSERT_TRUE(json_object_get(h, "onFailure") == NULL); /* a version without it */
    ASSERT_CONTAINS(ch, "updated");
    json_decref(o);
    free(out);
    free(ch);
}

TEST(bad_settings_are_refused_with_the_place)
{
    char *out = NULL;
    char *ch = NULL;
    ASSERT_ERR(ag_hook_install_claude("{\"a\": 1,\n \"b\" 2}", 16, CMD, 1, &out, &ch), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), "line 2");
    ASSERT_ERR(ag_hook_install_claude("[1]", 3, CMD, 1, &out, &ch), AG_EPARSE);
    ASSERT_ERR(ag_hook_install_claude("{\"hooks\": []}", 13, CMD, 1, &out, &ch), AG_EINVAL);
    const char *not_array = "{\"hooks\": {\"PreToolUse\": {}}}";
    ASSERT_ERR(ag_hook_install_codex_hooks(not_array, strlen(not_array), CMD, &out, &ch),
               AG_EINVAL);
    ASSERT_TRUE(out == NULL);
    ASSERT_TRUE(ch == NULL); /* nothing on error */
    /* An empty file is a new one. */
    ASSERT_OK(ag_hook_install_codex_hooks(" \n", 2, CMD, &out, &ch));
    ASSERT_CONTAINS(out, "\"matcher\": \"*\"");
    ASSERT_TRUE(strstr(out, "onFailure") == NULL); /* Codex has no such setting */
    free(out);
    free(ch);
}

TEST(versions_compare_as_numbers)
{
    ASSERT_EQ(ag_hook_version_at_least("2.1.332 (Claude Code)", "2.1.295"), 1);
    ASSERT_EQ(ag_hook_version_at_least("2.1.295 (Claude Code)", "2.1.295"), 1);
    ASSERT_EQ(ag_hook_version_at_least("2.1.99 (Claude Code)", "2.1.295"), 0);
    ASSERT_EQ(ag_hook_version_at_least("1.0.128", "2.1.295"), 0);
    ASSERT_EQ(ag_hook_version_at_least("codex-cli 0.171.0", "0.124.0"), 1);
    ASSERT_EQ(ag_hook_version_at_least("no version", "2.1.295"), -1);
}

TEST(managed_requirements_are_appended_or_refused)
{
    const char *in = "# site policy\nallowed_approval_policies = [\"on-request\"]\n";
    char *out = NULL;
    char *ch = NULL;
    ASSERT_OK(
        ag_hook_install_codex_requirements(in, strlen(in), "/a b/agentgov hook codex", &out, &ch));
    ASSERT_TRUE(strncmp(out, in, strlen(in)) == 0);
    ASSERT_CONTAINS(out, "[features]\nhooks = true\nunified_exec_tty = false\n");
    ASSERT_CONTAINS(out, "[[hooks.PreToolUse.hooks]]\ntype = \"command\"\n"
                         "command = \"/a b/agentgov hook codex\"\n");
    /* Again: already there. */
    free(ch);
    char *again = NULL;
    ASSERT_OK(ag_hook_install_codex_requirements(out, strlen(out), "x", &again, &ch));
    ASSERT_STREQ(again, out);
    free(again);
    free(out);
    free(ch);
    out = NULL;
    const char *theirs = "[features]\nhooks = true\n";
    ASSERT_ERR(ag_hook_install_codex_requirements(theirs, strlen(theirs), "x", &out, &ch),
               AG_ECONFLICT);
    ASSERT_TRUE(out == NULL);
    free(ch);
}

TEST(doctor_reports_what_lets_a_call_through)
{
    char *f = NULL;
    char *cmd = NULL;
    ASSERT_EQ(ag_hook_doctor_settings("{}", 2, 1, 1, &cmd, &f), 1);
    ASSERT_CONTAINS(f, "no PreToolUse hook");
    ASSERT_TRUE(cmd == NULL);
    free(f);
    const char *no_block =
        "{\"disableAllHooks\": true, \"hooks\": {\"PreToolUse\": [{\"hooks\": "
        "[{\"type\": \"command\", \"command\": \"/x/agentgov hook claude-code\"}]}]}}";
    ASSERT_EQ(ag_hook_doctor_settings(no_block, strlen(no_block), 1, 1, &cmd, &f), 2);
    ASSERT_CONTAINS(f, "onFailure");
    ASSERT_CONTAINS(f, "disableAllHooks");
    ASSERT_STREQ(cmd, "/x/agentgov hook claude-code");
    free(cmd);
    free(f);
    /* A hook only for Bash lets every other tool through. */
    const char *bash_only = "{\"hooks\": {\"PreToolUse\": [{\"matcher\": \"Bash\", \"hooks\": "
                            "[{\"type\": \"command\", \"command\": \"agentgov hook claude-code\", "
                            "\"onFailure\": \"block\"}]}]}}";
    ASSERT_EQ(ag_hook_doctor_settings(bash_only, strlen(bash_only), 1, 1, &cmd, &f), 1);
    ASSERT_TRUE(cmd == NULL);
    free(f);
    /* Settings that do not parse are ignored by the agent: no hook. */
    ASSERT_EQ(ag_hook_doctor_settings("{", 1, 1, 1, &cmd, &f), 1);
    ASSERT_CONTAINS(f, "do not parse");
    free(f);
}

TEST(shell_words_quote_and_unquote)
{
    char *q = ag_hook_shell_quote("/opt/my tools/agent'gov");
    ASSERT_STREQ(q, "'/opt/my tools/agent'\\''gov'");
    char *cmd = NULL;
    ASSERT_TRUE(asprintf(&cmd, "%s --dir /d hook codex", q) > 0);
    char *prog = ag_hook_command_program(cmd);
    ASSERT_STREQ(prog, "/opt/my tools/agent'gov");
    free(prog);
    free(cmd);
    free(q);
    q = ag_hook_shell_quote("/usr/bin/agentgov");
    ASSERT_STREQ(q, "/usr/bin/agentgov");
    free(q);
    ASSERT_TRUE(ag_hook_command_program("   ") == NULL);
}
