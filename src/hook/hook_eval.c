#include "hook/hook_eval.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agentgov/config.h"
#include "agentgov/policy.h"
#include "hook/hook_project.h"
#include "core/err.h"
#include "core/fileio.h"
#include "policy/path.h"

#define HOOK_MAX_POLICY (4 << 20)
#define CACHE_SLOTS     8

void ag__hook_out_init(struct ag__hook_out *o)
{
    ag__buf_init(&o->out);
    ag__buf_init(&o->err);
}

void ag__hook_out_free(struct ag__hook_out *o)
{
    ag__buf_free(&o->out);
    ag__buf_free(&o->err);
}

int ag__hook_deny(struct ag__hook_out *out, const char *what, ag_err err)
{
    const char *detail = ag_last_error();
    ag__buf_printf(&out->err, "agentgov: hook denied: %s%s%s\n", what, detail[0] ? ": " : "",
                   detail[0] ? detail : (err ? ag_strerror(err) : ""));
    return AG__HOOK_EXIT_DENY;
}

/* ---- the ledger ---------------------------------------------------------------------- */

/* The ledger as ag_home_open_ledger opens it for a hook (agentgov/home.h): the
 * helper, which stays, signs the chain; a one-event process does not. */
static ag_err open_ledger(ag_home *home, ag_ledger **l, int stays)
{
    return ag_home_open_ledger(home, stays ? AG_HOME_LEDGER_HOOK_HELPER : AG_HOME_LEDGER_HOOK, l);
}

/* The helper's ledger handle, still on the file at <dir>/ledger.db. */
static ag_err kept_ledger(ag_home *home, struct ag__hook_env *env)
{
    const char *path = ag_home_path(home, AG_HOME_LEDGER_DB);
    struct stat st;
    int moved = stat(path, &st) != 0 || st.st_dev != env->dev || st.st_ino != env->ino;
    if (env->ledger && !moved)
        return AG_OK;
    ag_ledger_close(env->ledger); /* a ledger deleted or replaced under the helper */
    env->ledger = NULL;
    ag_err err = open_ledger(home, &env->ledger, 1);
    if (err == AG_OK && stat(path, &st) == 0) {
        env->dev = st.st_dev;
        env->ino = st.st_ino;
    }
    return err;
}

static ag_err append(ag_home *home, struct ag__hook_env *env, const struct ag_ledger_entry *e)
{
    ag_err err;
    if (env == NULL || !env->stays) {
        ag_ledger *l = NULL;
        err = open_ledger(home, &l, 0);
        if (err == AG_OK)
            err = ag_ledger_append(l, e, NULL, NULL);
        ag_ledger_close(l);
        return err;
    }
    if ((err = kept_ledger(home, env)) == AG_OK)
        err = ag_ledger_append(env->ledger, e, NULL, NULL);
    if (err != AG_OK) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", ag_last_error());
        ag_ledger_close(env->ledger);
        env->ledger = NULL;
        ag__fail(err, "%s", detail);
    }
    return err;
}

/* An internal error denies; the denial is recorded too when the ledger can take it
 * (best effort: the answer is a deny either way). ev may be NULL. */
static int deny_recorded(const struct ag_hook_opts *o, struct ag__hook_env *env,
                         const struct ag__hook_event *ev, const char *what, enum ag_reason reason,
                         ag_err err, struct ag__hook_out *out)
{
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", ag_last_error());
    struct ag_ledger_entry e = {
        .kind = "decision",
        .agent_id = o->agent ? o->agent
                    : ev     ? ag__hook_agent(ev)
                             : ag__hook_dialect_name(o->dialect),
        .task_id = ev && ev->session_id[0] ? ev->session_id : NULL,
        .tier = o->tier,
        .action = ev && ev->nreq ? ev->req[0].action : NULL,
        .resource = ev && ev->nreq ? ev->req[0].resource : NULL,
        .decision = "deny",
        .reason = ag_reason_name(reason),
        .confidence = -1,
        .success = -1,
        .error_type = what,
        .error_message = detail[0] ? detail : ag_strerror(err),
    };
    (void)!append(o->home, env, &e);
    ag__fail(err, "%s", detail);
    return ag__hook_deny(out, what, err);
}

int ag__hook_deny_early(const struct ag_hook_opts *o, const char *what, enum ag_reason reason,
                        ag_err err, struct ag__hook_out *out)
{
    return deny_recorded(o, NULL, NULL, what, reason, err, out);
}

