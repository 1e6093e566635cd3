/* Programs with a grammar of their own: find, git, tar, dd, and the scripts of sed
 * and awk (see shell_judge_int.h). */
#include <ctype.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hook/shell_judge_int.h"

/* sed scripts: the w, W and e commands and the s///w and s///e flags write files or
 * run commands; r and R read a file. */
void ag__shj_sed_script(struct judge *j, int ci, const char *s)
{
    size_t i = 0, n = strlen(s);
    while (i < n) {
        while (i < n && strchr(" \t\n;{}!", s[i]))
            i++;
        /* an address: numbers, $, /re/, \cREc, and their combinations */
        for (;;) {
            if (i < n && (isdigit((unsigned char)s[i]) || s[i] == '$' || s[i] == ',' ||
                          s[i] == '~' || s[i] == '+' || s[i] == ' ' || s[i] == '!')) {
                i++;
                continue;
            }
            if (i < n && (s[i] == '/' || s[i] == '\\')) {
                char d = s[i] == '\\' && i + 1 < n ? s[++i] : '/';
                for (i++; i < n && s[i] != d; i++)
                    if (s[i] == '\\')
                        i++;
                i++;
                if (i < n && (s[i] == 'I' || s[i] == 'M'))
                    i++;
                continue;
            }
            break;
        }
        if (i >= n)
            return;
        char c = s[i++];
        if (c == 's' || c == 'y') {
            if (i >= n)
                return;
            char d = s[i++];
            for (int part = 0; part < 2 && i < n; part++) {
                for (; i < n && s[i] != d; i++)
                    if (s[i] == '\\')
                        i++;
                i++;
            }
            for (; i < n && !strchr(";\n}", s[i]); i++)
                if (c == 's' && (s[i] == 'w' || s[i] == 'e')) {
                    ag__shj_opaque(j, ci, "a sed script that writes files or runs commands: %.200s",
                                   s);
                    return;
                }
        } else if (c == 'w' || c == 'W' || c == 'e') {
            ag__shj_opaque(j, ci, "a sed script that writes files or runs commands: %.200s", s);
            return;
        } else if (c == 'r' || c == 'R') {
            while (i < n && s[i] == ' ')
                i++;
            size_t e = i;
            while (e < n && s[e] != '\n')
                e++;
            char file[PATH_MAX];
            snprintf(file, sizeof file, "%.*s", (int)(e - i), s + i);
            if (file[0]) {
                struct ag__sh_word w = {.text = file, .pat = file, .flags = 0};
                ag__shj_path_word(j, ci, "file.read", &w);
            }
            i = e;
        } else if (strchr("aic:btTvlqQ", c)) {
            while (i < n && s[i] != '\n' && !(strchr("btT:", c) && s[i] == ';'))
                i++;
        }
    }
}

