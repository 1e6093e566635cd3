/* The durable outbox: options, emitting events, listing deliveries, statistics. Nothing
 * here talks to the network (deliver.c does), so the CLI can emit and list without
 * linking an HTTP client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "notify/notify_int.h"

const char *const ag__ntf_channels[AG_NOTIFY_CHANNELS] = {"slack", "webhook", "github"};

void ag_notify_opts_from_config(const ag_config *c, struct ag_notify_opts *o)
{
    memset(o, 0, sizeof *o);
    o->slack_webhook_url = ag_config_str(c, "notify.slack.webhook_url");
    o->webhook_url = ag_config_str(c, "notify.webhook.url");
    o->webhook_secret = ag_config_str(c, "notify.webhook.secret");
    o->github_api_url = ag_config_str(c, "notify.github.api_url");
    o->github_repo = ag_config_str(c, "notify.github.repo");
    o->github_issue = ag_config_int(c, "notify.github.issue");
    o->github_token_secret = ag_config_str(c, "notify.github.token_secret");
    o->timeout_ms = ag_config_ms(c, "notify.timeout");
    o->backoff_ms = ag_config_ms(c, "notify.backoff");
    o->backoff_max_ms = ag_config_ms(c, "notify.backoff_max");
    o->max_attempts = (int)ag_config_int(c, "notify.max_attempts");
    ag_breaker_config_from(c, "notify", &o->breaker);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

void ag_notify_free(ag_notify *n)
{
    if (n == NULL)
        return;
    free(n->slack_url);
    free(n->webhook_url);
    free(n->webhook_secret);
    free(n->gh_api);
    free(n->gh_repo);
    free(n->gh_token);
    free(n->ui_url);
    for (size_t i = 0; i < sizeof n->secrets / sizeof n->secrets[0]; i++) {
        free(n->secrets[i].spec);
        if (n->secrets[i].value) {
            sodium_memzero(n->secrets[i].value, strlen(n->secrets[i].value));
            free(n->secrets[i].value);
        }
    }
    for (int c = 0; c < AG_NOTIFY_CHANNELS; c++)
        ag_breaker_free(n->breakers[c]);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

static int http_url(const char *u)
{
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

ag_err ag_notify_new(const struct ag_notify_opts *o, ag_notify **out)
{
    *out = NULL;
    if (o == NULL || o->store == NULL || o->ledger == NULL)
        return ag__fail(AG_EINVAL, "notify: a store and a ledger are required");
    ag_notify *n = calloc(1, sizeof *n);
    if (n == NULL)
        return ag__fail(AG_ENOMEM, "notify: out of memory");
    pthread_mutex_init(&n->mu, NULL);
    n->store = o->store;
    n->ledger = o->ledger;
    n->auth = o->auth;
    n->slack_url = dup_or_empty(o->slack_webhook_url);
    n->webhook_url = dup_or_empty(o->webhook_url);
    n->webhook_secret = dup_or_empty(o->webhook_secret);
    n->gh_api = dup_or_empty(o->github_api_url && *o->github_api_url ? o->github_api_url
                                                                     : "https://api.github.com");
    n->gh_repo = dup_or_empty(o->github_repo);
    n->gh_token = dup_or_empty(o->github_token_secret);
    n->ui_url = dup_or_empty(o->ui_url);
    n->gh_issue = o->github_issue;
    n->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
    n->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 1000;
    n->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 300000;
    n->max_attempts = o->max_attempts > 0 ? o->max_attempts : 10;
    ag__random_hex(16, n->owner);
    if (!n->slack_url || !n->webhook_url || !n->webhook_secret || !n->gh_api || !n->gh_repo ||
        !n->gh_token || !n->ui_url) {
        ag_notify_free(n);
        return ag__fail(AG_ENOMEM, "notify: out of memory");
    }
    /* Misconfiguration is an error at start, naming the setting, not a silent drop. */
    const char *bad = NULL;
    if (*n->slack_url && !http_url(n->slack_url))
        bad = "notify.slack.webhook_url";
    else if (*n->webhook_url && !http_url(n->webhook_url))
        bad = "notify.webhook.url";
    else if (*n->webhook_url && !*n->webhook_secret)
        bad = "notify.webhook.secret (required with notify.webhook.url)";
    else if (*n->gh_repo && !http_url(n->gh_api))
        bad = "notify.github.api_url";
    else if (*n->gh_repo && (strchr(n->gh_repo, '/') == NULL || n->gh_issue <= 0))
        bad = "notify.github.repo (OWNER/REPO) or notify.github.issue";
    else if (*n->gh_repo && !*n->gh_token)
        bad = "notify.github.token_secret (required with notify.github.repo)";
    if (bad) {
        ag_notify_free(n);
        return ag__fail(AG_EINVAL, "notify: bad or missing setting %s", bad);
    }
    struct ag_breaker_config bc = o->breaker;
    if (bc.probes == 0)
        ag_breaker_config_default(&bc);
    for (int c = 0; c < AG_NOTIFY_CHANNELS; c++) {
        char name[32];
        snprintf(name, sizeof name, "notify.%s", ag__ntf_channels[c]);
        if (ag_notify_channel_on(n, ag__ntf_channels[c]) &&
            ag_breaker_new(name, &bc, &n->breakers[c]) != AG_OK) {
            char detail[256];
            snprintf(detail, sizeof detail, "%s", ag_last_error());
            ag_notify_free(n);
            return ag__fail(AG_EINVAL, "notify: breaker.notify.*: %s", detail);
        }
        if (n->breakers[c] && o->breaker_cb)
            ag_breaker_on_change(n->breakers[c], o->breaker_cb, o->breaker_ctx);
    }
    *out = n;
    return AG_OK;
}

