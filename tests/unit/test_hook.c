/* Hook adapter: event parsing and tool mapping (recorded events in tests/data/hooks),
 * path resources, policy variables, verdicts and the answers in each agent's format. */
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "hook/hook.h"
#include "test.h"

static const char *data_path(const char *name)
{
    static char buf[PATH_MAX];
    const char *src = getenv("AGENTGOV_SRC");
    snprintf(buf, sizeof buf, "%s/tests/data/hooks/%s.json", src ? src : ".", name);
    return buf;
}

/* Parses a recorded event; returns the error code. */
static ag_err parse_file(enum ag__hook_dialect d, const char *name, struct ag__hook_event *ev)
{
    char *text = NULL;
    size_t len = 0;
    ag_err err = ag__read_file(data_path(name), 1 << 20, &text, &len);
    if (err == AG_OK)
        err = ag__hook_parse(d, text, len, ev);
    free(text);
    return err;
}

/* The event's first request; a search (Grep, Glob) adds everything below its
 * directory as a second. */
static void expect_map(const char *name, const char *action, const char *resource)
{
    struct ag__hook_event ev;
    ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, name, &ev));
    ASSERT_EQ(ev.nreq, ev.search_dir ? 2 : 1);
    ASSERT_STREQ(ev.req[0].action, action);
    ASSERT_STREQ(ev.req[0].resource, resource);
    ag__hook_event_free(&ev);
}

TEST(every_claude_code_tool_maps_to_its_action)
{
    expect_map("cc_bash_allow", "shell.exec", "git status --short");
    expect_map("cc_read_relative", "file.read", "home/dev/webapp/src/app.ts");
    expect_map("cc_read_env", "file.read", "home/dev/webapp/.env");
    expect_map("cc_grep", "file.read", "home/dev/webapp/src");
    expect_map("cc_glob", "file.read", "home/dev/webapp/**/*.test.ts");
    expect_map("cc_write_inside", "file.write", "home/dev/webapp/src/login.ts");
    expect_map("cc_write_dotdot", "file.write", "home/dev/other-project/notes.md");
    expect_map("cc_edit", "file.write", "home/dev/webapp/src/app.ts");
    expect_map("cc_multiedit", "file.write", "home/dev/webapp/README.md");
    expect_map("cc_notebookedit", "file.write", "home/dev/webapp/analysis.ipynb");
    expect_map("cc_webfetch", "net.http", "https://docs.python.org/3/library/json.html");
    expect_map("cc_websearch", "net.search", "jansson json_pack format");
    expect_map("cc_task", "agent.spawn", "code-reviewer");
    expect_map("cc_mcp", "mcp.github.create_issue", "github/create_issue");
    expect_map("cc_unknown_tool", "tool.FrobnicateDatabase", "FrobnicateDatabase");
}

TEST(event_fields_are_kept_for_the_ledger)
{
    struct ag__hook_event ev;
    ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, "cc_sub_write_outside", &ev));
    ASSERT_EQ(ev.kind, AG_HOOK_PRE_TOOL_USE);
    ASSERT_STREQ(ev.tool_name, "Write");
    ASSERT_STREQ(ev.tool_use_id, "toolu_01F2");
    ASSERT_STREQ(ev.agent_id, "a7e3b9d2c4f1");
    ASSERT_STREQ(ev.agent_type, "code-reviewer");
    ASSERT_STREQ(ev.cwd, "/home/dev/webapp");
    ASSERT_STREQ(ag__hook_agent(&ev), "a7e3b9d2c4f1");
    ag__hook_event_free(&ev);
    ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, "cc_perm_bash", &ev));
    ASSERT_EQ(ev.kind, AG_HOOK_PERMISSION_REQUEST);
    ASSERT_TRUE(ev.agent_id == NULL);
    ASSERT_STREQ(ag__hook_agent(&ev), "4f1c2a9e-7b3d-4e8a-9c1f-2d6b8e0a5c71");
    ag__hook_event_free(&ev);
}

static int has_req(const struct ag__hook_event *ev, const char *resource);

