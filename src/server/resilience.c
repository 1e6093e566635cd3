/* The daemon's breakers and health manager: built from the settings when the store and
 * the ledger are opened, probed from the main loop, exported in /metrics, and ledgered
 * on change (a breaker opening or closing, a component changing status), never on every
 * probe. */
#include "server/resilience.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/time.h"
#include "server/handlers.h"
#include "server/log.h"
#include "server/server.h"

void ag__resilience_config_from(const ag_config *c, struct ag__resilience_config *o)
{
    ag_breaker_config_from(c, "store", &o->store);
    ag_breaker_config_from(c, "ledger", &o->ledger);
    o->store_on = o->store.failures > 0 || o->store.ratio_pct > 0;
    o->ledger_on = o->ledger.failures > 0 || o->ledger.ratio_pct > 0;
    o->disk_min = ag_config_int(c, "health.disk_min");
    o->wal_max = ag_config_int(c, "health.wal_max");
}

/* One `system` ledger entry (best effort: a ledger that is down is why some of these
 * happen; the log line is written either way). */
static void ledger_system(struct ag__srv *s, const char *action, const char *resource, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(data);
    if (s->ledger == NULL || text == NULL) {
        free(text);
        return;
    }
    struct ag_ledger_entry e = {.kind = "system",
                                .tier = -1,
                                .action = action,
                                .resource = resource,
                                .confidence = -1,
                                .success = -1,
                                .data_json = text};
    if (ag__srv_ledger_append(s, &e, NULL) != AG_OK)
        ag__log(AG_LOG_WARN, "health", "could not ledger %s %s: %s", action, resource,
                ag_last_error());
    free(text);
}

void ag__srv_on_breaker(void *ctx, ag_breaker *b, enum ag_breaker_state from,
                        enum ag_breaker_state to, const char *why)
{
    struct ag__srv *s = ctx;
    const char *dep = ag_breaker_name(b);
    ag__log(to == AG_BREAKER_OPEN ? AG_LOG_WARN : AG_LOG_INFO, "breaker", "%s: %s -> %s: %s", dep,
            ag_breaker_state_name(from), ag_breaker_state_name(to), why);
    /* Open and closed are the states an operator acts on; half-open is a moment. A
     * failed probe (half-open -> open) is the same outage going on: not a new entry. */
    if (to == AG_BREAKER_HALF_OPEN || (to == AG_BREAKER_OPEN && from == AG_BREAKER_HALF_OPEN))
        return;
    /* The ledger's own breaker opens when the ledger cannot be written: that entry is
     * lost (the log has it), so the close entry repeats why it had opened. */
    struct ag__resilience *r = &s->res;
    char *opened = b == r->ledger_breaker  ? r->ledger_open_why
                   : b == r->store_breaker ? r->store_open_why
                                           : NULL; /* a notifier's: its log says why */
    char action[32];
    snprintf(action, sizeof action, "breaker.%s", to == AG_BREAKER_OPEN ? "open" : "close");
    json_t *data =
        json_pack("{s:s, s:s, s:s, s:s}", "dep", dep, "from", ag_breaker_state_name(from), "to",
                  ag_breaker_state_name(to), "why", why);
    if (opened == NULL)
        ;
    else if (to == AG_BREAKER_OPEN)
        snprintf(opened, sizeof r->store_open_why, "%s", why);
    else if (data && opened[0])
        json_object_set_new(data, "opened_for", json_string(opened));
    ledger_system(s, action, dep, data);
}

static void on_health(void *ctx, const char *component, enum ag_health_status from,
                      enum ag_health_status to, const char *detail)
{
    struct ag__srv *s = ctx;
    ag__log(to == AG_HEALTH_OK ? AG_LOG_INFO : AG_LOG_WARN, "health", "%s: %s -> %s: %s", component,
            ag_health_status_name(from), ag_health_status_name(to), detail);
    char action[32];
    snprintf(action, sizeof action, "health.%s", ag_health_status_name(to));
    ledger_system(s, action, component,
                  json_pack("{s:s, s:s, s:s, s:s}", "component", component, "from",
                            ag_health_status_name(from), "to", ag_health_status_name(to), "detail",
                            detail));
}

static void probe_policy(void *ctx, struct ag_health_report *r)
{
    struct ag__srv *s = ctx;
    const ag_policy *p;
    struct ag__polref_node *n = ag__polref_get(&s->policy, &p);
    if (p == NULL) {
        r->status = AG_HEALTH_DOWN;
        snprintf(r->detail, sizeof r->detail, "no policy loaded: every decision is deny");
    } else {
        snprintf(r->detail, sizeof r->detail, "loaded from %.200s",
                 s->policy_path[0] ? s->policy_path : "(shipped default)");
    }
    ag__polref_put(n);
}

