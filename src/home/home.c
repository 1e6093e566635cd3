/* The data directory and what opens from it: see agentgov/home.h. */
#include "agentgov/home.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "ledger/keys.h"
#include "policy/path.h"

static const char *const file_names[AG_HOME_NFILES] = {
#define AG__HOME_FILE_NAME(id, name, what) name,
    AG_HOME_FILES(AG__HOME_FILE_NAME)
#undef AG__HOME_FILE_NAME
};

/* One allocation: the struct, then its strings (the directory, the file paths, the
 * flags), so that a hook, which opens a home per event, pays for a few hundred bytes. */
struct ag_home {
    const char *dir;
    const char *paths[AG_HOME_NFILES];
    const char *store_flag, *policy_flag; /* "" when not given */
    char *store_url;                      /* malloc'd when first resolved */
    char *policy_path;                    /* malloc'd at the first resolution */
    enum ag_home_ledger_mode ledger_mode;
    int retry_store; /* opts->retry_store */
    int create_ledger;
    ag_config *cfg; /* NULL until loaded */
    ag_ledger *ledger;
    ag_store *store;
    ag_policy *policy;
    ag_gov *gov;
    ag_auth *auth;
};

#define POLICY_PATH_CAP (PATH_MAX + 32)

/* Every failure of an open reads as the line a command prints: "<what>: <message>:
 * <detail>". The detail is copied first: it is the buffer being written. */
static ag_err wrap(ag_err err, const char *what)
{
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", ag_last_error());
    if (detail[0])
        return ag__fail(err, "%s: %s: %s", what, ag_strerror(err), detail);
    return ag__fail(err, "%s: %s", what, ag_strerror(err));
}

int ag_home_dir_is_set(const char *dir)
{
    const char *env = getenv("AGENTGOV_DIR");
    return (dir && *dir) || (env && *env);
}

const char *ag_home_default_dir_doc(void)
{
    return "$XDG_DATA_HOME/agentgov when absolute, else $HOME/.local/share/agentgov";
}

ag_err ag_home_resolve_dir(const char *dir, char *buf, size_t len)
{
    const char *env = getenv("AGENTGOV_DIR");
    /* The XDG base directory spec says a relative $XDG_DATA_HOME is to be ignored.
     * Not getpwuid for a missing $HOME: build/agentgov links glibc statically, and NSS
     * modules loaded into a static binary can crash it. A relative or missing $HOME
     * would put the keys and ledger under whatever the current directory is. */
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (dir && *dir)
        n = snprintf(buf, len, "%s", dir);
    else if (env && *env)
        n = snprintf(buf, len, "%s", env);
    else if (xdg && xdg[0] == '/')
        n = snprintf(buf, len, "%s/agentgov", xdg);
    else if (home && home[0] == '/')
        n = snprintf(buf, len, "%s/.local/share/agentgov", home);
    else
        n = -1;
    if (n >= 0 && (size_t)n < len)
        return AG_OK;
    if (dir && *dir)
        return ag__fail(AG_EINVAL, "--dir: path longer than %zu bytes", len - 1);
    return ag__fail(AG_EINVAL, "no data directory: $HOME is unset or not an absolute path (or "
                               "the path is too long); set --dir or $AGENTGOV_DIR");
}

static ag_err load_config(ag_home *h)
{
    if (h->cfg)
        return AG_OK;
    ag_config *cfg;
    ag_err err = ag_config_new(&cfg);
    if (err)
        return wrap(err, "config");
    /* A bad line must not leave the lines above it applied: the whole file is refused. */
    if ((err = ag_config_load_file(cfg, h->paths[AG_HOME_CONFIG], 1))) {
        ag_config_free(cfg);
        return wrap(err, "config");
    }
    h->cfg = cfg;
    return AG_OK;
}

/* Copies s1, and "/s2" when s2 is not empty, into the string area at *at; returns the
 * copy. (memcpy: a hook opens a home per event, and printf would be most of its cost.) */
static const char *put(char **at, const char *s1, const char *s2)
{
    char *start = *at;
    size_t n1 = strlen(s1), n2 = strlen(s2);
    memcpy(start, s1, n1);
    if (n2) {
        start[n1] = '/';
        memcpy(start + n1 + 1, s2, n2);
        n1 += n2 + 1;
    }
    start[n1] = 0;
    *at = start + n1 + 1;
    return start;
}

