/* Store-backed human gates (gate.h). */
#include "pipeline/gate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/pipeline.h"
#include "core/err.h"
#include "core/time.h"
#include "pipeline/state.h"

static void gate_key(char *k, const char *run, const char *stage)
{
    char suffix[AG__PL_KEY_MAX];
    snprintf(suffix, sizeof suffix, "gate:%s", stage);
    ag__pl_key(k, run, suffix);
}

static ag_err gate_open(ag_store *s, const char *run, const char *stage, int64_t deadline_ms,
                        const char *const *approvers, size_t n, int required, int64_t ttl_ms)
{
    json_t *ap = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ap, json_string(approvers[i]));
    json_t *o = json_pack("{s:s,s:I,s:o,s:i,s:[],s:n}", "status", "pending", "deadline",
                          (json_int_t)deadline_ms, "approvers", ap, "required", required,
                          "approvals", "answer");
    char *js = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!js)
        return AG_ENOMEM;
    char k[AG__PL_KEY_MAX];
    gate_key(k, run, stage);
    struct ag_store_op op = {.op = AG_OP_SETNX, .key = k, .value = js, .num = ttl_ms};
    struct ag_store_reply r;
    ag_err e = ag_store_exec(s, NULL, &op, 1, &r, NULL);
    ag_store_reply_free(&r, 1);
    free(js);
    return e;
}

/* Replaces the record at k (which held old) by o; AG_ECONFLICT when it changed. */
static ag_err cas_set(ag_store *s, const char *k, const char *old, json_t *o)
{
    char *js = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (!js)
        return AG_ENOMEM;
    struct ag_store_guard g = {.key = k, .equals = old};
    /* SET without a TTL would make the record durable: keep the remaining TTL by
     * re-reading it is racy, so gates keep no TTL while pending and get the run's
     * TTL when the run ends (the scheduler expires every key of the run). */
    struct ag_store_op op = {.op = AG_OP_SET, .key = k, .value = js};
    struct ag_store_reply r;
    int ok = 1;
    ag_err e = ag_store_exec(s, &g, &op, 1, &r, &ok);
    ag_store_reply_free(&r, 1);
    free(js);
    if (!e && !ok)
        return ag__fail(AG_ECONFLICT, "the gate changed meanwhile");
    return e;
}

static ag_err gate_poll(ag_store *s, const char *run, const char *stage, int64_t now,
                        enum ag__gate_status *st, char *msg, size_t cap)
{
    char k[AG__PL_KEY_MAX], *val = NULL;
    gate_key(k, run, stage);
    msg[0] = '\0';
    for (int tries = 0; tries < 5; tries++) {
        ag_err e = ag_store_get(s, k, &val);
        if (e)
            return e;
        if (!val) /* lost or expired: fail closed */
            return ag__fail(AG_ENOTFOUND, "gate %s of run %s: no record", stage, run);
        json_t *o = json_loads(val, 0, NULL);
        const char *status = json_string_value(json_object_get(o, "status"));
        const char *answer = json_string_value(json_object_get(o, "answer"));
        if (!o || !status) {
            json_decref(o);
            free(val);
            return ag__fail(AG_EPARSE, "gate %s of run %s: bad record", stage, run);
        }
        snprintf(msg, cap, "%s", answer ? answer : "");
        if (strcmp(status, "pending") == 0 &&
            now >= json_integer_value(json_object_get(o, "deadline"))) {
            json_object_set_new(o, "status", json_string("timed_out"));
            json_object_set_new(o, "answer",
                                json_string("timed out: no answer before the deadline"));
            e = cas_set(s, k, val, o);
            json_decref(o);
            free(val);
            val = NULL;
            if (e == AG_ECONFLICT)
                continue; /* answered meanwhile: read it again */
            if (e)
                return e;
            *st = AG__GATE_TIMED_OUT;
            snprintf(msg, cap, "timed out: no answer before the deadline");
            return AG_OK;
        }
        *st = strcmp(status, "approved") == 0    ? AG__GATE_APPROVED
              : strcmp(status, "denied") == 0    ? AG__GATE_DENIED
              : strcmp(status, "timed_out") == 0 ? AG__GATE_TIMED_OUT
                                                 : AG__GATE_PENDING;
        json_decref(o);
        free(val);
        return AG_OK;
    }
    return ag__fail(AG_ECONFLICT, "gate %s of run %s keeps changing", stage, run);
}