int ag_notify_channel_on(const ag_notify *n, const char *ch)
{
    if (strcmp(ch, "slack") == 0)
        return n->slack_url[0] != '\0';
    if (strcmp(ch, "webhook") == 0)
        return n->webhook_url[0] != '\0';
    if (strcmp(ch, "github") == 0)
        return n->gh_repo[0] != '\0';
    return 0;
}

ag_err ag_notify_emit(ag_notify *n, const char *type, const char *data_json,
                      char id_out[AG_NOTIFY_ID_BUF])
{
    char id[AG_NOTIFY_ID_BUF];
    if (id_out)
        id_out[0] = '\0';
    json_t *data = data_json ? json_loads(data_json, 0, NULL) : json_object();
    if (!json_is_object(data)) {
        json_decref(data);
        return ag__fail(AG_EINVAL, "notify: event data must be a JSON object");
    }
    memcpy(id, "evt-", 4);
    ag__random_hex(12, id + 4);
    int64_t now = ag__wall_ms();
    json_t *ev = json_pack("{s:s, s:s, s:I, s:o}", "id", id, "type", type, "created_ms",
                           (json_int_t)now, "data", data);
    char *evs = ev ? json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(ev);
    if (evs == NULL)
        return ag__fail(AG_ENOMEM, "notify: out of memory");
    struct ag_store_op ops[1 + 2 * AG_NOTIFY_CHANNELS];
    char keys[1 + AG_NOTIFY_CHANNELS][AG__NTF_KEY_MAX], members[AG_NOTIFY_CHANNELS][64];
    char *dels[AG_NOTIFY_CHANNELS] = {0};
    size_t k = 0;
    snprintf(keys[0], sizeof keys[0], AG__NTF_EVENT "%s", id);
    ops[k++] =
        (struct ag_store_op){.op = AG_OP_SET, .key = keys[0], .value = evs, .num = AG__NTF_KEEP_MS};
    for (int c = 0; c < AG_NOTIFY_CHANNELS; c++) {
        if (!ag_notify_channel_on(n, ag__ntf_channels[c]))
            continue;
        json_t *d = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:s}", "event_id", id,
                              "channel", ag__ntf_channels[c], "type", type, "attempts", 0, "status",
                              "pending", "created_ms", (json_int_t)now, "next_ms", (json_int_t)now,
                              "done_ms", (json_int_t)0, "last_error", "");
        dels[c] = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(d);
        snprintf(keys[1 + c], sizeof keys[1 + c], AG__NTF_DELIVERY "%s:%s", id,
                 ag__ntf_channels[c]);
        snprintf(members[c], sizeof members[c], "%s:%s", id, ag__ntf_channels[c]);
        ops[k++] = (struct ag_store_op){
            .op = AG_OP_SET, .key = keys[1 + c], .value = dels[c], .num = AG__NTF_KEEP_MS};
        ops[k++] = (struct ag_store_op){
            .op = AG_OP_ZADD, .key = AG__NTF_PENDING, .field = members[c], .num = now};
    }
    ag_err e = AG_OK;
    for (int c = 0; c < AG_NOTIFY_CHANNELS; c++)
        if (ag_notify_channel_on(n, ag__ntf_channels[c]) && dels[c] == NULL)
            e = ag__fail(AG_ENOMEM, "notify: out of memory");
    if (e == AG_OK && k > 1) {
        struct ag_store_reply rp[1 + 2 * AG_NOTIFY_CHANNELS];
        e = ag_store_exec(n->store, NULL, ops, k, rp, NULL);
        ag_store_reply_free(rp, k);
    }
    free(evs);
    for (int c = 0; c < AG_NOTIFY_CHANNELS; c++)
        free(dels[c]);
    if (e == AG_OK && k > 1 && id_out)
        memcpy(id_out, id, sizeof id);
    return e;
}

