/* `agentgov hook helper run|status|stop`: the helper's side (see hook_helper.h). One
 * event at a time: a decision takes a fraction of a millisecond plus its fdatasync, and
 * hooks that arrive together wait in the socket's backlog. */
#include "hook/hook_helper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agentgov/config.h"
#include "hook/hook_wire.h"
#include "core/err.h"
#include "core/time.h"
#include "core/stopsig.h"

#define READ_TIMEOUT_MS AG__HELPER_TAKE_MS

static volatile sig_atomic_t stop_signal;

struct helper {
    char sock[108];
    ino_t sock_ino;
    int lfd;
    int64_t idle_ms, last_ms, started_ms;
    long served;
    int stop;
    struct ag__hook_env env; /* the ledger kept open, the policies kept compiled */
    ag_home *home;           /* the data directory, resolved */
};

/* The socket file is still the one this helper bound (not removed, not replaced by
 * another helper's, its data directory not deleted). */
static int socket_is_ours(const struct helper *h)
{
    struct stat st;
    return stat(h->sock, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == h->sock_ino;
}

static ag_err listen_on(struct helper *h)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!ag__wire_sock_path(h->home, h->sock, sizeof h->sock))
        return ag__fail(AG_ELIMIT, "%s/hook.sock is longer than a socket path may be",
                        ag_home_dir(h->home));
    snprintf(a.sun_path, sizeof a.sun_path, "%s", h->sock);
    h->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->lfd < 0)
        return ag__fail(AG_EIO, "socket: %s", strerror(errno));
    unlink(h->sock);          /* a helper that was killed leaves its socket file */
    mode_t old = umask(0177); /* the socket file: 0600 */
    int rc = bind(h->lfd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    struct stat st;
    if (rc != 0 || listen(h->lfd, 64) != 0 || stat(h->sock, &st) != 0)
        return ag__fail(AG_EIO, "%s: %s", h->sock, strerror(errno));
    h->sock_ino = st.st_ino;
    return AG_OK;
}

static void reply(int fd, char status, int code, const char *out, size_t olen, const char *err,
                  size_t elen)
{
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_append(&b, "AGR2", 4);
    ag__buf_putc(&b, status);
    ag__wire_put_u32(&b, (uint32_t)code);
    ag__wire_put_str(&b, out, olen);
    ag__wire_put_str(&b, err, elen);
    if (ag__buf_status(&b) == AG_OK &&
        ag__wire_write(fd, b.data, b.len, ag__mono_ms() + READ_TIMEOUT_MS) != AG_OK)
        ag_clear_error(); /* the hook went away; it decides nothing without an answer */
    ag__buf_free(&b);
}

static void reply_text(int fd, char status, const char *text)
{
    reply(fd, status, 0, text, strlen(text), "", 0);
}

/* A decide request after its kind and build: the fields, then the event. */
struct request {
    char *dialect, *policy, *tier, *agent, *cwd, *home, *project, *answer, *mnt, *take_by, *event;
    size_t event_len;
};

static void request_free(struct request *r)
{
    free(r->dialect);
    free(r->policy);
    free(r->tier);
    free(r->agent);
    free(r->cwd);
    free(r->home);
    free(r->project);
    free(r->answer);
    free(r->mnt);
    free(r->take_by);
    free(r->event);
}

static ag_err read_request(struct ag__wire_in *in, struct request *r)
{
    ag_err err = ag__wire_read_str(in, PATH_MAX, &r->dialect, NULL);
    if (err == AG_OK)
        err = ag__wire_read_opt(in, PATH_MAX, &r->policy);
    if (err == AG_OK)
        err = ag__wire_read_str(in, 16, &r->tier, NULL);
    if (err == AG_OK)
        err = ag__wire_read_opt(in, PATH_MAX, &r->agent);
    if (err == AG_OK)
        err = ag__wire_read_str(in, PATH_MAX, &r->cwd, NULL);
    if (err == AG_OK)
        err = ag__wire_read_opt(in, PATH_MAX, &r->home);
    if (err == AG_OK)
        err = ag__wire_read_opt(in, PATH_MAX, &r->project);
    if (err == AG_OK)
        err = ag__wire_read_str(in, 16, &r->answer, NULL);
    if (err == AG_OK)
        err = ag__wire_read_str(in, 64, &r->mnt, NULL);
    if (err == AG_OK)
        err = ag__wire_read_str(in, 32, &r->take_by, NULL);
    if (err == AG_OK)
        err = ag__wire_read_str(in, AG__WIRE_MAX_STRING, &r->event, &r->event_len);
    return err;
}

