/* The stdio transport: the client on this process's stdin/stdout, the server a child on
 * two pipes, one JSON-RPC message per line each way. One poll loop, no threads: the
 * child's pipes are non-blocking with a buffer each way, so a server that writes a long
 * answer while we write it a long request cannot deadlock with us. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentgov/config.h"
#include "agentgov/ledger.h"
#include "agentgov/mcp.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"
#include "mcp/session.h"

#define READ_CHUNK    65536
#define BACKLOG_LIMIT (8u << 20) /* stop reading a side while this much waits for the other */

/* Splits a byte stream into lines; a line longer than max is dropped whole and
 * reported once its end arrives. */
struct lines {
    struct ag_buf cur;
    size_t max;
    size_t dropped; /* >0: inside an oversized line, this many bytes so far */
};

/* A buffer waiting to be written, from off. */
struct outq {
    struct ag_buf b;
    size_t off;
};

struct relay {
    struct ag__mcp_session *s;
    const struct ag_mcp_opts *o;
    struct lines from_client, from_server;
    struct outq to_server; /* to the child's stdin (non-blocking) */
    struct ag__mcp_io io;
    int child_in, child_out;
    pid_t pid;
};

static void say(const struct ag_mcp_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct ag_mcp_opts *o, const char *fmt, ...)
{
    if (o->report == NULL)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->report(o->report_ctx, line);
}

/* Writes all of b to fd (our stdout: blocking, the client reads it). */
static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Moves what the session produced: client lines out now, server lines onto the queue. */
static int flush_io(struct relay *r)
{
    int rc = 0;
    if (r->io.to_client.len)
        rc = write_all(STDOUT_FILENO, r->io.to_client.data, r->io.to_client.len);
    ag__buf_reset(&r->io.to_client);
    if (r->io.to_server.len && r->child_in >= 0)
        ag__buf_append(&r->to_server.b, r->io.to_server.data, r->io.to_server.len);
    ag__buf_reset(&r->io.to_server);
    return rc;
}

typedef void (*line_fn)(struct relay *r, const char *line, size_t len);

static void client_line(struct relay *r, const char *line, size_t len)
{
    ag__mcp_from_client(r->s, line, len, &r->io);
}

static void client_oversized(struct relay *r, size_t len)
{
    ag__mcp_client_oversized(r->s, len, &r->io);
}

static void server_line(struct relay *r, const char *line, size_t len)
{
    ag__mcp_from_server(r->s, line, len, &r->io);
}

static void server_oversized(struct relay *r, size_t len)
{
    say(r->o, "agentgov mcp: server '%s' sent a message of %zu bytes or more (limit %zu): dropped",
        r->o->server, len, r->from_server.max);
}

/* Feeds n bytes into the line splitter, calling fn per complete non-empty line. */
static void feed(struct relay *r, struct lines *l, const char *p, size_t n, line_fn fn,
                 void (*too_long)(struct relay *, size_t))
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (l->dropped) {
            l->dropped += take;
        } else if (l->cur.len + take > l->max) {
            l->dropped = l->cur.len + take;
            ag__buf_reset(&l->cur);
        } else {
            ag__buf_append(&l->cur, p, take);
        }
        if (nl == NULL)
            return;
        if (l->dropped)
            too_long(r, l->dropped);
        else if (l->cur.len && !(l->cur.len == 1 && l->cur.data[0] == '\r'))
            fn(r, l->cur.data, l->cur.len);
        l->dropped = 0;
        ag__buf_reset(&l->cur);
        p += take + 1;
        n -= take + 1;
    }
}

/* fork and exec, unconfined; closes the child's ends of the pipes (and on failure the
 * parent's too). */
