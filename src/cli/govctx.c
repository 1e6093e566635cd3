/* Shared set-up of the governance subcommands: see govctx.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cliutil.h"
#include "cli/govctx.h"
#include "policy/path.h"

/* Credentials are revoked with the agent: without the auth engine a revocation could
 * leave a live token behind, so a master key that is there but unusable is an error. */
static int open_auth(struct ag__cli_gov *c)
{
    const char *mk = ag__cli_path("master.key");
    const char *env = getenv(AG_AUTH_MASTER_KEY_ENV);
    if (!(env && *env) && access(mk, F_OK) != 0)
        return 0;
    uint8_t key[AG_AUTH_KEY_LEN];
    ag_err e = ag_auth_master_key_load(mk, key);
    if (!e) {
        struct ag_auth_opts ao = {
            .store = c->store, .ledger = c->ledger, .policy = c->policy, .master_key = key};
        e = ag_auth_new(&ao, &c->auth);
    }
    sodium_memzero(key, sizeof key);
    if (e) {
        ag__cli_error_ag(e, "opening the auth engine (credentials are revoked with agents)");
        ag__cli_gov_close(c);
        return -1;
    }
    ag_gov_set_revoke_hook(c->gov, ag_auth_revoke_agent_hook, c->auth);
    return 0;
}

int ag__cli_gov_open(struct ag__cli_gov *c, const char *store_flag, const char *policy_flag)
{
    memset(c, 0, sizeof *c);
    /* The config first: a bad one is the caller's to fix (exit 1, as `agentgov config`
     * and the other commands do), not a failure to answer. The same TTLs as the runner
     * and the daemon: the CLI used the built-in 24 h state TTL while they used the
     * configuration's 7 days. */
    ag_config *cfg = ag__cli_config();
    if (cfg == NULL)
        return AG_EXIT_USAGE;
    struct ag_gov_opts go;
    ag_gov_opts_from_config(cfg, &go);
    ag_config_free(cfg);
    if (ag__cli_open_ledger(&c->ledger) != 0)
        return AG_EXIT_ERROR;
    ag_err e;
    char buf[4096];
    const char *pol = ag__policy_resolve(policy_flag, ag__cli_dir(), buf, sizeof buf);
    if ((e = ag_policy_load(pol, &c->policy))) {
        ag__cli_error_ag(e, "loading the policy");
        ag__cli_gov_close(c);
        return AG_EXIT_ERROR;
    }
    const char *url = ag__cli_store_url(store_flag);
    if ((e = ag_store_open(url, &c->store))) {
        ag__cli_error_ag(e, url);
        ag__cli_gov_close(c);
        return AG_EXIT_ERROR;
    }
    if ((e = ag_gov_new(c->store, c->ledger, c->policy, &go, &c->gov))) {
        ag__cli_error_ag(e, "governance");
        ag__cli_gov_close(c);
        return AG_EXIT_ERROR;
    }
    return open_auth(c) ? AG_EXIT_ERROR : 0;
}

void ag__cli_gov_close(struct ag__cli_gov *c)
{
    ag_gov_free(c->gov);
    ag_auth_free(c->auth);
    ag_store_free(c->store);
    ag_policy_free(c->policy);
    ag_ledger_close(c->ledger);
    memset(c, 0, sizeof *c);
}

enum {
    O_STORE = 1000,
    O_POLICY,
    O_TIER,
    O_PACKET,
    O_REASON,
    O_TASK,
    O_STEP,
    O_WRITE,
    O_SHA,
    O_AGENT,
    O_OLDER,
    O_CONF,
    O_APPROVE,
    O_JSON,
    O_ARGS,
    O_PENDING,
    O_AS,
    O_APPROVAL,
    O_DEAD
};

static const struct option longopts[] = {
    {"store", required_argument, NULL, O_STORE},
    {"policy", required_argument, NULL, O_POLICY},
    {"tier", required_argument, NULL, O_TIER},
    {"packet", required_argument, NULL, O_PACKET},
    {"reason", required_argument, NULL, O_REASON},
    {"task", required_argument, NULL, O_TASK},
    {"step", required_argument, NULL, O_STEP},
    {"write", required_argument, NULL, O_WRITE},
    {"sha256", required_argument, NULL, O_SHA},
    {"agent", required_argument, NULL, O_AGENT},
    {"older-than", required_argument, NULL, O_OLDER},
    {"confidence", required_argument, NULL, O_CONF},
    {"approve", no_argument, NULL, O_APPROVE},
    {"json", no_argument, NULL, O_JSON},
    {"args", required_argument, NULL, O_ARGS},
    {"pending", no_argument, NULL, O_PENDING},
    {"as", required_argument, NULL, O_AS},
    {"approval", required_argument, NULL, O_APPROVAL},
    {"dead", no_argument, NULL, O_DEAD},
    {NULL, 0, NULL, 0},
};

static int set_gopt(int c, const char *name, void *ctx)
{
    struct ag__cli_gopts *o = ctx;
    (void)name;
    switch (c) {
    case O_STORE:
        o->store = optarg;
        break;
    case O_POLICY:
        o->policy = optarg;
        break;
    case O_PACKET:
        o->packet = optarg;
        break;
    case O_REASON:
        o->reason = optarg;
        break;
    case O_TASK:
        o->task = optarg;
        break;
    case O_STEP:
        o->step = optarg;
        break;
    case O_WRITE:
        o->write = optarg;
        break;
    case O_SHA:
        o->sha256 = optarg;
        break;
    case O_AGENT:
        o->agent = optarg;
        break;
    case O_OLDER:
        o->older_than = optarg;
        break;
    case O_CONF:
        o->confidence = optarg;
        break;
    case O_APPROVE:
        o->approve = 1;
        break;
    case O_JSON:
        o->json = 1;
        break;
    case O_ARGS:
        o->args = optarg;
        break;
    case O_PENDING:
        o->pending = 1;
        break;
    case O_AS:
        o->as = optarg;
        break;
    case O_APPROVAL:
        o->approve_id = optarg;
        break;
    case O_DEAD:
        o->dead = 1;
        break;
    case O_TIER: {
        char *end;
        long t = strtol(optarg, &end, 10);
        if (end == optarg || *end || t < 0 || t > 4) {
            ag__cli_error("--tier: '%s' is not a tier 0..4", optarg);
            return -1;
        }
        o->tier = (int)t;
        break;
    }
    }
    return 0;
}

int ag__cli_gov_opts(int argc, char **argv, const char *allowed, struct ag__cli_gopts *o,
                     char **pos, int maxpos)
{
    memset(o, 0, sizeof *o);
    o->tier = -1;
    return ag__cli_walk_opts(argc, argv, longopts, 0, allowed, set_gopt, o, pos, maxpos);
}
