/* `agentgov hook install` and `agentgov hook doctor` (cmd_hook.c dispatches to them).
 * Each takes the arguments after "hook" and returns the exit status. */
#ifndef AG_CLI_CMD_HOOK_INSTALL_H
#define AG_CLI_CMD_HOOK_INSTALL_H

int ag__cmd_hook_install(int argc, char **argv);
int ag__cmd_hook_doctor(int argc, char **argv);

#endif