TEST(codex_apply_patch_is_a_write_of_every_named_file)
{
    struct ag__hook_event ev;
    ASSERT_OK(parse_file(AG_HOOK_CODEX, "codex_patch_outside", &ev));
    ASSERT_EQ(ev.nreq, 2);
    ASSERT_STREQ(ev.req[0].action, "file.write");
    ASSERT_STREQ(ev.req[0].resource, "home/dev/webapp/src/app.ts");
    ASSERT_STREQ(ev.req[1].resource, "home/.bashrc");
    ag__hook_event_free(&ev);
    const char *argv_cmd = "{\"hook_event_name\":\"PreToolUse\",\"cwd\":\"/w\",\"tool_name\":"
                           "\"shell\",\"tool_input\":{\"command\":[\"bash\",\"-lc\",\"ls\"]}}";
    ASSERT_OK(ag__hook_parse(AG_HOOK_CODEX, argv_cmd, strlen(argv_cmd), &ev));
    /* The argv is judged as such: bash, then the script it runs. */
    ASSERT_STREQ(ev.req[0].action, "shell.exec");
    ASSERT_STREQ(ev.req[0].resource, "bash");
    ASSERT_STREQ(ev.req[1].resource, "ls");
    ag__hook_event_free(&ev);
    argv_cmd = "{\"hook_event_name\":\"PreToolUse\",\"cwd\":\"/w\",\"tool_name\":"
               "\"shell\",\"tool_input\":{\"command\":[\"bash\",\"-lc\",\"rm -rf x\"]}}";
    ASSERT_OK(ag__hook_parse(AG_HOOK_CODEX, argv_cmd, strlen(argv_cmd), &ev));
    ASSERT_TRUE(has_req(&ev, "rm --force --recursive"));
    ag__hook_event_free(&ev);
}

TEST(malformed_events_are_errors_that_name_the_problem)
{
    struct ag__hook_event ev;
    ASSERT_ERR(parse_file(AG_HOOK_CLAUDE_CODE, "cc_malformed", &ev), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), "line");
    ASSERT_ERR(parse_file(AG_HOOK_CLAUDE_CODE, "cc_unknown_event", &ev), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "PostToolUse");
    ASSERT_ERR(parse_file(AG_HOOK_CLAUDE_CODE, "cc_no_tool_input", &ev), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "tool_input");
    ASSERT_ERR(parse_file(AG_HOOK_CLAUDE_CODE, "cc_bash_no_command", &ev), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "command");
    const char *cases[] = {
        "[]",
        "{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Read\",\"tool_input\":{}}",
        "{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"mcp__x\",\"tool_input\":{}}",
        "{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"a.b\",\"tool_input\":{}}",
        "{\"hook_event_name\":\"PreToolUse\",\"cwd\":\"rel\",\"tool_name\":\"Bash\","
        "\"tool_input\":{\"command\":\"ls\"}}",
        "{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":"
        "\"ls\"},\"tool_name\":\"Read\"}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_TRUE(ag__hook_parse(AG_HOOK_CLAUDE_CODE, cases[i], strlen(cases[i]), &ev) != AG_OK);
}

TEST(paths_become_canonical_resources)
{
    char *r = NULL;
    ASSERT_OK(ag__hook_path_resource("/p/q", "/h", "a/./b/../c", &r));
    ASSERT_STREQ(r, "p/q/a/c");
    free(r);
    ASSERT_OK(ag__hook_path_resource("/p/q", "/h", "../../../../etc//passwd", &r));
    ASSERT_STREQ(r, "etc/passwd");
    free(r);
    ASSERT_OK(ag__hook_path_resource("/p", "/home/ana", "~/.ssh/id_rsa", &r));
    ASSERT_STREQ(r, "home/ana/.ssh/id_rsa");
    free(r);
    ASSERT_OK(ag__hook_path_resource("/p", NULL, "/", &r));
    ASSERT_STREQ(r, "/");
    free(r);
    ASSERT_ERR(ag__hook_path_resource(NULL, NULL, "rel", &r), AG_EINVAL);
    ASSERT_ERR(ag__hook_path_resource("/p", NULL, "", &r), AG_EINVAL);
}

