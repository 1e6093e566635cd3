/* The redis-server fixture (see redis_fixture.h). Generic: no test registrations, no
 * knowledge of agentgov's keys; linked into every test binary and started only by those
 * that ask for it. */
#include "redis_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t server_pid; /* 0 when not running */
static pid_t owner_pid;  /* the process that started it: forked children never stop it */
static int port;
static int tried;
static char url[64];
static char dir[PATH_MAX];

/* A port nothing listens on right now (the kernel's pick for an ephemeral bind). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int p = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        p = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return p;
}

static redisContext *connect_server(void)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c)
        redisSetTimeout(c, tv);
    return c;
}

static int answers_ping(void)
{
    redisContext *c = connect_server();
    if (c == NULL)
        return 0;
    redisReply *r = redisCommand(c, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void reap(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGCONT); /* a stopped server would not act on SIGTERM */
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

/* Forks redis-server on `port`, logging to dir/redis.log; waits up to 5 s for PING. */
static int spawn(void)
{
    char portbuf[16], logpath[PATH_MAX + 16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    snprintf(logpath, sizeof logpath, "%s/redis.log", dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Dies with the test binary even if that one is killed before its atexit. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp("redis-server", "redis-server", "--port", portbuf, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--daemonize", "no", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    server_pid = pid;
    for (int i = 0; i < 250; i++) {
        if (answers_ping())
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) { /* exited: port taken, or no binary */
            server_pid = 0;
            return -1;
        }
        sleep_ms(20);
    }
    reap();
    return -1;
}

static void stop_at_exit(void)
{
    if (getpid() == owner_pid)
        reap();
}

const char *ag_test_redis_url(void)
{
    pthread_mutex_lock(&mu);
    if (!tried) {
        tried = 1;
        snprintf(dir, sizeof dir, "%s/redis", ag_test_tmpdir());
        mkdir(dir, 0700);
        owner_pid = getpid();
        atexit(stop_at_exit);
        /* A port picked free may be taken before redis binds it: try a few. */
        for (int attempt = 0; attempt < 5; attempt++) {
            port = free_port();
            if (port > 0 && spawn() == 0) {
                snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
                break;
            }
        }
        if (url[0] == '\0')
            fprintf(stderr, "redis fixture: could not start redis-server (see %s/redis.log)\n",
                    dir);
    }
    pthread_mutex_unlock(&mu);
    return url[0] ? url : NULL;
}

int ag_test_redis_port(void)
{
    return url[0] ? port : 0;
}

int ag_test_redis_cmd(const char *fmt, ...)
{
    if (ag_test_redis_url() == NULL)
        return -1;
    redisContext *c = connect_server();
    if (c == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

void ag_test_redis_flush(void)
{
    if (ag_test_redis_cmd("FLUSHALL") != 0)
        ag_test_fail(__FILE__, __LINE__, "redis fixture: FLUSHALL failed");
}

void ag_test_redis_stop(void)
{
    pthread_mutex_lock(&mu);
    reap();
    pthread_mutex_unlock(&mu);
}

int ag_test_redis_restart(void)
{
    if (ag_test_redis_url() == NULL)
        return -1;
    pthread_mutex_lock(&mu);
    reap();
    int rc = -1;
    /* the old socket may linger a moment in the kernel: retry the bind for a while */
    for (int attempt = 0; attempt < 20 && rc != 0; attempt++) {
        rc = spawn();
        if (rc != 0)
            sleep_ms(100);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int ag_test_redis_signal(int sig)
{
    return server_pid > 0 ? kill(server_pid, sig) : -1;
}