void ag__shj_find(struct judge *j, int ci, const struct ag__sh_cmd *c,
                  const struct ag__sh_word *argv, size_t argc)
{
    struct canon cn = {.n = 0};
    size_t k = 1;
    while (k < argc && (strcmp(argv[k].text, "-H") == 0 || strcmp(argv[k].text, "-L") == 0 ||
                        strcmp(argv[k].text, "-P") == 0 || strncmp(argv[k].text, "-O", 2) == 0))
        k++;
    if (k < argc && strcmp(argv[k].text, "-D") == 0)
        k += 2;
    size_t roots = k;
    while (k < argc && argv[k].text[0] != '-' && strcmp(argv[k].text, "(") != 0 &&
           strcmp(argv[k].text, "!") != 0 && strcmp(argv[k].text, ")") != 0)
        k++;
    size_t nroots = k - roots;
    const char *glob = NULL;
    int delete = 0;
    static const char *const one_arg =
        "-maxdepth -mindepth -type -xtype -size -mtime -atime -ctime -mmin -amin -cmin -user "
        "-group -uid -gid -perm -regex -iregex -regextype -links -inum -printf -fstype -used "
        "-context -path -ipath -wholename -iwholename -lname -ilname -name -iname";
    for (; k < argc; k++) {
        const char *t = argv[k].text;
        if (strcmp(t, "-delete") == 0) {
            ag__shj_canon_add(&cn, t, strlen(t));
            delete = 1;
        } else if (strcmp(t, "-exec") == 0 || strcmp(t, "-execdir") == 0 || strcmp(t, "-ok") == 0 ||
                   strcmp(t, "-okdir") == 0) {
            ag__shj_canon_add(&cn, t, strlen(t));
            size_t s = k + 1, e = s;
            while (e < argc && strcmp(argv[e].text, ";") != 0 && strcmp(argv[e].text, "+") != 0)
                e++;
            if (e > s) {
                /* {} stands for every file below the first root */
                struct ag__sh_word *inner = calloc(e - s, sizeof *inner);
                char star[PATH_MAX];
                const char *root = nroots ? argv[roots].pat : ".";
                snprintf(star, sizeof star, "%s/**", root);
                if (!inner) {
                    j->oom = 1;
                    return;
                }
                for (size_t q = s; q < e; q++) {
                    inner[q - s] = argv[q];
                    if (strstr(argv[q].text, "{}")) {
                        inner[q - s].text = star;
                        inner[q - s].pat = star;
                        inner[q - s].flags = nroots ? argv[roots].flags & ~AG__SH_GLOB : 0;
                    }
                }
                ag__shj_argv(j, ci, c, inner, e - s, 1, 0);
                free(inner);
            }
            k = e;
        } else if (strcmp(t, "-fprint") == 0 || strcmp(t, "-fprint0") == 0 ||
                   strcmp(t, "-fls") == 0 || strcmp(t, "-fprintf") == 0) {
            ag__shj_canon_add(&cn, t, strlen(t));
            if (k + 1 < argc)
                ag__shj_path_word(j, ci, "file.write", &argv[++k]);
            if (strcmp(t, "-fprintf") == 0)
                k++;
        } else if (strncmp(t, "-newer", 6) == 0 || strcmp(t, "-anewer") == 0 ||
                   strcmp(t, "-cnewer") == 0 || strcmp(t, "-samefile") == 0 ||
                   strcmp(t, "-files0-from") == 0) {
            if (k + 1 < argc)
                ag__shj_path_word(j, ci, "file.read", &argv[++k]);
        } else if (ag__shj_in_list(one_arg, t)) {
            if ((strcmp(t, "-name") == 0 || strcmp(t, "-iname") == 0) && k + 1 < argc && !glob)
                glob = argv[k + 1].text;
            k++;
        }
    }
    ag__shj_emit_exec(j, ci, "find", NULL, &cn);
    for (size_t r = 0; r < (nroots ? nroots : 1); r++) {
        if (nroots)
            ag__shj_search_word(j, ci, "file.read", &argv[roots + r], glob);
        else
            ag__shj_search_cwd(j, ci, "file.read", glob);
        if (delete) {
            if (nroots)
                ag__shj_search_word(j, ci, "file.write", &argv[roots + r], glob);
            else
                ag__shj_search_cwd(j, ci, "file.write", glob);
        }
    }
}

/* A git -c or git config setting that names a command git will run. */
static int git_code_setting(const char *s)
{
    static const char *const keys[] = {
        "alias.",          "sshcommand",  "pager",         "editor",     "hookspath",   "fsmonitor",
        "askpass",         "credential",  "core.gitproxy", "filter.",    "diff.",       "merge.",
        "sequence.editor", "gpg.program", "include",       "uploadpack", "receivepack", "textconv"};
    char low[256];
    size_t n = strlen(s);
    if (n >= sizeof low)
        return 1;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strstr(low, keys[i]))
            return 1;
    return 0;
}

