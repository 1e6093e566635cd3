/* `agentgov health`: the health of a data directory (its store, ledger, policy and auth,
 * probed once from here) or of a running daemon (GET /v1/sys/health over HTTP). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentgov/health.h"
#include "agentgov/policy.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "cli/https.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov health [--json] [--addr ADDR [--ca-cert FILE]] [--store URL]\n\n"
            "Shows the health of each component: the state store, the ledger (free disk\n"
            "and WAL size against health.disk_min and health.wal_max), the policy, the auth\n"
            "keyring and, for a daemon, its circuit breakers and whatever else registered.\n"
            "Without --addr it probes the data directory (--dir) once from here; with it,\n"
            "it asks the running daemon (GET /v1/sys/health).\n\n"
            "  --json         print the JSON document (the daemon's own, or the same shape)\n"
            "  --addr ADDR    a running daemon's address: HOST:PORT, unix:PATH, http://HOST:PORT\n"
            "                 or https://HOST:PORT (a daemon serving TLS)\n"
            "  --ca-cert FILE the CA certificate (PEM) that the daemon's TLS certificate must\n"
            "                 verify against, e.g. the tls.crt of `agentgov init --tls`; with it,\n"
            "                 HOST:PORT means https (default: $AGENTGOV_CA_CERT; without either,\n"
            "                 https:// trusts the system's store). Verification is never off.\n"
            "  --store URL    the store to probe (default: as the other commands)\n\n"
            "Exit status: 0 ready (no critical component down), 2 not ready, 4 when the\n"
            "daemon cannot be reached or its certificate does not verify.\n");
    ag__cli_print_exit_statuses(out);
}

/* ---- from a daemon ----------------------------------------------------------------- */

