/* Decision semantics of ag_decide, one test per rule of docs/policy.md, plus the
 * loader's accessors and defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/policy.h"
#include "policy/path.h"
#include "test.h"

static ag_policy *load(const char *yaml)
{
    ag_policy *p = NULL;
    ag_err err = ag_policy_load_string("t.yaml", yaml, strlen(yaml), &p);
    if (err != AG_OK)
        ag_test_fail(__FILE__, __LINE__, "load: %s: %s", ag_errname(err), ag_last_error());
    return p;
}

static struct ag_decision decide(const ag_policy *p, int tier, enum ag_phase ph, const char *action,
                                 const char *resource)
{
    struct ag_request r = {.tier = tier, .phase = ph, .action = action, .resource = resource};
    struct ag_decision d;
    enum ag_effect e = ag_decide(p, &r, &d);
    if (e != d.effect)
        ag_test_fail(__FILE__, __LINE__, "return value %d != out->effect %d", e, d.effect);
    return d;
}

#define ASSERT_DECISION(d, eff, why)                                                               \
    do {                                                                                           \
        struct ag_decision d_ = (d);                                                               \
        ASSERT_STREQ(ag_effect_name(d_.effect), eff);                                              \
        ASSERT_STREQ(ag_reason_name(d_.reason), why);                                              \
    } while (0)

static const char *ALLOW_SSH = "version: 1\n"
                               "rules:\n"
                               "  - effect: allow\n"
                               "    actions: [ssh.exec]\n"
                               "    resources: [sandbox/**]\n"
                               "    min_tier: 1\n";

TEST(policy_null_policy_denies_no_policy)
{
    struct ag_decision d = decide(NULL, 1, AG_PHASE_EXECUTE, "ssh.exec", "sandbox/a");
    ASSERT_DECISION(d, "deny", "no_policy");
    ASSERT_EQ(d.tier, 1);
    ASSERT_EQ(d.phase, AG_PHASE_EXECUTE);
    ASSERT_TRUE(d.rule_file == NULL);
    ASSERT_EQ(d.rule_line, 0);
}

TEST(policy_invalid_requests_deny)
{
    ag_policy *p = load(ALLOW_SSH);
    struct ag_decision d;
    ASSERT_EQ(ag_decide(p, NULL, &d), AG_EFFECT_DENY);
    ASSERT_DECISION(d, "deny", "invalid_request");
    ASSERT_DECISION(decide(p, 1, AG_PHASE_EXECUTE, NULL, "sandbox/a"), "deny", "invalid_request");
    ASSERT_DECISION(decide(p, 1, AG_PHASE_EXECUTE, "", "sandbox/a"), "deny", "invalid_request");
    ASSERT_DECISION(decide(p, 1, AG_PHASE_EXECUTE, "ssh.exec", NULL), "deny", "invalid_request");
    ASSERT_DECISION(decide(p, 1, AG_PHASE_EXECUTE, "ssh.exec", ""), "deny", "invalid_request");
    ASSERT_DECISION(decide(p, -1, AG_PHASE_EXECUTE, "ssh.exec", "sandbox/a"), "deny",
                    "invalid_request");
    ASSERT_DECISION(decide(p, 5, AG_PHASE_EXECUTE, "ssh.exec", "sandbox/a"), "deny",
                    "invalid_request");
    ASSERT_DECISION(decide(p, 1, (enum ag_phase)42, "ssh.exec", "sandbox/a"), "deny",
                    "invalid_request");
    /* Packet lists: a count without a list, a NULL entry, a malformed glob. */
    struct ag_request r = {.tier = 1,
                           .phase = AG_PHASE_EXECUTE,
                           .action = "ssh.exec",
                           .resource = "sandbox/a",
                           .nscope = 1};
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "deny", "invalid_request");
    const char *bad[] = {"sandbox/[a"};
    r.scope = bad;
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "deny", "invalid_request");
    const char *null_entry[] = {NULL};
    r.scope = NULL;
    r.nscope = 0;
    r.forbidden = null_entry;
    r.nforbidden = 1;
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "deny", "invalid_request");
    ag_policy_free(p);
}

/* Text a ledger cannot hold, and resources whose `.`/`..` segments name another place
 * than the text the globs see, are malformed requests (docs/policy.md, step 2). */
