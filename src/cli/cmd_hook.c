/* `agentgov hook claude-code|codex`: answers one tool-use hook event read from stdin.
 * Fail closed: any internal error (bad JSON, unknown event, policy or ledger failure)
 * denies with exit status 2 and the reason on stderr, which both agents treat as a
 * block. The decision is printed only after its ledger entry is committed. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/hook.h"
#include "agentgov/policy.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"

#define HOOK_MAX_EVENT (64 << 20) /* a Write of a large file carries its content */

static void usage(FILE *out)
{
    fprintf(out, "usage: agentgov hook claude-code|codex [--policy FILE] [--tier N] [--agent ID]\n"
                 "                                          [--no-helper]\n"
                 "       agentgov hook helper run|status|stop\n"
                 "\n"
                 "Reads one PreToolUse or PermissionRequest event (JSON) from stdin, decides it\n"
                 "with the policy, records the decision in the ledger, and prints the answer\n"
                 "the agent expects (exit 0). Any internal error denies: exit 2, reason on\n"
                 "stderr. See docs/hooks.md for the settings snippets and the tool mapping.\n"
                 "\n"
                 "options:\n"
                 "  --policy FILE  policy file (else `hook.policy` in <dir>/config, else the\n"
                 "                 shipped policies/coding-agent.yaml)\n"
                 "  --tier N       tier 0-4 (else `hook.tier` in <dir>/config, else 2)\n"
                 "  --agent ID     agent id recorded in the ledger (else the subagent id, else\n"
                 "                 the session id)\n"
                 "  --no-helper    decide in this process even when a hook helper runs, and\n"
                 "                 start none (also: AGENTGOV_HOOK_HELPER=0)\n"
                 "  --dir DIR      data directory (ledger at DIR/ledger.db)\n"
                 "\n"
                 "The first event decided in process starts a hook helper for the data\n"
                 "directory, which answers the next events faster (same decisions, same\n"
                 "ledger entries); see `agentgov hook helper --help`.\n"
                 "\n"
                 "Exit status of claude-code and codex: the agent's hook protocol, not the\n"
                 "table below: 0 with the answer on stdout, 2 blocks the tool call (a deny or\n"
                 "any error). The table holds for `hook helper` and for bad options.\n");
    ag__cli_print_exit_statuses(out);
}

/* Denies before there is an event: recorded in the ledger when the data directory is
 * known (a --dir without its argument leaves it unknown) and the ledger opens; the
 * reason on stderr, and exit 2 whatever the recording did. */
static int deny_early(const struct ag_hook_opts *o, const char *what, enum ag_reason reason,
                      ag_err err)
{
    struct ag_hook_answer a;
    (void)ag_hook_deny_early(o, what, reason, err, &a);
    fputs(a.err ? a.err : "agentgov: hook denied\n", stderr);
    ag_hook_answer_clear(&a);
    return AG_HOOK_EXIT_DENY;
}

/* Keeps the first error of several, with its message. */
static void keep_first(ag_err err, ag_err *first, char *why, size_t len)
{
    if (err != AG_OK && *first == AG_OK) {
        *first = err;
        snprintf(why, len, "%s", ag_last_error());
    }
}

static ag_err parse_opt(int c, struct ag_hook_opts *o, int *use_helper, int *dir_known, char **argv)
{
    char *end;
    long tier;
    switch (c) {
    case 'p':
        if (!*optarg)
            return ag__fail(AG_EINVAL, "--policy needs a file name");
        o->policy = optarg;
        return AG_OK;
    case 't':
        tier = strtol(optarg, &end, 10);
        if (*end || end == optarg || tier < AG_TIER_MIN || tier > AG_TIER_MAX)
            return ag__fail(AG_EINVAL, "--tier '%s' is not 0..4", optarg);
        o->tier = (int)tier;
        return AG_OK;
    case 'a':
        if (!*optarg)
            return ag__fail(AG_EINVAL, "--agent needs an agent id");
        o->agent = optarg;
        return AG_OK;
    case 'd':
        ag__cli_set_dir(optarg);
        return AG_OK;
    case 'n':
        *use_helper = 0;
        return AG_OK;
    case ':':
        *dir_known &= optopt != 'd';
        return ag__fail(AG_EINVAL, "option '%s' needs an argument", argv[optind - 1]);
    default:
        return ag__fail(AG_EINVAL, "unknown option '%s' (see agentgov hook --help)",
                        argv[optind - 1]);
    }
}

