/* `agentgov pipeline`: validate, run, resume, status, list, cancel, approve and deny
 * YAML pipelines (docs/pipelines.md). */
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentgov/config.h"
#include "agentgov/pipeline.h"
#include "agentgov/policy.h"
#include "cli/cliutil.h"
#include "cli/cmd_pipeline_exec.h"
#include "cli/cmd_pipeline_src.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "core/stopsig.h"

/* Statuses of run and resume beyond the common table (agentgov/exit.h), as `agentgov
 * run` has its own: how a run ended when it did not end with an answer. */
#define EXIT_CANCELLED   10
#define EXIT_INTERRUPTED 11

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: agentgov pipeline SUBCOMMAND ...\n\n"
        "  validate FILE [--no-registry]   check FILE: every problem as file:line:col: message\n"
        "                                  (--no-registry: only agents the file declares)\n"
        "  run FILE [--param K=V]... [--json] [--work-dir DIR]\n"
        "                                  start a run and drive it to its end\n"
        "  resume RUN [--json]             continue a run from its last checkpoint\n"
        "  status RUN [--json]             the run and the state of each stage\n"
        "  list [--json]                   known runs, newest first\n"
        "  cancel RUN [--by NAME]          stop a run's stages and end it as cancelled\n"
        "  approve RUN STAGE [--by NAME] [--reason TEXT]   approve a human gate\n"
        "  deny RUN STAGE [--by NAME] [--reason TEXT]      deny a human gate\n\n"
        "Common options: --store URL (else $AGENTGOV_STORE, else the embedded store),\n"
        "--policy FILE (else <dir>/policy.yaml, else the shipped default).\n"
        "Stages run as governed agents through `agentgov run`; their directories are\n"
        "<work-dir>/<run>/<stage>/ (default work dir: <dir>/pipelines). Every state change\n"
        "is checkpointed on the store and ledgered (kind pipeline) before it takes effect.\n"
        "A human gate is an approval: `agentgov approval list --pending` shows it and\n"
        "`agentgov approval approve|deny ID` answers it too (approve|deny here vote on it).\n\n"
        "run and resume exit 0 when the run succeeded, 2 (DENY) when it failed, and\n"
        "with statuses of their own: %d when it was cancelled, %d when the driver was\n"
        "interrupted (SIGINT, SIGTERM) or another live process drives the run (resume it).\n"
        "validate exits 1 (USAGE) for an invalid pipeline; approve, deny and cancel exit 2\n"
        "(DENY) when refused (not pending, not an approver, already finished), 1 (USAGE)\n"
        "for an unknown run or gate. See docs/pipelines.md.\n",
        EXIT_CANCELLED, EXIT_INTERRUPTED);
    ag__cli_print_exit_statuses(out);
}

/* The registry of the data directory, when there is one, tells which agents exist. */
static int open_registry(struct ag__cli_gov *g)
{
    memset(g, 0, sizeof *g);
    if (access(ag__cli_path(AG_HOME_LEDGER_DB), F_OK) != 0)
        return 0;
    return ag__cli_gov_open(g, NULL, NULL) == 0;
}

static int do_validate(int argc, char **argv)
{
    const char *file = NULL;
    int no_reg = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-registry") == 0)
            no_reg = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            ag__cli_error("pipeline validate: unknown option '%s'", argv[i]);
            return AG_EXIT_USAGE;
        } else if (!file)
            file = argv[i];
        else {
            ag__cli_error("pipeline validate: one FILE only");
            return AG_EXIT_USAGE;
        }
    }
    if (!file) {
        ag__cli_error("pipeline validate: FILE is required (see agentgov pipeline --help)");
        return AG_EXIT_USAGE;
    }
    struct ag__cli_gov g;
    int have = !no_reg && open_registry(&g);
    static struct ag__cli_plsrc src;
    src.gov = have ? g.gov : NULL;
    ag_pipeline *p = NULL;
    int rc = ag__cli_pl_load(file, &src, &p);
    if (rc == 0)
        printf("%s: pipeline '%s', %zu stages: valid\n", file, ag_pipeline_name(p),
               ag_pipeline_stage_count(p));
    ag_pipeline_free(p);
    if (have)
        ag__cli_gov_close(&g);
    return rc;
}

/* ------------------------------------------------------------- options --- */

#define MAX_PARAMS 64

struct plopts {
    const char *store, *policy, *work_dir, *by, *reason;
    const char *params[MAX_PARAMS];
    size_t nparams;
    int json;
    char *pos[3];
    int npos;
};