static ag_err record(const struct ag_hook_opts *o, struct ag__hook_env *env,
                     const struct ag__hook_event *ev, const struct ag__hook_verdict *v)
{
    char *data = NULL;
    ag_err err = ag__hook_ledger_data(ev, v, &data);
    if (err != AG_OK)
        return err;
    const struct ag__hook_req *r = &ev->req[v->which];
    struct ag_ledger_entry e = {
        .kind = "decision",
        .agent_id = o->agent ? o->agent : ag__hook_agent(ev),
        .task_id = ev->session_id[0] ? ev->session_id : NULL,
        .tier = o->tier,
        .action = r->action,
        .resource = r->resource,
        .decision = ag_effect_name(v->effect),
        .reason = ag_reason_name(v->decision.reason),
        .confidence = -1,
        .success = -1,
        .data_json = data,
    };
    err = append(o->home, env, &e);
    free(data);
    return err;
}

/* ---- the policy ---------------------------------------------------------------------- */

/* The shipped coding-agent policy sits next to the shipped default policy. */
static const char *shipped_policy(char *buf, size_t len)
{
    const char *def = ag__policy_default_path();
    const char *slash = strrchr(def, '/');
    int dirlen = slash ? (int)(slash - def) : 1;
    snprintf(buf, len, "%.*s/coding-agent.yaml", dirlen, slash ? def : ".");
    return buf;
}

/* Flags win; the config file is read only for what the flags left open. When the
 * flags name the policy and the tier, a config that does not load leaves the answer
 * options at their defaults (no objection, the agent's own dialog), which grant
 * nothing, rather than deny. */
static ag_err resolve_config(struct ag_hook_opts *o, char *policy_buf, size_t len)
{
    if (o->policy && o->tier >= 0 && o->allow_means >= 0 && o->permission_requests >= 0)
        return AG_OK;
    ag_config *cfg = NULL;
    ag_err err = ag_config_new(&cfg);
    if (err == AG_OK) /* read afresh for each event: the helper sees an edit */
        err = ag_home_config_into(o->home, cfg);
    if (err != AG_OK && o->policy && o->tier >= 0) {
        ag_clear_error();
        o->allow_means = o->allow_means < 0 ? 0 : o->allow_means;
        o->permission_requests = o->permission_requests < 0 ? 0 : o->permission_requests;
        ag_config_free(cfg);
        return AG_OK;
    }
    if (err != AG_OK) {
        ag_config_free(cfg);
        return err;
    }
    const char *p = ag_config_str(cfg, "hook.policy");
    if (!o->policy && p && p[0]) {
        snprintf(policy_buf, len, "%s", p);
        o->policy = policy_buf;
    }
    if (o->tier < 0)
        o->tier = (int)ag_config_int(cfg, "hook.tier");
    const char *am = ag_config_str(cfg, "hook.allow_means");
    if (o->allow_means < 0)
        o->allow_means = am && strcmp(am, "allow") == 0;
    const char *pr = ag_config_str(cfg, "hook.permission_requests");
    if (o->permission_requests < 0)
        o->permission_requests = pr && strcmp(pr, "policy") == 0;
    ag_config_free(cfg);
    return AG_OK;
}

/* Loads the policy with ${PROJECT} and ${HOME} expanded for this event. */
static ag_err parse_policy(const char *path, const char *project, const char *home, ag_policy **out)
{
    char *text = NULL, *expanded = NULL;
    size_t len = 0, elen = 0;
    ag_err err = ag__read_file(path, HOOK_MAX_POLICY, &text, &len);
    if (err == AG_OK)
        err = ag__hook_expand(text, len, project, home, &expanded, &elen);
    if (err == AG_OK)
        err = ag_policy_load_string(path, expanded, elen, out);
    free(text);
    free(expanded);
    return err;
}

struct cached {
    char *path, *project, *home; /* home "" when there is none */
    struct stat st;
    ag_policy *p;
    uint64_t used;
};

struct ag__hook_policy_cache {
    struct cached slot[CACHE_SLOTS];
    uint64_t tick;
};

struct ag__hook_policy_cache *ag__hook_cache_new(void)
{
    return calloc(1, sizeof(struct ag__hook_policy_cache));
}

static void slot_clear(struct cached *s)
{
    free(s->path);
    free(s->project);
    free(s->home);
    ag_policy_free(s->p);
    memset(s, 0, sizeof *s);
}

void ag__hook_cache_free(struct ag__hook_policy_cache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < CACHE_SLOTS; i++)
        slot_clear(&c->slot[i]);
    free(c);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A file changed in the last two seconds may change again within the same timestamp
 * tick, keeping its stamp: such a file is parsed every time until it has settled. */
static int settled(const struct stat *st)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    int64_t m = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    int64_t c = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
    return ns - m > 2000000000 && ns - c > 2000000000;
}

static struct cached *cache_find(struct ag__hook_policy_cache *c, const char *path,
                                 const char *project, const char *home, const struct stat *st)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        struct cached *s = &c->slot[i];
        if (s->p && strcmp(s->path, path) == 0 && strcmp(s->project, project) == 0 &&
            strcmp(s->home, home) == 0 && same_file(&s->st, st))
            return s;
    }
    return NULL;
}

