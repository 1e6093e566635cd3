/* `agentgov init`: creates a data directory. Initialisation is a list of steps, each
 * naming the files it creates, so that later subsystems (secrets master key, root
 * token) add a row to `steps` and nothing else. Nothing is ever overwritten: if any
 * step's file already exists, init names every existing file and stops before
 * creating anything. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentgov/auth.h"
#include "agentgov/config.h"
#include "agentgov/ledger.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/x509.h"

/* The files a step creates: ids of the data directory's table (agentgov/home.h), which
 * alone spells their names. */
#define STEP_FILES_MAX 2
struct init_step {
    const char *name;
    enum ag_home_file files[STEP_FILES_MAX];
    size_t nfiles;
    ag_err (*fn)(void);
};

static ag_home *home; /* the directory being made */

static ag_err step_ledger_keys(void)
{
    return ag_home_create_ledger_keys(home);
}

static ag_err step_ledger_hmac(void)
{
    return ag_home_create_ledger_hmac(home);
}

/* Creates the database with the schema and a first `system` entry, sealed by a signed
 * checkpoint when the ledger is closed. */
static ag_err step_ledger_db(void)
{
    /* A long-lived holder's close: the first entry is sealed by a checkpoint. */
    ag_ledger *l;
    ag_err err = ag_home_open_ledger(home, AG_HOME_LEDGER_LONG, &l);
    if (err)
        return err;
    struct ag_ledger_entry e = {.kind = "system",
                                .action = "init",
                                .reason = "data directory created",
                                .tier = -1,
                                .confidence = -1,
                                .success = 1};
    err = ag_ledger_append(l, &e, NULL, NULL);
    ag_ledger_close(l);
    return err;
}

/* --tls: a self-signed certificate and its key in the data directory, named in the
 * config file so that `agentgov serve` serves HTTPS. */
static int want_tls;
static char tls_cert_path[PATH_MAX], tls_key_path[PATH_MAX];

static ag_err tls_paths(void)
{
    char abs[PATH_MAX];
    if (!realpath(ag__cli_dir(), abs))
        return ag__fail(AG_EIO, "%s: %s", ag__cli_dir(), strerror(errno));
    if ((size_t)snprintf(tls_cert_path, sizeof tls_cert_path, "%s/tls.crt", abs) >=
            sizeof tls_cert_path ||
        (size_t)snprintf(tls_key_path, sizeof tls_key_path, "%s/tls.key", abs) >=
            sizeof tls_key_path)
        return ag__fail(AG_EINVAL, "%s: path too long", abs);
    return AG_OK;
}

static ag_err step_tls(void)
{
    char *cert, *key;
    ag_err err =
        ag__x509_selfsigned("agentgov", "DNS:localhost,IP:127.0.0.1,IP:::1", 825, &cert, &key);
    if (err)
        return err;
    err = ag__write_file_atomic(tls_key_path, key, strlen(key), 0600, 1);
    if (err == AG_OK)
        err = ag__write_file_atomic(tls_cert_path, cert, strlen(cert), 0644, 1);
    explicit_bzero(key, strlen(key));
    free(key);
    free(cert);
    return err;
}

/* The config file lists every setting, commented out at its default (with --tls, the
 * certificate and key are set). */
static ag_err step_config(void)
{
    size_t n;
    const struct ag_config_def *t = ag_config_table(&n);
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_puts(&b, "# agentgov configuration: `key = value` lines; `agentgov config` shows\n"
                     "# the effective values. Every setting is listed at its default.\n\n");
    for (size_t i = 0; i < n; i++) {
        const char *set = !want_tls                            ? NULL
                          : strcmp(t[i].name, "tls.cert") == 0 ? tls_cert_path
                          : strcmp(t[i].name, "tls.key") == 0  ? tls_key_path
                                                               : NULL;
        if (set)
            ag__buf_printf(&b, "# %s (agentgov init --tls)\n%s = %s\n\n", t[i].help, t[i].name,
                           set);
        else
            ag__buf_printf(&b, "# %s\n# %s = %s\n\n", t[i].help, t[i].name, t[i].def);
    }
    ag_err err = ag__buf_status(&b);
    if (err == AG_OK)
        err = ag__write_file_atomic(ag__cli_path(AG_HOME_CONFIG), b.data, b.len, 0600, 1);
    ag__buf_free(&b);
    return err;
}

/* The secrets master key (0600): it wraps the keyring that holds the data and
 * token-hashing keys (see docs/auth.md). */
static ag_err step_master_key(void)
{
    return ag_auth_master_key_create(ag__cli_path(AG_HOME_MASTER_KEY));
}

/* The root token (tier 4, policy root, no expiry) in root.token (0600): the data
 * directory's owner administers through it. Created in the store that commands use
 * ($AGENTGOV_STORE, else the embedded state.db) and recorded in the ledger. */
