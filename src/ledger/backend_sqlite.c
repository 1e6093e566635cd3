/* SQLite implementation of the ledger backend. Writes happen in BEGIN IMMEDIATE
 * transactions so that a second process appending to the same file is serialised by
 * SQLite's own lock, and the head is always re-read inside the transaction. */
#include "ledger/backend_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"

/* 2: partial indexes by agent for the kinds the metrics read (created on open).
 * Verify requires every object in the file to be exactly as ag__ledger_sqlite_schema
 * creates it, so a new version may add objects (IF NOT EXISTS does that) but must drop
 * and re-create any object whose SQL it changes. */
#define SCHEMA_VERSION 2

/* WAL frames at which a keep_wal writer empties the WAL when it closes. */
#define KEEP_WAL_FRAMES 48

/* Prepared query statements kept per connection. */
#define SCAN_CACHE 8

/* The seed's tables are views, so they can never disagree with the chain. A run, a
 * compliant run and a promotion are defined in docs/ledger-format.md. */
const char ag__ledger_sqlite_schema[] =
    "CREATE TABLE IF NOT EXISTS ledger (\n"
    "  seq INTEGER PRIMARY KEY,\n"
    "  ts TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  agent_id TEXT, agent_version TEXT, task_id TEXT, tier INTEGER, phase TEXT,\n"
    "  action TEXT, resource TEXT, decision TEXT, reason TEXT, confidence INTEGER,\n"
    "  success INTEGER, error_type TEXT, error_message TEXT, data TEXT,\n"
    "  prev_hash TEXT NOT NULL,\n"
    "  hash TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS ledger_agent ON ledger(agent_id, seq);\n"
    "CREATE INDEX IF NOT EXISTS ledger_kind ON ledger(kind, seq);\n"
    /* An agent's lifecycle, revocation and promotion rows (its metrics) without
     * reading its decisions, which can be millions: partial indexes, so that the rows
     * of every other kind cost nothing to insert. */
    "CREATE INDEX IF NOT EXISTS ledger_agent_lifecycle ON ledger(agent_id, seq)\n"
    "  WHERE kind = 'lifecycle';\n"
    "CREATE INDEX IF NOT EXISTS ledger_agent_revocation ON ledger(agent_id, seq)\n"
    "  WHERE kind = 'revocation';\n"
    "CREATE INDEX IF NOT EXISTS ledger_agent_promotion ON ledger(agent_id, seq)\n"
    "  WHERE kind = 'promotion';\n"
    "CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger\n"
    "  BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;\n"
    "CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger\n"
    "  BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;\n"
    "CREATE VIEW IF NOT EXISTS agent_actions AS\n"
    "  SELECT seq AS id, ts AS timestamp, agent_id, agent_version, tier, action, decision,\n"
    "         confidence / 1000.0 AS confidence, success, error_type, error_message\n"
    "  FROM ledger WHERE kind IN ('action', 'decision');\n"
    "CREATE VIEW IF NOT EXISTS violations AS\n"
    "  SELECT seq AS id, ts AS timestamp, agent_id, agent_version, task_id, tier, phase,\n"
    "         action, resource, error_type AS violation_type, reason AS details\n"
    "  FROM ledger WHERE kind = 'violation';\n"
    "CREATE VIEW IF NOT EXISTS promotions AS\n"
    "  SELECT seq AS id, ts AS timestamp, agent_id,\n"
    "         json_extract(data, '$.from_tier') AS from_tier, tier AS to_tier, reason,\n"
    "         decision AS approved_by\n"
    "  FROM ledger WHERE kind = 'promotion';\n"
    "CREATE VIEW IF NOT EXISTS agent_metrics AS\n"
    "  SELECT a.agent_id AS agent_id,\n"
    "    (SELECT t.tier FROM ledger t WHERE t.agent_id = a.agent_id AND t.tier IS NOT NULL\n"
    "      ORDER BY t.seq DESC LIMIT 1) AS current_tier,\n"
    "    (SELECT COUNT(*) FROM ledger r WHERE r.agent_id = a.agent_id\n"
    "      AND r.kind = 'lifecycle' AND r.phase = 'EXIT') AS total_runs,\n"
    "    (SELECT COUNT(*) FROM ledger r WHERE r.agent_id = a.agent_id\n"
    "      AND r.kind = 'lifecycle' AND r.phase = 'EXIT' AND r.success = 1) AS compliant_runs,\n"
    "    (SELECT COUNT(*) FROM ledger r WHERE r.agent_id = a.agent_id\n"
    "      AND r.kind = 'lifecycle' AND r.phase = 'EXIT' AND r.success = 1\n"
    "      AND r.seq > COALESCE((SELECT MAX(b.seq) FROM ledger b WHERE b.agent_id = a.agent_id\n"
    "        AND (b.kind IN ('revocation', 'promotion') OR (b.kind = 'lifecycle'\n"
    "             AND b.phase = 'EXIT' AND b.success IS NOT 1))), 0)) AS consecutive_compliant,\n"
    "    MAX(a.ts) AS last_active_at\n"
    "  FROM ledger a WHERE a.agent_id IS NOT NULL GROUP BY a.agent_id;\n";