static int dial(const char *addr)
{
    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        if (strlen(addr + 5) >= sizeof un.sun_path)
            return -1;
        snprintf(un.sun_path, sizeof un.sun_path, "%s", addr + 5);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&un, sizeof un) != 0) {
            close(fd);
            fd = -1;
        }
        return fd;
    }
    char host[256], port[16];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= sizeof host || strlen(colon + 1) >= sizeof port)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    snprintf(port, sizeof port, "%s", colon + 1);
    if (host[0] == '[') { /* [::1]:8200 */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* GET /v1/sys/health?ready; *status is the HTTP status, *body the malloc'd body. */
static int fetch_health(const char *addr, int *status, char **body)
{
    int fd = dial(addr);
    if (fd < 0)
        return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char *req = "GET /v1/sys/health?ready HTTP/1.0\r\nHost: agentgov\r\n\r\n";
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    ssize_t n;
    while (buf && len < cap && (n = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (buf == NULL)
        return -1;
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) != 0 || sep == NULL || len < 12) {
        free(buf);
        return -1;
    }
    *status = atoi(buf + 9);
    *body = strdup(sep + 4);
    free(buf);
    return *body ? 0 : -1;
}

static void print_components(json_t *comps)
{
    const char *name;
    json_t *c;
    json_object_foreach(comps, name, c)
    {
        printf("  %-16s %-9s %s%s\n", name, json_string_value(json_object_get(c, "status")),
               json_string_value(json_object_get(c, "detail")),
               json_is_true(json_object_get(c, "critical")) ? "" : " (not critical)");
    }
}

/* Prints the daemon's health document (as JSON, or one line per component). */
static int show_daemon(const char *addr, int status, const char *body, int as_json)
{
    int ready = status == 200;
    if (as_json) {
        printf("%s\n", body);
    } else {
        json_t *doc = json_loads(body, 0, NULL);
        json_t *ag = json_object_get(doc, "agentgov");
        printf("daemon %s: %s (%s)\n", addr, ready ? "ready" : "NOT READY",
               json_string_value(json_object_get(ag, "status")) ?: "?");
        print_components(json_object_get(ag, "components"));
        json_decref(doc);
    }
    return ready ? AG_EXIT_OK : AG_EXIT_DENY;
}

/* Over TLS (https:// or a CA given): libcurl verifies the certificate and host name. */
static int from_daemon_tls(int argc, char **argv, const char *addr, const char *ca, int as_json)
{
    char url[600], err[512] = "";
    const char *hp = strncmp(addr, "https://", 8) == 0 ? addr + 8 : addr;
    snprintf(url, sizeof url, "https://%.*s/v1/sys/health?ready", (int)strcspn(hp, "/"), hp);
    int status;
    char *body;
    if (ag__cli_https_get(argc, argv, url, ca, &status, &body, err, sizeof err) != 0) {
        ag__cli_error("health: cannot reach a daemon at %s: %s", addr, err);
        return AG_EXIT_ERROR;
    }
    int rc = show_daemon(addr, status, body, as_json);
    free(body);
    return rc;
}

static int from_daemon(const char *addr, int as_json)
{
    int status;
    char *body;
    errno = 0;
    const char *dial_addr = strncmp(addr, "http://", 7) == 0 ? addr + 7 : addr;
    if (fetch_health(dial_addr, &status, &body) != 0) {
        /* A TLS daemon resets a plain-text request or closes it without an answer. */
        int tls_hint = errno == 0 || errno == ECONNRESET;
        ag__cli_error("health: cannot reach a daemon at %s: %s%s", addr,
                      errno ? strerror(errno) : "no HTTP answer",
                      tls_hint ? " (a daemon serving TLS needs https:// or --ca-cert FILE)" : "");
        return AG_EXIT_ERROR;
    }
    int rc = show_daemon(addr, status, body, as_json);
    free(body);
    return rc;
}

/* Daemon over TLS or plain; --ca-cert (or $AGENTGOV_CA_CERT) makes HOST:PORT https, and
 * contradicts an http:// or unix: address (a CA that would be ignored is refused). */
static int daemon_health(int argc, char **argv, const char *addr, const char *ca, int as_json)
{
    int https = strncmp(addr, "https://", 8) == 0;
    if (ca && *ca) {
        if (strncmp(addr, "http://", 7) == 0 || strncmp(addr, "unix:", 5) == 0) {
            ag__cli_error("health: --ca-cert %s is for a daemon serving TLS; --addr %s is not "
                          "(use https://HOST:PORT)",
                          ca, addr);
            return AG_EXIT_USAGE;
        }
        if (access(ca, R_OK) != 0) {
            ag__cli_error("health: --ca-cert %s: %s", ca, strerror(errno));
            return AG_EXIT_USAGE;
        }
        https = 1;
    }
    if (https)
        return from_daemon_tls(argc, argv, addr, ca && *ca ? ca : NULL, as_json);
    return from_daemon(addr, as_json);
}

/* ---- from a data directory ----------------------------------------------------------- */

static void probe_policy(void *ctx, struct ag_health_report *r)
{
    struct ag__cli_gov *c = ctx;
    if (c->policy == NULL) {
        r->status = AG_HEALTH_DOWN;
        snprintf(r->detail, sizeof r->detail, "no policy loaded");
    } else {
        snprintf(r->detail, sizeof r->detail, "loaded");
    }
}

static void probe_auth(void *ctx, struct ag_health_report *r)
{
    struct ag__cli_gov *c = ctx;
    if (c->auth == NULL) {
        r->status = AG_HEALTH_DOWN;
        snprintf(r->detail, sizeof r->detail, "no master key: auth engine not available");
    } else {
        snprintf(r->detail, sizeof r->detail, "keyring loaded");
    }
}

static int from_dir(const char *store_flag, int as_json)
{
    struct ag__cli_gov c;
    int rc = ag__cli_gov_open(&c, store_flag, NULL);
    if (rc)
        return rc;
    const ag_config *cfg;
    ag_err ce = ag_home_config(c.home, &cfg);
    if (ce != AG_OK) {
        ag__cli_error_ag(ce, "health: config");
        ag__cli_gov_close(&c);
        return AG_EXIT_USAGE;
    }
    int64_t disk_min = ag_config_int(cfg, "health.disk_min");
    int64_t wal_max = ag_config_int(cfg, "health.wal_max");
    ag_health *h;
    if (ag_health_new(&h) != AG_OK) {
        ag__cli_gov_close(&c);
        ag__cli_error_ag(AG_ENOMEM, "health");
        return AG_EXIT_ERROR;
    }
    ag_err e = ag_health_add_store(h, c.store);
    if (e == AG_OK)
        e = ag_health_add_ledger(h, c.ledger, NULL, ag__cli_path(AG_HOME_LEDGER_DB), disk_min,
                                 wal_max);
    if (e == AG_OK)
        e = ag_health_register(h, "policy", 1, probe_policy, &c);
    if (e == AG_OK)
        e = ag_health_register(h, "auth", 0, probe_auth, &c);
    if (e != AG_OK) {
        ag__cli_error_ag(e, "health");
        ag_health_free(h);
        ag__cli_gov_close(&c);
        return AG_EXIT_ERROR;
    }
    ag_health_check(h);
    int ready;
    enum ag_health_status overall = ag_health_overall(h, &ready);
    struct ag_health_component comp[8];
    size_t n = ag_health_snapshot(h, comp, 8);
    json_t *comps = json_object();
    for (size_t i = 0; i < n && i < 8; i++) {
        json_t *o =
            json_pack("{s:s, s:s, s:b}", "status", ag_health_status_name(comp[i].report.status),
                      "detail", comp[i].report.detail, "critical", comp[i].critical);
        for (int g = 0; g < comp[i].report.ngauges; g++)
            json_object_set_new(o, comp[i].report.gauges[g].name,
                                json_real(comp[i].report.gauges[g].value));
        json_object_set_new(comps, comp[i].name, o);
    }
    if (as_json) {
        json_t *doc =
            json_pack("{s:s, s:s, s:b, s:o}", "dir", ag__cli_dir(), "status",
                      ag_health_status_name(overall), "ready", ready, "components", comps);
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(doc);
    } else {
        printf("%s: %s (%s)\n", ag__cli_dir(), ready ? "ready" : "NOT READY",
               ag_health_status_name(overall));
        print_components(comps);
        json_decref(comps);
    }
    ag_health_free(h);
    ag__cli_gov_close(&c);
    return ready ? AG_EXIT_OK : AG_EXIT_DENY;
}

int ag__cmd_health(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},        {"addr", required_argument, NULL, 'a'},
        {"store", required_argument, NULL, 's'}, {"ca-cert", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    int as_json = 0, c;
    const char *addr = NULL, *store = NULL, *ca = getenv(AG_CLI_CA_CERT_ENV);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            as_json = 1;
            break;
        case 'a':
            addr = optarg;
            break;
        case 's':
            store = optarg;
            break;
        case 'c':
            ca = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return AG_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        ag__cli_error("health: unexpected argument '%s'", argv[optind]);
        return AG_EXIT_USAGE;
    }
    if (addr && store) {
        ag__cli_error("health: --store is for a data directory; a daemon uses its own");
        return AG_EXIT_USAGE;
    }
    return addr ? daemon_health(argc, argv, addr, ca, as_json) : from_dir(store, as_json);
}
