/* A small YAML document tree with 1-based line:column positions on every node, built
 * from libfyaml's event API (Debian's libfyaml 0.7.12 has no fy_node_get_start_mark).
 * Ownership: every node and string lives in the arena passed to ag__yaml_parse. */
#ifndef AG_POLICY_YAML_H
#define AG_POLICY_YAML_H

#include <stddef.h>

#include "agentgov/err.h"
#include "policy/arena.h"

enum ag__ytype { AG__Y_SCALAR, AG__Y_MAP, AG__Y_SEQ };

struct ag__ynode {
    enum ag__ytype type;
    int line, col;    /* 1-based position of the node's first character */
    const char *text; /* scalar text, NUL-terminated */
    size_t len;
    int is_null; /* an empty plain scalar (`key:` with no value) */
    int quoted;  /* a quoted or block scalar */
    /* MAP: n pairs as items[2*i] (key) and items[2*i+1] (value); SEQ: n items. */
    struct ag__ynode **items;
    size_t n;
};

/* Parses one YAML document. On a syntax error returns AG_EPARSE with ag_last_error()
 * set to "name:line:col: message"; an empty stream gives *root = NULL and AG_OK. */
AG_MUST_USE ag_err ag__yaml_parse(struct ag__arena *a, const char *name, const char *buf,
                                  size_t len, struct ag__ynode **root);

/* In a MAP: the value of the first key equal to key, or NULL. */
struct ag__ynode *ag__yaml_get(const struct ag__ynode *map, const char *key);

#endif
