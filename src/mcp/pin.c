/* Tool pinning, against "rug pulls" (a server that changes what a tool does after it was
 * approved) and tool-description injection: the first tools/list answer a server gives
 * is pinned on the state store (key mcp:pins:<server>, one SHA-256 per tool over the
 * canonical JSON of its name, description and input schema); a later answer whose tool
 * differs, or that brings a tool the pin does not know, is ledgered, the tool is hidden
 * and its calls refused (on_change: deny) or sent for approval (on_change: ask). The
 * answer is also filtered to the tools the policy would allow or ask for this agent, so
 * the model never sees a tool it may not call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/store.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/jcs.h"
#include "mcp/mcp_int.h"
#include "policy/glob.h"

#define PIN_KEY_PREFIX "mcp:pins:"

/* The hash a tool is pinned by. */
static int tool_hash(json_t *tool, char out[AG_HASH_HEX_LEN])
{
    json_t *h = json_object();
    const char *keys[] = {"name", "description", "inputSchema"};
    for (size_t i = 0; h && i < 3; i++) {
        json_t *v = json_object_get(tool, keys[i]);
        if (v)
            json_object_set(h, keys[i], v);
    }
    char *canon = NULL;
    ag_err err = h ? ag__jcs_dump(h, 0, &canon) : AG_ENOMEM;
    json_decref(h);
    if (err != AG_OK)
        return 0;
    ag__sha256_hex(canon, strlen(canon), out);
    free(canon);
    return 1;
}

/* Loads the server's pins; s->pinning is set when there were none (this session pins). */
static ag_err load_pins(struct ag__mcp_session *s)
{
    if (s->pins)
        return AG_OK;
    ag_store *st;
    char key[128], *val = NULL;
    snprintf(key, sizeof key, PIN_KEY_PREFIX "%s", s->o.server);
    ag_err err = ag_home_store(s->o.home, &st);
    if (err == AG_OK)
        err = ag_store_get(st, key, &val);
    if (err != AG_OK)
        return err;
    if (val == NULL) {
        s->pinning = 1;
        s->pins = json_object();
    } else {
        s->pins = json_loads(val, 0, NULL);
        free(val);
        if (!json_is_object(s->pins)) {
            json_decref(s->pins);
            s->pins = NULL;
            return ag__fail(AG_EPARSE, "%s on the state store is not a JSON object", key);
        }
    }
    if (s->changed == NULL)
        s->changed = json_object();
    return s->pins && s->changed ? AG_OK : AG_ENOMEM;
}

