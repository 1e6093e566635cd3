/* The shell judge (see shell_judge.h). Each simple command of the parsed line is
 * unwrapped (env, sudo, xargs, timeout, bash -c, ...), its options are read with the
 * program's own option table, so that every spelling of an option comes out the
 * same, and its operands, option values and redirections are sorted into paths read,
 * paths written and text. What depends on a value the hook cannot know (a variable,
 * a command substitution, eval, code given to an interpreter) is shell.opaque. */
#include "hook/shell_judge.h"

#include <ctype.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "hook/shell_judge_int.h"

/* 1 when a command before cmd in its pipeline fetches from the network. */
static int fed_by_network(struct judge *j, const struct ag__sh_cmd *c)
{
    const struct ag__sh_script *s = &j->r->script;
    for (size_t i = 0; i < s->ncmd; i++) {
        const struct ag__sh_cmd *u = &s->cmd[i];
        if (u->pipeline != c->pipeline || u->stage >= c->stage)
            continue;
        for (size_t k = 0; k < u->argc && k < 6; k++)
            if (ag__shj_network_fetcher(ag__shj_base(u->argv[k].text)))
                return 1;
    }
    return 0;
}

static int has_redir(const struct ag__sh_cmd *c, enum ag__sh_redir_op op)
{
    for (size_t i = 0; i < c->nredir; i++)
        if (c->redir[i].op == op && (c->redir[i].fd == -1 || c->redir[i].fd == 0))
            return 1;
    return 0;
}

/* A program that reads its code on stdin: from a here-document, a pipe or a file. */
static void code_on_stdin(struct judge *j, int ci, const struct ag__sh_cmd *c, const char *name,
                          struct canon *cn)
{
    if (has_redir(c, AG__SH_R_HEREDOC) || has_redir(c, AG__SH_R_HERESTR)) {
        ag__shj_opaque(j, ci, "a here-document or here-string fed to %s as its program", name);
    } else if (c->stage > 0) {
        if (fed_by_network(j, c))
            ag__shj_canon_add(cn, "--code-from-network", 19);
        else
            ag__shj_opaque(j, ci, "%s reads its program from a pipe", name);
    }
    ag__shj_emit_exec(j, ci, name, NULL, cn);
}

