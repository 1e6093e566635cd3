/* The policy's `mcp:` section: how the MCP gateway judges what the rules decide (the
 * argument that is a tool's resource, rate limits, redaction, pins) and the remote
 * servers the daemon serves at /v1/mcp/<name>. */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "policy/arena.h"
#include "policy/load_int.h"

/* The tool's entry, added on first mention (resources: and rate: name the same tools). */
static struct ag_mcp_tool_conf *mcp_tool(struct lctx *c, const struct ag__ynode *k, size_t cap)
{
    if (!ag__pl_want(c, k, AG__Y_SCALAR, "an MCP tool"))
        return NULL;
    struct ag_policy_mcp *m = &c->p->mcp;
    struct ag_mcp_tool_conf *t = c->p->mcp_tools;
    for (size_t i = 0; i < m->ntools; i++)
        if (strcmp(t[i].tool, k->text) == 0)
            return &t[i];
    if (strchr(k->text, '.') == NULL || k->text[0] == '.') {
        PROBLEM(c, k, "MCP tool '%s' must be written server.tool", k->text);
        return NULL;
    }
    if (m->ntools == cap)
        return NULL;
    t[m->ntools] = (struct ag_mcp_tool_conf){.tool = ag__pl_copy_text(c, k)};
    return &t[m->ntools++];
}

/* `10/min`: a count and a window (s, sec, min, m, h, hour, d, day). */
static void get_rate(struct lctx *c, const struct ag__ynode *n, struct ag_mcp_tool_conf *t)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"s", 1000},     {"sec", 1000},     {"second", 1000}, {"m", 60000},
                 {"min", 60000},  {"minute", 60000}, {"h", 3600000},   {"hour", 3600000},
                 {"d", 86400000}, {"day", 86400000}};
    if (!ag__pl_want(c, n, AG__Y_SCALAR, "rate"))
        return;
    char *end;
    errno = 0;
    long long v = strtoll(n->text, &end, 10);
    if (end != n->text && errno == 0 && v > 0 && v <= 1000000 && *end == '/')
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strcmp(end + 1, units[i].unit) == 0) {
                t->rate_count = v;
                t->rate_window_ms = units[i].ms;
                return;
            }
    PROBLEM(c, n, "bad rate '%s' (expected COUNT/UNIT, e.g. 10/min; units s, min, h, day)",
            n->text);
}

/* servers: {NAME: {url: URL, secret: KV-PATH}}, the daemon's /v1/mcp/NAME routes. */
static void load_mcp_servers(struct lctx *c, const struct ag__ynode *v)
{
    static const char *const keys[] = {"url", "secret", NULL};
    struct ag_mcp_server_conf *sv = ag__arena_alloc(&c->p->arena, (v->n + 1) * sizeof *sv);
    if ((c->p->mcp.servers = sv) == NULL) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct ag__ynode *k = v->items[2 * i], *e = v->items[2 * i + 1], *u, *sec;
        if (!ag__pl_want(c, k, AG__Y_SCALAR, "an MCP server") ||
            !ag__pl_want(c, e, AG__Y_MAP, k->text))
            continue;
        ag__pl_check_keys(c, e, keys, k->text);
        u = ag__yaml_get(e, "url");
        sec = ag__yaml_get(e, "secret");
        if (!k->text[0] || k->text[strspn(k->text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                                                   "TUVWXYZ0123456789-_")])
            PROBLEM(c, k, "MCP server name '%s' may hold only letters, digits, '-' and '_'",
                    k->text);
        else if (u == NULL)
            PROBLEM(c, e, "MCP server '%s' needs a url", k->text);
        else if (ag__pl_want(c, u, AG__Y_SCALAR, "url") && strncmp(u->text, "http://", 7) != 0 &&
                 strncmp(u->text, "https://", 8) != 0)
            PROBLEM(c, u, "the url of MCP server '%s' must be http:// or https://", k->text);
        else if (u->type == AG__Y_SCALAR &&
                 (sec == NULL || ag__pl_want(c, sec, AG__Y_SCALAR, "secret")))
            sv[c->p->mcp.nservers++] =
                (struct ag_mcp_server_conf){ag__pl_copy_text(c, k), ag__pl_copy_text(c, u),
                                            sec ? ag__pl_copy_text(c, sec) : NULL};
    }
}

