/* `agentgov auth`: AppRole roles, secret IDs and login, with Vault's response shapes
 * under --json. Administrative subcommands (role, secret-id) need no token: whoever can
 * open the 0700 data directory administers it. */
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
    fprintf(out,
            "usage: agentgov auth SUBCOMMAND [ARGS...]\n\n"
            "AppRole identities: a role binds an agent id to a tier; a secret ID is its\n"
            "password; login exchanges both for a short-lived token.\n\n"
            "  role create NAME [--tier N] [--agent-id ID] [--token-ttl D] [--token-max-ttl D]\n"
            "                   [--token-num-uses N] [--secret-id-ttl D] [--secret-id-num-uses N]\n"
            "                   [--bound-cidrs LIST] [--role-id ID]\n"
            "                              create or update (TTLs default to the tier's)\n"
            "  role read NAME              show a role (data.role_id, TTLs, ...)\n"
            "  role list                   role names\n"
            "  role delete NAME            delete a role and its secret IDs\n"
            "  secret-id create ROLE [--ttl D] [--num-uses N]\n"
            "                              issue a secret ID (shown once)\n"
            "  secret-id list ROLE         accessors of the live secret IDs\n"
            "  secret-id destroy ROLE (--accessor A | --secret-id S)\n"
            "  login --role-id ID --secret-id S [--source-addr IP]\n"
            "                              log in; prints the token once\n\n"
            "options: --json (Vault's response shapes), --store URL, --policy FILE;\n"
            "durations as 90s, 15m, 1h, 2d. A local login's source address is 127.0.0.1.\n"
            "See docs/auth.md.\n");
    ag__cli_print_exit_statuses(out);
}

static json_t *role_json(const struct ag_role *r)
{
    json_t *cidrs = json_array();
    char buf[AG_AUTH_CIDRS_MAX], *save = NULL;
    snprintf(buf, sizeof buf, "%s", r->bound_cidrs);
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        json_array_append_new(cidrs, json_string(t));
    return json_pack(
        "{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "role_name", r->name, "role_id",
        r->role_id, "agent_id", r->agent_id, "tier", r->tier, "token_ttl",
        ag__cli_secs(r->token_ttl_ms), "token_max_ttl", ag__cli_secs(r->token_max_ttl_ms),
        "token_num_uses", (json_int_t)r->token_num_uses, "secret_id_ttl",
        ag__cli_secs(r->secret_id_ttl_ms), "secret_id_num_uses", (json_int_t)r->secret_id_num_uses,
        "bound_cidrs", cidrs, "creation_time", ag__cli_time(r->creation_ms));
}

static void print_data(json_t *data, int as_json)
{
    if (as_json)
        ag__cli_print_json(json_pack("{s:o}", "data", data));
    else
        ag__cli_print_table(data);
}

static int role_create(struct ag__cli_auth *c, const struct ag__cli_aopts *o, const char *name)
{
    struct ag_role r;
    ag_err e = ag_auth_role_read(c->auth, name, &r);
    if (e == AG_ENOTFOUND) {
        memset(&r, 0, sizeof r);
        snprintf(r.name, sizeof r.name, "%s", name);
        r.tier = 0;
    } else if (e)
        return ag__cli_auth_fail(e, "role");
    if (o->tier >= 0)
        r.tier = o->tier;
    if (o->agent_id)
        snprintf(r.agent_id, sizeof r.agent_id, "%s", o->agent_id);
    if (o->role_id)
        snprintf(r.role_id, sizeof r.role_id, "%s", o->role_id);
    if (o->bound_cidrs)
        snprintf(r.bound_cidrs, sizeof r.bound_cidrs, "%s", o->bound_cidrs);
    /* On update without new TTLs after a tier change, re-derive them from the tier. */
    if (o->tier >= 0 && e == AG_OK && o->token_ttl < 0 && o->token_max_ttl < 0)
        r.token_ttl_ms = r.token_max_ttl_ms = 0;
    if (o->token_ttl >= 0)
        r.token_ttl_ms = o->token_ttl;
    if (o->token_max_ttl >= 0)
        r.token_max_ttl_ms = o->token_max_ttl;
    if (o->token_num_uses >= 0)
        r.token_num_uses = o->token_num_uses;
    if (o->secret_id_ttl >= 0)
        r.secret_id_ttl_ms = o->secret_id_ttl;
    if (o->secret_id_num_uses >= 0)
        r.secret_id_num_uses = o->secret_id_num_uses;
    if ((e = ag_auth_role_write(c->auth, &r)))
        return ag__cli_auth_fail(e, "role create");
    if (o->json)
        print_data(role_json(&r), 1);
    else
        printf("Success! Data written to: auth/approle/role/%s\nrole_id: %s\n", r.name, r.role_id);
    return 0;
}

