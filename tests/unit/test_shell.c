/* The shell parser and judge: argv and redirections of tricky lines, and the
 * data-driven table tests/data/shell/ (*.txt) (its README says the format) decided with
 * the shipped coding policy on a fixture project and home, through the hook's own
 * event mapping. */
#include <glob.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentgov/policy.h"
#include "core/buf.h"
#include "core/fileio.h"
#include "hook/shell_glob.h"
#include "hook/shell_judge.h"
#include "hook/shell_parse.h"
#include "hook/hook.h"
#include "test.h"

/* ---- parser ------------------------------------------------------------------------ */

static void parse(const char *line, struct ag__sh_script *s)
{
    ASSERT_OK(ag__sh_parse(line, strlen(line), s));
}

TEST(words_lose_their_quotes_and_keep_what_the_shell_would_expand)
{
    struct ag__sh_script s;
    parse("'r'm -\"r\"f a\\ b $'x\\ty' \"$HOME/x\" ~/y *.c $X", &s);
    ASSERT_EQ(s.ncmd, 1);
    ASSERT_EQ(s.cmd[0].argc, 8);
    ASSERT_STREQ(s.cmd[0].argv[0].text, "rm");
    ASSERT_STREQ(s.cmd[0].argv[1].text, "-rf");
    ASSERT_STREQ(s.cmd[0].argv[2].text, "a b");
    ASSERT_STREQ(s.cmd[0].argv[3].text, "x\ty");
    ASSERT_STREQ(s.cmd[0].argv[4].text, "\001H/x");
    ASSERT_TRUE(s.cmd[0].argv[5].flags & AG__SH_TILDE);
    ASSERT_TRUE(s.cmd[0].argv[6].flags & AG__SH_GLOB);
    ASSERT_TRUE(s.cmd[0].argv[7].flags & AG__SH_VAR);
    ASSERT_FALSE(s.cmd[0].argv[4].flags & AG__SH_VAR);
    ASSERT_EQ(s.nopaque, 0);
    ag__sh_script_free(&s);
    /* A quoted glob character is escaped in the pattern form. */
    parse("ls '*'x", &s);
    ASSERT_STREQ(s.cmd[0].argv[1].pat, "\\*x");
    ASSERT_FALSE(s.cmd[0].argv[1].flags & AG__SH_GLOB);
    ag__sh_script_free(&s);
}

/* The words bash itself makes of a line: each word printed NUL-terminated by bash's
 * printf, compared with the parser's argv. */
TEST(quoting_gives_the_words_bash_gives)
{
    static const char *const lines[] = {
        "a 'b c' \"d e\" f\\ g",
        "'r'm -\"r\"f x\\y \\\\z",
        "$'a\\tb' $'\\x41\\102' $'it\\'s' $\"q\"",
        "\"a\\\"b\" 'a\\b' \"a\\$b\" \"a\\b\" \"\\\\\"",
        "a\\\nb c'd'\"e\"f",
        "'' \"\" x''y",
        "a#b 'c # d' e\\#f",
        "{} '{a,b}' \\* '*' \"?\"",
        "--opt=\"v w\" -x'y z'",
        "\"multi\nline\" 'one\ntwo'",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char script[1024], out[4096];
        snprintf(script, sizeof script, "printf '%%s\\0' %s", lines[i]);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/line.sh", ag_test_tmpdir());
        FILE *f = fopen(path, "w");
        ASSERT_TRUE(f != NULL);
        fputs(script, f);
        fclose(f);
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof cmd, "bash --norc --noprofile '%s'", path);
        FILE *p = popen(cmd, "r");
        ASSERT_TRUE(p != NULL);
        size_t n = fread(out, 1, sizeof out, p);
        ASSERT_EQ(pclose(p), 0);
        struct ag__sh_script s;
        parse(script, &s);
        ASSERT_EQ(s.ncmd, 1);
        size_t off = 0, k = 2;
        for (; off < n; k++) {
            ASSERT_TRUE(k < s.cmd[0].argc);
            if (strcmp(s.cmd[0].argv[k].text, out + off) != 0)
                printf("    line %zu word %zu: parser '%s', bash '%s'\n", i, k,
                       s.cmd[0].argv[k].text, out + off);
            ASSERT_STREQ(s.cmd[0].argv[k].text, out + off);
            off += strlen(out + off) + 1;
        }
        ASSERT_EQ(k, s.cmd[0].argc);
        ag__sh_script_free(&s);
    }
}