static int parse_opts(int argc, char **argv, const char *allowed, int maxpos, struct plopts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') {
            if (o->npos >= maxpos) {
                ag__cli_error("pipeline %s: unexpected argument '%s'", argv[0], a);
                return -1;
            }
            o->pos[o->npos++] = argv[i];
            continue;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        if (!ag__cli_word_in(allowed, name)) {
            ag__cli_error("pipeline %s: unknown option '%s' (see agentgov pipeline --help)",
                          argv[0], a);
            return -1;
        }
        if (strcmp(name, "json") == 0) {
            o->json = 1;
            continue;
        }
        if (i + 1 >= argc) {
            ag__cli_error("pipeline %s: %s needs a value", argv[0], a);
            return -1;
        }
        const char *v = argv[++i];
        if (strcmp(name, "store") == 0)
            o->store = v;
        else if (strcmp(name, "policy") == 0)
            o->policy = v;
        else if (strcmp(name, "work-dir") == 0)
            o->work_dir = v;
        else if (strcmp(name, "by") == 0)
            o->by = v;
        else if (strcmp(name, "reason") == 0)
            o->reason = v;
        else if (strcmp(name, "param") == 0) {
            if (o->nparams == MAX_PARAMS) {
                ag__cli_error("pipeline %s: more than %d --param", argv[0], MAX_PARAMS);
                return -1;
            }
            o->params[o->nparams++] = v;
        }
    }
    return 0;
}

static const char *who(const struct plopts *o)
{
    if (o->by)
        return o->by;
    const char *u = getenv("USER");
    return u && *u ? u : "operator";
}

/* ----------------------------------------------------------------- runs --- */

static volatile sig_atomic_t interrupted;

static void print_event(void *ctx, const char *json)
{
    int as_json = *(int *)ctx;
    if (as_json) {
        printf("%s\n", json);
        fflush(stdout);
        return;
    }
    json_t *o = json_loads(json, 0, NULL);
    fprintf(stderr, "agentgov: pipeline: %-20s %-9s %s\n",
            json_string_value(json_object_get(o, "stage")),
            json_string_value(json_object_get(o, "state")),
            json_string_value(json_object_get(o, "message")));
    json_decref(o);
}

static int status_exit(const char *st)
{
    return strcmp(st, "succeeded") == 0     ? AG_EXIT_OK
           : strcmp(st, "failed") == 0      ? AG_EXIT_DENY
           : strcmp(st, "cancelled") == 0   ? EXIT_CANCELLED
           : strcmp(st, "interrupted") == 0 ? EXIT_INTERRUPTED
                                            : AG_EXIT_ERROR;
}

static int drive(struct ag__cli_gov *g, const struct plopts *o, const char *run, int created)
{
    ag__catch_stop_signals(&interrupted);
    const ag_config *cfg = NULL;
    if (ag_home_config(g->home, &cfg) != AG_OK)
        return ag__cli_home_fail(AG_EXIT_USAGE);
    static struct ag__cli_plexec x;
    ag__cli_plexec_init(&x);
    x.store_flag = o->store;
    x.policy_flag = o->policy;
    x.default_timeout_ms = ag_config_ms(cfg, "run.timeout");
    x.gov = g->gov;
    char owner[400], work[4096];
    ag__cli_pl_owner(owner, sizeof owner);
    if (o->work_dir) {
        if (!realpath(o->work_dir, work)) {
            ag__cli_error("pipeline: --work-dir %s: no such directory", o->work_dir);
            return AG_EXIT_USAGE;
        }
    } else {
        snprintf(work, sizeof work, "%s/pipelines", ag_home_dir(g->home));
    }
    int as_json = o->json;
    struct ag_pipeline_env env = {.store = g->store,
                                  .ledger = g->ledger,
                                  .exec = &x.exec,
                                  .work_root = work,
                                  .checkpoint_ttl_ms = ag_config_ms(cfg, "pipeline.checkpoint_ttl"),
                                  .poll_ms = ag_config_ms(cfg, "pipeline.poll"),
                                  .interrupted = &interrupted,
                                  .owner = owner,
                                  .owner_alive = ag__cli_pl_owner_alive,
                                  .event = print_event,
                                  .event_ctx = &as_json};
    if (!as_json)
        fprintf(stderr, "agentgov: pipeline run %s%s\n", run, created ? "" : " (resumed)");
    else
        printf("{\"run_id\":\"%s\",\"event\":\"%s\"}\n", run, created ? "start" : "resume");
    fflush(stdout);
    char st[16];
    ag_err e = ag_pipeline_drive(&env, run, st);
    ag__cli_plexec_free(&x);
    if (e) {
        ag__cli_error_ag(e, "pipeline");
        return e == AG_ELOCKED ? EXIT_INTERRUPTED : ag__cli_exit_of(e);
    }
    if (as_json)
        printf("{\"run_id\":\"%s\",\"event\":\"end\",\"status\":\"%s\"}\n", run, st);
    else
        fprintf(stderr, "agentgov: pipeline run %s: %s\n", run, st);
    if (!as_json)
        printf("%s %s\n", run, st);
    return status_exit(st);
}

