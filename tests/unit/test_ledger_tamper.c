/* Tamper evidence: every kind of change an attacker with write access to the database
 * (but not to the signing key) can make is detected at the right seq, and untouched
 * ledgers are never flagged. The attacker works with plain SQLite and, where it helps
 * him, with the ledger's own hashing code to forge a consistent chain. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto.h"
#include "ledger/backend_sqlite.h"
#include "ledger/keys.h"
#include "ledger/row.h"
#include "ledger_fixture.h"

/* 30 entries with every column set; a checkpoint after every 10 gives rows 1-10,
 * checkpoint 11, 12-21, checkpoint 22, 23-32, checkpoint 33. */
static void build(struct fx *f)
{
    fx_init(f, "tamper", 10);
    f->opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(f);
    for (int i = 0; i < 30; i++) {
        char agent[16], data[64];
        snprintf(agent, sizeof agent, "agent-%d", i % 3);
        snprintf(data, sizeof data, "{\"i\":%d,\"path\":\"/srv/%d\"}", i, i);
        struct ag_ledger_entry e = {.kind = "action",
                                    .agent_id = agent,
                                    .agent_version = "1.0",
                                    .task_id = "task-1",
                                    .tier = 2,
                                    .phase = "EXECUTE",
                                    .action = "write_file",
                                    .resource = "/srv",
                                    .decision = "allow",
                                    .reason = "in scope",
                                    .confidence = 900,
                                    .success = 1,
                                    .error_type = "none",
                                    .error_message = "none",
                                    .data_json = data};
        ASSERT_OK(ag_ledger_append(l, &e, NULL, NULL));
    }
    ag_ledger_close(l);
    fx_sql(f->db, "DROP TRIGGER ledger_no_update; DROP TRIGGER ledger_no_delete;");
}

static void expect_bad(struct fx *f, int64_t seq, const char *problem, int line)
{
    struct ag_verify_result r;
    ag_err err = ag_ledger_verify(f->db, f->pk, &r);
    if (err != AG_OK)
        ag_test_fail(__FILE__, line, "verify could not run: %s", ag_last_error());
    if (r.ok || r.bad_seq != seq || strstr(r.problem, problem) == NULL)
        ag_test_fail(__FILE__, line, "expected bad seq %lld (%s), got ok=%d seq %lld: %s",
                     (long long)seq, problem, r.ok, (long long)r.bad_seq, r.problem);
}
#define EXPECT_BAD(f, seq, problem) expect_bad(f, seq, problem, __LINE__)

/* Puts back what build() dropped (the append-only triggers), as an attacker covering
 * his tracks would: verify's schema check then finds nothing missing. */
static void restore_schema(struct fx *f)
{
    fx_sql(f->db, ag__ledger_sqlite_schema);
}

static struct ag_verify_result verify_ok(struct fx *f)
{
    restore_schema(f);
    struct ag_verify_result r = fx_verify(f);
    if (!r.ok)
        ag_test_fail(__FILE__, __LINE__, "untouched ledger flagged at %lld: %s",
                     (long long)r.bad_seq, r.problem);
    return r;
}

TEST(tamper_untouched_ledger_verifies)
{
    struct fx f;
    build(&f);
    struct ag_verify_result r = verify_ok(&f);
    ASSERT_EQ(r.entries, 33);
    ASSERT_EQ(r.checkpoints, 3);
    ASSERT_EQ(r.witnessed_seq, 33);
    ASSERT_EQ(r.newest_checkpoint, 33);
    ASSERT_EQ(r.bad_seq, 0);
}

