/* Files of a governed run (see run_files.h). */
#include "runner/run_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/err.h"

ag_err ag__run_hash_file(const char *path, char hex[65], int64_t *bytes)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ag__fail(errno == ENOENT ? AG_ENOTFOUND : AG_EIO, "%s: %s", path, strerror(errno));
    /* libsodium's SHA-256: libcrypto's EVP layer would bring OpenSSL's provider
     * machinery (2 MB) into every cold process of the CLI. */
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    char buf[65536];
    int64_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        crypto_hash_sha256_update(&st, (const unsigned char *)buf, (unsigned long long)n);
        total += n;
    }
    int rerr = n < 0 ? errno : 0;
    close(fd);
    unsigned char md[32];
    crypto_hash_sha256_final(&st, md);
    if (rerr)
        return ag__fail(AG_EIO, "%s: read: %s", path, strerror(rerr));
    ag__hex(md, 32, hex);
    if (bytes)
        *bytes = total;
    return AG_OK;
}

ag_err ag__run_deliverable(const char *workdir, const char *name, char path[PATH_MAX])
{
    char wd[PATH_MAX], joined[PATH_MAX];
    if (!realpath(workdir, wd))
        return ag__fail(AG_ENOTFOUND, "workdir %s: %s", workdir, strerror(errno));
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", wd, name) >= sizeof joined)
        return ag__fail(AG_EINVAL, "deliverable '%s': path too long", name);
    if (!realpath(joined, path))
        return ag__fail(AG_ENOTFOUND, "deliverable '%s' is missing from %s", name, wd);
    size_t n = strlen(wd);
    if (strncmp(path, wd, n) != 0 || path[n] != '/')
        return ag__fail(AG_EPERM, "deliverable '%s' resolves outside the workdir (%s)", name, path);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return ag__fail(AG_ENOTFOUND, "deliverable '%s' is not a regular file", name);
    return AG_OK;
}

void ag__run_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[PATH_MAX];
            if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
                continue;
            if (unlink(p) != 0 && errno == EISDIR)
                rmdir(p);
        }
        closedir(d);
    }
    rmdir(dir);
}