TEST(policy_dot_segments_and_bad_utf8_are_invalid)
{
    ag_policy *p = load("version: 1\n"
                        "rules:\n"
                        "  - {effect: allow, actions: ['**'], resources: ['**'], min_tier: 0}\n");
    static const char *const bad[] = {
        ".",      "..",      "./a",         "../a",          "a/.",   "a/..",      "a/./b",
        "a/../b", "a//../b", "a/b/../../c", "sandbox/w\xff", "\xc3(", "a/\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_DECISION(decide(p, 1, AG_PHASE_NONE, "x.y", bad[i]), "deny", "invalid_request");
    ASSERT_DECISION(decide(p, 1, AG_PHASE_NONE, "x.\xff", "a"), "deny", "invalid_request");
    static const char *const good[] = {
        "...",  "a..b", ".env", "a/.ssh/id",           "a/..b/c.",
        "a//b", "/",    "a/",   "https://x.example/a", "caf\xc3\xa9/\xe2\x82\xac"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ASSERT_DECISION(decide(p, 1, AG_PHASE_NONE, "x.y", good[i]), "allow", "rule_allow");
    /* Forbidden actions stay recognisable for callers that count them. */
    const char *forb[] = {"x.*"};
    struct ag_request r = {.tier = 1,
                           .phase = AG_PHASE_NONE,
                           .action = "x.y",
                           .resource = "a/../b",
                           .forbidden = forb,
                           .nforbidden = 1};
    struct ag_decision d;
    ASSERT_EQ(ag_decide(p, &r, &d), AG_EFFECT_DENY);
    ASSERT_DECISION(d, "deny", "invalid_request");
    ASSERT_TRUE(ag_request_forbidden(&r));
    r.action = "z.y";
    ASSERT_FALSE(ag_request_forbidden(&r));
    const char *malformed[] = {"x.[a"};
    r.action = "x.y";
    r.forbidden = malformed;
    ASSERT_FALSE(ag_request_forbidden(&r));
    /* A command line is text, not a path: "cat ../../notes" is not refused. */
    struct ag_request cmd = {
        .tier = 1, .phase = AG_PHASE_NONE, .action = "x.y", .resource = "cat a/../../b"};
    ASSERT_EQ(ag_decide(p, &cmd, &d), AG_EFFECT_DENY);
    cmd.text_resource = 1;
    ASSERT_EQ(ag_decide(p, &cmd, &d), AG_EFFECT_ALLOW);
    cmd.resource = "cat w\xff"; /* still text a ledger must hold */
    ASSERT_EQ(ag_decide(p, &cmd, &d), AG_EFFECT_DENY);
    ag_policy_free(p);
}

TEST(policy_null_out_arguments)
{
    ag_policy *p = load(ALLOW_SSH);
    struct ag_request r = {
        .tier = 1, .phase = AG_PHASE_EXECUTE, .action = "ssh.exec", .resource = "sandbox/a"};
    ASSERT_EQ(ag_decide(p, &r, NULL), AG_EFFECT_ALLOW);
    ASSERT_ERR(ag_policy_load_string("x", "version: 1\n", 11, NULL), AG_EINVAL);
    ASSERT_ERR(ag_policy_load("x.yaml", NULL), AG_EINVAL);
    ag_policy_free(p);
}

TEST(policy_default_deny)
{
    ag_policy *p = load("version: 1\nrules: []\n");
    ASSERT_DECISION(decide(p, 4, AG_PHASE_EXECUTE, "docs.read", "docs/x"), "deny", "default_deny");
    ag_policy_free(p);
    p = load(ALLOW_SSH);
    ASSERT_DECISION(decide(p, 1, AG_PHASE_EXECUTE, "ssh.exec", "staging/a"), "deny",
                    "default_deny");
    ASSERT_DECISION(decide(p, 1, AG_PHASE_EXECUTE, "ssh.copy", "sandbox/a"), "deny",
                    "default_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_EXECUTE, "ssh.exec", "sandbox/a"), "deny",
                    "default_deny");
    ag_policy_free(p);
}

TEST(policy_allow_carries_rule_position_tier_and_phase)
{
    ag_policy *p = load(ALLOW_SSH);
    struct ag_decision d = decide(p, 2, AG_PHASE_VERIFY, "ssh.exec", "sandbox/web/01");
    ASSERT_DECISION(d, "allow", "rule_allow");
    ASSERT_STREQ(d.rule_file, "t.yaml");
    ASSERT_EQ(d.rule_line, 3);
    ASSERT_EQ(d.tier, 2);
    ASSERT_EQ(d.phase, AG_PHASE_VERIFY);
    ag_policy_free(p);
}

static const char *CONFLICT =
    "version: 1\n"
    "rules:\n"
    "  - {effect: allow, actions: [a.b], resources: [r/**], min_tier: 0}\n"
    "  - {effect: ask, actions: [a.*], resources: [r/x/**], min_tier: 0}\n"
    "  - {effect: deny, actions: [\"**\"], resources: [r/x/y], min_tier: 0}\n";

TEST(policy_deny_beats_ask_beats_allow)
{
    ag_policy *p = load(CONFLICT);
    struct ag_decision d = decide(p, 0, AG_PHASE_PLAN, "a.b", "r/z");
    ASSERT_DECISION(d, "allow", "rule_allow");
    ASSERT_EQ(d.rule_line, 3);
    d = decide(p, 0, AG_PHASE_PLAN, "a.b", "r/x/z");
    ASSERT_DECISION(d, "ask", "rule_ask");
    ASSERT_EQ(d.rule_line, 4);
    d = decide(p, 0, AG_PHASE_PLAN, "a.b", "r/x/y");
    ASSERT_DECISION(d, "deny", "rule_deny");
    ASSERT_EQ(d.rule_line, 5);
    ag_policy_free(p);
}

TEST(policy_rule_order_and_duplicates_do_not_matter)
{
    const char *reversed =
        "version: 1\n"
        "rules:\n"
        "  - {effect: deny, actions: [\"**\"], resources: [r/x/y], min_tier: 0}\n"
        "  - {effect: ask, actions: [a.*], resources: [r/x/**], min_tier: 0}\n"
        "  - {effect: allow, actions: [a.b], resources: [r/**], min_tier: 0}\n"
        "  - {effect: allow, actions: [a.b], resources: [r/**], min_tier: 0}\n"
        "  - {effect: ask, actions: [a.*], resources: [r/x/**], min_tier: 0}\n";
    ag_policy *p = load(CONFLICT), *q = load(reversed);
    const char *resources[] = {"r/z", "r/x/z", "r/x/y", "q"};
    for (size_t i = 0; i < 4; i++) {
        struct ag_decision a = decide(p, 0, AG_PHASE_PLAN, "a.b", resources[i]);
        struct ag_decision b = decide(q, 0, AG_PHASE_PLAN, "a.b", resources[i]);
        ASSERT_EQ(a.effect, b.effect);
        ASSERT_EQ(a.reason, b.reason);
    }
    /* Among duplicates, the deciding rule is the first one in the file. */
    ASSERT_EQ(decide(q, 0, AG_PHASE_PLAN, "a.b", "r/z").rule_line, 5);
    ag_policy_free(p);
    ag_policy_free(q);
}

static const char *PHASED = "version: 1\n"
                            "rules:\n"
                            "  - effect: allow\n"
                            "    actions: [ssh.exec]\n"
                            "    resources: [sandbox/**]\n"
                            "    phases: [EXECUTE, verify]\n"
                            "    min_tier: 1\n";

TEST(policy_phase_not_listed_does_not_match)
{
    ag_policy *p = load(PHASED);
    ASSERT_DECISION(decide(p, 1, AG_PHASE_EXECUTE, "ssh.exec", "sandbox/a"), "allow", "rule_allow");
    ASSERT_DECISION(decide(p, 1, AG_PHASE_VERIFY, "ssh.exec", "sandbox/a"), "allow", "rule_allow");
    struct ag_decision d = decide(p, 1, AG_PHASE_PLAN, "ssh.exec", "sandbox/a");
    ASSERT_DECISION(d, "deny", "phase_not_allowed");
    ASSERT_EQ(d.rule_line, 3);
    /* The phase is the only reason: other mismatches stay default_deny. */
    ASSERT_DECISION(decide(p, 1, AG_PHASE_PLAN, "ssh.exec", "prod/a"), "deny", "default_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_PLAN, "ssh.exec", "sandbox/a"), "deny", "default_deny");
    ag_policy_free(p);
}

TEST(policy_phase_none_matches_only_rules_without_phases)
{
    ag_policy *p = load(PHASED);
    ASSERT_DECISION(decide(p, 1, AG_PHASE_NONE, "ssh.exec", "sandbox/a"), "deny",
                    "phase_not_allowed");
    ag_policy_free(p);
    p = load(ALLOW_SSH);
    ASSERT_DECISION(decide(p, 1, AG_PHASE_NONE, "ssh.exec", "sandbox/a"), "allow", "rule_allow");
    ag_policy_free(p);
}

TEST(policy_phase_not_allowed_only_when_nothing_else_decides)
{
    const char *yaml =
        "version: 1\n"
        "rules:\n"
        "  - {effect: allow, actions: [x.run], resources: [\"**\"], phases: [EXECUTE], "
        "min_tier: 0}\n"
        "  - {effect: allow, actions: [x.run], resources: [open/**], min_tier: 0}\n"
        "  - {effect: deny, actions: [x.run], resources: [closed/**], min_tier: 0}\n"
        "  - {effect: deny, actions: [y.run], resources: [\"**\"], phases: [PLAN], "
        "min_tier: 0}\n";
    ag_policy *p = load(yaml);
    /* Another allow rule matches in this phase: allow. */
    ASSERT_DECISION(decide(p, 0, AG_PHASE_PLAN, "x.run", "open/a"), "allow", "rule_allow");
    /* A deny rule matches: rule_deny, not phase_not_allowed. */
    ASSERT_DECISION(decide(p, 0, AG_PHASE_PLAN, "x.run", "closed/a"), "deny", "rule_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_PLAN, "x.run", "elsewhere"), "deny", "phase_not_allowed");
    /* A deny rule excluded by its phases is no reason to mention the phase. */
    ASSERT_DECISION(decide(p, 0, AG_PHASE_EXECUTE, "y.run", "a"), "deny", "default_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_PLAN, "y.run", "a"), "deny", "rule_deny");
    ag_policy_free(p);
}

TEST(policy_tiers_list_and_min_tier)
{
    const char *yaml = "version: 1\n"
                       "rules:\n"
                       "  - {effect: allow, actions: [a.x], resources: [\"**\"], tiers: [1, 2]}\n"
                       "  - {effect: allow, actions: [a.y], resources: [\"**\"], min_tier: 3}\n";
    ag_policy *p = load(yaml);
    const char *want_x[] = {"deny", "allow", "allow", "deny", "deny"};
    const char *want_y[] = {"deny", "deny", "deny", "allow", "allow"};
    for (int t = 0; t <= 4; t++) {
        ASSERT_STREQ(ag_effect_name(decide(p, t, AG_PHASE_PLAN, "a.x", "q").effect), want_x[t]);
        ASSERT_STREQ(ag_effect_name(decide(p, t, AG_PHASE_PLAN, "a.y", "q").effect), want_y[t]);
    }
    ag_policy_free(p);
}

TEST(policy_forbidden_checked_first)
{
    ag_policy *p = load(ALLOW_SSH);
    const char *forbidden[] = {"db.*", "ssh.*"};
    const char *scope[] = {"other/**"};
    struct ag_request r = {.tier = 1,
                           .phase = AG_PHASE_EXECUTE,
                           .action = "ssh.exec",
                           .resource = "sandbox/a",
                           .forbidden = forbidden,
                           .nforbidden = 2};
    struct ag_decision d;
    ASSERT_EQ(ag_decide(p, &r, &d), AG_EFFECT_DENY);
    ASSERT_DECISION(d, "deny", "forbidden_action");
    ASSERT_TRUE(d.rule_file == NULL);
    /* Forbidden wins over out_of_scope too. */
    r.scope = scope;
    r.nscope = 1;
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "deny", "forbidden_action");
    /* A forbidden list that does not match changes nothing. */
    r.forbidden = forbidden;
    r.nforbidden = 1;
    r.scope = NULL;
    r.nscope = 0;
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "allow", "rule_allow");
    ag_policy_free(p);
}

TEST(policy_scope_limits_resources)
{
    ag_policy *p = load(ALLOW_SSH);
    const char *scope[] = {"sandbox/web/*", "sandbox/db-[0-9]"};
    struct ag_request r = {.tier = 1,
                           .phase = AG_PHASE_EXECUTE,
                           .action = "ssh.exec",
                           .resource = "sandbox/web/01",
                           .scope = scope,
                           .nscope = 2};
    struct ag_decision d;
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "allow", "rule_allow");
    r.resource = "sandbox/db-7";
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "allow", "rule_allow");
    r.resource = "sandbox/web/01/deep";
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "deny", "out_of_scope");
    r.resource = "sandbox/cache";
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "deny", "out_of_scope");
    /* In scope but no rule: the scope never grants anything. */
    r.resource = "sandbox/web/01";
    r.action = "ssh.copy";
    ag_decide(p, &r, &d);
    ASSERT_DECISION(d, "deny", "default_deny");
    ag_policy_free(p);
}

