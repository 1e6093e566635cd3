/* What the daemon does beside answering requests, for approvals and notifications:
 * the approvals and outbox handles, the events they emit (approvals, revocations,
 * exhausted budgets), the expiry sweep and the outbox's delivery thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/time.h"
#include "server/events.h"
#include "server/log.h"
#include "server/resilience.h"

/* Puts an event in the outbox; a failure is logged, never returned: a notification
 * never changes a decision. */
static void emit(struct ag__srv *s, const char *type, const char *data_json)
{
    if (!s->notify)
        return;
    if (ag_notify_emit(s->notify, type, data_json, NULL) != AG_OK)
        ag__log(AG_LOG_WARN, "notify", "cannot queue %s: %s", type, ag_last_error());
}

static void approval_event(void *ctx, enum ag_approval_event ev, const char *id, const char *json)
{
    (void)id;
    static const char *const types[] = {"approval.requested", "approval.decided",
                                        "approval.expired"};
    emit(ctx, types[ev], json);
}

/* agent.revoked, and budget.exhausted when an error budget was the cause (the type the
 * lifecycle recorded in revocations:index just before it calls this hook). */
void ag__srv_revocation_events(struct ag__srv *s, const char *agent_id)
{
    char type[64] = "";
    struct ag_store_op op = {.op = AG_OP_HGET, .key = "revocations:index", .field = agent_id};
    struct ag_store_reply rp;
    if (s->store && ag_store_exec(s->store, NULL, &op, 1, &rp, NULL) == AG_OK) {
        json_t *o = rp.type == AG_REPLY_STR ? json_loads(rp.str, 0, NULL) : NULL;
        snprintf(type, sizeof type, "%s", json_string_value(json_object_get(o, "type")) ?: "");
        json_decref(o);
        ag_store_reply_free(&rp, 1);
    }
    json_t *d = json_pack("{s:s, s:s}", "agent_id", agent_id, "type", type);
    char *dj = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(d);
    if (dj) {
        emit(s, "agent.revoked", dj);
        if (strcmp(type, "ERROR_BUDGET_EXCEEDED") == 0 || strcmp(type, "ERROR_REPEATED") == 0 ||
            strcmp(type, "PROCEDURE_VIOLATION") == 0)
            emit(s, "budget.exhausted", dj);
    }
    free(dj);
}

/* The outbox as a health component (not critical: decisions never wait for it):
 * degraded while deliveries are dead or more than a thousand wait. */
static void probe_notify(void *ctx, struct ag_health_report *r)
{
    struct ag__srv *s = ctx;
    struct ag_notify_stats st;
    if (ag_notify_stats(s->notify, &st) != AG_OK) {
        r->status = AG_HEALTH_DEGRADED;
        snprintf(r->detail, sizeof r->detail, "outbox unreadable: %s", ag_last_error());
        return;
    }
    r->status = st.dead_total || st.pending > 1000 ? AG_HEALTH_DEGRADED : AG_HEALTH_OK;
    snprintf(r->detail, sizeof r->detail, "%zu waiting, %zu dead (agentgov notify list --dead)",
             st.pending, st.dead_total);
    ag_health_gauge(r, "outbox_pending", (double)st.pending);
    ag_health_gauge(r, "outbox_dead", (double)st.dead_total);
}

void ag__srv_open_events(struct ag__srv *s)
{
    if (s->store && s->ledger) {
        struct ag_approve_opts ao = {.store = s->store,
                                     .ledger = s->ledger,
                                     .auth = s->auth,
                                     .default_timeout_ms = s->cfg.approvals_timeout_ms};
        if (ag_approve_new(&ao, &s->approve) != AG_OK) {
            s->approve = NULL;
            ag__log(AG_LOG_ERROR, "approvals",
                    "cannot start: %s; an ask is answered as "
                    "ask without a pending approval",
                    ag_last_error());
        }
    }
    if (s->store && s->ledger) {
        struct ag_notify_opts no = {.store = s->store,
                                    .ledger = s->ledger,
                                    .auth = s->auth,
                                    .slack_webhook_url = s->cfg.slack_url,
                                    .webhook_url = s->cfg.webhook_url,
                                    .webhook_secret = s->cfg.webhook_secret,
                                    .github_api_url = s->cfg.gh_api,
                                    .github_repo = s->cfg.gh_repo,
                                    .github_token_secret = s->cfg.gh_token,
                                    .github_issue = s->cfg.gh_issue,
                                    .timeout_ms = s->cfg.notify_timeout_ms,
                                    .backoff_ms = s->cfg.notify_backoff_ms,
                                    .backoff_max_ms = s->cfg.notify_backoff_max_ms,
                                    .max_attempts = s->cfg.notify_max_attempts,
                                    .breaker = s->cfg.notify_breaker,
                                    .breaker_cb = ag__srv_on_breaker,
                                    .breaker_ctx = s};
        if (ag_notify_new(&no, &s->notify) != AG_OK) {
            s->notify = NULL;
            ag__log(AG_LOG_ERROR, "notify", "notifications are off: %s", ag_last_error());
        }
        if (s->approve)
            ag_approve_set_event_hook(s->approve, approval_event, s);
        if (s->notify && s->res.health &&
            ag_health_register(s->res.health, "notify", 0, probe_notify, s) != AG_OK)
            ag__log(AG_LOG_WARN, "notify", "not in the health checks: %s", ag_last_error());
    }
}

/* Records the expiry of approvals that ran out (once a second, from the main loop):
 * their status reads expired anyway; this puts the expiry in the ledger. */
void ag__srv_sweep_approvals(struct ag__srv *s)
{
    int64_t now = ag__mono_ms();
    if (!s->approve || now - s->approvals_swept_ms < 1000)
        return;
    s->approvals_swept_ms = now;
    size_t n = 0;
    if (ag_approve_sweep(s->approve, &n) != AG_OK)
        ag__log(AG_LOG_WARN, "approvals", "expiry sweep failed: %s", ag_last_error());
    else if (n)
        ag__log(AG_LOG_INFO, "approvals", "%zu approval(s) expired", n);
}

/* The outbox's worker: delivers what is due every 200 ms, on its own thread, so that a
 * slow or dead channel never holds a request. */
static void *notify_main(void *arg)
{
    struct ag__srv *s = arg;
    while (!atomic_load(&s->notify_stop)) {
        struct ag_notify_round r;
        if (ag_notify_deliver(s->notify, 0, &r) != AG_OK)
            ag__log(AG_LOG_WARN, "notify", "delivery round failed: %s", ag_last_error());
        else if (r.dead)
            ag__log(AG_LOG_ERROR, "notify",
                    "%zu notification(s) dead after their last attempt "
                    "(agentgov notify list --dead)",
                    r.dead);
        for (int i = 0; i < 4 && !atomic_load(&s->notify_stop); i++)
            usleep(50 * 1000);
    }
    return NULL;
}

void ag__srv_start_notify(struct ag__srv *s)
{
    if (!s->notify || s->notify_running)
        return;
    atomic_store(&s->notify_stop, 0);
    if (pthread_create(&s->notify_thread, NULL, notify_main, s) == 0)
        s->notify_running = 1;
    else
        ag__log(AG_LOG_ERROR, "notify", "cannot start the delivery thread; events stay queued");
}

void ag__srv_stop_notify(struct ag__srv *s)
{
    if (!s->notify_running)
        return;
    atomic_store(&s->notify_stop, 1);
    pthread_join(s->notify_thread, NULL);
    s->notify_running = 0;
}
