/* `agentgov demo`: walks a sample governed task end to end on embedded defaults and
 * tells what happens at each step: agent alpha is revoked for a forbidden action and
 * writes a handoff; agent beta may only take the task once that handoff exists,
 * bootstraps from it and completes every phase; then the ledger is verified. Nothing
 * here is simulated: every step goes through the library as an agent's would. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cliutil.h"
#include "cli/cmd_pipeline_src.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "core/crypto.h"
#include "core/time.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov demo [--multi-agent | --pipeline] [--dir DIR] [--store URL]\n"
            "                     [--policy FILE]\n\n"
            "Walks a sample governed task end to end and narrates it: agent alpha (T1) is\n"
            "revoked for a forbidden action and writes a handoff; agent beta bootstraps\n"
            "from it and completes BOOTSTRAP..EXIT; the audit ledger is then verified.\n\n"
            "  --multi-agent  instead: a team of governed LLM agents offline, from a shipped\n"
            "                 replay file (ALPHA and BETA disagree, GAMMA is spawned on\n"
            "                 CONFLICT, a consensus is reached): agentgov orchestrate --demo\n"
            "  --dir DIR      data directory (initialised if it has no ledger); without it\n"
            "                 (and without --dir before `demo` or $AGENTGOV_DIR) the demo\n"
            "                 uses a new temporary directory and keeps it for inspection\n"
            "  --store URL    state store (else $AGENTGOV_STORE, else the embedded store)\n"
            "  --policy FILE  policy (else <dir>/policy.yaml, else the shipped default)\n"
            "  --pipeline     instead, run the seed's pipeline example (plan, a human gate,\n"
            "                 execute) offline: examples/pipelines/infrastructure-deploy.yaml\n\n"
            "Exits 0 when the story ran as told and the ledger verified, 4 (ERROR) otherwise.\n");
    ag__cli_print_exit_statuses(out);
}

struct demo {
    struct ag__cli_gov c;
    char task[64];
    int failed;
    int revocations;
    char alpha_token[AG_TOKEN_BUF];       /* "" when the auth engine is not set up */
    char alpha_accessor[AG_ACCESSOR_BUF]; /* what the story prints: never the token */
};

#define SAY(...) printf(__VA_ARGS__)

static void fail(struct demo *d, const char *what)
{
    printf("  !! unexpected: %s\n", what);
    d->failed = 1;
}

static char *packet(const char *agent, const char *task, const char *objective,
                    const char *deliverables)
{
    char now[AG_RFC3339_LEN];
    ag__rfc3339(ag__wall_ms(), now);
    char *buf = malloc(2048);
    if (buf)
        snprintf(buf, 2048,
                 "{\"agent_id\":\"%s\",\"task_id\":\"%s\",\"created_for\":\"ops-team\","
                 "\"objective\":\"%s\",\"deliverables\":[%s],"
                 "\"constraints\":{\"scope\":[\"sandbox/**\"],"
                 "\"forbidden\":[\"ansible.apply\",\"prod.*\"],"
                 "\"required_steps\":[\"inventory.read\",\"plan.generate\",\"ssh.exec\"]},"
                 "\"success_criteria\":[\"nginx -t passes on sandbox/web/01\"],"
                 "\"escalation_rules\":[\"page ops-oncall after 10 minutes unreachable\"],"
                 "\"created_at\":\"%s\"}",
                 agent, task, objective, deliverables, now);
    return buf;
}

static void step_register(struct demo *d, const char *agent, const char *objective,
                          const char *deliverables)
{
    char *p = packet(agent, d->task, objective, deliverables);
    ag_err e = p ? ag_gov_register(d->c.gov, agent, 1, p) : AG_ENOMEM;
    free(p);
    if (e) {
        printf("  register %s: %s: %s\n", agent, ag_strerror(e), ag_last_error());
        d->failed = 1;
        return;
    }
    SAY("  %-6s tier 1 (Operator); packet: task %s, scope sandbox/**, forbidden ansible.apply "
        "prod.*\n",
        agent, d->task);
}

/* Gives alpha credentials through AppRole (role bound to the agent, secret ID, login)
 * so that the story can show them revoked with the agent. */