/* One changed byte (or integer) in any column of row 7. */
TEST(tamper_byte_changed_in_every_column)
{
    static const char *const cols[] = {"ts",       "kind",      "agent_id",   "agent_version",
                                       "task_id",  "phase",     "action",     "resource",
                                       "decision", "reason",    "error_type", "error_message",
                                       "data",     "prev_hash", "hash"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        struct fx f;
        build(&f);
        char sql[512];
        /* Flip the low bit of the column's last character. */
        snprintf(sql, sizeof sql,
                 "UPDATE ledger SET %s = substr(%s, 1, length(%s) - 1) || "
                 "char((unicode(substr(%s, -1)) | 1) - (unicode(substr(%s, -1)) & 1)) "
                 "WHERE seq = 7",
                 cols[i], cols[i], cols[i], cols[i], cols[i]);
        fx_sql(f.db, sql);
        EXPECT_BAD(&f, 7, "hash mismatch");
    }
    static const char *const ints[] = {"tier", "confidence", "success"};
    for (size_t i = 0; i < 3; i++) {
        struct fx f;
        build(&f);
        char sql[256];
        snprintf(sql, sizeof sql, "UPDATE ledger SET %s = %s - 1 WHERE seq = 7", ints[i], ints[i]);
        fx_sql(f.db, sql);
        EXPECT_BAD(&f, 7, "hash mismatch");
    }
    /* The same bytes stored as a different SQL type are a change too. */
    struct fx f;
    build(&f);
    fx_sql(f.db, "UPDATE ledger SET agent_id = CAST(agent_id AS BLOB) WHERE seq = 7");
    EXPECT_BAD(&f, 7, "BLOB");
    build(&f);
    fx_sql(f.db, "UPDATE ledger SET confidence = 0.9 WHERE seq = 7");
    EXPECT_BAD(&f, 7, "REAL");
    /* seq itself: row 7 renumbered past the end leaves a gap at 7. */
    build(&f);
    fx_sql(f.db, "UPDATE ledger SET seq = 100 WHERE seq = 7");
    EXPECT_BAD(&f, 7, "gap");
}

TEST(tamper_deleted_row_is_a_gap)
{
    struct fx f;
    build(&f);
    fx_sql(f.db, "DELETE FROM ledger WHERE seq = 15");
    EXPECT_BAD(&f, 15, "gap: seq 15 is missing");
    build(&f);
    fx_sql(f.db, "DELETE FROM ledger WHERE seq = 1");
    EXPECT_BAD(&f, 1, "gap");
}

TEST(tamper_two_rows_swapped)
{
    struct fx f;
    build(&f);
    /* Swap every column but seq between rows 5 and 6. */
    fx_sql(f.db, "CREATE TEMP TABLE t AS SELECT * FROM ledger WHERE seq IN (5, 6);"
                 "UPDATE ledger SET (ts, kind, agent_id, action, data, prev_hash, hash) = "
                 "(SELECT ts, kind, agent_id, action, data, prev_hash, hash FROM t "
                 " WHERE t.seq = 11 - ledger.seq) WHERE seq IN (5, 6);");
    EXPECT_BAD(&f, 5, "hash mismatch");
}

/* Attacker's tools: read a row, recompute the chain from a seq on (optionally
 * re-signing checkpoints with his own key), as someone with the code but not the key
 * would. */
struct rowbuf {
    struct ag__ledger_row row;
    char *text[AG__COL_COUNT];
};

static void load_row(sqlite3_stmt *st, struct rowbuf *b)
{
    ag__row_clear(&b->row);
    for (int c = 0; c < AG__COL_COUNT; c++) {
        b->text[c] = NULL;
        if (sqlite3_column_type(st, c) == SQLITE_INTEGER) {
            ag__row_int(&b->row, (enum ag__col)c, sqlite3_column_int64(st, c));
        } else if (sqlite3_column_type(st, c) == SQLITE_TEXT) {
            b->text[c] = strdup((const char *)sqlite3_column_text(st, c));
            ag__row_text(&b->row, (enum ag__col)c, b->text[c]);
        }
    }
}

static void free_row(struct rowbuf *b)
{
    for (int c = 0; c < AG__COL_COUNT; c++)
        free(b->text[c]);
}

