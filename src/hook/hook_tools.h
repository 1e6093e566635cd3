/* Mapping of today's tools (hook_tools.c) and the hook.c helpers it uses. Requests
 * added to an event are owned by the event (ag__hook_event_free releases them). */
#ifndef AG_HOOK_HOOK_TOOLS_H
#define AG_HOOK_HOOK_TOOLS_H

#include <jansson.h>
#include <stddef.h>

#include "agentgov/err.h"
#include "core/buf.h"
#include "hook/hook.h"

/* hook.c: adds a request (resource taken over, NULL: out of memory); a string field of
 * tool_input (a json_t object), NULL when absent or empty; a name copied into an action
 * segment with its dots made '_'. */
AG_MUST_USE ag_err ag__hook_add_req(struct ag__hook_event *ev, const char *action, char *resource);
const char *ag__hook_input_str(json_t *in, const char *key);
void ag__hook_segment(struct ag_buf *b, const char *s, size_t n);
/* A command given as a string, or as an argv array joined with spaces (malloc'd), NULL
 * when v is neither. */
char *ag__hook_command_text(json_t *v);

/* tool.<name> on the tool's name: the agents' own bookkeeping, and unknown tools. */
AG_MUST_USE ag_err ag__hook_map_name(struct ag__hook_event *ev);
/* action on each sub-agent id tool_input.field names (a string or an array of them),
 * "new" when absent; an id that reads as a path or a glob is an error. */
AG_MUST_USE ag_err ag__hook_map_target(struct ag__hook_event *ev, const char *action,
                                       const char *field, json_t *in);
/* mcp.<server>.read on <server>/<uri>. */
AG_MUST_USE ag_err ag__hook_map_mcp_read(struct ag__hook_event *ev, const char *server, json_t *in);
/* The Codex tool name without its sub-agent namespace ("multi_agent_v1close_agent" is
 * close_agent), else the name. */
const char *ag__hook_codex_tool_name(const struct ag__hook_event *ev);
/* A Codex PermissionRequest also maps to sandbox.escape on its command line (else its
 * first resource). */
AG_MUST_USE ag_err ag__hook_map_escape(struct ag__hook_event *ev);

#endif