static int do_run(struct ag__cli_gov *g, const struct plopts *o)
{
    static struct ag__cli_plsrc src;
    src.gov = g->gov;
    ag_pipeline *p = NULL;
    int rc = ag__cli_pl_load(o->pos[0], &src, &p);
    if (rc)
        return rc;
    struct ag_pipeline_env env = {.store = g->store, .ledger = g->ledger};
    char run[33];
    ag_err e = ag_pipeline_create_run(&env, p, o->params, o->nparams, run);
    ag_pipeline_free(p);
    if (e) {
        ag__cli_error_ag(e, "pipeline run");
        return ag__cli_exit_of(e);
    }
    return drive(g, o, run, 1);
}

static void print_status(const char *js)
{
    json_t *o = json_loads(js, 0, NULL);
    printf("run       %s\npipeline  %s\nstatus    %s\n",
           json_string_value(json_object_get(o, "run_id")),
           json_string_value(json_object_get(o, "pipeline")),
           json_string_value(json_object_get(o, "status")));
    json_t *st = json_object_get(o, "stages");
    for (size_t i = 0; i < json_array_size(st); i++) {
        json_t *s = json_array_get(st, i);
        printf("  %-20s %-10s %-10s attempt %lld  %s\n",
               json_string_value(json_object_get(s, "stage")),
               json_string_value(json_object_get(s, "kind")),
               json_string_value(json_object_get(s, "state")),
               (long long)json_integer_value(json_object_get(s, "attempt")),
               json_string_value(json_object_get(s, "message")));
        json_t *gate = json_object_get(s, "gate");
        if (gate) {
            char dl[64] = "-";
            json_int_t d = json_integer_value(json_object_get(gate, "deadline"));
            if (d > 0) {
                time_t t = (time_t)(d / 1000);
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(dl, sizeof dl, "%Y-%m-%dT%H:%M:%SZ", &tm);
            }
            char *ap = json_dumps(json_object_get(gate, "approvals"), JSON_COMPACT);
            char *who = json_dumps(json_object_get(gate, "approvers"), JSON_COMPACT);
            printf("  %-20s gate: %s, approvals %s of %lld from %s, deadline %s\n", "",
                   json_string_value(json_object_get(gate, "status")), ap ? ap : "[]",
                   (long long)json_integer_value(json_object_get(gate, "required")),
                   who && strcmp(who, "[]") != 0 ? who : "anyone", dl);
            free(ap);
            free(who);
        }
    }
    json_decref(o);
}

static int do_status(struct ag__cli_gov *g, const struct plopts *o)
{
    char *js = NULL;
    ag_err e = ag_pipeline_status(g->store, o->pos[0], &js);
    if (e) {
        ag__cli_error_ag(e, "pipeline status");
        return ag__cli_exit_of(e);
    }
    if (o->json)
        printf("%s\n", js);
    else
        print_status(js);
    free(js);
    return 0;
}

static int do_list(struct ag__cli_gov *g, const struct plopts *o)
{
    char *js = NULL;
    ag_err e = ag_pipeline_list(g->store, &js);
    if (e) {
        ag__cli_error_ag(e, "pipeline list");
        return AG_EXIT_ERROR;
    }
    if (o->json) {
        printf("%s\n", js);
    } else {
        json_t *a = json_loads(js, 0, NULL);
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_t *m = json_array_get(a, i);
            printf("%s  %-10s %s\n", json_string_value(json_object_get(m, "run_id")),
                   json_string_value(json_object_get(m, "status")),
                   json_string_value(json_object_get(m, "pipeline")));
        }
        json_decref(a);
    }
    free(js);
    return 0;
}