/* Interpreters: code given as an option is opaque; a script is a file read. */
static void judge_interp(struct judge *j, int ci, const struct ag__sh_cmd *c, const char *name,
                         const struct ag__sh_word *argv, size_t argc)
{
    char fam[64];
    snprintf(fam, sizeof fam, "%s", name);
    struct canon cn = {.n = 0};
    size_t k = 1;
    for (; k < argc; k++) {
        const char *t = argv[k].text;
        if (t[0] != '-' || strcmp(t, "-") == 0)
            break;
        if (strcmp(t, "--") == 0) {
            k++;
            break;
        }
        int code = strcmp(t, "-c") == 0 || strcmp(t, "-e") == 0 || strcmp(t, "-E") == 0 ||
                   strcmp(t, "--eval") == 0 || strcmp(t, "-p") == 0 || strcmp(t, "--print") == 0 ||
                   strcmp(t, "-r") == 0 || strcmp(t, "-Command") == 0 ||
                   strncmp(t, "--eval=", 7) == 0 ||
                   (t[1] != '-' && strpbrk(t + 1, "ce") && strncmp(fam, "py", 2) != 0 &&
                    strncmp(fam, "node", 4) != 0);
        if (strncmp(fam, "py", 2) == 0)
            code = t[1] != '-' && strchr(t + 1, 'c') != NULL;
        if (strncmp(fam, "node", 4) == 0 || strcmp(fam, "bun") == 0 || strcmp(fam, "deno") == 0)
            code = strcmp(t, "-e") == 0 || strcmp(t, "--eval") == 0 || strcmp(t, "-p") == 0 ||
                   strcmp(t, "--print") == 0 || strncmp(t, "--eval=", 7) == 0 ||
                   strncmp(t, "--print=", 8) == 0;
        if (strcmp(fam, "php") == 0 && strcmp(t, "-r") != 0)
            code = 0;
        if (code) {
            /* perl -pi -e CODE FILES, ruby -i: the files are still judged */
            int inplace = 0;
            for (size_t q = 1; q < argc; q++)
                if (argv[q].text[0] == '-' && argv[q].text[1] != '-' && strchr(argv[q].text, 'i'))
                    inplace = strcmp(fam, "perl") == 0 || strcmp(fam, "ruby") == 0;
            ag__shj_opaque(j, ci, "code given to %s on its command line", name);
            for (size_t q = k + 2; q < argc; q++)
                if (argv[q].text[0] != '-') {
                    ag__shj_path_word(j, ci, "file.read", &argv[q]);
                    if (inplace)
                        ag__shj_path_word(j, ci, "file.write", &argv[q]);
                }
            ag__shj_emit_exec(j, ci, name, NULL, &cn);
            return;
        }
        if (strcmp(t, "-m") == 0 && strncmp(fam, "py", 2) == 0) { /* a module: no script */
            ag__shj_canon_add(&cn, "-m", 2);
            ag__shj_emit_exec(j, ci, name, NULL, &cn);
            return;
        }
        if ((strcmp(t, "-r") == 0 || strcmp(t, "--require") == 0 || strcmp(t, "-I") == 0 ||
             strcmp(t, "-W") == 0 || strcmp(t, "-X") == 0 || strcmp(t, "-M") == 0 ||
             strcmp(t, "-f") == 0 || strcmp(t, "--import") == 0 || strcmp(t, "--loader") == 0) &&
            k + 1 < argc) {
            if (strcmp(t, "-W") != 0 && strcmp(t, "-X") != 0 && strcmp(t, "-M") != 0)
                ag__shj_path_word(j, ci, "file.read", &argv[k + 1]);
            k++;
        }
    }
    if (k < argc && strcmp(fam, "deno") == 0 && strcmp(argv[k].text, "eval") == 0) {
        ag__shj_opaque(j, ci, "code given to %s on its command line", name);
        k = argc;
    }
    if (k < argc && (strcmp(fam, "deno") == 0 || strcmp(fam, "bun") == 0) &&
        ag__shj_in_list("run x test", argv[k].text))
        k++;
    if (k >= argc || strcmp(argv[k].text, "-") == 0) {
        code_on_stdin(j, ci, c, name, &cn);
        return;
    }
    if (argv[k].flags & AG__SH_SUBST)
        ag__shj_opaque(j, ci, "%s runs a program from a substitution", name);
    for (; k < argc; k++)
        ag__shj_path_word(j, ci, "file.read", &argv[k]);
    ag__shj_emit_exec(j, ci, name, NULL, &cn);
}

/* Shells: -c STRING is parsed as a line of its own and judged now, in order. */
static void judge_range(struct judge *j, size_t from);

