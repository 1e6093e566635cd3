/* Bootstrap: a new run for an agent (its task, packet, tier and lock) in one guarded
 * exec, closing an abandoned run first (ag_gov_bootstrap). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/safestr.h"
#include "core/time.h"
#include "gov/gov.h"
#include "gov/lifecycle.h"
#include "gov/packet.h"

/* ----------------------------------------------------------- bootstrap ----- */

static void boot_ledger(ag_gov *g, const char *agent, const char *task, int tier,
                        enum ag_boot_code code, const char *detail, int64_t fence)
{
    struct ag__lentry le;
    ag__lentry_init(&le, "lifecycle", agent);
    le.task = task;
    le.tier = tier;
    le.phase = "BOOTSTRAP";
    le.action = "lifecycle.bootstrap";
    le.decision = code == AG_BOOT_COMPLETE ? "allow" : "deny";
    le.reason = ag_boot_code_name(code);
    le.success = code == AG_BOOT_COMPLETE;
    le.error_message = detail && *detail ? detail : NULL;
    char data[64];
    snprintf(data, sizeof data, "{\"fence\":%lld}", (long long)fence);
    le.data = fence > 0 ? data : NULL;
    AG__IGNORE(ag__gov_ledger(g, &le, NULL)); /* a refusal stands even if it cannot be ledgered */
}

/* An agent's latest revocation (its revocations:index entry, or NULL): its time, and
 * its task in `task`; 0 if none. */
static int64_t last_revocation(const char *entry, char *task, size_t cap)
{
    if (!entry)
        return 0;
    json_t *o = json_loads(entry, 0, NULL);
    if (!o)
        return 0;
    int64_t t = json_integer_value(json_object_get(o, "revoked_ms"));
    if (task)
        snprintf(task, cap, "%s", json_string_value(json_object_get(o, "task_id")) ?: "");
    json_decref(o);
    return t ? t : 1;
}

struct boot {
    ag_gov *g;
    const char *agent;
    char task[AG__ID_MAX + 1];
    int tier;
    char detail[256];
    struct ag__pkt *pk;
    char *handoff;
};

/* Registry, revocations and packet: decides AGENT_PREVIOUSLY_REVOKED and
 * NO_INSTRUCTION_PACKET / TASK_MISMATCH. */
static enum ag_boot_code boot_read_agent(struct boot *b, const char *task_arg)
{
    char kp[AG__KEY_MAX];
    ag__key_agent(kp, b->agent, "packet");
    struct ag_store_op ops[3] = {
        {.op = AG_OP_HGET, .key = AG__KEY_REGISTRY, .field = b->agent},
        {.op = AG_OP_HGET, .key = AG__KEY_REV_INDEX, .field = b->agent},
        {.op = AG_OP_GET, .key = kp},
    };
    struct ag_store_reply r[3];
    if (ag_store_exec(b->g->store, NULL, ops, 3, r, NULL)) {
        snprintf(b->detail, sizeof b->detail, "%s", ag_last_error());
        return AG_BOOT_STORE_UNAVAILABLE;
    }
    int64_t reg_ms = 0;
    b->tier = AG_TIER_MIN; /* unregistered agents run with the least privilege */
    if (r[0].type == AG_REPLY_STR) {
        json_t *o = json_loads(r[0].str, 0, NULL);
        b->tier = (int)json_integer_value(json_object_get(o, "tier"));
        reg_ms = json_integer_value(json_object_get(o, "registered_ms"));
        json_decref(o);
    }
    enum ag_boot_code c = AG_BOOT_COMPLETE;
    int64_t rev = last_revocation(r[1].type == AG_REPLY_STR ? r[1].str : NULL, NULL, 0);
    if (rev && rev >= reg_ms) {
        snprintf(b->detail, sizeof b->detail, "revoked at %lld ms and not re-registered since",
                 (long long)rev);
        c = AG_BOOT_PREVIOUSLY_REVOKED;
    } else if (r[2].type != AG_REPLY_STR) {
        snprintf(b->detail, sizeof b->detail, "no %s", kp);
        c = AG_BOOT_NO_PACKET;
    } else if (!(b->pk = ag__gov_packet_get(b->g, NULL, r[2].str))) {
        snprintf(b->detail, sizeof b->detail, "%s", ag_last_error());
        c = AG_BOOT_NO_PACKET;
    } else if (task_arg && strcmp(task_arg, ag_packet_task_id(b->pk->p)) != 0) {
        snprintf(b->detail, sizeof b->detail, "packet is for task '%s', not '%s'",
                 ag_packet_task_id(b->pk->p), task_arg);
        c = AG_BOOT_TASK_MISMATCH;
    } else {
        snprintf(b->task, sizeof b->task, "%s", ag_packet_task_id(b->pk->p));
    }
    ag_store_reply_free(r, 3);
    return c;
}

