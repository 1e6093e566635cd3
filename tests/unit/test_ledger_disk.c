/* Fail closed: a full disk, a read-only file system, a file-size limit and a database
 * locked by another writer all make appends fail with a clear error; nothing is
 * acknowledged that is not committed, and the ledger still verifies afterwards. The
 * tmpfs cases need root (they run in a private mount namespace, so nothing leaks). */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger_fixture.h"

/* A private mount namespace for this process, or 0 if that is not possible. */
static int private_mounts(void)
{
    static int state = -1;
    if (state < 0)
        state = geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
                mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0;
    return state;
}

static char big_data[8192];

static struct ag_ledger_entry big_entry(void)
{
    if (big_data[0] == '\0') {
        memset(big_data, 'x', sizeof big_data - 1);
        memcpy(big_data, "{\"blob\":\"", 9);
        memcpy(big_data + sizeof big_data - 3, "\"}", 3);
    }
    struct ag_ledger_entry e = fx_entry("disk", "write");
    e.data_json = big_data;
    return e;
}

/* Appends until the first failure (at most max); returns the error and the head. */
static ag_err append_until_failure(ag_ledger *l, int max, int64_t *acked_head)
{
    for (int i = 0; i < max; i++) {
        struct ag_ledger_entry e = big_entry();
        int64_t seq = 0;
        ag_err err = ag_ledger_append(l, &e, &seq, NULL);
        if (err)
            return err;
        *acked_head = seq;
    }
    return AG_OK;
}

TEST(ledger_disk_full_tmpfs)
{
    if (!private_mounts()) {
        printf("    skipped: needs root for a tmpfs mount\n");
        return;
    }
    struct fx f;
    fx_init(&f, "full", 0);
    char mnt[1100];
    snprintf(mnt, sizeof mnt, "%s/mnt", f.dir);
    ASSERT_EQ(mkdir(mnt, 0700), 0);
    ASSERT_EQ(mount("tmpfs", mnt, "tmpfs", 0, "size=1m"), 0);
    snprintf(f.db, sizeof f.db, "%s/ledger.db", mnt);
    f.opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(&f);
    int64_t acked = 0;
    ag_err err = append_until_failure(l, 100000, &acked);
    char detail[512];
    snprintf(detail, sizeof detail, "%s", ag_last_error());
    int64_t head;
    ag_err herr = ag_ledger_head(l, &head, NULL);
    /* Still full: the same append fails the same way and changes nothing. (A smaller
     * entry may fit in what is left, depending on the page layout.) */
    struct ag_ledger_entry e = big_entry();
    ag_err again = ag_ledger_append(l, &e, NULL, NULL);
    ag_ledger_close(l);
    ASSERT_ERR(err, AG_ENOSPACE);
    ASSERT_CONTAINS(detail, "full");
    ASSERT_OK(herr);
    ASSERT_TRUE(acked > 10);
    ASSERT_EQ(head, acked); /* the failed batch left no row behind */
    ASSERT_TRUE(again == AG_ENOSPACE || again == AG_EIO);
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.entries, acked);
    /* Room again: appends resume on the same chain. */
    ASSERT_EQ(umount2(mnt, MNT_DETACH), 0);
}

TEST(ledger_read_only_filesystem)
{
    if (!private_mounts()) {
        printf("    skipped: needs root for a tmpfs mount\n");
        return;
    }
    struct fx f;
    fx_init(&f, "rofs", 0);
    char mnt[1100];
    snprintf(mnt, sizeof mnt, "%s/mnt", f.dir);
    ASSERT_EQ(mkdir(mnt, 0700), 0);
    ASSERT_EQ(mount("tmpfs", mnt, "tmpfs", 0, "size=4m"), 0);
    snprintf(f.db, sizeof f.db, "%s/ledger.db", mnt);
    f.opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(&f);
    for (int i = 0; i < 5; i++)
        fx_append(l, "a", "x");
    ag_ledger_close(l);
    ASSERT_EQ(mount("none", mnt, "none", MS_REMOUNT | MS_RDONLY, NULL), 0);
    ag_err err = ag_ledger_open(f.db, &f.opts, &l);
    ag_err aerr = AG_OK;
    char detail[512] = "";
    if (err == AG_OK) {
        struct ag_ledger_entry e = fx_entry("a", "y");
        aerr = ag_ledger_append(l, &e, NULL, NULL);
        snprintf(detail, sizeof detail, "%s", ag_last_error());
        ag_ledger_close(l);
    } else {
        snprintf(detail, sizeof detail, "%s", ag_last_error());
    }
    struct ag_verify_result r;
    ag_err verr = ag_ledger_verify(f.db, f.pk, &r);
    umount2(mnt, MNT_DETACH);
    /* Either the open or the append refuses, as read-only, naming the file. */
    ASSERT_ERR(err == AG_OK ? aerr : err, AG_EREADONLY);
    ASSERT_CONTAINS(detail, "ledger.db");
    ASSERT_OK(verr);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.entries, 5);
}