struct sq {
    sqlite3 *db;
    sqlite3_stmt *insert;
    sqlite3_stmt *head;
    sqlite3_stmt *begin, *commit; /* prepared once: every batch runs them */
    /* Query statements by SQL text: a filter has few shapes, and preparing one costs
     * more than running it (an agent's metrics run three). Replaced round robin. */
    struct {
        char *sql;
        sqlite3_stmt *st;
    } scans[SCAN_CACHE];
    unsigned scan_next;
    int has_schema; /* table `ledger` seen: no need to look again */
    int keep_wal;   /* short-lived writer: see keep_wal_frames */
    int busy_ms;    /* the connection's busy timeout */
    int wal_frames; /* frames in the WAL after the last commit (keep_wal writers) */
    int sync_fd;    /* relaxed: our own descriptor of the WAL file (0: not relaxed) */
    char path[4096];
};

static ag_err sq_fail(struct sq *s, int rc, const char *what);

/* 1 if the database has no schema at all (a writer was killed before creating it: an
 * empty ledger), 0 if it has table `ledger`, an error if it is something else. */
static ag_err sq_no_schema(struct sq *s, int *empty)
{
    *empty = 0;
    if (s->has_schema)
        return AG_OK;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT COUNT(*), COUNT(CASE WHEN type = 'table' AND name = "
                                "'ledger' THEN 1 END) FROM sqlite_master",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "reading the schema");
    rc = sqlite3_step(st);
    int total = sqlite3_column_int(st, 0), ledger = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, "reading the schema");
    if (total > 0 && ledger == 0)
        return ag__fail(AG_EPARSE, "%s: not a ledger database (no table `ledger`)", s->path);
    *empty = total == 0;
    s->has_schema = !*empty;
    return AG_OK;
}

/* Maps an SQLite result code to the ledger's errors so that callers can tell a full
 * disk or a read-only file from a lock held by someone else. */
static ag_err sq_fail(struct sq *s, int rc, const char *what)
{
    const char *msg = s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    const char *path = s ? s->path : "";
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return ag__fail(AG_ENOSPACE, "%s: %s: %s", path, what, msg);
    case SQLITE_READONLY:
        return ag__fail(AG_EREADONLY, "%s: %s: %s", path, what, msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ag__fail(AG_ELEDGER, "%s: %s: database is locked by another writer (%s)", path, what,
                        msg);
    case SQLITE_IOERR:
        /* A write cut short by a file-size limit is a full disk to the caller. */
        if (s && s->db &&
            (sqlite3_system_errno(s->db) == ENOSPC || sqlite3_system_errno(s->db) == EFBIG))
            return ag__fail(AG_ENOSPACE, "%s: %s: %s (%s)", path, what, msg,
                            strerror(sqlite3_system_errno(s->db)));
        return ag__fail(AG_EIO, "%s: %s: %s (sqlite %d, errno %d)", path, what, msg, rc,
                        s && s->db ? sqlite3_system_errno(s->db) : 0);
    case SQLITE_CANTOPEN:
        return ag__fail(AG_EIO, "%s: %s: %s", path, what, msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return ag__fail(AG_ETAMPER, "%s: %s: %s", path, what, msg);
    default:
        return ag__fail(AG_ELEDGER, "%s: %s: %s", path, what, msg);
    }
}

static ag_err sq_exec(struct sq *s, const char *sql, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? AG_OK : sq_fail(s, rc, what);
}

/* Setup SQL at open, retried while another process holds the new file: SQLite answers
 * SQLITE_BUSY at once, without its busy handler, when waiting could deadlock (another
 * connection switching the file to WAL or creating the schema). */
static ag_err sq_exec_setup(struct sq *s, const char *sql, const char *what, int busy_ms)
{
    int64_t deadline = ag__mono_ms() + busy_ms;
    for (;;) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return AG_OK;
        int busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
        if (!busy || ag__mono_ms() > deadline)
            return sq_fail(s, rc, what);
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        usleep(1000 + (useconds_t)(ag__mono_ns() % 4000));
    }
}

