/* Circuit breakers around outbound dependencies (the state store, the ledger, the LLM
 * endpoint, each notifier). Ownership: ag_breaker is an opaque handle
 * (ag_breaker_new/ag_breaker_free); a struct ag_breaker_call lives on the caller's stack
 * for one call; names and stats are copied out, never borrowed.
 *
 * The mechanism sits in src/core (not src/health) because the store and the ledger,
 * which sit below the health module, wrap their own calls with it.
 *
 * Use, for any dependency (an LLM client, a notifier):
 *
 *     struct ag_breaker_config bc;
 *     ag_breaker_config_from(cfg, "llm", &bc);          // breaker.llm.* settings
 *     ag_breaker *b;
 *     if (ag_breaker_new("llm", &bc, &b) != AG_OK) ...
 *     struct ag_breaker_call call;
 *     if (!ag_breaker_allow(b, &call))                  // open: answer at once
 *         return ag__fail(AG_EIO, "llm: %s", call.why);  // the module's own code
 *     ag_err e = do_the_http_call(...);
 *     ag_breaker_done(b, &call, e == AG_OK, e ? ag_last_error() : NULL);
 *
 * A NULL breaker allows every call: code can wrap calls whether or not one is set. */
#ifndef AGENTGOV_BREAKER_H
#define AGENTGOV_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/config.h"
#include "agentgov/err.h"

typedef struct ag_breaker ag_breaker;

enum ag_breaker_state {
    AG_BREAKER_CLOSED = 0,    /* calls go through; failures are counted */
    AG_BREAKER_OPEN = 1,      /* calls are refused at once until the cool-down ends */
    AG_BREAKER_HALF_OPEN = 2, /* a bounded number of probe calls go through */
};

/* "closed", "open", "half_open". */
const char *ag_breaker_state_name(enum ag_breaker_state s);

struct ag_breaker_config {
    int failures;            /* consecutive failures that open it (0: this rule is off) */
    int ratio_pct;           /* failure percentage over the window that opens it (0: off) */
    int min_calls;           /* calls the window must hold before the ratio applies */
    int64_t window_ms;       /* the sliding window of the ratio rule */
    int64_t cooldown_ms;     /* open -> half-open after this long */
    int64_t cooldown_max_ms; /* each failed probe doubles the cool-down, up to this */
    int probes;              /* probe calls allowed at once while half-open (>= 1) */
};

/* Defaults: 5 consecutive failures, or 50% of at least 20 calls in 10 s; 1 s cool-down
 * doubling to 30 s; 1 probe. */
void ag_breaker_config_default(struct ag_breaker_config *c);
/* Reads breaker.<dep>.failures, .ratio, .window, .cooldown, .cooldown_max and .probes
 * from the settings table; a dep without rows there (or c NULL) gets the defaults. */
void ag_breaker_config_from(const ag_config *c, const char *dep, struct ag_breaker_config *out);

/* A breaker named dep (at most 63 bytes: "store", "ledger", "llm", "notify.slack").
 * It joins the process-wide registry (ag_breaker_foreach) until freed. AG_EINVAL for a
 * bad name or config. */
AG_MUST_USE ag_err ag_breaker_new(const char *dep, const struct ag_breaker_config *cfg,
                                  ag_breaker **out);
void ag_breaker_free(ag_breaker *b);
const char *ag_breaker_name(const ag_breaker *b);

/* The clock every decision reads, in ms (default: the monotonic clock). Tests inject
 * their own; fn(ctx) must be safe to call from any thread. */
void ag_breaker_set_clock(ag_breaker *b, int64_t (*fn)(void *ctx), void *ctx);

/* Told of every state change, after the breaker's lock is released (so it may append
 * to a ledger that has a breaker of its own). why says what moved it ("5 consecutive
 * failures: <last error>", "cool-down of 1s elapsed", "probe succeeded"). */
typedef void (*ag_breaker_change_cb)(void *ctx, ag_breaker *b, enum ag_breaker_state from,
                                     enum ag_breaker_state to, const char *why);
void ag_breaker_on_change(ag_breaker *b, ag_breaker_change_cb cb, void *ctx);

/* One guarded call. */
struct ag_breaker_call {
    uint64_t gen;     /* the breaker's generation when admitted */
    int probe;        /* admitted as a half-open probe */
    int admitted;     /* ag_breaker_allow said yes */
    int64_t retry_ms; /* refused: how long until the breaker lets a probe through */
    char why[256];    /* refused: "circuit breaker 'store' is open (retry in 750 ms)" */
};

/* 1 when the call may go ahead; 0 when it must be refused at once (call->why says
 * why). Every admitted call must be followed by ag_breaker_done. */
int ag_breaker_allow(ag_breaker *b, struct ag_breaker_call *call);
/* The outcome of an admitted call: ok 1 for success (the dependency answered, even with
 * a refusal of its own), 0 for a failure of the dependency (unreachable, timed out, I/O
 * error). detail (may be NULL) is kept as the last error. */
void ag_breaker_done(ag_breaker *b, struct ag_breaker_call *call, int ok, const char *detail);

struct ag_breaker_stats {
    char dep[64];
    enum ag_breaker_state state;
    int64_t since_ms;         /* clock time of the last transition (or creation) */
    int64_t retry_in_ms;      /* open: time left of the cool-down; else 0 */
    int64_t cooldown_ms;      /* the current cool-down (grows with failed probes) */
    int consecutive_failures; /* in the closed state */
    int window_calls, window_failures;
    uint64_t transitions; /* every state change */
    uint64_t opens;       /* closed/half-open -> open */
    uint64_t rejected;    /* calls refused while open or half-open */
    uint64_t failures;    /* calls that failed */
    uint64_t successes;   /* calls that succeeded */
    char last_error[160]; /* detail of the last failure, "" if none */
};
void ag_breaker_stats(ag_breaker *b, struct ag_breaker_stats *out);

/* Calls fn for each live breaker, in creation order, with a snapshot of its stats
 * (the registry's lock is held: fn must not create or free breakers). */
void ag_breaker_foreach(void (*fn)(void *ctx, const struct ag_breaker_stats *st), void *ctx);

#endif
