/* Daemon log: one line per event on stderr, as text or JSON. Ownership: the logger is
 * process-wide state set by ag__log_setup; callers pass strings that are only read. */
#ifndef AG_SERVER_LOG_H
#define AG_SERVER_LOG_H

#include <stdint.h>

enum ag__log_format { AG_LOG_TEXT = 0, AG_LOG_JSON = 1 };
enum ag__log_level { AG_LOG_DEBUG = 0, AG_LOG_INFO = 1, AG_LOG_WARN = 2, AG_LOG_ERROR = 3 };

/* Chooses the format and the lowest level written; request lines are written at
 * info, so --log-level warn silences them (for benchmarks). */
void ag__log_setup(enum ag__log_format fmt, enum ag__log_level min_level);
/* Parses "text"/"json" and "debug"/"info"/"warn"/"error"; -1 when unknown. */
int ag__log_format_parse(const char *s);
int ag__log_level_parse(const char *s);
int ag__log_enabled(enum ag__log_level level);

/* One event: a short event name ("start", "reload", ...) and a message. */
void ag__log(enum ag__log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One finished request. */
struct ag__log_request {
    const char *method;
    const char *path;
    const char *route; /* route name, "-" when none matched */
    int status;
    int64_t duration_us;
    const char *remote; /* peer address or "unix" */
    const char *agent;  /* agent id of the token, or NULL */
    const char *error;  /* first error message of a 4xx/5xx, or NULL */
};
void ag__log_request(const struct ag__log_request *r);

#endif
