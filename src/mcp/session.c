/* The gateway's judgement of each MCP message. A request of the client is one of:
 * decided (tools/call, resources/read, prompts/get: allowed ones go to the server,
 * denied ones are answered here), watched (tools/list: its answer is pinned and
 * filtered), or passed through unchanged. Each decision is ledgered before anything is
 * sent: a ledger that cannot be written is a deny. */
#include "mcp/session.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/approve.h"
#include "agentgov/gov.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/time.h"
#include "hook/hook.h"
#include "mcp/mcp_int.h"

#define MAX_PENDING 4096

/* ---- small helpers ------------------------------------------------------------------ */

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

/* Appends v as one compact line. */
static void put_line(struct ag_buf *b, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        b->oom = 1;
        return;
    }
    ag__buf_puts(b, text);
    ag__buf_putc(b, '\n');
    free(text);
}

static void put_raw(struct ag_buf *b, const char *msg, size_t len)
{
    ag__buf_append(b, msg, len);
    ag__buf_putc(b, '\n');
}

void ag__mcp_error(struct ag_buf *b, json_t *id, int code, const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i,s:s}", "code", code, "message", message);
    if (err && data)
        json_object_set(err, "data", data);
    json_t *o =
        json_pack("{s:s,s:O?,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", err);
    if (o == NULL)
        b->oom = 1;
    else
        put_line(b, o);
    json_decref(o);
}

/* The key of a request id in the pending table: its compact JSON ("7", "\"a\""). */
static char *id_key(json_t *id)
{
    return json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
}

static struct ag__mcp_pending *find_pending(struct ag__mcp_session *s, const char *key)
{
    for (size_t i = 0; i < s->npending; i++)
        if (strcmp(s->pending[i].key, key) == 0)
            return &s->pending[i];
    return NULL;
}

static void drop_pending(struct ag__mcp_session *s, struct ag__mcp_pending *p)
{
    free(p->key);
    free(p->tool);
    *p = s->pending[--s->npending];
}

/* ---- the session ------------------------------------------------------------------- */

