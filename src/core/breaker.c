/* Circuit breakers: a small state machine per dependency, one mutex each, and a
 * process-wide registry so that the daemon can list them for /metrics and health. */
#include "agentgov/breaker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/time.h"

#define NBUCKETS 10 /* the ratio window is kept as this many slices */

struct bucket {
    int64_t slot; /* window_ms/NBUCKETS-wide slice number this bucket counts, -1 none */
    int calls, fails;
};

struct ag_breaker {
    char dep[64];
    struct ag_breaker_config cfg;
    pthread_mutex_t mu;
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    ag_breaker_change_cb cb;
    void *cb_ctx;

    enum ag_breaker_state state;
    uint64_t gen; /* bumped at every transition: results of older calls are ignored */
    int64_t since_ms;
    int64_t open_until_ms;
    int64_t cooldown_cur;
    int consecutive;
    int probes_inflight;
    struct bucket win[NBUCKETS];
    uint64_t transitions, opens, rejected, failures, successes;
    char last_error[160];

    ag_breaker *reg_next; /* registry list */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static ag_breaker *reg_head;

const char *ag_breaker_state_name(enum ag_breaker_state s)
{
    switch (s) {
    case AG_BREAKER_CLOSED:
        return "closed";
    case AG_BREAKER_OPEN:
        return "open";
    case AG_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "?";
}

void ag_breaker_config_default(struct ag_breaker_config *c)
{
    memset(c, 0, sizeof *c);
    c->failures = 5;
    c->ratio_pct = 50;
    c->min_calls = 20;
    c->window_ms = 10000;
    c->cooldown_ms = 1000;
    c->cooldown_max_ms = 30000;
    c->probes = 1;
}

/* A key that is not in the table reads as 0 (ag_config_int's contract), which is
 * told apart from a configured 0 by ag_config_origin being "". */
static int has_key(const ag_config *c, const char *key)
{
    return ag_config_origin(c, key)[0] != '\0';
}

void ag_breaker_config_from(const ag_config *c, const char *dep, struct ag_breaker_config *out)
{
    ag_breaker_config_default(out);
    if (c == NULL || dep == NULL)
        return;
    char k[128];
#define AG__BRK_KEY(suffix) (snprintf(k, sizeof k, "breaker.%s." suffix, dep), k)
    if (has_key(c, AG__BRK_KEY("failures")))
        out->failures = (int)ag_config_int(c, k);
    if (has_key(c, AG__BRK_KEY("ratio")))
        out->ratio_pct = (int)ag_config_int(c, k);
    if (has_key(c, AG__BRK_KEY("window")))
        out->window_ms = ag_config_ms(c, k);
    if (has_key(c, AG__BRK_KEY("cooldown")))
        out->cooldown_ms = ag_config_ms(c, k);
    if (has_key(c, AG__BRK_KEY("cooldown_max")))
        out->cooldown_max_ms = ag_config_ms(c, k);
    if (has_key(c, AG__BRK_KEY("probes")))
        out->probes = (int)ag_config_int(c, k);
#undef AG__BRK_KEY
    if (out->cooldown_max_ms < out->cooldown_ms)
        out->cooldown_max_ms = out->cooldown_ms;
}

static int64_t mono_clock(void *ctx)
{
    (void)ctx;
    return ag__mono_ms();
}

ag_err ag_breaker_new(const char *dep, const struct ag_breaker_config *cfg, ag_breaker **out)
{
    *out = NULL;
    if (dep == NULL || dep[0] == '\0' || strlen(dep) >= sizeof((ag_breaker *)0)->dep)
        return ag__fail(AG_EINVAL, "breaker: a name of 1..63 bytes is required");
    if (cfg == NULL || cfg->failures < 0 || cfg->ratio_pct < 0 || cfg->ratio_pct > 100 ||
        cfg->min_calls < 0 || cfg->probes < 1 || cfg->cooldown_ms < 0 ||
        (cfg->ratio_pct > 0 && cfg->window_ms < NBUCKETS))
        return ag__fail(AG_EINVAL,
                        "breaker '%s': bad config (failures >= 0, ratio 0..100, probes >= 1, "
                        "cooldown >= 0, a window of at least %d ms when ratio is set)",
                        dep, NBUCKETS);
    if (cfg->failures == 0 && cfg->ratio_pct == 0)
        return ag__fail(AG_EINVAL, "breaker '%s': failures and ratio are both 0: it never opens",
                        dep);
    ag_breaker *b = calloc(1, sizeof *b);
    if (b == NULL)
        return ag__fail(AG_ENOMEM, "breaker: out of memory");
    snprintf(b->dep, sizeof b->dep, "%s", dep);
    b->cfg = *cfg;
    if (b->cfg.cooldown_max_ms < b->cfg.cooldown_ms)
        b->cfg.cooldown_max_ms = b->cfg.cooldown_ms;
    pthread_mutex_init(&b->mu, NULL);
    b->clock = mono_clock;
    b->since_ms = ag__mono_ms();
    b->cooldown_cur = cfg->cooldown_ms;
    for (int i = 0; i < NBUCKETS; i++)
        b->win[i].slot = -1;
    pthread_mutex_lock(&reg_mu);
    ag_breaker **pp = &reg_head;
    while (*pp)
        pp = &(*pp)->reg_next;
    *pp = b;
    pthread_mutex_unlock(&reg_mu);
    *out = b;
    return AG_OK;
}

void ag_breaker_free(ag_breaker *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&reg_mu);
    for (ag_breaker **pp = &reg_head; *pp; pp = &(*pp)->reg_next)
        if (*pp == b) {
            *pp = b->reg_next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

const char *ag_breaker_name(const ag_breaker *b)
{
    return b ? b->dep : "";
}

void ag_breaker_set_clock(ag_breaker *b, int64_t (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&b->mu);
    b->clock = fn ? fn : mono_clock;
    b->clock_ctx = fn ? ctx : NULL;
    b->since_ms = b->clock(b->clock_ctx);
    pthread_mutex_unlock(&b->mu);
}

void ag_breaker_on_change(ag_breaker *b, ag_breaker_change_cb cb, void *ctx)
{
    pthread_mutex_lock(&b->mu);
    b->cb = cb;
    b->cb_ctx = ctx;
    pthread_mutex_unlock(&b->mu);
}

/* ---- the sliding window ---------------------------------------------------------- */

static int64_t slot_of(const ag_breaker *b, int64_t now)
{
    int64_t width = b->cfg.window_ms / NBUCKETS;
    return width > 0 ? now / width : now;
}

static void window_add(ag_breaker *b, int64_t now, int failed)
{
    if (b->cfg.ratio_pct == 0)
        return;
    int64_t slot = slot_of(b, now);
    struct bucket *k = &b->win[((slot % NBUCKETS) + NBUCKETS) % NBUCKETS];
    if (k->slot != slot) {
        k->slot = slot;
        k->calls = k->fails = 0;
    }
    k->calls++;
    k->fails += failed;
}

/* Calls and failures in the buckets that still lie inside the window. A clock that
 * went backwards leaves buckets "in the future": they are counted until overwritten,
 * which errs toward opening, not toward hiding failures. */
static void window_sum(const ag_breaker *b, int64_t now, int *calls, int *fails)
{
    *calls = *fails = 0;
    int64_t slot = slot_of(b, now);
    for (int i = 0; i < NBUCKETS; i++) {
        const struct bucket *k = &b->win[i];
        if (k->slot >= 0 && k->slot > slot - NBUCKETS) {
            *calls += k->calls;
            *fails += k->fails;
        }
    }
}

static void window_reset(ag_breaker *b)
{
    for (int i = 0; i < NBUCKETS; i++) {
        b->win[i].slot = -1;
        b->win[i].calls = b->win[i].fails = 0;
    }
}

/* ---- transitions ------------------------------------------------------------------ */

struct change {
    int happened;
    enum ag_breaker_state from, to;
    char why[224];
};

static void move_to(ag_breaker *b, int64_t now, enum ag_breaker_state to, struct change *ch)
{
    ch->happened = 1;
    ch->from = b->state;
    ch->to = to;
    b->state = to;
    b->gen++;
    b->transitions++;
    b->since_ms = now;
    b->probes_inflight = 0;
    if (to == AG_BREAKER_OPEN) {
        b->opens++;
        b->open_until_ms = now + b->cooldown_cur;
    } else if (to == AG_BREAKER_CLOSED) {
        b->consecutive = 0;
        b->cooldown_cur = b->cfg.cooldown_ms;
        window_reset(b);
    }
}

static void notify(ag_breaker *b, const struct change *ch)
{
    if (!ch->happened)
        return;
    pthread_mutex_lock(&b->mu);
    ag_breaker_change_cb cb = b->cb;
    void *ctx = b->cb_ctx;
    pthread_mutex_unlock(&b->mu);
    if (cb)
        cb(ctx, b, ch->from, ch->to, ch->why);
}

static void refuse(ag_breaker *b, struct ag_breaker_call *call, int64_t now)
{
    b->rejected++;
    call->admitted = 0;
    call->retry_ms =
        b->state == AG_BREAKER_OPEN && b->open_until_ms > now ? b->open_until_ms - now : 0;
    if (b->state == AG_BREAKER_OPEN)
        snprintf(call->why, sizeof call->why,
                 "circuit breaker '%s' is open (retry in %lld ms; last error: %.80s)", b->dep,
                 (long long)call->retry_ms, b->last_error[0] ? b->last_error : "none");
    else
        snprintf(call->why, sizeof call->why,
                 "circuit breaker '%s' is half-open and its %d probe(s) are in flight", b->dep,
                 b->cfg.probes);
}

int ag_breaker_allow(ag_breaker *b, struct ag_breaker_call *call)
{
    memset(call, 0, sizeof *call);
    if (b == NULL) {
        call->admitted = 1;
        return 1;
    }
    struct change ch = {0};
    pthread_mutex_lock(&b->mu);
    int64_t now = b->clock(b->clock_ctx);
    if (b->state == AG_BREAKER_OPEN && now >= b->open_until_ms) {
        char d[32];
        ag__format_duration(b->cooldown_cur, d, sizeof d);
        move_to(b, now, AG_BREAKER_HALF_OPEN, &ch);
        snprintf(ch.why, sizeof ch.why, "cool-down of %s elapsed", d);
    }
    if (b->state == AG_BREAKER_CLOSED) {
        call->admitted = 1;
    } else if (b->state == AG_BREAKER_HALF_OPEN && b->probes_inflight < b->cfg.probes) {
        b->probes_inflight++;
        call->admitted = 1;
        call->probe = 1;
    } else {
        refuse(b, call, now);
    }
    call->gen = b->gen;
    pthread_mutex_unlock(&b->mu);
    notify(b, &ch);
    return call->admitted;
}

/* A failure in the closed state: does it open the breaker? */
static void closed_failure(ag_breaker *b, int64_t now, struct change *ch)
{
    b->consecutive++;
    window_add(b, now, 1);
    if (b->cfg.failures > 0 && b->consecutive >= b->cfg.failures) {
        move_to(b, now, AG_BREAKER_OPEN, ch);
        snprintf(ch->why, sizeof ch->why, "%d consecutive failures: %.160s", b->cfg.failures,
                 b->last_error);
        return;
    }
    int calls, fails;
    window_sum(b, now, &calls, &fails);
    if (b->cfg.ratio_pct > 0 && calls >= b->cfg.min_calls && calls > 0 &&
        (int64_t)fails * 100 >= (int64_t)b->cfg.ratio_pct * calls) {
        char w[32];
        ag__format_duration(b->cfg.window_ms, w, sizeof w);
        move_to(b, now, AG_BREAKER_OPEN, ch);
        snprintf(ch->why, sizeof ch->why, "%d of %d calls failed in %s: %.140s", fails, calls, w,
                 b->last_error);
    }
}

void ag_breaker_done(ag_breaker *b, struct ag_breaker_call *call, int ok, const char *detail)
{
    if (b == NULL || call == NULL || !call->admitted)
        return;
    call->admitted = 0; /* a second done for the same call is ignored */
    struct change ch = {0};
    pthread_mutex_lock(&b->mu);
    int64_t now = b->clock(b->clock_ctx);
    if (ok) {
        b->successes++;
    } else {
        b->failures++;
        snprintf(b->last_error, sizeof b->last_error, "%s", detail && *detail ? detail : "failed");
    }
    if (call->gen != b->gen) {
        /* Admitted before the last transition: its outcome says nothing about the
         * dependency as the new state sees it. */
    } else if (b->state == AG_BREAKER_CLOSED) {
        if (ok) {
            b->consecutive = 0;
            window_add(b, now, 0);
        } else {
            closed_failure(b, now, &ch);
        }
    } else if (b->state == AG_BREAKER_HALF_OPEN && call->probe) {
        b->probes_inflight--;
        if (ok) {
            move_to(b, now, AG_BREAKER_CLOSED, &ch);
            snprintf(ch.why, sizeof ch.why, "probe succeeded");
        } else {
            int64_t next = b->cooldown_cur * 2;
            b->cooldown_cur = next > b->cfg.cooldown_max_ms ? b->cfg.cooldown_max_ms : next;
            if (b->cooldown_cur <= 0)
                b->cooldown_cur = b->cfg.cooldown_ms;
            move_to(b, now, AG_BREAKER_OPEN, &ch);
            char d[32];
            ag__format_duration(b->cooldown_cur, d, sizeof d);
            snprintf(ch.why, sizeof ch.why, "probe failed (next cool-down %s): %.160s", d,
                     b->last_error);
        }
    }
    pthread_mutex_unlock(&b->mu);
    notify(b, &ch);
}

static void stats_locked(ag_breaker *b, struct ag_breaker_stats *o)
{
    int64_t now = b->clock(b->clock_ctx);
    memset(o, 0, sizeof *o);
    snprintf(o->dep, sizeof o->dep, "%s", b->dep);
    o->state = b->state;
    o->since_ms = b->since_ms;
    o->retry_in_ms =
        b->state == AG_BREAKER_OPEN && b->open_until_ms > now ? b->open_until_ms - now : 0;
    o->cooldown_ms = b->cooldown_cur;
    o->consecutive_failures = b->consecutive;
    window_sum(b, now, &o->window_calls, &o->window_failures);
    o->transitions = b->transitions;
    o->opens = b->opens;
    o->rejected = b->rejected;
    o->failures = b->failures;
    o->successes = b->successes;
    snprintf(o->last_error, sizeof o->last_error, "%s", b->last_error);
}

void ag_breaker_stats(ag_breaker *b, struct ag_breaker_stats *out)
{
    if (b == NULL) {
        memset(out, 0, sizeof *out);
        return;
    }
    pthread_mutex_lock(&b->mu);
    stats_locked(b, out);
    pthread_mutex_unlock(&b->mu);
}

void ag_breaker_foreach(void (*fn)(void *ctx, const struct ag_breaker_stats *st), void *ctx)
{
    pthread_mutex_lock(&reg_mu);
    for (ag_breaker *b = reg_head; b; b = b->reg_next) {
        struct ag_breaker_stats st;
        ag_breaker_stats(b, &st);
        fn(ctx, &st);
    }
    pthread_mutex_unlock(&reg_mu);
}
