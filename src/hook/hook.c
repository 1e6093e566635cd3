/* Hook adapters: coding-agent tool-use events to governed requests and back. */
#include "hook/hook.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "hook/hook_search.h"
#include "hook/shell_glob.h"
#include "hook/shell_judge.h"

const char *ag__hook_dialect_name(enum ag__hook_dialect d)
{
    return d == AG_HOOK_CODEX ? "codex" : "claude-code";
}

/* ---- paths ---------------------------------------------------------------------- */

/* Lexical normalisation of an absolute path in place: no "//", ".", "..". */
static void normalise(char *path)
{
    char *out = path; /* write position; path[0] is '/' */
    const char *in = path;
    while (*in) {
        while (*in == '/')
            in++;
        const char *end = strchrnul(in, '/');
        size_t n = (size_t)(end - in);
        if (n == 0 || (n == 1 && in[0] == '.')) {
            /* skip */
        } else if (n == 2 && in[0] == '.' && in[1] == '.') {
            while (out > path && *--out != '/')
                ;
        } else {
            *out++ = '/';
            memmove(out, in, n);
            out += n;
        }
        in = end;
    }
    if (out == path)
        *out++ = '/';
    *out = '\0';
}

/* Where a dangling symbolic link at head points (its target does not exist yet, but
 * a write through the link would create it): the target, taken against the link's
 * canonical directory, followed by rest. Returns 0 and fills next, or -1 when head
 * is not a symbolic link. */
static int follow_dangling(const char *head, const char *rest, char next[PATH_MAX])
{
    char target[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
    ssize_t n = readlink(head, target, sizeof target - 1);
    if (n <= 0)
        return -1;
    target[n] = '\0';
    snprintf(dir, sizeof dir, "%s", head);
    *strrchr(dir, '/') = '\0';
    if (target[0] != '/' && !realpath(dir[0] ? dir : "/", real))
        return -1;
    int len = target[0] == '/' ? snprintf(next, PATH_MAX, "%s%s", target, rest)
                               : snprintf(next, PATH_MAX, "%s/%s%s", real, target, rest);
    if (len < 0 || len >= PATH_MAX)
        return -1;
    normalise(next);
    return 0;
}

/* Resolves symbolic links in the longest existing prefix of a normalised absolute
 * path and appends the rest unchanged. Dangling links are followed as well, so a link
 * inside the project cannot point a write at a file outside it that does not exist
 * yet. */
static ag_err resolve_links(const char *path, char out[PATH_MAX])
{
    char cur[PATH_MAX], head[PATH_MAX], real[PATH_MAX];
    snprintf(cur, sizeof cur, "%s", path);
    for (int hops = 0; hops < 40; hops++) {
        snprintf(head, sizeof head, "%s", cur);
        size_t cut = strlen(head);
        for (;;) {
            if (realpath(head, real)) {
                int n = snprintf(out, PATH_MAX, "%s%s", real, cur + cut);
                if (n < 0 || n >= PATH_MAX)
                    return ag__fail(AG_EINVAL, "path too long: %s", path);
                normalise(out);
                return AG_OK;
            }
            if (follow_dangling(head, cur + cut, out) == 0) {
                snprintf(cur, sizeof cur, "%s", out);
                break;
            }
            char *slash = strrchr(head, '/');
            if (slash == NULL || slash == head) { /* nothing below / exists */
                snprintf(out, PATH_MAX, "%s", cur);
                return AG_OK;
            }
            *slash = '\0';
            cut = (size_t)(slash - head);
        }
    }
    return ag__fail(AG_EINVAL, "too many symbolic links in %s", path);
}

/* The home directory of uid in /etc/passwd, read as a file: not getpwuid, since
 * build/agentgov links glibc statically and an NSS module loaded into it (systemd's,
 * for a uid the file lacks) can crash the hook, and a crashed hook lets the call run.
 * 1 with the directory in out, 0 when the file has no absolute one for uid. */
static int passwd_home(uid_t uid, char out[PATH_MAX])
{
    FILE *f = fopen("/etc/passwd", "re");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        /* name:password:uid:gid:gecos:dir:shell */
        char *field[7] = {line}, *p = line;
        int n = 1;
        while (n < 7 && (p = strchr(p, ':'))) {
            *p++ = '\0';
            field[n++] = p;
        }
        char *end;
        if (n < 7 || strtoul(field[2], &end, 10) != uid || *end || field[2] == end)
            continue;
        found = field[5][0] == '/' && strlen(field[5]) < PATH_MAX;
        if (found)
            snprintf(out, PATH_MAX, "%s", field[5]);
    }
    fclose(f);
    return found;
}

const char *ag__hook_home(uid_t uid, char buf[PATH_MAX])
{
    const char *h = getenv("HOME");
    char pw[PATH_MAX];
    if (h == NULL || h[0] != '/')
        h = passwd_home(uid, pw) ? pw : NULL;
    if (h == NULL)
        return NULL;
    if (!realpath(h, buf))
        snprintf(buf, PATH_MAX, "%s", h);
    return buf;
}