TEST(operators_split_commands_and_pipes_number_stages)
{
    struct ag__sh_script s;
    parse("a; b && c || d | e |& f & g\nh", &s);
    ASSERT_EQ(s.ncmd, 8);
    ASSERT_STREQ(s.cmd[3].argv[0].text, "d");
    ASSERT_EQ(s.cmd[3].stage, 0);
    ASSERT_EQ(s.cmd[4].stage, 1);
    ASSERT_EQ(s.cmd[5].stage, 2);
    ASSERT_EQ(s.cmd[4].pipeline, s.cmd[3].pipeline);
    ASSERT_NE(s.cmd[6].pipeline, s.cmd[5].pipeline);
    ASSERT_STREQ(s.cmd[7].argv[0].text, "h");
    ag__sh_script_free(&s);
}

TEST(redirections_with_descriptors_here_docs_and_here_strings)
{
    struct ag__sh_script s;
    parse("cmd 2>err >>out <in 3<>rw &>both >&2 2>&1 >|clob <<-EOF <<<word\n\tbody\n\tEOF\nnext",
          &s);
    ASSERT_EQ(s.ncmd, 2);
    const struct ag__sh_cmd *c = &s.cmd[0];
    ASSERT_EQ(c->nredir, 10);
    ASSERT_EQ(c->redir[0].fd, 2);
    ASSERT_EQ(c->redir[0].op, AG__SH_R_OUT);
    ASSERT_STREQ(c->redir[0].target.text, "err");
    ASSERT_EQ(c->redir[1].op, AG__SH_R_APPEND);
    ASSERT_EQ(c->redir[2].op, AG__SH_R_IN);
    ASSERT_EQ(c->redir[3].fd, 3);
    ASSERT_EQ(c->redir[3].op, AG__SH_R_RDWR);
    ASSERT_EQ(c->redir[4].op, AG__SH_R_OUT);
    ASSERT_STREQ(c->redir[4].target.text, "both");
    ASSERT_EQ(c->redir[5].op, AG__SH_R_DUP);
    ASSERT_EQ(c->redir[6].op, AG__SH_R_DUP);
    ASSERT_EQ(c->redir[7].op, AG__SH_R_OUT);
    ASSERT_EQ(c->redir[8].op, AG__SH_R_HEREDOC);
    ASSERT_EQ(c->redir[9].op, AG__SH_R_HERESTR);
    /* The here-document's body is no command; the line after it is. */
    ASSERT_STREQ(s.cmd[1].argv[0].text, "next");
    ag__sh_script_free(&s);
}

TEST(substitutions_are_parsed_as_commands_of_their_own)
{
    struct ag__sh_script s;
    parse("echo \"$(cat a | wc -l)\" `ls \\`pwd\\`` <(sort b) ${x:-$(id)} $((1+$(seq 1)))", &s);
    /* cat, wc, pwd, ls, sort, id, seq, then echo */
    ASSERT_EQ(s.ncmd, 8);
    ASSERT_STREQ(s.cmd[s.ncmd - 1].argv[0].text, "echo");
    int seen = 0;
    for (size_t i = 0; i < s.ncmd; i++)
        seen |= (strcmp(s.cmd[i].argv[0].text, "pwd") == 0) << 0 |
                (strcmp(s.cmd[i].argv[0].text, "id") == 0) << 1 |
                (strcmp(s.cmd[i].argv[0].text, "seq") == 0) << 2 |
                (strcmp(s.cmd[i].argv[0].text, "sort") == 0) << 3;
    ASSERT_EQ(seen, 15);
    ASSERT_TRUE(s.cmd[s.ncmd - 1].argv[1].flags & AG__SH_SUBST);
    ag__sh_script_free(&s);
}