/* A keep_wal writer's commit hook: notes the WAL's length instead of checkpointing. */
static int keep_wal_frames(void *ctx, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    ((struct sq *)ctx)->wal_frames = frames;
    return SQLITE_OK;
}

/* A process that keeps the WAL must still bound it: the next process to open the file
 * reads every valid frame to rebuild the WAL index (3 ms after 150 hook runs). A plain
 * checkpoint does not shorten it: SQLite restarts the WAL only at the next write after
 * a complete checkpoint, and the next process, rebuilding the index, takes every frame
 * as new again. So the closing process checkpoints and then writes one no-op
 * transaction, which starts the WAL over in place: the next process reads one frame.
 * Truncating the WAL instead would cost more, since every commit would then extend
 * the file and fdatasync would have to commit its new size too. Best effort: the
 * entries are committed whatever happens here. */
static void restart_wal(struct sq *s)
{
    int log = 0, done = 0;
    if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) !=
            SQLITE_OK ||
        done < log)
        return; /* another connection still reads old frames: leave it to later */
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN IMMEDIATE; PRAGMA user_version = %d; COMMIT;", SCHEMA_VERSION);
    /* Another writer holds the lock: try again later rather than wait for it (the hook
     * helper tidies between events, and the next event must not wait behind this). */
    sqlite3_busy_timeout(s->db, 0);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_busy_timeout(s->db, s->busy_ms);
}

static void sq_tidy(void *ctx)
{
    struct sq *s = ctx;
    if (s->keep_wal && s->wal_frames >= KEEP_WAL_FRAMES) {
        restart_wal(s);
        s->wal_frames = 0;
    }
}

static void sq_close(void *ctx)
{
    struct sq *s = ctx;
    if (s == NULL)
        return;
    sq_tidy(s);
    if (s->sync_fd > 0)
        close(s->sync_fd);
    sqlite3_finalize(s->insert);
    sqlite3_finalize(s->head);
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    for (int i = 0; i < SCAN_CACHE; i++) {
        sqlite3_finalize(s->scans[i].st);
        free(s->scans[i].sql);
    }
    sqlite3_close(s->db);
    free(s);
}

static ag_err sq_user_version(struct sq *s, int *version)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "reading the schema version");
    *version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return AG_OK;
}

static ag_err sq_schema(struct sq *s, int busy_ms)
{
    int version;
    ag_err err = sq_user_version(s, &version);
    if (err)
        return err;
    if (version > SCHEMA_VERSION)
        return ag__fail(AG_EUNSUPPORTED, "%s: ledger schema version %d is newer than %d", s->path,
                        version, SCHEMA_VERSION);
    if (version == SCHEMA_VERSION)
        return AG_OK;
    char sql[sizeof ag__ledger_sqlite_schema + 128];
    snprintf(sql, sizeof sql, "BEGIN IMMEDIATE;\n%sPRAGMA user_version = %d;\nCOMMIT;",
             ag__ledger_sqlite_schema, SCHEMA_VERSION);
    return sq_exec_setup(s, sql, "creating the schema", busy_ms);
}