static void step_login(struct demo *d, const char *agent)
{
    if (!d->c.auth) {
        SAY("  (no master key in this data directory: no credentials are issued)\n");
        return;
    }
    struct ag_role role;
    memset(&role, 0, sizeof role);
    snprintf(role.name, sizeof role.name, "%s-role", agent);
    snprintf(role.agent_id, sizeof role.agent_id, "%s", agent);
    role.tier = 1;
    char sid[AG_UUID_BUF];
    struct ag_token_info ti;
    memset(&ti, 0, sizeof ti);
    if (ag_auth_role_write(d->c.auth, &role) ||
        ag_auth_secret_id_create(d->c.auth, role.name, -1, -1, sid, NULL) ||
        ag_auth_login(d->c.auth, role.role_id, sid, "127.0.0.1", d->alpha_token, &ti)) {
        fail(d, ag_last_error());
        d->alpha_token[0] = 0;
        return;
    }
    snprintf(d->alpha_accessor, sizeof d->alpha_accessor, "%s", ti.accessor);
    SAY("  %s logs in with AppRole -> a token (accessor %s; tier %d, policy %s, TTL %llds)\n",
        agent, ti.accessor, ti.tier, ti.npolicies ? ti.policies[0] : "-",
        (long long)(ti.ttl_ms / 1000));
    ag_token_info_clear(&ti);
}

static void show_token_revoked(struct demo *d)
{
    if (!d->alpha_token[0])
        return;
    struct ag_token_info ti;
    memset(&ti, 0, sizeof ti);
    ag_err e = ag_auth_token_lookup(d->c.auth, d->alpha_token, &ti);
    ag_token_info_clear(&ti);
    SAY("      alpha's token (accessor %s): %s\n", d->alpha_accessor,
        e ? ag_last_error() : "STILL VALID");
    if (!e)
        fail(d, "alpha's token survived its revocation");
}

static enum ag_boot_code step_bootstrap(struct demo *d, const char *agent, char **handoff)
{
    struct ag_bootstrap_result r;
    if (ag_gov_bootstrap(d->c.gov, agent, d->task, &r)) {
        fail(d, ag_last_error());
        return AG_BOOT_STORE_UNAVAILABLE;
    }
    enum ag_boot_code code = r.code;
    if (code == AG_BOOT_COMPLETE)
        SAY("  %s bootstrap -> %s (lock agent:%s:lock, fencing token %lld)\n", agent,
            ag_boot_code_name(code), agent, (long long)r.fence);
    else
        SAY("  %s bootstrap -> %s\n      (%s)\n", agent, ag_boot_code_name(code), ag_last_error());
    if (handoff) {
        *handoff = r.handoff_json;
        r.handoff_json = NULL;
    }
    ag_bootstrap_result_clear(&r);
    return code;
}

static int step_phase(struct demo *d, const char *agent, enum ag_phase ph, const char *step)
{
    struct ag_transition_result r;
    if (ag_gov_transition(d->c.gov, agent, ph, step, &r) || !r.ok) {
        printf("  %s -> %s refused: %s (%s)\n", agent, ag_phase_name(ph), ag_reason_name(r.reason),
               r.detail);
        d->failed = 1;
        return -1;
    }
    SAY("  %s -> %-9s (%s)\n", agent, ag_phase_name(ph), step);
    return 0;
}

static enum ag_effect step_act(struct demo *d, const char *agent, const char *action,
                               const char *resource, enum ag_effect expect, const char *why)
{
    struct ag_gov_decision dec;
    enum ag_effect eff = ag_gov_authorize(d->c.gov, agent, action, resource, 900, &dec);
    char rule[300] = "";
    if (dec.rule_file) {
        const char *base = strrchr(dec.rule_file, '/');
        snprintf(rule, sizeof rule, ", %s:%d", base ? base + 1 : dec.rule_file, dec.rule_line);
    }
    SAY("      authorize %-14s %-16s -> %-5s %s%s, ledger #%lld%s\n", action, resource,
        ag_effect_name(eff), ag_reason_name(dec.reason), rule, (long long)dec.ledger_seq,
        why ? why : "");
    if (dec.revoked) {
        d->revocations++;
        SAY("      => procedure violation: %s is REVOKED at once\n", agent);
    }
    if (eff != expect)
        fail(d, "decision differs from the story");
    return eff;
}