ag_err ag_home_open(const char *dir, const struct ag_home_opts *opts, ag_home **out)
{
    *out = NULL;
    struct ag_home_opts none = {0};
    if (opts == NULL)
        opts = &none;
    char d[PATH_MAX];
    ag_err err = ag_home_resolve_dir(dir, d, sizeof d);
    if (err)
        return err;
    const char *store = opts->store ? opts->store : "", *policy = opts->policy ? opts->policy : "";
    if (strlen(store) >= PATH_MAX || strlen(policy) >= PATH_MAX)
        return ag__fail(AG_EINVAL, "--%s: path longer than %d bytes",
                        strlen(policy) >= PATH_MAX ? "policy" : "store", PATH_MAX - 1);
    size_t dlen = strlen(d), size = sizeof(ag_home) + dlen + strlen(store) + strlen(policy) + 3;
    for (int i = 0; i < AG_HOME_NFILES; i++)
        size += dlen + strlen(file_names[i]) + 2;
    ag_home *h = calloc(1, size);
    if (h == NULL)
        return ag__fail(AG_ENOMEM, "data directory");
    char *at = (char *)(h + 1);
    h->dir = put(&at, d, "");
    for (int i = 0; i < AG_HOME_NFILES; i++)
        h->paths[i] = put(&at, d, file_names[i]);
    h->store_flag = put(&at, store, "");
    h->policy_flag = put(&at, policy, "");
    h->ledger_mode = opts->ledger;
    h->retry_store = opts->retry_store;
    h->create_ledger = opts->create_ledger;
    if (!opts->lazy_config && (err = load_config(h))) {
        ag_home_free(h);
        return err;
    }
    *out = h;
    return AG_OK;
}

void ag_home_free(ag_home *h)
{
    if (h == NULL)
        return;
    /* Users first: the lifecycle and the auth engine borrow the store, ledger, policy. */
    ag_gov_free(h->gov);
    ag_auth_free(h->auth);
    ag_store_free(h->store);
    ag_policy_free(h->policy);
    ag_ledger_close(h->ledger);
    ag_config_free(h->cfg);
    free(h->store_url);
    free(h->policy_path);
    free(h);
}

const char *ag_home_dir(const ag_home *h)
{
    return h->dir;
}

const char *ag_home_file_name(enum ag_home_file file)
{
    return (int)file < 0 || file >= AG_HOME_NFILES ? NULL : file_names[file];
}

const char *ag_home_path(const ag_home *h, enum ag_home_file file)
{
    if ((int)file < 0 || file >= AG_HOME_NFILES)
        return NULL;
    return h->paths[file];
}

int ag_home_has(const ag_home *h, enum ag_home_file file)
{
    const char *p = ag_home_path(h, file);
    return p && access(p, F_OK) == 0;
}

ag_err ag_home_config(ag_home *h, const ag_config **out)
{
    ag_err err = load_config(h);
    *out = err ? NULL : h->cfg;
    return err;
}

ag_err ag_home_config_into(const ag_home *h, ag_config *dst)
{
    return ag_config_load_file(dst, h->paths[AG_HOME_CONFIG], 1);
}

ag_err ag_home_store_url(ag_home *h, const char **out)
{
    *out = NULL;
    if (h->store_url == NULL) {
        const char *env = getenv("AGENTGOV_STORE");
        const char *url = h->store_flag;
        if (!url[0] && env && *env)
            url = env;
        if (!url[0]) {
            ag_err err = load_config(h);
            if (err)
                return err;
            url = ag_config_str(h->cfg, "store");
        }
        const char *pre = url && url[0] ? "" : "sqlite:";
        const char *rest = url && url[0] ? url : h->paths[AG_HOME_STATE_DB];
        size_t n = strlen(pre) + strlen(rest) + 1;
        if ((h->store_url = malloc(n)) == NULL)
            return ag__fail(AG_ENOMEM, "store URL");
        snprintf(h->store_url, n, "%s%s", pre, rest);
    }
    *out = h->store_url;
    return AG_OK;
}