ag_err ag__hook_path_resource(const char *cwd, const char *home, const char *path, char **out)
{
    char abs[PATH_MAX], real[PATH_MAX];
    int n;
    if (path == NULL || path[0] == '\0')
        return ag__fail(AG_EINVAL, "empty path");
    int tilde = path[0] == '~' && (path[1] == '/' || path[1] == '\0');
    if (tilde && (home == NULL || home[0] != '/')) /* not the project's "~" directory */
        return ag__fail(AG_EINVAL, "path '%.64s' starts with ~ and there is no home directory",
                        path);
    if (path[0] == '/')
        n = snprintf(abs, sizeof abs, "%s", path);
    else if (tilde)
        n = snprintf(abs, sizeof abs, "%s/%s", home, path + 1);
    else if (cwd && cwd[0] == '/')
        n = snprintf(abs, sizeof abs, "%s/%s", cwd, path);
    else
        return ag__fail(AG_EINVAL, "relative path '%s' and no absolute cwd", path);
    if (n < 0 || (size_t)n >= sizeof abs)
        return ag__fail(AG_EINVAL, "path too long: %.64s...", path);
    normalise(abs);
    ag_err err = resolve_links(abs, real);
    if (err != AG_OK)
        return err;
    *out = strdup(real[1] ? real + 1 : real);
    return *out ? AG_OK : AG_ENOMEM;
}

/* ---- event fields --------------------------------------------------------------- */

static const char *opt_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A string field of tool_input; NULL if absent or empty. */
static const char *input_str(json_t *in, const char *key)
{
    const char *s = opt_str(in, key);
    return s && s[0] ? s : NULL;
}

static ag_err add_req(struct ag__hook_event *ev, const char *action, char *resource)
{
    if (resource == NULL)
        return AG_ENOMEM;
    if (ev->nreq == AG__HOOK_MAX_REQ) {
        free(resource);
        return ag__fail(AG_EINVAL, "tool_input touches more than %d resources", AG__HOOK_MAX_REQ);
    }
    ev->req[ev->nreq].action = strdup(action);
    ev->req[ev->nreq].resource = resource;
    ev->nreq++;
    return ev->req[ev->nreq - 1].action ? AG_OK : AG_ENOMEM;
}

static ag_err add_path(struct ag__hook_event *ev, const char *action, const char *path)
{
    char *res;
    ag_err err = ag__hook_path_resource(ev->cwd, ev->home, path, &res);
    return err == AG_OK ? add_req(ev, action, res) : err;
}

/* A command given as a string, or as an argv array (Codex): each element single-quoted,
 * so that the line parses back to exactly that argv (["bash","-lc","rm -rf x"] runs
 * "rm -rf x" as one script, which joining with spaces would split). */
static char *command_text(json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v) ? strdup(json_string_value(v)) : NULL;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return NULL;
    struct ag_buf b;
    ag__buf_init(&b);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            ag__buf_free(&b);
            return NULL;
        }
        ag__buf_puts(&b, i ? " '" : "'");
        for (const char *c = json_string_value(item); *c; c++)
            ag__buf_puts(&b, *c == '\'' ? "'\\''" : (char[2]){*c, 0});
        ag__buf_putc(&b, '\'');
    }
    return ag__buf_take(&b);
}

/* A shell line: every check of the judge (shell_judge.h) becomes a request. It runs
 * in workdir when the tool names one (Codex's shell tools), else in the event's cwd. */
static ag_err map_shell(struct ag__hook_event *ev, const char *line, const char *workdir)
{
    char wd[PATH_MAX], *res = NULL;
    if (workdir) {
        ag_err err = ag__hook_path_resource(ev->cwd, ev->home, workdir, &res);
        if (err != AG_OK)
            return err;
        snprintf(wd, sizeof wd, "/%s", strcmp(res, "/") == 0 ? "" : res);
        free(res);
    }
    struct ag__shell_ctx ctx = {
        .cwd = workdir ? wd : ev->cwd, .home = ev->home, .path = ag__hook_path_resource};
    struct ag__shell_result *r = calloc(1, sizeof *r);
    if (r == NULL || ag__shell_judge(line, strlen(line), &ctx, r) != AG_OK) {
        free(r);
        return ag__fail(AG_ENOMEM, "hook: judging the shell command");
    }
    ev->shell = r;
    ev->shell_base = ev->nreq;
    for (size_t i = 0; i < r->n; i++) {
        ag_err err = add_req(ev, r->c[i].action, strdup(r->c[i].resource));
        if (err != AG_OK)
            return err;
        ev->req[ev->nreq - 1].text = r->c[i].text;
        const char *part = ag__shell_part(r, &r->c[i]);
        if (part[0] && (ev->req[ev->nreq - 1].part = strdup(part)) == NULL)
            return AG_ENOMEM;
    }
    return AG_OK;
}

