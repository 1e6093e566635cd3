/* `agentgov run --profile coding-agent -- CMD` (the kernel backstop of a coding agent)
 * and `agentgov sandbox show --profile coding-agent` (run_backstop.h). This file
 * resolves the project, $HOME, the data directory, the policy and the ports, has
 * runner/backstop build the grant list, and spawns the agent under it. */
#include "cli/run_backstop.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentgov/config.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "cli/cliutil.h"
#include "runner/backstop.h"
#include "runner/backstop_profile.h"
#include "runner/sandbox.h"

extern char **environ;

#define EXIT_SANDBOX   14 /* as `agentgov run`: the sandbox could not be set up */
#define EXIT_NOT_FOUND 127

/* The model endpoints (HTTPS) by default; DNS over TCP always (see resolver_env). */
#define PORT_HTTPS 443
#define PORT_DNS   53

int ag__backstop_add_ports(struct ag__backstop_cli *b, const char *arg)
{
    const char *p = arg;
    do {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || errno || v < 1 || v > 65535) {
            ag__cli_error("--connect-port: expected a TCP port (1-65535) or a comma-separated "
                          "list of them, got '%s'",
                          arg);
            return -1;
        }
        if (b->nports == AG__BACKSTOP_PORTS_MAX) {
            ag__cli_error("--connect-port: at most %d ports", AG__BACKSTOP_PORTS_MAX);
            return -1;
        }
        b->ports[b->nports++] = (uint16_t)v;
        p = *end ? end + 1 : end;
    } while (*p);
    return 0;
}

/* Everything the profile is computed from, and the result. */
struct bs {
    char project[PATH_MAX], home[PATH_MAX], data[PATH_MAX], policy_path[PATH_MAX];
    char exe[4][PATH_MAX + 16];
    const char *bins[4];
    size_t nbins;
    char ledger_files[3][PATH_MAX + 32];
    const char *ledger[3];
    size_t nledger;
    char program[PATH_MAX + 16];
    const char *programs[1];
    size_t nprograms;
    ag_policy *policy;
    uint16_t ports[AG__BACKSTOP_PORTS_MAX + 16];
    struct ag_sandbox_profile prof;
    struct ag__grants grants;
};

static void bs_free(struct bs *s)
{
    ag_policy_free(s->policy);
    ag__grants_free(&s->grants);
}

/* The policy the hook uses: --policy, else the config's hook.policy, else the shipped
 * coding-agent policy next to the shipped default one. *tier gets hook.tier. */
static int load_policy(struct bs *s, const struct ag__backstop_cli *b, int *tier)
{
    ag_home *home;
    const ag_config *cfg;
    if (ag__cli_home(NULL, &home) != 0)
        return -1;
    if (ag_home_config(home, &cfg) != AG_OK) { /* loaded by the open: cannot fail */
        ag_home_free(home);
        return -1;
    }
    const char *cp = ag_config_str(cfg, "hook.policy");
    *tier = (int)ag_config_int(cfg, "hook.tier");
    if (b->policy)
        snprintf(s->policy_path, sizeof s->policy_path, "%s", b->policy);
    else if (cp && *cp)
        snprintf(s->policy_path, sizeof s->policy_path, "%s", cp);
    else {
        const char *def = ag_policy_default_path();
        const char *slash = strrchr(def, '/');
        snprintf(s->policy_path, sizeof s->policy_path, "%.*s/coding-agent.yaml",
                 slash ? (int)(slash - def) : 1, slash ? def : ".");
    }
    ag_home_free(home); /* and cfg with it */
    ag_err e = ag_policy_load(s->policy_path, &s->policy);
    if (e) {
        ag__cli_error_ag(e, s->policy_path);
        return -1;
    }
    return 0;
}

static void add_port(struct bs *s, uint16_t port)
{
    for (size_t i = 0; i < s->prof.nconnect; i++)
        if (s->ports[i] == port)
            return;
    if (s->prof.nconnect < sizeof s->ports / sizeof s->ports[0])
        s->ports[s->prof.nconnect++] = port;
}

/* Ports: --connect-port (else 443), the ports the policy's sandbox section gives the
 * hook's tier, and 53 for name resolution over TCP. */
