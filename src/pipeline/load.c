/* The pipeline DSL loader (docs/pipelines.md): YAML tree -> struct ag_pipeline, with
 * every problem recorded as a "file:line:col: message" diagnostic rather than stopping
 * at the first. Templates (`uses:`) are read through the caller's ops, their
 * parameters substituted in their scalars, and their stage merged under the using
 * stage's own keys. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/gov.h"
#include "core/err.h"
#include "core/time.h"
#include "pipeline/model.h"
#include "pipeline/subst.h"
#include "policy/yaml.h"

#define MAX_STAGES    4096
#define MAX_TEMPLATES 64
#define DEFAULT_PAR   4
#define MAX_RETRY     100

void ag__pl_diag(struct ag_pipeline *p, const struct ag__ppos *pos, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ag__buf_printf(&p->diags, "%s:%d:%d: %s\n", pos->file, pos->line, pos->col, msg);
    p->ndiags++;
}

static struct ag__ppos at(const char *file, const struct ag__ynode *n)
{
    struct ag__ppos r = {file, n ? n->line : 1, n ? n->col : 1};
    return r;
}

static void diag_at(struct ag_pipeline *p, const char *file, const struct ag__ynode *n,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void diag_at(struct ag_pipeline *p, const char *file, const struct ag__ynode *n,
                    const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct ag__ppos pos = at(file, n);
    ag__pl_diag(p, &pos, "%s", msg);
}

static const char *dup(struct ag_pipeline *p, const char *s)
{
    return ag__arena_strndup(&p->ar, s, strlen(s));
}

/* A scalar's text, or NULL after a diagnostic saying `what` must be one. */
static const char *scalar(struct ag_pipeline *p, const char *file, const struct ag__ynode *n,
                          const char *what)
{
    if (!n || n->type != AG__Y_SCALAR || n->is_null) {
        diag_at(p, file, n, "%s: expected a value", what);
        return NULL;
    }
    return n->text;
}

/* A list of scalars (a single scalar is a list of one). */
static int strv(struct ag_pipeline *p, const char *file, const struct ag__ynode *n,
                const char *what, struct ag__strv *out)
{
    memset(out, 0, sizeof *out);
    if (n && n->type == AG__Y_SCALAR && n->is_null)
        return 0;
    size_t cnt = n && n->type == AG__Y_SEQ ? n->n : 1;
    out->v = ag__arena_alloc(&p->ar, (cnt + 1) * sizeof *out->v);
    out->pos = ag__arena_alloc(&p->ar, (cnt + 1) * sizeof *out->pos);
    out->quoted = ag__arena_alloc(&p->ar, cnt + 1);
    if (!out->v || !out->pos || !out->quoted)
        return -1;
    if (!n || n->type == AG__Y_MAP) {
        diag_at(p, file, n, "%s: expected a list", what);
        return -1;
    }
    for (size_t i = 0; i < cnt; i++) {
        const struct ag__ynode *it = n->type == AG__Y_SEQ ? n->items[i] : n;
        if (it->type != AG__Y_SCALAR || it->is_null) {
            diag_at(p, file, it, "%s: expected a list of strings", what);
            return -1;
        }
        out->pos[out->n] = at(file, it);
        out->quoted[out->n] = (char)it->quoted;
        out->v[out->n++] = it->text;
    }
    return 0;
}

static int duration(struct ag_pipeline *p, const char *file, const struct ag__ynode *n,
                    const char *what, int64_t *ms)
{
    const char *s = scalar(p, file, n, what);
    if (!s)
        return -1;
    if (ag__parse_duration(s, ms) != AG_OK) {
        diag_at(p, file, n, "%s: expected a duration such as 30s, 10m or 1h, got '%s'", what, s);
        return -1;
    }
    return 0;
}

