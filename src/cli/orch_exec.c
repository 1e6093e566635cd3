/* Workdir tools of orchestrated agents: see orch_exec.h. A command is confined by the
 * same Landlock + seccomp + rlimit profile `agentgov run` gives the tier; a file is
 * opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from the workdir, so that
 * neither "..", an absolute path nor a symlink planted by a command reaches outside. */
#include "cli/orch_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "agentgov/runner.h"
#include "cli/cliutil.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "core/safestr.h"
#include "core/time.h"

#define OUT_MAX   16384     /* what a command's output gives back to the model */
#define READ_MAX  65536     /* a file read */
#define WRITE_MAX (1 << 20) /* a file write */

int ag__orch_exec_init(struct ag__orch_exec *x, const ag_policy *policy, const char *workdir,
                       int64_t timeout_ms)
{
    x->policy = policy;
    x->workdir = workdir;
    x->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    x->dirfd = open(workdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (x->dirfd < 0) {
        ag__cli_error("--workdir %s: %s", workdir, strerror(errno));
        return -1;
    }
    return 0;
}

void ag__orch_exec_close(struct ag__orch_exec *x)
{
    if (x->dirfd >= 0)
        close(x->dirfd);
    x->dirfd = -1;
}

static int open_beneath(int dirfd, const char *path, int flags)
{
    return ag__open_beneath(dirfd, path, flags | O_NOFOLLOW, 0644, 1);
}

/* {"ok":..., key: text (made valid UTF-8)} as malloc'd JSON. */
static char *reply(int ok, const char *key, const char *text, int code)
{
    /* Valid UTF-8 goes as it is (newlines included: the model reads them); anything
     * else is escaped byte by byte rather than refused. */
    text = text ? text : "";
    size_t cap = strlen(text) * 3 + 1;
    char *safe = malloc(cap);
    if (!safe)
        return NULL;
    if (ag__utf8_valid(text, strlen(text)))
        memcpy(safe, text, strlen(text) + 1);
    else
        ag__utf8_safe_copy(safe, cap, text);
    json_t *o = json_pack("{s:b,s:s}", "ok", ok, key, safe);
    free(safe);
    if (o && code != -1000)
        json_object_set_new(o, "exit", json_integer(code));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static ag_err file_read(struct ag__orch_exec *x, const char *path, char **result)
{
    int fd = open_beneath(x->dirfd, path, O_RDONLY);
    if (fd < 0) {
        *result = reply(0, "error", strerror(errno), -1000);
        return *result ? AG_OK : AG_ENOMEM;
    }
    char *buf = malloc(READ_MAX + 1);
    ssize_t n = buf ? read(fd, buf, READ_MAX) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        *result = reply(0, "error", "cannot read the file", -1000);
        return *result ? AG_OK : AG_ENOMEM;
    }
    buf[n] = '\0';
    *result = reply(1, "content", buf, -1000);
    free(buf);
    return *result ? AG_OK : AG_ENOMEM;
}

static ag_err file_write(struct ag__orch_exec *x, const char *path, const char *content,
                         char **result)
{
    size_t len = content ? strlen(content) : 0;
    if (!content || len > WRITE_MAX) {
        *result = reply(0, "error", "content: a string of at most 1 MiB is required", -1000);
        return *result ? AG_OK : AG_ENOMEM;
    }
    int fd = open_beneath(x->dirfd, path, O_WRONLY | O_CREAT | O_TRUNC);
    if (fd < 0) {
        *result = reply(0, "error", strerror(errno), -1000);
        return *result ? AG_OK : AG_ENOMEM;
    }
    ssize_t w = write(fd, content, len);
    int bad = w != (ssize_t)len || close(fd) != 0;
    *result = reply(!bad, bad ? "error" : "written", bad ? "short write" : path, -1000);
    return *result ? AG_OK : AG_ENOMEM;
}

/* Runs argv in the workdir under the tier's sandbox; output (stdout and stderr, at most
 * OUT_MAX bytes) and exit status go back; past the timeout the process group is killed. */
static ag_err shell(struct ag__orch_exec *x, int tier, json_t *argv_j, char **result)
{
    size_t n = json_array_size(argv_j);
    if (n == 0 || n > 64) {
        *result = reply(0, "error", "argv: an array of 1 to 64 strings is required", -1000);
        return *result ? AG_OK : AG_ENOMEM;
    }
    char **argv = calloc(n + 1, sizeof *argv);
    if (!argv)
        return ag__fail(AG_ENOMEM, "shell_exec: out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *arg = json_string_value(json_array_get(argv_j, i));
        if (!arg || !(argv[i] = strdup(arg))) {
            for (size_t k = 0; k < i; k++)
                free(argv[k]);
            free(argv);
            if (arg)
                return ag__fail(AG_ENOMEM, "shell_exec: out of memory");
            *result = reply(0, "error", "argv: every element must be a string", -1000);
            return *result ? AG_OK : AG_ENOMEM;
        }
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        free(argv);
        return ag__fail(AG_EIO, "shell_exec: pipe: %s", strerror(errno));
    }
    char home[4200];
    snprintf(home, sizeof home, "HOME=%s", x->workdir);
    char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", home, "LANG=C.UTF-8", NULL};
    struct ag_spawn_opts so = {
        .stdin_fd = -1, .stdout_fd = p[1], .stderr_fd = p[1], .new_session = 1};
    pid_t pid;
    ag_err e =
        ag_sandbox_spawn(ag_policy_sandbox(x->policy, tier), x->workdir, argv, envp, &so, &pid);
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    free(argv);
    close(p[1]);
    if (e) {
        close(p[0]);
        *result = reply(0, "error", ag_last_error(), -1000);
        return *result ? AG_OK : AG_ENOMEM;
    }
    struct ag_buf out;
    ag__buf_init(&out);
    int64_t deadline = ag__mono_ms() + x->timeout_ms;
    int timed_out = 0;
    for (;;) {
        int64_t left = deadline - ag__mono_ms();
        if (left <= 0) {
            timed_out = 1;
            kill(-pid, SIGKILL);
            break;
        }
        struct pollfd pf = {p[0], POLLIN, 0};
        if (poll(&pf, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
            continue;
        char buf[4096];
        ssize_t r = read(p[0], buf, sizeof buf);
        if (r <= 0)
            break;
        if (out.len < OUT_MAX)
            ag__buf_append(&out, buf,
                           out.len + (size_t)r > OUT_MAX ? OUT_MAX - out.len : (size_t)r);
    }
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (timed_out)
        ag__buf_puts(&out, "\n[agentgov: stopped at the command's timeout]");
    *result = reply(!timed_out && code == 0, "output", out.data ? out.data : "", code);
    ag__buf_free(&out);
    return *result ? AG_OK : AG_ENOMEM;
}

ag_err ag__orch_exec(void *ctx, const char *agent_id, int tier, const char *action,
                     const char *args_json, char **result)
{
    struct ag__orch_exec *x = ctx;
    (void)agent_id;
    *result = NULL;
    json_t *a = json_loads(args_json, 0, NULL);
    if (!a)
        return ag__fail(AG_EINVAL, "%s: arguments are not JSON", action);
    ag_err e;
    if (!strcmp(action, "shell.exec"))
        e = shell(x, tier, json_object_get(a, "argv"), result);
    else if (!strcmp(action, "file.read"))
        e = file_read(x, json_string_value(json_object_get(a, "path")), result);
    else if (!strcmp(action, "file.write"))
        e = file_write(x, json_string_value(json_object_get(a, "path")),
                       json_string_value(json_object_get(a, "content")), result);
    else
        e = ag__fail(AG_EINVAL, "no executor for %s", action);
    json_decref(a);
    if (!e && !*result)
        e = ag__fail(AG_ENOMEM, "%s: out of memory", action);
    return e;
}
