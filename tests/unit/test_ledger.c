/* Ledger: append, chain, concurrency, checkpoints, sensitive values, queries, views. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/crypto.h"
#include "core/jcs.h"
#include "ledger/backend_sqlite.h"
#include "ledger/row.h"
#include "ledger_fixture.h"

/* Collects export rows, one per line, into a 4096-byte buffer. */
static int cb(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    strncat(ctx, row, 4000 - strlen(ctx));
    strncat(ctx, "\n", 4000 - strlen(ctx));
    return 0;
}

TEST(ledger_append_chain_and_verify)
{
    struct fx f;
    fx_init(&f, "basic", 0);
    ag_ledger *l = fx_open(&f);
    int64_t seq;
    char h1[AG_HASH_HEX_LEN], h2[AG_HASH_HEX_LEN], head[AG_HASH_HEX_LEN];
    ASSERT_OK(ag_ledger_head(l, &seq, head));
    ASSERT_EQ(seq, 0);
    ASSERT_STREQ(head, "0000000000000000000000000000000000000000000000000000000000000000");
    struct ag_ledger_entry e = fx_entry("agent-1", "read_file");
    e.data_json = "{\"path\": \"/etc/hosts\", \"n\": [1, 2]}";
    ASSERT_OK(ag_ledger_append(l, &e, &seq, h1));
    ASSERT_EQ(seq, 1);
    ASSERT_OK(ag_ledger_append(l, &e, &seq, h2));
    ASSERT_EQ(seq, 2);
    ASSERT_OK(ag_ledger_head(l, &seq, head));
    ASSERT_EQ(seq, 2);
    ASSERT_STREQ(head, h2);
    f.opts.no_close_checkpoint = 1;
    ag_ledger_close(l);
    /* Stored data is the canonical object; prev_hash links. */
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(f.db, &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "SELECT data, prev_hash FROM ledger WHERE seq = 2", -1, &st, NULL),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "{\"n\":[1,2],\"path\":\"/etc/hosts\"}");
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 1), h1);
    sqlite3_finalize(st);
    sqlite3_close(db);
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.bad_seq, 0);
    /* The close wrote a checkpoint (seq 3) that signs seq 2. */
    ASSERT_EQ(r.entries, 3);
    ASSERT_EQ(r.checkpoints, 1);
    ASSERT_EQ(r.witnessed_seq, 3);
}

TEST(ledger_rejects_bad_entries)
{
    struct fx f;
    fx_init(&f, "bad", 0);
    ag_ledger *l = fx_open(&f);
    struct ag_ledger_entry e = fx_entry("a", "x");
    e.kind = "bogus";
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "unknown kind 'bogus'");
    e.kind = "checkpoint";
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    e = fx_entry("a", "x");
    e.confidence = 1001;
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "confidence 1001");
    e = fx_entry("a", "x");
    e.data_json = "{\"confidence\": 0.5}";
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "floating-point");
    e.data_json = "[1]";
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    e.data_json = "{\"a\":1,\"a\":2}";
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    e.data_json = "{bad";
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    e = fx_entry("a\xff", "x");
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "agent_id");
    int64_t seq;
    ASSERT_OK(ag_ledger_head(l, &seq, NULL));
    ASSERT_EQ(seq, 0);
    ag_ledger_close(l);
}

struct thr {
    ag_ledger *l;
    int n;
    int id;
    int64_t *seqs;
};

static void *appender(void *arg)
{
    struct thr *t = arg;
    char agent[32];
    snprintf(agent, sizeof agent, "agent-%d", t->id);
    for (int i = 0; i < t->n; i++) {
        struct ag_ledger_entry e = fx_entry(agent, "work");
        if (ag_ledger_append(t->l, &e, &t->seqs[i], NULL) != AG_OK)
            t->seqs[i] = -1;
    }
    return NULL;
}

/* Many threads append at once: every acknowledged seq is distinct, the chain is gap-free
 * and linear, and automatic checkpoints are interleaved correctly. */
