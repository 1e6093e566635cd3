/* Clocks, timestamps and durations. Ownership: callers pass their own buffers. */
#ifndef AG_CORE_TIME_H
#define AG_CORE_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"

/* Milliseconds since the Unix epoch (wall clock; may jump). */
int64_t ag__wall_ms(void);
/* Milliseconds from CLOCK_MONOTONIC: use for durations and expiry checks in-process. */
int64_t ag__mono_ms(void);
/* Nanoseconds from CLOCK_MONOTONIC, for benchmarks and latency histograms. */
int64_t ag__mono_ns(void);

/* Formats wall-clock ms as RFC 3339 UTC with milliseconds: 2026-11-25T12:00:00.123Z.
 * buf must hold at least AG_RFC3339_LEN bytes. */
#define AG_RFC3339_LEN 64
void ag__rfc3339(int64_t wall_ms, char *buf);
/* Parses an RFC 3339 timestamp (Z or ±hh:mm offset, optional fraction) into ms. */
AG_MUST_USE ag_err ag__parse_rfc3339(const char *s, int64_t *wall_ms);

/* Parses a duration such as "90", "90s", "15m", "1h", "2d", "1h30m", "250ms" into ms.
 * A bare number means seconds. Rejects negatives, overflow and trailing junk. */
AG_MUST_USE ag_err ag__parse_duration(const char *s, int64_t *ms);
/* Formats ms as the shortest exact duration string ("1h", "15m", "90s", "250ms"). */
void ag__format_duration(int64_t ms, char *buf, size_t len);

#endif
