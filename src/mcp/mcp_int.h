/* The MCP session's state and the parts of its judgement kept in their own files (pins,
 * rates, redaction). Ownership: everything hangs off the session and is released by
 * ag__mcp_session_free; a call's strings point into the message being judged. */
#ifndef AG_MCP_MCP_INT_H
#define AG_MCP_MCP_INT_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>

#include "agentgov/ledger.h"
#include "agentgov/mcp.h"
#include "agentgov/policy.h"
#include "core/buf.h"

enum ag__mcp_kind { AG__MCP_OTHER, AG__MCP_INITIALIZE, AG__MCP_TOOLS_LIST, AG__MCP_TOOLS_CALL };

/* A client request waiting for the server's answer. */
struct ag__mcp_pending {
    char *key; /* the id's compact JSON */
    enum ag__mcp_kind kind;
    char *tool; /* tools/call: the tool, for its result's redaction */
};

struct ag__mcp_session {
    struct ag_mcp_opts o;
    const ag_policy *policy; /* the options' or the home's */
    ag_ledger *ledger;
    int tier;
    enum ag_phase phase;
    int registered, revoked;
    int initialized;
    char *cwd, *homedir;
    struct ag__mcp_pending *pending;
    size_t npending, cap;
    /* pins: the pinned hash of each tool (loaded from the store on the first
     * tools/list), and the tools whose description changed since */
    json_t *pins;
    json_t *changed;   /* object: tool -> new hash */
    int pinning;       /* 1: the store had no pins: this session makes them */
    int list_changed;  /* 1: an approved change showed a tool again: tell the client */
    int64_t next_tick; /* monotonic ms of the next look at the changes' approvals */
    int watching;      /* 1: some change's approval was pending at the last look */
    /* redaction: secret values (longest first) and compiled patterns */
    char **secrets;
    size_t nsecrets;
    void *regexes; /* regex_t[npatterns] */
    size_t nregex;
    int redact_loaded;
    struct ag_approve *approve; /* opened on the first ask */
};

/* One decided request. */
struct ag__mcp_call {
    const char *method;
    const char *tool; /* tools/call: the tool's name */
    char action[320];
    char resource_buf[PATH_MAX];
    const char *resource;
    int path_resource; /* 1: resource is a path in the files' form */
    char args_digest[AG_HASH_HEX_LEN];
    char *args_json;        /* canonical JSON of the arguments (malloc'd), or NULL */
    const char *pre_reason; /* decided before the policy: deny with this reason and why */
    const char *reason;     /* the decision's reason (static) */
    struct ag_decision d;
    char why[1024]; /* what the client is told on a refusal */
};

void ag__mcp_error(struct ag_buf *b, json_t *id, int code, const char *message, json_t *data);
AG_MUST_USE ag_err ag__mcp_agent_refresh(struct ag__mcp_session *s);
/* Decides c (policy, ask, ledger); returns the effect the call gets. */
enum ag_effect ag__mcp_decide(struct ag__mcp_session *s, struct ag__mcp_call *c);
/* Opens s->approve (the approvals module) on first use. */
AG_MUST_USE ag_err ag__mcp_approvals(struct ag__mcp_session *s);
/* Counts a refused tools/call against the agent's error budget, as the lifecycle counts
 * a denied action. */
void ag__mcp_count_error(struct ag__mcp_session *s, const struct ag__mcp_call *c);

/* pin.c: judges a tools/list answer in place (pins on first sight, marks changed
 * tools, removes the changed and the forbidden ones); 1 when m was changed. */
int ag__mcp_tools_list(struct ag__mcp_session *s, json_t *m);
/* 1 when tool changed since it was pinned and may not be called (c->why set): under
 * on_change: deny at once; under on_change: ask once the change's approval is denied,
 * expired or unanswered within mcp.ask_timeout (the call waits for it meanwhile). An
 * approved change is pinned (ledgered) and the call goes on: 0, s->list_changed set. */
int ag__mcp_pin_blocked(struct ag__mcp_session *s, const char *tool, struct ag__mcp_call *c);
void ag__mcp_pins_free(struct ag__mcp_session *s);
/* An initialize answer: under on_change: ask the server's tools capability is said to
 * send listChanged (the gateway sends it when a change is approved); 1 when m changed. */
int ag__mcp_pins_initialize(struct ag__mcp_session *s, json_t *m);

/* rate.c: counts one call in the tool's window (on the store); 0 (c->why set) when it
 * is over the limit or cannot be counted. */
int ag__mcp_rate_take(struct ag__mcp_session *s, const struct ag_mcp_tool_conf *tc,
                      struct ag__mcp_call *c);

/* redact.c: replaces secret values and configured patterns in a tools/call result;
 * 1 when m was changed (the count is ledgered). */
int ag__mcp_redact(struct ag__mcp_session *s, json_t *m, const char *tool);
void ag__mcp_redact_free(struct ag__mcp_session *s);

#endif
