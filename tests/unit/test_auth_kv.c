/* KV v2 secrets: versions, soft delete, destroy, check-and-set, listing, tier-scoped
 * reads decided by the policy, tamper detection and master-key rotation. */
#include "auth_fixture.h"
#include "core/fileio.h"

static void put(struct afx *f, const char *path, const char *json)
{
    ASSERT_OK(ag_auth_secret_put(f->auth, f->root, path, json, -1, NULL));
}

static void expect_value(struct afx *f, const char *tok, const char *path, int64_t v,
                         const char *json)
{
    struct ag_secret s;
    ASSERT_OK(ag_auth_secret_get(f->auth, tok, path, v, &s));
    ASSERT_STREQ(s.data_json, json);
    ag_secret_clear(&s);
}

AUTH_TEST(versions_delete_undelete_destroy)
{
    struct ag_secret_version v;
    ASSERT_OK(ag_auth_secret_put(fx->auth, fx->root, "secret/services/dragonfly",
                                 "{\"password\": \"one\"}", -1, &v));
    ASSERT_EQ(v.version, 1);
    ASSERT_OK(ag_auth_secret_put(fx->auth, fx->root, "services/dragonfly",
                                 "{\"password\":\"two\",\"user\":\"df\"}", -1, &v));
    ASSERT_EQ(v.version, 2);
    expect_value(fx, fx->root, "services/dragonfly", 0, "{\"password\":\"two\",\"user\":\"df\"}");
    expect_value(fx, fx->root, "secret/services/dragonfly", 1, "{\"password\":\"one\"}");

    /* Check-and-set. */
    ASSERT_ERR(ag_auth_secret_put(fx->auth, fx->root, "services/dragonfly", "{}", 1, NULL),
               AG_ECONFLICT);
    ASSERT_ERR(ag_auth_secret_put(fx->auth, fx->root, "services/dragonfly", "{}", 0, NULL),
               AG_ECONFLICT);
    ASSERT_OK(ag_auth_secret_put(fx->auth, fx->root, "services/new", "{}", 0, NULL));
    ASSERT_ERR(ag_auth_secret_put(fx->auth, fx->root, "services/x", "[1]", -1, NULL), AG_EPARSE);

    /* Soft delete of the latest, undelete, destroy of a version. */
    struct ag_secret s;
    ASSERT_OK(ag_auth_secret_delete(fx->auth, fx->root, "services/dragonfly", NULL, 0));
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "services/dragonfly", 0, &s), AG_ENOTFOUND);
    ASSERT_CONTAINS(ag_last_error(), "deleted");
    expect_value(fx, fx->root, "services/dragonfly", 1, "{\"password\":\"one\"}");
    int64_t two = 2, one = 1;
    ASSERT_OK(ag_auth_secret_undelete(fx->auth, fx->root, "services/dragonfly", &two, 1));
    expect_value(fx, fx->root, "services/dragonfly", 0, "{\"password\":\"two\",\"user\":\"df\"}");
    ASSERT_OK(ag_auth_secret_destroy(fx->auth, fx->root, "services/dragonfly", &one, 1));
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "services/dragonfly", 1, &s), AG_ENOTFOUND);
    ASSERT_CONTAINS(ag_last_error(), "destroyed");
    ASSERT_OK(ag_auth_secret_undelete(fx->auth, fx->root, "services/dragonfly", &one, 1));
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "services/dragonfly", 1, &s), AG_ENOTFOUND);
    char key[128], *val = NULL;
    snprintf(key, sizeof key, "auth:kv:data:services/dragonfly@1");
    ASSERT_OK(ag_store_get(fx->store, key, &val));
    ASSERT_TRUE(val == NULL); /* the ciphertext is gone */

    struct ag_secret_meta m;
    ASSERT_OK(ag_auth_secret_metadata(fx->auth, fx->root, "services/dragonfly", &m));
    ASSERT_EQ(m.current_version, 2);
    ASSERT_EQ(m.max_versions, 10);
    ASSERT_EQ(m.nversions, 2);
    ASSERT_TRUE(m.versions[0].destroyed);
    ASSERT_EQ(m.versions[1].deletion_ms, 0);
    ASSERT_EQ(m.versions[1].created_ms, T0);
    ag_secret_meta_clear(&m);
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "services/none", 0, &s), AG_ENOTFOUND);
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "services/dragonfly", 9, &s), AG_ENOTFOUND);
}