static void judge_shell(struct judge *j, int ci, const struct ag__sh_cmd *c, const char *name,
                        const struct ag__sh_word *argv, size_t argc)
{
    struct canon cn = {.n = 0};
    size_t k = 1;
    int code = 0;
    for (; k < argc; k++) {
        const char *t = argv[k].text;
        if ((t[0] != '-' && t[0] != '+') || strcmp(t, "-") == 0)
            break;
        if (strcmp(t, "--") == 0) {
            k++;
            break;
        }
        if (t[1] != '-' && strchr(t + 1, 'c'))
            code = 1;
        if (strcmp(t, "-o") == 0 || strcmp(t, "+o") == 0 || strcmp(t, "-O") == 0 ||
            strcmp(t, "+O") == 0)
            k++;
        else if (strcmp(t, "--rcfile") == 0 || strcmp(t, "--init-file") == 0) {
            if (k + 1 < argc)
                ag__shj_path_word(j, ci, "file.read", &argv[++k]);
        }
    }
    if (code) {
        ag__shj_emit_exec(j, ci, name, NULL, &cn);
        if (k >= argc)
            return;
        const struct ag__sh_word *w = &argv[k];
        if (w->flags & (AG__SH_VAR | AG__SH_SUBST)) {
            ag__shj_opaque(j, ci, "%s -c with a command built from variables", name);
            return;
        }
        size_t before = j->r->script.ncmd;
        if (ag__sh_parse_more(&j->r->script, w->text, strlen(w->text), c->depth + 1,
                              c->nested + 1) != AG_OK) {
            j->oom = 1;
            return;
        }
        judge_range(j, before);
        return;
    }
    if (k >= argc) {
        code_on_stdin(j, ci, c, name, &cn);
        return;
    }
    if (argv[k].flags & AG__SH_SUBST)
        ag__shj_opaque(j, ci, "%s runs a program from a substitution", name);
    for (; k < argc; k++)
        ag__shj_path_word(j, ci, "file.read", &argv[k]);
    ag__shj_emit_exec(j, ci, name, NULL, &cn);
}

static void judge_cd(struct judge *j, int ci, const struct ag__sh_cmd *c, const char *name,
                     const struct ag__sh_word *argv, size_t argc)
{
    struct canon cn = {.n = 0};
    ag__shj_emit_exec(j, ci, name, NULL, &cn);
    size_t k = 1;
    while (k < argc && argv[k].text[0] == '-' && argv[k].text[1])
        k++;
    int shared = c->nested > 0 || c->stage > 0;
    for (size_t i = 0; !shared && i < j->r->script.ncmd; i++)
        shared = j->r->script.cmd[i].pipeline == c->pipeline && j->r->script.cmd[i].stage > 0;
    if (shared || strcmp(name, "popd") == 0 || (k < argc && strcmp(argv[k].text, "-") == 0)) {
        j->cwd_known = 0;
        return;
    }
    struct ag__sh_word tilde = {.text = "~", .pat = "~", .flags = AG__SH_TILDE};
    if (!ag__shj_chdir(j, k < argc ? &argv[k] : &tilde))
        j->cwd_known = 0;
}

/* The arguments xargs adds to name come from its input. When the command before it
 * in the pipeline is `find ROOTS` or `git ls-files`, they are files below those roots:
 * each root is then read (and written, for a program that writes its operands) whole,
 * as a search; from anything else they are unknown: shell.opaque. */
static void xargs_input(struct judge *j, int ci, const char *name, int writes)
{
    const struct ag__sh_script *s = &j->r->script;
    const struct ag__sh_cmd *c = &s->cmd[ci], *up = NULL;
    for (size_t i = 0; i < s->ncmd && c->stage > 0; i++)
        if (s->cmd[i].pipeline == c->pipeline && s->cmd[i].stage == c->stage - 1)
            up = &s->cmd[i];
    const char *prog = up && up->argc ? ag__shj_base(up->argv[0].text) : "";
    int find = strcmp(prog, "find") == 0 && !(up->argv[0].flags & (AG__SH_VAR | AG__SH_SUBST));
    int ls_files =
        strcmp(prog, "git") == 0 && up->argc == 2 && strcmp(up->argv[1].text, "ls-files") == 0;
    if (!find && !ls_files) {
        ag__shj_opaque(j, ci, "xargs adds arguments to %s from its input", name);
        return;
    }
    size_t k = 1, roots = 0;
    while (find && k < up->argc && up->argv[k].text[0] == '-' && up->argv[k].text[1] &&
           strchr("HLPO", up->argv[k].text[1]))
        k++;
    struct ag__sh_word dot = {.text = ".", .pat = ".", .flags = 0};
    for (; find && k < up->argc; k++, roots++) {
        const struct ag__sh_word *w = &up->argv[k];
        if (w->text[0] == '-' || strcmp(w->text, "(") == 0 || strcmp(w->text, "!") == 0)
            break;
        ag__shj_tree_word(j, ci, "file.read", w);
        if (writes)
            ag__shj_tree_word(j, ci, "file.write", w);
    }
    if (roots == 0) {
        ag__shj_tree_word(j, ci, "file.read", &dot);
        if (writes)
            ag__shj_tree_word(j, ci, "file.write", &dot);
    }
}

