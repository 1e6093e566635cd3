/* The governance handle: caches, key names, the agent registry, status listings,
 * artifacts and handoffs. The lifecycle itself (bootstrap, transition, authorize,
 * budgets, revocation) is in lifecycle.c; promotion in promote.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "gov/gov.h"
#include "gov/packet.h"

#define DEFAULT_LOCK_TTL    300000
#define DEFAULT_HB_TTL      120000
#define DEFAULT_STATE_TTL   86400000
#define DEFAULT_HANDOFF_TTL 604800000
#define PKT_CACHE_MAX       1024
#define SESS_CACHE_MAX      65536

void ag_gov_opts_from_config(const ag_config *c, struct ag_gov_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lock_ttl_ms = ag_config_ms(c, "lifecycle.lock_ttl");
    o->heartbeat_ttl_ms = ag_config_ms(c, "lifecycle.heartbeat_ttl");
    o->state_ttl_ms = ag_config_ms(c, "lifecycle.state_ttl");
}

ag_err ag_gov_new(ag_store *store, ag_ledger *ledger, const ag_policy *policy,
                  const struct ag_gov_opts *opts, ag_gov **out)
{
    *out = NULL;
    if (!store || !ledger)
        return ag__fail(AG_EINVAL, "gov: a store and a ledger are required");
    ag_err e = ag__crypto_init();
    if (e)
        return e;
    ag_gov *g = calloc(1, sizeof *g);
    if (!g)
        return ag__fail(AG_ENOMEM, "gov: out of memory");
    g->store = store;
    g->ledger = ledger;
    g->policy = policy;
    if (opts)
        g->o = *opts;
    if (g->o.lock_ttl_ms <= 0)
        g->o.lock_ttl_ms = DEFAULT_LOCK_TTL;
    if (g->o.heartbeat_ttl_ms <= 0)
        g->o.heartbeat_ttl_ms = DEFAULT_HB_TTL;
    if (g->o.state_ttl_ms <= 0)
        g->o.state_ttl_ms = DEFAULT_STATE_TTL;
    if (g->o.handoff_ttl_ms <= 0)
        g->o.handoff_ttl_ms = DEFAULT_HANDOFF_TTL;
    if (g->o.artifacts_ttl_ms <= 0)
        g->o.artifacts_ttl_ms = DEFAULT_HANDOFF_TTL;
    pthread_mutex_init(&g->mu, NULL);
    *out = g;
    return AG_OK;
}

void ag_gov_free(ag_gov *g)
{
    if (!g)
        return;
    for (struct ag__pkt *p = g->pkts, *n; p; p = n) {
        n = p->next;
        ag_packet_free(p->p);
        free(p);
    }
    for (struct ag__sess_node *s = g->sess, *n; s; s = n) {
        n = s->next;
        free(s);
    }
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void ag_gov_set_revoke_hook(ag_gov *g, ag_gov_revoke_hook fn, void *ctx)
{
    g->hook = fn;
    g->hook_ctx = ctx;
}

/* ------------------------------------------------------------------ keys --- */

ag_err ag__gov_check_id(const char *what, const char *id)
{
    if (!id || !*id)
        return ag__fail(AG_EINVAL, "%s: must not be empty", what);
    size_t n = strlen(id);
    if (n > AG__ID_MAX)
        return ag__fail(AG_EINVAL, "%s: longer than %d characters", what, AG__ID_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-' && c != '@')
            return ag__fail(AG_EINVAL,
                            "%s '%s': character '%c' not allowed (use A-Z a-z 0-9 . _ - @)", what,
                            id, isprint(c) ? c : '?');
    }
    return AG_OK;
}

void ag__key_agent(char *buf, const char *id, const char *suffix)
{
    snprintf(buf, AG__KEY_MAX, "agent:%s:%s", id, suffix);
}

void ag__key_task(char *buf, const char *id, const char *suffix)
{
    snprintf(buf, AG__KEY_MAX, "task:%s:%s", id, suffix);
}

