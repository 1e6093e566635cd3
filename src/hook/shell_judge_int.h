/* Private to the shell judge (shell_judge.c and the files it is split into:
 * shell_progs.c the program and option tables, shell_paths.c paths and the check list,
 * shell_opts.c options and canonical forms, shell_tools.c find, git, tar, dd, sed and
 * awk). Ownership: struct judge and struct parsed live on the judging function's stack;
 * checks are owned by the result (shell_judge.h). */
#ifndef AG_HOOK_SHELL_JUDGE_INT_H
#define AG_HOOK_SHELL_JUDGE_INT_H

#include <limits.h>
#include <stddef.h>

#include "core/buf.h"
#include "hook/shell_judge.h"

/* Roles of an option's value or of an operand. */
enum role {
    R_NONE,
    R_READ,   /* a path read */
    R_WRITE,  /* a path written */
    R_CHDIR,  /* a directory the program works in */
    R_TARGET, /* the directory copies go to (cp -t) */
    R_GLOB,   /* a search glob (grep --include, rg -g, find -name) */
    R_CODE,   /* program text: what it does cannot be judged */
    R_PAT,    /* the pattern or script is given: operands are all files */
    R_DATA,   /* curl data: "@file" reads file */
};

/* One option: short letters (any of them), long name, whether it takes a value
 * (0 no, 1 yes, 2 only attached: -i.bak, --in-place=.bak), the role of the value, and
 * the canonical name when it is not --long. */
struct opt {
    const char *shorts;
    const char *lng;
    int arg;
    enum role role;
    const char *canon;
};

enum args {
    A_NONE,    /* operands are text */
    A_READ,    /* operands are paths read */
    A_WRITE,   /* operands are paths written */
    A_RW,      /* read and written (editors, gzip) */
    A_PATREAD, /* first operand a pattern or script (unless given by option), rest read */
    A_MODE,    /* first operand a mode or owner, rest written (chmod, chown) */
    A_COPY,    /* sources read, last operand written (into it when a directory) */
    A_MOVE,    /* as A_COPY, and the sources are written (removed) too */
    A_SEARCH,  /* first operand a pattern (unless given), rest searched (rg) */
    A_UNKNOWN, /* a program not in the table: operands read */
};

struct prog {
    const char *names; /* space-separated */
    enum args args;
    const struct opt *opts;
    int special; /* a handler below */
};

enum special {
    S_NONE,
    S_FIND,
    S_GIT,
    S_TAR,
    S_DD,
    S_INTERP,
    S_SHELL,
    S_CD,
    S_OPAQUE,
    S_WRAP_OPAQUE,
    S_SED,
    S_AWK,
    S_GREP,
    S_UNIQ,
    S_SCP,
    S_PATCH,
    S_EXPORT,
    S_SOURCE,
    S_ZIP,
    S_UNZIP,
    S_SQLITE,
};

struct wrapper {
    const char *names;
    const char *with_value; /* options taking a value, space-separated */
    int operands;           /* operands before the command (timeout's duration) */
};

struct judge {
    const struct ag__shell_ctx *ctx;
    struct ag__shell_result *r;
    char cwd[PATH_MAX];
    int cwd_known;
    int full; /* the check limit was reached */
    int oom;
};

#define CANON_MAX 48

struct canon {
    const char *tok[CANON_MAX];
    char own[CANON_MAX][64];
    size_t n;
};

struct parsed {
    const struct ag__sh_word *operand[AG__SH_MAX_WORDS];
    size_t nop;
    struct canon canon;
    int pat_given;
    const struct ag__sh_word *target; /* cp -t: points at target_word */
    struct ag__sh_word target_word;   /* a copy: the option's value may be a local word */
    const char *globs[8];
    size_t nglobs;
    int code; /* an option whose value is code */
};

/* shell_progs.c */
extern const struct opt ag__shj_o_none[], ag__shj_o_git[], ag__shj_o_git_clean[], ag__shj_o_tar[];
const char *ag__shj_base(const char *path);
int ag__shj_in_list(const char *list, const char *name);
const struct prog *ag__shj_lookup(const char *name);
const struct wrapper *ag__shj_wrapper(const char *name);
int ag__shj_dangerous_env(const char *assign);
int ag__shj_network_fetcher(const char *name);

/* shell_paths.c: the check list, and the words that name files */
void ag__shj_check(struct judge *j, int cmd, const char *action, char *resource, int text,
                   enum ag__shell_kind kind, char *dir, char *glob);
void ag__shj_opaque(struct judge *j, int cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ag__shj_substitute(struct judge *j, const struct ag__sh_word *w, struct ag_buf *out,
                       const char **why);
void ag__shj_unescape(const char *pat, char *out, size_t size);
void ag__shj_path_word(struct judge *j, int cmd, const char *action, const struct ag__sh_word *w);
void ag__shj_search_word(struct judge *j, int cmd, const char *action, const struct ag__sh_word *w,
                         const char *glob);
void ag__shj_tree_word(struct judge *j, int cmd, const char *action, const struct ag__sh_word *w);
void ag__shj_search_cwd(struct judge *j, int cmd, const char *action, const char *glob);
/* Makes w (a literal directory) the current directory: 1, or 0 when it cannot be
 * followed (the directory is then unchanged). */
int ag__shj_chdir(struct judge *j, const struct ag__sh_word *w);
/* tree: the sources may be directories copied or moved whole (cp -r, mv). */
void ag__shj_copy_target(struct judge *j, int ci, const struct ag__sh_word *dst,
                         const struct ag__sh_word *const *src, size_t nsrc, int tree);

/* shell_opts.c */
void ag__shj_canon_add(struct canon *c, const char *tok, size_t len);
void ag__shj_emit_exec(struct judge *j, int cmd, const char *name, const char *sub,
                       struct canon *c);
void ag__shj_parse_opts(struct judge *j, int cmd, const struct ag__sh_word *argv, size_t argc,
                        size_t from, const struct opt *opts, struct parsed *p, int unknown_values,
                        int mode_operand);
int ag__shj_has_canon(const struct parsed *p, const char *tok);

/* shell_tools.c */
void ag__shj_sed_script(struct judge *j, int ci, const char *s);
int ag__shj_awk_prints_to_file(const char *prog);
void ag__shj_find(struct judge *j, int ci, const struct ag__sh_cmd *c,
                  const struct ag__sh_word *argv, size_t argc);
void ag__shj_git(struct judge *j, int ci, const struct ag__sh_word *argv, size_t argc);
void ag__shj_tar(struct judge *j, int ci, const struct ag__sh_word *argv, size_t argc);
void ag__shj_dd(struct judge *j, int ci, const struct ag__sh_word *argv, size_t argc);

/* shell_judge.c */
void ag__shj_argv(struct judge *j, int ci, const struct ag__sh_cmd *c,
                  const struct ag__sh_word *argv, size_t argc, int from_find, int xargs);

#endif
