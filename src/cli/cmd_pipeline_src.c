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
#include "agentgov/policy.h"

#define MAX_PIPELINE_FILE (4u << 20)

static ag_err read_src(void *ctx, const char *from, const char *path, char **text, size_t *len)
{
    struct ag__cli_plsrc *src = ctx;
    char cand[4][4096];
    int nc = 0;
    /* Where `from` itself was found. */
    const char *base = from;
    for (int i = 0; i < src->n; i++)
        if (strcmp(src->named[i], from) == 0)
            base = src->found[i];
    if (path[0] == '/') {
        snprintf(cand[nc++], sizeof cand[0], "%s", path);
    } else {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", base);
        snprintf(cand[nc++], sizeof cand[0], "%s/%s", dirname(tmp), path);
        snprintf(cand[nc++], sizeof cand[0], "%s", path);
        snprintf(tmp, sizeof tmp, "%s", ag_policy_default_path());
        char *pdir = dirname(tmp); /* <root>/policies: the shipped templates are next to it */
        snprintf(cand[nc++], sizeof cand[0], "%s/../%s", pdir, path);
    }
    for (int i = 0; i < nc; i++) {
        if (access(cand[i], R_OK) != 0)
            continue;
        if (src->n < AG__PLSRC_MAX && strlen(path) < sizeof src->named[0]) {
            snprintf(src->named[src->n], sizeof src->named[0], "%s", path);
            snprintf(src->found[src->n], sizeof src->found[0], "%.4000s", cand[i]);
            src->n++;
        }
        return ag__read_file(cand[i], MAX_PIPELINE_FILE, text, len);
    }
    return ag__fail(AG_ENOTFOUND, "no such file next to %s, here or in the shipped templates",
                    from);
}

void ag__cli_plsrc_reset(struct ag__cli_plsrc *src)
{
    src->n = 0;
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
    ag_err e =
        ag__read_file(strcmp(file, "-") == 0 ? "/dev/stdin" : file, MAX_PIPELINE_FILE, &text, &len);
    if (e) {
        ag__cli_error_ag(e, file);
        return 1;
    }
    ag__cli_plsrc_reset(src);
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
