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
#include "cli/cliutil.h"
#include "cli/hook_helper.h"
#include "cli/hook_wire.h"
#include "core/err.h"
#include "core/time.h"

int ag__hook_helper_wanted(void)
{
    const char *e = getenv("AGENTGOV_HOOK_HELPER");
    return !(e && strcmp(e, "0") == 0);
}

static int connect_helper(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!ag__wire_sock_path(a.sun_path, sizeof a.sun_path))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
    ag__wire_put_str(b, s ? s : "", s ? strlen(s) : 0);
}

/* Everything before the event, which follows as a string of its own. */
static ag_err request_head(const struct ag__hook_opts *o, size_t len, struct ag_buf *b)
{
    char cwd[PATH_MAX], tier[16];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return ag__fail(AG_EIO, "getcwd: %s", strerror(errno));
    const char *home = getenv("HOME");
    snprintf(tier, sizeof tier, "%d", o->tier);
    ag__buf_append(b, "AGH1D", 5);
    put_cstr(b, ag__wire_build_id());
    put_cstr(b, ag__hook_dialect_name(o->dialect));
    put_cstr(b, o->policy);
    put_cstr(b, tier);
    put_cstr(b, o->agent);
    put_cstr(b, cwd);
    ag__buf_putc(b, home ? 1 : 0);
    put_cstr(b, home);
    ag__wire_put_u32(b, (uint32_t)len);
    return ag__buf_status(b);
}

/* The reply after its magic and status: exit code, stdout, stderr. */
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

enum ag__helper_result ag__hook_helper_ask(const struct ag__hook_opts *o, const char *text,
                                           size_t len, int *code, struct ag__hook_out *out)
{
    int fd = connect_helper();
    if (fd < 0)
        return AG__HELPER_UNAVAILABLE;
    struct ag_buf head;
    ag__buf_init(&head);
    int64_t deadline = ag__mono_ms() + AG__HELPER_TIMEOUT_S * 1000;
    /* The helper decides only once it has read the whole request: an event it did not
     * take in full was not decided, and is decided here instead. */
    ag_err err = request_head(o, len, &head);
    if (err == AG_OK)
        err = ag__wire_write(fd, head.data, head.len, deadline);
    if (err == AG_OK)
        err = ag__wire_write(fd, text, len, deadline);
    ag__buf_free(&head);
    char magic[5];
    struct ag__wire_in in = {.fd = fd, .deadline_ms = deadline};
    if (err == AG_OK)
        err = ag__wire_read(&in, magic, sizeof magic);
    enum ag__helper_result r = AG__HELPER_UNAVAILABLE;
    if (err == AG_ETIMEOUT) {
        ag__fail(err, "no answer in %d s", AG__HELPER_TIMEOUT_S);
        r = AG__HELPER_FAILED;
    } else if (err == AG_OK && memcmp(magic, "AGR1S", 5) == 0) {
        r = read_answer(&in, code, out) == AG_OK ? AG__HELPER_SERVED : AG__HELPER_FAILED;
    } else if (err == AG_OK && memcmp(magic, "AGR1M", 5) != 0) {
        ag__fail(AG_EIO, "malformed answer");
        r = AG__HELPER_FAILED;
    }
    if (r == AG__HELPER_UNAVAILABLE)
        ag_clear_error();
    close(fd);
    return r;
}

static int64_t helper_idle_ms(void)
{
    ag_config *cfg;
    int64_t ms = 0;
    if (ag_config_new(&cfg) != AG_OK)
        return 0;
    if (ag_config_load_file(cfg, ag__cli_path("config"), 1) == AG_OK)
        ms = ag_config_ms(cfg, "hook.helper_idle");
    ag_config_free(cfg);
    ag_clear_error();
    return ms;
}

void ag__hook_helper_spawn(void)
{
    char dir[PATH_MAX], sock[108];
    if (!ag__wire_sock_path(sock, sizeof sock) || !realpath(ag__cli_dir(), dir) ||
        helper_idle_ms() <= 0)
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
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0)
        _exit(0);
    dup2(nul, 0);
    dup2(nul, 1);
    dup2(nul, 2);
    syscall(__NR_close_range, 3U, ~0U, 0U);
    execl("/proc/self/exe", "agentgov", "--dir", dir, "hook", "helper", "run", (char *)NULL);
    _exit(127);
}