static int do_answer(struct ag__cli_gov *g, const struct plopts *o, int approve)
{
    ag_err e = ag_pipeline_gate_answer(g->store, g->ledger, o->pos[0], o->pos[1], approve, who(o),
                                       o->reason);
    if (e) {
        ag__cli_error_ag(e, approve ? "pipeline approve" : "pipeline deny");
        return ag__cli_exit_of(e);
    }
    printf("%s %s: %s by %s\n", o->pos[0], o->pos[1], approve ? "approved" : "denied", who(o));
    return 0;
}

/* Revokes the agents of the run's running stages at once, whether or not a driver
 * runs (its own revocations then find them revoked already): an attempt's process
 * outlives a dead driver, and the cancel must stop it now, not at the next resume. */
static size_t revoke_running(struct ag__cli_gov *g, const char *run)
{
    char *js = NULL;
    if (ag_pipeline_status(g->store, run, &js) != AG_OK)
        return 0;
    json_t *o = json_loads(js, 0, NULL), *st;
    free(js);
    const char *pl = json_string_value(json_object_get(o, "pipeline"));
    size_t i, n = 0;
    json_array_foreach(json_object_get(o, "stages"), i, st)
    {
        const char *state = json_string_value(json_object_get(st, "state"));
        if (!state || strcmp(state, "running") != 0)
            continue;
        struct ag_pipeline_attempt a = {
            .run_id = run,
            .pipeline = pl ? pl : "",
            .stage = json_string_value(json_object_get(st, "stage")),
            .kind = json_string_value(json_object_get(st, "attempt_kind")),
            .agent = json_string_value(json_object_get(st, "agent")),
            .attempt = (int)json_integer_value(json_object_get(st, "attempt"))};
        if (a.stage && a.kind)
            n += ag__cli_pl_revoke_attempt(g->gov, &a) > 0;
    }
    json_decref(o);
    return n;
}

static int do_cancel(struct ag__cli_gov *g, const struct plopts *o)
{
    ag_err e = ag_pipeline_cancel(g->store, g->ledger, o->pos[0], who(o));
    if (e) {
        ag__cli_error_ag(e, "pipeline cancel");
        return ag__cli_exit_of(e);
    }
    size_t n = revoke_running(g, o->pos[0]);
    printf("%s: cancel requested; %zu running stage%s stopped by revoking %s agents (the "
           "driver ends the run; if none runs, `agentgov pipeline resume %s` does)\n",
           o->pos[0], n, n == 1 ? "" : "s", n == 1 ? "its" : "their", o->pos[0]);
    return 0;
}

/* ------------------------------------------------------------------ demo --- */

/* A reviewer in another process: approves the gate as soon as it waits (as a human
 * would with `agentgov pipeline approve`), for up to 60 s. */
