/* What each channel receives for an event: a Slack Block Kit message, a signed JSON
 * webhook, a GitHub issue comment. Built only from the stored event, so every attempt
 * sends the same bytes (the event id in a header and in the body). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "notify/notify_int.h"

void ag__ntf_req_clear(struct ag__ntf_req *q)
{
    free(q->url);
    if (q->body)
        free(q->body);
    for (size_t i = 0; i < q->nheaders; i++) {
        /* Headers may carry a token: wiped before they go back to the allocator. */
        sodium_memzero(q->headers[i], strlen(q->headers[i]));
        free(q->headers[i]);
    }
    memset(q, 0, sizeof *q);
}

/* Reads a kv: secret from the KV store (ledgered by the auth engine). */
static ag_err read_kv(ag_notify *n, const char *spec, char **out)
{
    const char *hash = strchr(spec + 3, '#');
    if (hash == NULL || hash == spec + 3 || hash[1] == '\0')
        return ag__fail(AG_EINVAL, "notify: secret '%s' is not kv:<path>#<field>", spec);
    if (n->auth == NULL)
        return ag__fail(AG_EINVAL, "notify: secret '%s' needs the KV store (no master key)", spec);
    char path[AG_SECRET_PATH_MAX];
    snprintf(path, sizeof path, "%.*s", (int)(hash - spec - 3), spec + 3);
    char *data = NULL;
    ag_err e = ag_auth_secret_read_service(n->auth, "notify", path, &data);
    if (e)
        return e;
    json_t *o = json_loads(data, 0, NULL);
    sodium_memzero(data, strlen(data));
    free(data);
    const char *v = json_string_value(json_object_get(o, hash + 1));
    if (v)
        *out = strdup(v);
    json_decref(o);
    if (v == NULL)
        return ag__fail(AG_ENOTFOUND, "notify: secret %s has no string field '%s'", path, hash + 1);
    return *out ? AG_OK : ag__fail(AG_ENOMEM, "notify: out of memory");
}

ag_err ag__ntf_secret(ag_notify *n, const char *spec, char **out)
{
    *out = NULL;
    if (strncmp(spec, "kv:", 3) != 0) {
        *out = strdup(spec);
        return *out ? AG_OK : ag__fail(AG_ENOMEM, "notify: out of memory");
    }
    int64_t now = ag__mono_ms();
    size_t nslots = sizeof n->secrets / sizeof n->secrets[0], slot = 0;
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < nslots; i++) {
        if (n->secrets[i].spec && strcmp(n->secrets[i].spec, spec) == 0) {
            if (now - n->secrets[i].at_ms < AG__NTF_SECRET_TTL_MS)
                *out = strdup(n->secrets[i].value);
            slot = i;
            break;
        }
        if (n->secrets[i].at_ms < n->secrets[slot].at_ms || !n->secrets[i].spec)
            slot = i;
    }
    pthread_mutex_unlock(&n->mu);
    if (*out)
        return AG_OK;
    ag_err e = read_kv(n, spec, out);
    if (e)
        return e;
    char *sp = strdup(spec), *val = strdup(*out);
    pthread_mutex_lock(&n->mu);
    free(n->secrets[slot].spec);
    if (n->secrets[slot].value) {
        sodium_memzero(n->secrets[slot].value, strlen(n->secrets[slot].value));
        free(n->secrets[slot].value);
    }
    n->secrets[slot].spec = sp;
    n->secrets[slot].value = val;
    n->secrets[slot].at_ms = sp && val ? now : 0;
    pthread_mutex_unlock(&n->mu);
    return AG_OK;
}

ag_err ag_notify_secret(ag_notify *n, const char *spec, char **out)
{
    return ag__ntf_secret(n, spec, out);
}

static const char *dstr(const json_t *d, const char *k)
{
    const char *s = json_string_value(json_object_get(d, k));
    return s ? s : "";
}

