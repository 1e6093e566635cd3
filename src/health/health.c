/* The health manager: a list of components, each with a probe (or pushed state) and its
 * latest report; changes of status are told to one callback. Probes run outside the
 * data lock (they may wait on a store for seconds) but one check at a time. */
#include "agentgov/health.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "core/err.h"
#include "core/time.h"

struct comp {
    struct ag_health_component c;
    ag_health_probe_fn fn;
    void *ctx;
    struct comp *next;
};

struct ag_health {
    pthread_mutex_t mu;       /* the list and the reports */
    pthread_mutex_t check_mu; /* one ag_health_check at a time */
    struct comp *head;
    size_t n;
    ag_health_change_cb cb;
    void *cb_ctx;
    /* Contexts of the built-in probes, freed with the manager. */
    void *owned[32];
    size_t nowned;
};

const char *ag_health_status_name(enum ag_health_status s)
{
    switch (s) {
    case AG_HEALTH_OK:
        return "ok";
    case AG_HEALTH_DEGRADED:
        return "degraded";
    case AG_HEALTH_DOWN:
        return "down";
    }
    return "?";
}

void ag_health_gauge(struct ag_health_report *r, const char *name, double value)
{
    if (r->ngauges >= AG_HEALTH_MAX_GAUGES)
        return;
    snprintf(r->gauges[r->ngauges].name, sizeof r->gauges[0].name, "%s", name);
    r->gauges[r->ngauges].value = value;
    r->ngauges++;
}

ag_err ag_health_new(ag_health **out)
{
    ag_health *h = calloc(1, sizeof *h);
    if (h == NULL)
        return ag__fail(AG_ENOMEM, "health: out of memory");
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->check_mu, NULL);
    *out = h;
    return AG_OK;
}

void ag_health_free(ag_health *h)
{
    if (h == NULL)
        return;
    for (struct comp *c = h->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    for (size_t i = 0; i < h->nowned; i++)
        free(h->owned[i]);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->check_mu);
    free(h);
}

void ag_health_on_change(ag_health *h, ag_health_change_cb cb, void *ctx)
{
    pthread_mutex_lock(&h->mu);
    h->cb = cb;
    h->cb_ctx = ctx;
    pthread_mutex_unlock(&h->mu);
}

static struct comp *find(ag_health *h, const char *name)
{
    for (struct comp *c = h->head; c; c = c->next)
        if (strcmp(c->c.name, name) == 0)
            return c;
    return NULL;
}

ag_err ag_health_register(ag_health *h, const char *component, int critical, ag_health_probe_fn fn,
                          void *ctx)
{
    if (component == NULL || component[0] == '\0' || strlen(component) >= 64)
        return ag__fail(AG_EINVAL, "health: a component name of 1..63 bytes is required");
    struct comp *c = calloc(1, sizeof *c);
    if (c == NULL)
        return ag__fail(AG_ENOMEM, "health: out of memory");
    snprintf(c->c.name, sizeof c->c.name, "%s", component);
    c->c.critical = critical;
    c->c.since_ms = ag__wall_ms();
    c->fn = fn;
    c->ctx = ctx;
    pthread_mutex_lock(&h->mu);
    if (find(h, component)) {
        pthread_mutex_unlock(&h->mu);
        free(c);
        return ag__fail(AG_EEXIST, "health: component '%s' is already registered", component);
    }
    struct comp **pp = &h->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = c;
    h->n++;
    pthread_mutex_unlock(&h->mu);
    return AG_OK;
}

/* Stores a report (h->mu held); returns 1 and fills the change when the status moved. */
static int record(struct comp *c, const struct ag_health_report *r, enum ag_health_status *from)
{
    int64_t now = ag__wall_ms();
    *from = c->c.report.status;
    int changed = c->c.checked_ms != 0 ? r->status != c->c.report.status
                                       : r->status != AG_HEALTH_OK; /* first report */
    c->c.report = *r;
    c->c.checked_ms = now;
    if (changed) {
        c->c.since_ms = now;
        c->c.changes++;
    }
    return changed;
}

static void tell(ag_health *h, const char *name, enum ag_health_status from,
                 const struct ag_health_report *r)
{
    pthread_mutex_lock(&h->mu);
    ag_health_change_cb cb = h->cb;
    void *ctx = h->cb_ctx;
    pthread_mutex_unlock(&h->mu);
    if (cb)
        cb(ctx, name, from, r->status, r->detail);
}

