/* The approval scenarios on the embedded (SQLite) store. */
#include "approve_scenarios.h"

static const char *apv_test_url(void)
{
    return "sqlite:"; /* afx_open puts a fresh state.db in each scenario's directory */
}

static void apv_test_reset(void)
{
}

APPROVE_SCENARIO_TESTS(sqlite)
