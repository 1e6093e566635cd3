/* `agentgov policy`: lint, show and walk policy files. Each subcommand has --help. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/time.h"

/* ---- a small text table -------------------------------------------------------------- */

#define TABLE_MAX_COLS 10

struct table {
    int ncols;
    size_t nrows, cap;
    char **cells; /* nrows * ncols, malloc'd strings */
    int oom;
};

static void table_add(struct table *t, const char *const *row)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
        if (c == NULL) {
            t->oom = 1;
            return;
        }
        t->cells = c;
        t->cap = cap;
    }
    for (int i = 0; i < t->ncols; i++)
        t->cells[t->nrows * (size_t)t->ncols + (size_t)i] = strdup(row[i] ? row[i] : "");
    t->nrows++;
}

/* Columns are as wide as their widest cell; a row ends at its last non-empty cell, so
 * no line carries trailing blanks. */
static void table_print(const struct table *t, const char *indent)
{
    size_t width[TABLE_MAX_COLS] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t n = s ? strlen(s) : 0;
            if (n > width[c])
                width[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        char *const *row = &t->cells[r * (size_t)t->ncols];
        int last = t->ncols - 1;
        while (last > 0 && (row[last] == NULL || row[last][0] == '\0'))
            last--;
        fputs(indent, stdout);
        for (int c = 0; c <= last; c++) {
            const char *s = row[c] ? row[c] : "";
            if (c == last)
                printf("%s\n", s);
            else
                printf("%-*s  ", (int)width[c], s);
        }
    }
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* ---- shared helpers ------------------------------------------------------------------ */

/* The policy a subcommand works on: FILE if given, else the data directory's
 * policy.yaml, else the shipped default. */
static ag_policy *load_policy(const char *file, const char *cmd)
{
    char path[PATH_MAX + 32];
    if (ag__cli_policy_path(file, path, sizeof path) != 0)
        return NULL;
    ag_policy *p = NULL;
    ag_err err = ag_policy_load(path, &p);
    if (err != AG_OK) {
        char what[64];
        snprintf(what, sizeof what, "policy %s", cmd);
        ag__cli_error_ag(err, what);
        return NULL;
    }
    return p;
}

/* Parses the subcommand's options (only --help, plus --verbose for walk); returns the
 * index of the first operand, or -1 after a usage error. */
static int parse_common(int argc, char **argv, int *verbose)
{
    static const struct option opts[] = {
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, verbose ? "v" : "", verbose ? opts : opts + 1, NULL)) !=
           -1) {
        if (c == 'v' && verbose) {
            *verbose = 1;
            continue;
        }
        ag__cli_error("policy %s: unknown option '%s' (see agentgov policy %s --help)", argv[0],
                      argv[optind - 1], argv[0]);
        return -1;
    }
    return optind;
}

/* ---- lint ---------------------------------------------------------------------------- */

static void print_problem(void *ctx, const char *message)
{
    int *count = ctx;
    (*count)++;
    printf("%s\n", message);
}

static int cmd_lint(int argc, char **argv)
{
    if (ag__cli_wants_help(argc, argv)) {
        printf("usage: agentgov policy lint FILE...\n\n"
               "Checks policy files and prints every problem as FILE:LINE:COLUMN: MESSAGE\n"
               "(unknown keys, bad globs, tiers out of range, unknown phases, duplicate tiers,\n"
               "wrong types, bad durations, bad effects, missing actions or resources).\n"
               "Exits 0 when every file is clean, 2 (DENY) when a file has a problem.\n");
        ag__cli_print_exit_statuses(stdout);
        return 0;
    }
    int first = parse_common(argc, argv, NULL);
    if (first < 0)
        return AG_EXIT_USAGE;
    if (first >= argc) {
        ag__cli_error("policy lint: which file? (usage: agentgov policy lint FILE...)");
        return AG_EXIT_USAGE;
    }
    int rc = 0;
    for (int i = first; i < argc; i++) {
        int problems = 0;
        ag_err err = ag_policy_lint(argv[i], print_problem, &problems);
        if (err != AG_OK) {
            /* The first file that fails decides: a problem found is the answer no; a
             * file that could not be read is the table's status for its error. */
            if (rc == 0)
                rc = problems ? AG_EXIT_DENY : ag__cli_exit_of(err);
            if (problems == 0)
                ag__cli_error_ag(err, "policy lint");
            fprintf(stderr, "%s: %d problem%s\n", argv[i], problems, problems == 1 ? "" : "s");
        } else {
            printf("%s: ok\n", argv[i]);
        }
    }
    return rc;
}

/* ---- show ---------------------------------------------------------------------------- */