void ag__key_handoff(char *buf, const char *task)
{
    snprintf(buf, AG__KEY_MAX, "handoff:%s:latest", task);
}

/* ---------------------------------------------------------------- caches --- */

/* Drops cache-only entries when the cache is full: packets in use stay. */
static void pkt_evict(ag_gov *g)
{
    struct ag__pkt **pp = &g->pkts;
    while (*pp) {
        struct ag__pkt *p = *pp;
        if (p->refs == 1) {
            *pp = p->next;
            ag_packet_free(p->p);
            free(p);
            g->npkts--;
        } else {
            pp = &p->next;
        }
    }
}

struct ag__pkt *ag__gov_packet_get(ag_gov *g, const char *digest, const char *json)
{
    pthread_mutex_lock(&g->mu);
    for (struct ag__pkt *p = g->pkts; digest && p; p = p->next)
        if (strcmp(p->digest, digest) == 0) {
            p->refs++;
            pthread_mutex_unlock(&g->mu);
            return p;
        }
    pthread_mutex_unlock(&g->mu);
    if (!json) {
        (void)ag__fail(AG_ENOTFOUND, "packet %s not cached", digest ? digest : "(none)");
        return NULL;
    }
    ag_packet *pk;
    if (ag_packet_parse(json, strlen(json), &pk))
        return NULL;
    struct ag__pkt *n = calloc(1, sizeof *n);
    if (!n) {
        ag_packet_free(pk);
        (void)ag__fail(AG_ENOMEM, "packet cache: out of memory");
        return NULL;
    }
    n->p = pk;
    memcpy(n->digest, ag__packet_digest(pk), sizeof n->digest);
    n->refs = 2;
    pthread_mutex_lock(&g->mu);
    if (g->npkts >= PKT_CACHE_MAX)
        pkt_evict(g);
    n->next = g->pkts;
    g->pkts = n;
    g->npkts++;
    pthread_mutex_unlock(&g->mu);
    return n;
}

void ag__gov_packet_put(ag_gov *g, struct ag__pkt *pk)
{
    if (!pk)
        return;
    pthread_mutex_lock(&g->mu);
    int gone = --pk->refs == 0; /* only after eviction removed the cache's reference */
    pthread_mutex_unlock(&g->mu);
    if (gone) {
        ag_packet_free(pk->p);
        free(pk);
    }
}

int ag__gov_sess_get(ag_gov *g, const char *agent_id, struct ag__session *out)
{
    int found = 0;
    pthread_mutex_lock(&g->mu);
    for (struct ag__sess_node *n = g->sess; n; n = n->next)
        if (strcmp(n->s.agent_id, agent_id) == 0) {
            *out = n->s;
            found = 1;
            break;
        }
    pthread_mutex_unlock(&g->mu);
    return found;
}

void ag__gov_sess_put(ag_gov *g, const struct ag__session *s)
{
    pthread_mutex_lock(&g->mu);
    for (struct ag__sess_node *n = g->sess; n; n = n->next)
        if (strcmp(n->s.agent_id, s->agent_id) == 0) {
            n->s = *s;
            pthread_mutex_unlock(&g->mu);
            return;
        }
    struct ag__sess_node *n = g->nsess < SESS_CACHE_MAX ? malloc(sizeof *n) : NULL;
    if (n) { /* a full cache only costs a round trip later */
        n->s = *s;
        n->next = g->sess;
        g->sess = n;
        g->nsess++;
    }
    pthread_mutex_unlock(&g->mu);
}

void ag__gov_sess_drop(ag_gov *g, const char *agent_id)
{
    pthread_mutex_lock(&g->mu);
    for (struct ag__sess_node **pp = &g->sess; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->s.agent_id, agent_id) == 0) {
            struct ag__sess_node *n = *pp;
            *pp = n->next;
            free(n);
            g->nsess--;
            break;
        }
    pthread_mutex_unlock(&g->mu);
}

/* ----------------------------------------------------------------- state --- */

