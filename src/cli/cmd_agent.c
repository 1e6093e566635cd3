/* `agentgov agent`: register, inspect, revoke, promote and demote agents, and the
 * lifecycle subcommands scripts use (bootstrap, transition, heartbeat, authorize,
 * error). Each subcommand has --help; exit statuses are in usage(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentgov/approve.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "cli/notifyctx.h"
#include "core/fileio.h"
#include "core/time.h"

#define COMMON                                                                                     \
    "  --store URL    state store (else $AGENTGOV_STORE, else the embedded store)\n"               \
    "  --policy FILE  policy (else <dir>/policy.yaml, else the shipped default)\n"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov agent SUBCOMMAND [ARGS] [--store URL] [--policy FILE]\n\n"
            "Agents, their tiers and their governed runs.\n\n"
            "  register ID [--tier N] [--packet FILE]   register (or re-register) an agent;\n"
            "                                           --tier is required the first time\n"
            "  status ID [--json]                       registry, state, lock, budget, metrics\n"
            "  list [--json]                            registered agents with tier and phase\n"
            "  revoke ID [--reason R]                   revoke now (credentials too)\n"
            "  promote ID [--approve]                   apply the policy's promotion rule\n"
            "  demote ID [--reason R]                   one tier down\n"
            "  bootstrap ID [--task T]                  start a run (prints the handoff, if any)\n"
            "  transition ID PHASE [--step S]           move the run to PHASE\n"
            "  heartbeat ID                             keep the run alive\n"
            "  authorize ID ACTION RESOURCE [--confidence C] [--args JSON] [--approval APV]\n"
            "                                           decide and ledger an action; an ask\n"
            "                                           records a pending approval and prints\n"
            "                                           its id; --approval retries with it\n"
            "  error ID TYPE [MESSAGE]                  count an error against the budget\n\n"
            "Options:\n" COMMON);
    ag__cli_print_exit_statuses(out);
}

static char *read_arg_file(const char *path)
{
    char *data = NULL;
    size_t len;
    ag_err e = strcmp(path, "-") == 0 ? ag__read_file("/dev/stdin", 1 << 20, &data, &len)
                                      : ag__read_file(path, 1 << 20, &data, &len);
    if (e) {
        ag__cli_error_ag(e, path);
        return NULL;
    }
    return data;
}

static int do_register(struct ag__cli_gov *c, char **pos, const struct ag__cli_gopts *o)
{
    char *packet = o->packet ? read_arg_file(o->packet) : NULL;
    if (o->packet && !packet)
        return AG_EXIT_USAGE;
    ag_err e = ag_gov_register(c->gov, pos[0], o->tier, packet);
    free(packet);
    if (e) {
        ag__cli_error_ag(e, "register");
        return ag__cli_exit_of(e);
    }
    struct ag_agent_status s;
    if (ag_gov_status(c->gov, pos[0], &s) == AG_OK) {
        printf("registered %s at tier %d%s\n", pos[0], s.tier, o->packet ? " with its packet" : "");
        ag_agent_status_clear(&s);
    }
    return 0;
}

static json_t *status_json(struct ag__cli_gov *c, const char *id)
{
    struct ag_agent_status s;
    ag_err e = ag_gov_status(c->gov, id, &s);
    if (e) {
        ag__cli_error_ag(e, id);
        return NULL;
    }
    struct ag_agent_metrics m;
    int have_m = ag_gov_metrics(c->gov, id, &m) == AG_OK;
    json_t *state = s.state_json ? json_loads(s.state_json, 0, NULL) : NULL;
    json_t *o =
        json_pack("{s:s,s:b,s:i,s:o,s:s?,s:s?,s:I,s:I,s:b}", "agent_id", id, "registered",
                  s.registered, "tier", s.tier, "state", state ? state : json_null(), "lock",
                  s.lock, "heartbeat", s.heartbeat, "total_errors", (json_int_t)s.total_errors,
                  "procedure_violations", (json_int_t)s.procedure_violations, "revoked", s.revoked);
    if (o && have_m)
        json_object_set_new(o, "metrics",
                            json_pack("{s:i,s:I,s:I,s:I,s:s}", "current_tier", m.current_tier,
                                      "total_runs", (json_int_t)m.total_runs, "compliant_runs",
                                      (json_int_t)m.compliant_runs, "consecutive_compliant",
                                      (json_int_t)m.consecutive_compliant, "last_active_at",
                                      m.last_active_at));
    ag_agent_status_clear(&s);
    return o;
}

static const char *jstr(json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : dflt;
}

static int do_status(struct ag__cli_gov *c, char **pos, const struct ag__cli_gopts *o)
{
    json_t *j = status_json(c, pos[0]);
    if (!j)
        return AG_EXIT_ERROR;
    if (o->json) {
        char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        puts(t ? t : "{}");
        free(t);
    } else {
        json_t *st = json_object_get(j, "state"), *m = json_object_get(j, "metrics");
        printf("agent       %s\n", pos[0]);
        printf("registered  %s, tier %lld\n",
               json_is_true(json_object_get(j, "registered")) ? "yes" : "no",
               (long long)json_integer_value(json_object_get(j, "tier")));
        printf("revoked     %s\n", json_is_true(json_object_get(j, "revoked")) ? "yes" : "no");
        printf("phase       %s", jstr(st, "phase", "-"));
        if (json_is_object(st))
            printf(" (task %s, step '%s')", jstr(st, "task_id", "-"), jstr(st, "step", ""));
        printf("\nlock        %s\n", jstr(j, "lock", "free"));
        printf("heartbeat   %s\n", jstr(j, "heartbeat", "-"));
        printf("errors      %lld total, %lld procedure violations\n",
               (long long)json_integer_value(json_object_get(j, "total_errors")),
               (long long)json_integer_value(json_object_get(j, "procedure_violations")));
        if (m)
            printf("runs        %lld total, %lld compliant, streak %lld, last active %s\n",
                   (long long)json_integer_value(json_object_get(m, "total_runs")),
                   (long long)json_integer_value(json_object_get(m, "compliant_runs")),
                   (long long)json_integer_value(json_object_get(m, "consecutive_compliant")),
                   jstr(m, "last_active_at", "-")[0] ? jstr(m, "last_active_at", "-") : "-");
    }
    json_decref(j);
    return 0;
}

static int do_list(struct ag__cli_gov *c, const struct ag__cli_gopts *o)
{
    char **ids;
    size_t n;
    ag_err e = ag_gov_list(c->gov, &ids, &n);
    if (e) {
        ag__cli_error_ag(e, "list");
        return AG_EXIT_ERROR;
    }
    json_t *arr = json_array();
    if (!o->json)
        printf("%-24s %-4s %-10s %-8s %s\n", "AGENT", "TIER", "PHASE", "REVOKED", "TASK");
    for (size_t i = 0; i < n; i++) {
        struct ag_agent_status s;
        if (ag_gov_status(c->gov, ids[i], &s))
            continue;
        json_t *st = s.state_json ? json_loads(s.state_json, 0, NULL) : NULL;
        if (o->json)
            json_array_append_new(arr,
                                  json_pack("{s:s,s:i,s:s,s:b,s:s}", "agent_id", ids[i], "tier",
                                            s.tier, "phase", jstr(st, "phase", ""), "revoked",
                                            s.revoked, "task_id", jstr(st, "task_id", "")));
        else
            printf("%-24s T%-3d %-10s %-8s %s\n", ids[i], s.tier, jstr(st, "phase", "-"),
                   s.revoked ? "yes" : "no", jstr(st, "task_id", "-"));
        json_decref(st);
        ag_agent_status_clear(&s);
    }
    if (o->json) {
        char *t = json_dumps(arr, JSON_INDENT(2));
        puts(t ? t : "[]");
        free(t);
    }
    json_decref(arr);
    ag_store_strv_free(ids, n);
    return 0;
}

static int do_bootstrap(struct ag__cli_gov *c, char **pos, const struct ag__cli_gopts *o)
{
    struct ag_bootstrap_result r;
    ag_err e = ag_gov_bootstrap(c->gov, pos[0], o->task, &r);
    if (e) {
        ag__cli_error_ag(e, "bootstrap");
        return ag__cli_exit_of(e);
    }
    int rc = 0;
    if (r.code == AG_BOOT_COMPLETE) {
        printf("%s agent=%s task=%s tier=%d fence=%lld\n", ag_boot_code_name(r.code), pos[0],
               r.task_id ? r.task_id : "-", r.tier, (long long)r.fence);
        if (r.handoff_json)
            printf("handoff %s\n", r.handoff_json);
    } else {
        printf("%s\n", ag_boot_code_name(r.code));
        ag__cli_error("bootstrap refused: %s", ag_last_error());
        rc = r.code == AG_BOOT_STORE_UNAVAILABLE || r.code == AG_BOOT_LEDGER_UNAVAILABLE
                 ? AG_EXIT_ERROR
                 : AG_EXIT_DENY;
    }
    ag_bootstrap_result_clear(&r);
    return rc;
}

static int report(const char *what, const struct ag_transition_result *r)
{
    if (r->ok) {
        printf("ok %s\n", what);
        return 0;
    }
    printf("refused %s: %s%s%s\n", what, ag_reason_name(r->reason), r->revoked ? " (revoked)" : "",
           r->violation ? " (procedure violation)" : "");
    if (r->detail[0])
        ag__cli_error("%s", r->detail);
    return r->reason == AG_REASON_STORE_UNAVAILABLE || r->reason == AG_REASON_LEDGER_UNAVAILABLE
               ? AG_EXIT_ERROR
               : AG_EXIT_DENY;
}

static int do_transition(struct ag__cli_gov *c, char **pos, const struct ag__cli_gopts *o)
{
    enum ag_phase ph;
    ag_err e = ag_phase_parse(pos[1], &ph);
    if (e) {
        ag__cli_error_ag(e, "transition");
        return ag__cli_exit_of(e);
    }
    struct ag_transition_result r;
    if ((e = ag_gov_transition(c->gov, pos[0], ph, o->step, &r))) {
        ag__cli_error_ag(e, "transition");
        return ag__cli_exit_of(e);
    }
    return report(ag_phase_name(ph), &r);
}

static int do_heartbeat(struct ag__cli_gov *c, char **pos)
{
    struct ag_transition_result r;
    ag_err e = ag_gov_heartbeat(c->gov, pos[0], &r);
    if (e) {
        ag__cli_error_ag(e, "heartbeat");
        return ag__cli_exit_of(e);
    }
    return report("heartbeat", &r);
}

/* Confidence as a fraction ("0.9") or per mille ("900"): stored per mille. */
static int parse_confidence(const char *s, int *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0 || v > 1000 || (v > 1 && v != (int)v)) {
        ag__cli_error("--confidence: '%s' is neither 0..1 nor an integer per mille 0..1000", s);
        return -1;
    }
    *out = v <= 1 && strchr(s, '.') ? (int)(v * 1000 + 0.5) : (int)v;
    return 0;
}