static void join(struct ag_buf *b, const char *const *items, size_t n)
{
    ag__buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ag__buf_puts(b, " ");
        ag__buf_puts(b, items[i]);
    }
}

static void phases_text(const struct ag_rule_info *r, struct ag_buf *b)
{
    ag__buf_reset(b);
    if (!r->has_phases) {
        ag__buf_puts(b, "any");
        return;
    }
    for (int ph = 0; ph < AG_PHASE_COUNT; ph++)
        if (r->phases & (1u << ph)) {
            if (b->len)
                ag__buf_puts(b, ",");
            ag__buf_puts(b, ag_phase_name((enum ag_phase)ph));
        }
}

/* " (approval: 2 of admin,role:ops; timeout 30m)" for an ask rule: who decides. */
static void approval_text(const struct ag_rule_info *r, char *out, size_t cap)
{
    char who[400] = "admin", tmo[32] = "approvals.timeout";
    for (size_t i = 0; i < r->napprovers; i++)
        if (strcmp(r->approvers[i], "admin") != 0) {
            strncat(who, ",", sizeof who - strlen(who) - 1);
            strncat(who, r->approvers[i], sizeof who - strlen(who) - 1);
        }
    if (r->approval_timeout_ms)
        ag__format_duration(r->approval_timeout_ms, tmo, sizeof tmo);
    snprintf(out, cap, " (approval: %d of %s; timeout %s)", r->approval_required, who, tmo);
}

static void show_tier(const ag_policy *p, int tier)
{
    struct ag_tier_info ti = {0};
    char ttl[32], max[32];
    if (ag_policy_tier(p, tier, &ti) != AG_OK)
        return;
    ag__format_duration(ti.token_ttl_ms, ttl, sizeof ttl);
    ag__format_duration(ti.max_ttl_ms, max, sizeof max);
    printf("T%d %s (token TTL %s, max TTL %s)\n", tier, ti.name, ttl, max);
    struct table t = {.ncols = 5};
    static const char *const head[] = {"EFFECT", "ACTIONS", "RESOURCES", "PHASES", "RULE"};
    table_add(&t, head);
    struct ag_buf acts, res, phs;
    ag__buf_init(&acts);
    ag__buf_init(&res);
    ag__buf_init(&phs);
    /* Deny first, then ask, then allow: the order in which they win. */
    static const enum ag_effect order[] = {AG_EFFECT_DENY, AG_EFFECT_ASK, AG_EFFECT_ALLOW};
    size_t shown = 0;
    for (int e = 0; e < 3; e++) {
        for (size_t i = 0; i < ag_policy_rule_count(p); i++) {
            struct ag_rule_info r;
            if (ag_policy_rule(p, i, &r) != AG_OK || r.effect != order[e] ||
                !(r.tiers & (1u << tier)))
                continue;
            char where[600];
            int wl = snprintf(where, sizeof where, "line %d%s%s", r.line, r.id ? " " : "",
                              r.id ? r.id : "");
            if (r.effect == AG_EFFECT_ASK && wl > 0 && (size_t)wl < sizeof where)
                approval_text(&r, where + wl, sizeof where - (size_t)wl);
            join(&acts, r.actions, r.nactions);
            join(&res, r.resources, r.nresources);
            phases_text(&r, &phs);
            const char *row[] = {ag_effect_name(r.effect), acts.data, res.data, phs.data, where};
            table_add(&t, row);
            shown++;
        }
    }
    if (shown)
        table_print(&t, "  ");
    else
        printf("  (no rules: everything is denied)\n");
    printf("  everything else: deny (default_deny)\n\n");
    table_free(&t);
    ag__buf_free(&acts);
    ag__buf_free(&res);
    ag__buf_free(&phs);
}

static int cmd_show(int argc, char **argv)
{
    if (ag__cli_wants_help(argc, argv)) {
        printf("usage: agentgov policy show [FILE]\n\n"
               "Prints the effective rules of each tier as a table (deny rules first: they\n"
               "win, then ask, then allow). Without FILE: <dir>/policy.yaml if it exists,\n"
               "else the shipped %s.\n",
               ag_policy_default_path());
        ag__cli_print_exit_statuses(stdout);
        return 0;
    }
    int first = parse_common(argc, argv, NULL);
    if (first < 0 || argc - first > 1) {
        if (first >= 0)
            ag__cli_error("policy show: one FILE at most");
        return AG_EXIT_USAGE;
    }
    ag_policy *p = load_policy(first < argc ? argv[first] : NULL, "show");
    if (p == NULL)
        return AG_EXIT_USAGE;
    printf("policy %s: %zu rules; default deny; deny > ask > allow\n\n", ag_policy_path(p),
           ag_policy_rule_count(p));
    for (int t = AG_TIER_MIN; t <= AG_TIER_MAX; t++)
        show_tier(p, t);
    ag_policy_free(p);
    return 0;
}

