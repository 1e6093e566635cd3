/* The governed lifecycle: bootstrap, phase transitions, the authorize hot path, error
 * budgets and revocation. Each step is one atomic ag_store_exec where the seed made
 * several round trips; the lock value (fence + owner) guards every write a running
 * agent makes, so a holder whose lock expired and was taken cannot write. */
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

#define OK_REASON AG_REASON_COUNT /* "no reason to refuse" in the helpers below */

static const char *const boot_names[] = {
#define AG__BOOT_STR(n, s) s,
    AG_BOOT_MAP(AG__BOOT_STR)
#undef AG__BOOT_STR
};

const char *ag_boot_code_name(enum ag_boot_code c)
{
    return c >= 0 && c < AG_BOOT_COUNT ? boot_names[c] : "";
}

void ag_bootstrap_result_clear(struct ag_bootstrap_result *r)
{
    free(r->task_id);
    free(r->handoff_json);
    memset(r, 0, sizeof *r);
}

const char *ag__budget_trigger(const struct ag_error_budget *b, int64_t total, int64_t same,
                               int64_t violations)
{
    if (violations > 0 && violations >= b->max_procedure_violations)
        return "PROCEDURE_VIOLATION";
    if (same >= b->max_same_error_repeats)
        return "ERROR_REPEATED";
    if (total >= b->max_total_errors)
        return "ERROR_BUDGET_EXCEEDED";
    return NULL;
}

static int64_t hfield(const struct ag_store_reply *r, const char *field)
{
    for (size_t i = 0; r->type == AG_REPLY_ARRAY && i + 1 < r->nelems; i += 2)
        if (r->elems[i].str && strcmp(r->elems[i].str, field) == 0)
            return r->elems[i + 1].str ? strtoll(r->elems[i + 1].str, NULL, 10) : 0;
    return 0;
}

static void lockval(const struct ag__session *s, char *buf)
{
    ag_store_lock_value(s->fence, s->owner, buf, AG__LOCKVAL_MAX);
}