TEST(ledger_concurrent_group_commit)
{
    enum { THREADS = 16, PER = 50 };
    struct fx f;
    fx_init(&f, "concurrent", 100);
    ag_ledger *l = fx_open(&f);
    pthread_t th[THREADS];
    struct thr t[THREADS];
    static int64_t seqs[THREADS][PER];
    for (int i = 0; i < THREADS; i++) {
        t[i] = (struct thr){.l = l, .n = PER, .id = i, .seqs = seqs[i]};
        pthread_create(&th[i], NULL, appender, &t[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    ag_ledger_close(l);
    static char seen[THREADS * PER * 2];
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < PER; j++) {
            ASSERT_TRUE(seqs[i][j] > 0 && seqs[i][j] < (int64_t)sizeof seen);
            ASSERT_EQ(seen[seqs[i][j]], 0);
            seen[seqs[i][j]] = 1;
        }
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
    /* 800 entries, a checkpoint after every 100 (8) and none extra at close (head was
     * already a checkpoint). */
    ASSERT_EQ(r.checkpoints, 8);
    ASSERT_EQ(r.entries, THREADS * PER + 8);
}

TEST(ledger_checkpoint_explicit_and_at_close)
{
    struct fx f;
    fx_init(&f, "cp", 0);
    ag_ledger *l = fx_open(&f);
    int64_t seq;
    ASSERT_ERR(ag_ledger_checkpoint(l, &seq), AG_ESTATE);
    fx_append(l, "a", "x");
    ASSERT_OK(ag_ledger_checkpoint(l, &seq));
    ASSERT_EQ(seq, 2);
    /* Nothing new: the same checkpoint is returned, no new row. */
    ASSERT_OK(ag_ledger_checkpoint(l, &seq));
    ASSERT_EQ(seq, 2);
    fx_append(l, "a", "y");
    ag_ledger_close(l);
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.entries, 4);
    ASSERT_EQ(r.checkpoints, 2);
    /* Without a signing key there is nothing to sign with. */
    f.opts.signing_key_path = NULL;
    l = fx_open(&f);
    ASSERT_ERR(ag_ledger_checkpoint(l, &seq), AG_EINVAL);
    ag_ledger_close(l);
}

TEST(ledger_sensitive_values_are_hmacs)
{
    struct fx f;
    fx_init(&f, "sensitive", 0);
    ag_ledger *l = fx_open(&f);
    const char *keys[] = {"password", "token", "absent"};
    struct ag_ledger_entry e = fx_entry("a", "login");
    e.data_json = "{\"user\":\"bob\",\"password\":\"hunter2\",\"token\":{\"v\":1}}";
    e.sensitive_keys = keys;
    e.nsensitive = 3;
    ASSERT_OK(ag_ledger_append(l, &e, NULL, NULL));
    char want[AG_HASH_HEX_LEN], got[4096] = "";
    ASSERT_OK(ag_ledger_hmac(l, "hunter2", want));
    /* The stored row holds the HMAC, never the clear value. */
    struct ag_ledger_filter flt = {0};
    ASSERT_OK(ag_ledger_query(l, &flt, cb, got));
    ASSERT_CONTAINS(got, want);
    ASSERT_TRUE(strstr(got, "hunter2") == NULL);
    ASSERT_CONTAINS(got, "\"user\":\"bob\"");
    ASSERT_TRUE(strstr(got, "{\"v\":1}") == NULL);
    ag_ledger_close(l);
    /* No HMAC key: refuse rather than store a sensitive value in the clear. */
    f.opts.hmac_key_path = NULL;
    l = fx_open(&f);
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "no HMAC key");
    ag_ledger_close(l);
}

/* The fast row serialiser equals the generic JCS serialiser over the same object. */
TEST(ledger_row_canonical_matches_generic_jcs)
{
    struct fx f;
    fx_init(&f, "canon", 0);
    ag_ledger *l = fx_open(&f);
    struct ag_ledger_entry e = fx_entry("ag\xc3\xa9nt\n\"q\"", "act\x01");
    e.data_json = "{\"\xef\xac\xb3\":1,\"\xf0\x9f\x98\x80\":2,\"z\":null,\"b\":[true,\"\\u001f\"]}";
    e.reason = "why\t";
    ASSERT_OK(ag_ledger_append(l, &e, NULL, NULL));
    char rows[4096] = "";
    ASSERT_OK(ag_ledger_query(l, NULL, cb, rows));
    ag_ledger_close(l);
    *strchr(rows, '\n') = '\0';
    json_t *j = json_loads(rows, 0, NULL);
    ASSERT_TRUE(j != NULL);
    char *again = NULL;
    ASSERT_OK(ag__jcs_dump(j, AG_JCS_NO_FLOATS, &again));
    ASSERT_STREQ(again, rows);
    /* And hash = SHA-256 of the same object without "hash". */
    char stored[AG_HASH_HEX_LEN], calc[AG_HASH_HEX_LEN];
    snprintf(stored, sizeof stored, "%s", json_string_value(json_object_get(j, "hash")));
    json_object_del(j, "hash");
    free(again);
    ASSERT_OK(ag__jcs_dump(j, AG_JCS_NO_FLOATS, &again));
    ag__sha256_hex(again, strlen(again), calc);
    ASSERT_STREQ(calc, stored);
    free(again);
    json_decref(j);
}

