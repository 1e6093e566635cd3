/* `agentgov run`: runs a command as a governed, sandboxed agent (docs/run.md). This
 * file parses options, opens the data directory's store, ledger, policy, lifecycle and
 * auth engine, finds a running daemon, and hands everything to ag_run. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentgov/auth.h"
#include "agentgov/config.h"
#include "agentgov/gov.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/run_backstop.h"
#include "core/fileio.h"
#include "core/time.h"
#include "agentgov/runner.h"
#include "core/stopsig.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov run --agent ID [--task T] [--packet FILE] [--tier N]\n"
            "                    [--workdir DIR] [--timeout D] [--grace D] [--token-ttl D]\n"
            "                    [--allow-unsandboxed] [--report FILE] [--store URL]\n"
            "                    [--policy FILE] [--addr ADDR] [--no-store-access] [--quiet]\n"
            "                    [--env NAME=VALUE]... -- CMD [ARGS...]\n"
            "       agentgov run --profile coding-agent [--project DIR] [--policy FILE]\n"
            "                    [--connect-port N[,N...]] [--allow-unsandboxed]\n"
            "                    -- AGENT [ARGS...]\n\n"
            "Runs CMD as a governed agent: bootstrap (lock, packet, revocation bar), a\n"
            "short-lived token, then PREFLIGHT, PLAN, EXECUTE (CMD under the tier's Landlock,\n"
            "seccomp and rlimit profile, in the workdir), VERIFY (exit status, required\n"
            "artifacts), PACKAGE (artifacts and output with SHA-256), REPORT (JSON report),\n"
            "EXIT (lock released, token revoked). A revocation, the token's expiry or the\n"
            "timeout stop CMD's process group (SIGTERM, SIGKILL after the grace period); a\n"
            "revoked run writes a handoff. See docs/run.md.\n\n"
            "Options:\n"
            "  --agent ID           the agent (registered at --tier, else T0, when new)\n"
            "  --task T             the task (default: the packet's)\n"
            "  --packet FILE        store this instruction packet first ('-': stdin)\n"
            "  --tier N             tier of a new agent; must match a registered one\n"
            "  --workdir DIR        CMD's working directory (default: the current one)\n"
            "  --timeout D          wall-clock limit (default: config run.timeout)\n"
            "  --grace D            SIGTERM to SIGKILL (default: config run.grace)\n"
            "  --token-ttl D        the child's token TTL (default: timeout + grace, at most\n"
            "                       the tier's max TTL)\n"
            "  --allow-unsandboxed  run even if the kernel lacks Landlock, or a Landlock\n"
            "                       feature the profile needs (ledgered)\n"
            "  --report FILE        report path (default: <workdir>/agentgov-report.json)\n"
            "  --store URL          state store (else $AGENTGOV_STORE, else the embedded one)\n"
            "  --policy FILE        policy (else <dir>/policy.yaml, else the shipped default)\n"
            "  --addr ADDR          daemon address for the child (default: config `listen`\n"
            "                       when a daemon answers there; none in embedded mode)\n"
            "  --ca-cert FILE       CA certificate of a daemon serving TLS, handed to the child\n"
            "                       as AGENTGOV_CA_CERT and readable in its sandbox (default:\n"
            "                       $AGENTGOV_CA_CERT; with the configured daemon, its tls.cert)\n"
            "  --no-store-access    give the child no view of the data directory\n"
            "  --quiet              capture CMD's output without passing it through\n"
            "  --env NAME=VALUE     add a variable to CMD's environment (repeatable; not\n"
            "                       one of those below, nor VAULT_*)\n\n"
            "With --profile coding-agent, AGENT (claude, codex, ...) runs under the kernel\n"
            "backstop instead, with the terminal passed through and no lifecycle: the\n"
            "project and the agent's state directories writable, its hook settings,\n"
            ".git/hooks and agentgov's data read-only, credential stores unreadable, TCP\n"
            "only to the given ports (default 443; 53 for DNS over TCP). The exit status is\n"
            "AGENT's (128+N for signal N), or 1 usage error, 14 sandbox unavailable, 127\n"
            "AGENT not found. `agentgov sandbox show --profile coding-agent` prints the\n"
            "grant list. See docs/sandbox.md.\n"
            "  --profile NAME       coding-agent (the only profile)\n"
            "  --project DIR        the project (default: --workdir, else the current one)\n"
            "  --connect-port N     TCP ports the agent may connect to (repeatable)\n\n"
            "The child's environment: AGENTGOV_TOKEN, AGENTGOV_ADDR, AGENTGOV_AGENT_ID,\n"
            "AGENTGOV_TASK_ID, AGENTGOV_RUN_ID, AGENTGOV_WORKDIR, AGENTGOV_DIR and\n"
            "AGENTGOV_STORE (its view of the data directory), AGENTGOV_BIN, and\n"
            "AGENTGOV_CA_CERT for a daemon serving TLS.\n\n"
            "Exit status: the table below, where 0 is success (every phase passed, CMD\n"
            "exited 0, required artifacts present), 2 (DENY) refused before anything ran\n"
            "(AGENT_PREVIOUSLY_REVOKED, NO_INSTRUCTION_PACKET, CANNOT_ACQUIRE_LOCK,\n"
            "HANDOFF_REQUIRED, TASK_MISMATCH, TIER_MISMATCH, INVALID_PACKET,\n"
            "PREFLIGHT_FAILED, ...) and 4 (ERROR) an internal error (data directory, store,\n"
            "ledger, login); and these, which describe the child:\n"
            "  10  the child failed: nonzero exit, killed by a signal, command not found,\n"
            "      or a required artifact missing\n"
            "  12  revoked: budget exhausted, `agentgov agent revoke`, token expired or\n"
            "      revoked, lock lost (a handoff is written)\n"
            "  13  timed out\n"
            "  14  sandbox unavailable (no Landlock, or a Landlock feature the profile\n"
            "      needs, without --allow-unsandboxed) or the child could not be confined\n"
            "  15  interrupted (SIGINT, SIGTERM or SIGHUP to agentgov run)\n");
    ag__cli_print_exit_statuses(out);
}

static volatile sig_atomic_t interrupted;

struct cli {
    const char *agent, *task, *packet, *workdir, *timeout, *grace, *token_ttl, *report, *store,
        *policy, *addr, *ca_cert;
    int tier, allow_unsandboxed, no_store_access, quiet;
    char **argv;
    struct ag__backstop_cli bs; /* --profile, --project, --connect-port */
    const char *env[64];        /* --env NAME=VALUE */
    size_t nenv;
};

