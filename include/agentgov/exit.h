/* The exit statuses of every `agentgov` command, in one table. Ownership: constants
 * only; nothing here allocates.
 *
 * A script can rely on them across commands: `agentgov check` and `agentgov agent
 * authorize` exit with the same status for the same decision. Three commands add
 * statuses of their own, documented in their --help: `run` describes its child with
 * 10-15 (docs/run.md), `pipeline run|resume` say 10 cancelled and 11 interrupted
 * (docs/pipelines.md), and `hook` answers in the coding agent's protocol, where exit 2
 * blocks the tool call (docs/hooks.md). Values are stable. */
#ifndef AGENTGOV_EXIT_H
#define AGENTGOV_EXIT_H

/* X(name, value, meaning) */
#define AG_EXIT_MAP(X)                                                                             \
    X(OK, 0, "success; the decision is allow")                                                     \
    X(USAGE, 1,                                                                                    \
      "usage: a bad option or argument, an input or config file that does not load, "              \
      "or a named thing that does not exist")                                                      \
    X(DENY, 2,                                                                                     \
      "the answer is no: denied, refused or revoked, or a check failed "                           \
      "(ledger verify, policy lint)")                                                              \
    X(ASK, 3, "the policy asks for a human approval")                                              \
    X(ERROR, 4,                                                                                    \
      "could not answer: store, ledger, I/O or another internal error (a "                         \
      "decision command prints a deny too)")

enum {
#define AG__EXIT_ENUM(name, val, meaning) AG_EXIT_##name = val,
    AG_EXIT_MAP(AG__EXIT_ENUM)
#undef AG__EXIT_ENUM
};

#endif
