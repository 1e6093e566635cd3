/* The governed lifecycle's shared helpers (boot codes, budget triggers, results, the
 * packet in force). Its steps live one per file: bootstrap.c, transition.c, authorize.c,
 * budget.c, revoke.c. Each step is one atomic ag_store_exec where the seed made
 * several round trips; the lock value (fence + owner) guards every write a running
 * agent makes, so a holder whose lock expired and was taken cannot write. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/safestr.h"
#include "core/time.h"
#include "gov/gov.h"
#include "gov/lifecycle.h"
#include "gov/packet.h"

static const char *const boot_names[] = {
#define AG__BOOT_STR(n, s) s,
    AG_BOOT_MAP(AG__BOOT_STR)
#undef AG__BOOT_STR
};

const char *ag_boot_code_name(enum ag_boot_code c)
{
    return c >= 0 && c < AG_BOOT_COUNT ? boot_names[c] : "";
}

void ag_bootstrap_result_clear(struct ag_bootstrap_result *r)
{
    free(r->task_id);
    free(r->handoff_json);
    memset(r, 0, sizeof *r);
}

const char *ag__budget_trigger(const struct ag_error_budget *b, int64_t total, int64_t same,
                               int64_t violations)
{
    if (violations > 0 && violations >= b->max_procedure_violations)
        return "PROCEDURE_VIOLATION";
    if (same >= b->max_same_error_repeats)
        return "ERROR_REPEATED";
    if (total >= b->max_total_errors)
        return "ERROR_BUDGET_EXCEEDED";
    return NULL;
}

int64_t ag__hfield(const struct ag_store_reply *r, const char *field)
{
    for (size_t i = 0; r->type == AG_REPLY_ARRAY && i + 1 < r->nelems; i += 2)
        if (r->elems[i].str && strcmp(r->elems[i].str, field) == 0)
            return r->elems[i + 1].str ? strtoll(r->elems[i + 1].str, NULL, 10) : 0;
    return 0;
}

void ag__lockval(const struct ag__session *s, char *buf)
{
    ag_store_lock_value(s->fence, s->owner, buf, AG__LOCKVAL_MAX);
}

void ag__set_result(struct ag_transition_result *r, enum ag_reason why, const char *fmt, ...)
{
    r->ok = 0;
    r->reason = why;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

/* Text as the ledger can hold it: s itself when it is UTF-8, else a copy in buf with
 * the bad bytes as %XX (a request refused as invalid, an error message, is still recorded). */
const char *ag__ledger_text(const char *s, char *buf, size_t cap)
{
    if (ag__utf8_valid(s, strlen(s)))
        return s;
    ag__utf8_safe_copy(buf, cap, s);
    return buf;
}

/* The packet in force for a session: cached by digest, else read and parsed. */
struct ag__pkt *ag__packet_for(ag_gov *g, const char *agent, const char *digest)
{
    struct ag__pkt *pk = digest && *digest ? ag__gov_packet_get(g, digest, NULL) : NULL;
    if (pk)
        return pk;
    char key[AG__KEY_MAX], *v = NULL;
    ag__key_agent(key, agent, "packet");
    if (ag_store_get(g->store, key, &v))
        return NULL;
    if (!v) {
        (void)ag__fail(AG_ENOTFOUND, "agent '%s' has no instruction packet", agent);
        return NULL;
    }
    pk = ag__gov_packet_get(g, NULL, v);
    free(v);
    return pk;
}