/* ---- walk ---------------------------------------------------------------------------- */

/* Representative requests over the action vocabulary of docs/actions.md. */
struct sample {
    const char *action, *resource;
    enum ag_phase phase;
    const char *scope, *forbidden; /* one packet glob each, or NULL */
};

static const struct sample samples[] = {
    {"docs.read", "docs/runbook.md", AG_PHASE_PLAN, NULL, NULL},
    {"logs.read", "prod/db-01/log", AG_PHASE_VERIFY, NULL, NULL},
    {"plan.generate", "task/42", AG_PHASE_PLAN, NULL, NULL},
    {"proxmox.read", "sandbox/pve-01", AG_PHASE_PREFLIGHT, NULL, NULL},
    {"ansible.check", "staging/site.yml", AG_PHASE_PLAN, NULL, NULL},
    {"ssh.exec", "sandbox/web-01", AG_PHASE_PLAN, NULL, NULL},
    {"ssh.exec", "sandbox/web-01", AG_PHASE_EXECUTE, NULL, NULL},
    {"sandbox.admin", "sandbox/web-01", AG_PHASE_EXECUTE, NULL, NULL},
    {"module.create", "sandbox/mod/nginx", AG_PHASE_EXECUTE, NULL, NULL},
    {"ansible.apply", "sandbox/site.yml", AG_PHASE_EXECUTE, NULL, NULL},
    {"ansible.apply", "staging/site.yml", AG_PHASE_EXECUTE, NULL, NULL},
    {"ssh.exec", "staging/web-01", AG_PHASE_EXECUTE, NULL, NULL},
    {"prod.read", "prod/db-01", AG_PHASE_VERIFY, NULL, NULL},
    {"ssh.exec", "prod/db-01", AG_PHASE_EXECUTE, NULL, NULL},
    {"secret.read", "secret/sandbox/db", AG_PHASE_PREFLIGHT, NULL, NULL},
    {"secret.read", "secret/staging/db", AG_PHASE_PREFLIGHT, NULL, NULL},
    {"secret.read", "secret/prod/db", AG_PHASE_PREFLIGHT, NULL, NULL},
    {"policy.read", "policies/default", AG_PHASE_PLAN, NULL, NULL},
    {"governance.write", "governance/tiers", AG_PHASE_EXECUTE, NULL, NULL},
    {"ssh.exec", "sandbox/db-01", AG_PHASE_EXECUTE, "sandbox/web-*", NULL},
    {"ssh.exec", "sandbox/web-01", AG_PHASE_EXECUTE, NULL, "ssh.*"},
};

/* A grid cell: the effect, and for a deny the short form of why. */
static const char *cell(const struct ag_decision *d)
{
    switch (d->reason) {
    case AG_REASON_RULE_ALLOW:
        return "allow";
    case AG_REASON_RULE_ASK:
        return "ask";
    case AG_REASON_DEFAULT_DENY:
        return "deny";
    case AG_REASON_RULE_DENY:
        return "deny:rule";
    case AG_REASON_PHASE_NOT_ALLOWED:
        return "deny:phase";
    case AG_REASON_OUT_OF_SCOPE:
        return "deny:scope";
    case AG_REASON_FORBIDDEN_ACTION:
        return "deny:forbid";
    default:
        return ag_reason_name(d->reason);
    }
}

static void decide_sample(const ag_policy *p, const struct sample *s, int tier,
                          struct ag_decision *d)
{
    const char *scope[1] = {s->scope}, *forbidden[1] = {s->forbidden};
    struct ag_request r = {.tier = tier,
                           .phase = s->phase,
                           .action = s->action,
                           .resource = s->resource,
                           .scope = s->scope ? scope : NULL,
                           .nscope = s->scope ? 1 : 0,
                           .forbidden = s->forbidden ? forbidden : NULL,
                           .nforbidden = s->forbidden ? 1 : 0};
    ag_decide(p, &r, d);
}

static void packet_text(const struct sample *s, char *buf, size_t len)
{
    if (s->scope)
        snprintf(buf, len, "scope %s", s->scope);
    else if (s->forbidden)
        snprintf(buf, len, "forbidden %s", s->forbidden);
    else
        snprintf(buf, len, "-");
}