AUTH_TEST(old_versions_beyond_max_versions_are_removed)
{
    char json[64];
    for (int i = 1; i <= 12; i++) {
        snprintf(json, sizeof json, "{\"n\":\"%d\"}", i);
        put(fx, "sandbox/many", json);
    }
    struct ag_secret_meta m;
    ASSERT_OK(ag_auth_secret_metadata(fx->auth, fx->root, "sandbox/many", &m));
    ASSERT_EQ(m.current_version, 12);
    ASSERT_EQ(m.oldest_version, 3);
    ASSERT_EQ(m.nversions, 10);
    ag_secret_meta_clear(&m);
    struct ag_secret s;
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "sandbox/many", 2, &s), AG_ENOTFOUND);
    expect_value(fx, fx->root, "sandbox/many", 3, "{\"n\":\"3\"}");
    char **keys = NULL;
    size_t n = 0;
    ASSERT_OK(ag_store_keys(fx->store, "auth:kv:data:sandbox/many@", &keys, &n));
    ASSERT_EQ(n, 10);
    ag_store_strv_free(keys, n);
}

AUTH_TEST(list_shows_children_and_folders)
{
    put(fx, "services/dragonfly", "{}");
    put(fx, "services/db/main", "{}");
    put(fx, "services/db/replica", "{}");
    put(fx, "services/db-old", "{}");
    put(fx, "sandbox/a", "{}");
    char **keys = NULL;
    size_t n = 0;
    ASSERT_OK(ag_auth_secret_list(fx->auth, fx->root, "secret/services/", &keys, &n));
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(keys[0], "db-old");
    ASSERT_STREQ(keys[1], "db/");
    ASSERT_STREQ(keys[2], "dragonfly");
    ag_auth_strv_free(keys, n);
    ASSERT_OK(ag_auth_secret_list(fx->auth, fx->root, "secret/", &keys, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(keys[0], "sandbox/");
    ASSERT_STREQ(keys[1], "services/");
    ag_auth_strv_free(keys, n);
    ASSERT_ERR(ag_auth_secret_list(fx->auth, fx->root, "nothing", &keys, &n), AG_ENOTFOUND);
}

AUTH_TEST(reads_are_decided_by_tier_and_recorded)
{
    put(fx, "sandbox/ssh", "{\"key\":\"s\"}");
    put(fx, "services/dragonfly", "{\"password\":\"d\"}");
    char t0[AG_TOKEN_BUF], t1[AG_TOKEN_BUF], t3[AG_TOKEN_BUF], t2[AG_TOKEN_BUF];
    afx_login(fx, "observer", 0, t0);
    afx_login(fx, "operator", 1, t1);
    afx_login(fx, "builder", 2, t2);
    afx_login(fx, "executor", 3, t3);
    struct ag_secret s;
    ASSERT_ERR(ag_auth_secret_get(fx->auth, t0, "sandbox/ssh", 0, &s), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "permission denied: secret.read on secret/sandbox/ssh");
    expect_value(fx, t1, "sandbox/ssh", 0, "{\"key\":\"s\"}");
    ASSERT_ERR(ag_auth_secret_get(fx->auth, t1, "secret/services/dragonfly", 0, &s), AG_EPERM);
    ASSERT_TRUE(s.data_json == NULL);
    expect_value(fx, t3, "secret/services/dragonfly", 0, "{\"password\":\"d\"}");
    /* The lease lasts as long as the token has left. */
    afx_advance(fx, 5 * MIN);
    ASSERT_OK(ag_auth_secret_get(fx->auth, t3, "services/dragonfly", 0, &s));
    ASSERT_EQ(s.lease_duration_ms, 10 * MIN);
    ag_secret_clear(&s);
    /* Writes: root, or what the policy allows (tier >= 2 under sandbox/ here). */
    ASSERT_ERR(ag_auth_secret_put(fx->auth, t1, "sandbox/ssh", "{}", -1, NULL), AG_EPERM);
    ASSERT_OK(ag_auth_secret_put(fx->auth, t2, "sandbox/ssh", "{\"key\":\"t\"}", -1, NULL));
    ASSERT_ERR(ag_auth_secret_put(fx->auth, t3, "services/dragonfly", "{}", -1, NULL), AG_EPERM);
    ASSERT_ERR(ag_auth_secret_destroy(fx->auth, t3, "services/dragonfly", NULL, 0), AG_EPERM);
    ASSERT_ERR(ag_auth_secret_get(fx->auth, "agv.bogus", "sandbox/ssh", 0, &s), AG_EPERM);
    /* Every decision is in the ledger, values never. */
    ASSERT_EQ(afx_ledger_count(fx, "secret", "\"decision\":\"deny\""), 5);
    /* The bogus token never reached a decision: it is not recorded. */
    ASSERT_EQ(afx_ledger_count(fx, "secret", "\"action\":\"secret.read\""), 5);
    ASSERT_EQ(afx_ledger_count(fx, "secret", "\"password\""), 0);
    ASSERT_EQ(afx_ledger_count(fx, NULL, "\"d\"}"), 0);
}

AUTH_TEST(tampered_or_moved_ciphertext_is_rejected)
{
    put(fx, "services/a", "{\"v\":\"alpha-value\"}");
    put(fx, "services/b", "{\"v\":\"beta-value\"}");
    char *sealed = NULL;
    ASSERT_OK(ag_store_get(fx->store, "auth:kv:data:services/a@1", &sealed));
    ASSERT_TRUE(sealed != NULL);
    /* Change one byte of the base64 ciphertext (past the nonce). */
    char *c = strstr(sealed, "\"c\":\"");
    ASSERT_TRUE(c != NULL);
    char *mid = c + 5 + 40;
    char orig = *mid;
    *mid = *mid == 'A' ? 'B' : 'A';
    ASSERT_OK(ag_store_set(fx->store, "auth:kv:data:services/a@1", sealed, 0));
    struct ag_secret s;
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "services/a", 0, &s), AG_ETAMPER);
    ASSERT_CONTAINS(ag_last_error(), "failed authentication");
    ASSERT_TRUE(s.data_json == NULL);
    *mid = orig;
    ASSERT_OK(ag_store_set(fx->store, "auth:kv:data:services/a@1", sealed, 0));
    expect_value(fx, fx->root, "services/a", 0, "{\"v\":\"alpha-value\"}");
    /* A valid ciphertext moved to another path does not open there. */
    ASSERT_OK(ag_store_set(fx->store, "auth:kv:data:services/b@1", sealed, 0));
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "services/b", 0, &s), AG_ETAMPER);
    /* A key id that is in no keyring, even after a reload, is tampering too. */
    char *k = strstr(sealed, "\"k\":\"");
    ASSERT_TRUE(k != NULL);
    k[5] = k[5] == 'x' ? 'y' : 'x';
    ASSERT_OK(ag_store_set(fx->store, "auth:kv:data:services/b@1", sealed, 0));
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "services/b", 0, &s), AG_ETAMPER);
    ASSERT_CONTAINS(ag_last_error(), "altered");
    free(sealed);
    ASSERT_EQ(afx_ledger_count(fx, "secret", "ETAMPER"), 3);
}