TEST(a_symlink_inside_the_project_resolves_to_its_target)
{
    char proj[PATH_MAX], outside[PATH_MAX], link[PATH_MAX + 16];
    ASSERT_TRUE(realpath(ag_test_fresh_dir("proj"), proj) != NULL);
    ASSERT_TRUE(realpath(ag_test_fresh_dir("outside"), outside) != NULL);
    snprintf(link, sizeof link, "%s/link", proj);
    ASSERT_OK(symlink(outside, link));
    char *r = NULL;
    ASSERT_OK(ag__hook_path_resource(proj, NULL, "link/new-file", &r));
    ASSERT_TRUE(strncmp(r, outside + 1, strlen(outside + 1)) == 0);
    ASSERT_CONTAINS(r, "/new-file");
    free(r);
}

TEST(policy_variables_expand_to_resource_form)
{
    const char *text = "a: '${PROJECT}/**'\nb: '${HOME}/.x'\nc: ${OTHER}\nd: ${PROJECT";
    char *out = NULL;
    size_t len = 0;
    ASSERT_OK(ag__hook_expand(text, strlen(text), "/w/proj", "/home/ana", &out, &len));
    ASSERT_STREQ(out, "a: 'w/proj/**'\nb: 'home/ana/.x'\nc: ${OTHER}\nd: ${PROJECT");
    ASSERT_EQ(len, strlen(out));
    free(out);
    ASSERT_OK(ag__hook_expand(text, strlen(text), "/w/proj", NULL, &out, &len));
    ASSERT_CONTAINS(out, "b: '${HOME}/.x'");
    free(out);
    ASSERT_ERR(ag__hook_expand(text, strlen(text), "/w/pro*j", NULL, &out, &len), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "/w/pro*j");
    ASSERT_ERR(ag__hook_expand(text, strlen(text), "/w/it's", NULL, &out, &len), AG_EINVAL);
}

static const char *policy_text = "version: 1\n"
                                 "rules:\n"
                                 "  - id: read\n"
                                 "    effect: allow\n"
                                 "    actions: [file.read]\n"
                                 "    resources: ['**']\n"
                                 "    min_tier: 0\n"
                                 "  - id: write\n"
                                 "    effect: allow\n"
                                 "    actions: [file.write]\n"
                                 "    resources: ['home/dev/webapp/**']\n"
                                 "    min_tier: 1\n"
                                 "  - id: web\n"
                                 "    effect: ask\n"
                                 "    actions: [net.http]\n"
                                 "    resources: ['**']\n"
                                 "    min_tier: 1\n";

static ag_policy *test_policy(void)
{
    ag_policy *p = NULL;
    ASSERT_OK(ag_policy_load_string("test.yaml", policy_text, strlen(policy_text), &p));
    return p;
}

static json_t *answer(const struct ag__hook_event *ev, const struct ag__hook_verdict *v)
{
    char *s = NULL;
    ASSERT_OK(ag__hook_response(ev, v, &s));
    json_t *o = json_loads(s, 0, NULL);
    free(s);
    ASSERT_TRUE(o != NULL);
    return o;
}

static const char *path_str(json_t *o, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(json_object_get(o, a), b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

TEST(pre_tool_use_answers_allow_deny_and_ask)
{
    ag_policy *p = test_policy();
    const char *names[] = {"cc_write_inside", "cc_write_outside", "cc_webfetch"};
    const char *want[] = {"allow", "deny", "ask"};
    for (int i = 0; i < 3; i++) {
        struct ag__hook_event ev;
        struct ag__hook_verdict v;
        ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, names[i], &ev));
        ag__hook_decide(p, 2, &ev, &v);
        json_t *o = answer(&ev, &v);
        ASSERT_STREQ(path_str(o, "hookSpecificOutput", "hookEventName", NULL), "PreToolUse");
        ASSERT_STREQ(path_str(o, "hookSpecificOutput", "permissionDecision", NULL), want[i]);
        ASSERT_CONTAINS(path_str(o, "hookSpecificOutput", "permissionDecisionReason", NULL),
                        "agentgov");
        json_decref(o);
        ag__hook_event_free(&ev);
    }
    ag_policy_free(p);
}