static int integer(struct ag_pipeline *p, const char *file, const struct ag__ynode *n,
                   const char *what, long lo, long hi, int *out)
{
    const char *s = scalar(p, file, n, what);
    if (!s)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < lo || v > hi) {
        diag_at(p, file, n, "%s: expected an integer %ld..%ld, got '%s'", what, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Diagnoses every key of map not in the space-separated list `known`. */
static void unknown_keys(struct ag_pipeline *p, const char *file, const struct ag__ynode *map,
                         const char *known, const char *where)
{
    for (size_t i = 0; map && map->type == AG__Y_MAP && i < map->n; i++) {
        const struct ag__ynode *k = map->items[2 * i];
        const char *t = k->type == AG__Y_SCALAR ? k->text : "";
        size_t len = strlen(t);
        const char *hit = NULL;
        for (const char *c = known; len && (c = strstr(c, t)); c += len)
            if ((c == known || c[-1] == ' ') && (c[len] == ' ' || c[len] == '\0')) {
                hit = c;
                break;
            }
        if (!hit)
            diag_at(p, file, k, "unknown key '%s' in %s (expected one of: %s)", t, where, known);
    }
}

/* ------------------------------------------------------------ parameters --- */

static int parse_type(const char *s, enum ag__ptype *t)
{
    if (strcmp(s, "string") == 0)
        *t = AG__PT_STRING;
    else if (strcmp(s, "int") == 0 || strcmp(s, "integer") == 0)
        *t = AG__PT_INT;
    else if (strcmp(s, "bool") == 0 || strcmp(s, "boolean") == 0)
        *t = AG__PT_BOOL;
    else
        return -1;
    return 0;
}

int ag__pl_param_value_ok(enum ag__ptype t, const char *v)
{
    if (t == AG__PT_STRING)
        return 1;
    if (t == AG__PT_BOOL)
        return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
    char *end;
    if (*v == '\0')
        return 0;
    (void)strtoll(v, &end, 10);
    return *end == '\0';
}

static const char *type_word(enum ag__ptype t)
{
    return t == AG__PT_STRING ? "string" : t == AG__PT_INT ? "int" : "bool";
}

static void parse_params(struct ag_pipeline *p, const char *file, const struct ag__ynode *n,
                         struct ag__param **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (!n || (n->type == AG__Y_SCALAR && n->is_null))
        return;
    if (n->type != AG__Y_MAP) {
        diag_at(p, file, n, "params: expected a map of name: {type, default}");
        return;
    }
    *out = ag__arena_alloc(&p->ar, (n->n + 1) * sizeof **out);
    if (!*out)
        return;
    for (size_t i = 0; i < n->n; i++) {
        const struct ag__ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        struct ag__param *pa = &(*out)[(*nout)++];
        pa->name = k->text ? k->text : "";
        pa->pos = at(file, k);
        pa->type = AG__PT_STRING;
        for (size_t j = 0; j + 1 < *nout; j++)
            if (strcmp((*out)[j].name, pa->name) == 0)
                diag_at(p, file, k, "parameter '%s' is declared twice", pa->name);
        if (v->type == AG__Y_SCALAR) { /* name: default (a string) */
            pa->has_default = !v->is_null;
            pa->def = v->text;
            continue;
        }
        if (v->type != AG__Y_MAP) {
            diag_at(p, file, v, "parameter '%s': expected {type, default} or a default value",
                    pa->name);
            continue;
        }
        unknown_keys(p, file, v, "type default description", "a parameter");
        const struct ag__ynode *t = ag__yaml_get(v, "type"), *d = ag__yaml_get(v, "default");
        if (t) {
            const char *ts = scalar(p, file, t, "type");
            if (ts && parse_type(ts, &pa->type) != 0)
                diag_at(p, file, t, "parameter '%s': unknown type '%s' (string, int or bool)",
                        pa->name, ts);
        }
        if (d) {
            const char *ds = scalar(p, file, d, "default");
            if (ds && !ag__pl_param_value_ok(pa->type, ds))
                diag_at(p, file, d, "parameter '%s': default '%s' is not a %s", pa->name, ds,
                        type_word(pa->type));
            pa->has_default = ds != NULL;
            pa->def = ds;
        }
    }
}

/* ------------------------------------------------------------- templates --- */

struct tmpl {
    const char *path;       /* as written */
    const char *file;       /* the name used in diagnostics */
    struct ag__ynode *root; /* the `template:` map, NULL when it did not load */
    struct ag__param *params;
    size_t nparams;
    const struct ag__ynode *stage;
};

struct loader {
    struct ag_pipeline *p;
    const struct ag_pipeline_source_ops *ops;
    struct tmpl tmpls[MAX_TEMPLATES];
    size_t ntmpls;
};

static ag_err add_source(struct ag_pipeline *p, const char *path, const char *text, size_t len)
{
    for (size_t i = 0; i < p->nsources; i++)
        if (strcmp(p->sources[i].path, path) == 0)
            return AG_OK;
    if (p->nsources == p->capsources) {
        size_t cap = p->capsources ? p->capsources * 2 : 4;
        struct ag__source *s = realloc(p->sources, cap * sizeof *s);
        if (!s)
            return AG_ENOMEM;
        p->sources = s;
        p->capsources = cap;
    }
    struct ag__source *s = &p->sources[p->nsources];
    s->path = dup(p, path);
    s->text = ag__arena_strndup(&p->ar, text, len);
    s->len = len;
    if (!s->path || !s->text)
        return AG_ENOMEM;
    p->nsources++;
    return AG_OK;
}

/* Reads and parses a file through ops (relative to `from`). */
static struct ag__ynode *read_yaml(struct loader *L, const char *from, const char *path,
                                   const struct ag__ynode *where, char **textout, const char *what)
{
    struct ag_pipeline *p = L->p;
    if (!L->ops || !L->ops->read) {
        diag_at(p, from, where, "cannot read '%s': templates are not available here", path);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    ag_err e = L->ops->read(L->ops->ctx, from, path, &text, &len);
    if (e) {
        diag_at(p, from, where, "unknown %s '%s': %s", what, path, ag_last_error());
        return NULL;
    }
    if (add_source(p, path, text, len) != AG_OK) {
        free(text);
        return NULL;
    }
    struct ag__ynode *root = NULL;
    const char *name = dup(p, path);
    if (ag__yaml_parse(&p->ar, name ? name : path, text, len, &root) != AG_OK) {
        ag__buf_printf(&p->diags, "%s\n", ag_last_error());
        p->ndiags++;
        root = NULL;
    }
    if (textout)
        *textout = text;
    else
        free(text);
    return root;
}

static void parse_agents(struct loader *L, const char *file, const struct ag__ynode *n);

static struct tmpl *load_template(struct loader *L, const char *from, const char *path,
                                  const struct ag__ynode *where)
{
    struct ag_pipeline *p = L->p;
    for (size_t i = 0; i < L->ntmpls; i++)
        if (strcmp(L->tmpls[i].path, path) == 0)
            return L->tmpls[i].root ? &L->tmpls[i] : NULL;
    if (L->ntmpls == MAX_TEMPLATES) {
        diag_at(p, from, where, "more than %d templates", MAX_TEMPLATES);
        return NULL;
    }
    struct tmpl *t = &L->tmpls[L->ntmpls++];
    memset(t, 0, sizeof *t);
    t->path = dup(p, path);
    t->file = t->path;
    struct ag__ynode *root = read_yaml(L, from, path, where, NULL, "template");
    if (!root)
        return NULL;
    const struct ag__ynode *tm = ag__yaml_get(root, "template");
    if (root->type != AG__Y_MAP || !tm || tm->type != AG__Y_MAP) {
        diag_at(p, t->file, root, "a template file holds one map under the key 'template'");
        return NULL;
    }
    unknown_keys(p, t->file, root, "template", "the template file");
    unknown_keys(p, t->file, tm, "name description params agent stage", "template");
    parse_params(p, t->file, ag__yaml_get(tm, "params"), &t->params, &t->nparams);
    const struct ag__ynode *ag = ag__yaml_get(tm, "agent");
    if (ag)
        parse_agents(L, t->file, ag);
    t->stage = ag__yaml_get(tm, "stage");
    if (!t->stage || t->stage->type != AG__Y_MAP) {
        diag_at(p, t->file, tm, "template: 'stage' (a map of stage keys) is required");
        return NULL;
    }
    t->root = root;
    return t;
}

struct tvals {
    const struct tmpl *t;
    const struct ag__ynode *with;
};

static const char *tval(void *ctx, const char *name)
{
    const struct tvals *tv = ctx;
    const struct ag__ynode *w = ag__yaml_get(tv->with, name);
    if (w && w->type == AG__Y_SCALAR && !w->is_null)
        return w->text;
    for (size_t i = 0; i < tv->t->nparams; i++)
        if (strcmp(tv->t->params[i].name, name) == 0)
            /* A missing value is diagnosed where the template is used. */
            return tv->t->params[i].has_default ? tv->t->params[i].def : "";
    return NULL;
}

/* A copy of n with template parameters substituted in every scalar. */
static struct ag__ynode *subst_tree(struct ag_pipeline *p, const struct ag__ynode *n,
                                    struct tvals *tv)
{
    struct ag__ynode *c = ag__arena_alloc(&p->ar, sizeof *c);
    if (!c)
        return NULL;
    *c = *n;
    if (n->type == AG__Y_SCALAR) {
        char *s = ag__pl_subst(n->text, tval, tv);
        if (!s)
            return NULL;
        c->text = dup(p, s);
        c->len = strlen(s);
        free(s);
        return c->text ? c : NULL;
    }
    size_t cnt = n->type == AG__Y_MAP ? 2 * n->n : n->n;
    c->items = ag__arena_alloc(&p->ar, (cnt + 1) * sizeof *c->items);
    if (!c->items)
        return NULL;
    for (size_t i = 0; i < cnt; i++)
        if (!(c->items[i] = subst_tree(p, n->items[i], tv)))
            return NULL;
    return c;
}

/* --------------------------------------------------------------- agents --- */

static void add_agent(struct loader *L, const char *file, const struct ag__ynode *k, const char *id,
                      const struct ag__ynode *body)
{
    struct ag_pipeline *p = L->p;
    if (!ag__pl_agent_id_ok(id)) {
        diag_at(p, file, k, "agent '%s': ids are 1-128 characters of A-Z a-z 0-9 . _ - @", id);
        return;
    }
    for (size_t i = 0; i < p->nagents; i++)
        if (strcmp(p->agents[i].id, id) == 0)
            return; /* a template used twice declares its agent once */
    struct ag__agent_decl *a = ag__arena_alloc(&p->ar, (p->nagents + 1) * sizeof *a);
    if (!a)
        return;
    if (p->nagents)
        memcpy(a, p->agents, p->nagents * sizeof *a);
    p->agents = a;
    struct ag__agent_decl *d = &a[p->nagents++];
    d->id = id;
    d->pos = at(file, k);
    d->tier = -1;
    if (!body || body->type != AG__Y_MAP)
        return;
    unknown_keys(p, file, body, "id tier packet description", "an agent");
    const struct ag__ynode *t = ag__yaml_get(body, "tier"), *pk = ag__yaml_get(body, "packet");
    if (t)
        (void)integer(p, file, t, "tier", 0, 4, &d->tier);
    if (pk) {
        const char *path = scalar(p, file, pk, "packet");
        char *text = NULL;
        if (path && read_yaml(L, file, path, pk, &text, "packet") && text) {
            ag_packet *pkt = NULL;
            if (ag_packet_parse(text, strlen(text), &pkt) != AG_OK)
                diag_at(p, file, pk, "packet '%s': %s", path, ag_last_error());
            ag_packet_free(pkt);
            d->packet_json = dup(p, text);
        }
        free(text);
    }
}

/* `agents:` as a map (id: {tier, packet}) or, in a template, `agent: {id, tier, packet}`. */
static void parse_agents(struct loader *L, const char *file, const struct ag__ynode *n)
{
    struct ag_pipeline *p = L->p;
    if (n->type == AG__Y_MAP && ag__yaml_get(n, "id")) {
        const char *id = scalar(p, file, ag__yaml_get(n, "id"), "agent id");
        if (id)
            add_agent(L, file, ag__yaml_get(n, "id"), id, n);
        return;
    }
    if (n->type != AG__Y_MAP) {
        diag_at(p, file, n, "agents: expected a map of id: {tier, packet}");
        return;
    }
    for (size_t i = 0; i < n->n; i++)
        add_agent(L, file, n->items[2 * i], n->items[2 * i]->text ? n->items[2 * i]->text : "",
                  n->items[2 * i + 1]);
}

/* --------------------------------------------------------------- stages --- */

struct ent {
    const struct ag__ynode *k, *v;
    const char *file;
};

#define STAGE_KEYS                                                                                 \
    "type agent run workdir requires artifacts inputs retry timeout when on_failure approvers "    \
    "required uses with description task llm model"

static int is_stage_key(const char *k)
{
    static const char keys[] = STAGE_KEYS;
    size_t len = strlen(k);
    for (const char *c = keys; len && (c = strstr(c, k)); c += len)
        if ((c == keys || c[-1] == ' ') && (c[len] == ' ' || c[len] == '\0'))
            return 1;
    return 0;
}

static const struct ent *find(const struct ent *e, size_t n, const char *key)
{
    for (size_t i = n; i-- > 0;) /* the last one wins: the using stage over its template */
        if (strcmp(e[i].k->text, key) == 0)
            return &e[i];
    return NULL;
}

static int kind_of(const char *s, enum ag__stage_kind *k)
{
    static const struct {
        const char *n;
        enum ag__stage_kind k;
    } t[] = {{"agent", AG__SK_AGENT},
             {"human-gate", AG__SK_GATE},
             {"orchestrate", AG__SK_ORCH},
             {"shell", AG__SK_SHELL}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(s, t[i].n) == 0) {
            *k = t[i].k;
            return 0;
        }
    return -1;
}

const char *ag__pl_kind_name(enum ag__stage_kind k)
{
    return k == AG__SK_AGENT  ? "agent"
           : k == AG__SK_GATE ? "human-gate"
           : k == AG__SK_ORCH ? "orchestrate"
                              : "shell";
}

static void parse_retry(struct ag_pipeline *p, const struct ent *e, struct ag__stage *s)
{
    const struct ag__ynode *v = e->v;
    if (v->type == AG__Y_SCALAR) { /* retry: 3 */
        (void)integer(p, e->file, v, "retry", 0, MAX_RETRY, &s->retry_max);
        return;
    }
    if (v->type != AG__Y_MAP) {
        diag_at(p, e->file, v, "retry: expected {max: N, backoff: DURATION}");
        return;
    }
    unknown_keys(p, e->file, v, "max backoff", "retry");
    const struct ag__ynode *m = ag__yaml_get(v, "max"), *b = ag__yaml_get(v, "backoff");
    if (m)
        (void)integer(p, e->file, m, "retry.max", 0, MAX_RETRY, &s->retry_max);
    if (b)
        (void)duration(p, e->file, b, "retry.backoff", &s->backoff_ms);
}

static void parse_on_failure(struct ag_pipeline *p, const struct ent *e, struct ag__stage *s)
{
    const char *v = scalar(p, e->file, e->v, "on_failure");
    if (!v)
        return;
    s->on_fail_pos = at(e->file, e->v);
    if (strcmp(v, "stop") == 0)
        s->on_fail = AG__OF_STOP;
    else if (strcmp(v, "continue") == 0)
        s->on_fail = AG__OF_CONTINUE;
    else {
        s->on_fail = AG__OF_STAGE;
        s->on_fail_stage = v;
    }
}

static void parse_when(struct ag_pipeline *p, const struct ent *e, struct ag__stage *s)
{
    const char *v = scalar(p, e->file, e->v, "when");
    if (!v)
        return;
    s->when_text = v;
    s->when_pos = at(e->file, e->v);
    size_t len;
    int off;
    const char *inner = ag__expr_unwrap(v, &len, &off);
    char *copy = ag__arena_strndup(&p->ar, inner, len);
    char msg[256];
    int col = 0;
    if (!copy)
        return;
    if (ag__expr_parse(&p->ar, copy, &s->when, &col, msg, sizeof msg) != AG_OK) {
        struct ag__ppos pos = s->when_pos;
        pos.col += off + col + (e->v->quoted && e->v->col > 0 ? 1 : 0);
        ag__pl_diag(p, &pos, "bad expression in when: %s", msg);
        s->when = NULL;
    }
    /* Columns of later reference checks point into the text too. */
    s->when_pos.col += off + (e->v->quoted ? 1 : 0);
}

static void parse_stage_body(struct loader *L, struct ag__stage *s, const struct ent *e, size_t n)
{
    struct ag_pipeline *p = L->p;
    const struct ent *x;
    for (size_t i = 0; i < n; i++)
        if (!is_stage_key(e[i].k->text))
            diag_at(p, e[i].file, e[i].k, "unknown key '%s' in stage '%s'", e[i].k->text, s->name);
    int has_type = 0;
    if ((x = find(e, n, "type"))) {
        const char *t = scalar(p, x->file, x->v, "type");
        if (t && kind_of(t, &s->kind) != 0 && (s->broken = 1))
            diag_at(p, x->file, x->v,
                    "stage '%s': unknown type '%s' (agent, human-gate, orchestrate or shell)",
                    s->name, t);
        has_type = t != NULL;
    }
    if ((x = find(e, n, "agent"))) {
        s->agent = scalar(p, x->file, x->v, "agent");
        s->agent_pos = at(x->file, x->v);
    }
    if ((x = find(e, n, "run")))
        (void)strv(p, x->file, x->v, "run", &s->run);
    if (!has_type)
        s->kind = s->agent ? AG__SK_AGENT : AG__SK_SHELL;
    if ((x = find(e, n, "workdir")))
        s->workdir = scalar(p, x->file, x->v, "workdir");
    if ((x = find(e, n, "requires"))) {
        (void)strv(p, x->file, x->v, "requires", &s->requires);
        s->explicit_requires = 1;
    }
    if ((x = find(e, n, "artifacts")))
        (void)strv(p, x->file, x->v, "artifacts", &s->artifacts);
    if ((x = find(e, n, "inputs")))
        (void)strv(p, x->file, x->v, "inputs", &s->inputs);
    if ((x = find(e, n, "retry")))
        parse_retry(p, x, s);
    if ((x = find(e, n, "timeout")))
        (void)duration(p, x->file, x->v, "timeout", &s->timeout_ms);
    if ((x = find(e, n, "when")))
        parse_when(p, x, s);
    if ((x = find(e, n, "on_failure")))
        parse_on_failure(p, x, s);
    if ((x = find(e, n, "approvers")))
        (void)strv(p, x->file, x->v, "approvers", &s->approvers);
    s->required = 1;
    if ((x = find(e, n, "required")))
        (void)integer(p, x->file, x->v, "required", 1, 100, &s->required);
    if ((x = find(e, n, "task")))
        s->task = scalar(p, x->file, x->v, "task");
    if ((x = find(e, n, "llm")) && (s->llm = scalar(p, x->file, x->v, "llm"))) {
        s->llm_pos = at(x->file, x->v);
        if (!ag__pl_llm_ok(s->llm))
            diag_at(p, x->file, x->v, "llm: expected http(s)://HOST/... or replay:FILE, not '%s'",
                    s->llm);
    }
    if ((x = find(e, n, "model")))
        s->model = scalar(p, x->file, x->v, "model");
}

int ag__pl_llm_ok(const char *v)
{
    return (strncmp(v, "http://", 7) == 0 && v[7]) || (strncmp(v, "https://", 8) == 0 && v[8]) ||
           (strncmp(v, "replay:", 7) == 0 && v[7]);
}

/* `llm: URL` or `llm: {url: URL, model: M}` at the pipeline's level: the endpoint of
 * its orchestrate and LLM agent stages that name none. */
static void parse_llm(struct ag_pipeline *p, const char *file, const struct ag__ynode *n)
{
    const struct ag__ynode *u = n;
    if (n->type == AG__Y_MAP) {
        unknown_keys(p, file, n, "url model", "llm");
        u = ag__yaml_get(n, "url");
        const struct ag__ynode *m = ag__yaml_get(n, "model");
        if (m)
            p->llm_model = scalar(p, file, m, "llm.model");
        if (!u)
            return;
    }
    if (!(p->llm = scalar(p, file, u, "llm")))
        return;
    p->llm_pos = at(file, u);
    if (!ag__pl_llm_ok(p->llm))
        diag_at(p, file, u, "llm: expected http(s)://HOST/... or replay:FILE, not '%s'", p->llm);
}

static void parse_stage(struct loader *L, const char *file, const struct ag__ynode *item,
                        struct ag__stage *s)
{
    struct ag_pipeline *p = L->p;
    if (item->type != AG__Y_MAP || item->n != 1 || item->items[0]->type != AG__Y_SCALAR) {
        diag_at(p, file, item, "a stage is a map with one key, its name: '- NAME: {...}'");
        s->name = "";
        return;
    }
    const struct ag__ynode *k = item->items[0], *body = item->items[1];
    s->name = k->text;
    s->pos = at(file, k);
    s->required = 1;
    for (const char *c = s->name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-') {
            diag_at(p, file, k, "stage name '%s': use letters, digits, '_' and '-'", s->name);
            break;
        }
    if (!*s->name)
        diag_at(p, file, k, "a stage needs a name");
    if (body->type == AG__Y_SCALAR && body->is_null) {
        diag_at(p, file, k, "stage '%s' is empty: give it a type, an agent or run", s->name);
        return;
    }
    if (body->type != AG__Y_MAP) {
        diag_at(p, file, body, "stage '%s': expected a map of stage keys", s->name);
        return;
    }
    size_t cap = body->n + 1;
    const struct ag__ynode *uses = ag__yaml_get(body, "uses");
    struct tmpl *t = NULL;
    struct ag__ynode *tstage = NULL;
    if (uses) {
        const char *path = scalar(p, file, uses, "uses");
        s->uses = path;
        if (path && !(t = load_template(L, file, path, uses)))
            s->broken = 1;
        if (t) {
            const struct ag__ynode *with = ag__yaml_get(body, "with");
            if (with && with->type != AG__Y_MAP) {
                diag_at(p, file, with, "with: expected a map of template parameters");
                with = NULL;
            }
            for (size_t i = 0; with && i < with->n; i++) {
                const char *wn = with->items[2 * i]->text ? with->items[2 * i]->text : "";
                const struct ag__param *pa = NULL;
                for (size_t j = 0; j < t->nparams; j++)
                    if (strcmp(t->params[j].name, wn) == 0)
                        pa = &t->params[j];
                const struct ag__ynode *wv = with->items[2 * i + 1];
                if (!pa)
                    diag_at(p, file, with->items[2 * i], "template '%s' has no parameter '%s'",
                            path, wn);
                else if (wv->type != AG__Y_SCALAR || wv->is_null ||
                         !ag__pl_param_value_ok(pa->type, wv->text))
                    diag_at(p, file, wv, "template parameter '%s': expected a %s", wn,
                            type_word(pa->type));
            }
            for (size_t j = 0; j < t->nparams; j++)
                if (!t->params[j].has_default && !ag__yaml_get(with, t->params[j].name))
                    diag_at(p, file, uses, "template '%s' needs parameter '%s' (under with:)", path,
                            t->params[j].name);
            struct tvals tv = {t, with};
            tstage = subst_tree(p, t->stage, &tv);
            if (tstage)
                cap += tstage->n;
        }
    }
    struct ent *e = calloc(cap, sizeof *e);
    if (!e)
        return;
    size_t n = 0;
    for (size_t i = 0; tstage && i < tstage->n; i++) {
        if (tstage->items[2 * i]->type != AG__Y_SCALAR || !tstage->items[2 * i]->text)
            diag_at(p, t->file, tstage->items[2 * i], "a stage key must be a string");
        else if (strcmp(tstage->items[2 * i]->text, "uses") == 0)
            diag_at(p, t->file, tstage->items[2 * i], "a template's stage cannot use another");
        else
            e[n++] = (struct ent){tstage->items[2 * i], tstage->items[2 * i + 1], t->file};
    }
    for (size_t i = 0; i < body->n; i++) {
        const char *kt = body->items[2 * i]->text;
        if (body->items[2 * i]->type != AG__Y_SCALAR || !kt)
            diag_at(p, file, body->items[2 * i], "a stage key must be a string");
        else if (strcmp(kt, "uses") != 0 && strcmp(kt, "with") != 0)
            e[n++] = (struct ent){body->items[2 * i], body->items[2 * i + 1], file};
        else if (strcmp(kt, "with") == 0 && !uses)
            diag_at(p, file, body->items[2 * i], "stage '%s': 'with' needs 'uses'", s->name);
    }
    parse_stage_body(L, s, e, n);
    free(e);
}

/* ----------------------------------------------------------------- load --- */

static void load_root(struct loader *L, const char *file, const struct ag__ynode *root)
{
    struct ag_pipeline *p = L->p;
    if (!root || root->type != AG__Y_MAP) {
        diag_at(p, file, root, "a pipeline file holds one map under the key 'pipeline'");
        return;
    }
    unknown_keys(p, file, root, "pipeline", "the pipeline file");
    const struct ag__ynode *pl = ag__yaml_get(root, "pipeline");
    if (!pl || pl->type != AG__Y_MAP) {
        diag_at(p, file, pl ? pl : root, "'pipeline' must be a map with name and stages");
        return;
    }
    unknown_keys(p, file, pl, "name description params max_parallel agents llm stages", "pipeline");
    const struct ag__ynode *n;
    p->name = (n = ag__yaml_get(pl, "name")) ? scalar(p, file, n, "name") : NULL;
    if (!n)
        diag_at(p, file, pl, "pipeline: 'name' is required");
    if ((n = ag__yaml_get(pl, "description")))
        p->description = scalar(p, file, n, "description");
    p->max_parallel = DEFAULT_PAR;
    if ((n = ag__yaml_get(pl, "max_parallel")))
        (void)integer(p, file, n, "max_parallel", 1, 1024, &p->max_parallel);
    if ((n = ag__yaml_get(pl, "llm")))
        parse_llm(p, file, n);
    parse_params(p, file, ag__yaml_get(pl, "params"), &p->params, &p->nparams);
    if ((n = ag__yaml_get(pl, "agents")))
        parse_agents(L, file, n);
    const struct ag__ynode *st = ag__yaml_get(pl, "stages");
    if (!st || st->type != AG__Y_SEQ || st->n == 0) {
        diag_at(p, file, st ? st : pl, "pipeline: 'stages' must be a non-empty list");
        return;
    }
    if (st->n > MAX_STAGES) {
        diag_at(p, file, st, "pipeline: more than %d stages", MAX_STAGES);
        return;
    }
    p->stages = ag__arena_alloc(&p->ar, st->n * sizeof *p->stages);
    if (!p->stages)
        return;
    p->nstages = st->n;
    for (size_t i = 0; i < st->n; i++)
        parse_stage(L, file, st->items[i], &p->stages[i]);
}

/* Orders diagnostics by file (the pipeline's first), line and column. */
static int diag_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    const char *cx = strchr(x, ':'), *cy = strchr(y, ':');
    size_t fx = cx ? (size_t)(cx - x) : strlen(x), fy = cy ? (size_t)(cy - y) : strlen(y);
    if (fx != fy || strncmp(x, y, fx) != 0)
        return 0; /* files keep their order of appearance */
    int lx = 0, ly = 0, kx = 0, ky = 0;
    if (cx)
        sscanf(cx, ":%d:%d", &lx, &kx);
    if (cy)
        sscanf(cy, ":%d:%d", &ly, &ky);
    return lx != ly ? (lx < ly ? -1 : 1) : kx != ky ? (kx < ky ? -1 : 1) : 0;
}

static void sort_diags(struct ag_buf *b)
{
    if (!b->data)
        return;
    size_t n = 0;
    for (char *c = b->data; *c; c++)
        n += *c == '\n';
    char **lines = calloc(n + 1, sizeof *lines);
    char *copy = strdup(b->data);
    if (!lines || !copy) {
        free(lines);
        free(copy);
        return;
    }
    size_t k = 0;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && k < n;
         l = strtok_r(NULL, "\n", &save))
        lines[k++] = l;
    /* Insertion sort: stable, and lists are short. */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && diag_cmp(&lines[j - 1], &lines[j]) > 0; j--) {
            char *t = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = t;
        }
    ag__buf_reset(b);
    for (size_t i = 0; i < k; i++)
        ag__buf_printf(b, "%s\n", lines[i]);
    free(lines);
    free(copy);
}

