/* Creating, driving and resuming pipeline runs (include/agentgov/pipeline.h).
 *
 * One process drives a run at a time (a store lock). Every state change of a stage is
 * ledgered and checkpointed (state.c) before it takes effect: a stage is recorded as
 * running attempt n before the executor starts it, so after a crash the driver that
 * resumes knows which attempt to ask the executor about (ag_pipeline_executor.check),
 * and a stage that finished is never started again. Stages whose requirements are
 * met start in list order, up to max_parallel at once and one at a time per agent
 * (an agent holds one lock). */
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/time.h"
#include "pipeline/gate.h"
#include "pipeline/model.h"
#include "pipeline/state.h"
#include "pipeline/subst.h"

#define LOCK_TTL_MS     30000
#define LOCK_REFRESH_MS 5000
#define DEFAULT_TTL_MS  (7LL * 24 * 3600 * 1000)
#define MAX_BACKOFF_MS  (24LL * 3600 * 1000)

struct srun {
    const struct ag_pipeline_env *env;
    struct ag_pipeline *p;
    char run[40];
    json_t *meta;
    json_t *params; /* name -> string */
    struct ag__pl_stage_state *st;
    char (*key)[128];
    char ctl[4096];
    int stopping, cancelling;
    int64_t fence, lock_at;
    const struct ag__pl_gates *gates;
    /* States changed since the last flush (checkpoint_flush): in memory only, so that
     * nothing outside the driver may act on them yet. */
    size_t *dirty, ndirty;
    unsigned char *is_dirty;
};

static int64_t ttl(const struct ag_pipeline_env *env)
{
    return env->checkpoint_ttl_ms > 0 ? env->checkpoint_ttl_ms : DEFAULT_TTL_MS;
}

static void emit(struct srun *R, size_t i, const char *what)
{
    if (!R->env->event)
        return;
    json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:s}", "run_id", R->run, "stage", R->p->stages[i].name,
                          "state", what, "attempt", R->st[i].attempt, "message", R->st[i].message);
    char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (js)
        R->env->event(R->env->event_ctx, js);
    free(js);
}

static const char *stage_agent(const struct srun *R, size_t i, char *buf, size_t cap)
{
    return ag__pl_stage_agent(R->p, i, buf, cap);
}

const char *ag__pl_attempt_kind(const struct ag_pipeline *p, size_t i)
{
    const struct ag__stage *s = &p->stages[i];
    return s->kind == AG__SK_SHELL                ? "shell"
           : s->kind == AG__SK_ORCH               ? "orchestrate"
           : s->kind == AG__SK_AGENT && !s->run.n ? "llm"
           : s->kind == AG__SK_GATE               ? "human-gate"
                                                  : "agent";
}

