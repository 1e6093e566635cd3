/* `agentgov orchestrate "OBJECTIVE"`: a task run by governed LLM agents to a consensus
 * (include/agentgov/coord.h, docs/coordination.md). Lives in agentgovd (it needs
 * libcurl); the lean agentgov execs it (daemon_exec.c). `agentgov demo --multi-agent`
 * comes here with --demo: the shipped replay, offline. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "agentgov/coord.h"
#include "agentgov/llm.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "cli/orch_exec.h"
#include "core/fileio.h"
#include "core/time.h"
#include "core/stopsig.h"

#ifndef AG_EXAMPLES_DIR
#define AG_EXAMPLES_DIR "examples"
#endif
#define DEMO_REPLAY "multi-agent/replay.jsonl"
#define DEMO_OBJECTIVE                                                                             \
    "Choose an eviction policy for the session cache of a web service with hot keys"

#define EXIT_INTERRUPTED 11 /* as pipeline run: a signal ended it early */

/* A signal ends the task through the monitor, which records what was done so far:
 * killed outright, the task would leave neither its metrics nor its ledger entry. */
static volatile sig_atomic_t interrupted;
static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov orchestrate \"OBJECTIVE\" [--task ID] [--llm URL|replay:FILE]\n"
            "       [--model M] [--agents alpha,beta] [--timeout 10m] [--record FILE]\n"
            "       [--max-turns N] [--max-tokens N] [--stuck 30s] [--conflicts 3]\n"
            "       [--complexity 0.8] [--no-gamma] [--workdir DIR] [--artifacts DIR]\n"
            "       [--ask-timeout 5m] [--tier N] [--json] [--report FILE] [--store URL]\n"
            "       [--policy FILE]\n\n"
            "Runs a task with governed LLM agents: ALPHA (research, proposals) and BETA\n"
            "(evaluation, synthesis) in parallel; GAMMA when they are STUCK, in CONFLICT, the\n"
            "task's COMPLEXITY is high, or a SUCCESS needs validation; then a consensus vote.\n"
            "Every tool call a model makes is authorized and ledgered first.\n\n"
            "  --llm URL|replay:FILE  OpenAI-compatible base URL (…/v1), or a replay file\n"
            "                         (else config llm.base_url)\n"
            "  --model M              model name (else config llm.model)\n"
            "  --record FILE          append every exchange to FILE (a replay file)\n"
            "  --agents LIST          roles of the first wave (default alpha,beta)\n"
            "  --timeout D            whole task (default 10m)\n"
            "  --max-turns N          model calls per agent (default 12)\n"
            "  --max-tokens N         each agent's llm_budget.max_tokens (default none)\n"
            "  --stuck D, --conflicts N, --complexity X   GAMMA's spawn thresholds\n"
            "  --no-gamma             never spawn GAMMA\n"
            "  --workdir DIR          offer the workdir tools (shell_exec under the kernel\n"
            "                         sandbox of the agents' tier, file_read, file_write\n"
            "                         beneath DIR), each authorized first\n"
            "  --artifacts DIR        the task's artifacts: offer artifact_read (read-only,\n"
            "                         authorized as artifact.read on the resolved path);\n"
            "                         the consensus is written there as consensus.json\n"
            "  --ask-timeout D        how long a tool call the policy answers \"ask\" waits\n"
            "                         for a person (agentgov approval approve ID); default\n"
            "                         config orchestrate.ask_timeout (5m)\n"
            "  --tier N               the agents' registered tier (default 1)\n"
            "  --json                 print the result as one JSON object\n"
            "  --report FILE          also write it to FILE (atomically, when the task\n"
            "                         ends; a pipeline's orchestrate stage reads it)\n\n"
            "The API key is read from the secret store, never from the command line or the\n"
            "environment: config llm.api_key = kv:<path>#<field> (docs/llm.md).\n\n"
            "SIGINT, SIGTERM or SIGHUP ends the task early: each agent stops after the\n"
            "model or tool call it is in, the result and its metrics are still recorded,\n"
            "and the outcome is \"interrupted\".\n\n"
            "Exit status: 0 consensus, 2 (DENY) no consensus or timeout, 1 bad input,\n"
            "4 could not run, 11 interrupted by a signal.\n");
    ag__cli_print_exit_statuses(out);
}