static void show_revocation(struct demo *d, const char *agent)
{
    struct ag_agent_status s;
    if (ag_gov_status(d->c.gov, agent, &s))
        return;
    json_t *st = s.state_json ? json_loads(s.state_json, 0, NULL) : NULL;
    json_t *rev = json_object_get(st, "revocation");
    SAY("      state %s (%s: %s), lock %s, demoted to tier %d,\n"
        "      entry on revocations:ledger; a handoff is now required for task %s\n",
        json_string_value(json_object_get(st, "phase")),
        json_string_value(json_object_get(rev, "type")),
        json_string_value(json_object_get(rev, "details")), s.lock ? "STILL HELD" : "released",
        s.tier, d->task);
    if (s.lock || !s.revoked)
        fail(d, "revocation incomplete");
    json_decref(st);
    ag_agent_status_clear(&s);
}

static void write_handoff(struct demo *d)
{
    char h[2048];
    snprintf(
        h, sizeof h,
        "{\"task_id\":\"%s\",\"previous_agent_id\":\"alpha\",\"revoked\":true,"
        "\"revocation_reason\":{\"type\":\"PROCEDURE_VIOLATION\","
        "\"details\":\"forbidden action ansible.apply on sandbox/web\"},"
        "\"last_known_state\":{\"phase\":\"EXECUTE\",\"step\":\"apply-config\"},"
        "\"what_was_tried\":[\"ssh.exec nginx -t on sandbox/web/01: config test passes\"],"
        "\"blocking_issue\":\"ansible.apply is forbidden for this task\","
        "\"required_next_actions\":[\"push nginx.conf with ssh.exec\","
        "\"reload nginx on sandbox/web/01\"],"
        "\"constraints_reminder\":[\"scope: sandbox/**\",\"forbidden: ansible.apply, prod.*\"],"
        "\"artifacts\":[\"plan.md\"]}",
        d->task);
    ag_err e = ag_gov_write_handoff(d->c.gov, h);
    if (e) {
        fail(d, ag_last_error());
        return;
    }
    SAY("  alpha writes its handoff -> handoff:%s:latest (validated, ledgered)\n", d->task);
}

static void run_beta(struct demo *d)
{
    char *handoff = NULL;
    if (step_bootstrap(d, "beta", &handoff) != AG_BOOT_COMPLETE) {
        fail(d, "beta could not bootstrap");
        return;
    }
    json_t *h = handoff ? json_loads(handoff, 0, NULL) : NULL;
    json_t *next = json_object_get(h, "required_next_actions");
    SAY("      beta reads the handoff: blocking issue \"%s\"; next: \"%s\"\n",
        json_string_value(json_object_get(h, "blocking_issue")),
        json_string_value(json_array_get(next, 0)));
    json_decref(h);
    free(handoff);
    if (step_phase(d, "beta", AG_PHASE_PREFLIGHT, "scope-check") ||
        step_phase(d, "beta", AG_PHASE_PLAN, "write-plan"))
        return;
    step_act(d, "beta", "plan.generate", "sandbox/web/01", AG_EFFECT_ALLOW, NULL);
    if (step_phase(d, "beta", AG_PHASE_EXECUTE, "push-config"))
        return;
    step_act(d, "beta", "ssh.exec", "sandbox/web/01", AG_EFFECT_ALLOW, NULL);
    if (ag_gov_add_artifact(d->c.gov, d->task, "beta", "plan.md", NULL) ||
        ag_gov_add_artifact(d->c.gov, d->task, "beta", "nginx.conf", NULL))
        fail(d, "artifacts");
    SAY("      artifacts plan.md, nginx.conf -> task:%s:artifacts\n", d->task);
    static const struct {
        enum ag_phase ph;
        const char *step;
    } rest[] = {{AG_PHASE_VERIFY, "required artifacts present"},
                {AG_PHASE_PACKAGE, "collect artifacts"},
                {AG_PHASE_REPORT, "write report"},
                {AG_PHASE_EXIT, "release lock"}};
    for (size_t i = 0; i < 4; i++)
        if (step_phase(d, "beta", rest[i].ph, rest[i].step))
            return;
    struct ag_agent_metrics m;
    if (ag_gov_metrics(d->c.gov, "beta", &m) != AG_OK)
        return;
    SAY("      agent_metrics beta: %lld run(s), %lld compliant, streak %lld",
        (long long)m.total_runs, (long long)m.compliant_runs, (long long)m.consecutive_compliant);
    const struct ag_promotion_rule *rules;
    size_t n = ag_policy_promotions(d->c.policy, &rules);
    for (size_t i = 0; i < n; i++)
        if (rules[i].from == m.current_tier)
            SAY(" (T%d->T%d after %d%s)", rules[i].from, rules[i].to,
                rules[i].consecutive_compliant,
                rules[i].requires_approval ? " and a human approval" : "");
    SAY("\n");
}

