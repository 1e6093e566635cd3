/* After the child ran: artifacts verified and packaged, the handoff and the report
 * (run_state.h). */
#include "runner/run_report.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/time.h"
#include "runner/run_child.h"
#include "runner/run_env.h"
#include "runner/run_files.h"
#include "runner/run_preflight.h"
#include "runner/run_state.h"
#include "runner/sandbox.h"

/* ------------------------------------------------------ verify, package ----- */

static void add_artifact(struct ag__run *R, const char *name, const char *path, const char *kind)
{
    char hex[65];
    int64_t bytes = 0;
    if (ag__run_hash_file(path, hex, &bytes) != AG_OK)
        return;
    json_array_append_new(R->artifacts,
                          json_pack("{s:s,s:s,s:s,s:I,s:s}", "name", name, "path", path, "sha256",
                                    hex, "bytes", (json_int_t)bytes, "kind", kind));
    if (R->task[0])
        ag__run_ignore_err(ag_gov_add_artifact(R->o->gov, R->task, R->o->agent_id, name, hex));
}

static int listed(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] && strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* The deliverables and required artifacts found in the workdir go to the task's
 * artifact list before VERIFY (the lifecycle checks the required ones there); the
 * required ones that are missing are noted. */
void ag__run_collect_deliverables(struct ag__run *R)
{
    size_t nd = 0, nr = 0;
    const char *const *del = R->pk ? ag_packet_list(R->pk, "deliverables", &nd) : NULL;
    const char *const *req = R->pk ? ag_packet_list(R->pk, "required_artifacts", &nr) : NULL;
    for (size_t l = 0; l < 2; l++) {
        const char *const *v = l ? req : del;
        size_t n = l ? nr : nd;
        for (size_t i = 0; i < n; i++) {
            if (l && listed(del, nd, v[i]))
                continue;
            char path[PATH_MAX];
            if (ag__run_deliverable(R->o->workdir, v[i], path) == AG_OK)
                add_artifact(R, v[i], path, "deliverable");
            else if (listed(req, nr, v[i]))
                json_array_append_new(R->missing, json_string(v[i]));
        }
    }
}

void ag__run_verify(struct ag__run *R)
{
    int exit_ok = R->child_ran && R->child.end == AG_CHILD_EXITED && R->child.exit_code == 0;
    R->verify_ok = exit_ok && json_array_size(R->missing) == 0;
    char step[160];
    snprintf(step, sizeof step, "exit %d, %zu required artifact(s) missing",
             R->child_ran ? R->child.exit_code : -1, json_array_size(R->missing));
    if (!ag__run_transition(R, AG_PHASE_VERIFY, step) || R->verify_ok)
        return;
    char msg[300];
    if (!exit_ok)
        snprintf(msg, sizeof msg, "the child %s",
                 !R->child_ran                     ? "did not run"
                 : R->child.end != AG_CHILD_EXITED ? "was stopped"
                 : R->child.term_signal            ? "died of a signal"
                                                   : "exited with a nonzero status");
    else
        snprintf(msg, sizeof msg, "required artifact '%s' missing",
                 json_string_value(json_array_get(R->missing, 0)));
    struct ag_transition_result tr;
    if (ag_gov_record_error(R->o->gov, R->o->agent_id, exit_ok ? "verify_failed" : "child_failed",
                            msg, &tr) == AG_OK &&
        tr.revoked)
        ag__run_read_revocation(R);
}

void ag__run_add_logs(struct ag__run *R)
{
    char name[128];
    snprintf(name, sizeof name, "runs/%s/stdout.log", R->r->run_id);
    add_artifact(R, name, R->out_path, "stdout");
    snprintf(name, sizeof name, "runs/%s/stderr.log", R->r->run_id);
    add_artifact(R, name, R->err_path, "stderr");
}

/* --------------------------------------------------------- handoff, report --- */

static json_t *strings(const char *const *v, size_t n, const char *prefix)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char buf[600];
        snprintf(buf, sizeof buf, "%s%s", prefix, v[i]);
        json_array_append_new(a, json_string(buf));
    }
    return a;
}

static json_t *artifact_names(const struct ag__run *R)
{
    json_t *a = json_array();
    for (size_t i = 0; i < json_array_size(R->artifacts); i++)
        json_array_append(a, json_object_get(json_array_get(R->artifacts, i), "name"));
    return a;
}

