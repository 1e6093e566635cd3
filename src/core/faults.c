/* Fault injection for the chaos harness: a clock offset and a SQLite VFS that fails the
 * ledger's writes or syncs on demand. Compiled to nothing outside the test build. */
#include "core/faults.h"

#ifdef AG_FAULTS

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const char *control;  /* $AGENTGOV_FAULTS, NULL: off */
static int64_t checked_ms;   /* monotonic ms of the last look at the file */
static struct timespec seen; /* its mtime then */
static off_t seen_size = -1;
static _Atomic int64_t clock_offset;
static _Atomic int fail_writes, fail_syncs;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Re-reads the control file when it changed. A count (write N, fsync N) is applied when
 * the file changes, so that rewriting it arms the fault again. */
static void refresh(void)
{
    if (control == NULL)
        return;
    int64_t now = mono_ms();
    pthread_mutex_lock(&mu);
    if (now - checked_ms < 20) {
        pthread_mutex_unlock(&mu);
        return;
    }
    checked_ms = now;
    struct stat st;
    if (stat(control, &st) != 0) {
        if (seen_size != -1) {
            atomic_store(&clock_offset, 0);
            atomic_store(&fail_writes, 0);
            atomic_store(&fail_syncs, 0);
            seen_size = -1;
        }
        pthread_mutex_unlock(&mu);
        return;
    }
    if (st.st_mtim.tv_sec == seen.tv_sec && st.st_mtim.tv_nsec == seen.tv_nsec &&
        st.st_size == seen_size) {
        pthread_mutex_unlock(&mu);
        return;
    }
    seen = st.st_mtim;
    seen_size = st.st_size;
    int64_t off = 0;
    int w = 0, f = 0;
    FILE *fp = fopen(control, "r");
    char word[32];
    long long v;
    while (fp && fscanf(fp, "%31s %lld", word, &v) == 2) {
        if (strcmp(word, "clock") == 0)
            off = v;
        else if (strcmp(word, "write") == 0)
            w = (int)v;
        else if (strcmp(word, "fsync") == 0)
            f = (int)v;
    }
    if (fp)
        fclose(fp);
    atomic_store(&clock_offset, off);
    atomic_store(&fail_writes, w);
    atomic_store(&fail_syncs, f);
    pthread_mutex_unlock(&mu);
}

int64_t ag__fault_clock_offset_ms(void)
{
    refresh();
    return atomic_load(&clock_offset);
}

/* Takes one from a counter that is above zero; 1 when it did (the call must fail). */
static int take(_Atomic int *n)
{
    refresh();
    int v = atomic_load(n);
    while (v > 0)
        if (atomic_compare_exchange_weak(n, &v, v - 1))
            return 1;
    return 0;
}

/* ---- the VFS: the default one, with the ledger's writes and syncs made to fail ---- */

struct ffile {
    sqlite3_file base;
    sqlite3_file *real; /* allocated right after this struct */
    int ledger;         /* a file of the ledger: faults apply */
};

static sqlite3_vfs fvfs;
static sqlite3_io_methods fmethods;
#define REAL_VFS ((sqlite3_vfs *)fvfs.pAppData)
#define REAL(f)  (((struct ffile *)(f))->real)

static int f_close(sqlite3_file *f)
{
    int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
    return rc;
}
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    if (((struct ffile *)f)->ledger && take(&fail_writes))
        return SQLITE_IOERR_WRITE;
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
    if (((struct ffile *)f)->ledger && take(&fail_syncs))
        return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int f_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int f_check(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_devchar(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, p);
}
static int f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shmbarrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shmunmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p)
{
    return REAL(f)->pMethods->xFetch(REAL(f), o, n, p);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
    (void)vfs;
    struct ffile *ff = (struct ffile *)file;
    ff->real = (sqlite3_file *)(ff + 1);
    ff->ledger = name && strstr(name, "ledger.db") != NULL;
    int rc = REAL_VFS->xOpen(REAL_VFS, name, ff->real, flags, out);
    /* The real file's methods decide which optional ones exist (iVersion). */
    if (ff->real->pMethods) {
        fmethods.iVersion = ff->real->pMethods->iVersion;
        file->pMethods = &fmethods;
    } else {
        file->pMethods = NULL;
    }
    return rc;
}

