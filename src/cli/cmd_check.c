/* `agentgov check`: decides one request against a policy and prints the decision.
 * Exit status (include/agentgov/exit.h): 0 allow, 2 deny, 3 ask, 1 usage, 4 internal
 * error. Fail closed: a usage or internal error prints a deny decision as well. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "cli/cliutil.h"
#include "cli/commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov check [--policy FILE] --tier N --action ACTION --resource RESOURCE\n"
            "                      [--phase PHASE] [--scope GLOB]... [--forbidden GLOB]... "
            "[--json]\n\n"
            "Decides one request against a policy and prints the decision.\n\n"
            "options:\n"
            "  --policy FILE     policy file (else <dir>/policy.yaml if it exists, else the\n"
            "                    shipped %s)\n"
            "  --tier N          the agent's trust tier, 0..4\n"
            "  --action ACTION   dotted action name, e.g. ssh.exec (see docs/actions.md)\n"
            "  --resource PATH   slash-separated resource, e.g. sandbox/web-01\n"
            "  --phase PHASE     lifecycle phase: BOOTSTRAP PREFLIGHT PLAN EXECUTE VERIFY\n"
            "                    PACKAGE REPORT EXIT (omitted: only rules without phases match)\n"
            "  --scope GLOB      packet scope: resources outside every scope glob are denied\n"
            "                    (out_of_scope); repeatable\n"
            "  --forbidden GLOB  packet forbidden actions: a match is denied (forbidden_action);\n"
            "                    repeatable\n"
            "  --json            print the decision as one JSON object\n"
            "  -h, --help        this help\n\n"
            "Exits 0 allow, 2 deny, 3 ask; on a usage (1) or internal (4) error a deny is\n"
            "printed too. Reasons and globs: docs/policy.md.\n",
            ag_policy_default_path());
    ag__cli_print_exit_statuses(out);
}

struct check_args {
    const char *policy;
    const char *action, *resource;
    int tier, has_tier;
    enum ag_phase phase;
    const char **scope, **forbidden;
    size_t nscope, nforbidden;
    int json;
};

static void print_decision(const struct check_args *a, const struct ag_decision *d,
                           const char *policy_path)
{
    if (a->json) {
        char rule[PATH_MAX + 32];
        json_t *o = json_object();
        json_object_set_new(o, "decision", json_string(ag_effect_name(d->effect)));
        json_object_set_new(o, "reason", json_string(ag_reason_name(d->reason)));
        if (d->rule_file) {
            snprintf(rule, sizeof rule, "%s:%d", d->rule_file, d->rule_line);
            json_object_set_new(o, "rule", json_string(rule));
            json_object_set_new(o, "rule_file", json_string(d->rule_file));
            json_object_set_new(o, "rule_line", json_integer(d->rule_line));
        } else {
            json_object_set_new(o, "rule", json_null());
            json_object_set_new(o, "rule_file", json_null());
            json_object_set_new(o, "rule_line", json_null());
        }
        json_object_set_new(o, "tier", d->tier >= 0 ? json_integer(d->tier) : json_null());
        json_object_set_new(o, "phase",
                            d->phase == AG_PHASE_NONE ? json_null()
                                                      : json_string(ag_phase_name(d->phase)));
        json_object_set_new(o, "action", a->action ? json_string(a->action) : json_null());
        json_object_set_new(o, "resource", a->resource ? json_string(a->resource) : json_null());
        json_object_set_new(o, "policy", policy_path ? json_string(policy_path) : json_null());
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s ? s : "{\"decision\":\"deny\",\"reason\":\"internal_error\"}");
        free(s);
        json_decref(o);
        return;
    }
    printf("%s %s", ag_effect_name(d->effect), ag_reason_name(d->reason));
    if (d->rule_file)
        printf(" rule=%s:%d", d->rule_file, d->rule_line);
    if (d->tier >= 0)
        printf(" tier=%d", d->tier);
    if (d->phase != AG_PHASE_NONE)
        printf(" phase=%s", ag_phase_name(d->phase));
    printf("\n");
}

/* Prints a deny that no rule made (usage error, policy that would not load) and
 * returns status. */
static int fail_closed(const struct check_args *a, enum ag_reason reason, const char *policy,
                       int status)
{
    struct ag_decision d = {.effect = AG_EFFECT_DENY,
                            .reason = reason,
                            .tier = a->has_tier ? a->tier : -1,
                            .phase = a->phase};
    print_decision(a, &d, policy);
    return status;
}

