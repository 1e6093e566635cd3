/* Coding-agent settings that make the agentgov hook effective: merges into the agent's
 * own files, keeping every other setting, and the checks `hook doctor` runs on them. */
#include "agentgov/hook.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"

/* ---- versions ------------------------------------------------------------------------ */

/* The first dotted number in text ("2.1.332") as up to three parts; 0 when none. */
static int parse_version(const char *text, long v[3])
{
    for (const char *p = text; p && *p; p++) {
        if (*p < '0' || *p > '9')
            continue;
        char *end;
        int n = 0;
        const char *q = p;
        v[0] = v[1] = v[2] = 0;
        while (n < 3) {
            v[n++] = strtol(q, &end, 10);
            if (*end != '.' || end[1] < '0' || end[1] > '9')
                break;
            q = end + 1;
        }
        if (n >= 2)
            return 1;
        p = end - 1;
    }
    return 0;
}

int ag_hook_version_at_least(const char *text, const char *min)
{
    long have[3], want[3];
    if (!parse_version(text, have) || !parse_version(min, want))
        return -1;
    for (int i = 0; i < 3; i++)
        if (have[i] != want[i])
            return have[i] > want[i];
    return 1;
}

/* ---- shell words --------------------------------------------------------------------- */

char *ag_hook_shell_quote(const char *word)
{
    if (word[0] && strspn(word, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "/._-+:=@%,") == strlen(word))
        return strdup(word);
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_putc(&b, '\'');
    for (const char *p = word; *p; p++) {
        if (*p == '\'')
            ag__buf_puts(&b, "'\\''");
        else
            ag__buf_putc(&b, *p);
    }
    ag__buf_putc(&b, '\'');
    return ag__buf_take(&b);
}

char *ag_hook_command_program(const char *cmd)
{
    struct ag_buf b;
    ag__buf_init(&b);
    const char *p = cmd + strspn(cmd, " \t");
    char quote = 0;
    for (; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
            else
                ag__buf_putc(&b, *p);
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == ' ' || *p == '\t') {
            break;
        } else if (*p == '\\' && p[1]) {
            ag__buf_putc(&b, *++p);
        } else {
            ag__buf_putc(&b, *p);
        }
    }
    if (b.len == 0) {
        ag__buf_free(&b);
        return NULL;
    }
    return ag__buf_take(&b);
}

/* ---- JSON settings ------------------------------------------------------------------- */