void ag__shj_git(struct judge *j, int ci, const struct ag__sh_word *argv, size_t argc)
{
    size_t k = 1;
    const struct ag__sh_word *chdir_to = NULL; /* -C DIR: the operands are taken there */
    while (k < argc && argv[k].text[0] == '-') {
        const char *t = argv[k].text;
        if (strcmp(t, "-C") == 0 && k + 1 < argc)
            chdir_to = &argv[k + 1];
        if ((strcmp(t, "-c") == 0 || strcmp(t, "--config-env") == 0) && k + 1 < argc) {
            if ((argv[k + 1].flags & (AG__SH_VAR | AG__SH_SUBST)) ||
                git_code_setting(argv[k + 1].text))
                ag__shj_opaque(j, ci, "git -c sets a command git runs: %.200s", argv[k + 1].text);
            k += 2;
        } else if (strcmp(t, "-C") == 0 || strcmp(t, "--git-dir") == 0 ||
                   strcmp(t, "--work-tree") == 0 || strcmp(t, "--namespace") == 0) {
            k += 2;
        } else if (strncmp(t, "--exec-path=", 12) == 0) {
            ag__shj_opaque(j, ci, "git --exec-path runs other programs: %.200s", t);
            k++;
        } else {
            k++;
        }
    }
    if (k >= argc) {
        struct canon cn = {.n = 0};
        ag__shj_emit_exec(j, ci, "git", NULL, &cn);
        return;
    }
    const struct ag__sh_word *sub = &argv[k];
    if (sub->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_GLOB)) {
        ag__shj_opaque(j, ci, "a git subcommand named by a variable: %.200s", sub->text);
        return;
    }
    struct parsed *p = calloc(1, sizeof *p);
    if (!p) {
        j->oom = 1;
        return;
    }
    const char *s = sub->text;
    ag__shj_parse_opts(j, ci, argv, argc, k + 1,
                       strcmp(s, "clean") == 0 ? ag__shj_o_git_clean : ag__shj_o_git, p, 0, 0);
    if (strcmp(s, "push") == 0) {
        for (size_t i = 0; i < p->nop; i++) {
            if (p->operand[i]->text[0] == '+')
                ag__shj_canon_add(&p->canon, "--force", 7);
            if (p->operand[i]->text[0] == ':' || strstr(p->operand[i]->text, ":") == NULL) {
                if (p->operand[i]->text[0] == ':')
                    ag__shj_canon_add(&p->canon, "--delete", 8);
            }
            if (p->operand[i]->flags & (AG__SH_VAR | AG__SH_SUBST))
                ag__shj_opaque(j, ci, "a variable in a git refspec: %.200s", p->operand[i]->text);
        }
    }
    if (strcmp(s, "config") == 0)
        for (size_t i = 0; i < p->nop; i++)
            if (git_code_setting(p->operand[i]->text) ||
                (p->operand[i]->flags & (AG__SH_VAR | AG__SH_SUBST)))
                ag__shj_opaque(j, ci, "git config sets a command git runs: %.200s",
                               p->operand[i]->text);
    /* The subcommands whose operands are files of the work tree. */
    int dashdash = 0, paths = 0;
    for (size_t i = k + 1; i < argc; i++)
        dashdash |= strcmp(argv[i].text, "--") == 0;
    paths = p->nop > 0 && (strcmp(s, "add") == 0 || strcmp(s, "mv") == 0 || strcmp(s, "rm") == 0 ||
                           strcmp(s, "restore") == 0 || (strcmp(s, "checkout") == 0 && dashdash));
    char saved[PATH_MAX];
    int saved_known = j->cwd_known;
    snprintf(saved, sizeof saved, "%s", j->cwd);
    if (paths && chdir_to && !ag__shj_chdir(j, chdir_to)) {
        ag__shj_opaque(j, ci, "git -C to a directory the hook cannot follow: %.200s",
                       chdir_to->text);
        paths = 0;
    }
    for (size_t i = 0; paths && i < p->nop; i++) {
        if (strcmp(s, "add") == 0)
            ag__shj_tree_word(j, ci, "file.read", p->operand[i]);
        else if (strcmp(s, "mv") == 0 || strcmp(s, "rm") == 0 || strcmp(s, "restore") == 0 ||
                 (strcmp(s, "checkout") == 0 && dashdash))
            ag__shj_tree_word(j, ci, "file.write", p->operand[i]);
    }
    snprintf(j->cwd, sizeof j->cwd, "%s", saved);
    j->cwd_known = saved_known;
    if (strcmp(s, "apply") == 0 || strcmp(s, "am") == 0)
        ag__shj_opaque(j, ci, "git %s writes the files its patch names", s);
    ag__shj_emit_exec(j, ci, "git", s, &p->canon);
    free(p);
}