static int parse_tier(const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < AG_TIER_MIN || v > AG_TIER_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

/* Packet globs from the command line are checked here so that a typo is a usage error
 * (exit 1) rather than a decision. */
static int glob_ok(const char *opt, const char *glob)
{
    const char *why;
    size_t off;
    if (ag_policy_glob_check(glob, &why, &off) == AG_OK)
        return 1;
    ag__cli_error("--%s: bad glob '%s': %s at offset %zu", opt, glob, why, off);
    return 0;
}

/* Reads the options into a; returns 0, or -1 after printing a usage error. */
static int parse_args(int argc, char **argv, struct check_args *a)
{
    enum { O_POLICY = 256, O_TIER, O_ACTION, O_RESOURCE, O_PHASE, O_SCOPE, O_FORBIDDEN, O_JSON };
    static const struct option opts[] = {
        {"policy", required_argument, NULL, O_POLICY},
        {"tier", required_argument, NULL, O_TIER},
        {"action", required_argument, NULL, O_ACTION},
        {"resource", required_argument, NULL, O_RESOURCE},
        {"phase", required_argument, NULL, O_PHASE},
        {"scope", required_argument, NULL, O_SCOPE},
        {"forbidden", required_argument, NULL, O_FORBIDDEN},
        {"json", no_argument, NULL, O_JSON},
        {NULL, 0, NULL, 0},
    };
    int bad = 0, c;
    /* --json decides the format of a usage error's deny too, so look for it first. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            a->json = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_POLICY:
            a->policy = optarg;
            break;
        case O_TIER:
            if (parse_tier(optarg, &a->tier) != 0) {
                ag__cli_error("--tier: '%s' is not a tier (0..4)", optarg);
                bad = 1;
            } else {
                a->has_tier = 1;
            }
            break;
        case O_ACTION:
            a->action = optarg;
            break;
        case O_RESOURCE:
            a->resource = optarg;
            break;
        case O_PHASE:
            if (ag_phase_parse(optarg, &a->phase) != AG_OK) {
                ag__cli_error("--phase: unknown phase '%s' (BOOTSTRAP PREFLIGHT PLAN EXECUTE "
                              "VERIFY PACKAGE REPORT EXIT)",
                              optarg);
                bad = 1;
            }
            break;
        case O_SCOPE:
            a->scope[a->nscope++] = optarg;
            bad |= !glob_ok("scope", optarg);
            break;
        case O_FORBIDDEN:
            a->forbidden[a->nforbidden++] = optarg;
            bad |= !glob_ok("forbidden", optarg);
            break;
        case O_JSON:
            a->json = 1;
            break;
        default:
            ag__cli_error("check: unknown or incomplete option '%s' (see agentgov check --help)",
                          argv[optind - 1]);
            bad = 1;
        }
    }
    if (optind < argc) {
        ag__cli_error("check: unexpected argument '%s'", argv[optind]);
        bad = 1;
    }
    if (!bad && (!a->has_tier || a->action == NULL || a->resource == NULL)) {
        ag__cli_error("check: --tier, --action and --resource are required "
                      "(see agentgov check --help)");
        bad = 1;
    }
    return bad ? -1 : 0;
}

int ag__cmd_check(int argc, char **argv)
{
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct check_args a = {.phase = AG_PHASE_NONE};
    /* Every --scope/--forbidden takes at least one argv slot: argc bounds them. */
    a.scope = calloc((size_t)argc, sizeof *a.scope);
    a.forbidden = calloc((size_t)argc, sizeof *a.forbidden);
    int rc;
    if (a.scope == NULL || a.forbidden == NULL) {
        ag__cli_error("check: out of memory");
        rc = fail_closed(&a, AG_REASON_INTERNAL_ERROR, NULL, AG_EXIT_ERROR);
    } else if (parse_args(argc, argv, &a) != 0) {
        rc = fail_closed(&a, AG_REASON_INVALID_REQUEST, NULL, AG_EXIT_USAGE);
    } else {
        char path[PATH_MAX + 32];
        ag_policy *p = NULL;
        ag_err err = AG_EINVAL;
        if (ag__cli_policy_path(a.policy, path, sizeof path) != 0)
            rc = fail_closed(&a, AG_REASON_NO_POLICY, NULL, AG_EXIT_USAGE);
        else if ((err = ag_policy_load(path, &p)) != AG_OK) {
            ag__cli_error_ag(err, "check: cannot load the policy");
            rc = fail_closed(&a, AG_REASON_NO_POLICY, path, ag__cli_exit_of(err));
        } else {
            struct ag_request req = {.tier = a.tier,
                                     .phase = a.phase,
                                     .action = a.action,
                                     .resource = a.resource,
                                     .scope = a.scope,
                                     .nscope = a.nscope,
                                     .forbidden = a.forbidden,
                                     .nforbidden = a.nforbidden};
            struct ag_decision d;
            enum ag_effect e = ag_decide(p, &req, &d);
            print_decision(&a, &d, path);
            rc = e == AG_EFFECT_ALLOW ? AG_EXIT_OK
                 : e == AG_EFFECT_ASK ? AG_EXIT_ASK
                                      : AG_EXIT_DENY;
            ag_policy_free(p);
        }
    }
    free(a.scope);
    free(a.forbidden);
    fflush(stdout);
    return rc;
}
