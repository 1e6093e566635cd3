/* The dashboard's server side: its assets, sign-in sessions with CSRF tokens, the
 * overview endpoint and the live ledger tail (Server-Sent Events).
 *
 * A session is a random id in an HttpOnly, SameSite=Strict cookie that stands, inside
 * the daemon only, for the token the operator signed in with: the browser never holds
 * the token after sign-in, and every request made with the cookie goes through the
 * same authentication and rights as a request carrying the token itself. Because a
 * cookie is sent by the browser on its own, every state change made with one must
 * also carry the session's CSRF token in X-CSRF-Token, which a page from another
 * origin cannot read. */
#include "server/ui.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "server/handlers.h"
#include "server/log.h"
#include "server/server.h"

#define MAX_SESSIONS    64
#define SESSION_IDLE_MS (30 * 60 * 1000)
#define SESSION_MAX_MS  (8 * 60 * 60 * 1000)
#define RING            4096        /* newest ledger rows kept for the tails */
#define POLL_MS         50          /* how often the ledger head is read while tails are open */
#define KEEPALIVE_MS    10000       /* a comment line on an idle tail (proxies, dead clients) */
#define TAIL_BLOCK      (64 * 1024) /* the most one read of a tail gives */

struct session {
    int used;
    char id[65];   /* 32 random bytes, hex */
    char csrf[65]; /* 32 random bytes, hex */
    char token[AG_TOKEN_BUF];
    char who[AG_AUTH_NAME_MAX];
    char role[16]; /* "admin" or "approver" */
    int64_t created_ms, seen_ms;
};

struct row {
    int64_t seq;
    char *json;
    int parsed; /* agent, task and kind are read from json the first time a filter asks */
    char agent[AG_AUTH_NAME_MAX];
    char task[128];
    char kind[32];
};

/* A row the feed brought after a gap (another process's rows, not yet read): kept until
 * the hub has read the gap, rather than dropped and read again. */
struct pend {
    int64_t seq;
    char *json;
    struct pend *next;
};

struct ag__ui_tail {
    struct ag__ui *ui;
    struct MHD_Connection *conn;
    struct ag__ui_tail *next; /* in the waiting list while suspended */
    int waiting;
    int64_t last;      /* highest seq already considered */
    int64_t last_send; /* monotonic ms */
    int hello;
    struct ag_buf backlog; /* events older than the ring, read at subscription */
    size_t backlog_off;
    char agent[AG_AUTH_NAME_MAX], task[128], kind[32]; /* "" = no filter */
};

struct ag__ui {
    struct ag__srv *srv;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* new rows (thread-per-connection tails wait on it) */
    struct session sessions[MAX_SESSIONS];
    struct row ring[RING];
    size_t ring_start, ring_len;
    int64_t hub_seq;                    /* highest seq fetched */
    struct pend *pend_head, *pend_tail; /* fed rows past a gap, in seq order */
    size_t npend;
    int nsubs;
    struct ag__ui_tail *waiting;
    int stop, draining;
    pthread_t thread;
    int thread_started;
};

/* ---- the tail hub --------------------------------------------------------------- */

/* Appends a row to the ring, taking text (malloc'd). The hub does no more per row than
 * this: parsing it for the filters waits until a filtered tail looks at it (row_fields),
 * so an unfiltered dashboard costs the daemon one query and one copy per entry. */
static void ring_push(struct ag__ui *ui, int64_t seq, char *text)
{
    struct row *w;
    if (ui->ring_len == RING) {
        w = &ui->ring[ui->ring_start];
        free(w->json);
        ui->ring_start = (ui->ring_start + 1) % RING;
        ui->ring_len--;
    }
    w = &ui->ring[(ui->ring_start + ui->ring_len) % RING];
    w->seq = seq;
    w->json = text;
    w->parsed = 0;
    ui->ring_len++;
}

/* Reads a row's agent, task and kind for the filters, once (under ui->mu). */
static void row_fields(struct row *w)
{
    if (w->parsed)
        return;
    json_t *j = json_loads(w->json, 0, NULL);
    const char *a = json_string_value(json_object_get(j, "agent_id"));
    const char *t = json_string_value(json_object_get(j, "task_id"));
    const char *k = json_string_value(json_object_get(j, "kind"));
    snprintf(w->agent, sizeof w->agent, "%s", a ? a : "");
    snprintf(w->task, sizeof w->task, "%s", t ? t : "");
    snprintf(w->kind, sizeof w->kind, "%s", k ? k : "");
    json_decref(j);
    w->parsed = 1;
}