TEST(compound_commands_yield_their_bodies_and_assignments_stay_apart)
{
    struct ag__sh_script s;
    parse("if A=1 B=2 cmd x; then for i in a b; do run $i; done; fi; case y in p) c1;; esac; "
          "f() { body; }",
          &s);
    ASSERT_EQ(s.ncmd, 4);
    ASSERT_STREQ(s.cmd[0].argv[0].text, "cmd");
    ASSERT_EQ(s.cmd[0].nassign, 2);
    ASSERT_STREQ(s.cmd[1].argv[0].text, "run");
    ASSERT_STREQ(s.cmd[2].argv[0].text, "c1");
    ASSERT_STREQ(s.cmd[3].argv[0].text, "body");
    ag__sh_script_free(&s);
}

TEST(broken_and_oversized_lines_are_opaque_not_errors)
{
    struct ag__sh_script s;
    parse("ls; echo 'open", &s);
    ASSERT_EQ(s.ncmd, 2);
    ASSERT_TRUE(s.nopaque >= 1);
    ag__sh_script_free(&s);
    /* Nesting past the limit: an opaque reason, no recursion blow-up. */
    char deep[4096] = "";
    for (int i = 0; i < 200; i++)
        strcat(deep, "$(");
    parse(deep, &s);
    ASSERT_TRUE(s.nopaque >= 1);
    ag__sh_script_free(&s);
    for (int i = 0; i < 300; i++)
        deep[i] = '(';
    deep[300] = '\0';
    parse(deep, &s);
    ASSERT_TRUE(s.nopaque >= 1);
    ag__sh_script_free(&s);
    /* Nested ${ and $(( far past the limit, and a glob of 2,000 segments: bounded, no
     * stack exhaustion. */
    static const char *const nests[] = {"echo ${", "echo $((", "cat ./*/"};
    for (size_t d = 0; d < 3; d++) {
        size_t len = strlen(nests[d]) - 5, total = 5 + len * 200000;
        char *big = malloc(total + 1);
        ASSERT_TRUE(big != NULL);
        memcpy(big, nests[d], 5);
        for (size_t i = 0; i < 200000; i++)
            memcpy(big + 5 + i * len, nests[d] + 5, len);
        big[total] = '\0';
        struct ag__shell_ctx ctx = {.cwd = "/", .home = "/w/h", .path = ag__hook_path_resource};
        struct ag__shell_result r;
        ASSERT_OK(ag__shell_judge(big, d == 2 ? 4000 : total, &ctx, &r));
        int op = 0;
        for (size_t i = 0; i < r.n; i++)
            op |= strcmp(r.c[i].action, "shell.opaque") == 0;
        ASSERT_TRUE(op);
        ag__shell_result_free(&r);
        free(big);
    }
    /* Too many commands. */
    char *many = malloc(AG__SH_MAX_CMDS * 3 + 16);
    ASSERT_TRUE(many != NULL);
    many[0] = '\0';
    for (int i = 0; i < AG__SH_MAX_CMDS + 5; i++)
        strcat(many, "a;");
    parse(many, &s);
    ASSERT_EQ(s.ncmd, AG__SH_MAX_CMDS);
    ASSERT_TRUE(s.nopaque >= 1);
    ag__sh_script_free(&s);
    free(many);
}

