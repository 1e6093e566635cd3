/* bench/auth: logins/s, token lookups/s and secret reads/s of the auth engine on the
 * embedded (SQLite) store, one thread. Every login and read appends a ledger entry
 * that is durably committed before the call returns, so those figures include one
 * fsync each; they are measured twice: with the data directory on a disk (BASE, default
 * /tmp) and on tmpfs (/dev/shm), which shows the cost of the engine without the fsync.
 * Token lookups are measured from the in-process cache (the default) and with the
 * cache disabled (straight from SQLite).
 * Usage: build/bench/auth [N] [BASE]   (N operations per figure, default 2000; BASE
 * /dev/shm runs the tmpfs figures only). All logins are one agent's, so a large N also
 * shows the cost of an agent with many live tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentgov/auth.h"
#include "agentgov/ledger.h"
#include "agentgov/policy.h"
#include "agentgov/store.h"
#include "core/crypto.h"
#include "core/time.h"
#include "ledger/keys.h"

static const char policy_yaml[] = "version: 1\n"
                                  "tiers:\n"
                                  "  3: {name: Executor, token_ttl: 15m, max_ttl: 1h}\n"
                                  "rules:\n"
                                  "  - id: secret-services\n"
                                  "    effect: allow\n"
                                  "    actions: [secret.read]\n"
                                  "    resources: [secret/services/**]\n"
                                  "    min_tier: 3\n";

static void die(ag_err err, const char *what)
{
    fprintf(stderr, "bench/auth: %s: %s: %s\n", what, ag_strerror(err), ag_last_error());
    exit(1);
}

#define CHECK(call, what)                                                                          \
    do {                                                                                           \
        ag_err e_ = (call);                                                                        \
        if (e_ != AG_OK)                                                                           \
            die(e_, what);                                                                         \
    } while (0)

/* CPU time of this process in ns: on a loaded machine wall time includes waiting for
 * a core, CPU time does not (it still includes the kernel's share: fsync, writes). */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t cpu0;

static void report(const char *label, const char *where, int n, int64_t ns)
{
    double us = (double)ns / 1e3 / n, cpu = (double)(cpu_ns() - cpu0) / 1e3 / n;
    printf("%-32s %-6s %9.2f us/op wall %9.0f ops/s %8.2f us/op cpu  (n=%d)\n", label, where, us,
           1e6 / us, cpu, n);
}

static void run(const char *base, const char *where, int n)
{
    char dir[512], url[600], ldb[600], sk[600], pk[600], hk[600];
    snprintf(dir, sizeof dir, "%s/agentgov-bench-auth-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror(dir);
        return;
    }
    snprintf(url, sizeof url, "sqlite:%s/state.db", dir);
    snprintf(ldb, sizeof ldb, "%s/ledger.db", dir);
    snprintf(sk, sizeof sk, "%s/ledger.key", dir);
    snprintf(pk, sizeof pk, "%s/ledger.pub", dir);
    snprintf(hk, sizeof hk, "%s/ledger.hmac", dir);
    ag_store *store;
    ag_ledger *ledger;
    ag_policy *policy;
    CHECK(ag_store_open(url, &store), "store");
    CHECK(ag__ledger_keygen(sk, pk), "ledger keys");
    CHECK(ag__ledger_hmac_keygen(hk), "ledger hmac");
    struct ag_ledger_opts lo = {.hmac_key_path = hk};
    CHECK(ag_ledger_open(ldb, &lo, &ledger), "ledger");
    CHECK(ag_policy_load_string("bench.yaml", policy_yaml, strlen(policy_yaml), &policy), "policy");
    uint8_t master[AG_AUTH_KEY_LEN];
    ag__random(master, sizeof master);
    struct ag_auth_opts o = {
        .store = store, .ledger = ledger, .policy = policy, .master_key = master};
    ag_auth *a, *nocache;
    CHECK(ag_auth_new(&o, &a), "auth");
    o.cache_ttl_ms = -1;
    CHECK(ag_auth_new(&o, &nocache), "auth (no cache)");

    struct ag_role r = {.tier = 3};
    snprintf(r.name, sizeof r.name, "bench");
    CHECK(ag_auth_role_write(a, &r), "role");
    char sid[AG_UUID_BUF], tok[AG_TOKEN_BUF], root[AG_TOKEN_BUF];
    CHECK(ag_auth_secret_id_create(a, "bench", 0, 0, sid, NULL), "secret_id");
    CHECK(ag_auth_root_token_create(a, root, NULL), "root token");
    CHECK(ag_auth_secret_put(a, root, "services/dragonfly", "{\"password\":\"p\"}", -1, NULL),
          "put");

    /* The share of the ledger: one entry like a login's, appended alone. */
    cpu0 = cpu_ns();
    int64_t t0 = ag__mono_ns();
    for (int i = 0; i < n; i++) {
        struct ag_ledger_entry e = {.kind = "token",
                                    .agent_id = "bench",
                                    .tier = 3,
                                    .action = "auth.login",
                                    .resource = "auth/approle/bench",
                                    .decision = "allow",
                                    .confidence = -1,
                                    .success = 1,
                                    .data_json = "{\"accessor\":\"0123456789abcdef01234567\","
                                                 "\"policies\":[\"t3-executor\"]}"};
        CHECK(ag_ledger_append(ledger, &e, NULL, NULL), "ledger append");
    }
    report("ledger append alone (for scale)", where, n, ag__mono_ns() - t0);

    cpu0 = cpu_ns();
    t0 = ag__mono_ns();
    for (int i = 0; i < n; i++)
        CHECK(ag_auth_login(a, r.role_id, sid, NULL, tok, NULL), "login");
    report("login (incl. ledger commit)", where, n, ag__mono_ns() - t0);

    struct ag_token_info ti;
    int nl = n * 50;
    cpu0 = cpu_ns();
    t0 = ag__mono_ns();
    for (int i = 0; i < nl; i++) {
        CHECK(ag_auth_token_lookup(a, tok, &ti), "lookup");
        ag_token_info_clear(&ti);
    }
    report("token lookup (cached)", where, nl, ag__mono_ns() - t0);
    cpu0 = cpu_ns();
    t0 = ag__mono_ns();
    for (int i = 0; i < nl / 5; i++) {
        CHECK(ag_auth_token_lookup(nocache, tok, &ti), "lookup");
        ag_token_info_clear(&ti);
    }
    report("token lookup (SQLite, no cache)", where, nl / 5, ag__mono_ns() - t0);

    cpu0 = cpu_ns();
    t0 = ag__mono_ns();
    for (int i = 0; i < n; i++) {
        struct ag_secret s;
        CHECK(ag_auth_secret_get(a, tok, "services/dragonfly", 0, &s), "read");
        ag_secret_clear(&s);
    }
    report("secret read (lease + ledger)", where, n, ag__mono_ns() - t0);

    ag_auth_free(nocache);
    ag_auth_free(a);
    ag_policy_free(policy);
    ag_ledger_close(ledger);
    ag_store_free(store);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench/auth: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    const char *base = argc > 2 ? argv[2] : "/tmp";
    if (n < 1)
        n = 2000;
    CHECK(ag__crypto_init(), "crypto");
    run(base, strcmp(base, "/dev/shm") == 0 ? "tmpfs" : "disk", n);
    if (strcmp(base, "/dev/shm") != 0 && access("/dev/shm", W_OK) == 0)
        run("/dev/shm", "tmpfs", n);
    return 0;
}