const char *ag__pl_stage_agent(const struct ag_pipeline *p, size_t i, char *buf, size_t cap)
{
    const struct ag__stage *s = &p->stages[i];
    if (s->agent)
        return s->agent;
    if (s->kind != AG__SK_SHELL)
        return NULL;
    /* A shell stage runs as an agent of its own, named after the pipeline and stage
     * with only the characters agent ids allow. */
    snprintf(buf, cap, "pipeline.%s.%s", p->name, s->name);
    for (char *c = buf; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-' || *c == '@'))
            *c = '_';
    return buf;
}

/* Makes the states changed since the last flush durable: ledgered (one group commit),
 * then stored (one exec), then told to the caller. Every action outside the driver (a
 * stage started, a gate opened or withdrawn, the run's end, a wait) comes after a
 * flush, so a state is never acted on before it is checkpointed, and the changes a
 * scheduling pass makes together (a stage succeeded, the next one started) cost one
 * fsync instead of one each. */
static ag_err checkpoint_flush(struct srun *R)
{
    if (!R->ndirty)
        return AG_OK;
    struct ag__pl_change *c = calloc(R->ndirty, sizeof *c);
    char(*agents)[300] = calloc(R->ndirty, sizeof *agents);
    ag_err e = c && agents ? AG_OK : AG_ENOMEM;
    for (size_t k = 0; !e && k < R->ndirty; k++) {
        size_t i = R->dirty[k];
        c[k] = (struct ag__pl_change){R->p->stages[i].name,
                                      stage_agent(R, i, agents[k], sizeof agents[k]), R->key[i],
                                      &R->st[i]};
    }
    if (!e)
        e = ag__pl_checkpoint_batch(R->env->store, R->env->ledger, R->run, R->p->name, c,
                                    R->ndirty);
    free(c);
    free(agents);
    if (e)
        return e;
    for (size_t k = 0; k < R->ndirty; k++) {
        R->is_dirty[R->dirty[k]] = 0;
        emit(R, R->dirty[k], ag__pl_state_name(R->st[R->dirty[k]].state));
    }
    R->ndirty = 0;
    return AG_OK;
}

/* Records a new state of stage i, to be checkpointed at the next flush. A stage that
 * changes twice before one is flushed flushes the first: every state is ledgered. */
static ag_err set_state(struct srun *R, size_t i, enum ag__pl_sstate state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static ag_err set_state(struct srun *R, size_t i, enum ag__pl_sstate state, const char *fmt, ...)
{
    ag_err e = R->is_dirty[i] ? checkpoint_flush(R) : AG_OK;
    if (e)
        return e;
    struct ag__pl_stage_state next = R->st[i];
    next.state = state;
    next.updated_at = ag__wall_ms();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(next.message, sizeof next.message, fmt, ap);
    va_end(ap);
    R->st[i] = next;
    R->is_dirty[i] = 1;
    R->dirty[R->ndirty++] = i;
    return AG_OK;
}

static int finished(enum ag__pl_sstate s)
{
    return s == AG__PS_SUCCEEDED || s == AG__PS_FAILED || s == AG__PS_SKIPPED;
}

/* ---------------------------------------------------------------- params --- */

static const char *param_text(void *ctx, const char *name)
{
    return json_string_value(json_object_get(((struct srun *)ctx)->params, name));
}

static ag_err lookup(void *ctx, const struct ag__expr *ref, struct ag__xval *v)
{
    struct srun *R = ctx;
    if (ref->op == AG__X_PARAM) {
        const struct ag__param *pa = ag__pl_param(R->p, ref->name);
        const char *t = param_text(R, ref->name);
        if (!pa || !t)
            return ag__fail(AG_ENOTFOUND, "no parameter '%s'", ref->name);
        if (pa->type == AG__PT_INT) {
            v->type = AG__XV_INT;
            v->i = strtoll(t, NULL, 10);
        } else if (pa->type == AG__PT_BOOL) {
            v->type = AG__XV_BOOL;
            v->i = strcmp(t, "true") == 0;
        } else {
            v->type = AG__XV_STR;
            v->s = t;
        }
        return AG_OK;
    }
    size_t k = ag__pl_stage_index(R->p, ref->name);
    if (k == (size_t)-1)
        return ag__fail(AG_ENOTFOUND, "no stage '%s'", ref->name);
    if (strcmp(ref->field, "attempts") == 0) {
        v->type = AG__XV_INT;
        v->i = R->st[k].attempt;
    } else {
        v->type = AG__XV_STR;
        v->s = ag__pl_outcome(R->st[k].state);
    }
    return AG_OK;
}

/* ----------------------------------------------------------------- files --- */

static void stage_dir(const struct srun *R, size_t i, char *buf, size_t cap)
{
    const struct ag__stage *s = &R->p->stages[i];
    if (s->workdir && s->workdir[0] == '/')
        snprintf(buf, cap, "%s", s->workdir);
    else
        snprintf(buf, cap, "%s/%s/%s", R->env->work_root, R->run,
                 s->workdir ? s->workdir : s->name);
}

/* Copies file from to to (mode 0644); the copy replaces what was there. */
static ag_err copy_file(const char *from, const char *to)
{
    char *data = NULL;
    size_t len = 0;
    ag_err e = ag__read_file(from, AG_STORE_VALUE_MAX, &data, &len);
    if (!e)
        e = ag__write_file_atomic(to, data, len, 0644, 0);
    free(data);
    return e;
}

/* The stage's directory exists and holds the artifacts it consumes, copied from the
 * directories of the requirements that produced them. */
static ag_err prepare_dir(struct srun *R, size_t i)
{
    char dir[4096];
    stage_dir(R, i, dir, sizeof dir);
    /* The run's directory exists after the first stage: one mkdir, not one a level. */
    ag_err e = mkdir(dir, 0755) == 0 || errno == EEXIST ? AG_OK : ag__mkdir_p(dir, 0755);
    if (e)
        return e;
    const struct ag__stage *s = &R->p->stages[i];
    for (size_t a = 0; a < s->inputs.n; a++) {
        const char *name = s->inputs.v[a];
        int found = 0;
        for (size_t j = R->p->nstages; j-- > 0 && !found;) {
            if (!ag__pl_upstream(R->p, i, j) || R->st[j].state != AG__PS_SUCCEEDED)
                continue;
            for (size_t k = 0; k < R->p->stages[j].artifacts.n && !found; k++) {
                if (strcmp(R->p->stages[j].artifacts.v[k], name) != 0)
                    continue;
                char from[8192], to[8192];
                stage_dir(R, j, from, 4096);
                snprintf(from + strlen(from), sizeof from - strlen(from), "/%s", name);
                snprintf(to, sizeof to, "%s/%s", dir, name);
                if ((e = copy_file(from, to)))
                    return ag__fail(e, "input '%s' from stage '%s': %s", name, R->p->stages[j].name,
                                    ag_last_error());
                found = 1;
            }
        }
        if (!found)
            return ag__fail(AG_ENOTFOUND, "input '%s': no succeeded requirement produced it", name);
    }
    return AG_OK;
}

static int missing_artifact(const struct srun *R, size_t i, char *name, size_t cap)
{
    char dir[4096], path[8192];
    stage_dir(R, i, dir, sizeof dir);
    const struct ag__stage *s = &R->p->stages[i];
    for (size_t a = 0; a < s->artifacts.n; a++) {
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, s->artifacts.v[a]);
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            snprintf(name, cap, "%s", s->artifacts.v[a]);
            return 1;
        }
    }
    return 0;
}