static void set_profile(struct bs *s, const struct ag__backstop_cli *b, int tier)
{
    memset(&s->prof, 0, sizeof s->prof);
    s->prof.connect_ports = s->ports;
    for (size_t i = 0; i < b->nports; i++)
        add_port(s, b->ports[i]);
    if (b->nports == 0)
        add_port(s, PORT_HTTPS);
    const struct ag_sandbox_profile *tp = ag_policy_sandbox(s->policy, tier);
    for (size_t i = 0; tp && i < tp->nconnect; i++)
        add_port(s, tp->connect_ports[i]);
    add_port(s, PORT_DNS);
    /* No rlimits: an agent's session is long and Node reserves much address space. */
}

/* The agent's program, found as exec will find it (argv0 as given when it has a
 * slash, else along $PATH): when it lies in a node_modules tree (an npm install outside
 * the system directories and $HOME: .bin/claude links to the package's script, which
 * loads its dependencies), that node_modules directory is made readable. Any other
 * program must be reachable by the profile's own grants: granting one file of, say, a
 * version manager's shim would make exec pick the shim, which then cannot run the
 * tool it wraps. */
static void find_program(struct bs *s, const char *argv0)
{
    char cand[PATH_MAX], real[PATH_MAX];
    int found = 0;
    if (strchr(argv0, '/'))
        found = realpath(argv0, real) != NULL;
    else {
        const char *path = getenv("PATH");
        for (const char *p = path ? path : ""; !found && *p;) {
            size_t n = strcspn(p, ":");
            if (n > 0 &&
                (size_t)snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, argv0) < sizeof cand)
                found = access(cand, X_OK) == 0 && realpath(cand, real) != NULL;
            p += n + (p[n] == ':');
        }
    }
    if (!found)
        return;
    char *nm = strstr(real, "/node_modules/");
    if (!nm)
        return;
    nm[strlen("/node_modules")] = '\0';
    snprintf(s->program, sizeof s->program, "%s", real);
    s->programs[s->nprograms++] = s->program;
}

static int prepare(struct bs *s, const struct ag__backstop_cli *b, const char *argv0)
{
    memset(s, 0, sizeof *s);
    if (!b->profile || strcmp(b->profile, "coding-agent") != 0) {
        ag__cli_error("--profile: unknown profile '%s' (known: coding-agent)",
                      b->profile ? b->profile : "");
        return -1;
    }
    const char *proj = b->project ? b->project : ".";
    struct stat st;
    errno = 0;
    if (!realpath(proj, s->project) || stat(s->project, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ag__cli_error("--project %s: not a directory%s%s", proj, errno ? ": " : "",
                      errno ? strerror(errno) : "");
        return -1;
    }
    const char *h = getenv("HOME");
    if (h && h[0] == '/' && realpath(h, s->home)) {
        if (strcmp(s->home, s->project) == 0) {
            ag__cli_error("--project %s is $HOME: give the project's own directory", proj);
            return -1;
        }
    } else {
        s->home[0] = '\0';
        ag__cli_warn("no usable $HOME: nothing under a home directory is granted");
    }
    const char *dir = ag__cli_dir();
    if (!realpath(dir, s->data))
        snprintf(s->data, sizeof s->data, "%s", dir);
    static const char *const lf[] = {"ledger.db", "ledger.db-wal", "ledger.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(s->ledger_files[i], sizeof s->ledger_files[i], "%s/%s", s->data, lf[i]);
        if (access(s->ledger_files[i], F_OK) == 0)
            s->ledger[s->nledger++] = s->ledger_files[i];
    }
    if (realpath("/proc/self/exe", s->exe[0])) {
        s->bins[s->nbins++] = s->exe[0];
        char *sl = strrchr(s->exe[0], '/');
        int n = sl ? (int)(sl - s->exe[0]) : 0;
        snprintf(s->exe[1], sizeof s->exe[1], "%.*s/agentgovd", n, s->exe[0]);
        if (access(s->exe[1], F_OK) == 0)
            s->bins[s->nbins++] = s->exe[1];
    }
    if (argv0)
        find_program(s, argv0);
    int tier = 2;
    if (load_policy(s, b, &tier) != 0)
        return -1;
    /* The hook inside reads the policy: the one in force, and the shipped ones. */
    if (realpath(s->policy_path, s->exe[2]))
        s->bins[s->nbins++] = s->exe[2];
    const char *def = ag_policy_default_path();
    const char *slash = strrchr(def, '/');
    snprintf(s->exe[3], sizeof s->exe[3], "%.*s", slash ? (int)(slash - def) : 1,
             slash ? def : ".");
    if (s->exe[3][0] == '/' && access(s->exe[3], F_OK) == 0)
        s->bins[s->nbins++] = s->exe[3];
    set_profile(s, b, tier);
    struct ag__backstop_opts o = {.home = s->home,
                                  .project = s->project,
                                  .data_dir = s->data,
                                  .data_writable = s->ledger,
                                  .ndata_writable = s->nledger,
                                  .binaries = s->bins,
                                  .nbinaries = s->nbins,
                                  .programs = s->programs,
                                  .nprograms = s->nprograms,
                                  .policy = s->policy};
    struct ag__wants w = {0};
    ag_err e = ag__backstop_coding_wants(&o, &w);
    if (e == AG_OK)
        e = ag__grants_build(&w, 0, &s->grants);
    ag__wants_free(&w);
    if (e) {
        ag__cli_error_ag(e, "backstop: building the grant list");
        return -1;
    }
    return 0;
}

/* ---- show ----------------------------------------------------------------------------- */

static int show_json(const struct bs *s)
{
    json_t *g = json_array(), *ports = json_array();
    for (size_t i = 0; i < s->grants.n; i++)
        json_array_append_new(g, json_pack("{s:s,s:s,s:s}", "path", s->grants.v[i].path, "access",
                                           ag__access_name(s->grants.v[i].access), "why",
                                           s->grants.v[i].why ? s->grants.v[i].why : ""));
    for (size_t i = 0; i < s->prof.nconnect; i++)
        json_array_append_new(ports, json_integer(s->ports[i]));
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:i,s:b}", "profile", "coding-agent", "project",
                  s->project, "home", s->home, "policy", s->policy_path, "grants", g, "connect_tcp",
                  ports, "landlock_abi", ag__landlock_abi(), "unix_sockets", 0);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!text) {
        ag__cli_error("sandbox show: out of memory");
        return AG_EXIT_USAGE;
    }
    printf("%s\n", text);
    free(text);
    return AG_EXIT_OK;
}

