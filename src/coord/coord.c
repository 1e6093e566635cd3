/* Coordination handle, governance of writes, the blackboard and the counters: see
 * include/agentgov/coord.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coord/coord_int.h"
#include "core/err.h"

#define DEFAULT_TTL_MS (7LL * 24 * 3600 * 1000)

static const char *const sections[] = {"problem", "solutions", "progress", "consensus", NULL};
static const char *const fixed_entries[] = {"objective",    "analysis", "constraints", "synthesis",
                                            "gamma_result", "votes",    "final",       NULL};

int ag__coord_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 128)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '@' || *p == '-'))
            return 0;
    return 1;
}

int ag_coord_section_valid(const char *s)
{
    for (int i = 0; s && sections[i]; i++)
        if (strcmp(s, sections[i]) == 0)
            return 1;
    return 0;
}

/* "proposal_N" / "eval_N" with N = 1..9999 without leading zeros. */
static int numbered(const char *e, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(e, prefix, pl) != 0)
        return 0;
    const char *d = e + pl;
    size_t n = strlen(d);
    if (n == 0 || n > 4 || d[0] == '0')
        return 0;
    for (; *d; d++)
        if (*d < '0' || *d > '9')
            return 0;
    return 1;
}

int ag_coord_entry_valid(const char *e)
{
    if (!e)
        return 0;
    for (int i = 0; fixed_entries[i]; i++)
        if (strcmp(e, fixed_entries[i]) == 0)
            return 1;
    return numbered(e, "proposal_") || numbered(e, "eval_");
}

ag_err ag_coord_new(ag_store *store, ag_gov *gov, ag_ledger *ledger, int64_t ttl_ms, ag_coord **out)
{
    *out = NULL;
    if (!store || !gov || !ledger)
        return ag__fail(AG_EINVAL, "coord: store, gov and ledger are required");
    ag_coord *c = calloc(1, sizeof *c);
    if (!c)
        return ag__fail(AG_ENOMEM, "coord: out of memory");
    c->store = store;
    c->gov = gov;
    c->ledger = ledger;
    c->ttl_ms = ttl_ms > 0 ? ttl_ms : DEFAULT_TTL_MS;
    *out = c;
    return AG_OK;
}

void ag_coord_free(ag_coord *c)
{
    free(c);
}

void ag__coord_counter_key(char *buf, const char *task)
{
    snprintf(buf, AG__COORD_KEY_MAX, "task:%s:coord", task);
}

/* Counts one event in task:{task}:coord (best effort for refusals: the decision is
 * already in the ledger). */
static ag_err bump(ag_coord *c, const char *task, const char *field)
{
    char key[AG__COORD_KEY_MAX];
    ag__coord_counter_key(key, task);
    struct ag_store_op ops[2] = {{AG_OP_HINCRBY, key, field, NULL, 1, 0},
                                 {AG_OP_PEXPIRE, key, NULL, NULL, c->ttl_ms, 0}};
    struct ag_store_reply r[2];
    ag_err e = ag_store_exec(c->store, NULL, ops, 2, r, NULL);
    ag_store_reply_free(r, 2);
    return e;
}

ag_err ag__coord_authorize(ag_coord *c, const char *agent, const char *task, const char *action,
                           const char *resource, struct ag_gov_decision *d)
{
    return ag__coord_authorize_x(c, NULL, agent, task, action, resource, d);
}

ag_err ag__coord_authorize_x(ag_coord *c, const struct ag__coord_authz *az, const char *agent,
                             const char *task, const char *action, const char *resource,
                             struct ag_gov_decision *d)
{
    struct ag_gov_decision local;
    if (!d)
        d = &local;
    enum ag_effect eff = az && az->fn ? az->fn(az->ctx, agent, action, resource, d)
                                      : ag_gov_authorize(c->gov, agent, action, resource, -1, d);
    if (eff == AG_EFFECT_ALLOW)
        return AG_OK;
    if (bump(c, task, "denied")) {
        /* the refusal stands; only its count is lost */
    }
    return ag__fail(AG_EPERM, "%s %s by %s: %s%s", action, resource, agent,
                    ag_reason_name(d->reason), d->revoked ? " (agent revoked)" : "");
}

ag_err ag__coord_ledger(ag_coord *c, const char *task, const char *action, const char *resource)
{
    struct ag_ledger_entry le = {.kind = "coord",
                                 .agent_id = "orchestrator",
                                 .task_id = task,
                                 .tier = -1,
                                 .action = action,
                                 .resource = resource,
                                 .confidence = -1,
                                 .success = 1};
    return ag_ledger_append(c->ledger, &le, NULL, NULL);
}

ag_err ag_coord_bb_write(ag_coord *c, const char *agent_id, const char *task, const char *section,
                         const char *entry, const char *value_json, struct ag_gov_decision *d)
{
    return ag__coord_bb_write_x(c, NULL, agent_id, task, section, entry, value_json, d);
}

