/* Reading pipeline files and their templates for `agentgov pipeline` (the library
 * opens nothing by path: these are its source ops). Ownership: struct
 * ag__cli_plsrc is caller-owned; ag__cli_pl_load returns a pipeline to free. */
#ifndef AG_CLI_CMD_PIPELINE_SRC_H
#define AG_CLI_CMD_PIPELINE_SRC_H

#include "agentgov/gov.h"
#include "agentgov/pipeline.h"

struct ag__cli_plsrc {
    ag_gov *gov; /* NULL: no registry to look agents up in */
};

/* Reads and loads file; prints every diagnostic to stderr. Returns 0 with *out set,
 * or the exit status (1: problems found or unreadable). */
int ag__cli_pl_load(const char *file, struct ag__cli_plsrc *src, ag_pipeline **out);

#endif
