/* llm.prices: see price.h. Prices are kept as integers (micro-USD per million tokens)
 * because the ledger's hashed records hold no floating-point numbers. */
#include "llm/price.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* "0.15" -> 150000 (micro-USD). At most 6 decimals, at most 10^6 USD. */
static int parse_usd(const char *s, size_t len, int64_t *out)
{
    int64_t whole = 0, frac = 0;
    int nfrac = 0, ndig = 0;
    size_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndig++) {
        whole = whole * 10 + (s[i] - '0');
        if (whole > 1000000)
            return -1;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, ndig++) {
            if (++nfrac > 6)
                return -1;
            frac = frac * 10 + (s[i] - '0');
        }
    }
    if (i != len || ndig == 0)
        return -1;
    while (nfrac++ < 6)
        frac *= 10;
    *out = whole * 1000000 + frac;
    return 0;
}

void ag__llm_prices_free(struct ag__llm_prices *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].model);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

ag_err ag__llm_prices_parse(const char *text, struct ag__llm_prices *out)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return AG_OK;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len),
                   *sl = eq ? memchr(eq, '/', len - (size_t)(eq - p)) : NULL;
        int64_t in, outp;
        if (!eq || eq == p || !sl || parse_usd(eq + 1, (size_t)(sl - eq - 1), &in) ||
            parse_usd(sl + 1, len - (size_t)(sl - p) - 1, &outp)) {
            ag__llm_prices_free(out);
            return ag__fail(AG_EINVAL,
                            "llm.prices: entry '%.*s': expected model=IN/OUT (USD per "
                            "million tokens, e.g. gpt-4o-mini=0.15/0.6)",
                            (int)len, p);
        }
        struct ag__llm_price *nv = realloc(out->v, (out->n + 1) * sizeof *nv);
        char *m = nv ? strndup(p, (size_t)(eq - p)) : NULL;
        if (!m) {
            if (nv)
                out->v = nv;
            ag__llm_prices_free(out);
            return ag__fail(AG_ENOMEM, "llm.prices: out of memory");
        }
        out->v = nv;
        out->v[out->n++] = (struct ag__llm_price){m, in, outp};
        p = end ? end + 1 : p + len;
    }
    return AG_OK;
}

int64_t ag__llm_cost(const struct ag__llm_prices *p, const char *model, int64_t prompt_tokens,
                     int64_t completion_tokens)
{
    for (size_t i = 0; p && model && i < p->n; i++)
        if (strcmp(p->v[i].model, model) == 0) {
            /* tokens * micro-USD per 10^6 tokens; ceil so that many small calls add up. */
            __int128 num = (__int128)prompt_tokens * p->v[i].in_microusd +
                           (__int128)completion_tokens * p->v[i].out_microusd;
            return (int64_t)((num + 999999) / 1000000);
        }
    return 0;
}
