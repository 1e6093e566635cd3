/* The MCP gateway's session core (src/mcp/session.c, pin.c, rate.c, redact.c) on a real
 * data directory (SQLite ledger and store in a temp dir): what each message of either
 * side turns into. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/approve.h"
#include "agentgov/home.h"
#include "core/buf.h"
#include "core/err.h"
#include "mcp/mcp_int.h"
#include "mcp/session.h"
#include "test.h"

struct fx {
    ag_home *home;
    struct ag__mcp_session *s;
    struct ag__mcp_io io;
};

static const char *INIT = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{}}";

static void fx_open_keys(struct fx *f, const char *policy_yaml, int keys);

static void fx_open(struct fx *f, const char *policy_yaml)
{
    fx_open_keys(f, policy_yaml, 0);
}

/* keys: the ledger's signing key is made first (approvals sign their grants with it). */
static void fx_open_keys(struct fx *f, const char *policy_yaml, int keys)
{
    const char *dir = ag_test_fresh_dir("mcp");
    char path[4200];
    snprintf(path, sizeof path, "%s/policy.yaml", dir);
    FILE *fp = fopen(path, "w");
    ASSERT_TRUE(fp != NULL);
    fputs(policy_yaml, fp);
    fclose(fp);
    struct ag_home_opts ho = {.policy = path, .ledger = AG_HOME_LEDGER_LONG, .create_ledger = 1};
    ASSERT_OK(ag_home_open(dir, &ho, &f->home));
    if (keys)
        ASSERT_OK(ag_home_create_ledger_keys(f->home));
    struct ag_mcp_opts o = {.home = f->home, .server = "t", .tier = 1};
    ASSERT_OK(ag__mcp_session_new(&o, &f->s));
    ag__buf_init(&f->io.to_client);
    ag__buf_init(&f->io.to_server);
    ag__mcp_from_client(f->s, INIT, strlen(INIT), &f->io);
    ASSERT_STREQ(f->io.to_server.data, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
                                       "\"params\":{}}\n");
    ag__buf_reset(&f->io.to_server);
}

static void fx_close(struct fx *f)
{
    ag__mcp_session_free(f->s);
    ag_home_free(f->home);
    ag__buf_free(&f->io.to_client);
    ag__buf_free(&f->io.to_server);
}

static void client(struct fx *f, const char *msg)
{
    ag__buf_reset(&f->io.to_client);
    ag__buf_reset(&f->io.to_server);
    ag__mcp_from_client(f->s, msg, strlen(msg), &f->io);
}

static void server(struct fx *f, const char *msg)
{
    ag__buf_reset(&f->io.to_client);
    ag__buf_reset(&f->io.to_server);
    ag__mcp_from_server(f->s, msg, strlen(msg), &f->io);
}

static const char *out_client(struct fx *f)
{
    return f->io.to_client.data ? f->io.to_client.data : "";
}

static const char *out_server(struct fx *f)
{
    return f->io.to_server.data ? f->io.to_server.data : "";
}

static const char *POLICY = "version: 1\n"
                            "mcp:\n"
                            "  redact_secrets: false\n"
                            "  redact_patterns: ['tok_[a-z]+', 'q*']\n"
                            "rules:\n"
                            "  - {effect: allow, actions: [mcp.t.echo], resources: ['**'], "
                            "min_tier: 1}\n"
                            "  - {effect: allow, actions: [mcp.t.read], resources: ['mem://**'], "
                            "min_tier: 1}\n";

TEST(mcp_allowed_call_passes_byte_for_byte_and_answer_comes_back)
{
    struct fx f;
    fx_open(&f, POLICY);
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"tools/call\",\"params\":"
                       "{\"name\":\"echo\",\"arguments\":{\"x\":1}}}";
    client(&f, call);
    ASSERT_STREQ(out_client(&f), "");
    ASSERT_EQ(strlen(out_server(&f)), strlen(call) + 1);
    ASSERT_TRUE(strncmp(out_server(&f), call, strlen(call)) == 0);
    const char *ans = "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"result\":{\"content\":[]}}";
    server(&f, ans);
    ASSERT_TRUE(strncmp(out_client(&f), ans, strlen(ans)) == 0);
    fx_close(&f);
}