ag_err ag__state_encode(const struct ag__session *s, const char *extra_json, char **json)
{
    char now[AG_RFC3339_LEN];
    ag__rfc3339(ag__wall_ms(), now);
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:s,s:s,s:I,s:s}", "agent_id", s->agent_id, "task_id",
                  s->task_id, "phase", s->revoked ? "REVOKED" : ag__phase_str(s->phase), "step",
                  s->step, "tier", s->tier, "fence", (json_int_t)s->fence, "owner", s->owner,
                  "packet", s->packet, "started_ms", (json_int_t)s->started_ms, "updated_at", now);
    if (!o)
        return ag__fail(AG_ENOMEM, "state: out of memory");
    if (s->agent_version[0])
        json_object_set_new(o, "agent_version", json_string(s->agent_version));
    if (extra_json) {
        json_t *x = json_loads(extra_json, 0, NULL);
        if (json_is_object(x))
            json_object_update(o, x);
        json_decref(x);
    }
    *json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return *json ? AG_OK : ag__fail(AG_ENOMEM, "state: out of memory");
}

static void copy_str(char *dst, size_t cap, json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

/* Assigns one top-level field of the state to the session. */
static void fast_field(struct ag__session *s, const char *k, size_t kl, const char *v, size_t vl,
                       long long n, int is_str, int *phase_ok)
{
#define KEY(name) (kl == sizeof(name) - 1 && memcmp(k, name, kl) == 0)
#define STR(dst)  snprintf(dst, sizeof dst, "%.*s", (int)vl, v)
    if (is_str) {
        if (KEY("agent_id"))
            STR(s->agent_id);
        else if (KEY("task_id"))
            STR(s->task_id);
        else if (KEY("step"))
            STR(s->step);
        else if (KEY("owner"))
            STR(s->owner);
        else if (KEY("packet"))
            STR(s->packet);
        else if (KEY("agent_version"))
            STR(s->agent_version);
        else if (KEY("phase")) {
            char ph[16];
            snprintf(ph, sizeof ph, "%.*s", (int)vl, v);
            *phase_ok = vl < sizeof ph && ag__phase_from_str(ph, &s->phase) == AG_OK;
        }
    } else if (KEY("tier")) {
        s->tier = (int)n;
    } else if (KEY("fence")) {
        s->fence = n;
    } else if (KEY("started_ms")) {
        s->started_ms = n;
    }
#undef KEY
#undef STR
}

/* The hot path reads the state on every authorize: a flat scan of the object this
 * module writes (strings without escapes, integers), instead of building a jansson
 * tree. Anything else (escapes, nested objects of a revoked state) returns -1 and the
 * caller falls back to jansson. */
static int state_decode_fast(const char *p, struct ag__session *s)
{
    int phase_ok = 0;
    if (*p++ != '{')
        return -1;
    while (*p == '"') {
        const char *k = ++p;
        while (*p && *p != '"' && *p != '\\')
            p++;
        if (*p != '"' || p[1] != ':')
            return -1;
        size_t kl = (size_t)(p - k);
        p += 2;
        if (*p == '"') {
            const char *v = ++p;
            while (*p && *p != '"' && *p != '\\')
                p++;
            if (*p != '"')
                return -1;
            fast_field(s, k, kl, v, (size_t)(p - v), 0, 1, &phase_ok);
            p++;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            long long n = strtoll(p, &end, 10);
            if (*end == '.' || *end == 'e' || *end == 'E')
                return -1;
            fast_field(s, k, kl, NULL, 0, n, 0, &phase_ok);
            p = end;
        } else {
            return -1;
        }
        if (*p == ',')
            p++;
    }
    return *p == '}' && p[1] == 0 && phase_ok ? 0 : -1;
}

ag_err ag__state_decode(const char *json, struct ag__session *s)
{
    memset(s, 0, sizeof *s);
    if (state_decode_fast(json, s) == 0)
        return AG_OK;
    memset(s, 0, sizeof *s);
    json_t *o = json_loads(json, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return ag__fail(AG_EPARSE, "agent state: not a JSON object");
    }
    copy_str(s->agent_id, sizeof s->agent_id, o, "agent_id");
    copy_str(s->task_id, sizeof s->task_id, o, "task_id");
    copy_str(s->step, sizeof s->step, o, "step");
    copy_str(s->owner, sizeof s->owner, o, "owner");
    copy_str(s->packet, sizeof s->packet, o, "packet");
    copy_str(s->agent_version, sizeof s->agent_version, o, "agent_version");
    s->tier = (int)json_integer_value(json_object_get(o, "tier"));
    s->fence = json_integer_value(json_object_get(o, "fence"));
    s->started_ms = json_integer_value(json_object_get(o, "started_ms"));
    const char *ph = json_string_value(json_object_get(o, "phase"));
    ag_err e = AG_OK;
    if (ph && strcmp(ph, "REVOKED") == 0) {
        s->revoked = 1;
        s->phase = AG_PHASE_NONE;
    } else if (!ph || ag__phase_from_str(ph, &s->phase)) {
        e = ag__fail(AG_EPARSE, "agent state: bad phase '%s'", ph ? ph : "(none)");
    }
    json_decref(o);
    return e;
}

/* -------------------------------------------------------------- ledger ----- */

void ag__lentry_init(struct ag__lentry *e, const char *kind, const char *agent)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->agent = agent;
    e->tier = e->success = e->confidence = -1;
}

