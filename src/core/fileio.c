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

int ag__open_beneath_walk_only;

enum { WALK_MORE = -2, WALK_MAX_LINKS = 40 /* the kernel's MAXSYMLINKS */ };

/* The fallback's state: cur is the directory reached so far (dirfd until the first
 * step), where its path below dirfd, and rest[pos..] what is left to resolve. */
struct walk {
    int dirfd, cur, links, no_symlinks;
    size_t wlen, pos;
    char where[PATH_MAX], rest[PATH_MAX];
};

static void walk_set_cur(struct walk *w, int fd)
{
    if (w->cur != w->dirfd)
        close(w->cur);
    w->cur = fd;
}

static int walk_fail(struct walk *w, int e)
{
    walk_set_cur(w, w->dirfd);
    errno = e;
    return -1;
}

/* "..": back to the parent by walking where again from dirfd, never through the
 * kernel's "..", so that a directory renamed meanwhile cannot lead outside. */
static int walk_up(struct walk *w)
{
    if (w->wlen == 0)
        return walk_fail(w, EXDEV);
    char *slash = memrchr(w->where, '/', w->wlen);
    w->wlen = slash ? (size_t)(slash - w->where) : 0;
    w->where[w->wlen] = '\0';
    walk_set_cur(w, w->dirfd);
    char path[PATH_MAX], *save = NULL;
    memcpy(path, w->where, w->wlen + 1);
    for (char *p = strtok_r(path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        int fd = openat(w->cur, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return walk_fail(w, errno);
        walk_set_cur(w, fd);
    }
    return WALK_MORE;
}

static int walk_down(struct walk *w, const char *name, int fd)
{
    size_t n = strlen(name);
    if (w->wlen + n + 2 > sizeof w->where) {
        close(fd);
        return walk_fail(w, ENAMETOOLONG);
    }
    if (w->wlen)
        w->where[w->wlen++] = '/';
    memcpy(w->where + w->wlen, name, n + 1);
    w->wlen += n;
    walk_set_cur(w, fd);
    return WALK_MORE;
}

/* A symbolic link at name in cur: its target is resolved next, from cur, then the
 * rest; as openat2 does, an absolute target is refused and the links are counted. */
static int walk_link(struct walk *w, const char *name)
{
    if (w->no_symlinks || ++w->links > WALK_MAX_LINKS)
        return walk_fail(w, ELOOP);
    char target[PATH_MAX];
    ssize_t n = readlinkat(w->cur, name, target, sizeof target);
    if (n < 0 || (size_t)n >= sizeof target)
        return walk_fail(w, n < 0 ? errno : ENAMETOOLONG);
    if (target[0] == '/')
        return walk_fail(w, EXDEV);
    size_t left = strlen(w->rest + w->pos), sep = left > 0;
    if ((size_t)n + sep + left >= sizeof w->rest)
        return walk_fail(w, ENAMETOOLONG);
    memmove(w->rest + n + sep, w->rest + w->pos, left + 1);
    memcpy(w->rest, target, (size_t)n);
    if (sep)
        w->rest[n] = '/';
    w->pos = 0;
    return WALK_MORE;
}

/* A component that is not the last: a directory to enter, or a link to follow. */
static int walk_dir(struct walk *w, const char *name)
{
    if (strcmp(name, ".") == 0)
        return WALK_MORE;
    if (strcmp(name, "..") == 0)
        return walk_up(w);
    int fd = openat(w->cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return walk_fail(w, e);
    }
    if (S_ISDIR(st.st_mode))
        return walk_down(w, name, fd);
    close(fd);
    return S_ISLNK(st.st_mode) ? walk_link(w, name) : walk_fail(w, ENOTDIR);
}

/* The last component, opened with O_NOFOLLOW; if it is a link the caller did not
 * forbid, its target is resolved next. A trailing slash asks for a directory (and
 * follows a link even under O_NOFOLLOW), as in the kernel's own lookup. */
static int walk_last(struct walk *w, const char *name, int slash, int flags, mode_t mode)
{
    int dots = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
    if (strcmp(name, "..") == 0 && walk_up(w) == -1)
        return -1;
    if (slash && (flags & O_CREAT) && !dots)
        return walk_fail(w, EISDIR);
    int f = flags | O_NOFOLLOW | O_CLOEXEC | (slash ? O_DIRECTORY : 0);
    int fd = openat(w->cur, dots ? "." : name, f, mode);
    int e = errno;
    if (fd >= 0) {
        walk_set_cur(w, w->dirfd);
        return fd;
    }
    char c;
    if (dots || ((flags & O_NOFOLLOW) && !slash) || (e != ELOOP && e != ENOTDIR) ||
        readlinkat(w->cur, name, &c, 1) < 0)
        return walk_fail(w, e);
    return walk_link(w, name);
}

/* Takes the next component off rest into name; tells whether it is the last one and
 * whether slashes follow it. */
static int walk_next(struct walk *w, char *name, int *last, int *slash)
{
    const char *p = w->rest + w->pos;
    while (*p == '/')
        p++;
    size_t n = strcspn(p, "/");
    if (n > NAME_MAX)
        return walk_fail(w, ENAMETOOLONG);
    memcpy(name, p, n);
    name[n] = '\0';
    p += n;
    *slash = *p == '/';
    while (*p == '/')
        p++;
    *last = *p == '\0';
    w->pos = (size_t)(p - w->rest) - (*slash && *last ? 1 : 0);
    return 0;
}

/* The fallback of ag__open_beneath: openat2's resolution done in user space, one
 * component at a time, each opened with O_NOFOLLOW from the directory reached so far,
 * ".." and links resolved here; nothing can be reached that is not beneath dirfd. */
static int open_walk(int dirfd, const char *rel, int flags, mode_t mode, int no_symlinks)
{
    if (rel[0] == '/' || rel[0] == '\0') {
        errno = rel[0] ? EXDEV : ENOENT;
        return -1;
    }
    struct walk w = {.dirfd = dirfd, .cur = dirfd, .no_symlinks = no_symlinks};
    if (snprintf(w.rest, sizeof w.rest, "%s", rel) >= (int)sizeof w.rest) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (;;) {
        char name[NAME_MAX + 1];
        int last, slash, rc = walk_next(&w, name, &last, &slash);
        if (rc == 0)
            rc = last ? walk_last(&w, name, slash, flags, mode) : walk_dir(&w, name);
        if (rc != WALK_MORE)
            return rc;
    }
}

int ag__open_beneath(int dirfd, const char *rel, int flags, mode_t mode, int no_symlinks)
{
    struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                           .mode = (flags & O_CREAT) ? mode : 0,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                                      (no_symlinks ? RESOLVE_NO_SYMLINKS : 0)};
    if (ag__open_beneath_walk_only)
        return open_walk(dirfd, rel, flags, mode, no_symlinks);
    int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS)
        return fd;
    return open_walk(dirfd, rel, flags, mode, no_symlinks);
}