TEST(mcp_ids_in_flight_are_unique_until_answered_or_cancelled)
{
    struct fx f;
    fx_open(&f, POLICY);
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}";
    client(&f, ping);
    ASSERT_CONTAINS(out_server(&f), "\"id\":7");
    client(&f, ping);
    ASSERT_STREQ(out_server(&f), "");
    ASSERT_CONTAINS(out_client(&f), "request id 7 is already in use");
    server(&f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}");
    client(&f, ping);
    ASSERT_CONTAINS(out_server(&f), "\"id\":7"); /* answered: free again */
    client(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
               "{\"requestId\":7}}");
    ASSERT_CONTAINS(out_server(&f), "notifications/cancelled");
    client(&f, ping);
    ASSERT_CONTAINS(out_server(&f), "\"id\":7"); /* cancelled: free again */
    fx_close(&f);
}

TEST(mcp_server_requests_and_client_answers_pass)
{
    struct fx f;
    fx_open(&f, POLICY);
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sampling/createMessage\","
                      "\"params\":{}}";
    server(&f, req);
    ASSERT_TRUE(strncmp(out_client(&f), req, strlen(req)) == 0);
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"role\":\"assistant\"}}");
    ASSERT_CONTAINS(out_server(&f), "\"role\":\"assistant\"");
    server(&f, "not json at all");
    ASSERT_STREQ(out_client(&f), ""); /* dropped: it could not be checked */
    fx_close(&f);
}

TEST(mcp_denied_call_never_reaches_the_server)
{
    struct fx f;
    fx_open(&f, POLICY);
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
               "{\"name\":\"rm\",\"arguments\":{}}}");
    ASSERT_STREQ(out_server(&f), "");
    ASSERT_CONTAINS(out_client(&f), "\"id\":3,\"error\":{\"code\":-32001");
    ASSERT_CONTAINS(out_client(&f), "agentgov denied mcp.t.rm on rm at tier 1: default_deny");
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/read\",\"params\":"
               "{\"uri\":\"file:///etc/shadow\"}}");
    ASSERT_STREQ(out_server(&f), ""); /* mcp.t.read on its URI: only mem:// is allowed */
    ASSERT_CONTAINS(out_client(&f), "agentgov denied mcp.t.read on file:///etc/shadow");
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/read\",\"params\":"
               "{\"uri\":\"mem://notes/1\"}}");
    ASSERT_CONTAINS(out_server(&f), "mem://notes/1");
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"prompts/get\",\"params\":{}}");
    ASSERT_CONTAINS(out_client(&f), "prompts/get without its name: denied");
    fx_close(&f);
}

TEST(mcp_deny_as_result_is_an_error_tool_result)
{
    struct fx f;
    fx_open(&f, "version: 1\nmcp: {deny_as: result}\nrules: []\n");
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
               "{\"name\":\"rm\",\"arguments\":{}}}");
    ASSERT_CONTAINS(out_client(&f), "\"result\":{\"content\":[{\"type\":\"text\",\"text\":"
                                    "\"agentgov denied mcp.t.rm");
    ASSERT_CONTAINS(out_client(&f), "\"isError\":true");
    fx_close(&f);
}

TEST(mcp_redaction_patterns_and_empty_matches)
{
    struct fx f;
    fx_open(&f, POLICY);
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
               "{\"name\":\"echo\",\"arguments\":{}}}");
    server(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\","
               "\"text\":\"a tok_secret b qq\"}],\"nested\":{\"k\":[\"tok_x\"]}}}");
    /* 'q*' matches empty strings everywhere: only the non-empty run is replaced. */
    ASSERT_CONTAINS(out_client(&f), "\"text\":\"a [REDACTED] b [REDACTED]\"");
    ASSERT_CONTAINS(out_client(&f), "\"k\":[\"[REDACTED]\"]");
    ASSERT_TRUE(strstr(out_client(&f), "tok_") == NULL);
    fx_close(&f);
}