/* -------------------------------------------------------------- attempts --- */

struct attempt {
    struct ag_pipeline_attempt a;
    char dir[4096], agentbuf[300];
    char **argv;
    size_t argc;
    char *task;
};

static void attempt_free(struct attempt *t)
{
    free(t->task);
    t->task = NULL;
    for (size_t i = 0; t->argv && i < t->argc; i++)
        free(t->argv[i]);
    free(t->argv);
    t->argv = NULL;
}

static ag_err attempt_make(struct srun *R, size_t i, struct attempt *t)
{
    memset(t, 0, sizeof *t);
    const struct ag__stage *s = &R->p->stages[i];
    stage_dir(R, i, t->dir, sizeof t->dir);
    t->argv = calloc(s->run.n + 1, sizeof *t->argv);
    if (!t->argv)
        return AG_ENOMEM;
    for (size_t k = 0; k < s->run.n; k++, t->argc++)
        if (!(t->argv[k] = ag__pl_subst(s->run.v[k], param_text, R))) {
            attempt_free(t);
            return AG_ENOMEM;
        }
    if (s->task && !(t->task = ag__pl_subst(s->task, param_text, R))) {
        attempt_free(t);
        return AG_ENOMEM;
    }
    const char *agent = stage_agent(R, i, t->agentbuf, sizeof t->agentbuf);
    const struct ag__agent_decl *d = agent ? ag__pl_agent(R->p, agent) : NULL;
    /* An agent stage without a command is an LLM agent, run through the coordination
     * module like an orchestrate stage. */
    const char *kind = ag__pl_attempt_kind(R->p, i);
    t->a = (struct ag_pipeline_attempt){.run_id = R->run,
                                        .pipeline = R->p->name,
                                        .stage = s->name,
                                        .kind = kind,
                                        .task = t->task,
                                        .llm = s->llm ? s->llm : R->p->llm,
                                        .model = s->model ? s->model : R->p->llm_model,
                                        .agent = agent,
                                        /* A shell stage's own agent writes in its
                                           directory (T1); a declared agent has its tier. */
                                        .tier = d          ? d->tier
                                                : s->agent ? -1
                                                           : 1,
                                        .packet_json = d ? d->packet_json : NULL,
                                        .argv = t->argv,
                                        .workdir = t->dir,
                                        .ctl_dir = R->ctl,
                                        .idem_key = R->key[i],
                                        .attempt = R->st[i].attempt,
                                        .timeout_ms = s->timeout_ms,
                                        .artifacts = s->artifacts.v,
                                        .nartifacts = s->artifacts.n};
    return AG_OK;
}

static int64_t backoff(const struct ag__stage *s, int attempt)
{
    int64_t b = s->backoff_ms;
    for (int k = 1; k < attempt && b < MAX_BACKOFF_MS; k++)
        b *= 2;
    return b < MAX_BACKOFF_MS ? b : MAX_BACKOFF_MS;
}

static ag_err fail_stage(struct srun *R, size_t i, const char *msg)
{
    ag_err e = set_state(R, i, AG__PS_FAILED, "%s", msg);
    if (!e && R->p->stages[i].on_fail == AG__OF_STOP)
        R->stopping = 1;
    return e;
}

static int cancel_requested(struct srun *R)
{
    char k[AG__PL_KEY_MAX], *v = NULL;
    ag__pl_key(k, R->run, "cancel");
    if (ag_store_get(R->env->store, k, &v) != AG_OK)
        return 0;
    free(v);
    return v != NULL;
}

/* An attempt ended with r: success (when its artifacts are there), a retry, or a
 * failure. */
