/* Reading pipeline files and their templates for `agentgov pipeline` (the library
 * opens nothing by path: these are its source ops). Ownership: struct
 * ag__cli_plsrc is caller-owned; ag__cli_pl_load returns a pipeline to free. */
#ifndef AG_CLI_CMD_PIPELINE_SRC_H
#define AG_CLI_CMD_PIPELINE_SRC_H

#include "agentgov/gov.h"
#include "agentgov/pipeline.h"

#define AG__PLSRC_MAX 64

struct ag__cli_plsrc {
    ag_gov *gov; /* NULL: no registry to look agents up in */
    /* Files read so far, as named and as found: a template's own files are found
     * next to where the template was found. */
    char named[AG__PLSRC_MAX][256];
    char found[AG__PLSRC_MAX][4096];
    int n;
};

/* Reads and loads file; prints every diagnostic to stderr. Returns 0 with *out set,
 * or the exit status (1: problems found or unreadable). */
/* Clears the table of files read (ag__cli_pl_load does it). */
void ag__cli_plsrc_reset(struct ag__cli_plsrc *src);
int ag__cli_pl_load(const char *file, struct ag__cli_plsrc *src, ag_pipeline **out);

/* `agentgov demo --pipeline`: runs examples/pipelines/infrastructure-deploy.yaml on
 * the data directory already set up, a reviewer process approving its gate, and
 * verifies the ledger. Returns the exit status (0 when it succeeded and verified). */
int ag__cli_pipeline_demo(const char *store, const char *policy);

#endif
