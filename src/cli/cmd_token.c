/* `agentgov token`: look up, renew, revoke and create tokens, by value or by accessor,
 * with Vault's response shapes under --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/authctx.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "core/time.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: agentgov token SUBCOMMAND [TOKEN] [OPTIONS]\n\n"
                 "  lookup [TOKEN] [--accessor A]          describe a token (default: your own)\n"
                 "  renew [TOKEN] [--accessor A] [--increment D]\n"
                 "                                         extend its TTL, never past its max TTL\n"
                 "  revoke [TOKEN] [--accessor A]          revoke it, its children and its leases\n"
                 "  create [--tier N] [--policies P,Q] [--ttl D] [--explicit-max-ttl D]\n"
                 "         [--num-uses N] [--agent-id ID] [--renewable]\n"
                 "                                         a child of your token\n\n"
                 "Your token: --token T, else $AGENTGOV_TOKEN, else --token-file F, else the data\n"
                 "directory's root.token. options: --json (Vault's shapes), --store URL.\n");
    ag__cli_print_exit_statuses(out);
}

static json_t *lookup_data(const char *token, const struct ag_token_info *t)
{
    json_t *pol = json_array();
    for (size_t i = 0; i < t->npolicies; i++)
        json_array_append_new(pol, json_string(t->policies[i]));
    json_error_t jerr;
    json_t *meta = t->meta_json ? json_loads(t->meta_json, 0, &jerr) : NULL;
    json_t *d = json_object();
    json_object_set_new(d, "accessor", json_string(t->accessor));
    json_object_set_new(d, "creation_time", json_integer(ag__cli_secs(t->creation_ms)));
    json_object_set_new(d, "creation_ttl", json_integer(ag__cli_secs(t->ttl_ms)));
    json_object_set_new(d, "display_name",
                        json_string(t->role[0] ? t->role : (t->root ? "root" : "token")));
    json_object_set_new(d, "entity_id", json_string(""));
    json_object_set_new(d, "expire_time", ag__cli_time(t->expire_ms));
    json_object_set_new(d, "explicit_max_ttl", json_integer(ag__cli_secs(t->explicit_max_ttl_ms)));
    if (token)
        json_object_set_new(d, "id", json_string(token));
    json_object_set_new(d, "issue_time", ag__cli_time(t->creation_ms));
    json_object_set_new(d, "meta", meta ? meta : json_null());
    json_object_set_new(d, "num_uses", json_integer(t->num_uses));
    json_object_set_new(d, "orphan", json_boolean(!t->parent[0]));
    json_object_set_new(d, "parent", t->parent[0] ? json_string(t->parent) : json_null());
    json_object_set_new(d, "path",
                        json_string(t->role[0] ? "auth/approle/login" : "auth/token/create"));
    json_object_set_new(d, "policies", pol);
    json_object_set_new(d, "renewable", json_boolean(t->renewable));
    json_object_set_new(d, "ttl",
                        json_integer(t->remaining_ms < 0 ? 0 : ag__cli_secs(t->remaining_ms)));
    json_object_set_new(d, "type", json_string("service"));
    json_object_set_new(d, "agent_id", json_string(t->agent_id));
    json_object_set_new(d, "tier", json_integer(t->tier));
    return d;
}

/* Resolves which token the subcommand is about: the positional TOKEN, --accessor, or
 * the caller's own. */
static int target(const struct ag__cli_aopts *o, char **pos, int npos, char tok[AG_TOKEN_BUF])
{
    if (npos > 1) {
        if (o->accessor) {
            ag__cli_error("give a TOKEN or --accessor, not both");
            return -1;
        }
        snprintf(tok, AG_TOKEN_BUF, "%s", strlen(pos[1]) < AG_TOKEN_BUF ? pos[1] : "");
        return 0;
    }
    if (o->accessor) {
        tok[0] = '\0';
        return 0;
    }
    return ag__cli_auth_token(o, tok);
}

static int do_lookup(struct ag__cli_auth *c, const struct ag__cli_aopts *o, const char *tok)
{
    struct ag_token_info t;
    ag_err e = tok[0] ? ag_auth_token_lookup(c->auth, tok, &t)
                      : ag_auth_token_lookup_accessor(c->auth, o->accessor, &t);
    if (e)
        return ag__cli_auth_fail(e, "token lookup");
    json_t *d = lookup_data(tok[0] ? tok : NULL, &t);
    ag_token_info_clear(&t);
    if (o->json)
        ag__cli_print_json(json_pack("{s:s, s:s, s:I, s:b, s:o}", "request_id", "", "lease_id", "",
                                     "lease_duration", (json_int_t)0, "renewable", 0, "data", d));
    else
        ag__cli_print_table(d);
    return 0;
}

