/* Roles, secret IDs, login, tokens, renewal, revocation and the clock: Vault's token
 * semantics against a real ledger and a real store (SQLite file and redis-server). */
#include <pthread.h>
#include <sys/stat.h>

#include "auth_fixture.h"

AUTH_TEST(login_issues_a_token_and_lookup_describes_it)
{
    char rid[AG_UUID_BUF], sid[AG_UUID_BUF], tok[AG_TOKEN_BUF];
    afx_role(fx, "builder-1", 2, rid, sid);
    struct ag_role r;
    ASSERT_OK(ag_auth_role_read(fx->auth, "builder-1", &r));
    ASSERT_STREQ(r.role_id, rid);
    ASSERT_STREQ(r.agent_id, "builder-1");
    ASSERT_EQ(r.token_ttl_ms, 30 * MIN); /* the tier's defaults */
    ASSERT_EQ(r.token_max_ttl_ms, 120 * MIN);

    struct ag_token_info li;
    ASSERT_OK(ag_auth_login(fx->auth, rid, sid, NULL, tok, &li));
    ASSERT_EQ(strlen(tok), AG_TOKEN_LEN);
    ASSERT_TRUE(strncmp(tok, "agv.", 4) == 0);
    ASSERT_EQ(li.remaining_ms, 30 * MIN);
    ag_token_info_clear(&li);

    struct ag_token_info t;
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &t));
    ASSERT_STREQ(t.agent_id, "builder-1");
    ASSERT_STREQ(t.role, "builder-1");
    ASSERT_EQ(t.tier, 2);
    ASSERT_EQ(t.npolicies, 1);
    ASSERT_STREQ(t.policies[0], "t2-builder");
    ASSERT_EQ(t.creation_ms, T0);
    ASSERT_EQ(t.expire_ms, T0 + 30 * MIN);
    ASSERT_EQ(t.max_expire_ms, T0 + 120 * MIN);
    ASSERT_TRUE(t.renewable);
    ASSERT_CONTAINS(t.meta_json, "\"role_name\":\"builder-1\"");
    char acc[AG_ACCESSOR_BUF];
    snprintf(acc, sizeof acc, "%s", t.accessor);
    ag_token_info_clear(&t);

    ASSERT_OK(ag_auth_token_lookup_accessor(fx->auth, acc, &t));
    ASSERT_EQ(t.tier, 2);
    ag_token_info_clear(&t);

    /* Neither the token nor the secret ID is stored: only keyed hashes. */
    char **keys = NULL;
    size_t n = 0;
    ASSERT_OK(ag_store_keys(fx->store, "auth:", &keys, &n));
    for (size_t i = 0; i < n; i++) {
        char *v = NULL;
        ASSERT_TRUE(strstr(keys[i], tok + 4) == NULL);
        ASSERT_TRUE(strstr(keys[i], sid) == NULL);
        if (ag_store_get(fx->store, keys[i], &v) == AG_OK && v) {
            ASSERT_TRUE(strstr(v, tok + 4) == NULL);
            ASSERT_TRUE(strstr(v, sid) == NULL);
        }
        free(v);
    }
    ag_store_strv_free(keys, n);
    /* The login is in the ledger. */
    ASSERT_EQ(afx_ledger_count(fx, "token", "\"action\":\"auth.login\""), 1);
}

AUTH_TEST(ttl_boundary_accepts_just_before_and_rejects_at_expiry)
{
    char tok[AG_TOKEN_BUF];
    afx_login(fx, "op", 1, tok);
    struct ag_token_info t;
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &t)); /* now cached */
    ag_token_info_clear(&t);
    afx_advance(fx, 30 * MIN - 1);
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &t));
    ASSERT_EQ(t.remaining_ms, 1);
    ag_token_info_clear(&t);
    afx_advance(fx, 1);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, tok, &t), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "permission denied: token expired at");
    /* The same through a handle without a cache, straight from the store. */
    ag_auth *b = afx_handle(fx, fx->master, -1);
    ASSERT_ERR(ag_auth_token_lookup(b, tok, &t), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "expired");
    fx->clk.wall -= 1; /* a just-expired token stays expired even if the wall clock dips */
    ASSERT_ERR(ag_auth_token_lookup(b, tok, &t), AG_EPERM);
    ag_auth_free(b);
}

AUTH_TEST(renewal_extends_but_never_past_max_ttl)
{
    char tok[AG_TOKEN_BUF];
    afx_login(fx, "op", 1, tok); /* ttl 30m, max 2h */
    struct ag_token_info t;
    afx_advance(fx, 20 * MIN);
    ASSERT_OK(ag_auth_token_renew(fx->auth, tok, 0, &t));
    ASSERT_EQ(t.expire_ms, T0 + 50 * MIN);
    ag_token_info_clear(&t);
    /* A huge increment is capped at creation + max TTL. */
    ASSERT_OK(ag_auth_token_renew(fx->auth, tok, 100 * 60 * MIN, &t));
    ASSERT_EQ(t.expire_ms, T0 + 120 * MIN);
    ag_token_info_clear(&t);
    for (int i = 0; i < 10; i++) {
        afx_advance(fx, 10 * MIN);
        ag_err err = ag_auth_token_renew(fx->auth, tok, 0, &t);
        if (err == AG_OK) {
            ASSERT_TRUE(t.expire_ms <= T0 + 120 * MIN);
            ag_token_info_clear(&t);
        } else
            ASSERT_EQ(err, AG_EPERM);
    }
    ASSERT_TRUE(fx->clk.wall >= T0 + 120 * MIN);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, tok, &t), AG_EPERM);
    ASSERT_ERR(ag_auth_token_renew(fx->auth, tok, 0, &t), AG_EPERM);
    /* The root token never expires and is not renewable. */
    ASSERT_OK(ag_auth_token_lookup(fx->auth, fx->root, &t));
    ASSERT_EQ(t.expire_ms, 0);
    ASSERT_EQ(t.remaining_ms, -1);
    ASSERT_TRUE(t.root);
    ag_token_info_clear(&t);
    ASSERT_ERR(ag_auth_token_renew(fx->auth, fx->root, 0, &t), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "not renewable");
}

