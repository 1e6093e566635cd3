/* The store conformance suite on the embedded SQLite backend, plus what only this
 * backend has: a file shared by several processes, persistence, the expiry purge. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_conformance.h"
#include "test.h"

static char url[4096];

static void sqlite_reset(void)
{
    snprintf(url, sizeof url, "sqlite:%s/state.db", ag_test_fresh_dir("store"));
}

static ag_store *sqlite_open(void)
{
    ag_store *s = NULL;
    ASSERT_OK(ag_store_open(url, &s));
    return s;
}

static const struct ag_sc_target target = {"sqlite", sqlite_reset, sqlite_open};

#define REG(name)                                                                                  \
    TEST(sqlite_##name)                                                                            \
    {                                                                                              \
        ag_sc_run(&target, ag_sc_##name);                                                          \
    }
AG_SC_CASES(REG)
#undef REG

TEST(sqlite_open_errors)
{
    ag_store *s = (ag_store *)1;
    ASSERT_ERR(ag_store_open("mongodb://x", &s), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "mongodb://x");
    ASSERT_TRUE(s == NULL);
    ASSERT_ERR(ag_store_open("", &s), AG_EINVAL);
    ASSERT_ERR(ag_store_open("sqlite:", &s), AG_EINVAL);
    ASSERT_ERR(ag_store_open("sqlite:/nonexistent/dir/state.db", &s), AG_ESTORE);
    ASSERT_CONTAINS(ag_last_error(), "/nonexistent/dir/state.db");
    /* a file that is not a database */
    char path[4096];
    snprintf(path, sizeof path, "%s/junk.db", ag_test_fresh_dir("junk"));
    FILE *f = fopen(path, "w");
    fputs("this is not an SQLite database, not even close to one....................\n", f);
    fclose(f);
    char u[4200];
    snprintf(u, sizeof u, "sqlite:%s", path);
    ASSERT_ERR(ag_store_open(u, &s), AG_ESTORE);
    ASSERT_CONTAINS(ag_last_error(), "junk.db");
}

TEST(sqlite_backend_and_file)
{
    sqlite_reset();
    ag_store *s = sqlite_open();
    ASSERT_STREQ(ag_store_backend(s), "sqlite");
    ASSERT_OK(ag_store_set(s, "k", "v", 0));
    ASSERT_EQ(ag_store_round_trips(s), 0);
    ag_store_free(s);
    struct stat st;
    ASSERT_EQ(stat(url + strlen("sqlite:"), &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    /* state survives a reopen */
    s = sqlite_open();
    char *v;
    ASSERT_OK(ag_store_get(s, "k", &v));
    ASSERT_STREQ(v, "v");
    free(v);
    ag_store_free(s);
}

/* Several processes incrementing one field through their own connections. */
TEST(sqlite_several_processes)
{
    sqlite_reset();
    enum { PROCS = 4, EACH = 150 };
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ASSERT_TRUE(pids[p] >= 0);
        if (pids[p] == 0) {
            ag_store *s = NULL;
            if (ag_store_open(url, &s) != AG_OK)
                _exit(2);
            for (int i = 0; i < EACH; i++) {
                int64_t nv;
                if (ag_store_hincr(s, "procs", "n", 1, &nv) != AG_OK)
                    _exit(3);
            }
            ag_store_free(s);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        ASSERT_EQ(waitpid(pids[p], &status, 0), pids[p]);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
    }
    ag_store *s = sqlite_open();
    int64_t total;
    ASSERT_OK(ag_store_hincr(s, "procs", "n", 0, &total));
    ASSERT_EQ(total, PROCS * EACH);
    ag_store_free(s);
}

static long count_rows(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long n = -1;
    if (sqlite3_open(url + strlen("sqlite:"), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* Expired rows do not stay in the file: the periodic purge removes keys nobody touches,
 * members included. */
TEST(sqlite_purge_expired_rows)
{
    sqlite_reset();
    ag_store *s = sqlite_open();
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "p:%d", i);
        ASSERT_OK(ag_store_set(s, key, "x", 50));
    }
    struct ag_store_op ops[2] = {{AG_OP_HSET, "p:h", "f", "v", 0, 0},
                                 {AG_OP_PEXPIRE, "p:h", NULL, NULL, 50, 0}};
    struct ag_store_reply r[2];
    ASSERT_OK(ag_store_exec(s, NULL, ops, 2, r, NULL));
    ag_store_reply_free(r, 2);
    ASSERT_OK(ag_store_set(s, "keep", "x", 0));
    ASSERT_EQ(count_rows("SELECT count(*) FROM keyspace"), 22);
    struct timespec ts = {1, 200000000L}; /* past the purge interval */
    nanosleep(&ts, NULL);
    ASSERT_OK(ag_store_set(s, "other", "x", 0));
    ASSERT_EQ(count_rows("SELECT count(*) FROM keyspace"), 2);
    ASSERT_EQ(count_rows("SELECT count(*) FROM hashes"), 0);
    ag_store_free(s);
}
