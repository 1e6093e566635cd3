/* `agentgov notify test CHANNEL` in the daemon binary, which links the HTTP client. */
#include <stdio.h>
#include <string.h>

#include "cli/cliutil.h"
#include "cli/notifyctx.h"

int ag__cli_notify_test(int argc, char **argv)
{
    struct ag__cli_gopts o;
    char *pos[1];
    int npos = ag__cli_gov_opts(argc - 1, argv + 1, "store", &o, pos, 1);
    if (npos < 0)
        return AG_EXIT_USAGE;
    if (npos != 1) {
        ag__cli_error("notify test: name the CHANNEL (slack, webhook or github)");
        return AG_EXIT_USAGE;
    }
    struct ag__cli_gov c;
    int rc = ag__cli_gov_open(&c, o.store, NULL);
    if (rc)
        return rc;
    ag_notify *n = NULL;
    rc = ag__cli_notify_open(&c, &n);
    if (rc == 0) {
        long status = 0;
        ag_err e = ag_notify_test(n, pos[0], &status);
        if (e) {
            ag__cli_error_ag(e, "notify test");
            rc = e == AG_EINVAL ? AG_EXIT_USAGE : AG_EXIT_ERROR;
        } else {
            printf("%s: delivered (HTTP %ld)\n", pos[0], status);
        }
    }
    ag_notify_free(n);
    ag__cli_gov_close(&c);
    return rc;
}
