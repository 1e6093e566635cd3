/* The shipped policies/default.yaml: the seed's tier table (decisions driven by
 * tests/data/policy/default_cases.txt), TTLs, promotion rules, and sandbox sections
 * that equal the built-in defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/policy.h"
#include "test.h"

static const char *src_path(const char *rel)
{
    static char path[4096];
    const char *src = getenv("AGENTGOV_SRC");
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
    return path;
}

static ag_policy *load_default(void)
{
    ag_policy *p = NULL;
    ag_err err = ag_policy_load(src_path("policies/default.yaml"), &p);
    if (err != AG_OK)
        ag_test_fail(__FILE__, __LINE__, "load: %s", ag_last_error());
    return p;
}

/* Splits a comma-separated list in place into at most max entries. */
static size_t split_list(char *s, const char **out, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
        out[n++] = tok;
    return n;
}

TEST(default_policy_cases_from_data_file)
{
    ag_policy *p = load_default();
    FILE *f = fopen(src_path("tests/data/policy/default_cases.txt"), "r");
    ASSERT_TRUE(f != NULL);
    char line[1024];
    int lineno = 0, cases = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char phase[32], action[128], resource[256], effect[16], reason[64];
        char extra[2][512] = {"", ""};
        int tier;
        if (sscanf(line, "%d %31s %127s %255s %15s %63s %511s %511s", &tier, phase, action,
                   resource, effect, reason, extra[0], extra[1]) < 6)
            ag_test_fail(__FILE__, __LINE__, "default_cases.txt:%d: malformed", lineno);
        const char *scope[8], *forbidden[8];
        struct ag_request r = {
            .tier = tier, .action = action, .resource = resource, .phase = AG_PHASE_NONE};
        if (strcmp(phase, "-") != 0)
            ASSERT_OK(ag_phase_parse(phase, &r.phase));
        for (int i = 0; i < 2; i++) {
            if (strncmp(extra[i], "scope=", 6) == 0) {
                r.nscope = split_list(extra[i] + 6, scope, 8);
                r.scope = scope;
            } else if (strncmp(extra[i], "forbidden=", 10) == 0) {
                r.nforbidden = split_list(extra[i] + 10, forbidden, 8);
                r.forbidden = forbidden;
            }
        }
        struct ag_decision d;
        ag_decide(p, &r, &d);
        if (strcmp(ag_effect_name(d.effect), effect) != 0 ||
            strcmp(ag_reason_name(d.reason), reason) != 0) {
            printf("    default_cases.txt:%d: T%d %s %s %s: got %s %s, want %s %s\n", lineno, tier,
                   phase, action, resource, ag_effect_name(d.effect), ag_reason_name(d.reason),
                   effect, reason);
            bad++;
        }
        cases++;
    }
    fclose(f);
    ag_policy_free(p);
    ASSERT_EQ(bad, 0);
    ASSERT_TRUE(cases >= 50);
}

TEST(default_policy_tiers_and_ttls)
{
    ag_policy *p = load_default();
    const char *names[] = {"Observer", "Operator", "Builder", "Executor", "Architect"};
    const int64_t ttl_min[] = {60, 30, 30, 15, 15};
    for (int t = 0; t <= 4; t++) {
        struct ag_tier_info ti;
        ASSERT_OK(ag_policy_tier(p, t, &ti));
        ASSERT_STREQ(ti.name, names[t]);
        ASSERT_EQ(ti.token_ttl_ms, ttl_min[t] * 60000);
        ASSERT_TRUE(ti.max_ttl_ms >= ti.token_ttl_ms);
    }
    ag_policy_free(p);
}

TEST(default_policy_promotions)
{
    ag_policy *p = load_default();
    const struct ag_promotion_rule *pr;
    ASSERT_EQ(ag_policy_promotions(p, &pr), 4);
    const int runs[] = {5, 10, 20, 0};
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(pr[i].from, i);
        ASSERT_EQ(pr[i].to, i + 1);
        ASSERT_EQ(pr[i].consecutive_compliant, runs[i]);
        ASSERT_EQ(pr[i].requires_approval, i == 3);
    }
    ag_policy_free(p);
}

static void assert_same_profile(const struct ag_sandbox_profile *a,
                                const struct ag_sandbox_profile *b)
{
    ASSERT_EQ(a->workdir_write, b->workdir_write);
    ASSERT_EQ(a->nread, b->nread);
    for (size_t i = 0; i < a->nread; i++)
        ASSERT_STREQ(a->read_paths[i], b->read_paths[i]);
    ASSERT_EQ(a->nwrite, b->nwrite);
    for (size_t i = 0; i < a->nwrite; i++)
        ASSERT_STREQ(a->write_paths[i], b->write_paths[i]);
    ASSERT_EQ(a->nconnect, b->nconnect);
    ASSERT_EQ(a->nbind, b->nbind);
    ASSERT_EQ(a->cpu_seconds, b->cpu_seconds);
    ASSERT_EQ(a->memory_bytes, b->memory_bytes);
    ASSERT_EQ(a->max_procs, b->max_procs);
    ASSERT_EQ(a->file_bytes, b->file_bytes);
}

TEST(default_policy_sandbox_equals_builtin_defaults)
{
    ag_policy *p = load_default(), *bare = NULL;
    const char *yaml = "version: 1\nrules: []\n";
    ASSERT_OK(ag_policy_load_string("bare.yaml", yaml, strlen(yaml), &bare));
    for (int t = 0; t <= 4; t++)
        assert_same_profile(ag_policy_sandbox(p, t), ag_policy_sandbox(bare, t));
    ASSERT_EQ(ag_policy_sandbox(p, 0)->workdir_write, 0);
    ASSERT_EQ(ag_policy_sandbox(p, 1)->workdir_write, 1);
    ASSERT_EQ(ag_policy_sandbox(p, 3)->nconnect, 0);
    ag_policy_free(p);
    ag_policy_free(bare);
}