/* ---- apply_patch ---------------------------------------------------------------- */

/* The Unicode White_Space character at s (UTF-8): its length, 0 if none. Codex trims
 * each patch line with Rust's str::trim, which strips all of them. */
static size_t space_len(const unsigned char *s, size_t n)
{
    if (n >= 1 && ((s[0] >= '\t' && s[0] <= '\r') || s[0] == ' '))
        return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0))
        return 2;
    if (n < 3)
        return 0;
    if ((s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) ||
        (s[0] == 0xE2 && s[1] == 0x80 &&
         ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF)) ||
        (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) ||
        (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80))
        return 3;
    return 0;
}

/* Narrows s[*a..*b) to its text without white space at either end. */
static void trim(const char *s, size_t *a, size_t *b)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t k, cut;
    while (*a < *b && (k = space_len(u + *a, *b - *a)) > 0)
        *a += k;
    do {
        cut = 0;
        for (size_t w = 1; w <= 3 && w <= *b - *a && !cut; w++)
            if (space_len(u + *b - w, w) == w)
                cut = w;
        *b -= cut;
    } while (cut);
}

static const char *const patch_marks[] = {
    "*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: "};

/* A trimmed line that any spelling makes a hunk header ("***Add File:", "*** add
 * file:"): one Codex may take, or a model meant. */
static int looks_like_header(const char *t, size_t n)
{
    static const char *const heads[] = {"add file", "update file", "delete file", "move to"};
    size_t i = 3;
    if (n < 3 || memcmp(t, "***", 3) != 0)
        return 0;
    while (i < n && (t[i] == ' ' || t[i] == '\t'))
        i++;
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++)
        if (n - i >= strlen(heads[h]) && strncasecmp(t + i, heads[h], strlen(heads[h])) == 0)
            return 1;
    return 0;
}

static ag_err patch_path(struct ag__hook_event *ev, const char *p, size_t n)
{
    char path[PATH_MAX];
    if (n >= sizeof path)
        return ag__fail(AG_EINVAL, "apply_patch: path too long");
    memcpy(path, p, n);
    path[n] = '\0';
    return add_path(ev, "file.write", path);
}

/* One line of a patch. A hunk header names a file written: its path as Codex takes it,
 * from the trimmed line, and also as written when the untrimmed line differs (Codex
 * takes a "Move to:" path from the raw line). A line that looks like a header but
 * names no file this can read is denied: Codex may still apply it somehow. */
static ag_err patch_line(struct ag__hook_event *ev, const char *line, size_t len)
{
    size_t a = 0, b = len, raw = len && line[len - 1] == '\r' ? len - 1 : len;
    trim(line, &a, &b);
    if (!looks_like_header(line + a, b - a))
        return AG_OK;
    for (size_t m = 0; m < sizeof patch_marks / sizeof patch_marks[0]; m++) {
        size_t ml = strlen(patch_marks[m]);
        if (b - a <= ml || memcmp(line + a, patch_marks[m], ml) != 0)
            continue;
        ag_err err = patch_path(ev, line + a + ml, b - a - ml);
        if (err == AG_OK && a == 0 && raw > b)
            err = patch_path(ev, line + ml, raw - ml);
        return err;
    }
    return ag__fail(AG_EINVAL,
                    "apply_patch: '%.*s' looks like a hunk header but names no file agentgov "
                    "can judge",
                    (int)(b - a > 80 ? 80 : b - a), line + a);
}

/* Files named by a Codex apply_patch body ("*** Add File: p", "*** Update File: p",
 * "*** Delete File: p", "*** Move to: p"), wherever such a line is: Codex's parser
 * decides which lines are headers, and a header counted too many only judges one more
 * file. */
static ag_err map_patch(struct ag__hook_event *ev, const char *patch)
{
    for (const char *line = patch; *line;) {
        const char *eol = strchrnul(line, '\n');
        ag_err err = patch_line(ev, line, (size_t)(eol - line));
        if (err != AG_OK)
            return err;
        line = *eol ? eol + 1 : eol;
    }
    return ev->nreq ? AG_OK : ag__fail(AG_EINVAL, "apply_patch: the patch names no file");
}

/* ---- searches ------------------------------------------------------------------- */

static ag_err join_path(struct ag__hook_event *ev, const char *action, const char *dir,
                        const char *rest)
{
    char path[PATH_MAX * 2];
    int n = snprintf(path, sizeof path, "%s/%s", dir, rest);
    if (n < 0 || (size_t)n >= sizeof path)
        return ag__fail(AG_EINVAL, "path too long: %.64s...", dir);
    return add_path(ev, action, path);
}

/* A search reads every file below dir (a resource, taken over): judged on everything
 * below it, literally "<dir>/" followed by two stars, which rules on a directory's
 * contents match; ag__hook_decide checks the rest of its reach (hook_search.h). */
