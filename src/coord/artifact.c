/* The artifact_read tool: an agent reads the task's artifacts, in-process. The policy
 * judges the path the read would really reach: ".." and symbolic links are resolved
 * first, and the resource is "artifacts/{task}/{that path, relative}"; a path that
 * resolves outside the directory is put to the policy as its absolute resolved path,
 * which the agents' scope (artifacts and below) never grants. The file is then opened with
 * openat2(RESOLVE_BENEATH) from the directory, and the opened file must be the one that
 * was authorized (a link swapped in between is refused). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "coord/orch_int.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/safestr.h"

#define READ_MAX (64 * 1024)
#define LIST_MAX 200

ag_err ag__orch_artifacts_open(struct ag__orch *o)
{
    o->art_fd = -1;
    o->art_real = NULL;
    const char *dir = o->opts->artifacts_dir;
    if (!dir)
        return AG_OK;
    o->art_real = realpath(dir, NULL);
    if (!o->art_real)
        return ag__fail(AG_EINVAL, "orchestrate: artifacts directory %s: %s", dir, strerror(errno));
    o->art_fd = open(o->art_real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (o->art_fd < 0) {
        ag_err e =
            ag__fail(AG_EINVAL, "orchestrate: artifacts directory %s: %s", dir, strerror(errno));
        free(o->art_real);
        o->art_real = NULL;
        return e;
    }
    return AG_OK;
}

void ag__orch_artifacts_close(struct ag__orch *o)
{
    if (o->art_fd >= 0)
        close(o->art_fd);
    o->art_fd = -1;
    free(o->art_real);
    o->art_real = NULL;
}

/* Collapses "." and ".." and repeated slashes of an absolute path, in place. */
static void normalize(char *p)
{
    char *out = p;
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if (n == 0)
            break;
        if (n == 1 && s[0] == '.') {
            /* nothing */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (out > p && *--out != '/')
                ;
        } else {
            *out++ = '/';
            memmove(out, s, n);
            out += n;
        }
        s += n;
    }
    if (out == p)
        *out++ = '/';
    *out = '\0';
}

/* The absolute path that path (relative to the directory, or absolute) resolves to:
 * links followed where the file exists, else lexically. */
static int resolve(const struct ag__orch *o, const char *path, char out[PATH_MAX])
{
    char full[PATH_MAX * 2];
    if (path[0] == '/')
        snprintf(full, sizeof full, "%s", path);
    else
        snprintf(full, sizeof full, "%s/%s", o->art_real, path);
    if (strlen(full) >= PATH_MAX)
        return -1;
    if (realpath(full, out))
        return 0;
    snprintf(out, PATH_MAX, "%s", full);
    normalize(out);
    return 0;
}

/* The path of an open descriptor, as the kernel reports it. */
static int fd_path(int fd, char out[PATH_MAX])
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    if (n < 0)
        return -1;
    out[n] = '\0';
    return 0;
}

static char *listing(int base)
{
    int fd = ag__open_beneath(base, ".", O_RDONLY | O_DIRECTORY, 0, 0);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    json_t *a = json_array();
    struct dirent *de;
    while (a && (de = readdir(d)) && json_array_size(a) < LIST_MAX) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        char safe[NAME_MAX * 3 + 1];
        ag__utf8_safe_copy(safe, sizeof safe, de->d_name);
        json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "name", safe, "type",
                                           S_ISDIR(st.st_mode)   ? "dir"
                                           : S_ISREG(st.st_mode) ? "file"
                                                                 : "other",
                                           "size", (json_int_t)st.st_size));
    }
    closedir(d);
    json_t *o = json_pack("{s:b,s:o}", "ok", 1, "artifacts", a ? a : json_array());
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static ag_err read_file(int fd, const char *rel, char **result)
{
    char *buf = malloc(READ_MAX + 1);
    if (!buf)
        return ag__fail(AG_ENOMEM, "artifact_read: out of memory");
    size_t got = 0;
    ssize_t n;
    while (got < READ_MAX && (n = read(fd, buf + got, READ_MAX - got)) > 0)
        got += (size_t)n;
    char extra;
    int truncated = got == READ_MAX && read(fd, &extra, 1) == 1;
    buf[got] = '\0';
    char *text = buf;
    if (strlen(buf) != got || !ag__utf8_valid(buf, got)) {
        /* binary or not UTF-8: escaped byte by byte, so that the model still sees it */
        text = malloc(got * 4 + 1);
        if (text)
            ag__utf8_safe_copy(text, got * 4 + 1, buf);
    }
    json_t *o = text ? json_pack("{s:b,s:s,s:s,s:b}", "ok", 1, "path", rel, "content", text,
                                 "truncated", truncated)
                     : NULL;
    if (text != buf)
        free(text);
    free(buf);
    *result = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *result ? AG_OK : ag__fail(AG_ENOMEM, "artifact_read: out of memory");
}