enum {
    O_AGENT = 1000,
    O_TASK,
    O_PACKET,
    O_TIER,
    O_WORKDIR,
    O_TIMEOUT,
    O_GRACE,
    O_TTL,
    O_UNSANDBOXED,
    O_REPORT,
    O_STORE,
    O_POLICY,
    O_ADDR,
    O_CA_CERT,
    O_NOSTORE,
    O_QUIET,
    O_PROFILE,
    O_PROJECT,
    O_PORT,
    O_ENV,
    O_HELP
};

static const struct option longopts[] = {
    {"agent", required_argument, NULL, O_AGENT},
    {"task", required_argument, NULL, O_TASK},
    {"packet", required_argument, NULL, O_PACKET},
    {"tier", required_argument, NULL, O_TIER},
    {"workdir", required_argument, NULL, O_WORKDIR},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"grace", required_argument, NULL, O_GRACE},
    {"token-ttl", required_argument, NULL, O_TTL},
    {"allow-unsandboxed", no_argument, NULL, O_UNSANDBOXED},
    {"report", required_argument, NULL, O_REPORT},
    {"store", required_argument, NULL, O_STORE},
    {"policy", required_argument, NULL, O_POLICY},
    {"addr", required_argument, NULL, O_ADDR},
    {"ca-cert", required_argument, NULL, O_CA_CERT},
    {"no-store-access", no_argument, NULL, O_NOSTORE},
    {"quiet", no_argument, NULL, O_QUIET},
    {"profile", required_argument, NULL, O_PROFILE},
    {"project", required_argument, NULL, O_PROJECT},
    {"connect-port", required_argument, NULL, O_PORT},
    {"env", required_argument, NULL, O_ENV},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static int set_opt(struct cli *c, int opt, const char *arg)
{
    switch (opt) {
    case O_AGENT:
        c->agent = arg;
        break;
    case O_TASK:
        c->task = arg;
        break;
    case O_PACKET:
        c->packet = arg;
        break;
    case O_WORKDIR:
        c->workdir = arg;
        break;
    case O_TIMEOUT:
        c->timeout = arg;
        break;
    case O_GRACE:
        c->grace = arg;
        break;
    case O_TTL:
        c->token_ttl = arg;
        break;
    case O_UNSANDBOXED:
        c->allow_unsandboxed = 1;
        break;
    case O_REPORT:
        c->report = arg;
        break;
    case O_STORE:
        c->store = arg;
        break;
    case O_POLICY:
        c->policy = arg;
        break;
    case O_CA_CERT:
        c->ca_cert = arg;
        break;
    case O_ADDR:
        c->addr = arg;
        break;
    case O_NOSTORE:
        c->no_store_access = 1;
        break;
    case O_QUIET:
        c->quiet = 1;
        break;
    case O_PROFILE:
        c->bs.profile = arg;
        break;
    case O_PROJECT:
        c->bs.project = arg;
        break;
    case O_PORT:
        return ag__backstop_add_ports(&c->bs, arg);
    case O_ENV:
        if (c->nenv == sizeof c->env / sizeof c->env[0]) {
            ag__cli_error("run: --env: at most %zu variables", sizeof c->env / sizeof c->env[0]);
            return -1;
        }
        if (ag_run_env_entry_check(arg) != AG_OK) {
            ag__cli_error("%s", ag_last_error());
            return -1;
        }
        c->env[c->nenv++] = arg;
        break;
    case O_TIER: {
        char *end;
        long t = strtol(arg, &end, 10);
        if (*arg == '\0' || *end || t < AG_TIER_MIN || t > AG_TIER_MAX) {
            ag__cli_error("run: --tier: expected 0..4, got '%s'", arg);
            return -1;
        }
        c->tier = (int)t;
        break;
    }
    default:
        return -1;
    }
    return 0;
}