static ag_err load_object(const char *text, size_t len, json_t **out)
{
    size_t skip = 0;
    while (skip < len && strchr(" \t\r\n", text[skip]))
        skip++;
    if (skip == len) {
        *out = json_object();
        return *out ? AG_OK : AG_ENOMEM;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return ag__fail(AG_EPARSE, "line %d, column %d: %s", je.line, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return ag__fail(AG_EPARSE, "the settings are not a JSON object");
    }
    *out = root;
    return AG_OK;
}

/* A matcher that selects every tool: absent, empty, "*" or ".*". */
static int matches_all(json_t *group)
{
    json_t *m = json_object_get(group, "matcher");
    if (m == NULL || json_is_null(m))
        return 1;
    if (!json_is_string(m))
        return 0;
    const char *s = json_string_value(m);
    return !s[0] || strcmp(s, "*") == 0 || strcmp(s, ".*") == 0;
}

/* A handler that runs agentgov's hook: its command runs a program named agentgov with
 * "hook" among its words. */
static int is_agentgov(json_t *h, const char *cmd)
{
    json_t *c = json_object_get(h, "command");
    if (!json_is_string(c))
        return 0;
    const char *s = json_string_value(c);
    if (cmd && strcmp(s, cmd) == 0)
        return 1;
    char *prog = ag_hook_command_program(s);
    const char *base = prog ? strrchr(prog, '/') : NULL;
    base = base ? base + 1 : prog;
    int yes = base && strcmp(base, "agentgov") == 0 && strstr(s, " hook ") != NULL;
    free(prog);
    return yes;
}

static ag_err event_groups(json_t *root, const char *event, json_t **groups)
{
    json_t *hooks = json_object_get(root, "hooks");
    if (hooks == NULL) {
        hooks = json_object();
        if (!hooks || json_object_set_new(root, "hooks", hooks) != 0)
            return AG_ENOMEM;
    }
    if (!json_is_object(hooks))
        return ag__fail(AG_EINVAL, "\"hooks\" is not an object");
    json_t *g = json_object_get(hooks, event);
    if (g == NULL) {
        g = json_array();
        if (!g || json_object_set_new(hooks, event, g) != 0)
            return AG_ENOMEM;
    }
    if (!json_is_array(g))
        return ag__fail(AG_EINVAL, "\"hooks.%s\" is not an array", event);
    *groups = g;
    return AG_OK;
}

/* Sets the handler's fields to ours; 1 when something changed. */
static int set_handler(json_t *h, const char *cmd, int fail_closed)
{
    int changed = 0;
    json_t *t = json_object_get(h, "type");
    if (!json_is_string(t) || strcmp(json_string_value(t), "command") != 0) {
        json_object_set_new(h, "type", json_string("command"));
        changed = 1;
    }
    json_t *c = json_object_get(h, "command");
    if (!json_is_string(c) || strcmp(json_string_value(c), cmd) != 0) {
        json_object_set_new(h, "command", json_string(cmd));
        changed = 1;
    }
    json_t *f = json_object_get(h, "onFailure");
    if (fail_closed && (!json_is_string(f) || strcmp(json_string_value(f), "block") != 0)) {
        json_object_set_new(h, "onFailure", json_string("block"));
        changed = 1;
    }
    return changed;
}

static ag_err merge_hook(json_t *root, const char *cmd, int fail_closed, int claude,
                         struct ag_buf *changes)
{
    json_t *groups;
    ag_err err = event_groups(root, "PreToolUse", &groups);
    if (err != AG_OK)
        return err;
    size_t i, j;
    json_t *g, *h;
    int found = 0;
    json_array_foreach(groups, i, g)
    {
        json_t *handlers = json_object_get(g, "hooks");
        if (!json_is_object(g) || !json_is_array(handlers) || !matches_all(g))
            continue;
        json_array_foreach(handlers, j, h)
        {
            if (!found && json_is_object(h) && is_agentgov(h, cmd)) {
                found = 1;
                if (set_handler(h, cmd, fail_closed))
                    ag__buf_printf(changes, "updated the PreToolUse hook to: %s%s\n", cmd,
                                   fail_closed ? " (onFailure: block)" : "");
            }
        }
    }
    if (!found) {
        json_t *h2 = json_object();
        json_t *g2 = json_pack("{s:s, s:[o]}", "matcher", "*", "hooks", h2);
        if (!h2 || !g2)
            return AG_ENOMEM;
        set_handler(h2, cmd, fail_closed);
        if (claude)
            json_object_set_new(h2, "timeout", json_integer(60));
        json_array_append_new(groups, g2);
        ag__buf_printf(changes, "added a PreToolUse hook for every tool: %s%s\n", cmd,
                       fail_closed ? " (onFailure: block)" : "");
    }
    json_t *off = json_object_get(root, "disableAllHooks");
    if (json_is_true(off)) {
        json_object_del(root, "disableAllHooks");
        ag__buf_puts(changes, "removed \"disableAllHooks\": true, which switched every hook off\n");
    }
    return AG_OK;
}

static ag_err render(json_t *root, char **out)
{
    char *s = json_dumps(root, JSON_INDENT(2));
    if (s == NULL)
        return AG_ENOMEM;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t == NULL) {
        free(s);
        return AG_ENOMEM;
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    *out = t;
    return AG_OK;
}

static ag_err install_json(const char *text, size_t len, const char *cmd, int fail_closed,
                           int claude, char **out, struct ag_buf *changes)
{
    json_t *root = NULL;
    ag_err err = load_object(text, len, &root);
    if (err == AG_OK)
        err = merge_hook(root, cmd, fail_closed, claude, changes);
    if (err == AG_OK)
        err = render(root, out);
    json_decref(root);
    return err;
}

static ag_err install_claude(const char *text, size_t len, const char *cmd, int fail_closed,
                             char **out, struct ag_buf *changes)
{
    return install_json(text, len, cmd, fail_closed, 1, out, changes);
}

static ag_err install_codex_hooks(const char *text, size_t len, const char *cmd, char **out,
                                  struct ag_buf *changes)
{
    return install_json(text, len, cmd, 0, 0, out, changes);
}

/* ---- TOML requirements --------------------------------------------------------------- */

/* A TOML basic string. */
static void toml_string(struct ag_buf *b, const char *s)
{
    ag__buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            ag__buf_printf(b, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            ag__buf_printf(b, "\\u%04x", (unsigned char)*s);
        else
            ag__buf_putc(b, *s);
    }
    ag__buf_putc(b, '"');
}

#define MARK "# written by agentgov hook install"

/* 1 when a line of text (trimmed) starts with prefix. */
static int has_line(const char *text, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < len;) {
        size_t a = i;
        while (a < len && (text[a] == ' ' || text[a] == '\t'))
            a++;
        if (len - a >= n && memcmp(text + a, prefix, n) == 0)
            return 1;
        const char *nl = memchr(text + i, '\n', len - i);
        i = nl ? (size_t)(nl - text) + 1 : len;
    }
    return 0;
}