static int cmd_role(struct ag__cli_auth *c, const struct ag__cli_aopts *o, char **pos, int npos)
{
    const char *verb = pos[0];
    if (strcmp(verb, "list") == 0) {
        char **names = NULL;
        size_t n = 0;
        ag_err e = ag_auth_role_list(c->auth, &names, &n);
        if (e)
            return ag__cli_auth_fail(e, "role list");
        json_t *keys = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(keys, json_string(names[i]));
        ag_auth_strv_free(names, n);
        if (o->json)
            print_data(json_pack("{s:o}", "keys", keys), 1);
        else {
            puts("Keys\n----");
            for (size_t i = 0; i < json_array_size(keys); i++)
                puts(json_string_value(json_array_get(keys, i)));
            json_decref(keys);
        }
        return 0;
    }
    if (npos < 2) {
        ag__cli_error("auth role %s: which role? (see --help)", verb);
        return AG_EXIT_USAGE;
    }
    if (strcmp(verb, "create") == 0 || strcmp(verb, "write") == 0)
        return role_create(c, o, pos[1]);
    if (strcmp(verb, "read") == 0) {
        struct ag_role r;
        ag_err e = ag_auth_role_read(c->auth, pos[1], &r);
        if (e)
            return ag__cli_auth_fail(e, "role read");
        print_data(role_json(&r), o->json);
        return 0;
    }
    if (strcmp(verb, "delete") == 0) {
        ag_err e = ag_auth_role_delete(c->auth, pos[1]);
        if (e)
            return ag__cli_auth_fail(e, "role delete");
        printf("Success! Data deleted (if it existed) at: auth/approle/role/%s\n", pos[1]);
        return 0;
    }
    ag__cli_error("auth role: unknown subcommand '%s' (create, read, list, delete)", verb);
    return AG_EXIT_USAGE;
}