struct fetch {
    int64_t seqs[2000];
    char *rows[2000];
    size_t n;
    int64_t stop_at; /* the first row the feed already brought (0: none) */
};

static int fetch_row(void *ctx, int64_t seq, const char *row_json)
{
    struct fetch *f = ctx;
    if (f->stop_at && seq >= f->stop_at)
        return 1; /* the rest is waiting in ui->pend */
    f->seqs[f->n] = seq;
    f->rows[f->n] = strdup(row_json);
    if (f->rows[f->n])
        f->n++;
    return 0;
}

static void pend_clear(struct ag__ui *ui)
{
    while (ui->pend_head) {
        struct pend *p = ui->pend_head;
        ui->pend_head = p->next;
        free(p->json);
        free(p);
    }
    ui->pend_tail = NULL;
    ui->npend = 0;
}

/* Moves to the ring the pending rows that now follow on (and frees those it has). */
static void pend_drain(struct ag__ui *ui)
{
    while (ui->pend_head && ui->pend_head->seq <= ui->hub_seq + 1) {
        struct pend *p = ui->pend_head;
        ui->pend_head = p->next;
        ui->npend--;
        if (p->seq == ui->hub_seq + 1) {
            ring_push(ui, p->seq, p->json);
            ui->hub_seq = p->seq;
        } else {
            free(p->json);
        }
        free(p);
    }
    if (!ui->pend_head)
        ui->pend_tail = NULL;
}

/* Takes the row (malloc'd text) if it is the next one, then what was pending behind it;
 * frees it if the ring has it already (the feed and the hub's query both had it). A
 * row past the next is after a gap that the hub's query will fill: a fed one waits for
 * it in ui->pend (at most RING rows: beyond, the query reads them all again); a queried
 * one is dropped. Under ui->mu. */
static void take_row(struct ag__ui *ui, int64_t seq, char *text, int fed)
{
    if (seq <= ui->hub_seq) {
        free(text);
    } else if (seq == ui->hub_seq + 1) {
        ring_push(ui, seq, text);
        ui->hub_seq = seq;
        pend_drain(ui);
    } else if (fed && ui->npend < RING) {
        struct pend *p = malloc(sizeof *p);
        if (!p) {
            free(text);
            return;
        }
        *p = (struct pend){.seq = seq, .json = text};
        if (ui->pend_tail)
            ui->pend_tail->next = p;
        else
            ui->pend_head = p;
        ui->pend_tail = p;
        ui->npend++;
    } else {
        free(text);
        if (fed)
            pend_clear(ui);
    }
}

/* Wakes the tails waiting for rows; with all, also the ones that are only idle. */
static void wake(struct ag__ui *ui, int all)
{
    int64_t now = ag__mono_ms();
    struct ag__ui_tail **pp = &ui->waiting;
    while (*pp) {
        struct ag__ui_tail *t = *pp;
        if (all || t->last < ui->hub_seq || now - t->last_send >= KEEPALIVE_MS) {
            *pp = t->next;
            t->waiting = 0;
            MHD_resume_connection(t->conn);
        } else {
            pp = &t->next;
        }
    }
    pthread_cond_broadcast(&ui->cv);
}

/* The ledger's row feed (on the committing thread, in seq order): the rows the daemon
 * itself committed reach the ring without being read back. Waking the tails is left to
 * the hub's next round, so that a busy daemon sends them rows in blocks, not one
 * write per commit. */
static void on_rows(void *ctx, const struct ag_ledger_row_text *rows, size_t n)
{
    struct ag__ui *ui = ctx;
    pthread_mutex_lock(&ui->mu);
    for (size_t i = 0; ui->nsubs && i < n; i++) {
        char *text = malloc(rows[i].len + 1);
        if (!text)
            break; /* a gap: the hub reads it */
        memcpy(text, rows[i].json, rows[i].len);
        text[rows[i].len] = '\0';
        take_row(ui, rows[i].seq, text, 1);
    }
    pthread_mutex_unlock(&ui->mu);
}

/* Reads from the ledger the rows the feed did not bring (another process's appends,
 * or the feed's own gaps) after from. */
