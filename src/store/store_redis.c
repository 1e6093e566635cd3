/* Redis/DragonflyDB backend. Every ag_store_exec is one EVALSHA of the interpreter in
 * store_lua.c (loaded with SCRIPT LOAD at open, reloaded on NOSCRIPT), so a batch costs
 * one round trip and runs atomically on the server. One hiredis connection per handle,
 * serialised by a mutex. A connection found broken (EOF, reset) is re-established once
 * and the command resent; anything else is AG_ESTORE with the server's words. A call
 * never takes longer than the URL's timeout (5 s by default), waiting for the mutex
 * included: see lock_within_timeout. A connection that cannot be made (the server
 * down, at open with AG_STORE_OPEN_RETRY or later) is tried again by a later call, no
 * sooner than a backoff (100 ms doubling to 1 s) after the failed attempt; the script
 * is loaded on the first connection that succeeds. */
#include "store/store_redis.h"

#include <errno.h>
#include <hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/err.h"
#include "core/time.h"
#include "store/store_lua.h"

/* ThreadSanitizer intercepts pthread_mutex_lock, trylock and timedlock but not
 * clocklock (neither gcc 12's runtime nor clang's): a mutex taken with it is invisible,
 * its unlock is reported as one of an unlocked mutex and everything it guards as a
 * race. In a -fsanitize=thread build (`make tsan`) lock_within_timeout tells it. */
#if defined(__SANITIZE_THREAD__)
#define AG_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AG_TSAN 1
#endif
#endif
#ifdef AG_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define CONNECT_TIMEOUT_MS 2000
#define COMMAND_TIMEOUT_MS 5000 /* default; ?timeout= in the URL sets it */
#define OP_ARGS            5    /* ARGV entries per op */
#define BACKOFF_MIN_MS     100  /* after a failed connection attempt, doubling... */
#define BACKOFF_MAX_MS     1000 /* ...to this: a server back is used within a second */

struct rd {
    redisContext *c; /* NULL while disconnected */
    pthread_mutex_t mu;
    char *host, *user, *pass;
    int port, db;
    char where[300];     /* "redis host:port/db" for messages: never the password */
    char sha[41];        /* "" until SCRIPT LOAD succeeded */
    int refused;         /* the server answered a setup command with an error */
    int64_t backoff_ms;  /* 0 while connecting works; else the wait after the last failure */
    int64_t next_try_ms; /* monotonic: no connection attempt before this */
    uint64_t trips;
    int64_t timeout_ms; /* longest a command may take, waiting for the connection included */
    int64_t budget_ms;  /* 0, or the current caller's remaining time (it waited its turn) */
};

/* --- URL ---------------------------------------------------------------------------- */

static int parse_uint(const char *s, size_t len, long max, long *out)
{
    if (len == 0 || len > 9)
        return 0;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return 0;
    *out = v;
    return 1;
}

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* The one option after '?': timeout=DURATION (100ms..60s), the longest a command may take
 * before the call fails (and counts against a breaker). */
