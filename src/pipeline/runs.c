/* Pipeline runs on the store: creating a run, reading its stored pipeline back,
 * status, listing and cancel (include/agentgov/pipeline.h; keys in state.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "pipeline/gate.h"
#include "pipeline/model.h"
#include "pipeline/state.h"

static ag_err parse_params(const struct ag_pipeline *p, const char *const *kv, size_t n,
                           json_t **out)
{
    json_t *o = json_object();
    if (!o)
        return AG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        if (!eq || eq == kv[i]) {
            json_decref(o);
            return ag__fail(AG_EINVAL, "--param '%s': expected NAME=VALUE", kv[i]);
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - kv[i]), kv[i]);
        const struct ag__param *pa = ag__pl_param(p, name);
        if (!pa) {
            json_decref(o);
            return ag__fail(AG_EINVAL, "--param %s: pipeline '%s' has no parameter '%s'", kv[i],
                            p->name, name);
        }
        if (!ag__pl_param_value_ok(pa->type, eq + 1)) {
            json_decref(o);
            return ag__fail(AG_EINVAL, "--param %s: '%s' is not a %s", name, eq + 1,
                            pa->type == AG__PT_INT ? "int" : "bool (true or false)");
        }
        json_object_set_new(o, name, json_string(eq + 1));
    }
    for (size_t i = 0; i < p->nparams; i++) {
        const struct ag__param *pa = &p->params[i];
        if (json_object_get(o, pa->name))
            continue;
        if (!pa->has_default) {
            json_decref(o);
            return ag__fail(AG_EINVAL, "parameter '%s' has no default: give --param %s=VALUE",
                            pa->name, pa->name);
        }
        json_object_set_new(o, pa->name, json_string(pa->def));
    }
    *out = o;
    return AG_OK;
}

ag_err ag__pl_get_json(ag_store *s, const char *run, const char *suffix, json_t **out)
{
    char k[AG__PL_KEY_MAX], *v = NULL;
    ag__pl_key(k, run, suffix);
    *out = NULL;
    ag_err e = ag_store_get(s, k, &v);
    if (e)
        return e;
    if (!v)
        return ag__fail(AG_ENOTFOUND, "no pipeline run '%s' (unknown, or its checkpoints expired)",
                        run);
    *out = json_loads(v, 0, NULL);
    free(v);
    return *out ? AG_OK : ag__fail(AG_EPARSE, "run %s: %s does not parse", run, suffix);
}

struct stored_src {
    json_t *sources;
};

static ag_err read_stored(void *ctx, const char *from, const char *path, char **text, size_t *len)
{
    (void)from;
    json_t *s = json_object_get(((struct stored_src *)ctx)->sources, path);
    const char *t = json_string_value(s);
    if (!t)
        return ag__fail(AG_ENOTFOUND, "not among the run's stored sources");
    *len = json_string_length(s);
    *text = malloc(*len + 1);
    if (!*text)
        return AG_ENOMEM;
    memcpy(*text, t, *len + 1);
    return AG_OK;
}

static int any_agent(void *ctx, const char *id)
{
    (void)ctx;
    (void)id;
    return 1; /* checked when the run was created */
}

/* Loads the run's pipeline from the sources stored with it (the files may have
 * changed since). */
ag_err ag__pl_load_stored(ag_store *s, const char *run, struct ag_pipeline **out)
{
    json_t *src;
    ag_err e = ag__pl_get_json(s, run, "source", &src);
    if (e)
        return e;
    const char *file = json_string_value(json_object_get(src, "file"));
    struct stored_src ss = {json_object_get(src, "sources")};
    json_t *main = json_object_get(ss.sources, file ? file : "");
    char *diags = NULL;
    struct ag_pipeline_source_ops ops = {.ctx = &ss, .read = read_stored, .agent_known = any_agent};
    e = main ? ag_pipeline_load(file, json_string_value(main), json_string_length(main), &ops, out,
                                &diags)
             : ag__fail(AG_EPARSE, "run %s: its stored source is incomplete", run);
    if (e == AG_EPARSE && diags)
        e = ag__fail(AG_EPARSE, "run %s: its stored pipeline no longer loads: %s", run, diags);
    free(diags);
    json_decref(src);
    return e;
}

