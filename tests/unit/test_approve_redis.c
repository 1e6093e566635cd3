/* The approval scenarios on a real redis-server (started on a free port by the fixture,
 * flushed between scenarios, stopped by PID at exit). */
#include "approve_scenarios.h"
#include "redis_fixture.h"

static const char *apv_test_url(void)
{
    return ag_test_redis_url();
}

static void apv_test_reset(void)
{
    ag_test_redis_flush();
}

APPROVE_SCENARIO_TESTS(redis)
