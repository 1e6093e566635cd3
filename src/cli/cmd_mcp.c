/* `agentgov mcp proxy`: the MCP gateway on the stdio transport, configured in an MCP
 * client in place of the server's command. Everything it decides is in the ledger of the
 * data directory; what it reports for the operator goes to stderr (the client's log). */
#include <getopt.h>
#include <limits.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/mcp.h"
#include "agentgov/policy.h"
#include "agentgov/runner.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/mcp_serve.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov mcp proxy [--policy FILE] [--agent ID] [--tier N] [--server NAME]\n"
            "                          [--sandbox-tier N] [--max-message BYTES] [--dir DIR]\n"
            "                          -- CMD [ARGS...]\n"
            "\n"
            "Starts CMD as an MCP server (stdio transport) and relays the client's messages\n"
            "to it, one JSON-RPC message per line each way. Every tools/call (action\n"
            "mcp.<server>.<tool>), resources/read (mcp.<server>.read on the URI) and\n"
            "prompts/get (mcp.<server>.prompt) is decided by the policy at the agent's tier\n"
            "and ledgered before the server sees it; a denied call is answered with a\n"
            "JSON-RPC error carrying the reason. tools/list answers are pinned (a tool\n"
            "that changes later is refused, or with the policy's mcp.on_change: ask hidden\n"
            "until a person approves the change) and filtered to the tools the policy\n"
            "allows or asks for. Everything else passes unchanged. Each decision is on the\n"
            "disk before the call goes on; mcp.ledger_sync = deferred in <dir>/config syncs\n"
            "it in the background instead (faster; a power loss can drop the last\n"
            "mcp.ledger_sync_delay of entries). See docs/mcp.md.\n"
            "\n"
            "options:\n"
            "  --server NAME   the server's name in actions (default: CMD's base name)\n"
            "  --agent ID      the agent judged and recorded (default: mcp); a registered\n"
            "                  agent is judged at its tier, in its run's phase\n"
            "  --tier N        tier 0-4 (required for an agent that is not registered)\n"
            "  --policy FILE   policy file (else `policy` in <dir>/config, else\n"
            "                  <dir>/policy.yaml, else the shipped default)\n"
            "  --max-message BYTES  longest client message accepted (default 4 MiB)\n"
            "  --sandbox-tier N  start the server under tier N's kernel sandbox (Landlock,\n"
            "                  seccomp, rlimits: `agentgov sandbox show --tier N`), its\n"
            "                  working directory (the current one) writable per the tier\n"
            "  --dir DIR       data directory (default %s)\n"
            "\n"
            "Once the server has started, the exit status is the server's own; before\n"
            "that, one of these:\n",
            ag__cli_default_dir_doc());
    ag__cli_print_exit_statuses(out);
}

/* The server under a tier's sandbox profile, in the current directory. */
struct sandbox_ctx {
    const struct ag_sandbox_profile *profile;
    char workdir[PATH_MAX];
};

static ag_err sandbox_spawn(void *vctx, char *const argv[], int in_fd, int out_fd, pid_t *pid)
{
    struct sandbox_ctx *c = vctx;
    struct ag_spawn_opts so = {.stdin_fd = in_fd, .stdout_fd = out_fd, .stderr_fd = -1};
    return ag_sandbox_spawn(c->profile, c->workdir, argv, NULL, &so, pid);
}