static void hub_query(struct ag__ui *ui, struct fetch *f, int64_t from)
{
    struct ag_ledger_filter flt = {.after_seq = from, .limit = 2000};
    f->n = 0;
    pthread_mutex_lock(&ui->mu);
    f->stop_at = ui->pend_head ? ui->pend_head->seq : 0;
    pthread_mutex_unlock(&ui->mu);
    if (ag_ledger_query(ui->srv->ledger, &flt, fetch_row, f) != AG_OK)
        ag__log(AG_LOG_WARN, "ui", "ledger tail: %s", ag_last_error());
    pthread_mutex_lock(&ui->mu);
    for (size_t i = 0; i < f->n; i++)
        take_row(ui, f->seqs[i], f->rows[i], 0);
    pthread_mutex_unlock(&ui->mu);
}

/* While any tail is open, every POLL_MS: wakes the tails that have new rows (and the
 * idle ones due a keepalive), and reads from the ledger what the feed has not brought
 * although it was committed a round ago (a round's grace: a commit's rows reach the
 * feed a moment after the head moves). The decision path never waits for a dashboard. */
static void *hub_main(void *arg)
{
    struct ag__ui *ui = arg;
    pthread_setname_np(pthread_self(), "ag-tail-hub"); /* its CPU shows in top -H */
    struct fetch *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    int64_t seen_head = 0; /* the head a round ago */
    for (;;) {
        pthread_mutex_lock(&ui->mu);
        int stop = ui->stop, subs = ui->nsubs;
        int64_t have = ui->hub_seq;
        pthread_mutex_unlock(&ui->mu);
        if (stop)
            break;
        int more = 0;
        if (subs && ui->srv->ledger) {
            if (have < seen_head) {
                hub_query(ui, f, have);
                more = f->n == 2000;
            }
            int64_t head = 0;
            char hash[AG_HASH_HEX_LEN];
            if (ag_ledger_head(ui->srv->ledger, &head, hash) == AG_OK)
                seen_head = head;
            else
                ag_clear_error();
            pthread_mutex_lock(&ui->mu);
            wake(ui, 0);
            pthread_mutex_unlock(&ui->mu);
        }
        if (!more)
            usleep(POLL_MS * 1000);
    }
    free(f);
    return NULL;
}

ag_err ag__ui_new(struct ag__srv *s, struct ag__ui **out)
{
    struct ag__ui *ui = calloc(1, sizeof *ui);
    if (!ui)
        return AG_ENOMEM;
    ui->srv = s;
    pthread_mutex_init(&ui->mu, NULL);
    pthread_cond_init(&ui->cv, NULL);
    if (s->ledger)
        ag_ledger_set_row_feed(s->ledger, on_rows, ui);
    if (pthread_create(&ui->thread, NULL, hub_main, ui) == 0)
        ui->thread_started = 1;
    *out = ui;
    return AG_OK;
}

void ag__ui_drain(struct ag__ui *ui)
{
    if (!ui)
        return;
    pthread_mutex_lock(&ui->mu);
    ui->draining = 1;
    wake(ui, 1);
    pthread_mutex_unlock(&ui->mu);
}

void ag__ui_free(struct ag__ui *ui)
{
    if (!ui)
        return;
    pthread_mutex_lock(&ui->mu);
    ui->stop = 1;
    pthread_mutex_unlock(&ui->mu);
    if (ui->thread_started)
        pthread_join(ui->thread, NULL);
    if (ui->srv->ledger) /* the daemon's last appenders are still to come */
        ag_ledger_set_row_feed(ui->srv->ledger, NULL, NULL);
    for (size_t i = 0; i < ui->ring_len; i++)
        free(ui->ring[(ui->ring_start + i) % RING].json);
    pend_clear(ui);
    explicit_bzero(ui->sessions, sizeof ui->sessions);
    pthread_cond_destroy(&ui->cv);
    pthread_mutex_destroy(&ui->mu);
    free(ui);
}

/* ---- the tail stream ------------------------------------------------------------ */

static int row_matches(const struct ag__ui_tail *t, struct row *w)
{
    if (!t->agent[0] && !t->task[0] && !t->kind[0])
        return 1;
    row_fields(w);
    return (!t->agent[0] || strcmp(t->agent, w->agent) == 0) &&
           (!t->task[0] || strcmp(t->task, w->task) == 0) &&
           (!t->kind[0] || strcmp(t->kind, w->kind) == 0);
}

/* The ring position of the first row after seq (ring_len when none): a binary search,
 * the ring's seqs being increasing, so that a read does not walk the whole ring (4,096
 * rows of a few hundred bytes) to find where its tail is. Under ui->mu. */