ag_err ag__gov_ledger(ag_gov *g, const struct ag__lentry *x, int64_t *seq)
{
    struct ag_ledger_entry e = {
        .kind = x->kind,
        .agent_id = x->agent,
        .agent_version = x->agent_version,
        .task_id = x->task,
        .tier = x->tier,
        .phase = x->phase,
        .action = x->action,
        .resource = x->resource,
        .decision = x->decision,
        .reason = x->reason,
        .confidence = x->confidence,
        .success = x->success,
        .error_type = x->error_type,
        .error_message = x->error_message,
        .data_json = x->data,
    };
    return ag_ledger_append(g->ledger, &e, seq, NULL);
}

/* -------------------------------------------------------------- registry --- */

ag_err ag__registry_get(ag_gov *g, const char *agent_id, int *found, int *tier,
                        int64_t *registered_ms)
{
    struct ag_store_op op = {.op = AG_OP_HGET, .key = AG__KEY_REGISTRY, .field = agent_id};
    struct ag_store_reply r;
    *found = 0;
    ag_err e = ag_store_exec(g->store, NULL, &op, 1, &r, NULL);
    if (e)
        return e;
    if (r.type == AG_REPLY_STR) {
        json_t *o = json_loads(r.str, 0, NULL);
        if (json_is_object(o)) {
            *found = 1;
            *tier = (int)json_integer_value(json_object_get(o, "tier"));
            if (registered_ms)
                *registered_ms = json_integer_value(json_object_get(o, "registered_ms"));
        }
        json_decref(o);
    }
    ag_store_reply_free(&r, 1);
    return AG_OK;
}

static ag_err registry_write(ag_gov *g, const char *agent_id, int tier, int64_t registered_ms)
{
    char ts[AG_RFC3339_LEN];
    ag__rfc3339(registered_ms, ts);
    json_t *o = json_pack("{s:i,s:s,s:I}", "tier", tier, "registered_at", ts, "registered_ms",
                          (json_int_t)registered_ms);
    char *v = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!v)
        return ag__fail(AG_ENOMEM, "registry: out of memory");
    struct ag_store_op op = {
        .op = AG_OP_HSET, .key = AG__KEY_REGISTRY, .field = agent_id, .value = v};
    struct ag_store_reply r;
    ag_err e = ag_store_exec(g->store, NULL, &op, 1, &r, NULL);
    ag_store_reply_free(&r, 1);
    free(v);
    return e;
}

