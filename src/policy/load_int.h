/* The policy loader's internals shared by its files (load.c, load_mcp.c): the load
 * context, its problem list, and the helpers that check a node and report at its
 * position. Ownership: strings copied by ag__pl_copy_text live in the policy's arena. */
#ifndef AG_POLICY_LOAD_INT_H
#define AG_POLICY_LOAD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "policy/policy_int.h"
#include "policy/yaml.h"

struct problem {
    int line, col;
    size_t seq;
    char *msg;
};

struct lctx {
    const char *name;
    ag_policy *p;
    struct problem *probs;
    size_t nprobs, cap;
    int oom;
};

void ag__pl_problem_at(struct lctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define PROBLEM(c, node, ...) ag__pl_problem_at((c), (node)->line, (node)->col, __VA_ARGS__)
/* 1 when n is of type (reported as a problem naming `what` otherwise). */
int ag__pl_want(struct lctx *c, const struct ag__ynode *n, enum ag__ytype type, const char *what);
int ag__pl_get_bool(struct lctx *c, const struct ag__ynode *n, const char *what, int *out);
int ag__pl_get_duration(struct lctx *c, const struct ag__ynode *n, const char *what, int64_t *out);
char *ag__pl_copy_text(struct lctx *c, const struct ag__ynode *n);
/* Reports every key of map that is not in allowed (NULL-terminated). */
void ag__pl_check_keys(struct lctx *c, const struct ag__ynode *map, const char *const *allowed,
                       const char *where);
/* load_mcp.c: the `mcp:` section. */
void ag__pl_load_mcp(struct lctx *c, const struct ag__ynode *v);

#endif