static ag_err parse_options(struct rd *r, const char *q)
{
    r->timeout_ms = COMMAND_TIMEOUT_MS;
    if (q == NULL)
        return AG_OK;
    if (strncmp(q, "timeout=", 8) != 0)
        return ag__fail(AG_EINVAL, "store: redis URL: unknown option '%s' (expected timeout=)", q);
    int64_t ms;
    if (ag__parse_duration(q + 8, &ms) != AG_OK || ms < 100 || ms > 60000)
        return ag__fail(AG_EINVAL,
                        "store: redis URL: timeout '%s' must be a duration of 100ms..60s", q + 8);
    r->timeout_ms = ms;
    return AG_OK;
}

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?timeout=DURATION] */
static ag_err parse_url(struct rd *r, const char *full)
{
    char url[4096];
    if (strlen(full) >= sizeof url)
        return ag__fail(AG_EINVAL, "store: redis URL is too long");
    snprintf(url, sizeof url, "%s", full);
    char *q = strrchr(url, '?');
    if (q && strchr(q, '@') == NULL) /* a '?' in a password is not an option */
        *q++ = '\0';
    else
        q = NULL;
    ag_err oe = parse_options(r, q);
    if (oe != AG_OK)
        return oe;
    const char *p = url + strlen("redis://");
    /* The credentials end at the last '@' (a password may hold '/' or '@'; a host and a
     * database number hold neither), so that no part of them is taken for the host,
     * port or database, which error messages show. */
    const char *at = strrchr(p, '@');
    const char *slash = strchr(at ? at + 1 : p, '/');
    const char *end = slash ? slash : p + strlen(p);
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL)
            return ag__fail(AG_EINVAL,
                            "store: redis URL: expected [USER]:PASSWORD@ before the host");
        if (colon > p)
            r->user = strndup(p, (size_t)(colon - p));
        r->pass = strndup(colon + 1, (size_t)(at - colon - 1));
        p = at + 1;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *hend = colon ? colon : end;
    long port = 6379, db = 0;
    if (hend == p)
        return ag__fail(AG_EINVAL, "store: redis URL names no host");
    if (colon && !parse_uint(colon + 1, (size_t)(end - colon - 1), 65535, &port))
        return ag__fail(AG_EINVAL, "store: redis URL: bad port '%.*s'", (int)(end - colon - 1),
                        colon + 1);
    if (slash && slash[1] && !parse_uint(slash + 1, strlen(slash + 1), 1000000, &db))
        return ag__fail(AG_EINVAL, "store: redis URL: bad database number '%s'", slash + 1);
    r->host = strndup(p, (size_t)(hend - p));
    r->port = (int)port;
    r->db = (int)db;
    if (r->host == NULL || (at && r->pass == NULL))
        return ag__fail(AG_ENOMEM, "store: out of memory");
    snprintf(r->where, sizeof r->where, "redis %s:%d/%d", r->host, r->port, r->db);
    return AG_OK;
}

/* --- commands ----------------------------------------------------------------------- */

/* hiredis writes with write(2): a peer that went away would raise SIGPIPE and kill the
 * process. Block it on this thread for the call and swallow one it raised. */
static redisReply *command(redisContext *c, int argc, const char **argv, const size_t *lens,
                           int *err_no)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    redisReply *rep = redisCommandArgv(c, argc, argv, lens);
    *err_no = errno;
    if (rep == NULL && !sigismember(&old, SIGPIPE)) {
        sigset_t pending;
        struct timespec zero = {0, 0};
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
            sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rep;
}