ag_err ag__orch_artifact_read(struct ag__agent_run *run, const struct ag__coord_authz *az,
                              const char *path, struct ag_gov_decision *d, char **result)
{
    struct ag__orch *o = run->o;
    *result = NULL;
    if (path && (!*path || strlen(path) > 1024))
        return ag__fail(AG_EINVAL, "artifact_read: path must be 1 to 1024 characters");
    char real[PATH_MAX], res[PATH_MAX + 160];
    if (resolve(o, path ? path : ".", real))
        return ag__fail(AG_EINVAL, "artifact_read: path too long");
    size_t bl = strlen(o->art_real);
    const char *rel = NULL;
    if (!strcmp(real, o->art_real))
        rel = "";
    else if (bl == 1) /* the directory is "/": everything is beneath it */
        rel = real + 1;
    else if (!strncmp(real, o->art_real, bl) && real[bl] == '/')
        rel = real + bl + 1;
    if (!rel) /* outside: the policy judges where the read would really go */
        snprintf(res, sizeof res, "%s", real);
    else
        snprintf(res, sizeof res, "artifacts/%s%s%s", o->task, *rel ? "/" : "", rel);
    ag_err e = ag__coord_authorize_x(o->opts->coord, az, run->id, o->task, "artifact.read", res, d);
    if (e)
        return e;
    if (!rel) /* a policy that grants an outside path still gets no read from here */
        return ag__fail(AG_EINVAL, "artifact_read: '%s' is outside the task's artifacts", path);
    if (!*rel) {
        *result = listing(o->art_fd);
        return *result ? AG_OK : ag__fail(AG_EINVAL, "artifact_read: cannot list the artifacts");
    }
    int fd = ag__open_beneath(o->art_fd, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, 0);
    if (fd < 0)
        return ag__fail(AG_EINVAL, "artifact_read: %s: %s", rel, strerror(errno));
    struct stat st;
    char now[PATH_MAX];
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ag__fail(AG_EINVAL, "artifact_read: %s is not a regular file", rel);
    }
    if (fd_path(fd, now) != 0 || strcmp(now, real) != 0) {
        close(fd);
        return ag__fail(AG_EINVAL, "artifact_read: %s changed while it was opened", rel);
    }
    e = read_file(fd, rel, result);
    close(fd);
    return e;
}

void ag__orch_artifact_save(struct ag__orch *o, const char *name, const char *text)
{
    if (o->art_fd < 0)
        return;
    int fd = ag__open_beneath(o->art_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644, 1);
    if (fd < 0)
        return;
    size_t len = strlen(text);
    int ok = write(fd, text, len) == (ssize_t)len;
    ok &= write(fd, "\n", 1) == 1;
    ok &= close(fd) == 0;
    if (!ok)
        return;
    char dg[AG_SHA256_HEX_LEN];
    ag__sha256_hex(text, len, dg);
    if (ag_gov_add_artifact(o->opts->gov, o->task, o->runs[0].id, name, dg) != AG_OK) {
        /* the file is there; only its entry in the task's list is missing */
    }
}