static int count_cb(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    (void)row;
    ++*(int *)ctx;
    return 0;
}

TEST(ledger_query_filters)
{
    struct fx f;
    fx_init(&f, "query", 0);
    f.opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(&f);
    for (int i = 0; i < 10; i++) {
        struct ag_ledger_entry e = fx_entry(i % 2 ? "odd" : "even", "x");
        e.task_id = i < 3 ? "t1" : "t2";
        ASSERT_OK(ag_ledger_append(l, &e, NULL, NULL));
    }
    int n = 0;
    struct ag_ledger_filter flt = {.agent_id = "odd"};
    ASSERT_OK(ag_ledger_query(l, &flt, count_cb, &n));
    ASSERT_EQ(n, 5);
    n = 0;
    flt = (struct ag_ledger_filter){.task_id = "t1", .agent_id = "even"};
    ASSERT_OK(ag_ledger_query(l, &flt, count_cb, &n));
    ASSERT_EQ(n, 2);
    n = 0;
    flt = (struct ag_ledger_filter){.after_seq = 7, .limit = 2};
    ASSERT_OK(ag_ledger_query(l, &flt, count_cb, &n));
    ASSERT_EQ(n, 2);
    n = 0;
    flt = (struct ag_ledger_filter){.since_ms = 1, .until_ms = 2};
    ASSERT_OK(ag_ledger_query(l, &flt, count_cb, &n));
    ASSERT_EQ(n, 0);
    n = 0;
    flt = (struct ag_ledger_filter){.kind = "action", .limit = 3, .descending = 1};
    ASSERT_OK(ag_ledger_query(l, &flt, count_cb, &n));
    ASSERT_EQ(n, 3);
    ag_ledger_close(l);
}

/* The seed's tables answer the seed's queries. */
TEST(ledger_seed_views)
{
    struct fx f;
    fx_init(&f, "views", 0);
    f.opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(&f);
    struct ag_ledger_entry e = fx_entry("alpha", "read");
    ASSERT_OK(ag_ledger_append(l, &e, NULL, NULL));
    const int exits[] = {1, 0, 1, 1, 1};
    for (size_t i = 0; i < 5; i++) {
        struct ag_ledger_entry x = {.kind = "lifecycle",
                                    .agent_id = "alpha",
                                    .tier = 0,
                                    .phase = "EXIT",
                                    .success = exits[i],
                                    .confidence = -1};
        ASSERT_OK(ag_ledger_append(l, &x, NULL, NULL));
    }
    struct ag_ledger_entry v = {.kind = "violation",
                                .agent_id = "alpha",
                                .tier = 0,
                                .error_type = "procedure",
                                .reason = "EXECUTE in PLAN",
                                .confidence = -1,
                                .success = -1};
    ASSERT_OK(ag_ledger_append(l, &v, NULL, NULL));
    struct ag_ledger_entry p = {.kind = "promotion",
                                .agent_id = "alpha",
                                .tier = 1,
                                .reason = "3 consecutive compliant runs",
                                .data_json = "{\"from_tier\":0,\"to_tier\":1}",
                                .confidence = -1,
                                .success = -1};
    ASSERT_OK(ag_ledger_append(l, &p, NULL, NULL));
    ag_ledger_close(l);
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(f.db, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT id, agent_id, tier, action, decision, confidence,"
                                 " success FROM agent_actions",
                                 -1, &st, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int(st, 0), 1);
    ASSERT_TRUE(sqlite3_column_double(st, 5) == 0.875);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT current_tier, total_runs, compliant_runs, "
                                 "consecutive_compliant, last_active_at FROM agent_metrics"
                                 " WHERE agent_id = 'alpha'",
                                 -1, &st, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int(st, 0), 1);
    ASSERT_EQ(sqlite3_column_int(st, 1), 5);
    ASSERT_EQ(sqlite3_column_int(st, 2), 4);
    ASSERT_EQ(sqlite3_column_int(st, 3), 0); /* reset by the promotion */
    ASSERT_TRUE(sqlite3_column_text(st, 4) != NULL);
    sqlite3_finalize(st);
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "SELECT violation_type, details FROM violations", -1, &st, NULL),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "procedure");
    sqlite3_finalize(st);
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT from_tier, to_tier FROM promotions", -1, &st, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int(st, 0), 0);
    ASSERT_EQ(sqlite3_column_int(st, 1), 1);
    sqlite3_finalize(st);
    /* Append-only: the table refuses UPDATE and DELETE. */
    ASSERT_EQ(sqlite3_exec(db, "DELETE FROM ledger WHERE seq = 1", NULL, NULL, NULL),
              SQLITE_CONSTRAINT);
    sqlite3_close(db);
}