const struct ag__pl_gates ag__pl_store_gates = {gate_open, gate_poll};

ag_err ag_pipeline_gate_answer(ag_store *s, ag_ledger *l, const char *run, const char *stage,
                               int approve, const char *by, const char *reason)
{
    char k[AG__PL_KEY_MAX], *val = NULL;
    ag_err ce = ag__pl_check_run_id(run);
    if (ce)
        return ce;
    if (!by || !*by)
        return ag__fail(AG_EINVAL, "a gate answer needs who gives it");
    gate_key(k, run, stage);
    for (int tries = 0; tries < 5; tries++) {
        ag_err e = ag_store_get(s, k, &val);
        if (e)
            return e;
        if (!val)
            return ag__fail(AG_ENOTFOUND, "run %s has no gate '%s' waiting (yet)", run, stage);
        json_t *o = json_loads(val, 0, NULL);
        const char *status = json_string_value(json_object_get(o, "status"));
        if (!o || !status) {
            json_decref(o);
            free(val);
            return ag__fail(AG_EPARSE, "gate %s of run %s: bad record", stage, run);
        }
        if (strcmp(status, "pending") != 0 ||
            ag__wall_ms() >= json_integer_value(json_object_get(o, "deadline"))) {
            e = ag__fail(AG_ESTATE, "gate '%s' of run %s is %s", stage, run,
                         strcmp(status, "pending") == 0 ? "past its deadline" : status);
            json_decref(o);
            free(val);
            return e;
        }
        json_t *ap = json_object_get(o, "approvers");
        int allowed = json_array_size(ap) == 0;
        for (size_t i = 0; i < json_array_size(ap) && !allowed; i++)
            allowed = strcmp(json_string_value(json_array_get(ap, i)), by) == 0;
        if (!allowed) {
            json_decref(o);
            free(val);
            return ag__fail(AG_EPERM, "'%s' is not an approver of gate '%s'", by, stage);
        }
        json_t *got = json_object_get(o, "approvals");
        char answer[512];
        if (!approve) {
            json_object_set_new(o, "status", json_string("denied"));
            snprintf(answer, sizeof answer, "denied by %s%s%s", by, reason ? ": " : "",
                     reason ? reason : "");
        } else {
            int seen = 0;
            for (size_t i = 0; i < json_array_size(got); i++)
                seen |= strcmp(json_string_value(json_array_get(got, i)), by) == 0;
            if (!seen)
                json_array_append_new(got, json_string(by));
            size_t need = (size_t)json_integer_value(json_object_get(o, "required"));
            if (json_array_size(got) >= (need ? need : 1))
                json_object_set_new(o, "status", json_string("approved"));
            snprintf(answer, sizeof answer, "approved by %s (%zu of %zu)%s%s", by,
                     json_array_size(got), need ? need : 1, reason ? ": " : "",
                     reason ? reason : "");
        }
        json_object_set_new(o, "answer", json_string(answer));
        /* Ledgered before the answer takes effect; a lost race is ledgered again on
         * the next try with what it then says. */
        json_t *d = json_pack("{s:s,s:s,s:b}", "stage", stage, "by", by, "approve", approve);
        char *data = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        json_t *meta = NULL; /* the pipeline's name, for the entry's resource */
        if (ag__pl_get_json(s, run, "meta", &meta) != AG_OK)
            meta = NULL;
        e = data ? ag__pl_ledger_run(l, run, json_string_value(json_object_get(meta, "pipeline")),
                                     approve ? "gate.approve" : "gate.deny", approve, answer, data)
                 : AG_ENOMEM;
        json_decref(meta);
        free(data);
        if (!e)
            e = cas_set(s, k, val, o);
        json_decref(o);
        free(val);
        val = NULL;
        if (e == AG_ECONFLICT)
            continue;
        return e;
    }
    return ag__fail(AG_ECONFLICT, "gate %s of run %s keeps changing", stage, run);
}