static ag_err search_below(struct ag__hook_event *ev, const char *action, char *dir,
                           const char *glob)
{
    if (dir == NULL)
        return AG_ENOMEM;
    ev->search_dir = dir;
    ev->search_glob = glob && glob[0] ? glob : NULL;
    ev->search_all = ev->search_named = ev->nreq;
    struct ag_buf b;
    ag__buf_init(&b);
    if (strcmp(dir, "/") == 0)
        ag__buf_puts(&b, "**");
    else
        ag__buf_printf(&b, "%s/**", dir);
    return add_req(ev, action, ag__buf_take(&b));
}

/* Grep: the directory (or file) searched, all below it, and "<path>/<glob>". */
static ag_err map_grep(struct ag__hook_event *ev, const char *action, const char *path,
                       const char *glob)
{
    ag_err err = add_path(ev, action, path);
    if (err == AG_OK)
        err = search_below(ev, action, strdup(ev->req[ev->nreq - 1].resource), glob);
    if (err == AG_OK && glob) {
        ev->search_named = ev->nreq;
        err = join_path(ev, action, path, glob);
    }
    return err;
}

/* Glob: the pattern as a path (its request names it), and the search it is: from its
 * literal leading directories (links resolved) with the rest as its glob. A ".." after
 * a wildcard could climb anywhere: denied. */
static ag_err map_glob(struct ag__hook_event *ev, const char *action, const char *dir,
                       const char *pattern)
{
    const char *rest = pattern, *slash;
    char base[PATH_MAX * 2], *res = NULL;
    while ((slash = strchr(rest, '/')) != NULL && strcspn(rest, "*?[{\\") > (size_t)(slash - rest))
        rest = slash + 1;
    for (const char *q = rest; *q; q += *q == '/') {
        size_t len = strcspn(q, "/");
        if (len == 2 && q[0] == '.' && q[1] == '.')
            return ag__fail(AG_EINVAL, "Glob pattern '%.64s' climbs ('..') after a wildcard",
                            pattern);
        q += len;
    }
    int n = pattern[0] == '/'
                ? snprintf(base, sizeof base, "%.*s", (int)(rest - pattern), pattern)
                : snprintf(base, sizeof base, "%s/%.*s", dir, (int)(rest - pattern), pattern);
    if (n < 0 || (size_t)n >= sizeof base)
        return ag__fail(AG_EINVAL, "path too long: %.64s...", pattern);
    ag_err err =
        pattern[0] == '/' ? add_path(ev, action, pattern) : join_path(ev, action, dir, pattern);
    if (err == AG_OK)
        err = ag__hook_path_resource(ev->cwd, ev->home, base, &res);
    if (err == AG_OK)
        err = search_below(ev, action, res, rest);
    ev->search_named = 0; /* the pattern's own request names the glob */
    return err;
}

/* Copies n bytes of a name into an action segment: dots would add segments. */
static void segment(struct ag_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ag__buf_putc(b, s[i] == '.' ? '_' : s[i]);
}

/* mcp__SERVER__TOOL -> action mcp.SERVER.TOOL on resource SERVER/TOOL. */
static ag_err map_mcp(struct ag__hook_event *ev, const char *name)
{
    const char *server = name + 5;
    const char *sep = strstr(server, "__");
    if (sep == NULL || sep == server || sep[2] == '\0')
        return ag__fail(AG_EINVAL, "tool_name '%s' is not mcp__SERVER__TOOL", name);
    struct ag_buf action, resource;
    ag__buf_init(&action);
    ag__buf_init(&resource);
    ag__buf_puts(&action, "mcp.");
    segment(&action, server, (size_t)(sep - server));
    ag__buf_putc(&action, '.');
    segment(&action, sep + 2, strlen(sep + 2));
    ag__buf_printf(&resource, "%.*s/%s", (int)(sep - server), server, sep + 2);
    char *a = ag__buf_take(&action);
    ag_err err = a ? add_req(ev, a, ag__buf_take(&resource)) : AG_ENOMEM;
    free(a);
    ag__buf_free(&resource);
    return err;
}

enum map_kind { M_TEXT, M_PATH, M_DIR, M_GREP, M_GLOB, M_AGENT, M_COMMAND, M_PATCH };

struct tool_map {
    const char *tool;
    const char *action;
    enum map_kind kind;
    const char *field; /* the tool_input field that names the resource */
};

