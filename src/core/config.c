#include "agentgov/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/fileio.h"
#include "core/time.h"

#define KIB     1024LL
#define MIB     (1024LL * 1024)
#define HOUR_MS 3600000LL
#define DAY_MS  (24 * HOUR_MS)
/* The server's path and address buffers are PATH_MAX bytes with the NUL. */
#define AG_CFG_PATH_MAX (PATH_MAX - 1)

/* Every setting agentgov reads. Adding a setting means adding a row here. */
static const struct ag_config_def table[] = {
    {"policy", AG_CFG_STRING, "", 0, AG_CFG_PATH_MAX, NULL,
     "policy file (empty: <dir>/policy.yaml if present, else the shipped default)"},
    {"store", AG_CFG_STRING, "", 0, AG_CFG_PATH_MAX, NULL,
     "state store URL: sqlite:PATH or redis://HOST:PORT/DB (empty: <dir>/state.db)"},
    {"listen", AG_CFG_STRING, "127.0.0.1:8200", 0, AG_CFG_PATH_MAX, NULL,
     "daemon address: HOST:PORT or unix:PATH"},
    {"allow_remote", AG_CFG_BOOL, "false", 0, 1, NULL,
     "allow the daemon to listen on a non-loopback address"},
    {"insecure_remote", AG_CFG_BOOL, "false", 0, 1, NULL,
     "allow a non-loopback address without TLS (plain HTTP: tokens readable on the wire)"},
    {"tls.cert", AG_CFG_STRING, "", 0, AG_CFG_PATH_MAX, NULL,
     "daemon TLS certificate chain, PEM (with tls.key: serve HTTPS)"},
    {"tls.key", AG_CFG_STRING, "", 0, AG_CFG_PATH_MAX, NULL, "daemon TLS private key, PEM"},
    {"log_format", AG_CFG_ENUM, "text", 0, 0, "text|json", "daemon log line format"},
    {"ledger.checkpoint_every", AG_CFG_INT, "1000", 0, 100000000, NULL,
     "write a signed checkpoint every N ledger entries (0: only at shutdown)"},
    {"server.threads", AG_CFG_INT, "32", 1, 256, NULL,
     "daemon workers for requests that wait on the ledger or store (epoll mode)"},
    {"server.max_connections", AG_CFG_INT, "1024", 1, 65536, NULL, "concurrent connection cap"},
    {"server.max_body", AG_CFG_INT, "1048576", 1024, 64 * MIB, NULL,
     "largest accepted request body, bytes"},
    {"server.max_header", AG_CFG_INT, "16384", 4 * KIB, 1 * MIB, NULL,
     "memory per connection for headers, bytes"},
    {"server.max_json_depth", AG_CFG_INT, "32", 2, 1024, NULL, "deepest accepted JSON nesting"},
    {"server.timeout", AG_CFG_DURATION, "30s", 1000, HOUR_MS, NULL,
     "idle timeout per connection (slow clients are cut)"},
    {"server.io", AG_CFG_ENUM, "epoll", 0, 0, "epoll|thread-per-connection",
     "connection handling: epoll I/O threads (one per core) handing blocking requests to "
     "server.threads workers, or a thread per connection"},
    {"server.log_level", AG_CFG_ENUM, "info", 0, 0, "debug|info|warn|error",
     "lowest daemon log level written (requests are logged at info)"},
    {"server.drain", AG_CFG_DURATION, "30s", 0, HOUR_MS, NULL,
     "on SIGTERM, how long in-flight requests may take before the daemon stops"},
    {"hook.policy", AG_CFG_STRING, "", 0, AG_CFG_PATH_MAX, NULL,
     "policy for `agentgov hook` (empty: shipped coding-agent policy)"},
    {"hook.tier", AG_CFG_INT, "2", 0, 4, NULL, "tier for `agentgov hook`"},
    {"hook.allow_means", AG_CFG_ENUM, "no-objection", 0, 0, "no-objection|allow",
     "what a policy allow tells Claude Code: no objection (its own rules still apply) or allow"},
    {"hook.permission_requests", AG_CFG_ENUM, "prompt", 0, 0, "prompt|policy",
     "PermissionRequest events: leave them to the agent's prompt, or answer by policy"},
    {"mcp.ledger_sync", AG_CFG_ENUM, "commit", 0, 0, "commit|deferred",
     "`agentgov mcp proxy`: a decision's ledger entry is on the disk before the call goes on "
     "(commit), or committed and synced within mcp.ledger_sync_delay (deferred: a power loss "
     "can drop that window's entries)"},
    {"mcp.ledger_sync_delay", AG_CFG_DURATION, "20ms", 1, 10000, NULL,
     "mcp.ledger_sync = deferred: longest time a committed entry waits for its sync"},
    {"hook.helper_idle", AG_CFG_DURATION, "10m", 0, DAY_MS, NULL,
     "how long the hook helper waits for events before it stops (0: no helper)"},
    {"run.grace", AG_CFG_DURATION, "5s", 0, HOUR_MS, NULL,
     "time between SIGTERM and SIGKILL when a governed child must stop"},
    {"run.timeout", AG_CFG_DURATION, "1h", 1000, 7 * DAY_MS, NULL,
     "default wall-clock limit of a governed run"},
    {"lifecycle.lock_ttl", AG_CFG_DURATION, "5m", 1000, DAY_MS, NULL,
     "agent lock TTL, refreshed at every transition"},
    {"lifecycle.heartbeat_ttl", AG_CFG_DURATION, "2m", 1000, DAY_MS, NULL, "heartbeat key TTL"},
    {"lifecycle.state_ttl", AG_CFG_DURATION, "7d", 60000, 365 * DAY_MS, NULL,
     "TTL of runtime keys that are not durable history"},
    {"stuck.after", AG_CFG_DURATION, "30s", 1000, DAY_MS, NULL,
     "an agent whose last heartbeat is older than this is stuck"},
    {"pipeline.checkpoint_ttl", AG_CFG_DURATION, "7d", 1000, 365 * DAY_MS, NULL,
     "how long a finished pipeline run's checkpoints stay on the store"},
    {"pipeline.poll", AG_CFG_DURATION, "100ms", 10, 60000, NULL,
     "how often a pipeline driver looks at its gates and for a cancel"},
    {"approvals.timeout", AG_CFG_DURATION, "15m", 1000, 7 * DAY_MS, NULL,
     "how long a pending approval waits for its approvers when its rule names no timeout"},
    {"notify.slack.webhook_url", AG_CFG_STRING, "", 0, 2048, NULL,
     "Slack incoming webhook URL (empty: no Slack messages)"},
    {"notify.slack.signing_secret", AG_CFG_STRING, "", 0, 2048, NULL,
     "Slack app signing secret for /v1/notify/slack/interactions (literal or "
     "kv:<path>#<field>; empty: Slack buttons refused)"},
    {"notify.slack.users", AG_CFG_STRING, "", 0, 8192, NULL,
     "Slack user id to approver identity, e.g. U012AB=alice,U034CD=bob"},
    {"notify.webhook.url", AG_CFG_STRING, "", 0, 2048, NULL, "generic webhook URL (empty: none)"},
    {"notify.webhook.secret", AG_CFG_STRING, "", 0, 2048, NULL,
     "HMAC-SHA256 key of X-Agentgov-Signature (literal or kv:<path>#<field>)"},
    {"notify.github.api_url", AG_CFG_STRING, "https://api.github.com", 0, 2048, NULL,
     "GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3)"},
    {"notify.github.repo", AG_CFG_STRING, "", 0, 256, NULL,
     "OWNER/REPO whose issue or pull request gets comments (empty: no GitHub)"},
    {"notify.github.issue", AG_CFG_INT, "0", 0, 2000000000, NULL,
     "issue or pull request number to comment on"},
    {"notify.github.token_secret", AG_CFG_STRING, "", 0, 2048, NULL,
     "GitHub token (literal or kv:<path>#<field>)"},
    {"notify.timeout", AG_CFG_DURATION, "5s", 100, 5 * 60000, NULL,
     "time limit of one delivery attempt"},
    {"notify.backoff", AG_CFG_DURATION, "1s", 10, HOUR_MS, NULL,
     "delay before the first retry (doubled at each attempt, with jitter)"},
    {"notify.backoff_max", AG_CFG_DURATION, "5m", 10, DAY_MS, NULL,
     "longest delay between retries"},
    {"notify.max_attempts", AG_CFG_INT, "10", 1, 1000, NULL,
     "attempts before an event is marked dead"},
    /* Circuit breakers (agentgov/breaker.h, docs/operations.md): six rows for each
     * dependency; ag_breaker_config_from reads them by name. */
    {"breaker.store.failures", AG_CFG_INT, "5", 0, 1000000, NULL,
     "consecutive failures of store calls that open its circuit breaker (0: rule off)"},
    {"breaker.store.ratio", AG_CFG_INT, "50", 0, 100, NULL,
     "failure percentage of store calls in the window that opens its breaker (0: off)"},
    {"breaker.store.window", AG_CFG_DURATION, "10s", 1000, HOUR_MS, NULL,
     "sliding window of the store failure ratio (which needs 20 calls in it)"},
    {"breaker.store.cooldown", AG_CFG_DURATION, "1s", 0, HOUR_MS, NULL,
     "how long the store breaker stays open before it lets a probe through"},
    {"breaker.store.cooldown_max", AG_CFG_DURATION, "30s", 0, DAY_MS, NULL,
     "each failed probe doubles the store cool-down, up to this"},
    {"breaker.store.probes", AG_CFG_INT, "1", 1, 1000, NULL,
     "store calls let through at once while its breaker is half-open"},
    {"breaker.ledger.failures", AG_CFG_INT, "3", 0, 1000000, NULL,
     "consecutive failures of ledger calls that open its circuit breaker (0: rule off)"},
    {"breaker.ledger.ratio", AG_CFG_INT, "50", 0, 100, NULL,
     "failure percentage of ledger calls in the window that opens its breaker (0: off)"},
    {"breaker.ledger.window", AG_CFG_DURATION, "10s", 1000, HOUR_MS, NULL,
     "sliding window of the ledger failure ratio (which needs 20 calls in it)"},
    {"breaker.ledger.cooldown", AG_CFG_DURATION, "1s", 0, HOUR_MS, NULL,
     "how long the ledger breaker stays open before it lets a probe through"},
    {"breaker.ledger.cooldown_max", AG_CFG_DURATION, "30s", 0, DAY_MS, NULL,
     "each failed probe doubles the ledger cool-down, up to this"},
    {"breaker.ledger.probes", AG_CFG_INT, "1", 1, 1000, NULL,
     "ledger calls let through at once while its breaker is half-open"},
    {"breaker.llm.failures", AG_CFG_INT, "5", 0, 1000000, NULL,
     "consecutive failures of llm calls that open its circuit breaker (0: rule off)"},
    {"breaker.llm.ratio", AG_CFG_INT, "50", 0, 100, NULL,
     "failure percentage of llm calls in the window that opens its breaker (0: off)"},
    {"breaker.llm.window", AG_CFG_DURATION, "10s", 1000, HOUR_MS, NULL,
     "sliding window of the llm failure ratio (which needs 20 calls in it)"},
    {"breaker.llm.cooldown", AG_CFG_DURATION, "5s", 0, HOUR_MS, NULL,
     "how long the llm breaker stays open before it lets a probe through"},
    {"breaker.llm.cooldown_max", AG_CFG_DURATION, "30s", 0, DAY_MS, NULL,
     "each failed probe doubles the llm cool-down, up to this"},
    {"breaker.llm.probes", AG_CFG_INT, "1", 1, 1000, NULL,
     "llm calls let through at once while its breaker is half-open"},
    {"breaker.notify.failures", AG_CFG_INT, "5", 0, 1000000, NULL,
     "consecutive failures of notify calls that open its circuit breaker (0: rule off)"},
    {"breaker.notify.ratio", AG_CFG_INT, "50", 0, 100, NULL,
     "failure percentage of notify calls in the window that opens its breaker (0: off)"},
    {"breaker.notify.window", AG_CFG_DURATION, "10s", 1000, HOUR_MS, NULL,
     "sliding window of the notify failure ratio (which needs 20 calls in it)"},
    {"breaker.notify.cooldown", AG_CFG_DURATION, "5s", 0, HOUR_MS, NULL,
     "how long the notify breaker stays open before it lets a probe through"},
    {"breaker.notify.cooldown_max", AG_CFG_DURATION, "30s", 0, DAY_MS, NULL,
     "each failed probe doubles the notify cool-down, up to this"},
    {"breaker.notify.probes", AG_CFG_INT, "1", 1, 1000, NULL,
     "notify calls let through at once while its breaker is half-open"},
    {"breaker.otel.failures", AG_CFG_INT, "3", 0, 1000000, NULL,
     "consecutive failed OTLP exports that open the otel breaker (0: rule off)"},
    {"breaker.otel.ratio", AG_CFG_INT, "50", 0, 100, NULL,
     "failure percentage over the window that opens the otel breaker (0: rule off)"},
    {"breaker.otel.window", AG_CFG_DURATION, "10s", 1000, HOUR_MS, NULL,
     "sliding window of the otel breaker's failure ratio"},
    {"breaker.otel.cooldown", AG_CFG_DURATION, "5s", 0, HOUR_MS, NULL,
     "how long the otel breaker stays open before a probe export"},
    {"breaker.otel.cooldown_max", AG_CFG_DURATION, "1m", 0, DAY_MS, NULL,
     "each failed probe doubles the otel cool-down, up to this"},
    {"breaker.otel.probes", AG_CFG_INT, "1", 1, 1000, NULL,
     "OTLP exports let through at once while the otel breaker is half-open"},
    /* OpenTelemetry export (agentgov/otel.h, docs/observability.md). */
    {"otel.endpoint", AG_CFG_STRING, "", 0, 2000, NULL,
     "OTLP/HTTP base URL of a collector, e.g. http://127.0.0.1:4318 (empty: export off)"},
    {"otel.service_name", AG_CFG_STRING, "agentgov", 1, 255, NULL,
     "service.name resource attribute of everything exported"},
    {"otel.resource_attributes", AG_CFG_STRING, "", 0, 2000, NULL,
     "more resource attributes, key=value[,key=value...] (deployment.environment=prod)"},
    {"otel.headers", AG_CFG_STRING, "", 0, 4000, NULL,
     "HTTP headers of every export, Name=value[,...]; a value kv:<path>#<field> is read "
     "from the secret store at start"},
    {"otel.kinds", AG_CFG_STRING, "decision,lifecycle,approval,revocation,promotion,violation,llm",
     0, 500, NULL, "ledger kinds exported as spans and log records, comma-separated"},
    {"otel.signals", AG_CFG_ENUM, "both", 0, 0, "both|traces|logs",
     "what is exported: spans (/v1/traces), log records (/v1/logs) or both"},
    {"otel.batch", AG_CFG_INT, "512", 1, 10000, NULL, "events per export request at most"},
    {"otel.queue", AG_CFG_INT, "8192", 1, 1000000, NULL,
     "events waiting for export at most; more are dropped (agentgov_otel_dropped_total)"},
    {"otel.interval", AG_CFG_DURATION, "1s", 10, HOUR_MS, NULL,
     "the longest an event waits for its batch to fill before it is sent"},
    {"otel.timeout", AG_CFG_DURATION, "5s", 100, 5 * 60000, NULL,
     "time limit of one export request"},
    {"otel.retries", AG_CFG_INT, "3", 0, 20, NULL,
     "retries of an export that failed (connection, 429 or 5xx) before its batch is dropped"},
    {"otel.backoff", AG_CFG_DURATION, "200ms", 1, HOUR_MS, NULL,
     "wait before the first retry of an export; doubles at each retry"},
    {"otel.backoff_max", AG_CFG_DURATION, "5s", 1, HOUR_MS, NULL,
     "longest wait between retries of an export"},
    {"health.disk_min", AG_CFG_INT, "67108864", 0, INT64_MAX / 2, NULL,
     "free bytes under the ledger's directory below which health reports it degraded"},
    {"health.wal_max", AG_CFG_INT, "268435456", 0, INT64_MAX / 2, NULL,
     "ledger WAL size, bytes, above which health reports it degraded"},
    {"llm.base_url", AG_CFG_STRING, "", 0, 2048, NULL,
     "OpenAI-compatible endpoint base (…/v1; /chat/completions is appended), or replay:FILE"},
    {"llm.model", AG_CFG_STRING, "", 0, 256, NULL, "model name sent in every request"},
    {"llm.api_key", AG_CFG_STRING, "", 0, 512, NULL,
     "where the API key lives: kv:<path>#<field> in the secret store (never the key itself)"},
    {"llm.referer", AG_CFG_STRING, "", 0, 512, NULL,
     "HTTP-Referer header (OpenRouter); empty: none"},
    {"llm.title", AG_CFG_STRING, "", 0, 256, NULL, "X-Title header (OpenRouter); empty: none"},
    {"llm.connect_timeout", AG_CFG_DURATION, "5s", 100, HOUR_MS, NULL,
     "connect timeout of a model request"},
    {"llm.timeout", AG_CFG_DURATION, "2m", 100, HOUR_MS, NULL, "total timeout of a model request"},
    {"llm.retries", AG_CFG_INT, "3", 0, 20, NULL,
     "extra attempts on 429, 5xx and transport errors"},
    {"llm.backoff", AG_CFG_DURATION, "500ms", 1, HOUR_MS, NULL,
     "first backoff between attempts, doubled each time (Retry-After wins)"},
    {"llm.backoff_max", AG_CFG_DURATION, "30s", 1, HOUR_MS, NULL,
     "longest backoff, and cap of a Retry-After"},
    {"llm.prices", AG_CFG_STRING, "", 0, 8192, NULL,
     "model=IN/OUT,...: USD per million prompt/completion tokens"},
    {"llm.log_content", AG_CFG_BOOL, "false", 0, 1, NULL,
     "ledger the prompt and completion text (default: SHA-256 digests only)"},
    {"orchestrate.ask_timeout", AG_CFG_DURATION, "5m", 1000, 7 * DAY_MS, NULL,
     "how long an orchestrated agent's tool call the policy answers ask waits for a person"},
};