/* A file-size limit (works without root): in a child, so the limit stays there. */
TEST(ledger_file_size_limit)
{
    struct fx f;
    fx_init(&f, "fsize", 0);
    f.opts.no_close_checkpoint = 1;
    ag_ledger *l = fx_open(&f);
    fx_append(l, "a", "x");
    ag_ledger_close(l);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {256 * 1024, 256 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        ag_ledger *cl;
        if (ag_ledger_open(f.db, &f.opts, &cl) != AG_OK)
            _exit(2);
        int64_t acked = 0;
        ag_err err = append_until_failure(cl, 100000, &acked);
        int64_t out[2] = {err, acked};
        if (write(p[1], out, sizeof out) != (ssize_t)sizeof out)
            _exit(3);
        _exit(0); /* no close: the process dies as a crashed daemon would */
    }
    close(p[1]);
    int64_t got[2] = {0, 0};
    ASSERT_EQ(read(p[0], got, sizeof got), (ssize_t)sizeof got);
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    ASSERT_EQ(WEXITSTATUS(status), 0);
    /* SQLite reports a write cut short by the limit as an I/O error (the errno is lost
     * by then); a genuinely full disk is AG_ENOSPACE (test above). */
    ASSERT_TRUE(got[0] == AG_ENOSPACE || got[0] == AG_EIO);
    ASSERT_TRUE(got[1] > 2);
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.entries, got[1]);
    /* Without the limit the same ledger takes appends again. */
    l = fx_open(&f);
    int64_t seq = fx_append(l, "a", "after");
    ASSERT_EQ(seq, got[1] + 1);
    ag_ledger_close(l);
    r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
}

TEST(ledger_locked_by_another_writer)
{
    struct fx f;
    fx_init(&f, "locked", 0);
    f.opts.no_close_checkpoint = 1;
    f.opts.busy_timeout_ms = 100;
    ag_ledger *l = fx_open(&f);
    fx_append(l, "a", "x");
    sqlite3 *other;
    ASSERT_EQ(sqlite3_open(f.db, &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct ag_ledger_entry e = fx_entry("a", "y");
    int64_t seq = -1;
    ASSERT_ERR(ag_ledger_append(l, &e, &seq, NULL), AG_ELEDGER);
    ASSERT_CONTAINS(ag_last_error(), "locked");
    ASSERT_EQ(seq, -1); /* nothing acknowledged */
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    ASSERT_OK(ag_ledger_append(l, &e, &seq, NULL));
    ASSERT_EQ(seq, 2);
    ag_ledger_close(l);
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.entries, 2);
}

/* Two processes appending to one file keep one linear chain (the head is re-read
 * inside each write transaction). */
TEST(ledger_two_processes_one_chain)
{
    struct fx f;
    fx_init(&f, "twoproc", 0);
    f.opts.no_close_checkpoint = 1;
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            ag_ledger *cl;
            if (ag_ledger_open(f.db, &f.opts, &cl) != AG_OK)
                _exit(2);
            for (int i = 0; i < 100; i++) {
                struct ag_ledger_entry e = fx_entry(k ? "p1" : "p0", "x");
                if (ag_ledger_append(cl, &e, NULL, NULL) != AG_OK)
                    _exit(3);
            }
            ag_ledger_close(cl);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        ASSERT_EQ(WEXITSTATUS(status), 0);
    }
    struct ag_verify_result r = fx_verify(&f);
    ASSERT_EQ(r.ok, 1);
    ASSERT_EQ(r.entries, 200);
}
