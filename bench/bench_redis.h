/* A private redis-server for the benchmarks that measure the Redis backend: started on
 * a free port of 127.0.0.1 with persistence off, stopped at exit (and by the kernel if
 * the bench dies: PR_SET_PDEATHSIG). Header-only: each bench is one source file. */
#ifndef AG_BENCH_REDIS_H
#define AG_BENCH_REDIS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentgov/store.h"

static pid_t bench_redis_pid;

/* Stops the server started by bench_redis_start, if any (also run at exit). */
static void bench_redis_stop(void)
{
    if (bench_redis_pid > 0) {
        kill(bench_redis_pid, SIGTERM);
        waitpid(bench_redis_pid, NULL, 0);
    }
    bench_redis_pid = 0;
}

static int bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int p = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        p = ntohs(a.sin_port);
    close(fd);
    return p;
}

/* Starts redis-server with its files in dir; writes its URL into url and returns 0 once
 * a store opens on it, -1 when none does within 4 s. */
static int bench_redis_start(char *url, size_t len, const char *dir)
{
    int port = bench_free_port();
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    fflush(stdout); /* or the child's freopen writes our buffered lines a second time */
    bench_redis_pid = fork();
    if (bench_redis_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execlp("redis-server", "redis-server", "--port", portbuf, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    atexit(bench_redis_stop);
    snprintf(url, len, "redis://127.0.0.1:%d/0", port);
    for (int i = 0; i < 200; i++) {
        ag_store *s;
        if (ag_store_open(url, &s) == AG_OK) {
            ag_store_free(s);
            return 0;
        }
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

#endif