static pid_t spawn_reviewer(char *bin, char *run, const char *store_flag)
{
    /* Writable copies for the argv (execv takes char *const[]). */
    char dir[4096], store[4096];
    snprintf(dir, sizeof dir, "%s", ag__cli_dir());
    snprintf(store, sizeof store, "%s", store_flag ? store_flag : "");
    pid_t p = fork();
    if (p != 0)
        return p;
    for (int i = 0; i < 600; i++) {
        pid_t c = fork();
        if (c == 0) {
            int nul = open("/dev/null", O_WRONLY);
            if (nul >= 0) {
                dup2(nul, STDOUT_FILENO);
                dup2(nul, STDERR_FILENO);
            }
            char *argv[] = {bin,
                            "--dir",
                            dir,
                            "pipeline",
                            "approve",
                            run,
                            "review",
                            "--by",
                            "demo-reviewer",
                            "--reason",
                            "the plan adds one instance",
                            store_flag ? "--store" : NULL,
                            store,
                            NULL};
            execv(bin, argv);
            _exit(127);
        }
        int st = 1;
        waitpid(c, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            _exit(0);
        usleep(100000);
    }
    _exit(1);
}

int ag__cli_pipeline_demo(const char *store, const char *policy)
{
    char tmp[4096], file[4096];
    snprintf(tmp, sizeof tmp, "%s", ag_policy_default_path());
    snprintf(file, sizeof file, "%.3900s/../examples/pipelines/infrastructure-deploy.yaml",
             dirname(tmp));
    if (access(file, R_OK) != 0) {
        ag__cli_error("demo --pipeline: %s: not found (run it from a build tree)", file);
        return AG_EXIT_ERROR;
    }
    printf("agentgov demo --pipeline: the seed's pipeline, governed end to end\n\n"
           "1. The pipeline (%s):\n"
           "   plan (agent planner) -> review (human gate) -> execute (agent executor),\n"
           "   the plan's terraform-plan artifact passed to execute\n",
           file);
    struct ag__cli_gov g;
    int rc = ag__cli_gov_open(&g, store, policy);
    if (rc)
        return rc;
    static struct ag__cli_plsrc src;
    src.gov = g.gov;
    ag_pipeline *p = NULL;
    if ((rc = ag__cli_pl_load(file, &src, &p))) {
        ag__cli_gov_close(&g);
        return rc;
    }
    struct ag_pipeline_env env = {.store = g.store, .ledger = g.ledger};
    char run[33];
    ag_err e = ag_pipeline_create_run(&env, p, NULL, 0, run);
    ag_pipeline_free(p);
    if (e) {
        ag__cli_error_ag(e, "demo --pipeline");
        ag__cli_gov_close(&g);
        return AG_EXIT_ERROR;
    }
    printf("   validated, run %s created: every stage checkpointed as pending\n\n"
           "2. Each stage runs as a governed, sandboxed agent (`agentgov run`); a reviewer\n"
           "   in another process approves the gate (`agentgov pipeline approve %s review`)\n",
           run, run);
    fflush(stdout);
    struct ag__cli_plexec probe;
    ag__cli_plexec_init(&probe);
    pid_t reviewer = spawn_reviewer(probe.bin, run, store);
    struct plopts o;
    memset(&o, 0, sizeof o);
    o.store = store;
    o.policy = policy;
    rc = drive(&g, &o, run, 1);
    if (reviewer > 0) {
        kill(reviewer, SIGTERM);
        waitpid(reviewer, NULL, 0);
    }
    printf("\n3. Where it stands (`agentgov pipeline status %s`):\n", run);
    char *js = NULL;
    if (ag_pipeline_status(g.store, run, &js) == AG_OK)
        print_status(js);
    free(js);
    ag__cli_gov_close(&g);
    printf("\n4. Every state change is in the ledger (kind pipeline); it verifies:\n");
    fflush(stdout);
    char *largv[] = {"ledger", "verify", NULL};
    int vrc = ag__cmd_ledger(2, largv);
    printf("\nData directory: %s\n", ag__cli_dir());
    return rc == 0 && vrc == 0 ? 0 : AG_EXIT_ERROR;
}

static const struct {
    const char *name, *opts;
    int npos;
    const char *what;
} subs[] = {
    {"run", "store policy param json work-dir", 1, "FILE"},
    {"resume", "store policy json work-dir", 1, "RUN"},
    {"status", "store policy json", 1, "RUN"},
    {"list", "store policy json", 0, ""},
    {"cancel", "store policy by", 1, "RUN"},
    {"approve", "store policy by reason", 2, "RUN STAGE"},
    {"deny", "store policy by reason", 2, "RUN STAGE"},
};

static int dispatch(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(argv[0], subs[i].name) != 0)
            continue;
        struct plopts o;
        if (parse_opts(argc, argv, subs[i].opts, subs[i].npos, &o) != 0)
            return AG_EXIT_USAGE;
        if (o.npos != subs[i].npos) {
            ag__cli_error("pipeline %s: expected %s (see agentgov pipeline --help)", argv[0],
                          subs[i].what);
            return AG_EXIT_USAGE;
        }
        struct ag__cli_gov g;
        int rc = ag__cli_gov_open(&g, o.store, o.policy);
        if (rc)
            return rc;
        switch (i) {
        case 0:
            rc = do_run(&g, &o);
            break;
        case 1:
            rc = drive(&g, &o, o.pos[0], 0);
            break;
        case 2:
            rc = do_status(&g, &o);
            break;
        case 3:
            rc = do_list(&g, &o);
            break;
        case 4:
            rc = do_cancel(&g, &o);
            break;
        default:
            rc = do_answer(&g, &o, i == 5);
            break;
        }
        ag__cli_gov_close(&g);
        return rc;
    }
    ag__cli_error("pipeline: unknown subcommand '%s' (see agentgov pipeline --help)", argv[0]);
    return AG_EXIT_USAGE;
}

int ag__cmd_pipeline(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : 0;
    }
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "validate") == 0)
        return do_validate(argc - 1, argv + 1);
    return dispatch(argc - 1, argv + 1);
}
