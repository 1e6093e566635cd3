/* Coding-agent hooks (Claude Code, Codex): one tool call's event in, allow or deny out,
 * recorded in the data directory's ledger; and the hook helper, one long-lived process
 * per data directory that answers events with the ledger open and policies compiled.
 * Fail closed: any error is a deny. Ownership: the options lend the home; an answer's
 * strings are the caller's (ag_hook_answer_clear), as is a control reply's text. */
#ifndef AGENTGOV_HOOK_H
#define AGENTGOV_HOOK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agentgov/err.h"
#include "agentgov/home.h"
#include "agentgov/policy.h"

/* The exit status of a denial: the one status Claude Code takes as "block the call".
 * It is the coding agents' hook protocol, not the table of agentgov/exit.h (where 2 is
 * also a deny, but a usage error is 1 and an internal error 4): a hook answers every
 * failure with it. */
#define AG_HOOK_EXIT_DENY 2

enum ag_hook_dialect { AG_HOOK_CLAUDE_CODE, AG_HOOK_CODEX };

struct ag_hook_opts {
    ag_home *home; /* the data directory (lent): its ledger, config and paths; NULL: none
                      is known (a denial is then not recorded) */
    enum ag_hook_dialect dialect;
    const char *policy; /* NULL: hook.policy in the config, else the shipped one */
    int tier;           /* -1: hook.tier in the config */
    const char *agent;  /* NULL: the event's agent */
    uid_t uid;          /* the hook's user: `~` is its passwd home when HOME is not absolute */
};

/* What the hook prints: out on stdout, err on stderr (either may be NULL), then it
 * exits with status. */
struct ag_hook_answer {
    char *out, *err;
    size_t out_len, err_len;
    int status;         /* 0 allow, AG_HOOK_EXIT_DENY */
    int helper_missing; /* no helper took the event: the caller may start one */
};

/* Decides one event (text, len): the data directory's helper answers when use_helper
 * and one runs, else this process decides. Returns a->status. */
int ag_hook_answer(const struct ag_hook_opts *o, int use_helper, const char *text, size_t len,
                   struct ag_hook_answer *a);
/* A denial before there is an event to decide (a bad command line, an event too large
 * or unreadable): recorded in the ledger when o->home is set and the ledger opens (best
 * effort), with what and ag_last_error() as the error. Returns AG_HOOK_EXIT_DENY. */
int ag_hook_deny_early(const struct ag_hook_opts *o, const char *what, enum ag_reason reason,
                       ag_err err, struct ag_hook_answer *a);
void ag_hook_answer_clear(struct ag_hook_answer *a);

/* 0 when AGENTGOV_HOOK_HELPER=0 turns the helper off for this process. */
int ag_hook_helper_wanted(void);
/* hook.helper_idle from the config in ms (0: no helper); if_unreadable when the config
 * cannot be read. */
int64_t ag_hook_helper_idle_ms(ag_home *home, int64_t if_unreadable);
/* Starts a helper for the data directory in the background (detached, stdio on
 * /dev/null), unless hook.helper_idle is 0. Best effort. */
void ag_hook_helper_spawn(ag_home *home);
/* Serves events for home (whose directory must be absolute: events are decided in each
 * hook's working directory) until idle for idle_ms, SIGTERM/SIGINT/SIGHUP, or the socket
 * going away. AG_EEXIST when a helper already runs for the directory; AG_EUNSUPPORTED
 * when idle_ms is 0 (no helper wanted). */
AG_MUST_USE ag_err ag_hook_helper_run(ag_home *home, int64_t idle_ms);
/* Asks the running helper for its status (stop = 0) or to stop (stop = 1); *text is
 * its reply. AG_ENOTFOUND when none runs. */
AG_MUST_USE ag_err ag_hook_helper_control(ag_home *home, int stop, char **text);

#endif
