/* Today's tools of Claude Code (2.1) and the Codex CLI (0.17x) that take more than a
 * table row in hook.c: the agents' own bookkeeping, sub-agent operations, MCP resource
 * reads, Codex's namespaced tool names and its sandbox escapes. Each adds requests to
 * the event (struct ag__hook_event owns them, as in hook.c). */
#include "hook/hook_tools.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"

/* tool.<name> on the tool's name: what an unknown tool maps to too. */
ag_err ag__hook_map_name(struct ag__hook_event *ev)
{
    char action[256];
    int n = snprintf(action, sizeof action, "tool.%s", ev->tool_name);
    if (n < 0 || (size_t)n >= sizeof action || strchr(ev->tool_name, '.'))
        return ag__fail(AG_EINVAL, "tool_name '%.64s' is not a usable name", ev->tool_name);
    return ag__hook_add_req(ev, action, strdup(ev->tool_name));
}

/* A sub-agent operation on each agent id the field names. An id is a name, not a path:
 * it is recorded as given (the ledger's resource), and one that could read as a path
 * or a glob is refused. */
ag_err ag__hook_map_target(struct ag__hook_event *ev, const char *action, const char *field,
                           json_t *in)
{
    json_t *v = json_object_get(in, field);
    if (v == NULL || json_is_null(v))
        return ag__hook_add_req(ev, action, strdup("new"));
    if (json_is_string(v)) {
        const char *id = json_string_value(v);
        if (!id[0] || strpbrk(id, "/*?[]\\{}") || strlen(id) > 256)
            return ag__fail(AG_EINVAL, "tool_input.%s: '%.64s' is not an agent id", field, id);
        return ag__hook_add_req(ev, action, strdup(id));
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return ag__fail(AG_EINVAL, "tool_input.%s: not an agent id or a list of them", field);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item))
            return ag__fail(AG_EINVAL, "tool_input.%s[%zu]: not an agent id", field, i);
        const char *id = json_string_value(item);
        if (!id[0] || strpbrk(id, "/*?[]\\{}") || strlen(id) > 256)
            return ag__fail(AG_EINVAL, "tool_input.%s[%zu]: '%.64s' is not an agent id", field, i,
                            id);
        ag_err err = ag__hook_add_req(ev, action, strdup(id));
        if (err != AG_OK)
            return err;
    }
    return AG_OK;
}

/* An MCP resource read: mcp.<server>.read on <server>/<uri>. */
ag_err ag__hook_map_mcp_read(struct ag__hook_event *ev, const char *server, json_t *in)
{
    const char *uri = ag__hook_input_str(in, "uri");
    if (!server || !uri)
        return ag__fail(AG_EINVAL, "tool_input: %s needs server and uri", ev->tool_name);
    struct ag_buf action, resource;
    ag__buf_init(&action);
    ag__buf_init(&resource);
    ag__buf_puts(&action, "mcp.");
    ag__hook_segment(&action, server, strlen(server));
    ag__buf_puts(&action, ".read");
    ag__buf_printf(&resource, "%s/%s", server, uri);
    char *a = ag__buf_take(&action);
    ag_err err = a ? ag__hook_add_req(ev, a, ag__buf_take(&resource)) : AG_ENOMEM;
    free(a);
    ag__buf_free(&resource);
    return err;
}

/* Codex names a tool of its sub-agent namespace with the namespace glued on
 * ("multi_agent_v1close_agent"): the name without it, or name itself. */
const char *ag__hook_codex_tool_name(const struct ag__hook_event *ev)
{
    const char *n = ev->tool_name;
    if (ev->dialect != AG_HOOK_CODEX || strncmp(n, "multi_agent_v", 13) != 0)
        return n;
    size_t digits = strspn(n + 13, "0123456789");
    return digits && n[13 + digits] ? n + 13 + digits : n;
}

/* A Codex PermissionRequest is a request to run the call outside Codex's sandbox: it
 * also maps to sandbox.escape on the command line (else the call's first resource). */
ag_err ag__hook_map_escape(struct ag__hook_event *ev)
{
    if (ev->dialect != AG_HOOK_CODEX || ev->kind != AG_HOOK_PERMISSION_REQUEST || ev->nreq == 0)
        return AG_OK;
    /* A command is judged as the whole line the user would be asked about, not as the
     * first request the line maps to. */
    json_t *in = json_object_get((json_t *)ev->doc, "tool_input");
    char *cmd = ag__hook_command_text(json_object_get(in, "command"));
    if (cmd == NULL)
        cmd = ag__hook_command_text(json_object_get(in, "cmd"));
    int text = cmd ? 1 : ev->req[0].text;
    ag_err err = ag__hook_add_req(ev, "sandbox.escape", cmd ? cmd : strdup(ev->req[0].resource));
    if (err == AG_OK) {
        ev->req[ev->nreq - 1].text = text;
        ev->sandbox_escape = 1;
    }
    return err;
}