static void probe_auth(void *ctx, struct ag_health_report *r)
{
    struct ag__srv *s = ctx;
    if (s->auth == NULL) {
        r->status = AG_HEALTH_DOWN;
        snprintf(r->detail, sizeof r->detail,
                 "auth engine not started (master key, store or ledger missing): endpoints "
                 "that need a token answer 503");
    } else if (ag_auth_keyring_ready(s->auth) != AG_OK) {
        /* Started while the store was down: loaded by the first call that reaches it. */
        r->status = AG_HEALTH_DOWN;
        snprintf(r->detail, sizeof r->detail,
                 "keyring not loaded yet (the store cannot be reached): endpoints that need "
                 "a token answer 503");
    } else {
        snprintf(r->detail, sizeof r->detail, "keyring loaded");
    }
}

static void make_breaker(const char *dep, const struct ag_breaker_config *c, int on,
                         struct ag__srv *s, ag_breaker **out)
{
    *out = NULL;
    if (!on)
        return;
    if (ag_breaker_new(dep, c, out) != AG_OK) {
        *out = NULL;
        ag__log(AG_LOG_ERROR, "breaker", "no breaker for %s: %s", dep, ag_last_error());
        return;
    }
    ag_breaker_on_change(*out, ag__srv_on_breaker, s);
}

/* A component that could not be opened at start stays down: said once, at attach. */
static void fixed_down(ag_health *h, const char *name, const char *why)
{
    if (ag_health_register(h, name, 1, NULL, NULL) != AG_OK ||
        ag_health_set(h, name, AG_HEALTH_DOWN, why) != AG_OK)
        ag_clear_error();
}