AUTH_TEST(revoking_a_token_revokes_its_children_and_leases)
{
    struct ag_token_req req = {.tier = 3, .renewable = 1};
    char child[AG_TOKEN_BUF], grand[AG_TOKEN_BUF], other[AG_TOKEN_BUF];
    struct ag_token_info ci;
    ASSERT_OK(ag_auth_token_create(fx->auth, fx->root, &req, child, &ci));
    ASSERT_EQ(ci.tier, 3);
    ASSERT_STREQ(ci.policies[0], "t3-executor");
    char child_acc[AG_ACCESSOR_BUF];
    snprintf(child_acc, sizeof child_acc, "%s", ci.accessor);
    ag_token_info_clear(&ci);
    req.tier = -1;
    ASSERT_OK(ag_auth_token_create(fx->auth, child, &req, grand, NULL));
    ASSERT_OK(ag_auth_token_create(fx->auth, fx->root, &req, other, NULL));

    ASSERT_OK(
        ag_auth_secret_put(fx->auth, fx->root, "secret/services/db", "{\"pw\":\"x\"}", -1, NULL));
    struct ag_secret s;
    ASSERT_OK(ag_auth_secret_get(fx->auth, grand, "services/db", 0, &s));
    ASSERT_TRUE(s.lease_id[0] != '\0');
    ASSERT_EQ(s.lease_duration_ms, 15 * MIN);
    char lease[AG_LEASE_ID_MAX];
    snprintf(lease, sizeof lease, "%s", s.lease_id);
    ag_secret_clear(&s);
    struct ag_lease_info li;
    ASSERT_OK(ag_auth_lease_lookup(fx->auth, lease, &li));
    ASSERT_STREQ(li.path, "services/db");

    struct ag_token_info t;
    ASSERT_OK(ag_auth_token_lookup(fx->auth, grand, &t)); /* cached: must be dropped */
    ag_token_info_clear(&t);
    struct ag_revoke_stats st;
    ASSERT_OK(ag_auth_token_revoke(fx->auth, child, &st));
    ASSERT_EQ(st.tokens, 2);
    ASSERT_EQ(st.leases, 1);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, child, &t), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "permission denied: token revoked");
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, grand, &t), AG_EPERM);
    ASSERT_ERR(ag_auth_lease_lookup(fx->auth, lease, &li), AG_ENOTFOUND);
    ASSERT_ERR(ag_auth_secret_get(fx->auth, grand, "services/db", 0, &s), AG_EPERM);
    ASSERT_ERR(ag_auth_token_lookup_accessor(fx->auth, child_acc, &t), AG_EPERM);
    /* Siblings and the parent are untouched. */
    ASSERT_OK(ag_auth_token_lookup(fx->auth, other, &t));
    ag_token_info_clear(&t);
    ASSERT_OK(ag_auth_token_lookup(fx->auth, fx->root, &t));
    ag_token_info_clear(&t);
    ASSERT_EQ(afx_ledger_count(fx, "token", "\"action\":\"token.revoke\""), 1);
}

AUTH_TEST(revoke_by_accessor)
{
    char tok[AG_TOKEN_BUF];
    afx_login(fx, "op", 1, tok);
    struct ag_token_info t;
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &t));
    char acc[AG_ACCESSOR_BUF];
    snprintf(acc, sizeof acc, "%s", t.accessor);
    ag_token_info_clear(&t);
    /* Another process (no shared cache) revokes it by accessor. */
    ag_auth *b = afx_handle(fx, fx->master, -1);
    ASSERT_OK(ag_auth_token_revoke_accessor(b, acc, NULL));
    ASSERT_ERR(ag_auth_token_lookup(b, tok, &t), AG_EPERM);
    ag_auth_free(b);
    /* This handle cached it: it sees the revocation within its cache TTL (1 s). */
    fx->clk.mono += 1001;
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, tok, &t), AG_EPERM);
    ASSERT_ERR(ag_auth_token_revoke_accessor(fx->auth, "0123456789abcdef01234567", NULL),
               AG_ENOTFOUND);
    ASSERT_ERR(ag_auth_token_revoke_accessor(fx->auth, "nonsense", NULL), AG_ENOTFOUND);
}

AUTH_TEST(secret_id_use_count_and_ttl)
{
    struct ag_role r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "ci");
    r.tier = 1;
    r.secret_id_num_uses = 2;
    r.secret_id_ttl_ms = 10 * MIN;
    ASSERT_OK(ag_auth_role_write(fx->auth, &r));
    char sid[AG_UUID_BUF], tok[AG_TOKEN_BUF];
    struct ag_secret_id_info si;
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "ci", -1, -1, sid, &si));
    ASSERT_EQ(si.num_uses, 2);
    ASSERT_EQ(si.expire_ms, T0 + 10 * MIN);
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL));
    struct ag_secret_id_info look;
    ASSERT_OK(ag_auth_secret_id_lookup(fx->auth, "ci", si.accessor, &look));
    ASSERT_EQ(look.num_uses, 1);
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL));
    ASSERT_ERR(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "invalid role_id or secret_id");
    ASSERT_ERR(ag_auth_secret_id_lookup(fx->auth, "ci", si.accessor, &look), AG_ENOTFOUND);

    /* TTL: usable just before, refused at expiry. */
    char sid2[AG_UUID_BUF];
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "ci", -1, 0, sid2, &si));
    afx_advance(fx, 10 * MIN - 1);
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid2, NULL, tok, NULL));
    afx_advance(fx, 1);
    ASSERT_ERR(ag_auth_login(fx->auth, r.role_id, sid2, NULL, tok, NULL), AG_EPERM);

    /* Listing by accessor and destroying by accessor or value. */
    char a1[AG_UUID_BUF], a2[AG_UUID_BUF];
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "ci", 0, 0, sid, &si));
    snprintf(a1, sizeof a1, "%s", si.accessor);
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "ci", 0, 0, sid2, &si));
    snprintf(a2, sizeof a2, "%s", si.accessor);
    struct ag_secret_id_info *items = NULL;
    size_t n = 0;
    ASSERT_OK(ag_auth_secret_id_list(fx->auth, "ci", &items, &n));
    ASSERT_EQ(n, 2); /* the expired one is not listed */
    free(items);
    ASSERT_OK(ag_auth_secret_id_destroy_accessor(fx->auth, "ci", a1));
    ASSERT_ERR(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL), AG_EPERM);
    ASSERT_OK(ag_auth_secret_id_destroy(fx->auth, "ci", sid2));
    ASSERT_ERR(ag_auth_login(fx->auth, r.role_id, sid2, NULL, tok, NULL), AG_EPERM);
    ASSERT_OK(ag_auth_secret_id_list(fx->auth, "ci", &items, &n));
    ASSERT_EQ(n, 0);
    free(items);
    ASSERT_ERR(ag_auth_secret_id_destroy_accessor(fx->auth, "ci", a2), AG_ENOTFOUND);
}

