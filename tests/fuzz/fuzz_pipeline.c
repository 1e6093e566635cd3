/* libFuzzer target: the pipeline loader on arbitrary bytes (YAML, the DSL, templates
 * through a reader that serves the input itself, the graph checks, every `when:`
 * expression), and the expression parser and evaluator on the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/pipeline.h"
#include "pipeline/expr.h"

struct input {
    const uint8_t *data;
    size_t size;
};

/* Every template the input names is the input again (a template of itself). */
static ag_err read_self(void *ctx, const char *from, const char *path, char **text, size_t *len)
{
    const struct input *in = ctx;
    (void)from;
    (void)path;
    *text = malloc(in->size + 1);
    if (!*text)
        return AG_ENOMEM;
    memcpy(*text, in->data, in->size);
    (*text)[in->size] = '\0';
    *len = in->size;
    return AG_OK;
}

static int known(void *ctx, const char *id)
{
    (void)ctx;
    return id[0] == 'k';
}

static ag_err lookup(void *ctx, const struct ag__expr *ref, struct ag__xval *v)
{
    (void)ctx;
    if (ref->op == AG__X_PARAM && ref->name[0] == 'n') {
        v->type = AG__XV_INT;
        v->i = 3;
    } else if (ref->name[0] == 'b') {
        v->type = AG__XV_BOOL;
        v->i = 1;
    } else {
        v->type = AG__XV_STR;
        v->s = "success";
    }
    return AG_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    struct ag_pipeline_source_ops ops = {.ctx = &in, .read = read_self, .agent_known = known};
    ag_pipeline *p = NULL;
    char *diags = NULL;
    if (ag_pipeline_load("fuzz.yaml", (const char *)data, size, &ops, &p, &diags) == AG_OK)
        (void)ag_pipeline_stage_count(p);
    ag_pipeline_free(p);
    free(diags);

    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct ag__arena ar;
    ag__arena_init(&ar);
    struct ag__expr *e = NULL;
    char msg[256];
    int col, r;
    if (ag__expr_parse(&ar, text, &e, &col, msg, sizeof msg) == AG_OK)
        (void)ag__expr_eval(e, lookup, NULL, &r);
    ag__arena_free(&ar);
    free(text);
    return 0;
}
