/* `agentgov pipeline`: validate, run, resume, status, list, cancel, approve and deny
 * YAML pipelines (docs/pipelines.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/pipeline.h"
#include "cli/cliutil.h"
#include "cli/cmd_pipeline_src.h"
#include "cli/commands.h"
#include "cli/govctx.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov pipeline SUBCOMMAND ...\n\n"
            "  validate FILE [--no-registry]  check FILE; every problem as file:line:col: message\n\n"
            "Exit status: 0 done, 1 usage or invalid pipeline, 2 could not answer.\n"
            "See docs/pipelines.md.\n");
}

/* The registry of the data directory, when there is one, tells which agents exist. */
static int open_registry(struct ag__cli_gov *g)
{
    memset(g, 0, sizeof *g);
    if (access(ag__cli_path("ledger.db"), F_OK) != 0)
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
    struct ag__cli_plsrc src = {.gov = have ? g.gov : NULL};
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
    ag__cli_error("pipeline: unknown subcommand '%s' (see agentgov pipeline --help)", argv[1]);
    return AG_EXIT_USAGE;
}