/* Options stop at "--" (or at the first word that is not an option): the rest is
 * the command, whose own options must not be read as ours. */
static int parse(int argc, char **argv, struct cli *c)
{
    memset(c, 0, sizeof *c);
    c->tier = -1;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            ag__cli_error("run: unknown option or missing value: '%s' (see agentgov run --help)",
                          argv[optind - 1]);
            return -1;
        }
        if (set_opt(c, opt, optarg) != 0)
            return -1;
    }
    if (!c->agent && !c->bs.profile) {
        ag__cli_error("run: --agent is required (see agentgov run --help)");
        return -1;
    }
    if (optind >= argc) {
        ag__cli_error("run: no command: give it after -- (see agentgov run --help)");
        return -1;
    }
    c->argv = argv + optind;
    return 0;
}

/* Every handle a run needs, opened on the data directory. */
/* Borrowed from home, which owns them. */
struct handles {
    ag_home *home;
    const ag_config *cfg;
    ag_ledger *ledger;
    ag_policy *policy;
    ag_store *store;
    ag_gov *gov;
    ag_auth *auth;
    const char *store_url;
};

static void handles_close(struct handles *h)
{
    ag_home_free(h->home);
    memset(h, 0, sizeof *h);
}

static int handles_open(struct handles *h, const struct cli *c)
{
    memset(h, 0, sizeof *h);
    /* A run outlives a command: its ledger is sealed by a checkpoint when it closes. */
    struct ag_home_opts ho = {
        .store = c->store, .policy = c->policy, .ledger = AG_HOME_LEDGER_LONG};
    if (ag__cli_home(&ho, &h->home) != 0)
        return -1;
    /* A run needs a token, so a key: a data directory made before `init` created one
     * gets one now (as `agentgov demo` does), said on stderr. */
    if (!ag_home_has_master_key(h->home)) {
        const char *kp = ag_home_path(h->home, AG_HOME_MASTER_KEY);
        ag_err ce = ag_auth_master_key_create(kp);
        if (ce) {
            ag__cli_error_ag(ce, "creating the master key");
            return -1;
        }
        ag__cli_warn("no master key in the data directory: created %s", kp);
    }
    /* ag_home_gov opens the rest, and plugs the auth engine's revocation in: a
     * revocation takes the agent's credentials away at once. */
    if (ag_home_config(h->home, &h->cfg) || ag_home_gov(h->home, &h->gov) ||
        ag_home_ledger(h->home, &h->ledger) || ag_home_policy(h->home, &h->policy) ||
        ag_home_store(h->home, &h->store) || ag_home_auth(h->home, &h->auth) ||
        ag_home_store_url(h->home, &h->store_url))
        return ag__cli_home_fail(-1);
    return 0;
}

