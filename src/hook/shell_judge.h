/* The shell judge: a command line (Bash, Codex's shell tools) into the requests the
 * policy decides, one set per simple command the line runs (docs/hooks.md, "Shell
 * commands"):
 *  - shell.exec on the command's canonical form, "PROGRAM [SUBCOMMAND] OPTIONS": the
 *    program's base name, then its options normalised to their long names, sorted and
 *    without values ("rm -vrf x" is "rm --force --recursive --verbose");
 *  - file.read / file.write on every path it reads or writes, in the resource form of
 *    the Read and Write tools;
 *  - shell.opaque on the reason, for what cannot be judged.
 * Ownership: struct ag__shell_result is caller-owned; ag__shell_judge fills it and
 * ag__shell_result_free releases it. */
#ifndef AG_HOOK_SHELL_JUDGE_H
#define AG_HOOK_SHELL_JUDGE_H

#include <stddef.h>

#include "agentgov/err.h"
#include "hook/shell_parse.h"

/* Most checks one line yields; past it the rest of the line is shell.opaque, but for
 * up to AG__SHELL_MAX_EXEC more shell.exec checks (each command's own). More than that
 * is more than the hook takes: it denies. */
#define AG__SHELL_MAX_CHECKS 160
#define AG__SHELL_MAX_EXEC   24

enum ag__shell_kind {
    AG__SHELL_REQ,     /* a request, decided as is */
    AG__SHELL_SEARCH,  /* a request on dir/ and a search of dir narrowed by glob: also
                          judged against the deny and ask rules naming files below */
    AG__SHELL_PATTERN, /* a request on a glob pattern (resource form): also judged
                          against every deny and ask rule that names a path it could
                          match (shell_glob.h) */
};

struct ag__shell_check {
    const char *action; /* static: shell.exec, shell.opaque, file.read, file.write */
    char *resource;     /* owned */
    int text;           /* 1: free text (shell.exec, shell.opaque), not a path */
    enum ag__shell_kind kind;
    char *dir;  /* SEARCH: the searched directory (resource form), owned */
    char *glob; /* SEARCH: the glob narrowing it, NULL when none, owned */
    int cmd;    /* index of the simple command in script, -1: the line */
};

struct ag__shell_result {
    struct ag__shell_check *c;
    size_t n;
    struct ag__sh_script script; /* the parsed line: script.cmd[c->cmd].src */
};

/* How the judge resolves a path: the hook's own normalisation (relative to cwd, "~/"
 * to home, "." and ".." resolved, symbolic links followed, leading '/' dropped). */
typedef ag_err (*ag__shell_path_fn)(const char *cwd, const char *home, const char *path,
                                    char **out);

struct ag__shell_ctx {
    const char *cwd;  /* absolute directory the line starts in */
    const char *home; /* what ~ stands for, NULL when nothing */
    ag__shell_path_fn path;
};

/* Judges len bytes of line. Fails only with AG_ENOMEM; what cannot be judged is a
 * shell.opaque check. On error out holds nothing to free. */
AG_MUST_USE ag_err ag__shell_judge(const char *line, size_t len, const struct ag__shell_ctx *ctx,
                                   struct ag__shell_result *out);
void ag__shell_result_free(struct ag__shell_result *r);

/* The text of the simple command a check concerns ("" for the line). */
const char *ag__shell_part(const struct ag__shell_result *r, const struct ag__shell_check *c);

#endif
