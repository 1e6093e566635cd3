/* A POSIX shell command line (with the bash forms agents write) parsed into the
 * simple commands it runs, for the hook's shell judge (shell_judge.h). Nothing is
 * expanded or run: words keep what the shell would still do to them as flags.
 * Ownership: struct ag__sh_script is caller-owned; ag__sh_parse fills it and every
 * string and array in it lives in the script's arena until ag__sh_script_free. */
#ifndef AG_HOOK_SHELL_PARSE_H
#define AG_HOOK_SHELL_PARSE_H

#include <stddef.h>

#include "agentgov/err.h"

/* Limits: a line beyond them is parsed as far as they allow and gets an opaque
 * reason, which the judge turns into shell.opaque. */
#define AG__SH_MAX_INPUT (1u << 20) /* bytes of a command line */
#define AG__SH_MAX_DEPTH 12         /* nesting of $( ), ` `, ( ), <( ), bash -c */
#define AG__SH_MAX_CMDS  256        /* simple commands of one line */
#define AG__SH_MAX_WORDS 512        /* words of one simple command */

/* Word flags: what the shell would still do to the word. */
#define AG__SH_VAR    0x01u /* a parameter or arithmetic expansion other than $HOME, $PWD */
#define AG__SH_SUBST  0x02u /* a command or process substitution */
#define AG__SH_TILDE  0x04u /* a leading unquoted ~ (text starts with it) */
#define AG__SH_TUSER  0x08u /* ~user: another user's home */
#define AG__SH_GLOB   0x10u /* an unquoted * ? or [ */
#define AG__SH_BRACE  0x20u /* an unquoted { } pair: brace expansion may apply */
#define AG__SH_QUOTED 0x40u /* some part was quoted or escaped */

/* In text and pat, $HOME / ${HOME} and $PWD / ${PWD} stand as these two-byte markers:
 * the judge knows both values. */
#define AG__SH_MARK      '\x01'
#define AG__SH_MARK_HOME 'H'
#define AG__SH_MARK_PWD  'P'

struct ag__sh_word {
    const char *text; /* after quote removal; expansions kept as written */
    const char *pat;  /* the same as a glob: quoted * ? [ ] { } , \ escaped with '\' */
    unsigned flags;
};

enum ag__sh_redir_op {
    AG__SH_R_IN,      /* <    */
    AG__SH_R_OUT,     /* > >| &> (a write, truncating) */
    AG__SH_R_APPEND,  /* >> &>> */
    AG__SH_R_RDWR,    /* <>   */
    AG__SH_R_DUP,     /* <&N >&N >&- : no file */
    AG__SH_R_HEREDOC, /* << <<- : the text that follows */
    AG__SH_R_HERESTR  /* <<< word */
};

struct ag__sh_redir {
    int fd; /* the explicit descriptor, -1 when none was written */
    enum ag__sh_redir_op op;
    struct ag__sh_word target; /* the file, the delimiter, or the string */
};

struct ag__sh_cmd {
    struct ag__sh_word *argv;
    size_t argc;
    struct ag__sh_word *assign; /* NAME=value words before the program */
    size_t nassign;
    struct ag__sh_redir *redir;
    size_t nredir;
    int pipeline;    /* commands of one pipeline share it */
    int stage;       /* 0 for the first command of a pipeline; > 0: stdin is a pipe */
    int nested;      /* > 0: runs in a subshell, a substitution or a pipeline, so a cd
                        there does not change the directory of what follows */
    int depth;       /* nesting of the text it came from (bash -c inside bash -c) */
    int judged;      /* set by the judge */
    const char *src; /* the command's own text, for messages */
};

struct ag__sh_opaque {
    const char *reason; /* why the line cannot be judged there */
    int cmd;            /* the command it concerns, -1 for the line */
};

struct ag__sh_script {
    struct ag__sh_cmd *cmd;
    size_t ncmd;
    struct ag__sh_opaque *opaque;
    size_t nopaque;
    int npipe; /* pipelines numbered so far */
    void *arena;
};

/* Parses len bytes of text (a NUL inside ends it as the shell would not: it gets an
 * opaque reason). Syntax errors, unsupported forms and limits are opaque reasons,
 * not failures: the commands before them are still there to judge. Fails only with
 * AG_ENOMEM. */
AG_MUST_USE ag_err ag__sh_parse(const char *text, size_t len, struct ag__sh_script *out);

/* Parses text as a nested line (bash -c STRING) into the same script at depth. */
AG_MUST_USE ag_err ag__sh_parse_more(struct ag__sh_script *s, const char *text, size_t len,
                                     int depth, int nested);

void ag__sh_script_free(struct ag__sh_script *s);

/* An arena string of n bytes of p, NUL-terminated (NULL when out of memory). */
char *ag__sh_strndup(struct ag__sh_script *s, const char *p, size_t n);

/* Adds an opaque reason (copied) for command cmd (-1: the line). */
AG_MUST_USE ag_err ag__sh_add_opaque(struct ag__sh_script *s, int cmd, const char *reason);

#endif