ag_err ag_pipeline_load(const char *file, const char *text, size_t len,
                        const struct ag_pipeline_source_ops *ops, ag_pipeline **out, char **diags)
{
    *out = NULL;
    if (diags)
        *diags = NULL;
    struct ag_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return AG_ENOMEM;
    ag__arena_init(&p->ar);
    ag__buf_init(&p->diags);
    p->file = dup(p, file);
    struct loader L = {.p = p, .ops = ops};
    struct ag__ynode *root = NULL;
    ag_err e = p->file ? add_source(p, file, text, len) : AG_ENOMEM;
    if (e == AG_OK && ag__yaml_parse(&p->ar, p->file, text, len, &root) != AG_OK) {
        ag__buf_printf(&p->diags, "%s\n", ag_last_error());
        p->ndiags++;
    } else if (e == AG_OK) {
        load_root(&L, p->file, root);
        if (p->nstages)
            ag__pl_check(p, ops);
    }
    if (e == AG_OK && ag__buf_status(&p->diags) != AG_OK)
        e = AG_ENOMEM;
    if (e != AG_OK) {
        ag_pipeline_free(p);
        return e;
    }
    if (p->ndiags) {
        sort_diags(&p->diags);
        size_t nd = p->ndiags;
        if (diags)
            *diags = ag__buf_take(&p->diags);
        ag_pipeline_free(p);
        return ag__fail(AG_EPARSE, "%s: %zu problem%s", file, nd, nd == 1 ? "" : "s");
    }
    *out = p;
    return AG_OK;
}

void ag_pipeline_free(ag_pipeline *p)
{
    if (!p)
        return;
    ag__buf_free(&p->diags);
    free(p->sources);
    ag__arena_free(&p->ar);
    free(p);
}

const char *ag_pipeline_name(const ag_pipeline *p)
{
    return p->name;
}

size_t ag_pipeline_stage_count(const ag_pipeline *p)
{
    return p->nstages;
}

size_t ag__pl_stage_index(const struct ag_pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->nstages; i++)
        if (p->stages[i].name && strcmp(p->stages[i].name, name) == 0)
            return i;
    return (size_t)-1;
}

const struct ag__param *ag__pl_param(const struct ag_pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->nparams; i++)
        if (strcmp(p->params[i].name, name) == 0)
            return &p->params[i];
    return NULL;
}

const struct ag__agent_decl *ag__pl_agent(const struct ag_pipeline *p, const char *id)
{
    for (size_t i = 0; i < p->nagents; i++)
        if (strcmp(p->agents[i].id, id) == 0)
            return &p->agents[i];
    return NULL;
}