/* ---------------------------------------------------------------- daemon --- */

/* 1 when something accepts connections at host:port within 200 ms. */
static int tcp_answers(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return 0;
    int ok = 0;
    for (struct addrinfo *p = ai; p && !ok; p = p->ai_next) {
        int s = socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0)
            continue;
        if (connect(s, p->ai_addr, p->ai_addrlen) == 0)
            ok = 1;
        else if (errno == EINPROGRESS) {
            struct pollfd pf = {.fd = s, .events = POLLOUT};
            int err = 0;
            socklen_t len = sizeof err;
            ok = poll(&pf, 1, 200) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
                 err == 0;
        }
        close(s);
    }
    freeaddrinfo(ai);
    return ok;
}

static int unix_answers(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path)
        return 0;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

/* The daemon address handed to the child: --addr as given, else the configured
 * `listen` address when a daemon answers there, else "" (embedded mode). port gets
 * the TCP port the child must be allowed to connect to; *ca the CA certificate the
 * child verifies a TLS daemon with: --ca-cert, else $AGENTGOV_CA_CERT, else for the
 * configured daemon its own tls.cert. A CA makes HOST:PORT an https:// address. */
static void find_daemon(const struct cli *c, const ag_config *cfg, char *out, size_t cap, int *port,
                        const char **ca)
{
    *port = 0;
    out[0] = '\0';
    const char *l = c->addr ? c->addr : ag_config_str(cfg, "listen");
    const char *own = ag_config_str(cfg, "tls.cert");
    *ca = c->ca_cert ? c->ca_cert : getenv("AGENTGOV_CA_CERT");
    if ((!*ca || !**ca) && !c->addr && own && *own)
        *ca = own;
    if (*ca && !**ca)
        *ca = NULL;
    if (!l || !*l)
        return;
    const char *hp = l;
    int tls = *ca != NULL;
    if (strncmp(hp, "http://", 7) == 0) {
        hp += 7;
        tls = 0;
    } else if (strncmp(hp, "https://", 8) == 0) {
        hp += 8;
        tls = 1;
    }
    if (strncmp(hp, "unix:", 5) == 0) {
        if (c->addr || unix_answers(hp + 5))
            snprintf(out, cap, "%s", hp);
        return;
    }
    char host[256];
    const char *colon = strrchr(hp, ':');
    if (!colon || (size_t)(colon - hp) >= sizeof host)
        return;
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    if (!c->addr && !tcp_answers(h, colon + 1))
        return;
    snprintf(out, cap, "%s://%s", tls ? "https" : "http", hp);
    *port = atoi(colon + 1);
}

/* TCP port of a network store URL (redis://host:port/db), 0 otherwise. */
static int store_port(const char *url)
{
    if (strncmp(url, "redis://", 8) != 0)
        return 0;
    const char *hp = url + 8, *at = strchr(hp, '@');
    if (at)
        hp = at + 1;
    const char *colon = strchr(hp, ':');
    return colon ? atoi(colon + 1) : 6379;
}

/* ------------------------------------------------------------------ main --- */

static int durations(const struct cli *c, const ag_config *cfg, struct ag_run_opts *o)
{
    o->timeout_ms = ag_config_ms(cfg, "run.timeout");
    o->grace_ms = ag_config_ms(cfg, "run.grace");
    const char *v[3] = {c->timeout, c->grace, c->token_ttl};
    int64_t *dst[3] = {&o->timeout_ms, &o->grace_ms, &o->token_ttl_ms};
    static const char *const names[3] = {"--timeout", "--grace", "--token-ttl"};
    for (int i = 0; i < 3; i++)
        if (v[i] && ag__parse_duration(v[i], dst[i]) != AG_OK) {
            ag__cli_error("run: %s: expected a duration such as 30s or 500ms, got '%s'", names[i],
                          v[i]);
            return -1;
        }
    return 0;
}