static int cmd_secret_id(struct ag__cli_auth *c, const struct ag__cli_aopts *o, char **pos,
                         int npos)
{
    if (npos < 2) {
        ag__cli_error("auth secret-id %s: which role? (see --help)", pos[0]);
        return AG_EXIT_USAGE;
    }
    const char *verb = pos[0], *role = pos[1];
    ag_err e;
    if (strcmp(verb, "create") == 0) {
        char sid[AG_UUID_BUF];
        struct ag_secret_id_info si;
        if ((e = ag_auth_secret_id_create(c->auth, role, o->ttl, o->num_uses, sid, &si)))
            return ag__cli_auth_fail(e, "secret-id create");
        json_t *d =
            json_pack("{s:s, s:s, s:I, s:I, s:o}", "secret_id", sid, "secret_id_accessor",
                      si.accessor, "secret_id_ttl", ag__cli_secs(si.ttl_ms), "secret_id_num_uses",
                      (json_int_t)si.num_uses, "expiration_time", ag__cli_time(si.expire_ms));
        print_data(d, o->json);
        return 0;
    }
    if (strcmp(verb, "list") == 0) {
        struct ag_secret_id_info *items = NULL;
        size_t n = 0;
        if ((e = ag_auth_secret_id_list(c->auth, role, &items, &n)))
            return ag__cli_auth_fail(e, "secret-id list");
        json_t *keys = json_array();
        if (!o->json)
            printf("%-36s  %-24s  %s\n", "Accessor", "Expires", "Uses left");
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(keys, json_string(items[i].accessor));
            if (!o->json) {
                char when[AG_RFC3339_LEN] = "never", uses[24] = "unlimited";
                if (items[i].expire_ms)
                    ag__rfc3339(items[i].expire_ms, when);
                if (items[i].num_uses)
                    snprintf(uses, sizeof uses, "%lld", (long long)items[i].num_uses);
                printf("%-36s  %-24s  %s\n", items[i].accessor, when, uses);
            }
        }
        free(items);
        if (o->json)
            print_data(json_pack("{s:o}", "keys", keys), 1);
        else
            json_decref(keys);
        return 0;
    }
    if (strcmp(verb, "destroy") == 0) {
        if (!o->accessor == !o->secret_id) {
            ag__cli_error("auth secret-id destroy: give exactly one of --accessor, --secret-id");
            return AG_EXIT_USAGE;
        }
        e = o->accessor ? ag_auth_secret_id_destroy_accessor(c->auth, role, o->accessor)
                        : ag_auth_secret_id_destroy(c->auth, role, o->secret_id);
        if (e)
            return ag__cli_auth_fail(e, "secret-id destroy");
        printf("Success! Destroyed the secret ID of role %s\n", role);
        return 0;
    }
    ag__cli_error("auth secret-id: unknown subcommand '%s' (create, list, destroy)", verb);
    return AG_EXIT_USAGE;
}

static int cmd_login(struct ag__cli_auth *c, const struct ag__cli_aopts *o)
{
    if (!o->role_id || !o->secret_id) {
        ag__cli_error("auth login: --role-id and --secret-id are required");
        return AG_EXIT_USAGE;
    }
    char token[AG_TOKEN_BUF];
    struct ag_token_info t;
    ag_err e = ag_auth_login(c->auth, o->role_id, o->secret_id,
                             o->source_addr ? o->source_addr : "127.0.0.1", token, &t);
    if (e)
        return ag__cli_auth_fail(e, "login");
    if (o->json)
        ag__cli_print_json(json_pack("{s:s, s:s, s:I, s:b, s:n, s:o}", "request_id", "", "lease_id",
                                     "", "lease_duration", (json_int_t)0, "renewable", 0, "data",
                                     "auth", ag__cli_auth_block(token, &t)));
    else
        ag__cli_print_auth(token, &t);
    ag_token_info_clear(&t);
    return 0;
}

static const char auth_opts[] = "store policy json tier agent-id token-ttl token-max-ttl "
                                "token-num-uses secret-id-ttl secret-id-num-uses bound-cidrs "
                                "role-id secret-id source-addr ttl num-uses accessor";

int ag__cmd_auth(int argc, char **argv)
{
    if (argc < 2 || ag__cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : 0;
    }
    const char *group = argv[1];
    int is_login = strcmp(group, "login") == 0;
    if (!is_login && strcmp(group, "role") != 0 && strcmp(group, "secret-id") != 0) {
        ag__cli_error("auth: unknown subcommand '%s' (role, secret-id, login)", group);
        return AG_EXIT_USAGE;
    }
    struct ag__cli_aopts o;
    char *pos[4];
    int npos = ag__cli_auth_opts(argc - 1, argv + 1, auth_opts, &o, pos, 4);
    if (npos < 0)
        return AG_EXIT_USAGE;
    if (!is_login && npos < 1) {
        ag__cli_error("auth %s: what to do? (see --help)", group);
        return AG_EXIT_USAGE;
    }
    struct ag__cli_auth c;
    if (ag__cli_auth_open(&c, &o) != 0)
        return AG_EXIT_ERROR;
    int rc = is_login                     ? cmd_login(&c, &o)
             : strcmp(group, "role") == 0 ? cmd_role(&c, &o, pos, npos)
                                          : cmd_secret_id(&c, &o, pos, npos);
    ag__cli_auth_close(&c);
    return rc;
}