void ag__resilience_attach(struct ag__srv *s)
{
    struct ag__resilience *r = &s->res;
    const struct ag__resilience_config *c = &s->cfg.res;
    if (s->store)
        make_breaker("store", &c->store, c->store_on, s, &r->store_breaker);
    if (s->ledger)
        make_breaker("ledger", &c->ledger, c->ledger_on, s, &r->ledger_breaker);
    if (s->store)
        ag_store_set_breaker(s->store, r->store_breaker);
    if (s->ledger)
        ag_ledger_set_breaker(s->ledger, r->ledger_breaker);
    if (ag_health_new(&r->health) != AG_OK) {
        r->health = NULL;
        ag__log(AG_LOG_ERROR, "health", "no health manager: %s", ag_last_error());
        return;
    }
    ag_health *h = r->health;
    char db[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s", s->home ? ag_home_path(s->home, AG_HOME_LEDGER_DB) : "ledger.db");
    ag_err e = AG_OK;
    if (s->ledger)
        e = ag_health_add_ledger(h, s->ledger, r->ledger_breaker, db, c->disk_min, c->wal_max);
    else
        fixed_down(h, "ledger", "could not be opened at start: every decision is deny");
    if (e == AG_OK && s->store)
        e = ag_health_add_store(h, s->store);
    else if (e == AG_OK)
        fixed_down(h, "store", "could not be opened at start: every decision is deny");
    if (e == AG_OK)
        e = ag_health_register(h, "policy", 1, probe_policy, s);
    if (e == AG_OK)
        e = ag_health_register(h, "auth", 0, probe_auth, s);
    if (e == AG_OK && r->store_breaker)
        e = ag_health_add_breaker(h, r->store_breaker);
    if (e == AG_OK && r->ledger_breaker)
        e = ag_health_add_breaker(h, r->ledger_breaker);
    if (e != AG_OK)
        ag__log(AG_LOG_ERROR, "health", "health manager incomplete: %s", ag_last_error());
    /* Told after the first check, so that the states found at start are ledgered too. */
    ag_health_on_change(h, on_health, s);
}

void ag__resilience_tick(struct ag__srv *s)
{
    struct ag__resilience *r = &s->res;
    int64_t now = ag__mono_ms();
    int64_t last = atomic_load(&r->checked_ms);
    if (last && now - last < 250)
        return;
    if (r->health == NULL) {
        atomic_store(&s->store_ok, s->store != NULL);
        atomic_store(&r->checked_ms, now);
        return;
    }
    ag_health_check(r->health);
    atomic_store(&r->checked_ms, ag__mono_ms());
    struct ag_health_component comp[16];
    size_t n = ag_health_snapshot(r->health, comp, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (strcmp(comp[i].name, "store") == 0) {
            int ok = comp[i].report.status != AG_HEALTH_DOWN;
            if (!ok)
                atomic_fetch_add_explicit(&s->metrics.store_errors, 1, memory_order_relaxed);
            atomic_store(&s->store_ok, ok);
        }
}

/* ---- metrics ------------------------------------------------------------------------ */

static void breaker_line(void *ctx, const struct ag_breaker_stats *st)
{
    struct ag_buf *o = ((void **)ctx)[0];
    int which = *(int *)((void **)ctx)[1];
    switch (which) {
    case 0:
        ag__buf_printf(o, "agentgov_breaker_state{dep=\"%s\"} %d\n", st->dep, (int)st->state);
        break;
    case 1:
        ag__buf_printf(o, "agentgov_breaker_transitions_total{dep=\"%s\"} %llu\n", st->dep,
                       (unsigned long long)st->transitions);
        break;
    case 2:
        ag__buf_printf(o, "agentgov_breaker_opens_total{dep=\"%s\"} %llu\n", st->dep,
                       (unsigned long long)st->opens);
        break;
    case 3:
        ag__buf_printf(o, "agentgov_breaker_rejected_total{dep=\"%s\"} %llu\n", st->dep,
                       (unsigned long long)st->rejected);
        break;
    case 4:
        ag__buf_printf(o, "agentgov_breaker_failures_total{dep=\"%s\"} %llu\n", st->dep,
                       (unsigned long long)st->failures);
        break;
    }
}

void ag__resilience_metrics(struct ag__srv *s, struct ag_buf *o)
{
    static const char *const heads[] = {
        "# HELP agentgov_breaker_state Circuit breaker state: 0 closed, 1 open, 2 half-open.\n"
        "# TYPE agentgov_breaker_state gauge\n",
        "# HELP agentgov_breaker_transitions_total Circuit breaker state changes.\n"
        "# TYPE agentgov_breaker_transitions_total counter\n",
        "# HELP agentgov_breaker_opens_total Times the circuit breaker opened.\n"
        "# TYPE agentgov_breaker_opens_total counter\n",
        "# HELP agentgov_breaker_rejected_total Calls refused at once by an open or half-open "
        "breaker.\n# TYPE agentgov_breaker_rejected_total counter\n",
        "# HELP agentgov_breaker_failures_total Calls through the breaker that failed.\n"
        "# TYPE agentgov_breaker_failures_total counter\n",
    };
    for (int i = 0; i < 5; i++) {
        ag__buf_puts(o, heads[i]);
        void *ctx[2] = {o, &i};
        ag_breaker_foreach(breaker_line, ctx);
    }
    if (s->res.health == NULL)
        return;
    struct ag_health_component comp[32];
    size_t n = ag_health_snapshot(s->res.health, comp, 32);
    if (n > 32)
        n = 32;
    int ready;
    ag_health_overall(s->res.health, &ready);
    ag__buf_printf(o,
                   "# HELP agentgov_health_ready 1 when no critical component is down.\n"
                   "# TYPE agentgov_health_ready gauge\nagentgov_health_ready %d\n",
                   ready);
    ag__buf_puts(o, "# HELP agentgov_health_status Component status: 0 ok, 1 degraded, 2 down.\n"
                    "# TYPE agentgov_health_status gauge\n");
    for (size_t i = 0; i < n; i++)
        ag__buf_printf(o, "agentgov_health_status{component=\"%s\"} %d\n", comp[i].name,
                       (int)comp[i].report.status);
    /* Each gauge name once, with every component that reports it. */
    for (size_t i = 0; i < n; i++)
        for (int g = 0; g < comp[i].report.ngauges; g++) {
            const char *name = comp[i].report.gauges[g].name;
            int seen = 0;
            for (size_t k = 0; k < i && !seen; k++)
                for (int m = 0; m < comp[k].report.ngauges; m++)
                    seen |= strcmp(comp[k].report.gauges[m].name, name) == 0;
            if (seen)
                continue;
            ag__buf_printf(o,
                           "# HELP agentgov_health_%s Reported by the component's health probe.\n"
                           "# TYPE agentgov_health_%s gauge\n",
                           name, name);
            for (size_t k = i; k < n; k++)
                for (int m = 0; m < comp[k].report.ngauges; m++)
                    if (strcmp(comp[k].report.gauges[m].name, name) == 0)
                        ag__buf_printf(o, "agentgov_health_%s{component=\"%s\"} %.9g\n", name,
                                       comp[k].name, comp[k].report.gauges[m].value);
        }
}

void ag__resilience_free(struct ag__srv *s)
{
    ag_health_free(s->res.health);
    ag_breaker_free(s->res.store_breaker);
    ag_breaker_free(s->res.ledger_breaker);
    memset(&s->res, 0, sizeof s->res);
}