TEST(permission_request_answers_with_a_behavior)
{
    ag_policy *p = test_policy();
    struct ag__hook_event ev;
    struct ag__hook_verdict v;
    ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, "cc_perm_write_outside", &ev));
    ag__hook_decide(p, 2, &ev, &v);
    json_t *o = answer(&ev, &v);
    ASSERT_STREQ(path_str(o, "hookSpecificOutput", "hookEventName", NULL), "PermissionRequest");
    ASSERT_STREQ(path_str(o, "hookSpecificOutput", "decision", "behavior"), "deny");
    ASSERT_CONTAINS(path_str(o, "hookSpecificOutput", "decision", "message"), "etc/hosts");
    json_decref(o);
    ag__hook_event_free(&ev);

    ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, "cc_perm_webfetch", &ev));
    ag__hook_decide(p, 2, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_ASK);
    o = answer(&ev, &v);
    ASSERT_TRUE(json_object_get(o, "hookSpecificOutput") == NULL); /* the user decides */
    ASSERT_CONTAINS(json_string_value(json_object_get(o, "systemMessage")), "approval");
    json_decref(o);
    ev.dialect = AG_HOOK_CODEX;
    o = answer(&ev, &v);
    ASSERT_EQ(json_object_size(o), 0);
    json_decref(o);
    ag__hook_event_free(&ev);
    ag_policy_free(p);
}

TEST(deny_wins_over_the_requests_of_one_event)
{
    ag_policy *p = test_policy();
    struct ag__hook_event ev;
    struct ag__hook_verdict v;
    ASSERT_OK(parse_file(AG_HOOK_CODEX, "codex_patch_inside", &ev));
    ag__hook_decide(p, 2, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_ALLOW);
    ASSERT_CONTAINS(v.message, "test.yaml:");
    ag__hook_event_free(&ev);
    ASSERT_OK(parse_file(AG_HOOK_CODEX, "codex_patch_outside", &ev));
    ag__hook_decide(p, 2, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_DENY);
    ASSERT_EQ(v.which, 1);
    ASSERT_CONTAINS(v.message, "home/.bashrc");
    ag__hook_event_free(&ev);
    ag_policy_free(p);
}

TEST(unknown_tools_are_denied_with_a_way_out)
{
    ag_policy *p = test_policy();
    struct ag__hook_event ev;
    struct ag__hook_verdict v;
    ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, "cc_unknown_tool", &ev));
    ag__hook_decide(p, 4, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_DENY);
    ASSERT_CONTAINS(v.message, "unknown tool 'FrobnicateDatabase'");
    ASSERT_CONTAINS(v.message, "tool.FrobnicateDatabase");
    ag__hook_event_free(&ev);
    ag_policy_free(p);
}

TEST(no_policy_denies)
{
    struct ag__hook_event ev;
    struct ag__hook_verdict v;
    ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, "cc_read_relative", &ev));
    ag__hook_decide(NULL, 2, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_DENY);
    ASSERT_CONTAINS(v.message, "no_policy");
    ag__hook_event_free(&ev);
}

TEST(ledger_data_carries_the_tool_identity)
{
    ag_policy *p = test_policy();
    struct ag__hook_event ev;
    struct ag__hook_verdict v;
    ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, "cc_sub_read", &ev));
    ag__hook_decide(p, 1, &ev, &v);
    char *s = NULL;
    ASSERT_OK(ag__hook_ledger_data(&ev, &v, &s));
    json_t *o = json_loads(s, 0, NULL);
    ASSERT_TRUE(o != NULL);
    ASSERT_STREQ(json_string_value(json_object_get(o, "tool_name")), "Read");
    ASSERT_STREQ(json_string_value(json_object_get(o, "tool_use_id")), "toolu_01F1");
    ASSERT_STREQ(json_string_value(json_object_get(o, "hook_event_name")), "PreToolUse");
    ASSERT_STREQ(json_string_value(json_object_get(o, "agent_type")), "code-reviewer");
    ASSERT_STREQ(json_string_value(json_object_get(o, "subagent_id")), "a7e3b9d2c4f1");
    ASSERT_STREQ(json_string_value(json_object_get(o, "dialect")), "claude-code");
    ASSERT_CONTAINS(json_string_value(json_object_get(o, "rule")), "test.yaml:");
    json_decref(o);
    free(s);
    ag__hook_event_free(&ev);
    ag_policy_free(p);
}

static void collect(void *ctx, const char *message)
{
    int *n = ctx;
    printf("    lint: %s\n", message);
    (*n)++;
}