static ag_err fork_exec(char *const argv[], int in[2], int out[2], pid_t *out_pid)
{
    /* A pipe to report exec's failure: it closes on a successful exec. */
    int ex[2];
    if (pipe2(ex, O_CLOEXEC) != 0) {
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return ag__fail(AG_EIO, "pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(in[0]), close(in[1]), close(out[0]), close(out[1]), close(ex[0]), close(ex[1]);
        return ag__fail(AG_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
            _exit(127);
        execvp(argv[0], argv);
        int e = errno;
        if (write(ex[1], &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(ex[1]);
    int e = 0;
    ssize_t got;
    while ((got = read(ex[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(ex[0]);
    if (got == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);
        close(in[1]);
        close(out[0]);
        return ag__fail(e == ENOENT || e == EACCES ? AG_ENOTFOUND : AG_EIO,
                        "cannot start the server '%s': %s", argv[0], strerror(e));
    }
    *out_pid = pid;
    return AG_OK;
}

static ag_err spawn(struct relay *r, char *const argv[])
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return ag__fail(AG_EIO, "pipe: %s", strerror(errno));
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return ag__fail(AG_EIO, "pipe: %s", strerror(errno));
    }
    if (r->o->spawn) {
        pid_t pid = -1;
        ag_err err = r->o->spawn(r->o->spawn_ctx, argv, in[0], out[1], &pid);
        close(in[0]);
        close(out[1]);
        if (err != AG_OK) {
            close(in[1]);
            close(out[0]);
            return err;
        }
        r->pid = pid;
    } else {
        ag_err err = fork_exec(argv, in, out, &r->pid);
        if (err != AG_OK)
            return err;
    }
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    r->child_in = in[1];
    r->child_out = out[0];
    return AG_OK;
}

static void close_child_in(struct relay *r)
{
    if (r->child_in >= 0)
        close(r->child_in);
    r->child_in = -1;
    ag__buf_reset(&r->to_server.b);
    r->to_server.off = 0;
}

/* The child's status once it exits, waiting at most ms (then -1). */
static int reap(pid_t pid, int64_t ms)
{
    int64_t until = ag__mono_ms() + ms;
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (w < 0 && errno != EINTR)
            return -1;
        if (ag__mono_ms() >= until)
            return -1;
        usleep(10000);
    }
}

static int loop(struct relay *r)
{
    char *chunk = malloc(READ_CHUNK);
    int client_open = 1, client_ok = 1;
    int64_t deadline = -1;
    if (chunk == NULL)
        return -1;
    while (r->child_out >= 0) {
        struct pollfd p[3];
        int n = 0, ic = -1, io = -1, ii = -1;
        size_t backlog = r->to_server.b.len - r->to_server.off;
        if (client_open && backlog < BACKLOG_LIMIT) {
            p[n] = (struct pollfd){STDIN_FILENO, POLLIN, 0};
            ic = n++;
        }
        p[n] = (struct pollfd){r->child_out, POLLIN, 0};
        io = n++;
        if (r->child_in >= 0 && backlog) {
            p[n] = (struct pollfd){r->child_in, POLLOUT, 0};
            ii = n++;
        }
        int wait_ms = ag__mcp_tick(r->s, &r->io); /* the gateway's own work, when due */
        if (r->io.to_client.len && client_ok && flush_io(r) != 0)
            client_ok = 0;
        if (deadline >= 0) {
            int64_t left = deadline - ag__mono_ms();
            if (left <= 0)
                break; /* the server did not finish: the caller stops it */
            if (wait_ms < 0 || left < wait_ms)
                wait_ms = (int)left;
        }
        int np = poll(p, (nfds_t)n, wait_ms);
        if (np < 0 && errno == EINTR)
            continue;
        if (np <= 0)
            continue; /* timed out: the deadline check above ends the loop */
        if (ii >= 0 && p[ii].revents) {
            ssize_t w = write(r->child_in, r->to_server.b.data + r->to_server.off, backlog);
            if (w > 0) {
                r->to_server.off += (size_t)w;
                if (r->to_server.off == r->to_server.b.len) {
                    ag__buf_reset(&r->to_server.b);
                    r->to_server.off = 0;
                    if (!client_open)
                        close_child_in(r); /* everything sent: the server sees EOF */
                }
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                close_child_in(r); /* the server closed its stdin */
            }
        }
        if (p[io].revents) {
            ssize_t got = read(r->child_out, chunk, READ_CHUNK);
            if (got > 0) {
                feed(r, &r->from_server, chunk, (size_t)got, server_line, server_oversized);
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(r->child_out);
                r->child_out = -1;
            }
        }
        if (ic >= 0 && p[ic].revents) {
            ssize_t got = read(STDIN_FILENO, chunk, READ_CHUNK);
            if (got > 0) {
                feed(r, &r->from_client, chunk, (size_t)got, client_line, client_oversized);
            } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                client_open = 0;
                if (r->to_server.b.len == r->to_server.off)
                    close_child_in(r);
            }
        }
        if (client_ok && flush_io(r) != 0)
            client_ok = 0; /* the client went away: keep draining until the server ends */
        if (!client_ok && client_open) {
            client_open = 0;
            close_child_in(r);
        }
        if (!client_open && r->child_in < 0 && r->child_out >= 0) {
            /* The client is done: the server has 2 s to finish its answers and exit. */
            if (deadline < 0)
                deadline = ag__mono_ms() + 2000;
            int st = reap(r->pid, 0);
            if (st >= 0) {
                r->pid = -st - 1;
                break;
            }
        }
    }
    free(chunk);
    return client_open;
}

/* mcp.ledger_sync = deferred: the relay stops waiting for the disk's sync of each
 * decision (see ag_ledger_defer_sync for what that gives up); said on stderr. */
static ag_err defer_ledger(const struct ag_mcp_opts *o)
{
    const ag_config *cfg;
    ag_ledger *l;
    ag_err err = ag_home_config(o->home, &cfg);
    if (err != AG_OK || strcmp(ag_config_str(cfg, "mcp.ledger_sync"), "deferred") != 0)
        return err;
    int64_t ms = ag_config_ms(cfg, "mcp.ledger_sync_delay");
    if ((err = ag_home_ledger(o->home, &l)) != AG_OK ||
        (err = ag_ledger_defer_sync(l, (int)ms)) != AG_OK)
        return err;
    say(o,
        "agentgov mcp: ledger entries are synced to the disk within %lld ms of their commit "
        "(mcp.ledger_sync = deferred)",
        (long long)ms);
    return AG_OK;
}

ag_err ag_mcp_proxy_stdio(const struct ag_mcp_opts *o, char *const argv[], int *status)
{
    *status = -1;
    if (argv == NULL || argv[0] == NULL || !argv[0][0])
        return ag__fail(AG_EINVAL, "no server command given");
    struct relay r = {.o = o, .child_in = -1, .child_out = -1, .pid = -1};
    ag_err err = ag__mcp_session_new(o, &r.s);
    if (err != AG_OK)
        return err;
    size_t max = o->max_message ? o->max_message : AG_MCP_MAX_MESSAGE;
    r.from_client.max = max;
    r.from_server.max = max * 16; /* results carry file contents */
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    if ((err = spawn(&r, argv)) != AG_OK) {
        signal(SIGPIPE, old_pipe);
        ag__mcp_session_free(r.s);
        return err;
    }
    /* After the fork: the child starts before the ledger's sync thread exists. A
     * setting that cannot be honoured stops the server unused. */
    ag_err derr = defer_ledger(o);
    int client_open = derr == AG_OK ? loop(&r) : 0;
    int st;
    if (r.pid < -1) {
        st = -r.pid - 1;
    } else {
        close_child_in(&r);
        st = reap(r.pid, client_open ? 5000 : 500);
        if (st < 0) {
            kill(r.pid, SIGTERM);
            if ((st = reap(r.pid, 2000)) < 0) {
                kill(r.pid, SIGKILL);
                st = reap(r.pid, 5000);
            }
        }
    }
    if (r.child_out >= 0)
        close(r.child_out);
    if (client_open) {
        /* The server ended while the client was still there: a crash or an exit. */
        char why[160];
        snprintf(why, sizeof why, "the MCP server '%s' exited (status %d) before it answered",
                 o->server, st);
        say(o, "agentgov mcp: the server '%s' exited with status %d", o->server, st);
        ag__mcp_server_gone(r.s, why, &r.io);
        (void)flush_io(&r);
    }
    signal(SIGPIPE, old_pipe);
    ag__buf_free(&r.from_client.cur);
    ag__buf_free(&r.from_server.cur);
    ag__buf_free(&r.to_server.b);
    ag__buf_free(&r.io.to_client);
    ag__buf_free(&r.io.to_server);
    ag__mcp_session_free(r.s);
    *status = st;
    return derr;
}