static ag_err attempt_done(struct srun *R, size_t i, const struct ag_pipeline_result *r)
{
    const struct ag__stage *s = &R->p->stages[i];
    char missing[256], why[300];
    int ok = r->ok;
    int retryable = r->retryable;
    snprintf(why, sizeof why, "%s", r->message);
    if (ok && missing_artifact(R, i, missing, sizeof missing)) {
        ok = 0;
        retryable = 1;
        snprintf(why, sizeof why, "artifact '%s' missing after the stage", missing);
    }
    if (ok)
        return set_state(R, i, AG__PS_SUCCEEDED, "attempt %d: %s", R->st[i].attempt, why);
    /* `pipeline cancel` revokes the running stages' agents itself: their attempts may
     * end (revoked) before this driver's next look for the cancel. A failure is never
     * retried, nor the run ended as failed, without looking once more. */
    if (!R->cancelling && cancel_requested(R))
        R->cancelling = 1;
    if (r->revoked)
        return fail_stage(R, i, why[0] ? why : "revoked");
    if (retryable && R->st[i].attempt <= s->retry_max && !R->cancelling) {
        int64_t wait = backoff(s, R->st[i].attempt);
        R->st[i].not_before = ag__wall_ms() + wait;
        char d[32];
        ag__format_duration(wait, d, sizeof d);
        return set_state(R, i, AG__PS_PENDING, "attempt %d failed (%s); retry in %s",
                         R->st[i].attempt, why, d);
    }
    char msg[400];
    snprintf(msg, sizeof msg, "attempt %d: %s", R->st[i].attempt, why);
    return fail_stage(R, i, msg);
}

/* ---------------------------------------------------------- scheduling --- */

/* Whether stage i can be decided now: 1 ready, 0 not yet. */
static int requirements_done(const struct srun *R, size_t i)
{
    const struct ag__stage *s = &R->p->stages[i];
    for (size_t r = 0; r < s->requires.n; r++)
        if (!finished(R->st[s->req[r]].state))
            return 0;
    /* A failure handler waits for every stage it handles. */
    for (size_t j = 0; s->is_handler && j < R->p->nstages; j++)
        if (R->p->stages[j].on_fail == AG__OF_STAGE && R->p->stages[j].on_fail_idx == i &&
            !finished(R->st[j].state))
            return 0;
    return 1;
}

/* Why stage i is skipped (a requirement's fate, a handler not called, `when` false),
 * or NULL when it runs. */
static const char *skip_reason(struct srun *R, size_t i, char *buf, size_t cap, ag_err *err)
{
    const struct ag__stage *s = &R->p->stages[i];
    *err = AG_OK;
    if (R->cancelling)
        return "not run: the run was cancelled";
    if (s->is_handler) {
        int called = 0;
        for (size_t j = 0; j < R->p->nstages && !called; j++)
            called = R->p->stages[j].on_fail == AG__OF_STAGE && R->p->stages[j].on_fail_idx == i &&
                     R->st[j].state == AG__PS_FAILED;
        if (!called)
            return "not run: no stage it handles failed";
    } else {
        for (size_t r = 0; r < s->requires.n; r++) {
            const struct ag__stage *q = &R->p->stages[s->req[r]];
            enum ag__pl_sstate qs = R->st[s->req[r]].state;
            if (qs == AG__PS_SKIPPED) {
                snprintf(buf, cap, "not run: requirement '%s' was skipped", q->name);
                return buf;
            }
            if (qs == AG__PS_FAILED && q->on_fail != AG__OF_CONTINUE) {
                snprintf(buf, cap, "not run: requirement '%s' failed", q->name);
                return buf;
            }
        }
        if (R->stopping)
            return "not run: the pipeline stopped after a failure";
    }
    if (s->when) {
        int yes = 0;
        *err = ag__expr_eval(s->when, lookup, R, &yes);
        if (*err) {
            snprintf(buf, cap, "when: %s", ag_last_error());
            return buf;
        }
        if (!yes) {
            snprintf(buf, cap, "not run: when is false (%s)", s->when_text);
            return buf;
        }
    }
    return NULL;
}

static int running_count(const struct srun *R, const char *agent, int *agent_busy)
{
    int n = 0;
    *agent_busy = 0;
    for (size_t j = 0; j < R->p->nstages; j++) {
        if (R->st[j].state != AG__PS_RUNNING)
            continue;
        n++;
        char b[300];
        const char *a = stage_agent(R, j, b, sizeof b);
        if (agent && a && strcmp(a, agent) == 0)
            *agent_busy = 1;
    }
    return n;
}

/* Marks stage i running its next attempt; launch starts it once that is flushed. */
static ag_err start_attempt(struct srun *R, size_t i)
{
    const struct ag__stage *s = &R->p->stages[i];
    ag_err e = prepare_dir(R, i);
    if (e)
        return fail_stage(R, i, ag_last_error());
    R->st[i].attempt++;
    R->st[i].not_before = 0;
    return set_state(R, i, AG__PS_RUNNING, "attempt %d of %d", R->st[i].attempt, s->retry_max + 1);
}