TEST(mcp_server_gone_answers_every_pending_request)
{
    struct fx f;
    fx_open(&f, POLICY);
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"}");
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    ag__buf_reset(&f.io.to_client);
    ag__mcp_server_gone(f.s, "gone", &f.io);
    ASSERT_CONTAINS(out_client(&f),
                    "\"id\":\"a\",\"error\":{\"code\":-32002,\"message\":\"gone\"}");
    ASSERT_CONTAINS(out_client(&f), "\"id\":2,\"error\":{\"code\":-32002");
    ag__buf_reset(&f.io.to_client);
    ag__mcp_server_gone(f.s, "gone", &f.io);
    ASSERT_STREQ(out_client(&f), ""); /* each answered once */
    fx_close(&f);
}

TEST(mcp_request_failed_answers_that_request_alone)
{
    struct fx f;
    fx_open(&f, POLICY);
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"}");
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    ag__buf_reset(&f.io.to_client);
    static const char failed[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";
    ag__mcp_request_failed(f.s, failed, sizeof failed - 1, "unreachable", &f.io);
    ASSERT_STREQ(out_client(&f),
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32002,\"message\":"
                 "\"unreachable\"}}\n");
    /* Not pending any more (a second failure says nothing); "a" still is. */
    ag__buf_reset(&f.io.to_client);
    ag__mcp_request_failed(f.s, failed, sizeof failed - 1, "unreachable", &f.io);
    ASSERT_STREQ(out_client(&f), "");
    ag__mcp_server_gone(f.s, "gone", &f.io);
    ASSERT_CONTAINS(out_client(&f), "\"id\":\"a\",\"error\"");
    ASSERT_TRUE(strstr(out_client(&f), "\"id\":2") == NULL);
    /* A notification that failed has no answer. */
    ag__buf_reset(&f.io.to_client);
    static const char note[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    ag__mcp_request_failed(f.s, note, sizeof note - 1, "unreachable", &f.io);
    ASSERT_STREQ(out_client(&f), "");
    fx_close(&f);
}

TEST(mcp_session_refuses_a_bad_server_name)
{
    struct ag_mcp_opts o = {.home = NULL, .server = "t", .tier = 1};
    struct ag__mcp_session *s;
    ASSERT_ERR(ag__mcp_session_new(&o, &s), AG_EINVAL);
    ag_home *h;
    ASSERT_OK(ag_home_open(ag_test_fresh_dir("mcpname"), NULL, &h));
    o.home = h;
    o.server = "a.b";
    ASSERT_ERR(ag__mcp_session_new(&o, &s), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "server name 'a.b' may hold only");
    ag_home_free(h);
}

TEST(mcp_ask_without_a_registered_agent_is_a_deny_that_says_why)
{
    struct fx f;
    fx_open(&f, "version: 1\nrules:\n  - {effect: ask, actions: [mcp.t.echo], resources: ['**'], "
                "min_tier: 1}\n");
    client(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
               "{\"name\":\"echo\",\"arguments\":{}}}");
    ASSERT_STREQ(out_server(&f), "");
    ASSERT_CONTAINS(out_client(&f), "mcp.t.echo needs a person's approval, which is asked for a "
                                    "registered agent in a governed run");
    fx_close(&f);
}

/* The one pending approval of the data directory (a tool change of server t). */
static void the_pending_change(struct fx *f, ag_approve **ap, char id[AG_APPROVAL_ID_BUF])
{
    ag_store *st;
    ag_ledger *l;
    ASSERT_OK(ag_home_store(f->home, &st));
    ASSERT_OK(ag_home_ledger(f->home, &l));
    struct ag_approve_opts ao = {.store = st, .ledger = l};
    ASSERT_OK(ag_approve_new(&ao, ap));
    struct ag_approval_filter flt = {.pending_only = 1};
    struct ag_approval *items = NULL;
    size_t n = 0;
    ASSERT_OK(ag_approve_list(*ap, &flt, &items, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(items[0].action, "mcp.t.pin");
    ASSERT_STREQ(items[0].resource, "echo");
    ASSERT_CONTAINS(items[0].args_json, "\"description\":\"v2\"");
    snprintf(id, AG_APPROVAL_ID_BUF, "%s", items[0].id);
    ag_approval_list_free(items, n);
}

static void list_answer(struct fx *f, int id, const char *desc)
{
    char msg[256];
    snprintf(msg, sizeof msg, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\"}", id);
    client(f, msg);
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"tools\":[{\"name\":\"echo\","
             "\"description\":\"%s\",\"inputSchema\":{}}]}}",
             id, desc);
    server(f, msg);
}

static void call_echo(struct fx *f, int id)
{
    char msg[256];
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"echo\",\"arguments\":{}}}",
             id);
    client(f, msg);
}

TEST(mcp_on_change_ask_hides_a_changed_tool_until_a_person_approves_it)
{
    struct fx f;
    fx_open_keys(&f,
                 "version: 1\nmcp: {on_change: ask, ask_timeout: 1s}\nrules:\n"
                 "  - {effect: allow, actions: ['mcp.t.**'], resources: ['**'], min_tier: 1}\n",
                 1);
    list_answer(&f, 1, "v1");
    ASSERT_CONTAINS(out_client(&f), "\"name\":\"echo\""); /* pinned */
    list_answer(&f, 2, "v2");
    ASSERT_CONTAINS(out_client(&f), "\"tools\":[]"); /* changed: hidden, approval asked */
    ag_approve *ap;
    char id[AG_APPROVAL_ID_BUF];
    the_pending_change(&f, &ap, id);
    struct ag_identity who = {.accessor = "cli:0", .entity = "alice", .tier = -1, .admin = 1};
    snprintf(who.via, sizeof who.via, "cli");
    ASSERT_TRUE(ag__mcp_tick(f.s, &f.io) >= 0); /* watching the pending approval */
    ASSERT_OK(ag_approve_decide(ap, id, &who, 1, NULL, NULL));
    ag__buf_reset(&f.io.to_client);
    f.s->next_tick = 0;                      /* the next look is due now, not in a second */
    ASSERT_EQ(ag__mcp_tick(f.s, &f.io), -1); /* pinned: nothing left to watch */
    ASSERT_STREQ(out_client(&f), "{\"jsonrpc\":\"2.0\",\"method\":"
                                 "\"notifications/tools/list_changed\"}\n");
    call_echo(&f, 3);
    ASSERT_CONTAINS(out_server(&f), "\"id\":3"); /* approved: the call goes on */
    server(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[]}}");
    list_answer(&f, 4, "v2");
    ASSERT_CONTAINS(out_client(&f), "\"name\":\"echo\""); /* the new form is the pin */
    char *pins = NULL;
    ASSERT_OK(ag_mcp_pins_get(f.home, "t", &pins));
    ASSERT_TRUE(pins != NULL);
    free(pins);

    list_answer(&f, 5, "v1"); /* back to the old form: a change again, a new approval */
    ASSERT_CONTAINS(out_client(&f), "\"tools\":[]");
    call_echo(&f, 6); /* nobody answers within ask_timeout (1 s), the approval's life: refused */
    ASSERT_STREQ(out_server(&f), "");
    ASSERT_CONTAINS(out_client(&f), "of the change expired");
    call_echo(&f, 7); /* and it stays so */
    ASSERT_STREQ(out_server(&f), "");
    ASSERT_CONTAINS(out_client(&f), "of the change expired");
    ag_approve_free(ap);
    fx_close(&f);
}
