/* libFuzzer target: the hook event parser (what `agentgov hook` reads on stdin from a
 * coding agent) in both dialects, then a verdict with the shipped default policy when
 * it can be found (make fuzz runs from the source tree). */
#include <stdint.h>
#include <stdlib.h>

#include "agentgov/policy.h"
#include "hook/hook.h"

static ag_policy *policy;

/* libFuzzer's entry points (it declares none in a header). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (ag_policy_load("policies/default.yaml", &policy) != AG_OK)
        policy = NULL; /* decisions are then skipped, parsing is still fuzzed */
    return 0;
}

static void one(enum ag__hook_dialect d, const char *s, size_t len)
{
    struct ag__hook_event ev;
    if (ag__hook_parse(d, s, len, &ev) != AG_OK)
        return;
    if (ev.nreq > AG__HOOK_MAX_REQ)
        abort();
    for (size_t i = 0; i < ev.nreq; i++)
        if (ev.req[i].action == NULL || ev.req[i].resource == NULL)
            abort();
    (void)ag__hook_agent(&ev);
    if (policy) {
        struct ag__hook_verdict v;
        for (int tier = AG_TIER_MIN; tier <= AG_TIER_MAX; tier++)
            ag__hook_decide(policy, tier, &ev, &v);
    }
    ag__hook_event_free(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(AG_HOOK_CLAUDE_CODE, (const char *)data, size);
    one(AG_HOOK_CODEX, (const char *)data, size);
    return 0;
}