/* The task's active agent and latest handoff: a task whose previous agent was revoked
 * on it may be taken only with a handoff from that agent. */
static enum ag_boot_code boot_read_task(struct boot *b)
{
    char ka[AG__KEY_MAX], kh[AG__KEY_MAX];
    ag__key_task(ka, b->task, "active_agent");
    ag__key_handoff(kh, b->task);
    struct ag_store_op ops[2] = {{.op = AG_OP_GET, .key = ka}, {.op = AG_OP_GET, .key = kh}};
    struct ag_store_reply r[2];
    if (ag_store_exec(b->g->store, NULL, ops, 2, r, NULL)) {
        snprintf(b->detail, sizeof b->detail, "%s", ag_last_error());
        return AG_BOOT_STORE_UNAVAILABLE;
    }
    enum ag_boot_code c = AG_BOOT_COMPLETE;
    const char *prev = r[0].type == AG_REPLY_STR ? r[0].str : NULL;
    char rtask[AG__ID_MAX + 1] = "";
    int revoked_here = 0;
    if (prev && strcmp(prev, b->agent) != 0) {
        struct ag_store_op op = {.op = AG_OP_HGET, .key = AG__KEY_REV_INDEX, .field = prev};
        struct ag_store_reply rr;
        if (ag_store_exec(b->g->store, NULL, &op, 1, &rr, NULL)) {
            snprintf(b->detail, sizeof b->detail, "%s", ag_last_error());
            ag_store_reply_free(r, 2);
            return AG_BOOT_STORE_UNAVAILABLE;
        }
        revoked_here =
            last_revocation(rr.type == AG_REPLY_STR ? rr.str : NULL, rtask, sizeof rtask) &&
            strcmp(rtask, b->task) == 0;
        ag_store_reply_free(&rr, 1);
    }
    if (revoked_here) {
        json_t *h = r[1].type == AG_REPLY_STR ? json_loads(r[1].str, 0, NULL) : NULL;
        const char *hp = json_string_value(json_object_get(h, "previous_agent_id"));
        if (!hp || strcmp(hp, prev) != 0) {
            snprintf(b->detail, sizeof b->detail,
                     "agent '%s' was revoked on task '%s': a handoff from it is required", prev,
                     b->task);
            c = AG_BOOT_HANDOFF_REQUIRED;
        }
        json_decref(h);
    }
    if (c == AG_BOOT_COMPLETE && r[1].type == AG_REPLY_STR) {
        b->handoff = r[1].str;
        r[1].str = NULL;
        r[1].type = AG_REPLY_NIL;
    }
    ag_store_reply_free(r, 2);
    return c;
}

/* The ledger entry that closes an abandoned run: a run's end (kind lifecycle, phase
 * EXIT) with success 0, so agent_metrics counts it as a run that was not compliant and
 * the streak restarts, and with the error counts its budget held. */
static ag_err abandon_ledger(ag_gov *g, const struct ag__session *old,
                             const struct ag_store_reply *errs)
{
    json_t *types = json_object();
    for (size_t i = 0; types && errs->type == AG_REPLY_ARRAY && i + 1 < errs->nelems; i += 2)
        if (errs->elems[i].str && strncmp(errs->elems[i].str, "type:", 5) == 0)
            json_object_set_new(types, errs->elems[i].str + 5,
                                json_integer(strtoll(errs->elems[i + 1].str ?: "0", NULL, 10)));
    json_t *d = json_pack("{s:b,s:o,s:I,s:s,s:I,s:s,s:I}", "compliant", 0, "errors",
                          types ? types : json_object(), "fence", (json_int_t)old->fence, "from",
                          ag__phase_str(old->phase), "procedure_violations",
                          (json_int_t)ag__hfield(errs, "procedure_violations"), "step", old->step,
                          "total_errors", (json_int_t)ag__hfield(errs, "total_errors"));
    char *dj = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(d);
    struct ag__lentry le;
    ag__lentry_init(&le, "lifecycle", old->agent_id);
    le.task = old->task_id[0] ? old->task_id : NULL;
    le.tier = old->tier;
    le.phase = "EXIT";
    le.action = "lifecycle.abandon";
    le.decision = "deny";
    le.reason = "ABANDONED";
    le.success = 0;
    le.agent_version = old->agent_version[0] ? old->agent_version : NULL;
    le.data = dj;
    ag_err e = dj ? ag__gov_ledger(g, &le, NULL) : ag__fail(AG_ENOMEM, "abandon: out of memory");
    free(dj);
    return e;
}

