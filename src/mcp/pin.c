/* Tool pinning, against "rug pulls" (a server that changes what a tool does after it was
 * approved) and tool-description injection: the first tools/list answer a server gives
 * is pinned on the state store (key mcp:pins:<server>, one SHA-256 per tool over the
 * canonical JSON of its name, description and input schema); a later answer whose tool
 * differs, or that brings a tool the pin does not know, is ledgered, the tool is hidden
 * and its calls refused (on_change: deny), or hidden until a person approves the change
 * (on_change: ask: an approval of the approvals module, one per server, tool and new
 * hash; approved, the new form is pinned). The answer is also filtered to the tools the
 * policy would allow or ask for this agent, so the model never sees a tool it may not
 * call. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/approve.h"
#include "agentgov/store.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/time.h"
#include "mcp/mcp_int.h"
#include "mcp/session.h"
#include "policy/glob.h"

#define PIN_KEY_PREFIX "mcp:pins:"

static void report(struct ag__mcp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void report(struct ag__mcp_session *s, const char *fmt, ...)
{
    if (s->o.report == NULL)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->o.report(s->o.report_ctx, line);
}

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

/* ---- on_change: ask -------------------------------------------------------------------- */

/* The approval of a change: one id per server, tool and new hash (so every session, and
 * every agent, meets the same approval for the same change). */
static void change_id(const struct ag__mcp_session *s, const char *tool, const char *h,
                      char id[AG_APPROVAL_ID_BUF])
{
    char key[512];
    snprintf(key, sizeof key, "mcp-pin:%s:%s:%s", s->o.server, tool, h);
    ag_approval_id_for(key, id);
}

/* Opens the approval of a changed tool unless it exists: admins decide it (no rule names
 * approvers), within mcp.ask_timeout. */
static ag_err open_change(struct ag__mcp_session *s, const char *tool, const char *pin,
                          const char *h, const char *desc, const char *id)
{
    ag_err err = ag__mcp_approvals(s);
    if (err != AG_OK)
        return err;
    json_t *args = json_pack("{s:s,s:s?,s:s,s:s?}", "tool", tool, "pinned_sha256", pin,
                             "seen_sha256", h, "description", desc);
    char *aj = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(args);
    if (aj == NULL)
        return AG_ENOMEM;
    char action[128];
    snprintf(action, sizeof action, "mcp.%s.pin", s->o.server);
    struct ag_approve_open o = {
        .id = id,
        .requester = s->o.agent,
        .action = action,
        .resource = tool,
        .args_json = aj,
        .required = 1,
        .expires_ms = ag__wall_ms() + ag_policy_mcp(s->policy)->ask_timeout_ms,
    };
    err = ag_approve_open(s->approve, &o, NULL);
    free(aj);
    return err;
}

/* The status of approval id ("pending", "approved", "denied", "expired"), waiting up to
 * wait_ms while it is pending; "" when it cannot be read. */
static void change_status(struct ag__mcp_session *s, const char *id, int64_t wait_ms,
                          char status[12])
{
    int64_t until = ag__mono_ms() + wait_ms;
    status[0] = '\0';
    for (;;) {
        struct ag_approval ap = {0};
        if (ag__mcp_approvals(s) == AG_OK && ag_approve_get(s->approve, id, &ap) == AG_OK)
            snprintf(status, 12, "%s", ap.status);
        ag_approval_clear(&ap);
        if (strcmp(status, "pending") != 0 || ag__mono_ms() >= until)
            return;
        usleep(200000);
    }
}

/* A person approved the change: the new form becomes the tool's pin (ledgered first: a
 * pin that is not on record is not changed), merged into the pins on the store as they
 * are now (another session may have pinned meanwhile). */