static int do_authorize(struct ag__cli_gov *c, char **pos, const struct ag__cli_gopts *o)
{
    int conf = -1;
    if (o->confidence && parse_confidence(o->confidence, &conf))
        return AG_EXIT_USAGE;
    if (o->args) {
        json_error_t je;
        json_t *a = json_loads(o->args, JSON_DECODE_ANY, &je);
        if (a == NULL) {
            ag__cli_error("--args: not JSON: %s (column %d)", je.text, je.column);
            return AG_EXIT_USAGE;
        }
        json_decref(a);
    }
    ag_approve *ap = NULL;
    const ag_config *cfg = NULL;
    if (ag_home_config(c->home, &cfg) != AG_OK)
        cfg = NULL; /* ag__cli_gov_open has read it already: cannot fail here */
    struct ag_approve_opts ao = {.store = c->store,
                                 .ledger = c->ledger,
                                 .auth = c->auth,
                                 .default_timeout_ms =
                                     cfg ? ag_config_ms(cfg, "approvals.timeout") : 0};
    ag_err e = ag_approve_new(&ao, &ap);
    if (e) {
        ag__cli_error_ag(e, "approvals");
        return AG_EXIT_ERROR;
    }
    /* Through the approvals module: an ask records a pending approval, and a retry
     * with --approval ID spends its grant. */
    struct ag_approve_request rq = {.agent_id = pos[0],
                                    .action = pos[1],
                                    .resource = pos[2],
                                    .confidence = conf,
                                    .args_json = o->args,
                                    .approval_id = o->approve_id,
                                    .requester_accessor = ""};
    struct ag_approve_result ar;
    ag_notify *ntf = ag__cli_notify_approvals(c, ap);
    enum ag_effect eff = ag_approve_authorize(ap, c->gov, c->policy, &rq, &ar);
    ag_approve_free(ap);
    ag_notify_free(ntf);
    const struct ag_gov_decision *d = &ar.d;
    printf("%s %s", ag_effect_name(eff), ag_reason_name(d->reason));
    if (d->rule_file)
        printf(" %s:%d", d->rule_file, d->rule_line);
    printf(" tier=%d phase=%s seq=%lld%s\n", d->tier,
           d->phase == AG_PHASE_NONE ? "-" : ag_phase_name(d->phase), (long long)d->ledger_seq,
           d->revoked ? " REVOKED" : "");
    if (eff == AG_EFFECT_ASK && ar.approval_id[0]) {
        char exp[64];
        ag__rfc3339(ar.expires_ms, exp);
        printf("approval %s pending until %s (agentgov approval approve %s)\n", ar.approval_id, exp,
               ar.approval_id);
    } else if (ar.detail[0]) {
        printf("%s\n", ar.detail);
    }
    if (eff == AG_EFFECT_ALLOW)
        return 0;
    if (eff == AG_EFFECT_ASK)
        return AG_EXIT_ASK;
    return d->reason == AG_REASON_STORE_UNAVAILABLE || d->reason == AG_REASON_LEDGER_UNAVAILABLE
               ? AG_EXIT_ERROR
               : AG_EXIT_DENY;
}