TEST(policy_globs_are_segment_aware)
{
    const char *yaml =
        "version: 1\n"
        "rules:\n"
        "  - {effect: allow, actions: [proxmox.*], resources: [sandbox/*], min_tier: 0}\n"
        "  - {effect: allow, actions: [\"*.create\"], resources: [b/**], min_tier: 0}\n"
        "  - {effect: deny, actions: [shell.run], resources: [\"**rm -rf**\"], "
        "min_tier: 0}\n"
        "  - {effect: allow, actions: [shell.run], resources: [\"**\"], min_tier: 0}\n";
    ag_policy *p = load(yaml);
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "proxmox.read", "sandbox/a"), "allow",
                    "rule_allow");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "proxmox.vm.create", "sandbox/a"), "deny",
                    "default_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "proxmox.read", "sandbox/a/b"), "deny",
                    "default_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "module.create", "b/x/y"), "allow", "rule_allow");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "a.module.create", "b/x"), "deny", "default_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "shell.run", "cmd/sudo rm -rf /"), "deny",
                    "rule_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "shell.run", "cmd/ls -l"), "allow", "rule_allow");
    ag_policy_free(p);
}

TEST(policy_accessors_and_defaults)
{
    ag_policy *p = load(ALLOW_SSH);
    struct ag_tier_info ti;
    ASSERT_OK(ag_policy_tier(p, 0, &ti));
    ASSERT_STREQ(ti.name, "Observer");
    ASSERT_EQ(ti.token_ttl_ms, 3600000);
    ASSERT_OK(ag_policy_tier(p, 3, &ti));
    ASSERT_STREQ(ti.name, "Executor");
    ASSERT_EQ(ti.token_ttl_ms, 900000);
    ASSERT_ERR(ag_policy_tier(p, 5, &ti), AG_EINVAL);
    ASSERT_ERR(ag_policy_tier(NULL, 1, &ti), AG_EINVAL);
    const struct ag_sandbox_profile *s0 = ag_policy_sandbox(p, 0), *s3 = ag_policy_sandbox(p, 3);
    ASSERT_EQ(s0->workdir_write, 0);
    ASSERT_EQ(s0->nconnect, 0);
    ASSERT_EQ(s3->workdir_write, 1);
    ASSERT_EQ(s3->nconnect, 0);
    ASSERT_STREQ(s0->read_paths[0], "/usr");
    ASSERT_TRUE(ag_policy_sandbox(p, 7) == NULL);
    const struct ag_promotion_rule *pr;
    ASSERT_EQ(ag_policy_promotions(p, &pr), 0);
    ASSERT_STREQ(ag_policy_path(p), "t.yaml");
    ag_policy_free(p);
    ag_policy_free(NULL);
}

