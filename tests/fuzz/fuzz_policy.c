/* libFuzzer target: the policy loader on arbitrary bytes (YAML parsing, validation,
 * glob compilation and the rule index), then a few decisions on whatever loaded, so a
 * policy that loads but leaves the index inconsistent is caught too. */
#include <stddef.h>
#include <stdint.h>

#include "agentgov/policy.h"

static const char *const actions[] = {"docs.read", "ssh.exec", "governance.write", "x"};
static const char *const resources[] = {"sandbox/web/01", "prod/db", "", "a/b/c/d/e"};

/* libFuzzer's entry points (it declares none in a header). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_policy *p = NULL;
    if (ag_policy_load_string("fuzz.yaml", (const char *)data, size, &p) != AG_OK)
        return 0;
    for (int tier = AG_TIER_MIN; tier <= AG_TIER_MAX; tier++) {
        for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
            struct ag_request req = {.tier = tier,
                                     .phase = AG_PHASE_NONE,
                                     .action = actions[i],
                                     .resource = resources[i]};
            struct ag_decision d;
            (void)ag_decide(p, &req, &d);
        }
        struct ag_tier_info ti;
        (void)ag_policy_tier(p, tier, &ti);
        (void)ag_policy_sandbox(p, tier);
    }
    const struct ag_promotion_rule *rules;
    (void)ag_policy_promotions(p, &rules);
    ag_policy_free(p);
    return 0;
}