static void set_result(struct ag_transition_result *r, enum ag_reason why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_result(struct ag_transition_result *r, enum ag_reason why, const char *fmt, ...)
{
    r->ok = 0;
    r->reason = why;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

/* Text as the ledger can hold it: s itself when it is UTF-8, else a copy in buf with
 * the bad bytes as %XX (a request refused as invalid, an error message, is still recorded). */
static const char *ledger_text(const char *s, char *buf, size_t cap)
{
    if (ag__utf8_valid(s, strlen(s)))
        return s;
    ag__utf8_safe_copy(buf, cap, s);
    return buf;
}

/* The agent's session: from the cache, else from agent:{id}:state (one read). Returns
 * OK_REASON, or why the agent cannot act. */
static enum ag_reason session_for(ag_gov *g, const char *agent, struct ag__session *s)
{
    if (ag__gov_sess_get(g, agent, s))
        return OK_REASON;
    char key[AG__KEY_MAX], *v = NULL;
    ag__key_agent(key, agent, "state");
    if (ag_store_get(g->store, key, &v))
        return AG_REASON_STORE_UNAVAILABLE;
    if (!v)
        return AG_REASON_NOT_BOOTSTRAPPED;
    ag_err e = ag__state_decode(v, s);
    free(v);
    if (e)
        return AG_REASON_INTERNAL_ERROR;
    if (s->revoked)
        return AG_REASON_AGENT_REVOKED;
    if (s->phase == AG_PHASE_EXIT)
        return AG_REASON_NOT_BOOTSTRAPPED; /* finished: a new run needs a bootstrap */
    ag__gov_sess_put(g, s);
    return OK_REASON;
}

/* The packet in force for a session: cached by digest, else read and parsed. */
static struct ag__pkt *packet_for(ag_gov *g, const char *agent, const char *digest)
{
    struct ag__pkt *pk = digest && *digest ? ag__gov_packet_get(g, digest, NULL) : NULL;
    if (pk)
        return pk;
    char key[AG__KEY_MAX], *v = NULL;
    ag__key_agent(key, agent, "packet");
    if (ag_store_get(g->store, key, &v))
        return NULL;
    if (!v) {
        (void)ag__fail(AG_ENOTFOUND, "agent '%s' has no instruction packet", agent);
        return NULL;
    }
    pk = ag__gov_packet_get(g, NULL, v);
    free(v);
    return pk;
}

/* ------------------------------------------------------------- revocation --- */

static ag_err push_revocation(ag_gov *g, const struct ag__session *s, const char *type,
                              const char *details, int64_t now)
{
    char ts[AG_RFC3339_LEN], ks[AG__KEY_MAX], kl[AG__KEY_MAX], kh[AG__KEY_MAX];
    ag__rfc3339(now, ts);
    json_t *ent = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i}", "agent_id", s->agent_id,
                            "task_id", s->task_id, "type", type, "details", details, "phase",
                            ag__phase_str(s->phase), "step", s->step, "revoked_at", ts,
                            "revoked_ms", (json_int_t)now, "tier", s->tier);
    json_t *extra = json_pack("{s:s,s:{s:s,s:s},s:s}", "revoked_at", ts, "revocation", "type", type,
                              "details", details, "prev_phase", ag__phase_str(s->phase));
    char *ej = ent ? json_dumps(ent, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *xj = extra ? json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(ent);
    json_decref(extra);
    struct ag__session rs = *s;
    rs.revoked = 1;
    char *state = NULL;
    ag_err e = (ej && xj) ? ag__state_encode(&rs, xj, &state) : ag__fail(AG_ENOMEM, "revoke: oom");
    if (!e) {
        ag__key_agent(ks, s->agent_id, "state");
        ag__key_agent(kl, s->agent_id, "lock");
        ag__key_agent(kh, s->agent_id, "heartbeat");
        struct ag_store_op ops[6] = {
            {.op = AG_OP_SET, .key = ks, .value = state, .num = g->o.state_ttl_ms},
            {.op = AG_OP_DEL, .key = kl},
            {.op = AG_OP_DEL, .key = kh},
            {.op = AG_OP_ZREM, .key = AG__KEY_HB_INDEX, .field = s->agent_id},
            {.op = AG_OP_RPUSH, .key = AG__KEY_REVOCATIONS, .value = ej},
            {.op = AG_OP_HSET, .key = AG__KEY_REV_INDEX, .field = s->agent_id, .value = ej},
        };
        struct ag_store_reply r[6];
        e = ag_store_exec(g->store, NULL, ops, 6, r, NULL);
        ag_store_reply_free(r, 6);
    }
    free(state);
    free(ej);
    free(xj);
    return e;
}

/* A task whose active agent was revoked on it may be taken by another agent only with
 * a handoff from it (docs/packets.md): task:{id}:active_agent is what says so, so it
 * loses its TTL here and keeps naming the revoked agent until the next bootstrap on the
 * task replaces it. With the state's TTL the requirement would lapse after a day. The
 * guard leaves it alone if another agent holds the task meanwhile. Best effort: the
 * revocation itself stands either way. */
static void pin_active_agent(ag_gov *g, const struct ag__session *s)
{
    if (!s->task_id[0])
        return;
    char ka[AG__KEY_MAX];
    ag__key_task(ka, s->task_id, "active_agent");
    struct ag_store_op op = {.op = AG_OP_SET, .key = ka, .value = s->agent_id, .num = 0};
    struct ag_store_guard guard = {ka, s->agent_id};
    struct ag_store_reply r;
    if (ag_store_exec(g->store, &guard, &op, 1, &r, NULL) == AG_OK)
        ag_store_reply_free(&r, 1);
}

/* Revokes the agent whose current session (possibly blank) is s. */
static ag_err revoke_session(ag_gov *g, struct ag__session *s, const char *type,
                             const char *details)
{
    int64_t now = ag__wall_ms();
    ag_err e = push_revocation(g, s, type, details, now);
    if (e)
        return e;
    pin_active_agent(g, s);
    ag__gov_sess_drop(g, s->agent_id);
    int found = 0, tier = -1;
    if (ag__registry_get(g, s->agent_id, &found, &tier, NULL))
        found = 0;
    char hook[128] = "none";
    if (g->hook) {
        ag_err he = g->hook(g->hook_ctx, s->agent_id);
        if (he)
            snprintf(hook, sizeof hook, "error: %s: %s", ag_errname(he), ag_last_error());
        else
            snprintf(hook, sizeof hook, "ok");
    }
    int to = !found ? -1 : tier > AG_TIER_MIN ? tier - 1 : tier;
    json_t *d =
        json_pack("{s:s,s:s,s:i,s:i,s:s,s:s}", "type", type, "details", details, "from_tier",
                  found ? tier : -1, "to_tier", to, "credentials", hook, "step", s->step);
    char *dj = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(d);
    struct ag__lentry le;
    ag__lentry_init(&le, "revocation", s->agent_id);
    le.task = s->task_id[0] ? s->task_id : NULL;
    le.tier = found ? tier : -1;
    le.phase = s->phase == AG_PHASE_NONE ? NULL : ag__phase_str(s->phase);
    le.action = "agent.revoke";
    le.decision = "deny";
    le.reason = type;
    le.success = 0;
    le.error_type = type;
    le.error_message = details;
    le.data = dj;
    e = dj ? ag__gov_ledger(g, &le, NULL) : ag__fail(AG_ENOMEM, "revoke: out of memory");
    free(dj);
    /* A run in progress ends here: its EXIT entry (success 0) counts it as a run that
     * was not compliant (docs/ledger-format.md, agent_metrics). */
    if (s->phase != AG_PHASE_NONE && !e) {
        struct ag__lentry x;
        ag__lentry_init(&x, "lifecycle", s->agent_id);
        x.task = le.task;
        x.tier = le.tier;
        x.phase = "EXIT";
        x.action = "lifecycle.exit";
        x.decision = "deny";
        x.reason = "REVOKED";
        x.success = 0;
        char xd[96];
        snprintf(xd, sizeof xd, "{\"compliant\":false,\"from\":\"%s\"}", ag__phase_str(s->phase));
        x.data = xd;
        e = ag__gov_ledger(g, &x, NULL);
    }
    /* A revocation demotes one tier (a promotion-kind entry, which also restarts the
     * compliant streak). */
    if (found && tier > AG_TIER_MIN) {
        ag_err de = ag_gov_demote(g, s->agent_id, "REVOKED", NULL);
        e = e ? e : de;
    }
    return e;
}

ag_err ag_gov_revoke(ag_gov *g, const char *agent_id, const char *type, const char *details)
{
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    char ks[AG__KEY_MAX], kp[AG__KEY_MAX];
    ag__key_agent(ks, agent_id, "state");
    ag__key_agent(kp, agent_id, "packet");
    struct ag_store_op ops[2] = {{.op = AG_OP_GET, .key = ks}, {.op = AG_OP_GET, .key = kp}};
    struct ag_store_reply r[2];
    if ((e = ag_store_exec(g->store, NULL, ops, 2, r, NULL)))
        return e;
    struct ag__session s;
    memset(&s, 0, sizeof s);
    if (r[0].type == AG_REPLY_STR && ag__state_decode(r[0].str, &s) == AG_OK && s.revoked) {
        ag_store_reply_free(r, 2);
        return ag__fail(AG_EREVOKED, "agent '%s' is already revoked", agent_id);
    }
    if (r[0].type != AG_REPLY_STR) { /* not running: bar it all the same */
        memset(&s, 0, sizeof s);
        s.phase = AG_PHASE_NONE;
        s.tier = -1;
        if (r[1].type == AG_REPLY_STR) {
            json_t *p = json_loads(r[1].str, 0, NULL);
            snprintf(s.task_id, sizeof s.task_id, "%s",
                     json_string_value(json_object_get(p, "task_id")) ?: "");
            json_decref(p);
        }
    }
    snprintf(s.agent_id, sizeof s.agent_id, "%s", agent_id);
    ag_store_reply_free(r, 2);
    return revoke_session(g, &s, type && *type ? type : "MANUAL",
                          details ? details : "revoked by an operator");
}

/* -------------------------------------------------------------- errors ----- */

/* Counts one error of `type` (the budget's name for it) and ledgers it as `ltype`
 * (for violations: procedure_violation, illegal_transition, forbidden_action), then
 * revokes when a trigger fires. */
static ag_err count_error(ag_gov *g, const char *agent, const char *type, const char *ltype,
                          const char *message, struct ag_transition_result *r)
{
    char mbuf[1024], tbuf[256];
    message = message ? ledger_text(message, mbuf, sizeof mbuf) : NULL;
    ltype = ledger_text(ltype, tbuf, sizeof tbuf);
    int is_pv = strcmp(type, "procedure_violation") == 0;
    char ke[AG__KEY_MAX], ks[AG__KEY_MAX], kp[AG__KEY_MAX], tf[96];
    ag__key_agent(ke, agent, "errors");
    ag__key_agent(ks, agent, "state");
    ag__key_agent(kp, agent, "packet");
    snprintf(tf, sizeof tf, "type:%s", type);
    struct ag_store_op ops[6] = {
        {.op = AG_OP_HINCRBY, .key = ke, .field = "total_errors", .num = 1},
        {.op = AG_OP_HINCRBY, .key = ke, .field = tf, .num = 1},
        {.op = AG_OP_HINCRBY, .key = ke, .field = "procedure_violations", .num = is_pv},
        {.op = AG_OP_PEXPIRE, .key = ke, .num = g->o.state_ttl_ms},
        {.op = AG_OP_GET, .key = ks},
        {.op = AG_OP_GET, .key = kp},
    };
    struct ag_store_reply rp[6];
    ag_err e = ag_store_exec(g->store, NULL, ops, 6, rp, NULL);
    if (e) {
        set_result(r, AG_REASON_STORE_UNAVAILABLE, "store: %s", ag_last_error());
        return AG_OK;
    }
    struct ag__session s;
    memset(&s, 0, sizeof s);
    s.phase = AG_PHASE_NONE;
    s.tier = -1;
    if (rp[4].type == AG_REPLY_STR && ag__state_decode(rp[4].str, &s)) {
        memset(&s, 0, sizeof s);
        s.phase = AG_PHASE_NONE;
    }
    snprintf(s.agent_id, sizeof s.agent_id, "%s", agent);
    struct ag_error_budget b = {8, 2, 1};
    ag_packet *p = NULL;
    if (rp[5].type == AG_REPLY_STR && ag_packet_parse(rp[5].str, rp[5].len, &p) == AG_OK) {
        b = ag_packet_budget(p);
        if (!s.task_id[0])
            snprintf(s.task_id, sizeof s.task_id, "%s", ag_packet_task_id(p));
    }
    ag_packet_free(p);
    int64_t total = rp[0].integer, same = rp[1].integer, pv = rp[2].integer;
    ag_store_reply_free(rp, 6);

    struct ag__lentry le;
    ag__lentry_init(&le, is_pv ? "violation" : "error", agent);
    le.task = s.task_id[0] ? s.task_id : NULL;
    le.tier = s.tier;
    le.phase = s.revoked || s.phase == AG_PHASE_NONE ? NULL : ag__phase_str(s.phase);
    le.success = 0;
    le.error_type = ltype;
    le.error_message = message;
    le.reason = is_pv ? message : NULL; /* the violations view's `details` */
    char data[160];
    snprintf(data, sizeof data,
             "{\"procedure_violations\":%lld,\"same_type\":%lld,\"total_errors\":%lld}",
             (long long)pv, (long long)same, (long long)total);
    le.data = data;
    ag_err le_err = ag__gov_ledger(g, &le, NULL);

    r->violation = is_pv;
    const char *trig = ag__budget_trigger(&b, total, same, pv);
    if (trig && !s.revoked) {
        char full[1400], det[256];
        snprintf(full, sizeof full, "%s: %s (total %lld/%d, same %lld/%d, violations %lld/%d)",
                 type, message ? message : "", (long long)total, b.max_total_errors,
                 (long long)same, b.max_same_error_repeats, (long long)pv,
                 b.max_procedure_violations);
        /* Cut at a character, never inside one: the revocation entry is JSON. */
        ag__utf8_safe_copy(det, sizeof det, full);
        if ((e = revoke_session(g, &s, trig, det)))
            return e;
        r->revoked = 1;
        set_result(r, AG_REASON_BUDGET_EXHAUSTED, "revoked: %s", det);
        return AG_OK;
    }
    if (s.revoked)
        r->revoked = 1;
    if (le_err) {
        set_result(r, AG_REASON_LEDGER_UNAVAILABLE, "ledger: %s", ag_last_error());
        return AG_OK;
    }
    r->ok = 1;
    return AG_OK;
}

ag_err ag_gov_record_error(ag_gov *g, const char *agent_id, const char *error_type,
                           const char *message, struct ag_transition_result *r)
{
    memset(r, 0, sizeof *r);
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    if (!error_type || !*error_type || strlen(error_type) > 64)
        return ag__fail(AG_EINVAL, "error type: 1..64 characters required");
    return count_error(g, agent_id, error_type, error_type, message, r);
}

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
                          (json_int_t)hfield(errs, "procedure_violations"), "step", old->step,
                          "total_errors", (json_int_t)hfield(errs, "total_errors"));
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
    lockval(s, lv);
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

