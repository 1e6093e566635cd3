/* Shared set-up of the auth, token and secret subcommands: see authctx.h. */
#include "cli/authctx.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "agentgov/store.h"
#include "cli/cliutil.h"
#include "cli/govctx.h"
#include "core/time.h"

enum {
    O_STORE = 1000,
    O_POLICY,
    O_TOKEN,
    O_TOKEN_FILE,
    O_AGENT_ID,
    O_BOUND_CIDRS,
    O_ROLE_ID,
    O_SECRET_ID,
    O_SOURCE_ADDR,
    O_ACCESSOR,
    O_FIELD,
    O_VERSIONS,
    O_NEW_KEY_FILE,
    O_POLICIES,
    O_TOKEN_TTL,
    O_TOKEN_MAX_TTL,
    O_TOKEN_NUM_USES,
    O_SECRET_ID_TTL,
    O_SECRET_ID_NUM_USES,
    O_TTL,
    O_EXPLICIT_MAX_TTL,
    O_NUM_USES,
    O_INCREMENT,
    O_VERSION,
    O_CAS,
    O_TIER,
    O_JSON,
    O_ROTATE,
    O_RENEWABLE,
};

static const struct option longopts[] = {
    {"store", required_argument, NULL, O_STORE},
    {"policy", required_argument, NULL, O_POLICY},
    {"token", required_argument, NULL, O_TOKEN},
    {"token-file", required_argument, NULL, O_TOKEN_FILE},
    {"agent-id", required_argument, NULL, O_AGENT_ID},
    {"bound-cidrs", required_argument, NULL, O_BOUND_CIDRS},
    {"role-id", required_argument, NULL, O_ROLE_ID},
    {"secret-id", required_argument, NULL, O_SECRET_ID},
    {"source-addr", required_argument, NULL, O_SOURCE_ADDR},
    {"accessor", required_argument, NULL, O_ACCESSOR},
    {"field", required_argument, NULL, O_FIELD},
    {"versions", required_argument, NULL, O_VERSIONS},
    {"new-key-file", required_argument, NULL, O_NEW_KEY_FILE},
    {"policies", required_argument, NULL, O_POLICIES},
    {"token-ttl", required_argument, NULL, O_TOKEN_TTL},
    {"token-max-ttl", required_argument, NULL, O_TOKEN_MAX_TTL},
    {"token-num-uses", required_argument, NULL, O_TOKEN_NUM_USES},
    {"secret-id-ttl", required_argument, NULL, O_SECRET_ID_TTL},
    {"secret-id-num-uses", required_argument, NULL, O_SECRET_ID_NUM_USES},
    {"ttl", required_argument, NULL, O_TTL},
    {"explicit-max-ttl", required_argument, NULL, O_EXPLICIT_MAX_TTL},
    {"num-uses", required_argument, NULL, O_NUM_USES},
    {"increment", required_argument, NULL, O_INCREMENT},
    {"version", required_argument, NULL, O_VERSION},
    {"cas", required_argument, NULL, O_CAS},
    {"tier", required_argument, NULL, O_TIER},
    {"json", no_argument, NULL, O_JSON},
    {"rotate-data-key", no_argument, NULL, O_ROTATE},
    {"renewable", no_argument, NULL, O_RENEWABLE},
    {NULL, 0, NULL, 0},
};

static int parse_duration(const char *name, const char *s, int64_t *out)
{
    if (ag__parse_duration(s, out) != AG_OK) {
        ag__cli_error("--%s: '%s' is not a duration (90s, 15m, 1h, 2d)", name, s);
        return -1;
    }
    return 0;
}