static ag_err launch(struct srun *R, size_t i)
{
    ag_err e;
    struct attempt t;
    if ((e = attempt_make(R, i, &t)))
        return e;
    e = R->env->exec->start(R->env->exec->ctx, &t.a);
    attempt_free(&t);
    if (e) {
        struct ag_pipeline_result r = {.retryable = 1};
        snprintf(r.message, sizeof r.message, "could not start: %s", ag_last_error());
        return attempt_done(R, i, &r);
    }
    return AG_OK;
}

static ag_err open_gate(struct srun *R, size_t i)
{
    const struct ag__stage *s = &R->p->stages[i];
    R->st[i].attempt = 1;
    ag_err e =
        set_state(R, i, AG__PS_WAITING, "waiting for %d approval%s (timeout %lld s)", s->required,
                  s->required == 1 ? "" : "s", (long long)(s->timeout_ms / 1000));
    if (e || (e = checkpoint_flush(R)))
        return e;
    return R->gates->open(R->env->store, R->env->ledger, R->run, R->p->name, s->name,
                          ag__wall_ms() + s->timeout_ms, s->approvers.v, s->approvers.n,
                          s->required);
}

/* Starts what can start; *next_wake gets the earliest retry time still to come. */
static ag_err schedule_pass(struct srun *R, int64_t *next_wake, size_t *starts, size_t *nstarts)
{
    char buf[400];
    for (size_t i = 0; i < R->p->nstages; i++) {
        const struct ag__stage *s = &R->p->stages[i];
        if (R->st[i].state != AG__PS_PENDING || !requirements_done(R, i))
            continue;
        ag_err e = AG_OK;
        int retrying = R->st[i].attempt > 0;
        const char *why =
            retrying && !R->cancelling ? NULL : skip_reason(R, i, buf, sizeof buf, &e);
        if (retrying && R->cancelling)
            why = "not retried: the run was cancelled";
        if (why) {
            e = e ? fail_stage(R, i, why) : set_state(R, i, AG__PS_SKIPPED, "%s", why);
            if (e)
                return e;
            continue;
        }
        int64_t now = ag__wall_ms();
        if (R->st[i].not_before > now) {
            if (!*next_wake || R->st[i].not_before < *next_wake)
                *next_wake = R->st[i].not_before;
            continue;
        }
        if (s->kind == AG__SK_GATE) {
            if ((e = open_gate(R, i)))
                return e;
            continue;
        }
        char ab[300];
        int busy;
        const char *agent = stage_agent(R, i, ab, sizeof ab);
        if (running_count(R, agent, &busy) >= R->p->max_parallel || busy)
            continue;
        if ((e = start_attempt(R, i)))
            return e;
        if (R->st[i].state == AG__PS_RUNNING)
            starts[(*nstarts)++] = i;
    }
    return AG_OK;
}

/* Starts what can start; *next_wake gets the earliest retry time still to come. The
 * stages it starts are checkpointed running together (with whatever else changed in
 * the pass), then launched. */
static ag_err schedule(struct srun *R, int64_t *next_wake)
{
    size_t *starts = calloc(R->p->nstages, sizeof *starts), n = 0;
    if (!starts)
        return AG_ENOMEM;
    ag_err e = schedule_pass(R, next_wake, starts, &n);
    if (!e && n)
        e = checkpoint_flush(R);
    for (size_t k = 0; !e && k < n; k++)
        e = launch(R, starts[k]);
    free(starts);
    return e;
}

static ag_err poll_gates(struct srun *R)
{
    for (size_t i = 0; i < R->p->nstages; i++) {
        if (R->st[i].state != AG__PS_WAITING)
            continue;
        const struct ag__stage *s = &R->p->stages[i];
        enum ag__gate_status gs;
        char msg[300];
        ag_err e = R->gates->poll(R->env->store, R->run, s->name, &gs, msg, sizeof msg);
        if (e == AG_ENOTFOUND) { /* the checkpoint was written, the gate not yet: open it */
            e = R->gates->open(R->env->store, R->env->ledger, R->run, R->p->name, s->name,
                               R->st[i].updated_at + s->timeout_ms, s->approvers.v, s->approvers.n,
                               s->required);
            if (!e)
                e = R->gates->poll(R->env->store, R->run, s->name, &gs, msg, sizeof msg);
        }
        if (e)
            return e;
        if (R->cancelling) {
            /* Failed first (a resumed run does not wait on it again), then withdrawn. */
            e = fail_stage(R, i, "the run was cancelled while the gate waited");
            if (!e)
                e = checkpoint_flush(R);
            if (!e)
                e = R->gates->withdraw(R->env->store, R->env->ledger, R->run, s->name,
                                       "the pipeline run was cancelled");
        } else if (gs == AG__GATE_APPROVED)
            e = set_state(R, i, AG__PS_SUCCEEDED, "%s", msg);
        else if (gs == AG__GATE_DENIED || gs == AG__GATE_TIMED_OUT)
            e = fail_stage(R, i, msg);
        if (e)
            return e;
    }
    return AG_OK;
}