ag_err ag_home_policy_path(ag_home *h, const char **out)
{
    *out = NULL;
    /* Afresh on each call: a policy.yaml may have appeared since (the daemon's SIGHUP). */
    const char *flag = h->policy_flag[0] ? h->policy_flag : NULL;
    if (flag == NULL) {
        ag_err err = load_config(h);
        if (err)
            return err;
        const char *c = ag_config_str(h->cfg, "policy");
        flag = c && c[0] ? c : NULL;
    }
    if (h->policy_path == NULL && (h->policy_path = malloc(POLICY_PATH_CAP)) == NULL)
        return ag__fail(AG_ENOMEM, "policy path");
    char buf[POLICY_PATH_CAP];
    const char *p = ag__policy_resolve(flag, h->dir, buf, sizeof buf);
    snprintf(h->policy_path, POLICY_PATH_CAP, "%s", p);
    *out = h->policy_path;
    return AG_OK;
}

ag_err ag_home_open_ledger(ag_home *h, enum ag_home_ledger_mode mode, ag_ledger **out)
{
    *out = NULL;
    const char *db = h->paths[AG_HOME_LEDGER_DB];
    struct ag_ledger_opts lo = {0};
    ag_err err;
    if (mode == AG_HOME_LEDGER_HOOK || mode == AG_HOME_LEDGER_HOOK_HELPER) {
        /* Parallel subagents run hooks at the same time: both kinds wait for the writer
         * lock. Both keep the WAL, so that no commit pays for a checkpoint: a one-event
         * process bounds it when it closes, the helper when it is idle (ag_ledger_tidy).
         * The hook's hot path reads no config: only the helper, which stays, signs. */
        lo.busy_timeout_ms = 5000;
        lo.keep_wal = 1;
        if (mode == AG_HOME_LEDGER_HOOK_HELPER) {
            lo.signing_key_path =
                ag_home_has(h, AG_HOME_LEDGER_KEY) ? h->paths[AG_HOME_LEDGER_KEY] : NULL;
            /* The helper must not fail over a config that the hook reports when it
             * reads its settings: the table's default then. */
            lo.checkpoint_every = 1000;
            if (load_config(h) == AG_OK)
                lo.checkpoint_every = (int)ag_config_int(h->cfg, "ledger.checkpoint_every");
            ag_clear_error();
        }
        err = ag_ledger_open(db, &lo, out);
        if (err != AG_OK && lo.signing_key_path) {
            ag_clear_error();
            lo.signing_key_path = NULL;
            err = ag_ledger_open(db, &lo, out);
        }
        return err; /* the hook words its own denial */
    }
    if ((!h->create_ledger || mode == AG_HOME_LEDGER_READ) && access(db, F_OK) != 0)
        return ag__fail(AG_ENOTFOUND, "no ledger at %s (run `agentgov init` first, or pass --dir)",
                        db);
    lo.read_only = mode == AG_HOME_LEDGER_READ;
    if (!lo.read_only) {
        if ((err = load_config(h)))
            return err;
        lo.checkpoint_every = (int)ag_config_int(h->cfg, "ledger.checkpoint_every");
    }
    lo.signing_key_path = ag_home_has(h, AG_HOME_LEDGER_KEY) ? h->paths[AG_HOME_LEDGER_KEY] : NULL;
    lo.hmac_key_path = ag_home_has(h, AG_HOME_LEDGER_HMAC) ? h->paths[AG_HOME_LEDGER_HMAC] : NULL;
    lo.no_close_checkpoint = mode == AG_HOME_LEDGER_COMMAND;
    if ((err = ag_ledger_open(db, &lo, out)))
        return wrap(err, "opening the ledger");
    return AG_OK;
}

ag_err ag_home_ledger(ag_home *h, ag_ledger **out)
{
    ag_err err = AG_OK;
    if (h->ledger == NULL)
        err = ag_home_open_ledger(h, h->ledger_mode, &h->ledger);
    *out = h->ledger;
    return err;
}

ag_err ag_home_store(ag_home *h, ag_store **out)
{
    *out = NULL;
    if (h->store == NULL) {
        const char *url;
        ag_err err = ag_home_store_url(h, &url);
        if (err)
            return err;
        if ((err = ag_store_open_flags(url, h->retry_store ? AG_STORE_OPEN_RETRY : 0, &h->store)))
            return wrap(err, url);
    }
    *out = h->store;
    return AG_OK;
}