static size_t first_after(const struct ag__ui *ui, int64_t seq)
{
    size_t lo = 0, hi = ui->ring_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ui->ring[(ui->ring_start + mid) % RING].seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Copies the rows after t->last that fit into buf as SSE events; returns bytes. */
static size_t fill(struct ag__ui *ui, struct ag__ui_tail *t, char *buf, size_t max)
{
    size_t n = 0;
    if (!t->hello) {
        n = (size_t)snprintf(buf, max, "retry: 1000\n: agentgov ledger tail\n\n");
        t->hello = 1;
    }
    if (t->backlog_off < t->backlog.len) {
        size_t k = t->backlog.len - t->backlog_off;
        if (k > max - n)
            k = max - n;
        memcpy(buf + n, t->backlog.data + t->backlog_off, k);
        t->backlog_off += k;
        return n + k; /* the ring's rows come after the whole backlog */
    }
    if (ui->ring_len && t->last < ui->ring[ui->ring_start].seq - 1) {
        /* Older rows have left the ring: say so, the page reloads them by query. */
        int64_t from = ui->ring[ui->ring_start].seq;
        int k = snprintf(buf + n, max - n, "event: gap\ndata: {\"from\":%lld,\"to\":%lld}\n\n",
                         (long long)t->last + 1, (long long)from - 1);
        if (k < 0 || (size_t)k >= max - n)
            return n;
        n += (size_t)k;
        atomic_fetch_add(&ui->srv->metrics.ui_tail_gaps, 1);
        atomic_fetch_add(&ui->srv->metrics.ui_tail_dropped, (uint64_t)(from - 1 - t->last));
        t->last = from - 1;
    }
    uint64_t sent = 0;
    for (size_t i = first_after(ui, t->last); i < ui->ring_len; i++) {
        struct row *w = &ui->ring[(ui->ring_start + i) % RING];
        if (row_matches(t, w)) {
            size_t jlen = strlen(w->json), need = jlen + 64;
            if (need > max - n) {
                if (n)
                    break; /* next read */
                int k = snprintf(buf, max, "event: too_big\ndata: {\"seq\":%lld}\n\n",
                                 (long long)w->seq);
                n = k > 0 ? (size_t)k : 0;
            } else { /* the row is copied, not formatted: it is most of the bytes */
                n += (size_t)snprintf(buf + n, max - n,
                                      "id: %lld\nevent: entry\ndata: ", (long long)w->seq);
                memcpy(buf + n, w->json, jlen);
                memcpy(buf + n + jlen, "\n\n", 2);
                n += jlen + 2;
                sent++;
            }
        }
        t->last = w->seq;
    }
    if (t->last < ui->hub_seq && !ui->ring_len)
        t->last = ui->hub_seq;
    if (sent)
        atomic_fetch_add(&ui->srv->metrics.ui_tail_sent, sent);
    return n;
}

long ag__ui_tail_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct ag__ui_tail *t = cls;
    struct ag__ui *ui = t->ui;
    pthread_mutex_lock(&ui->mu);
    for (;;) {
        if (ui->draining || ui->stop) {
            pthread_mutex_unlock(&ui->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        size_t n = fill(ui, t, buf, max);
        int64_t now = ag__mono_ms();
        if (n == 0 && now - t->last_send >= KEEPALIVE_MS)
            n = (size_t)snprintf(buf, max, ": keepalive\n\n");
        if (n) {
            t->last_send = now;
            pthread_mutex_unlock(&ui->mu);
            return (long)n;
        }
        if (ui->srv->cfg.epoll) {
            /* Nothing to send: off the I/O thread's list until the hub has rows. */
            t->waiting = 1;
            t->next = ui->waiting;
            ui->waiting = t;
            MHD_suspend_connection(t->conn);
            pthread_mutex_unlock(&ui->mu);
            return 0;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&ui->cv, &ui->mu, &ts);
    }
}

void ag__ui_tail_free(void *cls)
{
    struct ag__ui_tail *t = cls;
    if (!t)
        return;
    struct ag__ui *ui = t->ui;
    pthread_mutex_lock(&ui->mu);
    for (struct ag__ui_tail **pp = &ui->waiting; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    if (--ui->nsubs == 0 && ui->srv->ledger)
        ag_ledger_row_feed_on(ui->srv->ledger, 0); /* no one reads: rows go unformatted */
    pthread_mutex_unlock(&ui->mu);
    atomic_fetch_sub(&ui->srv->metrics.ui_tails, 1);
    ag__buf_free(&t->backlog);
    free(t);
}

struct backfill {
    struct ag__ui_tail *t;
    int64_t upto, last, n;
    int past, capped;
};

static int backfill_row(void *ctx, int64_t seq, const char *row_json)
{
    struct backfill *b = ctx;
    if (seq > b->upto) {
        b->past = 1; /* the ring has it */
        return 1;
    }
    ag__buf_printf(&b->t->backlog, "id: %lld\nevent: entry\ndata: %s\n\n", (long long)seq,
                   row_json);
    b->last = seq;
    b->n++;
    b->capped = b->t->backlog.len > 4 * 1024 * 1024; /* the gap event tells the rest */
    return b->capped;
}

/* A tail that starts before the hub's oldest row (another dashboard has held the hub
 * since): its matching rows up to there are read from the ledger here, on the worker
 * thread, rather than reported as a gap. */
static void backfill(struct ag__req *r, struct ag__ui_tail *t)
{
    struct ag__ui *ui = t->ui;
    pthread_mutex_lock(&ui->mu);
    int64_t upto = ui->ring_len ? ui->ring[ui->ring_start].seq - 1 : ui->hub_seq;
    pthread_mutex_unlock(&ui->mu);
    if (t->last >= upto)
        return;
    struct ag_ledger_filter f = {.agent_id = t->agent[0] ? t->agent : NULL,
                                 .task_id = t->task[0] ? t->task : NULL,
                                 .kind = t->kind[0] ? t->kind : NULL,
                                 .after_seq = t->last,
                                 .limit = 10000};
    struct backfill b = {.t = t, .upto = upto, .last = t->last};
    if (ag_ledger_query(r->srv->ledger, &f, backfill_row, &b) != AG_OK ||
        ag__buf_status(&t->backlog) != AG_OK) {
        ag__buf_free(&t->backlog);
        ag__buf_init(&t->backlog);
        return; /* the gap event tells the page */
    }
    pthread_mutex_lock(&ui->mu);
    t->last = b.past || (!b.capped && b.n < f.limit) ? upto : b.last;
    pthread_mutex_unlock(&ui->mu);
}

/* GET /ui/api/tail?agent=&task=&kind=&after=SEQ: the ledger from SEQ on (default: from
 * now), as it is committed. An administrator's view (the route needs tier 4 or root). */
void ag__h_ui_tail(struct ag__req *r)
{
    struct ag__ui *ui = r->srv->ui;
    if (!ui || !r->srv->ledger) {
        ag__reply_error(r, 503, "ledger_unavailable");
        return;
    }
    int64_t after = -1;
    const char *a = ag__req_query(r, "after");
    if (a && *a && !ag__query_int(r, "after", 0, INT64_MAX, &after))
        return;
    const char *lei = ag__req_header(r, "Last-Event-ID"); /* a reconnecting EventSource */
    if (after < 0 && lei && *lei) {
        char *end;
        long long v = strtoll(lei, &end, 10);
        if (*end || v < 0) {
            ag__reply_error(r, 400, "Last-Event-ID must be a ledger seq, got '%s'", lei);
            return;
        }
        after = v;
    }
    struct ag__ui_tail *t = calloc(1, sizeof *t);
    if (!t) {
        ag__reply_error(r, 500, "out of memory");
        return;
    }
    const char *v;
    if ((v = ag__req_query(r, "agent")))
        snprintf(t->agent, sizeof t->agent, "%s", v);
    if ((v = ag__req_query(r, "task")))
        snprintf(t->task, sizeof t->task, "%s", v);
    if ((v = ag__req_query(r, "kind")))
        snprintf(t->kind, sizeof t->kind, "%s", v);
    t->ui = ui;
    t->conn = r->conn;
    ag__buf_init(&t->backlog);
    t->last_send = ag__mono_ms();
    int64_t head = 0;
    char hash[AG_HASH_HEX_LEN];
    if (after < 0 && ag_ledger_head(r->srv->ledger, &head, hash) != AG_OK) {
        free(t);
        ag__reply_ag_error(r, AG_ELEDGER, "ledger head");
        return;
    }
    pthread_mutex_lock(&ui->mu);
    if (ui->nsubs++ == 0) {
        /* The hub was idle: it starts from the head, dropping what it held. The feed
         * goes on first, so that what it misses is only what the head covers. */
        ag_ledger_row_feed_on(r->srv->ledger, 1);
        for (size_t i = 0; i < ui->ring_len; i++)
            free(ui->ring[(ui->ring_start + i) % RING].json);
        ui->ring_start = ui->ring_len = 0;
        pend_clear(ui);
        int64_t h2 = 0;
        if (ag_ledger_head(r->srv->ledger, &h2, hash) == AG_OK)
            ui->hub_seq = after >= 0 && after < h2 ? after : h2;
    }
    t->last = after >= 0 ? after : head;
    pthread_mutex_unlock(&ui->mu);
    atomic_fetch_add(&ui->srv->metrics.ui_tails, 1);
    backfill(r, t);
    r->stream = t;
    r->status = 200;
    r->content_type = "text/event-stream";
    r->ui = 1;
}

/* ---- sessions --------------------------------------------------------------------- */

static const char *cookie_value(struct ag__req *r)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, AG_UI_COOKIE);
}

/* The live session called id, or NULL; expired sessions are cleared on the way (an
 * id that cannot match, such as "", only clears). Under ui->mu. */
static struct session *find_session(struct ag__ui *ui, const char *id)
{
    int valid = id && strlen(id) == 64;
    int64_t now = ag__wall_ms();
    for (int i = 0; i < MAX_SESSIONS; i++) {
        struct session *se = &ui->sessions[i];
        if (!se->used)
            continue;
        if (now - se->seen_ms > SESSION_IDLE_MS || now - se->created_ms > SESSION_MAX_MS) {
            explicit_bzero(se, sizeof *se);
            continue;
        }
        if (valid && ag__ct_equal(se->id, id, 64))
            return se;
    }
    return NULL;
}

static int state_changing(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && strcmp(method, "LIST") != 0;
}

int ag__ui_session_auth(struct ag__req *r)
{
    struct ag__ui *ui = r->srv->ui;
    const char *id = cookie_value(r);
    if (!ui || !id)
        return 1;
    pthread_mutex_lock(&ui->mu);
    struct session *se = find_session(ui, id);
    if (!se) {
        pthread_mutex_unlock(&ui->mu);
        ag__reply_error(r, 401, "the dashboard session has expired or was ended; sign in again");
        return 0;
    }
    if (state_changing(r->method)) {
        const char *h = ag__req_header(r, "X-CSRF-Token");
        if (!h || strlen(h) != 64 || !ag__ct_equal(h, se->csrf, 64)) {
            char who[AG_AUTH_NAME_MAX];
            snprintf(who, sizeof who, "%s", se->who);
            pthread_mutex_unlock(&ui->mu);
            ag__reply_error(r, 403,
                            "permission denied: %s %s from the dashboard needs the session's "
                            "CSRF token in X-CSRF-Token",
                            r->method, r->url);
            return ag__req_refused(r, who, "csrf_token");
        }
    }
    se->seen_ms = ag__wall_ms();
    r->session_token = strdup(se->token);
    pthread_mutex_unlock(&ui->mu);
    if (!r->session_token) {
        ag__reply_error(r, 500, "out of memory");
        return 0;
    }
    r->token = r->session_token;
    r->via_session = 1;
    return 1;
}

static void ledger_ui(struct ag__req *r, const char *who, const char *action, int status)
{
    char data[128];
    snprintf(data, sizeof data, "{\"via\":\"dashboard\",\"status\":%d}", status);
    struct ag_ledger_entry e = {.kind = "system",
                                .agent_id = who,
                                .tier = -1,
                                .action = action,
                                .resource = r->url,
                                .decision = status < 400 ? "done" : "refused",
                                .confidence = -1,
                                .success = status < 400,
                                .data_json = data};
    if (ag__srv_ledger_append(r->srv, &e, NULL) != AG_OK)
        ag__log(AG_LOG_ERROR, "ui", "cannot ledger %s by %s: %s", action, who, ag_last_error());
}

void ag__ui_after(struct ag__req *r)
{
    if (!r->via_session || !state_changing(r->method) || !r->m.route)
        return;
    if (strcmp(r->m.route->name, "ui_session_end") == 0)
        return; /* ledgered by its handler */
    char action[96];
    snprintf(action, sizeof action, "ui.%s", r->m.route->name);
    ledger_ui(r, r->tok.agent_id, action, r->status ? r->status : 500);
}

void ag__ui_headers(struct ag__req *r, struct MHD_Response *resp)
{
    if (r->ui) {
        MHD_add_response_header(resp, "Content-Security-Policy", AG_UI_CSP);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (r->set_cookie)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
}

void ag__ui_req_done(struct ag__req *r)
{
    if (r->session_token) {
        explicit_bzero(r->session_token, strlen(r->session_token));
        free(r->session_token);
    }
    free(r->set_cookie);
    if (r->stream)
        ag__ui_tail_free(r->stream);
}

static void set_cookie(struct ag__req *r, const char *value, int max_age)
{
    char c[256];
    snprintf(c, sizeof c, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", AG_UI_COOKIE,
             value, max_age, r->srv->tls ? "; Secure" : "");
    free(r->set_cookie);
    r->set_cookie = strdup(c);
}

static json_t *session_json(const struct session *se)
{
    return json_pack("{s:b, s:s, s:s, s:s}", "signed_in", 1, "identity", se->who, "role", se->role,
                     "csrf_token", se->csrf);
}

/* POST /ui/api/session {"token": "..."}: signs in. Only an administrator (root or tier
 * 4) or a token with the approver policy may; the body must be JSON, which a form on
 * another site cannot send without the browser asking this daemon first. */
void ag__h_ui_session_new(struct ag__req *r)
{
    struct ag__srv *s = r->srv;
    r->ui = 1;
    const char *ct = ag__req_header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        ag__reply_error(r, 415, "sign-in needs Content-Type: application/json");
        return;
    }
    json_t *b = ag__req_json(r);
    if (!b)
        return;
    const char *tok = json_string_value(json_object_get(b, "token"));
    if (!tok || !*tok) {
        ag__reply_error(r, 400, "token: a string is required");
        return;
    }
    if (!s->auth || !s->ui) {
        ag__reply_error(r, 503, "the auth engine is unavailable; nobody can be identified");
        return;
    }
    r->token = tok;
    ag_token_info_clear(&r->tok);
    ag_err e = ag_auth_token_lookup_fresh(s->auth, tok, &r->tok);
    if (e) {
        ag__reply_ag_error(r, e, "token");
        if (e == AG_EPERM)
            (void)ag__req_refused(r, NULL, "token_refused");
        return;
    }
    int admin = r->tok.root || r->tok.tier >= AG_TIER_MAX;
    int approver = 0;
    for (size_t i = 0; i < r->tok.npolicies; i++)
        approver |= strcmp(r->tok.policies[i], "approver") == 0;
    if (!admin && !approver) {
        ag__reply_error(r, 403,
                        "permission denied: the dashboard needs a root, tier-4 or approver token; "
                        "'%s' has tier %d",
                        r->tok.agent_id, r->tok.tier);
        (void)ag__req_refused(r, r->tok.agent_id, "dashboard_rights");
        return;
    }
    pthread_mutex_lock(&s->ui->mu);
    struct session *se = NULL, *oldest = NULL;
    find_session(s->ui, ""); /* clears expired ones */
    for (int i = 0; i < MAX_SESSIONS && !se; i++) {
        if (!s->ui->sessions[i].used)
            se = &s->ui->sessions[i];
        else if (!oldest || s->ui->sessions[i].seen_ms < oldest->seen_ms)
            oldest = &s->ui->sessions[i];
    }
    if (!se)
        se = oldest; /* the least recently used session gives way */
    memset(se, 0, sizeof *se);
    se->used = 1;
    ag__random_hex(32, se->id);
    ag__random_hex(32, se->csrf);
    snprintf(se->token, sizeof se->token, "%s", tok);
    snprintf(se->who, sizeof se->who, "%s", r->tok.agent_id);
    snprintf(se->role, sizeof se->role, "%s", admin ? "admin" : "approver");
    se->created_ms = se->seen_ms = ag__wall_ms();
    json_t *reply = session_json(se);
    char id[65];
    memcpy(id, se->id, sizeof id);
    pthread_mutex_unlock(&s->ui->mu);
    set_cookie(r, id, SESSION_MAX_MS / 1000);
    explicit_bzero(id, sizeof id);
    ledger_ui(r, r->tok.agent_id, "ui.sign_in", 200);
    r->token = NULL;
    ag__reply_json(r, 200, reply);
}

/* GET /ui/api/session: who is signed in (and the CSRF token the page needs), or
 * signed_in false. Public: the page asks before it knows. */
void ag__h_ui_session_get(struct ag__req *r)
{
    r->ui = 1;
    struct ag__ui *ui = r->srv->ui;
    const char *id = cookie_value(r);
    if (ui && id) {
        pthread_mutex_lock(&ui->mu);
        struct session *se = find_session(ui, id);
        json_t *j = se ? session_json(se) : NULL;
        pthread_mutex_unlock(&ui->mu);
        if (j) {
            ag__reply_json(r, 200, j);
            return;
        }
    }
    ag__reply_json(r, 200, json_pack("{s:b}", "signed_in", 0));
}

/* DELETE /ui/api/session: signs out (the route needs the session and its CSRF token). */
void ag__h_ui_session_end(struct ag__req *r)
{
    r->ui = 1;
    struct ag__ui *ui = r->srv->ui;
    const char *id = cookie_value(r);
    if (ui && id) {
        pthread_mutex_lock(&ui->mu);
        struct session *se = find_session(ui, id);
        if (se)
            explicit_bzero(se, sizeof *se);
        pthread_mutex_unlock(&ui->mu);
    }
    set_cookie(r, "", 0);
    ledger_ui(r, r->tok.agent_id, "ui.sign_out", 200);
    ag__reply_json(r, 200, json_pack("{s:b}", "signed_in", 0));
}

/* ---- assets ------------------------------------------------------------------------ */

/* GET /ui and GET /ui/{file}: the compiled-in files; /ui is the page itself. */
void ag__h_ui_asset(struct ag__req *r)
{
    r->ui = 1;
    const char *name = ag__route_capture(&r->m, "file");
    if (!name)
        name = "index.html";
    for (size_t i = 0; i < ag__ui_nassets; i++) {
        const struct ag__ui_asset *a = &ag__ui_assets[i];
        if (strcmp(a->name, name) != 0)
            continue;
        char *copy = malloc(a->len ? a->len : 1);
        if (!copy) {
            ag__reply_error(r, 500, "out of memory");
            return;
        }
        memcpy(copy, a->data, a->len);
        ag__reply_raw(r, 200, a->type, copy, a->len);
        return;
    }
    ag__reply_error(r, 404, "no dashboard file \"%s\"", name);
}

/* ---- overview ---------------------------------------------------------------------- */

static json_t *agent_row(ag_gov *g, const char *id)
{
    struct ag_agent_status st = {0};
    if (ag_gov_status(g, id, &st) != AG_OK)
        return json_pack("{s:s, s:s}", "agent_id", id, "error", ag_last_error());
    json_t *state = st.state_json ? json_loads(st.state_json, 0, NULL) : NULL;
    json_t *o = json_pack("{s:s, s:i, s:o, s:s?, s:I, s:I, s:b, s:b}", "agent_id", id, "tier",
                          st.tier, "state", state ? state : json_null(), "heartbeat", st.heartbeat,
                          "total_errors", (json_int_t)st.total_errors, "procedure_violations",
                          (json_int_t)st.procedure_violations, "revoked", st.revoked, "locked",
                          st.lock != NULL);
    ag_agent_status_clear(&st);
    return o;
}

/* GET /ui/api/overview: every agent's status in one reply, and the daemon's decision
 * and revocation counters since it started (the page turns them into rates). */
void ag__h_ui_overview(struct ag__req *r)
{
    r->ui = 1;
    ag_gov *g = ag__req_gov(r);
    if (!g)
        return;
    char **ids;
    size_t n;
    ag_err e = ag_gov_list(g, &ids, &n);
    if (e) {
        ag__reply_ag_error(r, e, "list agents");
        return;
    }
    json_t *agents = json_array();
    for (size_t i = 0; agents && i < n && i < 5000; i++)
        json_array_append_new(agents, agent_row(g, ids[i]));
    ag_store_strv_free(ids, n);
    struct ag__metrics *m = &r->srv->metrics;
    json_int_t eff[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < AG_REASON_COUNT; j++)
            eff[k] += (json_int_t)atomic_load_explicit(&m->decisions[k][j], memory_order_relaxed);
    json_t *o = json_pack(
        "{s:o, s:{s:I, s:I, s:I}, s:I, s:I, s:I}", "agents", agents ? agents : json_array(),
        "decisions", ag_effect_name(0), eff[0], ag_effect_name(1), eff[1], ag_effect_name(2),
        eff[2], "revocations", (json_int_t)atomic_load(&m->revocations), "auth_refusals",
        (json_int_t)atomic_load(&m->auth_refusals), "now_ms", (json_int_t)ag__wall_ms());
    ag__reply_json(r, 200, json_pack("{s:o}", "data", o));
}