struct oargs {
    const char *task, *llm, *model, *agents, *timeout, *record, *store, *policy, *stuck,
        *complexity, *workdir, *artifacts, *ask_timeout, *report;
    long max_turns, max_tokens, conflicts, tier;
    int json, no_gamma, demo;
};

enum {
    O_TASK = 1000,
    O_LLM,
    O_MODEL,
    O_AGENTS,
    O_TIMEOUT,
    O_RECORD,
    O_STORE,
    O_POLICY,
    O_STUCK,
    O_COMPLEXITY,
    O_TURNS,
    O_TOKENS,
    O_CONFLICTS,
    O_JSON,
    O_NOGAMMA,
    O_DEMO,
    O_WORKDIR,
    O_TIER,
    O_ARTIFACTS,
    O_ASK_TIMEOUT,
    O_REPORT
};
static const struct option longopts[] = {
    {"task", required_argument, NULL, O_TASK},
    {"llm", required_argument, NULL, O_LLM},
    {"model", required_argument, NULL, O_MODEL},
    {"agents", required_argument, NULL, O_AGENTS},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"record", required_argument, NULL, O_RECORD},
    {"store", required_argument, NULL, O_STORE},
    {"policy", required_argument, NULL, O_POLICY},
    {"stuck", required_argument, NULL, O_STUCK},
    {"complexity", required_argument, NULL, O_COMPLEXITY},
    {"max-turns", required_argument, NULL, O_TURNS},
    {"max-tokens", required_argument, NULL, O_TOKENS},
    {"conflicts", required_argument, NULL, O_CONFLICTS},
    {"json", no_argument, NULL, O_JSON},
    {"no-gamma", no_argument, NULL, O_NOGAMMA},
    {"demo", no_argument, NULL, O_DEMO},
    {"workdir", required_argument, NULL, O_WORKDIR},
    {"tier", required_argument, NULL, O_TIER},
    {"artifacts", required_argument, NULL, O_ARTIFACTS},
    {"ask-timeout", required_argument, NULL, O_ASK_TIMEOUT},
    {"report", required_argument, NULL, O_REPORT},
    {NULL, 0, NULL, 0},
};