ag_err ag_health_set(ag_health *h, const char *component, enum ag_health_status status,
                     const char *detail)
{
    struct ag_health_report r = {.status = status};
    snprintf(r.detail, sizeof r.detail, "%s", detail ? detail : "");
    pthread_mutex_lock(&h->mu);
    struct comp *c = find(h, component);
    if (c == NULL) {
        pthread_mutex_unlock(&h->mu);
        return ag__fail(AG_ENOTFOUND, "health: no component '%s'", component);
    }
    enum ag_health_status from;
    int changed = record(c, &r, &from);
    pthread_mutex_unlock(&h->mu);
    if (changed)
        tell(h, component, from, &r);
    return AG_OK;
}

void ag_health_check(ag_health *h)
{
    pthread_mutex_lock(&h->check_mu);
    /* Components are only ever appended, so walking by index after the lock is dropped
     * is safe: each probe runs without h->mu. */
    pthread_mutex_lock(&h->mu);
    size_t n = h->n;
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&h->mu);
        struct comp *c = h->head;
        for (size_t k = 0; k < i && c; k++)
            c = c->next;
        ag_health_probe_fn fn = c ? c->fn : NULL;
        void *ctx = c ? c->ctx : NULL;
        pthread_mutex_unlock(&h->mu);
        if (fn == NULL)
            continue;
        struct ag_health_report r = {.status = AG_HEALTH_OK};
        fn(ctx, &r);
        pthread_mutex_lock(&h->mu);
        enum ag_health_status from;
        int changed = record(c, &r, &from);
        char name[64];
        snprintf(name, sizeof name, "%s", c->c.name);
        pthread_mutex_unlock(&h->mu);
        if (changed)
            tell(h, name, from, &r);
    }
    pthread_mutex_unlock(&h->check_mu);
}

size_t ag_health_snapshot(ag_health *h, struct ag_health_component *out, size_t max)
{
    pthread_mutex_lock(&h->mu);
    size_t i = 0;
    for (struct comp *c = h->head; c; c = c->next, i++)
        if (i < max)
            out[i] = c->c;
    pthread_mutex_unlock(&h->mu);
    return i;
}

enum ag_health_status ag_health_overall(ag_health *h, int *ready)
{
    enum ag_health_status worst = AG_HEALTH_OK;
    int rd = 1;
    pthread_mutex_lock(&h->mu);
    for (struct comp *c = h->head; c; c = c->next) {
        if (c->c.report.status > worst)
            worst = c->c.report.status;
        if (c->c.critical && c->c.report.status == AG_HEALTH_DOWN)
            rd = 0;
    }
    pthread_mutex_unlock(&h->mu);
    if (ready)
        *ready = rd;
    return worst;
}

/* ---- built-in probes --------------------------------------------------------------- */

static ag_err own(ag_health *h, void *p)
{
    if (p == NULL)
        return ag__fail(AG_ENOMEM, "health: out of memory");
    pthread_mutex_lock(&h->mu);
    int ok = h->nowned < sizeof h->owned / sizeof h->owned[0];
    if (ok)
        h->owned[h->nowned++] = p;
    pthread_mutex_unlock(&h->mu);
    if (!ok) {
        free(p);
        return ag__fail(AG_ELIMIT, "health: too many built-in probes");
    }
    return AG_OK;
}

static void probe_store(void *ctx, struct ag_health_report *r)
{
    ag_store *s = ctx;
    char *v = NULL;
    int64_t t0 = ag__mono_ns();
    ag_err e = ag_store_get(s, "agentgov:health", &v);
    free(v);
    ag_health_gauge(r, "probe_seconds", (double)(ag__mono_ns() - t0) / 1e9);
    if (e) {
        r->status = AG_HEALTH_DOWN;
        snprintf(r->detail, sizeof r->detail, "%s", ag_last_error());
    } else {
        snprintf(r->detail, sizeof r->detail, "%s backend answers", ag_store_backend(s));
    }
}

ag_err ag_health_add_store(ag_health *h, ag_store *s)
{
    if (s == NULL)
        return ag__fail(AG_EINVAL, "health: no store");
    return ag_health_register(h, "store", 1, probe_store, s);
}

