/* Checks of a loaded pipeline that need all its stages (model.h): names, the
 * requirement DAG and its cycles, handlers, gates, agents, artifacts, and the
 * references of `when:` expressions and `run:` parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/model.h"
#include "pipeline/subst.h"

int ag__pl_agent_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@'))
            return 0;
    }
    return 1;
}

static void link_requires(struct ag_pipeline *p)
{
    for (size_t i = 0; i < p->nstages; i++) {
        struct ag__stage *s = &p->stages[i];
        for (size_t j = 0; j < i; j++)
            if (s->name[0] && strcmp(p->stages[j].name, s->name) == 0) {
                ag__pl_diag(p, &s->pos, "stage '%s' is defined twice (first at line %d)", s->name,
                            p->stages[j].pos.line);
                break;
            }
        /* No `requires`: the stage follows the one listed before it. */
        if (!s->explicit_requires && i > 0) {
            s->requires.v = ag__arena_alloc(&p->ar, sizeof *s->requires.v);
            s->requires.pos = ag__arena_alloc(&p->ar, sizeof *s->requires.pos);
            if (!s->requires.v || !s->requires.pos)
                return;
            s->requires.v[0] = p->stages[i - 1].name;
            s->requires.pos[0] = s->pos;
            s->requires.n = 1;
        }
        s->req = ag__arena_alloc(&p->ar, (s->requires.n + 1) * sizeof *s->req);
        if (!s->req)
            return;
        for (size_t r = 0; r < s->requires.n; r++) {
            size_t k = ag__pl_stage_index(p, s->requires.v[r]);
            s->req[r] = k;
            if (k == (size_t)-1)
                ag__pl_diag(p, &s->requires.pos[r],
                            "stage '%s' requires '%s', which is not a stage", s->name,
                            s->requires.v[r]);
            else if (k == i)
                ag__pl_diag(p, &s->requires.pos[r], "stage '%s' requires itself", s->name);
        }
    }
}

/* Depth-first search; a back edge is a cycle, named from the stack. */
struct dfs {
    struct ag_pipeline *p;
    char *color; /* 0 white, 1 on stack, 2 done */
    size_t *stack;
    size_t depth;
    int cycles;
};

static void visit(struct dfs *d, size_t i)
{
    struct ag_pipeline *p = d->p;
    d->color[i] = 1;
    d->stack[d->depth++] = i;
    struct ag__stage *s = &p->stages[i];
    for (size_t r = 0; r < s->requires.n; r++) {
        size_t k = s->req[r];
        if (k == (size_t)-1 || k == i)
            continue;
        if (d->color[k] == 1) {
            struct ag_buf b;
            ag__buf_init(&b);
            size_t from = d->depth;
            while (from > 0 && d->stack[from - 1] != k)
                from--;
            for (size_t j = from - 1; j < d->depth; j++)
                ag__buf_printf(&b, "%s -> ", p->stages[d->stack[j]].name);
            ag__buf_puts(&b, p->stages[k].name);
            ag__pl_diag(p, &p->stages[k].pos, "requirement cycle: %s",
                        b.data ? b.data : "(out of memory)");
            ag__buf_free(&b);
            d->cycles++;
        } else if (d->color[k] == 0) {
            visit(d, k);
        }
    }
    d->depth--;
    d->color[i] = 2;
}

static int find_cycles(struct ag_pipeline *p)
{
    struct dfs d = {.p = p};
    d.color = calloc(p->nstages, 1);
    d.stack = calloc(p->nstages + 1, sizeof *d.stack);
    if (!d.color || !d.stack) {
        free(d.color);
        free(d.stack);
        return 1;
    }
    for (size_t i = 0; i < p->nstages; i++)
        if (d.color[i] == 0)
            visit(&d, i);
    free(d.color);
    free(d.stack);
    return d.cycles;
}

static int up_bit(const struct ag_pipeline *p, size_t a, size_t b)
{
    return (p->up[a * p->upw + b / 64] >> (b % 64)) & 1;
}

int ag__pl_upstream(const struct ag_pipeline *p, size_t a, size_t b)
{
    return p->up && a < p->nstages && b < p->nstages && up_bit(p, a, b);
}

