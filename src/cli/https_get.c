/* HTTPS GET over libcurl for the CLI's daemon clients (in agentgovd only: see https.h). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/https.h"

struct sink {
    char *buf;
    size_t len;
    int overflow;
};

/* A health document is a few kilobytes: more than 1 MiB is not a daemon's answer. */
#define MAX_BODY (1u << 20)

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t add = size * n;
    if (s->len + add > MAX_BODY) {
        s->overflow = 1;
        return 0;
    }
    char *nb = realloc(s->buf, s->len + add + 1);
    if (nb == NULL)
        return 0;
    memcpy(nb + s->len, p, add);
    s->buf = nb;
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

/* The reason for a failed transfer, worded for the operator: a certificate that does not
 * verify is the common case (a self-signed daemon without --ca-cert) and says what to do. */
static void explain(CURLcode rc, const char *cerr, const char *ca, char *err, size_t errlen)
{
    const char *why = cerr[0] ? cerr : curl_easy_strerror(rc);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT)
        snprintf(err, errlen, "the daemon's TLS certificate does not verify against %s%s: %s",
                 ca ? "--ca-cert " : "the system's trust store", ca ? ca : " (pass --ca-cert FILE)",
                 why);
    else if (rc == CURLE_SSL_CACERT_BADFILE)
        snprintf(err, errlen, "--ca-cert %s: not a readable PEM certificate: %s", ca ? ca : "",
                 why);
    else
        snprintf(err, errlen, "%s", why);
}

int ag__cli_https_get(int argc, char **argv, const char *url, const char *ca, int *status,
                      char **body, char *err, size_t errlen)
{
    (void)argc;
    (void)argv;
    if (strncmp(url, "https://", 8) != 0) {
        snprintf(err, errlen, "not an https:// address: %s", url);
        return -1;
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(err, errlen, "cannot start the HTTP client");
        return -1;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    struct sink s = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK || s.overflow) {
        if (s.overflow)
            snprintf(err, errlen, "the reply is larger than %u bytes", MAX_BODY);
        else
            explain(rc, cerr, ca, err, errlen);
        free(s.buf);
        return -1;
    }
    *status = (int)code;
    *body = s.buf ? s.buf : strdup("");
    return *body ? 0 : -1;
}