AUTH_TEST(wrong_or_tampered_tokens_are_rejected)
{
    char tok[AG_TOKEN_BUF], bad[AG_TOKEN_BUF + 8];
    afx_login(fx, "op", 1, tok);
    struct ag_token_info t;
    for (size_t i = 4; i < AG_TOKEN_LEN; i += 7) {
        snprintf(bad, sizeof bad, "%s", tok);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        ASSERT_ERR(ag_auth_token_lookup(fx->auth, bad, &t), AG_EPERM);
        ASSERT_CONTAINS(ag_last_error(), "permission denied: invalid token");
    }
    snprintf(bad, sizeof bad, "hvs.%s", tok + 4);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, bad, &t), AG_EPERM);
    snprintf(bad, sizeof bad, "%.*s", AG_TOKEN_LEN - 1, tok);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, bad, &t), AG_EPERM);
    snprintf(bad, sizeof bad, "%sA", tok);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, bad, &t), AG_EPERM);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, "", &t), AG_EPERM);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, NULL, &t), AG_EPERM);
    /* A well-formed token nobody issued. */
    ASSERT_ERR(
        ag_auth_token_lookup(fx->auth, "agv.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &t),
        AG_EPERM);
    /* A token hashed under another store's keyring is unknown here. */
    ASSERT_ERR(
        ag_auth_token_revoke(fx->auth, "agv.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL),
        AG_EPERM);
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &t));
    ag_token_info_clear(&t);
    /* Logins with wrong credentials. */
    char rid[AG_UUID_BUF], sid[AG_UUID_BUF];
    afx_role(fx, "other", 1, rid, sid);
    ASSERT_ERR(ag_auth_login(fx->auth, rid, "not-a-secret-id", NULL, tok, NULL), AG_EPERM);
    ASSERT_ERR(ag_auth_login(fx->auth, "not-a-role-id", sid, NULL, tok, NULL), AG_EPERM);
    ASSERT_TRUE(afx_ledger_count(fx, "token", "\"decision\":\"deny\"") >= 2);
}

AUTH_TEST(wall_clock_jump_backwards_does_not_revive)
{
    char tok[AG_TOKEN_BUF];
    afx_login(fx, "op", 1, tok);
    struct ag_token_info t;
    afx_advance(fx, 31 * MIN);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, tok, &t), AG_EPERM);
    /* The wall clock is set back an hour; monotonic time keeps going. */
    fx->clk.wall -= 60 * MIN;
    fx->clk.mono += 1000;
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, tok, &t), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "expired");
    /* A restarted process (new handle, its monotonic clock starts over) still refuses:
     * the high-water mark persisted in the store keeps time from going back. */
    fx->clk.mono = 5;
    ag_auth *b = afx_handle(fx, fx->master, -1);
    ASSERT_ERR(ag_auth_token_lookup(b, tok, &t), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "expired");
    /* Time issued to new tokens does not go back either. */
    char tok2[AG_TOKEN_BUF];
    struct ag_token_req req = {.tier = 1, .ttl_ms = MIN, .explicit_max_ttl_ms = MIN};
    ASSERT_OK(ag_auth_token_create(b, fx->root, &req, tok2, &t));
    ASSERT_TRUE(t.creation_ms >= T0 + 31 * MIN);
    ag_token_info_clear(&t);
    ag_auth_free(b);
}

/* Expiry seen by any operation (a secret read here, not a lookup), even less than a
 * second after the last time the clock was saved, is kept: a new process with the
 * wall clock set back still refuses the token. */
AUTH_TEST(expiry_seen_by_a_secret_read_survives_a_clock_set_back)
{
    char tok[AG_TOKEN_BUF];
    ASSERT_OK(ag_auth_secret_put(fx->auth, fx->root, "sandbox/a", "{\"k\":\"v\"}", -1, NULL));
    struct ag_token_req req = {.tier = 1, .ttl_ms = MIN, .explicit_max_ttl_ms = MIN};
    ASSERT_OK(ag_auth_token_create(fx->auth, fx->root, &req, tok, NULL));
    struct ag_secret sec;
    ASSERT_OK(ag_auth_secret_get(fx->auth, tok, "sandbox/a", 0, &sec));
    ag_secret_clear(&sec);
    afx_advance(fx, MIN + 500); /* the clock was saved at most a second ago */
    ASSERT_ERR(ag_auth_secret_get(fx->auth, tok, "sandbox/a", 0, &sec), AG_EPERM);
    fx->clk.wall -= 90 * 1000; /* set back before the expiry */
    fx->clk.mono = 5;
    ag_auth *b = afx_handle(fx, fx->master, -1);
    struct ag_token_info t;
    ASSERT_ERR(ag_auth_token_lookup(b, tok, &t), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "expired");
    ASSERT_ERR(ag_auth_secret_get(b, tok, "sandbox/a", 0, &sec), AG_EPERM);
    ag_auth_free(b);
}