/* Asks the executor about every running attempt. reconcile: after a restart, an
 * attempt that never started is started now, and one that is lost counts as a
 * failed attempt. */
static ag_err poll_running(struct srun *R, int reconcile, int *changed)
{
    for (size_t i = 0; i < R->p->nstages; i++) {
        if (R->st[i].state != AG__PS_RUNNING)
            continue;
        struct attempt t;
        ag_err e = attempt_make(R, i, &t);
        if (e)
            return e;
        enum ag_pipeline_check cs;
        struct ag_pipeline_result r;
        memset(&r, 0, sizeof r);
        e = R->env->exec->check(R->env->exec->ctx, &t.a, &cs, &r);
        if (!e && cs == AG_PL_NOT_STARTED && reconcile && R->cancelling) {
            r = (struct ag_pipeline_result){0};
            snprintf(r.message, sizeof r.message, "cancelled before it started");
            cs = AG_PL_FINISHED;
        } else if (!e && cs == AG_PL_NOT_STARTED && reconcile) {
            if ((e = prepare_dir(R, i)) == AG_OK)
                e = R->env->exec->start(R->env->exec->ctx, &t.a);
            if (e) {
                r = (struct ag_pipeline_result){.retryable = 1};
                snprintf(r.message, sizeof r.message, "could not start: %s", ag_last_error());
                e = AG_OK;
                cs = AG_PL_FINISHED;
            }
        }
        if (!e && R->cancelling && cs == AG_PL_RUNNING)
            R->env->exec->stop(R->env->exec->ctx, &t.a);
        attempt_free(&t);
        if (e)
            return e;
        if (cs == AG_PL_LOST) {
            r = (struct ag_pipeline_result){.retryable = 1};
            snprintf(r.message, sizeof r.message,
                     "lost: the attempt ended without a result (its driver stopped)");
            cs = AG_PL_FINISHED;
        }
        if (cs == AG_PL_FINISHED) {
            *changed = 1;
            if ((e = attempt_done(R, i, &r)))
                return e;
        }
    }
    return AG_OK;
}

/* ------------------------------------------------------------ run store --- */

static ag_err put_meta(struct srun *R, int64_t ttl_ms)
{
    char k[AG__PL_KEY_MAX];
    ag__pl_key(k, R->run, "meta");
    json_object_set_new(R->meta, "updated_at", json_integer(ag__wall_ms()));
    char *js = json_dumps(R->meta, JSON_COMPACT | JSON_SORT_KEYS);
    if (!js)
        return AG_ENOMEM;
    ag_err e = ag_store_set(R->env->store, k, js, ttl_ms);
    free(js);
    return e;
}

/* ------------------------------------------------------------------ lock --- */

static ag_err take_lock(struct srun *R)
{
    char k[AG__PL_KEY_MAX];
    ag__pl_key(k, R->run, "lock");
    ag_err e = ag_store_lock_acquire(R->env->store, k, R->env->owner, LOCK_TTL_MS, &R->fence);
    if (e != AG_ELOCKED)
        return e;
    /* Held: by a live driver (refuse), or by one that died (take it over). */
    char *v = NULL;
    if ((e = ag_store_get(R->env->store, k, &v)))
        return e;
    const char *owner = v ? strchr(v, ':') : NULL;
    int alive = !owner || !R->env->owner_alive || R->env->owner_alive(R->env->owner_ctx, owner + 1);
    if (alive) {
        e = ag__fail(AG_ELOCKED, "run %s is being driven by %s", R->run, owner ? owner + 1 : "?");
        free(v);
        return e;
    }
    int deleted = 0;
    e = ag_store_cas_del(R->env->store, k, v, &deleted);
    free(v);
    if (e)
        return e;
    return ag_store_lock_acquire(R->env->store, k, R->env->owner, LOCK_TTL_MS, &R->fence);
}

static ag_err keep_lock(struct srun *R)
{
    int64_t now = ag__mono_ms();
    if (now - R->lock_at < LOCK_REFRESH_MS)
        return AG_OK;
    char k[AG__PL_KEY_MAX];
    ag__pl_key(k, R->run, "lock");
    ag_err e = ag_store_lock_refresh(R->env->store, k, R->env->owner, R->fence, LOCK_TTL_MS);
    if (!e)
        R->lock_at = now;
    return e;
}