/* ---------------------------------------------------------- transition ----- */

/* Ledgers a transition. A refused one (refused = 1) is recorded at the phase the agent
 * stays in, so that only real exits count as runs in agent_metrics; a run's exit has
 * success = 1 only when it was compliant. */
static void transition_ledger(ag_gov *g, const struct ag__session *s, enum ag_phase from,
                              enum ag_phase to, const char *reason, int refused, int success,
                              const char *extra, int64_t *seq, ag_err *err)
{
    struct ag__lentry le;
    ag__lentry_init(&le, "lifecycle", s->agent_id);
    le.task = s->task_id;
    le.tier = s->tier;
    le.phase = ag__phase_str(refused ? from : to);
    le.action = to == AG_PHASE_EXIT && !refused ? "lifecycle.exit" : "lifecycle.transition";
    le.decision = refused ? "deny" : "allow";
    le.reason = reason;
    le.success = success;
    le.agent_version = s->agent_version[0] ? s->agent_version : NULL;
    json_t *d = json_pack("{s:s,s:s,s:s}", "from", ag__phase_str(from), "to", ag__phase_str(to),
                          "step", s->step);
    if (d && extra) {
        json_t *x = json_loads(extra, 0, NULL);
        if (json_is_object(x))
            json_object_update(d, x);
        json_decref(x);
    }
    char *dj = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(d);
    le.data = dj;
    ag_err e = ag__gov_ledger(g, &le, seq);
    free(dj);
    if (err)
        *err = e;
}

