/* The governed runner: bootstrap, login, the lifecycle around a sandboxed child,
 * revocation watch, artifacts, report, handoff, token revocation (run.h). */
#include "runner/run.h"

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
#include "runner/run_prep.h"
#include "runner/run_preflight.h"
#include "runner/run_report.h"
#include "runner/run_state.h"
#include "runner/sandbox.h"

#define DEFAULT_POLL_MS 150
/* Heartbeats (which refresh the lock) every this many ms while the child runs. */
#define HEARTBEAT_MS 500
/* Polls in a row that may fail to read the agent's state before the child is stopped
 * (about 1.5 s at the default poll). */
#define WATCH_FAILURES_MAX 10
/* The most a capture file keeps of a stream when the tier sets no file-size limit. */
#define CAPTURE_MAX_DEFAULT (1LL << 30)

const char *ag__run_outcome_name(enum ag__run_outcome o)
{
    switch (o) {
#define AG__RUN_NAME(n, code, s)                                                                   \
    case AG_RUN_##n:                                                                               \
        return s;
        AG_RUN_OUTCOME_MAP(AG__RUN_NAME)
#undef AG__RUN_NAME
    }
    return "error";
}

void ag__run_result_clear(struct ag__run_result *r)
{
    if (!r)
        return;
    free(r->report_path);
    free(r->report_json);
    r->report_path = r->report_json = NULL;
}