const char *ag__run_child_fate(const struct ag__run *R, char *buf, size_t cap)
{
    if (!R->child_ran)
        snprintf(buf, cap, "did not run%s%s", R->spawn_detail[0] ? ": " : "", R->spawn_detail);
    else if (R->child.end != AG_CHILD_EXITED)
        snprintf(buf, cap, "was stopped (%s)%s", R->child.why,
                 R->child.killed ? ", killed after the grace period" : "");
    else if (R->child.term_signal)
        snprintf(buf, cap, "died of signal %d", R->child.term_signal);
    else
        snprintf(buf, cap, "exited with status %d", R->child.exit_code);
    return buf;
}

/* The HandoffObject a revoked run leaves for the next agent on the task. */
void ag__run_write_handoff(struct ag__run *R)
{
    if (!R->task[0])
        return;
    size_t ns = 0, nf = 0;
    const char *const *scope = R->pk ? ag_packet_list(R->pk, "constraints.scope", &ns) : NULL;
    const char *const *forb = R->pk ? ag_packet_list(R->pk, "constraints.forbidden", &nf) : NULL;
    json_t *remind = strings(scope, ns, "scope: ");
    json_t *fl = strings(forb, nf, "forbidden: ");
    json_array_extend(remind, fl);
    json_decref(fl);
    char fate[400], tried[700];
    json_t *argv = json_array();
    for (char *const *a = R->o->argv; *a; a++)
        json_array_append_new(argv, json_string(*a));
    char *cmd = json_dumps(argv, JSON_COMPACT);
    json_decref(argv);
    snprintf(tried, sizeof tried, "run %s: %s (command %s)", R->r->run_id,
             ag__run_child_fate(R, fate, sizeof fate), cmd ? cmd : "?");
    free(cmd);
    char next[300];
    snprintf(next, sizeof next, "read the run report and runs/%s/ in the data directory",
             R->r->run_id);
    json_t *h = json_pack(
        "{s:s,s:s,s:b,s:{s:s,s:s},s:{s:s,s:s},s:[s],s:s,s:[s,s],s:o,s:o}", "task_id", R->task,
        "previous_agent_id", R->o->agent_id, "revoked", 1, "revocation_reason", "type", R->rev_type,
        "details", R->rev_details, "last_known_state", "phase",
        R->rev_phase[0] ? R->rev_phase : ag_phase_name(R->phase), "step", R->rev_step,
        "what_was_tried", tried, "blocking_issue", R->rev_details, "required_next_actions", next,
        "resolve the revocation cause before another agent takes the task", "constraints_reminder",
        remind, "artifacts", artifact_names(R));
    char *hj = h ? json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(h);
    if (hj && ag_gov_write_handoff(R->o->gov, hj) == AG_OK)
        R->handoff_written = 1;
    free(hj);
}

static json_t *child_json(const struct ag__run *R)
{
    if (!R->child_ran)
        return json_pack("{s:b,s:s}", "ran", 0, "error", R->spawn_detail);
    const struct ag__child_result *c = &R->child;
    static const char *const ends[] = {"exited", "stopped", "timeout"};
    json_t *o = json_pack(
        "{s:b,s:I,s:s,s:o,s:o,s:b}", "ran", 1, "pid", (json_int_t)c->pid, "end", ends[c->end],
        "exit_status", c->exit_code >= 0 ? json_integer(c->exit_code) : json_null(), "signal",
        c->term_signal ? json_integer(c->term_signal) : json_null(), "killed", c->killed);
    /* Wall-clock ms of the start and the end, so that a test or an operator can
     * measure how long a stop took from the moment it was asked for. */
    json_object_set_new(o, "started_ms", json_integer(c->started_ms));
    json_object_set_new(o, "ended_ms", json_integer(c->ended_ms));
    json_object_set_new(o, "duration_ms", json_integer(c->ended_ms - c->started_ms));
    json_object_set_new(o, "stop_ms", c->stop_ms >= 0 ? json_integer(c->stop_ms) : json_null());
    json_object_set_new(o, "stdout", json_string(R->out_path));
    json_object_set_new(o, "stderr", json_string(R->err_path));
    json_object_set_new(o, "stdout_bytes", json_integer((json_int_t)c->stdout_bytes));
    json_object_set_new(o, "stderr_bytes", json_integer((json_int_t)c->stderr_bytes));
    json_object_set_new(o, "stdout_truncated", json_boolean(c->stdout_truncated));
    json_object_set_new(o, "stderr_truncated", json_boolean(c->stderr_truncated));
    json_object_set_new(o, "capture_max_bytes", json_integer(ag__run_capture_max(R)));
    json_object_set_new(o, "leftover_processes", json_integer(c->leftovers));
    json_object_set_new(o, "leftover_alive", json_integer(c->leftovers_alive));
    return o;
}