static ag_err sq_prepare(struct sq *s)
{
    struct ag_buf sql;
    ag__buf_init(&sql);
    ag__buf_puts(&sql, "INSERT INTO ledger(");
    for (int c = 0; c < AG__COL_COUNT; c++)
        ag__buf_printf(&sql, "%s%s", c ? "," : "", ag__col_name((enum ag__col)c));
    ag__buf_puts(&sql, ") VALUES(");
    for (int c = 0; c < AG__COL_COUNT; c++)
        ag__buf_printf(&sql, "%s?", c ? "," : "");
    ag__buf_puts(&sql, ")");
    if (ag__buf_status(&sql)) {
        ag__buf_free(&sql);
        return ag__fail(AG_ENOMEM, "ledger insert statement");
    }
    int rc = s->insert ? SQLITE_OK : sqlite3_prepare_v2(s->db, sql.data, -1, &s->insert, NULL);
    ag__buf_free(&sql);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1", -1,
                                &s->head, NULL);
    return rc == SQLITE_OK ? AG_OK : sq_fail(s, rc, "preparing statements");
}

/* Opens target read-only as an immutable file (URI parameter immutable=1): the only
 * way SQLite reads a WAL database on a read-only file system without its -shm file. */
static int open_immutable(struct sq *s, const char *target)
{
    static const char hex[] = "0123456789ABCDEF";
    char uri[3 * sizeof s->path + 32], *u = uri;
    u += sprintf(u, "file:");
    for (const unsigned char *p = (const unsigned char *)target; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p <= ' ' || *p >= 0x7f) {
            *u++ = '%';
            *u++ = hex[*p >> 4];
            *u++ = hex[*p & 15];
        } else {
            *u++ = (char)*p;
        }
    }
    strcpy(u, "?immutable=1");
    sqlite3_close(s->db);
    s->db = NULL;
    return sqlite3_open_v2(uri, &s->db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
}

/* A reader: falls back to an immutable open when the shared-memory file cannot be
 * created (read-only file system or directory). */
static ag_err sq_open_reader(struct sq *s, const char *target, int busy_ms)
{
    int rc = sqlite3_open_v2(target, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        sqlite3_busy_timeout(s->db, busy_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "SELECT COUNT(*) FROM sqlite_master", NULL, NULL, NULL);
    if ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY) {
        rc = open_immutable(s, target);
        if (rc == SQLITE_OK)
            sqlite3_busy_timeout(s->db, busy_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->db, "SELECT COUNT(*) FROM sqlite_master", NULL, NULL, NULL);
    }
    return rc == SQLITE_OK ? AG_OK : sq_fail(s, rc, "opening the ledger for reading");
}

static ag_err sq_open_writer(struct sq *s, const char *target, int busy_ms)
{
    int rc = sqlite3_open_v2(
        target, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "opening the ledger");
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, busy_ms);
    s->busy_ms = busy_ms;
    /* SQLite silently opens a file it cannot write read-only; a writer must know now. */
    if (sqlite3_db_readonly(s->db, "main") == 1)
        return ag__fail(AG_EREADONLY, "%s: the database (or its file system) is read-only", target);
    ag_err err = sq_exec_setup(s, "PRAGMA journal_mode=WAL", "enabling WAL", busy_ms);
    if (err == AG_OK)
        err = sq_schema(s, busy_ms);
    if (err == AG_OK)
        err = sq_exec(s, "PRAGMA synchronous=FULL", "setting synchronous=FULL");
    if (err == AG_OK)
        err = sq_prepare(s);
    return err;
}