TEST(random_bytes_never_crash_the_parser_or_the_judge)
{
    struct ag__shell_ctx ctx = {
        .cwd = "/nonexistent/p", .home = "/nonexistent/h", .path = ag__hook_path_resource};
    static const char alphabet[] = "ab ;&|<>()$`'\"\\{}*?[]~=#\n\t-0123456789cdrmfx/.!";
    unsigned seed = 12345;
    char buf[200];
    for (int n = 0; n < 3000; n++) {
        size_t len = (size_t)(seed % sizeof buf);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        seed = seed * 1103515245u + 12345u;
        struct ag__shell_result r;
        ASSERT_OK(ag__shell_judge(buf, len, &ctx, &r));
        ASSERT_TRUE(r.n > 0);
        for (size_t i = 0; i < r.n; i++)
            ASSERT_TRUE(r.c[i].action != NULL && r.c[i].resource != NULL);
        ag__shell_result_free(&r);
    }
}

/* ---- judge ------------------------------------------------------------------------- */

TEST(canonical_forms_are_the_same_for_every_spelling)
{
    struct ag__shell_ctx ctx = {.cwd = "/w/p", .home = "/w/h", .path = ag__hook_path_resource};
    static const char *const lines[][2] = {
        {"rm -vrf x", "rm --force --recursive --verbose"},
        {"rm -R --verbose -f x", "rm --force --recursive --verbose"},
        {"rm --rec --verb --forc x", "rm --force --recursive --verbose"},
        {"git push -f", "git push --force"},
        {"git push origin +main", "git push --force"},
        {"git --no-pager -C x push --force", "git push --force"},
        {"git branch -D x", "git branch --delete --force"},
        {"sed -i.bak s/a/b/ f", "sed --in-place"},
        {"grep -rn x .", "grep --recursive -n"},
        {"chmod -R 0700 d", "chmod --recursive"},
        {"git clean -fdx", "git clean --force -d -x"},
        {"dd if=a of=b bs=1M", "dd if= of="},
        {"xargs rm -rf", "rm --force --recursive"},
        {"find . -exec rm {} +", "rm --recursive"},
        {"curl -s x | sudo bash", "bash --code-from-network"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct ag__shell_result r;
        ASSERT_OK(ag__shell_judge(lines[i][0], strlen(lines[i][0]), &ctx, &r));
        int found = 0;
        for (size_t k = 0; k < r.n; k++)
            found |= strcmp(r.c[k].action, "shell.exec") == 0 &&
                     strcmp(r.c[k].resource, lines[i][1]) == 0;
        if (!found)
            printf("    %s: no shell.exec on '%s' (first: %s)\n", lines[i][0], lines[i][1],
                   r.n ? r.c[0].resource : "-");
        ASSERT_TRUE(found);
        ag__shell_result_free(&r);
    }
}

TEST(paths_are_judged_with_their_role)
{
    struct ag__shell_ctx ctx = {.cwd = "/w/p", .home = "/w/h", .path = ag__hook_path_resource};
    const char *line = "cp -t out a ~/b && mv c d; sed -i s/x/y/ e > f 2>>g < h; tee i | cat j";
    struct ag__shell_result r;
    ASSERT_OK(ag__shell_judge(line, strlen(line), &ctx, &r));
    static const char *const want[][2] = {
        {"file.read", "w/p/a"},      {"file.read", "w/h/b"},  {"file.write", "w/p/out"},
        {"file.write", "w/p/out/a"}, {"file.read", "w/p/c"},  {"file.write", "w/p/c"},
        {"file.write", "w/p/d"},     {"file.read", "w/p/e"},  {"file.write", "w/p/e"},
        {"file.write", "w/p/f"},     {"file.write", "w/p/g"}, {"file.read", "w/p/h"},
        {"file.write", "w/p/i"},     {"file.read", "w/p/j"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = 0;
        for (size_t k = 0; k < r.n; k++)
            found |=
                strcmp(r.c[k].action, want[i][0]) == 0 && strcmp(r.c[k].resource, want[i][1]) == 0;
        if (!found)
            printf("    missing %s %s\n", want[i][0], want[i][1]);
        ASSERT_TRUE(found);
    }
    ag__shell_result_free(&r);
}

TEST(a_line_past_the_check_limit_ends_with_an_opaque_check)
{
    struct ag__shell_ctx ctx = {.cwd = "/w/p", .home = "/w/h", .path = ag__hook_path_resource};
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_puts(&b, "cat");
    for (int i = 0; i < 400; i++)
        ag__buf_printf(&b, " f%d", i);
    struct ag__shell_result r;
    ASSERT_OK(ag__shell_judge(b.data, b.len, &ctx, &r));
    ASSERT_EQ(r.n, AG__SHELL_MAX_CHECKS + 1); /* and cat's own shell.exec */
    ASSERT_STREQ(r.c[r.n - 1].action, "shell.opaque");
    ASSERT_CONTAINS(r.c[r.n - 1].resource, "more paths");
    ASSERT_TRUE(r.n <= AG__HOOK_MAX_REQ);
    ag__shell_result_free(&r);
    /* The command's own canonical form is kept past the limit. */
    ag__buf_reset(&b);
    ag__buf_puts(&b, "rm -rf");
    for (int i = 0; i < 400; i++)
        ag__buf_printf(&b, " f%d", i);
    ASSERT_OK(ag__shell_judge(b.data, b.len, &ctx, &r));
    int rm = 0;
    for (size_t i = 0; i < r.n; i++)
        rm |= strcmp(r.c[i].resource, "rm --force --recursive") == 0;
    ASSERT_TRUE(rm);
    ag__shell_result_free(&r);
    ag__buf_free(&b);
}

TEST(a_glob_reads_a_bounded_number_of_directory_entries)
{
    char dir[PATH_MAX], f[PATH_MAX + 32];
    ASSERT_TRUE(realpath(ag_test_fresh_dir("big"), dir) != NULL);
    for (int i = 0; i < 4200; i++) {
        snprintf(f, sizeof f, "%s/f%04d", dir, i);
        FILE *fp = fopen(f, "w");
        ASSERT_TRUE(fp != NULL);
        fclose(fp);
    }
    struct ag__shell_ctx ctx = {.cwd = dir, .home = "/w/h", .path = ag__hook_path_resource};
    struct ag__shell_result r;
    ASSERT_OK(ag__shell_judge("cat *9", 6, &ctx, &r));
    int opaque = 0, files = 0;
    for (size_t i = 0; i < r.n; i++) {
        opaque |= strstr(r.c[i].resource, "more than the hook reads") != NULL;
        files += strcmp(r.c[i].action, "file.read") == 0 && r.c[i].kind == AG__SHELL_REQ;
    }
    ASSERT_TRUE(opaque);
    ASSERT_TRUE(files <= 48);
    ag__shell_result_free(&r);
    /* A narrow one in the same directory: the files it names, in order. */
    ASSERT_OK(ag__shell_judge("cat f000?", 9, &ctx, &r));
    ASSERT_STREQ(r.c[1].action, "file.read");
    ASSERT_CONTAINS(r.c[1].resource, "/f0000");
    ASSERT_CONTAINS(r.c[2].resource, "/f0001");
    ag__shell_result_free(&r);
}

TEST(shell_globs_meet_policy_globs_as_the_shell_would_match)
{
    ASSERT_TRUE(ag__shell_globs_meet("h/.s?h/id", "**/.ssh/**"));
    ASSERT_TRUE(ag__shell_globs_meet("p/.e?v", "**/.env"));
    ASSERT_TRUE(ag__shell_globs_meet("p/.en*", "**/.env.*"));
    ASSERT_TRUE(ag__shell_globs_meet("h/.[s]sh/x", "h/.ssh/**"));
    ASSERT_FALSE(ag__shell_globs_meet("h/[.]ssh/x", "h/.ssh/**")); /* as bash: no */
    ASSERT_TRUE(ag__shell_globs_meet("p/.claude/set*", "**/.claude/settings*.json"));
    /* A leading wildcard does not match a leading dot, as in the shell. */
    ASSERT_FALSE(ag__shell_globs_meet("p/*", "**/.env"));
    ASSERT_FALSE(ag__shell_globs_meet("p/*/*", "**/.ssh/**"));
    ASSERT_FALSE(ag__shell_globs_meet("p/*.c", "**/.env"));
    ASSERT_FALSE(ag__shell_globs_meet("h/.s?h", "h/.aws/credentials"));
    ASSERT_TRUE(ag__shell_globs_meet("h/.*/credentials", "**/.aws/credentials"));
}

/* ---- the table --------------------------------------------------------------------- */

static char proj[PATH_MAX], home[PATH_MAX];

static void put(const char *dir, const char *rel)
{
    char path[PATH_MAX * 2], *slash;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0700);
        *slash = '/';
    }
    if (rel[strlen(rel) - 1] == '/')
        return;
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fputs("x\n", f);
    fclose(f);
}

