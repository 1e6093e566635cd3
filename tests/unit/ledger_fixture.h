/* Shared set-up for the ledger tests: a fresh directory with a key pair and an HMAC
 * key, and a ledger opened on it. Ownership: the fixture's paths live in the struct;
 * the caller closes the ledger. Header-only so that it is linked only into the ledger
 * tests. */
#ifndef AG_TEST_LEDGER_FIXTURE_H
#define AG_TEST_LEDGER_FIXTURE_H

#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>

#include "agentgov/ledger.h"
#include "ledger/keys.h"
#include "test.h"

struct fx {
    char dir[1024], db[PATH_MAX], sk[PATH_MAX], pk[PATH_MAX], hmac[PATH_MAX];
    struct ag_ledger_opts opts;
};

static inline void fx_init(struct fx *f, const char *label, int checkpoint_every)
{
    snprintf(f->dir, sizeof f->dir, "%s", ag_test_fresh_dir(label));
    snprintf(f->db, sizeof f->db, "%s/ledger.db", f->dir);
    snprintf(f->sk, sizeof f->sk, "%s/ledger.key", f->dir);
    snprintf(f->pk, sizeof f->pk, "%s/ledger.pub", f->dir);
    snprintf(f->hmac, sizeof f->hmac, "%s/ledger.hmac", f->dir);
    ASSERT_OK(ag__ledger_keygen(f->sk, f->pk));
    ASSERT_OK(ag__ledger_hmac_keygen(f->hmac));
    struct ag_ledger_opts o = {
        .signing_key_path = f->sk, .hmac_key_path = f->hmac, .checkpoint_every = checkpoint_every};
    f->opts = o;
}

static inline ag_ledger *fx_open(struct fx *f)
{
    ag_ledger *l = NULL;
    ASSERT_OK(ag_ledger_open(f->db, &f->opts, &l));
    return l;
}

/* A plain action entry for agent a. */
static inline struct ag_ledger_entry fx_entry(const char *agent, const char *action)
{
    struct ag_ledger_entry e = {.kind = "action",
                                .agent_id = agent,
                                .action = action,
                                .tier = 1,
                                .confidence = 875,
                                .success = 1,
                                .decision = "allow"};
    return e;
}

static inline int64_t fx_append(ag_ledger *l, const char *agent, const char *action)
{
    struct ag_ledger_entry e = fx_entry(agent, action);
    int64_t seq = 0;
    ASSERT_OK(ag_ledger_append(l, &e, &seq, NULL));
    return seq;
}

/* Runs SQL on the database behind the ledger's back (the tamper tests' attacker). */
static inline void fx_sql(const char *db, const char *sql)
{
    sqlite3 *h;
    ASSERT_EQ(sqlite3_open(db, &h), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        ag_test_fail(__FILE__, __LINE__, "%s: %s", sql, msg ? msg : "?");
    sqlite3_close(h);
}

static inline struct ag_verify_result fx_verify(struct fx *f)
{
    struct ag_verify_result r;
    ASSERT_OK(ag_ledger_verify(f->db, f->pk, &r));
    return r;
}

#endif
