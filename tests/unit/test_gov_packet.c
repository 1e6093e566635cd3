/* Instruction packets, handoff objects and the phase order: validation names the bad
 * field, defaults are filled in, only the seed's order is legal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/gov.h"
#include "test.h"

#define PACKET_HEAD                                                                                \
    "{\"agent_id\":\"a1\",\"task_id\":\"t1\",\"created_for\":\"ops\",\"objective\":\"o\","         \
    "\"deliverables\":[\"plan.md\"],\"success_criteria\":[],\"escalation_rules\":[],"              \
    "\"created_at\":\"2026-11-25T12:00:00Z\","

static const char good[] =
    PACKET_HEAD "\"constraints\":{\"scope\":[\"sandbox/**\"],\"forbidden\":[\"prod.*\"],"
                "\"required_steps\":[\"plan\"]}}";

static ag_err parse(const char *s, ag_packet **p)
{
    return ag_packet_parse(s, strlen(s), p);
}

static void expect_bad(const char *doc, const char *msg)
{
    ag_packet *p = NULL;
    ASSERT_ERR(parse(doc, &p), AG_EPARSE);
    ASSERT_TRUE(p == NULL);
    ASSERT_STREQ(ag_last_error(), msg);
}

TEST(packet_parses_with_default_budget)
{
    ag_packet *p;
    ASSERT_OK(parse(good, &p));
    ASSERT_STREQ(ag_packet_agent_id(p), "a1");
    ASSERT_STREQ(ag_packet_task_id(p), "t1");
    ASSERT_EQ(ag_packet_tier(p), -1);
    ASSERT_TRUE(ag_packet_agent_version(p) == NULL);
    struct ag_error_budget b = ag_packet_budget(p);
    ASSERT_EQ(b.max_total_errors, 8);
    ASSERT_EQ(b.max_same_error_repeats, 2);
    ASSERT_EQ(b.max_procedure_violations, 1);
    size_t n;
    const char *const *l = ag_packet_list(p, "constraints.scope", &n);
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(l[0], "sandbox/**");
    l = ag_packet_list(p, "required_artifacts", &n); /* falls back to deliverables */
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(l[0], "plan.md");
    ASSERT_TRUE(ag_packet_list(p, "nope", &n) == NULL);
    char *json;
    ASSERT_OK(ag_packet_to_json(p, &json));
    ASSERT_CONTAINS(json, "\"max_total_errors\":8");
    /* The canonical form parses back to the same packet. */
    ag_packet *q;
    ASSERT_OK(parse(json, &q));
    ASSERT_EQ(ag_packet_budget(q).max_procedure_violations, 1);
    free(json);
    ag_packet_free(q);
    ag_packet_free(p);
}

TEST(packet_budget_and_extensions)
{
    ag_packet *p;
    ASSERT_OK(parse(PACKET_HEAD "\"constraints\":{\"scope\":[],\"forbidden\":[],"
                                "\"required_steps\":[]},\"error_budget\":{\"max_total_errors\":3},"
                                "\"tier\":2,\"agent_version\":\"1.2\","
                                "\"required_artifacts\":[\"a\",\"b\"]}",
                    &p));
    ASSERT_EQ(ag_packet_budget(p).max_total_errors, 3);
    ASSERT_EQ(ag_packet_budget(p).max_same_error_repeats, 2);
    ASSERT_EQ(ag_packet_tier(p), 2);
    ASSERT_STREQ(ag_packet_agent_version(p), "1.2");
    size_t n;
    ag_packet_list(p, "required_artifacts", &n);
    ASSERT_EQ(n, 2);
    ag_packet_free(p);
}

TEST(packet_errors_name_the_field)
{
    expect_bad(PACKET_HEAD "\"constraints\":{\"scope\":[\"a\",\"b\",3],\"forbidden\":[],"
                           "\"required_steps\":[]}}",
               "packet: constraints.scope[2]: expected string");
    expect_bad(PACKET_HEAD "\"constraints\":{\"scope\":[],\"forbidden\":[]}}",
               "packet: constraints.required_steps: missing");
    expect_bad(PACKET_HEAD "\"constraints\":[]}", "packet: constraints: expected object");
    expect_bad("{\"task_id\":\"t\"}", "packet: agent_id: missing");
    expect_bad(PACKET_HEAD "\"constraints\":{\"scope\":[],\"forbidden\":[],"
                           "\"required_steps\":[]},\"error_budget\":{\"max_total_errors\":0}}",
               "packet: error_budget.max_total_errors: expected integer 1..1000000");
    expect_bad(PACKET_HEAD "\"constraints\":{\"scope\":[],\"forbidden\":[],"
                           "\"required_steps\":[]},\"error_budget\":{\"max_errors\":3}}",
               "packet: error_budget.max_errors: unknown field");
    expect_bad(PACKET_HEAD "\"constraints\":{\"scope\":[],\"forbidden\":[],"
                           "\"required_steps\":[]},\"deliverable\":[]}",
               "packet: deliverable: unknown field");
    expect_bad(PACKET_HEAD "\"constraints\":{\"scope\":[],\"forbidden\":[],"
                           "\"required_steps\":[]},\"tier\":7}",
               "packet: tier: expected integer 0..4");
    expect_bad("[1]", "packet: expected a JSON object");
    ag_packet *p;
    ASSERT_ERR(parse("{\"agent_id\":", &p), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), "packet: line 1");
    const char *bad_time = "{\"agent_id\":\"a\",\"task_id\":\"t\",\"created_for\":\"x\","
                           "\"objective\":\"o\",\"created_at\":\"yesterday\"}";
    expect_bad(bad_time, "packet: created_at: expected an RFC 3339 timestamp");
}