/* Tool names of both agents; docs/hooks.md has the same table. */
static const struct tool_map tools[] = {
    {"Bash", "shell.exec", M_COMMAND, "command"},
    {"Read", "file.read", M_PATH, "file_path"},
    {"NotebookRead", "file.read", M_PATH, "notebook_path"},
    {"LS", "file.read", M_DIR, "path"},
    {"Grep", "file.read", M_GREP, "path"},
    {"Glob", "file.read", M_GLOB, "pattern"},
    {"Write", "file.write", M_PATH, "file_path"},
    {"Edit", "file.write", M_PATH, "file_path"},
    {"MultiEdit", "file.write", M_PATH, "file_path"},
    {"NotebookEdit", "file.write", M_PATH, "notebook_path"},
    {"WebFetch", "net.http", M_TEXT, "url"},
    {"WebSearch", "net.search", M_TEXT, "query"},
    {"Task", "agent.spawn", M_AGENT, "subagent_type"},
    {"Agent", "agent.spawn", M_AGENT, "subagent_type"},
    /* Codex CLI */
    {"shell", "shell.exec", M_COMMAND, "command"},
    {"exec_command", "shell.exec", M_COMMAND, "cmd"},
    {"local_shell", "shell.exec", M_COMMAND, "command"},
    {"apply_patch", "file.write", M_PATCH, "command"},
};

static ag_err map_known(struct ag__hook_event *ev, const struct tool_map *m, json_t *in)
{
    const char *s = input_str(in, m->field);
    switch (m->kind) {
    case M_COMMAND: {
        char *cmd = command_text(json_object_get(in, m->field));
        if (!cmd && strcmp(m->field, "cmd") == 0) /* exec_command also says "command" */
            cmd = command_text(json_object_get(in, "command"));
        if (!cmd)
            return ag__fail(AG_EINVAL, "tool_input.%s: missing command for %s", m->field, m->tool);
        ag_err err = map_shell(ev, cmd, input_str(in, "workdir"));
        free(cmd);
        return err;
    }
    case M_PATCH:
        s = s ? s : input_str(in, "patch");
        s = s ? s : input_str(in, "input");
        if (!s)
            return ag__fail(AG_EINVAL, "tool_input.command: missing patch for apply_patch");
        return map_patch(ev, s);
    case M_TEXT:
    case M_PATH:
        if (!s)
            return ag__fail(AG_EINVAL, "tool_input.%s: missing for %s", m->field, m->tool);
        return m->kind == M_TEXT ? add_req(ev, m->action, strdup(s)) : add_path(ev, m->action, s);
    case M_DIR:
        return add_path(ev, m->action, s ? s : ev->cwd);
    case M_GREP: {
        const char *glob = input_str(in, "glob");
        return map_grep(ev, m->action, s ? s : ev->cwd, glob ? glob : input_str(in, "include"));
    }
    case M_GLOB: {
        const char *dir = input_str(in, "path");
        if (!s)
            return ag__fail(AG_EINVAL, "tool_input.pattern: missing for Glob");
        return map_glob(ev, m->action, dir ? dir : ev->cwd, s);
    }
    case M_AGENT:
        return add_req(ev, m->action, strdup(s ? s : "general-purpose"));
    }
    return AG_EINTERNAL;
}

/* Fills ev->req from tool_name and tool_input. */
static ag_err map_tool(struct ag__hook_event *ev, json_t *in)
{
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        if (strcmp(ev->tool_name, tools[i].tool) == 0) {
            ev->mapped = 1;
            return map_known(ev, &tools[i], in);
        }
    if (strncmp(ev->tool_name, "mcp__", 5) == 0) {
        ev->mapped = 1;
        return map_mcp(ev, ev->tool_name);
    }
    /* Unknown tool: tool.<name>, which only an explicit rule can allow. */
    char action[256];
    int n = snprintf(action, sizeof action, "tool.%s", ev->tool_name);
    if (n < 0 || (size_t)n >= sizeof action || strchr(ev->tool_name, '.'))
        return ag__fail(AG_EINVAL, "tool_name '%.64s' is not a usable name", ev->tool_name);
    return add_req(ev, action, strdup(ev->tool_name));
}

static ag_err parse_fields(struct ag__hook_event *ev, json_t *root)
{
    ev->hook_event_name = opt_str(root, "hook_event_name");
    if (!ev->hook_event_name)
        return ag__fail(AG_EINVAL, "event has no hook_event_name");
    if (strcmp(ev->hook_event_name, "PreToolUse") == 0)
        ev->kind = AG_HOOK_PRE_TOOL_USE;
    else if (strcmp(ev->hook_event_name, "PermissionRequest") == 0)
        ev->kind = AG_HOOK_PERMISSION_REQUEST;
    else
        return ag__fail(AG_EINVAL,
                        "unsupported hook event '%s' (agentgov answers PreToolUse and "
                        "PermissionRequest)",
                        ev->hook_event_name);
    ev->tool_name = opt_str(root, "tool_name");
    if (!ev->tool_name || !ev->tool_name[0])
        return ag__fail(AG_EINVAL, "event has no tool_name");
    if (!json_is_object(json_object_get(root, "tool_input")))
        return ag__fail(AG_EINVAL, "tool_input is missing or not an object");
    ev->session_id = opt_str(root, "session_id");
    if (!ev->session_id)
        ev->session_id = "";
    ev->transcript_path = opt_str(root, "transcript_path");
    ev->permission_mode = opt_str(root, "permission_mode");
    ev->tool_use_id = opt_str(root, "tool_use_id");
    ev->agent_id = input_str(root, "agent_id");
    ev->agent_type = input_str(root, "agent_type");
    return AG_OK;
}

