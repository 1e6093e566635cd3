/* Hook adapters, second half: the answer in the agent's own format, and the policy's
 * ${PROJECT} and ${HOME} variables (hook/hook.h declares both). */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "hook/hook.h"

/* ---- answers -------------------------------------------------------------------- */

/* An allow prints nothing unless Claude Code is to take it as "allow": Codex rejects a
 * bare permissionDecision "allow" (it wants updatedInput with it) and marks the hook
 * failed, and for Claude Code an allow skips its own permission rules and prompt. */
static json_t *pre_tool_use_answer(const struct ag__hook_event *ev,
                                   const struct ag__hook_answer_opts *a, struct ag__hook_verdict *v)
{
    if (v->effect == AG_EFFECT_ALLOW && (ev->dialect == AG_HOOK_CODEX || !a->allow_means_allow)) {
        v->answer = "no-objection";
        return NULL;
    }
    v->answer = ag_effect_name(v->effect);
    return json_pack("{s:{s:s, s:s, s:s}}", "hookSpecificOutput", "hookEventName", "PreToolUse",
                     "permissionDecision", ag_effect_name(v->effect), "permissionDecisionReason",
                     v->message);
}

/* PermissionRequest has no "ask": without a decision the agent shows its prompt. It is
 * answered only when the options say so, and a Codex sandbox escape only when a rule
 * decided sandbox.escape. */
static json_t *permission_answer(const struct ag__hook_event *ev,
                                 const struct ag__hook_answer_opts *a, struct ag__hook_verdict *v)
{
    if (!a->permission_by_policy || v->escape_unruled) {
        v->answer = "deferred";
        return NULL;
    }
    v->answer = ag_effect_name(v->effect);
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

ag_err ag__hook_response(const struct ag__hook_event *ev, const struct ag__hook_answer_opts *a,
                         struct ag__hook_verdict *v, char **out)
{
    static const struct ag__hook_answer_opts none = {0, 0};
    a = a ? a : &none;
    json_t *o = ev->kind == AG_HOOK_PRE_TOOL_USE ? pre_tool_use_answer(ev, a, v)
                                                 : permission_answer(ev, a, v);
    if (o == NULL && v->answer &&
        (strcmp(v->answer, "no-objection") == 0 || strcmp(v->answer, "deferred") == 0)) {
        *out = strdup("");
        return *out ? AG_OK : AG_ENOMEM;
    }
    *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *out ? AG_OK : ag__fail(AG_ENOMEM, "hook: rendering the answer");
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
