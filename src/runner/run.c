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
#include "runner/run_preflight.h"
#include "runner/sandbox.h"

#define DEFAULT_POLL_MS 150
/* A secret ID only has to live from its creation to the login a few ms later. */
#define SECRET_ID_TTL_MS 60000
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

/* Everything one run accumulates; the report is rendered from it. */
struct run {
    const struct ag__run_opts *o;
    struct ag__run_result *r;
    char task[160];
    int tier;
    ag_packet *pk;
    const struct ag_sandbox_profile *profile;
    char boot_code[40];
    char *handoff_in; /* the task's handoff at bootstrap */
    int bootstrapped;
    int barred;          /* revoked before this run: bootstrap will refuse it */
    enum ag_phase phase; /* last phase recorded */
    char step[130];
    json_t *phases; /* [{phase, step, ok, at, detail}] */
    json_t *artifacts;
    json_t *missing;
    json_t *sandbox; /* the profile as applied */
    int confined;
    int sandbox_flags;  /* AG_SANDBOX_* for the spawn */
    json_t *ll_missing; /* Landlock features the run lacks (--allow-unsandboxed) */
    char ll_missing_txt[300];
    char run_dir[PATH_MAX];
    char out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
    /* credentials */
    char token[AG_TOKEN_BUF];
    struct ag_token_info tinfo;
    int have_token, token_revoked;
    /* the child */
    int child_ran;
    ag_err spawn_err;
    char spawn_detail[256];
    struct ag__child_result child;
    int64_t polls, last_hb;
    int interrupted; /* the watch stopped the child because of a signal */
    int watch_failures;
    char login_error[256];
    /* revocation */
    int revoked;
    char rev_type[64], rev_details[256], rev_phase[32], rev_step[130];
    int verify_ok;
    int handoff_written;
    enum ag__run_outcome outcome;
    int outcome_set;
    int64_t started_ms;
};