TEST(policy_tiers_sandbox_and_promotion_sections)
{
    const char *yaml = "version: 1\n"
                       "tiers:\n"
                       "  2: {name: Smith, token_ttl: 10m, max_ttl: 1h}\n"
                       "sandbox:\n"
                       "  3:\n"
                       "    connect_ports: [443, 5432]\n"
                       "    memory: 512M\n"
                       "    cpu_time: 90s\n"
                       "    read_paths: [/usr]\n"
                       "promotion:\n"
                       "  - {from: 0, to: 1, consecutive_compliant: 5}\n"
                       "  - {from: 3, to: 4, requires_approval: true}\n"
                       "rules: []\n";
    ag_policy *p = load(yaml);
    struct ag_tier_info ti;
    ASSERT_OK(ag_policy_tier(p, 2, &ti));
    ASSERT_STREQ(ti.name, "Smith");
    ASSERT_EQ(ti.token_ttl_ms, 600000);
    ASSERT_EQ(ti.max_ttl_ms, 3600000);
    const struct ag_sandbox_profile *s = ag_policy_sandbox(p, 3);
    ASSERT_EQ(s->nconnect, 2);
    ASSERT_EQ(s->connect_ports[1], 5432);
    ASSERT_EQ(s->memory_bytes, 512LL << 20);
    ASSERT_EQ(s->cpu_seconds, 90);
    ASSERT_EQ(s->nread, 1);
    ASSERT_EQ(s->workdir_write, 1); /* not set: the tier's default */
    const struct ag_promotion_rule *pr;
    ASSERT_EQ(ag_policy_promotions(p, &pr), 2);
    ASSERT_EQ(pr[0].consecutive_compliant, 5);
    ASSERT_EQ(pr[1].from, 3);
    ASSERT_EQ(pr[1].requires_approval, 1);
    ag_policy_free(p);
}

