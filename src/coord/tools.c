/* The tools a governed LLM agent may call, each authorized before it runs: see
 * orch_int.h. Writes go through the coord functions, which authorize them; reads are
 * authorized here. A refusal is the tool's result, so the model learns why. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coord/coord_int.h"
#include "coord/orch_int.h"
#include "core/err.h"
#include "core/time.h"

static const char tools_json[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"blackboard_write\",\"description\":"
    "\"Write an entry of the task's shared blackboard.\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"section\":{\"type\":\"string\",\"enum\":[\"problem\",\"solutions\","
    "\"progress\",\"consensus\"]},\"entry\":{\"type\":\"string\",\"description\":\"objective, "
    "analysis, constraints, proposal_N, synthesis, eval_N or gamma_result\"},\"value\":{"
    "\"description\":\"any JSON value\"}},\"required\":[\"section\",\"entry\",\"value\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"blackboard_read\",\"description\":"
    "\"Read a section of the blackboard.\",\"parameters\":{\"type\":\"object\",\"properties\":"
    "{\"section\":{\"type\":\"string\",\"enum\":[\"problem\",\"solutions\",\"progress\","
    "\"consensus\"]}},\"required\":[\"section\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"send_message\",\"description\":\"Send a "
    "message to another agent (alpha, beta, gamma) or to all (*).\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"to\":{\"type\":\"string\"},\"type\":{\"type\":\"string\","
    "\"enum\":[\"PROPOSAL\",\"FEEDBACK\",\"HANDOFF\"]},\"content\":{\"description\":\"any JSON "
    "value; FEEDBACK carries {\\\"agree\\\": true|false, ...}\"}},\"required\":[\"to\",\"type\","
    "\"content\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"read_messages\",\"description\":\"Read the "
    "messages sent to you and the broadcasts.\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"vote\",\"description\":\"Vote on the "
    "task's outcome.\",\"parameters\":{\"type\":\"object\",\"properties\":{\"vote\":{\"type\":"
    "\"string\",\"enum\":[\"ACCEPT\",\"REJECT\",\"ABSTAIN\"]},\"reasoning\":{\"type\":"
    "\"string\"}},\"required\":[\"vote\",\"reasoning\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"request_action\",\"description\":\"Ask "
    "the kernel for any other governed action (it is authorized and recorded; only "
    "coordination tools run in this build).\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"action\":{\"type\":\"string\"},\"resource\":{\"type\":\"string\"}},"
    "\"required\":[\"action\",\"resource\"]}}}"
    "]";

/* The same list with the workdir tools (front ends with an executor). */
static const char workdir_tools[] =
    ",{\"type\":\"function\",\"function\":{\"name\":\"shell_exec\",\"description\":\"Run a "
    "command in the task's workdir, sandboxed by the kernel for your tier.\",\"parameters\":{"
    "\"type\":\"object\",\"properties\":{\"argv\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"string\"}}},\"required\":[\"argv\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"file_read\",\"description\":\"Read a "
    "file of the task's workdir (a relative path).\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":[\"path\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"file_write\",\"description\":\"Write a "
    "file of the task's workdir (a relative path).\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"path\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"}},"
    "\"required\":[\"path\",\"content\"]}}}]";

static const char artifact_tool[] =
    ",{\"type\":\"function\",\"function\":{\"name\":\"artifact_read\",\"description\":"
    "\"Read a file of the task's artifacts (a path relative to the artifacts directory); "
    "without a path, list them.\",\"parameters\":{\"type\":\"object\",\"properties\":{"
    "\"path\":{\"type\":\"string\"}}}}}]";

/* The four lists: [with_workdir][with_artifacts], built once. */
static char lists[2][2][sizeof tools_json + sizeof workdir_tools + sizeof artifact_tool];
static void join_tools(void)
{
    for (int w = 0; w < 2; w++)
        for (int a = 0; a < 2; a++) {
            /* tools_json without its closing bracket, then the optional tools; the last
             * part keeps its bracket. */
            char *p = lists[w][a];
            size_t n = strlen(tools_json) - 1;
            memcpy(p, tools_json, n);
            p += n;
            if (w) {
                n = strlen(workdir_tools) - 1;
                memcpy(p, workdir_tools, n);
                p += n;
            }
            if (a) {
                n = strlen(artifact_tool) - 1;
                memcpy(p, artifact_tool, n);
                p += n;
            }
            memcpy(p, "]", 2);
        }
}

const char *ag__orch_tools_json(int with_workdir, int with_artifacts)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, join_tools);
    return lists[!!with_workdir][!!with_artifacts];
}