/* A procedure violation: counted against the budget (which revokes at the default
 * max_procedure_violations 1). */
static void violation(ag_gov *g, const char *agent, const char *what,
                      struct ag_transition_result *r, enum ag_reason why)
{
    struct ag_transition_result vr;
    memset(&vr, 0, sizeof vr);
    ag_err e = count_error(g, agent, "procedure_violation", "illegal_transition", what, &vr);
    set_result(r, vr.revoked ? AG_REASON_AGENT_REVOKED : why, "%s%s", what,
               vr.revoked ? " (agent revoked)" : "");
    r->violation = 1;
    r->revoked = vr.revoked;
    if (e && !r->revoked)
        set_result(r, AG_REASON_STORE_UNAVAILABLE, "%s; counting it failed: %s", what,
                   ag_last_error());
}

/* Another process ended the run (EXIT) while this request was on its way: the request
 * is refused as any illegal move is, but not counted. The run it addressed is over and
 * compliant, and a duplicate EXIT (a retry, two workers) is no worse than one sent after
 * the run ended, which only gets not_bootstrapped; counting it would revoke and demote
 * the agent and record a second, failed run. */
static void run_already_ended(ag_gov *g, const char *agent, const char *what,
                              struct ag_transition_result *r)
{
    ag__gov_sess_drop(g, agent);
    set_result(r, AG_REASON_PHASE_NOT_ALLOWED, "%s: the run already ended", what);
}

/* Is every required artifact of the packet in the task's artifact list? Names the
 * first missing one in `missing`. */
static int artifacts_complete(const ag_packet *p, const struct ag_store_reply *list, char *missing,
                              size_t cap)
{
    size_t n;
    const char *const *req = ag_packet_list(p, "required_artifacts", &n);
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (size_t j = 0; !found && list->type == AG_REPLY_ARRAY && j < list->nelems; j++) {
            const char *v = list->elems[j].str;
            if (!v)
                continue;
            json_t *o = json_loads(v, 0, NULL);
            const char *name =
                json_is_object(o) ? json_string_value(json_object_get(o, "name")) : v;
            found = name && strcmp(name, req[i]) == 0;
            json_decref(o);
        }
        if (!found) {
            snprintf(missing, cap, "%s", req[i]);
            return 0;
        }
    }
    return 1;
}

/* Ends a run at EXIT: the lock is released, the agent leaves the deadline index. */
static void finish_run(ag_gov *g, const struct ag__session *s)
{
    char kl[AG__KEY_MAX], kh[AG__KEY_MAX];
    ag__key_agent(kl, s->agent_id, "lock");
    ag__key_agent(kh, s->agent_id, "heartbeat");
    AG__IGNORE(ag_store_lock_release(g->store, kl, s->owner, s->fence));
    struct ag_store_op ops[2] = {{.op = AG_OP_DEL, .key = kh},
                                 {.op = AG_OP_ZREM, .key = AG__KEY_HB_INDEX, .field = s->agent_id}};
    struct ag_store_reply r[2];
    if (ag_store_exec(g->store, NULL, ops, 2, r, NULL) == AG_OK)
        ag_store_reply_free(r, 2);
    ag__gov_sess_drop(g, s->agent_id);
}

enum { T_OLD, T_ERRS, T_SET, T_HB, T_IDX, T_LOCK, T_EXP_ERR, T_EXP_ACT, T_ARTS, T_NOPS };

/* Runs the guarded exec of a transition; returns OK_REASON or why it was refused.
 * replies receive T_NOPS slots. */
