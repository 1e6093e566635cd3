/* `agentgov approval`: list, show, approve and deny pending approvals from the data
 * directory (the same store the daemon uses). The local operator holds the data
 * directory's keys, so it decides as an administrator, under the name given by --as
 * (else $USER): the two-person rule counts distinct names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agentgov/approve.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "cli/notifyctx.h"
#include "core/time.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov approval SUBCOMMAND [ARGS] [--store URL] [--policy FILE]\n\n"
            "Human approvals of the policy's \"ask\" (docs/approvals.md).\n\n"
            "  list [--pending] [--agent A] [--json]   approvals, newest first\n"
            "  show ID [--json]                        one approval: what will run, who decided\n"
            "  approve ID [--reason R] [--as NAME]     approve as NAME (default $USER)\n"
            "  deny ID --reason R [--as NAME]          deny, with the reason\n\n"
            "A decision refused (self-approval, a second vote by NAME, an approval no\n"
            "longer pending) exits %d; an unknown ID exits %d.\n\n",
            AG_EXIT_DENY, AG_EXIT_USAGE);
    ag__cli_print_exit_statuses(out);
}

static void print_row(const struct ag_approval *a)
{
    char exp[64];
    ag__rfc3339(a->expires_ms, exp);
    printf("%-28s  %-8s  %-16s  %-20s  %-24s  %d/%d  %s\n", a->id, a->status, a->agent_id,
           a->action, a->resource, a->approvals, a->required, exp);
}

static void print_show(const struct ag_approval *a)
{
    char asked[64], exp[64];
    ag__rfc3339(a->asked_ms, asked);
    ag__rfc3339(a->expires_ms, exp);
    printf("approval   %s\nstatus     %s%s\nagent      %s (task %s, tier %d, phase %s)\n"
           "action     %s\nresource   %s\nargs       %s\nargs sha256 %s\n"
           "rule       %s%s%s\npolicy     %s (sha256 %s)\nasked      %s\nexpires    %s\n"
           "approvals  %d of %d\n",
           a->id, a->status, a->used ? " (used)" : "", a->agent_id, a->task_id, a->tier,
           a->phase[0] ? a->phase : "-", a->action, a->resource, a->args_json, a->args_digest,
           a->rule, a->rule_id[0] ? " " : "", a->rule_id, a->policy_file, a->policy_hash, asked,
           exp, a->approvals, a->required);
    json_t *o = json_loads(a->json, 0, NULL);
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(o, "votes"), i, v)
    {
        json_t *w = json_object_get(v, "approver");
        printf("vote       %s by %s (%s)%s%s\n", json_string_value(json_object_get(v, "decision")),
               json_string_value(json_object_get(w, "entity")),
               json_string_value(json_object_get(w, "accessor")),
               json_string_value(json_object_get(v, "reason")) ? ": " : "",
               json_string_value(json_object_get(v, "reason"))
                   ? json_string_value(json_object_get(v, "reason"))
                   : "");
    }
    json_decref(o);
}

static int exit_for(ag_err e)
{
    switch (e) {
    case AG_ENOTFOUND: /* a named thing that does not exist: usage, as everywhere */
    case AG_EINVAL:
        return AG_EXIT_USAGE;
    case AG_EPERM:
    case AG_EEXIST:
    case AG_ESTATE:
        return AG_EXIT_DENY;
    default:
        return AG_EXIT_ERROR;
    }
}

/* The local operator: an administrator named by --as, $USER, or the uid. */
static int local_identity(const char *as, struct ag_identity *w)
{
    memset(w, 0, sizeof *w);
    const char *name = as && *as ? as : getenv("USER");
    char uid[32];
    if (!name || !*name) {
        snprintf(uid, sizeof uid, "uid-%u", (unsigned)getuid());
        name = uid;
    }
    if (strlen(name) >= sizeof w->entity ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") !=
            strlen(name)) {
        ag__cli_error("--as: '%s' is not a name of [A-Za-z0-9._@-] (at most 127 bytes)", name);
        return -1;
    }
    snprintf(w->entity, sizeof w->entity, "%s", name);
    snprintf(w->accessor, sizeof w->accessor, "cli:%.55s", name);
    snprintf(w->via, sizeof w->via, "cli");
    w->tier = -1;
    w->admin = 1;
    return 0;
}