static ag_err save_pins(struct ag__mcp_session *s)
{
    ag_store *st;
    char key[128];
    snprintf(key, sizeof key, PIN_KEY_PREFIX "%s", s->o.server);
    char *text = json_dumps(s->pins, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return AG_ENOMEM;
    ag_err err = ag_home_store(s->o.home, &st);
    if (err == AG_OK)
        err = ag_store_set(st, key, text, 0); /* durable: a pin outlives every session */
    free(text);
    return err;
}

static ag_err ledger(struct ag__mcp_session *s, const char *kind, const char *tool,
                     const char *decision, const char *reason, json_t *data)
{
    char action[320];
    snprintf(action, sizeof action, "mcp.%s.%s", s->o.server, tool ? tool : "pin");
    json_object_set_new(data, "server", json_string(s->o.server));
    char *dj = json_dumps(data, JSON_COMPACT);
    if (dj == NULL)
        return AG_ENOMEM;
    struct ag_ledger_entry e = {.kind = kind,
                                .agent_id = s->o.agent,
                                .tier = s->tier,
                                .action = action,
                                .resource = tool ? tool : s->o.server,
                                .decision = decision,
                                .reason = reason,
                                .confidence = -1,
                                .success = -1,
                                .data_json = dj};
    ag_err err = ag_ledger_append(s->ledger, &e, NULL, NULL);
    free(dj);
    return err;
}

/* 1 when some rule would allow or ask for the tool at this tier and phase (for a tool
 * whose resource is an argument, on some resource; else on the tool's name). */
static int visible(struct ag__mcp_session *s, const char *tool)
{
    char action[320], qual[320];
    snprintf(action, sizeof action, "mcp.%s.%s", s->o.server, tool);
    snprintf(qual, sizeof qual, "%s.%s", s->o.server, tool);
    const struct ag_mcp_tool_conf *tc = ag_policy_mcp_tool(s->policy, qual);
    if (tc == NULL || tc->resource_arg == NULL) {
        struct ag_request rq = {.tier = s->tier,
                                .phase = s->phase,
                                .action = action,
                                .resource = tool,
                                .text_resource = 1};
        struct ag_decision d;
        return ag_decide(s->policy, &rq, &d) != AG_EFFECT_DENY;
    }
    for (size_t i = 0, n = ag_policy_rule_count(s->policy); i < n; i++) {
        struct ag_rule_info r;
        if (ag_policy_rule(s->policy, i, &r) != AG_OK || r.effect == AG_EFFECT_DENY ||
            !(r.tiers & (1u << s->tier)))
            continue;
        if (s->phase == AG_PHASE_NONE ? r.has_phases : !(r.phases & (1u << s->phase)))
            continue;
        for (size_t a = 0; a < r.nactions; a++)
            if (ag__glob_match_str(r.actions[a], action, '.'))
                return 1;
    }
    return 0;
}

/* Turns the answer into a JSON-RPC error (the pins cannot be read: nothing is shown). */
static void answer_error(json_t *m, const char *why)
{
    json_object_del(m, "result");
    json_object_set_new(m, "error", json_pack("{s:i,s:s}", "code", -32603, "message", why));
}

int ag__mcp_tools_list(struct ag__mcp_session *s, json_t *m)
{
    json_t *tools = json_object_get(json_object_get(m, "result"), "tools");
    if (!json_is_array(tools))
        return 0;
    char why[512];
    if (ag__mcp_agent_refresh(s) != AG_OK || s->tier < 0) {
        snprintf(why, sizeof why, "agentgov: the state of agent '%s' cannot be read: %s",
                 s->o.agent, ag_last_error());
        answer_error(m, why);
        return 1;
    }
    if (load_pins(s) != AG_OK) {
        snprintf(why, sizeof why, "agentgov: the tool pins of server '%s' cannot be read: %s",
                 s->o.server, ag_last_error());
        answer_error(m, why);
        return 1;
    }
    int pinned = 0, changed = 0;
    size_t i = 0;
    while (i < json_array_size(tools)) {
        json_t *t = json_array_get(tools, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        char h[AG_HASH_HEX_LEN];
        if (name == NULL || !name[0] || !tool_hash(t, h)) {
            json_array_remove(tools, i); /* a tool without a name cannot be judged */
            changed = 1;
            continue;
        }
        const char *pin = json_string_value(json_object_get(s->pins, name));
        if (pin == NULL && s->pinning) {
            json_object_set_new(s->pins, name, json_string(h));
            pinned = 1;
        } else if (pin == NULL || strcmp(pin, h) != 0) {
            const char *seen = json_string_value(json_object_get(s->changed, name));
            if (seen == NULL || strcmp(seen, h) != 0) {
                int ask = ag_policy_mcp(s->policy)->change_ask;
                json_t *d =
                    json_pack("{s:s?,s:s,s:s?}", "pinned_sha256", pin, "seen_sha256", h,
                              "description", json_string_value(json_object_get(t, "description")));
                /* The tool is refused whether or not this is recorded. */
                ag_err lerr = ledger(s, "violation", name, ask ? "ask" : "deny",
                                     pin ? "tool_changed" : "tool_added", d);
                json_decref(d);
                if (lerr != AG_OK && s->o.report)
                    s->o.report(s->o.report_ctx, "agentgov mcp: a tool change could not be "
                                                 "recorded in the ledger");
                json_object_set_new(s->changed, name, json_string(h));
                if (s->o.report) {
                    snprintf(why, sizeof why,
                             "agentgov mcp: server '%s': tool '%s' %s since it was pinned: %s",
                             s->o.server, name, pin ? "changed" : "was added",
                             ask ? "its calls need approval" : "hidden and refused");
                    s->o.report(s->o.report_ctx, why);
                }
            }
        } else if (json_object_get(s->changed, name)) {
            json_object_del(s->changed, name); /* back as pinned */
        }
        int hide = json_object_get(s->changed, name) && !ag_policy_mcp(s->policy)->change_ask;
        if (hide || !visible(s, name)) {
            json_array_remove(tools, i);
            changed = 1;
            continue;
        }
        i++;
    }
    if (pinned) {
        json_t *d = json_pack("{s:O}", "tools", s->pins);
        if (save_pins(s) != AG_OK || ledger(s, "system", NULL, NULL, "tools_pinned", d) != AG_OK)
            if (s->o.report) {
                snprintf(why, sizeof why, "agentgov mcp: pinning the tools of '%s' failed: %s",
                         s->o.server, ag_last_error());
                s->o.report(s->o.report_ctx, why);
            }
        json_decref(d);
    }
    return changed;
}

int ag__mcp_pin_blocked(struct ag__mcp_session *s, const char *tool, struct ag__mcp_call *c)
{
    if (s->changed == NULL || json_object_get(s->changed, tool) == NULL)
        return 0;
    snprintf(c->why, sizeof c->why,
             "%s denied: the tool changed since it was pinned (its description or input "
             "schema differs from the first tools/list of server '%s')%s",
             c->action, s->o.server,
             ag_policy_mcp(s->policy)->change_ask
                 ? "; approving a changed tool is done by accepting the change: agentgov mcp "
                   "pins reset"
                 : "");
    return 1;
}

void ag__mcp_pins_free(struct ag__mcp_session *s)
{
    json_decref(s->pins);
    json_decref(s->changed);
}

ag_err ag_mcp_pins_get(ag_home *home, const char *server, char **json)
{
    ag_store *st;
    char key[128];
    *json = NULL;
    if (server == NULL || !server[0] || strlen(server) > 64)
        return ag__fail(AG_EINVAL, "a server name of 1..64 characters is needed");
    snprintf(key, sizeof key, PIN_KEY_PREFIX "%s", server);
    ag_err err = ag_home_store(home, &st);
    return err != AG_OK ? err : ag_store_get(st, key, json);
}

ag_err ag_mcp_pins_reset(ag_home *home, const char *server, int *had)
{
    char *cur = NULL, key[128];
    ag_store *st;
    ag_ledger *l;
    *had = 0;
    ag_err err = ag_mcp_pins_get(home, server, &cur);
    if (err != AG_OK)
        return err;
    *had = cur != NULL;
    free(cur);
    if (!*had)
        return AG_OK;
    snprintf(key, sizeof key, PIN_KEY_PREFIX "%s", server);
    char action[128], data[160];
    snprintf(action, sizeof action, "mcp.%s.pin", server);
    snprintf(data, sizeof data, "{\"server\":\"%s\"}", server);
    struct ag_ledger_entry e = {.kind = "system",
                                .tier = -1,
                                .action = action,
                                .resource = server,
                                .reason = "tools_unpinned",
                                .confidence = -1,
                                .success = -1,
                                .data_json = data};
    /* Ledgered first: a reset that is not on record does not happen. */
    if ((err = ag_home_ledger(home, &l)) != AG_OK || (err = ag_ledger_append(l, &e, NULL, NULL)) ||
        (err = ag_home_store(home, &st)) != AG_OK)
        return err;
    return ag_store_del(st, key);
}