int ag__backstop_show(const struct ag__backstop_cli *b, int json)
{
    struct bs s;
    if (prepare(&s, b, NULL) != 0) {
        bs_free(&s);
        return AG_EXIT_USAGE;
    }
    int rc = AG_EXIT_OK;
    if (json)
        rc = show_json(&s);
    else {
        char *text = NULL;
        ag_err e = ag__grants_text(&s.grants, &text);
        if (e) {
            ag__cli_error_ag(e, "sandbox show");
            rc = AG_EXIT_USAGE;
        } else {
            printf("backstop profile coding-agent\n  project      %s\n  home         %s\n"
                   "  policy       %s\n  network      TCP connect to",
                   s.project, s.home[0] ? s.home : "(none)", s.policy_path);
            for (size_t i = 0; i < s.prof.nconnect; i++)
                printf(" %u", s.ports[i]);
            printf(" only (no UDP; no unix sockets)\n  landlock     ABI %d\n"
                   "grants (%zu; anything not listed is unreachable):\n%s",
                   ag__landlock_abi(), s.grants.n, text);
        }
        free(text);
    }
    bs_free(&s);
    return rc;
}

/* ---- run ------------------------------------------------------------------------------ */

/* The agent's environment: the caller's, with the hook told not to start a helper
 * (one started inside the sandbox could not bind its socket in the read-only data
 * directory) and the resolver told to use TCP (the sandbox has no UDP sockets). */
static char **child_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 4, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    const char *res = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "AGENTGOV_HOOK_HELPER=", 21) == 0 ||
            strncmp(environ[i], "AGENTGOV_BACKSTOP=", 18) == 0)
            continue;
        if (strncmp(environ[i], "RES_OPTIONS=", 12) == 0) {
            res = environ[i] + 12;
            continue;
        }
        env[k++] = environ[i];
    }
    static char resopt[512];
    snprintf(resopt, sizeof resopt, "RES_OPTIONS=%s%suse-vc", res ? res : "",
             res && *res ? " " : "");
    env[k++] = "AGENTGOV_HOOK_HELPER=0";
    env[k++] = "AGENTGOV_BACKSTOP=coding-agent";
    env[k++] = resopt;
    env[k] = NULL;
    return env;
}