static json_t *report_json(const struct ag__run *R)
{
    const struct ag__run_opts *o = R->o;
    char t0[AG_RFC3339_LEN], t1[AG_RFC3339_LEN];
    int64_t end = ag__wall_ms();
    ag__rfc3339(R->started_ms, t0);
    ag__rfc3339(end, t1);
    json_t *argv = json_array();
    for (char *const *a = o->argv; *a; a++)
        json_array_append_new(argv, json_string(*a));
    json_t *rep =
        json_pack("{s:i,s:s,s:s,s:o,s:i,s:s,s:i,s:s,s:o,s:s,s:s,s:s,s:I}", "version", 1, "run_id",
                  R->r->run_id, "agent_id", o->agent_id, "task_id",
                  R->task[0] ? json_string(R->task) : json_null(), "tier", R->tier, "outcome",
                  ag__run_outcome_name(R->outcome), "exit_code", (int)R->outcome, "message",
                  R->r->message, "command", argv, "workdir", o->workdir, "started_at", t0,
                  "ended_at", t1, "duration_ms", (json_int_t)(end - R->started_ms));
    json_object_set_new(rep, "bootstrap",
                        json_pack("{s:s,s:b}", "code", R->boot_code[0] ? R->boot_code : "NONE",
                                  "handoff", R->handoff_in != NULL));
    if (R->handoff_in)
        json_object_set_new(rep, "handoff_in", json_loads(R->handoff_in, 0, NULL));
    json_object_set(rep, "phases", R->phases);
    json_object_set_new(rep, "child", child_json(R));
    json_object_set(rep, "sandbox", R->sandbox ? R->sandbox : json_null());
    json_object_set_new(rep, "confined", json_boolean(R->confined));
    json_object_set(rep, "landlock_missing", R->ll_missing);
    json_object_set_new(rep, "verify",
                        json_pack("{s:b,s:O}", "ok", R->verify_ok, "missing", R->missing));
    json_object_set(rep, "artifacts", R->artifacts);
    json_object_set_new(rep, "revocation",
                        R->revoked
                            ? json_pack("{s:s,s:s,s:s,s:s}", "type", R->rev_type, "details",
                                        R->rev_details, "phase", R->rev_phase, "step", R->rev_step)
                            : json_null());
    json_object_set_new(rep, "handoff_written", json_boolean(R->handoff_written));
    json_object_set_new(rep, "token",
                        R->have_token ? json_pack("{s:s,s:I,s:b}", "accessor", R->tinfo.accessor,
                                                  "ttl_ms", (json_int_t)R->tinfo.ttl_ms,
                                                  "revoked_at_exit", R->token_revoked)
                                      : json_null());
    return rep;
}

/* Renders the report into the result and, with to_file, writes it (atomically,
 * 0644). */
void ag__run_write_report(struct ag__run *R, int to_file)
{
    json_t *rep = report_json(R);
    char *txt = rep ? json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(rep);
    if (!txt)
        return;
    free(R->r->report_json);
    R->r->report_json = txt;
    if (!to_file)
        return;
    char def[PATH_MAX + 32];
    const char *path = R->o->report_path;
    if (!path) {
        snprintf(def, sizeof def, "%s/agentgov-report.json", R->o->workdir);
        path = def;
    }
    char *file = NULL;
    int len = asprintf(&file, "%s\n", txt);
    if (len > 0 && ag__write_file_atomic(path, file, (size_t)len, 0644, 0) == AG_OK &&
        !R->r->report_path)
        R->r->report_path = strdup(path);
    free(file);
}