TEST(ledger_read_only_handle_refuses_appends)
{
    struct fx f;
    fx_init(&f, "ro", 0);
    ag_ledger *l = fx_open(&f);
    fx_append(l, "a", "x");
    ag_ledger_close(l);
    f.opts.read_only = 1;
    l = fx_open(&f);
    struct ag_ledger_entry e = fx_entry("a", "x");
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EREADONLY);
    int64_t seq;
    ASSERT_OK(ag_ledger_head(l, &seq, NULL));
    ASSERT_EQ(seq, 2);
    ag_ledger_close(l);
    ag_ledger *none = NULL;
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof missing, "%s/nope.db", f.dir);
    ASSERT_ERR(ag_ledger_open(missing, &f.opts, &none), AG_ENOTFOUND);
    ASSERT_ERR(ag_ledger_open("postgres://x/y", NULL, &none), AG_EUNSUPPORTED);
}

/* The plan SQLite picks for the SELECT of a filter, as one line per step. */
static void query_plan(const char *db, const struct ag_ledger_filter *flt, char *out, size_t n)
{
    struct ag_buf sql;
    ag__buf_init(&sql);
    ag__buf_puts(&sql, "EXPLAIN QUERY PLAN ");
    ag__ledger_sqlite_filter_sql(&sql, flt);
    sqlite3 *h;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(db, &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(h, sql.data, -1, &st, NULL), SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        strncat(out, (const char *)sqlite3_column_text(st, 3), n - strlen(out) - 2);
        strncat(out, "\n", n - strlen(out) - 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    ag__buf_free(&sql);
}

/* An agent's metrics read its lifecycle, revocation and promotion rows through partial
 * indexes, not by walking its decisions; a version-1 ledger gains them when a writer
 * opens it; other kinds still go through the kind index with a bound value. */
TEST(ledger_agent_kind_queries_use_partial_indexes)
{
    struct fx f;
    fx_init(&f, "partial", 0);
    f.opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(&f);
    fx_append(l, "alpha", "read");
    struct ag_ledger_entry x = {.kind = "lifecycle",
                                .agent_id = "alpha",
                                .tier = 0,
                                .phase = "EXIT",
                                .success = 1,
                                .confidence = -1};
    ASSERT_OK(ag_ledger_append(l, &x, NULL, NULL));
    ag_ledger_close(l);
    char plan[2048];
    const char *kinds[] = {"lifecycle", "revocation", "promotion"};
    for (size_t i = 0; i < 3; i++) {
        struct ag_ledger_filter flt = {.agent_id = "alpha", .kind = kinds[i]};
        query_plan(f.db, &flt, plan, sizeof plan);
        char want[64];
        snprintf(want, sizeof want, "USING INDEX ledger_agent_%s", kinds[i]);
        ASSERT_CONTAINS(plan, want);
    }
    struct ag_ledger_filter other = {.agent_id = "alpha", .kind = "decision"};
    query_plan(f.db, &other, plan, sizeof plan);
    ASSERT_FALSE(strstr(plan, "ledger_agent_") != NULL);
    /* The same query through the API finds the row. */
    l = fx_open(&f);
    char rows[4096] = "";
    struct ag_ledger_filter lf = {.agent_id = "alpha", .kind = "lifecycle"};
    ASSERT_OK(ag_ledger_query(l, &lf, cb, rows));
    ASSERT_CONTAINS(rows, "\"phase\":\"EXIT\"");
    ag_ledger_close(l);
    /* A version-1 file: no partial indexes; the next writer adds them. */
    fx_sql(f.db, "DROP INDEX ledger_agent_lifecycle; DROP INDEX ledger_agent_revocation; "
                 "DROP INDEX ledger_agent_promotion; PRAGMA user_version = 1");
    l = fx_open(&f);
    ag_ledger_close(l);
    struct ag_ledger_filter lf2 = {.agent_id = "alpha", .kind = "lifecycle"};
    query_plan(f.db, &lf2, plan, sizeof plan);
    ASSERT_CONTAINS(plan, "USING INDEX ledger_agent_lifecycle");
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
}

/* A callback that runs queries of its own, of more shapes than the statement cache
 * holds, while the outer query's statement is still running: the outer query must
 * see all its rows (its statement is neither reused nor evicted under it). */
struct nested {
    ag_ledger *l;
    int outer, inner;
};

static int nested_cb(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    (void)row;
    struct nested *n = ctx;
    n->outer++;
    /* 12 shapes: no kind, a bound kind, a literal (indexed) kind; limit or not;
     * ascending or descending. */
    const char *kinds[] = {NULL, "action", "lifecycle", "violation"};
    for (int k = 0; k < 4; k++)
        for (int lim = 0; lim < 2; lim++)
            for (int desc = 0; desc < 2; desc++) {
                struct ag_ledger_filter f = {
                    .agent_id = "alpha", .kind = kinds[k], .limit = lim, .descending = desc};
                if (ag_ledger_query(n->l, &f, count_cb, &n->inner) != AG_OK)
                    return 1;
            }
    return 0;
}

TEST(ledger_queries_nested_in_a_callback)
{
    struct fx f;
    fx_init(&f, "nested", 0);
    f.opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(&f);
    for (int i = 0; i < 5; i++)
        fx_append(l, "alpha", "read");
    struct nested n = {.l = l};
    struct ag_ledger_filter outer = {.agent_id = "alpha"};
    ASSERT_OK(ag_ledger_query(l, &outer, nested_cb, &n));
    ASSERT_EQ(n.outer, 5);
    /* Per outer row: no kind and kind action each give 5 + 1 rows in both directions,
     * lifecycle and violation none: 24. */
    ASSERT_EQ(n.inner, 5 * 24);
    ag_ledger_close(l);
}

/* A process that appends once and exits (a hook) keeps the WAL, but the WAL must stay
 * short: the next process reads all of it. 300 such processes in a row: the WAL starts
 * over once it holds 48 frames, so it never holds 80, the chain is whole, and a second
 * handle sees the head (the reader connection is opened at its first read). */
TEST(ledger_keep_wal_stays_bounded)
{
    struct fx f;
    fx_init(&f, "keepwal", 0);
    f.opts.keep_wal = 1;
    f.opts.no_close_checkpoint = 1;
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", f.db);
    off_t largest = 0;
    for (int i = 0; i < 300; i++) {
        ag_ledger *l = fx_open(&f);
        fx_append(l, "hook", "Bash");
        ag_ledger_close(l);
        struct stat st;
        ASSERT_EQ(stat(wal, &st), 0);
        if (st.st_size > largest)
            largest = st.st_size;
    }
    ASSERT_TRUE(largest < 80 * (4096 + 24) + 32);
    ag_ledger *l = fx_open(&f);
    int64_t seq;
    ASSERT_OK(ag_ledger_head(l, &seq, NULL));
    ASSERT_EQ(seq, 300);
    ag_ledger_close(l);
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.entries, 300);
}

/* A keep_wal handle that stays open (the hook helper) bounds its WAL with ag_ledger_tidy
 * between appends: with it the WAL never holds 80 frames over 300 appends; without it
 * the same appends leave it far longer. */
static off_t largest_wal_of_300(const char *name, int tidy)
{
    struct fx f;
    fx_init(&f, name, 0);
    f.opts.keep_wal = 1;
    f.opts.no_close_checkpoint = 1;
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", f.db);
    off_t largest = 0;
    ag_ledger *l = fx_open(&f);
    for (int i = 0; i < 300; i++) {
        fx_append(l, "helper", "Bash");
        if (tidy)
            ag_ledger_tidy(l);
        struct stat st;
        if (stat(wal, &st) == 0 && st.st_size > largest)
            largest = st.st_size;
    }
    ag_ledger_close(l);
    struct ag_verify_result r = fx_verify(&f);
    return r.ok && r.entries == 300 ? largest : -1;
}

TEST(ledger_tidy_bounds_the_wal_of_an_open_handle)
{
    off_t with = largest_wal_of_300("tidy", 1), without = largest_wal_of_300("untidy", 0);
    ASSERT_TRUE(with > 0 && without > 0);
    ASSERT_TRUE(with < 80 * (4096 + 24) + 32);
    ASSERT_TRUE(without > 200 * (4096 + 24));
}

struct tidy_race {
    ag_ledger *l;
    atomic_int appenders_left;
    int failed;
};

static void *race_append(void *arg)
{
    struct tidy_race *r = arg;
    for (int i = 0; i < 100; i++) {
        struct ag_ledger_entry e = {.kind = "action",
                                    .agent_id = "racer",
                                    .action = "Bash",
                                    .confidence = -1,
                                    .success = -1,
                                    .tier = -1};
        if (ag_ledger_append(r->l, &e, NULL, NULL) != AG_OK)
            r->failed = 1;
    }
    atomic_fetch_sub(&r->appenders_left, 1);
    return NULL;
}

static void *race_tidy(void *arg)
{
    struct tidy_race *r = arg;
    while (atomic_load(&r->appenders_left) > 0)
        ag_ledger_tidy(r->l);
    return NULL;
}

/* Tidying while other threads append: every append is committed, none waits forever,
 * and the chain is whole. */
TEST(ledger_tidy_while_appending)
{
    struct fx f;
    fx_init(&f, "tidyrace", 0);
    f.opts.keep_wal = 1;
    f.opts.no_close_checkpoint = 1;
    struct tidy_race r = {.l = fx_open(&f)};
    atomic_init(&r.appenders_left, 4);
    pthread_t t[5];
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, race_append, &r), 0);
    ASSERT_EQ(pthread_create(&t[4], NULL, race_tidy, &r), 0);
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
    ASSERT_EQ(r.failed, 0);
    ag_ledger_close(r.l);
    struct ag_verify_result v = fx_verify(&f);
    ASSERT_EQ(v.ok, 1);
    ASSERT_EQ(v.entries, 400);
}