AUTH_TEST(revoke_agent_takes_everything_at_once)
{
    struct ag_role r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "alpha-role");
    snprintf(r.agent_id, sizeof r.agent_id, "agent-alpha");
    r.tier = 3;
    ASSERT_OK(ag_auth_role_write(fx->auth, &r));
    char s1[AG_UUID_BUF], s2[AG_UUID_BUF], s3[AG_UUID_BUF], t1[AG_TOKEN_BUF], t2[AG_TOKEN_BUF],
        kid[AG_TOKEN_BUF], bystander[AG_TOKEN_BUF];
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "alpha-role", -1, -1, s1, NULL));
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "alpha-role", -1, -1, s2, NULL));
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "alpha-role", -1, -1, s3, NULL));
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, s1, NULL, t1, NULL));
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, s2, NULL, t2, NULL));
    struct ag_token_req req = {.tier = -1};
    ASSERT_OK(ag_auth_token_create(fx->auth, t1, &req, kid, NULL));
    afx_login(fx, "beta", 3, bystander);
    ASSERT_OK(ag_auth_secret_put(fx->auth, fx->root, "services/x", "{\"k\":\"v\"}", -1, NULL));
    struct ag_secret s;
    ASSERT_OK(ag_auth_secret_get(fx->auth, t2, "services/x", 0, &s));
    ag_secret_clear(&s);

    ASSERT_OK(ag_auth_revoke_agent_hook(fx->auth, "agent-alpha"));
    struct ag_token_info t;
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, t1, &t), AG_EPERM);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, t2, &t), AG_EPERM);
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, kid, &t), AG_EPERM);
    ASSERT_ERR(ag_auth_login(fx->auth, r.role_id, s3, NULL, t1, NULL), AG_EPERM);
    ASSERT_OK(ag_auth_token_lookup(fx->auth, bystander, &t));
    ag_token_info_clear(&t);
    struct ag_secret_id_info *items = NULL;
    size_t n = 0;
    ASSERT_OK(ag_auth_secret_id_list(fx->auth, "alpha-role", &items, &n));
    ASSERT_EQ(n, 0);
    free(items);
    ASSERT_EQ(afx_ledger_count(fx, "token", "\"action\":\"token.revoke_agent\""), 1);
    /* s1 and s2 have unlimited uses: all three secret IDs were destroyed. */
    ASSERT_EQ(afx_ledger_count(fx, "token", "\"secret_ids\":3"), 1);

    /* Counts: a new secret ID works again afterwards (the role stays). */
    struct ag_revoke_stats st;
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "alpha-role", -1, -1, s1, NULL));
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, s1, NULL, t1, NULL));
    ASSERT_OK(ag_auth_revoke_agent(fx->auth, "agent-alpha", &st));
    ASSERT_EQ(st.tokens, 1);
    ASSERT_EQ(st.secret_ids, 1);
    ASSERT_OK(ag_auth_revoke_agent(fx->auth, "nobody", &st));
    ASSERT_EQ(st.tokens, 0);
}

/* Number of fields of the hash at key. */
static size_t hash_len(struct afx *f, const char *key)
{
    struct ag_store_op op = {.op = AG_OP_HGETALL, .key = key};
    struct ag_store_reply rep;
    ASSERT_OK(ag_store_exec(f->store, NULL, &op, 1, &rep, NULL));
    size_t n = rep.type == AG_REPLY_ARRAY ? rep.nelems / 2 : 0;
    ag_store_reply_free(&rep, 1);
    return n;
}

/* Tokens that simply expire leave the agent's token index as the issues go on; live
 * ones stay, and revoking the agent still finds every one of them. */
AUTH_TEST(agent_token_index_forgets_expired_tokens)
{
    struct ag_role r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "prune-role");
    snprintf(r.agent_id, sizeof r.agent_id, "agent-prune");
    r.tier = 3; /* max_ttl 1h */
    ASSERT_OK(ag_auth_role_write(fx->auth, &r));
    char sid[AG_UUID_BUF], tok[AG_TOKEN_BUF];
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "prune-role", -1, -1, sid, NULL));
    const char *key = "auth:agent_tokens:agent-prune";
    for (int i = 0; i < 40; i++)
        ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL));
    ASSERT_EQ(hash_len(fx, key), 40);
    /* Entries of an older format: a dead one goes, a live one stays. */
    struct ag_store_op hs[2] = {
        {.op = AG_OP_HSET, .key = key, .field = "legacy-dead", .value = "1"},
        {.op = AG_OP_HSET, .key = key, .field = "legacy-live", .value = "1"}};
    struct ag_store_reply hr[2];
    ASSERT_OK(ag_store_exec(fx->store, NULL, hs, 2, hr, NULL));
    ag_store_reply_free(hr, 2);
    ASSERT_OK(ag_store_set(fx->store, "auth:acc:legacy-live", "x", 0));
    afx_advance(fx, 61 * MIN);
    for (int i = 0; i < 32; i++)
        ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL));
    ASSERT_EQ(hash_len(fx, key), 33); /* the 32 live tokens and legacy-live */
    ASSERT_OK(ag_store_del(fx->store, "auth:acc:legacy-live"));
    struct ag_revoke_stats st;
    ASSERT_OK(ag_auth_revoke_agent(fx->auth, "agent-prune", &st));
    ASSERT_EQ(st.tokens, 32);
    struct ag_token_info t;
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, tok, &t), AG_EPERM);
}

/* A handle reads an agent's token index again only when an entry it knows of can have
 * gone stale, or after ten minutes for entries others wrote: a stale entry slipped in
 * behind its back stays until then, and goes then. */
AUTH_TEST(agent_token_index_is_read_only_when_something_can_be_stale)
{
    struct ag_role r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "memo-role");
    snprintf(r.agent_id, sizeof r.agent_id, "agent-memo");
    r.tier = 3; /* max_ttl 1h */
    ASSERT_OK(ag_auth_role_write(fx->auth, &r));
    char sid[AG_UUID_BUF], tok[AG_TOKEN_BUF];
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "memo-role", -1, -1, sid, NULL));
    const char *key = "auth:agent_tokens:agent-memo";
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL));
    struct ag_store_op hs = {.op = AG_OP_HSET, .key = key, .field = "other-writer", .value = "2"};
    struct ag_store_reply hr;
    ASSERT_OK(ag_store_exec(fx->store, NULL, &hs, 1, &hr, NULL));
    ag_store_reply_free(&hr, 1);
    for (int i = 0; i < 40; i++)
        ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL));
    ASSERT_EQ(hash_len(fx, key), 42); /* not read again: nothing this handle knows expired */
    afx_advance(fx, 11 * MIN);
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL));
    ASSERT_EQ(hash_len(fx, key), 42); /* the recheck dropped the stale entry */
}

