/* The lifecycle scenarios on the embedded (SQLite) store. */
#include "gov_scenarios.h"

static const char *gov_test_url(void)
{
    return "sqlite:"; /* gfx_open puts a fresh state.db in each scenario's directory */
}

static void gov_test_reset(void)
{
}

GOV_SCENARIO_TESTS(sqlite)