/* A run that ended neither at EXIT nor by revocation (its agent went silent and its
 * lock expired) is closed before the new one starts: otherwise the new run's fresh
 * budget would wipe its errors and no entry would ever count it. Read under the new
 * lock (lock value lv), so no holder of the old one can still change it; ledgered
 * before anything is overwritten, so a ledger that is down leaves it to the next try. */
static enum ag_boot_code boot_close_abandoned(struct boot *b, const char *kl, const char *lv)
{
    char ks[AG__KEY_MAX], ke[AG__KEY_MAX];
    ag__key_agent(ks, b->agent, "state");
    ag__key_agent(ke, b->agent, "errors");
    struct ag_store_op ops[2] = {{.op = AG_OP_GET, .key = ks}, {.op = AG_OP_HGETALL, .key = ke}};
    struct ag_store_reply r[2];
    struct ag_store_guard guard = {kl, lv};
    int gok = 1;
    if (ag_store_exec(b->g->store, &guard, ops, 2, r, &gok)) {
        snprintf(b->detail, sizeof b->detail, "%s", ag_last_error());
        return AG_BOOT_STORE_UNAVAILABLE;
    }
    enum ag_boot_code c = gok ? AG_BOOT_COMPLETE : AG_BOOT_NO_LOCK;
    if (!gok)
        snprintf(b->detail, sizeof b->detail, "lock lost at once");
    struct ag__session old;
    if (gok && r[0].type == AG_REPLY_STR && ag__state_decode(r[0].str, &old) == AG_OK &&
        !old.revoked && old.phase != AG_PHASE_EXIT && abandon_ledger(b->g, &old, &r[1])) {
        snprintf(b->detail, sizeof b->detail, "closing the abandoned run: %s", ag_last_error());
        c = AG_BOOT_LEDGER_UNAVAILABLE;
    }
    ag_store_reply_free(r, 2);
    return c;
}

/* Takes the lock, closes an abandoned run, and records the new run's first state in
 * one guarded exec. */
static enum ag_boot_code boot_start(struct boot *b, struct ag__session *s)
{
    ag_gov *g = b->g;
    char kl[AG__KEY_MAX];
    ag__key_agent(kl, b->agent, "lock");
    memset(s, 0, sizeof *s);
    snprintf(s->agent_id, sizeof s->agent_id, "%s", b->agent);
    snprintf(s->task_id, sizeof s->task_id, "%s", b->task);
    ag__random_hex(16, s->owner);
    s->tier = b->tier;
    s->phase = AG_PHASE_BOOTSTRAP;
    memcpy(s->packet, b->pk->digest, sizeof s->packet);
    snprintf(s->agent_version, sizeof s->agent_version, "%s",
             ag_packet_agent_version(b->pk->p) ?: "");
    s->started_ms = ag__wall_ms();
    ag_err e = ag_store_lock_acquire(g->store, kl, s->owner, g->o.lock_ttl_ms, &s->fence);
    if (e == AG_ELOCKED) {
        snprintf(b->detail, sizeof b->detail, "%s is held", kl);
        return AG_BOOT_NO_LOCK;
    }
    if (e) {
        snprintf(b->detail, sizeof b->detail, "%s", ag_last_error());
        return AG_BOOT_STORE_UNAVAILABLE;
    }
    char *state = NULL, lv[AG__LOCKVAL_MAX], ks[AG__KEY_MAX], kh[AG__KEY_MAX], ke[AG__KEY_MAX],
         ka[AG__KEY_MAX], now[AG_RFC3339_LEN];
    ag__lockval(s, lv);
    enum ag_boot_code c = boot_close_abandoned(b, kl, lv);
    if (c != AG_BOOT_COMPLETE || ag__state_encode(s, NULL, &state)) {
        AG__IGNORE(ag_store_lock_release(g->store, kl, s->owner, s->fence));
        return c != AG_BOOT_COMPLETE ? c : AG_BOOT_STORE_UNAVAILABLE;
    }
    ag__key_agent(ks, b->agent, "state");
    ag__key_agent(kh, b->agent, "heartbeat");
    ag__key_agent(ke, b->agent, "errors");
    ag__key_task(ka, b->task, "active_agent");
    ag__rfc3339(s->started_ms, now);
    struct ag_store_op ops[5] = {
        {.op = AG_OP_SET, .key = ks, .value = state, .num = g->o.state_ttl_ms},
        {.op = AG_OP_SET, .key = kh, .value = now, .num = g->o.heartbeat_ttl_ms},
        {.op = AG_OP_ZADD, .key = AG__KEY_HB_INDEX, .field = b->agent, .num = s->started_ms},
        {.op = AG_OP_SET, .key = ka, .value = b->agent, .num = g->o.state_ttl_ms},
        {.op = AG_OP_DEL, .key = ke}, /* a new run starts with a fresh budget */
    };
    struct ag_store_reply r[5];
    struct ag_store_guard guard = {kl, lv};
    int gok = 1;
    e = ag_store_exec(g->store, &guard, ops, 5, r, &gok);
    ag_store_reply_free(r, 5);
    free(state);
    if (e || !gok) {
        snprintf(b->detail, sizeof b->detail, "%s", e ? ag_last_error() : "lock lost at once");
        if (!e)
            return AG_BOOT_NO_LOCK;
        AG__IGNORE(ag_store_lock_release(g->store, kl, s->owner, s->fence));
        return AG_BOOT_STORE_UNAVAILABLE;
    }
    return AG_BOOT_COMPLETE;
}