static char fixture_dir[PATH_MAX];

static void remove_fixture(void)
{
    char cmd[PATH_MAX + 16];
    if (fixture_dir[0] && !getenv("AGENTGOV_KEEP_TMP")) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fixture_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", fixture_dir);
    }
}

/* True when path lies under a directory the coding policy lets commands write
 * (/tmp, /var/tmp): cases that expect "outside the project" to be denied would pass
 * there. A clone under /tmp (as CI's may be) puts the build directory there. */
static int under_writable_tmp(const char *path)
{
    char real[PATH_MAX];
    if (realpath(path, real) == NULL)
        return 1;
    return strncmp(real, "/tmp/", 5) == 0 || strcmp(real, "/tmp") == 0 ||
           strncmp(real, "/var/tmp/", 9) == 0 || strcmp(real, "/var/tmp") == 0;
}

/* A fresh directory for the fixture that is not under /tmp or /var/tmp: the build
 * directory, else /dev/shm, else $HOME. */
static int fixture_base(char *base, size_t len)
{
    const char *build = getenv("AGENTGOV_BUILD");
    const char *cands[] = {build ? build : "build", "/dev/shm", getenv("HOME")};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (cands[i] == NULL || under_writable_tmp(cands[i]))
            continue;
        snprintf(base, len, "%s/test-shell-XXXXXX", cands[i]);
        if (mkdtemp(base) != NULL)
            return 0;
    }
    return -1;
}

