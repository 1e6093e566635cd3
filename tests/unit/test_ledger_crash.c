/* Crash safety: a child appends from several threads and reports every acknowledged
 * (seq, tag) over a pipe; the parent SIGKILLs it at a random moment. After each kill,
 * every acknowledged entry must be in the ledger with its content, and the ledger must
 * verify. Then the next child carries on appending to the same file. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger_fixture.h"

#define ROUNDS  24
#define THREADS 4

struct ack {
    int64_t seq;
    int64_t tag;
};

struct child {
    ag_ledger *l;
    int fd;
    int id;
};

static pthread_mutex_t pipe_lock = PTHREAD_MUTEX_INITIALIZER;

static void *child_appender(void *arg)
{
    struct child *c = arg;
    for (int64_t n = 0;; n++) {
        int64_t tag = (int64_t)getpid() * 1000000 + c->id * 100000 + n;
        char data[64];
        snprintf(data, sizeof data, "{\"tag\":%lld}", (long long)tag);
        struct ag_ledger_entry e = {.kind = "action",
                                    .agent_id = "crash",
                                    .tier = 0,
                                    .confidence = -1,
                                    .success = 1,
                                    .data_json = data};
        struct ack a = {.tag = tag};
        if (ag_ledger_append(c->l, &e, &a.seq, NULL) != AG_OK)
            _exit(3);
        pthread_mutex_lock(&pipe_lock);
        ssize_t w = write(c->fd, &a, sizeof a); /* < PIPE_BUF: atomic */
        pthread_mutex_unlock(&pipe_lock);
        if (w != (ssize_t)sizeof a)
            _exit(4);
    }
    return NULL;
}

static void run_child(struct fx *f, int fd, int defer)
{
    ag_ledger *l;
    if (ag_ledger_open(f->db, &f->opts, &l) != AG_OK)
        _exit(2);
    if (defer && ag_ledger_defer_sync(l, 20) != AG_OK)
        _exit(2);
    struct ack ready = {.seq = 0, .tag = 0}; /* "open, appending from now on" */
    if (write(fd, &ready, sizeof ready) != (ssize_t)sizeof ready)
        _exit(4);
    pthread_t th[THREADS];
    struct child c[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (struct child){.l = l, .fd = fd, .id = i};
        pthread_create(&th[i], NULL, child_appender, &c[i]);
    }
    pthread_join(th[0], NULL); /* never returns: killed by the parent */
    _exit(5);
}

/* Reads acknowledgements until EOF (the child is dead and the pipe drained). */
static size_t drain(int fd, struct ack **acks, size_t n, size_t *cap)
{
    struct ack a;
    ssize_t r;
    while ((r = read(fd, &a, sizeof a)) == (ssize_t)sizeof a || (r < 0 && errno == EINTR)) {
        if (r < 0)
            continue;
        if (n == *cap) {
            *cap = *cap ? *cap * 2 : 1024;
            struct ack *grown = realloc(*acks, *cap * sizeof **acks);
            ASSERT_TRUE(grown != NULL);
            *acks = grown;
        }
        if (a.seq != 0) /* not the "ready" message */
            (*acks)[n++] = a;
    }
    return n;
}

struct lookup {
    int64_t tag;
    int found;
};

static int check_row(void *ctx, int64_t seq, const char *row)
{
    (void)seq;
    struct lookup *lk = ctx;
    json_t *j = json_loads(row, 0, NULL);
    json_t *tag = json_object_get(json_object_get(j, "data"), "tag");
    lk->found = json_integer_value(tag) == lk->tag;
    json_decref(j);
    return 1;
}

/* defer: the children append with deferred syncs (ag_ledger_defer_sync): a process
 * that is killed loses nothing it acknowledged either, since a commit is in the kernel
 * before it returns (only a power loss could drop the window not yet synced). */
static void crash_rounds(int defer)
{
    struct fx f;
    fx_init(&f, defer ? "crash-defer" : "crash", 50);
    srand((unsigned)time(NULL));
    struct ack *acks = NULL;
    size_t nacks = 0, cap = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int p[2];
        ASSERT_EQ(pipe(p), 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            run_child(&f, p[1], defer);
        }
        close(p[1]);
        /* Kill at a random moment: every fourth round anywhere in the first 5 ms (often
         * while the database is being opened or created), else 0 to 100 ms after the
         * child reported it is appending. */
        if (round % 4 != 0) {
            struct ack ready;
            ASSERT_EQ(read(p[0], &ready, sizeof ready), (ssize_t)sizeof ready);
            ASSERT_EQ(ready.seq, 0);
            /* And one acknowledgement, so that slow runs (valgrind) append too. */
            struct ack first;
            ASSERT_EQ(read(p[0], &first, sizeof first), (ssize_t)sizeof first);
            if (nacks == cap) {
                cap = cap ? cap * 2 : 1024;
                struct ack *grown = realloc(acks, cap * sizeof *acks);
                ASSERT_TRUE(grown != NULL);
                acks = grown;
            }
            acks[nacks++] = first;
        }
        struct timespec ts = {0, (round % 4 ? rand() % 101 : rand() % 6) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        nacks = drain(p[0], &acks, nacks, &cap);
        close(p[0]);
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        if (access(f.db, F_OK) != 0) { /* killed before it created the file */
            ASSERT_EQ(nacks, 0);
            continue;
        }
        struct ag_verify_result r = fx_verify(&f);
        if (!r.ok)
            ag_test_fail(__FILE__, __LINE__, "round %d: verify failed at %lld: %s", round,
                         (long long)r.bad_seq, r.problem);
    }
    /* Every acknowledged entry is present, at its seq, with its content. */
    ag_ledger *l;
    struct ag_ledger_opts ro = {.read_only = 1};
    ASSERT_OK(ag_ledger_open(f.db, &ro, &l));
    for (size_t i = 0; i < nacks; i++) {
        struct lookup lk = {.tag = acks[i].tag};
        struct ag_ledger_filter flt = {.after_seq = acks[i].seq - 1, .limit = 1};
        ASSERT_OK(ag_ledger_query(l, &flt, check_row, &lk));
        if (!lk.found)
            ag_test_fail(__FILE__, __LINE__, "acknowledged seq %lld (tag %lld) is missing",
                         (long long)acks[i].seq, (long long)acks[i].tag);
    }
    ag_ledger_close(l);
    printf("    %zu acknowledged entries over %d SIGKILLed children%s, all present\n", nacks,
           ROUNDS, defer ? " (syncs deferred)" : "");
    ASSERT_TRUE(nacks > 0);
    free(acks);
}

TEST(ledger_crash_sigkill_loses_no_acknowledged_entry)
{
    crash_rounds(0);
}

TEST(ledger_crash_sigkill_with_deferred_syncs_loses_no_acknowledged_entry)
{
    crash_rounds(1);
}
