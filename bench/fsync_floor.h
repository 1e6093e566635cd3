/* The disk's floor for a durable commit, for the benchmarks to print beside their
 * figures: the median time of writing one 4 KiB page over existing data and
 * fdatasync-ing it (what a WAL commit that reuses its file costs at least). A closed
 * loop of N appenders commits at most N entries per fdatasync, so no group commit can
 * make an append cheaper than this floor / N on the same disk. Header-only: each bench
 * is one source file. */
#ifndef AG_BENCH_FSYNC_FLOOR_H
#define AG_BENCH_FSYNC_FLOOR_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median µs of one overwrite + fdatasync in dir, or -1 when the probe file fails. */
static double bench_fsync_floor_us(const char *dir)
{
    enum { PAGES = 64, RUNS = 300 };
    char path[4200], page[4096];
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    memset(page, 0x5a, sizeof page);
    int ok = 1;
    for (int i = 0; i < PAGES && ok; i++)
        ok = pwrite(fd, page, sizeof page, (off_t)i * 4096) == (ssize_t)sizeof page;
    ok = ok && fsync(fd) == 0;
    static double t[RUNS];
    for (int i = 0; i < RUNS && ok; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        ok = pwrite(fd, page, sizeof page, (off_t)(i % PAGES) * 4096) == (ssize_t)sizeof page &&
             fdatasync(fd) == 0;
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
    }
    close(fd);
    unlink(path);
    if (!ok)
        return -1;
    qsort(t, RUNS, sizeof t[0], bench_cmp_double);
    return t[RUNS / 2];
}

#endif