/* Reads every option even after a bad one, so that a denial is recorded in the data
 * directory the command line names; returns the first error. */
static ag_err parse_args(int argc, char **argv, struct ag_hook_opts *o, int *use_helper,
                         int *dir_known)
{
    static const struct option longs[] = {{"policy", required_argument, NULL, 'p'},
                                          {"tier", required_argument, NULL, 't'},
                                          {"agent", required_argument, NULL, 'a'},
                                          {"dir", required_argument, NULL, 'd'},
                                          {"no-helper", no_argument, NULL, 'n'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c;
    ag_err first = AG_OK;
    char why[512] = "";
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:h", longs, NULL)) != -1)
        keep_first(parse_opt(c, o, use_helper, dir_known, argv), &first, why, sizeof why);
    if (optind != argc)
        keep_first(ag__fail(AG_EINVAL, "unexpected argument '%s'", argv[optind]), &first, why,
                   sizeof why);
    return first == AG_OK ? AG_OK : ag__fail(first, "%s", why);
}

/* The agent named first, then the options; returns the first error. *label: what a
 * denial is recorded under when no agent this knows is named. */
static ag_err parse_command(int argc, char **argv, struct ag_hook_opts *o, int *use_helper,
                            int *dir_known, const char **label)
{
    int named = argc >= 2 && argv[1][0] != '-';
    ag_err err = AG_OK;
    char why[512] = "";
    if (!named) {
        keep_first(ag__fail(AG_EINVAL, "no agent named (claude-code or codex)"), &err, why,
                   sizeof why);
        *label = "hook";
    } else if (strcmp(argv[1], "codex") == 0) {
        o->dialect = AG_HOOK_CODEX;
    } else if (strcmp(argv[1], "claude-code") != 0) {
        keep_first(ag__fail(AG_EINVAL, "unknown agent '%s' (claude-code or codex)", argv[1]), &err,
                   why, sizeof why);
        *label = argv[1];
    }
    keep_first(parse_args(argc - named, argv + named, o, use_helper, dir_known), &err, why,
               sizeof why);
    return err == AG_OK ? AG_OK : ag__fail(err, "%s", why);
}

static ag_err read_stdin(char **data, size_t *len)
{
    struct ag_buf b;
    char chunk[65536];
    size_t n;
    ag__buf_init(&b);
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        ag__buf_append(&b, chunk, n);
        if (b.len > HOOK_MAX_EVENT) {
            ag__buf_free(&b);
            return ag__fail(AG_ELIMIT, "event larger than %d bytes", HOOK_MAX_EVENT);
        }
    }
    if (ferror(stdin) || ag__buf_status(&b) != AG_OK) {
        ag__buf_free(&b);
        return ag__fail(AG_EIO, "reading the event from stdin failed");
    }
    *len = b.len;
    *data = ag__buf_take(&b);
    return AG_OK;
}

static int print_out(const struct ag_hook_answer *a)
{
    int code = a->status;
    if (a->out_len)
        fwrite(a->out, 1, a->out_len, stdout);
    if (a->err_len)
        fwrite(a->err, 1, a->err_len, stderr);
    if (fflush(stdout) != 0)
        code = AG_HOOK_EXIT_DENY; /* an answer the agent did not get is no allow */
    return code;
}

/* The helper answers when one runs; else this process decides, and starts a helper
 * for the next event (after the answer is out). */
static int answer(struct ag_hook_opts *o, int use_helper, const char *text, size_t len)
{
    struct ag_hook_answer a;
    (void)ag_hook_answer(o, use_helper, text, len, &a);
    int code = print_out(&a);
    if (a.helper_missing && use_helper)
        ag_hook_helper_spawn(o->home);
    ag_hook_answer_clear(&a);
    return code;
}

#if defined(__SANITIZE_ADDRESS__)
#define AG_HOOK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AG_HOOK_ASAN 1
#endif
#endif

#ifndef AG_HOOK_ASAN
static void fatal_signal(int sig)
{
    static const char msg[] = "agentgov: hook denied: internal fault (fatal signal)\n";
    (void)sig;
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(AG_HOOK_EXIT_DENY);
}
#endif

/* A hook that crashes must still deny: Claude Code takes any exit status but 2 as a
 * non-blocking error and lets the tool run. So a fatal signal (a bug of ours, or a
 * library that dereferences NULL when memory runs out, as libfyaml 0.7.12 does) ends
 * the process with the deny status. The handler makes only async-signal-safe calls and
 * runs on its own stack, so that a stack overflow is caught too. Not installed under
 * ASan, whose own report of the crash is what a test run needs. */
static void deny_on_crash(void)
{
#ifndef AG_HOOK_ASAN
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fatal_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
#endif
}

/* ---- agentgov hook helper run|status|stop ------------------------------------------ */

#define HELPER_EXIT_FAIL AG_EXIT_ERROR

static void helper_usage(FILE *out)
{
    fprintf(out, "usage: agentgov hook helper run [--idle DURATION] | status | stop\n"
                 "\n"
                 "The hook helper answers `agentgov hook` events for one data directory over\n"
                 "<dir>/hook.sock, with the ledger open and compiled policies kept, so that a\n"
                 "hook only forwards its event. The first hook that finds none starts one in\n"
                 "the background; set AGENTGOV_HOOK_HELPER=0, or hook.helper_idle to 0 in\n"
                 "<dir>/config, to decide every event in its own process instead.\n"
                 "\n"
                 "  run     serve in the foreground until idle for DURATION (default: config\n"
                 "          hook.helper_idle, 10m), SIGTERM, or the socket going away\n"
                 "  status  print the running helper's pid, uptime and events answered\n"
                 "  stop    ask the running helper to stop (exit 0 when none runs)\n");
    ag__cli_print_exit_statuses(out);
}

static int parse_run_args(int argc, char **argv, int64_t *idle_ms)
{
    *idle_ms = -1;
    for (int i = 1; i < argc; i++) {
        int64_t ms;
        if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc) {
            if (ag__parse_duration(argv[i + 1], &ms) != AG_OK || ms < 0) {
                ag__cli_error("hook helper run: --idle '%s' is not a duration (e.g. 10m, 90s)",
                              argv[i + 1]);
                return -1;
            }
            *idle_ms = ms;
            i++;
        } else {
            ag__cli_error("hook helper run: bad argument '%s' (see agentgov hook helper --help)",
                          argv[i]);
            return -1;
        }
    }
    return 0;
}

