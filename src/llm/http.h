/* One chat-completions POST with retries, over libcurl. Ownership: the caller owns
 * the request struct; *body of the result is malloc'd for the caller. */
#ifndef AG_LLM_HTTP_H
#define AG_LLM_HTTP_H

#include <stdint.h>

#include "agentgov/err.h"

struct ag__llm_http_req {
    const char *url; /* {base}/chat/completions */
    const char *body;
    const char *api_key; /* NULL: no Authorization header */
    const char *referer, *title;
    int64_t connect_timeout_ms, timeout_ms;
    int retries;
    int64_t backoff_ms, backoff_max_ms;
    int64_t deadline_mono_ms; /* 0: none; no retry is started past it */
};

struct ag__llm_http_res {
    long status;  /* last HTTP status, 0 when no answer */
    char *body;   /* last answer's body, malloc'd (may be NULL) */
    int attempts; /* requests sent */
};

/* Posts until a 2xx or a non-retryable answer (4xx other than 408/429), or until the
 * retries are spent. AG_OK with res->status 2xx; AG_EPERM for 401/403; AG_EINVAL for
 * other 4xx (the body's error message in ag_last_error); AG_ETIMEOUT when the last
 * attempt timed out; AG_EIO otherwise. */
AG_MUST_USE ag_err ag__llm_http_post(const struct ag__llm_http_req *q,
                                     struct ag__llm_http_res *res);
/* Parses a Retry-After value (delay-seconds, or an HTTP-date) into ms from now;
 * -1 when absent or malformed. */
int64_t ag__llm_retry_after_ms(const char *value, int64_t now_wall_ms);

#endif
