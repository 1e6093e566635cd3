/* Subcommand entry points of the `agentgov` binary. Ownership: each receives argv
 * with argv[0] = the subcommand name and returns the process exit status. */
#ifndef AG_CLI_COMMANDS_H
#define AG_CLI_COMMANDS_H

/* Each group lives in its own cmd_<group>.c. */
#define AG_COMMAND_MAP(X)                                                                          \
    X(init, "create a data directory (ledger, keys, config)")                                      \
    X(demo, "walk a sample governed task end to end")                                              \
    X(check, "decide one request against a policy")                                                \
    X(policy, "lint and show policies")                                                            \
    X(ledger, "append, verify, query and export the audit ledger")                                 \
    X(agent, "register, inspect, revoke, promote and demote agents")                               \
    X(task, "task status and handoffs")                                                            \
    X(stuck, "list agents whose heartbeat is older than a threshold")                              \
    X(approval, "list, show, approve and deny pending approvals")                                  \
    X(health, "health of each component, for a data directory or a running daemon")                \
    X(auth, "AppRole roles, secret IDs and login")                                                 \
    X(token, "look up, renew and revoke tokens")                                                   \
    X(secret, "versioned, encrypted key/value secrets")                                            \
    X(serve, "run the governance daemon (HTTP/JSON API)")                                          \
    X(orchestrate, "run a task with governed LLM agents (ALPHA, BETA, GAMMA) to a consensus")      \
    X(run, "run a process as a governed, sandboxed agent")                                         \
    X(pipeline, "validate, run and resume YAML pipelines of governed stages")                      \
    X(sandbox, "show the kernel sandbox profile of a tier")                                        \
    X(hook, "answer a coding agent's tool-use hook (claude-code, codex)")                          \
    X(notify, "notification outbox: list (--dead) and test a channel")                             \
    X(config, "show the effective configuration")                                                  \
    X(version, "print the version")

#define AG__CMD_DECL(name, help) int ag__cmd_##name(int argc, char **argv);
AG_COMMAND_MAP(AG__CMD_DECL)
#undef AG__CMD_DECL

#endif