AUTH_TEST(children_never_exceed_their_parent)
{
    char tok[AG_TOKEN_BUF], kid[AG_TOKEN_BUF];
    afx_login(fx, "op", 1, tok); /* expires T0+30m */
    struct ag_token_req req = {.tier = 2};
    struct ag_token_info t;
    ASSERT_ERR(ag_auth_token_create(fx->auth, tok, &req, kid, &t), AG_EPERM);
    const char *pol[] = {"t4-architect"};
    req = (struct ag_token_req){.tier = -1, .policies = pol, .npolicies = 1};
    ASSERT_ERR(ag_auth_token_create(fx->auth, tok, &req, kid, &t), AG_EPERM);
    req = (struct ag_token_req){.tier = 0, .ttl_ms = 60 * MIN, .renewable = 1};
    ASSERT_OK(ag_auth_token_create(fx->auth, tok, &req, kid, &t));
    ASSERT_EQ(t.expire_ms, T0 + 30 * MIN); /* capped at the parent's expiry */
    ag_token_info_clear(&t);
    afx_advance(fx, 20 * MIN);
    ASSERT_OK(ag_auth_token_renew(fx->auth, kid, 60 * MIN, &t));
    ASSERT_EQ(t.expire_ms, T0 + 30 * MIN); /* renewal does not pass the parent either */
    ag_token_info_clear(&t);
}

/* The index of a parent's children lives as long as the parent can (its max expiry),
 * not just its current TTL: a parent renewed past that TTL still reaches its children
 * when revoked. */
AUTH_TEST(children_index_lives_as_long_as_the_parent_can)
{
    char tok[AG_TOKEN_BUF], kid[AG_TOKEN_BUF];
    afx_login(fx, "op", 1, tok); /* TTL 30m, max 2h */
    struct ag_token_req req = {.tier = -1, .renewable = 1};
    struct ag_token_info p;
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &p));
    ASSERT_OK(ag_auth_token_create(fx->auth, tok, &req, kid, NULL));
    char ckey[80];
    snprintf(ckey, sizeof ckey, "auth:children:%s", p.accessor);
    ag_token_info_clear(&p);
    struct ag_store_op op = {.op = AG_OP_PTTL, .key = ckey};
    struct ag_store_reply rep;
    ASSERT_OK(ag_store_exec(fx->store, NULL, &op, 1, &rep, NULL));
    ASSERT_TRUE(rep.integer > 120 * MIN); /* max 2h plus the grace, not 30m plus it */
    ag_store_reply_free(&rep, 1);
}

/* Role and secret ID TTLs have the same ceiling: now + TTL stays far from overflowing
 * at login. */
AUTH_TEST(role_and_secret_id_ttls_have_a_ceiling)
{
    struct ag_role r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "huge");
    r.tier = 1;
    r.token_ttl_ms = r.token_max_ttl_ms = AG_AUTH_TTL_LIMIT_MS + 1;
    ASSERT_ERR(ag_auth_role_write(fx->auth, &r), AG_EINVAL);
    r.token_ttl_ms = r.token_max_ttl_ms = AG_AUTH_TTL_LIMIT_MS; /* the ceiling itself */
    ASSERT_OK(ag_auth_role_write(fx->auth, &r));
    char sid[AG_UUID_BUF], tok[AG_TOKEN_BUF];
    ASSERT_ERR(ag_auth_secret_id_create(fx->auth, "huge", INT64_MAX, -1, sid, NULL), AG_EINVAL);
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "huge", -1, -1, sid, NULL));
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL)); /* fits the store */
}

/* A child's TTLs are checked: negative, or so large that now + TTL overflows, is
 * refused (a negative TTL used to make a token that never expires). */
AUTH_TEST(child_token_ttls_are_checked)
{
    char tok[AG_TOKEN_BUF], kid[AG_TOKEN_BUF];
    afx_login(fx, "op", 1, tok);
    struct ag_token_req req = {.tier = -1, .ttl_ms = -T0, .explicit_max_ttl_ms = -T0};
    ASSERT_ERR(ag_auth_token_create(fx->auth, tok, &req, kid, NULL), AG_EINVAL);
    req = (struct ag_token_req){.tier = -1, .ttl_ms = INT64_MAX};
    ASSERT_ERR(ag_auth_token_create(fx->auth, tok, &req, kid, NULL), AG_EINVAL);
    struct ag_token_info t;
    ASSERT_OK(ag_auth_token_renew(fx->auth, tok, INT64_MAX, &t)); /* capped, no overflow */
    ASSERT_EQ(t.expire_ms, t.max_expire_ms);
    ag_token_info_clear(&t);
}

/* As in Vault, a token with a use limit cannot create children (whose uses would not
 * count against it). */
AUTH_TEST(use_limited_tokens_cannot_create_children)
{
    char root[AG_TOKEN_BUF], tok[AG_TOKEN_BUF], kid[AG_TOKEN_BUF];
    ASSERT_OK(ag_auth_root_token_create(fx->auth, root, NULL));
    struct ag_token_req req = {.tier = 1, .num_uses = 1};
    ASSERT_OK(ag_auth_token_create(fx->auth, root, &req, tok, NULL));
    req = (struct ag_token_req){.tier = -1};
    ASSERT_ERR(ag_auth_token_create(fx->auth, tok, &req, kid, NULL), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "use limit");
}