#define NDEFS (sizeof table / sizeof table[0])

struct ag_config {
    char *value[NDEFS];
    char *origin[NDEFS];
    int64_t num[NDEFS];
};

const struct ag_config_def *ag_config_table(size_t *n)
{
    *n = NDEFS;
    return table;
}

static int find(const char *name)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strcmp(table[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Validates text for row i and computes its numeric form. */
static ag_err parse_value(size_t i, const char *text, int64_t *num)
{
    const struct ag_config_def *d = &table[i];
    *num = 0;
    switch (d->type) {
    case AG_CFG_STRING:
        /* max, when set, is the longest value its reader can hold: a longer one would
         * be cut to another path or address. */
        if (d->max > 0 && (int64_t)strlen(text) > d->max)
            return ag__fail(AG_EINVAL, "%s: value is %zu bytes, longer than %lld", d->name,
                            strlen(text), (long long)d->max);
        return AG_OK;
    case AG_CFG_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "1") ||
            !strcmp(text, "on")) {
            *num = 1;
            return AG_OK;
        }
        if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "0") ||
            !strcmp(text, "off"))
            return AG_OK;
        return ag__fail(AG_EINVAL, "%s: expected true or false, got '%s'", d->name, text);
    case AG_CFG_ENUM: {
        size_t n = strlen(text);
        for (const char *p = d->choices; *p;) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            if (len == n && strncmp(p, text, n) == 0)
                return AG_OK;
            p += len + (bar ? 1 : 0);
        }
        return ag__fail(AG_EINVAL, "%s: expected one of %s, got '%s'", d->name, d->choices, text);
    }
    case AG_CFG_INT: {
        errno = 0;
        char *end;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end)
            return ag__fail(AG_EINVAL, "%s: expected an integer, got '%s'", d->name, text);
        if (v < d->min || v > d->max)
            return ag__fail(AG_EINVAL, "%s: %lld is outside [%lld, %lld]", d->name, v,
                            (long long)d->min, (long long)d->max);
        *num = v;
        return AG_OK;
    }
    case AG_CFG_DURATION: {
        int64_t ms;
        if (ag__parse_duration(text, &ms) != AG_OK)
            return ag__fail(AG_EINVAL, "%s: expected a duration such as 30s or 5m, got '%s'",
                            d->name, text);
        if (ms < d->min || ms > d->max) {
            char lo[32], hi[32];
            ag__format_duration(d->min, lo, sizeof lo);
            ag__format_duration(d->max, hi, sizeof hi);
            return ag__fail(AG_EINVAL, "%s: '%s' is outside [%s, %s]", d->name, text, lo, hi);
        }
        *num = ms;
        return AG_OK;
    }
    }
    return ag__fail(AG_EINTERNAL, "%s: unknown type", d->name);
}

