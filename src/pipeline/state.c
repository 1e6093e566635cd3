/* Checkpoints of pipeline runs (state.h). */
#include "pipeline/state.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/time.h"

static const char *const names[] = {"pending",   "running", "waiting",
                                    "succeeded", "failed",  "skipped"};

const char *ag__pl_state_name(enum ag__pl_sstate s)
{
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

int ag__pl_state_parse(const char *s, enum ag__pl_sstate *out)
{
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum ag__pl_sstate)i;
            return 0;
        }
    return -1;
}

const char *ag__pl_outcome(enum ag__pl_sstate s)
{
    return s == AG__PS_SUCCEEDED ? "success"
           : s == AG__PS_FAILED  ? "failure"
           : s == AG__PS_SKIPPED ? "skipped"
                                 : "";
}

void ag__pl_key(char *buf, const char *run, const char *suffix)
{
    snprintf(buf, AG__PL_KEY_MAX, "pipeline:%s:%s", run, suffix);
}

ag_err ag__pl_check_run_id(const char *run)
{
    if (!run || strlen(run) != 32 || strspn(run, "0123456789abcdef") != 32)
        return ag__fail(AG_EINVAL, "'%s' is not a run id (32 hex digits)", run ? run : "");
    return AG_OK;
}

ag_err ag__pl_stage_json(const struct ag__pl_stage_state *st, char **json)
{
    json_t *o = json_pack("{s:s,s:i,s:I,s:I,s:s,s:s}", "state", ag__pl_state_name(st->state),
                          "attempt", st->attempt, "not_before", (json_int_t)st->not_before,
                          "updated_at", (json_int_t)st->updated_at, "message", st->message,
                          "outcome", ag__pl_outcome(st->state));
    *json = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return *json ? AG_OK : AG_ENOMEM;
}

ag_err ag__pl_stage_from_json(const char *json, struct ag__pl_stage_state *st)
{
    memset(st, 0, sizeof *st);
    json_t *o = json_loads(json, 0, NULL);
    const char *state = json_string_value(json_object_get(o, "state"));
    int bad = !o || ag__pl_state_parse(state, &st->state) != 0;
    if (!bad) {
        st->attempt = (int)json_integer_value(json_object_get(o, "attempt"));
        st->not_before = json_integer_value(json_object_get(o, "not_before"));
        st->updated_at = json_integer_value(json_object_get(o, "updated_at"));
        const char *m = json_string_value(json_object_get(o, "message"));
        snprintf(st->message, sizeof st->message, "%s", m ? m : "");
    }
    json_decref(o);
    return bad ? ag__fail(AG_EPARSE, "pipeline: a stage checkpoint does not parse") : AG_OK;
}

/* The ledger entry of one change; *data is malloc'd for the caller. */
static ag_err change_entry(const char *run, const char *pipeline, const struct ag__pl_change *c,
                           char action[64], struct ag_ledger_entry *le, char **data)
{
    const struct ag__pl_stage_state *st = c->st;
    snprintf(action, 64, "stage.%s", ag__pl_state_name(st->state));
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "run_id", run, "pipeline", pipeline, "stage",
                          c->stage, "state", ag__pl_state_name(st->state), "attempt", st->attempt,
                          "idempotency_key", c->key);
    *data = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    int success = st->state == AG__PS_SUCCEEDED ? 1 : st->state == AG__PS_FAILED ? 0 : -1;
    *le = (struct ag_ledger_entry){.kind = "pipeline",
                                   .agent_id = c->agent,
                                   .task_id = run,
                                   .tier = -1,
                                   .action = action,
                                   .resource = c->stage,
                                   .reason = st->message[0] ? st->message : NULL,
                                   .confidence = -1,
                                   .success = success,
                                   .data_json = *data};
    return *data ? AG_OK : AG_ENOMEM;
}

#define LEDGER_BATCH 8 /* ag_ledger_append_batch's limit */

/* Ledgers changes [from, from+n) (n <= LEDGER_BATCH) in one group commit. */
static ag_err ledger_chunk(ag_ledger *l, const char *run, const char *pipeline,
                           const struct ag__pl_change *c, size_t n)
{
    struct ag_ledger_entry le[LEDGER_BATCH];
    const struct ag_ledger_entry *lp[LEDGER_BATCH];
    char action[LEDGER_BATCH][64], *data[LEDGER_BATCH] = {0};
    ag_err e = AG_OK;
    for (size_t i = 0; !e && i < n; i++) {
        e = change_entry(run, pipeline, &c[i], action[i], &le[i], &data[i]);
        lp[i] = &le[i];
    }
    if (!e)
        e = ag_ledger_append_batch(l, lp, n, NULL);
    for (size_t i = 0; i < n; i++)
        free(data[i]);
    return e;
}

ag_err ag__pl_checkpoint_batch(ag_store *s, ag_ledger *l, const char *run, const char *pipeline,
                               const struct ag__pl_change *c, size_t n)
{
    ag_err e = AG_OK;
    for (size_t k = 0; !e && k < n; k += LEDGER_BATCH)
        e = ledger_chunk(l, run, pipeline, c + k, n - k < LEDGER_BATCH ? n - k : LEDGER_BATCH);
    if (e || n == 0)
        return e;
    char k[AG__PL_KEY_MAX];
    ag__pl_key(k, run, "stages");
    struct ag_store_op *ops = calloc(n, sizeof *ops);
    struct ag_store_reply *rep = calloc(n, sizeof *rep);
    char **json = calloc(n, sizeof *json);
    e = ops && rep && json ? AG_OK : AG_ENOMEM;
    for (size_t i = 0; !e && i < n; i++) {
        e = ag__pl_stage_json(c[i].st, &json[i]);
        ops[i] =
            (struct ag_store_op){.op = AG_OP_HSET, .key = k, .field = c[i].stage, .value = json[i]};
    }
    if (!e && (e = ag_store_exec(s, NULL, ops, n, rep, NULL)) == AG_OK)
        ag_store_reply_free(rep, n);
    for (size_t i = 0; json && i < n; i++)
        free(json[i]);
    free(json);
    free(ops);
    free(rep);
    return e;
}

ag_err ag__pl_checkpoint(ag_store *s, ag_ledger *l, const char *run, const char *pipeline,
                         const char *stage, const char *agent, const char *key,
                         const struct ag__pl_stage_state *st)
{
    struct ag__pl_change c = {stage, agent, key, st};
    return ag__pl_checkpoint_batch(s, l, run, pipeline, &c, 1);
}

ag_err ag__pl_ledger_run(ag_ledger *l, const char *run, const char *pipeline, const char *action,
                         int success, const char *reason, const char *data_json)
{
    json_t *d = data_json ? json_loads(data_json, 0, NULL) : json_object();
    if (!d)
        return ag__fail(AG_EINVAL, "pipeline: ledger data is not JSON");
    json_object_set_new(d, "run_id", json_string(run));
    json_object_set_new(d, "pipeline", json_string(pipeline ? pipeline : ""));
    char *data = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    if (!data)
        return AG_ENOMEM;
    struct ag_ledger_entry le = {.kind = "pipeline",
                                 .task_id = run,
                                 .tier = -1,
                                 .action = action,
                                 .resource = pipeline,
                                 .reason = reason,
                                 .confidence = -1,
                                 .success = success,
                                 .data_json = data};
    ag_err e = ag_ledger_append(l, &le, NULL, NULL);
    free(data);
    return e;
}
