/* The loaded form of a pipeline (docs/pipelines.md): stages, parameters, declared
 * agents, the sources it was read from. Built by load.c, checked by check.c, run by
 * sched.c. Ownership: everything hangs off struct ag_pipeline's arena and dies with
 * ag_pipeline_free. */
#ifndef AG_PIPELINE_MODEL_H
#define AG_PIPELINE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/pipeline.h"
#include "core/buf.h"
#include "pipeline/expr.h"
#include "policy/arena.h"

struct ag__ppos {
    const char *file;
    int line, col;
};

enum ag__stage_kind { AG__SK_AGENT, AG__SK_GATE, AG__SK_ORCH, AG__SK_SHELL };
enum ag__on_fail { AG__OF_STOP, AG__OF_CONTINUE, AG__OF_STAGE };
enum ag__ptype { AG__PT_STRING, AG__PT_INT, AG__PT_BOOL };

struct ag__strv {
    const char **v;
    struct ag__ppos *pos;
    char *quoted; /* 1: the text starts one column after pos (a quote) */
    size_t n;
};

struct ag__stage {
    const char *name;
    struct ag__ppos pos;
    enum ag__stage_kind kind;
    const char *agent;
    struct ag__ppos agent_pos;
    struct ag__strv run; /* argv; elements may hold ${{ params.x }} */
    const char *workdir; /* NULL: the run's directory for the stage */
    struct ag__strv requires;
    int explicit_requires;
    size_t *req; /* indexes of requires.v in the stage array */
    struct ag__strv artifacts, inputs;
    int retry_max;
    int64_t backoff_ms, timeout_ms;
    const char *when_text;
    struct ag__expr *when;
    struct ag__ppos when_pos;
    enum ag__on_fail on_fail;
    const char *on_fail_stage;
    struct ag__ppos on_fail_pos;
    size_t on_fail_idx;
    int broken;     /* its type or template did not load: kind checks would only add noise */
    int is_handler; /* the target of some stage's on_failure */
    struct ag__strv approvers;
    int required; /* approvals needed, >= 1 */
    const char *uses;
    const char *task; /* orchestrate: the task text; an LLM agent: its objective */
    const char *llm;  /* orchestrate, LLM agent: endpoint URL or "replay:FILE"; NULL: the
                         pipeline's, else the config's llm.base_url */
    const char *model;
    struct ag__ppos llm_pos;
};

struct ag__param {
    const char *name;
    struct ag__ppos pos;
    enum ag__ptype type;
    int has_default;
    const char *def; /* canonical text: "42", "true", "text" */
};

struct ag__agent_decl {
    const char *id;
    struct ag__ppos pos;
    int tier;                /* -1: not given */
    const char *packet_json; /* the packet template's text, or NULL */
};

struct ag__source {
    const char *path, *text;
    size_t len;
};

struct ag_pipeline {
    struct ag__arena ar;
    const char *file;
    const char *name, *description;
    int max_parallel;
    const char *llm, *llm_model; /* `llm: URL` or `llm: {url, model}`; NULL: none */
    struct ag__ppos llm_pos;
    struct ag__param *params;
    size_t nparams;
    struct ag__stage *stages;
    size_t nstages;
    struct ag__agent_decl *agents;
    size_t nagents;
    struct ag__source *sources;
    size_t nsources, capsources;
    /* Transitive requirements: bit j of up[i*upw..] is set when stage i requires j. */
    uint64_t *up;
    size_t upw;
    /* Diagnostics while loading: "file:line:col: message\n" lines. */
    struct ag_buf diags;
    size_t ndiags;
};

/* Adds a diagnostic at pos. */
void ag__pl_diag(struct ag_pipeline *p, const struct ag__ppos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Graph and reference checks of a loaded pipeline (check.c); adds diagnostics. */
void ag__pl_check(struct ag_pipeline *p, const struct ag_pipeline_source_ops *ops);

size_t ag__pl_stage_index(const struct ag_pipeline *p, const char *name);
const struct ag__param *ag__pl_param(const struct ag_pipeline *p, const char *name);
const struct ag__agent_decl *ag__pl_agent(const struct ag_pipeline *p, const char *id);
const char *ag__pl_kind_name(enum ag__stage_kind k);
/* 1 when id is a valid agent id (1-128 of A-Z a-z 0-9 . _ - @, docs/packets.md). */
int ag__pl_agent_id_ok(const char *id);
/* 1 when v is a valid value of a parameter of type t. */
int ag__pl_param_value_ok(enum ag__ptype t, const char *v);

/* 1 when v is an LLM endpoint a stage may name: http(s)://... or replay:FILE. */
int ag__pl_llm_ok(const char *v);

/* The agent stage i runs as (a shell stage without one: its own, buf holds it), or
 * NULL (a gate, an orchestrate stage: the orchestrator names its agents). */
const char *ag__pl_stage_agent(const struct ag_pipeline *p, size_t i, char *buf, size_t cap);
/* struct ag_pipeline_attempt.kind of stage i ("human-gate" for a gate). */
const char *ag__pl_attempt_kind(const struct ag_pipeline *p, size_t i);

/* 1 if stage a transitively requires stage b. */
int ag__pl_upstream(const struct ag_pipeline *p, size_t a, size_t b);

#endif