static ag_err install_codex_requirements(const char *text, size_t len, const char *cmd, char **out,
                                         struct ag_buf *changes)
{
    if (has_line(text, len, MARK)) {
        ag__buf_puts(changes, "the managed requirements already hold agentgov's hook\n");
        *out = strndup(text, len);
        return *out ? AG_OK : AG_ENOMEM;
    }
    if (has_line(text, len, "[hooks") || has_line(text, len, "[[hooks") ||
        has_line(text, len, "hooks") || has_line(text, len, "[features") ||
        has_line(text, len, "features") || has_line(text, len, "unified_exec_tty"))
        return ag__fail(AG_ECONFLICT,
                        "the managed requirements already hold hooks or features: add agentgov's "
                        "hook there by hand (docs/hooks.md shows the tables)");
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_append(&b, text, len);
    if (len && text[len - 1] != '\n')
        ag__buf_putc(&b, '\n');
    ag__buf_puts(&b, "\n" MARK "\n[features]\nhooks = true\nunified_exec_tty = false\n\n"
                     "[[hooks.PreToolUse]]\nmatcher = \"*\"\n\n[[hooks.PreToolUse.hooks]]\n"
                     "type = \"command\"\ncommand = ");
    toml_string(&b, cmd);
    ag__buf_putc(&b, '\n');
    if (ag__buf_status(&b) != AG_OK) {
        ag__buf_free(&b);
        return AG_ENOMEM;
    }
    ag__buf_printf(changes, "added a managed PreToolUse hook for every tool: %s\n", cmd);
    ag__buf_puts(changes, "set [features] hooks = true, unified_exec_tty = false\n");
    *out = ag__buf_take(&b);
    return AG_OK;
}

/* ---- doctor -------------------------------------------------------------------------- */

static int doctor_settings(const char *text, size_t len, int claude, int fail_closed_supported,
                           char **cmd_out, struct ag_buf *findings)
{
    json_t *root = NULL;
    *cmd_out = NULL;
    if (load_object(text, len, &root) != AG_OK) {
        ag__buf_printf(findings, "FAIL the settings do not parse (%s): the agent ignores them\n",
                       ag_last_error());
        ag_clear_error();
        return 1;
    }
    int fails = 0;
    json_t *groups = json_object_get(json_object_get(root, "hooks"), "PreToolUse");
    json_t *ours = NULL, *g, *h;
    size_t i, j;
    json_array_foreach(groups, i, g)
    {
        json_array_foreach(json_object_get(g, "hooks"), j, h)
        {
            if (!ours && json_is_object(h) && is_agentgov(h, NULL) && matches_all(g))
                ours = h;
        }
    }
    if (ours == NULL) {
        ag__buf_puts(findings, "FAIL no PreToolUse hook runs `agentgov hook` for every tool\n");
        fails++;
    } else {
        *cmd_out = strdup(json_string_value(json_object_get(ours, "command")));
        json_t *f = json_object_get(ours, "onFailure");
        if (claude && fail_closed_supported &&
            (!json_is_string(f) || strcmp(json_string_value(f), "block") != 0)) {
            ag__buf_puts(findings, "FAIL the hook has no \"onFailure\": \"block\": a hook that "
                                   "cannot start or times out lets the call run\n");
            fails++;
        }
    }
    if (json_is_true(json_object_get(root, "disableAllHooks"))) {
        ag__buf_puts(findings, "FAIL \"disableAllHooks\": true switches the hook off\n");
        fails++;
    }
    json_decref(root);
    return fails;
}

/* ---- the public API: the changes and findings as text -------------------------------- */

/* Hands the lines over as a string ("" when none), or frees both on error. */
static ag_err text_out(ag_err err, struct ag_buf *b, char **out, char **text)
{
    if (err == AG_OK && ag__buf_status(b) != AG_OK)
        err = AG_ENOMEM;
    if (err == AG_OK) {
        *text = b->len ? ag__buf_take(b) : strdup("");
        if (*text == NULL)
            err = AG_ENOMEM;
    }
    if (err != AG_OK) {
        ag__buf_free(b);
        if (out) {
            free(*out);
            *out = NULL;
        }
        *text = NULL;
    }
    return err;
}

ag_err ag_hook_install_claude(const char *text, size_t len, const char *cmd, int fail_closed,
                              char **out, char **changes)
{
    struct ag_buf b;
    ag__buf_init(&b);
    *out = NULL;
    return text_out(install_claude(text, len, cmd, fail_closed, out, &b), &b, out, changes);
}

ag_err ag_hook_install_codex_hooks(const char *text, size_t len, const char *cmd, char **out,
                                   char **changes)
{
    struct ag_buf b;
    ag__buf_init(&b);
    *out = NULL;
    return text_out(install_codex_hooks(text, len, cmd, out, &b), &b, out, changes);
}

ag_err ag_hook_install_codex_requirements(const char *text, size_t len, const char *cmd, char **out,
                                          char **changes)
{
    struct ag_buf b;
    ag__buf_init(&b);
    *out = NULL;
    return text_out(install_codex_requirements(text, len, cmd, out, &b), &b, out, changes);
}

int ag_hook_doctor_settings(const char *text, size_t len, int claude, int fail_closed_supported,
                            char **cmd_out, char **findings)
{
    struct ag_buf b;
    ag__buf_init(&b);
    int fails = doctor_settings(text, len, claude, fail_closed_supported, cmd_out, &b);
    if (text_out(AG_OK, &b, NULL, findings) != AG_OK)
        *findings = NULL;
    return fails;
}