void ag__run_set_outcome(struct ag__run *R, enum ag__run_outcome o, const char *fmt, ...)
{
    if (R->outcome_set)
        return; /* the first cause is what the exit status reports */
    R->outcome_set = 1;
    R->outcome = o;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(R->r->message, sizeof R->r->message, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ ledger --- */

/* One entry of the runner's own (kind action or lifecycle); data is a JSON object
 * (stolen). Failure is returned: the caller decides whether it is fatal. */
ag_err ag__run_ledger_note(struct ag__run *R, const char *kind, const char *action,
                           const char *decision, const char *reason, int success, json_t *data)
{
    json_object_set_new(data, "run_id", json_string(R->r->run_id));
    char *dj = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(data);
    struct ag_ledger_entry e = {
        .kind = kind,
        .agent_id = R->o->agent_id,
        .task_id = R->task[0] ? R->task : NULL,
        .tier = R->tier,
        .phase = R->bootstrapped && !R->revoked ? ag_phase_name(R->phase) : NULL,
        .action = action,
        .resource = R->o->argv[0],
        .decision = decision,
        .reason = reason,
        .confidence = -1,
        .success = success,
        .data_json = dj,
    };
    ag_err err = dj ? ag_ledger_append(R->o->ledger, &e, NULL, NULL) : AG_ENOMEM;
    free(dj);
    return err;
}

/* --------------------------------------------------------------- lifecycle --- */

void ag__run_note_phase(struct ag__run *R, enum ag_phase ph, const char *step, int ok,
                        const char *detail)
{
    char at[AG_RFC3339_LEN];
    ag__rfc3339(ag__wall_ms(), at);
    json_t *e = json_pack("{s:s,s:s,s:b,s:s}", "phase", ag_phase_name(ph), "step", step ? step : "",
                          "ok", ok, "at", at);
    if (e && detail && *detail)
        json_object_set_new(e, "detail", json_string(detail));
    json_array_append_new(R->phases, e);
}

/* Reads the revocation recorded in the agent's state ({"phase":"REVOKED",
 * "revocation":{"type","details"},"prev_phase","step"}). Returns 1 when revoked, 0
 * when not, -1 when the store could not say. */
int ag__run_read_revocation(struct ag__run *R)
{
    struct ag_agent_status st;
    if (ag_gov_status(R->o->gov, R->o->agent_id, &st) != AG_OK)
        return -1;
    int revoked = st.revoked;
    json_t *s = st.state_json ? json_loads(st.state_json, 0, NULL) : NULL;
    const char *ph = json_string_value(json_object_get(s, "phase"));
    if (ph && strcmp(ph, "REVOKED") == 0)
        revoked = 1;
    if (revoked && !R->revoked) {
        json_t *rv = json_object_get(s, "revocation");
        const char *t = json_string_value(json_object_get(rv, "type"));
        const char *d = json_string_value(json_object_get(rv, "details"));
        const char *pp = json_string_value(json_object_get(s, "prev_phase"));
        const char *sp = json_string_value(json_object_get(s, "step"));
        snprintf(R->rev_type, sizeof R->rev_type, "%s", t ? t : "REVOKED");
        snprintf(R->rev_details, sizeof R->rev_details, "%s", d ? d : "revoked");
        snprintf(R->rev_phase, sizeof R->rev_phase, "%s", pp ? pp : ag_phase_name(R->phase));
        snprintf(R->rev_step, sizeof R->rev_step, "%s", sp ? sp : R->step);
        R->revoked = 1;
    }
    json_decref(s);
    ag_agent_status_clear(&st);
    return revoked;
}

/* Moves the run to ph. Returns 1 when recorded; 0 when the lifecycle refused it
 * (then the run is revoked or has lost its lock, and walks no further). */
int ag__run_transition(struct ag__run *R, enum ag_phase ph, const char *step)
{
    if (R->revoked || !R->bootstrapped)
        return 0;
    struct ag_transition_result tr;
    ag_err err = ag_gov_transition(R->o->gov, R->o->agent_id, ph, step, &tr);
    if (err == AG_OK && tr.ok) {
        R->phase = ph;
        snprintf(R->step, sizeof R->step, "%s", step ? step : "");
        ag__run_note_phase(R, ph, step, 1, NULL);
        return 1;
    }
    const char *detail = err ? ag_last_error() : tr.detail;
    ag__run_note_phase(R, ph, step, 0, detail);
    if (ag__run_read_revocation(R) != 1) {
        /* Not revoked but refused (lock lost, store down): the run may not go on. */
        R->revoked = 1;
        snprintf(R->rev_type, sizeof R->rev_type, "%s",
                 err ? "INTERNAL_ERROR" : ag_reason_name(tr.reason));
        snprintf(R->rev_details, sizeof R->rev_details, "%s", detail);
        snprintf(R->rev_phase, sizeof R->rev_phase, "%s", ag_phase_name(R->phase));
        snprintf(R->rev_step, sizeof R->rev_step, "%s", R->step);
    }
    return 0;
}

/* ----------------------------------------------------------------- execute --- */

/* Fails closed: a child whose revocation cannot be checked (the store does not
 * answer) for WATCH_FAILURES_MAX polls in a row is stopped. */
static int unwatchable(struct ag__run *R, char *why, size_t cap)
{
    if (++R->watch_failures < WATCH_FAILURES_MAX)
        return 0;
    R->revoked = 1;
    snprintf(R->rev_type, sizeof R->rev_type, "STORE_UNAVAILABLE");
    snprintf(R->rev_details, sizeof R->rev_details,
             "the agent's state could not be read for %d polls in a row: %s", WATCH_FAILURES_MAX,
             ag_last_error());
    snprintf(R->rev_phase, sizeof R->rev_phase, "EXECUTE");
    snprintf(R->rev_step, sizeof R->rev_step, "%s", R->step);
    snprintf(why, cap, "governance unavailable: %s", R->rev_details);
    return 1;
}

/* The check run by the child supervisor about every poll_ms: interruption, the
 * agent's revocation, the token's validity, and a heartbeat that keeps the lock. */
static int watch(void *ctx, char *why, size_t cap)
{
    struct ag__run *R = ctx;
    const struct ag__run_opts *o = R->o;
    if (o->interrupted && *o->interrupted) {
        R->interrupted = 1;
        snprintf(why, cap, "interrupted: the runner received a signal");
        return 1;
    }
    int rv = ag__run_read_revocation(R);
    if (rv == 1) {
        snprintf(why, cap, "revoked: %s: %s", R->rev_type, R->rev_details);
        return 1;
    }
    struct ag_token_info ti;
    memset(&ti, 0, sizeof ti);
    ag_err err = ag_auth_token_lookup(o->auth, R->token, &ti);
    ag_token_info_clear(&ti);
    if (rv < 0 || (err != AG_OK && err != AG_EPERM))
        return unwatchable(R, why, cap);
    R->watch_failures = 0;
    if (err == AG_EPERM) {
        const char *what = strstr(ag_last_error(), "expired") ? "TOKEN_EXPIRED" : "TOKEN_REVOKED";
        char details[200];
        snprintf(details, sizeof details, "the run's token is no longer valid (%s)",
                 ag_last_error());
        /* The run's credentials are gone: the lifecycle revokes the agent, so that the
         * task gets its handoff like after any other revocation. */
        ag__run_ignore_err(ag_gov_revoke(o->gov, o->agent_id, what, details));
        ag__run_read_revocation(R);
        snprintf(why, cap, "revoked: %s: %s", R->rev_type, R->rev_details);
        return 1;
    }
    int64_t now = ag__mono_ms();
    if (now - R->last_hb >= HEARTBEAT_MS) {
        struct ag_transition_result tr;
        R->last_hb = now;
        if (ag_gov_heartbeat(o->gov, o->agent_id, &tr) == AG_OK && !tr.ok &&
            tr.reason == AG_REASON_LOCK_LOST && ag__run_read_revocation(R) != 1) {
            R->revoked = 1;
            snprintf(R->rev_type, sizeof R->rev_type, "LOCK_LOST");
            snprintf(R->rev_details, sizeof R->rev_details, "%s", tr.detail);
            snprintf(R->rev_phase, sizeof R->rev_phase, "EXECUTE");
            snprintf(R->rev_step, sizeof R->rev_step, "%s", R->step);
            snprintf(why, cap, "lock lost: %s", tr.detail);
            return 1;
        }
    }
    R->polls++;
    return 0;
}

static ag_err make_run_dir(struct ag__run *R)
{
    if ((size_t)snprintf(R->run_dir, sizeof R->run_dir, "%s/runs/%s", R->o->data_dir,
                         R->r->run_id) >= sizeof R->run_dir)
        return ag__fail(AG_EINVAL, "run: data directory path too long");
    ag_err err = ag__mkdir_p(R->run_dir, 0700);
    snprintf(R->out_path, sizeof R->out_path, "%s/stdout.log", R->run_dir);
    snprintf(R->err_path, sizeof R->err_path, "%s/stderr.log", R->run_dir);
    return err;
}

/* Records the command and the profile about to be applied; fails closed: a child
 * the ledger does not know about does not run. */
static ag_err ledger_exec(struct ag__run *R, const struct ag_sandbox_profile *applied)
{
    char *pj = NULL;
    json_t *prof = NULL;
    if (ag__sandbox_profile_json(applied, R->tier, R->o->workdir, &pj) == AG_OK)
        prof = json_loads(pj, 0, NULL);
    free(pj);
    json_t *argv = json_array();
    for (char *const *a = R->o->argv; *a; a++)
        json_array_append_new(argv, json_string(*a));
    R->sandbox = prof ? json_incref(prof) : json_null();
    char psha[65] = "";
    const char *ppath = ag_policy_path(R->o->policy);
    if (ppath && ag__run_hash_file(ppath, psha, NULL) != AG_OK)
        psha[0] = '\0';
    char ll[400];
    if (!R->confined)
        snprintf(ll, sizeof ll, "unavailable: ran without Landlock (--allow-unsandboxed)");
    else if (R->ll_missing_txt[0])
        snprintf(ll, sizeof ll, "incomplete: ran without %s (--allow-unsandboxed)",
                 R->ll_missing_txt);
    else
        snprintf(ll, sizeof ll, "enforced");
    json_t *d = json_pack("{s:o,s:s,s:o,s:b,s:s,s:O}", "argv", argv, "workdir", R->o->workdir,
                          "sandbox", prof ? prof : json_null(), "confined", R->confined, "landlock",
                          ll, "landlock_missing", R->ll_missing);
    /* The child's own calls decide with a copy of this policy (in its view of the data
     * directory): its digest ties their decisions to this file. */
    json_object_set_new(d, "policy", json_pack("{s:s?,s:s}", "path", ppath, "sha256", psha));
    const char *how = !R->confined           ? "unsandboxed"
                      : R->ll_missing_txt[0] ? "degraded"
                                             : "sandboxed";
    return ag__run_ledger_note(R, "action", "run.exec", "allow", how, -1, d);
}

/* The capture files live in the data directory: each keeps at most the tier's file
 * size limit of its stream (or CAPTURE_MAX_DEFAULT without one). */
int64_t ag__run_capture_max(const struct ag__run *R)
{
    return R->profile->file_bytes > 0 ? R->profile->file_bytes : CAPTURE_MAX_DEFAULT;
}

static void execute(struct ag__run *R)
{
    const struct ag__run_opts *o = R->o;
    if (!ag__run_transition(R, AG_PHASE_EXECUTE, "child"))
        return;
    size_t nscope = 0;
    const char *const *scope = ag_packet_list(R->pk, "constraints.scope", &nscope);
    struct ag__run_env_in in = {.base = R->profile,
                                .run_dir = R->run_dir,
                                .ledger_path = o->ledger_path,
                                .store_path = o->store_path,
                                .store_url = o->store_url,
                                .policy_path = ag_policy_path(o->policy),
                                .bin = o->bin,
                                .no_store_access = o->no_store_access,
                                .addr_port = o->addr_port,
                                .store_port = o->store_port,
                                .token = R->token,
                                .addr = o->addr,
                                .ca_cert = o->ca_cert,
                                .agent_id = o->agent_id,
                                .task_id = R->task,
                                .run_id = R->r->run_id,
                                .workdir = o->workdir};
    char cfg[PATH_MAX + 16];
    snprintf(cfg, sizeof cfg, "%s/config", o->data_dir);
    in.config_path = cfg;
    struct ag__run_env env;
    R->spawn_err = ag__run_env_build(&in, &env);
    if (R->spawn_err != AG_OK) {
        snprintf(R->spawn_detail, sizeof R->spawn_detail, "%s", ag_last_error());
        return;
    }
    struct ag__child_opts co = {.profile = &env.profile,
                                .workdir = o->workdir,
                                .scope = scope,
                                .nscope = nscope,
                                .sandbox_flags = R->sandbox_flags,
                                .argv = o->argv,
                                .envp = env.envp,
                                .stdout_path = R->out_path,
                                .stderr_path = R->err_path,
                                .capture_max = ag__run_capture_max(R),
                                .pass_stdout_fd = o->pass_stdout_fd,
                                .pass_stderr_fd = o->pass_stderr_fd,
                                .timeout_ms = o->timeout_ms,
                                .grace_ms = o->grace_ms,
                                .poll_ms = o->poll_ms > 0 ? o->poll_ms : DEFAULT_POLL_MS,
                                .check = watch,
                                .check_ctx = R};
    R->last_hb = ag__mono_ms();
    if (o->interrupted && *o->interrupted) { /* a signal before the start: do not start */
        R->interrupted = 1;
        ag__run_env_free(&env);
        return;
    }
    R->spawn_err = ledger_exec(R, &env.profile);
    if (R->spawn_err == AG_OK)
        R->spawn_err = ag__child_run(&co, &R->child);
    if (R->spawn_err != AG_OK)
        snprintf(R->spawn_detail, sizeof R->spawn_detail, "%s", ag_last_error());
    else
        R->child_ran = 1;
    ag__run_env_free(&env);
}

/* ---------------------------------------------------------------- the run --- */

/* The exit status: the first thing that went wrong, in the order below. */
static void decide_outcome(struct ag__run *R)
{
    char fate[400];
    ag__run_child_fate(R, fate, sizeof fate);
    if (R->interrupted)
        ag__run_set_outcome(R, AG_RUN_INTERRUPTED, "interrupted: the child %s", fate);
    else if (R->child_ran && R->child.end == AG_CHILD_TIMEOUT)
        ag__run_set_outcome(R, AG_RUN_TIMEOUT, "the child %s", fate);
    else if (R->child_ran && R->child.end == AG_CHILD_STOPPED)
        ag__run_set_outcome(R, AG_RUN_REVOKED, "revoked while running: %s: %s", R->rev_type,
                            R->rev_details);
    else if (R->spawn_err == AG_ESANDBOX)
        ag__run_set_outcome(R, AG_RUN_SANDBOX, "%s", R->spawn_detail);
    else if (R->spawn_err == AG_ENOTFOUND)
        ag__run_set_outcome(R, AG_RUN_CHILD_FAILED, "%s", R->spawn_detail);
    else if (R->spawn_err)
        ag__run_set_outcome(R, AG_RUN_ERROR, "%s", R->spawn_detail);
    else if (!R->child_ran && R->revoked)
        ag__run_set_outcome(R, AG_RUN_REVOKED, "revoked before the child ran: %s: %s", R->rev_type,
                            R->rev_details);
    else if (!R->child_ran)
        ag__run_set_outcome(R, AG_RUN_ERROR, "the child did not run: %s",
                            R->login_error[0] ? R->login_error : "internal error");
    else if (!R->verify_ok && json_array_size(R->missing))
        ag__run_set_outcome(R, AG_RUN_CHILD_FAILED,
                            "the child %s; required artifact '%s' is missing", fate,
                            json_string_value(json_array_get(R->missing, 0)));
    else if (!R->verify_ok)
        ag__run_set_outcome(R, AG_RUN_CHILD_FAILED, "the child %s", fate);
    else if (R->revoked)
        ag__run_set_outcome(R, AG_RUN_REVOKED, "revoked: %s: %s", R->rev_type, R->rev_details);
    else
        ag__run_set_outcome(R, AG_RUN_SUCCESS, "the child %s; every phase passed", fate);
}

/* After bootstrap: login, the phases around the child, and the end of the run. */
static void governed(struct ag__run *R)
{
    ag_err err = ag__run_login(R);
    if (err != AG_OK)
        snprintf(R->login_error, sizeof R->login_error, "login: %s: %s", ag_errname(err),
                 ag_last_error());
    ag__run_transition(R, AG_PHASE_PREFLIGHT, "scope and required steps checked");
    ag__run_transition(R, AG_PHASE_PLAN, "sandbox profile and environment");
    if (R->have_token && (err = make_run_dir(R)) != AG_OK) {
        R->spawn_err = err;
        snprintf(R->spawn_detail, sizeof R->spawn_detail, "%s", ag_last_error());
    } else if (R->have_token) {
        execute(R);
    } else {
        ag__run_transition(R, AG_PHASE_EXECUTE, "no token: the child does not run");
    }
    if (!R->revoked)
        ag__run_read_revocation(R);
    ag__run_collect_deliverables(R);
    if (R->revoked) {
        ag__run_add_logs(R);
        ag__run_write_handoff(R);
        return;
    }
    ag__run_verify(R);
    if (ag__run_transition(R, AG_PHASE_PACKAGE, "artifacts and output"))
        ag__run_add_logs(R);
    if (R->revoked) {
        ag__run_write_handoff(R);
        return;
    }
    ag__run_transition(R, AG_PHASE_REPORT, "report");
    decide_outcome(R);
    ag__run_write_report(R, 1);
    ag__run_transition(R, AG_PHASE_EXIT, "exit");
    if (R->revoked)
        ag__run_write_handoff(R);
}

static void end_run(struct ag__run *R)
{
    if (R->have_token) {
        R->token_revoked = ag_auth_token_revoke(R->o->auth, R->token, NULL) == AG_OK;
        explicit_bzero(R->token, sizeof R->token);
    }
    decide_outcome(R);
    json_t *d = json_pack("{s:s,s:i,s:s}", "outcome", ag__run_outcome_name(R->outcome), "exit_code",
                          (int)R->outcome, "message", R->r->message);
    if (d && R->child_ran) {
        json_object_set_new(d, "pid", json_integer(R->child.pid));
        json_object_set_new(d, "child_exit",
                            R->child.exit_code >= 0 ? json_integer(R->child.exit_code)
                                                    : json_null());
        json_object_set_new(d, "child_signal", json_integer(R->child.term_signal));
    }
    ag__run_ignore_err(
        ag__run_ledger_note(R, "action", "run.end", R->outcome == AG_RUN_SUCCESS ? "allow" : "deny",
                            ag__run_outcome_name(R->outcome), R->outcome == AG_RUN_SUCCESS, d));
    /* A run refused before bootstrap writes its report only where it was asked to:
     * the default place, the workdir, may belong to a run that holds the lock. */
    ag__run_write_report(R, R->bootstrapped || R->o->report_path);
}

static ag_err check_opts(const struct ag__run_opts *o)
{
    struct stat st;
    if (!o || !o->store || !o->ledger || !o->policy || !o->gov || !o->auth)
        return ag__fail(AG_EINVAL, "run: store, ledger, policy, gov and auth are required");
    if (!o->agent_id || !*o->agent_id)
        return ag__fail(AG_EINVAL, "run: --agent is required");
    if (!o->argv || !o->argv[0])
        return ag__fail(AG_EINVAL, "run: no command (give it after --)");
    if (!o->workdir || stat(o->workdir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ag__fail(AG_EINVAL, "run: workdir '%s' is not a directory",
                        o->workdir ? o->workdir : "");
    if (!o->data_dir || !o->ledger_path)
        return ag__fail(AG_EINVAL, "run: data_dir and ledger_path are required");
    if (o->tier > AG_TIER_MAX)
        return ag__fail(AG_EINVAL, "run: tier %d is out of range 0..%d", o->tier, AG_TIER_MAX);
    return AG_OK;
}

ag_err ag__run(const struct ag__run_opts *o, struct ag__run_result *r)
{
    memset(r, 0, sizeof *r);
    ag_err err = check_opts(o);
    if (err != AG_OK)
        return err;
    struct ag__run *R = calloc(1, sizeof *R);
    if (!R)
        return ag__fail(AG_ENOMEM, "run: out of memory");
    R->o = o;
    R->r = r;
    R->tier = o->tier;
    R->phase = AG_PHASE_NONE;
    R->started_ms = ag__wall_ms();
    R->phases = json_array();
    R->artifacts = json_array();
    R->missing = json_array();
    R->ll_missing = json_array();
    ag__random_hex(16, r->run_id);
    if (o->task_id)
        snprintf(R->task, sizeof R->task, "%s", o->task_id);
    if (!ag__run_prepare_agent(R)) {
        if (ag__run_load_packet(R) != AG_OK) /* an unparsable stored packet: bootstrap says so */
            R->pk = NULL;
        if (R->pk && !R->task[0])
            snprintf(R->task, sizeof R->task, "%s", ag_packet_task_id(R->pk));
        if ((R->barred || !ag__run_prechecks(R)) && !ag__run_bootstrap(R))
            governed(R);
    }
    end_run(R);
    r->outcome = R->outcome;
    free(R->handoff_in);
    ag_token_info_clear(&R->tinfo);
    ag_packet_free(R->pk);
    json_decref(R->phases);
    json_decref(R->artifacts);
    json_decref(R->missing);
    json_decref(R->ll_missing);
    json_decref(R->sandbox);
    free(R);
    return AG_OK;
}
