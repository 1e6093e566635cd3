/* The sandbox's public entry points (agentgov/runner.h) over src/runner/sandbox.h. */
#include "agentgov/runner.h"
#include "runner/sandbox.h"

_Static_assert(AG_SPAWN_ALLOW_NO_LANDLOCK == AG_SANDBOX_ALLOW_NO_LANDLOCK,
               "one flag, two names: the public one and the sandbox's");

ag_err ag_sandbox_spawn(const struct ag_sandbox_profile *profile, const char *workdir,
                        char *const argv[], char *const envp[], const struct ag_spawn_opts *opts,
                        pid_t *pid)
{
    struct ag__spawn_opts o = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
    if (opts)
        o = (struct ag__spawn_opts){.stdin_fd = opts->stdin_fd,
                                    .stdout_fd = opts->stdout_fd,
                                    .stderr_fd = opts->stderr_fd,
                                    .new_session = opts->new_session,
                                    .scope = opts->scope,
                                    .nscope = opts->nscope,
                                    .flags = opts->flags};
    return ag__sandbox_spawn(profile, workdir, argv, envp, opts ? &o : NULL, pid);
}

ag_err ag_sandbox_profile_json(const struct ag_sandbox_profile *profile, int tier,
                               const char *workdir, char **out)
{
    return ag__sandbox_profile_json(profile, tier, workdir, out);
}

ag_err ag_sandbox_profile_text(const struct ag_sandbox_profile *profile, int tier,
                               const char *workdir, char **out)
{
    return ag__sandbox_profile_text(profile, tier, workdir, out);
}
