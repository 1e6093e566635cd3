/* `agentgov notify`: the outbox of notifications (list, dead letters) and a test
 * message to one channel. Sending needs the HTTP client, linked only into agentgovd:
 * `notify test` in the lean agentgov runs it there (src/cli/daemon_exec.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/notify.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "cli/notifyctx.h"
#include "core/time.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov notify SUBCOMMAND [--store URL]\n\n"
            "Notifications of approvals, revocations and exhausted budgets (docs/notify.md).\n\n"
            "  list [--dead] [--json]   deliveries waiting or dead (--dead: dead only)\n"
            "  test CHANNEL             send a test message to slack, webhook or github now\n\n"
            "Channels come from the config (notify.slack.webhook_url, notify.webhook.url,\n"
            "notify.github.repo ...). The daemon delivers the outbox; a delivery that failed\n"
            "notify.max_attempts times is dead and stays listed here.\n"
            "A test message the channel did not accept exits %d.\n\n",
            AG_EXIT_ERROR);
    ag__cli_print_exit_statuses(out);
}

int ag__cli_notify_open(struct ag__cli_gov *c, ag_notify **n)
{
    const ag_config *cfg = NULL;
    if (ag_home_config(c->home, &cfg) != AG_OK) {
        ag__cli_error("%s", ag_last_error());
        return AG_EXIT_USAGE;
    }
    struct ag_notify_opts o;
    ag_notify_opts_from_config(cfg, &o);
    o.store = c->store;
    o.ledger = c->ledger;
    o.auth = c->auth;
    ag_err e = ag_notify_new(&o, n);
    if (e) {
        ag__cli_error_ag(e, "notify");
        return AG_EXIT_USAGE;
    }
    return 0;
}

static void approval_event(void *ctx, enum ag_approval_event ev, const char *id, const char *json)
{
    (void)id;
    static const char *const types[] = {"approval.requested", "approval.decided",
                                        "approval.expired"};
    if (ag_notify_emit(ctx, types[ev], json, NULL) != AG_OK)
        ag__cli_warn("notify: cannot queue %s: %s", types[ev], ag_last_error());
}

ag_notify *ag__cli_notify_approvals(struct ag__cli_gov *c, ag_approve *ap)
{
    const ag_config *cfg = NULL;
    if (ag_home_config(c->home, &cfg) != AG_OK)
        return NULL;
    struct ag_notify_opts o;
    ag_notify_opts_from_config(cfg, &o);
    o.store = c->store;
    o.ledger = c->ledger;
    o.auth = c->auth;
    ag_notify *n = NULL;
    if (ag_notify_new(&o, &n) != AG_OK) {
        ag__cli_warn("notifications are off: %s", ag_last_error());
        n = NULL;
    } else {
        ag_approve_set_event_hook(ap, approval_event, n);
    }
    return n;
}

static int do_list(ag_notify *n, int dead, int json)
{
    struct ag_notify_item *it;
    size_t cnt;
    ag_err e = ag_notify_list(n, dead, &it, &cnt);
    if (e) {
        ag__cli_error_ag(e, "notify list");
        return AG_EXIT_ERROR;
    }
    if (json)
        printf("[");
    else if (cnt == 0)
        printf("no %s notifications\n", dead ? "dead" : "pending or dead");
    else
        printf("%-28s  %-8s  %-20s  %-9s  %-8s  %s\n", "EVENT", "CHANNEL", "TYPE", "STATUS",
               "ATTEMPTS", "LAST ERROR");
    for (size_t i = 0; i < cnt; i++) {
        if (json)
            printf("%s{\"event_id\":\"%s\",\"channel\":\"%s\",\"type\":\"%s\",\"status\":\"%s\","
                   "\"attempts\":%d}",
                   i ? "," : "", it[i].event_id, it[i].channel, it[i].type, it[i].status,
                   it[i].attempts);
        else
            printf("%-28s  %-8s  %-20s  %-9s  %-8d  %s\n", it[i].event_id, it[i].channel,
                   it[i].type, it[i].status, it[i].attempts, it[i].last_error);
    }
    if (json)
        printf("]\n");
    ag_notify_list_free(it);
    return 0;
}

int ag__cmd_notify(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0 || ag__cli_wants_help(argc - 1, argv + 1)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : 0;
    }
    int test = strcmp(argv[1], "test") == 0;
    if (!test && strcmp(argv[1], "list") != 0) {
        ag__cli_error("notify: unknown subcommand '%s' (see agentgov notify --help)", argv[1]);
        return AG_EXIT_USAGE;
    }
    if (test)
        return ag__cli_notify_test(argc, argv);
    struct ag__cli_gopts o;
    char *pos[1];
    int npos = ag__cli_gov_opts(argc - 1, argv + 1, "store json dead", &o, pos, 0);
    if (npos < 0)
        return AG_EXIT_USAGE;
    struct ag__cli_gov c;
    int rc = ag__cli_gov_open(&c, o.store, NULL);
    if (rc)
        return rc;
    ag_notify *n = NULL;
    rc = ag__cli_notify_open(&c, &n);
    if (rc == 0)
        rc = do_list(n, o.dead, o.json);
    ag_notify_free(n);
    ag__cli_gov_close(&c);
    return rc;
}