static ag_err repin(struct ag__mcp_session *s, const char *tool, const char *h, const char *id)
{
    const char *old = json_string_value(json_object_get(s->pins, tool));
    json_t *d = json_pack("{s:s,s:s?,s:s}", "approval", id, "pinned_sha256", old, "seen_sha256", h);
    ag_err err = d ? ledger(s, "system", tool, "allow", "tool_repinned", d) : AG_ENOMEM;
    json_decref(d);
    if (err != AG_OK)
        return err;
    char *cur = NULL;
    if ((err = ag_mcp_pins_get(s->o.home, s->o.server, &cur)) != AG_OK)
        return err;
    json_t *fresh = cur ? json_loads(cur, 0, NULL) : json_object();
    free(cur);
    if (json_is_object(fresh)) {
        json_decref(s->pins);
        s->pins = fresh;
    } else {
        json_decref(fresh);
    }
    json_object_set_new(s->pins, tool, json_string(h));
    if ((err = save_pins(s)) != AG_OK)
        return err;
    json_object_del(s->changed, tool);
    s->list_changed = 1;
    return AG_OK;
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

/* A tool that differs from its pin (or that the pin does not know), seen in a tools/list
 * answer: recorded and reported once per new form; under on_change: ask its approval is
 * opened (or found: another session may have opened it, a person may have decided it),
 * and once approved the new form is pinned (the tool is no longer changed). */
static void note_change(struct ag__mcp_session *s, json_t *t, const char *name, const char *pin,
                        const char *h)
{
    int ask = ag_policy_mcp(s->policy)->change_ask;
    char id[AG_APPROVAL_ID_BUF] = "", status[12] = "", tail[256] = "hidden and refused";
    if (ask)
        change_id(s, name, h, id);
    const char *seen = json_string_value(json_object_get(s->changed, name));
    int first = seen == NULL || strcmp(seen, h) != 0;
    if (first) {
        const char *desc = json_string_value(json_object_get(t, "description"));
        json_t *d = json_pack("{s:s?,s:s,s:s?}", "pinned_sha256", pin, "seen_sha256", h,
                              "description", desc);
        if (ask)
            json_object_set_new(d, "approval", json_string(id));
        /* The tool is refused whether or not this is recorded. */
        ag_err lerr = ledger(s, "violation", name, ask ? "ask" : "deny",
                             pin ? "tool_changed" : "tool_added", d);
        json_decref(d);
        if (lerr != AG_OK)
            report(s, "agentgov mcp: a tool change could not be recorded in the ledger");
        json_object_set_new(s->changed, name, json_string(h));
        if (ask && open_change(s, name, pin, h, desc, id) != AG_OK)
            snprintf(tail, sizeof tail, "its approval cannot be opened (%s): hidden and refused",
                     ag_last_error());
    }
    if (ask)
        change_status(s, id, 0, status);
    if (strcmp(status, "pending") == 0)
        s->watching = 1; /* ag__mcp_tick looks again until a person decides */
    if (first && strcmp(status, "pending") == 0)
        snprintf(tail, sizeof tail,
                 "hidden until a person approves the change: agentgov approval approve %s", id);
    else if (first && status[0] && strcmp(status, "approved") != 0)
        snprintf(tail, sizeof tail,
                 "approval %s of this change was %s: hidden and refused (agentgov mcp pins "
                 "reset accepts it)",
                 id, status);
    else if (first && status[0])
        snprintf(tail, sizeof tail, "approval %s of this change was given: pinned again", id);
    if (first)
        report(s, "agentgov mcp: server '%s': tool '%s' %s since it was pinned: %s", s->o.server,
               name, pin ? "changed" : "was added", tail);
    if (strcmp(status, "approved") == 0 && repin(s, name, h, id) != AG_OK)
        report(s, "agentgov mcp: the approved change of tool '%s' cannot be pinned: %s", name,
               ag_last_error());
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
            note_change(s, t, name, pin, h);
        } else if (json_object_get(s->changed, name)) {
            json_object_del(s->changed, name); /* back as pinned */
        }
        /* A changed tool is hidden until its change is accepted (approved, or pins reset). */
        int hide = json_object_get(s->changed, name) != NULL;
        if (hide || !visible(s, name)) {
            json_array_remove(tools, i);
            changed = 1;
            continue;
        }
        i++;
    }
    s->list_changed = 0; /* this answer is the new list */
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
    const char *h = s->changed ? json_string_value(json_object_get(s->changed, tool)) : NULL;
    if (h == NULL)
        return 0;
    if (!ag_policy_mcp(s->policy)->change_ask) {
        snprintf(c->why, sizeof c->why,
                 "%s denied: the tool changed since it was pinned (its description or input "
                 "schema differs from the first tools/list of server '%s')",
                 c->action, s->o.server);
        return 1;
    }
    char id[AG_APPROVAL_ID_BUF], status[12], hash[AG_HASH_HEX_LEN];
    snprintf(hash, sizeof hash, "%s", h); /* h goes with the entry repin deletes */
    change_id(s, tool, hash, id);
    change_status(s, id, 0, status);
    if (strcmp(status, "pending") == 0) {
        report(s,
               "agentgov mcp: %s waits for approval %s of the tool's change "
               "(agentgov approval approve %s)",
               c->action, id, id);
        change_status(s, id, ag_policy_mcp(s->policy)->ask_timeout_ms, status);
    }
    if (strcmp(status, "approved") == 0) {
        if (repin(s, tool, hash, id) == AG_OK)
            return 0;
        snprintf(c->why, sizeof c->why,
                 "%s denied: the change of the tool was approved (%s) but cannot be pinned: %s",
                 c->action, id, ag_last_error());
        return 1;
    }
    snprintf(c->why, sizeof c->why,
             "%s denied: the tool changed since it was pinned (its description or input "
             "schema differs from the form pinned for server '%s'), and approval %s of the "
             "change %s",
             c->action, s->o.server, id,
             status[0] == '\0'                ? "cannot be read"
             : strcmp(status, "pending") == 0 ? "got no answer in time"
                                              : status);
    return 1;
}

