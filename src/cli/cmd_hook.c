/* `agentgov hook claude-code|codex`: answers one tool-use hook event read from stdin.
 * Fail closed: any internal error (bad JSON, unknown event, policy or ledger failure)
 * denies with exit status 2 and the reason on stderr, which both agents treat as a
 * block. The decision is printed only after its ledger entry is committed. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/config.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/fileio.h"
#include "policy/path.h"
#include "runner/hook.h"

#define HOOK_EXIT_DENY  2
#define HOOK_MAX_EVENT  (64 << 20) /* a Write of a large file carries its content */
#define HOOK_MAX_POLICY (4 << 20)

static void usage(FILE *out)
{
    fprintf(out, "usage: agentgov hook claude-code|codex [--policy FILE] [--tier N] [--agent ID]\n"
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
                 "  --dir DIR      data directory (ledger at DIR/ledger.db)\n");
}

struct hook_opts {
    enum ag__hook_dialect dialect;
    const char *policy;
    int tier; /* -1: not given */
    const char *agent;
};

/* Denies: reason on stderr, exit 2. */
static int deny_exit(const char *what, ag_err err)
{
    const char *detail = ag_last_error();
    fprintf(stderr, "agentgov: hook denied: %s%s%s\n", what, detail[0] ? ": " : "",
            detail[0] ? detail : (err ? ag_strerror(err) : ""));
    return HOOK_EXIT_DENY;
}

static ag_err append(const struct ag_ledger_entry *e)
{
    /* Parallel subagents run hooks at the same time: wait for the writer lock. */
    struct ag_ledger_opts lo = {.busy_timeout_ms = 5000, .keep_wal = 1};
    ag_ledger *l = NULL;
    ag_err err = ag_ledger_open(ag__cli_path("ledger.db"), &lo, &l);
    if (err == AG_OK)
        err = ag_ledger_append(l, e, NULL, NULL);
    ag_ledger_close(l);
    return err;
}

/* An internal error denies; the denial is recorded too when the ledger can take it
 * (best effort: the answer is a deny either way). ev may be NULL. */
static int deny_recorded(const struct hook_opts *o, const struct ag__hook_event *ev,
                         const char *what, enum ag_reason reason, ag_err err)
{
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", ag_last_error());
    struct ag_ledger_entry e = {
        .kind = "decision",
        .agent_id = o->agent ? o->agent
                    : ev     ? ag__hook_agent(ev)
                             : ag__hook_dialect_name(o->dialect),
        .task_id = ev && ev->session_id[0] ? ev->session_id : NULL,
        .tier = o->tier,
        .action = ev && ev->nreq ? ev->req[0].action : NULL,
        .resource = ev && ev->nreq ? ev->req[0].resource : NULL,
        .decision = "deny",
        .reason = ag_reason_name(reason),
        .confidence = -1,
        .success = -1,
        .error_type = what,
        .error_message = detail[0] ? detail : ag_strerror(err),
    };
    (void)!append(&e);
    ag__fail(err, "%s", detail);
    return deny_exit(what, err);
}

static int parse_args(int argc, char **argv, struct hook_opts *o)
{
    static const struct option longs[] = {
        {"policy", required_argument, NULL, 'p'}, {"tier", required_argument, NULL, 't'},
        {"agent", required_argument, NULL, 'a'},  {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int c;
    char *end;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", longs, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->policy = optarg;
            break;
        case 't':
            o->tier = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg || o->tier < AG_TIER_MIN || o->tier > AG_TIER_MAX)
                return ag__fail(AG_EINVAL, "--tier '%s' is not 0..4", optarg);
            break;
        case 'a':
            o->agent = optarg;
            break;
        case 'd':
            ag__cli_set_dir(optarg);
            break;
        default:
            return ag__fail(AG_EINVAL, "unknown option '%s' (see agentgov hook --help)",
                            argv[optind - 1]);
        }
    }
    if (optind != argc)
        return ag__fail(AG_EINVAL, "unexpected argument '%s'", argv[optind]);
    return AG_OK;
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

/* The shipped coding-agent policy sits next to the shipped default policy. */
static const char *shipped_policy(char *buf, size_t len)
{
    const char *def = ag__policy_default_path();
    const char *slash = strrchr(def, '/');
    int dirlen = slash ? (int)(slash - def) : 1;
    snprintf(buf, len, "%.*s/coding-agent.yaml", dirlen, slash ? def : ".");
    return buf;
}

/* Flags win; the config file is read only for what the flags left open. */
static ag_err resolve_config(struct hook_opts *o, char *policy_buf, size_t len)
{
    if (o->policy && o->tier >= 0)
        return AG_OK;
    ag_config *cfg;
    ag_err err = ag_config_new(&cfg);
    if (err == AG_OK)
        err = ag_config_load_file(cfg, ag__cli_path("config"), 1);
    if (err != AG_OK) {
        ag_config_free(cfg);
        return err;
    }
    const char *p = ag_config_str(cfg, "hook.policy");
    if (!o->policy && p && p[0]) {
        snprintf(policy_buf, len, "%s", p);
        o->policy = policy_buf;
    }
    if (o->tier < 0)
        o->tier = (int)ag_config_int(cfg, "hook.tier");
    ag_config_free(cfg);
    return AG_OK;
}