ag_err ag_pipeline_create_run(const struct ag_pipeline_env *env, const ag_pipeline *p,
                              const char *const *params, size_t nparams, char run_id[33])
{
    json_t *pv = NULL;
    ag_err e = parse_params(p, params, nparams, &pv);
    if (e)
        return e;
    ag__random_hex(16, run_id);
    json_t *srcs = json_object();
    for (size_t i = 0; i < p->nsources; i++)
        json_object_set_new(srcs, p->sources[i].path,
                            json_stringn(p->sources[i].text, p->sources[i].len));
    json_t *src = json_pack("{s:s,s:o}", "file", p->file, "sources", srcs);
    int64_t now = ag__wall_ms();
    json_t *meta = json_pack("{s:s,s:s,s:s,s:s,s:O,s:I,s:I}", "run_id", run_id, "pipeline", p->name,
                             "file", p->file, "status", "running", "params", pv, "created_at",
                             (json_int_t)now, "updated_at", (json_int_t)now);
    char *srcjs = src ? json_dumps(src, JSON_COMPACT) : NULL;
    char *metajs = meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_t *stages = json_array();
    for (size_t i = 0; i < p->nstages; i++)
        json_array_append_new(stages, json_string(p->stages[i].name));
    json_t *d = json_pack("{s:O,s:o}", "params", pv, "stages", stages);
    char *djs = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    json_decref(src);
    json_decref(meta);
    json_decref(pv);
    if (!srcjs || !metajs || !djs) {
        free(srcjs);
        free(metajs);
        free(djs);
        return AG_ENOMEM;
    }
    e = ag__pl_ledger_run(env->ledger, run_id, p->name, "run.start", -1, p->file, djs);
    free(djs);
    size_t nops = 3 + p->nstages;
    struct ag_store_op *ops = calloc(nops, sizeof *ops);
    struct ag_store_reply *rep = calloc(nops, sizeof *rep);
    char(*pend)[256] = calloc(p->nstages + 1, sizeof *pend);
    char km[AG__PL_KEY_MAX], ks[AG__PL_KEY_MAX], kst[AG__PL_KEY_MAX];
    ag__pl_key(km, run_id, "meta");
    ag__pl_key(ks, run_id, "source");
    ag__pl_key(kst, run_id, "stages");
    if (!e && (!ops || !rep || !pend))
        e = AG_ENOMEM;
    if (!e) {
        ops[0] = (struct ag_store_op){.op = AG_OP_SET, .key = ks, .value = srcjs};
        ops[1] = (struct ag_store_op){.op = AG_OP_SET, .key = km, .value = metajs};
        ops[2] = (struct ag_store_op){
            .op = AG_OP_ZADD, .key = "pipelines:runs", .field = run_id, .num = now};
        for (size_t i = 0; i < p->nstages; i++) {
            struct ag__pl_stage_state st = {.state = AG__PS_PENDING, .updated_at = now};
            char *js = NULL;
            if ((e = ag__pl_stage_json(&st, &js)))
                break;
            snprintf(pend[i], sizeof pend[i], "%s", js);
            free(js);
            ops[3 + i] = (struct ag_store_op){
                .op = AG_OP_HSET, .key = kst, .field = p->stages[i].name, .value = pend[i]};
        }
    }
    if (!e)
        e = ag_store_exec(env->store, NULL, ops, nops, rep, NULL);
    if (rep)
        ag_store_reply_free(rep, nops);
    free(ops);
    free(rep);
    free(pend);
    free(srcjs);
    free(metajs);
    return e;
}

/* ---------------------------------------------------------------- status --- */

/* The stage's edges in the DAG, for a client that draws it: the stages it requires
 * (the one listed before it when the file names none) and its failure handler. */
static void set_edges(json_t *o, const struct ag__stage *st)
{
    json_t *req = json_array();
    for (size_t r = 0; r < st->requires.n; r++)
        json_array_append_new(req, json_string(st->requires.v[r]));
    json_object_set_new(o, "requires", req);
    if (st->on_fail == AG__OF_STAGE && st->on_fail_stage)
        json_object_set_new(o, "on_failure", json_string(st->on_fail_stage));
}