TEST(policy_load_fails_on_first_problem_with_position)
{
    const char *yaml = "version: 1\n"
                       "rules:\n"
                       "  - effect: allow\n"
                       "    actions: [a.b]\n"
                       "    resources: [\"x/[\"]\n"
                       "    colour: red\n"
                       "    min_tier: 9\n";
    ag_policy *p = (ag_policy *)1;
    ASSERT_ERR(ag_policy_load_string("bad.yaml", yaml, strlen(yaml), &p), AG_EPARSE);
    ASSERT_TRUE(p == NULL);
    ASSERT_STREQ(ag_last_error(), "bad.yaml:5:17: bad resource glob 'x/[': unterminated "
                                  "character class at offset 2");
}

TEST(policy_load_file_and_missing_file)
{
    ag_policy *p;
    char path[4096];
    snprintf(path, sizeof path, "%s/none.yaml", ag_test_fresh_dir("policy"));
    ASSERT_ERR(ag_policy_load(path, &p), AG_ENOTFOUND);
    ASSERT_CONTAINS(ag_last_error(), "none.yaml");
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fputs(ALLOW_SSH, f);
    fclose(f);
    ASSERT_OK(ag_policy_load(path, &p));
    ASSERT_STREQ(ag_policy_path(p), path);
    ASSERT_EQ(decide(p, 1, AG_PHASE_EXECUTE, "ssh.exec", "sandbox/a").rule_line, 3);
    ag_policy_free(p);
}

