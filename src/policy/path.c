#include "policy/path.h"
#include "agentgov/policy.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AG_POLICY_DIR
#define AG_POLICY_DIR "/usr/local/share/agentgov/policies"
#endif

static char default_path[PATH_MAX];
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void find_default(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char candidate[PATH_MAX + 32];
            snprintf(candidate, sizeof candidate, "%s/../policies/default.yaml", exe);
            char real[PATH_MAX];
            if (access(candidate, R_OK) == 0 && realpath(candidate, real)) {
                snprintf(default_path, sizeof default_path, "%s", real);
                return;
            }
        }
    }
    snprintf(default_path, sizeof default_path, "%s/default.yaml", AG_POLICY_DIR);
}

const char *ag__policy_default_path(void)
{
    pthread_once(&default_once, find_default);
    return default_path;
}

const char *ag__policy_resolve(const char *flag, const char *datadir, char *buf, size_t len)
{
    if (flag)
        return flag;
    if (datadir && buf && len) {
        int n = snprintf(buf, len, "%s/policy.yaml", datadir);
        /* lstat, not access(): a policy.yaml that is there but does not open (a
         * dangling symlink) must fail to load under its name, not quietly give way to
         * the shipped default. */
        struct stat st;
        if (n > 0 && (size_t)n < len && (lstat(buf, &st) == 0 || errno != ENOENT))
            return buf;
    }
    return ag__policy_default_path();
}

const char *ag_policy_default_path(void)
{
    return ag__policy_default_path();
}