static void fixture(void)
{
    if (proj[0])
        return;
    char base[PATH_MAX - 16];
    ASSERT_TRUE(fixture_base(base, sizeof base) == 0);
    snprintf(fixture_dir, sizeof fixture_dir, "%s", base);
    atexit(remove_fixture);
    snprintf(proj, sizeof proj, "%s/proj", base);
    snprintf(home, sizeof home, "%s/home", base);
    ASSERT_OK(mkdir(proj, 0700));
    ASSERT_OK(mkdir(home, 0700));
    ASSERT_TRUE(realpath(proj, base) != NULL);
    snprintf(proj, sizeof proj, "%s", base);
    ASSERT_TRUE(realpath(home, base) != NULL);
    snprintf(home, sizeof home, "%s", base);
    static const char *const pfiles[] = {".env",
                                         "notes.txt",
                                         "script.py",
                                         "src/main.c",
                                         "src/util.c",
                                         "build/x.o",
                                         ".claude/settings.json",
                                         ".git/hooks/pre-commit",
                                         "links/"};
    static const char *const hfiles[] = {".ssh/id_ed25519",
                                         ".aws/credentials",
                                         ".netrc",
                                         ".claude/settings.json",
                                         ".codex/hooks.json",
                                         ".config/gcloud/credentials.db",
                                         ".docker/config.json",
                                         ".local/share/agentgov/ledger.db",
                                         "notes.md"};
    for (size_t i = 0; i < sizeof pfiles / sizeof pfiles[0]; i++)
        put(proj, pfiles[i]);
    for (size_t i = 0; i < sizeof hfiles / sizeof hfiles[0]; i++)
        put(home, hfiles[i]);
    char link[PATH_MAX + 16], target[PATH_MAX + 16];
    snprintf(link, sizeof link, "%s/links/ssh", proj);
    snprintf(target, sizeof target, "%s/.ssh", home);
    ASSERT_OK(symlink(target, link));
}

