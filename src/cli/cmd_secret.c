/* `agentgov secret`: the KV v2 secrets engine (put, get, list, delete, undelete,
 * destroy, metadata) and master-key rotation, shaped like Vault's `vault kv`. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/authctx.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "core/crypto.h"
#include "core/fileio.h"
#include "core/time.h"

#define MAXPOS 130

static void usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov secret SUBCOMMAND PATH [ARGS...]\n\n"
            "  put PATH key=value... [--cas N]     write a new version (key=@FILE reads a\n"
            "                                      file, key=- reads stdin)\n"
            "  get PATH [-version N] [-field F]    read the latest (or a given) version\n"
            "  list [PREFIX]                       names under PREFIX ('dir/' for folders)\n"
            "  delete PATH [-versions N,M]         soft-delete the latest (or given) versions\n"
            "  undelete PATH -versions N,M         undo a soft delete\n"
            "  destroy PATH -versions N,M          remove versions for good\n"
            "  metadata PATH                       versions, times, flags (never values)\n"
            "  rekey [--rotate-data-key] [--new-key-file F]\n"
            "                                      rotate the master key (master.key), and\n"
            "                                      optionally the data key\n\n"
            "PATH: secret/services/dragonfly and services/dragonfly name the same secret.\n"
            "Your token: --token T, $AGENTGOV_TOKEN, --token-file F, else the data\n"
            "directory's root.token. Reads are decided by the policy (secret.read on\n"
            "secret/PATH for your tier) and recorded in the ledger; writes need the root\n"
            "token or a policy rule allowing secret.write. options: --json, --store URL.\n");
    ag__cli_print_exit_statuses(out);
}

/* Parses "1,2,5" into versions (at most max); returns the count or -1. */
static int parse_versions(const char *s, int64_t *out, int max)
{
    char buf[256], *save = NULL;
    int n = 0;
    snprintf(buf, sizeof buf, "%s", s ? s : "");
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        char *end;
        long long v = strtoll(t, &end, 10);
        if (*end || v <= 0 || n == max) {
            ag__cli_error("-versions: '%s' is not a list of version numbers", s);
            return -1;
        }
        out[n++] = v;
    }
    return n;
}

/* Value of key=VALUE: the text, @FILE's contents or stdin's (for "-"). */
static char *read_value(const char *v)
{
    char *data = NULL;
    size_t len = 0;
    if (strcmp(v, "-") == 0 || v[0] == '@') {
        ag_err e = ag__read_file(strcmp(v, "-") == 0 ? "/dev/stdin" : v + 1, 1 << 20, &data, &len);
        if (e) {
            ag__cli_error_ag(e, v);
            return NULL;
        }
        return data;
    }
    return strdup(v);
}

static int do_put(struct ag__cli_auth *c, const struct ag__cli_aopts *o, const char *tok,
                  char **pos, int npos)
{
    if (npos < 3) {
        ag__cli_error("secret put: give PATH and at least one key=value");
        return AG_EXIT_USAGE;
    }
    json_t *data = json_object();
    for (int i = 2; i < npos; i++) {
        char *eq = strchr(pos[i], '=');
        if (!eq || eq == pos[i]) {
            ag__cli_error("secret put: '%s' is not key=value", pos[i]);
            json_decref(data);
            return AG_EXIT_USAGE;
        }
        *eq = '\0';
        char *v = read_value(eq + 1);
        if (!v) {
            json_decref(data);
            return AG_EXIT_USAGE;
        }
        json_object_set_new(data, pos[i], json_string(v));
        sodium_memzero(v, strlen(v));
        free(v);
    }
    char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(data);
    struct ag_secret_version v;
    ag_err e = text ? ag_auth_secret_put(c->auth, tok, pos[1], text, o->cas, &v) : AG_ENOMEM;
    if (text) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    if (e)
        return ag__cli_auth_fail(e, "secret put");
    json_t *m = json_pack("{s:o, s:n, s:s, s:b, s:I}", "created_time", ag__cli_time(v.created_ms),
                          "custom_metadata", "deletion_time", "", "destroyed", 0, "version",
                          (json_int_t)v.version);
    if (o->json)
        ag__cli_print_json(json_pack("{s:o}", "data", m));
    else {
        char path[AG_SECRET_PATH_MAX];
        if (ag_auth_secret_path(pos[1], path) == AG_OK)
            printf("==== Secret Path ====\nsecret/data/%s\n\n", path);
        puts("======= Metadata =======");
        ag__cli_print_table(m);
    }
    return 0;
}