ag_err ag_home_policy(ag_home *h, ag_policy **out)
{
    *out = NULL;
    if (h->policy == NULL) {
        const char *path;
        ag_err err = ag_home_policy_path(h, &path);
        if (err)
            return err;
        if ((err = ag_policy_load(path, &h->policy)))
            return wrap(err, "loading the policy");
    }
    *out = h->policy;
    return AG_OK;
}

int ag_home_has_master_key(const ag_home *h)
{
    const char *env = getenv(AG_AUTH_MASTER_KEY_ENV);
    return (env && *env) || ag_home_has(h, AG_HOME_MASTER_KEY);
}

ag_err ag_home_master_key(ag_home *h, uint8_t key[AG_AUTH_KEY_LEN])
{
    return ag_auth_master_key_load(h->paths[AG_HOME_MASTER_KEY], key);
}

ag_err ag_home_auth(ag_home *h, ag_auth **out)
{
    *out = NULL;
    if (h->auth == NULL) {
        ag_ledger *l;
        ag_store *s;
        ag_policy *p;
        ag_err err = ag_home_ledger(h, &l);
        if (!err)
            err = ag_home_policy(h, &p);
        if (!err)
            err = ag_home_store(h, &s);
        if (err)
            return err;
        uint8_t key[AG_AUTH_KEY_LEN];
        if ((err = ag_home_master_key(h, key)))
            return wrap(err, "loading the master key");
        struct ag_auth_opts ao = {.store = s,
                                  .ledger = l,
                                  .policy = p,
                                  .master_key = key,
                                  .master_key_path = h->paths[AG_HOME_MASTER_KEY],
                                  /* A command lives for one request: nothing to cache. */
                                  .cache_ttl_ms = h->ledger_mode == AG_HOME_LEDGER_COMMAND ? -1 : 0,
                                  .lazy_keyring = h->retry_store};
        err = ag_auth_new(&ao, &h->auth);
        sodium_memzero(key, sizeof key);
        if (err)
            return wrap(err, "opening the auth engine");
    }
    *out = h->auth;
    return AG_OK;
}

ag_err ag_home_gov(ag_home *h, ag_gov **out)
{
    *out = NULL;
    if (h->gov == NULL) {
        ag_ledger *l;
        ag_store *s;
        ag_policy *p;
        ag_err err = load_config(h);
        if (!err)
            err = ag_home_ledger(h, &l);
        if (!err)
            err = ag_home_policy(h, &p);
        if (!err)
            err = ag_home_store(h, &s);
        if (err)
            return err;
        /* Credentials are revoked with the agent: without the auth engine a revocation
         * could leave a live token behind, so a master key that is there but unusable
         * is an error. With no key at all no credentials exist here. */
        ag_auth *auth = NULL;
        if (ag_home_has_master_key(h) && (err = ag_home_auth(h, &auth)))
            return err;
        struct ag_gov_opts go;
        ag_gov_opts_from_config(h->cfg, &go);
        if ((err = ag_gov_new(s, l, p, &go, &h->gov)))
            return wrap(err, "opening the lifecycle");
        if (auth)
            ag_gov_set_revoke_hook(h->gov, ag_auth_revoke_agent_hook, auth);
    }
    *out = h->gov;
    return AG_OK;
}

ag_err ag_home_create_ledger_keys(ag_home *h)
{
    return ag__ledger_keygen(h->paths[AG_HOME_LEDGER_KEY], h->paths[AG_HOME_LEDGER_PUB]);
}

ag_err ag_home_create_ledger_hmac(ag_home *h)
{
    return ag__ledger_hmac_keygen(h->paths[AG_HOME_LEDGER_HMAC]);
}

ag_err ag_home_ledger_pubkey(ag_home *h, uint8_t pk[AG_LEDGER_PK_LEN])
{
    return ag__ledger_load_pk(h->paths[AG_HOME_LEDGER_PUB], pk);
}

ag_err ag_home_ledger_hmac(ag_home *h, const char *value, char out[AG_HASH_HEX_LEN])
{
    uint8_t key[AG_LEDGER_HMAC_LEN];
    ag_err err = ag__ledger_load_hmac(h->paths[AG_HOME_LEDGER_HMAC], key);
    if (err == AG_OK)
        ag__hmac_sha256_hex(key, sizeof key, value, strlen(value), out);
    sodium_memzero(key, sizeof key);
    return err;
}
