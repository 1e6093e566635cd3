/* Before the child runs: the agent and its packet, the prechecks (Landlock, policy),
 * the bootstrap and the login with a short-lived secret ID (run_state.h). */
#include "runner/run_prep.h"

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

/* A secret ID only has to live from its creation to the login a few ms later. */
#define SECRET_ID_TTL_MS 60000
/* ----------------------------------------------------------- agent, packet --- */

ag_err ag__run_load_packet(struct ag__run *R)
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
int ag__run_prepare_agent(struct ag__run *R)
{
    const struct ag__run_opts *o = R->o;
    struct ag_agent_status st;
    ag_err err = ag_gov_status(o->gov, o->agent_id, &st);
    if (err != AG_OK) {
        ag__run_set_outcome(R, AG_RUN_REFUSED, "STORE_UNAVAILABLE: %s", ag_last_error());
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
        ag__run_set_outcome(
            R, AG_RUN_REFUSED,
            "TIER_MISMATCH: agent '%s' is registered at tier %d, not %d (use agentgov "
            "agent promote/demote)",
            o->agent_id, tier, o->tier);
        return 1;
    } else if (o->packet_json)
        err = ag_gov_set_packet(o->gov, o->agent_id, o->packet_json);
    if (err != AG_OK) {
        ag__run_set_outcome(R, AG_RUN_REFUSED, "INVALID_PACKET: %s", ag_last_error());
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
static struct ag_sandbox_profile needed_profile(const struct ag__run *R)
{
    static const uint16_t some_port = 1;
    struct ag_sandbox_profile p = *R->profile;
    if (p.nconnect == 0 && (R->o->addr_port > 0 || R->o->store_port > 0)) {
        p.connect_ports = &some_port;
        p.nconnect = 1;
    }
    return p;
}

static void refuse_landlock(struct ag__run *R, int abi)
{
    if (abi == 0) {
        ag__run_set_outcome(R, AG_RUN_SANDBOX,
                            "the kernel has no Landlock: refusing to run unconfined (pass "
                            "--allow-unsandboxed to run with seccomp and rlimits only)");
        ag__run_ignore_err(ag__run_ledger_note(R, "lifecycle", "run.refuse", "deny",
                                               "SANDBOX_UNAVAILABLE", 0,
                                               json_pack("{s:s}", "landlock", "unavailable")));
        return;
    }
    ag__run_set_outcome(
        R, AG_RUN_SANDBOX,
        "the kernel's Landlock (ABI %d) lacks %s: refusing to run with that hole in "
        "the sandbox (pass --allow-unsandboxed to run anyway)",
        abi, R->ll_missing_txt);
    ag__run_ignore_err(
        ag__run_ledger_note(R, "lifecycle", "run.refuse", "deny", "SANDBOX_UNAVAILABLE", 0,
                            json_pack("{s:s,s:i,s:O}", "landlock", "incomplete", "landlock_abi",
                                      abi, "missing", R->ll_missing)));
}

/* Fails closed: Landlock, and every Landlock feature the profile relies on, must be
 * there, unless --allow-unsandboxed (then run.exec records what is missing). Returns
 * 0 to go on, 1 after a refusal (ledgered). */
static int check_landlock(struct ag__run *R)
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
int ag__run_prechecks(struct ag__run *R)
{
    char problem[400];
    if (R->pk && !ag__run_preflight(R->o->policy, R->pk, R->tier, problem, sizeof problem)) {
        ag__run_set_outcome(R, AG_RUN_REFUSED, "PREFLIGHT_FAILED: %s", problem);
        ag__run_ignore_err(ag__run_ledger_note(R, "lifecycle", "run.refuse", "deny",
                                               "PREFLIGHT_FAILED", 0,
                                               json_pack("{s:s}", "problem", problem)));
        return 1;
    }
    R->profile = ag_policy_sandbox(R->o->policy, R->tier);
    if (!R->profile) {
        ag__run_set_outcome(R, AG_RUN_SANDBOX, "no sandbox profile for tier %d", R->tier);
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
        ag__run_set_outcome(R, AG_RUN_SANDBOX, "sandbox: %s", ag_last_error());
        ag__run_ignore_err(ag__run_ledger_note(R, "lifecycle", "run.refuse", "deny",
                                               "SANDBOX_UNAVAILABLE", 0,
                                               json_pack("{s:s}", "problem", ag_last_error())));
        return 1;
    }
    return 0;
}

int ag__run_bootstrap(struct ag__run *R)
{
    struct ag_bootstrap_result br;
    ag_err err = ag_gov_bootstrap(R->o->gov, R->o->agent_id, R->o->task_id, &br);
    if (err != AG_OK) {
        ag__run_set_outcome(R, AG_RUN_ERROR, "bootstrap: %s", ag_last_error());
        return 1;
    }
    snprintf(R->boot_code, sizeof R->boot_code, "%s", ag_boot_code_name(br.code));
    if (br.task_id)
        snprintf(R->task, sizeof R->task, "%s", br.task_id);
    if (br.code != AG_BOOT_COMPLETE) {
        ag__run_set_outcome(R, AG_RUN_REFUSED, "%s", ag_last_error());
        ag_bootstrap_result_clear(&br);
        return 1;
    }
    R->bootstrapped = 1;
    R->phase = AG_PHASE_BOOTSTRAP;
    R->tier = br.tier;
    R->handoff_in = br.handoff_json;
    br.handoff_json = NULL;
    ag_bootstrap_result_clear(&br);
    ag__run_note_phase(R, AG_PHASE_BOOTSTRAP, "bootstrap", 1, NULL);
    if (!R->pk && ag__run_load_packet(R) != AG_OK) {
        ag__run_set_outcome(R, AG_RUN_ERROR, "packet: %s", ag_last_error());
        return 1;
    }
    return 0;
}

/* ----------------------------------------------------------------- login ---- */

static int64_t token_ttl(struct ag__run *R)
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
ag_err ag__run_login(struct ag__run *R)
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
