/* Helpers shared by the subcommands: messages, data directory and store resolution,
 * option lookup. Ownership: returned paths are static or malloc'd as documented. */
#ifndef AG_CLI_CLIUTIL_H
#define AG_CLI_CLIUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "agentgov/config.h"
#include "agentgov/err.h"
#include "agentgov/exit.h"
#include "agentgov/home.h"
#include "agentgov/version.h"

/* The exit status for a library error that ends a command: AG_EXIT_USAGE for what
 * the user can fix in the command line or an input file (EINVAL, EPARSE, ENOTFOUND,
 * EEXIST, ELIMIT, EUNSUPPORTED), AG_EXIT_DENY for a refusal (EPERM, EREVOKED,
 * EEXPIRED, ESTATE), AG_EXIT_ERROR for the rest; AG_EXIT_OK for AG_OK. */
int ag__cli_exit_of(ag_err err);
/* Prints the table of exit statuses (include/agentgov/exit.h), for every --help. */
void ag__cli_print_exit_statuses(FILE *out);

/* "agentgov: error: ..." on stderr. */
void ag__cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "agentgov: warning: ..." on stderr. */
void ag__cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "agentgov: error: <what>: <ag_strerror(err)>[: <ag_last_error()>]". */
void ag__cli_error_ag(ag_err err, const char *what);

/* Sets the data directory from a global --dir (or a command's own --dir); prints the
 * error and exits 1 when it is too long to hold. */
void ag__cli_set_dir(const char *dir);
/* The data directory: --dir, else $AGENTGOV_DIR, else the documented default
 * ($XDG_DATA_HOME/agentgov when absolute, else $HOME/.local/share/agentgov when $HOME
 * is absolute): ag_home_resolve_dir. Static buffer. Prints the error and exits 1 when
 * neither is. */
const char *ag__cli_dir(void);
/* 1 if the data directory was chosen (--dir or $AGENTGOV_DIR) rather than defaulted. */
int ag__cli_dir_is_set(void);
/* The default, as shown in --help. */
const char *ag__cli_default_dir_doc(void);
/* <data directory>/<the file's name>, into a static ring of buffers (for naming a file
 * in a message, or for creating one: `agentgov init`). */
const char *ag__cli_path(enum ag_home_file file);
/* Opens the data directory (--dir or the default) with opts (may be NULL): see
 * agentgov/home.h. Prints the error (file:line for a bad config) and returns
 * AG_EXIT_USAGE, or 0. */
int ag__cli_home(const struct ag_home_opts *opts, ag_home **out);
/* The policy file a command uses (ag_home_policy_path: flag, else config `policy`, else
 * <dir>/policy.yaml, else the shipped default) into buf. 0, or -1 after printing why. */
int ag__cli_policy_path(const char *flag, char *buf, size_t len);
/* Prints "agentgov: error: <ag_last_error()>" (a home accessor's failure reads as a
 * whole line) and returns status. */
int ag__cli_home_fail(int status);
/* 1 if word is one of the space-separated words of list (a subcommand's allowed
 * options, for example). */
int ag__cli_word_in(const char *list, const char *word);
/* 1 if argv has -h or --help anywhere before a "--". */
int ag__cli_wants_help(int argc, char **argv);

struct option;
/* Sets one parsed option (c is its value in the table, optarg its argument); 0, or -1
 * after printing the error. */
typedef int (*ag__cli_opt_fn)(int c, const char *name, void *ctx);

/* The option walk the subcommands share: positionals, in order and mixed with options,
 * go to pos (at most maxpos); each option must be named in the space-separated
 * allowed list and is handed to set. The table's values must count up from
 * longopts[0].val in table order. long_only: accept -name as well as --name. Returns
 * the number of positionals, or -1 after printing the error. */
int ag__cli_walk_opts(int argc, char **argv, const struct option *longopts, int long_only,
                      const char *allowed, ag__cli_opt_fn set, void *ctx, char **pos, int maxpos);

#endif