TEST(policy_yaml_anchors_and_aliases)
{
    const char *yaml = "version: 1\n"
                       "rules:\n"
                       "  - {effect: allow, actions: [a.x], resources: &sb [sandbox/**, lab/**], "
                       "min_tier: 0}\n"
                       "  - {effect: allow, actions: [a.y], resources: *sb, min_tier: 0}\n";
    ag_policy *p = load(yaml);
    ASSERT_DECISION(decide(p, 0, AG_PHASE_PLAN, "a.y", "lab/1"), "allow", "rule_allow");
    ag_policy_free(p);
}

TEST(policy_names_and_phase_parse)
{
    enum ag_phase ph;
    ASSERT_OK(ag_phase_parse("execute", &ph));
    ASSERT_EQ(ph, AG_PHASE_EXECUTE);
    ASSERT_OK(ag_phase_parse("EXIT", &ph));
    ASSERT_EQ(ph, AG_PHASE_EXIT);
    ASSERT_ERR(ag_phase_parse("RUN", &ph), AG_EINVAL);
    ASSERT_STREQ(ag_phase_name(AG_PHASE_BOOTSTRAP), "BOOTSTRAP");
    ASSERT_STREQ(ag_phase_name(AG_PHASE_NONE), "");
    ASSERT_STREQ(ag_reason_name(AG_REASON_PHASE_NOT_ALLOWED), "phase_not_allowed");
    ASSERT_STREQ(ag_reason_name(AG_REASON_INTERNAL_ERROR), "internal_error");
    ASSERT_STREQ(ag_effect_name(AG_EFFECT_ASK), "ask");
}

TEST(policy_default_path_finds_shipped_file)
{
    const char *path = ag__policy_default_path();
    ASSERT_CONTAINS(path, "policies/default.yaml");
    ag_policy *p;
    ASSERT_OK(ag_policy_load(path, &p));
    ag_policy_free(p);
    char buf[4096];
    const char *dir = ag_test_fresh_dir("datadir");
    ASSERT_STREQ(ag__policy_resolve("x.yaml", dir, buf, sizeof buf), "x.yaml");
    ASSERT_STREQ(ag__policy_resolve(NULL, dir, buf, sizeof buf), path);
    snprintf(buf, sizeof buf, "%s/policy.yaml", dir);
    FILE *f = fopen(buf, "w");
    ASSERT_TRUE(f != NULL);
    fclose(f);
    char want[4096];
    snprintf(want, sizeof want, "%s", buf);
    ASSERT_STREQ(ag__policy_resolve(NULL, dir, buf, sizeof buf), want);
}

TEST(policy_resolve_dangling_symlink_is_an_error)
{
    char buf[4096], want[4096];
    const char *dir = ag_test_fresh_dir("dangling");
    snprintf(want, sizeof want, "%s/policy.yaml", dir);
    char target[4200];
    snprintf(target, sizeof target, "%s/nowhere.yaml", dir);
    ASSERT_EQ(symlink(target, want), 0);
    /* The link is named, so that loading it fails rather than using the default. */
    ASSERT_STREQ(ag__policy_resolve(NULL, dir, buf, sizeof buf), want);
    ag_policy *p;
    ASSERT_ERR(ag_policy_load(buf, &p), AG_ENOTFOUND);
    ASSERT_CONTAINS(ag_last_error(), "policy.yaml");
}