struct persist_ctx {
    char path[PATH_MAX];
    int fail;
};

static ag_err persist_key(void *ctx, const uint8_t key[AG_AUTH_KEY_LEN])
{
    struct persist_ctx *p = ctx;
    if (p->fail)
        return AG_EIO;
    char hex[2 * AG_AUTH_KEY_LEN + 2];
    ag__hex(key, AG_AUTH_KEY_LEN, hex);
    strcat(hex, "\n");
    return ag__write_file_atomic(p->path, hex, strlen(hex), 0600, 0);
}

/* A long-lived handle given the master key's path (the daemon's) follows a rekey made
 * by another process: it reads the re-encrypted values with the new master key, and
 * seals new values under the new data key, not the retired one. */
AUTH_TEST(a_handle_with_the_key_path_follows_another_process_rekey)
{
    put(fx, "services/a", "{\"v\":\"alpha\"}");
    struct persist_ctx pc = {.fail = 0};
    snprintf(pc.path, sizeof pc.path, "%s/master.key", fx->dir);
    unsetenv(AG_AUTH_MASTER_KEY_ENV);
    ASSERT_OK(persist_key(&pc, fx->master));
    struct ag_auth_opts o = {.store = fx->store,
                             .ledger = fx->ledger,
                             .policy = fx->policy,
                             .master_key = fx->master,
                             .master_key_path = pc.path};
    ag_auth *daemon = NULL;
    ASSERT_OK(ag_auth_new(&o, &daemon));
    uint8_t k2[AG_AUTH_KEY_LEN];
    ag__random(k2, sizeof k2);
    size_t re = 0;
    ASSERT_OK(ag_auth_rekey(fx->auth, k2, 1, persist_key, &pc, &re)); /* "the CLI" */
    ASSERT_EQ(re, 1);
    struct ag_secret s;
    ASSERT_OK(ag_auth_secret_get(daemon, fx->root, "services/a", 0, &s));
    ASSERT_STREQ(s.data_json, "{\"v\":\"alpha\"}");
    ag_secret_clear(&s);
    ASSERT_OK(ag_auth_secret_put(daemon, fx->root, "services/b", "{\"v\":\"beta\"}", -1, NULL));
    char *sealed = NULL, *cur = NULL;
    ASSERT_OK(ag_store_get(fx->store, "auth:kv:data:services/b@1", &sealed));
    ASSERT_OK(ag_store_get(fx->store, "auth:kv:data:services/a@1", &cur));
    char kb[AG__KR_ID_BUF], ka[AG__KR_ID_BUF];
    ag__sealed_dek(sealed, kb);
    ag__sealed_dek(cur, ka); /* re-encrypted by the rekey: the new data key */
    ASSERT_STREQ(kb, ka);
    free(sealed);
    free(cur);
    ag_auth_free(daemon);
}