void ag__orch_agent_id(const struct ag__orch *o, const char *role, char *out, size_t len)
{
    if (strcmp(role, "*") == 0 || strchr(role, '@'))
        snprintf(out, len, "%s", role);
    else
        snprintf(out, len, "%s@%s", role, o->task);
}

static char *result_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *result_text(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* The text a refused call returns to the model (and whether it revoked the agent). */
static char *denied(const struct ag_gov_decision *d, const struct ag__orch_ask *ask, int *revoked)
{
    *revoked = d->revoked || d->reason == AG_REASON_AGENT_REVOKED;
    if (!ask->detail[0])
        return result_text("{\"ok\":false,\"denied\":true,\"reason\":\"%s\"%s}",
                           ag_reason_name(d->reason), d->revoked ? ",\"revoked\":true" : "");
    /* An ask that ended without a grant: the approval and what became of it. */
    json_t *o =
        json_pack("{s:b,s:b,s:s,s:s,s:s}", "ok", 0, "denied", 1, "reason",
                  ag_reason_name(d->reason), "approval", ask->approval_id, "message", ask->detail);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static char *messages_text(struct ag_coord_msg *m, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const char *at = strchr(m[i].from, '@');
        json_t *c = json_loads(m[i].content_json, JSON_DECODE_ANY, NULL);
        json_array_append_new(a, json_pack("{s:I,s:s%,s:s,s:o}", "seq", (json_int_t)m[i].seq,
                                           "from", m[i].from,
                                           at ? (size_t)(at - m[i].from) : strlen(m[i].from),
                                           "type", m[i].type, "content", c ? c : json_null()));
    }
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

/* A workdir path a model may name: relative, no "..", no empty segment. */
static int workdir_path_ok(const char *p)
{
    if (!p || !*p || *p == '/' || strlen(p) > 200)
        return 0;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 0 || (n == 2 && s[0] == '.' && s[1] == '.') || (n == 1 && s[0] == '.'))
            return 0;
        s += n;
        if (*s == '/')
            s++;
    }
    return 1;
}

