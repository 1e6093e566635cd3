/* The policy's `mcp:` section: what the MCP gateway reads from it, and the errors a bad
 * section gets (file:line:col and the problem). */
#include <string.h>

#include "agentgov/policy.h"
#include "core/err.h"
#include "test.h"

static ag_policy *load(const char *yaml)
{
    ag_policy *p = NULL;
    ag_err err = ag_policy_load_string("p.yaml", yaml, strlen(yaml), &p);
    return err == AG_OK ? p : NULL;
}

TEST(mcp_defaults_without_a_section)
{
    ag_policy *p = load("version: 1\nrules: []\n");
    ASSERT_TRUE(p != NULL);
    const struct ag_policy_mcp *m = ag_policy_mcp(p);
    ASSERT_EQ(m->deny_as_result, 0);
    ASSERT_EQ(m->change_ask, 0);
    ASSERT_EQ(m->ask_timeout_ms, 60000);
    ASSERT_EQ(m->redact_secrets, 1);
    ASSERT_EQ(m->ntools, 0);
    ASSERT_TRUE(ag_policy_mcp_tool(p, "fs.write_file") == NULL);
    ag_policy_free(p);
}

TEST(mcp_section_read)
{
    ag_policy *p = load("version: 1\n"
                        "mcp:\n"
                        "  deny_as: result\n"
                        "  on_change: ask\n"
                        "  ask_timeout: 90s\n"
                        "  redact_secrets: false\n"
                        "  redact_patterns: ['sk-[A-Za-z0-9]{8,}', 'AKIA[0-9A-Z]{16}']\n"
                        "  resources: {\"fs.write_file\": path, \"fs.read_text_file\": path}\n"
                        "  rate: {\"fs.write_file\": 10/min, \"mem.read_graph\": 2/s}\n"
                        "rules: []\n");
    ASSERT_TRUE(p != NULL);
    const struct ag_policy_mcp *m = ag_policy_mcp(p);
    ASSERT_EQ(m->deny_as_result, 1);
    ASSERT_EQ(m->change_ask, 1);
    ASSERT_EQ(m->ask_timeout_ms, 90000);
    ASSERT_EQ(m->redact_secrets, 0);
    ASSERT_EQ(m->npatterns, 2);
    ASSERT_STREQ(m->redact_patterns[1], "AKIA[0-9A-Z]{16}");
    ASSERT_EQ(m->ntools, 3);
    const struct ag_mcp_tool_conf *t = ag_policy_mcp_tool(p, "fs.write_file");
    ASSERT_TRUE(t != NULL);
    ASSERT_STREQ(t->resource_arg, "path");
    ASSERT_EQ(t->rate_count, 10);
    ASSERT_EQ(t->rate_window_ms, 60000);
    t = ag_policy_mcp_tool(p, "mem.read_graph");
    ASSERT_TRUE(t != NULL && t->resource_arg == NULL);
    ASSERT_EQ(t->rate_count, 2);
    ASSERT_EQ(t->rate_window_ms, 1000);
    t = ag_policy_mcp_tool(p, "fs.read_text_file");
    ASSERT_TRUE(t != NULL && t->rate_count == 0);
    ag_policy_free(p);
}

static void refused(const char *yaml, const char *want)
{
    ag_policy *p = NULL;
    ag_err err = ag_policy_load_string("p.yaml", yaml, strlen(yaml), &p);
    ASSERT_EQ(err, AG_EPARSE);
    ASSERT_TRUE(p == NULL);
    ASSERT_CONTAINS(ag_last_error(), want);
}

TEST(mcp_section_errors)
{
    refused("version: 1\nmcp:\n  rate: {\"fs.x\": 10/fortnight}\nrules: []\n",
            "p.yaml:3:18: bad rate '10/fortnight'");
    refused("version: 1\nmcp:\n  rate: {\"fs.x\": 0/min}\nrules: []\n", "bad rate '0/min'");
    refused("version: 1\nmcp:\n  resources: {\"write_file\": path}\nrules: []\n",
            "p.yaml:3:15: MCP tool 'write_file' must be written server.tool");
    refused("version: 1\nmcp:\n  deny_as: silently\nrules: []\n",
            "'deny_as' must be error or result, got 'silently'");
    refused("version: 1\nmcp:\n  on_change: ignore\nrules: []\n",
            "'on_change' must be deny or ask");
    refused("version: 1\nmcp:\n  redact_patterns: ['(unclosed']\nrules: []\n",
            "p.yaml:3:21: bad pattern in 'redact_patterns'");
    refused("version: 1\nmcp:\n  pins: yes\nrules: []\n", "unknown key 'pins' in mcp");
    refused("version: 1\nmcp: [1]\nrules: []\n", "wrong type for 'mcp'");
}

TEST(mcp_servers_read)
{
    ag_policy *p = load("version: 1\n"
                        "mcp:\n"
                        "  servers:\n"
                        "    github: {url: 'https://api.example.com/mcp', secret: mcp/github}\n"
                        "    local_1: {url: 'http://127.0.0.1:9/mcp'}\n"
                        "rules: []\n");
    ASSERT_TRUE(p != NULL);
    const struct ag_policy_mcp *m = ag_policy_mcp(p);
    ASSERT_EQ(m->nservers, 2);
    const struct ag_mcp_server_conf *s = ag_policy_mcp_server(p, "github");
    ASSERT_TRUE(s != NULL);
    ASSERT_STREQ(s->url, "https://api.example.com/mcp");
    ASSERT_STREQ(s->secret, "mcp/github");
    s = ag_policy_mcp_server(p, "local_1");
    ASSERT_TRUE(s != NULL && s->secret == NULL);
    ASSERT_STREQ(s->url, "http://127.0.0.1:9/mcp");
    ASSERT_TRUE(ag_policy_mcp_server(p, "absent") == NULL);
    ag_policy_free(p);
}

TEST(mcp_servers_errors)
{
    refused("version: 1\nmcp:\n  servers: {gh: {secret: x}}\nrules: []\n",
            "p.yaml:3:17: MCP server 'gh' needs a url");
    refused("version: 1\nmcp:\n  servers: {gh: {url: 'ftp://x'}}\nrules: []\n",
            "the url of MCP server 'gh' must be http:// or https://");
    refused("version: 1\nmcp:\n  servers: {'g h': {url: 'http://x'}}\nrules: []\n",
            "MCP server name 'g h' may hold only letters, digits, '-' and '_'");
    refused("version: 1\nmcp:\n  servers: {gh: {url: 'http://x', token: y}}\nrules: []\n",
            "unknown key 'token' in gh");
    refused("version: 1\nmcp:\n  servers: [gh]\nrules: []\n", "wrong type for 'servers'");
}
