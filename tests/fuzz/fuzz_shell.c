/* libFuzzer target: the shell parser and judge (what `agentgov hook` makes of a Bash or
 * Codex shell command line), then the pattern check against the shipped coding policy
 * when it can be found (make fuzz runs from the source tree). Paths are resolved under
 * a directory that does not exist, so the judge reads no real files but its own. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "hook/shell_glob.h"
#include "hook/shell_judge.h"
#include "hook/hook.h"

static ag_policy *policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (ag_policy_load("policies/coding-agent.yaml", &policy) != AG_OK)
        policy = NULL; /* pattern checks are then skipped, the judge is still fuzzed */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ag__shell_ctx ctx = {.cwd = "/nonexistent/fuzz/p",
                                .home = "/nonexistent/fuzz/h",
                                .path = ag__hook_path_resource};
    struct ag__shell_result r;
    if (ag__shell_judge((const char *)data, size, &ctx, &r) != AG_OK)
        return 0;
    if (r.n == 0 || r.n > AG__SHELL_MAX_CHECKS + AG__SHELL_MAX_EXEC || r.n > AG__HOOK_MAX_REQ)
        abort();
    for (size_t i = 0; i < r.n; i++) {
        const struct ag__shell_check *c = &r.c[i];
        if (!c->action || !c->resource || (c->kind == AG__SHELL_SEARCH && !c->dir))
            abort();
        (void)ag__shell_part(&r, c);
        struct ag_decision d;
        if (policy && c->kind == AG__SHELL_PATTERN)
            (void)ag__shell_pattern_hit(policy, 2, c->action, c->resource, &d);
    }
    ag__shell_result_free(&r);
    return 0;
}