static enum ag_reason transition_exec(ag_gov *g, const struct ag__session *ns, int want_arts,
                                      struct ag_store_reply *rp, char *why, size_t cap)
{
    char ks[AG__KEY_MAX], ke[AG__KEY_MAX], kh[AG__KEY_MAX], kl[AG__KEY_MAX], ka[AG__KEY_MAX],
        kart[AG__KEY_MAX], lv[AG__LOCKVAL_MAX], now[AG_RFC3339_LEN], *state = NULL;
    ag__key_agent(ks, ns->agent_id, "state");
    ag__key_agent(ke, ns->agent_id, "errors");
    ag__key_agent(kh, ns->agent_id, "heartbeat");
    ag__key_agent(kl, ns->agent_id, "lock");
    ag__key_task(ka, ns->task_id, "active_agent");
    ag__key_task(kart, ns->task_id, "artifacts");
    lockval(ns, lv);
    int64_t t = ag__wall_ms();
    ag__rfc3339(t, now);
    if (ag__state_encode(ns, NULL, &state)) {
        snprintf(why, cap, "%s", ag_last_error());
        return AG_REASON_INTERNAL_ERROR;
    }
    struct ag_store_op ops[T_NOPS] = {
        [T_OLD] = {.op = AG_OP_GET, .key = ks},
        [T_ERRS] = {.op = AG_OP_HGETALL, .key = ke},
        [T_SET] = {.op = AG_OP_SET, .key = ks, .value = state, .num = g->o.state_ttl_ms},
        [T_HB] = {.op = AG_OP_SET, .key = kh, .value = now, .num = g->o.heartbeat_ttl_ms},
        [T_IDX] = {.op = AG_OP_ZADD, .key = AG__KEY_HB_INDEX, .field = ns->agent_id, .num = t},
        [T_LOCK] = {.op = AG_OP_PEXPIRE, .key = kl, .num = g->o.lock_ttl_ms},
        [T_EXP_ERR] = {.op = AG_OP_PEXPIRE, .key = ke, .num = g->o.state_ttl_ms},
        [T_EXP_ACT] = {.op = AG_OP_PEXPIRE, .key = ka, .num = g->o.state_ttl_ms},
        [T_ARTS] = {.op = AG_OP_LRANGE, .key = kart, .num = 0, .num2 = -1},
    };
    struct ag_store_guard guard = {kl, lv};
    int gok = 1;
    ag_err e = ag_store_exec(g->store, &guard, ops, want_arts ? T_NOPS : T_NOPS - 1, rp, &gok);
    free(state);
    if (!want_arts)
        memset(&rp[T_ARTS], 0, sizeof rp[T_ARTS]);
    if (e) {
        snprintf(why, cap, "store: %s", ag_last_error());
        return AG_REASON_STORE_UNAVAILABLE;
    }
    if (!gok) {
        snprintf(why, cap, "%.60s no longer holds %.60s (expired or taken)", kl, lv);
        return AG_REASON_LOCK_LOST;
    }
    return OK_REASON;
}

/* Puts back the state a refused transition overwrote (guarded by the same lock). */
static void restore_state(ag_gov *g, const struct ag__session *s, const char *old)
{
    char ks[AG__KEY_MAX], kl[AG__KEY_MAX], lv[AG__LOCKVAL_MAX];
    ag__key_agent(ks, s->agent_id, "state");
    ag__key_agent(kl, s->agent_id, "lock");
    lockval(s, lv);
    struct ag_store_op op = {.op = AG_OP_SET, .key = ks, .value = old, .num = g->o.state_ttl_ms};
    struct ag_store_guard guard = {kl, lv};
    struct ag_store_reply r;
    if (ag_store_exec(g->store, &guard, &op, 1, &r, NULL) == AG_OK)
        ag_store_reply_free(&r, 1);
}

/* The budget as agent:{id}:errors stands (an HGETALL reply): the revocation type if a
 * trigger fires, else NULL; the totals for the ledger. */
static const char *errors_trigger(const struct ag_store_reply *errs,
                                  const struct ag_error_budget *b, int64_t *total, int64_t *pv)
{
    *total = hfield(errs, "total_errors");
    *pv = hfield(errs, "procedure_violations");
    int64_t same = 0; /* the most repeated error type */
    for (size_t i = 0; errs->type == AG_REPLY_ARRAY && i + 1 < errs->nelems; i += 2)
        if (errs->elems[i].str && strncmp(errs->elems[i].str, "type:", 5) == 0) {
            int64_t v = strtoll(errs->elems[i + 1].str ?: "0", NULL, 10);
            same = v > same ? v : same;
        }
    return ag__budget_trigger(b, *total, same, *pv);
}