static int parse_count(const char *name, const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < 0 || errno) {
        ag__cli_error("--%s: '%s' is not a non-negative integer", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int set_opt(int c, const char *name, void *ctx)
{
    struct ag__cli_aopts *o = ctx;
    const char **str[] = {
        [O_STORE - O_STORE] = &o->store,
        [O_POLICY - O_STORE] = &o->policy,
        [O_TOKEN - O_STORE] = &o->token,
        [O_TOKEN_FILE - O_STORE] = &o->token_file,
        [O_AGENT_ID - O_STORE] = &o->agent_id,
        [O_BOUND_CIDRS - O_STORE] = &o->bound_cidrs,
        [O_ROLE_ID - O_STORE] = &o->role_id,
        [O_SECRET_ID - O_STORE] = &o->secret_id,
        [O_SOURCE_ADDR - O_STORE] = &o->source_addr,
        [O_ACCESSOR - O_STORE] = &o->accessor,
        [O_FIELD - O_STORE] = &o->field,
        [O_VERSIONS - O_STORE] = &o->versions,
        [O_NEW_KEY_FILE - O_STORE] = &o->new_key_file,
        [O_POLICIES - O_STORE] = &o->policies,
    };
    if (c <= O_POLICIES) {
        *str[c - O_STORE] = optarg;
        return 0;
    }
    switch (c) {
    case O_TOKEN_TTL:
        return parse_duration(name, optarg, &o->token_ttl);
    case O_TOKEN_MAX_TTL:
        return parse_duration(name, optarg, &o->token_max_ttl);
    case O_SECRET_ID_TTL:
        return parse_duration(name, optarg, &o->secret_id_ttl);
    case O_TTL:
        return parse_duration(name, optarg, &o->ttl);
    case O_EXPLICIT_MAX_TTL:
        return parse_duration(name, optarg, &o->explicit_max_ttl);
    case O_INCREMENT:
        return parse_duration(name, optarg, &o->increment);
    case O_TOKEN_NUM_USES:
        return parse_count(name, optarg, &o->token_num_uses);
    case O_SECRET_ID_NUM_USES:
        return parse_count(name, optarg, &o->secret_id_num_uses);
    case O_NUM_USES:
        return parse_count(name, optarg, &o->num_uses);
    case O_VERSION:
        return parse_count(name, optarg, &o->version);
    case O_CAS:
        return parse_count(name, optarg, &o->cas);
    case O_TIER: {
        int64_t t;
        if (parse_count(name, optarg, &t) != 0 || t > 4) {
            ag__cli_error("--tier: '%s' is not a tier 0..4", optarg);
            return -1;
        }
        o->tier = (int)t;
        return 0;
    }
    case O_JSON:
        o->json = 1;
        return 0;
    case O_ROTATE:
        o->rotate = 1;
        return 0;
    case O_RENEWABLE:
        o->renewable = 1;
        return 0;
    }
    return -1;
}

int ag__cli_auth_opts(int argc, char **argv, const char *allowed, struct ag__cli_aopts *o,
                      char **pos, int maxpos)
{
    memset(o, 0, sizeof *o);
    o->token_ttl = o->token_max_ttl = o->token_num_uses = o->secret_id_ttl = o->secret_id_num_uses =
        o->ttl = o->explicit_max_ttl = o->num_uses = o->increment = o->version = o->cas = -1;
    o->tier = -1;
    return ag__cli_walk_opts(argc, argv, longopts, 1, allowed, set_opt, o, pos, maxpos);
}

int ag__cli_auth_open(struct ag__cli_auth *c, const struct ag__cli_aopts *o)
{
    memset(c, 0, sizeof *c);
    struct ag_home_opts ho = {.store = o->store, .policy = o->policy};
    if (ag__cli_home(&ho, &c->home) != 0)
        return -1;
    if (ag_home_auth(c->home, &c->auth) || ag_home_store(c->home, &c->store) ||
        ag_home_ledger(c->home, &c->ledger) || ag_home_policy(c->home, &c->policy)) {
        ag__cli_home_fail(AG_EXIT_ERROR);
        ag__cli_auth_close(c);
        return -1;
    }
    return 0;
}

void ag__cli_auth_close(struct ag__cli_auth *c)
{
    ag_home_free(c->home);
    memset(c, 0, sizeof *c);
}

int ag__cli_auth_token(const struct ag__cli_aopts *o, char token[AG_TOKEN_BUF])
{
    const char *env = getenv("AGENTGOV_TOKEN");
    const char *direct = o->token ? o->token : (env && *env ? env : NULL);
    if (direct) {
        if (strlen(direct) >= AG_TOKEN_BUF) {
            ag__cli_error("the token is longer than any agentgov token");
            return -1;
        }
        snprintf(token, AG_TOKEN_BUF, "%s", direct);
        return 0;
    }
    const char *file = o->token_file ? o->token_file : ag__cli_path(AG_HOME_ROOT_TOKEN);
    ag_err e = ag_auth_token_read_file(file, token);
    if (e) {
        if (!o->token_file && e == AG_ENOTFOUND)
            ag__cli_error("no token: pass --token, set AGENTGOV_TOKEN, or --token-file "
                          "(the data directory has no root.token: run `agentgov init`)");
        else
            ag__cli_error_ag(e, file);
        return -1;
    }
    return 0;
}

int ag__cli_auth_fail(ag_err err, const char *what)
{
    const char *d = ag_last_error();
    if (err == AG_EPERM && strncmp(d, "permission denied", 17) == 0)
        ag__cli_error("%s: %s", what, d);
    else
        ag__cli_error_ag(err, what);
    return ag__cli_exit_of(err);
}

void ag__cli_print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

static void value_text(json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_null(v) || !v)
        snprintf(buf, len, "n/a");
    else if (json_is_true(v) || json_is_false(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_array(v)) {
        size_t i, off = 0;
        json_t *e;
        off += (size_t)snprintf(buf, len, "[");
        json_array_foreach(v, i, e)
        {
            char item[256];
            value_text(e, item, sizeof item);
            if (off < len)
                off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", item);
        }
        if (off < len)
            snprintf(buf + off, len - off, "]");
    } else {
        char *s = json_dumps(v, JSON_COMPACT);
        snprintf(buf, len, "%s", s ? s : "?");
        free(s);
    }
}

void ag__cli_print_table(json_t *o)
{
    const char *k;
    json_t *v;
    int w = 3;
    json_object_foreach(o, k, v) if ((int)strlen(k) > w) w = (int)strlen(k);
    printf("%-*s    Value\n%-*s    -----\n", w, "Key", w, "---");
    json_object_foreach(o, k, v)
    {
        char buf[2048];
        value_text(v, buf, sizeof buf);
        printf("%-*s    %s\n", w, k, buf);
    }
    json_decref(o);
}

json_int_t ag__cli_secs(int64_t ms)
{
    return (json_int_t)(ms / 1000);
}

json_t *ag__cli_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[AG_RFC3339_LEN];
    ag__rfc3339(ms, buf);
    return json_string(buf);
}

/* Vault's "auth" block for a token (login, renew). */
json_t *ag__cli_auth_block(const char *token, const struct ag_token_info *t)
{
    json_t *pol = json_array();
    for (size_t i = 0; i < t->npolicies; i++)
        json_array_append_new(pol, json_string(t->policies[i]));
    json_error_t jerr;
    json_t *meta = t->meta_json ? json_loads(t->meta_json, 0, &jerr) : NULL;
    json_t *a = json_object();
    if (token)
        json_object_set_new(a, "client_token", json_string(token));
    json_object_set_new(a, "accessor", json_string(t->accessor));
    json_object_set_new(a, "policies", json_deep_copy(pol));
    json_object_set_new(a, "token_policies", pol);
    json_object_set_new(a, "metadata", meta ? meta : json_null());
    json_object_set_new(a, "lease_duration",
                        json_integer(t->remaining_ms < 0 ? 0 : ag__cli_secs(t->remaining_ms)));
    json_object_set_new(a, "renewable", json_boolean(t->renewable));
    json_object_set_new(a, "entity_id", json_string(""));
    json_object_set_new(a, "token_type", json_string("service"));
    json_object_set_new(a, "orphan", json_boolean(!t->parent[0]));
    json_object_set_new(a, "num_uses", json_integer(t->num_uses));
    json_object_set_new(a, "agent_id", json_string(t->agent_id));
    json_object_set_new(a, "tier", json_integer(t->tier));
    return a;
}

/* The human form of a login or renewal, as Vault prints it. */
void ag__cli_print_auth(const char *token, const struct ag_token_info *t)
{
    char dur[32] = "∞";
    if (t->remaining_ms >= 0)
        ag__format_duration(t->remaining_ms / 1000 * 1000, dur, sizeof dur);
    json_t *pol = json_array();
    for (size_t i = 0; i < t->npolicies; i++)
        json_array_append_new(pol, json_string(t->policies[i]));
    json_t *o = json_object();
    if (token)
        json_object_set_new(o, "token", json_string(token));
    json_object_set_new(o, "token_accessor", json_string(t->accessor));
    json_object_set_new(o, "token_duration", json_string(dur));
    json_object_set_new(o, "token_renewable", json_boolean(t->renewable));
    json_object_set_new(o, "token_policies", json_deep_copy(pol));
    json_object_set_new(o, "policies", pol);
    json_object_set_new(o, "agent_id", json_string(t->agent_id));
    json_object_set_new(o, "tier", json_integer(t->tier));
    json_error_t jerr;
    json_t *meta = t->meta_json ? json_loads(t->meta_json, 0, &jerr) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        char key[160];
        snprintf(key, sizeof key, "token_meta_%s", k);
        json_object_set(o, key, v);
    }
    json_decref(meta);
    ag__cli_print_table(o);
}
