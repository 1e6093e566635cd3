/* The data directory: where it is (--dir, $AGENTGOV_DIR, $XDG_DATA_HOME, $HOME), its
 * configuration, its file layout, and the handles a command opens from it (ledger,
 * state store, policy, lifecycle, auth engine), each opened on first use.
 * Ownership: ag_home owns every handle it opened and every string it returns; the
 * accessors lend them (never free them), and they stay valid until ag_home_free,
 * except ag_home_open_ledger's ledger, which is the caller's to close. */
#ifndef AGENTGOV_HOME_H
#define AGENTGOV_HOME_H

#include <stdint.h>

#include "agentgov/auth.h"
#include "agentgov/config.h"
#include "agentgov/err.h"
#include "agentgov/gov.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "agentgov/store.h"

typedef struct ag_home ag_home;

/* The data directory's files, in one table: X(id, file name, what it holds). */
#define AG_HOME_FILES(X)                                                                           \
    X(CONFIG, "config", "settings, key = value (agentgov config)")                                 \
    X(LEDGER_DB, "ledger.db", "the hash-chained ledger (SQLite)")                                  \
    X(LEDGER_KEY, "ledger.key", "Ed25519 secret key signing the ledger's checkpoints")             \
    X(LEDGER_PUB, "ledger.pub", "its public key, for verification elsewhere")                      \
    X(LEDGER_HMAC, "ledger.hmac", "HMAC key of the ledger's sensitive values")                     \
    X(STATE_DB, "state.db", "the embedded state store (SQLite)")                                   \
    X(MASTER_KEY, "master.key", "master key of the secrets and tokens")                            \
    X(ROOT_TOKEN, "root.token", "the administrator's token")                                       \
    X(POLICY, "policy.yaml", "the directory's policy (else the shipped default)")                  \
    X(HOOK_SOCK, "hook.sock", "the hook helper's socket")                                          \
    X(HOOK_LOCK, "hook.lock", "one hook helper per data directory")                                \
    X(RUNS, "runs", "one directory per `agentgov run`")

enum ag_home_file {
#define AG__HOME_FILE_ENUM(id, name, what) AG_HOME_##id,
    AG_HOME_FILES(AG__HOME_FILE_ENUM)
#undef AG__HOME_FILE_ENUM
        AG_HOME_NFILES
};

/* How the ledger is opened: who holds it and for how long. */
enum ag_home_ledger_mode {
    /* A short-lived command (the default): ledger.db must exist (`agentgov init` makes
     * it); signing and HMAC keys when present; a checkpoint every
     * ledger.checkpoint_every entries, none at close. */
    AG_HOME_LEDGER_COMMAND = 0,
    /* A long-lived holder (the daemon, `agentgov run`): as COMMAND, and a final
     * checkpoint at close. The daemon's ledger is created when missing. */
    AG_HOME_LEDGER_LONG,
    /* One hook event: no signing, keeps the WAL, waits 5 s for the writer lock;
     * created when missing (a hook must record even before `init`). */
    AG_HOME_LEDGER_HOOK,
    /* The hook helper: as HOOK, and signs every ledger.checkpoint_every entries and
     * at close when ledger.key loads (without it when it does not: a key that does not
     * load must not deny what a hook process, which signs nothing, allows). */
    AG_HOME_LEDGER_HOOK_HELPER,
    /* Queries and verification: ledger.db must exist; read only; no config read. */
    AG_HOME_LEDGER_READ,
};

struct ag_home_opts {
    const char *store;  /* --store: beats $AGENTGOV_STORE, then config `store` */
    const char *policy; /* --policy: beats config `policy`, then <dir>/policy.yaml */
    enum ag_home_ledger_mode ledger;
    int create_ledger; /* 1: a missing ledger.db is created, not an error */
    /* 1: the config is read on first use (ag_home_config or what needs it) instead of
     * by ag_home_open: the hook reads it only when its flags leave a setting open. */
    int lazy_config;
    /* 1: a long-lived holder's handles wait for a server that is down instead of
     * failing: the store is opened with AG_STORE_OPEN_RETRY (it connects when the
     * server comes up) and the auth engine with lazy_keyring (its keyring is loaded
     * from the store on first use; until then it fails closed). */
    int retry_store;
};

/* Resolves the data directory without opening anything: dir when non-empty, else
 * $AGENTGOV_DIR, else $XDG_DATA_HOME/agentgov when that is absolute, else
 * $HOME/.local/share/agentgov when $HOME is absolute. AG_EINVAL with the reason when
 * none applies (or the path does not fit len). */
AG_MUST_USE ag_err ag_home_resolve_dir(const char *dir, char *buf, size_t len);
/* 1 if the directory is chosen (dir non-empty or $AGENTGOV_DIR) rather than defaulted. */
int ag_home_dir_is_set(const char *dir);
/* The default directory as --help describes it. Static. */
const char *ag_home_default_dir_doc(void);