static ag_err set_at(ag_config *c, size_t i, const char *value, const char *origin)
{
    int64_t num;
    ag_err err = parse_value(i, value, &num);
    if (err)
        return err;
    char *v = strdup(value), *o = strdup(origin);
    if (v == NULL || o == NULL) {
        free(v);
        free(o);
        return ag__fail(AG_ENOMEM, "config: out of memory");
    }
    free(c->value[i]);
    free(c->origin[i]);
    c->value[i] = v;
    c->origin[i] = o;
    c->num[i] = num;
    return AG_OK;
}

ag_err ag_config_new(ag_config **out)
{
    ag_config *c = calloc(1, sizeof *c);
    if (c == NULL)
        return ag__fail(AG_ENOMEM, "config: out of memory");
    for (size_t i = 0; i < NDEFS; i++) {
        ag_err err = set_at(c, i, table[i].def, "default");
        if (err) {
            ag_config_free(c);
            return err;
        }
    }
    *out = c;
    return AG_OK;
}

void ag_config_free(ag_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < NDEFS; i++) {
        free(c->value[i]);
        free(c->origin[i]);
    }
    free(c);
}

ag_err ag_config_set(ag_config *c, const char *name, const char *value)
{
    int i = find(name);
    if (i < 0)
        return ag__fail(AG_EINVAL, "unknown setting '%s' (see agentgov config)", name);
    return set_at(c, (size_t)i, value, "command line");
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Applies one `key = value` line; lineno and path only name the place on error. */
static ag_err load_line(ag_config *c, char *line, const char *path, int lineno)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return AG_OK;
    char *eq = strchr(s, '=');
    if (eq == NULL)
        return ag__fail(AG_EPARSE, "%s:%d: expected 'key = value'", path, lineno);
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    size_t vl = strlen(val);
    if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
        val[vl - 1] = '\0';
        val++;
    }
    int i = find(key);
    if (i < 0)
        return ag__fail(AG_EPARSE, "%s:%d: unknown setting '%s'", path, lineno, key);
    char origin[512];
    snprintf(origin, sizeof origin, "%s:%d", path, lineno);
    ag_err err = set_at(c, (size_t)i, val, origin);
    if (err)
        return ag__fail_wrap(AG_EPARSE, "%s:%d", path, lineno);
    return AG_OK;
}

