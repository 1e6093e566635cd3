/* Routing: a table of (method, path pattern) → handler, with {name} captures of one
 * path segment and {name*} captures of the rest of the path. Ownership: the table and
 * its strings are static; captures point into a caller-owned copy of the path. */
#ifndef AG_SERVER_ROUTER_H
#define AG_SERVER_ROUTER_H

#include <stddef.h>

#define AG_ROUTE_MAX_CAPTURES 4
#define AG_ROUTE_MAX_SEGMENTS 32

/* Who may call a route. */
enum ag__route_auth {
    AG_ROUTE_PUBLIC = 0, /* no token (health, metrics, login) */
    AG_ROUTE_TOKEN,      /* any valid token; handlers check agent identity */
    AG_ROUTE_ADMIN,      /* a tier-4 token or the root token */
};

struct ag__req;
typedef void (*ag__route_fn)(struct ag__req *r);

struct ag__route {
    const char *method;  /* "GET", "POST", "DELETE", "LIST" */
    const char *pattern; /* "/v1/agents/{id}/actions", "/v1/secret/data/{path*}" */
    const char *name;    /* metrics and log label */
    ag__route_fn fn;
    enum ag__route_auth auth;
    int blocking; /* 1: may wait on the ledger or the store (run on a worker thread) */
};

struct ag__route_match {
    const struct ag__route *route; /* NULL when nothing matched */
    size_t index;                  /* position in the table, for metrics */
    int path_matched;              /* 1 when some route had the path (405 vs 404) */
    size_t ncaptures;
    const char *names[AG_ROUTE_MAX_CAPTURES];
    char *values[AG_ROUTE_MAX_CAPTURES];
};

/* Matches method and path against routes[0..n). path is modified in place (segments
 * are NUL-terminated) and captures point into it; a {name*} capture keeps its
 * slashes. An empty segment (a double slash, a trailing slash) never matches a
 * capture. */
void ag__route_find(const struct ag__route *routes, size_t n, const char *method, char *path,
                    struct ag__route_match *m);
/* The capture called name, or NULL. */
const char *ag__route_capture(const struct ag__route_match *m, const char *name);

#endif
