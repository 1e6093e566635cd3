/* libFuzzer target: the MCP gateway's session core, fed what a client or a server could
 * send (src/mcp/session.c, pin.c, redact.c): the first byte says which side, the rest is
 * one message. A data directory on tmpfs (ledger, store) is made once; the policy maps a
 * tool's path argument, limits a rate and redacts a pattern, so those paths run too.
 * Aborts when a line sent either way is not newline-terminated. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/home.h"
#include "core/buf.h"
#include "mcp/session.h"

static ag_home *home;
static char dir[] = "/dev/shm/agentgov-fuzz-mcp-XXXXXX";
static struct ag__mcp_session *sess;
static struct ag__mcp_io io;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The data directory goes when the fuzzer exits. */
static void cleanup(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char path[128];
    if (mkdtemp(dir) == NULL)
        abort();
    atexit(cleanup);
    snprintf(path, sizeof path, "%s/policy.yaml", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    fputs("version: 1\n"
          "mcp:\n"
          "  redact_patterns: ['sk-[a-z]+']\n"
          "  resources: {\"f.write\": path}\n"
          "  rate: {\"f.echo\": 1000/s}\n"
          "rules:\n"
          "  - {effect: allow, actions: ['mcp.f.**'], resources: ['**'], min_tier: 1}\n"
          "  - {effect: ask, actions: [mcp.f.ask], resources: ['**'], min_tier: 1}\n",
          f);
    fclose(f);
    struct ag_home_opts ho = {.policy = path, .ledger = AG_HOME_LEDGER_LONG, .create_ledger = 1};
    struct ag_mcp_opts o = {.server = "f", .tier = 1};
    if (ag_home_open(dir, &ho, &home) != AG_OK)
        abort();
    o.home = home;
    if (ag__mcp_session_new(&o, &sess) != AG_OK)
        abort();
    ag__buf_init(&io.to_client);
    ag__buf_init(&io.to_server);
    static const char init[] = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\"}";
    ag__mcp_from_client(sess, init, sizeof init - 1, &io);
    return 0;
}

static void check(const struct ag_buf *b)
{
    if (b->len && b->data[b->len - 1] != '\n')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *msg = (const char *)data + 1;
    size_t len = size - 1;
    ag__buf_reset(&io.to_client);
    ag__buf_reset(&io.to_server);
    switch (data[0] % 4) {
    case 0:
    case 1:
        ag__mcp_from_client(sess, msg, len, &io);
        break;
    case 2:
        ag__mcp_from_server(sess, msg, len, &io);
        break;
    default:
        ag__mcp_server_gone(sess, "gone", &io);
    }
    check(&io.to_client);
    check(&io.to_server);
    return 0;
}