/* Takes the event: 'T', then the hook's 'G' before the take-by deadline (and a little
 * slack for the byte in flight). A hook that gave up sends no 'G' and decides itself. */
static int take(int fd, int64_t take_by)
{
    static const char taken[] = "AGR2T";
    char go = 0;
    struct ag__wire_in in = {.fd = fd, .deadline_ms = take_by + 500};
    int ok = ag__mono_ms() < take_by &&
             ag__wire_write(fd, taken, sizeof taken - 1, take_by) == AG_OK &&
             ag__wire_read(&in, &go, 1) == AG_OK && go == 'G';
    ag_clear_error();
    return ok;
}

/* Decides in the hook's working directory and with its HOME, as the hook itself would;
 * without an absolute HOME `~` is the home of the hook's user, whose uid the kernel
 * gives (serve() checked that it is this helper's). Paths into the data directory are
 * the helper's resolved ones: with a relative --dir, a message that names one (a bad
 * config file) spells it in full. */
static void decide(struct helper *h, int fd, struct request *r)
{
    struct ag_hook_opts o = {
        .home = h->home, .policy = r->policy, .agent = r->agent, .tier = atoi(r->tier)};
    if (sscanf(r->answer, "%d,%d", &o.allow_means, &o.permission_requests) != 2)
        return reply_text(fd, 'M', "answer options");
    if (!ag__wire_peer_uid(fd, &o.uid))
        return reply_text(fd, 'M', "peer credentials");
    if (strcmp(r->dialect, "codex") == 0)
        o.dialect = AG_HOOK_CODEX;
    else if (strcmp(r->dialect, "claude-code") != 0)
        return reply_text(fd, 'M', "unknown dialect");
    if (strcmp(r->mnt, ag__wire_mnt_ns()) != 0)
        return reply_text(fd, 'M', "another mount namespace");
    if (chdir(r->cwd) != 0)
        return reply_text(fd, 'M', "working directory");
    if (take(fd, atoll(r->take_by))) {
        if (r->home)
            setenv("HOME", r->home, 1);
        else
            unsetenv("HOME");
        if (r->project) /* Claude Code's project root, for ${PROJECT} */
            setenv("CLAUDE_PROJECT_DIR", r->project, 1);
        else
            unsetenv("CLAUDE_PROJECT_DIR");
        struct ag__hook_out out;
        ag__hook_out_init(&out);
        int code = ag__hook_eval(&o, r->event, r->event_len, &h->env, &out);
        ag_clear_error();
        if (ag__buf_status(&out.out) != AG_OK || ag__buf_status(&out.err) != AG_OK) {
            static const char msg[] = "agentgov: hook denied: answer: out of memory\n";
            reply(fd, 'S', AG__HOOK_EXIT_DENY, "", 0, msg, sizeof msg - 1);
        } else {
            reply(fd, 'S', code, out.out.data ? out.out.data : "", out.out.len,
                  out.err.data ? out.err.data : "", out.err.len);
        }
        ag__hook_out_free(&out);
        h->served++;
    }
    if (chdir("/") != 0)
        h->stop = 1;
}

static void status(struct helper *h, int fd)
{
    char text[PATH_MAX + 256];
    snprintf(text, sizeof text,
             "hook helper: pid %ld, data directory %s, up %llds, %ld events answered, "
             "stops after %llds idle\n",
             (long)getpid(), ag_home_dir(h->home),
             (long long)(ag__mono_ms() - h->started_ms) / 1000, h->served,
             (long long)h->idle_ms / 1000);
    reply_text(fd, 'S', text);
}

static void serve(struct helper *h, int fd)
{
    struct ag__wire_in in = {.fd = fd, .deadline_ms = ag__mono_ms() + READ_TIMEOUT_MS};
    char head[5], *build = NULL;
    if (!ag__wire_peer_is_me(fd) || ag__wire_read(&in, head, sizeof head) != AG_OK ||
        memcmp(head, "AGH2", 4) != 0 || ag__wire_read_str(&in, 256, &build, NULL) != AG_OK) {
        ag_clear_error();
        free(build);
        return;
    }
    if (head[4] == 'S') {
        status(h, fd);
    } else if (head[4] == 'Q') {
        reply_text(fd, 'S', "hook helper: stopping\n");
        h->stop = 1;
    } else if (head[4] == 'D' && strcmp(build, ag__wire_build_id()) != 0) {
        /* Another build of agentgov: it decides in process and starts its own helper. */
        reply_text(fd, 'M', "another build");
        h->stop = 1;
    } else if (head[4] == 'D') {
        struct request r = {0};
        if (read_request(&in, &r) == AG_OK)
            decide(h, fd, &r);
        ag_clear_error();
        request_free(&r);
    }
    free(build);
}