static int helper_run(int argc, char **argv)
{
    int64_t idle_ms;
    if (parse_run_args(argc, argv, &idle_ms) != 0)
        return AG_EXIT_USAGE;
    /* Events are decided in the hook's working directory: the data directory must
     * not depend on the helper's. */
    char dir[PATH_MAX];
    if (!realpath(ag__cli_dir(), dir)) {
        ag__cli_error("hook helper: data directory %s: %s", ag__cli_dir(), strerror(errno));
        return HELPER_EXIT_FAIL;
    }
    ag__cli_set_dir(dir);
    ag_home *home;
    struct ag_home_opts ho = {.ledger = AG_HOME_LEDGER_HOOK_HELPER, .lazy_config = 1};
    if (ag_home_open(dir, &ho, &home) != AG_OK) {
        ag__cli_error_ag(AG_ENOMEM, "hook helper");
        return HELPER_EXIT_FAIL;
    }
    if (idle_ms < 0)
        idle_ms = ag_hook_helper_idle_ms(home, 600000);
    ag_err err = ag_hook_helper_run(home, idle_ms);
    ag_home_free(home);
    if (err == AG_EEXIST || err == AG_EUNSUPPORTED) { /* one runs, or none is wanted */
        fprintf(stderr, "agentgov: hook helper: %s\n", ag_last_error());
        return AG_EXIT_OK;
    }
    if (err != AG_OK) {
        ag__cli_error_ag(err, "hook helper");
        return HELPER_EXIT_FAIL;
    }
    return AG_EXIT_OK;
}