static int do_error(struct ag__cli_gov *c, char **pos, int npos)
{
    struct ag_transition_result r;
    ag_err e = ag_gov_record_error(c->gov, pos[0], pos[1], npos > 2 ? pos[2] : "", &r);
    if (e) {
        ag__cli_error_ag(e, "error");
        return ag__cli_exit_of(e);
    }
    return report("error recorded", &r);
}

static int do_revoke(struct ag__cli_gov *c, char **pos, const struct ag__cli_gopts *o)
{
    ag_err e =
        ag_gov_revoke(c->gov, pos[0], "MANUAL", o->reason ? o->reason : "revoked by an operator");
    if (e) {
        ag__cli_error_ag(e, "revoke");
        return ag__cli_exit_of(e);
    }
    struct ag_agent_status s;
    int tier = -1;
    if (ag_gov_status(c->gov, pos[0], &s) == AG_OK) {
        tier = s.tier;
        ag_agent_status_clear(&s);
    }
    printf("revoked %s: state REVOKED, lock released, entry on revocations:ledger", pos[0]);
    if (tier >= 0)
        printf(", tier now %d", tier);
    printf("; a handoff is required before another agent takes its task\n");
    return 0;
}

static int do_promote(struct ag__cli_gov *c, char **pos, const struct ag__cli_gopts *o, int up)
{
    int t = -1;
    ag_err e = up ? ag_gov_promote(c->gov, pos[0], o->approve, &t)
                  : ag_gov_demote(c->gov, pos[0], o->reason, &t);
    if (e) {
        ag__cli_error_ag(e, up ? "promote" : "demote");
        return ag__cli_exit_of(e);
    }
    printf("%s %s to tier %d\n", up ? "promoted" : "demoted", pos[0], t);
    return 0;
}