static int f_delete(sqlite3_vfs *v, const char *n, int s)
{
    (void)v;
    return REAL_VFS->xDelete(REAL_VFS, n, s);
}
static int f_access(sqlite3_vfs *v, const char *n, int fl, int *o)
{
    (void)v;
    return REAL_VFS->xAccess(REAL_VFS, n, fl, o);
}
static int f_fullpath(sqlite3_vfs *v, const char *n, int len, char *o)
{
    (void)v;
    return REAL_VFS->xFullPathname(REAL_VFS, n, len, o);
}
static void *f_dlopen(sqlite3_vfs *v, const char *n)
{
    (void)v;
    return REAL_VFS->xDlOpen(REAL_VFS, n);
}
static void f_dlerror(sqlite3_vfs *v, int n, char *o)
{
    (void)v;
    REAL_VFS->xDlError(REAL_VFS, n, o);
}
static void (*f_dlsym(sqlite3_vfs *v, void *h, const char *s))(void)
{
    (void)v;
    return REAL_VFS->xDlSym(REAL_VFS, h, s);
}
static void f_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    REAL_VFS->xDlClose(REAL_VFS, h);
}
static int f_random(sqlite3_vfs *v, int n, char *o)
{
    (void)v;
    return REAL_VFS->xRandomness(REAL_VFS, n, o);
}
static int f_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return REAL_VFS->xSleep(REAL_VFS, us);
}
static int f_time(sqlite3_vfs *v, double *o)
{
    (void)v;
    return REAL_VFS->xCurrentTime(REAL_VFS, o);
}
static int f_lasterr(sqlite3_vfs *v, int n, char *o)
{
    (void)v;
    return REAL_VFS->xGetLastError ? REAL_VFS->xGetLastError(REAL_VFS, n, o) : 0;
}
static int f_time64(sqlite3_vfs *v, sqlite3_int64 *o)
{
    (void)v;
    return REAL_VFS->xCurrentTimeInt64(REAL_VFS, o);
}

__attribute__((constructor)) static void install(void)
{
    control = getenv("AGENTGOV_FAULTS");
    if (control == NULL || control[0] == '\0') {
        control = NULL;
        return;
    }
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    if (real == NULL)
        return;
    fmethods = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = f_close,
        .xRead = f_read,
        .xWrite = f_write,
        .xTruncate = f_truncate,
        .xSync = f_sync,
        .xFileSize = f_size,
        .xLock = f_lock,
        .xUnlock = f_unlock,
        .xCheckReservedLock = f_check,
        .xFileControl = f_fcntl,
        .xSectorSize = f_sector,
        .xDeviceCharacteristics = f_devchar,
        .xShmMap = f_shmmap,
        .xShmLock = f_shmlock,
        .xShmBarrier = f_shmbarrier,
        .xShmUnmap = f_shmunmap,
        .xFetch = f_fetch,
        .xUnfetch = f_unfetch,
    };
    fvfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct ffile) + real->szOsFile,
        .mxPathname = real->mxPathname,
        .zName = "agentgov-faults",
        .pAppData = real,
        .xOpen = f_open,
        .xDelete = f_delete,
        .xAccess = f_access,
        .xFullPathname = f_fullpath,
        .xDlOpen = f_dlopen,
        .xDlError = f_dlerror,
        .xDlSym = f_dlsym,
        .xDlClose = f_dlclose,
        .xRandomness = f_random,
        .xSleep = f_sleep,
        .xCurrentTime = f_time,
        .xGetLastError = f_lasterr,
        .xCurrentTimeInt64 = f_time64,
    };
    sqlite3_vfs_register(&fvfs, 1);
}

#else
/* ISO C wants a translation unit to declare something. */
typedef int ag__faults_unused;
#endif
