/* `agentgov run --profile NAME -- CMD` and `agentgov sandbox show --profile NAME`: a
 * coding agent run under the kernel backstop (docs/sandbox.md, "The coding-agent
 * backstop"). Ownership: struct ag__backstop_cli is the caller's; the strings it
 * points to are borrowed. */
#ifndef AG_CLI_RUN_BACKSTOP_H
#define AG_CLI_RUN_BACKSTOP_H

#include <stddef.h>
#include <stdint.h>

#define AG__BACKSTOP_PORTS_MAX 32

struct ag__backstop_cli {
    const char *profile; /* "coding-agent" */
    const char *project; /* NULL: the current directory */
    const char *policy;  /* NULL: config hook.policy, else the shipped coding-agent policy */
    uint16_t ports[AG__BACKSTOP_PORTS_MAX]; /* --connect-port, in order */
    size_t nports;
    int allow_unsandboxed;
};

/* Adds the ports of a --connect-port value ("443" or "443,8080"); 0, or -1 after
 * printing the error. */
int ag__backstop_add_ports(struct ag__backstop_cli *b, const char *arg);

/* Runs argv (NULL-ended) under the profile with the terminal passed through, records
 * the session's start and end in the ledger, and returns the command's exit status
 * (128+N for signal N); 1 for a usage or setup error, 14 when the sandbox cannot be
 * set up, 127 when the command does not exist. */
int ag__backstop_run(const struct ag__backstop_cli *b, char **argv);

/* Prints the profile: its ports and its computed grant list (JSON with json). Returns
 * an exit status. */
int ag__backstop_show(const struct ag__backstop_cli *b, int json);

#endif