/* Transitive closure, in an order where requirements come first (no cycles here). */
static void closure(struct ag_pipeline *p)
{
    p->upw = (p->nstages + 63) / 64;
    p->up = ag__arena_alloc(&p->ar, p->nstages * p->upw * sizeof *p->up);
    char *done = calloc(p->nstages, 1);
    if (!p->up || !done) {
        free(done);
        p->up = NULL;
        return;
    }
    size_t finished = 0;
    while (finished < p->nstages) {
        size_t before = finished;
        for (size_t i = 0; i < p->nstages; i++) {
            if (done[i])
                continue;
            struct ag__stage *s = &p->stages[i];
            int ready = 1;
            for (size_t r = 0; r < s->requires.n && ready; r++)
                ready = s->req[r] == (size_t)-1 || done[s->req[r]];
            if (!ready)
                continue;
            uint64_t *row = &p->up[i * p->upw];
            for (size_t r = 0; r < s->requires.n; r++) {
                size_t k = s->req[r];
                if (k == (size_t)-1)
                    continue;
                row[k / 64] |= 1ull << (k % 64);
                for (size_t w = 0; w < p->upw; w++)
                    row[w] |= p->up[k * p->upw + w];
            }
            done[i] = 1;
            finished++;
        }
        if (finished == before)
            break;
    }
    free(done);
}

static void check_handlers(struct ag_pipeline *p)
{
    for (size_t i = 0; i < p->nstages; i++) {
        struct ag__stage *s = &p->stages[i];
        if (s->on_fail != AG__OF_STAGE)
            continue;
        size_t k = ag__pl_stage_index(p, s->on_fail_stage);
        s->on_fail_idx = k;
        if (k == (size_t)-1)
            ag__pl_diag(p, &s->on_fail_pos,
                        "on_failure: '%s' is not stop, continue or a stage of this pipeline",
                        s->on_fail_stage);
        else if (k == i)
            ag__pl_diag(p, &s->on_fail_pos, "on_failure: stage '%s' cannot handle itself", s->name);
        else if (ag__pl_upstream(p, i, k))
            ag__pl_diag(p, &s->on_fail_pos,
                        "on_failure: '%s' runs before '%s' (it is one of its requirements)",
                        s->on_fail_stage, s->name);
        else
            p->stages[k].is_handler = 1;
    }
}

struct refctx {
    struct ag_pipeline *p;
    size_t stage;
    struct ag__ppos pos;
};

static void check_ref(void *ctx, const struct ag__expr *ref)
{
    struct refctx *c = ctx;
    struct ag_pipeline *p = c->p;
    struct ag__ppos pos = c->pos;
    pos.col += ref->col;
    if (ref->op == AG__X_PARAM) {
        if (!ag__pl_param(p, ref->name))
            ag__pl_diag(p, &pos, "when: unknown parameter 'params.%s'", ref->name);
        return;
    }
    size_t k = ag__pl_stage_index(p, ref->name);
    if (k == (size_t)-1)
        ag__pl_diag(p, &pos, "when: unknown stage 'stages.%s'", ref->name);
    else if (!ag__pl_upstream(p, c->stage, k))
        ag__pl_diag(p, &pos,
                    "when: stage '%s' is not among the requirements of '%s' (its outcome is not "
                    "known yet when '%s' starts)",
                    ref->name, p->stages[c->stage].name, p->stages[c->stage].name);
}

static int param_known(void *ctx, const char *name)
{
    return ag__pl_param(((struct refctx *)ctx)->p, name) != NULL;
}

static void param_bad(void *ctx, size_t off, const char *inner)
{
    struct refctx *c = ctx;
    struct ag__ppos pos = c->pos;
    pos.col += (int)off;
    ag__pl_diag(c->p, &pos,
                "run: unknown reference '${{ %s }}' (only params.NAME of a declared "
                "parameter is substituted)",
                inner);
}

