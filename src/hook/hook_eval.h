/* One `agentgov hook` decision, from the event's text to the answer: parse, resolve the
 * policy and tier, decide, record in the ledger, answer. Shared by the hook process
 * (which decides in process when no helper answers) and the hook helper (which keeps
 * the ledger open and compiled policies in memory between events). The answer and the
 * diagnostics go into buffers, so that the helper can send them back to the client.
 * Fail closed: any error denies with exit status AG__HOOK_EXIT_DENY. */
#ifndef AG_HOOK_HOOK_EVAL_H
#define AG_HOOK_HOOK_EVAL_H

#include <stddef.h>
#include <sys/types.h>

#include "agentgov/err.h"
#include "agentgov/home.h"
#include "agentgov/ledger.h"
#include "core/buf.h"
#include "hook/hook.h"

#define AG__HOOK_EXIT_ALLOW 0
#define AG__HOOK_EXIT_DENY  AG_HOOK_EXIT_DENY

/* What the hook prints: out on stdout, err on stderr, then it exits with the status
 * ag__hook_eval returned. */
struct ag__hook_out {
    struct ag_buf out, err;
};

void ag__hook_out_init(struct ag__hook_out *o);
void ag__hook_out_free(struct ag__hook_out *o);

/* Compiled policies kept between events (the helper's), keyed by the file's identity
 * and contents' stamp (device, inode, size, mtime, ctime) and by the event's project
 * and home, which the policy text is expanded with. */
struct ag__hook_policy_cache;
struct ag__hook_policy_cache *ag__hook_cache_new(void);
void ag__hook_cache_free(struct ag__hook_policy_cache *c);

struct ag__hook_env {
    /* 0: open the ledger for the append and close it (one process, one event). 1: keep
     * it open in ledger between events (the helper): it is opened at the first append,
     * opened afresh when <dir>/ledger.db is no longer the file it opened (deleted or
     * replaced), and closed after a failed append, so that the next event retries. */
    int stays;
    ag_ledger *ledger;
    dev_t dev; /* of the open ledger file */
    ino_t ino;
    struct ag__hook_policy_cache *cache; /* NULL: parse the policy every time */
};

/* Decides one event (text, len) with o; returns the exit status (0 or
 * AG__HOOK_EXIT_DENY). o->policy and o->tier are filled from the config when unset. */
int ag__hook_eval(struct ag_hook_opts *o, const char *text, size_t len, struct ag__hook_env *env,
                  struct ag__hook_out *out);

/* A denial as text, recording nothing (the helper failed after it took the event, and
 * may have recorded it; no data directory is known): the reason on err, exit 2. */
int ag__hook_deny(struct ag__hook_out *out, const char *what, ag_err err);

/* A denial before there is an event to decide (a bad command line, an event too large
 * or unreadable): recorded in the ledger of the data directory as it stands, when it
 * opens (best effort), with what and ag_last_error() as the error; never the event's
 * text. The reason on err, exit 2. */
int ag__hook_deny_early(const struct ag_hook_opts *o, const char *what, enum ag_reason reason,
                        ag_err err, struct ag__hook_out *out);

#endif