struct sub {
    const char *name;
    int minpos, maxpos;
    const char *opts;
};

static const struct sub subs[] = {
    {"register", 1, 1, "store policy tier packet"},
    {"status", 1, 1, "store policy json"},
    {"list", 0, 0, "store policy json"},
    {"revoke", 1, 1, "store policy reason"},
    {"promote", 1, 1, "store policy approve"},
    {"demote", 1, 1, "store policy reason"},
    {"bootstrap", 1, 1, "store policy task"},
    {"transition", 2, 2, "store policy step"},
    {"heartbeat", 1, 1, "store policy"},
    {"authorize", 3, 3, "store policy confidence args approval"},
    {"error", 2, 3, "store policy"},
};

static int dispatch(const struct sub *s, struct ag__cli_gov *c, char **pos, int npos,
                    const struct ag__cli_gopts *o)
{
    switch (s - subs) {
    case 0:
        return do_register(c, pos, o);
    case 1:
        return do_status(c, pos, o);
    case 2:
        return do_list(c, o);
    case 3:
        return do_revoke(c, pos, o);
    case 4:
        return do_promote(c, pos, o, 1);
    case 5:
        return do_promote(c, pos, o, 0);
    case 6:
        return do_bootstrap(c, pos, o);
    case 7:
        return do_transition(c, pos, o);
    case 8:
        return do_heartbeat(c, pos);
    case 9:
        return do_authorize(c, pos, o);
    default:
        return do_error(c, pos, npos);
    }
}

int ag__cmd_agent(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : 0;
    }
    const struct sub *s = NULL;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            s = &subs[i];
    if (!s) {
        ag__cli_error("agent: unknown subcommand '%s' (see agentgov agent --help)", argv[1]);
        return AG_EXIT_USAGE;
    }
    if (ag__cli_wants_help(argc - 1, argv + 1)) {
        usage(stdout);
        return 0;
    }
    struct ag__cli_gopts o;
    char *pos[4];
    int npos = ag__cli_gov_opts(argc - 1, argv + 1, s->opts, &o, pos, s->maxpos);
    if (npos < 0)
        return AG_EXIT_USAGE;
    if (npos < s->minpos) {
        ag__cli_error("agent %s: missing argument (see agentgov agent --help)", s->name);
        return AG_EXIT_USAGE;
    }
    struct ag__cli_gov c;
    int open_rc = ag__cli_gov_open(&c, o.store, o.policy);
    if (open_rc)
        return open_rc;
    int rc = dispatch(s, &c, pos, npos, &o);
    ag__cli_gov_close(&c);
    return rc;
}