/* The project directory: the event's cwd (Codex may say working_directory), else the
 * hook's own working directory, canonicalised. */
static ag_err parse_cwd(struct ag__hook_event *ev, json_t *root)
{
    const char *cwd = opt_str(root, "cwd");
    char here[PATH_MAX], real[PATH_MAX];
    if (!cwd)
        cwd = opt_str(root, "working_directory");
    if (!cwd) {
        if (!getcwd(here, sizeof here))
            return ag__fail(AG_EINVAL, "event has no cwd and getcwd failed: %s", strerror(errno));
        cwd = here;
    }
    if (cwd[0] != '/')
        return ag__fail(AG_EINVAL, "cwd '%s' is not an absolute path", cwd);
    snprintf(here, sizeof here, "%s", cwd);
    normalise(here);
    ag_err err = resolve_links(here, real);
    if (err != AG_OK)
        return err;
    ev->cwd = ev->cwd_buf = strdup(real);
    return ev->cwd_buf ? AG_OK : AG_ENOMEM;
}

ag_err ag__hook_parse(enum ag__hook_dialect d, const char *text, size_t len,
                      struct ag__hook_event *ev)
{
    char home[PATH_MAX];
    return ag__hook_parse_home(d, text, len, ag__hook_home(getuid(), home), ev);
}

ag_err ag__hook_parse_home(enum ag__hook_dialect d, const char *text, size_t len, const char *home,
                           struct ag__hook_event *ev)
{
    json_error_t je;
    memset(ev, 0, sizeof *ev);
    ev->dialect = d;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return ag__fail(AG_EPARSE, "event JSON: line %d, column %d: %s", je.line, je.column,
                        je.text);
    ev->doc = root;
    ag_err err = json_is_object(root) ? AG_OK : ag__fail(AG_EPARSE, "event is not a JSON object");
    if (err == AG_OK && home && (ev->home = strdup(home)) == NULL)
        err = AG_ENOMEM;
    if (err == AG_OK)
        err = parse_fields(ev, root);
    if (err == AG_OK)
        err = parse_cwd(ev, root);
    if (err == AG_OK)
        err = map_tool(ev, json_object_get(root, "tool_input"));
    if (err != AG_OK)
        ag__hook_event_free(ev);
    return err;
}

void ag__hook_event_free(struct ag__hook_event *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->nreq; i++) {
        free(ev->req[i].action);
        free(ev->req[i].resource);
        free(ev->req[i].part);
    }
    ag__shell_result_free(ev->shell);
    free(ev->shell);
    json_decref((json_t *)ev->doc);
    free(ev->cwd_buf);
    free(ev->search_dir);
    free(ev->home);
    memset(ev, 0, sizeof *ev);
}

const char *ag__hook_agent(const struct ag__hook_event *ev)
{
    if (ev->agent_id)
        return ev->agent_id;
    if (ev->session_id && ev->session_id[0])
        return ev->session_id;
    return ag__hook_dialect_name(ev->dialect);
}

/* ---- decision ------------------------------------------------------------------- */

static int rank(enum ag_effect e)
{
    return e == AG_EFFECT_DENY ? 2 : e == AG_EFFECT_ASK ? 1 : 0;
}

static const char *base_name(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    return slash ? slash + 1 : path;
}

/* The sentence shown to the agent (for deny) or to the user (for ask). reach: a rule
 * that names files a search could read decided. */
static void compose(const struct ag__hook_event *ev, int tier, int reach,
                    struct ag__hook_verdict *v)
{
    const struct ag__hook_req *r = &ev->req[v->which];
    const struct ag_decision *d = &v->decision;
    char rule[300] = "";
    if (d->rule_file)
        snprintf(rule, sizeof rule, " by %s:%d", base_name(d->rule_file), d->rule_line);
    const char *what = v->effect == AG_EFFECT_ALLOW ? "allowed"
                       : v->effect == AG_EFFECT_ASK ? "needs approval"
                                                    : "denied";
    if (!ev->mapped && d->reason == AG_REASON_DEFAULT_DENY)
        snprintf(v->message, sizeof v->message,
                 "agentgov: unknown tool '%s' denied: the policy must allow action %s to "
                 "let it run (default_deny, tier %d)",
                 ev->tool_name, r->action, tier);
    else if (d->reason == AG_REASON_DEFAULT_DENY)
        snprintf(v->message, sizeof v->message,
                 "agentgov: denied: no rule allows %s on %.300s at tier %d (default_deny)",
                 r->action, r->resource, tier);
    else
        snprintf(v->message, sizeof v->message, "agentgov: %s%s: %s on %.300s (%s, tier %d)%s",
                 what, rule, r->action, r->resource, ag_reason_name(d->reason), tier,
                 reach == 2   ? ": the pattern could name files that rule names"
                 : reach == 1 ? ": the search could read files that rule names"
                              : "");
    size_t n = strlen(v->message);
    if (r->part) /* which command of the shell line decided */
        snprintf(v->message + n, sizeof v->message - n, ", in: %.200s", r->part);
}

