/* `agentgov serve`: runs the governance daemon in the foreground until SIGTERM. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agentgov/config.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "server/log.h"
#include "server/server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov serve [--config FILE] [--listen ADDR] [options]\n\n"
            "Runs the governance daemon: an HTTP/JSON API (Vault-compatible auth and KV,\n"
            "agent lifecycle, decisions, health, Prometheus metrics). See docs/api.md.\n"
            "SIGHUP reloads the policy; SIGTERM drains in-flight requests and exits 0.\n\n"
            "Settings come from <dir>/config, then --config FILE, then flags (see\n"
            "`agentgov config --defaults`).\n\n"
            "options:\n"
            "  --config FILE        read `key = value` settings from FILE\n"
            "  --listen ADDR        HOST:PORT, [V6]:PORT or unix:PATH (default 127.0.0.1:8200)\n"
            "  --allow-remote       allow a non-loopback listen address (logged as a warning)\n"
            "  --store URL          state store (sqlite:PATH or redis://HOST:PORT/DB;\n"
            "                       default $AGENTGOV_STORE, else sqlite:<dir>/state.db)\n"
            "  --policy FILE        policy file (default <dir>/policy.yaml, else shipped)\n"
            "  --log-format F       text or json (default text)\n"
            "  --log-level L        debug, info, warn or error (default info)\n"
            "  --max-body BYTES     request body limit (server.max_body)\n"
            "  --max-header BYTES   request header limit (server.max_header)\n"
            "  --max-depth N        JSON nesting limit (server.max_json_depth)\n"
            "  --timeout DURATION   a request must arrive whole within it (server.timeout)\n"
            "  --max-connections N  connection cap (server.max_connections)\n"
            "  --io MODE            epoll (default) or thread-per-connection (server.io)\n"
            "  --threads N          workers for requests that wait, epoll mode (server.threads)\n"
            "  --set KEY=VALUE      any other setting (server.drain, ...)\n"
            "  --print-config       print the daemon's effective settings and exit\n"
            "  --dir DIR            data directory (else $AGENTGOV_DIR, else %s)\n",
            ag__cli_default_dir_doc());
    ag__cli_print_exit_statuses(out);
}

enum {
    O_CONFIG = 256,
    O_LISTEN,
    O_STORE,
    O_POLICY,
    O_LOGF,
    O_LOGL,
    O_BODY,
    O_HEADER,
    O_DEPTH,
    O_TIMEOUT,
    O_CONNS,
    O_IO,
    O_THREADS,
    O_REMOTE,
    O_SET,
    O_PRINT,
    O_DIR
};

static const struct option opts[] = {{"config", required_argument, 0, O_CONFIG},
                                     {"listen", required_argument, 0, O_LISTEN},
                                     {"allow-remote", no_argument, 0, O_REMOTE},
                                     {"store", required_argument, 0, O_STORE},
                                     {"policy", required_argument, 0, O_POLICY},
                                     {"log-format", required_argument, 0, O_LOGF},
                                     {"log-level", required_argument, 0, O_LOGL},
                                     {"max-body", required_argument, 0, O_BODY},
                                     {"max-header", required_argument, 0, O_HEADER},
                                     {"max-depth", required_argument, 0, O_DEPTH},
                                     {"timeout", required_argument, 0, O_TIMEOUT},
                                     {"max-connections", required_argument, 0, O_CONNS},
                                     {"io", required_argument, 0, O_IO},
                                     {"threads", required_argument, 0, O_THREADS},
                                     {"set", required_argument, 0, O_SET},
                                     {"print-config", no_argument, 0, O_PRINT},
                                     {"dir", required_argument, 0, O_DIR},
                                     {"help", no_argument, 0, 'h'},
                                     {0, 0, 0, 0}};

/* Setting names of the flags between O_LISTEN and O_THREADS, in enum order. */
static const char *const opt_keys[] = {"listen",
                                       "store",
                                       "policy",
                                       "log_format",
                                       "server.log_level",
                                       "server.max_body",
                                       "server.max_header",
                                       "server.max_json_depth",
                                       "server.timeout",
                                       "server.max_connections",
                                       "server.io",
                                       "server.threads"};

static int set_or_fail(ag_config *c, const char *key, const char *val)
{
    if (ag_config_set(c, key, val) == AG_OK)
        return 0;
    ag__cli_error("%s", ag_last_error());
    return -1;
}

/* Files first (the data directory's, then --config wherever it appears), so that flags
 * override them. --dir must be known before <dir>/config is read. */