/* Resolves the directory (ag_home_resolve_dir) and, unless opts->lazy_config, loads
 * and validates <dir>/config (a missing file is the defaults; a bad line is an error
 * naming file:line, and nothing of the file applies). Opens nothing else. opts may be
 * NULL (all defaults); its strings are copied. */
AG_MUST_USE ag_err ag_home_open(const char *dir, const struct ag_home_opts *opts, ag_home **out);
/* Closes everything the home opened, in dependency order. Accepts NULL and a home any
 * of whose opens failed. */
void ag_home_free(ag_home *h);

/* The data directory, as resolved (not made absolute). */
const char *ag_home_dir(const ag_home *h);
/* The file's name in the directory ("ledger.db"); NULL for an id out of range. */
const char *ag_home_file_name(enum ag_home_file file);
/* <dir>/<name of file>; NULL for an id out of range. */
const char *ag_home_path(const ag_home *h, enum ag_home_file file);
/* 1 when that file exists (a dangling symlink counts: opening it then fails by name). */
int ag_home_has(const ag_home *h, enum ag_home_file file);

/* The configuration (loaded on first use with lazy_config). */
AG_MUST_USE ag_err ag_home_config(ag_home *h, const ag_config **out);
/* Reads <dir>/config over dst, a handle of the caller's that layers more on it (the
 * daemon's --config files and flags). A missing file changes nothing; a bad line is an
 * error naming file:line. */
AG_MUST_USE ag_err ag_home_config_into(const ag_home *h, ag_config *dst);
/* The store URL: opts->store, else $AGENTGOV_STORE, else config `store`, else
 * sqlite:<dir>/state.db. */
AG_MUST_USE ag_err ag_home_store_url(ag_home *h, const char **out);
/* The policy file: opts->policy, else config `policy`, else <dir>/policy.yaml when
 * present, else the shipped default (which may be missing: loading it names it).
 * Resolved afresh on each call: a policy.yaml may have appeared (the daemon's SIGHUP).
 * The string stays valid until the next call or ag_home_free. */
AG_MUST_USE ag_err ag_home_policy_path(ag_home *h, const char **out);

/* The handles, each opened on first use and then kept. On failure the detail is the
 * line a command prints after "error: " (e.g. "loading the policy: parse error:
 * p.yaml:3: ..."), and the next call tries again. */
AG_MUST_USE ag_err ag_home_ledger(ag_home *h, ag_ledger **out);
AG_MUST_USE ag_err ag_home_store(ag_home *h, ag_store **out);
AG_MUST_USE ag_err ag_home_policy(ag_home *h, ag_policy **out);
/* The lifecycle over store, ledger and policy, with TTLs from the config. When a master
 * key is available it also opens the auth engine and plugs its revocation hook in, so
 * that revoking an agent takes its credentials away. */
AG_MUST_USE ag_err ag_home_gov(ag_home *h, ag_gov **out);
/* The auth engine over store, ledger and policy, under the master key
 * ($AGENTGOV_MASTER_KEY, else <dir>/master.key). */
AG_MUST_USE ag_err ag_home_auth(ag_home *h, ag_auth **out);
/* 1 when a master key is set ($AGENTGOV_MASTER_KEY) or <dir>/master.key exists. */
int ag_home_has_master_key(const ag_home *h);
/* Loads the master key (as ag_home_auth does), for a caller that builds its own engine;
 * wipe it after use. */
AG_MUST_USE ag_err ag_home_master_key(ag_home *h, uint8_t key[AG_AUTH_KEY_LEN]);

/* `agentgov init`'s keys: the ledger's Ed25519 signing key pair (ledger.key 0600,
 * ledger.pub) and its HMAC key (ledger.hmac 0600). Never overwrite (AG_EEXIST). */
AG_MUST_USE ag_err ag_home_create_ledger_keys(ag_home *h);
AG_MUST_USE ag_err ag_home_create_ledger_hmac(ag_home *h);
/* The ledger's public key, from ledger.pub. */
AG_MUST_USE ag_err ag_home_ledger_pubkey(ag_home *h, uint8_t pk[AG_LEDGER_PK_LEN]);
/* HMAC-SHA256 hex of value under ledger.hmac (what a sensitive field holds), without
 * opening the ledger. */
AG_MUST_USE ag_err ag_home_ledger_hmac(ag_home *h, const char *value, char out[AG_HASH_HEX_LEN]);

/* A ledger handle of the caller's own (ag_ledger_close it), opened as mode says: for a
 * holder that reopens the file when it is replaced (the hook helper). */
AG_MUST_USE ag_err ag_home_open_ledger(ag_home *h, enum ag_home_ledger_mode mode, ag_ledger **out);

#endif