TEST(example_packets_validate)
{
    const char *files[] = {"examples/packets/deploy-web.json", "examples/packets/minimal.json"};
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "rb");
        ASSERT_TRUE(f != NULL);
        char buf[8192];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        ag_packet *p;
        ASSERT_OK(ag_packet_parse(buf, n, &p));
        ag_packet_free(p);
    }
    FILE *f = fopen("examples/packets/handoff.json", "rb");
    ASSERT_TRUE(f != NULL);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ASSERT_OK(ag_handoff_validate(buf, n, NULL));
}

#define HANDOFF_HEAD "{\"task_id\":\"t1\",\"previous_agent_id\":\"a1\","
#define HANDOFF_TAIL                                                                               \
    "\"last_known_state\":{\"phase\":\"EXECUTE\",\"step\":\"s\"},\"what_was_tried\":[],"           \
    "\"blocking_issue\":\"b\",\"required_next_actions\":[\"x\"],\"constraints_reminder\":[],"      \
    "\"artifacts\":[]}"

TEST(handoff_validation)
{
    const char *ok = HANDOFF_HEAD "\"revoked\":true,\"revocation_reason\":{\"type\":\"T\","
                                  "\"details\":\"d\"}," HANDOFF_TAIL;
    char *canon;
    ASSERT_OK(ag_handoff_validate(ok, strlen(ok), &canon));
    ASSERT_CONTAINS(canon, "\"previous_agent_id\":\"a1\"");
    free(canon);
    const char *voluntary =
        HANDOFF_HEAD "\"revoked\":false,\"revocation_reason\":null," HANDOFF_TAIL;
    ASSERT_OK(ag_handoff_validate(voluntary, strlen(voluntary), NULL));
    const char *cases[][2] = {
        {HANDOFF_HEAD "\"revoked\":\"yes\"," HANDOFF_TAIL, "handoff: revoked: expected boolean"},
        {HANDOFF_HEAD "\"revoked\":true,\"revocation_reason\":null," HANDOFF_TAIL,
         "handoff: revocation_reason: expected object"},
        {HANDOFF_HEAD
         "\"revoked\":true,\"revocation_reason\":{\"type\":1,\"details\":\"\"}," HANDOFF_TAIL,
         "handoff: revocation_reason.type: expected string"},
        {HANDOFF_HEAD "\"revoked\":false,\"revocation_reason\":null,"
                      "\"last_known_state\":{\"phase\":\"DANCE\",\"step\":\"s\"},"
                      "\"what_was_tried\":[],\"blocking_issue\":\"b\",\"required_next_actions\":[],"
                      "\"constraints_reminder\":[],\"artifacts\":[]}",
         "handoff: last_known_state.phase: expected a lifecycle phase name"},
        {HANDOFF_HEAD "\"revoked\":false,\"revocation_reason\":null,"
                      "\"last_known_state\":{\"phase\":\"PLAN\",\"step\":\"s\"},"
                      "\"what_was_tried\":[],\"blocking_issue\":\"b\",\"required_next_actions\":[],"
                      "\"constraints_reminder\":[],\"artifacts\":[\"x\",false]}",
         "handoff: artifacts[1]: expected string"},
        {"{\"previous_agent_id\":\"a\"}", "handoff: task_id: missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_ERR(ag_handoff_validate(cases[i][0], strlen(cases[i][0]), NULL), AG_EPARSE);
        ASSERT_STREQ(ag_last_error(), cases[i][1]);
    }
}

TEST(phase_order_only_forward_by_one_or_same)
{
    ASSERT_TRUE(ag_phase_transition_legal(AG_PHASE_NONE, AG_PHASE_BOOTSTRAP));
    ASSERT_FALSE(ag_phase_transition_legal(AG_PHASE_NONE, AG_PHASE_PLAN));
    int legal = 0;
    for (int from = 0; from < AG_PHASE_COUNT; from++)
        for (int to = 0; to < AG_PHASE_COUNT; to++) {
            int want = (to == from && from != AG_PHASE_EXIT) || to == from + 1;
            ASSERT_EQ(ag_phase_transition_legal((enum ag_phase)from, (enum ag_phase)to), want);
            legal += want;
        }
    ASSERT_EQ(legal, 7 + 7); /* 64 pairs, 14 legal, 50 illegal */
    /* A run ends once: EXIT again would count it twice. */
    ASSERT_FALSE(ag_phase_transition_legal(AG_PHASE_EXIT, AG_PHASE_EXIT));
    ASSERT_FALSE(ag_phase_transition_legal(AG_PHASE_EXIT, AG_PHASE_COUNT));
    ASSERT_FALSE(ag_phase_transition_legal(AG_PHASE_PLAN, AG_PHASE_NONE));
}