/* One line a person reads, in Slack's mrkdwn (GitHub renders it close enough). */
static void summary(const json_t *ev, struct ag_buf *b)
{
    const char *type = dstr(ev, "type");
    const json_t *d = json_object_get(ev, "data");
    if (strncmp(type, "approval.", 9) == 0) {
        const char *st = dstr(d, "status");
        if (strcmp(type, "approval.requested") == 0)
            ag__buf_printf(b, "Approval requested: agent *%s* wants `%s` on `%s`",
                           dstr(d, "agent_id"), dstr(d, "action"), dstr(d, "resource"));
        else
            ag__buf_printf(b, "Approval *%s*: agent *%s*, `%s` on `%s`", st, dstr(d, "agent_id"),
                           dstr(d, "action"), dstr(d, "resource"));
        ag__buf_printf(b, " (task %s, tier %lld, phase %s). Approval `%s`, expires %s, rule %s.",
                       dstr(d, "task_id"),
                       (long long)json_integer_value(json_object_get(d, "tier")), dstr(d, "phase"),
                       dstr(d, "id"), dstr(d, "expires_at"), dstr(d, "rule"));
        char *args =
            json_dumps(json_object_get(d, "args"), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (args && strcmp(args, "null") != 0)
            ag__buf_printf(b, " Args: `%.1500s`", args);
        free(args);
    } else if (strcmp(type, "agent.revoked") == 0) {
        ag__buf_printf(b,
                       "Agent *%s* revoked: its tokens and leases are gone; a handoff is "
                       "required.",
                       dstr(d, "agent_id"));
    } else if (strcmp(type, "budget.exhausted") == 0) {
        ag__buf_printf(b, "Agent *%s* exhausted its error budget (%s) and was revoked.",
                       dstr(d, "agent_id"), dstr(d, "type"));
    } else {
        ag__buf_printf(b, "agentgov %s: %s", type, dstr(d, "message"));
    }
}

static json_t *slack_body(ag_notify *n, const json_t *ev, const char *text)
{
    const char *id = dstr(ev, "id"), *type = dstr(ev, "type");
    char bid[128], ctx[256];
    snprintf(bid, sizeof bid, "agentgov:%s", id);
    snprintf(ctx, sizeof ctx, "agentgov event `%s` (%s)%s%s", id, type, n->ui_url[0] ? " · " : "",
             n->ui_url);
    json_t *blocks = json_pack("[{s:s, s:s, s:{s:s, s:s}}, {s:s, s:[{s:s, s:s}]}]", "type",
                               "section", "block_id", bid, "text", "type", "mrkdwn", "text", text,
                               "type", "context", "elements", "type", "mrkdwn", "text", ctx);
    const json_t *d = json_object_get(ev, "data");
    if (blocks && strcmp(type, "approval.requested") == 0) {
        const char *apv = dstr(d, "id");
        char abid[128];
        snprintf(abid, sizeof abid, "agentgov-approval:%s", apv);
        json_array_append_new(blocks, json_pack("{s:s, s:s, s:[{s:s, s:s, s:s, s:s, s:{s:s, s:s}}, "
                                                "{s:s, s:s, s:s, s:s, s:{s:s, s:s}}]}",
                                                "type", "actions", "block_id", abid, "elements",
                                                "type", "button", "action_id", "approve", "style",
                                                "primary", "value", apv, "text", "type",
                                                "plain_text", "text", "Approve", "type", "button",
                                                "action_id", "deny", "style", "danger", "value",
                                                apv, "text", "type", "plain_text", "text", "Deny"));
    }
    return blocks ? json_pack("{s:s, s:o}", "text", text, "blocks", blocks) : NULL;
}

/* Adds the header "name: value" (value may be NULL: name is the whole line). */
static ag_err add_header(struct ag__ntf_req *q, const char *name, const char *value)
{
    char buf[4200];
    snprintf(buf, sizeof buf, "%s%s%s", name, value ? ": " : "", value ? value : "");
    int full = q->nheaders >= sizeof q->headers / sizeof q->headers[0];
    if (!full && (q->headers[q->nheaders] = strdup(buf)) != NULL)
        q->nheaders++;
    else
        full = 1;
    sodium_memzero(buf, sizeof buf); /* may hold a token */
    return full ? ag__fail(AG_ENOMEM, "notify: out of memory") : AG_OK;
}

ag_err ag__ntf_format(ag_notify *n, const char *channel, const json_t *ev, struct ag__ntf_req *q)
{
    memset(q, 0, sizeof *q);
    struct ag_buf text;
    ag__buf_init(&text);
    summary(ev, &text);
    ag_err e = ag__buf_status(&text);
    json_t *body = NULL;
    const char *id = dstr(ev, "id"), *type = dstr(ev, "type");
    char *secret = NULL;
    if (e == AG_OK && strcmp(channel, "slack") == 0) {
        q->url = strdup(n->slack_url);
        body = slack_body(n, ev, text.data);
    } else if (e == AG_OK && strcmp(channel, "webhook") == 0) {
        q->url = strdup(n->webhook_url);
        char created[64];
        ag__rfc3339(json_integer_value(json_object_get(ev, "created_ms")), created);
        body = json_pack("{s:s, s:s, s:s, s:s, s:O}", "id", id, "delivery_id", id, "type", type,
                         "created_at", created, "data", json_object_get(ev, "data"));
        e = ag__ntf_secret(n, n->webhook_secret, &secret);
    } else if (e == AG_OK && strcmp(channel, "github") == 0) {
        char url[4200];
        size_t al = strlen(n->gh_api);
        /* GitHub Enterprise's base ends in /api/v3; a trailing slash is dropped. */
        snprintf(url, sizeof url, "%.*s/repos/%s/issues/%lld/comments",
                 (int)(al && n->gh_api[al - 1] == '/' ? al - 1 : al), n->gh_api, n->gh_repo,
                 (long long)n->gh_issue);
        q->url = strdup(url);
        ag__buf_printf(&text, "\n\n<!-- agentgov-event: %s -->", id);
        body = ag__buf_status(&text) == AG_OK ? json_pack("{s:s}", "body", text.data) : NULL;
        e = ag__ntf_secret(n, n->gh_token, &secret);
    } else if (e == AG_OK) {
        e = ag__fail(AG_EINVAL, "notify: unknown channel '%s' (slack, webhook, github)", channel);
    }
    if (e == AG_OK &&
        (!q->url || !body || !(q->body = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS))))
        e = ag__fail(AG_ENOMEM, "notify: cannot build the %s message", channel);
    if (e == AG_OK)
        e = add_header(q, "Content-Type", "application/json");
    if (e == AG_OK)
        e = add_header(q, "X-Agentgov-Event-Id", id);
    if (e == AG_OK && strcmp(channel, "webhook") == 0) {
        char mac[AG_SHA256_HEX_LEN];
        ag__hmac_sha256_hex((const uint8_t *)secret, strlen(secret), q->body, strlen(q->body), mac);
        char sig[AG_SHA256_HEX_LEN + 8];
        snprintf(sig, sizeof sig, "sha256=%s", mac);
        if ((e = add_header(q, "X-Agentgov-Signature", sig)) == AG_OK &&
            (e = add_header(q, "X-Agentgov-Event", type)) == AG_OK)
            e = add_header(q, "X-Agentgov-Delivery", id);
    } else if (e == AG_OK && strcmp(channel, "github") == 0) {
        char bearer[2100];
        snprintf(bearer, sizeof bearer, "Bearer %s", secret);
        e = add_header(q, "Authorization", bearer);
        sodium_memzero(bearer, sizeof bearer);
        if (e == AG_OK && (e = add_header(q, "Accept", "application/vnd.github+json")) == AG_OK)
            e = add_header(q, "X-GitHub-Api-Version", "2022-11-28");
    }
    json_decref(body);
    ag__buf_free(&text);
    if (secret) {
        sodium_memzero(secret, strlen(secret));
        free(secret);
    }
    if (e)
        ag__ntf_req_clear(q);
    return e;
}