static json_t *version_meta(const struct ag_secret_version *v)
{
    json_t *del = v->deletion_ms ? ag__cli_time(v->deletion_ms) : json_string("");
    return json_pack("{s:o, s:n, s:o, s:b, s:I}", "created_time", ag__cli_time(v->created_ms),
                     "custom_metadata", "deletion_time", del, "destroyed", v->destroyed, "version",
                     (json_int_t)v->version);
}

static int print_field(json_t *data, const char *field)
{
    json_t *v = json_object_get(data, field);
    if (!v) {
        ag__cli_error("secret get: no field '%s'", field);
        return AG_EXIT_USAGE;
    }
    if (json_is_string(v))
        fputs(json_string_value(v), stdout);
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        fputs(s ? s : "", stdout);
        free(s);
    }
    if (isatty(1))
        fputc('\n', stdout);
    return 0;
}

static int do_get(struct ag__cli_auth *c, const struct ag__cli_aopts *o, const char *tok,
                  const char *path)
{
    struct ag_secret s;
    ag_err e = ag_auth_secret_get(c->auth, tok, path, o->version > 0 ? o->version : 0, &s);
    if (e)
        return ag__cli_auth_fail(e, "secret get");
    json_error_t jerr;
    json_t *data = json_loads(s.data_json, 0, &jerr);
    json_t *meta = version_meta(&s.version);
    int rc = 0;
    if (o->field) {
        rc = print_field(data, o->field);
        json_decref(meta);
    } else if (o->json) {
        ag__cli_print_json(json_pack("{s:s, s:s, s:I, s:b, s:{s:O, s:o}}", "request_id", "",
                                     "lease_id", s.lease_id, "lease_duration",
                                     ag__cli_secs(s.lease_duration_ms), "renewable", 0, "data",
                                     "data", data, "metadata", meta));
    } else {
        char canon[AG_SECRET_PATH_MAX];
        if (ag_auth_secret_path(path, canon) == AG_OK)
            printf("==== Secret Path ====\nsecret/data/%s\n\n", canon);
        json_object_set_new(meta, "lease_id", json_string(s.lease_id));
        json_object_set_new(meta, "lease_duration",
                            json_integer(ag__cli_secs(s.lease_duration_ms)));
        puts("======= Metadata =======");
        ag__cli_print_table(meta);
        puts("\n====== Data ======");
        ag__cli_print_table(json_incref(data));
    }
    /* The parsed copy held the values: overwrite them before freeing. */
    const char *k;
    json_t *v;
    json_object_foreach(data, k, v) if (json_is_string(v))
        ag__wipe_const(json_string_value(v), json_string_length(v));
    json_decref(data);
    ag_secret_clear(&s);
    return rc;
}

static int do_list(struct ag__cli_auth *c, const struct ag__cli_aopts *o, const char *tok,
                   const char *prefix)
{
    char **keys = NULL;
    size_t n = 0;
    ag_err e = ag_auth_secret_list(c->auth, tok, prefix ? prefix : "", &keys, &n);
    if (e)
        return ag__cli_auth_fail(e, "secret list");
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(keys[i]));
    ag_auth_strv_free(keys, n);
    if (o->json)
        ag__cli_print_json(json_pack("{s:{s:o}}", "data", "keys", arr));
    else {
        puts("Keys\n----");
        for (size_t i = 0; i < json_array_size(arr); i++)
            puts(json_string_value(json_array_get(arr, i)));
        json_decref(arr);
    }
    return 0;
}

