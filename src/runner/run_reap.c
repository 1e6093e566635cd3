/* Killing what is left of a governed child's process tree (run_reap.h). */
#include "runner/run_reap.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/time.h"

/* Between two rounds: time for the processes just killed to die and for their
 * children to be reparented to us. */
#define ROUND_PAUSE_US 5000

struct proc {
    pid_t pid, ppid;
    int mine; /* 1: descends from the caller */
};

int ag__reap_adopt(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* The parent pid in /proc/<pid>/stat, read after the command name, which may hold
 * spaces and parentheses (hence the last ')'). -1 when the process is gone. */
static pid_t read_ppid(const char *pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    char state;
    int ppid;
    if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return (pid_t)ppid;
}

/* Every process with its parent (malloc'd, *n of them); NULL when /proc cannot be
 * listed or memory runs out. */
static struct proc *list_procs(size_t *n)
{
    DIR *d = opendir("/proc");
    if (!d)
        return NULL;
    size_t cap = 256;
    struct proc *v = malloc(cap * sizeof *v);
    *n = 0;
    for (struct dirent *e; v && (e = readdir(d));) {
        pid_t ppid = e->d_name[0] >= '1' && e->d_name[0] <= '9' ? read_ppid(e->d_name) : -1;
        if (ppid < 0)
            continue;
        if (*n == cap) {
            struct proc *w = realloc(v, 2 * cap * sizeof *v);
            if (!w)
                free(v);
            v = w;
            cap *= 2;
        }
        if (v)
            v[(*n)++] = (struct proc){(pid_t)atoi(e->d_name), ppid, 0};
    }
    closedir(d);
    return v;
}

static int by_pid(const void *a, const void *b)
{
    pid_t x = ((const struct proc *)a)->pid, y = ((const struct proc *)b)->pid;
    return (x > y) - (x < y);
}

/* Marks the descendants of self: one pass per level of the tree, until a pass adds
 * none; parents are found by binary search. Returns how many were marked. */
static size_t mark_descendants(struct proc *v, size_t n, pid_t self)
{
    qsort(v, n, sizeof *v, by_pid);
    size_t found = 0, added = 1;
    while (added) {
        added = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].mine)
                continue;
            struct proc key = {.pid = v[i].ppid};
            const struct proc *parent = bsearch(&key, v, n, sizeof *v, by_pid);
            if (v[i].ppid == self || (parent && parent->mine)) {
                v[i].mine = 1;
                added++;
            }
        }
        found += added;
    }
    return found;
}

/* One round: SIGKILL to every descendant, then the reaping of those that are our
 * children (the children of a killed process are adopted by us, the subreaper, and
 * reaped in a later round). Returns how many descendants the round found. */
static size_t reap_round(pid_t self, int *reaped)
{
    size_t n = 0;
    struct proc *v = list_procs(&n);
    if (!v)
        return 0;
    size_t found = mark_descendants(v, n, self);
    for (size_t i = 0; i < n; i++)
        if (v[i].mine)
            kill(v[i].pid, SIGKILL);
    for (size_t i = 0; i < n; i++)
        if (v[i].mine && v[i].ppid == self && waitpid(v[i].pid, NULL, WNOHANG) == v[i].pid)
            (*reaped)++;
    free(v);
    return found;
}

int ag__reap_descendants(int64_t budget_ms, int *left)
{
    pid_t self = getpid();
    int reaped = 0;
    int64_t end = ag__mono_ms() + budget_ms;
    size_t found;
    while ((found = reap_round(self, &reaped)) > 0 && ag__mono_ms() < end)
        usleep(ROUND_PAUSE_US);
    if (left)
        *left = (int)found;
    return reaped;
}
