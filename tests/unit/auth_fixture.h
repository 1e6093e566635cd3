/* Shared set-up for the auth tests: a fresh directory with a real ledger, a real store
 * (SQLite file or the redis fixture), a test policy and an auth handle with an injected
 * clock. Ownership: the fixture owns everything it opens; afx_close releases it.
 * Header-only so that it is linked only into the auth tests.
 *
 *   AUTH_TEST(name) { struct afx *f = fx; ... }   runs the body on both backends. */
#ifndef AG_TEST_AUTH_FIXTURE_H
#define AG_TEST_AUTH_FIXTURE_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/auth.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "agentgov/store.h"
#include "auth/auth.h"
#include "core/crypto.h"
#include "ledger/keys.h"
#include "redis_fixture.h"
#include "test.h"

/* Tiers as the seed gives them; secrets readable by tier through the policy. */
static const char afx_policy_yaml[] = "version: 1\n"
                                      "tiers:\n"
                                      "  0: {name: Observer, token_ttl: 1h, max_ttl: 4h}\n"
                                      "  1: {name: Operator, token_ttl: 30m, max_ttl: 2h}\n"
                                      "  2: {name: Builder, token_ttl: 30m, max_ttl: 2h}\n"
                                      "  3: {name: Executor, token_ttl: 15m, max_ttl: 1h}\n"
                                      "  4: {name: Architect, token_ttl: 15m, max_ttl: 1h}\n"
                                      "rules:\n"
                                      "  - id: secret-sandbox\n"
                                      "    effect: allow\n"
                                      "    actions: [secret.read]\n"
                                      "    resources: [secret/sandbox/**]\n"
                                      "    min_tier: 1\n"
                                      "  - id: secret-services\n"
                                      "    effect: allow\n"
                                      "    actions: [secret.read]\n"
                                      "    resources: [secret/services/**]\n"
                                      "    min_tier: 3\n"
                                      "  - id: secret-sandbox-write\n"
                                      "    effect: allow\n"
                                      "    actions: [secret.write]\n"
                                      "    resources: [secret/sandbox/**]\n"
                                      "    min_tier: 2\n";

#define T0  1795000000000LL /* 2026-11-18: an arbitrary fixed wall-clock start */
#define MIN (60 * 1000LL)

struct afx_clock {
    int64_t wall;
    int64_t mono;
};

static inline int64_t afx_wall(void *ctx)
{
    return ((struct afx_clock *)ctx)->wall;
}

static inline int64_t afx_mono(void *ctx)
{
    return ((struct afx_clock *)ctx)->mono;
}

struct afx {
    char dir[1024];
    char url[PATH_MAX + 16];
    char ledger_path[PATH_MAX];
    int redis;
    uint8_t master[AG_AUTH_KEY_LEN];
    struct ag_ledger_opts lopts;
    char sk[PATH_MAX], pk[PATH_MAX], hmac[PATH_MAX];
    ag_store *store;
    ag_ledger *ledger;
    ag_policy *policy;
    ag_auth *auth;
    struct afx_clock clk;
    char root[AG_TOKEN_BUF];
};

/* Opens another auth handle on the fixture's store (another "process"). */
static inline ag_auth *afx_handle(struct afx *f, const uint8_t *master, int64_t cache_ttl)
{
    struct ag_auth_opts o = {.store = f->store,
                             .ledger = f->ledger,
                             .policy = f->policy,
                             .master_key = master,
                             .cache_ttl_ms = cache_ttl};
    ag_auth *a = NULL;
    ASSERT_OK(ag_auth_new(&o, &a));
    ag__auth_set_clock(a, afx_wall, afx_mono, &f->clk);
    return a;
}