TEST(policy_rule_listing)
{
    ag_policy *p = load(PHASED);
    ASSERT_EQ(ag_policy_rule_count(p), 1);
    struct ag_rule_info r;
    ASSERT_OK(ag_policy_rule(p, 0, &r));
    ASSERT_EQ(r.effect, AG_EFFECT_ALLOW);
    ASSERT_EQ(r.line, 3);
    ASSERT_STREQ(r.file, "t.yaml");
    ASSERT_EQ(r.nactions, 1);
    ASSERT_STREQ(r.actions[0], "ssh.exec");
    ASSERT_STREQ(r.resources[0], "sandbox/**");
    ASSERT_EQ(r.tiers, 0x1e);
    ASSERT_EQ(r.has_phases, 1);
    ASSERT_EQ(r.phases, (1u << AG_PHASE_EXECUTE) | (1u << AG_PHASE_VERIFY));
    ASSERT_TRUE(r.id == NULL);
    ASSERT_ERR(ag_policy_rule(p, 1, &r), AG_EINVAL);
    ASSERT_EQ(ag_policy_rule_count(NULL), 0);
    ag_policy_free(p);
}

TEST(policy_index_buckets_head_tail_and_wildcard)
{
    /* ssh.exec: keyed by its first segment; **.exec and *.create by their last;
     * a*.b?: neither (wildcard bucket). */
    const char *yaml =
        "version: 1\n"
        "rules:\n"
        "  - {effect: allow, actions: [ssh.exec], resources: [\"**\"], min_tier: 0}\n"
        "  - {effect: deny, actions: [\"**.exec\"], resources: [prod/**], min_tier: 0}\n"
        "  - {effect: ask, actions: [\"*.create\"], resources: [\"**\"], min_tier: 0}\n"
        "  - {effect: allow, actions: [\"a*.b?\"], resources: [\"**\"], min_tier: 0}\n";
    ag_policy *p = load(yaml);
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "ssh.exec", "lab/1"), "allow", "rule_allow");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "ssh.exec", "prod/1"), "deny", "rule_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "x.y.exec", "prod/1"), "deny", "rule_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "exec", "prod/1"), "deny", "default_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "module.create", "x"), "ask", "rule_ask");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "a.module.create", "x"), "deny", "default_deny");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "abc.bz", "x"), "allow", "rule_allow");
    ASSERT_DECISION(decide(p, 0, AG_PHASE_NONE, "abc.b", "x"), "deny", "default_deny");
    ag_policy_free(p);
}

TEST(policy_large_policy_decides_like_a_small_one)
{
    /* 3,000 rules over 1,000 services: every service's rules sit in its own bucket and
     * must not leak into another's. */
    size_t cap = 1 << 20, len = 0;
    char *yaml = malloc(cap);
    ASSERT_TRUE(yaml != NULL);
    len += (size_t)snprintf(yaml + len, cap - len, "version: 1\nrules:\n");
    for (int i = 0; i < 1000; i++) {
        len += (size_t)snprintf(yaml + len, cap - len,
                                "  - {effect: allow, actions: [svc%d.*], resources: [r/svc%d/**], "
                                "min_tier: %d}\n"
                                "  - {effect: ask, actions: [svc%d.admin], resources: [\"**\"], "
                                "tiers: [4]}\n"
                                "  - {effect: deny, actions: [\"*.drop%d\"], resources: [\"**\"], "
                                "min_tier: 0}\n",
                                i, i, i % 5, i, i);
    }
    ag_policy *p = NULL;
    ASSERT_OK(ag_policy_load_string("big.yaml", yaml, len, &p));
    free(yaml);
    ASSERT_EQ(ag_policy_rule_count(p), 3000);
    ASSERT_DECISION(decide(p, 2, AG_PHASE_PLAN, "svc7.read", "r/svc7/x"), "allow", "rule_allow");
    ASSERT_EQ(decide(p, 2, AG_PHASE_PLAN, "svc7.read", "r/svc7/x").rule_line, 3 + 3 * 7);
    ASSERT_DECISION(decide(p, 2, AG_PHASE_PLAN, "svc7.read", "r/svc8/x"), "deny", "default_deny");
    ASSERT_DECISION(decide(p, 1, AG_PHASE_PLAN, "svc9.read", "r/svc9/x"), "deny", "default_deny");
    ASSERT_DECISION(decide(p, 4, AG_PHASE_PLAN, "svc9.admin", "r/svc9/x"), "ask", "rule_ask");
    ASSERT_DECISION(decide(p, 4, AG_PHASE_PLAN, "svc9.drop9", "r/svc9/x"), "deny", "rule_deny");
    ASSERT_DECISION(decide(p, 4, AG_PHASE_PLAN, "svc9.drop8", "r/svc9/x"), "deny", "rule_deny");
    ASSERT_DECISION(decide(p, 4, AG_PHASE_PLAN, "svc9.drop1000", "r/svc9/x"), "allow",
                    "rule_allow");
    ag_policy_free(p);
}