static void drop_lock(struct srun *R)
{
    char k[AG__PL_KEY_MAX];
    ag__pl_key(k, R->run, "lock");
    (void)!ag_store_lock_release(R->env->store, k, R->env->owner, R->fence);
}

/* -------------------------------------------------------------------- end --- */

static ag_err expire_run(struct srun *R)
{
    int64_t t = ttl(R->env);
    const char *suffix[] = {"meta", "source", "stages", "cancel"};
    size_t n = 4;
    struct ag_store_op *ops = calloc(n, sizeof *ops);
    struct ag_store_reply *rep = calloc(n, sizeof *rep);
    char(*keys)[AG__PL_KEY_MAX] = calloc(n, sizeof *keys);
    ag_err e = ops && rep && keys ? AG_OK : AG_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; !e && i < 4; i++) {
        ag__pl_key(keys[k], R->run, suffix[i]);
        ops[k] = (struct ag_store_op){.op = AG_OP_PEXPIRE, .key = keys[k], .num = t};
        k++;
    }
    if (!e)
        e = ag_store_exec(R->env->store, NULL, ops, k, rep, NULL);
    if (rep)
        ag_store_reply_free(rep, k);
    free(ops);
    free(rep);
    free(keys);
    return e;
}

/* A gate that was opened and did not pass may still have a pending approval (the run
 * was cancelled, or a driver died between failing the gate and withdrawing it):
 * nobody should be asked about a run that is over. Withdrawing is a no-op for an
 * approval already decided. */
static ag_err withdraw_gates(struct srun *R, const char *status)
{
    char why[64];
    snprintf(why, sizeof why, "the pipeline run ended (%s)", status);
    for (size_t i = 0; i < R->p->nstages; i++) {
        if (R->p->stages[i].kind != AG__SK_GATE || R->st[i].attempt == 0 ||
            R->st[i].state == AG__PS_SUCCEEDED)
            continue;
        ag_err e =
            R->gates->withdraw(R->env->store, R->env->ledger, R->run, R->p->stages[i].name, why);
        if (e)
            return e;
    }
    return AG_OK;
}

static ag_err finish_run(struct srun *R, char status[16])
{
    ag_err fe = checkpoint_flush(R);
    if (fe)
        return fe;
    if (!R->cancelling && cancel_requested(R))
        R->cancelling = 1;
    const char *st = "succeeded";
    if (R->cancelling)
        st = "cancelled";
    else
        for (size_t i = 0; i < R->p->nstages; i++)
            if (R->st[i].state == AG__PS_FAILED && R->p->stages[i].on_fail == AG__OF_STOP)
                st = "failed";
    json_t *counts = json_object();
    for (size_t i = 0; i < R->p->nstages; i++) {
        const char *n = ag__pl_state_name(R->st[i].state);
        json_object_set_new(counts, n,
                            json_integer(json_integer_value(json_object_get(counts, n)) + 1));
    }
    ag_err we = withdraw_gates(R, st);
    if (we) {
        json_decref(counts);
        return we;
    }
    json_t *d = json_pack("{s:s,s:o}", "status", st, "stages", counts);
    char *djs = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    ag_err e = djs ? ag__pl_ledger_run(R->env->ledger, R->run, R->p->name, "run.end",
                                       strcmp(st, "succeeded") == 0, st, djs)
                   : AG_ENOMEM;
    free(djs);
    if (e)
        return e;
    json_object_set_new(R->meta, "status", json_string(st));
    json_object_set_new(R->meta, "ended_at", json_integer(ag__wall_ms()));
    if ((e = put_meta(R, 0)) || (e = expire_run(R)))
        return e;
    snprintf(status, 16, "%s", st);
    return AG_OK;
}

static ag_err load_states(struct srun *R)
{
    char k[AG__PL_KEY_MAX];
    ag__pl_key(k, R->run, "stages");
    struct ag_store_op op = {.op = AG_OP_HGETALL, .key = k};
    struct ag_store_reply r;
    ag_err e = ag_store_exec(R->env->store, NULL, &op, 1, &r, NULL);
    if (e)
        return e;
    for (size_t i = 0; i < R->p->nstages; i++) {
        R->st[i].state = AG__PS_PENDING;
        snprintf(R->key[i], sizeof R->key[i], "%s.%s", R->run, R->p->stages[i].name);
    }
    for (size_t j = 0; !e && r.type == AG_REPLY_ARRAY && j + 1 < r.nelems; j += 2) {
        size_t i = ag__pl_stage_index(R->p, r.elems[j].str);
        if (i == (size_t)-1)
            continue;
        e = ag__pl_stage_from_json(r.elems[j + 1].str, &R->st[i]);
    }
    ag_store_reply_free(&r, 1);
    return e;
}