/* Loads the policy with ${PROJECT} and ${HOME} expanded for this event. */
static ag_err load_policy(const char *path, const struct ag__hook_event *ev, ag_policy **out)
{
    char *text = NULL, *expanded = NULL;
    size_t len = 0, elen = 0;
    ag_err err = ag__read_file(path, HOOK_MAX_POLICY, &text, &len);
    if (err == AG_OK) {
        char home[PATH_MAX] = "";
        const char *h = getenv("HOME");
        if (h && h[0] == '/' && !realpath(h, home))
            snprintf(home, sizeof home, "%s", h);
        err = ag__hook_expand(text, len, ev->cwd, home[0] ? home : NULL, &expanded, &elen);
    }
    if (err == AG_OK)
        err = ag_policy_load_string(path, expanded, elen, out);
    free(text);
    free(expanded);
    return err;
}

static ag_err record(const struct hook_opts *o, const struct ag__hook_event *ev,
                     const struct ag__hook_verdict *v)
{
    char *data = NULL;
    ag_err err = ag__hook_ledger_data(ev, v, &data);
    if (err != AG_OK)
        return err;
    const struct ag__hook_req *r = &ev->req[v->which];
    struct ag_ledger_entry e = {
        .kind = "decision",
        .agent_id = o->agent ? o->agent : ag__hook_agent(ev),
        .task_id = ev->session_id[0] ? ev->session_id : NULL,
        .tier = o->tier,
        .action = r->action,
        .resource = r->resource,
        .decision = ag_effect_name(v->effect),
        .reason = ag_reason_name(v->decision.reason),
        .confidence = -1,
        .success = -1,
        .data_json = data,
    };
    err = append(&e);
    free(data);
    return err;
}

static int run_event(struct hook_opts *o, const char *text, size_t len)
{
    struct ag__hook_event ev;
    char policy_buf[PATH_MAX], shipped[PATH_MAX];
    ag_err err = ag__hook_parse(o->dialect, text, len, &ev);
    if (err != AG_OK)
        return deny_recorded(o, NULL, "malformed event", AG_REASON_INVALID_REQUEST, err);
    err = resolve_config(o, policy_buf, sizeof policy_buf);
    if (err != AG_OK) {
        int rc = deny_recorded(o, &ev, "configuration", AG_REASON_INTERNAL_ERROR, err);
        ag__hook_event_free(&ev);
        return rc;
    }
    const char *path = o->policy ? o->policy : shipped_policy(shipped, sizeof shipped);
    ag_policy *p = NULL;
    if ((err = load_policy(path, &ev, &p)) != AG_OK) {
        int rc = deny_recorded(o, &ev, "policy", AG_REASON_NO_POLICY, err);
        ag__hook_event_free(&ev);
        return rc;
    }
    struct ag__hook_verdict v;
    ag__hook_decide(p, o->tier, &ev, &v);
    char *answer = NULL;
    err = record(o, &ev, &v);
    if (err != AG_OK)
        deny_exit("ledger", err);
    else if ((err = ag__hook_response(&ev, &v, &answer)) != AG_OK)
        deny_exit("answer", err);
    else
        printf("%s\n", answer);
    free(answer);
    ag_policy_free(p);
    ag__hook_event_free(&ev);
    return err == AG_OK ? AG_EXIT_OK : HOOK_EXIT_DENY;
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
    _exit(HOOK_EXIT_DENY);
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

int ag__cmd_hook(int argc, char **argv)
{
    deny_on_crash();
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return AG_EXIT_OK;
    }
    struct hook_opts o = {.tier = -1};
    if (argc < 2) {
        usage(stderr);
        return deny_exit("no agent named (claude-code or codex)", AG_EINVAL);
    }
    if (strcmp(argv[1], "claude-code") == 0)
        o.dialect = AG_HOOK_CLAUDE_CODE;
    else if (strcmp(argv[1], "codex") == 0)
        o.dialect = AG_HOOK_CODEX;
    else {
        ag__fail(AG_EINVAL, "unknown agent '%s' (claude-code or codex)", argv[1]);
        return deny_exit("usage", AG_EINVAL);
    }
    ag_err err = parse_args(argc - 1, argv + 1, &o);
    if (err != AG_OK)
        return deny_exit("usage", err);
    char *text = NULL;
    size_t len = 0;
    if ((err = read_stdin(&text, &len)) != AG_OK)
        return deny_exit("input", err);
    int rc = run_event(&o, text, len);
    free(text);
    return rc;
}