static void disconnect(struct rd *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

/* Sends one command on the current connection; a NULL reply means the connection
 * failed and is gone. Never resent: a connection that breaks after the command was
 * written may have run it (the reply alone was lost), and a script run twice counts a
 * budget twice or orphans a lock. */
static ag_err send_once(struct rd *r, int argc, const char **argv, const size_t *lens,
                        redisReply **out)
{
    int err_no = 0;
    r->trips++;
    *out = command(r->c, argc, argv, lens, &err_no);
    if (*out)
        return AG_OK;
    ag_err e = ag__fail(AG_ESTORE, "store: %s: %s", r->where, r->c->errstr);
    disconnect(r);
    return e;
}

/* 1 when the server has already closed an idle connection (a restart, its timeout):
 * known before anything is sent, so a new connection can be used instead. Pending
 * bytes on an idle connection are not expected either: also a reason to start over. */
static int peer_closed(const redisContext *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Runs a command that must not fail with an error reply (AUTH, SELECT, SCRIPT LOAD). */
static ag_err setup_cmd(struct rd *r, int argc, const char **argv, const char *what,
                        redisReply **out)
{
    redisReply *rep;
    ag_err e = send_once(r, argc, argv, NULL, &rep);
    if (e != AG_OK)
        return e;
    if (rep->type == REDIS_REPLY_ERROR) {
        r->refused = 1;
        e = ag__fail(AG_ESTORE, "store: %s: %s: %s", r->where, what, rep->str);
        freeReplyObject(rep);
        disconnect(r);
        return e;
    }
    if (out)
        *out = rep;
    else
        freeReplyObject(rep);
    return AG_OK;
}

static ag_err load_script(struct rd *r)
{
    const char *argv[] = {"SCRIPT", "LOAD", ag__store_lua};
    redisReply *rep;
    ag_err e = setup_cmd(r, 3, argv, "SCRIPT LOAD", &rep);
    if (e != AG_OK)
        return e;
    if (rep->type != REDIS_REPLY_STRING || rep->len != 40)
        e = ag__fail(AG_ESTORE, "store: %s: SCRIPT LOAD gave no SHA", r->where);
    else
        memcpy(r->sha, rep->str, 41);
    freeReplyObject(rep);
    return e;
}

static ag_err connect_once(struct rd *r)
{
    int64_t cmd = r->budget_ms > 0 ? r->budget_ms : r->timeout_ms;
    struct timeval ct = tv_ms(cmd < CONNECT_TIMEOUT_MS ? cmd : CONNECT_TIMEOUT_MS), rt = tv_ms(cmd);
    r->c = redisConnectWithTimeout(r->host, r->port, ct);
    if (r->c == NULL || r->c->err) {
        ag_err e = ag__fail(AG_ESTORE, "store: cannot connect to %s: %s", r->where,
                            r->c ? r->c->errstr : "out of memory");
        disconnect(r);
        return e;
    }
    redisSetTimeout(r->c, rt);
    ag_err e = AG_OK;
    if (r->pass) {
        const char *auth2[] = {"AUTH", r->pass}, *auth3[] = {"AUTH", r->user, r->pass};
        e = r->user ? setup_cmd(r, 3, auth3, "AUTH", NULL) : setup_cmd(r, 2, auth2, "AUTH", NULL);
    }
    if (e == AG_OK && r->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        const char *sel[] = {"SELECT", db};
        e = setup_cmd(r, 2, sel, "SELECT", NULL);
    }
    return e;
}

/* Connects, unless an attempt failed less than the backoff ago: then fails at once (a
 * server that is down is not dialled by every call; the store's breaker, when there
 * is one, spaces the attempts further). */
static ag_err connect_server(struct rd *r)
{
    int64_t now = ag__mono_ms();
    if (r->backoff_ms > 0 && now < r->next_try_ms)
        return ag__fail(AG_ESTORE,
                        "store: %s: not connected (the last attempt failed; next in %lld ms)",
                        r->where, (long long)(r->next_try_ms - now));
    ag_err e = connect_once(r);
    if (e == AG_OK) {
        r->backoff_ms = 0;
        return AG_OK;
    }
    r->backoff_ms = r->backoff_ms == 0                   ? BACKOFF_MIN_MS
                    : r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                         : r->backoff_ms * 2;
    r->next_try_ms = ag__mono_ms() + r->backoff_ms;
    return e;
}

/* One command, on a new connection if the current one was closed by the server. */
static ag_err call(struct rd *r, int argc, const char **argv, const size_t *lens, redisReply **out)
{
    if (r->c && peer_closed(r->c))
        disconnect(r);
    ag_err e = r->c ? AG_OK : connect_server(r);
    return e != AG_OK ? e : send_once(r, argc, argv, lens, out);
}

/* --- replies ------------------------------------------------------------------------ */

static ag_err convert(const redisReply *in, struct ag_store_reply *out, int depth)
{
    switch (in->type) {
    case REDIS_REPLY_NIL:
        return AG_OK;
    case REDIS_REPLY_INTEGER:
        ag__reply_int(out, in->integer);
        return AG_OK;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return ag__reply_str(out, in->str, in->len);
    case REDIS_REPLY_ARRAY: {
        if (depth > 1)
            break;
        ag_err e = ag__reply_array(out, in->elements);
        for (size_t i = 0; i < in->elements && e == AG_OK; i++)
            e = convert(in->element[i], &out->elems[i], depth + 1);
        return e;
    }
    default:
        break;
    }
    return ag__fail(AG_ESTORE, "store: redis: unexpected reply type %d", in->type);
}

/* Maps the script's reply: {0} guard failed, {1, {replies}}, or an error. */
static ag_err take_reply(struct rd *r, const redisReply *rep, size_t n,
                         struct ag_store_reply *replies, int *guard_ok)
{
    if (rep->type == REDIS_REPLY_ERROR) {
        const char *op = strstr(rep->str, "ag: op ");
        if (op) /* an op failed at run time; the script undid the batch */
            return ag__fail(AG_EINVAL, "store: %s", op + 4);
        return ag__fail(AG_ESTORE, "store: %s: %s", r->where, rep->str);
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER)
        return ag__fail(AG_ESTORE, "store: %s: malformed script reply", r->where);
    if (rep->element[0]->integer == 0) {
        *guard_ok = 0;
        return AG_OK;
    }
    const redisReply *arr = rep->elements > 1 ? rep->element[1] : NULL;
    /* An empty Lua table comes back as an empty array; a shorter one would be a bug. */
    if (n > 0 && (arr == NULL || arr->type != REDIS_REPLY_ARRAY || arr->elements != n))
        return ag__fail(AG_ESTORE, "store: %s: script replied %zu results for %zu ops", r->where,
                        arr && arr->type == REDIS_REPLY_ARRAY ? arr->elements : 0, n);
    ag_err e = AG_OK;
    for (size_t i = 0; i < n && e == AG_OK; i++)
        e = convert(arr->element[i], &replies[i], 0);
    return e;
}

/* --- exec --------------------------------------------------------------------------- */

struct argv_buf {
    const char **v;
    size_t *len;
    char (*nums)[24];
    int n;
};

static void push(struct argv_buf *a, const char *s, size_t len)
{
    a->v[a->n] = s;
    a->len[a->n] = len;
    a->n++;
}

static void push_str(struct argv_buf *a, const char *s)
{
    push(a, s ? s : "", s ? strlen(s) : 0);
}

static void push_num(struct argv_buf *a, int64_t v, int slot)
{
    int len = snprintf(a->nums[slot], sizeof a->nums[slot], "%lld", (long long)v);
    push(a, a->nums[slot], (size_t)len);
}

/* EVALSHA sha numkeys KEYS... ARGV...: see store_lua.c for the layout. */
static ag_err build_argv(struct argv_buf *a, const char *sha, const struct ag_store_guard *g,
                         const struct ag_store_op *ops, size_t n)
{
    size_t nkeys = n + (g ? 1 : 0);
    size_t total = 3 + nkeys + 2 + OP_ARGS * n;
    if (total > INT32_MAX / 2)
        return ag__fail(AG_EINVAL, "store: batch of %zu ops is too large", n);
    a->v = malloc(total * sizeof *a->v);
    a->len = malloc(total * sizeof *a->len);
    a->nums = malloc((2 * n + 1) * sizeof *a->nums);
    a->n = 0;
    if (a->v == NULL || a->len == NULL || a->nums == NULL)
        return ag__fail(AG_ENOMEM, "store: out of memory for a %zu-op batch", n);
    push_str(a, "EVALSHA");
    push(a, sha, 40);
    push_num(a, (int64_t)nkeys, 2 * (int)n);
    if (g)
        push_str(a, g->key);
    for (size_t i = 0; i < n; i++)
        push_str(a, ops[i].key);
    push_str(a, g == NULL ? "0" : g->equals ? "1" : "2");
    push_str(a, g && g->equals ? g->equals : "");
    for (size_t i = 0; i < n; i++) {
        push_str(a, ag__store_opname(ops[i].op));
        push_str(a, ops[i].field);
        push_str(a, ops[i].value);
        push_num(a, ops[i].num, 2 * (int)i);
        push_num(a, ops[i].num2, 2 * (int)i + 1);
    }
    return AG_OK;
}

static void free_argv(struct argv_buf *a)
{
    free(a->v);
    free(a->len);
    free(a->nums);
}

/* The script is loaded on the first connection that works (the open may have had
 * none). */
static ag_err ensure_script(struct rd *r)
{
    if (r->sha[0] != '\0')
        return AG_OK;
    if (r->c && peer_closed(r->c))
        disconnect(r);
    ag_err e = r->c ? AG_OK : connect_server(r);
    return e != AG_OK ? e : load_script(r);
}

static int is_noscript(const redisReply *rep)
{
    return rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

/* Takes the connection's mutex within the command timeout. The connection is shared:
 * behind a call stuck on a server that stopped answering (SIGSTOP, a full network
 * buffer), every other caller would queue for a timeout each, one after the other, and
 * a request would wait minutes. Instead a caller gives up when the whole timeout passed
 * (an error the breaker counts), and one that waited gets only the time left for its
 * own command: no call takes much longer than the timeout in all. */
static ag_err lock_within_timeout(struct rd *r, int64_t *waited_ms)
{
    int64_t t0 = ag__mono_ms();
    if (pthread_mutex_trylock(&r->mu) == 0) {
        *waited_ms = 0;
        return AG_OK;
    }
    /* The monotonic clock: a wall clock stepped meanwhile must not cut the wait short
     * or stretch it. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(r->timeout_ms / 1000);
    until.tv_nsec += (long)(r->timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
#ifdef AG_TSAN
    __tsan_mutex_pre_lock(&r->mu, __tsan_mutex_try_lock);
#endif
    int rc = pthread_mutex_clocklock(&r->mu, CLOCK_MONOTONIC, &until);
#ifdef AG_TSAN
    __tsan_mutex_post_lock(&r->mu, __tsan_mutex_try_lock | (rc ? __tsan_mutex_try_lock_failed : 0),
                           0);
#endif
    *waited_ms = ag__mono_ms() - t0;
    if (rc != 0)
        return ag__fail(AG_ESTORE, "store: %s: no answer to an earlier command within %lld ms",
                        r->where, (long long)r->timeout_ms);
    return AG_OK;
}

/* Shortens the socket timeouts to what is left of a caller's budget, on the live
 * connection and on one made for this call (restored by restore_timeout). */
static void budget_timeout(struct rd *r, int64_t waited_ms)
{
    if (waited_ms < 50)
        return;
    int64_t left = r->timeout_ms - waited_ms;
    r->budget_ms = left < 100 ? 100 : left;
    if (r->c)
        redisSetTimeout(r->c, tv_ms(r->budget_ms));
}

static void restore_timeout(struct rd *r)
{
    if (r->budget_ms == 0)
        return;
    r->budget_ms = 0;
    if (r->c)
        redisSetTimeout(r->c, tv_ms(r->timeout_ms));
}

static ag_err rd_exec(void *impl, const struct ag_store_guard *guard, const struct ag_store_op *ops,
                      size_t n, struct ag_store_reply *replies, int *guard_ok)
{
    struct rd *r = impl;
    struct argv_buf a = {0};
    int64_t waited;
    ag_err e = lock_within_timeout(r, &waited);
    if (e != AG_OK)
        return e;
    budget_timeout(r, waited);
    e = ensure_script(r);
    if (e == AG_OK)
        e = build_argv(&a, r->sha, guard, ops, n);
    redisReply *rep = NULL;
    if (e == AG_OK)
        e = call(r, a.n, a.v, a.len, &rep);
    /* A restarted or flushed server forgot the script: load it again, then resend. */
    if (e == AG_OK && is_noscript(rep)) {
        freeReplyObject(rep);
        rep = NULL;
        if ((e = load_script(r)) == AG_OK)
            e = call(r, a.n, a.v, a.len, &rep);
    }
    if (e == AG_OK)
        e = take_reply(r, rep, n, replies, guard_ok);
    if (rep)
        freeReplyObject(rep);
    restore_timeout(r);
    pthread_mutex_unlock(&r->mu);
    free_argv(&a);
    return e;
}

/* SCAN's MATCH is a glob: escape its special characters so the prefix is literal. */
static char *glob_prefix(const char *prefix)
{
    size_t len = strlen(prefix);
    char *g = malloc(2 * len + 2);
    if (g == NULL)
        return NULL;
    char *w = g;
    for (const char *p = prefix; *p; p++) {
        if (strchr("*?[]\\", *p))
            *w++ = '\\';
        *w++ = *p;
    }
    *w++ = '*';
    *w = '\0';
    return g;
}

static ag_err scan_page(struct rd *r, char *cursor, const char *match, char ***keys, size_t *n,
                        size_t *cap)
{
    const char *argv[] = {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
    redisReply *rep;
    ag_err e = call(r, 6, argv, NULL, &rep);
    if (e != AG_OK)
        return e;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY) {
        e = ag__fail(AG_ESTORE, "store: %s: SCAN: %s", r->where,
                     rep->type == REDIS_REPLY_ERROR ? rep->str : "malformed reply");
        freeReplyObject(rep);
        return e;
    }
    snprintf(cursor, 32, "%s", rep->element[0]->str);
    const redisReply *arr = rep->element[1];
    for (size_t i = 0; i < arr->elements && e == AG_OK; i++)
        e = ag__strv_push(keys, n, cap, arr->element[i]->str, arr->element[i]->len);
    freeReplyObject(rep);
    return e;
}

static ag_err rd_keys(void *impl, const char *prefix, char ***keys, size_t *n)
{
    struct rd *r = impl;
    char *match = glob_prefix(prefix);
    if (match == NULL)
        return ag__fail(AG_ENOMEM, "store: out of memory");
    char cursor[32] = "0";
    size_t cap = 0;
    int64_t waited;
    ag_err e = lock_within_timeout(r, &waited);
    if (e != AG_OK) {
        free(match);
        return e;
    }
    do {
        e = scan_page(r, cursor, match, keys, n, &cap);
    } while (e == AG_OK && strcmp(cursor, "0") != 0);
    pthread_mutex_unlock(&r->mu);
    free(match);
    if (e != AG_OK) {
        ag_store_strv_free(*keys, *n);
        *keys = NULL;
        *n = 0;
    }
    return e;
}

static uint64_t rd_round_trips(const void *impl)
{
    const struct rd *r = impl;
    return r->trips;
}

static void rd_close(void *impl)
{
    struct rd *r = impl;
    if (r == NULL)
        return;
    disconnect(r);
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    free(r->user);
    if (r->pass)
        memset(r->pass, 0, strlen(r->pass));
    free(r->pass);
    free(r);
}

static ag_err rd_open(const char *url, int flags, void **impl)
{
    struct rd *r = calloc(1, sizeof *r);
    if (r == NULL)
        return ag__fail(AG_ENOMEM, "store: out of memory");
    pthread_mutex_init(&r->mu, NULL);
    ag_err e = parse_url(r, url);
    int parsed = e == AG_OK;
    if (e == AG_OK)
        e = connect_server(r);
    if (e == AG_OK)
        e = load_script(r);
    /* With RETRY only a server that cannot be reached is left for later: one that
     * answered and refused (AUTH, SELECT) is a configuration to fix now. */
    if (e != AG_OK && parsed && (flags & AG_STORE_OPEN_RETRY) && !r->refused) {
        r->sha[0] = '\0';
        e = AG_OK;
    }
    if (e != AG_OK) {
        rd_close(r);
        return e;
    }
    *impl = r;
    return AG_OK;
}

const struct ag__store_backend ag__store_redis = {
    .name = "redis",
    .scheme = "redis://",
    .open = rd_open,
    .close = rd_close,
    .exec = rd_exec,
    .keys = rd_keys,
    .round_trips = rd_round_trips,
};
