/* The lifecycle scenarios on a real redis-server (started on a free port by the
 * fixture, flushed between scenarios, stopped by PID at exit). */
#include "gov_scenarios.h"
#include "redis_fixture.h"

static const char *gov_test_url(void)
{
    return ag_test_redis_url();
}

static void gov_test_reset(void)
{
    ag_test_redis_flush();
}

GOV_SCENARIO_TESTS(redis)

/* One round trip per transition once the run is known to the handle. */
TEST(transition_is_one_round_trip_redis)
{
    struct gfx f;
    gfx_open(&f, "round_trips", NULL);
    gfx_start(&f, "rt", "t-rt", 1);
    gfx_go(&f, "rt", AG_PHASE_PREFLIGHT);
    uint64_t before = ag_store_round_trips(f.store);
    gfx_go(&f, "rt", AG_PHASE_PLAN);
    ASSERT_EQ(ag_store_round_trips(f.store) - before, 1);
    before = ag_store_round_trips(f.store);
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f.gov, "rt", "docs.read", "sandbox/a", -1, &d), AG_EFFECT_ALLOW);
    ASSERT_EQ(ag_store_round_trips(f.store) - before, 1);
    gfx_close(&f);
}

/* A store that went away: authorize denies with store_unavailable (fail closed). */
TEST(store_unavailable_redis)
{
    struct gfx f;
    gfx_open(&f, "store_down", NULL);
    gfx_start(&f, "sd", "t-sd", 1);
    ag_test_redis_stop();
    struct ag_gov_decision d;
    ASSERT_EQ(ag_gov_authorize(f.gov, "sd", "docs.read", "docs/a", -1, &d), AG_EFFECT_DENY);
    ASSERT_STREQ(ag_reason_name(d.reason), "store_unavailable");
    ASSERT_TRUE(d.ledger_seq > 0); /* the deny itself is on the record */
    struct ag_transition_result r;
    ASSERT_OK(ag_gov_transition(f.gov, "sd", AG_PHASE_PREFLIGHT, "s", &r));
    ASSERT_FALSE(r.ok);
    ASSERT_STREQ(ag_reason_name(r.reason), "store_unavailable");
    ASSERT_EQ(ag_test_redis_restart(), 0);
    gfx_close(&f);
}