static ag_policy *coding_policy(void)
{
    char path[PATH_MAX], *text = NULL, *expanded = NULL;
    size_t len = 0, elen = 0;
    const char *src = getenv("AGENTGOV_SRC");
    snprintf(path, sizeof path, "%s/policies/coding-agent.yaml", src ? src : ".");
    ASSERT_OK(ag__read_file(path, 1 << 20, &text, &len));
    ASSERT_OK(ag__hook_expand(text, len, proj, home, &expanded, &elen));
    ag_policy *p = NULL;
    ASSERT_OK(ag_policy_load_string(path, expanded, elen, &p));
    free(text);
    free(expanded);
    return p;
}

/* Decides command in cwd as a Bash (or Codex shell) call would be. */
static void decide(const ag_policy *p, enum ag__hook_dialect d, const char *cwd,
                   const char *command, struct ag__hook_event *ev, struct ag__hook_verdict *v)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s}}", "hook_event_name", "PreToolUse", "cwd", cwd,
                          "tool_name", d == AG_HOOK_CODEX ? "shell" : "Bash", "tool_input",
                          "command", command);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ASSERT_OK(ag__hook_parse_home(d, text, strlen(text), home, ev));
    free(text);
    ag__hook_decide(p, 2, ev, v);
}

static void unescape_line(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (; *in && o + 1 < size; in++) {
        if (in[0] == '\\' && (in[1] == 'n' || in[1] == 't' || in[1] == '\\')) {
            out[o++] = in[1] == 'n' ? '\n' : in[1] == 't' ? '\t' : '\\';
            in++;
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* One case; 1 when the answer is the expected one. */
static int run_case(const ag_policy *p, const char *file, int lineno, char *line)
{
    char *save = NULL;
    char *want = strtok_r(line, " ", &save);
    char *action = strtok_r(NULL, " ", &save);
    char *part = strtok_r(NULL, " ", &save);
    char *cwd_tok = strtok_r(NULL, " ", &save);
    char *rest = save;
    if (!want || !action || !part || !cwd_tok || !rest || !*rest) {
        printf("    %s:%d: a case needs DECISION ACTION PART CWD COMMAND\n", file, lineno);
        return 0;
    }
    char cwd[PATH_MAX * 2], command[4096];
    if (strcmp(cwd_tok, "P") == 0)
        snprintf(cwd, sizeof cwd, "%s", proj);
    else if (strncmp(cwd_tok, "P/", 2) == 0)
        snprintf(cwd, sizeof cwd, "%s/%s", proj, cwd_tok + 2);
    else if (strcmp(cwd_tok, "H") == 0)
        snprintf(cwd, sizeof cwd, "%s", home);
    else
        snprintf(cwd, sizeof cwd, "%s", cwd_tok);
    unescape_line(rest, command, sizeof command);
    struct ag__hook_event ev;
    struct ag__hook_verdict v;
    decide(p, AG_HOOK_CLAUDE_CODE, cwd, command, &ev, &v);
    const char *got = ag_effect_name(v.effect);
    const struct ag__hook_req *r = &ev.req[v.which];
    const char *in = strstr(v.message, ", in: ");
    int ok = strcmp(got, want) == 0 &&
             (strcmp(action, "-") == 0 || strcmp(r->action, action) == 0) &&
             (strcmp(part, "-") == 0 || (in && strstr(in, part)));
    if (!ok)
        printf("    %s:%d: %s: expected %s %s in '%s', got %s: %s\n", file, lineno, rest, want,
               action, part, got, v.message);
    ag__hook_event_free(&ev);
    return ok;
}

TEST(the_shell_table_gets_the_expected_decisions)
{
    fixture();
    ag_policy *p = coding_policy();
    const char *src = getenv("AGENTGOV_SRC");
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof pattern, "%s/tests/data/shell/*.txt", src ? src : ".");
    glob_t g;
    ASSERT_EQ(glob(pattern, 0, NULL, &g), 0);
    int cases = 0, bad = 0;
    for (size_t f = 0; f < g.gl_pathc; f++) {
        if (strstr(g.gl_pathv[f], "README"))
            continue;
        FILE *in = fopen(g.gl_pathv[f], "r");
        ASSERT_TRUE(in != NULL);
        char line[4096];
        int lineno = 0;
        while (fgets(line, sizeof line, in)) {
            lineno++;
            line[strcspn(line, "\n")] = '\0';
            if (line[0] == '\0' || line[0] == '#')
                continue;
            cases++;
            bad += !run_case(p, strrchr(g.gl_pathv[f], '/') + 1, lineno, line);
        }
        fclose(in);
    }
    globfree(&g);
    ag_policy_free(p);
    printf("    %d cases, %d wrong\n", cases, bad);
    ASSERT_TRUE(cases >= 150);
    ASSERT_EQ(bad, 0);
}

TEST(codex_cannot_ask_so_an_opaque_command_is_denied_with_a_reason)
{
    fixture();
    ag_policy *p = coding_policy();
    struct ag__hook_event ev;
    struct ag__hook_verdict v;
    decide(p, AG_HOOK_CODEX, proj, "python3 -c 'import os'", &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_DENY);
    ASSERT_STREQ(ev.req[v.which].action, "shell.opaque");
    ASSERT_CONTAINS(v.message, "Codex hooks cannot ask");
    ASSERT_CONTAINS(v.message, "code given to python3");
    ag__hook_event_free(&ev);
    /* Codex's argv form: bash -lc SCRIPT is one script, judged inside. */
    json_t *o = json_pack("{s:s, s:s, s:s, s:{s:[s,s,s]}}", "hook_event_name", "PreToolUse", "cwd",
                          proj, "tool_name", "shell", "tool_input", "command", "bash", "-lc",
                          "echo {} > .codex/hooks.json");
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ASSERT_OK(ag__hook_parse_home(AG_HOOK_CODEX, text, strlen(text), home, &ev));
    free(text);
    ag__hook_decide(p, 2, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_DENY);
    ASSERT_STREQ(ev.req[v.which].action, "file.write");
    ASSERT_CONTAINS(v.message, "in: echo {} > .codex/hooks.json");
    ag__hook_event_free(&ev);
    /* The command runs in the tool's workdir: relative paths are taken there. */
    o = json_pack("{s:s, s:s, s:s, s:{s:[s,s,s], s:s}}", "hook_event_name", "PreToolUse", "cwd",
                  proj, "tool_name", "shell", "tool_input", "command", "bash", "-lc",
                  "echo x > notes.md", "workdir", home);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ASSERT_OK(ag__hook_parse_home(AG_HOOK_CODEX, text, strlen(text), home, &ev));
    free(text);
    ag__hook_decide(p, 2, &ev, &v);
    ASSERT_EQ(v.effect, AG_EFFECT_DENY);
    ASSERT_STREQ(ev.req[v.which].action, "file.write");
    ASSERT_CONTAINS(ev.req[v.which].resource, "/home/notes.md");
    ag__hook_event_free(&ev);
    ag_policy_free(p);
}
