/* Rate limits per tool (`mcp: rate: {"fs.write_file": 10/min}`): a sliding window of
 * the last calls' times, per tool, agent and server. A call refused by the window
 * counts against the agent's error budget like any denied call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/gov.h"
#include "agentgov/store.h"
#include "core/err.h"
#include "core/time.h"
#include "mcp/mcp_int.h"

/* The window lives on the state store, so that every session of the agent with this
 * server shares it: key mcp:rate:<server>:<agent>:<tool>, a list of call times (wall
 * clock ms), newest first, trimmed to count + 1 entries and expiring after a window of
 * quiet. One exec pushes this call and reads the list back, atomically on both
 * backends; the call is over the limit when the count-th older call is still inside
 * the window. A refused attempt stays in the list: a client that keeps retrying stays
 * limited until it pauses. */
int ag__mcp_rate_take(struct ag__mcp_session *s, const struct ag_mcp_tool_conf *tc,
                      struct ag__mcp_call *c)
{
    ag_store *st;
    char key[512], now_s[32];
    int64_t now = ag__wall_ms();
    snprintf(key, sizeof key, "mcp:rate:%s:%s:%s", s->o.server, s->o.agent, tc->tool);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    struct ag_store_op ops[4] = {
        {.op = AG_OP_LPUSH, .key = key, .value = now_s},
        {.op = AG_OP_LTRIM, .key = key, .num = 0, .num2 = tc->rate_count},
        {.op = AG_OP_PEXPIRE, .key = key, .num = tc->rate_window_ms},
        {.op = AG_OP_LRANGE, .key = key, .num = tc->rate_count, .num2 = tc->rate_count},
    };
    struct ag_store_reply rp[4];
    ag_err err = ag_home_store(s->o.home, &st);
    if (err == AG_OK)
        err = ag_store_exec(st, NULL, ops, 4, rp, NULL);
    if (err != AG_OK) {
        snprintf(c->why, sizeof c->why, "%s denied: its rate cannot be counted: %s", c->action,
                 ag_last_error());
        return 0;
    }
    int64_t oldest = -1;
    if (rp[3].type == AG_REPLY_ARRAY && rp[3].nelems == 1 && rp[3].elems[0].str)
        oldest = strtoll(rp[3].elems[0].str, NULL, 10);
    ag_store_reply_free(rp, 4);
    if (oldest >= 0 && now - oldest < tc->rate_window_ms) {
        char win[32];
        ag__format_duration(tc->rate_window_ms, win, sizeof win);
        snprintf(c->why, sizeof c->why,
                 "%s denied: rate limit of %lld calls per %s reached (mcp.rate %s); try again "
                 "in %lld ms",
                 c->action, (long long)tc->rate_count, win, tc->tool,
                 (long long)(tc->rate_window_ms - (now - oldest)));
        return 0;
    }
    return 1;
}

void ag__mcp_count_error(struct ag__mcp_session *s, const struct ag__mcp_call *c)
{
    ag_gov *g;
    struct ag_transition_result r;
    if (ag_home_gov(s->o.home, &g) != AG_OK ||
        ag_gov_record_error(g, s->o.agent, "mcp_denied", c->why, &r) != AG_OK)
        return; /* the call is refused either way; the budget is the lifecycle's */
}
