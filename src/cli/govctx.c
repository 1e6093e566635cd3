/* Shared set-up of the governance subcommands: see govctx.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cliutil.h"
#include "cli/govctx.h"

int ag__cli_gov_open(struct ag__cli_gov *c, const char *store_flag, const char *policy_flag)
{
    memset(c, 0, sizeof *c);
    /* The config first (ag__cli_home): a bad one is the caller's to fix (exit 1, as
     * `agentgov config` and the other commands do), not a failure to answer. */
    struct ag_home_opts ho = {.store = store_flag, .policy = policy_flag};
    int rc = ag__cli_home(&ho, &c->home);
    if (rc)
        return rc;
    ag_err e = ag_home_gov(c->home, &c->gov);
    if (e != AG_OK) {
        ag__cli_gov_close(c);
        /* A policy that does not load is a usage error; a store or ledger that does
         * not open, a failure to answer. */
        return ag__cli_home_fail(ag__cli_exit_of(e));
    }
    /* All opened by ag_home_gov: these only lend them. */
    if (ag_home_store(c->home, &c->store) || ag_home_ledger(c->home, &c->ledger) ||
        ag_home_policy(c->home, &c->policy) ||
        (ag_home_has_master_key(c->home) && ag_home_auth(c->home, &c->auth))) {
        ag__cli_gov_close(c);
        return ag__cli_home_fail(AG_EXIT_ERROR);
    }
    return 0;
}

void ag__cli_gov_close(struct ag__cli_gov *c)
{
    ag_home_free(c->home);
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
