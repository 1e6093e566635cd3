/* What the governance subcommands (agent, task, stuck, demo) share: opening the store,
 * ledger and policy of the data directory as one ag_gov, and their common options.
 * Ownership: struct ag__cli_gov owns everything it opened; ag__cli_gov_close frees it. */
#ifndef AG_CLI_GOVCTX_H
#define AG_CLI_GOVCTX_H

#include "agentgov/auth.h"
#include "agentgov/gov.h"
#include "agentgov/home.h"

/* The handles are the home's (borrowed): ag__cli_gov_close frees the home. */
struct ag__cli_gov {
    ag_home *home;
    ag_store *store;
    ag_ledger *ledger;
    ag_policy *policy;
    ag_gov *gov;
    ag_auth *auth; /* NULL when no master key is set up: then no credentials exist here */
};

/* Opens the data directory (agentgov/home.h) and from it the store (--store, else
 * $AGENTGOV_STORE, else config `store`, else the embedded store), the ledger (which
 * `agentgov init` creates) and the policy (--policy, else config `policy`, else
 * <dir>/policy.yaml, else the shipped default). When a master key is available
 * ($AGENTGOV_MASTER_KEY or <dir>/master.key) it also opens the auth engine and plugs
 * ag_auth_revoke_agent into every revocation. Returns 0, or after printing the
 * problem the exit status: AG_EXIT_USAGE when <dir>/config does not load,
 * AG_EXIT_ERROR otherwise. */
int ag__cli_gov_open(struct ag__cli_gov *c, const char *store_flag, const char *policy_flag);
void ag__cli_gov_close(struct ag__cli_gov *c);

/* Options common to the governance subcommands, parsed by ag__cli_gov_opts. */
struct ag__cli_gopts {
    const char *store, *policy, *packet, *reason, *task, *step, *write, *sha256, *agent,
        *older_than, *confidence, *args, *as, *approve_id;
    int tier; /* -1 when not given */
    int approve, json, pending, dead;
};

/* Parses argv (argv[0] = the subcommand) for the options whose long names are listed
 * in `allowed` (space-separated, e.g. "store policy tier"); positional arguments are
 * moved to pos (at most maxpos). Returns the number of positionals, or -1 after
 * printing the problem. */
int ag__cli_gov_opts(int argc, char **argv, const char *allowed, struct ag__cli_gopts *o,
                     char **pos, int maxpos);

/* Exit statuses: include/agentgov/exit.h (AG_EXIT_DENY, AG_EXIT_ASK, AG_EXIT_ERROR). */
#include "agentgov/exit.h"

#endif