TEST(shipped_coding_agent_policy_passes_lint)
{
    char path[PATH_MAX];
    const char *src = getenv("AGENTGOV_SRC");
    snprintf(path, sizeof path, "%s/policies/coding-agent.yaml", src ? src : ".");
    int problems = 0;
    ASSERT_OK(ag_policy_lint(path, collect, &problems));
    ASSERT_EQ(problems, 0);
}

TEST(a_dangling_symlink_is_followed_to_where_a_write_would_land)
{
    char proj[PATH_MAX], outside[PATH_MAX], link[PATH_MAX + 16], target[PATH_MAX + 16];
    ASSERT_TRUE(realpath(ag_test_fresh_dir("dproj"), proj) != NULL);
    ASSERT_TRUE(realpath(ag_test_fresh_dir("doutside"), outside) != NULL);
    snprintf(link, sizeof link, "%s/notes.md", proj);
    snprintf(target, sizeof target, "%s/not-yet", outside);
    ASSERT_OK(symlink(target, link));
    char *r = NULL;
    ASSERT_OK(ag__hook_path_resource(proj, NULL, "notes.md", &r));
    ASSERT_STREQ(r, target + 1);
    free(r);
    /* A relative dangling link, and a loop, which ends with an error. */
    snprintf(link, sizeof link, "%s/rel", proj);
    ASSERT_OK(symlink("../doutside-x/y", link));
    ASSERT_OK(ag__hook_path_resource(proj, NULL, "rel", &r));
    ASSERT_CONTAINS(r, "/doutside-x/y");
    ASSERT_TRUE(strstr(r, "dproj") == NULL);
    free(r);
    snprintf(link, sizeof link, "%s/loop", proj);
    ASSERT_OK(symlink("loop", link));
    ASSERT_ERR(ag__hook_path_resource(proj, NULL, "loop/x", &r), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "symbolic links");
}

TEST(grep_glob_names_the_files_read)
{
    const char *ev_text = "{\"hook_event_name\":\"PreToolUse\",\"cwd\":\"/w/p\",\"tool_name\":"
                          "\"Grep\",\"tool_input\":{\"pattern\":\"KEY\",\"glob\":\".env\"}}";
    struct ag__hook_event ev;
    ASSERT_OK(ag__hook_parse(AG_HOOK_CLAUDE_CODE, ev_text, strlen(ev_text), &ev));
    ASSERT_EQ(ev.nreq, 3);
    ASSERT_STREQ(ev.req[0].resource, "w/p");
    ASSERT_STREQ(ev.req[1].resource, "w/p/**");
    ASSERT_STREQ(ev.req[2].resource, "w/p/.env");
    ASSERT_STREQ(ev.search_dir, "w/p");
    ASSERT_STREQ(ev.search_glob, ".env");
    ag__hook_event_free(&ev);
}

/* ---- Codex apply_patch: headers as Codex's parser reads them ----------------------- */

/* Parses a codex apply_patch event for patch; returns the error code. */
static ag_err parse_patch(const char *patch, struct ag__hook_event *ev)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s}}", "hook_event_name", "PreToolUse", "cwd",
                          "/w/p", "tool_name", "apply_patch", "tool_input", "command", patch);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ASSERT_TRUE(text != NULL);
    ag_err err = ag__hook_parse_home(AG_HOOK_CODEX, text, strlen(text), "/home/ana", ev);
    free(text);
    return err;
}

static int has_req(const struct ag__hook_event *ev, const char *resource)
{
    for (size_t i = 0; i < ev->nreq; i++)
        if (strcmp(ev->req[i].resource, resource) == 0)
            return 1;
    return 0;
}

