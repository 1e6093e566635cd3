/* An operator's actions on an agent over HTTP (the dashboard's buttons, and the same
 * as `agentgov agent revoke|promote|demote`): administrators only (routes.c). The
 * signed-in identity is written into what the lifecycle ledgers. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "server/handlers.h"

static int agent_id_of(struct ag__req *r, const char **id, json_t **body, ag_gov **g)
{
    *id = ag__route_capture(&r->m, "id");
    *body = ag__req_json(r);
    if (!*body)
        return 0;
    *g = ag__req_gov(r);
    return *g != NULL;
}

static const char *reason_of(struct ag__req *r, json_t *body, const char *def, char *buf,
                             size_t len)
{
    json_t *v = json_object_get(body, "reason");
    if (v && !json_is_string(v)) {
        ag__reply_error(r, 400, "reason must be a string");
        return NULL;
    }
    snprintf(buf, len, "%s (by %s)", v && *json_string_value(v) ? json_string_value(v) : def,
             r->tok.agent_id);
    return buf;
}

/* POST /v1/agents/{id}/revoke {"reason": "..."} */
void ag__h_agent_revoke(struct ag__req *r)
{
    const char *id;
    json_t *b;
    ag_gov *g;
    if (!agent_id_of(r, &id, &b, &g))
        return;
    char why[512];
    if (!reason_of(r, b, "revoked by an operator", why, sizeof why))
        return;
    ag_err e = ag_gov_revoke(g, id, "MANUAL", why);
    if (e == AG_EREVOKED) {
        ag__reply_error(r, 409, "agent '%s' is already revoked", id);
        return;
    }
    if (e) {
        ag__reply_ag_error(r, e, "revoke");
        return;
    }
    ag__reply_json(
        r, 200,
        json_pack("{s:{s:s, s:b, s:s}}", "data", "agent_id", id, "revoked", 1, "reason", why));
}

/* POST /v1/agents/{id}/promote {"approve": true} and /demote {"reason": "..."} */
static void change_tier(struct ag__req *r, int up)
{
    const char *id;
    json_t *b;
    ag_gov *g;
    if (!agent_id_of(r, &id, &b, &g))
        return;
    int tier = -1;
    ag_err e;
    if (up) {
        json_t *ap = json_object_get(b, "approve");
        if (ap && !json_is_boolean(ap)) {
            ag__reply_error(r, 400, "approve must be true or false");
            return;
        }
        e = ag_gov_promote(g, id, json_is_true(ap), &tier);
    } else {
        char why[512];
        if (!reason_of(r, b, "demoted by an operator", why, sizeof why))
            return;
        e = ag_gov_demote(g, id, why, &tier);
    }
    if (e) {
        if (e == AG_ESTATE)
            ag__reply_error(r, 409, "%s: %s", up ? "promote" : "demote", ag_last_error());
        else
            ag__reply_ag_error(r, e, up ? "promote" : "demote");
        return;
    }
    ag__reply_json(r, 200, json_pack("{s:{s:s, s:i}}", "data", "agent_id", id, "tier", tier));
}

void ag__h_agent_promote(struct ag__req *r)
{
    change_tier(r, 1);
}

void ag__h_agent_demote(struct ag__req *r)
{
    change_tier(r, 0);
}
