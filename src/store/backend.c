#include "store/backend.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static const char *const opnames[] = {
    [AG_OP_GET] = "GET",         [AG_OP_SET] = "SET",
    [AG_OP_SETNX] = "SETNX",     [AG_OP_DEL] = "DEL",
    [AG_OP_PEXPIRE] = "PEXPIRE", [AG_OP_PTTL] = "PTTL",
    [AG_OP_INCRBY] = "INCRBY",   [AG_OP_HSET] = "HSET",
    [AG_OP_HGET] = "HGET",       [AG_OP_HDEL] = "HDEL",
    [AG_OP_HINCRBY] = "HINCRBY", [AG_OP_HGETALL] = "HGETALL",
    [AG_OP_RPUSH] = "RPUSH",     [AG_OP_LPUSH] = "LPUSH",
    [AG_OP_LRANGE] = "LRANGE",   [AG_OP_LTRIM] = "LTRIM",
    [AG_OP_LLEN] = "LLEN",       [AG_OP_ZADD] = "ZADD",
    [AG_OP_ZREM] = "ZREM",       [AG_OP_ZRANGEBYSCORE] = "ZRANGEBYSCORE",
    [AG_OP_ZSCORE] = "ZSCORE",
};

const char *ag__store_opname(enum ag_store_opcode op)
{
    if ((unsigned)op >= sizeof opnames / sizeof opnames[0] || opnames[op] == NULL)
        return "?";
    return opnames[op];
}

/* What each opcode needs besides a key. */
enum { NEED_FIELD = 1, NEED_VALUE = 2, NUM_IS_TTL = 4, NUM_IS_POSITIVE = 8 };

static int op_needs(enum ag_store_opcode op)
{
    switch (op) {
    case AG_OP_SET:
    case AG_OP_SETNX:
        return NEED_VALUE | NUM_IS_TTL;
    case AG_OP_PEXPIRE:
        return NUM_IS_POSITIVE;
    case AG_OP_HSET:
        return NEED_FIELD | NEED_VALUE;
    case AG_OP_HGET:
    case AG_OP_HDEL:
    case AG_OP_HINCRBY:
    case AG_OP_ZADD:
    case AG_OP_ZREM:
    case AG_OP_ZSCORE:
        return NEED_FIELD;
    case AG_OP_RPUSH:
    case AG_OP_LPUSH:
        return NEED_VALUE;
    default:
        return 0;
    }
}

ag_err ag__store_validate_ops(const struct ag_store_op *ops, size_t n)
{
    if (n > 0 && ops == NULL)
        return ag__fail(AG_EINVAL, "store: %zu ops but no op array", n);
    for (size_t i = 0; i < n; i++) {
        const struct ag_store_op *o = &ops[i];
        const char *name = ag__store_opname(o->op);
        if (name[0] == '?')
            return ag__fail(AG_EINVAL, "store: op %zu: unknown opcode %d", i, (int)o->op);
        if (o->key == NULL || o->key[0] == '\0')
            return ag__fail(AG_EINVAL, "store: op %zu (%s): missing key", i, name);
        int need = op_needs(o->op);
        if ((need & NEED_FIELD) && o->field == NULL)
            return ag__fail(AG_EINVAL, "store: op %zu (%s %s): missing field", i, name, o->key);
        if ((need & NEED_VALUE) && o->value == NULL)
            return ag__fail(AG_EINVAL, "store: op %zu (%s %s): missing value", i, name, o->key);
        if ((need & NEED_VALUE) && strnlen(o->value, AG_STORE_VALUE_MAX + 1) > AG_STORE_VALUE_MAX)
            return ag__fail(AG_EINVAL, "store: op %zu (%s %s): value longer than %u bytes", i, name,
                            o->key, AG_STORE_VALUE_MAX);
        if ((need & (NUM_IS_TTL | NUM_IS_POSITIVE)) && o->num > AG_STORE_TTL_MAX_MS)
            return ag__fail(AG_EINVAL,
                            "store: op %zu (%s %s): TTL %lld ms is over the maximum %lld", i, name,
                            o->key, (long long)o->num, (long long)AG_STORE_TTL_MAX_MS);
        if ((need & NUM_IS_TTL) && o->num < 0)
            return ag__fail(AG_EINVAL, "store: op %zu (%s %s): negative TTL %lld", i, name, o->key,
                            (long long)o->num);
        if ((need & NUM_IS_POSITIVE) && o->num <= 0)
            return ag__fail(AG_EINVAL, "store: op %zu (%s %s): TTL must be > 0, got %lld", i, name,
                            o->key, (long long)o->num);
    }
    return AG_OK;
}

void ag__reply_int(struct ag_store_reply *r, int64_t v)
{
    r->type = AG_REPLY_INT;
    r->integer = v;
}

ag_err ag__reply_str(struct ag_store_reply *r, const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return ag__fail(AG_ENOMEM, "store: out of memory for a %zu-byte reply", len);
    if (len)
        memcpy(copy, s, len);
    copy[len] = '\0';
    r->type = AG_REPLY_STR;
    r->str = copy;
    r->len = len;
    return AG_OK;
}

ag_err ag__reply_array(struct ag_store_reply *r, size_t n)
{
    r->type = AG_REPLY_ARRAY;
    r->nelems = 0;
    r->elems = calloc(n ? n : 1, sizeof *r->elems);
    if (r->elems == NULL)
        return ag__fail(AG_ENOMEM, "store: out of memory for a %zu-element reply", n);
    r->nelems = n;
    return AG_OK;
}

ag_err ag__strv_push(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, ncap * sizeof *nv);
        if (nv == NULL)
            return ag__fail(AG_ENOMEM, "store: out of memory listing keys");
        *v = nv;
        *cap = ncap;
    }
    char *copy = strndup(s, len);
    if (copy == NULL)
        return ag__fail(AG_ENOMEM, "store: out of memory listing keys");
    (*v)[(*n)++] = copy;
    return AG_OK;
}
