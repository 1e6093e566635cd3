/* The notification outbox on a real embedded store and ledger, delivering to a loopback
 * port nothing listens on: settings checked at start, an event per configured channel,
 * retries until dead (ledgered, listed, counted), stable ids, and the dead index
 * trimmed of what the outbox no longer keeps. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentgov/notify.h"
#include "core/time.h"
#include "ledger_fixture.h"
#include "test.h"

/* A loopback port with nothing listening (bound, then closed). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return 9;
    close(fd);
    return ntohs(a.sin_port);
}

TEST(notify_settings_are_checked_at_start)
{
    struct fx f;
    fx_init(&f, "notify_cfg", 0);
    ag_ledger *l = fx_open(&f);
    char url[1200];
    snprintf(url, sizeof url, "sqlite:%s/state.db", f.dir);
    ag_store *s = NULL;
    ASSERT_OK(ag_store_open(url, &s));
    ag_notify *n = NULL;
    struct ag_notify_opts o = {.store = s, .ledger = l, .webhook_url = "ftp://x"};
    ASSERT_ERR(ag_notify_new(&o, &n), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "notify.webhook.url");
    o.webhook_url = "http://127.0.0.1:9/";
    ASSERT_ERR(ag_notify_new(&o, &n), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "notify.webhook.secret");
    o = (struct ag_notify_opts){.store = s,
                                .ledger = l,
                                .github_repo = "norepo",
                                .github_issue = 1,
                                .github_token_secret = "t"};
    ASSERT_ERR(ag_notify_new(&o, &n), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "OWNER/REPO");
    /* No channel: emitting writes nothing and gives no id. */
    o = (struct ag_notify_opts){.store = s, .ledger = l};
    ASSERT_OK(ag_notify_new(&o, &n));
    char id[AG_NOTIFY_ID_BUF];
    ASSERT_OK(ag_notify_emit(n, "test", "{}", id));
    ASSERT_STREQ(id, "");
    ASSERT_ERR(ag_notify_emit(n, "test", "[1]", id), AG_EINVAL);
    ag_notify_free(n);
    ag_store_free(s);
    ag_ledger_close(l);
}

TEST(notify_retries_until_dead_then_trims)
{
    struct fx f;
    fx_init(&f, "notify_dead", 0);
    ag_ledger *l = fx_open(&f);
    char url[1200], hook[64];
    snprintf(url, sizeof url, "sqlite:%s/state.db", f.dir);
    snprintf(hook, sizeof hook, "http://127.0.0.1:%d/hook", dead_port());
    ag_store *s = NULL;
    ASSERT_OK(ag_store_open(url, &s));
    struct ag_notify_opts o = {.store = s,
                               .ledger = l,
                               .webhook_url = hook,
                               .webhook_secret = "k",
                               .timeout_ms = 1000,
                               .backoff_ms = 10,
                               .backoff_max_ms = 20,
                               .max_attempts = 3};
    ag_breaker_config_default(&o.breaker);
    o.breaker.failures = 100; /* the breaker stays closed: every attempt reaches the port */
    o.breaker.ratio_pct = 0;
    ag_notify *n = NULL;
    ASSERT_OK(ag_notify_new(&o, &n));
    ASSERT_TRUE(ag_notify_channel_on(n, "webhook"));
    ASSERT_FALSE(ag_notify_channel_on(n, "slack"));
    char id[AG_NOTIFY_ID_BUF];
    ASSERT_OK(ag_notify_emit(n, "agent.revoked", "{\"agent_id\":\"a1\"}", id));
    ASSERT_EQ(strlen(id), 28);
    struct ag_notify_stats st;
    ASSERT_OK(ag_notify_stats(n, &st));
    ASSERT_EQ(st.pending, 1);
    size_t dead = 0, failed = 0;
    for (int i = 0; i < 200 && dead == 0; i++) {
        struct ag_notify_round r;
        ASSERT_OK(ag_notify_deliver(n, 0, &r));
        dead += r.dead;
        failed += r.failed;
        usleep(10 * 1000);
    }
    ASSERT_EQ(dead, 1);
    ASSERT_EQ(failed, 3);
    struct ag_notify_item *it;
    size_t cnt;
    ASSERT_OK(ag_notify_list(n, 1, &it, &cnt));
    ASSERT_EQ(cnt, 1);
    ASSERT_STREQ(it[0].event_id, id); /* the same id on every attempt */
    ASSERT_STREQ(it[0].status, "dead");
    ASSERT_EQ(it[0].attempts, 3);
    ASSERT_TRUE(it[0].last_error[0] != '\0');
    ag_notify_list_free(it);
    ASSERT_OK(ag_notify_stats(n, &st));
    ASSERT_EQ(st.pending, 0);
    ASSERT_EQ(st.dead_total, 1);
    ASSERT_EQ(st.dead, 1);
    /* A dead entry older than the outbox keeps records is trimmed (at most once a
     * minute: the first round of a new handle does it). */
    struct ag_store_op z = {.op = AG_OP_ZADD,
                            .key = "notify:dead",
                            .field = "evt-old:webhook",
                            .num = ag__wall_ms() - 8LL * 24 * 3600 * 1000};
    struct ag_store_reply zr;
    ASSERT_OK(ag_store_exec(s, NULL, &z, 1, &zr, NULL));
    ag_store_reply_free(&zr, 1);
    ag_notify_free(n);
    ASSERT_OK(ag_notify_new(&o, &n));
    ASSERT_OK(ag_notify_stats(n, &st));
    ASSERT_EQ(st.dead_total, 2);
    struct ag_notify_round r;
    ASSERT_OK(ag_notify_deliver(n, 0, &r));
    ASSERT_OK(ag_notify_stats(n, &st));
    ASSERT_EQ(st.dead_total, 1);
    ag_notify_free(n);
    ag_store_free(s);
    ag_ledger_close(l);
    struct ag_verify_result v = fx_verify(&f);
    ASSERT_TRUE(v.ok);
}