static int do_versions(struct ag__cli_auth *c, const struct ag__cli_aopts *o, const char *tok,
                       const char *verb, const char *path)
{
    int64_t vs[64];
    int n = parse_versions(o->versions, vs, 64);
    if (n < 0)
        return AG_EXIT_USAGE;
    if (n == 0 && strcmp(verb, "delete") != 0) {
        ag__cli_error("secret %s: -versions N,M is required", verb);
        return AG_EXIT_USAGE;
    }
    ag_err e =
        strcmp(verb, "delete") == 0     ? ag_auth_secret_delete(c->auth, tok, path, vs, (size_t)n)
        : strcmp(verb, "undelete") == 0 ? ag_auth_secret_undelete(c->auth, tok, path, vs, (size_t)n)
                                        : ag_auth_secret_destroy(c->auth, tok, path, vs, (size_t)n);
    if (e) {
        char what[32];
        snprintf(what, sizeof what, "secret %s", verb);
        return ag__cli_auth_fail(e, what);
    }
    printf("Success! Data %s at: secret/%s\n",
           strcmp(verb, "delete") == 0     ? "deleted (if it existed)"
           : strcmp(verb, "undelete") == 0 ? "undeleted"
                                           : "destroyed",
           path);
    return 0;
}

static int do_metadata(struct ag__cli_auth *c, const struct ag__cli_aopts *o, const char *tok,
                       const char *path)
{
    struct ag_secret_meta m;
    ag_err e = ag_auth_secret_metadata(c->auth, tok, path, &m);
    if (e)
        return ag__cli_auth_fail(e, "secret metadata");
    json_t *versions = json_object();
    for (size_t i = 0; i < m.nversions; i++) {
        char k[24];
        snprintf(k, sizeof k, "%lld", (long long)m.versions[i].version);
        json_t *v = version_meta(&m.versions[i]);
        json_object_del(v, "version");
        json_object_del(v, "custom_metadata");
        json_object_set_new(versions, k, v);
    }
    json_t *d =
        json_pack("{s:o, s:I, s:I, s:I, s:o, s:o}", "created_time", ag__cli_time(m.created_ms),
                  "current_version", (json_int_t)m.current_version, "max_versions",
                  (json_int_t)m.max_versions, "oldest_version", (json_int_t)m.oldest_version,
                  "updated_time", ag__cli_time(m.updated_ms), "versions", versions);
    ag_secret_meta_clear(&m);
    if (o->json)
        ag__cli_print_json(json_pack("{s:o}", "data", d));
    else
        ag__cli_print_table(d);
    return 0;
}

/* Where persist_key writes the new master key. */
struct persist_ctx {
    const char *path;
};

static ag_err persist_key(void *ctx, const uint8_t key[AG_AUTH_KEY_LEN])
{
    char hex[2 * AG_AUTH_KEY_LEN + 2];
    ag__hex(key, AG_AUTH_KEY_LEN, hex);
    strcat(hex, "\n");
    ag_err e =
        ag__write_file_atomic(((const struct persist_ctx *)ctx)->path, hex, strlen(hex), 0600, 0);
    sodium_memzero(hex, sizeof hex);
    return e;
}