/* libfyaml stops without an error at a NUL byte or at malformed UTF-8 opening a token;
 * the loader must refuse the file rather than drop the rules after it (found by
 * tests/fuzz/fuzz_policy). */
TEST(policy_nul_and_bad_utf8_are_refused_not_truncated)
{
    static const char bad_utf8[] = "version: 1\n"
                                   "rules:\n"
                                   "  - {effect: allow, actions: [a.b], resources: [\"**\"], "
                                   "min_tier: 0}\n"
                                   "  \xbe: x\n"
                                   "  - {effect: deny, actions: [a.b], resources: [\"**\"], "
                                   "min_tier: 0}\n";
    ag_policy *p = NULL;
    ASSERT_ERR(ag_policy_load_string("u.yaml", bad_utf8, sizeof bad_utf8 - 1, &p), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), "u.yaml:4:3: not valid UTF-8");
    ASSERT_TRUE(p == NULL);
    static const char nul[] = "version: 1\ntiers:\n  0: {name: A}\n  \0: {name: B}\n";
    ASSERT_ERR(ag_policy_load_string("n.yaml", nul, sizeof nul - 1, &p), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), "n.yaml:4:3: NUL byte");
    /* Valid multi-byte UTF-8 still loads. */
    ag_policy_free(load("version: 1\n# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\n"
                        "rules: []\n"));
}

/* A tier with no rules has no index entries; deciding there must not do arithmetic on
 * their NULL array (clang's UBSan: tests/fuzz/fuzz_policy). */
TEST(policy_tier_without_rules_default_denies)
{
    ag_policy *p = load("version: 1\nrules: []\n");
    for (int t = AG_TIER_MIN; t <= AG_TIER_MAX; t++)
        ASSERT_DECISION(decide(p, t, AG_PHASE_NONE, "a.b", "c"), "deny", "default_deny");
    ag_policy_free(p);
}

/* An ask rule's `approval:` reaches ag_rule_info, found by the (file, line) a decision
 * names; rules without one get the defaults; the hash is the file's SHA-256. */
TEST(policy_approval_spec_and_hash)
{
    const char *yaml =
        "version: 1\nrules:\n"
        "  - {effect: ask, actions: [db.migrate], resources: [\"**\"], min_tier: 0,\n"
        "     approval: {timeout: 30m, approvers: [\"role:ops\", \"user:alice\"],"
        " required: 2}}\n"
        "  - {effect: ask, actions: [db.drop], resources: [\"**\"], min_tier: 0}\n";
    ag_policy *p = load(yaml);
    struct ag_decision d;
    struct ag_request rq = {
        .tier = 1, .phase = AG_PHASE_NONE, .action = "db.migrate", .resource = "x"};
    ASSERT_EQ(ag_decide(p, &rq, &d), AG_EFFECT_ASK);
    struct ag_rule_info r;
    ASSERT_OK(ag_policy_rule_at(p, d.rule_file, d.rule_line, &r));
    ASSERT_EQ(r.has_approval, 1);
    ASSERT_EQ(r.approval_timeout_ms, 30 * 60 * 1000);
    ASSERT_EQ(r.approval_required, 2);
    ASSERT_EQ(r.napprovers, 2);
    ASSERT_STREQ(r.approvers[0], "role:ops");
    ASSERT_STREQ(r.approvers[1], "user:alice");
    ASSERT_OK(ag_policy_rule_at(p, "t.yaml", 5, &r));
    ASSERT_EQ(r.has_approval, 0);
    ASSERT_EQ(r.approval_required, 1);
    ASSERT_EQ(r.approval_timeout_ms, 0);
    ASSERT_ERR(ag_policy_rule_at(p, "t.yaml", 4, &r), AG_ENOTFOUND);
    ASSERT_ERR(ag_policy_rule_at(p, "other.yaml", 3, &r), AG_ENOTFOUND);
    ASSERT_EQ(strlen(ag_policy_hash(p)), 64);
    ag_policy *q = load("version: 1\nrules: []\n");
    /* sha256("version: 1\nrules: []\n") */
    ASSERT_STREQ(ag_policy_hash(q),
                 "7f2c43106364d8112fcc3060e4ab8b20f5d1a17d9cbf3c2540529663004adff8");
    ag_policy_free(q);
    ag_policy_free(p);
}