static void report(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

/* The base name of CMD, kept to the characters a server name may hold. */
static void default_server(const char *cmd, char *buf, size_t len)
{
    const char *b = strrchr(cmd, '/');
    b = b ? b + 1 : cmd;
    size_t n = 0;
    for (; *b && n + 1 < len; b++)
        buf[n++] = (char)((*b >= 'a' && *b <= 'z') || (*b >= 'A' && *b <= 'Z') ||
                                  (*b >= '0' && *b <= '9') || *b == '-'
                              ? *b
                              : '_');
    buf[n] = '\0';
}

static int cmd_proxy(int argc, char **argv)
{
    static const struct option longs[] = {{"policy", required_argument, NULL, 'p'},
                                          {"agent", required_argument, NULL, 'a'},
                                          {"tier", required_argument, NULL, 't'},
                                          {"server", required_argument, NULL, 's'},
                                          {"max-message", required_argument, NULL, 'm'},
                                          {"dir", required_argument, NULL, 'd'},
                                          {"sandbox-tier", required_argument, NULL, 'S'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    struct ag_mcp_opts o = {.tier = -1, .report = report};
    int sandbox_tier = -1;
    const char *policy = NULL;
    char *end;
    long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:h", longs, NULL)) != -1) {
        switch (c) {
        case 'p':
            policy = optarg;
            break;
        case 'a':
            if (!optarg[0]) {
                ag__cli_error("mcp proxy: --agent needs an agent id");
                return AG_EXIT_USAGE;
            }
            o.agent = optarg;
            break;
        case 't':
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < AG_TIER_MIN || v > AG_TIER_MAX) {
                ag__cli_error("mcp proxy: --tier '%s' is not 0..4", optarg);
                return AG_EXIT_USAGE;
            }
            o.tier = (int)v;
            break;
        case 's':
            o.server = optarg;
            break;
        case 'S':
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < AG_TIER_MIN || v > AG_TIER_MAX) {
                ag__cli_error("mcp proxy: --sandbox-tier '%s' is not 0..4", optarg);
                return AG_EXIT_USAGE;
            }
            sandbox_tier = (int)v;
            break;
        case 'm':
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 64 || v > (1L << 30)) {
                ag__cli_error("mcp proxy: --max-message '%s' is not 64..1073741824", optarg);
                return AG_EXIT_USAGE;
            }
            o.max_message = (size_t)v;
            break;
        case 'd':
            ag__cli_set_dir(optarg);
            break;
        case 'h':
            usage(stdout);
            return AG_EXIT_OK;
        case ':':
            ag__cli_error("mcp proxy: option '%s' needs an argument", argv[optind - 1]);
            return AG_EXIT_USAGE;
        default:
            ag__cli_error("mcp proxy: unknown option '%s' (see agentgov mcp proxy --help)",
                          argv[optind - 1]);
            return AG_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        ag__cli_error("mcp proxy: no server command (give it after --)");
        return AG_EXIT_USAGE;
    }
    char server[64];
    if (o.server == NULL) {
        default_server(argv[optind], server, sizeof server);
        o.server = server;
    }
    /* A long-lived holder: the ledger is created when missing (the proxy records even
     * before `agentgov init`, as the hook does) and signed at close when a key exists. */
    struct ag_home_opts ho = {.policy = policy, .ledger = AG_HOME_LEDGER_LONG, .create_ledger = 1};
    int rc = ag__cli_home(&ho, &o.home);
    if (rc != 0)
        return rc;
    struct sandbox_ctx sb;
    ag_err err = AG_OK;
    if (sandbox_tier >= 0) {
        ag_policy *p;
        if ((err = ag_home_policy(o.home, &p)) != AG_OK) {
            ag_home_free(o.home);
            return ag__cli_home_fail(ag__cli_exit_of(err));
        }
        sb.profile = ag_policy_sandbox(p, sandbox_tier);
        if (sb.profile == NULL || getcwd(sb.workdir, sizeof sb.workdir) == NULL) {
            ag__cli_error("mcp proxy: no sandbox profile for tier %d", sandbox_tier);
            ag_home_free(o.home);
            return AG_EXIT_USAGE;
        }
        o.spawn = sandbox_spawn;
        o.spawn_ctx = &sb;
    }
    int status = 0;
    err = ag_mcp_proxy_stdio(&o, argv + optind, &status);
    ag_home_free(o.home);
    if (err != AG_OK) {
        ag__cli_error_ag(err, "mcp proxy");
        return ag__cli_exit_of(err);
    }
    return status < 0 ? AG_EXIT_ERROR : status;
}

/* `agentgov mcp pins show|reset --server NAME`. */
static int cmd_pins(int argc, char **argv)
{
    const char *server = NULL, *sub = argc > 1 ? argv[1] : NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            server = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            ag__cli_set_dir(argv[++i]);
        else {
            ag__cli_error("mcp pins: unexpected argument '%s'", argv[i]);
            return AG_EXIT_USAGE;
        }
    }
    if (sub == NULL || (strcmp(sub, "show") != 0 && strcmp(sub, "reset") != 0) || server == NULL) {
        fprintf(stderr, "usage: agentgov mcp pins show|reset --server NAME [--dir DIR]\n");
        ag__cli_print_exit_statuses(stderr);
        return AG_EXIT_USAGE;
    }
    ag_home *home;
    struct ag_home_opts ho = {.ledger = AG_HOME_LEDGER_COMMAND};
    int rc = ag__cli_home(&ho, &home);
    if (rc != 0)
        return rc;
    ag_err err;
    if (sub[0] == 's') {
        char *json = NULL;
        if ((err = ag_mcp_pins_get(home, server, &json)) == AG_OK)
            printf("%s\n", json ? json : "{}");
        free(json);
    } else {
        int had = 0;
        if ((err = ag_mcp_pins_reset(home, server, &had)) == AG_OK)
            printf(had ? "mcp pins: forgot the pins of '%s'; the next tools/list pins again\n"
                       : "mcp pins: nothing is pinned for '%s'\n",
                   server);
    }
    ag_home_free(home);
    if (err != AG_OK) {
        ag__cli_error_ag(err, "mcp pins");
        return ag__cli_exit_of(err);
    }
    return AG_EXIT_OK;
}

int ag__cmd_mcp(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out, "usage: agentgov mcp proxy [OPTIONS] -- CMD [ARGS...]\n"
                     "       agentgov mcp serve --upstream URL --server NAME [OPTIONS]\n"
                     "       agentgov mcp pins show|reset --server NAME\n"
                     "\n"
                     "The MCP gateway: see agentgov mcp proxy --help and docs/mcp.md.\n"
                     "\n");
        ag__cli_print_exit_statuses(out);
        return argc < 2 ? AG_EXIT_USAGE : AG_EXIT_OK;
    }
    if (strcmp(argv[1], "proxy") == 0)
        return cmd_proxy(argc - 1, argv + 1);
    if (strcmp(argv[1], "pins") == 0)
        return cmd_pins(argc - 1, argv + 1);
    if (strcmp(argv[1], "serve") == 0)
        return ag__cli_mcp_serve(argc, argv);
    ag__cli_error("mcp: unknown subcommand '%s' (proxy, serve, pins)", argv[1]);
    return AG_EXIT_USAGE;
}
