/* The runner behind test.h: registry, per-test isolation with setjmp, temp dirs. */
#include "test.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TESTS 4096

static struct {
    const char *name;
    ag_test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static jmp_buf on_fail;
static char tmpdir[PATH_MAX];

void ag_test_register(const char *name, ag_test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

void ag_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    longjmp(on_fail, 1);
}

static void remove_tmpdir(void)
{
    if (tmpdir[0] && getenv("AGENTGOV_KEEP_TMP") == NULL) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    }
}

const char *ag_test_tmpdir(void)
{
    if (tmpdir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/agentgov-test-XXXXXX", base ? base : "/tmp");
        if (mkdtemp(tmpdir) == NULL) {
            perror("mkdtemp");
            exit(2);
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

const char *ag_test_fresh_dir(const char *label)
{
    static char dir[PATH_MAX];
    static unsigned counter;
    snprintf(dir, sizeof dir, "%s/%s-%u", ag_test_tmpdir(), label, counter++);
    if (mkdir(dir, 0700) != 0) {
        perror(dir);
        exit(2);
    }
    return dir;
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    static int passed, failed, i; /* static: they must survive longjmp */
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 0; i < ntests; i++) {
        if (filter && strstr(tests[i].name, filter) == NULL)
            continue;
        if (setjmp(on_fail) == 0) {
            tests[i].fn();
            printf("ok   %s\n", tests[i].name);
            passed++;
        } else {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