static void rechain(const char *db, int64_t from, const uint8_t *resign_sk)
{
    sqlite3 *h;
    ASSERT_EQ(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *sel, *upd, *prev;
    ASSERT_EQ(
        sqlite3_prepare_v2(h, "SELECT * FROM ledger WHERE seq >= ? ORDER BY seq", -1, &sel, NULL),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(h,
                                 "UPDATE ledger SET prev_hash = ?, hash = ?, data = ? "
                                 "WHERE seq = ?",
                                 -1, &upd, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT hash FROM ledger WHERE seq = ?", -1, &prev, NULL),
              SQLITE_OK);
    char ph[AG_HASH_HEX_LEN] = "0000000000000000000000000000000000000000000000000000000000000000";
    sqlite3_bind_int64(prev, 1, from - 1);
    if (from > 1) {
        ASSERT_EQ(sqlite3_step(prev), SQLITE_ROW);
        snprintf(ph, sizeof ph, "%s", sqlite3_column_text(prev, 0));
    }
    sqlite3_finalize(prev);
    sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
    sqlite3_bind_int64(sel, 1, from);
    struct ag_buf scratch;
    ag__buf_init(&scratch);
    while (sqlite3_step(sel) == SQLITE_ROW) {
        struct rowbuf b;
        load_row(sel, &b);
        char data[512];
        int64_t seq = b.row.v[AG__COL_SEQ].i;
        ag__row_text(&b.row, AG__COL_PREV_HASH, ph);
        if (resign_sk && b.text[AG__COL_KIND] && strcmp(b.text[AG__COL_KIND], "checkpoint") == 0) {
            char sig[2 * AG_LEDGER_SIG_LEN + 1], kid[AG_LEDGER_KEY_ID_LEN];
            ag__checkpoint_sign(resign_sk, seq - 1, ph, sig);
            ag__ledger_key_id(resign_sk + 32, kid);
            snprintf(data, sizeof data,
                     "{\"key_id\":\"%s\",\"signature\":\"%s\",\"signed_hash\":\"%s\","
                     "\"signed_seq\":%lld}",
                     kid, sig, ph, (long long)seq - 1);
            ag__row_text(&b.row, AG__COL_DATA, data);
        }
        char nh[AG_HASH_HEX_LEN];
        ASSERT_OK(ag__row_hash(&b.row, &scratch, nh));
        sqlite3_reset(upd);
        sqlite3_bind_text(upd, 1, ph, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(upd, 2, nh, -1, SQLITE_TRANSIENT);
        memcpy(ph, nh, sizeof ph);
        if (b.row.v[AG__COL_DATA].type == AG__V_TEXT)
            sqlite3_bind_text(upd, 3, b.row.v[AG__COL_DATA].s, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(upd, 3);
        sqlite3_bind_int64(upd, 4, seq);
        ASSERT_EQ(sqlite3_step(upd), SQLITE_DONE);
        free_row(&b);
    }
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    ag__buf_free(&scratch);
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    sqlite3_close(h);
}

TEST(tamper_row_inserted)
{
    struct fx f;
    /* A row slipped in at 8 (later rows renumbered), copied from its neighbour. */
    build(&f);
    fx_sql(f.db, "UPDATE ledger SET seq = -(seq + 1) WHERE seq >= 8;"
                 "UPDATE ledger SET seq = -seq WHERE seq < 0;"
                 "INSERT INTO ledger SELECT 8, ts, kind, agent_id, agent_version, task_id,"
                 " tier, phase, 'delete_file', resource, decision, reason, confidence,"
                 " success, error_type, error_message, data, prev_hash, hash"
                 " FROM ledger WHERE seq = 9;");
    EXPECT_BAD(&f, 8, "hash mismatch");
    /* The same with a forged, self-consistent hash for the new row: the first row that
     * was renumbered (old 8, now 9) no longer matches its hash. */
    build(&f);
    fx_sql(f.db, "UPDATE ledger SET seq = -(seq + 1) WHERE seq >= 8;"
                 "UPDATE ledger SET seq = -seq WHERE seq < 0;"
                 "INSERT INTO ledger SELECT 8, ts, kind, agent_id, agent_version, task_id,"
                 " tier, phase, 'delete_file', resource, decision, reason, confidence,"
                 " success, error_type, error_message, data, prev_hash, hash"
                 " FROM ledger WHERE seq = 9;");
    sqlite3 *h;
    ASSERT_EQ(sqlite3_open(f.db, &h), SQLITE_OK);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT * FROM ledger WHERE seq = 8", -1, &st, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    struct rowbuf b;
    load_row(st, &b);
    sqlite3_finalize(st);
    char hh[AG_HASH_HEX_LEN], sql[256];
    struct ag_buf scratch;
    ag__buf_init(&scratch);
    ASSERT_OK(ag__row_hash(&b.row, &scratch, hh));
    ag__buf_free(&scratch);
    free_row(&b);
    snprintf(sql, sizeof sql, "UPDATE ledger SET hash = '%s' WHERE seq = 8", hh);
    ASSERT_EQ(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    EXPECT_BAD(&f, 9, "hash mismatch");
    /* A row added at the end with a made-up hash. */
    build(&f);
    fx_sql(f.db, "INSERT INTO ledger SELECT 34, ts, kind, agent_id, agent_version, task_id,"
                 " tier, phase, action, resource, decision, reason, confidence, success,"
                 " error_type, error_message, data, hash, hash FROM ledger WHERE seq = 33;");
    EXPECT_BAD(&f, 34, "hash mismatch");
    /* A forged link: a valid hash but prev_hash pointing elsewhere. */
    build(&f);
    fx_sql(f.db, "UPDATE ledger SET prev_hash = (SELECT hash FROM ledger WHERE seq = 3) "
                 "WHERE seq = 12");
    rechain(f.db, 13, NULL); /* only from 13 on: row 12 keeps a stale hash */
    EXPECT_BAD(&f, 12, "hash mismatch");
}

/* The tail is cut at 25 and re-grown with a forged but self-consistent chain. */
TEST(tamper_truncated_and_reappended_with_forged_chain)
{
    struct fx f;
    /* a) The old checkpoint rows are kept in the forged chain: the checkpoint at 33
     *    signed a seq 32 that is no longer there. */
    build(&f);
    fx_sql(f.db, "UPDATE ledger SET action = 'forged' WHERE seq BETWEEN 25 AND 32");
    rechain(f.db, 25, NULL);
    EXPECT_BAD(&f, 32, "truncated after a checkpoint");
    /* b) Checkpoint rows dropped from the forged chain: the checkpoint file still holds
     *    the signature over (32, original hash). */
    build(&f);
    fx_sql(f.db, "UPDATE ledger SET kind = 'action', data = NULL, action = 'forged' "
                 "WHERE seq >= 25");
    rechain(f.db, 25, NULL);
    EXPECT_BAD(&f, 32, "truncated after a checkpoint");
    /* c) Truncated, nothing appended: the ledger ends before the signed seq. */
    build(&f);
    fx_sql(f.db, "DELETE FROM ledger WHERE seq > 28");
    EXPECT_BAD(&f, 29, "truncated after a checkpoint");
    /* d) Truncated right after a checkpoint row: still below the checkpoint file. */
    build(&f);
    fx_sql(f.db, "DELETE FROM ledger WHERE seq > 22");
    EXPECT_BAD(&f, 23, "truncated after a checkpoint");
}

TEST(tamper_checkpoint_resigned_with_another_key)
{
    struct fx f;
    build(&f);
    uint8_t pk[AG_LEDGER_PK_LEN], sk[AG_LEDGER_SK_LEN];
    crypto_sign_keypair(pk, sk);
    fx_sql(f.db, "UPDATE ledger SET decision = 'deny' WHERE seq = 15");
    rechain(f.db, 15, sk);
    EXPECT_BAD(&f, 22, "bad signature");
    /* Only the signature swapped, nothing else changed. */
    build(&f);
    rechain(f.db, 11, sk);
    EXPECT_BAD(&f, 11, "bad signature");
    /* A forged checkpoint file is caught too. */
    build(&f);
    char path[PATH_MAX + 16], sig[2 * AG_LEDGER_SIG_LEN + 1], line[600];
    snprintf(path, sizeof path, "%s.checkpoint", f.db);
    ag__checkpoint_sign(sk, 32, "00", sig);
    snprintf(line, sizeof line,
             "{\"hash\":\"x\",\"key_id\":\"x\",\"seq\":33,\"signature\":\"%s\","
             "\"signed_hash\":\"00\",\"signed_seq\":32}\n",
             sig);
    FILE *fp = fopen(path, "w");
    fputs(line, fp);
    fclose(fp);
    EXPECT_BAD(&f, 33, "bad signature on the checkpoint file");
    /* Verified against another public key, an honest ledger fails at its first
     * checkpoint; without any public key it cannot vouch for checkpoints either. */
    build(&f);
    char other[PATH_MAX + 16];
    snprintf(other, sizeof other, "%s/other.pub", f.dir);
    char hex[2 * AG_LEDGER_PK_LEN + 2];
    ag__hex(pk, sizeof pk, hex);
    strcat(hex, "\n");
    fp = fopen(other, "w");
    fputs(hex, fp);
    fclose(fp);
    struct ag_verify_result r;
    ASSERT_OK(ag_ledger_verify(f.db, other, &r));
    ASSERT_EQ(r.ok, 0);
    ASSERT_EQ(r.bad_seq, 11);
    unlink(f.pk);
    ASSERT_OK(ag_ledger_verify(f.db, NULL, &r));
    ASSERT_EQ(r.ok, 0);
    ASSERT_CONTAINS(r.problem, "no public key");
}

/* Rebuilding the chain with the real code, without changing anything, is a no-op: the
 * attacker's tool is faithful, so the detections above are not artefacts of it. */
TEST(tamper_tool_is_faithful)
{
    struct fx f;
    build(&f);
    rechain(f.db, 1 + 1, NULL);
    verify_ok(&f);
}

/* ---- problems of the whole ledger, and the first bad row named ------------------------ */

/* A problem in no single row (the file, its schema, no checkpoint): bad_seq 0. */
static void expect_ledger_bad(struct fx *f, const char *problem, int line)
{
    struct ag_verify_result r;
    ag_err err = ag_ledger_verify(f->db, f->pk, &r);
    if (err != AG_OK)
        ag_test_fail(__FILE__, line, "verify could not run: %s", ag_last_error());
    if (r.ok || !r.whole_ledger || r.bad_seq != 0 || strstr(r.problem, problem) == NULL)
        ag_test_fail(__FILE__, line,
                     "expected a problem of the ledger (%s), got ok=%d seq %lld: %s", problem, r.ok,
                     (long long)r.bad_seq, r.problem);
}
#define EXPECT_LEDGER_BAD(f, problem) expect_ledger_bad(f, problem, __LINE__)

static int count_row(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    (void)row;
    (*(int *)ctx)++;
    return 0;
}

/* What an agent's metrics read: its revocation rows, through the partial index. */
static int revocations_of(struct fx *f, const char *agent)
{
    ag_ledger *l = NULL;
    struct ag_ledger_opts o = {.read_only = 1};
    ASSERT_OK(ag_ledger_open(f->db, &o, &l));
    int n = 0;
    struct ag_ledger_filter q = {.agent_id = agent, .kind = "revocation"};
    ASSERT_OK(ag_ledger_query(l, &q, count_row, &n));
    ag_ledger_close(l);
    return n;
}

/* The index of revocations rebuilt to hold none, with its original SQL written back
 * into sqlite_schema: the agent's revocations vanish from its metrics while every row
 * still verifies. Only SQLite's full integrity check (quick_check does not) compares the
 * index with the rows its definition says it holds. */
TEST(tamper_ledger_index_rebuilt_behind_its_sql)
{
    struct fx f;
    build(&f);
    ag_ledger *l = fx_open(&f);
    for (int i = 0; i < 3; i++) {
        struct ag_ledger_entry e = fx_entry("agent-1", "revoke");
        e.kind = "revocation";
        ASSERT_OK(ag_ledger_append(l, &e, NULL, NULL)); /* rows 34-36 */
    }
    ag_ledger_close(l);
    restore_schema(&f);
    ASSERT_EQ(revocations_of(&f, "agent-1"), 3);
    fx_sql(f.db, "DROP INDEX ledger_agent_revocation;"
                 "CREATE INDEX ledger_agent_revocation ON ledger(agent_id, seq)"
                 " WHERE kind = 'revocation' AND 0;"
                 "PRAGMA writable_schema = ON;"
                 "UPDATE sqlite_schema SET sql = 'CREATE INDEX ledger_agent_revocation ON"
                 " ledger(agent_id, seq)\n  WHERE kind = ''revocation''' WHERE name ="
                 " 'ledger_agent_revocation';"
                 "PRAGMA writable_schema = OFF;");
    ASSERT_EQ(revocations_of(&f, "agent-1"), 0); /* what the attack buys */
    EXPECT_LEDGER_BAD(&f, "integrity check: row 34 missing from index ledger_agent_revocation");
}

/* Every index, view and trigger must be exactly one the ledger creates. */
TEST(tamper_ledger_schema_differs)
{
    static const struct {
        const char *sql, *problem;
    } cases[] = {
        {"DROP INDEX ledger_agent_revocation; CREATE INDEX ledger_agent_revocation ON "
         "ledger(agent_id, seq) WHERE kind = 'revocation' AND 0",
         "schema: index ledger_agent_revocation differs"},
        {"DROP VIEW agent_metrics; CREATE VIEW agent_metrics AS SELECT 'x' AS agent_id",
         "schema: view agent_metrics differs"},
        /* A trigger that silently drops revocations as they are appended. */
        {"CREATE TRIGGER hide BEFORE INSERT ON ledger WHEN NEW.kind = 'revocation' "
         "BEGIN SELECT RAISE(IGNORE); END",
         "schema: trigger hide is not one agentgov creates"},
        {"CREATE INDEX extra ON ledger(kind) WHERE 0", "schema: index extra is not one"},
        {"DROP TRIGGER ledger_no_update", "schema: trigger ledger_no_update is missing"},
        {"DROP INDEX ledger_kind", "schema: index ledger_kind is missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fx f;
        build(&f);
        restore_schema(&f);
        fx_sql(f.db, cases[i].sql);
        EXPECT_LEDGER_BAD(&f, cases[i].problem);
    }
    /* Not problems: a file of schema version 1, whose next writer adds the partial
     * indexes, and the planner's statistics. */
    struct fx f;
    build(&f);
    restore_schema(&f);
    fx_sql(f.db, "DROP INDEX ledger_agent_lifecycle; DROP INDEX ledger_agent_revocation; "
                 "DROP INDEX ledger_agent_promotion; PRAGMA user_version = 1; ANALYZE;");
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
}

/* The newest checkpoint is the last row, so nothing after it links to it: deleted, or
 * replaced by a row of another kind and rehashed, it leaves a valid chain. The
 * checkpoint file names it (seq and hash). */
TEST(tamper_ledger_newest_checkpoint_deleted_or_replaced)
{
    struct fx f;
    build(&f);
    fx_sql(f.db, "DELETE FROM ledger WHERE seq = 33");
    EXPECT_BAD(&f, 33, "checkpoint row 33, which");
    build(&f);
    fx_sql(f.db, "UPDATE ledger SET kind = 'system', data = NULL WHERE seq = 33");
    rechain(f.db, 33, NULL);
    EXPECT_BAD(&f, 33, "checkpoint row 33 is not the one");
}

/* Without the key, an attacker can still turn every checkpoint into a plain row, rehash
 * the whole chain and delete the checkpoint file: nothing signed is left to contradict
 * him. Verify reports that no checkpoint was verified, and fails when one is required
 * (it cannot by default: honest ledgers have none before their first checkpoint). */
TEST(tamper_ledger_whole_history_rewritten)
{
    struct fx f;
    build(&f);
    restore_schema(&f);
    struct ag_verify_result r;
    ASSERT_OK(ag_ledger_verify_ex(f.db, f.pk, NULL, AG_VERIFY_REQUIRE_CHECKPOINT, &r));
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.newest_checkpoint, 33);
    fx_sql(f.db, "DROP TRIGGER ledger_no_update;"
                 "UPDATE ledger SET kind = 'system', data = NULL WHERE kind = 'checkpoint'");
    rechain(f.db, 1, NULL);
    char cp[PATH_MAX + 16];
    snprintf(cp, sizeof cp, "%s.checkpoint", f.db);
    ASSERT_EQ(unlink(cp), 0);
    r = verify_ok(&f);
    ASSERT_EQ(r.checkpoints, 0);
    ASSERT_EQ(r.newest_checkpoint, 0);
    ASSERT_OK(ag_ledger_verify_ex(f.db, f.pk, NULL, AG_VERIFY_REQUIRE_CHECKPOINT, &r));
    ASSERT_EQ(r.ok, 0);
    ASSERT_EQ(r.whole_ledger, 1);
    ASSERT_CONTAINS(r.problem, "no signed checkpoint");
}

/* A checkpoint file named by the caller must exist: a typo must not skip the check. */
TEST(tamper_ledger_named_checkpoint_file_must_exist)
{
    struct fx f;
    build(&f);
    restore_schema(&f);
    char missing[PATH_MAX + 32];
    snprintf(missing, sizeof missing, "%s/offsite.checkpoint", f.dir);
    struct ag_verify_result r;
    ASSERT_ERR(ag_ledger_verify_ex(f.db, f.pk, missing, 0, &r), AG_ENOTFOUND);
    ASSERT_CONTAINS(ag_last_error(), missing);
    ASSERT_OK(ag_ledger_verify_ex(f.db, f.pk, "", 0, &r)); /* "": no file at all */
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.witnessed_seq, 0);
}

TEST(tamper_ledger_first_bad_row_is_named)
{
    struct fx f;
    /* A copy of checkpoint 11 appended as row 34 and rehashed: its signature holds, but
     * over seq 10, not over the row before it. */
    build(&f);
    fx_sql(f.db, "INSERT INTO ledger SELECT 34, ts, kind, agent_id, agent_version, task_id,"
                 " tier, phase, action, resource, decision, reason, confidence, success,"
                 " error_type, error_message, data, prev_hash, hash FROM ledger WHERE seq = 11");
    rechain(f.db, 34, NULL);
    EXPECT_BAD(&f, 34, "misplaced checkpoint: it signs seq 10 but stands at seq 34");
    /* A row numbered 0, before an intact row 1. */
    build(&f);
    fx_sql(f.db, "INSERT INTO ledger SELECT 0, ts, kind, agent_id, agent_version, task_id,"
                 " tier, phase, action, resource, decision, reason, confidence, success,"
                 " error_type, error_message, data, prev_hash, hash FROM ledger WHERE seq = 1");
    EXPECT_BAD(&f, 0, "seq 0 is below 1");
}

/* The leaf pages of table ledger in key order: page number and number of rows. */
static int ledger_leaves(const char *db, int pages[], int cells[], int max)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(db, &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(h,
                                 "SELECT pageno, ncell FROM dbstat WHERE name = 'ledger' "
                                 "AND pagetype = 'leaf' ORDER BY path",
                                 -1, &st, NULL),
              SQLITE_OK);
    int n = 0;
    for (; n < max && sqlite3_step(st) == SQLITE_ROW; n++) {
        pages[n] = sqlite3_column_int(st, 0);
        cells[n] = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static void overwrite(const char *path, long offset, int byte, size_t len)
{
    FILE *fp = fopen(path, "r+b");
    ASSERT_TRUE(fp != NULL);
    ASSERT_EQ(fseek(fp, offset, SEEK_SET), 0);
    for (size_t i = 0; i < len; i++)
        fputc(byte, fp);
    fclose(fp);
}

/* A damaged file is a verdict (tampering, exit 1), not a failure to check (exit 2):
 * the first row that cannot be read is named. */
TEST(tamper_ledger_corrupt_page_is_a_verdict)
{
    struct fx f;
    build(&f);
    restore_schema(&f);
    fx_sql(f.db, "PRAGMA wal_checkpoint(TRUNCATE)"); /* every page in the file itself */
    int pages[16], cells[16];
    ASSERT_TRUE(ledger_leaves(f.db, pages, cells, 16) >= 2);
    overwrite(f.db, (long)(pages[1] - 1) * 4096, 0xff, 8); /* the second leaf's header */
    struct ag_verify_result r;
    ASSERT_OK(ag_ledger_verify(f.db, f.pk, &r));
    ASSERT_EQ(r.ok, 0);
    ASSERT_EQ(r.bad_seq, 1 + cells[0]);
    ASSERT_CONTAINS(r.problem, "database corrupt");
    /* A smashed header: no row can be read at all. */
    build(&f);
    overwrite(f.db, 0, 0, 16);
    ASSERT_OK(ag_ledger_verify(f.db, f.pk, &r));
    ASSERT_EQ(r.ok, 0);
    ASSERT_EQ(r.whole_ledger, 1);
    ASSERT_CONTAINS(r.problem, "not a database");
}

/* A trigger planted in the file that silently drops appends (RAISE(IGNORE)) makes the
 * append fail rather than be acknowledged. */
TEST(tamper_ledger_dropped_append_is_an_error)
{
    struct fx f;
    fx_init(&f, "dropped", 0);
    f.opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(&f);
    fx_append(l, "alpha", "before");
    ag_ledger_close(l);
    fx_sql(f.db, "CREATE TRIGGER hide BEFORE INSERT ON ledger WHEN NEW.kind = 'revocation' "
                 "BEGIN SELECT RAISE(IGNORE); END");
    l = fx_open(&f);
    struct ag_ledger_entry e = fx_entry("alpha", "agent.revoke");
    e.kind = "revocation";
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_ETAMPER);
    ASSERT_CONTAINS(ag_last_error(), "was not stored");
    fx_append(l, "alpha", "after"); /* other kinds still go in, on an intact chain */
    ag_ledger_close(l);
    fx_sql(f.db, "DROP TRIGGER hide");
    struct ag_verify_result r = verify_ok(&f);
    ASSERT_EQ(r.entries, 2);
}

/* Integers beyond +-2^53 have no exact RFC 8785 form: appends refuse them, naming the
 * field. Rows written before that rule hold their exact digits under their hash, and
 * still verify and read back. */
TEST(tamper_ledger_integers_beyond_2_53)
{
    struct fx f;
    fx_init(&f, "bigint", 0);
    f.opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(&f);
    struct ag_ledger_entry e = fx_entry("alpha", "count");
    e.data_json = "{\"ok\":9007199254740992,\"x\":{\"n\":[1,-9007199254740993]}}";
    ASSERT_ERR(ag_ledger_append(l, &e, NULL, NULL), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "integer -9007199254740993 at $.x.n[1]");
    e.data_json = "{\"ok\":9007199254740992,\"neg\":-9007199254740992}";
    ASSERT_OK(ag_ledger_append(l, &e, NULL, NULL));
    fx_append(l, "alpha", "after");
    ag_ledger_close(l);
    /* Row 1 as an older release wrote it. */
    fx_sql(f.db, "DROP TRIGGER ledger_no_update;"
                 "UPDATE ledger SET data = '{\"big\":1152921504606846976}' WHERE seq = 1");
    rechain(f.db, 1, NULL);
    struct ag_verify_result r = verify_ok(&f);
    ASSERT_EQ(r.entries, 2);
    struct ag_ledger_opts ro = {.read_only = 1};
    ASSERT_OK(ag_ledger_open(f.db, &ro, &l));
    int n = 0;
    ASSERT_OK(ag_ledger_query(l, NULL, count_row, &n));
    ASSERT_EQ(n, 2);
    ag_ledger_close(l);
}