TEST(codex_patch_headers_are_read_trimmed_as_codex_reads_them)
{
    /* Codex trims each line (Rust's str::trim: any Unicode white space) before it
     * looks for a hunk header, so these all add /etc/cron.d/x. */
    const char *padded[] = {" *** Add File: /etc/cron.d/x", "\t*** Add File: /etc/cron.d/x",
                            "\xc2\xa0*** Add File: /etc/cron.d/x",
                            "\xe3\x80\x80*** Add File: /etc/cron.d/x \t"};
    for (size_t i = 0; i < sizeof padded / sizeof padded[0]; i++) {
        char patch[256];
        struct ag__hook_event ev;
        snprintf(patch, sizeof patch,
                 "*** Begin Patch\n*** Update File: a.c\n@@\n-a\n+b\n%s\n+x\n*** End Patch\n",
                 padded[i]);
        ASSERT_OK(parse_patch(patch, &ev));
        ASSERT_TRUE(has_req(&ev, "w/p/a.c"));
        ASSERT_TRUE(has_req(&ev, "etc/cron.d/x"));
        ag__hook_event_free(&ev);
    }
    /* Trailing white space is no part of the path; a "Move to:" path, which Codex takes
     * from the raw line, is judged as written too. */
    struct ag__hook_event ev;
    ASSERT_OK(parse_patch("*** Begin Patch\n*** Add File: .env \r\n+K=1\n*** Update File: a.c\n"
                          "*** Move to: b/.env \n@@\n-a\n+b\n*** End Patch\n",
                          &ev));
    ASSERT_TRUE(has_req(&ev, "w/p/.env"));
    ASSERT_TRUE(has_req(&ev, "w/p/b/.env"));
    ASSERT_TRUE(has_req(&ev, "w/p/b/.env "));
    ag__hook_event_free(&ev);
}

TEST(a_codex_patch_line_that_looks_like_a_header_but_names_nothing_is_denied)
{
    const char *bad[] = {"*** Add File:",  "*** Add File:  \t",  "*** add file: x",
                         "***Add File: x", "  *** Delete File:", "*** Move To: y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char patch[256];
        struct ag__hook_event ev;
        snprintf(patch, sizeof patch,
                 "*** Begin Patch\n*** Update File: a.c\n@@\n-a\n+b\n%s\n"
                 "*** End Patch\n",
                 bad[i]);
        ASSERT_ERR(parse_patch(patch, &ev), AG_EINVAL);
        ASSERT_CONTAINS(ag_last_error(), "hunk header");
    }
}

/* ---- Codex cannot ask on PreToolUse ------------------------------------------------ */

TEST(a_codex_pre_tool_use_ask_is_a_deny_that_names_a_person)
{
    ag_policy *p = test_policy();
    struct ag__hook_event ev;
    struct ag__hook_verdict v;
    ASSERT_OK(parse_file(AG_HOOK_CODEX, "cc_webfetch", &ev));
    ag__hook_decide(p, 2, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_DENY);
    ASSERT_EQ(v.decision.reason, AG_REASON_RULE_ASK);
    ASSERT_CONTAINS(v.message, "a person must approve");
    json_t *o = answer(&ev, &v);
    ASSERT_STREQ(path_str(o, "hookSpecificOutput", "permissionDecision", NULL), "deny");
    ASSERT_CONTAINS(path_str(o, "hookSpecificOutput", "permissionDecisionReason", NULL),
                    "Codex hooks cannot ask");
    json_decref(o);
    ag__hook_event_free(&ev);
    /* Claude Code asks; a Codex PermissionRequest gives no decision (its prompt shows). */
    ASSERT_OK(parse_file(AG_HOOK_CLAUDE_CODE, "cc_webfetch", &ev));
    ag__hook_decide(p, 2, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_ASK);
    ag__hook_event_free(&ev);
    ASSERT_OK(parse_file(AG_HOOK_CODEX, "cc_perm_webfetch", &ev));
    ag__hook_decide(p, 2, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_ASK);
    o = answer(&ev, &v);
    ASSERT_EQ(json_object_size(o), 0);
    json_decref(o);
    ag__hook_event_free(&ev);
    ag_policy_free(p);
}

/* ---- `~` without an absolute HOME -------------------------------------------------- */