/* A search's reach beyond its requests (hook_search.h): 1 when it decides. */
static int search_reach(const ag_policy *p, int tier, const struct ag__hook_event *ev, int *best,
                        struct ag__hook_verdict *v)
{
    struct ag__search_hit h;
    if (p == NULL || ev->search_dir == NULL ||
        !ag__hook_search_hit(p, tier, ev->req[ev->search_all].action, ev->search_dir,
                             ev->search_glob, &h) ||
        rank(h.decision.effect) <= *best)
        return 0;
    *best = rank(h.decision.effect);
    v->effect = h.decision.effect;
    v->decision = h.decision;
    v->which = h.by_glob ? ev->search_named : ev->search_all;
    return 1;
}

/* A shell line's searches and glob patterns beyond its requests: the strictest deny or
 * ask rule they reach, when it beats best. Sets reach to 1 (search) or 2 (pattern). */
static int shell_reach(const ag_policy *p, int tier, const struct ag__hook_event *ev, int *best,
                       struct ag__hook_verdict *v)
{
    const struct ag__shell_result *r = ev->shell;
    int hit = 0;
    for (size_t i = 0; p && r && i < r->n && *best < 2; i++) {
        const struct ag__shell_check *c = &r->c[i];
        struct ag_decision d;
        struct ag__search_hit h;
        if (c->kind == AG__SHELL_SEARCH &&
            ag__hook_search_hit(p, tier, c->action, c->dir, c->glob, &h))
            d = h.decision;
        else if (c->kind != AG__SHELL_PATTERN ||
                 !ag__shell_pattern_hit(p, tier, c->action, c->resource, &d))
            continue;
        if (rank(d.effect) <= *best)
            continue;
        *best = rank(d.effect);
        v->effect = d.effect;
        v->decision = d;
        v->which = ev->shell_base + i;
        hit = c->kind == AG__SHELL_SEARCH ? 1 : 2;
    }
    return hit;
}

/* Codex takes permissionDecision "ask" on PreToolUse as unsupported and runs the tool
 * (its PermissionRequest has no ask either, but there no decision shows its prompt):
 * a PreToolUse ask is a deny that says who must decide. */
static void codex_ask(const struct ag__hook_event *ev, struct ag__hook_verdict *v)
{
    if (ev->dialect != AG_HOOK_CODEX || ev->kind != AG_HOOK_PRE_TOOL_USE ||
        v->effect != AG_EFFECT_ASK)
        return;
    v->effect = AG_EFFECT_DENY;
    size_t n = strlen(v->message);
    snprintf(v->message + n, sizeof v->message - n,
             "; denied because Codex hooks cannot ask: a person must approve this call (run "
             "it yourself, or allow it in the policy)");
}

void ag__hook_decide(const ag_policy *p, int tier, const struct ag__hook_event *ev,
                     struct ag__hook_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->effect = AG_EFFECT_DENY;
    v->decision.effect = AG_EFFECT_DENY;
    v->decision.reason = AG_REASON_INVALID_REQUEST;
    int best = -1;
    for (size_t i = 0; i < ev->nreq; i++) {
        struct ag_request req = {.tier = tier,
                                 .phase = AG_PHASE_NONE,
                                 .action = ev->req[i].action,
                                 .resource = ev->req[i].resource,
                                 .text_resource = ev->req[i].text};
        struct ag_decision d;
        enum ag_effect e = ag_decide(p, &req, &d);
        if (rank(e) > best) {
            best = rank(e);
            v->effect = e;
            v->decision = d;
            v->which = i;
        }
    }
    if (ev->nreq == 0) {
        snprintf(v->message, sizeof v->message, "agentgov: denied: the event maps to no request");
        return;
    }
    int reach = search_reach(p, tier, ev, &best, v);
    int shell = shell_reach(p, tier, ev, &best, v);
    if (shell)
        reach = shell;
    compose(ev, tier, reach, v);
    codex_ask(ev, v);
}

/* ---- answers -------------------------------------------------------------------- */

static json_t *pre_tool_use_answer(const struct ag__hook_verdict *v)
{
    return json_pack("{s:{s:s, s:s, s:s}}", "hookSpecificOutput", "hookEventName", "PreToolUse",
                     "permissionDecision", ag_effect_name(v->effect), "permissionDecisionReason",
                     v->message);
}

