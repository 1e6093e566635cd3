/* The coding-agent profile of the kernel backstop: what a coding agent (Claude Code,
 * Codex) run by `agentgov run --profile coding-agent` may reach, as wants for the
 * grant-list builder (runner/backstop.h). Ownership: the options are borrowed; wants
 * are added to the caller's list (which copies them). */
#ifndef AG_RUNNER_BACKSTOP_PROFILE_H
#define AG_RUNNER_BACKSTOP_PROFILE_H

#include "agentgov/policy.h"
#include "runner/backstop.h"

struct ag__backstop_opts {
    const char *home;     /* the user's home directory; NULL or "" for none */
    const char *project;  /* the project directory (writable, protected files carved out) */
    const char *data_dir; /* agentgov's data directory, read-only; NULL for none */
    /* Files in data_dir the agent's hooks must write (the ledger's); every other file
     * there is read-only, and its keys unreadable. */
    const char *const *data_writable;
    size_t ndata_writable;
    const char *const *binaries; /* agentgov's executables and policies: read-only */
    size_t nbinaries;
    const char *const *programs; /* the agent's program (its package): read-only */
    size_t nprograms;
    /* The policy whose `deny` rules on file.read (unreadable) and file.write (read-only)
     * are carved out too; NULL for none. */
    const ag_policy *policy;
};

/* Adds the coding-agent profile's wants to w: the system directories read-only, /tmp
 * and /var/tmp, the project and the agent's state directories (~/.claude,
 * ~/.claude.json, ~/.codex, ~/.cache, ~/.npm, ~/.local/state) writable, the rest of
 * $HOME read-only; the agents' hook settings, .git/hooks and .git/config, agentgov's
 * data directory and binaries read-only; credential stores (~/.ssh, ~/.aws, ~/.netrc,
 * ~/.config/gcloud, ~/.docker/config.json, ~/.gnupg, ~/.kube/config,
 * ~/.git-credentials, .env files in the project) and agentgov's keys unreadable; and
 * what the policy's deny rules name (see docs/sandbox.md for how a rule's globs become
 * paths). */
AG_MUST_USE ag_err ag__backstop_coding_wants(const struct ag__backstop_opts *o,
                                             struct ag__wants *w);

/* Adds the policy's deny rules on file.read (as unreadable) and file.write (as
 * read-only). ${HOME}/X and ${PROJECT}/X are those paths (wildcards expanded against
 * the file system); "**", a slash and X is X at any depth of the project and X directly
 * in $HOME; a trailing slash and "**" stand for the directory itself; any other
 * resource is an absolute glob. Resources that name no place that can be carved (a bare
 * "**" or "*") are skipped. */
AG_MUST_USE ag_err ag__backstop_policy_wants(const ag_policy *p, const char *home,
                                             const char *project, struct ag__wants *w);

#endif