ag_err ag__orch_tool(struct ag__agent_run *run, const char *name, const char *args, char **result,
                     int *revoked)
{
    struct ag__orch *o = run->o;
    const struct ag_orch_opts *op = o->opts;
    *result = NULL;
    *revoked = 0;
    json_t *a = json_loads(args && *args ? args : "{}", 0, NULL);
    if (!json_is_object(a)) {
        json_decref(a);
        *result = result_text("{\"ok\":false,\"error\":\"arguments are not a JSON object\"}");
        return *result ? AG_OK : ag__fail(AG_ENOMEM, "tool: out of memory");
    }
    atomic_fetch_add(&o->tool_calls, 1);
    struct ag__orch_ask ask = {.run = run, .args_json = args && *args ? args : "{}"};
    const struct ag__coord_authz az = {ag__orch_decide, &ask};
    struct ag_gov_decision d;
    memset(&d, 0, sizeof d);
    d.reason = AG_REASON_INVALID_REQUEST;
    ag_err e = AG_OK;
    int progress = 0;
    const char *sec = json_string_value(json_object_get(a, "section"));
    char res[AG__COORD_KEY_MAX];
    if (!strcmp(name, "blackboard_write")) {
        json_t *v = json_object_get(a, "value");
        char *vt = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        e = ag__coord_bb_write_x(op->coord, &az, run->id, o->task, sec,
                                 json_string_value(json_object_get(a, "entry")), vt, &d);
        free(vt);
        progress = !e;
        if (!e)
            *result = result_text("{\"ok\":true}");
    } else if (!strcmp(name, "blackboard_read")) {
        snprintf(res, sizeof res, "blackboard/%s/%s", o->task, sec ? sec : "");
        e = ag__coord_authorize_x(op->coord, &az, run->id, o->task, "blackboard.read", res, &d);
        if (!e)
            e = ag_coord_bb_read(op->coord, o->task, sec, result);
    } else if (!strcmp(name, "send_message")) {
        char to[160];
        const char *role = json_string_value(json_object_get(a, "to"));
        ag__orch_agent_id(o, role ? role : "", to, sizeof to);
        json_t *c = json_object_get(a, "content");
        char *ct = c ? json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        int64_t seq = 0;
        e = ag__coord_send_x(op->coord, &az, run->id, o->task, to,
                             json_string_value(json_object_get(a, "type")), ct, &seq, &d);
        free(ct);
        progress = !e;
        if (!e)
            *result = result_text("{\"ok\":true,\"seq\":%lld}", (long long)seq);
    } else if (!strcmp(name, "read_messages")) {
        snprintf(res, sizeof res, "msg/%s/%s", o->task, run->id);
        e = ag__coord_authorize_x(op->coord, &az, run->id, o->task, "message.read", res, &d);
        struct ag_coord_msg *m = NULL;
        size_t n = 0;
        if (!e)
            e = ag_coord_recv(op->coord, o->task, run->id, 0, &m, &n);
        if (!e && !(*result = messages_text(m, n)))
            e = ag__fail(AG_ENOMEM, "tool: out of memory");
        ag_coord_msgs_free(m, n);
    } else if (!strcmp(name, "vote")) {
        int v = ag_vote_parse(json_string_value(json_object_get(a, "vote")));
        e = v < 0 ? ag__fail(AG_EINVAL, "vote: expected ACCEPT, REJECT or ABSTAIN")
                  : ag__coord_vote_x(op->coord, &az, run->id, o->task, (enum ag_vote)v,
                                     json_string_value(json_object_get(a, "reasoning")), &d);
        progress = !e;
        if (!e)
            *result = result_text("{\"ok\":true}");
    } else if (op->exec && (!strcmp(name, "shell_exec") || !strcmp(name, "file_read") ||
                            !strcmp(name, "file_write"))) {
        const char *act = !strcmp(name, "shell_exec")  ? "shell.exec"
                          : !strcmp(name, "file_read") ? "file.read"
                                                       : "file.write";
        const char *path = json_string_value(json_object_get(a, "path"));
        if (strcmp(act, "shell.exec") != 0 && !workdir_path_ok(path)) {
            e = ag__fail(AG_EINVAL, "%s: path must be relative to the workdir, without '..'", name);
        } else {
            if (path)
                snprintf(res, sizeof res, "workdir/%s/%s", o->task, path);
            else
                snprintf(res, sizeof res, "workdir/%s", o->task);
            e = ag__coord_authorize_x(op->coord, &az, run->id, o->task, act, res, &d);
            char *aj = e ? NULL : json_dumps(a, JSON_COMPACT);
            if (!e)
                e = aj ? op->exec(op->exec_ctx, run->id, run->tier, act, aj, result)
                       : ag__fail(AG_ENOMEM, "tool: out of memory");
            free(aj);
            progress = !e && strcmp(act, "file.read") != 0;
        }
    } else if (o->art_fd >= 0 && !strcmp(name, "artifact_read")) {
        json_t *p = json_object_get(a, "path");
        if (p && !json_is_string(p))
            e = ag__fail(AG_EINVAL, "artifact_read: path must be a string");
        else
            e = ag__orch_artifact_read(run, &az, json_string_value(p), &d, result);
    } else if (!strcmp(name, "request_action")) {
        const char *act = json_string_value(json_object_get(a, "action"));
        const char *rs = json_string_value(json_object_get(a, "resource"));
        if (!act || !rs) {
            e = ag__fail(AG_EINVAL, "request_action: action and resource are required");
        } else if ((e = ag__coord_authorize_x(op->coord, &az, run->id, o->task, act, rs, &d))) {
            /* refused (counted), or the store is down */
        } else {
            /* Allowed, but no executor for it is wired into this build: say so. */
            *result = result_text("{\"ok\":false,\"allowed\":true,\"error\":\"no executor for "
                                  "this action in the orchestrator\"}");
        }
    } else {
        e = ag__fail(AG_EINVAL, "no tool named '%s'", name);
    }
    json_decref(a);
    if (e == AG_EPERM) {
        atomic_fetch_add(&o->tool_denied, 1);
        *result = denied(&d, &ask, revoked);
        return *result ? AG_OK : ag__fail(AG_ENOMEM, "tool: out of memory");
    }
    if (e == AG_EINVAL) { /* the model's mistake: tell it, it may correct itself */
        json_t *er = json_pack("{s:b,s:s}", "ok", 0, "error", ag_last_error());
        *result = er ? json_dumps(er, JSON_COMPACT) : NULL;
        json_decref(er);
        return *result ? AG_OK : ag__fail(AG_ENOMEM, "tool: out of memory");
    }
    if (e)
        return e; /* store or ledger down: the agent stops (fail closed) */
    if (progress)
        atomic_store(&o->last_progress_mono, ag__mono_ms());
    return *result ? AG_OK : ag__fail(AG_ENOMEM, "tool: out of memory");
}
