#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/err.h"

static ag_err errno_to_ag(int e)
{
    switch (e) {
    case ENOENT:
        return AG_ENOTFOUND;
    case EEXIST:
        return AG_EEXIST;
    case EACCES:
    case EPERM:
        return AG_EPERM;
    case ENOSPC:
    case EDQUOT:
        return AG_ENOSPACE;
    case EROFS:
        return AG_EREADONLY;
    case ENOMEM:
        return AG_ENOMEM;
    default:
        return AG_EIO;
    }
}

ag_err ag__read_file(const char *path, size_t max, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ag__fail(errno_to_ag(errno), "%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return ag__fail(AG_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max) {
                free(buf);
                close(fd);
                return ag__fail(AG_ELIMIT, "%s: larger than %zu bytes", path, max);
            }
            char *p = realloc(buf, cap * 2);
            if (p == NULL) {
                free(buf);
                close(fd);
                return ag__fail(AG_ENOMEM, "%s: out of memory", path);
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return ag__fail(errno_to_ag(e), "%s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > max) {
        free(buf);
        return ag__fail(AG_ELIMIT, "%s: larger than %zu bytes", path, max);
    }
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return AG_OK;
}

static ag_err write_all(int fd, const char *p, size_t len, const char *path)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return ag__fail(errno_to_ag(errno), "%s: %s", path, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return AG_OK;
}

static void fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

/* Tries to create a new temporary file next to path. Its name is random and it is
 * created O_EXCL|O_NOFOLLOW: the directory may be writable by a process we do not
 * trust (a governed child's workdir), which could otherwise plant a symlink at a
 * predictable name and have us truncate and write the file it points to. */
#define TEMP_TRIES 16
static int open_temp(const char *path, mode_t mode, char tmp[PATH_MAX])
{
    int fd = -1;
    errno = EEXIST;
    for (int i = 0; fd < 0 && errno == EEXIST && i < TEMP_TRIES; i++) {
        char rnd[17];
        ag__random_hex(8, rnd);
        snprintf(tmp, PATH_MAX, "%s.tmp.%s", path, rnd);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    }
    return fd;
}

ag_err ag__write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, int excl)
{
    char tmp[PATH_MAX];
    if (strlen(path) + sizeof ".tmp.0123456789abcdef" > sizeof tmp)
        return ag__fail(AG_EINVAL, "%s: path too long", path);
    int fd = open_temp(path, mode, tmp);
    if (fd < 0)
        return ag__fail(errno_to_ag(errno), "%s: %s", tmp, strerror(errno));
    ag_err err = write_all(fd, data, len, tmp);
    if (err == AG_OK && fchmod(fd, mode) != 0)
        err = ag__fail(errno_to_ag(errno), "%s: chmod: %s", tmp, strerror(errno));
    if (err == AG_OK && fsync(fd) != 0)
        err = ag__fail(errno_to_ag(errno), "%s: fsync: %s", tmp, strerror(errno));
    close(fd);
    if (err == AG_OK) {
        /* link() fails if the target exists, which gives us exclusive creation. */
        int rc = excl ? link(tmp, path) : rename(tmp, path);
        if (rc != 0)
            err = ag__fail(errno_to_ag(errno), "%s: %s", path, strerror(errno));
    }
    if (err != AG_OK || excl)
        unlink(tmp);
    if (err == AG_OK)
        fsync_parent(path);
    return err;
}

ag_err ag__mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return ag__fail(AG_EINVAL, "%s: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return ag__fail(errno_to_ag(errno), "%s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return ag__fail(errno_to_ag(errno), "%s: %s", tmp, strerror(errno));
    return AG_OK;
}

/* The fallback of ag__open_beneath: no "..", no absolute path, no link anywhere. */
static int open_walk(int dirfd, const char *rel, int flags, mode_t mode)
{
    char buf[PATH_MAX];
    size_t n = strlen(rel);
    if (rel[0] == '/' || n == 0 || n >= sizeof buf) {
        errno = rel[0] == '/' ? EXDEV : (n ? ENAMETOOLONG : ENOENT);
        return -1;
    }
    memcpy(buf, rel, n + 1);
    int cur = dirfd, owned = 0;
    char *save = NULL, *part = strtok_r(buf, "/", &save);
    while (part) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(part, "..") == 0) {
            if (owned)
                close(cur);
            errno = EXDEV;
            return -1;
        }
        int fd = next ? openat(cur, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                      : openat(cur, part, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        int saved = errno;
        if (owned)
            close(cur);
        if (fd < 0) {
            errno = saved;
            return -1;
        }
        cur = fd;
        owned = 1;
        part = next;
    }
    if (!owned) /* rel was only slashes: the directory itself */
        return openat(dirfd, ".", flags | O_CLOEXEC, mode);
    return cur;
}

int ag__open_beneath(int dirfd, const char *rel, int flags, mode_t mode, int no_symlinks)
{
    struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                           .mode = (flags & O_CREAT) ? mode : 0,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                                      (no_symlinks ? RESOLVE_NO_SYMLINKS : 0)};
    int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS)
        return fd;
    return open_walk(dirfd, rel, flags, mode);
}
