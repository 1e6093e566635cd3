/* The route table: every endpoint of the daemon in one place. Order matters only
 * between patterns that could both match; fixed segments are listed first. */
#include "server/handlers.h"

static const struct ag__route routes[] = {
    {"GET", "/v1/sys/health", "sys_health", ag__h_health, AG_ROUTE_PUBLIC, 1},
    {"GET", "/metrics", "metrics", ag__h_metrics, AG_ROUTE_PUBLIC, 1},
    {"POST", "/v1/data/agentgov/decision", "opa_decision", ag__h_opa_decision, AG_ROUTE_PUBLIC, 1},
};

void ag__handlers_routes(const struct ag__route **out, size_t *n)
{
    *out = routes;
    *n = sizeof routes / sizeof routes[0];
}