static char *read_packet(const char *path)
{
    char *data = NULL;
    size_t len;
    ag_err e = ag__read_file(strcmp(path, "-") == 0 ? "/dev/stdin" : path, 1 << 20, &data, &len);
    if (e) {
        ag__cli_error_ag(e, path);
        return NULL;
    }
    return data;
}

static int run(const struct cli *c, struct handles *h)
{
    static char addr[300], bin[PATH_MAX], wd[PATH_MAX];
    struct ag_run_opts o = {.store = h->store,
                            .ledger = h->ledger,
                            .policy = h->policy,
                            .gov = h->gov,
                            .auth = h->auth,
                            .agent_id = c->agent,
                            .task_id = c->task,
                            .tier = c->tier,
                            .report_path = c->report,
                            .argv = c->argv,
                            .allow_unsandboxed = c->allow_unsandboxed,
                            .no_store_access = c->no_store_access,
                            .interrupted = &interrupted,
                            .env = c->env,
                            .nenv = c->nenv};
    if (durations(c, h->cfg, &o) != 0)
        return AG_EXIT_USAGE;
    if (!realpath(c->workdir ? c->workdir : ".", wd)) {
        ag__cli_error("run: --workdir %s: %s", c->workdir ? c->workdir : ".", strerror(errno));
        return AG_EXIT_USAGE;
    }
    o.workdir = wd;
    find_daemon(c, h->cfg, addr, sizeof addr, &o.addr_port, &o.ca_cert);
    o.addr = addr;
    o.data_dir = ag_home_dir(h->home);
    o.ledger_path = ag_home_path(h->home, AG_HOME_LEDGER_DB);
    o.store_url = h->store_url;
    o.store_path = strncmp(h->store_url, "sqlite:", 7) == 0 ? h->store_url + 7 : NULL;
    o.store_port = store_port(h->store_url);
    const char *envbin = getenv("AGENTGOV_BIN");
    if (!envbin || !realpath(envbin, bin))
        if (!realpath("/proc/self/exe", bin))
            bin[0] = '\0';
    o.bin = bin[0] ? bin : NULL;
    o.pass_stdout_fd = c->quiet ? -1 : STDOUT_FILENO;
    o.pass_stderr_fd = c->quiet ? -1 : STDERR_FILENO;
    char *packet = c->packet ? read_packet(c->packet) : NULL;
    if (c->packet && !packet)
        return AG_EXIT_USAGE;
    o.packet_json = packet;
    struct ag_run_result r;
    ag_err e = ag_run(&o, &r);
    free(packet);
    if (e) {
        ag__cli_error_ag(e, "run");
        return ag__cli_exit_of(e);
    }
    fprintf(stderr, "agentgov: run %s: %s (exit %d): %s\n", r.run_id,
            ag_run_outcome_name(r.outcome), (int)r.outcome, r.message);
    if (r.report_path)
        fprintf(stderr, "agentgov: report: %s\n", r.report_path);
    int code = (int)r.outcome;
    ag_run_result_clear(&r);
    return code;
}

int ag__cmd_run(int argc, char **argv)
{
    struct cli c;
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (parse(argc, argv, &c) != 0)
        return AG_EXIT_USAGE;
    if (c.bs.profile) {
        if (c.agent || c.task || c.packet || c.tier >= 0 || c.report || c.store) {
            ag__cli_error("run: --profile runs no lifecycle: --agent, --task, --packet, --tier, "
                          "--report and --store do not apply");
            return AG_EXIT_USAGE;
        }
        c.bs.policy = c.policy;
        c.bs.allow_unsandboxed = c.allow_unsandboxed;
        if (!c.bs.project)
            c.bs.project = c.workdir;
        return ag__backstop_run(&c.bs, c.argv);
    }
    ag__catch_stop_signals(&interrupted);
    struct handles h;
    int code = handles_open(&h, &c) == 0 ? run(&c, &h) : AG_EXIT_ERROR;
    handles_close(&h);
    return code;
}