ag_err ag__registry_set_tier(ag_gov *g, const char *agent_id, int tier)
{
    int found, old;
    int64_t reg = 0;
    ag_err e = ag__registry_get(g, agent_id, &found, &old, &reg);
    if (e)
        return e;
    if (!found)
        return ag__fail(AG_ENOTFOUND, "agent '%s' is not registered", agent_id);
    return registry_write(g, agent_id, tier, reg);
}

/* Validates a packet for agent_id and stores its canonical form. */
static ag_err store_packet(ag_gov *g, const char *agent_id, const char *packet_json)
{
    ag_packet *p;
    ag_err e = ag_packet_parse(packet_json, strlen(packet_json), &p);
    if (e)
        return e;
    if (strcmp(ag_packet_agent_id(p), agent_id) != 0) {
        e = ag__fail(AG_EINVAL, "packet: agent_id: '%s' does not match agent '%s'",
                     ag_packet_agent_id(p), agent_id);
        ag_packet_free(p);
        return e;
    }
    if ((e = ag__gov_check_id("packet: task_id", ag_packet_task_id(p)))) {
        ag_packet_free(p);
        return e;
    }
    char *canon = NULL, key[AG__KEY_MAX];
    e = ag_packet_to_json(p, &canon);
    ag_packet_free(p);
    if (e)
        return e;
    ag__key_agent(key, agent_id, "packet");
    e = ag_store_set(g->store, key, canon, 0); /* configuration: durable until replaced */
    free(canon);
    return e;
}

ag_err ag_gov_set_packet(ag_gov *g, const char *agent_id, const char *packet_json)
{
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    int found, tier;
    if ((e = ag__registry_get(g, agent_id, &found, &tier, NULL)))
        return e;
    if (!found)
        return ag__fail(AG_ENOTFOUND, "agent '%s' is not registered", agent_id);
    return store_packet(g, agent_id, packet_json);
}

ag_err ag_gov_register(ag_gov *g, const char *agent_id, int tier, const char *packet_json)
{
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    int found = 0, old = -1;
    if ((e = ag__registry_get(g, agent_id, &found, &old, NULL)))
        return e;
    if (tier < 0 && !found)
        return ag__fail(AG_EINVAL, "agent '%s' is not registered yet: give it a tier", agent_id);
    if (tier < 0)
        tier = old;
    if (tier < AG_TIER_MIN || tier > AG_TIER_MAX)
        return ag__fail(AG_EINVAL, "tier %d out of range 0..4", tier);
    if (packet_json && (e = store_packet(g, agent_id, packet_json)))
        return e;
    if ((e = registry_write(g, agent_id, tier, ag__wall_ms())))
        return e;
    ag__gov_sess_drop(g, agent_id);
    struct ag__lentry le;
    ag__lentry_init(&le, "lifecycle", agent_id);
    le.action = "agent.register";
    le.tier = tier;
    le.decision = "allow";
    le.reason = found ? "REREGISTERED" : "REGISTERED";
    le.success = 1;
    char data[64];
    snprintf(data, sizeof data, "{\"from_tier\":%d,\"to_tier\":%d}", found ? old : -1, tier);
    le.data = data;
    return ag__gov_ledger(g, &le, NULL);
}

/* ------------------------------------------------------------- artifacts --- */

ag_err ag_gov_add_artifact(ag_gov *g, const char *task_id, const char *agent_id, const char *name,
                           const char *sha256)
{
    ag_err e = ag__gov_check_id("task id", task_id);
    if (e)
        return e;
    if (!name || !*name)
        return ag__fail(AG_EINVAL, "artifact: name must not be empty");
    char ts[AG_RFC3339_LEN], key[AG__KEY_MAX];
    ag__rfc3339(ag__wall_ms(), ts);
    json_t *o = json_pack("{s:s,s:s?,s:s?,s:s}", "name", name, "agent_id", agent_id, "sha256",
                          sha256, "at", ts);
    char *v = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!v)
        return ag__fail(AG_ENOMEM, "artifact: out of memory");
    ag__key_task(key, task_id, "artifacts");
    struct ag_store_op ops[2] = {{.op = AG_OP_RPUSH, .key = key, .value = v},
                                 {.op = AG_OP_PEXPIRE, .key = key, .num = g->o.artifacts_ttl_ms}};
    struct ag_store_reply r[2];
    e = ag_store_exec(g->store, NULL, ops, 2, r, NULL);
    ag_store_reply_free(r, 2);
    free(v);
    return e;
}