ag_err ag__coord_bb_write_x(ag_coord *c, const struct ag__coord_authz *az, const char *agent_id,
                            const char *task, const char *section, const char *entry,
                            const char *value_json, struct ag_gov_decision *d)
{
    if (!ag__coord_id_ok(task))
        return ag__fail(AG_EINVAL, "blackboard: task id '%s' is not valid", task ? task : "");
    if (!ag_coord_section_valid(section))
        return ag__fail(AG_EINVAL,
                        "blackboard: section '%s' is not one of problem, solutions, "
                        "progress, consensus",
                        section ? section : "");
    if (!ag_coord_entry_valid(entry))
        return ag__fail(AG_EINVAL,
                        "blackboard: entry '%s' is not one of objective, analysis, "
                        "constraints, proposal_N, synthesis, eval_N, gamma_result, "
                        "votes, final",
                        entry ? entry : "");
    json_t *v = value_json ? json_loads(value_json, JSON_DECODE_ANY, NULL) : NULL;
    if (!v)
        return ag__fail(AG_EINVAL, "blackboard: %s/%s: the value is not JSON", section, entry);
    char *canon = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    if (!canon)
        return ag__fail(AG_ENOMEM, "blackboard: out of memory");
    char res[AG__COORD_KEY_MAX], key[AG__COORD_KEY_MAX], ck[AG__COORD_KEY_MAX];
    snprintf(res, sizeof res, "blackboard/%s/%s/%s", task, section, entry);
    ag_err e = agent_id ? ag__coord_authorize_x(c, az, agent_id, task, "blackboard.write", res, d)
                        : ag__coord_ledger(c, task, "blackboard.write", res);
    if (e) {
        free(canon);
        return e;
    }
    snprintf(key, sizeof key, "blackboard:%s:%s", task, section);
    ag__coord_counter_key(ck, task);
    struct ag_store_op ops[4] = {{AG_OP_HSET, key, entry, canon, 0, 0},
                                 {AG_OP_PEXPIRE, key, NULL, NULL, c->ttl_ms, 0},
                                 {AG_OP_HINCRBY, ck, "blackboard_ops", NULL, 1, 0},
                                 {AG_OP_PEXPIRE, ck, NULL, NULL, c->ttl_ms, 0}};
    struct ag_store_reply r[4];
    e = ag_store_exec(c->store, NULL, ops, 4, r, NULL);
    ag_store_reply_free(r, 4);
    free(canon);
    return e;
}

ag_err ag_coord_bb_read(ag_coord *c, const char *task, const char *section, char **json)
{
    *json = NULL;
    if (!ag__coord_id_ok(task) || !ag_coord_section_valid(section))
        return ag__fail(AG_EINVAL, "blackboard: bad task '%s' or section '%s'", task ? task : "",
                        section ? section : "");
    char key[AG__COORD_KEY_MAX], ck[AG__COORD_KEY_MAX];
    snprintf(key, sizeof key, "blackboard:%s:%s", task, section);
    ag__coord_counter_key(ck, task);
    struct ag_store_op ops[2] = {{AG_OP_HGETALL, key},
                                 {AG_OP_HINCRBY, ck, "blackboard_ops", NULL, 1, 0}};
    struct ag_store_reply r[2];
    ag_err e = ag_store_exec(c->store, NULL, ops, 2, r, NULL);
    json_t *o = e ? NULL : json_object();
    for (size_t i = 0; o && r[0].type == AG_REPLY_ARRAY && i + 1 < r[0].nelems; i += 2) {
        json_t *v = json_loads(r[0].elems[i + 1].str, JSON_DECODE_ANY, NULL);
        json_object_set_new(o, r[0].elems[i].str, v ? v : json_string(r[0].elems[i + 1].str));
    }
    ag_store_reply_free(r, 2);
    if (e)
        return e;
    *json = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return *json ? AG_OK : ag__fail(AG_ENOMEM, "blackboard: out of memory");
}

ag_err ag_coord_metrics(ag_coord *c, const char *task, struct ag_coord_metrics *m)
{
    memset(m, 0, sizeof *m);
    if (!ag__coord_id_ok(task))
        return ag__fail(AG_EINVAL, "coord: task id '%s' is not valid", task ? task : "");
    char ck[AG__COORD_KEY_MAX];
    ag__coord_counter_key(ck, task);
    struct ag_store_op op = {AG_OP_HGETALL, ck};
    struct ag_store_reply r;
    ag_err e = ag_store_exec(c->store, NULL, &op, 1, &r, NULL);
    for (size_t i = 0; !e && r.type == AG_REPLY_ARRAY && i + 1 < r.nelems; i += 2) {
        int64_t v = strtoll(r.elems[i + 1].str, NULL, 10);
        const char *f = r.elems[i].str;
        if (!strcmp(f, "blackboard_ops"))
            m->blackboard_ops = v;
        else if (!strcmp(f, "messages"))
            m->messages = v;
        else if (!strcmp(f, "votes"))
            m->votes = v;
        else if (!strcmp(f, "denied"))
            m->denied = v;
    }
    ag_store_reply_free(&r, 1);
    return e;
}