static void after_exec(ag_gov *g, struct ag__session *s, struct ag__session *ns, const ag_packet *p,
                       struct ag_store_reply *rp, struct ag_transition_result *r)
{
    enum ag_phase from = s->phase, to = ns->phase;
    struct ag__session old;
    /* The cache may be stale if another process moved this run: judge the request
     * against the state the exec actually replaced. */
    if (rp[T_OLD].type == AG_REPLY_STR && ag__state_decode(rp[T_OLD].str, &old) == AG_OK &&
        !old.revoked && old.phase != from) {
        from = old.phase;
        if (!ag_phase_transition_legal(from, to)) {
            restore_state(g, s, rp[T_OLD].str);
            char what[128];
            snprintf(what, sizeof what, "illegal transition %s -> %s", ag__phase_str(from),
                     ag__phase_str(to));
            if (from == AG_PHASE_EXIT) {
                run_already_ended(g, s->agent_id, what, r);
                return;
            }
            ag__gov_sess_put(g, &old);
            violation(g, s->agent_id, what, r, AG_REASON_PHASE_NOT_ALLOWED);
            return;
        }
    }
    struct ag_error_budget b = ag_packet_budget(p);
    int64_t total, pv;
    const char *trig = errors_trigger(&rp[T_ERRS], &b, &total, &pv);
    char det[200];
    if (trig) {
        snprintf(det, sizeof det, "error budget exhausted at %s (total %lld, violations %lld)",
                 ag__phase_str(to), (long long)total, (long long)pv);
        AG__IGNORE(revoke_session(g, ns, trig, det));
        r->revoked = 1;
        set_result(r, AG_REASON_BUDGET_EXHAUSTED, "%s", det);
        return;
    }
    if (from == AG_PHASE_EXECUTE && to == AG_PHASE_VERIFY &&
        !artifacts_complete(p, &rp[T_ARTS], det, sizeof det)) {
        char what[300];
        snprintf(what, sizeof what, "required artifact '%s' missing after EXECUTE", det);
        ns->phase = from; /* the revocation records where the run really stood */
        AG__IGNORE(revoke_session(g, ns, "MISSING_ARTIFACT", what));
        r->revoked = 1;
        set_result(r, AG_REASON_AGENT_REVOKED, "%s", what);
        return;
    }
    char extra[128];
    snprintf(extra, sizeof extra,
             "{\"compliant\":%s,\"procedure_violations\":%lld,\"total_errors\":%lld}",
             pv == 0 ? "true" : "false", (long long)pv, (long long)total);
    ag_err le;
    transition_ledger(g, ns, from, to, "TRANSITION", 0, to == AG_PHASE_EXIT ? pv == 0 : 1,
                      to == AG_PHASE_EXIT ? extra : NULL, NULL, &le);
    if (to == AG_PHASE_EXIT) {
        finish_run(g, ns);
        if (!le && pv == 0)
            ag__gov_auto_promote(g, ns->agent_id);
    } else {
        ag__gov_sess_put(g, ns);
    }
    if (le) {
        set_result(r, AG_REASON_LEDGER_UNAVAILABLE, "ledger: %s", ag_last_error());
        return;
    }
    r->ok = 1;
}

/* A lost lock may mean the run was revoked meanwhile (revocation deletes the lock), or,
 * for a transition to `to` (AG_PHASE_NONE: not a transition), that another process
 * ended this very run at EXIT (which releases it): then say so rather than lock_lost.
 * Returns 1 when it was one of those. */
static int lock_lost_explained(ag_gov *g, const struct ag__session *mine, enum ag_phase to,
                               struct ag_transition_result *r)
{
    char ks[AG__KEY_MAX], *v = NULL;
    ag__key_agent(ks, mine->agent_id, "state");
    struct ag__session s;
    int known = ag_store_get(g->store, ks, &v) == AG_OK && v && ag__state_decode(v, &s) == AG_OK;
    free(v);
    if (known && s.revoked) {
        set_result(r, AG_REASON_AGENT_REVOKED, "agent '%s' was revoked", mine->agent_id);
        r->revoked = 1;
        return 1;
    }
    if (known && to != AG_PHASE_NONE && s.phase == AG_PHASE_EXIT && s.fence == mine->fence) {
        char what[128];
        snprintf(what, sizeof what, "illegal transition EXIT -> %s", ag__phase_str(to));
        run_already_ended(g, mine->agent_id, what, r);
        return 1;
    }
    return 0;
}

ag_err ag_gov_transition(ag_gov *g, const char *agent_id, enum ag_phase phase, const char *step,
                         struct ag_transition_result *r)
{
    memset(r, 0, sizeof *r);
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    if (phase < 0 || phase >= AG_PHASE_COUNT)
        return ag__fail(AG_EINVAL, "transition: phase %d out of range", (int)phase);
    if (step && strlen(step) > AG__ID_MAX)
        return ag__fail(AG_EINVAL, "transition: step longer than %d characters", AG__ID_MAX);
    struct ag__session s, ns;
    enum ag_reason why = session_for(g, agent_id, &s);
    if (why != OK_REASON) {
        set_result(r, why, "agent '%s' cannot transition: %s", agent_id, ag_reason_name(why));
        r->revoked = why == AG_REASON_AGENT_REVOKED;
        return AG_OK;
    }
    if (!ag_phase_transition_legal(s.phase, phase)) {
        /* Before punishing, make sure the cache is not behind another process. */
        ag__gov_sess_drop(g, agent_id);
        why = session_for(g, agent_id, &s);
        if (why != OK_REASON) {
            set_result(r, why, "agent '%s' cannot transition: %s", agent_id, ag_reason_name(why));
            r->revoked = why == AG_REASON_AGENT_REVOKED;
            return AG_OK;
        }
    }
    if (!ag_phase_transition_legal(s.phase, phase)) {
        char what[128];
        snprintf(what, sizeof what, "illegal transition %s -> %s", ag__phase_str(s.phase),
                 ag__phase_str(phase));
        violation(g, agent_id, what, r, AG_REASON_PHASE_NOT_ALLOWED);
        return AG_OK;
    }
    struct ag__pkt *pk = packet_for(g, agent_id, s.packet);
    if (!pk) {
        set_result(r, AG_REASON_STORE_UNAVAILABLE, "packet: %s", ag_last_error());
        return AG_OK;
    }
    ns = s;
    ns.phase = phase;
    snprintf(ns.step, sizeof ns.step, "%s", step ? step : "");
    struct ag_store_reply rp[T_NOPS];
    int want_arts = s.phase == AG_PHASE_EXECUTE && phase == AG_PHASE_VERIFY;
    why = transition_exec(g, &ns, want_arts, rp, r->detail, sizeof r->detail);
    if (why == OK_REASON) {
        after_exec(g, &s, &ns, pk->p, rp, r);
        ag_store_reply_free(rp, T_NOPS);
    } else {
        r->reason = why;
        if (why == AG_REASON_LOCK_LOST) {
            ag__gov_sess_drop(g, agent_id);
            if (!lock_lost_explained(g, &s, phase, r))
                transition_ledger(g, &ns, s.phase, phase, "LOCK_LOST", 1, 0, NULL, NULL, NULL);
        }
    }
    ag__gov_packet_put(g, pk);
    return AG_OK;
}