/* How long after an event the helper waits for the next before it tidies the ledger:
 * hooks of one turn of an agent come in bursts. */
#define TIDY_AFTER_MS 0

static void loop(struct helper *h)
{
    int dirty = 0;
    while (!h->stop && !stop_signal) {
        struct pollfd p = {.fd = h->lfd, .events = POLLIN};
        int n = poll(&p, 1, dirty ? TIDY_AFTER_MS : 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (n == 0 && dirty) {
            ag_ledger_tidy(h->env.ledger);
            dirty = 0;
            continue;
        }
        if (n <= 0) {
            /* Checked once a second: a deleted data directory ends the helper too. */
            if (ag__mono_ms() - h->last_ms >= h->idle_ms || !socket_is_ours(h))
                break;
            continue;
        }
        int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve(h, fd);
        close(fd);
        h->last_ms = ag__mono_ms();
        dirty = 1;
    }
}

/* Takes <dir>/hook.lock for the helper's lifetime: one helper per data directory. */
static int take_lock(ag_home *home)
{
    int fd = open(ag_home_path(home, AG_HOME_HOOK_LOCK), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -2;
    }
    return fd;
}

ag_err ag_hook_helper_run(ag_home *home, int64_t idle_ms)
{
    struct helper h = {.lfd = -1, .home = home, .idle_ms = idle_ms};
    int lock = take_lock(home);
    if (lock == -2)
        return ag__fail(AG_EEXIST, "one already runs for %s", ag_home_dir(home));
    if (h.idle_ms == 0) { /* checked after the lock, which shows that one was started */
        if (lock >= 0)
            close(lock);
        return ag__fail(AG_EUNSUPPORTED, "hook.helper_idle is 0: no helper");
    }
    ag_err err = lock < 0 ? ag__fail(AG_EIO, "%s: %s", ag_home_path(home, AG_HOME_HOOK_LOCK),
                                     strerror(errno))
                          : listen_on(&h);
    h.env.stays = 1;
    h.env.cache = ag__hook_cache_new();
    if (err == AG_OK && h.env.cache == NULL)
        err = ag__fail(AG_ENOMEM, "hook helper");
    if (err == AG_OK) {
        ag__catch_stop_signals(&stop_signal);
        h.started_ms = h.last_ms = ag__mono_ms();
        if (chdir("/") == 0)
            loop(&h);
    }
    if (h.lfd >= 0 && socket_is_ours(&h))
        unlink(h.sock);
    if (h.lfd >= 0)
        close(h.lfd);
    ag_ledger_close(h.env.ledger); /* signs the chain's head */
    ag__hook_cache_free(h.env.cache);
    if (lock >= 0)
        close(lock);
    return err;
}

/* status and stop: one request, the helper's text back. */
ag_err ag_hook_helper_control(ag_home *home, int stop, char **text)
{
    *text = NULL;
    int fd = ag__hook_helper_connect(home);
    if (fd < 0)
        return ag__fail(AG_ENOTFOUND, "none runs for %s", ag_home_dir(home));
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_append(&b, "AGH2", 4);
    ag__buf_putc(&b, stop ? 'Q' : 'S');
    ag__wire_put_str(&b, ag__wire_build_id(), strlen(ag__wire_build_id()));
    int64_t deadline = ag__mono_ms() + AG__HELPER_TIMEOUT_S * 1000;
    struct ag__wire_in in = {.fd = fd, .deadline_ms = deadline};
    char magic[5];
    uint32_t code = 0;
    ag_err err = ag__buf_status(&b);
    if (err == AG_OK)
        err = ag__wire_write(fd, b.data, b.len, deadline);
    if (err == AG_OK)
        err = ag__wire_read(&in, magic, sizeof magic);
    if (err == AG_OK && memcmp(magic, "AGR2", 4) != 0)
        err = ag__fail(AG_EIO, "malformed answer");
    if (err == AG_OK)
        err = ag__wire_read_u32(&in, &code);
    if (err == AG_OK)
        err = ag__wire_read_str(&in, 65536, text, NULL);
    ag__buf_free(&b);
    close(fd);
    return err;
}
