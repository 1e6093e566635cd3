/* `agentgov serve`: runs the governance daemon in the foreground until SIGTERM. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agentgov/config.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "agentgov/server.h"

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
            "  --allow-remote       allow a non-loopback listen address (logged as a warning);\n"
            "                       it also needs TLS, or --insecure-remote\n"
            "  --tls-cert FILE      serve HTTPS with this PEM certificate chain (tls.cert)\n"
            "  --tls-key FILE       and this PEM private key (tls.key); `agentgov init --tls`\n"
            "                       makes a self-signed pair in the data directory\n"
            "  --insecure-remote    allow a non-loopback address over plain HTTP\n"
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
    O_TLS_CERT,
    O_TLS_KEY,
    O_REMOTE,
    O_INSECURE,
    O_SET,
    O_PRINT,
    O_DIR
};

static const struct option opts[] = {{"config", required_argument, 0, O_CONFIG},
                                     {"listen", required_argument, 0, O_LISTEN},
                                     {"allow-remote", no_argument, 0, O_REMOTE},
                                     {"insecure-remote", no_argument, 0, O_INSECURE},
                                     {"tls-cert", required_argument, 0, O_TLS_CERT},
                                     {"tls-key", required_argument, 0, O_TLS_KEY},
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

/* Setting names of the flags between O_LISTEN and O_TLS_KEY, in enum order. */
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
                                       "server.threads",
                                       "tls.cert",
                                       "tls.key"};

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
    ag_home *h;
    struct ag_home_opts ho = {.lazy_config = 1}; /* read below, into the daemon's own */
    if (ag__cli_home(&ho, &h) != 0)
        return -1;
    ag_err e = ag_home_config_into(h, c);
    ag_home_free(h);
    if (e != AG_OK) {
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
        else if (o == O_INSECURE)
            rc = set_or_fail(c, "insecure_remote", "true");
        else if (o == O_PRINT)
            *print = 1;
        else if (o == O_SET)
            rc = set_kv(c, optarg);
        else if (o >= O_LISTEN && o <= O_TLS_KEY)
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

static void print_config(const ag_config *c, const char *dir)
{
    const char *policy = ag_config_str(c, "policy");
    printf("dir = %s\nlisten = %s\nallow_remote = %s\nstore = %s\npolicy = %s\n"
           "server.io = %s\nserver.threads = %lld\nserver.max_body = %lld\n"
           "server.max_header = %lld\nserver.max_json_depth = %lld\nserver.timeout = %lldms\n"
           "server.max_connections = %lld\nserver.drain = %lldms\ntls.cert = %s\n"
           "tls.key = %s\ninsecure_remote = %s\n",
           dir, ag_config_str(c, "listen"), ag_config_int(c, "allow_remote") ? "true" : "false",
           ag_config_str(c, "store"), policy[0] ? policy : "(default)",
           strcmp(ag_config_str(c, "server.io"), "epoll") == 0 ? "epoll" : "thread-per-connection",
           (long long)ag_config_int(c, "server.threads"),
           (long long)ag_config_int(c, "server.max_body"),
           (long long)ag_config_int(c, "server.max_header"),
           (long long)ag_config_int(c, "server.max_json_depth"),
           (long long)ag_config_ms(c, "server.timeout"),
           (long long)ag_config_int(c, "server.max_connections"),
           (long long)ag_config_ms(c, "server.drain"), ag_config_str(c, "tls.cert"),
           ag_config_str(c, "tls.key"), ag_config_int(c, "insecure_remote") ? "true" : "false");
}

/* The store: the settings', else $AGENTGOV_STORE, else the embedded store. */
static int resolve_store(ag_config *conf)
{
    if (ag_config_str(conf, "store")[0])
        return 0;
    ag_home *h;
    const char *url;
    struct ag_home_opts ho = {.lazy_config = 1};
    if (ag__cli_home(&ho, &h) != 0)
        return -1;
    ag_err e = ag_home_store_url(h, &url);
    if (e == AG_OK)
        e = ag_config_set(conf, "store", url);
    ag_home_free(h);
    if (e)
        ag__cli_error_ag(e, "store");
    return e ? -1 : 0;
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
    int rc = parse_args(argc, argv, conf, &print);
    if (rc == 0)
        rc = resolve_store(conf);
    const char *dir = ag__cli_dir();
    if (rc == 0 && print)
        print_config(conf, dir);
    if (rc || print) {
        ag_config_free(conf);
        return rc ? AG_EXIT_USAGE : AG_EXIT_OK;
    }
    ag_server_log_setup(conf);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ag__cli_error("data directory %s does not exist (run `agentgov init` first)", dir);
        ag_config_free(conf);
        return AG_EXIT_USAGE;
    }
    ag_err e = ag_server_serve(conf, dir);
    ag_config_free(conf);
    if (e) {
        ag__cli_error_ag(e, "serve");
        /* A setting refused (a non-loopback --listen without --allow-remote) is
         * fixed on the command line. */
        return e == AG_EPERM ? AG_EXIT_USAGE : ag__cli_exit_of(e);
    }
    return AG_EXIT_OK;
}
