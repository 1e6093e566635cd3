#include "hook/hook_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentgov/version.h"
#include "core/err.h"
#include "core/time.h"

const char *ag__wire_build_id(void)
{
    static char id[128];
    if (id[0] == '\0') {
        struct stat st;
        if (stat("/proc/self/exe", &st) != 0)
            memset(&st, 0, sizeof st);
        snprintf(id, sizeof id, "agentgov %s %llx:%llx %lld.%09ld", AG_VERSION,
                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                 (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    }
    return id;
}

int ag__wire_sock_path(ag_home *home, char *buf, size_t len)
{
    struct sockaddr_un a;
    const char *p = ag_home_path(home, AG_HOME_HOOK_SOCK);
    if (strlen(p) >= sizeof a.sun_path || strlen(p) >= len)
        return 0;
    snprintf(buf, len, "%s", p);
    return 1;
}

int ag__wire_peer_uid(int fd, uid_t *uid)
{
    struct ucred cr;
    socklen_t n = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &n) != 0 || n != sizeof cr)
        return 0;
    *uid = cr.uid;
    return 1;
}

int ag__wire_peer_is_me(int fd)
{
    uid_t uid;
    return ag__wire_peer_uid(fd, &uid) && uid == geteuid();
}

/* Waits until fd is ready for events, or the deadline passes. */
static ag_err wait_ready(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - ag__mono_ms();
        if (left <= 0)
            return ag__fail(AG_ETIMEOUT, "no answer in time");
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return AG_OK;
        if (n < 0 && errno != EINTR)
            return ag__fail(AG_EIO, "poll: %s", strerror(errno));
    }
}

ag_err ag__wire_read(struct ag__wire_in *in, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ag_err err = wait_ready(in->fd, POLLIN, in->deadline_ms);
        if (err)
            return err;
        ssize_t n = recv(in->fd, p, len, MSG_DONTWAIT);
        if (n == 0)
            return ag__fail(AG_EIO, "connection closed early");
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return ag__fail(AG_EIO, "read: %s", strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return AG_OK;
}

ag_err ag__wire_read_u32(struct ag__wire_in *in, uint32_t *v)
{
    unsigned char b[4];
    ag_err err = ag__wire_read(in, b, sizeof b);
    if (err == AG_OK)
        *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return err;
}

ag_err ag__wire_read_str(struct ag__wire_in *in, size_t max, char **out, size_t *len)
{
    uint32_t n;
    ag_err err = ag__wire_read_u32(in, &n);
    if (err)
        return err;
    if (n > max)
        return ag__fail(AG_ELIMIT, "a field of %u bytes (at most %zu)", n, max);
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return ag__fail(AG_ENOMEM, "%u bytes", n);
    if ((err = ag__wire_read(in, s, n)) != AG_OK) {
        free(s);
        return err;
    }
    s[n] = '\0';
    *out = s;
    if (len)
        *len = n;
    return AG_OK;
}

ag_err ag__wire_read_opt(struct ag__wire_in *in, size_t max, char **out)
{
    unsigned char present;
    ag_err err = ag__wire_read(in, &present, 1);
    *out = NULL;
    if (err == AG_OK && present)
        err = ag__wire_read_str(in, max, out, NULL);
    return err;
}

const char *ag__wire_mnt_ns(void)
{
    static char ns[64];
    if (ns[0] == '\0') {
        ssize_t n = readlink("/proc/self/ns/mnt", ns, sizeof ns - 1);
        ns[n > 0 ? n : 0] = '\0';
    }
    return ns;
}

void ag__wire_put_opt(struct ag_buf *b, const char *s)
{
    ag__buf_putc(b, s ? 1 : 0);
    if (s)
        ag__wire_put_str(b, s, strlen(s));
}

void ag__wire_put_u32(struct ag_buf *b, uint32_t v)
{
    unsigned char w[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    ag__buf_append(b, w, sizeof w);
}

void ag__wire_put_str(struct ag_buf *b, const char *s, size_t len)
{
    ag__wire_put_u32(b, (uint32_t)len);
    ag__buf_append(b, s, len);
}

ag_err ag__wire_write(int fd, const void *buf, size_t len, int64_t deadline_ms)
{
    const char *p = buf;
    while (len > 0) {
        ag_err err = wait_ready(fd, POLLOUT, deadline_ms);
        if (err)
            return err;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return ag__fail(AG_EIO, "write: %s", strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return AG_OK;
}