AUTH_TEST(bound_cidrs_are_checked_at_login)
{
    struct ag_role r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "netbound");
    r.tier = 1;
    snprintf(r.bound_cidrs, sizeof r.bound_cidrs, "10.0.0.0/8, ::1/128");
    ASSERT_OK(ag_auth_role_write(fx->auth, &r));
    char sid[AG_UUID_BUF], tok[AG_TOKEN_BUF];
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "netbound", -1, -1, sid, NULL));
    ASSERT_ERR(ag_auth_login(fx->auth, r.role_id, sid, "192.168.1.1", tok, NULL), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "bound_cidrs");
    ASSERT_ERR(ag_auth_login(fx->auth, r.role_id, sid, NULL, tok, NULL), AG_EPERM);
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, "10.20.30.40", tok, NULL));
    ASSERT_OK(ag_auth_login(fx->auth, r.role_id, sid, "::1", tok, NULL));
    snprintf(r.bound_cidrs, sizeof r.bound_cidrs, "10.0.0.0/33");
    ASSERT_ERR(ag_auth_role_write(fx->auth, &r), AG_EINVAL);
}

AUTH_TEST(roles_list_update_and_delete)
{
    char rid[AG_UUID_BUF], sid[AG_UUID_BUF], tok[AG_TOKEN_BUF];
    afx_role(fx, "b", 1, rid, sid);
    afx_role(fx, "a", 2, rid, sid);
    ASSERT_OK(ag_auth_login(fx->auth, rid, sid, NULL, tok, NULL));
    char **names = NULL;
    size_t n = 0;
    ASSERT_OK(ag_auth_role_list(fx->auth, &names, &n));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(names[0], "a");
    ASSERT_STREQ(names[1], "b");
    ag_auth_strv_free(names, n);
    struct ag_role r;
    ASSERT_OK(ag_auth_role_read(fx->auth, "a", &r));
    r.tier = 3;
    r.token_ttl_ms = 5 * MIN;
    ASSERT_OK(ag_auth_role_write(fx->auth, &r));
    ASSERT_STREQ(r.role_id, rid); /* kept across updates */
    ASSERT_OK(ag_auth_role_read(fx->auth, "a", &r));
    ASSERT_EQ(r.tier, 3);
    ASSERT_EQ(r.token_ttl_ms, 5 * MIN);
    ASSERT_OK(ag_auth_role_delete(fx->auth, "a"));
    ASSERT_ERR(ag_auth_role_read(fx->auth, "a", &r), AG_ENOTFOUND);
    ASSERT_ERR(ag_auth_login(fx->auth, rid, sid, NULL, tok, NULL), AG_EPERM);
    /* Tokens already issued stay valid (as in Vault). */
    struct ag_token_info t;
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &t));
    ag_token_info_clear(&t);
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "bad name");
    ASSERT_ERR(ag_auth_role_write(fx->auth, &r), AG_EINVAL);
    snprintf(r.name, sizeof r.name, "x");
    r.tier = 7;
    ASSERT_ERR(ag_auth_role_write(fx->auth, &r), AG_EINVAL);
    r.tier = 1;
    snprintf(r.agent_id, sizeof r.agent_id, "root");
    ASSERT_ERR(ag_auth_role_write(fx->auth, &r), AG_EINVAL);
}

AUTH_TEST(token_num_uses_are_counted)
{
    ASSERT_OK(ag_auth_secret_put(fx->auth, fx->root, "sandbox/a", "{\"k\":\"v\"}", -1, NULL));
    struct ag_token_req req = {.tier = 1, .num_uses = 2};
    char tok[AG_TOKEN_BUF];
    struct ag_token_info t;
    ASSERT_OK(ag_auth_token_create(fx->auth, fx->root, &req, tok, &t));
    ASSERT_EQ(t.num_uses, 2);
    ag_token_info_clear(&t);
    struct ag_secret s;
    ASSERT_OK(ag_auth_secret_get(fx->auth, tok, "sandbox/a", 0, &s));
    ag_secret_clear(&s);
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &t)); /* lookups do not count */
    ASSERT_EQ(t.num_uses, 1);
    ag_token_info_clear(&t);
    ASSERT_OK(ag_auth_secret_get(fx->auth, tok, "sandbox/a", 0, &s));
    ag_secret_clear(&s);
    ASSERT_ERR(ag_auth_secret_get(fx->auth, tok, "sandbox/a", 0, &s), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "uses");
}

/* Metadata reads are reads too: each takes a use (listings share the code path; the
 * fixture's policy allows no secret.list). */
AUTH_TEST(metadata_reads_take_uses)
{
    ASSERT_OK(ag_auth_secret_put(fx->auth, fx->root, "sandbox/a", "{\"k\":\"v\"}", -1, NULL));
    struct ag_token_req req = {.tier = 1, .num_uses = 2};
    char tok[AG_TOKEN_BUF];
    ASSERT_OK(ag_auth_token_create(fx->auth, fx->root, &req, tok, NULL));
    struct ag_secret_meta m;
    ASSERT_OK(ag_auth_secret_metadata(fx->auth, tok, "sandbox/a", &m));
    ag_secret_meta_clear(&m);
    ASSERT_OK(ag_auth_secret_metadata(fx->auth, tok, "sandbox/a", &m));
    ag_secret_meta_clear(&m);
    ASSERT_ERR(ag_auth_secret_metadata(fx->auth, tok, "sandbox/a", &m), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "uses");
}