static int do_rekey(struct ag__cli_auth *c, const struct ag__cli_aopts *o)
{
    const char *env = getenv(AG_AUTH_MASTER_KEY_ENV);
    if (env && *env && !o->new_key_file) {
        ag__cli_error("secret rekey: the master key comes from $%s, which this command "
                      "cannot update; pass --new-key-file FILE to receive the new key",
                      AG_AUTH_MASTER_KEY_ENV);
        return AG_EXIT_USAGE;
    }
    const char *file = o->new_key_file ? o->new_key_file : ag__cli_path(AG_HOME_MASTER_KEY);
    uint8_t key[AG_AUTH_KEY_LEN];
    ag__random(key, sizeof key);
    char old_id[AG_AUTH_KEY_ID_BUF], new_id[AG_AUTH_KEY_ID_BUF];
    uint8_t old[AG_AUTH_KEY_LEN];
    ag_auth_master_key_id(key, new_id);
    old_id[0] = '\0';
    if (ag_home_master_key(c->home, old) == AG_OK)
        ag_auth_master_key_id(old, old_id);
    sodium_memzero(old, sizeof old);
    size_t re = 0;
    struct persist_ctx pc = {file};
    ag_err e = ag_auth_rekey(c->auth, key, o->rotate, persist_key, &pc, &re);
    sodium_memzero(key, sizeof key);
    if (e)
        return ag__cli_auth_fail(e, "secret rekey");
    if (o->json)
        ag__cli_print_json(json_pack("{s:{s:s, s:s, s:s, s:b, s:I}}", "data", "old_key_id", old_id,
                                     "new_key_id", new_id, "key_file", file, "rotated_data_key",
                                     o->rotate, "reencrypted", (json_int_t)re));
    else
        printf("Success! Master key rotated (key id %s -> %s), written to %s%s\n", old_id, new_id,
               file, o->rotate ? "; data key rotated" : "");
    if (o->rotate && !o->json)
        printf("%zu stored version%s re-encrypted\n", re, re == 1 ? "" : "s");
    return 0;
}

static const char secret_opts[] =
    "store policy json token token-file version field versions cas rotate-data-key "
    "new-key-file";

int ag__cmd_secret(int argc, char **argv)
{
    if (argc < 2 || ag__cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : 0;
    }
    struct ag__cli_aopts o;
    char *pos[MAXPOS];
    int npos = ag__cli_auth_opts(argc, argv, secret_opts, &o, pos, MAXPOS);
    if (npos < 1) {
        if (npos == 0)
            ag__cli_error("secret: what to do? (see --help)");
        return AG_EXIT_USAGE;
    }
    const char *verb = pos[0];
    static const char *const verbs[] = {"put",      "get",     "list",     "delete",
                                        "undelete", "destroy", "metadata", "rekey"};
    size_t k = 0;
    while (k < sizeof verbs / sizeof *verbs && strcmp(verbs[k], verb) != 0)
        k++;
    if (k == sizeof verbs / sizeof *verbs) {
        ag__cli_error("secret: unknown subcommand '%s' (see --help)", verb);
        return AG_EXIT_USAGE;
    }
    int needs_path = strcmp(verb, "list") != 0 && strcmp(verb, "rekey") != 0;
    if (needs_path && npos < 2) {
        ag__cli_error("secret %s: which PATH?", verb);
        return AG_EXIT_USAGE;
    }
    char tok[AG_TOKEN_BUF] = "";
    if (strcmp(verb, "rekey") != 0 && ag__cli_auth_token(&o, tok) != 0)
        return AG_EXIT_USAGE;
    struct ag__cli_auth c;
    if (ag__cli_auth_open(&c, &o) != 0)
        return AG_EXIT_ERROR;
    int rc;
    if (strcmp(verb, "put") == 0)
        rc = do_put(&c, &o, tok, pos, npos);
    else if (strcmp(verb, "get") == 0)
        rc = do_get(&c, &o, tok, pos[1]);
    else if (strcmp(verb, "list") == 0)
        rc = do_list(&c, &o, tok, npos > 1 ? pos[1] : NULL);
    else if (strcmp(verb, "metadata") == 0)
        rc = do_metadata(&c, &o, tok, pos[1]);
    else if (strcmp(verb, "rekey") == 0)
        rc = do_rekey(&c, &o);
    else
        rc = do_versions(&c, &o, tok, verb, pos[1]);
    ag__cli_auth_close(&c);
    sodium_memzero(tok, sizeof tok);
    return rc;
}