static void set_outcome(struct run *R, enum ag__run_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_outcome(struct run *R, enum ag__run_outcome o, const char *fmt, ...)
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

/* For best-effort calls: their failure changes nothing for the run (a refusal stays a
 * refusal). Passing the value on counts as using it for warn_unused_result. */
static void ignore_err(ag_err e)
{
    (void)e;
}

/* One entry of the runner's own (kind action or lifecycle); data is a JSON object
 * (stolen). Failure is returned: the caller decides whether it is fatal. */
static ag_err ledger_note(struct run *R, const char *kind, const char *action, const char *decision,
                          const char *reason, int success, json_t *data)
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

static void note_phase(struct run *R, enum ag_phase ph, const char *step, int ok,
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
static int read_revocation(struct run *R)
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
static int transition(struct run *R, enum ag_phase ph, const char *step)
{
    if (R->revoked || !R->bootstrapped)
        return 0;
    struct ag_transition_result tr;
    ag_err err = ag_gov_transition(R->o->gov, R->o->agent_id, ph, step, &tr);
    if (err == AG_OK && tr.ok) {
        R->phase = ph;
        snprintf(R->step, sizeof R->step, "%s", step ? step : "");
        note_phase(R, ph, step, 1, NULL);
        return 1;
    }
    const char *detail = err ? ag_last_error() : tr.detail;
    note_phase(R, ph, step, 0, detail);
    if (read_revocation(R) != 1) {
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

/* ----------------------------------------------------------- agent, packet --- */

static ag_err load_packet(struct run *R)
{
    char key[300], *json = NULL;
    if (R->o->packet_json) {
        json = strdup(R->o->packet_json);
        if (!json)
            return AG_ENOMEM;
    } else {
        snprintf(key, sizeof key, "agent:%s:packet", R->o->agent_id);
        ag_err err = ag_store_get(R->o->store, key, &json);
        if (err != AG_OK || !json)
            return err;
    }
    ag_err err = ag_packet_parse(json, strlen(json), &R->pk);
    free(json);
    return err;
}

/* Registers the agent or checks its tier, and stores the packet. Returns 0 to go
 * on, or 1 after setting a refusal. A barred (revoked) agent is left untouched, so
 * that bootstrap refuses it: re-registering would lift the bar. */
static int prepare_agent(struct run *R)
{
    const struct ag__run_opts *o = R->o;
    struct ag_agent_status st;
    ag_err err = ag_gov_status(o->gov, o->agent_id, &st);
    if (err != AG_OK) {
        set_outcome(R, AG_RUN_REFUSED, "STORE_UNAVAILABLE: %s", ag_last_error());
        return 1;
    }
    int registered = st.registered, barred = st.revoked, tier = st.tier;
    ag_agent_status_clear(&st);
    R->barred = barred;
    if (barred)
        return 0;
    if (!registered)
        err = ag_gov_register(o->gov, o->agent_id, o->tier >= 0 ? o->tier : 0, o->packet_json);
    else if (o->tier >= 0 && o->tier != tier) {
        set_outcome(R, AG_RUN_REFUSED,
                    "TIER_MISMATCH: agent '%s' is registered at tier %d, not %d (use agentgov "
                    "agent promote/demote)",
                    o->agent_id, tier, o->tier);
        return 1;
    } else if (o->packet_json)
        err = ag_gov_set_packet(o->gov, o->agent_id, o->packet_json);
    if (err != AG_OK) {
        set_outcome(R, AG_RUN_REFUSED, "INVALID_PACKET: %s", ag_last_error());
        return 1;
    }
    R->tier = registered ? tier : (o->tier >= 0 ? o->tier : 0);
    return 0;
}

/* The Landlock ABI the run decides on: the kernel's, which tests may only lower
 * (AGENTGOV_TEST_NO_LANDLOCK=1: none; AGENTGOV_TEST_LANDLOCK_ABI=N). The sandbox is
 * always built for the kernel's ABI, so these can make a run refuse, or record
 * features as missing, and never weaken it. */
static int decision_abi(void)
{
    int abi = ag__landlock_abi();
    const char *none = getenv("AGENTGOV_TEST_NO_LANDLOCK");
    const char *sim = getenv("AGENTGOV_TEST_LANDLOCK_ABI");
    if (none && strcmp(none, "1") == 0)
        return 0;
    if (sim && *sim >= '0' && *sim <= '9' && atoi(sim) < abi)
        return atoi(sim);
    return abi;
}

/* The profile whose needs are checked: the tier's, with a TCP port when the child
 * will get the daemon's or the store's (the profile it runs under has them). */
static struct ag_sandbox_profile needed_profile(const struct run *R)
{
    static const uint16_t some_port = 1;
    struct ag_sandbox_profile p = *R->profile;
    if (p.nconnect == 0 && (R->o->addr_port > 0 || R->o->store_port > 0)) {
        p.connect_ports = &some_port;
        p.nconnect = 1;
    }
    return p;
}

static void refuse_landlock(struct run *R, int abi)
{
    if (abi == 0) {
        set_outcome(R, AG_RUN_SANDBOX,
                    "the kernel has no Landlock: refusing to run unconfined (pass "
                    "--allow-unsandboxed to run with seccomp and rlimits only)");
        ignore_err(ledger_note(R, "lifecycle", "run.refuse", "deny", "SANDBOX_UNAVAILABLE", 0,
                               json_pack("{s:s}", "landlock", "unavailable")));
        return;
    }
    set_outcome(R, AG_RUN_SANDBOX,
                "the kernel's Landlock (ABI %d) lacks %s: refusing to run with that hole in "
                "the sandbox (pass --allow-unsandboxed to run anyway)",
                abi, R->ll_missing_txt);
    ignore_err(ledger_note(R, "lifecycle", "run.refuse", "deny", "SANDBOX_UNAVAILABLE", 0,
                           json_pack("{s:s,s:i,s:O}", "landlock", "incomplete", "landlock_abi", abi,
                                     "missing", R->ll_missing)));
}

/* Fails closed: Landlock, and every Landlock feature the profile relies on, must be
 * there, unless --allow-unsandboxed (then run.exec records what is missing). Returns
 * 0 to go on, 1 after a refusal (ledgered). */
static int check_landlock(struct run *R)
{
    struct ag_sandbox_profile need = needed_profile(R);
    int abi = decision_abi();
    const char *v[8];
    size_t n = ag__sandbox_missing(&need, abi, v, 8);
    ag__sandbox_missing_text(&need, abi, R->ll_missing_txt, sizeof R->ll_missing_txt);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(R->ll_missing, json_string(v[i]));
    if (n == 0)
        return 0;
    if (R->o->allow_unsandboxed) {
        R->sandbox_flags = AG_SANDBOX_ALLOW_NO_LANDLOCK;
        return 0;
    }
    refuse_landlock(R, abi);
    return 1;
}

/* Checks that need no lock: the packet's preflight and the sandbox. Returns 0 to go
 * on, or 1 after setting a refusal (ledgered). */
static int prechecks(struct run *R)
{
    char problem[400];
    if (R->pk && !ag__run_preflight(R->o->policy, R->pk, R->tier, problem, sizeof problem)) {
        set_outcome(R, AG_RUN_REFUSED, "PREFLIGHT_FAILED: %s", problem);
        ignore_err(ledger_note(R, "lifecycle", "run.refuse", "deny", "PREFLIGHT_FAILED", 0,
                               json_pack("{s:s}", "problem", problem)));
        return 1;
    }
    R->profile = ag_policy_sandbox(R->o->policy, R->tier);
    if (!R->profile) {
        set_outcome(R, AG_RUN_SANDBOX, "no sandbox profile for tier %d", R->tier);
        return 1;
    }
    if (check_landlock(R))
        return 1;
    /* Everything that can fail in the sandbox fails here, before the lock is taken. */
    struct ag__sandbox *sb = NULL;
    ag_err err = ag__sandbox_prepare(R->profile, R->o->workdir, NULL, 0, R->sandbox_flags, &sb);
    R->confined = err == AG_OK && ag__sandbox_landlock_abi(sb) > 0 && decision_abi() > 0;
    ag__sandbox_free(sb);
    if (err != AG_OK) {
        set_outcome(R, AG_RUN_SANDBOX, "sandbox: %s", ag_last_error());
        ignore_err(ledger_note(R, "lifecycle", "run.refuse", "deny", "SANDBOX_UNAVAILABLE", 0,
                               json_pack("{s:s}", "problem", ag_last_error())));
        return 1;
    }
    return 0;
}

static int bootstrap(struct run *R)
{
    struct ag_bootstrap_result br;
    ag_err err = ag_gov_bootstrap(R->o->gov, R->o->agent_id, R->o->task_id, &br);
    if (err != AG_OK) {
        set_outcome(R, AG_RUN_ERROR, "bootstrap: %s", ag_last_error());
        return 1;
    }
    snprintf(R->boot_code, sizeof R->boot_code, "%s", ag_boot_code_name(br.code));
    if (br.task_id)
        snprintf(R->task, sizeof R->task, "%s", br.task_id);
    if (br.code != AG_BOOT_COMPLETE) {
        set_outcome(R, AG_RUN_REFUSED, "%s", ag_last_error());
        ag_bootstrap_result_clear(&br);
        return 1;
    }
    R->bootstrapped = 1;
    R->phase = AG_PHASE_BOOTSTRAP;
    R->tier = br.tier;
    R->handoff_in = br.handoff_json;
    br.handoff_json = NULL;
    ag_bootstrap_result_clear(&br);
    note_phase(R, AG_PHASE_BOOTSTRAP, "bootstrap", 1, NULL);
    if (!R->pk && load_packet(R) != AG_OK) {
        set_outcome(R, AG_RUN_ERROR, "packet: %s", ag_last_error());
        return 1;
    }
    return 0;
}

/* ----------------------------------------------------------------- login ---- */

static int64_t token_ttl(struct run *R)
{
    const struct ag__run_opts *o = R->o;
    struct ag_tier_info ti = {0};
    if (ag_policy_tier(o->policy, R->tier, &ti) != AG_OK)
        ti.max_ttl_ms = 0;
    int64_t ttl = o->token_ttl_ms;
    if (ttl <= 0)
        ttl = o->timeout_ms > 0 ? o->timeout_ms + o->grace_ms + 1000 : ti.token_ttl_ms;
    if (ti.max_ttl_ms > 0 && ttl > ti.max_ttl_ms)
        ttl = ti.max_ttl_ms;
    return ttl > 0 ? ttl : 3600000;
}

/* An AppRole role for the agent ("run.<agent id>", bound to it and its tier), a
 * one-use secret ID, and a login: the child's short-lived token. */
static ag_err login(struct run *R)
{
    struct ag_role role;
    memset(&role, 0, sizeof role);
    snprintf(role.name, sizeof role.name, "run.%.120s", R->o->agent_id);
    for (char *p = role.name; *p; p++)
        if (*p == '@')
            *p = '_';
    snprintf(role.agent_id, sizeof role.agent_id, "%s", R->o->agent_id);
    role.tier = R->tier;
    role.token_ttl_ms = role.token_max_ttl_ms = token_ttl(R);
    role.secret_id_ttl_ms = SECRET_ID_TTL_MS;
    role.secret_id_num_uses = 1;
    struct ag_role old;
    if (ag_auth_role_read(R->o->auth, role.name, &old) == AG_OK)
        snprintf(role.role_id, sizeof role.role_id, "%s", old.role_id);
    char sid[AG_UUID_BUF];
    ag_err err = ag_auth_role_write(R->o->auth, &role);
    err = err ? err : ag_auth_secret_id_create(R->o->auth, role.name, -1, -1, sid, NULL);
    err = err ? err : ag_auth_login(R->o->auth, role.role_id, sid, NULL, R->token, &R->tinfo);
    explicit_bzero(sid, sizeof sid);
    R->have_token = err == AG_OK;
    return err;
}

/* ----------------------------------------------------------------- execute --- */

/* Fails closed: a child whose revocation cannot be checked (the store does not
 * answer) for WATCH_FAILURES_MAX polls in a row is stopped. */
static int unwatchable(struct run *R, char *why, size_t cap)
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
    struct run *R = ctx;
    const struct ag__run_opts *o = R->o;
    if (o->interrupted && *o->interrupted) {
        R->interrupted = 1;
        snprintf(why, cap, "interrupted: the runner received a signal");
        return 1;
    }
    int rv = read_revocation(R);
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
        ignore_err(ag_gov_revoke(o->gov, o->agent_id, what, details));
        read_revocation(R);
        snprintf(why, cap, "revoked: %s: %s", R->rev_type, R->rev_details);
        return 1;
    }
    int64_t now = ag__mono_ms();
    if (now - R->last_hb >= HEARTBEAT_MS) {
        struct ag_transition_result tr;
        R->last_hb = now;
        if (ag_gov_heartbeat(o->gov, o->agent_id, &tr) == AG_OK && !tr.ok &&
            tr.reason == AG_REASON_LOCK_LOST && read_revocation(R) != 1) {
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

static ag_err make_run_dir(struct run *R)
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
static ag_err ledger_exec(struct run *R, const struct ag_sandbox_profile *applied)
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
    return ledger_note(R, "action", "run.exec", "allow", how, -1, d);
}

/* The capture files live in the data directory: each keeps at most the tier's file
 * size limit of its stream (or CAPTURE_MAX_DEFAULT without one). */
static int64_t capture_max(const struct run *R)
{
    return R->profile->file_bytes > 0 ? R->profile->file_bytes : CAPTURE_MAX_DEFAULT;
}

static void execute(struct run *R)
{
    const struct ag__run_opts *o = R->o;
    if (!transition(R, AG_PHASE_EXECUTE, "child"))
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
                                .capture_max = capture_max(R),
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

/* ------------------------------------------------------ verify, package ----- */

static void add_artifact(struct run *R, const char *name, const char *path, const char *kind)
{
    char hex[65];
    int64_t bytes = 0;
    if (ag__run_hash_file(path, hex, &bytes) != AG_OK)
        return;
    json_array_append_new(R->artifacts,
                          json_pack("{s:s,s:s,s:s,s:I,s:s}", "name", name, "path", path, "sha256",
                                    hex, "bytes", (json_int_t)bytes, "kind", kind));
    if (R->task[0])
        ignore_err(ag_gov_add_artifact(R->o->gov, R->task, R->o->agent_id, name, hex));
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
static void collect_deliverables(struct run *R)
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

static void verify(struct run *R)
{
    int exit_ok = R->child_ran && R->child.end == AG_CHILD_EXITED && R->child.exit_code == 0;
    R->verify_ok = exit_ok && json_array_size(R->missing) == 0;
    char step[160];
    snprintf(step, sizeof step, "exit %d, %zu required artifact(s) missing",
             R->child_ran ? R->child.exit_code : -1, json_array_size(R->missing));
    if (!transition(R, AG_PHASE_VERIFY, step) || R->verify_ok)
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
        read_revocation(R);
}

static void add_logs(struct run *R)
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

static json_t *artifact_names(const struct run *R)
{
    json_t *a = json_array();
    for (size_t i = 0; i < json_array_size(R->artifacts); i++)
        json_array_append(a, json_object_get(json_array_get(R->artifacts, i), "name"));
    return a;
}

static const char *child_fate(const struct run *R, char *buf, size_t cap)
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
static void write_handoff(struct run *R)
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
             child_fate(R, fate, sizeof fate), cmd ? cmd : "?");
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

static json_t *child_json(const struct run *R)
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
    json_object_set_new(o, "capture_max_bytes", json_integer(capture_max(R)));
    json_object_set_new(o, "leftover_processes", json_integer(c->leftovers));
    json_object_set_new(o, "leftover_alive", json_integer(c->leftovers_alive));
    return o;
}

static json_t *report_json(const struct run *R)
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
static void write_report(struct run *R, int to_file)
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

/* ---------------------------------------------------------------- the run --- */

/* The exit status: the first thing that went wrong, in the order below. */
static void decide_outcome(struct run *R)
{
    char fate[400];
    child_fate(R, fate, sizeof fate);
    if (R->interrupted)
        set_outcome(R, AG_RUN_INTERRUPTED, "interrupted: the child %s", fate);
    else if (R->child_ran && R->child.end == AG_CHILD_TIMEOUT)
        set_outcome(R, AG_RUN_TIMEOUT, "the child %s", fate);
    else if (R->child_ran && R->child.end == AG_CHILD_STOPPED)
        set_outcome(R, AG_RUN_REVOKED, "revoked while running: %s: %s", R->rev_type,
                    R->rev_details);
    else if (R->spawn_err == AG_ESANDBOX)
        set_outcome(R, AG_RUN_SANDBOX, "%s", R->spawn_detail);
    else if (R->spawn_err == AG_ENOTFOUND)
        set_outcome(R, AG_RUN_CHILD_FAILED, "%s", R->spawn_detail);
    else if (R->spawn_err)
        set_outcome(R, AG_RUN_ERROR, "%s", R->spawn_detail);
    else if (!R->child_ran && R->revoked)
        set_outcome(R, AG_RUN_REVOKED, "revoked before the child ran: %s: %s", R->rev_type,
                    R->rev_details);
    else if (!R->child_ran)
        set_outcome(R, AG_RUN_ERROR, "the child did not run: %s",
                    R->login_error[0] ? R->login_error : "internal error");
    else if (!R->verify_ok && json_array_size(R->missing))
        set_outcome(R, AG_RUN_CHILD_FAILED, "the child %s; required artifact '%s' is missing", fate,
                    json_string_value(json_array_get(R->missing, 0)));
    else if (!R->verify_ok)
        set_outcome(R, AG_RUN_CHILD_FAILED, "the child %s", fate);
    else if (R->revoked)
        set_outcome(R, AG_RUN_REVOKED, "revoked: %s: %s", R->rev_type, R->rev_details);
    else
        set_outcome(R, AG_RUN_SUCCESS, "the child %s; every phase passed", fate);
}

/* After bootstrap: login, the phases around the child, and the end of the run. */
static void governed(struct run *R)
{
    ag_err err = login(R);
    if (err != AG_OK)
        snprintf(R->login_error, sizeof R->login_error, "login: %s: %s", ag_errname(err),
                 ag_last_error());
    transition(R, AG_PHASE_PREFLIGHT, "scope and required steps checked");
    transition(R, AG_PHASE_PLAN, "sandbox profile and environment");
    if (R->have_token && (err = make_run_dir(R)) != AG_OK) {
        R->spawn_err = err;
        snprintf(R->spawn_detail, sizeof R->spawn_detail, "%s", ag_last_error());
    } else if (R->have_token) {
        execute(R);
    } else {
        transition(R, AG_PHASE_EXECUTE, "no token: the child does not run");
    }
    if (!R->revoked)
        read_revocation(R);
    collect_deliverables(R);
    if (R->revoked) {
        add_logs(R);
        write_handoff(R);
        return;
    }
    verify(R);
    if (transition(R, AG_PHASE_PACKAGE, "artifacts and output"))
        add_logs(R);
    if (R->revoked) {
        write_handoff(R);
        return;
    }
    transition(R, AG_PHASE_REPORT, "report");
    decide_outcome(R);
    write_report(R, 1);
    transition(R, AG_PHASE_EXIT, "exit");
    if (R->revoked)
        write_handoff(R);
}

static void end_run(struct run *R)
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
    ignore_err(ledger_note(R, "action", "run.end", R->outcome == AG_RUN_SUCCESS ? "allow" : "deny",
                           ag__run_outcome_name(R->outcome), R->outcome == AG_RUN_SUCCESS, d));
    /* A run refused before bootstrap writes its report only where it was asked to:
     * the default place, the workdir, may belong to a run that holds the lock. */
    write_report(R, R->bootstrapped || R->o->report_path);
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
    struct run *R = calloc(1, sizeof *R);
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
    if (!prepare_agent(R)) {
        if (load_packet(R) != AG_OK) /* an unparsable stored packet: bootstrap says so */
            R->pk = NULL;
        if (R->pk && !R->task[0])
            snprintf(R->task, sizeof R->task, "%s", ag_packet_task_id(R->pk));
        if ((R->barred || !prechecks(R)) && !bootstrap(R))
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