/* An empty file (a writer killed before creating the schema) is an empty ledger; a
 * database of something else is refused rather than reported as a clean ledger. */
TEST(ledger_verify_empty_and_foreign_databases)
{
    struct fx f;
    fx_init(&f, "foreign", 0);
    fx_sql(f.db, "PRAGMA user_version = 0"); /* creates an empty database file */
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.entries, 0);
    fx_sql(f.db, "CREATE TABLE other(x)");
    ASSERT_ERR(ag_ledger_verify(f.db, f.pk, &r), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), "not a ledger database");
}

/* The observer (ag_ledger_set_observer) hears of every committed entry, single or in a
 * batch, with its seq, on the appending thread before the append returns; of refused
 * entries it hears nothing; cleared, it hears nothing more. */
struct seen {
    int n;
    int64_t seq[8];
    char action[8][32];
};

static void observe(void *ctx, int64_t seq, const struct ag_ledger_entry *e)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        s->seq[s->n] = seq;
        snprintf(s->action[s->n], sizeof s->action[0], "%s", e->action ? e->action : "");
    }
    s->n++;
}

TEST(ledger_observer_hears_each_committed_entry)
{
    struct fx f;
    fx_init(&f, "observer", 0);
    ag_ledger *l = fx_open(&f);
    struct seen s = {0};
    ag_ledger_set_observer(l, observe, &s);
    struct ag_ledger_entry a = {
        .kind = "decision", .tier = -1, .action = "one", .confidence = -1, .success = -1};
    int64_t seq = 0;
    ASSERT_OK(ag_ledger_append(l, &a, &seq, NULL));
    ASSERT_EQ(s.n, 1); /* before the append returned */
    ASSERT_EQ(s.seq[0], seq);
    ASSERT_STREQ(s.action[0], "one");
    struct ag_ledger_entry b = a, c = a;
    b.action = "two";
    c.action = "three";
    const struct ag_ledger_entry *batch[2] = {&b, &c};
    int64_t seqs[2];
    ASSERT_OK(ag_ledger_append_batch(l, batch, 2, seqs));
    ASSERT_EQ(s.n, 3);
    ASSERT_EQ(s.seq[1], seqs[0]);
    ASSERT_EQ(s.seq[2], seqs[1]);
    ASSERT_STREQ(s.action[2], "three");
    struct ag_ledger_entry bad = a;
    bad.kind = "no-such-kind";
    ASSERT_ERR(ag_ledger_append(l, &bad, NULL, NULL), AG_EINVAL);
    ASSERT_EQ(s.n, 3);
    ag_ledger_set_observer(l, NULL, NULL);
    ASSERT_OK(ag_ledger_append(l, &a, NULL, NULL));
    ASSERT_EQ(s.n, 3);
    ag_ledger_close(l);
}
