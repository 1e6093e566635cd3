/* Helpers shared by the subcommands: messages, data directory and store resolution,
 * option lookup. Ownership: returned paths are static or malloc'd as documented. */
#ifndef AG_CLI_CLIUTIL_H
#define AG_CLI_CLIUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "agentgov/config.h"
#include "agentgov/err.h"
#include "agentgov/exit.h"

#define AG_VERSION "0.1.0"

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
 * is absolute). Static buffer. Prints the error and exits 1 when neither is. */
const char *ag__cli_dir(void);
/* 1 if the data directory was chosen (--dir or $AGENTGOV_DIR) rather than defaulted. */
int ag__cli_dir_is_set(void);
/* The default, as shown in --help. */
const char *ag__cli_default_dir_doc(void);
/* Joins the data directory and a file name into a static ring of buffers. */
const char *ag__cli_path(const char *name);
/* ag__cli_path(name) when that file exists, else NULL (optional key files). */
const char *ag__cli_path_if_exists(const char *name);
/* The store URL: flag (--store), else $AGENTGOV_STORE, else sqlite:<dir>/state.db. */
const char *ag__cli_store_url(const char *flag);
/* The data directory's configuration over the defaults. NULL, after printing the
 * error (file:line for a bad line), when the file does not load: nothing of a bad
 * file is applied. */
ag_config *ag__cli_config(void);
/* ledger.checkpoint_every from <dir>/config (the table's default when the file is
 * absent or does not load; nothing is printed). The hook helper passes it to the
 * ledger. */
int ag__cli_checkpoint_every(void);
/* Opens the data directory's ledger for a short-lived command: signing and HMAC keys
 * when present, checkpoints every ledger.checkpoint_every entries, none at close.
 * Prints the error and returns -1 when there is no ledger, the config does not load
 * or the ledger cannot be opened. */
struct ag_ledger;
int ag__cli_open_ledger(struct ag_ledger **out);
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