/* status and stop: one request, the helper's text on stdout. */
static int helper_control(int stop)
{
    ag_home *home;
    struct ag_home_opts ho = {.lazy_config = 1};
    if (ag__cli_home(&ho, &home) != 0)
        return HELPER_EXIT_FAIL;
    char *text = NULL;
    ag_err err = ag_hook_helper_control(home, stop, &text);
    int rc = AG_EXIT_OK;
    if (err == AG_ENOTFOUND) {
        printf("hook helper: none runs for %s\n", ag__cli_dir());
        rc = stop ? AG_EXIT_OK : HELPER_EXIT_FAIL;
    } else if (err != AG_OK) {
        ag__cli_error_ag(err, "hook helper");
        rc = HELPER_EXIT_FAIL;
    } else {
        fputs(text, stdout);
    }
    free(text);
    ag_home_free(home);
    return rc;
}

/* `agentgov hook helper run|status|stop`; argv[0] is "helper". */
static int cmd_helper(int argc, char **argv)
{
    if (argc < 2 || ag__cli_wants_help(argc, argv)) {
        helper_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : AG_EXIT_OK;
    }
    if (strcmp(argv[1], "run") == 0)
        return helper_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "status") == 0 && argc == 2)
        return helper_control(0);
    if (strcmp(argv[1], "stop") == 0 && argc == 2)
        return helper_control(1);
    ag__cli_error("hook helper: unknown subcommand '%s' (run, status or stop)", argv[1]);
    return AG_EXIT_USAGE;
}

int ag__cmd_hook(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "helper") == 0)
        return cmd_helper(argc - 1, argv + 1);
    deny_on_crash();
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return AG_EXIT_OK;
    }
    struct ag_hook_opts o = {.tier = -1, .uid = getuid()};
    int use_helper = ag_hook_helper_wanted(), dir_known = 1;
    const char *label = NULL;
    ag_err err = parse_command(argc, argv, &o, &use_helper, &dir_known, &label);
    /* Nothing is read or opened here: the config when the flags leave a setting open,
     * the ledger when there is something to record (the hot path stays as short). */
    struct ag_home_opts ho = {.ledger = AG_HOME_LEDGER_HOOK, .lazy_config = 1};
    if (dir_known && ag_home_open(ag__cli_dir(), &ho, &o.home) != AG_OK)
        o.home = NULL; /* out of memory: deny, recording nothing */
    int rc;
    if (err != AG_OK) {
        if (argc < 2 || argv[1][0] == '-')
            usage(stderr);
        o.agent = o.agent ? o.agent : label;
        rc = deny_early(&o, "usage", AG_REASON_INVALID_REQUEST, err);
    } else {
        char *text = NULL;
        size_t len = 0;
        if ((err = read_stdin(&text, &len)) != AG_OK)
            rc = deny_early(&o, "input",
                            err == AG_ELIMIT ? AG_REASON_INVALID_REQUEST : AG_REASON_INTERNAL_ERROR,
                            err);
        else
            rc = answer(&o, use_helper, text, len);
        free(text);
    }
    ag_home_free(o.home);
    return rc;
}