static int num(const char *name, const char *v, long lo, long hi, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < lo || n > hi) {
        ag__cli_error("--%s: '%s' is not a number %ld..%ld", name, v, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

static int set_opt(int c, const char *name, void *ctx)
{
    struct oargs *a = ctx;
    switch (c) {
    case O_TASK:
        a->task = optarg;
        break;
    case O_LLM:
        a->llm = optarg;
        break;
    case O_MODEL:
        a->model = optarg;
        break;
    case O_AGENTS:
        a->agents = optarg;
        break;
    case O_TIMEOUT:
        a->timeout = optarg;
        break;
    case O_RECORD:
        a->record = optarg;
        break;
    case O_STORE:
        a->store = optarg;
        break;
    case O_POLICY:
        a->policy = optarg;
        break;
    case O_STUCK:
        a->stuck = optarg;
        break;
    case O_COMPLEXITY:
        a->complexity = optarg;
        break;
    case O_TURNS:
        return num(name, optarg, 1, 1000, &a->max_turns);
    case O_TOKENS:
        return num(name, optarg, 1, 1000000000L, &a->max_tokens);
    case O_CONFLICTS:
        return num(name, optarg, 1, 1000, &a->conflicts);
    case O_JSON:
        a->json = 1;
        break;
    case O_NOGAMMA:
        a->no_gamma = 1;
        break;
    case O_WORKDIR:
        a->workdir = optarg;
        break;
    case O_TIER:
        return num(name, optarg, 0, 4, &a->tier);
    case O_ARTIFACTS:
        a->artifacts = optarg;
        break;
    case O_ASK_TIMEOUT:
        a->ask_timeout = optarg;
        break;
    case O_DEMO:
        a->demo = 1;
        break;
    case O_REPORT:
        a->report = optarg;
        break;
    }
    return 0;
}

static int duration(const char *flag, const char *v, int64_t *ms)
{
    if (!v)
        return 0;
    if (ag__parse_duration(v, ms) != AG_OK || *ms <= 0) {
        ag__cli_error("--%s: '%s' is not a duration (e.g. 30s, 10m)", flag, v);
        return -1;
    }
    return 0;
}

/* The API key named by llm.api_key, read with the data directory's root token. NULL
 * in *key when none is configured. */
static int api_key(struct ag__cli_gov *c, const ag_config *cfg, char **key)
{
    *key = NULL;
    const char *ref = ag_config_str(cfg, "llm.api_key");
    if (!ref || !*ref)
        return 0;
    if (!c->auth) {
        ag__cli_error("llm.api_key: the secret store is not set up here (no master key; "
                      "agentgov init creates one)");
        return -1;
    }
    char tok[AG_TOKEN_BUF];
    ag_err e = ag_auth_token_read_file(ag__cli_path(AG_HOME_ROOT_TOKEN), tok);
    if (!e)
        e = ag_llm_key_resolve(c->auth, tok, ref, key);
    sodium_memzero(tok, sizeof tok);
    if (e) {
        ag__cli_error_ag(e, "llm.api_key");
        return -1;
    }
    return 0;
}

/* The task's counts against the seed's table of a multi-agent task (its "Performance
 * Benchmarks": 20-30 messages, 40-60 blackboard ops, 6-12 LLM calls per task). */
static void seed_table(const struct ag_orch_result *r)
{
    static const struct {
        const char *name;
        long lo, hi;
    } rows[] = {{"messages", 20, 30}, {"blackboard ops", 40, 60}, {"LLM calls", 6, 12}};
    const long ours[] = {(long)r->coord.messages, (long)r->coord.blackboard_ops,
                         (long)r->llm_calls};
    printf("\nagainst the seed's table (multi-agent task)\n");
    printf("  %-16s %6s  %-8s\n", "", "ours", "seed");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char range[24];
        snprintf(range, sizeof range, "%ld-%ld", rows[i].lo, rows[i].hi);
        printf("  %-16s %6ld  %-8s %s\n", rows[i].name, ours[i], range,
               ours[i] < rows[i].lo   ? "below"
               : ours[i] > rows[i].hi ? "above"
                                      : "within");
    }
}

static void print_result(const struct ag_orch_result *r)
{
    printf("task            %s\n", r->task_id);
    printf("outcome         %s (%s)\n", r->outcome, r->reason);
    printf("GAMMA spawned   %s\n",
           r->gamma_reason == AG_SPAWN_NONE ? "no" : ag_spawn_reason_name(r->gamma_reason));
    if (r->complexity_pm >= 0)
        printf("complexity      %d.%03d (planner's estimate)\n", r->complexity_pm / 1000,
               r->complexity_pm % 1000);
    printf("duration        %lld ms\n", (long long)r->duration_ms);
    printf("messages        %lld\n", (long long)r->coord.messages);
    printf("blackboard ops  %lld\n", (long long)r->coord.blackboard_ops);
    printf("votes           %lld\n", (long long)r->coord.votes);
    printf("tool calls      %d (%d denied)\n", r->tool_calls, r->tool_denied);
    printf("LLM calls       %lld\n", (long long)r->llm_calls);
    printf("tokens          %lld prompt + %lld completion\n", (long long)r->prompt_tokens,
           (long long)r->completion_tokens);
    printf("cost            $%lld.%06lld\n", (long long)(r->cost_microusd / 1000000),
           (long long)(r->cost_microusd % 1000000));
    printf("agents revoked  %d\n", r->revoked);
    if (r->final_json)
        printf("consensus       %s\n", r->final_json);
    seed_table(r);
}

/* An agent's tool call waits for a person: say which approval to decide (stderr, so
 * that --json stays one object on stdout). */
static void say_ask(void *ctx, enum ag_approval_event ev, const char *id, const char *json)
{
    (void)ctx;
    if (ev != AG_APPROVAL_REQUESTED)
        return;
    json_t *a = json_loads(json, 0, NULL);
    fprintf(stderr,
            "agentgov orchestrate: %s asks for %s on %s: waiting for approval %s "
            "(agentgov approval approve %s)\n",
            json_string_value(json_object_get(a, "agent_id")) ?: "?",
            json_string_value(json_object_get(a, "action")) ?: "?",
            json_string_value(json_object_get(a, "resource")) ?: "?", id, id);
    json_decref(a);
}

/* Splits "alpha,beta" into roles (at most n). */
static size_t split_roles(char *list, const char **roles, size_t n)
{
    size_t k = 0;
    for (char *sv, *t = strtok_r(list, ",", &sv); t && k < n; t = strtok_r(NULL, ",", &sv))
        roles[k++] = t;
    return k;
}

int ag__cmd_orchestrate(int argc, char **argv)
{
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct oargs a;
    memset(&a, 0, sizeof a);
    char *pos[2];
    int np = ag__cli_walk_opts(
        argc, argv, longopts, 0,
        "task llm model agents timeout record store policy stuck "
        "complexity max-turns max-tokens conflicts json no-gamma demo workdir tier artifacts "
        "ask-timeout report",
        set_opt, &a, pos, 2);
    if (np < 0)
        return AG_EXIT_USAGE;
    const char *objective = np >= 1 ? pos[0] : a.demo ? DEMO_OBJECTIVE : NULL;
    if (!objective || !*objective || np > 1) {
        usage(stderr);
        return AG_EXIT_USAGE;
    }
    struct ag_orch_opts o;
    memset(&o, 0, sizeof o);
    if (duration("timeout", a.timeout, &o.timeout_ms) || duration("stuck", a.stuck, &o.stuck_ms) ||
        duration("ask-timeout", a.ask_timeout, &o.ask_timeout_ms))
        return AG_EXIT_USAGE;
    if (a.complexity) {
        char *end;
        double x = strtod(a.complexity, &end);
        if (end == a.complexity || *end || x < 0 || x > 1) {
            ag__cli_error("--complexity: '%s' is not a number 0..1", a.complexity);
            return AG_EXIT_USAGE;
        }
        o.complexity_pm = (int)(x * 1000 + 0.5);
    }
    char demo_replay[4096];
    if (a.demo) {
        snprintf(demo_replay, sizeof demo_replay, "replay:%s/%s", AG_EXAMPLES_DIR, DEMO_REPLAY);
        a.llm = a.llm ? a.llm : demo_replay;
        a.model = a.model ? a.model : "demo";
        a.task = a.task ? a.task : "demo-multi-agent";
    }
    struct ag__cli_gov c;
    int rc = ag__cli_gov_open(&c, a.store, a.policy);
    if (rc)
        return rc;
    const ag_config *cfg = NULL;
    if (ag_home_config(c.home, &cfg) != AG_OK) {
        ag__cli_gov_close(&c);
        return ag__cli_home_fail(AG_EXIT_USAGE);
    }
    struct ag_llm_opts lo;
    ag_llm_opts_from_config(cfg, &lo);
    if (a.llm)
        lo.provider = a.llm;
    if (a.model)
        lo.model = a.model;
    lo.record_path = a.record;
    lo.ledger = c.ledger;
    lo.gov = c.gov;
    lo.store = c.store;
    char *key = NULL;
    ag_llm *llm = NULL;
    ag_coord *coord = NULL;
    ag_err e;
    int is_replay = lo.provider && strncmp(lo.provider, "replay:", 7) == 0;
    if (!is_replay && api_key(&c, cfg, &key)) {
        ag__cli_gov_close(&c);
        return AG_EXIT_USAGE;
    }
    lo.api_key = key;
    e = ag_llm_new(&lo, &llm);
    if (key) {
        sodium_memzero(key, strlen(key));
        free(key);
    }
    if (e) {
        ag__cli_error_ag(e, "llm");
        ag__cli_gov_close(&c);
        return e == AG_EINVAL || e == AG_EPARSE || e == AG_ENOTFOUND ? AG_EXIT_USAGE
                                                                     : AG_EXIT_ERROR;
    }
    if ((e = ag_coord_new(c.store, c.gov, c.ledger, 0, &coord))) {
        ag__cli_error_ag(e, "coordination");
        ag_llm_free(llm);
        ag__cli_gov_close(&c);
        return AG_EXIT_ERROR;
    }
    char agents_buf[256];
    const char *roles[3];
    if (a.agents) {
        snprintf(agents_buf, sizeof agents_buf, "%s", a.agents);
        o.nagents = split_roles(agents_buf, roles, 3);
        o.agents = roles;
    }
    o.objective = objective;
    o.task_id = a.task;
    o.llm = llm;
    o.coord = coord;
    o.gov = c.gov;
    o.ledger = c.ledger;
    o.store = c.store;
    o.max_turns = (int)a.max_turns;
    o.max_tokens_per_agent = a.max_tokens;
    o.conflict_threshold = (int)a.conflicts;
    o.no_gamma = a.no_gamma;
    o.tier = (int)a.tier;
    struct ag__orch_exec ox = {.dirfd = -1};
    if (a.workdir) {
        if (ag__orch_exec_init(&ox, c.policy, a.workdir, 0)) {
            ag_coord_free(coord);
            ag_llm_free(llm);
            ag__cli_gov_close(&c);
            return AG_EXIT_USAGE;
        }
        o.exec = ag__orch_exec;
        o.exec_ctx = &ox;
    }
    ag_approve *ap = NULL;
    struct ag_approve_opts ao = {.store = c.store,
                                 .ledger = c.ledger,
                                 .auth = c.auth,
                                 .default_timeout_ms = ag_config_ms(cfg, "approvals.timeout")};
    if ((e = ag_approve_new(&ao, &ap))) {
        ag__cli_error_ag(e, "approvals");
        ag__orch_exec_close(&ox);
        ag_coord_free(coord);
        ag_llm_free(llm);
        ag__cli_gov_close(&c);
        return AG_EXIT_ERROR;
    }
    ag_approve_set_event_hook(ap, say_ask, NULL);
    o.approve = ap;
    o.policy = c.policy;
    if (!o.ask_timeout_ms)
        o.ask_timeout_ms = ag_config_ms(cfg, "orchestrate.ask_timeout");
    o.artifacts_dir = a.artifacts;
    if (!a.json)
        printf("agentgov orchestrate: %s\n  model %s via %s\n\n", objective,
               lo.model ? lo.model : "-", lo.provider ? lo.provider : "-");
    interrupted = 0;
    ag__catch_stop_signals(&interrupted);
    o.interrupt = &interrupted;
    struct ag_orch_result r;
    e = ag_orchestrate(&o, &r);
    if (e) {
        ag__cli_error_ag(e, "orchestrate");
        rc = e == AG_EINVAL ? AG_EXIT_USAGE : AG_EXIT_ERROR;
    } else {
        char *js = NULL;
        if ((a.json || a.report) && ag_orch_result_json(&r, &js) != AG_OK)
            js = NULL;
        if (a.report && (!js || ag__write_file_atomic(a.report, js, strlen(js), 0600, 0))) {
            ag__cli_error("orchestrate: --report %s: could not write the report", a.report);
            rc = AG_EXIT_ERROR;
        }
        if (a.json && js)
            printf("%s\n", js);
        else
            print_result(&r);
        free(js);
        rc = rc                                  ? rc
             : !strcmp(r.outcome, "consensus")   ? 0
             : !strcmp(r.outcome, "failed")      ? AG_EXIT_ERROR
             : !strcmp(r.outcome, "interrupted") ? EXIT_INTERRUPTED
                                                 : AG_EXIT_DENY;
    }
    ag_orch_result_clear(&r);
    ag_approve_free(ap);
    ag__orch_exec_close(&ox);
    ag_coord_free(coord);
    ag_llm_free(llm);
    ag__cli_gov_close(&c);
    return rc;
}