TEST(tilde_falls_back_to_the_passwd_home_and_else_is_denied)
{
    struct passwd *pw = getpwuid(getuid());
    ASSERT_TRUE(pw != NULL && pw->pw_dir[0] == '/');
    char want[PATH_MAX], buf[PATH_MAX], saved[PATH_MAX] = "";
    if (!realpath(pw->pw_dir, want))
        snprintf(want, sizeof want, "%s", pw->pw_dir);
    const char *h = getenv("HOME");
    int had = h != NULL;
    snprintf(saved, sizeof saved, "%s", h ? h : "");
    const char *homes[] = {NULL, "", "relative/home"};
    for (int i = 0; i < 3; i++) {
        if (homes[i])
            setenv("HOME", homes[i], 1);
        else
            unsetenv("HOME");
        ASSERT_STREQ(ag__hook_home(getuid(), buf), want);
        const char *w = "{\"hook_event_name\":\"PreToolUse\",\"cwd\":\"/w/p\",\"tool_name\":"
                        "\"Write\",\"tool_input\":{\"file_path\":\"~/.bashrc\"}}";
        struct ag__hook_event ev;
        char res[PATH_MAX + 16];
        ASSERT_OK(ag__hook_parse(AG_HOOK_CLAUDE_CODE, w, strlen(w), &ev));
        snprintf(res, sizeof res, "%s/.bashrc", want + 1);
        ASSERT_STREQ(ev.req[0].resource, res);
        ag__hook_event_free(&ev);
        ASSERT_ERR(ag__hook_parse_home(AG_HOOK_CLAUDE_CODE, w, strlen(w), NULL, &ev), AG_EINVAL);
        ASSERT_CONTAINS(ag_last_error(), "no home directory");
    }
    setenv("HOME", "/x/y", 1);
    ASSERT_STREQ(ag__hook_home(getuid(), buf), "/x/y");
    if (had)
        setenv("HOME", saved, 1);
    else
        unsetenv("HOME");
    char *r = NULL;
    ASSERT_ERR(ag__hook_path_resource("/p", NULL, "~/.bashrc", &r), AG_EINVAL);
    ASSERT_ERR(ag__hook_path_resource("/p", "rel", "~", &r), AG_EINVAL);
    ASSERT_OK(ag__hook_path_resource("/p", NULL, "~user/x", &r)); /* not the home: a name */
    ASSERT_STREQ(r, "p/~user/x");
    free(r);
}

/* ---- searches ---------------------------------------------------------------------- */

static const char *search_policy_text = "version: 1\n"
                                        "rules:\n"
                                        "  - id: read\n"
                                        "    effect: allow\n"
                                        "    actions: [file.read]\n"
                                        "    resources: ['**']\n"
                                        "    min_tier: 0\n"
                                        "  - id: secrets\n"
                                        "    effect: deny\n"
                                        "    actions: [file.read]\n"
                                        "    resources: ['**/.env', '**/.env.*', '**/.ssh/**',\n"
                                        "                '**/.aws/credentials', home/ana/.netrc]\n"
                                        "    min_tier: 0\n"
                                        "  - id: vault\n"
                                        "    effect: ask\n"
                                        "    actions: ['file.*']\n"
                                        "    resources: ['**/vault/*.key']\n"
                                        "    min_tier: 0\n";

/* The verdict on a search tool's input (JSON) in /w/p, with ~ at /home/ana. */
static enum ag_effect search(const char *tool, const char *input, struct ag__hook_verdict *v)
{
    static ag_policy *p;
    char text[1024];
    struct ag__hook_event ev;
    if (p == NULL)
        ASSERT_OK(
            ag_policy_load_string("s.yaml", search_policy_text, strlen(search_policy_text), &p));
    snprintf(text, sizeof text,
             "{\"hook_event_name\":\"PreToolUse\",\"cwd\":\"/w/p\",\"tool_name\":\"%s\","
             "\"tool_input\":%s}",
             tool, input);
    ASSERT_OK(ag__hook_parse_home(AG_HOOK_CLAUDE_CODE, text, strlen(text), "/home/ana", &ev));
    ag__hook_decide(p, 2, &ev, v);
    ag__hook_event_free(&ev);
    return v->effect;
}

