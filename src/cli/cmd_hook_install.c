/* `agentgov hook install claude-code|codex` and `agentgov hook doctor`: writes the
 * settings that make the hook effective and fail closed, and reports what would let a
 * call through. The texts are merged by src/hook/install.c; this file reads and writes
 * the files, asks the clients for their version, and talks to `codex app-server` for
 * Codex's hook trust (the documented route: hooks/list gives each hook's current hash,
 * config/batchWrite records it as trusted, and Codex edits its own config.toml). */
#include "cli/cmd_hook_install.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agentgov/hook.h"
#include "cli/cliutil.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/fileio.h"

#define MAX_SETTINGS   (8 << 20)
#define RPC_TIMEOUT_MS 30000

struct opts {
    int codex; /* else claude-code */
    int both;  /* doctor without an agent named */
    int managed;
    const char *project; /* --project DIR */
    const char *file;    /* --file PATH: the settings file to write or check */
    const char *bin;     /* --bin PATH: the agentgov the hook runs */
    const char *client;  /* --client PATH: the claude or codex program */
};

static void install_usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov hook install claude-code|codex [--managed] [--project DIR]\n"
            "                             [--file PATH] [--bin PATH] [--client PATH] [--dir DIR]\n"
            "\n"
            "Writes the agent's settings so that every tool call goes through `agentgov hook`\n"
            "and a hook that fails blocks the call. Other settings are kept; files are\n"
            "replaced atomically.\n"
            "\n"
            "claude-code: a PreToolUse hook for every tool, with \"onFailure\": \"block\" when\n"
            "  the installed Claude Code supports it (2.1.295 and later; `claude --version`),\n"
            "  in ~/.claude/settings.json ($CLAUDE_CONFIG_DIR), DIR/.claude/settings.json with\n"
            "  --project, or /etc/claude-code/managed-settings.json with --managed.\n"
            "codex: a PreToolUse hook in $CODEX_HOME/hooks.json (~/.codex), trusted through\n"
            "  `codex app-server` (Codex skips an untrusted hook without a word), and\n"
            "  [features] unified_exec_tty = false in config.toml (commands typed into an\n"
            "  interactive terminal reach no hook); with --managed both go into\n"
            "  /etc/codex/requirements.toml instead, which the user cannot switch off.\n"
            "\n"
            "options:\n"
            "  --managed      write the system-wide managed settings (needs root)\n"
            "  --project DIR  the project (Claude Code: its .claude/settings.json; Codex: the\n"
            "                 directory whose hook list is checked)\n"
            "  --file PATH    write this settings file instead of the default one\n"
            "  --bin PATH     the agentgov the hook runs (default: this one)\n"
            "  --client PATH  the claude or codex program (default: found on PATH)\n"
            "  --dir DIR      data directory the hook records into (written into the hook)\n"
            "\n"
            "`agentgov hook doctor` checks the result.\n\n");
    ag__cli_print_exit_statuses(out);
}

static void doctor_usage(FILE *out)
{
    fprintf(out,
            "usage: agentgov hook doctor [claude-code|codex] [--project DIR] [--file PATH]\n"
            "                            [--client PATH]\n"
            "\n"
            "Reports what would let a tool call past the hook: no hook for every tool, a hook\n"
            "whose program is missing, no \"onFailure\": \"block\" (Claude Code versions that\n"
            "support it), \"disableAllHooks\", a Codex hook that is not trusted, Codex's\n"
            "unified_exec_tty still on, and settings files the agent could rewrite. Lines\n"
            "start with ok, WARN or FAIL; exit 2 when any FAIL.\n"
            "Without an agent named, both are checked.\n"
            "\n");
    ag__cli_print_exit_statuses(out);
}

/* ---- small helpers ------------------------------------------------------------------- */

static const char *home_dir(void)
{
    const char *h = getenv("HOME");
    return h && h[0] == '/' ? h : NULL;
}

/* "$CODEX_HOME", else ~/.codex, into buf; NULL when there is no home. */
static const char *codex_home(char *buf, size_t len)
{
    const char *c = getenv("CODEX_HOME");
    if (c && c[0] == '/')
        return snprintf(buf, len, "%s", c) < (int)len ? buf : NULL;
    const char *h = home_dir();
    return h && snprintf(buf, len, "%s/.codex", h) < (int)len ? buf : NULL;
}