/* Fail closed: with a ledger that cannot be written, nothing is granted. */
AUTH_TEST(grants_fail_closed_when_the_ledger_cannot_record)
{
    char tok[AG_TOKEN_BUF], rid[AG_UUID_BUF], sid[AG_UUID_BUF];
    afx_role(fx, "op", 1, rid, sid);
    ASSERT_OK(ag_auth_login(fx->auth, rid, sid, NULL, tok, NULL));
    ASSERT_OK(ag_auth_secret_put(fx->auth, fx->root, "sandbox/a", "{\"k\":\"v\"}", -1, NULL));
    char sid2[AG_UUID_BUF];
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "op", -1, -1, sid2, NULL));

    ag_ledger *ro = NULL;
    struct ag_ledger_opts o = fx->lopts;
    o.read_only = 1;
    ASSERT_OK(ag_ledger_open(fx->ledger_path, &o, &ro));
    struct ag_auth_opts ao = {
        .store = fx->store, .ledger = ro, .policy = fx->policy, .master_key = fx->master};
    ag_auth *b = NULL;
    ASSERT_OK(ag_auth_new(&ao, &b));
    char t2[AG_TOKEN_BUF];
    struct ag_secret s;
    ag_err err = ag_auth_login(b, rid, sid2, NULL, t2, NULL);
    ASSERT_TRUE(err != AG_OK);
    ASSERT_CONTAINS(ag_last_error(), "ledger");
    ASSERT_TRUE(ag_auth_secret_get(b, tok, "sandbox/a", 0, &s) != AG_OK);
    ASSERT_TRUE(s.data_json == NULL);
    ASSERT_TRUE(ag_auth_secret_put(b, fx->root, "sandbox/a", "{\"k\":\"w\"}", -1, NULL) != AG_OK);
    /* A revocation still happens (the safe direction) but says it is unrecorded. */
    err = ag_auth_token_revoke(b, tok, NULL);
    ASSERT_TRUE(err != AG_OK);
    ASSERT_CONTAINS(ag_last_error(), "unrecorded");
    struct ag_token_info t;
    ASSERT_ERR(ag_auth_token_lookup(fx->auth, tok, &t), AG_EPERM);
    ag_auth_free(b);
    ag_ledger_close(ro);
    /* The refused secret_id was not consumed by the refused login... it is still
     * usable through a working ledger. */
    ASSERT_OK(ag_auth_login(fx->auth, rid, sid2, NULL, t2, NULL));
    ASSERT_OK(ag_auth_secret_get(fx->auth, fx->root, "sandbox/a", 0, &s));
    ASSERT_STREQ(s.data_json, "{\"k\":\"v\"}");
    ag_secret_clear(&s);
}

TEST(handle_requires_a_ledger_and_master_key_files_are_private)
{
    struct ag_auth_opts o = {0};
    ag_auth *a = NULL;
    ASSERT_ERR(ag_auth_new(&o, &a), AG_EINVAL);
    const char *dir = ag_test_fresh_dir("mk");
    char path[1100];
    snprintf(path, sizeof path, "%s/master.key", dir);
    unsetenv(AG_AUTH_MASTER_KEY_ENV);
    ASSERT_OK(ag_auth_master_key_create(path));
    ASSERT_ERR(ag_auth_master_key_create(path), AG_EEXIST);
    uint8_t k1[AG_AUTH_KEY_LEN], k2[AG_AUTH_KEY_LEN];
    ASSERT_OK(ag_auth_master_key_load(path, k1));
    chmod(path, 0644);
    ASSERT_ERR(ag_auth_master_key_load(path, k2), AG_EPERM);
    ASSERT_CONTAINS(ag_last_error(), "chmod 600");
    setenv(AG_AUTH_MASTER_KEY_ENV,
           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
    ASSERT_OK(ag_auth_master_key_load(path, k2));
    ASSERT_EQ(k2[31], 0x1f);
    setenv(AG_AUTH_MASTER_KEY_ENV, "abc", 1);
    ASSERT_ERR(ag_auth_master_key_load(path, k2), AG_EPARSE);
    unsetenv(AG_AUTH_MASTER_KEY_ENV);
    char p[AG_SECRET_PATH_MAX];
    ASSERT_OK(ag_auth_secret_path("secret/services/dragonfly", p));
    ASSERT_STREQ(p, "services/dragonfly");
    ASSERT_OK(ag_auth_secret_path("services/dragonfly", p));
    ASSERT_STREQ(p, "services/dragonfly");
    ASSERT_ERR(ag_auth_secret_path("secret/", p), AG_EINVAL);
    ASSERT_ERR(ag_auth_secret_path("a//b", p), AG_EINVAL);
    ASSERT_ERR(ag_auth_secret_path("a/../b", p), AG_EINVAL);
    ASSERT_ERR(ag_auth_secret_path("a/b/", p), AG_EINVAL);
    ASSERT_ERR(ag_auth_secret_path("a b", p), AG_EINVAL);
}

/* Concurrency: the compare-and-set guards hold when threads race on one store. */
struct race {
    struct afx *f;
    const char *role_id, *secret_id;
    int ok, denied, other;
    pthread_mutex_t mu;
};

static void *race_login(void *arg)
{
    struct race *r = arg;
    char tok[AG_TOKEN_BUF];
    ag_err e = ag_auth_login(r->f->auth, r->role_id, r->secret_id, NULL, tok, NULL);
    pthread_mutex_lock(&r->mu);
    if (e == AG_OK)
        r->ok++;
    else if (e == AG_EPERM)
        r->denied++;
    else
        r->other++;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void *race_create(void *arg)
{
    struct race *r = arg;
    ag_err e = ag_auth_secret_put(r->f->auth, r->f->root, "sandbox/once", "{\"k\":\"v\"}", 0, NULL);
    pthread_mutex_lock(&r->mu);
    if (e == AG_OK)
        r->ok++;
    else if (e == AG_ECONFLICT)
        r->denied++;
    else
        r->other++;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

AUTH_TEST(racing_logins_spend_a_single_use_secret_id_once)
{
    struct ag_role role;
    memset(&role, 0, sizeof role);
    snprintf(role.name, sizeof role.name, "racer");
    role.tier = 1;
    role.secret_id_num_uses = 1;
    ASSERT_OK(ag_auth_role_write(fx->auth, &role));
    char sid[AG_UUID_BUF];
    ASSERT_OK(ag_auth_secret_id_create(fx->auth, "racer", -1, -1, sid, NULL));
    struct race r = {.f = fx, .role_id = role.role_id, .secret_id = sid};
    pthread_mutex_init(&r.mu, NULL);
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, race_login, &r), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.denied, 7);
    ASSERT_EQ(r.other, 0);
    /* check-and-set 0: exactly one creator wins. */
    r.ok = r.denied = r.other = 0;
    for (int i = 0; i < 8; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, race_create, &r), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.denied, 7);
    pthread_mutex_destroy(&r.mu);
}

