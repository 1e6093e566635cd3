/* Chat-completions transport: see http.h. A fresh curl easy handle per attempt keeps
 * one ag_llm shareable between threads without a handle pool. */
#include "llm/http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct attempt {
    struct ag_buf body;
    int64_t retry_after_ms;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
    struct attempt *a = ctx;
    /* An answer bigger than this is not a chat completion we can use. */
    if (a->body.len + sz * n > (size_t)64 << 20)
        return 0;
    ag__buf_append(&a->body, p, sz * n);
    return a->body.oom ? 0 : sz * n;
}

int64_t ag__llm_retry_after_ms(const char *v, int64_t now_wall_ms)
{
    if (!v)
        return -1;
    while (*v == ' ')
        v++;
    if (isdigit((unsigned char)*v)) {
        char *end;
        long long s = strtoll(v, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n')
            end++;
        return *end ? -1 : (s > 86400 ? 86400000LL : s * 1000LL);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end)
        return -1;
    int64_t at = (int64_t)timegm(&tm) * 1000;
    return at > now_wall_ms ? at - now_wall_ms : 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ctx)
{
    struct attempt *a = ctx;
    size_t len = sz * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char v[128];
        size_t vl = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, vl);
        v[vl] = '\0';
        a->retry_after_ms = ag__llm_retry_after_ms(v, ag__wall_ms());
    }
    return len;
}

/* The message of an OpenAI-style error body ({"error":{"message":...}}), for the
 * caller's error text; the body itself when it is not one (cut short). */
static void error_text(const char *body, char *out, size_t len)
{
    const char *m = body ? strstr(body, "\"message\"") : NULL;
    if (m && (m = strchr(m + 9, '"'))) {
        const char *e = strchr(m + 1, '"');
        snprintf(out, len, "%.*s", e ? (int)(e - m - 1) : 120, m + 1);
        return;
    }
    snprintf(out, len, "%.120s", body ? body : "");
}

static int retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || status >= 500;
}

ag_err ag__llm_http_post(const struct ag__llm_http_req *q, struct ag__llm_http_res *res)
{
    pthread_once(&curl_once, curl_init_once);
    memset(res, 0, sizeof *res);
    struct curl_slist *h = NULL;
    char line[1024];
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (q->api_key) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", q->api_key);
        h = curl_slist_append(h, line);
        memset(line, 0, sizeof line);
    }
    if (q->referer) {
        snprintf(line, sizeof line, "HTTP-Referer: %s", q->referer);
        h = curl_slist_append(h, line);
    }
    if (q->title) {
        snprintf(line, sizeof line, "X-Title: %s", q->title);
        h = curl_slist_append(h, line);
    }
    if (!h)
        return ag__fail(AG_ENOMEM, "llm: out of memory");
    int64_t backoff = q->backoff_ms;
    ag_err e = AG_EIO;
    char why[256] = "";
    for (int i = 0; i <= q->retries; i++) {
        struct attempt a = {.retry_after_ms = -1};
        ag__buf_init(&a.body);
        CURL *c = curl_easy_init();
        if (!c) {
            e = ag__fail(AG_ENOMEM, "llm: curl_easy_init failed");
            break;
        }
        curl_easy_setopt(c, CURLOPT_URL, q->url);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(q->body));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)q->connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_USERAGENT, "agentgov-llm/1");
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        res->attempts++;
        res->status = status;
        free(res->body);
        res->body = ag__buf_take(&a.body);
        ag__buf_free(&a.body);
        if (rc == CURLE_OK && status >= 200 && status < 300) {
            e = AG_OK;
            break;
        }
        if (rc != CURLE_OK) {
            e = rc == CURLE_OPERATION_TIMEDOUT ? AG_ETIMEOUT : AG_EIO;
            snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
        } else {
            char msg[200];
            error_text(res->body, msg, sizeof msg);
            snprintf(why, sizeof why, "HTTP %ld: %s", status, msg);
            e = status == 401 || status == 403 ? AG_EPERM : retryable(status) ? AG_EIO : AG_EINVAL;
            if (!retryable(status))
                break;
        }
        if (i == q->retries)
            break;
        int64_t wait = a.retry_after_ms >= 0 ? a.retry_after_ms : backoff;
        if (wait > q->backoff_max_ms)
            wait = q->backoff_max_ms;
        if (q->deadline_mono_ms && ag__mono_ms() + wait >= q->deadline_mono_ms)
            break;
        struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
        backoff = backoff * 2 > q->backoff_max_ms ? q->backoff_max_ms : backoff * 2;
    }
    curl_slist_free_all(h);
    if (e)
        return ag__fail(e, "llm: %s after %d attempt%s: %s", q->url, res->attempts,
                        res->attempts == 1 ? "" : "s", why);
    return AG_OK;
}
