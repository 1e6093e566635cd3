/* The coding-agent backstop's public entry points (agentgov/runner.h) over
 * runner/backstop.h, runner/backstop_profile.h and runner/sandbox.h. */
#include <stdlib.h>

#include "agentgov/runner.h"
#include "runner/backstop.h"
#include "runner/backstop_profile.h"
#include "runner/sandbox.h"

struct ag_backstop {
    struct ag__grants grants;
};

int ag_landlock_abi(void)
{
    return ag__landlock_abi();
}

ag_err ag_backstop_build(const struct ag_backstop_opts *o, ag_backstop **out)
{
    if (!o || !out)
        return AG_EINVAL;
    *out = NULL;
    ag_backstop *b = calloc(1, sizeof *b);
    if (!b)
        return AG_ENOMEM;
    const struct ag__backstop_opts bo = {.home = o->home,
                                         .project = o->project,
                                         .data_dir = o->data_dir,
                                         .data_writable = o->data_writable,
                                         .ndata_writable = o->ndata_writable,
                                         .binaries = o->binaries,
                                         .nbinaries = o->nbinaries,
                                         .programs = o->programs,
                                         .nprograms = o->nprograms,
                                         .policy = o->policy};
    struct ag__wants w = {0};
    ag_err e = ag__backstop_coding_wants(&bo, &w);
    if (e == AG_OK)
        e = ag__grants_build(&w, 0, &b->grants);
    ag__wants_free(&w);
    if (e != AG_OK) {
        ag_backstop_free(b);
        return e;
    }
    *out = b;
    return AG_OK;
}

void ag_backstop_free(ag_backstop *b)
{
    if (!b)
        return;
    ag__grants_free(&b->grants);
    free(b);
}

size_t ag_backstop_ngrants(const ag_backstop *b)
{
    return b ? b->grants.n : 0;
}

int ag_backstop_grant(const ag_backstop *b, size_t i, const char **path, const char **access,
                      const char **why)
{
    if (!b || i >= b->grants.n)
        return -1;
    const struct ag__grant *g = &b->grants.v[i];
    if (path)
        *path = g->path;
    if (access)
        *access = ag__access_name(g->access);
    if (why)
        *why = g->why ? g->why : "";
    return 0;
}

ag_err ag_backstop_text(const ag_backstop *b, char **out)
{
    if (!b || !out)
        return AG_EINVAL;
    return ag__grants_text(&b->grants, out);
}

ag_err ag_backstop_spawn(const ag_backstop *b, const struct ag_sandbox_profile *profile,
                         const char *workdir, char *const argv[], char *const envp[],
                         const struct ag_spawn_opts *opts, pid_t *pid)
{
    if (!b)
        return AG_EINVAL;
    struct ag__spawn_opts o = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    if (opts) {
        o.stdin_fd = opts->stdin_fd;
        o.stdout_fd = opts->stdout_fd;
        o.stderr_fd = opts->stderr_fd;
        o.new_session = opts->new_session;
        o.flags = opts->flags;
    }
    /* An empty list grants nothing: it must not fall back to the workdir's grants. */
    static const struct ag__grant none = {0};
    o.grants = b->grants.v ? b->grants.v : &none;
    o.ngrants = b->grants.n;
    return ag__sandbox_spawn(profile, workdir, argv, envp, &o, pid);
}