AUTH_TEST(leases_and_accessor_renewal)
{
    ASSERT_OK(ag_auth_secret_put(fx->auth, fx->root, "sandbox/a", "{\"k\":\"v\"}", -1, NULL));
    char tok[AG_TOKEN_BUF];
    struct ag_token_info t;
    afx_login(fx, "op", 1, tok);
    struct ag_secret s;
    ASSERT_OK(ag_auth_secret_get(fx->auth, tok, "sandbox/a", 0, &s));
    char lease[AG_LEASE_ID_MAX];
    snprintf(lease, sizeof lease, "%s", s.lease_id);
    ag_secret_clear(&s);
    struct ag_lease_info li;
    ASSERT_OK(ag_auth_lease_lookup(fx->auth, lease, &li));
    ASSERT_EQ(li.expire_ms, T0 + 30 * MIN);
    ASSERT_OK(ag_auth_lease_revoke(fx->auth, lease));
    ASSERT_ERR(ag_auth_lease_lookup(fx->auth, lease, &li), AG_ENOTFOUND);
    ASSERT_ERR(ag_auth_lease_revoke(fx->auth, lease), AG_ENOTFOUND);
    /* A lease ends with the token's TTL even without a revocation. */
    ASSERT_OK(ag_auth_secret_get(fx->auth, tok, "sandbox/a", 0, &s));
    snprintf(lease, sizeof lease, "%s", s.lease_id);
    ag_secret_clear(&s);
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &t));
    char acc[AG_ACCESSOR_BUF];
    snprintf(acc, sizeof acc, "%s", t.accessor);
    ag_token_info_clear(&t);
    afx_advance(fx, 10 * MIN);
    ASSERT_OK(ag_auth_token_renew_accessor(fx->auth, acc, 0, &t));
    ASSERT_EQ(t.expire_ms, T0 + 40 * MIN);
    ag_token_info_clear(&t);
    afx_advance(fx, 20 * MIN);
    ASSERT_ERR(ag_auth_lease_lookup(fx->auth, lease, &li), AG_ENOTFOUND); /* issued for 30m */
    ASSERT_OK(ag_auth_token_lookup(fx->auth, tok, &t));
    ag_token_info_clear(&t);
}

/* A lookup that missed and read the store before a revocation must not put that read
 * back into the cache after the revocation dropped the entry. */
TEST(token_cache_fill_after_a_drop_is_refused)
{
    struct ag__tcache c;
    ASSERT_OK(ag__tcache_init(&c, 1000));
    struct ag_token_info info, got;
    memset(&info, 0, sizeof info);
    snprintf(info.accessor, sizeof info.accessor, "acc1");
    const char *hmac = "00000000000000000000000000000000000000000000000000000000000000aa";
    uint64_t gen;
    ASSERT_EQ(ag__tcache_get(&c, hmac, 0, &got, &gen), 0); /* the lookup misses... */
    ag__tcache_drop_accessor(&c, "acc1");                  /* ...a revocation lands... */
    ag__tcache_put(&c, hmac, 0, &info, gen);               /* ...the stale fill is refused */
    ASSERT_EQ(ag__tcache_get(&c, hmac, 1, &got, &gen), 0);
    ag__tcache_put(&c, hmac, 1, &info, gen); /* a fill with nothing dropped meanwhile */
    ASSERT_EQ(ag__tcache_get(&c, hmac, 2, &got, &gen), 1);
    ag_token_info_clear(&got);
    ag__tcache_free(&c);
}

/* A policy source that counts the references the engine holds. */
struct counting_source {
    const ag_policy *policy;
    int gets, held;
};

static const ag_policy *cs_get(void *ctx, void **ref)
{
    struct counting_source *c = ctx;
    c->gets++;
    c->held++;
    *ref = c;
    return c->policy;
}

static void cs_put(void *ctx, void *ref)
{
    struct counting_source *c = ctx;
    if (ref == c)
        c->held--;
}

/* With a policy source (the daemon's reload), every use of the policy takes a
 * reference and gives it back before the call returns: tier defaults of a role and a
 * login, secret decisions allowed and denied, a child token's policy name. */
AUTH_TEST(policy_source_references_are_held_only_during_a_call)
{
    struct counting_source c = {.policy = fx->policy};
    struct ag_auth_policy_source src = {cs_get, cs_put, &c};
    ag_auth_set_policy(fx->auth, NULL); /* only the source can answer now */
    ag_auth_set_policy_source(fx->auth, &src);
    char role_id[AG_UUID_BUF], sid[AG_UUID_BUF], tok[AG_TOKEN_BUF], kid[AG_TOKEN_BUF];
    afx_role(fx, "src-role", 3, role_id, sid);
    int after_role = c.gets;
    ASSERT_TRUE(after_role > 0);
    afx_login(fx, "src-role2", 3, tok);
    ASSERT_TRUE(c.gets > after_role);
    char root[AG_TOKEN_BUF];
    ASSERT_OK(ag_auth_root_token_create(fx->auth, root, NULL));
    ASSERT_OK(ag_auth_secret_put(fx->auth, root, "services/db", "{\"p\":\"x\"}", -1, NULL));
    int before = c.gets;
    struct ag_secret s;
    ASSERT_OK(ag_auth_secret_get(fx->auth, tok, "services/db", 0, &s));
    ag_secret_clear(&s);
    ASSERT_ERR(ag_auth_secret_put(fx->auth, tok, "services/db", "{\"p\":\"y\"}", -1, NULL),
               AG_EPERM);
    ASSERT_TRUE(c.gets >= before + 2);
    struct ag_token_req req = {.tier = -1, .renewable = 1};
    before = c.gets;
    ASSERT_OK(ag_auth_token_create(fx->auth, tok, &req, kid, NULL));
    ASSERT_TRUE(c.gets > before);
    ASSERT_EQ(c.held, 0);
    ag_auth_set_policy_source(fx->auth, NULL);
    ag_auth_set_policy(fx->auth, fx->policy);
}