ag_err ag_gov_bootstrap(ag_gov *g, const char *agent_id, const char *task_id,
                        struct ag_bootstrap_result *r)
{
    memset(r, 0, sizeof *r);
    r->tier = -1;
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e || (task_id && (e = ag__gov_check_id("task id", task_id))))
        return e;
    struct boot b;
    memset(&b, 0, sizeof b);
    b.g = g;
    b.agent = agent_id;
    struct ag__session s;
    memset(&s, 0, sizeof s);
    enum ag_boot_code c = boot_read_agent(&b, task_id);
    if (c == AG_BOOT_COMPLETE)
        c = boot_read_task(&b);
    if (c == AG_BOOT_COMPLETE)
        c = boot_start(&b, &s);
    const char *task = b.task[0] ? b.task : task_id;
    if (c == AG_BOOT_COMPLETE) {
        struct ag__lentry le;
        ag__lentry_init(&le, "lifecycle", agent_id);
        le.task = task;
        le.tier = b.tier;
        le.phase = "BOOTSTRAP";
        le.action = "lifecycle.bootstrap";
        le.decision = "allow";
        le.reason = "BOOTSTRAP_COMPLETE";
        le.success = 1;
        le.agent_version = s.agent_version[0] ? s.agent_version : NULL;
        char data[96];
        snprintf(data, sizeof data, "{\"fence\":%lld,\"handoff\":%s}", (long long)s.fence,
                 b.handoff ? "true" : "false");
        le.data = data;
        if (ag__gov_ledger(g, &le, NULL)) {
            /* Fail closed: a run the ledger does not know about must not start. */
            snprintf(b.detail, sizeof b.detail, "%s", ag_last_error());
            char kl[AG__KEY_MAX], ks[AG__KEY_MAX];
            ag__key_agent(kl, agent_id, "lock");
            ag__key_agent(ks, agent_id, "state");
            AG__IGNORE(ag_store_del(g->store, ks));
            AG__IGNORE(ag_store_lock_release(g->store, kl, s.owner, s.fence));
            c = AG_BOOT_LEDGER_UNAVAILABLE;
        } else {
            ag__gov_sess_put(g, &s);
        }
    } else {
        boot_ledger(g, agent_id, task, b.tier, c, b.detail, 0);
    }
    r->code = c;
    r->tier = b.tier;
    r->fence = c == AG_BOOT_COMPLETE ? s.fence : 0;
    r->task_id = task ? strdup(task) : NULL;
    if (c == AG_BOOT_COMPLETE) {
        r->handoff_json = b.handoff;
        b.handoff = NULL;
    }
    free(b.handoff);
    ag__gov_packet_put(g, b.pk);
    if (c != AG_BOOT_COMPLETE)
        (void)ag__fail(AG_EPERM, "%s: %s", ag_boot_code_name(c), b.detail);
    return AG_OK;
}