ag_err ag_gov_heartbeat(ag_gov *g, const char *agent_id, struct ag_transition_result *r)
{
    memset(r, 0, sizeof *r);
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    struct ag__session s;
    enum ag_reason why = session_for(g, agent_id, &s);
    if (why != OK_REASON) {
        set_result(r, why, "agent '%s': %s", agent_id, ag_reason_name(why));
        return AG_OK;
    }
    char kh[AG__KEY_MAX], kl[AG__KEY_MAX], ks[AG__KEY_MAX], lv[AG__LOCKVAL_MAX],
        now[AG_RFC3339_LEN];
    ag__key_agent(kh, agent_id, "heartbeat");
    ag__key_agent(kl, agent_id, "lock");
    ag__key_agent(ks, agent_id, "state");
    lockval(&s, lv);
    int64_t t = ag__wall_ms();
    ag__rfc3339(t, now);
    struct ag_store_op ops[4] = {
        {.op = AG_OP_SET, .key = kh, .value = now, .num = g->o.heartbeat_ttl_ms},
        {.op = AG_OP_ZADD, .key = AG__KEY_HB_INDEX, .field = agent_id, .num = t},
        {.op = AG_OP_PEXPIRE, .key = kl, .num = g->o.lock_ttl_ms},
        {.op = AG_OP_PEXPIRE, .key = ks, .num = g->o.state_ttl_ms},
    };
    struct ag_store_reply rp[4];
    struct ag_store_guard guard = {kl, lv};
    int gok = 1;
    if ((e = ag_store_exec(g->store, &guard, ops, 4, rp, &gok))) {
        set_result(r, AG_REASON_STORE_UNAVAILABLE, "store: %s", ag_last_error());
        return AG_OK;
    }
    ag_store_reply_free(rp, 4);
    if (!gok) {
        ag__gov_sess_drop(g, agent_id);
        if (!lock_lost_explained(g, &s, AG_PHASE_NONE, r))
            set_result(r, AG_REASON_LOCK_LOST, "%.60s no longer holds %.80s", kl, lv);
        return AG_OK;
    }
    r->ok = 1;
    return AG_OK;
}

/* ----------------------------------------------------------- authorize ----- */

static void deny(struct ag_gov_decision *out, enum ag_reason why)
{
    out->effect = AG_EFFECT_DENY;
    out->reason = why;
    out->rule_file = NULL;
    out->rule_line = 0;
}

/* Ledgers the decision; returns 0 when committed. */
static int decision_ledger(ag_gov *g, const char *agent, const struct ag__session *s,
                           const char *action, const char *resource, int confidence,
                           struct ag_gov_decision *out)
{
    struct ag__lentry le;
    ag__lentry_init(&le, "decision", agent);
    le.task = s && s->task_id[0] ? s->task_id : NULL;
    le.agent_version = s && s->agent_version[0] ? s->agent_version : NULL;
    le.tier = out->tier;
    le.phase = out->phase == AG_PHASE_NONE ? NULL : ag__phase_str(out->phase);
    le.action = action;
    le.resource = resource;
    le.decision = ag_effect_name(out->effect);
    le.reason = ag_reason_name(out->reason);
    le.confidence = confidence;
    char data[300];
    if (out->rule_file) {
        /* A path needing JSON escapes goes through jansson; the usual one is printed. */
        if (strpbrk(out->rule_file, "\"\\\b\f\n\r\t") == NULL) {
            snprintf(data, sizeof data, "{\"rule\":\"%.200s:%d\"}", out->rule_file, out->rule_line);
        } else {
            char rule[256];
            snprintf(rule, sizeof rule, "%s:%d", out->rule_file, out->rule_line);
            json_t *d = json_pack("{s:s}", "rule", rule);
            char *dj = d ? json_dumps(d, JSON_COMPACT) : NULL;
            json_decref(d);
            snprintf(data, sizeof data, "%s", dj ? dj : "{}");
            free(dj);
        }
        le.data = data;
    }
    int64_t seq = 0;
    if (ag__gov_ledger(g, &le, &seq))
        return -1;
    out->ledger_seq = seq;
    return 0;
}

/* The tier of a registry entry (registry_write's JSON, keys sorted, so `"tier":` is
 * the last field), without building a jansson tree on the hot path. No entry, or one
 * that cannot be read, is the least privilege, as at bootstrap. */
static int registry_tier(const struct ag_store_reply *r)
{
    const char *t = r->type == AG_REPLY_STR ? strstr(r->str, "\"tier\":") : NULL;
    char *end;
    long v = t ? strtol(t + 7, &end, 10) : -1;
    return t && end != t + 7 && v >= AG_TIER_MIN && v <= AG_TIER_MAX ? (int)v : AG_TIER_MIN;
}

/* The run an action belongs to: state, lock and registry entry in one exec. A demotion
 * or a re-registration lowers the registry's tier at once, so the run acts at the
 * lower of its own tier and that one (a raise waits for the next bootstrap). Returns
 * OK_REASON or why the agent cannot act; *have_s says whether s holds a decoded state. */