static ag_err drive(struct srun *R, char status[16])
{
    int changed = 0;
    /* A cancel asked for while no process drove the run: nothing starts again. */
    R->cancelling = cancel_requested(R);
    ag_err e = poll_running(R, 1, &changed);
    int64_t last_gate = 0, last_cancel = ag__mono_ms();
    int64_t poll = R->env->poll_ms > 0 ? R->env->poll_ms : 100;
    while (!e) {
        if (R->env->interrupted && *R->env->interrupted) {
            snprintf(status, 16, "interrupted");
            return AG_OK;
        }
        if ((e = keep_lock(R)))
            break;
        /* A cancel is looked for at the polling interval, not at every state change. */
        int look = ag__mono_ms() - last_cancel >= poll;
        if (look)
            last_cancel = ag__mono_ms();
        if (R->cancelling == 1 || (!R->cancelling && look && cancel_requested(R))) {
            R->cancelling = 2; /* stop what runs, once */
            for (size_t i = 0; i < R->p->nstages; i++)
                if (R->st[i].state == AG__PS_RUNNING) {
                    struct attempt t;
                    if (attempt_make(R, i, &t) == AG_OK) {
                        R->env->exec->stop(R->env->exec->ctx, &t.a);
                        attempt_free(&t);
                    }
                }
        }
        changed = 0;
        if ((e = poll_running(R, 0, &changed)))
            break;
        int64_t now = ag__mono_ms();
        if (now - last_gate >= poll || R->cancelling) {
            last_gate = now;
            if ((e = poll_gates(R)))
                break;
        }
        int64_t wake = 0;
        if ((e = schedule(R, &wake)) || (e = checkpoint_flush(R)))
            break;
        int running = 0, waiting = 0, open = 0;
        for (size_t i = 0; i < R->p->nstages; i++) {
            running += R->st[i].state == AG__PS_RUNNING;
            waiting += R->st[i].state == AG__PS_WAITING;
            open += !finished(R->st[i].state);
        }
        if (!open)
            return finish_run(R, status);
        if (changed)
            continue;
        int64_t sleep_ms = poll;
        if (wake) {
            int64_t until = wake - ag__wall_ms();
            if (until < sleep_ms)
                sleep_ms = until > 0 ? until : 0;
        }
        if (running)
            R->env->exec->wait(R->env->exec->ctx, sleep_ms);
        else if (sleep_ms > 0) {
            struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        (void)waiting;
    }
    return e;
}

ag_err ag_pipeline_drive(const struct ag_pipeline_env *env, const char *run_id, char status[16])
{
    struct srun R = {.env = env, .gates = &ag__pl_approval_gates};
    snprintf(status, 16, "error");
    if (!env || !env->store || !env->ledger || !env->exec || !env->work_root || !env->owner)
        return ag__fail(AG_EINVAL,
                        "pipeline: store, ledger, executor, work_root and owner are required");
    ag_err e = ag__pl_check_run_id(run_id);
    if (e)
        return e;
    snprintf(R.run, sizeof R.run, "%s", run_id);
    e = ag__pl_get_json(env->store, run_id, "meta", &R.meta);
    if (e)
        return e;
    const char *mst = json_string_value(json_object_get(R.meta, "status"));
    if (mst && strcmp(mst, "running") != 0) {
        snprintf(status, 16, "%s", mst);
        json_decref(R.meta);
        return AG_OK;
    }
    R.params = json_object_get(R.meta, "params");
    if ((e = ag__pl_load_stored(env->store, run_id, &R.p))) {
        json_decref(R.meta);
        return e;
    }
    snprintf(R.ctl, sizeof R.ctl, "%s/%s/.ctl", env->work_root, run_id);
    R.st = calloc(R.p->nstages, sizeof *R.st);
    R.key = calloc(R.p->nstages, sizeof *R.key);
    R.dirty = calloc(R.p->nstages, sizeof *R.dirty);
    R.is_dirty = calloc(R.p->nstages, 1);
    if (!R.st || !R.key || !R.dirty || !R.is_dirty)
        e = AG_ENOMEM;
    if (!e)
        e = ag__mkdir_p(R.ctl, 0700);
    if (!e && (e = take_lock(&R)) == AG_OK) {
        R.lock_at = ag__mono_ms();
        e = load_states(&R);
        if (!e)
            e = drive(&R, status);
        drop_lock(&R);
    }
    free(R.st);
    free(R.key);
    free(R.dirty);
    free(R.is_dirty);
    ag_pipeline_free(R.p);
    json_decref(R.meta);
    return e;
}