static int do_list(ag_approve *ap, const struct ag__cli_gopts *o)
{
    struct ag_approval_filter f = {.pending_only = o->pending, .agent_id = o->agent};
    struct ag_approval *items;
    size_t n;
    ag_err e = ag_approve_list(ap, &f, &items, &n);
    if (e) {
        ag__cli_error_ag(e, "approval list");
        return AG_EXIT_ERROR;
    }
    if (o->json) {
        printf("[");
        for (size_t i = 0; i < n; i++)
            printf("%s%s", i ? "," : "", items[i].json);
        printf("]\n");
    } else if (n == 0) {
        printf("no approvals%s\n", o->pending ? " pending" : "");
    } else {
        printf("%-28s  %-8s  %-16s  %-20s  %-24s  %s  %s\n", "ID", "STATUS", "AGENT", "ACTION",
               "RESOURCE", "OK", "EXPIRES");
        for (size_t i = 0; i < n; i++)
            print_row(&items[i]);
    }
    ag_approval_list_free(items, n);
    return 0;
}

static int do_show(ag_approve *ap, const char *id, const struct ag__cli_gopts *o)
{
    struct ag_approval a;
    ag_err e = ag_approve_get(ap, id, &a);
    if (e) {
        ag__cli_error_ag(e, "approval show");
        return exit_for(e);
    }
    if (o->json)
        printf("%s\n", a.json);
    else
        print_show(&a);
    ag_approval_clear(&a);
    return 0;
}

static int do_decide(ag_approve *ap, const char *id, int approve, const struct ag__cli_gopts *o)
{
    if (!approve && (!o->reason || !*o->reason)) {
        ag__cli_error("approval deny: --reason is required");
        return AG_EXIT_USAGE;
    }
    struct ag_identity who;
    if (local_identity(o->as, &who))
        return AG_EXIT_USAGE;
    struct ag_approval a;
    ag_err e = ag_approve_decide(ap, id, &who, approve, o->reason, &a);
    if (e) {
        ag__cli_error_ag(e, approve ? "approval approve" : "approval deny");
        return exit_for(e);
    }
    printf("%s: %s (%d of %d approvals) by %s\n", a.id, a.status, a.approvals, a.required,
           who.entity);
    ag_approval_clear(&a);
    return 0;
}

int ag__cmd_approval(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : 0;
    }
    static const struct {
        const char *name, *opts;
        int npos;
    } subs[] = {{"list", "store policy pending agent json", 0},
                {"show", "store policy json", 1},
                {"approve", "store policy reason as", 1},
                {"deny", "store policy reason as", 1}};
    int s = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            s = i;
    if (s < 0) {
        ag__cli_error("approval: unknown subcommand '%s' (see agentgov approval --help)", argv[1]);
        return AG_EXIT_USAGE;
    }
    if (ag__cli_wants_help(argc - 1, argv + 1)) {
        usage(stdout);
        return 0;
    }
    struct ag__cli_gopts o;
    char *pos[2];
    int npos = ag__cli_gov_opts(argc - 1, argv + 1, subs[s].opts, &o, pos, subs[s].npos);
    if (npos < 0)
        return AG_EXIT_USAGE;
    if (npos != subs[s].npos) {
        ag__cli_error("approval %s: %s", subs[s].name,
                      subs[s].npos ? "missing the approval ID" : "takes no arguments");
        return AG_EXIT_USAGE;
    }
    struct ag__cli_gov c;
    int rc = ag__cli_gov_open(&c, o.store, o.policy);
    if (rc)
        return rc;
    const ag_config *cfg = NULL;
    if (ag_home_config(c.home, &cfg) != AG_OK)
        cfg = NULL; /* ag__cli_gov_open has read it already: cannot fail here */
    struct ag_approve_opts ao = {.store = c.store,
                                 .ledger = c.ledger,
                                 .auth = c.auth,
                                 .default_timeout_ms =
                                     cfg ? ag_config_ms(cfg, "approvals.timeout") : 0};
    ag_approve *ap = NULL;
    ag_err e = ag_approve_new(&ao, &ap);
    if (e) {
        ag__cli_error_ag(e, "approvals");
        ag__cli_gov_close(&c);
        return AG_EXIT_ERROR;
    }
    ag_notify *ntf = ag__cli_notify_approvals(&c, ap);
    switch (s) {
    case 0:
        rc = do_list(ap, &o);
        break;
    case 1:
        rc = do_show(ap, pos[0], &o);
        break;
    default:
        rc = do_decide(ap, pos[0], s == 2, &o);
    }
    ag_approve_free(ap);
    ag_notify_free(ntf);
    ag__cli_gov_close(&c);
    return rc;
}