TEST(a_search_is_judged_on_all_it_could_read)
{
    struct ag__hook_verdict v;
    /* Inside a directory whose contents a rule denies, or one a rule names a file in. */
    ASSERT_EQ(search("Grep", "{\"pattern\":\"aws_secret\",\"path\":\"~/.aws\"}", &v),
              AG_EFFECT_DENY);
    ASSERT_CONTAINS(v.message, "file.read on home/ana/.aws/**");
    ASSERT_CONTAINS(v.message, "the search could read files that rule names");
    ASSERT_EQ(search("Grep", "{\"pattern\":\"k\",\"path\":\"~/.ssh\"}", &v), AG_EFFECT_DENY);
    ASSERT_CONTAINS(v.message, "file.read on home/ana/.ssh/** (rule_deny");
    ASSERT_EQ(search("Glob", "{\"pattern\":\"**/*\",\"path\":\"~/.ssh\"}", &v), AG_EFFECT_DENY);
    ASSERT_EQ(search("Glob", "{\"pattern\":\".aws/*\",\"path\":\"~\"}", &v), AG_EFFECT_DENY);
    /* Above a file an anchored rule names: ~ holds home/ana/.netrc, / holds everything. */
    ASSERT_EQ(search("Grep", "{\"pattern\":\"k\",\"path\":\"~\"}", &v), AG_EFFECT_DENY);
    ASSERT_EQ(search("Grep", "{\"pattern\":\"k\",\"path\":\"/\"}", &v), AG_EFFECT_DENY);
    ASSERT_EQ(search("Grep", "{\"pattern\":\"k\",\"path\":\"/w\"}", &v), AG_EFFECT_ALLOW);
    /* An ask rule asks. */
    ASSERT_EQ(search("Grep", "{\"pattern\":\"k\",\"path\":\"x/vault\"}", &v), AG_EFFECT_ASK);
    ASSERT_EQ(search("Grep", "{\"pattern\":\"k\",\"glob\":\"vault/*.key\"}", &v), AG_EFFECT_ASK);
}

TEST(a_search_glob_that_could_name_a_denied_file_is_denied)
{
    struct ag__hook_verdict v;
    const char *denied[] = {"*.env",           ".env*",       "[.]env",     "*.ts,.env",
                            "*.ts .env.local", "*.{ts,env}",  "{src,.env}", "**/.aws/*",
                            ".aws/cred*",      "!*.ts *.env", "@(.env)",    "[[:alpha:]]env"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "{\"pattern\":\"k\",\"glob\":\"%s\"}", denied[i]);
        if (search("Grep", in, &v) != AG_EFFECT_DENY)
            ag_test_fail(__FILE__, __LINE__, "glob %s: %s", denied[i], v.message);
        snprintf(in, sizeof in, "{\"pattern\":\"%s\"}", denied[i]);
        if (search("Glob", in, &v) != AG_EFFECT_DENY)
            ag_test_fail(__FILE__, __LINE__, "Glob %s: %s", denied[i], v.message);
    }
    ASSERT_EQ(search("Grep", "{\"pattern\":\"k\",\"include\":\"*.env\"}", &v), AG_EFFECT_DENY);
    ASSERT_CONTAINS(v.message, "file.read on w/p/*.env");
    /* What names no denied file, and the documented limits: no glob, a glob of every
     * name, and names that meet only where both sides have wildcards. */
    const char *allowed[] = {"*.ts",   "*.{ts,tsx}", "src/**/*.ts", "*.json",
                             "!*.env", "**",         "*/*",         "*.local"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "{\"pattern\":\"k\",\"glob\":\"%s\"}", allowed[i]);
        if (search("Grep", in, &v) != AG_EFFECT_ALLOW)
            ag_test_fail(__FILE__, __LINE__, "glob %s: %s", allowed[i], v.message);
    }
    ASSERT_EQ(search("Grep", "{\"pattern\":\"k\"}", &v), AG_EFFECT_ALLOW);
    ASSERT_CONTAINS(v.message, "file.read on w/p ");
    ASSERT_EQ(search("Glob", "{\"pattern\":\"**/*.test.ts\"}", &v), AG_EFFECT_ALLOW);
    ASSERT_CONTAINS(v.message, "file.read on w/p/**/*.test.ts ");
}

TEST(a_glob_pattern_that_climbs_after_a_wildcard_is_denied)
{
    const char *t = "{\"hook_event_name\":\"PreToolUse\",\"cwd\":\"/w/p\",\"tool_name\":\"Glob\","
                    "\"tool_input\":{\"pattern\":\"*/../../etc/*\"}}";
    struct ag__hook_event ev;
    ASSERT_ERR(ag__hook_parse(AG_HOOK_CLAUDE_CODE, t, strlen(t), &ev), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "'..'");
}