static enum ag_reason read_run(ag_gov *g, const char *agent, struct ag__session *s, int *have_s)
{
    char ks[AG__KEY_MAX], kl[AG__KEY_MAX], lv[AG__LOCKVAL_MAX];
    ag__key_agent(ks, agent, "state");
    ag__key_agent(kl, agent, "lock");
    struct ag_store_op ops[3] = {{.op = AG_OP_GET, .key = ks},
                                 {.op = AG_OP_GET, .key = kl},
                                 {.op = AG_OP_HGET, .key = AG__KEY_REGISTRY, .field = agent}};
    struct ag_store_reply rp[3];
    *have_s = 0;
    if (ag_store_exec(g->store, NULL, ops, 3, rp, NULL))
        return AG_REASON_STORE_UNAVAILABLE;
    enum ag_reason why = OK_REASON;
    if (rp[0].type != AG_REPLY_STR)
        why = AG_REASON_NOT_BOOTSTRAPPED;
    else if (ag__state_decode(rp[0].str, s))
        why = AG_REASON_INTERNAL_ERROR;
    else if ((*have_s = 1, s->revoked))
        why = AG_REASON_AGENT_REVOKED;
    else if (s->phase == AG_PHASE_EXIT)
        why = AG_REASON_NOT_BOOTSTRAPPED;
    else if (lockval(s, lv), rp[1].type != AG_REPLY_STR || strcmp(rp[1].str, lv) != 0)
        why = AG_REASON_LOCK_LOST;
    if (*have_s) {
        int reg = registry_tier(&rp[2]);
        s->tier = reg < s->tier ? reg : s->tier;
    }
    ag_store_reply_free(rp, 3);
    return why;
}

/* The policy's answer for the run's tier and phase and its packet's constraints.
 * Returns 1 when the action is one the packet forbids: an attempt counts as a violation
 * even when the request was refused as invalid first (a bad resource must not make a
 * forbidden action free to try). */
static int decide_for(ag_gov *g, const struct ag__session *s, const ag_packet *p,
                      const char *action, const char *resource, struct ag_gov_decision *out)
{
    struct ag_request req = {
        .tier = s->tier, .phase = s->phase, .action = action, .resource = resource};
    req.scope = ag_packet_list(p, "constraints.scope", &req.nscope);
    req.forbidden = ag_packet_list(p, "constraints.forbidden", &req.nforbidden);
    struct ag_decision d;
    ag_decide(g->policy, &req, &d);
    out->effect = d.effect;
    out->reason = d.reason;
    out->rule_file = d.rule_file;
    out->rule_line = d.rule_line;
    return d.reason == AG_REASON_FORBIDDEN_ACTION ||
           (d.reason == AG_REASON_INVALID_REQUEST && ag_request_forbidden(&req));
}

/* Counts an attempted forbidden action against the agent's budget (revoking at the
 * default max_procedure_violations 1); returns 1 when it revoked. */
static int count_forbidden(ag_gov *g, const char *agent, const char *action, const char *resource)
{
    char full[1600], what[300];
    snprintf(full, sizeof full, "forbidden action %s on %s", action, resource);
    ag__utf8_safe_copy(what, sizeof what, full); /* cut at a character, as the ledger needs */
    struct ag_transition_result vr;
    memset(&vr, 0, sizeof vr);
    if (count_error(g, agent, "procedure_violation", "forbidden_action", what, &vr) != AG_OK)
        return 0;
    return vr.revoked;
}

enum ag_effect ag_gov_authorize(ag_gov *g, const char *agent_id, const char *action,
                                const char *resource, int confidence, struct ag_gov_decision *out)
{
    memset(out, 0, sizeof *out);
    out->tier = -1;
    out->phase = AG_PHASE_NONE;
    if (ag__gov_check_id("agent id", agent_id) || !action || !*action || !resource ||
        confidence < -1 || confidence > 1000) {
        deny(out, AG_REASON_INVALID_REQUEST);
        return out->effect; /* nothing trustworthy to ledger under */
    }
    struct ag__session s;
    int have_s, forbidden = 0;
    enum ag_reason why = read_run(g, agent_id, &s, &have_s);
    if (have_s) {
        out->tier = s.tier;
        out->phase = s.revoked ? AG_PHASE_NONE : s.phase;
    }
    struct ag__pkt *pk = NULL;
    if (why == OK_REASON && !(pk = packet_for(g, agent_id, s.packet)))
        why = AG_REASON_STORE_UNAVAILABLE;
    if (why != OK_REASON)
        deny(out, why);
    else
        forbidden = decide_for(g, &s, pk->p, action, resource, out);
    ag__gov_packet_put(g, pk);
    char abuf[512], rbuf[1024];
    action = ledger_text(action, abuf, sizeof abuf);
    resource = ledger_text(resource, rbuf, sizeof rbuf);
    /* Committed before it is returned: a decision the ledger cannot hold is a deny. */
    if (decision_ledger(g, agent_id, have_s ? &s : NULL, action, resource, confidence, out)) {
        deny(out, AG_REASON_LEDGER_UNAVAILABLE);
        out->ledger_seq = 0;
    }
    /* Counted whatever the ledger said: the attempt was made. */
    if (forbidden)
        out->revoked = count_forbidden(g, agent_id, action, resource);
    return out->effect;
}

/* ------------------------------------------- for grant.c (authorize with a grant) --- */

enum ag_reason ag__authz_read_run(ag_gov *g, const char *agent, struct ag__session *s, int *have_s)
{
    return read_run(g, agent, s, have_s);
}

struct ag__pkt *ag__authz_packet_for(ag_gov *g, const char *agent, const char *digest)
{
    return packet_for(g, agent, digest);
}

int ag__authz_decide_for(ag_gov *g, const struct ag__session *s, const ag_packet *p,
                         const char *action, const char *resource, struct ag_gov_decision *out)
{
    return decide_for(g, s, p, action, resource, out);
}

int ag__authz_count_forbidden(ag_gov *g, const char *agent, const char *action,
                              const char *resource)
{
    return count_forbidden(g, agent, action, resource);
}

const char *ag__authz_ledger_text(const char *s, char *buf, size_t cap)
{
    return ledger_text(s, buf, cap);
}
