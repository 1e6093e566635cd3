/* `agentgov mcp serve`: in agentgovd (src/cli/cmd_mcp_serve.c), where the HTTP server
 * is linked; in the lean agentgov (src/cli/daemon_exec.c), an exec of agentgovd.
 * Ownership: argv is `mcp`'s (argv[0] = "mcp", argv[1] = "serve"). */
#ifndef AG_CLI_MCP_SERVE_H
#define AG_CLI_MCP_SERVE_H

int ag__cli_mcp_serve(int argc, char **argv);

#endif