static int load_files(int argc, char **argv, ag_config *c)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            ag__cli_set_dir(argv[i + 1]);
        else if (strncmp(argv[i], "--dir=", 6) == 0)
            ag__cli_set_dir(argv[i] + 6);
    }
    if (ag_config_load_file(c, ag__cli_path("config"), 1) != AG_OK) {
        ag__cli_error("%s", ag_last_error());
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        if (path && ag_config_load_file(c, path, 0) != AG_OK) {
            ag__cli_error("%s", ag_last_error());
            return -1;
        }
    }
    return 0;
}

static int set_kv(ag_config *c, const char *arg)
{
    char kv[PATH_MAX + 64];
    snprintf(kv, sizeof kv, "%s", arg);
    char *eq = strchr(kv, '=');
    if (!eq) {
        ag__cli_error("--set expects KEY=VALUE, got '%s'", arg);
        return -1;
    }
    *eq = '\0';
    return set_or_fail(c, kv, eq + 1);
}

static int parse_args(int argc, char **argv, ag_config *c, int *print)
{
    if (load_files(argc, argv, c))
        return -1;
    optind = 1;
    int o, rc = 0;
    while (rc == 0 && (o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == O_CONFIG || o == O_DIR)
            continue;
        if (o == O_REMOTE)
            rc = set_or_fail(c, "allow_remote", "true");
        else if (o == O_PRINT)
            *print = 1;
        else if (o == O_SET)
            rc = set_kv(c, optarg);
        else if (o >= O_LISTEN && o <= O_THREADS)
            rc = set_or_fail(c, opt_keys[o - O_LISTEN], optarg);
        else
            rc = -1;
    }
    if (rc == 0 && optind < argc) {
        ag__cli_error("unexpected argument '%s' (see agentgov serve --help)", argv[optind]);
        rc = -1;
    }
    return rc;
}

static void print_config(const struct ag__server_config *c, const char *dir)
{
    printf("dir = %s\nlisten = %s\nallow_remote = %s\nstore = %s\npolicy = %s\n"
           "server.io = %s\nserver.threads = %lld\nserver.max_body = %lld\n"
           "server.max_header = %lld\nserver.max_json_depth = %lld\nserver.timeout = %lldms\n"
           "server.max_connections = %lld\nserver.drain = %lldms\n",
           dir, c->listen, c->allow_remote ? "true" : "false", c->store,
           c->policy[0] ? c->policy : "(default)", c->epoll ? "epoll" : "thread-per-connection",
           (long long)c->threads, (long long)c->max_body_bytes, (long long)c->max_header_bytes,
           (long long)c->max_json_depth, (long long)c->timeout_ms, (long long)c->max_connections,
           (long long)c->drain_ms);
}

static int run(const struct ag__server_config *cfg, const char *dir)
{
    ag__server_block_signals();
    struct ag__srv *srv;
    ag_err e = ag__server_new(cfg, dir, &srv);
    if (e) {
        ag__cli_error_ag(e, "serve");
        return ag__cli_exit_of(e);
    }
    e = ag__server_start(srv);
    if (e) {
        ag__cli_error_ag(e, "serve");
        ag__server_free(srv);
        /* A setting refused (a non-loopback --listen without --allow-remote) is
         * fixed on the command line. */
        return e == AG_EPERM ? AG_EXIT_USAGE : ag__cli_exit_of(e);
    }
    ag__server_run(srv);
    ag__server_free(srv);
    ag__log(AG_LOG_INFO, "stop", "stopped");
    return AG_EXIT_OK;
}

int ag__cmd_serve(int argc, char **argv)
{
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return AG_EXIT_OK;
    }
    ag_config *conf;
    if (ag_config_new(&conf) != AG_OK) {
        ag__cli_error("%s", ag_last_error());
        return AG_EXIT_ERROR;
    }
    int print = 0;
    struct ag__server_config cfg;
    int rc = parse_args(argc, argv, conf, &print);
    if (rc == 0)
        ag__server_config_from(conf, &cfg);
    ag_config_free(conf);
    if (rc)
        return AG_EXIT_USAGE;
    if (!cfg.store[0])
        snprintf(cfg.store, sizeof cfg.store, "%s", ag__cli_store_url(NULL));
    const char *dir = ag__cli_dir();
    if (print) {
        print_config(&cfg, dir);
        return AG_EXIT_OK;
    }
    ag__log_setup(cfg.log_json ? AG_LOG_JSON : AG_LOG_TEXT, (enum ag__log_level)cfg.log_level);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ag__cli_error("data directory %s does not exist (run `agentgov init` first)", dir);
        return AG_EXIT_USAGE;
    }
    return run(&cfg, dir);
}