static ag_err step_root_token(void)
{
    ag_ledger *l = NULL;
    ag_store *s = NULL;
    ag_auth *a = NULL;
    uint8_t key[AG_AUTH_KEY_LEN];
    char tok[AG_TOKEN_BUF + 1];
    ag_err err = ag_home_ledger(home, &l);
    if (err == AG_OK)
        err = ag_home_store(home, &s);
    if (err == AG_OK)
        err = ag_home_master_key(home, key);
    if (err == AG_OK) {
        /* No policy: the root token needs none, and init must not depend on one. */
        struct ag_auth_opts ao = {.store = s, .ledger = l, .master_key = key};
        err = ag_auth_new(&ao, &a);
        sodium_memzero(key, sizeof key);
    }
    if (err == AG_OK)
        err = ag_auth_root_token_create(a, tok, NULL);
    if (err == AG_OK) {
        strcat(tok, "\n");
        err = ag__write_file_atomic(ag__cli_path(AG_HOME_ROOT_TOKEN), tok, strlen(tok), 0600, 1);
        sodium_memzero(tok, sizeof tok);
    }
    ag_auth_free(a);
    return err;
}

static const struct init_step steps[] = {
    {"ledger signing key pair", {AG_HOME_LEDGER_KEY, AG_HOME_LEDGER_PUB}, 2, step_ledger_keys},
    {"ledger HMAC key", {AG_HOME_LEDGER_HMAC}, 1, step_ledger_hmac},
    {"ledger database", {AG_HOME_LEDGER_DB}, 1, step_ledger_db},
    {"config file", {AG_HOME_CONFIG}, 1, step_config},
    {"secrets master key", {AG_HOME_MASTER_KEY}, 1, step_master_key},
    {"root token", {AG_HOME_ROOT_TOKEN}, 1, step_root_token},
};
#define NSTEPS (sizeof steps / sizeof steps[0])

/* Files that the steps create as a side effect (the embedded store, SQLite's journals,
 * the ledger's checkpoint): a planted one, a symlink above all, would have init write
 * through it, so any of them present is refused like a step's file. Each is a file of
 * the table with a suffix (SQLite's and the ledger's own naming). */
static const struct {
    enum ag_home_file file;
    const char *suffix;
} side_files[] = {{AG_HOME_STATE_DB, ""},      {AG_HOME_STATE_DB, "-wal"},
                  {AG_HOME_STATE_DB, "-shm"},  {AG_HOME_LEDGER_DB, "-wal"},
                  {AG_HOME_LEDGER_DB, "-shm"}, {AG_HOME_LEDGER_DB, ".checkpoint"}};
#define NSIDE (sizeof side_files / sizeof side_files[0])

/* lstat, not access(): a dangling symlink is present, and opening it would create its
 * target wherever it points. */
static int file_present(enum ag_home_file file, const char *suffix)
{
    struct stat st;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s%s", ag__cli_dir(), ag_home_file_name(file), suffix);
    return lstat(path, &st) == 0 || errno != ENOENT;
}

static void list_add(struct ag_buf *b, int *count, enum ag_home_file file, const char *suffix)
{
    ag__buf_printf(b, "%s%s%s", (*count)++ ? ", " : "", ag_home_file_name(file), suffix);
}

/* Lists the files init would create that exist (in have) and the steps' files that do
 * not (in missing); returns how many exist. */
static int existing_files(struct ag_buf *have, struct ag_buf *missing)
{
    int n = 0, m = 0;
    for (size_t i = 0; i < NSTEPS; i++)
        for (size_t j = 0; j < steps[i].nfiles; j++) {
            enum ag_home_file f = steps[i].files[j];
            if (file_present(f, ""))
                list_add(have, &n, f, "");
            else
                list_add(missing, &m, f, "");
        }
    for (size_t i = 0; i < NSIDE; i++)
        if (file_present(side_files[i].file, side_files[i].suffix))
            list_add(have, &n, side_files[i].file, side_files[i].suffix);
    return n;
}

