/* The per-model price table of llm.prices. Ownership: struct ag__llm_prices is
 * caller-owned (ag__llm_prices_parse fills it, ag__llm_prices_free releases it). */
#ifndef AG_LLM_PRICE_H
#define AG_LLM_PRICE_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"

struct ag__llm_price {
    char *model;
    int64_t in_microusd, out_microusd; /* per million tokens */
};

struct ag__llm_prices {
    struct ag__llm_price *v;
    size_t n;
};

/* Parses "model=IN/OUT,..." (USD per million tokens, up to 6 decimals). AG_EINVAL
 * naming the entry on a bad one. text may be NULL or empty. */
AG_MUST_USE ag_err ag__llm_prices_parse(const char *text, struct ag__llm_prices *out);
void ag__llm_prices_free(struct ag__llm_prices *p);
/* Cost of a call in micro-USD, rounded up (a call is never free by rounding); 0 for a
 * model not in the table. */
int64_t ag__llm_cost(const struct ag__llm_prices *p, const char *model, int64_t prompt_tokens,
                     int64_t completion_tokens);

#endif