AUTH_TEST(rekey_keeps_every_value_readable)
{
    char json[64], path[64];
    for (int i = 0; i < 50; i++) {
        snprintf(path, sizeof path, "services/s%02d", i);
        snprintf(json, sizeof json, "{\"v\":\"value-%d\"}", i);
        put(fx, path, json);
    }
    uint8_t k2[AG_AUTH_KEY_LEN], k3[AG_AUTH_KEY_LEN];
    ag__random(k2, sizeof k2);
    ag__random(k3, sizeof k3);
    struct persist_ctx pc = {.fail = 0};
    snprintf(pc.path, sizeof pc.path, "%s/master.key", fx->dir);
    size_t re = 0;
    ASSERT_OK(ag_auth_rekey(fx->auth, k2, 0, persist_key, &pc, &re));
    ASSERT_EQ(re, 0);
    unsetenv(AG_AUTH_MASTER_KEY_ENV);
    uint8_t loaded[AG_AUTH_KEY_LEN];
    ASSERT_OK(ag_auth_master_key_load(pc.path, loaded));
    ASSERT_TRUE(memcmp(loaded, k2, sizeof k2) == 0);
    /* The old key no longer opens the store; the new one does. */
    struct ag_auth_opts o = {
        .store = fx->store, .ledger = fx->ledger, .policy = fx->policy, .master_key = fx->master};
    ag_auth *b = NULL;
    ASSERT_ERR(ag_auth_new(&o, &b), AG_ECRYPTO);
    ASSERT_CONTAINS(ag_last_error(), "does not open");
    b = afx_handle(fx, k2, 0);
    expect_value(fx, fx->root, "services/s07", 0, "{\"v\":\"value-7\"}");

    /* Rotate the data key too: every version is re-encrypted. */
    ASSERT_OK(ag_auth_rekey(b, k3, 1, persist_key, &pc, &re));
    ASSERT_EQ(re, 50);
    for (int i = 0; i < 50; i++) {
        snprintf(path, sizeof path, "services/s%02d", i);
        snprintf(json, sizeof json, "{\"v\":\"value-%d\"}", i);
        struct ag_secret s;
        ASSERT_OK(ag_auth_secret_get(b, fx->root, path, 0, &s));
        ASSERT_STREQ(s.data_json, json);
        ag_secret_clear(&s);
    }
    /* The first handle still holds the old data key and reloads the keyring on a miss
     * (its master key is gone, so it cannot: it reports that rather than guessing). */
    struct ag_secret s;
    ASSERT_ERR(ag_auth_secret_get(fx->auth, fx->root, "services/s01", 0, &s), AG_ECRYPTO);
    ag_auth_free(b);

    /* A rekey whose key file cannot be written leaves both keys able to open the store. */
    b = afx_handle(fx, k3, 0);
    uint8_t k4[AG_AUTH_KEY_LEN];
    ag__random(k4, sizeof k4);
    pc.fail = 1;
    ASSERT_TRUE(ag_auth_rekey(b, k4, 1, persist_key, &pc, &re) != AG_OK);
    ag_auth_free(b);
    b = afx_handle(fx, k3, 0);
    ASSERT_OK(ag_auth_secret_get(b, fx->root, "services/s02", 0, &s));
    ASSERT_STREQ(s.data_json, "{\"v\":\"value-2\"}");
    ag_secret_clear(&s);
    ag_auth_free(b);
    b = afx_handle(fx, k4, 0);
    ASSERT_OK(ag_auth_secret_get(b, fx->root, "services/s03", 0, &s));
    ag_secret_clear(&s);
    /* Tokens survive a rekey (their hashing key is in the keyring). */
    struct ag_token_info t;
    ASSERT_OK(ag_auth_token_lookup(b, fx->root, &t));
    ag_token_info_clear(&t);
    ag_auth_free(b);
    ASSERT_EQ(afx_ledger_count(fx, "secret", "\"action\":\"secret.rekey\""), 4);
}
