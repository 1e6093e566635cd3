/* Rate limits per tool (`mcp: rate: {"fs.write_file": 10/min}`): a sliding window of
 * the last calls' times, per tool, for this gateway's agent and server. A call refused
 * by the window counts against the agent's error budget like any denied call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/gov.h"
#include "core/err.h"
#include "core/time.h"
#include "mcp/mcp_int.h"

static struct ag__mcp_window *window(struct ag__mcp_session *s, const struct ag_mcp_tool_conf *tc)
{
    for (size_t i = 0; i < s->nwindows; i++)
        if (strcmp(s->windows[i].tool, tc->tool) == 0)
            return &s->windows[i];
    struct ag__mcp_window *w = realloc(s->windows, (s->nwindows + 1) * sizeof *w);
    if (w == NULL)
        return NULL;
    s->windows = w;
    w = &s->windows[s->nwindows];
    *w = (struct ag__mcp_window){.tool = strdup(tc->tool),
                                 .t = calloc((size_t)tc->rate_count, sizeof *w->t)};
    if (w->tool == NULL || w->t == NULL) {
        free(w->tool);
        free(w->t);
        return NULL;
    }
    s->nwindows++;
    return w;
}

int ag__mcp_rate_take(struct ag__mcp_session *s, const struct ag_mcp_tool_conf *tc,
                      struct ag__mcp_call *c)
{
    struct ag__mcp_window *w = window(s, tc);
    int64_t now = ag__mono_ms();
    if (w == NULL) {
        snprintf(c->why, sizeof c->why, "%s denied: out of memory counting its rate", c->action);
        return 0;
    }
    /* The ring holds the last n call times; the oldest is at head once it is full. */
    while (w->n > 0 && now - w->t[w->head] >= tc->rate_window_ms) {
        w->head = (w->head + 1) % tc->rate_count;
        w->n--;
    }
    if (w->n >= tc->rate_count) {
        char win[32];
        ag__format_duration(tc->rate_window_ms, win, sizeof win);
        snprintf(c->why, sizeof c->why,
                 "%s denied: rate limit of %lld calls per %s reached (mcp.rate %s); try again "
                 "in %lld ms",
                 c->action, (long long)tc->rate_count, win, tc->tool,
                 (long long)(tc->rate_window_ms - (now - w->t[w->head])));
        return 0;
    }
    w->t[(w->head + w->n) % tc->rate_count] = now;
    w->n++;
    return 1;
}

void ag__mcp_rates_free(struct ag__mcp_session *s)
{
    for (size_t i = 0; i < s->nwindows; i++) {
        free(s->windows[i].tool);
        free(s->windows[i].t);
    }
    free(s->windows);
    s->windows = NULL;
    s->nwindows = 0;
}

void ag__mcp_count_error(struct ag__mcp_session *s, const struct ag__mcp_call *c)
{
    ag_gov *g;
    struct ag_transition_result r;
    if (ag_home_gov(s->o.home, &g) != AG_OK ||
        ag_gov_record_error(g, s->o.agent, "mcp_denied", c->why, &r) != AG_OK)
        return; /* the call is refused either way; the budget is the lifecycle's */
}
