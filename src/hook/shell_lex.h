/* Private to the shell parser: the lexer (shell_lex.c: arena, quoting, expansions,
 * here-documents) and the command grammar (shell_parse.c) share the lexer state.
 * Ownership: struct lx lives on the parsing function's stack; everything it makes
 * lives in the script's arena. */
#ifndef AG_HOOK_SHELL_LEX_H
#define AG_HOOK_SHELL_LEX_H

#include <stddef.h>

#include "hook/shell_parse.h"

struct heredoc {
    char delim[256];
    int quoted, strip;
};

struct lx {
    struct ag__sh_script *s;
    const char *t;
    size_t n, i;
    int depth;  /* nesting of parsed texts */
    int nested; /* > 0: inside a subshell or substitution */
    int pipeline, stage;
    int in_case;
    int oom;
    struct heredoc hd[16];
    int nhd;
};

static inline int ag__sh_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Characters that end an unquoted word. */
static inline int ag__sh_is_meta(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '<' ||
           c == '>' || c == '(' || c == ')' || c == '\0';
}

/* shell_lex.c */
void *ag__sh_alloc(struct ag__sh_script *s, size_t n);
void ag__sh_lx_opaque(struct lx *x, int cmd, const char *reason);
int ag__sh_is_name_start(char c);
int ag__sh_is_name(char c);
/* The word at x->i into out (arena copies); 0 when there is none. */
int ag__sh_take_word(struct lx *x, struct ag__sh_word *out);
/* $( ... ) from x->i (after the parenthesis): parsed in place up to its ')'. */
void ag__sh_command_subst(struct lx *x);
/* Skips to the close matching an open already read, parsing substitutions. */
void ag__sh_skip_group(struct lx *x, char open, char close);
/* The bodies of the pending here-documents, after the newline at x->i. */
void ag__sh_read_heredocs(struct lx *x);

/* shell_parse.c */
/* A list of commands up to close (')' for a subshell or $( ), 0: the end). */
void ag__sh_parse_list(struct lx *x, char close);

#endif