/* PermissionRequest has no "ask": without a decision the agent shows its prompt. */
static json_t *permission_answer(const struct ag__hook_event *ev, const struct ag__hook_verdict *v)
{
    if (v->effect == AG_EFFECT_ALLOW)
        return json_pack("{s:{s:s, s:{s:s}}}", "hookSpecificOutput", "hookEventName",
                         "PermissionRequest", "decision", "behavior", "allow");
    if (v->effect == AG_EFFECT_DENY)
        return json_pack("{s:{s:s, s:{s:s, s:s}}}", "hookSpecificOutput", "hookEventName",
                         "PermissionRequest", "decision", "behavior", "deny", "message",
                         v->message);
    if (ev->dialect == AG_HOOK_CLAUDE_CODE)
        return json_pack("{s:s}", "systemMessage", v->message);
    return json_object();
}

ag_err ag__hook_response(const struct ag__hook_event *ev, const struct ag__hook_verdict *v,
                         char **out)
{
    json_t *o =
        ev->kind == AG_HOOK_PRE_TOOL_USE ? pre_tool_use_answer(v) : permission_answer(ev, v);
    *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *out ? AG_OK : ag__fail(AG_ENOMEM, "hook: rendering the answer");
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

ag_err ag__hook_ledger_data(const struct ag__hook_event *ev, const struct ag__hook_verdict *v,
                            char **out)
{
    char rule[PATH_MAX + 16];
    snprintf(rule, sizeof rule, "%s:%d", v->decision.rule_file ? v->decision.rule_file : "",
             v->decision.rule_line);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:s}", "dialect",
                  ag__hook_dialect_name(ev->dialect), "hook_event_name", ev->hook_event_name,
                  "tool_name", ev->tool_name, "tool_use_id", str_or_null(ev->tool_use_id),
                  "session_id", str_or_null(ev->session_id[0] ? ev->session_id : NULL),
                  "subagent_id", str_or_null(ev->agent_id), "agent_type",
                  str_or_null(ev->agent_type), "permission_mode", str_or_null(ev->permission_mode),
                  "cwd", ev->cwd, "rule", v->decision.rule_file ? json_string(rule) : json_null(),
                  "mapped", json_boolean(ev->mapped), "message", v->message);
    if (o && (ev->nreq > 1 || ev->shell)) {
        json_t *all = json_array();
        for (size_t i = 0; all && i < ev->nreq; i++) {
            json_t *one = json_pack("{s:s, s:s}", "action", ev->req[i].action, "resource",
                                    ev->req[i].resource);
            if (one && ev->req[i].part) /* the simple command of a shell line */
                json_object_set_new(one, "part", json_string(ev->req[i].part));
            json_array_append_new(all, one);
        }
        json_object_set_new(o, "requests", all);
    }
    *out = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return *out ? AG_OK : ag__fail(AG_ENOMEM, "hook: rendering the ledger data");
}

/* ---- policy variables ----------------------------------------------------------- */

static ag_err var_value(const char *name, const char *path, char *buf, size_t len)
{
    if (path == NULL || path[0] != '/')
        return ag__fail(AG_EINVAL, "policy uses ${%s} but it is not an absolute path", name);
    if (strpbrk(path, "*?[]\\'\"\n"))
        return ag__fail(AG_EINVAL,
                        "policy uses ${%s} but '%s' holds a glob or quoting character, which "
                        "would change the meaning of the rules",
                        name, path);
    snprintf(buf, len, "%s", path[1] ? path + 1 : "");
    return AG_OK;
}

ag_err ag__hook_expand(const char *text, size_t len, const char *project, const char *home,
                       char **out, size_t *outlen)
{
    static const char *const names[] = {"PROJECT", "HOME"};
    const char *paths[] = {project, home};
    struct ag_buf b;
    ag__buf_init(&b);
    size_t i = 0;
    while (i < len) {
        const char *hit = memmem(text + i, len - i, "${", 2);
        size_t upto = hit ? (size_t)(hit - text) : len;
        ag__buf_append(&b, text + i, upto - i);
        if (!hit)
            break;
        i = upto;
        int matched = 0;
        for (int v = 0; v < 2 && !matched; v++) {
            size_t n = strlen(names[v]);
            if (len - i >= n + 3 && memcmp(text + i + 2, names[v], n) == 0 &&
                text[i + 2 + n] == '}' && (v == 0 || home)) {
                char val[PATH_MAX];
                ag_err err = var_value(names[v], paths[v], val, sizeof val);
                if (err != AG_OK) {
                    ag__buf_free(&b);
                    return err;
                }
                ag__buf_puts(&b, val);
                i += n + 3;
                matched = 1;
            }
        }
        if (!matched) {
            ag__buf_append(&b, "${", 2);
            i += 2;
        }
    }
    if (ag__buf_status(&b) != AG_OK) {
        ag__buf_free(&b);
        return AG_ENOMEM;
    }
    *outlen = b.len;
    *out = ag__buf_take(&b);
    return AG_OK;
}