static void check_kind(struct ag_pipeline *p, struct ag__stage *s,
                       const struct ag_pipeline_source_ops *ops)
{
    int talks_to_a_model = s->kind == AG__SK_ORCH || (s->kind == AG__SK_AGENT && !s->run.n);
    if ((s->llm || s->model) && !talks_to_a_model)
        ag__pl_diag(p, s->llm ? &s->llm_pos : &s->pos,
                    "stage '%s': llm and model are for orchestrate stages and LLM agents (an "
                    "agent stage without run:)",
                    s->name);
    switch (s->kind) {
    case AG__SK_GATE:
        if (s->timeout_ms <= 0)
            ag__pl_diag(p, &s->pos, "human-gate stage '%s' has no timeout", s->name);
        if (s->run.n || s->agent)
            ag__pl_diag(p, &s->pos, "human-gate stage '%s' runs nothing: remove agent and run",
                        s->name);
        if (s->approvers.n && (size_t)s->required > s->approvers.n)
            ag__pl_diag(p, &s->pos,
                        "human-gate stage '%s' requires %d approvals from %zu approvers", s->name,
                        s->required, s->approvers.n);
        if (s->retry_max)
            ag__pl_diag(p, &s->pos, "human-gate stage '%s' cannot be retried", s->name);
        break;
    case AG__SK_AGENT:
        if (!s->agent) {
            ag__pl_diag(p, &s->pos, "agent stage '%s' has no agent", s->name);
            break;
        }
        if (!ag__pl_agent_id_ok(s->agent)) {
            ag__pl_diag(p, &s->agent_pos,
                        "agent '%s': ids are 1-128 characters of A-Z a-z 0-9 . _ - @", s->agent);
            break;
        }
        if (!ag__pl_agent(p, s->agent) &&
            !(ops && ops->agent_known && ops->agent_known(ops->ctx, s->agent)))
            ag__pl_diag(p, &s->agent_pos,
                        "unknown agent '%s' (declare it under agents: or register it)", s->agent);
        break;
    case AG__SK_SHELL:
        if (!s->run.n)
            ag__pl_diag(p, &s->pos, "shell stage '%s' has no run: [command, args...]", s->name);
        if (s->agent && !ag__pl_agent_id_ok(s->agent))
            ag__pl_diag(p, &s->agent_pos,
                        "agent '%s': ids are 1-128 characters of A-Z a-z 0-9 . _ - @", s->agent);
        else if (s->agent && !ag__pl_agent(p, s->agent) &&
                 !(ops && ops->agent_known && ops->agent_known(ops->ctx, s->agent)))
            ag__pl_diag(p, &s->agent_pos,
                        "unknown agent '%s' (declare it under agents: or register it)", s->agent);
        break;
    case AG__SK_ORCH:
        if (s->run.n)
            ag__pl_diag(p, &s->pos, "orchestrate stage '%s' takes a task, not run", s->name);
        else if (!s->task)
            ag__pl_diag(p, &s->pos, "orchestrate stage '%s' needs a task: (what the agents do)",
                        s->name);
        break;
    }
}

static void check_inputs(struct ag_pipeline *p, size_t i)
{
    struct ag__stage *s = &p->stages[i];
    for (size_t a = 0; a < s->inputs.n; a++) {
        const char *name = s->inputs.v[a];
        size_t any = (size_t)-1;
        int upstream = 0;
        for (size_t j = 0; j < p->nstages && !upstream; j++)
            for (size_t k = 0; k < p->stages[j].artifacts.n; k++)
                if (strcmp(p->stages[j].artifacts.v[k], name) == 0) {
                    if (any == (size_t)-1)
                        any = j;
                    if (ag__pl_upstream(p, i, j))
                        upstream = 1;
                }
        if (any == (size_t)-1)
            ag__pl_diag(p, &s->inputs.pos[a],
                        "stage '%s' consumes artifact '%s', which no stage produces", s->name,
                        name);
        else if (!upstream)
            ag__pl_diag(p, &s->inputs.pos[a],
                        "stage '%s' consumes artifact '%s', produced by '%s', which it does not "
                        "require",
                        s->name, name, p->stages[any].name);
    }
    for (size_t a = 0; a < s->artifacts.n; a++)
        if (strchr(s->artifacts.v[a], '/') || strcmp(s->artifacts.v[a], "..") == 0 ||
            strcmp(s->artifacts.v[a], ".") == 0 || s->artifacts.v[a][0] == '\0')
            ag__pl_diag(p, &s->artifacts.pos[a],
                        "artifact '%s': a file name in the stage's directory, without '/'",
                        s->artifacts.v[a]);
}

void ag__pl_check(struct ag_pipeline *p, const struct ag_pipeline_source_ops *ops)
{
    link_requires(p);
    if (find_cycles(p) == 0)
        closure(p);
    check_handlers(p);
    for (size_t i = 0; i < p->nstages; i++) {
        struct ag__stage *s = &p->stages[i];
        if (!s->name[0])
            continue;
        if (!s->broken)
            check_kind(p, s, ops);
        if (s->workdir && s->workdir[0] != '/' &&
            (strchr(s->workdir, '/') || strcmp(s->workdir, "..") == 0 ||
             strcmp(s->workdir, ".") == 0 || !s->workdir[0]))
            ag__pl_diag(p, &s->pos,
                        "stage '%s': workdir '%s' is an absolute path or one name under the "
                        "run's directory",
                        s->name, s->workdir);
        if (p->up)
            check_inputs(p, i);
        struct refctx rc = {p, i, s->when_pos};
        if (s->when && p->up)
            ag__expr_walk(s->when, check_ref, &rc);
        for (size_t a = 0; a < s->run.n; a++) {
            rc.pos = s->run.pos[a];
            rc.pos.col += s->run.quoted[a];
            (void)ag__pl_subst_check(s->run.v[a], param_known, param_bad, &rc);
        }
    }
}