/* -------------------------------------------------------------- handoffs --- */

ag_err ag_gov_write_handoff(ag_gov *g, const char *handoff_json)
{
    char *canon = NULL, key[AG__KEY_MAX];
    if (!handoff_json)
        return ag__fail(AG_EINVAL, "handoff: no document");
    ag_err e = ag_handoff_validate(handoff_json, strlen(handoff_json), &canon);
    if (e)
        return e;
    json_t *o = json_loads(canon, 0, NULL);
    free(canon);
    if (!o)
        return ag__fail(AG_ENOMEM, "handoff: out of memory");
    const char *task = json_string_value(json_object_get(o, "task_id"));
    const char *prev = json_string_value(json_object_get(o, "previous_agent_id"));
    if ((e = ag__gov_check_id("handoff: task_id", task))) {
        json_decref(o);
        return e;
    }
    if (!json_object_get(o, "created_at")) {
        char ts[AG_RFC3339_LEN];
        ag__rfc3339(ag__wall_ms(), ts);
        json_object_set_new(o, "created_at", json_string(ts));
    }
    canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (!canon) {
        json_decref(o);
        return ag__fail(AG_ENOMEM, "handoff: out of memory");
    }
    ag__key_handoff(key, task);
    e = ag_store_set(g->store, key, canon, g->o.handoff_ttl_ms);
    if (!e) {
        struct ag__lentry le;
        ag__lentry_init(&le, "handoff", prev);
        le.task = task;
        le.action = "task.handoff";
        le.success = 1;
        le.reason = json_is_true(json_object_get(o, "revoked")) ? "AFTER_REVOCATION" : "VOLUNTARY";
        le.data = canon;
        e = ag__gov_ledger(g, &le, NULL);
    }
    free(canon);
    json_decref(o);
    return e;
}

ag_err ag_gov_read_handoff(ag_gov *g, const char *task_id, char **json)
{
    *json = NULL;
    ag_err e = ag__gov_check_id("task id", task_id);
    if (e)
        return e;
    char key[AG__KEY_MAX];
    ag__key_handoff(key, task_id);
    return ag_store_get(g->store, key, json);
}

/* ---------------------------------------------------------------- status --- */

void ag_agent_status_clear(struct ag_agent_status *s)
{
    free(s->agent_id);
    free(s->state_json);
    free(s->lock);
    free(s->heartbeat);
    memset(s, 0, sizeof *s);
}

static int64_t hash_field(const struct ag_store_reply *r, const char *field)
{
    for (size_t i = 0; r->type == AG_REPLY_ARRAY && i + 1 < r->nelems; i += 2)
        if (r->elems[i].str && strcmp(r->elems[i].str, field) == 0)
            return r->elems[i + 1].str ? strtoll(r->elems[i + 1].str, NULL, 10) : 0;
    return 0;
}

static char *take_str(struct ag_store_reply *r)
{
    if (r->type != AG_REPLY_STR)
        return NULL;
    char *s = r->str;
    r->str = NULL;
    r->type = AG_REPLY_NIL;
    return s;
}