static void judge_generic(struct judge *j, int ci, const struct prog *pg, const char *name,
                          const struct ag__sh_word *argv, size_t argc, int from_find, int xargs)
{
    struct parsed *p = calloc(1, sizeof *p);
    if (!p) {
        j->oom = 1;
        return;
    }
    enum args args = pg ? pg->args : A_UNKNOWN;
    ag__shj_parse_opts(j, ci, argv, argc, 1, pg ? pg->opts : ag__shj_o_none, p, pg == NULL,
                       args == A_MODE);
    if (p->code)
        ag__shj_opaque(j, ci, "%s runs a program named in its options", name);
    if (from_find && strcmp(name, "rm") == 0)
        ag__shj_canon_add(&p->canon, "--recursive", 11); /* {}: every file below the roots */
    int special = pg ? pg->special : S_NONE;
    size_t first = 0;
    if (args == A_PATREAD || args == A_SEARCH) {
        if (!p->pat_given && p->nop > 0) {
            if (special == S_SED)
                ag__shj_sed_script(j, ci, p->operand[0]->text);
            if (special == S_AWK) {
                const char *prog = p->operand[0]->text;
                if (strstr(prog, "system") || strchr(prog, '|') ||
                    ag__shj_awk_prints_to_file(prog) || strstr(prog, "getline") ||
                    strstr(prog, "close"))
                    ag__shj_opaque(j, ci, "an awk program that runs commands or writes files%s",
                                   "");
            }
            first = 1;
        }
    }
    if (special == S_SED)
        for (size_t i = 1; i < argc; i++) /* -e scripts */
            if (i > 0 && (strcmp(argv[i - 1].text, "-e") == 0 ||
                          strcmp(argv[i - 1].text, "--expression") == 0))
                ag__shj_sed_script(j, ci, argv[i].text);
    if (xargs && args != A_NONE)
        xargs_input(j, ci, name,
                    args == A_WRITE || args == A_RW || args == A_MOVE || args == A_MODE ||
                        (special == S_SED && ag__shj_has_canon(p, "--in-place")));
    int search = args == A_SEARCH || (special == S_GREP && ag__shj_has_canon(p, "--recursive"));
    const char *glob = p->nglobs ? p->globs[0] : NULL;
    switch (args) {
    case A_NONE:
        break;
    case A_READ:
    case A_UNKNOWN:
        if (special == S_UNIQ && p->nop == 2) {
            ag__shj_path_word(j, ci, "file.read", p->operand[0]);
            ag__shj_path_word(j, ci, "file.write", p->operand[1]);
            break;
        }
        for (size_t i = 0; i < p->nop; i++)
            ag__shj_path_word(j, ci, "file.read", p->operand[i]);
        break;
    case A_WRITE:
        for (size_t i = 0; i < p->nop; i++)
            ag__shj_path_word(j, ci, "file.write", p->operand[i]);
        break;
    case A_RW:
        for (size_t i = 0; i < p->nop; i++) {
            ag__shj_path_word(j, ci, "file.read", p->operand[i]);
            ag__shj_path_word(j, ci, "file.write", p->operand[i]);
        }
        break;
    case A_PATREAD:
    case A_SEARCH:
        if (search && p->nop <= first)
            ag__shj_search_cwd(j, ci, "file.read", glob);
        for (size_t i = first; i < p->nop; i++) {
            if (search)
                ag__shj_search_word(j, ci, "file.read", p->operand[i], glob);
            else
                ag__shj_path_word(j, ci, "file.read", p->operand[i]);
            if (special == S_SED && ag__shj_has_canon(p, "--in-place"))
                ag__shj_path_word(j, ci, "file.write", p->operand[i]);
        }
        break;
    case A_MODE:
        for (size_t i = ag__shj_has_canon(p, "--reference") ? 0 : 1; i < p->nop; i++)
            ag__shj_path_word(j, ci, "file.write", p->operand[i]);
        break;
    case A_COPY:
    case A_MOVE: {
        const struct ag__sh_word *const *ops = p->operand;
        size_t n = p->nop;
        if (special == S_SCP) { /* host:path is remote */
            size_t o = 0;
            for (size_t i = 0; i < n; i++) {
                const char *t = ops[i]->text, *colon = strchr(t, ':');
                if (!(colon && (strchr(t, '/') == NULL || strchr(t, '/') > colon)))
                    p->operand[o++] = ops[i];
            }
            n = o;
        }
        if (strcmp(name, "install") == 0 && ag__shj_has_canon(p, "--directory")) {
            for (size_t i = 0; i < n; i++)
                ag__shj_path_word(j, ci, "file.write", ops[i]);
            break;
        }
        const struct ag__sh_word *dst = p->target;
        size_t nsrc = n;
        if (!dst && n >= 2) {
            dst = ops[n - 1];
            nsrc = n - 1;
        }
        /* A recursive copy reads its sources whole and may write anything below the
         * target (rsync src/ dst/, cp -rT); a move moves whole trees. */
        int tree = args == A_MOVE || ag__shj_has_canon(p, "--recursive") ||
                   ag__shj_has_canon(p, "--archive");
        for (size_t i = 0; i < nsrc; i++) {
            if (tree)
                ag__shj_tree_word(j, ci, "file.read", ops[i]);
            else
                ag__shj_path_word(j, ci, "file.read", ops[i]);
            if (args == A_MOVE)
                ag__shj_tree_word(j, ci, "file.write", ops[i]);
        }
        if (dst)
            ag__shj_copy_target(j, ci, dst, ops, nsrc, tree);
        if (dst && ((tree && args != A_MOVE) || ag__shj_has_canon(p, "--no-target-directory")))
            ag__shj_tree_word(j, ci, "file.write", dst);
        break;
    }
    }
    ag__shj_emit_exec(j, ci, name, NULL, &p->canon);
    free(p);
}