ag_err ag__mcp_session_new(const struct ag_mcp_opts *o, struct ag__mcp_session **out)
{
    *out = NULL;
    if (o == NULL || o->home == NULL || o->server == NULL || !o->server[0])
        return ag__fail(AG_EINVAL, "an MCP session needs a data directory and a server name");
    for (const char *c = o->server; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_'))
            return ag__fail(AG_EINVAL,
                            "server name '%s' may hold only letters, digits, '-' and '_'",
                            o->server);
    struct ag__mcp_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return AG_ENOMEM;
    s->o = *o;
    if (s->o.agent == NULL)
        s->o.agent = "mcp";
    if (s->o.max_message == 0)
        s->o.max_message = AG_MCP_MAX_MESSAGE;
    ag_err err;
    ag_policy *hp = NULL;
    if ((o->policy == NULL && (err = ag_home_policy(o->home, &hp)) != AG_OK) ||
        (err = ag_home_ledger(o->home, &s->ledger)) != AG_OK) {
        free(s);
        return err;
    }
    s->policy = o->policy ? o->policy : hp;
    s->tier = o->tier;
    if ((err = ag__mcp_agent_refresh(s)) != AG_OK) {
        free(s);
        return err;
    }
    if (s->tier < AG_TIER_MIN)
        err = ag__fail(AG_EINVAL,
                       "agent '%s' is not registered: give --tier N, or register it "
                       "(agentgov agent register)",
                       s->o.agent);
    if (err != AG_OK) {
        free(s);
        return err;
    }
    char cwd[PATH_MAX];
    s->cwd = getcwd(cwd, sizeof cwd) ? strdup(cwd) : NULL;
    char home[PATH_MAX];
    const char *h = ag__hook_home(getuid(), home);
    s->homedir = h ? strdup(h) : NULL;
    *out = s;
    return AG_OK;
}

void ag__mcp_session_free(struct ag__mcp_session *s)
{
    if (s == NULL)
        return;
    while (s->npending)
        drop_pending(s, &s->pending[0]);
    free(s->pending);
    ag__mcp_pins_free(s);
    ag__mcp_redact_free(s);
    ag_approve_free(s->approve);
    free(s->cwd);
    free(s->homedir);
    free(s);
}

/* The agent's registered tier (when no --tier) and its run's phase, read again before
 * each decision: a transition or a revocation takes effect on the next call. An agent
 * that is not registered keeps the given tier and no phase. */
ag_err ag__mcp_agent_refresh(struct ag__mcp_session *s)
{
    s->phase = AG_PHASE_NONE;
    s->registered = 0;
    if (s->o.agent == NULL || strcmp(s->o.agent, "mcp") == 0) {
        if (s->o.tier < 0)
            s->tier = -1;
        return AG_OK;
    }
    ag_gov *g;
    ag_err err = ag_home_gov(s->o.home, &g);
    if (err != AG_OK)
        return err;
    struct ag_agent_status st = {0};
    if ((err = ag_gov_status(g, s->o.agent, &st)) != AG_OK)
        return err;
    s->registered = st.registered;
    s->revoked = st.revoked;
    if (s->o.tier < 0)
        s->tier = st.registered ? st.tier : -1;
    if (st.state_json) {
        json_t *o = json_loads(st.state_json, 0, NULL);
        const char *ph = json_string_value(json_object_get(o, "phase"));
        enum ag_phase p;
        if (ph && ag_phase_parse(ph, &p) == AG_OK)
            s->phase = p;
        json_decref(o);
    }
    ag_agent_status_clear(&st);
    return AG_OK;
}

/* ---- deciding ----------------------------------------------------------------------- */

/* Opens the approvals handle on first use (an ask, or a changed tool under on_change:
 * ask). */
ag_err ag__mcp_approvals(struct ag__mcp_session *s)
{
    if (s->approve)
        return AG_OK;
    ag_store *st;
    ag_ledger *l;
    ag_auth *a = NULL;
    ag_err err;
    if ((err = ag_home_store(s->o.home, &st)) != AG_OK ||
        (err = ag_home_ledger(s->o.home, &l)) != AG_OK)
        return err;
    if (ag_home_has_master_key(s->o.home) && ag_home_auth(s->o.home, &a) != AG_OK)
        a = NULL;
    struct ag_approve_opts ao = {.store = st, .ledger = l, .auth = a};
    return ag_approve_new(&ao, &s->approve);
}

/* An ask: a person must approve. The approvals module records a pending approval bound
 * to this agent, action, resource and arguments (through the lifecycle, so the agent
 * must be registered and in a run); the call waits for a decision, polling the store,
 * up to mcp.ask_timeout. Approved: the grant is spent (once) and the lifecycle decides
 * again. Anything else (denied, expired, no answer in time, an agent outside a run) is
 * a deny that says why. The relay waits meanwhile: this session's other messages are
 * read after the answer. */
static enum ag_effect ask_person(struct ag__mcp_session *s, struct ag__mcp_call *c)
{
    c->reason = "approval_unavailable";
    if (!s->registered) {
        snprintf(c->why, sizeof c->why,
                 "%s needs a person's approval, which is asked for a registered agent in a "
                 "governed run (--agent ID of `agentgov agent register`): denied",
                 c->action);
        return AG_EFFECT_DENY;
    }
    ag_gov *g;
    if (ag_home_gov(s->o.home, &g) != AG_OK || ag__mcp_approvals(s) != AG_OK) {
        snprintf(c->why, sizeof c->why, "%s needs approval, which cannot be asked: %s: denied",
                 c->action, ag_last_error());
        return AG_EFFECT_DENY;
    }
    struct ag_approve_request rq = {.agent_id = s->o.agent,
                                    .action = c->action,
                                    .resource = c->resource,
                                    .confidence = -1,
                                    .args_json = c->args_json,
                                    .requester_accessor = ""};
    struct ag_approve_result res;
    enum ag_effect eff = ag_approve_authorize(s->approve, g, s->policy, &rq, &res);
    if (eff != AG_EFFECT_ASK) {
        c->reason = ag_reason_name(res.d.reason);
        snprintf(c->why, sizeof c->why, "%s: the lifecycle says %s: %s%s%s", c->action,
                 ag_effect_name(eff), c->reason, res.detail[0] ? ": " : "", res.detail);
        return eff;
    }
    char id[AG_APPROVAL_ID_BUF];
    snprintf(id, sizeof id, "%s", res.approval_id);
    int64_t timeout = ag_policy_mcp(s->policy)->ask_timeout_ms;
    report(s,
           "agentgov mcp: %s on %s waits for approval %s (agentgov approval approve %s), up "
           "to %lld s",
           c->action, c->resource, id, id, (long long)(timeout / 1000));
    int64_t until = ag__mono_ms() + timeout;
    char status[12] = "pending";
    while (strcmp(status, "pending") == 0 && ag__mono_ms() < until) {
        usleep(200000);
        struct ag_approval ap = {0};
        if (ag_approve_get(s->approve, id, &ap) == AG_OK)
            snprintf(status, sizeof status, "%s", ap.status);
        ag_approval_clear(&ap);
    }
    if (strcmp(status, "approved") != 0) {
        c->reason = strcmp(status, "pending") == 0 ? "approval_timeout" : "approval_denied";
        snprintf(c->why, sizeof c->why, "%s on %s: approval %s %s: denied", c->action, c->resource,
                 id, strcmp(status, "pending") == 0 ? "got no answer in time" : status);
        return AG_EFFECT_DENY;
    }
    rq.approval_id = id;
    eff = ag_approve_authorize(s->approve, g, s->policy, &rq, &res);
    c->reason = ag_reason_name(res.d.reason);
    if (eff != AG_EFFECT_ALLOW)
        snprintf(c->why, sizeof c->why, "%s on %s: approval %s was not honoured: %s%s%s", c->action,
                 c->resource, id, c->reason, res.detail[0] ? ": " : "", res.detail);
    return eff == AG_EFFECT_ALLOW ? AG_EFFECT_ALLOW : AG_EFFECT_DENY;
}

/* Records the decision of c in the ledger. */
static ag_err record(struct ag__mcp_session *s, const struct ag__mcp_call *c, enum ag_effect eff)
{
    json_t *data =
        json_pack("{s:s,s:s,s:s}", "server", s->o.server, "method", c->method, "transport", "mcp");
    if (data == NULL)
        return AG_ENOMEM;
    if (c->args_digest[0])
        json_object_set_new(data, "arguments_sha256", json_string(c->args_digest));
    if (c->d.rule_file)
        json_object_set_new(data, "rule", json_sprintf("%s:%d", c->d.rule_file, c->d.rule_line));
    if (c->tool)
        json_object_set_new(data, "tool", json_string(c->tool));
    if (eff != AG_EFFECT_ALLOW)
        json_object_set_new(data, "message", json_string(c->why));
    char *dj = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (dj == NULL)
        return AG_ENOMEM;
    struct ag_ledger_entry e = {
        .kind = "decision",
        .agent_id = s->o.agent,
        .tier = s->tier,
        .phase = s->phase == AG_PHASE_NONE ? NULL : ag_phase_name(s->phase),
        .action = c->action,
        .resource = c->resource,
        .decision = ag_effect_name(eff),
        .reason = c->reason,
        .confidence = -1,
        .success = -1,
        .data_json = dj,
    };
    ag_err err = ag_ledger_append(s->ledger, &e, NULL, NULL);
    free(dj);
    return err;
}

enum ag_effect ag__mcp_decide(struct ag__mcp_session *s, struct ag__mcp_call *c)
{
    enum ag_effect eff;
    ag_err err = ag__mcp_agent_refresh(s);
    if (err != AG_OK || s->tier < 0) {
        eff = AG_EFFECT_DENY;
        c->reason = ag_reason_name(AG_REASON_STORE_UNAVAILABLE);
        snprintf(c->why, sizeof c->why, "%s denied: the agent's state cannot be read: %s",
                 c->action, err != AG_OK ? ag_last_error() : "no tier");
    } else if (s->revoked) {
        eff = AG_EFFECT_DENY;
        c->reason = ag_reason_name(AG_REASON_AGENT_REVOKED);
        snprintf(c->why, sizeof c->why, "%s denied: agent '%s' is revoked", c->action, s->o.agent);
    } else if (c->pre_reason) {
        eff = AG_EFFECT_DENY; /* decided before the policy (a rate limit, a bad path) */
        c->reason = c->pre_reason;
    } else {
        struct ag_request rq = {.tier = s->tier,
                                .phase = s->phase,
                                .action = c->action,
                                .resource = c->resource,
                                .text_resource = !c->path_resource};
        eff = ag_decide(s->policy, &rq, &c->d);
        c->reason = ag_reason_name(c->d.reason);
        if (eff != AG_EFFECT_ALLOW) {
            char rule[PATH_MAX + 32] = "";
            if (c->d.rule_file)
                snprintf(rule, sizeof rule, " (%s:%d)", c->d.rule_file, c->d.rule_line);
            snprintf(c->why, sizeof c->why, "agentgov %s %s on %s at tier %d: %s%s",
                     eff == AG_EFFECT_ASK ? "asks before" : "denied", c->action, c->resource,
                     s->tier, c->reason, rule);
        }
        if (eff == AG_EFFECT_ASK) {
            if ((err = record(s, c, eff)) != AG_OK)
                goto ledger_down;
            eff = ask_person(s, c);
        }
    }
    if ((err = record(s, c, eff)) != AG_OK)
        goto ledger_down;
    return eff;
ledger_down:
    c->reason = ag_reason_name(AG_REASON_LEDGER_UNAVAILABLE);
    snprintf(c->why, sizeof c->why, "%s denied: the ledger cannot be written: %s", c->action,
             ag_last_error());
    report(s, "agentgov mcp: %s", c->why);
    return AG_EFFECT_DENY;
}

/* The refusal the client sees: a JSON-RPC error, or for tools/call with deny_as: result
 * a tool result flagged isError (some clients show that to the model, which can then
 * try something else). */
static void refuse(struct ag__mcp_session *s, json_t *id, const struct ag__mcp_call *c,
                   struct ag__mcp_io *io)
{
    if (strcmp(c->method, "tools/call") == 0 && ag_policy_mcp(s->policy)->deny_as_result) {
        json_t *o = json_pack("{s:s,s:O,s:{s:[{s:s,s:s}],s:b}}", "jsonrpc", "2.0", "id", id,
                              "result", "content", "type", "text", "text", c->why, "isError", 1);
        if (o)
            put_line(&io->to_client, o);
        else
            io->to_client.oom = 1;
        json_decref(o);
        return;
    }
    json_t *data =
        json_pack("{s:s,s:s,s:s}", "decision", "deny", "reason", c->reason, "action", c->action);
    ag__mcp_error(&io->to_client, id, AG__MCP_DENIED, c->why, data);
    json_decref(data);
}

/* The SHA-256 of the arguments' canonical JSON (RFC 8785): what the ledger keeps of them,
 * so a call can be matched later without the ledger holding its content. */
static void args_digest(json_t *args, char out[AG_HASH_HEX_LEN], char **json)
{
    char *canon = NULL;
    out[0] = '\0';
    if (args && ag__jcs_dump(args, 0, &canon) == AG_OK) {
        ag__sha256_hex(canon, strlen(canon), out);
        if (json && *json == NULL)
            *json = canon;
        else
            free(canon);
    }
}

/* Fills c for a tools/call: action mcp.<server>.<tool>; resource the mapped argument
 * (a path, in the files' resource form) or the tool name. */
static void call_of_tool(struct ag__mcp_session *s, json_t *params, struct ag__mcp_call *c)
{
    const char *tool = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    c->method = "tools/call";
    if (tool == NULL || !tool[0]) {
        snprintf(c->action, sizeof c->action, "mcp.%s", s->o.server);
        snprintf(c->resource_buf, sizeof c->resource_buf, "-");
        c->resource = c->resource_buf;
        c->pre_reason = ag_reason_name(AG_REASON_INVALID_REQUEST);
        snprintf(c->why, sizeof c->why, "tools/call without a tool name: denied");
        return;
    }
    c->tool = tool;
    snprintf(c->action, sizeof c->action, "mcp.%s.%s", s->o.server, tool);
    snprintf(c->resource_buf, sizeof c->resource_buf, "%s", tool);
    c->resource = c->resource_buf;
    args_digest(args, c->args_digest, &c->args_json);
    char qual[512];
    snprintf(qual, sizeof qual, "%s.%s", s->o.server, tool);
    const struct ag_mcp_tool_conf *tc = ag_policy_mcp_tool(s->policy, qual);
    if (tc && tc->resource_arg) {
        const char *path = json_string_value(json_object_get(args, tc->resource_arg));
        char *res = NULL;
        if (path == NULL || ag__hook_path_resource(s->cwd, s->homedir, path, &res) != AG_OK) {
            c->pre_reason = ag_reason_name(AG_REASON_INVALID_REQUEST);
            snprintf(c->why, sizeof c->why,
                     "%s denied: its argument '%s' (the resource, per the policy's mcp.resources) "
                     "is %s",
                     c->action, tc->resource_arg,
                     path == NULL ? "missing or not a string" : "not a usable path");
            return;
        }
        snprintf(c->resource_buf, sizeof c->resource_buf, "%s", res);
        free(res);
        c->path_resource = 1;
    }
    if (tc && tc->rate_count && !ag__mcp_rate_take(s, tc, c))
        c->pre_reason = "rate_limited";
}

/* ---- client messages ------------------------------------------------------------------ */

static void add_pending(struct ag__mcp_session *s, char *key, enum ag__mcp_kind kind,
                        const char *tool)
{
    if (s->npending == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct ag__mcp_pending *p = realloc(s->pending, cap * sizeof *p);
        if (p == NULL) {
            free(key);
            return;
        }
        s->pending = p;
        s->cap = cap;
    }
    s->pending[s->npending++] = (struct ag__mcp_pending){key, kind, tool ? strdup(tool) : NULL};
}

void ag__mcp_client_oversized(struct ag__mcp_session *s, size_t len, struct ag__mcp_io *io)
{
    char msg[160];
    snprintf(msg, sizeof msg, "message of %zu bytes or more exceeds the gateway's limit of %zu",
             len, s->o.max_message);
    ag__mcp_error(&io->to_client, NULL, AG__MCP_INVALID_REQUEST, msg, NULL);
    report(s, "agentgov mcp: dropped a client %s", msg);
}

static void invalid(struct ag__mcp_io *io, json_t *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void invalid(struct ag__mcp_io *io, json_t *id, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ag__mcp_error(&io->to_client, id, AG__MCP_INVALID_REQUEST, msg, NULL);
}

/* A request of the client: decided, watched or passed; remembered until answered. */
static void client_request(struct ag__mcp_session *s, json_t *m, json_t *id, const char *method,
                           const char *msg, size_t len, struct ag__mcp_io *io)
{
    if (!json_is_string(id) && !json_is_integer(id)) {
        invalid(io, NULL, "request id must be a string or an integer");
        return;
    }
    if (!s->initialized && strcmp(method, "initialize") != 0 && strcmp(method, "ping") != 0) {
        invalid(io, id, "%s before initialize: the session is not initialized", method);
        return;
    }
    if (s->initialized && strcmp(method, "initialize") == 0) {
        invalid(io, id, "initialize sent twice: the session is already initialized");
        return;
    }
    char *key = id_key(id);
    if (key == NULL) {
        io->to_client.oom = 1;
        return;
    }
    if (find_pending(s, key)) {
        invalid(io, id, "request id %s is already in use by a request in flight", key);
        free(key);
        return;
    }
    if (s->npending >= MAX_PENDING) {
        invalid(io, id, "too many requests in flight (%d)", MAX_PENDING);
        free(key);
        return;
    }
    json_t *params = json_object_get(m, "params");
    enum ag__mcp_kind kind = AG__MCP_OTHER;
    struct ag__mcp_call c = {0};
    if (strcmp(method, "initialize") == 0) {
        s->initialized = 1;
        kind = AG__MCP_INITIALIZE;
    } else if (strcmp(method, "tools/list") == 0) {
        kind = AG__MCP_TOOLS_LIST;
    } else if (strcmp(method, "tools/call") == 0 || strcmp(method, "resources/read") == 0 ||
               strcmp(method, "prompts/get") == 0) {
        if (method[0] == 't') {
            kind = AG__MCP_TOOLS_CALL;
            call_of_tool(s, params, &c);
        } else {
            const char *what =
                json_string_value(json_object_get(params, method[0] == 'r' ? "uri" : "name"));
            c.method = method[0] == 'r' ? "resources/read" : "prompts/get";
            snprintf(c.action, sizeof c.action, "mcp.%s.%s", s->o.server,
                     method[0] == 'r' ? "read" : "prompt");
            snprintf(c.resource_buf, sizeof c.resource_buf, "%s", what ? what : "");
            c.resource = c.resource_buf;
            args_digest(params, c.args_digest, &c.args_json);
            if (what == NULL || !what[0]) {
                c.pre_reason = ag_reason_name(AG_REASON_INVALID_REQUEST);
                snprintf(c.why, sizeof c.why, "%s without its %s: denied", method,
                         method[0] == 'r' ? "uri" : "name");
            }
        }
        if (c.tool && ag__mcp_pin_blocked(s, c.tool, &c) && !c.pre_reason)
            c.pre_reason = "tool_changed";
        (void)ag__mcp_tick(s, io); /* an approved change: the client's list is stale */
        enum ag_effect eff = ag__mcp_decide(s, &c);
        free(c.args_json);
        if (eff != AG_EFFECT_ALLOW) {
            if (kind == AG__MCP_TOOLS_CALL && s->registered && !s->revoked)
                ag__mcp_count_error(s, &c);
            refuse(s, id, &c, io);
            free(key);
            return;
        }
    }
    add_pending(s, key, kind, c.tool);
    put_raw(&io->to_server, msg, len);
}

void ag__mcp_from_client(struct ag__mcp_session *s, const char *msg, size_t len,
                         struct ag__mcp_io *io)
{
    json_error_t je;
    json_t *m = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &je);
    if (m == NULL) {
        char why[256];
        snprintf(why, sizeof why, "parse error at byte %d: %s", je.position, je.text);
        ag__mcp_error(&io->to_client, NULL, AG__MCP_PARSE_ERROR, why, NULL);
        return;
    }
    if (json_is_array(m)) {
        invalid(io, NULL, "JSON-RPC batches are not accepted (MCP sends one message per line)");
    } else if (!json_is_object(m)) {
        invalid(io, NULL, "a JSON-RPC message must be an object");
    } else {
        json_t *id = json_object_get(m, "id"), *method = json_object_get(m, "method");
        const char *ver = json_string_value(json_object_get(m, "jsonrpc"));
        if (ver == NULL || strcmp(ver, "2.0") != 0)
            invalid(io, id, "\"jsonrpc\" must be \"2.0\"");
        else if (method && !json_is_string(method))
            invalid(io, id, "\"method\" must be a string");
        else if (method && id)
            client_request(s, m, id, json_string_value(method), msg, len, io);
        else if (method) {
            /* A notification (initialized, cancelled, progress, roots changed): passed.
             * A cancelled request may never be answered: its id is free again. */
            if (strcmp(json_string_value(method), "notifications/cancelled") == 0) {
                json_t *rid = json_object_get(json_object_get(m, "params"), "requestId");
                char *key = rid ? id_key(rid) : NULL;
                struct ag__mcp_pending *p = key ? find_pending(s, key) : NULL;
                if (p)
                    drop_pending(s, p);
                free(key);
            }
            put_raw(&io->to_server, msg, len);
        } else if (id && (json_object_get(m, "result") || json_object_get(m, "error")))
            put_raw(&io->to_server, msg, len); /* the answer to a server's request */
        else
            invalid(io, id, "neither a request, a notification nor a response");
    }
    json_decref(m);
}

/* ---- server messages ------------------------------------------------------------------ */

void ag__mcp_from_server(struct ag__mcp_session *s, const char *msg, size_t len,
                         struct ag__mcp_io *io)
{
    json_t *m = json_loadb(msg, len, 0, NULL);
    if (!json_is_object(m)) {
        /* Not JSON-RPC: nothing here can be checked (a secret in it could not be
         * redacted), so the client does not see it. */
        report(s,
               "agentgov mcp: server '%s' sent a line that is not a JSON object (%zu bytes): "
               "dropped",
               s->o.server, len);
        json_decref(m);
        return;
    }
    json_t *id = json_object_get(m, "id");
    struct ag__mcp_pending *p = NULL;
    if (id && !json_object_get(m, "method")) {
        char *key = id_key(id);
        p = key ? find_pending(s, key) : NULL;
        free(key);
    }
    int changed = 0;
    if (p && p->kind == AG__MCP_TOOLS_LIST)
        changed = ag__mcp_tools_list(s, m);
    else if (p && p->kind == AG__MCP_TOOLS_CALL)
        changed = ag__mcp_redact(s, m, p->tool);
    else if (p && p->kind == AG__MCP_INITIALIZE)
        changed = ag__mcp_pins_initialize(s, m);
    if (changed)
        put_line(&io->to_client, m);
    else
        put_raw(&io->to_client, msg, len);
    if (p)
        drop_pending(s, p);
    json_decref(m);
}

void ag__mcp_server_gone(struct ag__mcp_session *s, const char *why, struct ag__mcp_io *io)
{
    while (s->npending) {
        json_t *id = json_loads(s->pending[0].key, JSON_DECODE_ANY, NULL);
        ag__mcp_error(&io->to_client, id, AG__MCP_SERVER_GONE, why, NULL);
        json_decref(id);
        drop_pending(s, &s->pending[0]);
    }
}

void ag__mcp_request_failed(struct ag__mcp_session *s, const char *msg, size_t len, const char *why,
                            struct ag__mcp_io *io)
{
    json_t *m = json_loadb(msg, len, 0, NULL);
    json_t *id = json_object_get(m, "id");
    char *key = id && json_object_get(m, "method") ? id_key(id) : NULL;
    struct ag__mcp_pending *p = key ? find_pending(s, key) : NULL;
    if (p) {
        ag__mcp_error(&io->to_client, id, AG__MCP_SERVER_GONE, why, NULL);
        drop_pending(s, p);
    }
    free(key);
    json_decref(m);
}
