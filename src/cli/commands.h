/* Subcommand entry points of the `agentgov` binary. Ownership: each receives argv
 * with argv[0] = the subcommand name and returns the process exit status. */
#ifndef AG_CLI_COMMANDS_H
#define AG_CLI_COMMANDS_H

/* Each group lives in its own cmd_<group>.c. */
#define AG_COMMAND_MAP(X)                                                                 \
    X(init, "create a data directory (ledger, keys, config)")                            \
    X(check, "decide one request against a policy")                                       \
    X(policy, "lint and show policies")                                                   \
    X(ledger, "append, verify, query and export the audit ledger")                        \
    X(config, "show the effective configuration")                                         \
    X(version, "print the version")

#define AG__CMD_DECL(name, help) int ag__cmd_##name(int argc, char **argv);
AG_COMMAND_MAP(AG__CMD_DECL)
#undef AG__CMD_DECL

#endif