void ag__pl_load_mcp(struct lctx *c, const struct ag__ynode *v)
{
    static const char *const keys[] = {"deny_as",        "on_change",       "ask_timeout",
                                       "redact_secrets", "redact_patterns", "resources",
                                       "rate",           "servers",         NULL};
    struct ag_policy_mcp *m = &c->p->mcp;
    const struct ag__ynode *n, *res = ag__yaml_get(v, "resources"), *rate = ag__yaml_get(v, "rate");
    ag__pl_check_keys(c, v, keys, "mcp");
    if ((n = ag__yaml_get(v, "servers")) && ag__pl_want(c, n, AG__Y_MAP, "servers"))
        load_mcp_servers(c, n);
    if ((n = ag__yaml_get(v, "deny_as")) && ag__pl_want(c, n, AG__Y_SCALAR, "deny_as")) {
        if (strcmp(n->text, "result") == 0 || strcmp(n->text, "error") == 0)
            m->deny_as_result = n->text[0] == 'r';
        else
            PROBLEM(c, n, "'deny_as' must be error or result, got '%s'", n->text);
    }
    if ((n = ag__yaml_get(v, "on_change")) && ag__pl_want(c, n, AG__Y_SCALAR, "on_change")) {
        if (strcmp(n->text, "deny") == 0 || strcmp(n->text, "ask") == 0)
            m->change_ask = n->text[0] == 'a';
        else
            PROBLEM(c, n, "'on_change' must be deny or ask, got '%s'", n->text);
    }
    if ((n = ag__yaml_get(v, "ask_timeout")))
        (void)ag__pl_get_duration(c, n, "ask_timeout", &m->ask_timeout_ms);
    if ((n = ag__yaml_get(v, "redact_secrets")))
        (void)ag__pl_get_bool(c, n, "redact_secrets", &m->redact_secrets);
    if ((n = ag__yaml_get(v, "redact_patterns")) &&
        ag__pl_want(c, n, AG__Y_SEQ, "redact_patterns") && n->n) {
        const char **pats = ag__arena_alloc(&c->p->arena, n->n * sizeof *pats);
        if (pats == NULL) {
            c->oom = 1;
            return;
        }
        for (size_t i = 0; i < n->n; i++) {
            const struct ag__ynode *e = n->items[i];
            regex_t re;
            if (!ag__pl_want(c, e, AG__Y_SCALAR, "redact_patterns"))
                continue;
            int rc = regcomp(&re, e->text, REG_EXTENDED);
            if (rc != 0) {
                char why[128];
                regerror(rc, &re, why, sizeof why);
                PROBLEM(c, e, "bad pattern in 'redact_patterns': %s", why);
                continue;
            }
            regfree(&re);
            pats[m->npatterns++] = ag__pl_copy_text(c, e);
        }
        m->redact_patterns = pats;
    }
    size_t cap = (res && res->type == AG__Y_MAP ? res->n : 0) +
                 (rate && rate->type == AG__Y_MAP ? rate->n : 0);
    if (cap && (c->p->mcp_tools = ag__arena_alloc(&c->p->arena, cap * sizeof *m->tools)) == NULL) {
        c->oom = 1;
        return;
    }
    m->tools = c->p->mcp_tools;
    if (res && ag__pl_want(c, res, AG__Y_MAP, "resources")) {
        for (size_t i = 0; i < res->n; i++) {
            struct ag_mcp_tool_conf *t = mcp_tool(c, res->items[2 * i], cap);
            if (t && ag__pl_want(c, res->items[2 * i + 1], AG__Y_SCALAR, "resources"))
                t->resource_arg = ag__pl_copy_text(c, res->items[2 * i + 1]);
        }
    }
    if (rate && ag__pl_want(c, rate, AG__Y_MAP, "rate"))
        for (size_t i = 0; i < rate->n; i++) {
            struct ag_mcp_tool_conf *t = mcp_tool(c, rate->items[2 * i], cap);
            if (t)
                get_rate(c, rate->items[2 * i + 1], t);
        }
}