/* Members of a sorted set, by score (*v malloc'd, free with ag_store_strv_free). */
static ag_err zmembers(ag_notify *n, const char *key, int64_t max, char ***v, size_t *cnt)
{
    struct ag_store_op op = {.op = AG_OP_ZRANGEBYSCORE, .key = key, .num = 0, .num2 = max};
    struct ag_store_reply rp;
    *v = NULL;
    *cnt = 0;
    ag_err e = ag_store_exec(n->store, NULL, &op, 1, &rp, NULL);
    if (e)
        return e;
    if (rp.type == AG_REPLY_ARRAY && rp.nelems) {
        *v = calloc(rp.nelems, sizeof **v);
        for (size_t i = 0; *v && i < rp.nelems; i++)
            if (rp.elems[i].type == AG_REPLY_STR) {
                (*v)[(*cnt)++] = rp.elems[i].str;
                rp.elems[i].str = NULL;
                rp.elems[i].type = AG_REPLY_NIL;
            }
        if (*v == NULL)
            e = ag__fail(AG_ENOMEM, "notify: out of memory");
    }
    ag_store_reply_free(&rp, 1);
    return e;
}

static void fill_item(const json_t *d, struct ag_notify_item *it)
{
    memset(it, 0, sizeof *it);
#define S(f, k) snprintf(it->f, sizeof it->f, "%s", json_string_value(json_object_get(d, k)) ?: "")
    S(event_id, "event_id");
    S(channel, "channel");
    S(type, "type");
    S(status, "status");
    S(last_error, "last_error");
#undef S
    it->attempts = (int)json_integer_value(json_object_get(d, "attempts"));
    it->created_ms = json_integer_value(json_object_get(d, "created_ms"));
    it->next_ms = json_integer_value(json_object_get(d, "next_ms"));
    it->done_ms = json_integer_value(json_object_get(d, "done_ms"));
}

ag_err ag_notify_list(ag_notify *n, int dead_only, struct ag_notify_item **items, size_t *count)
{
    *items = NULL;
    *count = 0;
    char **mem[2] = {NULL, NULL};
    size_t nm[2] = {0, 0};
    ag_err e = zmembers(n, AG__NTF_DEAD, INT64_MAX, &mem[0], &nm[0]);
    if (e == AG_OK && !dead_only)
        e = zmembers(n, AG__NTF_PENDING, INT64_MAX, &mem[1], &nm[1]);
    size_t total = nm[0] + nm[1];
    struct ag_store_op *ops = calloc(total ? total : 1, sizeof *ops);
    char(*keys)[AG__NTF_KEY_MAX] = calloc(total ? total : 1, sizeof *keys);
    struct ag_store_reply *rp = calloc(total ? total : 1, sizeof *rp);
    if (e == AG_OK && (!ops || !keys || !rp))
        e = ag__fail(AG_ENOMEM, "notify: out of memory");
    size_t k = 0;
    for (int s = 0; e == AG_OK && s < 2; s++)
        for (size_t i = 0; i < nm[s]; i++) {
            snprintf(keys[k], AG__NTF_KEY_MAX, AG__NTF_DELIVERY "%s", mem[s][i]);
            ops[k] = (struct ag_store_op){.op = AG_OP_GET, .key = keys[k]};
            k++;
        }
    if (e == AG_OK && k)
        e = ag_store_exec(n->store, NULL, ops, k, rp, NULL);
    struct ag_notify_item *out = e == AG_OK ? calloc(k ? k : 1, sizeof *out) : NULL;
    if (e == AG_OK && out == NULL)
        e = ag__fail(AG_ENOMEM, "notify: out of memory");
    for (size_t i = k; e == AG_OK && i-- > 0;) {
        json_t *d = rp[i].type == AG_REPLY_STR ? json_loads(rp[i].str, 0, NULL) : NULL;
        if (d)
            fill_item(d, &out[(*count)++]);
        json_decref(d);
    }
    if (e == AG_OK && k)
        ag_store_reply_free(rp, k);
    for (int s = 0; s < 2; s++)
        ag_store_strv_free(mem[s], nm[s]);
    free(ops);
    free(keys);
    free(rp);
    if (e) {
        free(out);
        *count = 0;
        return e;
    }
    *items = out;
    return AG_OK;
}

void ag_notify_list_free(struct ag_notify_item *items)
{
    free(items);
}

ag_err ag_notify_stats(ag_notify *n, struct ag_notify_stats *s)
{
    memset(s, 0, sizeof *s);
    s->sent = atomic_load(&n->sent);
    s->failed_attempts = atomic_load(&n->failed);
    s->dead = atomic_load(&n->dead);
    char **v;
    size_t c;
    ag_err e = zmembers(n, AG__NTF_PENDING, INT64_MAX, &v, &c);
    if (e)
        return e;
    s->pending = c;
    ag_store_strv_free(v, c);
    if ((e = zmembers(n, AG__NTF_DEAD, INT64_MAX, &v, &c)))
        return e;
    s->dead_total = c;
    ag_store_strv_free(v, c);
    return AG_OK;
}