/* How often a session with a change waiting for approval looks at it. */
#define TICK_MS 1000

int ag__mcp_tick(struct ag__mcp_session *s, struct ag__mcp_io *io)
{
    int64_t now = ag__mono_ms();
    if (s->watching && now >= s->next_tick && s->changed) {
        s->next_tick = now + TICK_MS;
        s->watching = 0;
        const char *tool;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(s->changed, tmp, tool, v)
        {
            char h[AG_HASH_HEX_LEN], id[AG_APPROVAL_ID_BUF], status[12], name[256];
            snprintf(h, sizeof h, "%s", json_string_value(v) ? json_string_value(v) : "");
            snprintf(name, sizeof name, "%s", tool); /* tool goes with the entry repin drops */
            change_id(s, name, h, id);
            change_status(s, id, 0, status);
            if (strcmp(status, "pending") == 0)
                s->watching = 1;
            else if (strcmp(status, "approved") == 0 && repin(s, name, h, id) != AG_OK)
                report(s, "agentgov mcp: the approved change of tool '%s' cannot be pinned: %s",
                       name, ag_last_error());
            else if (strcmp(status, "approved") == 0)
                report(s,
                       "agentgov mcp: server '%s': the change of tool '%s' was approved (%s): "
                       "pinned, and the client told to list the tools again",
                       s->o.server, name, id);
        }
    }
    if (s->list_changed) {
        static const char note[] = "{\"jsonrpc\":\"2.0\",\"method\":"
                                   "\"notifications/tools/list_changed\"}\n";
        ag__buf_append(&io->to_client, note, sizeof note - 1);
        s->list_changed = 0;
    }
    if (!s->watching)
        return -1;
    return now >= s->next_tick ? 0 : (int)(s->next_tick - now);
}

int ag__mcp_pins_initialize(struct ag__mcp_session *s, json_t *m)
{
    json_t *caps = json_object_get(json_object_get(m, "result"), "capabilities");
    json_t *tools = json_object_get(caps, "tools");
    if (!ag_policy_mcp(s->policy)->change_ask || !json_is_object(tools) ||
        json_is_true(json_object_get(tools, "listChanged")))
        return 0;
    json_object_set_new(tools, "listChanged", json_true());
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