/* Wrappers: options to skip (those taking a value listed), then the command. */

void ag__shj_argv(struct judge *j, int ci, const struct ag__sh_cmd *c,
                  const struct ag__sh_word *argv, size_t argc, int from_find, int xargs)
{
    for (int hops = 0; argc > 0 && hops < 16; hops++) {
        const struct ag__sh_word *w = &argv[0];
        if (w->flags & (AG__SH_VAR | AG__SH_SUBST)) {
            ag__shj_opaque(j, ci, "a program named by a variable or command substitution: %.200s",
                           w->text);
            return;
        }
        if (w->flags & (AG__SH_GLOB | AG__SH_BRACE | AG__SH_TUSER) ||
            strchr(w->text, AG__SH_MARK)) {
            ag__shj_opaque(j, ci, "a program named by a pattern: %.200s", w->text);
            return;
        }
        const char *name = ag__shj_base(w->text);
        const struct wrapper *wr = ag__shj_wrapper(name);
        if (!wr)
            break;
        if (strcmp(name, "sudo") == 0 || strcmp(name, "doas") == 0) {
            struct canon cn = {.n = 0};
            ag__shj_emit_exec(j, ci, name, NULL, &cn);
        }
        size_t k = 1;
        int edit = strcmp(name, "sudoedit") == 0, no_exec = 0;
        for (; k < argc; k++) {
            const char *t = argv[k].text;
            if (argv[k].flags & (AG__SH_VAR | AG__SH_SUBST)) {
                ag__shj_opaque(j, ci, "a variable among %s's options", name);
                return;
            }
            if (strcmp(name, "env") == 0 && strchr(t, '=') && t[0] != '-') {
                if (ag__shj_dangerous_env(t))
                    ag__shj_opaque(j, ci, "env sets %.60s, which changes what the command runs", t);
                continue;
            }
            if (t[0] != '-' || strcmp(t, "-") == 0)
                break;
            if (strcmp(t, "--") == 0) {
                k++;
                break;
            }
            char opt[64];
            snprintf(opt, sizeof opt, "%.*s", (int)strcspn(t, "="), t);
            if (strcmp(name, "env") == 0 &&
                (strncmp(t, "-S", 2) == 0 || strcmp(opt, "--split-string") == 0 ||
                 strncmp(t, "-C", 2) == 0 || strcmp(opt, "--chdir") == 0)) {
                ag__shj_opaque(
                    j, ci, "env %.60s: a command line or directory the hook does not follow", t);
                return;
            }
            if ((strcmp(name, "sudo") == 0 && (strcmp(t, "-e") == 0 || strcmp(t, "--edit") == 0)))
                edit = 1;
            if ((strcmp(name, "command") == 0 && (strcmp(t, "-v") == 0 || strcmp(t, "-V") == 0)) ||
                (strcmp(name, "sudo") == 0 && (strcmp(t, "-l") == 0 || strcmp(t, "-v") == 0 ||
                                               strcmp(t, "-k") == 0 || strcmp(t, "-K") == 0)))
                no_exec = 1;
            if (strcmp(name, "time") == 0 &&
                (strcmp(opt, "-o") == 0 || strcmp(opt, "--output") == 0)) {
                if (strchr(t, '=')) {
                    struct ag__sh_word v = {.text = strchr(t, '=') + 1, .pat = strchr(t, '=') + 1};
                    ag__shj_path_word(j, ci, "file.write", &v);
                } else if (k + 1 < argc) {
                    ag__shj_path_word(j, ci, "file.write", &argv[k + 1]);
                }
            }
            if ((strcmp(name, "xargs") == 0) &&
                (strcmp(opt, "-a") == 0 || strcmp(opt, "--arg-file") == 0)) {
                if (strchr(t, '=')) {
                    struct ag__sh_word v = {.text = strchr(t, '=') + 1, .pat = strchr(t, '=') + 1};
                    ag__shj_path_word(j, ci, "file.read", &v);
                } else if (k + 1 < argc) {
                    ag__shj_path_word(j, ci, "file.read", &argv[k + 1]);
                }
            }
            if (t[1] != '-' && strlen(t) == 2 && ag__shj_in_list(wr->with_value, t))
                k++;
            else if (t[1] == '-' && !strchr(t, '=') && ag__shj_in_list(wr->with_value, t))
                k++;
        }
        if (no_exec) { /* command -v, sudo -l: nothing runs */
            struct canon cn = {.n = 0};
            ag__shj_emit_exec(j, ci, name, NULL, &cn);
            return;
        }
        if (edit) {
            for (; k < argc; k++)
                ag__shj_path_word(j, ci, "file.write", &argv[k]);
            return;
        }
        k += (size_t)wr->operands;
        if (strcmp(name, "xargs") == 0) {
            xargs = 1;
            if (k >= argc) { /* xargs alone runs echo */
                struct canon cn = {.n = 0};
                ag__shj_emit_exec(j, ci, "echo", NULL, &cn);
                return;
            }
        }
        if (k >= argc)
            return; /* env, nice, exec alone: no command */
        argv += k;
        argc -= k;
    }
    if (argc == 0)
        return;
    const char *name = ag__shj_base(argv[0].text);
    if (name[0] == '\0') {
        ag__shj_opaque(j, ci, "an empty program name%s", "");
        return;
    }
    const struct prog *pg = ag__shj_lookup(name);
    switch (pg ? pg->special : S_NONE) {
    case S_FIND:
        ag__shj_find(j, ci, c, argv, argc);
        return;
    case S_GIT:
        ag__shj_git(j, ci, argv, argc);
        return;
    case S_TAR:
        ag__shj_tar(j, ci, argv, argc);
        return;
    case S_DD:
        ag__shj_dd(j, ci, argv, argc);
        return;
    case S_INTERP:
        judge_interp(j, ci, c, name, argv, argc);
        return;
    case S_SHELL:
        judge_shell(j, ci, c, name, argv, argc);
        return;
    case S_CD:
        judge_cd(j, ci, c, name, argv, argc);
        return;
    case S_OPAQUE:
        ag__shj_opaque(j, ci, "%s runs code the hook cannot see", name);
        return;
    case S_WRAP_OPAQUE:
        ag__shj_opaque(j, ci, "%s runs a command the hook does not unwrap", name);
        return;
    case S_PATCH:
        ag__shj_opaque(j, ci, "%s writes the files its input names", name);
        return;
    case S_SQLITE: { /* sqlite3 [OPTIONS] DB [SQL]: the database read and written */
        struct canon cn = {.n = 0};
        size_t k = 1;
        while (k < argc && argv[k].text[0] == '-')
            k += 1 + (strcmp(argv[k].text, "-cmd") == 0 || strcmp(argv[k].text, "-init") == 0 ||
                      strcmp(argv[k].text, "-separator") == 0 ||
                      strcmp(argv[k].text, "-newline") == 0 || strcmp(argv[k].text, "-vfs") == 0);
        if (k < argc) {
            ag__shj_path_word(j, ci, "file.read", &argv[k]);
            ag__shj_path_word(j, ci, "file.write", &argv[k]);
        }
        ag__shj_emit_exec(j, ci, name, NULL, &cn);
        return;
    }
    case S_ZIP:     /* zip ARCHIVE FILES...: the archive written, the files read whole */
    case S_UNZIP: { /* unzip ARCHIVE [-d DIR]: everything below DIR written */
        struct parsed *p = calloc(1, sizeof *p);
        if (!p) {
            j->oom = 1;
            return;
        }
        ag__shj_parse_opts(j, ci, argv, argc, 1, pg->opts, p, 0, 0);
        for (size_t k = 0; k < p->nop; k++)
            if (k == 0)
                ag__shj_path_word(j, ci, pg->special == S_ZIP ? "file.write" : "file.read",
                                  p->operand[0]);
            else if (pg->special == S_ZIP)
                ag__shj_tree_word(j, ci, "file.read", p->operand[k]);
        if (pg->special == S_UNZIP) {
            struct ag__sh_word dot = {.text = ".", .pat = ".", .flags = 0};
            ag__shj_tree_word(j, ci, "file.write", p->target ? p->target : &dot);
        }
        ag__shj_emit_exec(j, ci, name, NULL, &p->canon);
        free(p);
        return;
    }
    case S_SOURCE:
        ag__shj_opaque(j, ci, "%s runs the code of a file", name);
        for (size_t k = 1; k < argc && k < 2; k++)
            ag__shj_path_word(j, ci, "file.read", &argv[k]);
        return;
    case S_EXPORT: {
        struct canon cn = {.n = 0};
        for (size_t k = 1; k < argc; k++)
            if (ag__shj_dangerous_env(argv[k].text) && strchr(argv[k].text, '='))
                ag__shj_opaque(j, ci, "%.60s changes what later commands run", argv[k].text);
        ag__shj_emit_exec(j, ci, name, NULL, &cn);
        return;
    }
    default:
        break;
    }
    if (!pg && strncmp(name, "mkfs", 4) == 0) { /* mkfs.ext4 DEVICE: the device written */
        static const struct prog mkfs = {"mkfs", A_WRITE, ag__shj_o_none, S_NONE};
        pg = &mkfs;
    }
    judge_generic(j, ci, pg, name, argv, argc, from_find, xargs);
}