static const char *claude_dir(char *buf, size_t len)
{
    const char *c = getenv("CLAUDE_CONFIG_DIR");
    if (c && c[0] == '/')
        return snprintf(buf, len, "%s", c) < (int)len ? buf : NULL;
    const char *h = home_dir();
    return h && snprintf(buf, len, "%s/.claude", h) < (int)len ? buf : NULL;
}

/* The file's text, "" when it does not exist. */
static ag_err read_optional(const char *path, char **text, size_t *len)
{
    ag_err err = ag__read_file(path, MAX_SETTINGS, text, len);
    if (err == AG_ENOTFOUND) {
        ag_clear_error();
        *text = strdup("");
        *len = 0;
        return *text ? AG_OK : AG_ENOMEM;
    }
    return err;
}

/* The directory part of path, created when missing (mode 0755: the agent's own
 * configuration directories are not secret). */
static ag_err ensure_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return AG_OK;
    *slash = '\0';
    return ag__mkdir_p(dir, 0755);
}

/* Writes text to path atomically, keeping the mode of the file it replaces. */
static ag_err write_settings(const char *path, const char *text)
{
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
    ag_err err = ensure_parent(path);
    if (err == AG_OK)
        err = ag__write_file_atomic(path, text, strlen(text), mode, 0);
    return err;
}

/* The hook command: this agentgov (or --bin), the data directory when one was chosen,
 * and the agent. */
static char *hook_command(const struct opts *o)
{
    char self[PATH_MAX];
    const char *bin = o->bin;
    if (bin == NULL) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return NULL;
        self[n] = '\0';
        bin = self;
    }
    struct ag_buf b;
    ag__buf_init(&b);
    char *q = ag_hook_shell_quote(bin);
    ag__buf_puts(&b, q ? q : "agentgov");
    free(q);
    if (ag__cli_dir_is_set()) {
        char real[PATH_MAX];
        const char *d = ag__cli_dir();
        q = ag_hook_shell_quote(realpath(d, real) ? real : d);
        ag__buf_printf(&b, " --dir %s", q ? q : d);
        free(q);
    }
    ag__buf_printf(&b, " hook %s", o->codex ? "codex" : "claude-code");
    return ag__buf_take(&b);
}

/* Runs argv with stdin from /dev/null; its stdout (up to cap bytes) in *out. Returns the
 * exit status, -1 when it could not run. */
