/* Configuration: one table of settings (name, type, default, bounds), one parser for
 * `key = value` files, one dump. Ownership: ag_config is an opaque handle
 * (ag_config_new/ag_config_free); strings it returns live as long as the handle. */
#ifndef AGENTGOV_CONFIG_H
#define AGENTGOV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"

typedef struct ag_config ag_config;

enum ag_config_type { AG_CFG_STRING, AG_CFG_INT, AG_CFG_DURATION, AG_CFG_BOOL, AG_CFG_ENUM };

/* One row of the settings table. */
struct ag_config_def {
    const char *name;
    enum ag_config_type type;
    const char *def;     /* default, as text */
    int64_t min, max;    /* bounds for INT (value) and DURATION (ms); max for
                          * STRING: longest length (0: any) */
    const char *choices; /* "a|b|c" for ENUM */
    const char *help;
};

/* A handle holding every setting at its default. */
AG_MUST_USE ag_err ag_config_new(ag_config **out);
void ag_config_free(ag_config *c);
/* Reads `key = value` lines (# comments, blank lines) from path. A missing file is
 * not an error when optional is set. Errors name path:line and the key. */
AG_MUST_USE ag_err ag_config_load_file(ag_config *c, const char *path, int optional);
/* Sets one value from text, validated against the table (unknown key, bad type,
 * out of bounds, unknown choice: AG_EINVAL with the reason in ag_last_error()). */
AG_MUST_USE ag_err ag_config_set(ag_config *c, const char *name, const char *value);

/* Typed getters; the name must be in the table (an unknown name returns the zero
 * value: a programming error, caught by the tests). */
const char *ag_config_str(const ag_config *c, const char *name);
int64_t ag_config_int(const ag_config *c, const char *name); /* INT, BOOL (0/1) */
int64_t ag_config_ms(const ag_config *c, const char *name);  /* DURATION in ms */
/* Where a value came from: "default", or "path:line". */
const char *ag_config_origin(const ag_config *c, const char *name);

/* The table itself, for `agentgov config` and docs. */
const struct ag_config_def *ag_config_table(size_t *n);

#endif