ag_err ag_pipeline_status(ag_store *s, const char *run_id, char **json)
{
    json_t *meta;
    *json = NULL;
    ag_err e = ag__pl_check_run_id(run_id);
    if (!e)
        e = ag__pl_get_json(s, run_id, "meta", &meta);
    if (e)
        return e;
    char k[AG__PL_KEY_MAX];
    ag__pl_key(k, run_id, "stages");
    struct ag_store_op op = {.op = AG_OP_HGETALL, .key = k};
    struct ag_store_reply r;
    if ((e = ag_store_exec(s, NULL, &op, 1, &r, NULL))) {
        json_decref(meta);
        return e;
    }
    /* Stages in the pipeline's order: the run.start ledger entry has it, and so does
     * the stored source; the store's hash order is not meaningful. */
    struct ag_pipeline *p = NULL;
    json_t *stages = json_array();
    if (ag__pl_load_stored(s, run_id, &p) == AG_OK) {
        for (size_t i = 0; i < p->nstages; i++)
            for (size_t j = 0; r.type == AG_REPLY_ARRAY && j + 1 < r.nelems; j += 2)
                if (strcmp(r.elems[j].str, p->stages[i].name) == 0) {
                    json_t *o = json_loads(r.elems[j + 1].str, 0, NULL);
                    if (o) {
                        json_object_set_new(o, "stage", json_string(p->stages[i].name));
                        json_object_set_new(o, "kind",
                                            json_string(ag__pl_kind_name(p->stages[i].kind)));
                        set_edges(o, &p->stages[i]);
                        /* A gate's approval: approvers, approvals so far, deadline. */
                        json_t *gate = NULL;
                        if (p->stages[i].kind == AG__SK_GATE &&
                            ag__pl_gate_json(s, run_id, p->stages[i].name, &gate) == AG_OK && gate)
                            json_object_set_new(o, "gate", gate);
                        json_array_append_new(stages, o);
                    }
                }
    }
    ag_pipeline_free(p);
    ag_store_reply_free(&r, 1);
    json_object_set_new(meta, "stages", stages);
    *json = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    return *json ? AG_OK : AG_ENOMEM;
}

ag_err ag_pipeline_list(ag_store *s, char **json)
{
    struct ag_store_op op = {
        .op = AG_OP_ZRANGEBYSCORE, .key = "pipelines:runs", .num = 0, .num2 = INT64_MAX};
    struct ag_store_reply r;
    *json = NULL;
    ag_err e = ag_store_exec(s, NULL, &op, 1, &r, NULL);
    if (e)
        return e;
    json_t *arr = json_array();
    for (size_t j = r.nelems; r.type == AG_REPLY_ARRAY && j-- > 0;) {
        json_t *meta = NULL;
        if (ag__pl_get_json(s, r.elems[j].str, "meta", &meta) != AG_OK) {
            /* Its checkpoints expired: drop it from the index. */
            struct ag_store_op z = {
                .op = AG_OP_ZREM, .key = "pipelines:runs", .field = r.elems[j].str};
            struct ag_store_reply zr;
            if (ag_store_exec(s, NULL, &z, 1, &zr, NULL) == AG_OK)
                ag_store_reply_free(&zr, 1);
            continue;
        }
        json_object_del(meta, "params");
        json_array_append_new(arr, meta);
    }
    ag_store_reply_free(&r, 1);
    *json = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(arr);
    return *json ? AG_OK : AG_ENOMEM;
}

ag_err ag_pipeline_cancel(ag_store *s, ag_ledger *l, const char *run_id, const char *by)
{
    json_t *meta;
    ag_err e = ag__pl_check_run_id(run_id);
    if (!e)
        e = ag__pl_get_json(s, run_id, "meta", &meta);
    if (e)
        return e;
    const char *st = json_string_value(json_object_get(meta, "status"));
    if (st && strcmp(st, "running") != 0) {
        e = ag__fail(AG_ESTATE, "run %s is %s already", run_id, st);
        json_decref(meta);
        return e;
    }
    json_t *d = json_pack("{s:s}", "by", by ? by : "");
    char *djs = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    e = djs ? ag__pl_ledger_run(l, run_id, json_string_value(json_object_get(meta, "pipeline")),
                                "run.cancel", -1, "cancel requested", djs)
            : AG_ENOMEM;
    free(djs);
    json_decref(meta);
    if (e)
        return e;
    char k[AG__PL_KEY_MAX];
    ag__pl_key(k, run_id, "cancel");
    return ag_store_set(s, k, by && *by ? by : "cancelled", 0);
}