static int run_capture(char *const argv[], char **out, size_t cap)
{
    int fds[2];
    *out = NULL;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(fds[1], 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    struct ag_buf b;
    ag__buf_init(&b);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && b.len < cap)
            ag__buf_append(&b, chunk, (size_t)n);
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *out = ag__buf_take(&b);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The client's `--version` line, NULL when it does not run. */
static char *client_version(const char *prog)
{
    char name[PATH_MAX]; /* execvp takes char *const[] */
    snprintf(name, sizeof name, "%s", prog);
    char *argv[] = {name, "--version", NULL};
    char *out = NULL;
    int rc = run_capture(argv, &out, 4096);
    if (rc != 0 || out == NULL || out[0] == '\0') {
        free(out);
        return NULL;
    }
    out[strcspn(out, "\n")] = '\0';
    return out;
}

/* ---- codex app-server ---------------------------------------------------------------- */

struct rpc {
    const char *prog;
    pid_t pid;
    int in, out; /* our ends: we write requests to in, read lines from out */
    struct ag_buf rbuf;
    int next_id;
};

static ag_err rpc_start(struct rpc *r, const char *codex, const char *cwd)
{
    int to[2], from[2];
    memset(r, 0, sizeof *r);
    r->prog = codex;
    r->in = r->out = -1;
    ag__buf_init(&r->rbuf);
    if (pipe2(to, O_CLOEXEC) != 0)
        return ag__fail(AG_EIO, "pipe: %s", strerror(errno));
    if (pipe2(from, O_CLOEXEC) != 0) {
        close(to[0]);
        close(to[1]);
        return ag__fail(AG_EIO, "pipe: %s", strerror(errno));
    }
    r->pid = fork();
    if (r->pid < 0)
        return ag__fail(AG_EIO, "fork: %s", strerror(errno));
    if (r->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(to[0], 0);
        dup2(from[1], 1);
        dup2(null, 2);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execlp(codex, codex, "app-server", (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    r->in = to[1];
    r->out = from[0];
    r->next_id = 1;
    return AG_OK;
}

static void rpc_stop(struct rpc *r)
{
    if (r->in >= 0)
        close(r->in);
    if (r->out >= 0)
        close(r->out);
    if (r->pid > 0) {
        int status;
        for (int i = 0; i < 50; i++) {
            if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
                r->pid = 0;
                break;
            }
            if (i == 20)
                kill(r->pid, SIGTERM);
            usleep(20000);
        }
        if (r->pid > 0) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &status, 0);
        }
    }
    ag__buf_free(&r->rbuf);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next line from the server, NULL on end, error or deadline. */
static json_t *rpc_line(struct rpc *r, int64_t deadline)
{
    for (;;) {
        char *nl = r->rbuf.len ? memchr(r->rbuf.data, '\n', r->rbuf.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - r->rbuf.data);
            json_t *j = json_loadb(r->rbuf.data, n, 0, NULL);
            memmove(r->rbuf.data, nl + 1, r->rbuf.len - n - 1);
            r->rbuf.len -= n + 1;
            if (j)
                return j;
            continue; /* not JSON: skip */
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p = {.fd = r->out, .events = POLLIN};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return NULL;
        char chunk[65536];
        ssize_t n = read(r->out, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        ag__buf_append(&r->rbuf, chunk, (size_t)n);
        if (ag__buf_status(&r->rbuf) != AG_OK)
            return NULL;
    }
}

static ag_err rpc_send(struct rpc *r, json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT);
    if (s == NULL)
        return AG_ENOMEM;
    size_t len = strlen(s), off = 0;
    ag_err err = AG_OK;
    signal(SIGPIPE, SIG_IGN);
    while (off < len && err == AG_OK) {
        ssize_t n = write(r->in, s + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            err = ag__fail(AG_EIO, "codex app-server closed its input");
        else
            off += (size_t)n;
    }
    if (err == AG_OK && write(r->in, "\n", 1) != 1)
        err = ag__fail(AG_EIO, "codex app-server closed its input");
    free(s);
    return err;
}

/* When the server has ended (it closed its pipes): an error that says why, the program
 * not found above all; AG_OK while it runs. */
static ag_err rpc_ended(struct rpc *r, const char *method)
{
    int status = 0, ended = 0;
    for (int i = 0; r->pid > 0 && i < 50 && !ended; i++) {
        ended = waitpid(r->pid, &status, WNOHANG) == r->pid;
        if (!ended)
            usleep(10000);
    }
    if (!ended)
        return AG_OK;
    r->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return ag__fail(AG_ENOTFOUND, "cannot run '%s' (not on PATH? --client names it)", r->prog);
    return ag__fail(AG_EIO, "'%s app-server' ended before it answered %s", r->prog, method);
}

/* Calls method with params (taken over); *result is the reply's result (owned). */
static ag_err rpc_call(struct rpc *r, const char *method, json_t *params, json_t **result)
{
    int id = r->next_id++;
    json_t *msg = json_pack("{s:i, s:s, s:o}", "id", id, "method", method, "params", params);
    ag_err err = msg ? rpc_send(r, msg) : AG_ENOMEM;
    json_decref(msg);
    if (err == AG_EIO) {
        ag_err why = rpc_ended(r, method); /* a server that is gone says why */
        return why != AG_OK ? why : err;
    }
    if (err != AG_OK)
        return err;
    int64_t deadline = mono_ms() + RPC_TIMEOUT_MS;
    for (;;) {
        json_t *j = rpc_line(r, deadline);
        if (j == NULL && (err = rpc_ended(r, method)) != AG_OK)
            return err;
        if (j == NULL)
            return ag__fail(AG_ETIMEOUT, "'%s app-server' gave no answer to %s", r->prog, method);
        json_t *jid = json_object_get(j, "id");
        if (json_is_integer(jid) && json_integer_value(jid) == id &&
            json_object_get(j, "method") == NULL) {
            json_t *e = json_object_get(j, "error");
            if (e) {
                err = ag__fail(AG_EIO, "codex app-server: %s: %s", method,
                               json_string_value(json_object_get(e, "message"))
                                   ? json_string_value(json_object_get(e, "message"))
                                   : "error");
                json_decref(j);
                return err;
            }
            *result = json_incref(json_object_get(j, "result"));
            json_decref(j);
            return *result ? AG_OK : ag__fail(AG_EIO, "codex app-server: %s: no result", method);
        }
        json_decref(j); /* a notification, or a server request we do not serve */
    }
}

static ag_err rpc_open(struct rpc *r, const char *codex, const char *cwd)
{
    ag_err err = rpc_start(r, codex, cwd);
    json_t *res = NULL;
    if (err == AG_OK)
        err = rpc_call(
            r, "initialize",
            json_pack("{s:{s:s, s:s}}", "clientInfo", "name", "agentgov", "version", "1"), &res);
    json_decref(res);
    if (err == AG_OK) {
        json_t *n = json_pack("{s:s}", "method", "initialized");
        err = n ? rpc_send(r, n) : AG_ENOMEM;
        json_decref(n);
    }
    return err;
}

/* The PreToolUse hook entry that runs cmd (or, with cmd NULL, any agentgov hook), from
 * hooks/list for cwd (a new reference), NULL when none. */
static ag_err codex_find_hook(struct rpc *r, const char *cwd, const char *cmd, json_t **hook,
                              json_t **warnings)
{
    json_t *res = NULL;
    *hook = NULL;
    ag_err err = rpc_call(r, "hooks/list", json_pack("{s:[s]}", "cwds", cwd), &res);
    if (err != AG_OK)
        return err;
    size_t i, j;
    json_t *entry, *h;
    json_array_foreach(json_object_get(res, "data"), i, entry)
    {
        if (warnings && !*warnings)
            *warnings = json_incref(json_object_get(entry, "errors"));
        json_array_foreach(json_object_get(entry, "hooks"), j, h)
        {
            const char *ev = json_string_value(json_object_get(h, "eventName"));
            const char *c = json_string_value(json_object_get(h, "command"));
            if (*hook || !ev || !c || strcmp(ev, "preToolUse") != 0)
                continue;
            if (cmd ? strcmp(c, cmd) == 0 : strstr(c, "agentgov") && strstr(c, " hook codex"))
                *hook = json_incref(h);
        }
    }
    json_decref(res);
    return AG_OK;
}

/* ---- install ------------------------------------------------------------------------- */

static ag_err merge_file(const char *path, const char *cmd, int kind, int fail_closed,
                         struct ag_buf *changes)
{
    char *text = NULL, *out = NULL;
    size_t len = 0;
    char why[1024];
    ag_err err = read_optional(path, &text, &len);
    if (err != AG_OK) {
        snprintf(why, sizeof why, "%s", ag_last_error());
        return ag__fail(err, "%s: %s", path, why);
    }
    char *ch = NULL;
    if (kind == 0)
        err = ag_hook_install_claude(text, len, cmd, fail_closed, &out, &ch);
    else if (kind == 1)
        err = ag_hook_install_codex_hooks(text, len, cmd, &out, &ch);
    else
        err = ag_hook_install_codex_requirements(text, len, cmd, &out, &ch);
    if (ch)
        ag__buf_puts(changes, ch);
    free(ch);
    if (err != AG_OK) {
        snprintf(why, sizeof why, "%s", ag_last_error());
        err = ag__fail(err, "%s: %s", path, why);
    } else if (strcmp(out, text) != 0 && (err = write_settings(path, out)) != AG_OK) {
        snprintf(why, sizeof why, "%s", ag_last_error());
        err = ag__fail(err, "writing %s: %s", path, why);
    }
    free(text);
    free(out);
    return err;
}

static int install_claude(const struct opts *o, const char *cmd)
{
    char path[PATH_MAX + 64], dir[PATH_MAX];
    if (o->file)
        snprintf(path, sizeof path, "%s", o->file);
    else if (o->managed)
        snprintf(path, sizeof path, "/etc/claude-code/managed-settings.json");
    else if (o->project)
        snprintf(path, sizeof path, "%s/.claude/settings.json", o->project);
    else if (claude_dir(dir, sizeof dir))
        snprintf(path, sizeof path, "%s/settings.json", dir);
    else {
        ag__cli_error_ag(ag__fail(AG_EINVAL, "no absolute HOME: name the file with --file"),
                         "hook install");
        return AG_EXIT_USAGE;
    }
    char *ver = client_version(o->client ? o->client : "claude");
    int fail_closed =
        ver ? ag_hook_version_at_least(ver, AG_HOOK_CLAUDE_FAIL_CLOSED_VERSION) == 1 : 0;
    struct ag_buf changes;
    ag__buf_init(&changes);
    ag_err err = merge_file(path, cmd, 0, fail_closed, &changes);
    if (err != AG_OK) {
        ag__cli_error_ag(err, "hook install");
        free(ver);
        ag__buf_free(&changes);
        return ag__cli_exit_of(err);
    }
    printf("%s:\n%s", path, changes.len ? changes.data : "already installed, nothing changed\n");
    if (ver == NULL)
        printf("WARN could not run `%s --version`: \"onFailure\": \"block\" was not written; "
               "run `agentgov hook install claude-code` again once Claude Code is installed\n",
               o->client ? o->client : "claude");
    else if (!fail_closed)
        printf("WARN %s predates \"onFailure\": \"block\" (Claude Code %s): a hook that fails "
               "lets the call run; upgrade Claude Code\n",
               ver, AG_HOOK_CLAUDE_FAIL_CLOSED_VERSION);
    free(ver);
    ag__buf_free(&changes);
    return AG_EXIT_OK;
}

/* Trusts the hook that runs cmd and turns unified_exec_tty off, through Codex itself;
 * then checks that Codex now reports the hook trusted. */
static ag_err codex_trust(const struct opts *o, const char *cmd, const char *cwd,
                          struct ag_buf *changes)
{
    struct rpc r;
    const char *codex = o->client ? o->client : "codex";
    ag_err err = rpc_open(&r, codex, cwd);
    json_t *hook = NULL, *res = NULL;
    if (err == AG_OK)
        err = codex_find_hook(&r, cwd, cmd, &hook, NULL);
    if (err == AG_OK && hook == NULL)
        err = ag__fail(AG_ENOTFOUND, "Codex does not list the hook just written (is "
                                     "[features] hooks = false set?)");
    if (err == AG_OK) {
        const char *status = json_string_value(json_object_get(hook, "trustStatus"));
        json_t *edits = json_pack("[{s:s, s:s, s:b}]", "keyPath", "features.unified_exec_tty",
                                  "mergeStrategy", "replace", "value", 0);
        if (edits && status && strcmp(status, "trusted") != 0 && strcmp(status, "managed") != 0)
            json_array_append_new(edits,
                                  json_pack("{s:s, s:s, s:{s:{s:O}}}", "keyPath", "hooks.state",
                                            "mergeStrategy", "upsert", "value",
                                            json_string_value(json_object_get(hook, "key")),
                                            "trusted_hash", json_object_get(hook, "currentHash")));
        size_t nedits = json_array_size(edits); /* the call takes edits over */
        err = edits ? rpc_call(&r, "config/batchWrite", json_pack("{s:o}", "edits", edits), &res)
                    : AG_ENOMEM;
        if (err == AG_OK && nedits > 1)
            ag__buf_printf(changes, "trusted the hook in Codex (%s)\n",
                           json_string_value(json_object_get(hook, "currentHash")));
        if (err == AG_OK)
            ag__buf_puts(changes,
                         "set [features] unified_exec_tty = false in Codex's config.toml\n");
    }
    json_decref(res);
    json_decref(hook);
    hook = NULL;
    if (err == AG_OK)
        err = codex_find_hook(&r, cwd, cmd, &hook, NULL);
    if (err == AG_OK) {
        const char *status = hook ? json_string_value(json_object_get(hook, "trustStatus")) : NULL;
        if (!status || (strcmp(status, "trusted") != 0 && strcmp(status, "managed") != 0))
            err = ag__fail(AG_EIO, "Codex still reports the hook %s", status ? status : "missing");
    }
    json_decref(hook);
    rpc_stop(&r);
    return err;
}

static int install_codex(const struct opts *o, const char *cmd)
{
    char path[PATH_MAX + 64], home[PATH_MAX], cwd[PATH_MAX];
    struct ag_buf changes;
    ag__buf_init(&changes);
    if (o->file)
        snprintf(path, sizeof path, "%s", o->file);
    else if (o->managed)
        snprintf(path, sizeof path, "/etc/codex/requirements.toml");
    else if (codex_home(home, sizeof home))
        snprintf(path, sizeof path, "%s/hooks.json", home);
    else {
        ag__cli_error_ag(ag__fail(AG_EINVAL, "no CODEX_HOME nor absolute HOME: name the file "
                                             "with --file"),
                         "hook install");
        return AG_EXIT_USAGE;
    }
    ag_err err = merge_file(path, cmd, o->managed ? 2 : 1, 0, &changes);
    if (err == AG_OK && !o->managed) {
        const char *dir = o->project ? o->project : getcwd(cwd, sizeof cwd);
        err = dir ? codex_trust(o, cmd, dir, &changes)
                  : ag__fail(AG_EIO, "getcwd: %s", strerror(errno));
        if (err != AG_OK) {
            char why[1024];
            snprintf(why, sizeof why, "%s", ag_last_error());
            err = ag__fail(err,
                           "%s (the hook is written to %s but Codex will skip it until it "
                           "is trusted: run `codex` and trust it in /hooks, or install with "
                           "--managed)",
                           why, path);
        }
    }
    if (err != AG_OK) {
        ag__cli_error_ag(err, "hook install");
        ag__buf_free(&changes);
        return ag__cli_exit_of(err);
    }
    printf("%s:\n%s", path, changes.len ? changes.data : "already installed, nothing changed\n");
    ag__buf_free(&changes);
    return AG_EXIT_OK;
}

/* ---- options ------------------------------------------------------------------------- */

static int parse(int argc, char **argv, struct opts *o, int doctor)
{
    static const struct option longs[] = {
        {"managed", no_argument, NULL, 'm'},      {"project", required_argument, NULL, 'p'},
        {"file", required_argument, NULL, 'f'},   {"bin", required_argument, NULL, 'b'},
        {"client", required_argument, NULL, 'c'}, {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    int named = argc >= 2 && argv[1][0] != '-';
    if (named && strcmp(argv[1], "codex") == 0)
        o->codex = 1;
    else if (named && strcmp(argv[1], "claude-code") != 0) {
        fprintf(stderr, "agentgov: hook %s: unknown agent '%s' (claude-code or codex)\n",
                doctor ? "doctor" : "install", argv[1]);
        return AG_EXIT_USAGE;
    } else if (!named && !doctor) {
        install_usage(stderr);
        return AG_EXIT_USAGE;
    }
    o->both = !named;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc - named, argv + named, "+h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->managed = 1;
            break;
        case 'p':
            o->project = optarg;
            break;
        case 'f':
            o->file = optarg;
            break;
        case 'b':
            o->bin = optarg;
            break;
        case 'c':
            o->client = optarg;
            break;
        case 'd':
            ag__cli_set_dir(optarg);
            break;
        case 'h':
            (doctor ? doctor_usage : install_usage)(stdout);
            return -1;
        default:
            fprintf(stderr, "agentgov: hook %s: bad option '%s' (see --help)\n",
                    doctor ? "doctor" : "install", argv[named + optind - 1]);
            return AG_EXIT_USAGE;
        }
    }
    if (optind != argc - named) {
        fprintf(stderr, "agentgov: hook %s: unexpected argument '%s'\n",
                doctor ? "doctor" : "install", argv[named + optind]);
        return AG_EXIT_USAGE;
    }
    if (o->project && o->project[0] != '/') {
        static char abs[PATH_MAX];
        if (!realpath(o->project, abs)) {
            fprintf(stderr, "agentgov: --project %s: %s\n", o->project, strerror(errno));
            return AG_EXIT_USAGE;
        }
        o->project = abs;
    }
    return 0;
}

int ag__cmd_hook_install(int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, &o, 0);
    if (rc)
        return rc < 0 ? AG_EXIT_OK : rc;
    char *cmd = hook_command(&o);
    if (cmd == NULL) {
        fprintf(stderr, "agentgov: hook install: cannot find this program's path: use --bin\n");
        return AG_EXIT_ERROR;
    }
    rc = o.codex ? install_codex(&o, cmd) : install_claude(&o, cmd);
    free(cmd);
    return rc;
}

/* ---- doctor -------------------------------------------------------------------------- */

struct report {
    int fails, warns;
};

static void say(struct report *r, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct report *r, const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%-4s ", level);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    if (strcmp(level, "FAIL") == 0)
        r->fails++;
    else if (strcmp(level, "WARN") == 0)
        r->warns++;
}

/* The hook's program exists and can run. */
static void check_program(struct report *rep, const char *agent, const char *cmd)
{
    char *prog = ag_hook_command_program(cmd);
    if (prog == NULL || access(prog, X_OK) != 0)
        say(rep, "FAIL",
            "%s: the hook runs '%s', which is missing or not executable: the "
            "call runs unjudged",
            agent, prog ? prog : cmd);
    else
        say(rep, "ok", "%s: the hook runs %s", agent, cmd);
    free(prog);
}

/* A settings file the agent's own user can rewrite. */
static void check_writable(struct report *rep, const char *agent, const char *path)
{
    if (access(path, W_OK) == 0)
        say(rep, "WARN",
            "%s: %s is writable by this user, so by the agent: the hook denies every write to "
            "it that it sees, and `agentgov run --profile coding-agent` makes it read-only; "
            "`hook install --managed` puts the hook where the user cannot change it",
            agent, path);
}

static void doctor_claude(const struct opts *o, struct report *rep)
{
    char dir[PATH_MAX], paths[4][PATH_MAX + 64];
    int n = 0;
    if (o->file)
        snprintf(paths[n++], sizeof paths[0], "%s", o->file);
    else {
        snprintf(paths[n++], sizeof paths[0], "/etc/claude-code/managed-settings.json");
        if (claude_dir(dir, sizeof dir))
            snprintf(paths[n++], sizeof paths[0], "%s/settings.json", dir);
        if (o->project) {
            snprintf(paths[n++], sizeof paths[0], "%s/.claude/settings.json", o->project);
            snprintf(paths[n++], sizeof paths[0], "%s/.claude/settings.local.json", o->project);
        }
    }
    char *ver = client_version(o->client ? o->client : "claude");
    int fc = ver && ag_hook_version_at_least(ver, AG_HOOK_CLAUDE_FAIL_CLOSED_VERSION) == 1;
    if (ver)
        say(rep, "ok", "claude-code: %s", ver);
    else
        say(rep, "WARN",
            "claude-code: `%s --version` does not run; the fail-closed setting "
            "is checked as for a current version",
            o->client ? o->client : "claude");
    /* paths[0] is the managed file unless --file named one: a hook there is one the
     * other files cannot switch off, and its allowManagedHooksOnly silences theirs. */
    int found = 0, managed_hook = 0, managed_only = 0;
    for (int i = 0; i < n; i++) {
        char *text = NULL, *cmd = NULL;
        size_t len = 0;
        int managed = i == 0 && !o->file;
        if (ag__read_file(paths[i], MAX_SETTINGS, &text, &len) != AG_OK) {
            ag_clear_error();
            continue;
        }
        if (managed) {
            json_t *m = json_loadb(text, len, 0, NULL);
            managed_only = json_is_true(json_object_get(m, "allowManagedHooksOnly"));
            json_decref(m);
        }
        char *f = NULL;
        int fails = ag_hook_doctor_settings(text, len, 1, ver ? fc : 1, &cmd, &f);
        if (cmd && !managed && managed_only) {
            say(rep, "FAIL",
                "claude-code: %s has the hook, but the managed settings allow "
                "managed hooks only: it never runs",
                paths[i]);
            free(cmd);
            cmd = NULL;
        } else if (cmd) {
            managed_hook |= managed;
            found = 1;
            say(rep, "ok", "claude-code: %s has the PreToolUse hook", paths[i]);
            check_program(rep, "claude-code", cmd);
            if (i > 0 || o->file)
                check_writable(rep, "claude-code", paths[i]);
        }
        /* A file without our hook matters only for what it switches off. */
        for (char *line = f; fails && line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            if (cmd || (strstr(line, "disableAllHooks") && (managed || !managed_hook)) ||
                strstr(line, "parse"))
                say(rep, "FAIL", "claude-code: %s: %s", paths[i], line + 5);
            line = nl ? nl + 1 : NULL;
        }
        free(f);
        free(cmd);
        free(text);
    }
    if (!found)
        say(rep, "FAIL",
            "claude-code: no settings file runs `agentgov hook claude-code` for every "
            "tool (run `agentgov hook install claude-code`)");
    free(ver);
}

static void doctor_codex(const struct opts *o, struct report *rep)
{
    char cwd[PATH_MAX], home[PATH_MAX], path[PATH_MAX + 64];
    const char *dir = o->project ? o->project : getcwd(cwd, sizeof cwd);
    const char *codex = o->client ? o->client : "codex";
    struct rpc r;
    json_t *hook = NULL, *errors = NULL;
    ag_err err = rpc_open(&r, codex, dir);
    if (err == AG_OK)
        err = codex_find_hook(&r, dir ? dir : "/", NULL, &hook, &errors);
    rpc_stop(&r);
    if (err != AG_OK) {
        say(rep, "FAIL", "codex: cannot ask `%s app-server` for its hooks: %s", codex,
            ag_last_error());
        ag_clear_error();
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        say(rep, "FAIL", "codex: %s", json_string_value(json_object_get(e, "message")));
    }
    json_decref(errors);
    if (hook == NULL) {
        say(rep, "FAIL",
            "codex: no PreToolUse hook runs `agentgov hook codex` (run `agentgov "
            "hook install codex`)");
    } else {
        const char *status = json_string_value(json_object_get(hook, "trustStatus"));
        const char *src = json_string_value(json_object_get(hook, "sourcePath"));
        const char *m = json_string_value(json_object_get(hook, "matcher"));
        say(rep, "ok", "codex: %s has the PreToolUse hook (%s)", src ? src : "?",
            status ? status : "?");
        if (!status || (strcmp(status, "trusted") != 0 && strcmp(status, "managed") != 0))
            say(rep, "FAIL",
                "codex: the hook is %s: Codex skips it without a word (run "
                "`agentgov hook install codex`)",
                status ? status : "of unknown trust");
        if (!json_is_true(json_object_get(hook, "enabled")))
            say(rep, "FAIL", "codex: the hook is disabled");
        if (m && m[0] && strcmp(m, "*") != 0 && strcmp(m, ".*") != 0)
            say(rep, "FAIL", "codex: the hook's matcher '%s' lets other tools through", m);
        check_program(rep, "codex", json_string_value(json_object_get(hook, "command")));
        if (src && !json_is_true(json_object_get(hook, "isManaged")))
            check_writable(rep, "codex", src);
    }
    json_decref(hook);
    /* Codex's own account of its features: the config as it reads it. */
    char name[PATH_MAX];
    snprintf(name, sizeof name, "%s", codex);
    char *argv[] = {name, "features", "list", NULL};
    char *out = NULL;
    int rc = run_capture(argv, &out, 1 << 20);
    const char *line = out ? strstr(out, "\nunified_exec_tty ") : NULL;
    if (rc != 0 || line == NULL)
        say(rep, "FAIL", "codex: `%s features list` does not say whether unified_exec_tty is on",
            codex);
    else {
        const char *eol = strchrnul(line + 1, '\n');
        int on = eol - line >= 5 && memcmp(eol - 4, "true", 4) == 0;
        if (on)
            say(rep, "FAIL",
                "codex: unified_exec_tty is on: commands typed into an interactive "
                "terminal (write_stdin) reach no hook");
        else
            say(rep, "ok", "codex: unified_exec_tty is off");
    }
    free(out);
    if (codex_home(home, sizeof home)) {
        snprintf(path, sizeof path, "%s/config.toml", home);
        if (access(path, F_OK) == 0)
            check_writable(rep, "codex", path);
    }
}

int ag__cmd_hook_doctor(int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, &o, 1);
    if (rc)
        return rc < 0 ? AG_EXIT_OK : rc;
    struct report rep = {0, 0};
    if (o.both || !o.codex)
        doctor_claude(&o, &rep);
    if (o.both || o.codex)
        doctor_codex(&o, &rep);
    printf("%d problem%s, %d warning%s\n", rep.fails, rep.fails == 1 ? "" : "s", rep.warns,
           rep.warns == 1 ? "" : "s");
    return rep.fails ? AG_EXIT_DENY : AG_EXIT_OK;
}