struct ledger_probe {
    ag_ledger *l;
    ag_breaker *b;
    char path[4096];
    int64_t disk_min, wal_max;
};

static void probe_ledger(void *ctx, struct ag_health_report *r)
{
    struct ledger_probe *p = ctx;
    char dir[4096], wal[4200];
    snprintf(dir, sizeof dir, "%s", p->path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else if (slash)
        dir[1] = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(wal, sizeof wal, "%s-wal", p->path);
    struct statvfs vfs;
    double free_bytes = -1, wal_bytes = 0;
    if (statvfs(dir, &vfs) == 0)
        free_bytes = (double)vfs.f_bavail * (double)vfs.f_frsize;
    struct stat st;
    if (stat(wal, &st) == 0)
        wal_bytes = (double)st.st_size;
    ag_health_gauge(r, "free_bytes", free_bytes);
    ag_health_gauge(r, "wal_bytes", wal_bytes);
    struct ag_breaker_stats bs;
    ag_breaker_stats(p->b, &bs);
    if (p->b && bs.state == AG_BREAKER_OPEN) {
        r->status = AG_HEALTH_DOWN;
        snprintf(r->detail, sizeof r->detail, "writes refused: breaker open: %.200s",
                 bs.last_error);
    } else if (p->b && bs.state == AG_BREAKER_HALF_OPEN) {
        r->status = AG_HEALTH_DEGRADED;
        snprintf(r->detail, sizeof r->detail, "breaker half-open: probing after: %.200s",
                 bs.last_error);
    } else if (free_bytes < 0) {
        r->status = AG_HEALTH_DEGRADED;
        snprintf(r->detail, sizeof r->detail, "cannot read free space of %.200s: %s", dir,
                 strerror(errno));
    } else if (p->disk_min > 0 && free_bytes < (double)p->disk_min) {
        r->status = AG_HEALTH_DEGRADED;
        snprintf(r->detail, sizeof r->detail, "%.0f bytes free under %.150s, below %lld",
                 free_bytes, dir, (long long)p->disk_min);
    } else if (p->wal_max > 0 && wal_bytes > (double)p->wal_max) {
        r->status = AG_HEALTH_DEGRADED;
        snprintf(r->detail, sizeof r->detail, "WAL is %.0f bytes, above %lld", wal_bytes,
                 (long long)p->wal_max);
    } else {
        snprintf(r->detail, sizeof r->detail, "writable; %.0f MB free", free_bytes / 1e6);
    }
}

ag_err ag_health_add_ledger(ag_health *h, ag_ledger *l, ag_breaker *b, const char *db_path,
                            int64_t disk_min, int64_t wal_max)
{
    if (l == NULL || db_path == NULL || strlen(db_path) >= sizeof((struct ledger_probe *)0)->path)
        return ag__fail(AG_EINVAL, "health: no ledger, or no path for it");
    struct ledger_probe *p = calloc(1, sizeof *p);
    ag_err e = own(h, p);
    if (e)
        return e;
    p->l = l;
    p->b = b;
    snprintf(p->path, sizeof p->path, "%s", db_path);
    p->disk_min = disk_min;
    p->wal_max = wal_max;
    return ag_health_register(h, "ledger", 1, probe_ledger, p);
}

static void probe_breaker(void *ctx, struct ag_health_report *r)
{
    struct ag_breaker_stats st;
    ag_breaker_stats(ctx, &st);
    r->status = st.state == AG_BREAKER_OPEN        ? AG_HEALTH_DOWN
                : st.state == AG_BREAKER_HALF_OPEN ? AG_HEALTH_DEGRADED
                                                   : AG_HEALTH_OK;
    if (st.state == AG_BREAKER_CLOSED)
        snprintf(r->detail, sizeof r->detail, "closed");
    else
        snprintf(r->detail, sizeof r->detail, "%s (retry in %lld ms): %.180s",
                 ag_breaker_state_name(st.state), (long long)st.retry_in_ms, st.last_error);
    ag_health_gauge(r, "breaker_rejected", (double)st.rejected);
}

ag_err ag_health_add_breaker(ag_health *h, ag_breaker *b)
{
    if (b == NULL)
        return ag__fail(AG_EINVAL, "health: no breaker");
    char name[80];
    snprintf(name, sizeof name, "breaker.%s", ag_breaker_name(b));
    return ag_health_register(h, name, 0, probe_breaker, b);
}
