/* Slack's interactive buttons (the Approve/Deny of an approval message): the request is
 * verified with Slack's v0 signature (HMAC-SHA256 of "v0:<timestamp>:<body>" under the
 * app's signing secret, within five minutes), the Slack user is mapped to an approver
 * identity from notify.slack.users, and the decision is made as that approver. Anything
 * unverified or unmapped is refused and ledgered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "server/handlers.h"

#define SLACK_WINDOW_S 300

/* Refuses the request (401/403), ledgered as a refused credential with `why`. */
static void refuse(struct ag__req *r, int status, const char *why, const char *msg)
{
    ag__reply_error(r, status, "%s", msg);
    ag__req_refused(r, NULL, why);
}

/* 1 when the signature headers verify for this body under the secret. */
static int signature_ok(struct ag__req *r, const char *secret, const char **why)
{
    const char *ts = ag__req_header(r, "X-Slack-Request-Timestamp");
    const char *sig = ag__req_header(r, "X-Slack-Signature");
    *why = "slack_signature";
    if (!ts || !sig || strncmp(sig, "v0=", 3) != 0 || strlen(sig) != 3 + 64 ||
        strspn(ts, "0123456789") != strlen(ts) || strlen(ts) == 0 || strlen(ts) > 12)
        return 0;
    long long t = atoll(ts), now = ag__wall_ms() / 1000;
    if (t < now - SLACK_WINDOW_S || t > now + SLACK_WINDOW_S) {
        *why = "slack_stale_timestamp"; /* a replayed request */
        return 0;
    }
    crypto_auth_hmacsha256_state st;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, (const uint8_t *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)"v0:", 3);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)":", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)r->body.data, r->body.len);
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof mac + 1];
    ag__hex(mac, sizeof mac, hex);
    return ag__ct_equal(hex, sig + 3, 64);
}

/* The form field `payload` of an application/x-www-form-urlencoded body, decoded. */
static char *form_payload(const char *body, size_t len)
{
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > 8 && memcmp(p, "payload=", 8) == 0) {
            size_t n = (size_t)(stop - p - 8);
            char *v = malloc(n + 1);
            if (!v)
                return NULL;
            memcpy(v, p + 8, n);
            v[n] = '\0';
            for (char *c = v; *c; c++)
                if (*c == '+')
                    *c = ' ';
            MHD_http_unescape(v);
            return v;
        }
        p = stop + 1;
    }
    return NULL;
}

/* notify.slack.users ("U1=alice,U2=bob"): the identity of a Slack user, or 0. */
static int map_user(const char *users, const char *uid, char *out, size_t cap)
{
    size_t ul = strlen(uid);
    for (const char *p = users; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *eq = strchr(p, '='), *comma = strchr(p, ',');
        if (!eq || (comma && comma < eq))
            return 0;
        const char *vend = comma ? comma : p + strlen(p);
        if ((size_t)(eq - p) == ul && memcmp(p, uid, ul) == 0 && vend > eq + 1) {
            snprintf(out, cap, "%.*s", (int)(vend - eq - 1), eq + 1);
            return 1;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

void ag__h_slack_interactions(struct ag__req *r)
{
    struct ag__srv *s = r->srv;
    if (!s->approve || !s->notify) {
        ag__reply_error(r, 503, "approvals are unavailable");
        return;
    }
    if (!s->cfg.slack_signing_secret[0]) {
        refuse(r, 403, "slack_not_configured",
               "permission denied: Slack interactivity is off (notify.slack.signing_secret)");
        return;
    }
    char *secret = NULL;
    if (ag_notify_secret(s->notify, s->cfg.slack_signing_secret, &secret) != AG_OK) {
        ag__reply_error(r, 503, "the Slack signing secret cannot be read: %s", ag_last_error());
        return;
    }
    const char *why;
    int ok = signature_ok(r, secret, &why);
    sodium_memzero(secret, strlen(secret));
    free(secret);
    if (!ok) {
        refuse(r, 401, why, "permission denied: the Slack request signature does not verify");
        return;
    }
    char *payload = form_payload(r->body.data ? r->body.data : "", r->body.len);
    json_t *pl = payload ? json_loads(payload, 0, NULL) : NULL;
    free(payload);
    json_t *act = json_array_get(json_object_get(pl, "actions"), 0);
    const char *uid = json_string_value(json_object_get(json_object_get(pl, "user"), "id"));
    const char *aid = json_string_value(json_object_get(act, "action_id"));
    const char *apv = json_string_value(json_object_get(act, "value"));
    if (!uid || !aid || !apv || (strcmp(aid, "approve") != 0 && strcmp(aid, "deny") != 0)) {
        json_decref(pl);
        ag__reply_error(r, 400, "not a block_actions payload with an approve or deny button");
        return;
    }
    struct ag_identity who;
    memset(&who, 0, sizeof who);
    if (!map_user(s->cfg.slack_users, uid, who.entity, sizeof who.entity)) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "permission denied: Slack user %.40s is not mapped to an "
                 "approver (notify.slack.users)",
                 uid);
        json_decref(pl);
        refuse(r, 403, "slack_user_unmapped", msg);
        return;
    }
    snprintf(who.accessor, sizeof who.accessor, "slack:%.50s", uid);
    snprintf(who.via, sizeof who.via, "slack");
    who.tier = -1;
    int approve = strcmp(aid, "approve") == 0;
    char reason[200];
    snprintf(reason, sizeof reason, "%s in Slack by %s", approve ? "approved" : "denied",
             who.entity);
    struct ag_approval a;
    ag_err e = ag_approve_decide(s->approve, apv, &who, approve, reason, &a);
    json_decref(pl);
    if (e) {
        /* Slack shows the text to the one who clicked. */
        ag__reply_json(r, 200,
                       json_pack("{s:s, s:b, s:s}", "response_type", "ephemeral",
                                 "replace_original", 0, "text", ag_last_error()));
        return;
    }
    char text[300];
    snprintf(text, sizeof text, "%s: %s by %s (%d of %d)", a.id, a.status, who.entity, a.approvals,
             a.required);
    ag_approval_clear(&a);
    ag__reply_json(r, 200,
                   json_pack("{s:s, s:b, s:s}", "response_type", "in_channel", "replace_original",
                             0, "text", text));
}