static ag_err sq_open(const char *target, const struct ag__ledger_backend_opts *o, void **ctx)
{
    struct sq *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ag__fail(AG_ENOMEM, "ledger handle");
    snprintf(s->path, sizeof s->path, "%s", target);
    struct stat st;
    if (o->read_only && stat(target, &st) != 0) {
        free(s);
        return ag__fail(errno == ENOENT ? AG_ENOTFOUND : AG_EIO, "%s: %s", target, strerror(errno));
    }
    int busy_ms = o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000;
    ag_err err =
        o->read_only ? sq_open_reader(s, target, busy_ms) : sq_open_writer(s, target, busy_ms);
    if (err) {
        sq_close(s);
        return err;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (o->keep_wal) {
        /* The last connection to close would otherwise copy the WAL into the database
         * and delete it: several fsyncs that a one-decision process cannot afford. */
        int on = 1;
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
        if (!o->read_only) { /* replaces the autocheckpoint; sq_close bounds the WAL */
            s->keep_wal = 1;
            sqlite3_wal_hook(s->db, keep_wal_frames, s);
        }
    }
    *ctx = s;
    return AG_OK;
}

/* Runs a transaction-control statement, prepared at its first use. */
static ag_err sq_control(struct sq *s, sqlite3_stmt **st, const char *sql, const char *what)
{
    if (*st == NULL && sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return sq_exec(s, sql, what); /* reports SQLite's reason */
    int rc = sqlite3_step(*st);
    ag_err err = rc == SQLITE_DONE ? AG_OK : sq_fail(s, rc, what); /* before reset */
    sqlite3_reset(*st);
    return err;
}

static ag_err sq_begin(void *ctx)
{
    struct sq *s = ctx;
    return sq_control(s, &s->begin, "BEGIN IMMEDIATE", "starting a write transaction");
}

static ag_err sq_commit(void *ctx)
{
    struct sq *s = ctx;
    return sq_control(s, &s->commit, "COMMIT", "committing");
}

/* In WAL mode with synchronous=NORMAL a commit appends its frames to the WAL without
 * an fsync: atomic, and proof against this process's crash (the frames are in the
 * kernel), while a power loss may drop the newest transactions whole (SQLite keeps the
 * WAL's valid prefix: never a torn or corrupt one). The WAL is still synced before
 * every checkpoint copies it into the database. sync then makes the committed frames
 * durable with an fdatasync of the WAL file through a descriptor of our own: fsync
 * acts on the file, whichever descriptor wrote it, and the WAL stays the same file
 * while this connection is open (SQLite starts it over in place, never unlinks it). */
static ag_err sq_relax(void *ctx)
{
    struct sq *s = ctx;
    char wal[sizeof s->path + 8];
    if (s->sync_fd > 0)
        return AG_OK;
    snprintf(wal, sizeof wal, "%s-wal", s->path);
    int fd = open(wal, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ag__fail(AG_EIO, "%s: %s", wal, strerror(errno));
    ag_err err = sq_exec(s, "PRAGMA synchronous=NORMAL", "setting synchronous=NORMAL");
    if (err != AG_OK) {
        close(fd);
        return err;
    }
    s->sync_fd = fd;
    return AG_OK;
}

static ag_err sq_sync(void *ctx)
{
    struct sq *s = ctx;
    if (s->sync_fd <= 0)
        return AG_OK; /* not relaxed: every commit was synced */
    if (fdatasync(s->sync_fd) != 0)
        return ag__fail(errno == ENOSPC ? AG_ENOSPACE : AG_EIO, "%s-wal: fdatasync: %s", s->path,
                        strerror(errno));
    return AG_OK;
}

static void sq_rollback(void *ctx)
{
    struct sq *s = ctx;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static ag_err sq_insert(void *ctx, const struct ag__ledger_row *row)
{
    struct sq *s = ctx;
    sqlite3_stmt *st = s->insert;
    sqlite3_reset(st);
    for (int c = 0; c < AG__COL_COUNT; c++) {
        const struct ag__value *v = &row->v[c];
        if (v->type == AG__V_INT)
            sqlite3_bind_int64(st, c + 1, v->i);
        else if (v->type == AG__V_TEXT)
            sqlite3_bind_text(st, c + 1, v->s, (int)v->len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, c + 1);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, "inserting a ledger entry");
    /* A trigger planted in the file (RAISE(IGNORE)) drops a row without an error: an
     * entry that was not stored must not be acknowledged. */
    if (sqlite3_changes(s->db) != 1)
        return ag__fail(AG_ETAMPER, "ledger: the entry was not stored (a trigger in the "
                                    "database dropped it); run `agentgov ledger verify`");
    return AG_OK;
}

static ag_err sq_head(void *ctx, int64_t *seq, char hash[AG_HASH_HEX_LEN])
{
    struct sq *s = ctx;
    int empty = 0;
    ag_err err = s->head ? AG_OK : sq_no_schema(s, &empty);
    if (err || empty) {
        *seq = 0;
        hash[0] = '\0';
        return err;
    }
    sqlite3_stmt *st = s->head;
    int rc = SQLITE_OK;
    if (st == NULL)
        rc = sqlite3_prepare_v2(s->db, "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1", -1,
                                &s->head, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "reading the head");
    st = s->head;
    sqlite3_reset(st);
    *seq = 0;
    hash[0] = '\0';
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        const char *h = (const char *)sqlite3_column_text(st, 1);
        snprintf(hash, AG_HASH_HEX_LEN, "%s", h ? h : "");
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? AG_OK : sq_fail(s, rc, "reading the head");
}

static ag_err sq_last_of_kind(void *ctx, const char *kind, int64_t *seq)
{
    struct sq *s = ctx;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "SELECT MAX(seq) FROM ledger WHERE kind = ?", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "finding the last checkpoint");
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? AG_OK : sq_fail(s, rc, "finding the last checkpoint");
}

/* The cached statement for sql, prepared on a miss (the oldest entry goes). A query
 * nested in another one's callback may find its statement, or the slot it would take,
 * running in the outer query: it then gets a statement of its own (*transient: the
 * caller finalizes it). */
static int scan_statement(struct sq *s, const struct ag_buf *sql, sqlite3_stmt **out,
                          int *transient)
{
    *transient = 0;
    for (int i = 0; i < SCAN_CACHE; i++)
        if (s->scans[i].sql && strcmp(s->scans[i].sql, sql->data) == 0) {
            if (sqlite3_stmt_busy(s->scans[i].st)) {
                *transient = 1;
                return sqlite3_prepare_v2(s->db, sql->data, -1, out, NULL);
            }
            *out = s->scans[i].st;
            return SQLITE_OK;
        }
    unsigned k = s->scan_next % SCAN_CACHE;
    if (s->scans[k].st && sqlite3_stmt_busy(s->scans[k].st)) {
        *transient = 1; /* the slot's statement runs in an outer query: keep it */
        return sqlite3_prepare_v2(s->db, sql->data, -1, out, NULL);
    }
    char *copy = strdup(sql->data);
    if (copy == NULL)
        return SQLITE_NOMEM;
    int rc = sqlite3_prepare_v3(s->db, sql->data, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc != SQLITE_OK) {
        free(copy);
        return rc;
    }
    s->scan_next++;
    sqlite3_finalize(s->scans[k].st);
    free(s->scans[k].sql);
    s->scans[k].sql = copy;
    s->scans[k].st = *out;
    return SQLITE_OK;
}

/* The kinds with a partial index by agent. SQLite uses a partial index only when the
 * query names its kind as a literal, so these are written into the SQL (our own
 * constant text, never the caller's) instead of bound. */
static const char *indexed_kind(const struct ag_ledger_filter *f)
{
    static const char *const kinds[] = {"lifecycle", "revocation", "promotion"};
    for (size_t i = 0; f && f->kind && f->agent_id && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(f->kind, kinds[i]) == 0)
            return kinds[i];
    return NULL;
}

/* Builds the SELECT for a filter; binds are added in the same order by bind_filter. */
void ag__ledger_sqlite_filter_sql(struct ag_buf *sql, const struct ag_ledger_filter *f)
{
    ag__buf_puts(sql, "SELECT ");
    for (int c = 0; c < AG__COL_COUNT; c++)
        ag__buf_printf(sql, "%s%s", c ? "," : "", ag__col_name((enum ag__col)c));
    ag__buf_puts(sql, " FROM ledger WHERE 1");
    if (f && f->agent_id)
        ag__buf_puts(sql, " AND agent_id = ?");
    if (f && f->task_id)
        ag__buf_puts(sql, " AND task_id = ?");
    if (indexed_kind(f))
        ag__buf_printf(sql, " AND kind = '%s'", indexed_kind(f));
    else if (f && f->kind)
        ag__buf_puts(sql, " AND kind = ?");
    if (f && f->since_ms)
        ag__buf_puts(sql, " AND ts >= ?");
    if (f && f->until_ms)
        ag__buf_puts(sql, " AND ts < ?");
    if (f && f->after_seq)
        ag__buf_puts(sql, f->descending ? " AND seq < ?" : " AND seq > ?");
    ag__buf_puts(sql, f && f->descending ? " ORDER BY seq DESC" : " ORDER BY seq");
    if (f && f->limit > 0)
        ag__buf_puts(sql, " LIMIT ?");
}

static void bind_filter(sqlite3_stmt *st, const struct ag_ledger_filter *f, char *since,
                        char *until)
{
    int i = 1;
    if (f == NULL)
        return;
    if (f->agent_id)
        sqlite3_bind_text(st, i++, f->agent_id, -1, SQLITE_STATIC);
    if (f->task_id)
        sqlite3_bind_text(st, i++, f->task_id, -1, SQLITE_STATIC);
    if (f->kind && !indexed_kind(f))
        sqlite3_bind_text(st, i++, f->kind, -1, SQLITE_STATIC);
    if (f->since_ms) {
        ag__rfc3339(f->since_ms, since);
        sqlite3_bind_text(st, i++, since, -1, SQLITE_STATIC);
    }
    if (f->until_ms) {
        ag__rfc3339(f->until_ms, until);
        sqlite3_bind_text(st, i++, until, -1, SQLITE_STATIC);
    }
    if (f->after_seq)
        sqlite3_bind_int64(st, i++, f->after_seq);
    if (f->limit > 0)
        sqlite3_bind_int64(st, i++, f->limit);
}

static void read_row(sqlite3_stmt *st, struct ag__ledger_row *row)
{
    row->data_is_canonical = 0; /* stored data is never trusted: verify re-checks it */
    for (int c = 0; c < AG__COL_COUNT; c++) {
        struct ag__value *v = &row->v[c];
        memset(v, 0, sizeof *v);
        switch (sqlite3_column_type(st, c)) {
        case SQLITE_NULL:
            v->type = AG__V_NULL;
            break;
        case SQLITE_INTEGER:
            v->type = AG__V_INT;
            v->i = sqlite3_column_int64(st, c);
            break;
        case SQLITE_TEXT:
            v->type = AG__V_TEXT;
            v->s = (const char *)sqlite3_column_text(st, c);
            v->len = (size_t)sqlite3_column_bytes(st, c);
            break;
        default:
            v->type = AG__V_OTHER;
        }
    }
}

static ag_err sq_scan(void *ctx, const struct ag_ledger_filter *f, ag__row_fn fn, void *fnctx)
{
    struct sq *s = ctx;
    int empty = 0;
    ag_err err0 = s->insert ? AG_OK : sq_no_schema(s, &empty);
    if (err0 || empty)
        return err0;
    struct ag_buf sql;
    ag__buf_init(&sql);
    ag__ledger_sqlite_filter_sql(&sql, f);
    if (ag__buf_status(&sql)) {
        ag__buf_free(&sql);
        return ag__fail(AG_ENOMEM, "ledger query");
    }
    sqlite3_stmt *st = NULL;
    int transient;
    int rc = scan_statement(s, &sql, &st, &transient);
    ag__buf_free(&sql);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "querying the ledger");
    char since[AG_RFC3339_LEN], until[AG_RFC3339_LEN];
    bind_filter(st, f, since, until);
    struct ag__ledger_row row;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_row(st, &row);
        if (fn(fnctx, &row) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    ag_err err = rc == SQLITE_DONE ? AG_OK : sq_fail(s, rc, "reading the ledger");
    if (transient) {
        sqlite3_finalize(st);
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return err;
}

/* ---- checking the file itself (verify) ---------------------------------------------- */

/* PRAGMA integrity_check rather than quick_check: only the full check compares each
 * index with the rows it must hold, so only it sees an index rebuilt to leave rows out
 * (say, WHERE kind = 'revocation' AND 0) whose original SQL was then written back into
 * sqlite_master. It costs about 0.2 s per 100,000 rows, less than the chain walk
 * (docs/ledger-format.md). */
static ag_err sq_integrity(struct sq *s, char *problem, size_t len)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, rc, "checking the file's integrity");
    int n = 0; /* SQLite stops at 100 */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        if (msg == NULL || strcmp(msg, "ok") == 0 || n++ > 0)
            continue;
        if (strncmp(msg, "*** ", 4) == 0 && strchr(msg, '\n')) /* "*** in database main ***" */
            msg = strchr(msg, '\n') + 1;
        snprintf(problem, len, "integrity check: %s", msg);
    }
    ag_err err = rc == SQLITE_DONE ? AG_OK : sq_fail(s, rc, "checking the file's integrity");
    sqlite3_finalize(st);
    if (err == AG_OK && n > 1) {
        size_t used = strlen(problem);
        snprintf(problem + used, len - used, " (and %s%d more)", n >= 100 ? "at least " : "",
                 n - 1);
    }
    return err;
}

/* Every schema object but the planner's statistics (ANALYZE), in name order. */
static const char schema_objects[] =
    "SELECT name, type, tbl_name, sql FROM sqlite_master "
    "WHERE NOT (type = 'table' AND name LIKE 'sqlite\\_stat%' ESCAPE '\\') ORDER BY name";

static const char *col(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? t : "";
}

/* Compares the file's objects (have) with the ones the schema creates (want), both in
 * name order, and describes the first difference. An object that is missing is a
 * difference only when the file claims the current schema version: an older file gets
 * the new objects from its next writer, and a missing index or trigger hides nothing.
 * Returns the SQLite code of the last step. */
static int schema_diff(sqlite3_stmt *have, sqlite3_stmt *want, int missing_ok, char *problem,
                       size_t len)
{
    int rh = sqlite3_step(have), rw = sqlite3_step(want);
    while ((rh == SQLITE_ROW || rw == SQLITE_ROW) && (rh == SQLITE_ROW || rh == SQLITE_DONE) &&
           (rw == SQLITE_ROW || rw == SQLITE_DONE)) {
        int c = rh != SQLITE_ROW ? 1 : rw != SQLITE_ROW ? -1 : strcmp(col(have, 0), col(want, 0));
        if (c < 0) {
            snprintf(problem, len, "schema: %s %s is not one agentgov creates", col(have, 1),
                     col(have, 0));
            return SQLITE_DONE;
        }
        if (c > 0 && !missing_ok) {
            snprintf(problem, len, "schema: %s %s is missing", col(want, 1), col(want, 0));
            return SQLITE_DONE;
        }
        if (c == 0 && (strcmp(col(have, 1), col(want, 1)) || strcmp(col(have, 2), col(want, 2)) ||
                       strcmp(col(have, 3), col(want, 3)))) {
            snprintf(problem, len, "schema: %s %s differs from the one agentgov creates",
                     col(have, 1), col(have, 0));
            return SQLITE_DONE;
        }
        if (c <= 0)
            rh = sqlite3_step(have);
        if (c >= 0)
            rw = sqlite3_step(want);
    }
    return rh != SQLITE_DONE ? rh : rw;
}

/* The file's schema must be exactly ag__ledger_sqlite_schema, compared object by object
 * with a database that has just been created from it: the partial indexes decide which
 * rows an agent's metrics see, and the views are what the seed's queries read. */
static ag_err sq_schema_check(struct sq *s, char *problem, size_t len)
{
    int version;
    ag_err err = sq_user_version(s, &version);
    if (err)
        return err;
    sqlite3 *ref = NULL;
    sqlite3_stmt *have = NULL, *want = NULL;
    int rc = sqlite3_open(":memory:", &ref);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(ref, ag__ledger_sqlite_schema, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(ref, schema_objects, -1, &want, NULL);
    if (rc != SQLITE_OK)
        err = ag__fail(AG_EINTERNAL, "building the reference schema: %s", sqlite3_errmsg(ref));
    else if ((rc = sqlite3_prepare_v2(s->db, schema_objects, -1, &have, NULL)) != SQLITE_OK)
        err = sq_fail(s, rc, "reading the schema");
    else if ((rc = schema_diff(have, want, version < SCHEMA_VERSION, problem, len)) != SQLITE_DONE)
        err = sq_fail(s, rc, "reading the schema");
    sqlite3_finalize(have);
    sqlite3_finalize(want);
    sqlite3_close(ref);
    return err;
}

static ag_err sq_check(void *ctx, char *problem, size_t len)
{
    struct sq *s = ctx;
    problem[0] = '\0';
    ag_err err = sq_integrity(s, problem, len);
    if (err == AG_OK && problem[0] == '\0')
        err = sq_schema_check(s, problem, len);
    return err;
}

const struct ag__ledger_backend ag__ledger_backend_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .insert = sq_insert,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .head = sq_head,
    .last_of_kind = sq_last_of_kind,
    .scan = sq_scan,
    .tidy = sq_tidy,
    .check = sq_check,
    .relax = sq_relax,
    .sync = sq_sync,
};