static void usage(FILE *out)
{
#define F(id) ag_home_file_name(AG_HOME_##id)
    fprintf(out,
            "usage: agentgov init [--dir DIR] [--tls]\n\n"
            "Creates the data directory (mode 0700) with the audit ledger (%s), its\n"
            "Ed25519 signing key (%s, 0600) and public key (%s), the HMAC\n"
            "key for sensitive values (%s, 0600), a config file (%s) listing every\n"
            "setting at its default, the secrets master key (%s, 0600) and the\n"
            "root token (%s, 0600; stored in $AGENTGOV_STORE or %s).\n"
            "Refuses to overwrite an existing data directory: any of those files, or of\n"
            "%s, its -wal/-shm, %s-wal/-shm or %s.checkpoint, present\n"
            "(a symlink included) stops it before anything is written. Refuses a\n"
            "directory owned by another user or writable by group or others.\n\n"
            "  --tls       also make a self-signed TLS certificate for localhost, 127.0.0.1\n"
            "              and ::1 (tls.crt, and its key tls.key, 0600; ECDSA P-256, 825\n"
            "              days) and set tls.cert and tls.key in the config: `agentgov\n"
            "              serve` then serves HTTPS; clients trust tls.crt (curl --cacert)\n"
            "  --dir DIR   data directory (else $AGENTGOV_DIR, else %s)\n",
            F(LEDGER_DB), F(LEDGER_KEY), F(LEDGER_PUB), F(LEDGER_HMAC), F(CONFIG), F(MASTER_KEY),
            F(ROOT_TOKEN), F(STATE_DB), F(STATE_DB), F(LEDGER_DB), F(LEDGER_DB),
            ag__cli_default_dir_doc());
#undef F
    ag__cli_print_exit_statuses(out);
}

/* The data directory holds the keys and the ledger: another user who owns it, or may
 * write in it, could swap or plant its files, so both are refused rather than warned
 * about. */
static int dir_is_safe(const char *dir, const struct stat *st)
{
    if (!S_ISDIR(st->st_mode)) {
        ag__cli_error("%s exists and is not a directory", dir);
        return 0;
    }
    if (st->st_uid != geteuid()) {
        ag__cli_error("%s is owned by uid %u, not by you (uid %u); refusing to use it", dir,
                      (unsigned)st->st_uid, (unsigned)geteuid());
        return 0;
    }
    if (st->st_mode & 022) {
        ag__cli_error("%s is writable by other users (mode %03o); refusing to use it "
                      "(chmod 700 it)",
                      dir, (unsigned)(st->st_mode & 0777));
        return 0;
    }
    return 1;
}

static int check_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!dir_is_safe(dir, &st))
            return -1;
        if (st.st_mode & 077)
            ag__cli_warn("%s is readable by other users (mode %03o); 0700 is advised", dir,
                         (unsigned)(st.st_mode & 0777));
        return 0;
    }
    ag_err err = ag__mkdir_p(dir, 0700);
    if (err) {
        ag__cli_error_ag(err, dir);
        return -1;
    }
    /* The umask may have taken bits from 0700, and the directory may have appeared
     * between stat and mkdir: check it again and set the mode init promises. */
    if (stat(dir, &st) == 0 && !dir_is_safe(dir, &st))
        return -1;
    if (chmod(dir, 0700) != 0) {
        ag__cli_error("%s: cannot make it mode 0700: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int ag__cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"tls", no_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    int c;
    want_tls = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        if (c == 'd') {
            ag__cli_set_dir(optarg);
        } else if (c == 't') {
            want_tls = 1;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return AG_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        ag__cli_error("init: unexpected argument '%s'", argv[optind]);
        return AG_EXIT_USAGE;
    }
    const char *dir = ag__cli_dir();
    if (ag__crypto_init() != AG_OK)
        return AG_EXIT_ERROR;
    if (check_dir(dir) != 0)
        return AG_EXIT_USAGE;
    struct ag_buf have, missing;
    ag__buf_init(&have);
    ag__buf_init(&missing);
    int n = existing_files(&have, &missing);
    if (n > 0 && missing.len == 0)
        ag__cli_error("%s is already initialised (%s exist); refusing to overwrite", dir,
                      have.data);
    else if (n > 0)
        ag__cli_error("%s is partly initialised: %s exist%s but %s %s missing; refusing to "
                      "overwrite (move the existing files away, or restore the missing ones)",
                      dir, have.data, n > 1 ? "" : "s", missing.data,
                      strchr(missing.data, ',') ? "are" : "is");
    ag__buf_free(&have);
    ag__buf_free(&missing);
    if (n > 0)
        return AG_EXIT_USAGE;
    /* No config yet: the home starts from the defaults (it reads none that exists). */
    struct ag_home_opts ho = {.ledger = AG_HOME_LEDGER_LONG, .create_ledger = 1};
    if (ag__cli_home(&ho, &home) != 0)
        return AG_EXIT_USAGE;
    if (want_tls) {
        ag_err err = tls_paths();
        if (err == AG_OK)
            err = step_tls();
        if (err) {
            ag__cli_error_ag(err, "TLS certificate");
            ag_home_free(home);
            home = NULL;
            return ag__cli_exit_of(err);
        }
    }
    for (size_t i = 0; i < NSTEPS; i++) {
        ag_err err = steps[i].fn();
        if (err) {
            ag__cli_error_ag(err, steps[i].name);
            ag_home_free(home);
            home = NULL;
            return ag__cli_exit_of(err);
        }
    }
    ag_home_free(home); /* seals the root token's entry with a checkpoint */
    home = NULL;
    printf("initialised %s\n", dir);
    return 0;
}
