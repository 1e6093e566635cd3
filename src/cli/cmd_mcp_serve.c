/* `agentgov mcp serve --upstream URL`: the MCP gateway on the Streamable HTTP transport,
 * for a remote MCP server. Runs in agentgovd (the HTTP server and libcurl are linked
 * there); the lean agentgov execs it. Serves until SIGTERM or SIGINT. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/mcp.h"
#include "agentgov/policy.h"
#include "cli/cliutil.h"
#include "cli/mcp_serve.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov mcp serve --upstream URL --server NAME [--upstream-secret PATH]\n"
            "                          [--port N] [--port-file FILE] [--policy FILE] [--dir DIR]\n"
            "                          [--no-client-auth --agent ID | --tier N]\n"
            "\n"
            "Listens on 127.0.0.1 for MCP clients (Streamable HTTP transport: POST one\n"
            "JSON-RPC message with a JSON or SSE answer, the GET stream, DELETE,\n"
            "Mcp-Session-Id) and relays to the remote MCP server at URL what the policy\n"
            "allows, with the same decisions, pins, rate limits and redaction as `agentgov\n"
            "mcp proxy`; SSE answers are relayed event by event as they come, clients are\n"
            "served in parallel. Each client presents an agentgov token (Authorization:\n"
            "Bearer) naming the agent it acts as; none or an invalid one gets 401. The\n"
            "upstream's credential comes from the KV secret PATH (its field `token`, sent\n"
            "as a Bearer token) and is never shown to the client. Serves until SIGTERM or\n"
            "SIGINT. See docs/mcp.md.\n"
            "\n"
            "options:\n"
            "  --upstream URL         the remote MCP endpoint (http:// or https://)\n"
            "  --server NAME          its name in actions mcp.<server>.<tool>\n"
            "  --upstream-secret PATH KV secret holding the upstream's token\n"
            "  --port N               port on 127.0.0.1 (default: any free one, printed)\n"
            "  --port-file FILE       write the port there once listening\n"
            "  --no-client-auth       development on loopback only: clients need no token,\n"
            "                         every one acts as --agent ID (or the agent mcp at\n"
            "                         --tier N), so any local process may act as it\n"
            "  --agent ID, --tier N, --policy FILE, --dir DIR   as for `mcp proxy`\n"
            "\n");
    ag__cli_print_exit_statuses(out);
}

int ag__cli_mcp_serve(int argc, char **argv)
{
    argc--, argv++; /* "mcp": the options follow "serve" */
    static const struct option longs[] = {{"upstream", required_argument, NULL, 'u'},
                                          {"upstream-secret", required_argument, NULL, 'k'},
                                          {"server", required_argument, NULL, 's'},
                                          {"port", required_argument, NULL, 'P'},
                                          {"port-file", required_argument, NULL, 'f'},
                                          {"agent", required_argument, NULL, 'a'},
                                          {"tier", required_argument, NULL, 't'},
                                          {"policy", required_argument, NULL, 'p'},
                                          {"dir", required_argument, NULL, 'd'},
                                          {"no-client-auth", no_argument, NULL, 'n'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    struct ag_mcp_http_opts o = {.mcp = {.tier = -1}, .client_auth = 1};
    const char *policy = NULL, *port_file = NULL;
    char *end;
    long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:h", longs, NULL)) != -1) {
        switch (c) {
        case 'u':
            o.upstream = optarg;
            break;
        case 'k':
            o.upstream_secret = optarg;
            break;
        case 's':
            o.mcp.server = optarg;
            break;
        case 'P':
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 0 || v > 65535) {
                ag__cli_error("mcp serve: --port '%s' is not 0..65535", optarg);
                return AG_EXIT_USAGE;
            }
            o.port = (int)v;
            break;
        case 'f':
            port_file = optarg;
            break;
        case 'a':
            o.mcp.agent = optarg;
            break;
        case 't':
            v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < AG_TIER_MIN || v > AG_TIER_MAX) {
                ag__cli_error("mcp serve: --tier '%s' is not 0..4", optarg);
                return AG_EXIT_USAGE;
            }
            o.mcp.tier = (int)v;
            break;
        case 'p':
            policy = optarg;
            break;
        case 'd':
            ag__cli_set_dir(optarg);
            break;
        case 'n':
            o.client_auth = 0;
            break;
        case 'h':
            usage(stdout);
            return AG_EXIT_OK;
        case ':':
            ag__cli_error("mcp serve: option '%s' needs an argument", argv[optind - 1]);
            return AG_EXIT_USAGE;
        default:
            ag__cli_error("mcp serve: unknown option '%s' (see agentgov mcp serve --help)",
                          argv[optind - 1]);
            return AG_EXIT_USAGE;
        }
    }
    if (optind != argc || o.upstream == NULL || o.mcp.server == NULL) {
        usage(stderr);
        ag__cli_error("mcp serve: --upstream and --server are required%s",
                      optind != argc ? " (and nothing else)" : "");
        return AG_EXIT_USAGE;
    }
    if (o.client_auth && (o.mcp.agent || o.mcp.tier >= 0)) {
        ag__cli_error("mcp serve: --agent and --tier go with --no-client-auth (otherwise each "
                      "client's token names its agent)");
        return AG_EXIT_USAGE;
    }
    struct ag_home_opts ho = {.policy = policy, .ledger = AG_HOME_LEDGER_LONG, .create_ledger = 1};
    int rc = ag__cli_home(&ho, &o.mcp.home);
    if (rc != 0)
        return rc;
    /* Signals are waited for, not handled: block them before any thread starts. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    ag_mcp_http *h;
    ag_err err = ag_mcp_http_start(&o, &h);
    if (err != AG_OK) {
        ag__cli_error_ag(err, "mcp serve");
        ag_home_free(o.mcp.home);
        return ag__cli_exit_of(err);
    }
    fprintf(stderr, "agentgov mcp serve: http://127.0.0.1:%d/mcp -> %s\n", ag_mcp_http_port(h),
            o.upstream);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%d\n", ag_mcp_http_port(h));
            fclose(f);
        }
    }
    int sig;
    sigwait(&set, &sig);
    ag_mcp_http_stop(h);
    ag_home_free(o.mcp.home);
    return AG_EXIT_OK;
}