static inline void afx_open(struct afx *f, const char *label, int redis)
{
    memset(f, 0, sizeof *f);
    ASSERT_OK(ag__crypto_init());
    snprintf(f->dir, sizeof f->dir, "%s", ag_test_fresh_dir(label));
    f->redis = redis;
    if (redis) {
        const char *u = ag_test_redis_url();
        ASSERT_TRUE(u != NULL);
        ag_test_redis_flush();
        snprintf(f->url, sizeof f->url, "%s", u);
    } else
        snprintf(f->url, sizeof f->url, "sqlite:%s/state.db", f->dir);
    ASSERT_OK(ag_store_open(f->url, &f->store));
    snprintf(f->ledger_path, sizeof f->ledger_path, "%s/ledger.db", f->dir);
    snprintf(f->sk, sizeof f->sk, "%s/ledger.key", f->dir);
    snprintf(f->pk, sizeof f->pk, "%s/ledger.pub", f->dir);
    snprintf(f->hmac, sizeof f->hmac, "%s/ledger.hmac", f->dir);
    ASSERT_OK(ag__ledger_keygen(f->sk, f->pk));
    ASSERT_OK(ag__ledger_hmac_keygen(f->hmac));
    f->lopts = (struct ag_ledger_opts){.signing_key_path = f->sk, .hmac_key_path = f->hmac};
    ASSERT_OK(ag_ledger_open(f->ledger_path, &f->lopts, &f->ledger));
    ASSERT_OK(ag_policy_load_string("test-policy.yaml", afx_policy_yaml, strlen(afx_policy_yaml),
                                    &f->policy));
    ag__random(f->master, sizeof f->master);
    f->clk.wall = T0;
    f->clk.mono = 1000;
    f->auth = afx_handle(f, f->master, 0);
    ASSERT_OK(ag_auth_root_token_create(f->auth, f->root, NULL));
}

static inline void afx_close(struct afx *f)
{
    ag_auth_free(f->auth);
    ag_policy_free(f->policy);
    ag_ledger_close(f->ledger);
    ag_store_free(f->store);
    f->auth = NULL;
    f->policy = NULL;
    f->ledger = NULL;
    f->store = NULL;
}

/* Advances both clocks by ms. */
static inline void afx_advance(struct afx *f, int64_t ms)
{
    f->clk.wall += ms;
    f->clk.mono += ms;
}

/* Creates a role at a tier and returns its role_id and a fresh secret_id. */
static inline void afx_role(struct afx *f, const char *name, int tier, char role_id[AG_UUID_BUF],
                            char secret_id[AG_UUID_BUF])
{
    struct ag_role r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", name);
    r.tier = tier;
    ASSERT_OK(ag_auth_role_write(f->auth, &r));
    snprintf(role_id, AG_UUID_BUF, "%s", r.role_id);
    ASSERT_OK(ag_auth_secret_id_create(f->auth, name, -1, -1, secret_id, NULL));
}

/* Logs in as a new role at tier; token into tok. */
static inline void afx_login(struct afx *f, const char *name, int tier, char tok[AG_TOKEN_BUF])
{
    char rid[AG_UUID_BUF], sid[AG_UUID_BUF];
    afx_role(f, name, tier, rid, sid);
    ASSERT_OK(ag_auth_login(f->auth, rid, sid, NULL, tok, NULL));
}

/* Counts ledger rows matching kind (and decision when non-NULL). */
struct afx_count {
    const char *needle;
    int n;
};

static inline int afx_count_cb(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    struct afx_count *c = ctx;
    if (!c->needle || strstr(row, c->needle))
        c->n++;
    return 0;
}

static inline int afx_ledger_count(struct afx *f, const char *kind, const char *needle)
{
    struct ag_ledger_filter flt = {.kind = kind};
    struct afx_count c = {needle, 0};
    ASSERT_OK(ag_ledger_query(f->ledger, &flt, afx_count_cb, &c));
    return c.n;
}

/* Runs one body on the embedded store and on Redis. */
#define AUTH_TEST(name)                                                                            \
    static void name##_body(struct afx *fx);                                                       \
    TEST(name##_sqlite)                                                                            \
    {                                                                                              \
        struct afx f;                                                                              \
        afx_open(&f, #name, 0);                                                                    \
        name##_body(&f);                                                                           \
        afx_close(&f);                                                                             \
    }                                                                                              \
    TEST(name##_redis)                                                                             \
    {                                                                                              \
        struct afx f;                                                                              \
        afx_open(&f, #name, 1);                                                                    \
        name##_body(&f);                                                                           \
        afx_close(&f);                                                                             \
    }                                                                                              \
    static void name##_body(struct afx *fx)

#endif