ag_err ag_gov_status(ag_gov *g, const char *agent_id, struct ag_agent_status *s)
{
    memset(s, 0, sizeof *s);
    s->tier = -1;
    ag_err e = ag__gov_check_id("agent id", agent_id);
    if (e)
        return e;
    char ks[AG__KEY_MAX], kl[AG__KEY_MAX], kh[AG__KEY_MAX], ke[AG__KEY_MAX];
    ag__key_agent(ks, agent_id, "state");
    ag__key_agent(kl, agent_id, "lock");
    ag__key_agent(kh, agent_id, "heartbeat");
    ag__key_agent(ke, agent_id, "errors");
    struct ag_store_op ops[6] = {
        {.op = AG_OP_HGET, .key = AG__KEY_REGISTRY, .field = agent_id},
        {.op = AG_OP_GET, .key = ks},
        {.op = AG_OP_GET, .key = kl},
        {.op = AG_OP_GET, .key = kh},
        {.op = AG_OP_HGETALL, .key = ke},
        {.op = AG_OP_HGET, .key = AG__KEY_REV_INDEX, .field = agent_id},
    };
    struct ag_store_reply r[6];
    if ((e = ag_store_exec(g->store, NULL, ops, 6, r, NULL)))
        return e;
    s->agent_id = strdup(agent_id);
    int64_t reg_ms = 0;
    if (r[0].type == AG_REPLY_STR) {
        json_t *o = json_loads(r[0].str, 0, NULL);
        s->registered = json_is_object(o);
        s->tier = (int)json_integer_value(json_object_get(o, "tier"));
        reg_ms = json_integer_value(json_object_get(o, "registered_ms"));
        json_decref(o);
    }
    s->state_json = take_str(&r[1]);
    s->lock = take_str(&r[2]);
    s->heartbeat = take_str(&r[3]);
    s->total_errors = hash_field(&r[4], "total_errors");
    s->procedure_violations = hash_field(&r[4], "procedure_violations");
    if (r[5].type == AG_REPLY_STR) {
        json_t *o = json_loads(r[5].str, 0, NULL);
        s->revoked = json_integer_value(json_object_get(o, "revoked_ms")) >= reg_ms;
        json_decref(o);
    }
    ag_store_reply_free(r, 6);
    return s->agent_id ? AG_OK : ag__fail(AG_ENOMEM, "status: out of memory");
}

static int cmp_str(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    return strcmp(x ? x : "", y ? y : "");
}

ag_err ag_gov_list(ag_gov *g, char ***ids, size_t *n)
{
    struct ag_store_op op = {.op = AG_OP_HGETALL, .key = AG__KEY_REGISTRY};
    struct ag_store_reply r;
    *ids = NULL;
    *n = 0;
    ag_err e = ag_store_exec(g->store, NULL, &op, 1, &r, NULL);
    if (e)
        return e;
    size_t cnt = r.type == AG_REPLY_ARRAY ? r.nelems / 2 : 0;
    char **v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v) {
        ag_store_reply_free(&r, 1);
        return ag__fail(AG_ENOMEM, "list: out of memory");
    }
    for (size_t i = 0; i < cnt; i++)
        v[i] = take_str(&r.elems[2 * i]);
    ag_store_reply_free(&r, 1);
    qsort(v, cnt, sizeof *v, cmp_str);
    *ids = v;
    *n = cnt;
    return AG_OK;
}

ag_err ag_gov_stuck(ag_gov *g, int64_t older_than_ms, char ***ids, size_t *n)
{
    struct ag_store_op op = {.op = AG_OP_ZRANGEBYSCORE,
                             .key = AG__KEY_HB_INDEX,
                             .num = 0,
                             .num2 = ag__wall_ms() - older_than_ms};
    struct ag_store_reply r;
    *ids = NULL;
    *n = 0;
    ag_err e = ag_store_exec(g->store, NULL, &op, 1, &r, NULL);
    if (e)
        return e;
    size_t cnt = r.type == AG_REPLY_ARRAY ? r.nelems : 0;
    char **v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v) {
        ag_store_reply_free(&r, 1);
        return ag__fail(AG_ENOMEM, "stuck: out of memory");
    }
    for (size_t i = 0; i < cnt; i++)
        v[i] = take_str(&r.elems[i]);
    ag_store_reply_free(&r, 1);
    *ids = v;
    *n = cnt;
    return AG_OK;
}