static int record(ag_ledger *l, const char *action, const char *resource, int success, json_t *data)
{
    if (!l) {
        json_decref(data);
        return 0;
    }
    char *dj = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(data);
    struct ag_ledger_entry e = {.kind = "action",
                                .tier = -1,
                                .action = action,
                                .resource = resource,
                                .decision = "allow",
                                .confidence = -1,
                                .success = success,
                                .data_json = dj};
    ag_err err = dj ? ag_ledger_append(l, &e, NULL, NULL) : AG_ENOMEM;
    free(dj);
    if (err) {
        ag__cli_error_ag(err, "recording the backstop session in the ledger");
        return -1;
    }
    return 0;
}

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

static int wait_child(pid_t pid)
{
    /* The agent shares the terminal: ^C reaches it directly, and must not end us. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = forward}, old[4];
    sigemptyset(&ign.sa_mask);
    sigemptyset(&fwd.sa_mask);
    child_pid = pid;
    sigaction(SIGINT, &ign, &old[0]);
    sigaction(SIGQUIT, &ign, &old[1]);
    sigaction(SIGTERM, &fwd, &old[2]);
    sigaction(SIGHUP, &fwd, &old[3]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGQUIT, &old[1], NULL);
    sigaction(SIGTERM, &old[2], NULL);
    sigaction(SIGHUP, &old[3], NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int ag__backstop_run(const struct ag__backstop_cli *b, char **argv)
{
    /* The ledger is opened first and stays open: the hooks the agent runs append to it
     * from inside the sandbox, and its WAL files must exist to be granted. */
    ag_home *home;
    ag_ledger *l = NULL;
    if (ag__cli_home(NULL, &home) != 0)
        return AG_EXIT_USAGE;
    if (ag_home_has(home, AG_HOME_LEDGER_DB)) {
        ag_err e = ag_home_ledger(home, &l);
        if (e != AG_OK) {
            int status = ag__cli_home_fail(ag__cli_exit_of(e));
            ag_home_free(home);
            return status;
        }
    } else
        ag__cli_warn("no ledger at %s: the session is not recorded, and `agentgov hook` "
                     "inside it cannot record its decisions (run `agentgov init`)",
                     ag_home_path(home, AG_HOME_LEDGER_DB));
    struct bs s;
    if (prepare(&s, b, argv[0]) != 0) {
        bs_free(&s);
        ag_home_free(home);
        return AG_EXIT_USAGE;
    }
    char **env = child_env();
    json_t *args = json_array(), *ports = json_array();
    for (size_t i = 0; argv[i]; i++)
        json_array_append_new(args, json_string(argv[i]));
    for (size_t i = 0; i < s.prof.nconnect; i++)
        json_array_append_new(ports, json_integer(s.ports[i]));
    int rc = !env ? -1
                  : record(l, "backstop.start", argv[0], -1,
                           json_pack("{s:s,s:s,s:s,s:o,s:I,s:o,s:i}", "profile", "coding-agent",
                                     "project", s.project, "policy", s.policy_path, "argv", args,
                                     "grants", (json_int_t)s.grants.n, "connect_tcp", ports,
                                     "landlock_abi", ag__landlock_abi()));
    if (rc != 0) { /* out of memory, or the ledger refused the entry */
        free(env);
        bs_free(&s);
        ag_home_free(home);
        return AG_EXIT_ERROR;
    }
    struct ag__spawn_opts so = {.stdin_fd = -1,
                                .stdout_fd = -1,
                                .stderr_fd = -1,
                                .flags = b->allow_unsandboxed ? AG_SANDBOX_ALLOW_NO_LANDLOCK : 0,
                                .grants = s.grants.v,
                                .ngrants = s.grants.n};
    pid_t pid;
    ag_err e = ag__sandbox_spawn(&s.prof, s.project, argv, env, &so, &pid);
    if (e) {
        ag__cli_error_ag(e, "run --profile coding-agent");
        if (e == AG_EUNSUPPORTED)
            ag__cli_error("without Landlock there is no backstop; --allow-unsandboxed runs "
                          "the agent with seccomp alone");
        rc = e == AG_ENOTFOUND ? EXIT_NOT_FOUND : EXIT_SANDBOX;
    } else
        rc = wait_child(pid);
    if (record(l, "backstop.end", argv[0], rc == 0,
               json_pack("{s:s,s:i,s:b}", "profile", "coding-agent", "exit", rc, "ran",
                         e == AG_OK)) != 0 &&
        rc == 0)
        rc = AG_EXIT_USAGE;
    free(env);
    bs_free(&s);
    ag_home_free(home); /* closes the ledger */
    return rc;
}