static void print_auth(const struct ag__cli_aopts *o, const char *tok, struct ag_token_info *t)
{
    if (o->json)
        ag__cli_print_json(json_pack("{s:s, s:s, s:I, s:b, s:n, s:o}", "request_id", "", "lease_id",
                                     "", "lease_duration", (json_int_t)0, "renewable", 0, "data",
                                     "auth", ag__cli_auth_block(tok, t)));
    else
        ag__cli_print_auth(tok, t);
    ag_token_info_clear(t);
}

static int do_renew(struct ag__cli_auth *c, const struct ag__cli_aopts *o, const char *tok)
{
    struct ag_token_info t;
    int64_t inc = o->increment > 0 ? o->increment : 0;
    ag_err e = tok[0] ? ag_auth_token_renew(c->auth, tok, inc, &t)
                      : ag_auth_token_renew_accessor(c->auth, o->accessor, inc, &t);
    if (e)
        return ag__cli_auth_fail(e, "token renew");
    print_auth(o, NULL, &t);
    return 0;
}

static int do_revoke(struct ag__cli_auth *c, const struct ag__cli_aopts *o, const char *tok)
{
    struct ag_revoke_stats st;
    ag_err e = tok[0] ? ag_auth_token_revoke(c->auth, tok, &st)
                      : ag_auth_token_revoke_accessor(c->auth, o->accessor, &st);
    if (e)
        return ag__cli_auth_fail(e, "token revoke");
    if (o->json)
        ag__cli_print_json(json_pack("{s:{s:I, s:I}}", "data", "revoked_tokens",
                                     (json_int_t)st.tokens, "revoked_leases",
                                     (json_int_t)st.leases));
    else
        printf("Success! Revoked token (%zu token%s, %zu lease%s)\n", st.tokens,
               st.tokens == 1 ? "" : "s", st.leases, st.leases == 1 ? "" : "s");
    return 0;
}

static int do_create(struct ag__cli_auth *c, const struct ag__cli_aopts *o)
{
    char parent[AG_TOKEN_BUF], child[AG_TOKEN_BUF], buf[512], *save = NULL;
    if (ag__cli_auth_token(o, parent) != 0)
        return AG_EXIT_USAGE;
    const char *pols[AG_TOKEN_MAX_POLICIES];
    size_t np = 0;
    snprintf(buf, sizeof buf, "%s", o->policies ? o->policies : "");
    for (char *p = strtok_r(buf, ", ", &save); p && np < AG_TOKEN_MAX_POLICIES;
         p = strtok_r(NULL, ", ", &save))
        pols[np++] = p;
    struct ag_token_req r = {.agent_id = o->agent_id,
                             .tier = o->tier,
                             .policies = np ? pols : NULL,
                             .npolicies = np,
                             .ttl_ms = o->ttl > 0 ? o->ttl : 0,
                             .explicit_max_ttl_ms =
                                 o->explicit_max_ttl > 0 ? o->explicit_max_ttl : 0,
                             .renewable = o->renewable,
                             .num_uses = o->num_uses > 0 ? o->num_uses : 0};
    struct ag_token_info t;
    ag_err e = ag_auth_token_create(c->auth, parent, &r, child, &t);
    if (e)
        return ag__cli_auth_fail(e, "token create");
    print_auth(o, child, &t);
    return 0;
}

static const char token_opts[] =
    "store policy json token token-file accessor increment tier policies ttl "
    "explicit-max-ttl num-uses agent-id renewable";

int ag__cmd_token(int argc, char **argv)
{
    if (argc < 2 || ag__cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : 0;
    }
    struct ag__cli_aopts o;
    char *pos[3];
    int npos = ag__cli_auth_opts(argc, argv, token_opts, &o, pos, 3);
    if (npos < 1) {
        if (npos == 0)
            ag__cli_error("token: what to do? (lookup, renew, revoke, create)");
        return AG_EXIT_USAGE;
    }
    const char *verb = pos[0];
    int create = strcmp(verb, "create") == 0;
    if (!create && strcmp(verb, "lookup") != 0 && strcmp(verb, "renew") != 0 &&
        strcmp(verb, "revoke") != 0) {
        ag__cli_error("token: unknown subcommand '%s' (lookup, renew, revoke, create)", verb);
        return AG_EXIT_USAGE;
    }
    char tok[AG_TOKEN_BUF];
    if (!create && target(&o, pos, npos, tok) != 0)
        return AG_EXIT_USAGE;
    struct ag__cli_auth c;
    if (ag__cli_auth_open(&c, &o) != 0)
        return AG_EXIT_ERROR;
    int rc = create                        ? do_create(&c, &o)
             : strcmp(verb, "lookup") == 0 ? do_lookup(&c, &o, tok)
             : strcmp(verb, "renew") == 0  ? do_renew(&c, &o, tok)
                                           : do_revoke(&c, &o, tok);
    ag__cli_auth_close(&c);
    return rc;
}