static void judge_cmd(struct judge *j, int ci)
{
    struct ag__sh_cmd c = j->r->script.cmd[ci]; /* the array may move (bash -c) */
    j->r->script.cmd[ci].judged = 1;
    for (size_t i = 0; i < c.nassign; i++)
        if (ag__shj_dangerous_env(c.assign[i].text))
            ag__shj_opaque(j, ci, "the assignment %.60s changes what the command runs",
                           c.assign[i].text);
    for (size_t i = 0; i < c.nredir; i++) {
        const struct ag__sh_redir *r = &c.redir[i];
        switch (r->op) {
        case AG__SH_R_IN:
            ag__shj_path_word(j, ci, "file.read", &r->target);
            break;
        case AG__SH_R_OUT:
        case AG__SH_R_APPEND:
            ag__shj_path_word(j, ci, "file.write", &r->target);
            break;
        case AG__SH_R_RDWR:
            ag__shj_path_word(j, ci, "file.read", &r->target);
            ag__shj_path_word(j, ci, "file.write", &r->target);
            break;
        default:
            break;
        }
    }
    size_t from = j->r->n;
    ag__shj_argv(j, ci, &c, c.argv, c.argc, 0, 0);
    /* The command's own shell.exec first: when it and one of its paths are both
     * denied, the reason names the command (rm -rf /: the rm rule). */
    for (size_t i = from, to = from; i < j->r->n; i++) {
        if (j->r->c[i].cmd != ci || strcmp(j->r->c[i].action, "shell.exec") != 0)
            continue;
        struct ag__shell_check e = j->r->c[i];
        memmove(&j->r->c[to + 1], &j->r->c[to], (i - to) * sizeof e);
        j->r->c[to++] = e;
    }
}

