/* The hook's side of the helper: forward one event, print what comes back; and start
 * a helper when there is none. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentgov/config.h"
#include "hook/hook_helper.h"
#include "hook/hook_wire.h"
#include "core/err.h"
#include "core/time.h"

int ag_hook_helper_wanted(void)
{
    const char *e = getenv("AGENTGOV_HOOK_HELPER");
    return !(e && strcmp(e, "0") == 0);
}

/* Non-blocking: a helper whose backlog is full (stopped, or swamped) must not keep the
 * hook waiting; the event is then decided in process. */
int ag__hook_helper_connect(ag_home *home)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!ag__wire_sock_path(home, a.sun_path, sizeof a.sun_path))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || !ag__wire_peer_is_me(fd)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void put_cstr(struct ag_buf *b, const char *s)
{
    ag__wire_put_str(b, s, strlen(s));
}

/* Everything before the event, which follows as a string of its own. */
static ag_err request_head(const struct ag_hook_opts *o, size_t len, int64_t take_by,
                           struct ag_buf *b)
{
    char cwd[PATH_MAX], num[32];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return ag__fail(AG_EIO, "getcwd: %s", strerror(errno));
    ag__buf_append(b, "AGH2D", 5);
    put_cstr(b, ag__wire_build_id());
    put_cstr(b, ag__hook_dialect_name(o->dialect));
    ag__wire_put_opt(b, o->policy);
    snprintf(num, sizeof num, "%d", o->tier);
    put_cstr(b, num);
    ag__wire_put_opt(b, o->agent);
    put_cstr(b, cwd);
    ag__wire_put_opt(b, getenv("HOME"));
    ag__wire_put_opt(b, getenv("CLAUDE_PROJECT_DIR"));
    snprintf(num, sizeof num, "%d,%d", o->allow_means, o->permission_requests);
    put_cstr(b, num);
    put_cstr(b, ag__wire_mnt_ns());
    snprintf(num, sizeof num, "%lld", (long long)take_by);
    put_cstr(b, num);
    ag__wire_put_u32(b, (uint32_t)len);
    return ag__buf_status(b);
}

/* The answer after "AGR2S": exit code, stdout, stderr. */
static ag_err read_answer(struct ag__wire_in *in, int *code, struct ag__hook_out *out)
{
    uint32_t c;
    char *o = NULL, *e = NULL;
    size_t olen = 0, elen = 0;
    ag_err err = ag__wire_read_u32(in, &c);
    if (err == AG_OK)
        err = ag__wire_read_str(in, AG__WIRE_MAX_STRING, &o, &olen);
    if (err == AG_OK)
        err = ag__wire_read_str(in, AG__WIRE_MAX_STRING, &e, &elen);
    if (err == AG_OK) {
        *code = (int)c;
        ag__buf_append(&out->out, o, olen);
        ag__buf_append(&out->err, e, elen);
    }
    free(o);
    free(e);
    return err;
}

/* Sends the request and waits for the helper to take it. 1: taken ('T'), 0: not. */
static int offer(int fd, const struct ag_hook_opts *o, const char *text, size_t len,
                 int64_t take_by)
{
    struct ag_buf head;
    ag__buf_init(&head);
    ag_err err = request_head(o, len, take_by, &head);
    if (err == AG_OK)
        err = ag__wire_write(fd, head.data, head.len, take_by);
    if (err == AG_OK)
        err = ag__wire_write(fd, text, len, take_by);
    ag__buf_free(&head);
    char magic[5] = {0};
    struct ag__wire_in in = {.fd = fd, .deadline_ms = take_by};
    if (err == AG_OK)
        err = ag__wire_read(&in, magic, sizeof magic);
    return err == AG_OK && memcmp(magic, "AGR2T", 5) == 0 && ag__mono_ms() < take_by;
}

enum ag__helper_result ag__hook_helper_ask(const struct ag_hook_opts *o, const char *text,
                                           size_t len, int *code, struct ag__hook_out *out)
{
    int fd = ag__hook_helper_connect(o->home);
    if (fd < 0)
        return AG__HELPER_UNAVAILABLE;
    /* Until the helper has taken the event and been told to go, nothing was decided:
     * any failure, or a helper too busy to take it in time, leaves it to this process. */
    int64_t take_by = ag__mono_ms() + AG__HELPER_TAKE_MS;
    if (!offer(fd, o, text, len, take_by) || send(fd, "G", 1, MSG_NOSIGNAL) != 1) {
        close(fd);
        ag_clear_error();
        return AG__HELPER_UNAVAILABLE;
    }
    /* Told to go: the helper decides and records. Whatever fails now is a deny. */
    struct ag__wire_in in = {.fd = fd, .deadline_ms = ag__mono_ms() + AG__HELPER_TIMEOUT_S * 1000};
    char magic[5];
    ag_err err = ag__wire_read(&in, magic, sizeof magic);
    if (err == AG_ETIMEOUT)
        ag__fail(err, "no answer in %d s", AG__HELPER_TIMEOUT_S);
    else if (err == AG_OK && memcmp(magic, "AGR2S", 5) != 0)
        err = ag__fail(AG_EIO, "malformed answer");
    if (err == AG_OK)
        err = read_answer(&in, code, out);
    close(fd);
    return err == AG_OK ? AG__HELPER_SERVED : AG__HELPER_FAILED;
}

int64_t ag_hook_helper_idle_ms(ag_home *home, int64_t if_unreadable)
{
    ag_config *cfg;
    int64_t ms = if_unreadable;
    if (ag_config_new(&cfg) == AG_OK && ag_home_config_into(home, cfg) == AG_OK)
        ms = ag_config_ms(cfg, "hook.helper_idle");
    ag_config_free(cfg);
    ag_clear_error();
    return ms;
}

/* The helper binds <resolved data dir>/hook.sock: it must fit a socket address. */
static int resolved_dir(ag_home *home, char dir[PATH_MAX])
{
    struct sockaddr_un a;
    return realpath(ag_home_dir(home), dir) != NULL &&
           strlen(dir) + sizeof "/hook.sock" <= sizeof a.sun_path;
}

/* Closes every descriptor from 3 up (close_range, else one by one). */
static void close_from_3(void)
{
    if (syscall(__NR_close_range, 3U, ~0U, 0U) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        close((int)fd);
}

void ag_hook_helper_spawn(ag_home *home)
{
    char dir[PATH_MAX];
    if (!resolved_dir(home, dir) || ag_hook_helper_idle_ms(home, 0) <= 0)
        return;
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) {
        if (pid > 0)
            waitpid(pid, NULL, 0);
        return;
    }
    /* A grandchild in a session of its own, holding none of the hook's descriptors: the
     * agent waits for the hook's stdout to close, and must not wait for the helper. */
    if (setsid() < 0 || fork() != 0)
        _exit(0);
    int nul = open("/dev/null", O_RDWR); /* not O_CLOEXEC: it may become 0, 1 or 2 */
    if (nul < 0)
        _exit(0);
    for (int fd = 0; fd < 3; fd++)
        if (nul != fd)
            dup2(nul, fd);
    close_from_3();
    execl("/proc/self/exe", "agentgov", "--dir", dir, "hook", "helper", "run", (char *)NULL);
    _exit(127);
}