static void walk_verbose(const ag_policy *p)
{
    struct table t = {.ncols = 8};
    static const char *const head[] = {"TIER",   "ACTION",   "RESOURCE", "PHASE",
                                       "PACKET", "DECISION", "REASON",   "RULE"};
    table_add(&t, head);
    for (int tier = AG_TIER_MIN; tier <= AG_TIER_MAX; tier++) {
        for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
            const struct sample *s = &samples[i];
            struct ag_decision d;
            char tcol[8], packet[128], rule[64] = "-";
            decide_sample(p, s, tier, &d);
            snprintf(tcol, sizeof tcol, "T%d", tier);
            packet_text(s, packet, sizeof packet);
            if (d.rule_file)
                snprintf(rule, sizeof rule, "line %d", d.rule_line);
            const char *row[] = {tcol,
                                 s->action,
                                 s->resource,
                                 ag_phase_name(s->phase),
                                 packet,
                                 ag_effect_name(d.effect),
                                 ag_reason_name(d.reason),
                                 rule};
            table_add(&t, row);
        }
    }
    table_print(&t, "");
    table_free(&t);
}

static void walk_grid(const ag_policy *p)
{
    struct table t = {.ncols = 9};
    static const char *const head[9] = {"ACTION", "RESOURCE", "PHASE", "T0",    "T1",
                                        "T2",     "T3",       "T4",    "PACKET"};
    printf("tiers:");
    for (int tier = AG_TIER_MIN; tier <= AG_TIER_MAX; tier++) {
        struct ag_tier_info ti;
        if (ag_policy_tier(p, tier, &ti) == AG_OK)
            printf("%s T%d %s", tier ? "," : "", tier, ti.name);
    }
    printf("\n\n");
    table_add(&t, head);
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        const struct sample *s = &samples[i];
        char packet[128] = "";
        const char *row[9] = {s->action, s->resource, ag_phase_name(s->phase)};
        if (s->scope || s->forbidden)
            packet_text(s, packet, sizeof packet);
        row[8] = packet;
        struct ag_decision d[AG_TIER_COUNT];
        for (int tier = AG_TIER_MIN; tier <= AG_TIER_MAX; tier++) {
            decide_sample(p, s, tier, &d[tier]);
            row[3 + tier] = cell(&d[tier]);
        }
        table_add(&t, row);
    }
    table_print(&t, "");
    table_free(&t);
    printf("\ndeny: no rule allows it (default_deny)    deny:rule: a deny rule matched\n"
           "deny:phase: allowed in another phase     deny:scope: outside the task's packet scope\n"
           "deny:forbid: forbidden by the task's packet\n"
           "`agentgov policy walk -v` shows every reason and deciding rule.\n");
}

static int cmd_walk(int argc, char **argv)
{
    if (ag__cli_wants_help(argc, argv)) {
        printf("usage: agentgov policy walk [-v] [FILE]\n\n"
               "Decides a representative set of requests (the action vocabulary of\n"
               "docs/actions.md, in typical phases, with and without packet constraints) at\n"
               "every tier and prints the decisions as a table. -v prints one line per\n"
               "decision with its reason code and deciding rule. Without FILE:\n"
               "<dir>/policy.yaml if it exists, else the shipped %s.\n",
               ag_policy_default_path());
        ag__cli_print_exit_statuses(stdout);
        return 0;
    }
    int verbose = 0;
    int first = parse_common(argc, argv, &verbose);
    if (first < 0 || argc - first > 1) {
        if (first >= 0)
            ag__cli_error("policy walk: one FILE at most");
        return AG_EXIT_USAGE;
    }
    ag_policy *p = load_policy(first < argc ? argv[first] : NULL, "walk");
    if (p == NULL)
        return AG_EXIT_USAGE;
    printf("policy %s\n\n", ag_policy_path(p));
    if (verbose)
        walk_verbose(p);
    else
        walk_grid(p);
    ag_policy_free(p);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static void usage(FILE *out)
{
    fprintf(out, "usage: agentgov policy SUBCOMMAND [ARGS]\n\n"
                 "subcommands:\n"
                 "  lint FILE...     check policy files; every problem as FILE:LINE:COL: MESSAGE\n"
                 "  show [FILE]      the effective rules of each tier, as a table\n"
                 "  walk [-v] [FILE] sample requests at every tier and their decisions\n\n"
                 "Without FILE, show and walk use <dir>/policy.yaml if it exists, else the\n"
                 "shipped default policy. `agentgov policy SUBCOMMAND --help` for details;\n"
                 "the policy language is described in docs/policy.md.\n");
    ag__cli_print_exit_statuses(out);
}

int ag__cmd_policy(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return AG_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "lint") == 0)
        return cmd_lint(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "walk") == 0)
        return cmd_walk(argc - 1, argv + 1);
    ag__cli_error("policy: unknown subcommand '%s' (lint, show, walk)", argv[1]);
    return AG_EXIT_USAGE;
}
