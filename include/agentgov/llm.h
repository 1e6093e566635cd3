/* An OpenAI-compatible chat client with replay and record, metered and ledgered per
 * call. Ownership: ag_llm is an opaque handle (ag_llm_new/ag_llm_free) that borrows its
 * ledger and, when given, its gov handle (both must outlive it); opts strings are
 * copied; a struct ag_llm_result is caller-owned and released by ag_llm_result_clear.
 *
 * One call: POST {base}/chat/completions with {"model","messages","tools"?,
 * "response_format"?,"stream":false} (docs/llm.md shows the exact bytes), an
 * Authorization: Bearer header when a key is set, HTTP-Referer and X-Title when
 * configured. 429 and 5xx answers and transport errors are retried with exponential
 * backoff (a Retry-After header wins when present, capped); failed calls open the
 * handle's circuit breaker ("llm", agentgov/breaker.h), which then refuses calls at
 * once until its cool-down ends and a probe succeeds. Every call that
 * reached a verdict is ledgered (kind "llm": model, usage, cost, request and response as
 * SHA-256 digests, the text only with log_content) and its usage is counted in the state
 * store (agent:{id}:llm and task:{id}:llm hashes) when a gov handle is set; when the
 * agent's packet sets an llm_budget and the call passes it, the agent is revoked
 * through the gov layer, like any exhausted budget.
 *
 * Thread safety: one handle may serve several threads (the curl handle is per call;
 * counters and the breaker are under a mutex). */
#ifndef AGENTGOV_LLM_H
#define AGENTGOV_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/auth.h"
#include "agentgov/breaker.h"
#include "agentgov/config.h"
#include "agentgov/err.h"
#include "agentgov/gov.h"
#include "agentgov/ledger.h"

typedef struct ag_llm ag_llm;

struct ag_llm_opts {
    /* "http(s)://host/v1" (the base; /chat/completions is appended), or
     * "replay:FILE" (answers from a JSONL file written by record, no network). */
    const char *provider;
    const char *record_path;    /* non-NULL: append every exchange to this JSONL file */
    const char *model;          /* required */
    const char *api_key;        /* the key itself (see ag_llm_key_resolve); NULL = none */
    const char *referer;        /* OpenRouter's HTTP-Referer; NULL = not sent */
    const char *title;          /* OpenRouter's X-Title; NULL = not sent */
    int64_t connect_timeout_ms; /* 0 = 5000 */
    int64_t timeout_ms;         /* whole request; 0 = 120000 */
    int retries;                /* extra attempts on 429/5xx/transport errors; -1 = 0 */
    int64_t backoff_ms;         /* first backoff, doubled each time; 0 = 500 */
    int64_t backoff_max_ms;     /* cap of a backoff and of Retry-After; 0 = 30000 */
    /* The breaker around the endpoint (agentgov/breaker.h; breaker.llm.* settings):
     * all zero = ag_breaker_config_default. Replay has none. */
    struct ag_breaker_config breaker;
    /* Prices: "model=IN/OUT,model2=IN/OUT", USD per million prompt/completion tokens
     * (decimals allowed, e.g. "gpt-4o-mini=0.15/0.6"). Unknown models cost 0. */
    const char *prices;
    int log_content;   /* 1: the ledger keeps prompt and completion text */
    ag_ledger *ledger; /* required: there is no unaudited call */
    ag_gov *gov;       /* NULL: usage is only counted in this handle */
    ag_store *store;   /* the gov handle's store: usage counters and packets (with gov) */
};

/* Fills opts from the llm.* settings (provider from llm.base_url, model, referer,
 * title, timeouts, retries, backoff, prices, log_content) and breaker.llm.*; strings
 * are borrowed from cfg. The key is not read here: see ag_llm_key_resolve. */
void ag_llm_opts_from_config(const ag_config *cfg, struct ag_llm_opts *o);

/* Reads an API key named "kv:<path>#<field>" from the KV secret store with token
 * (a secret.read, decided and ledgered by the auth engine). *key is malloc'd; wipe
 * and free it. AG_EINVAL for a reference of another form (a literal key is refused: it
 * would end up in config files and process listings). */
AG_MUST_USE ag_err ag_llm_key_resolve(ag_auth *a, const char *token, const char *ref, char **key);

AG_MUST_USE ag_err ag_llm_new(const struct ag_llm_opts *o, ag_llm **out);
void ag_llm_free(ag_llm *l);

/* One chat completion. */
struct ag_llm_call {
    const char *agent_id;      /* who is metered; required */
    const char *task_id;       /* NULL = none */
    const char *messages_json; /* a JSON array of OpenAI messages; required */
    const char *tools_json;    /* a JSON array of tool definitions, or NULL */
    int json_mode;             /* 1: response_format {"type":"json_object"} */
    int64_t deadline_mono_ms;  /* 0: none; else no attempt runs past this (monotonic ms) */
};

struct ag_llm_result {
    char *message_json;  /* the assistant message object (content, tool_calls) */
    char *finish_reason; /* "stop", "tool_calls", ... ("" when absent) */
    int64_t prompt_tokens, completion_tokens;
    int64_t cost_microusd;
    int attempts;       /* HTTP attempts made (0 for replay) */
    int64_t ledger_seq; /* the call's ledger entry */
    int revoked;        /* 1: this call exhausted the agent's llm_budget: revoked */
};
void ag_llm_result_clear(struct ag_llm_result *r);

/* Runs a call. AG_OK with r filled; AG_ELIMIT when the agent's llm_budget was already
 * spent (refused without a request); AG_ESTATE when the breaker is open (refused at
 * once); AG_ETIMEOUT/AG_EIO when every attempt failed; AG_EPERM/AG_EINVAL for a 4xx
 * answer; AG_EPARSE for an answer that is not a chat completion; AG_ENOTFOUND for a
 * replay without this request; AG_ELEDGER when the call could not be recorded (its
 * answer is then withheld). A call that exhausted the budget still returns AG_OK with
 * r->revoked set: the answer is the caller's, the agent may not make another. */
AG_MUST_USE ag_err ag_llm_chat(ag_llm *l, const struct ag_llm_call *c, struct ag_llm_result *r);

/* Usage counted by this handle. */
struct ag_llm_usage {
    int64_t calls, prompt_tokens, completion_tokens, cost_microusd, failures;
};
void ag_llm_usage_total(ag_llm *l, struct ag_llm_usage *u);
/* "closed", "open" or "half_open" ("closed" for replay, which has no breaker). */
const char *ag_llm_breaker_state(ag_llm *l);

/* The digest that keys a replay file: SHA-256 of the RFC 8785 form of the request body
 * minus nothing (model, messages, tools, response_format, stream). out: 65 bytes. */
AG_MUST_USE ag_err ag_llm_request_digest(const char *body_json, char out[65]);

#endif