ag_err ag_config_load_file(ag_config *c, const char *path, int optional)
{
    char *data;
    size_t len;
    ag_err err = ag__read_file(path, 1 * MIB, &data, &len);
    if (err == AG_ENOTFOUND && optional)
        return AG_OK;
    if (err)
        return err;
    int lineno = 0;
    /* strtok_r would skip empty lines and so miscount; split by hand, by length: a NUL
     * would otherwise end the file early and drop the lines after it unseen. */
    char *p = data, *end = data + len;
    while (p < end) {
        lineno++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (memchr(p, '\0', n)) {
            err = ag__fail(AG_EPARSE, "%s:%d: NUL byte in the line", path, lineno);
            break;
        }
        p[n] = '\0';
        err = load_line(c, p, path, lineno);
        if (err)
            break;
        p += n + 1;
    }
    free(data);
    return err;
}

const char *ag_config_str(const ag_config *c, const char *name)
{
    int i = find(name);
    return i < 0 ? "" : c->value[i];
}

int64_t ag_config_int(const ag_config *c, const char *name)
{
    int i = find(name);
    return i < 0 ? 0 : c->num[i];
}

int64_t ag_config_ms(const ag_config *c, const char *name)
{
    return ag_config_int(c, name);
}

const char *ag_config_origin(const ag_config *c, const char *name)
{
    int i = find(name);
    return i < 0 ? "" : c->origin[i];
}