static void judge_range(struct judge *j, size_t from)
{
    for (size_t i = from; i < j->r->script.ncmd && !j->oom; i++)
        if (!j->r->script.cmd[i].judged)
            judge_cmd(j, (int)i);
}

ag_err ag__shell_judge(const char *line, size_t len, const struct ag__shell_ctx *ctx,
                       struct ag__shell_result *out)
{
    memset(out, 0, sizeof *out);
    ag_err err = ag__sh_parse(line, len, &out->script);
    if (err != AG_OK)
        return err;
    struct judge j = {.ctx = ctx, .r = out};
    snprintf(j.cwd, sizeof j.cwd, "%s", ctx->cwd ? ctx->cwd : "");
    j.cwd_known = j.cwd[0] == '/';
    judge_range(&j, 0);
    for (size_t i = 0; i < out->script.nopaque && !j.oom; i++)
        ag__shj_opaque(&j, out->script.opaque[i].cmd, "%s", out->script.opaque[i].reason);
    if (out->n == 0 && !j.oom) /* an empty line, or only comments: the no-op */
        ag__shj_check(&j, -1, "shell.exec", strdup(":"), 1, AG__SHELL_REQ, NULL, NULL);
    if (j.oom) {
        ag__shell_result_free(out);
        return AG_ENOMEM;
    }
    return AG_OK;
}

void ag__shell_result_free(struct ag__shell_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->c[i].resource);
        free(r->c[i].dir);
        free(r->c[i].glob);
    }
    free(r->c);
    ag__sh_script_free(&r->script);
    memset(r, 0, sizeof *r);
}

const char *ag__shell_part(const struct ag__shell_result *r, const struct ag__shell_check *c)
{
    if (c->cmd < 0 || (size_t)c->cmd >= r->script.ncmd)
        return "";
    return r->script.cmd[c->cmd].src;
}