void ag__shj_tar(struct judge *j, int ci, const struct ag__sh_word *argv, size_t argc)
{
    struct parsed *p = calloc(1, sizeof *p);
    struct ag__sh_word *copy = calloc(argc + 1, sizeof *copy);
    char first[256];
    if (!p || !copy) {
        free(p);
        free(copy);
        j->oom = 1;
        return;
    }
    memcpy(copy, argv, argc * sizeof *copy);
    if (argc > 1 && argv[1].text[0] != '-' && strlen(argv[1].text) < sizeof first - 1) {
        snprintf(first, sizeof first, "-%s", argv[1].text); /* old style: tar xzf a.tgz */
        copy[1].text = copy[1].pat = first;
    }
    ag__shj_parse_opts(j, ci, copy, argc, 1, ag__shj_o_tar, p, 0, 0);
    if (p->code)
        ag__shj_opaque(j, ci, "tar runs a program named in its options%s", "");
    int writes = ag__shj_has_canon(p, "--create") || ag__shj_has_canon(p, "--append") ||
                 ag__shj_has_canon(p, "--update") || ag__shj_has_canon(p, "--catenate");
    if (p->target)
        ag__shj_path_word(j, ci, writes ? "file.write" : "file.read", p->target);
    if (ag__shj_has_canon(p, "--extract")) {
        struct ag__sh_word dot = {.text = ".", .pat = ".", .flags = 0};
        const struct ag__sh_word *dir = &dot;
        struct ag__sh_word d;
        if (p->nglobs) {
            d = (struct ag__sh_word){
                .text = p->globs[p->nglobs - 1], .pat = p->globs[p->nglobs - 1], .flags = 0};
            for (size_t i = 1; i < argc; i++)
                if (argv[i].text == p->globs[p->nglobs - 1])
                    d = argv[i];
            dir = &d;
        }
        ag__shj_search_word(j, ci, "file.write", dir, NULL);
    } else if (writes) {
        for (size_t i = 0; i < p->nop; i++)
            ag__shj_tree_word(j, ci, "file.read", p->operand[i]);
    }
    ag__shj_emit_exec(j, ci, "tar", NULL, &p->canon);
    free(p);
    free(copy);
}

void ag__shj_dd(struct judge *j, int ci, const struct ag__sh_word *argv, size_t argc)
{
    struct canon cn = {.n = 0};
    for (size_t k = 1; k < argc; k++) {
        const char *t = argv[k].text;
        if (strncmp(t, "if=", 3) == 0 || strncmp(t, "of=", 3) == 0) {
            struct ag__sh_word v = {
                .text = t + 3, .pat = argv[k].pat + 3, .flags = argv[k].flags & ~AG__SH_TILDE};
            if (t[3] == '~')
                v.flags |= AG__SH_TILDE;
            if (strncmp(argv[k].pat, t, 3) != 0)
                v.pat = t + 3;
            ag__shj_canon_add(&cn, t, 3);
            ag__shj_path_word(j, ci, t[0] == 'i' ? "file.read" : "file.write", &v);
        }
    }
    ag__shj_emit_exec(j, ci, "dd", NULL, &cn);
}

/* An awk print or printf redirected to a file (print > "f"); a '>' elsewhere is a
 * comparison. */
int ag__shj_awk_prints_to_file(const char *prog)
{
    for (const char *p = strstr(prog, "print"); p; p = strstr(p + 5, "print")) {
        size_t end = strcspn(p, ";}\n");
        const char *gt = memchr(p, '>', end);
        if (gt)
            return 1;
    }
    return 0;
}
