/* Source ops of `agentgov pipeline` (cmd_pipeline_src.h). A template named by
 * `uses:` is looked up next to the file that names it, then in the current
 * directory, then in the shipped templates (the directory that holds policies/). */
#include "cli/cmd_pipeline_src.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cliutil.h"
#include "core/err.h"
#include "core/fileio.h"
#include "policy/path.h"

#define MAX_PIPELINE_FILE (4u << 20)

static ag_err read_src(void *ctx, const char *from, const char *path, char **text, size_t *len)
{
    (void)ctx;
    char cand[3][PATH_MAX];
    int nc = 0;
    if (path[0] == '/') {
        snprintf(cand[nc++], PATH_MAX, "%s", path);
    } else {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", from);
        snprintf(cand[nc++], PATH_MAX, "%s/%s", dirname(tmp), path);
        snprintf(cand[nc++], PATH_MAX, "%s", path);
        snprintf(tmp, sizeof tmp, "%s", ag__policy_default_path());
        char *pdir = dirname(tmp); /* .../policies */
        snprintf(cand[nc++], PATH_MAX, "%s/../%s", pdir, path);
    }
    for (int i = 0; i < nc; i++)
        if (access(cand[i], R_OK) == 0)
            return ag__read_file(cand[i], MAX_PIPELINE_FILE, text, len);
    return ag__fail(AG_ENOTFOUND, "no such file next to %s, here or in the shipped templates",
                    from);
}

static int agent_known(void *ctx, const char *id)
{
    struct ag__cli_plsrc *s = ctx;
    if (!s->gov)
        return 0;
    struct ag_agent_status st;
    if (ag_gov_status(s->gov, id, &st) != AG_OK)
        return 0;
    int known = st.registered;
    ag_agent_status_clear(&st);
    return known;
}

int ag__cli_pl_load(const char *file, struct ag__cli_plsrc *src, ag_pipeline **out)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    ag_err e = ag__read_file(strcmp(file, "-") == 0 ? "/dev/stdin" : file, MAX_PIPELINE_FILE, &text,
                             &len);
    if (e) {
        ag__cli_error_ag(e, file);
        return 1;
    }
    struct ag_pipeline_source_ops ops = {.ctx = src, .read = read_src, .agent_known = agent_known};
    char *diags = NULL;
    e = ag_pipeline_load(file, text, len, &ops, out, &diags);
    free(text);
    if (diags)
        fputs(diags, stderr);
    free(diags);
    if (e == AG_EPARSE)
        return 1;
    if (e) {
        ag__cli_error_ag(e, file);
        return 1;
    }
    return 0;
}