static void run_alpha(struct demo *d)
{
    if (step_bootstrap(d, "alpha", NULL) != AG_BOOT_COMPLETE) {
        fail(d, "alpha could not bootstrap");
        return;
    }
    if (step_phase(d, "alpha", AG_PHASE_PREFLIGHT, "scope-check") ||
        step_phase(d, "alpha", AG_PHASE_PLAN, "inventory"))
        return;
    step_act(d, "alpha", "inventory.read", "sandbox/web/01", AG_EFFECT_ALLOW, NULL);
    step_act(d, "alpha", "ssh.exec", "sandbox/web/01", AG_EFFECT_DENY, "  (EXECUTE-only)");
    if (step_phase(d, "alpha", AG_PHASE_EXECUTE, "apply-config"))
        return;
    step_act(d, "alpha", "ssh.exec", "sandbox/web/01", AG_EFFECT_ALLOW, NULL);
    step_act(d, "alpha", "ansible.apply", "sandbox/web", AG_EFFECT_DENY, NULL);
    show_revocation(d, "alpha");
    show_token_revoked(d);
    step_act(d, "alpha", "ssh.exec", "sandbox/web/01", AG_EFFECT_DENY, "  (too late)");
}

static void show_keys(struct demo *d)
{
    static const char *const prefixes[] = {
        "agent:alpha:", "agent:beta:", "task:", "handoff:", "revocations:"};
    SAY("\n4. Runtime state (the seed's keyspace, on %s):\n", ag_store_backend(d->c.store));
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        char **keys;
        size_t n;
        if (ag_store_keys(d->c.store, prefixes[i], &keys, &n))
            continue;
        for (size_t k = 0; k < n; k++)
            if (i > 1 ? strstr(keys[k], d->task) || i == 4 : 1)
                SAY("  %s\n", keys[k]);
        ag_store_strv_free(keys, n);
    }
}

static int verify_ledger(struct demo *d)
{
    struct ag_verify_result v;
    ag_err e = ag_ledger_verify(ag__cli_path(AG_HOME_LEDGER_DB), NULL, &v);
    SAY("\n5. Ledger verification (%s)\n", ag__cli_path(AG_HOME_LEDGER_DB));
    if (e) {
        printf("  could not verify: %s: %s\n", ag_strerror(e), ag_last_error());
        return -1;
    }
    SAY("  %s: %lld entries, %lld signed checkpoint(s), head %.16s...\n",
        v.ok ? "chain intact" : "CHAIN BROKEN", (long long)v.entries, (long long)v.checkpoints,
        v.head);
    if (!v.ok && v.whole_ledger)
        printf("  %s\n", v.problem); /* the file or its schema: no one entry */
    else if (!v.ok)
        printf("  first bad entry #%lld: %s\n", (long long)v.bad_seq, v.problem);
    if (!v.ok)
        d->failed = 1;
    return v.ok ? 0 : -1;
}

/* A data directory: the given one (initialised when it has no ledger), else a new
 * temporary one. */
static int prepare_dir(const char *flag, int *fresh)
{
    static char tmp[256];
    *fresh = 0;
    if (flag)
        ag__cli_set_dir(flag);
    else if (!ag__cli_dir_is_set()) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/agentgov-demo-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmp)) {
            ag__cli_error("demo: cannot create a temporary directory in %s", tmp);
            return -1;
        }
        ag__cli_set_dir(tmp);
        *fresh = 1;
    }
    if (access(ag__cli_path(AG_HOME_LEDGER_DB), F_OK) != 0) {
        char *argv[] = {"init", NULL};
        if (ag__cmd_init(1, argv) != 0)
            return -1;
        /* A directory the demo set up gets a master key if init made none, so that the
         * story can issue credentials and show them revoked. */
        if (access(ag__cli_path(AG_HOME_MASTER_KEY), F_OK) != 0) {
            ag_err e = ag_auth_master_key_create(ag__cli_path(AG_HOME_MASTER_KEY));
            if (e) {
                ag__cli_error_ag(e, "master key");
                return -1;
            }
        }
    }
    return 0;
}

