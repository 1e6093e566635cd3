/* `agentgov stuck`: agents whose last heartbeat is older than a threshold, from the
 * heartbeat deadline index (no scan of all agents). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "core/time.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: agentgov stuck [--older-than DURATION] [--store URL] [--policy FILE]\n\n"
                 "Lists running agents whose last heartbeat (transition or heartbeat) is older\n"
                 "than DURATION (default: the stuck.after setting, 30s unless <dir>/config\n"
                 "sets it), one per line with its phase and the age of its last heartbeat.\n"
                 "Exits 0 when none is stuck, 2 (DENY) when some are.\n");
    ag__cli_print_exit_statuses(out);
}

int ag__cmd_stuck(int argc, char **argv)
{
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct ag__cli_gopts o;
    char *pos[1];
    if (ag__cli_gov_opts(argc, argv, "store policy older-than", &o, pos, 0) < 0)
        return AG_EXIT_USAGE;
    int64_t ms = 0;
    if (o.older_than && ag__parse_duration(o.older_than, &ms)) {
        ag__cli_error("--older-than: '%s' is not a duration (e.g. 30s, 5m)", o.older_than);
        return AG_EXIT_USAGE;
    }
    struct ag__cli_gov c;
    int open_rc = ag__cli_gov_open(&c, o.store, o.policy);
    if (open_rc)
        return open_rc;
    const ag_config *cfg;
    char after[32] = "";
    if (ag_home_config(c.home, &cfg) == AG_OK) { /* loaded by the open: cannot fail */
        if (!o.older_than)
            ms = ag_config_ms(cfg, "stuck.after");
        snprintf(after, sizeof after, "%s", ag_config_str(cfg, "stuck.after"));
    }
    char **ids;
    size_t n;
    ag_err e = ag_gov_stuck(c.gov, ms, &ids, &n);
    if (e) {
        ag__cli_error_ag(e, "stuck");
        ag__cli_gov_close(&c);
        return AG_EXIT_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        struct ag_agent_status s;
        const char *phase = "-";
        char buf[64] = "-";
        if (ag_gov_status(c.gov, ids[i], &s) == AG_OK) {
            const char *p = s.state_json ? strstr(s.state_json, "\"phase\":\"") : NULL;
            if (p)
                snprintf(buf, sizeof buf, "%.*s", (int)strcspn(p + 9, "\""), p + 9);
            phase = buf;
            printf("%s %s heartbeat=%s\n", ids[i], phase, s.heartbeat ? s.heartbeat : "expired");
            ag_agent_status_clear(&s);
        } else {
            printf("%s\n", ids[i]);
        }
    }
    if (n == 0)
        fprintf(stderr, "no running agent has gone %s without a heartbeat\n",
                o.older_than ? o.older_than : after);
    ag_store_strv_free(ids, n);
    ag__cli_gov_close(&c);
    return n ? AG_EXIT_DENY : 0;
}