/* Keeps p in the least recently used slot; on failure p stays the caller's. */
static int cache_put(struct ag__hook_policy_cache *c, const char *path, const char *project,
                     const char *home, const struct stat *st, ag_policy *p)
{
    struct cached *s = &c->slot[0];
    for (int i = 1; i < CACHE_SLOTS; i++)
        if (c->slot[i].used < s->used)
            s = &c->slot[i];
    slot_clear(s);
    s->path = strdup(path);
    s->project = strdup(project);
    s->home = strdup(home);
    if (!s->path || !s->project || !s->home) {
        slot_clear(s);
        return 0;
    }
    s->st = *st;
    s->p = p;
    s->used = ++c->tick;
    return 1;
}

/* *owned says whether the caller must free *out (a policy the cache does not keep).
 * ${HOME} is what `~` stands for in the event (ev->home). */
static ag_err load_policy(const char *path, const struct ag__hook_event *ev,
                          struct ag__hook_policy_cache *c, ag_policy **out, int *owned)
{
    const char *h = ev->home;
    struct stat st;
    *owned = 1;
    if (c == NULL || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return parse_policy(path, ev->project, h, out); /* which reports a missing file */
    struct cached *s = cache_find(c, path, ev->project, h ? h : "", &st);
    if (s) {
        s->used = ++c->tick;
        *out = s->p;
        *owned = 0;
        return AG_OK;
    }
    ag_err err = parse_policy(path, ev->project, h, out);
    if (err == AG_OK && settled(&st) && cache_put(c, path, ev->project, h ? h : "", &st, *out))
        *owned = 0;
    return err;
}

/* ---- one event ----------------------------------------------------------------------- */

/* The answer is rendered first, since the ledger records which answer was given, and
 * printed only once its entry is committed. */
static int decide(struct ag_hook_opts *o, struct ag__hook_env *env, const struct ag__hook_event *ev,
                  const ag_policy *p, struct ag__hook_out *out)
{
    struct ag__hook_verdict v;
    struct ag__hook_answer_opts a = {.allow_means_allow = o->allow_means == 1,
                                     .permission_by_policy = o->permission_requests == 1};
    ag__hook_decide(p, o->tier, ev, &v);
    char *answer = NULL;
    ag_err err = ag__hook_response(ev, &a, &v, &answer);
    int rc = AG__HOOK_EXIT_ALLOW;
    if (err != AG_OK)
        rc = ag__hook_deny(out, "answer", err);
    else if ((err = record(o, env, ev, &v)) != AG_OK)
        rc = ag__hook_deny(out, "ledger", err);
    else if (answer[0])
        ag__buf_printf(&out->out, "%s\n", answer);
    free(answer);
    if (rc == AG__HOOK_EXIT_ALLOW && ag__buf_status(&out->out) != AG_OK)
        rc = ag__hook_deny(out, "answer", AG_ENOMEM);
    return rc;
}

int ag__hook_eval(struct ag_hook_opts *o, const char *text, size_t len, struct ag__hook_env *env,
                  struct ag__hook_out *out)
{
    struct ag__hook_event ev;
    char policy_buf[PATH_MAX], shipped[PATH_MAX], home[PATH_MAX];
    ag_err err = ag__hook_parse_home(o->dialect, text, len, ag__hook_home(o->uid, home), &ev);
    if (err != AG_OK)
        return deny_recorded(o, env, NULL, "malformed event", AG_REASON_INVALID_REQUEST, err, out);
    int rc;
    if ((err = ag__hook_project(&ev, o->home)) != AG_OK) {
        rc = deny_recorded(o, env, &ev, "project", AG_REASON_INVALID_REQUEST, err, out);
        ag__hook_event_free(&ev);
        return rc;
    }
    err = resolve_config(o, policy_buf, sizeof policy_buf);
    if (err != AG_OK) {
        rc = deny_recorded(o, env, &ev, "configuration", AG_REASON_INTERNAL_ERROR, err, out);
        ag__hook_event_free(&ev);
        return rc;
    }
    const char *path = o->policy ? o->policy : shipped_policy(shipped, sizeof shipped);
    ag_policy *p = NULL;
    int owned = 1;
    if ((err = load_policy(path, &ev, env ? env->cache : NULL, &p, &owned)) != AG_OK)
        rc = deny_recorded(o, env, &ev, "policy", AG_REASON_NO_POLICY, err, out);
    else
        rc = decide(o, env, &ev, p, out);
    if (owned)
        ag_policy_free(p);
    ag__hook_event_free(&ev);
    /* o->policy may point into policy_buf, which ends here. */
    if (o->policy == policy_buf)
        o->policy = NULL;
    return rc;
}