static void tell_story(struct demo *d)
{
    SAY("\n1. Agents are registered with a tier and an instruction packet\n");
    step_register(d, "alpha", "Roll out nginx.conf to the sandbox web hosts", "\"plan.md\"");
    step_register(d, "beta", "Finish the nginx rollout after alpha", "\"plan.md\",\"nginx.conf\"");
    step_login(d, "alpha");
    SAY("\n2. alpha runs the task and breaks its constraints\n");
    run_alpha(d);
    SAY("\n3. beta takes over, but only from a handoff\n");
    if (step_bootstrap(d, "beta", NULL) != AG_BOOT_HANDOFF_REQUIRED)
        fail(d, "beta should have needed a handoff");
    write_handoff(d);
    run_beta(d);
    show_keys(d);
}

int ag__cmd_demo(int argc, char **argv)
{
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},    {"store", required_argument, NULL, 's'},
        {"policy", required_argument, NULL, 'p'}, {"pipeline", no_argument, NULL, 'P'},
        {"multi-agent", no_argument, NULL, 'm'},  {NULL, 0, NULL, 0}};
    int multi = 0;
    const char *dir = NULL, *store = NULL, *policy = NULL;
    int c, pipeline = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 's')
            store = optarg;
        else if (c == 'p')
            policy = optarg;
        else if (c == 'P')
            pipeline = 1;
        else if (c == 'm')
            multi = 1;
        else {
            usage(stderr);
            return AG_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        ag__cli_error("demo: unexpected argument '%s'", argv[optind]);
        return AG_EXIT_USAGE;
    }
    int fresh;
    if (ag__crypto_init() || prepare_dir(dir, &fresh))
        return AG_EXIT_ERROR;
    if (pipeline)
        return ag__cli_pipeline_demo(store, policy);
    if (multi) {
        /* The multi-agent story is `orchestrate --demo` (in agentgovd: it needs libcurl). */
        char *nargv[8] = {"orchestrate", "--demo"}, sbuf[4096], pbuf[4096];
        int k = 2;
        if (store) {
            snprintf(sbuf, sizeof sbuf, "%s", store);
            nargv[k++] = "--store";
            nargv[k++] = sbuf;
        }
        if (policy) {
            snprintf(pbuf, sizeof pbuf, "%s", policy);
            nargv[k++] = "--policy";
            nargv[k++] = pbuf;
        }
        printf("agentgov demo --multi-agent: data dir %s%s\n", ag__cli_dir(),
               fresh ? " (new, kept for inspection)" : "");
        fflush(stdout);
        return ag__cmd_orchestrate(k, nargv);
    }
    struct demo d;
    memset(&d, 0, sizeof d);
    int open_rc = ag__cli_gov_open(&d.c, store, policy);
    if (open_rc)
        return open_rc;
    char rnd[5];
    ag__random_hex(2, rnd);
    snprintf(d.task, sizeof d.task, "web-rollout-%s", rnd);
    SAY("agentgov demo: one governed task, two agents\n");
    const char *url = "";
    if (ag_home_store_url(d.c.home, &url) != AG_OK) /* the store is open: cannot fail */
        url = "";
    SAY("  data dir %s%s\n  store    %s\n  policy   %s\n", ag__cli_dir(),
        fresh ? " (new, kept for inspection)" : "", url, ag_policy_path(d.c.policy));
    tell_story(&d);
    ag__cli_gov_close(&d.c); /* closing the ledger seals it with a signed checkpoint */
    int bad = verify_ledger(&d) != 0 || d.failed;
    SAY("\n%s\n", bad ? "The demo did NOT run as told (see the lines marked !!)."
                      : "Done: every decision was ledgered before it was returned; the forbidden "
                        "action revoked alpha at once;\nbeta took over from alpha's handoff and "
                        "completed BOOTSTRAP..EXIT; the chain verifies.");
    if (!bad)
        SAY("Inspect: agentgov --dir %s ledger tail   |   agentgov --dir %s agent status alpha\n",
            ag__cli_dir(), ag__cli_dir());
    return bad ? AG_EXIT_ERROR : 0;
}
