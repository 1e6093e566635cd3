/* Canonical form of a ledger row. The key order is fixed (the column names sorted by
 * UTF-16 code units, which for these ASCII names is bytewise order), so the row is
 * written directly instead of through a json_t; only the data column goes through the
 * generic JCS serialiser. A unit test checks the result against ag__jcs_dump. */
#include "ledger/row.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/jcs.h"

static const struct {
    const char *name;
    enum ag__coltype type;
} cols[] = {
#define AG__COL_DEF(id, name, type) {#name, AG__T_##type},
    AG__LEDGER_COLUMNS(AG__COL_DEF)
#undef AG__COL_DEF
};

static enum ag__col order[AG__COL_COUNT];
static char keys[AG__COL_COUNT][32]; /* "\"name\":" for each column */
static size_t keylen[AG__COL_COUNT];
static pthread_once_t order_once = PTHREAD_ONCE_INIT;

static int name_cmp(const void *a, const void *b)
{
    return strcmp(cols[*(const enum ag__col *)a].name, cols[*(const enum ag__col *)b].name);
}

static void init_order(void)
{
    for (int i = 0; i < AG__COL_COUNT; i++)
        order[i] = (enum ag__col)i;
    qsort(order, AG__COL_COUNT, sizeof order[0], name_cmp);
    for (int i = 0; i < AG__COL_COUNT; i++)
        keylen[i] = (size_t)snprintf(keys[i], sizeof keys[i], "\"%s\":", cols[i].name);
}

const char *ag__col_name(enum ag__col c)
{
    return cols[c].name;
}

enum ag__coltype ag__col_type(enum ag__col c)
{
    return cols[c].type;
}

void ag__row_clear(struct ag__ledger_row *r)
{
    memset(r, 0, sizeof *r); /* AG__V_NULL is 0 */
}

void ag__row_text(struct ag__ledger_row *r, enum ag__col c, const char *s)
{
    r->v[c].type = s ? AG__V_TEXT : AG__V_NULL;
    r->v[c].s = s;
    r->v[c].len = s ? strlen(s) : 0;
}

void ag__row_int(struct ag__ledger_row *r, enum ag__col c, int64_t i)
{
    r->v[c].type = AG__V_INT;
    r->v[c].i = i;
}

/* The data column must hold a JSON object already in canonical form, so that its
 * stored text is exactly the bytes that were hashed. */
static ag_err append_data(const struct ag__value *v, struct ag_buf *out)
{
    json_error_t jerr;
    json_t *j = json_loadb(v->s, v->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (j == NULL)
        return ag__fail(AG_ETAMPER, "column data: not JSON: %s", jerr.text);
    size_t start = out->len;
    /* AG_JCS_INT64: rows written before integers were limited to +-2^53 hold their
     * exact digits, and their hash covers them. Appends refuse such integers. */
    ag_err err = json_is_object(j) ? ag__jcs_append(out, j, AG_JCS_NO_FLOATS | AG_JCS_INT64)
                                   : ag__fail(AG_ETAMPER, "column data: not a JSON object");
    json_decref(j);
    if (err)
        return err == AG_ETAMPER ? err : ag__fail_wrap(AG_ETAMPER, "column data");
    if (out->len - start != v->len || memcmp(out->data + start, v->s, v->len) != 0)
        return ag__fail(AG_ETAMPER, "column data: stored text is not in canonical form");
    return AG_OK;
}

/* Decimal form of i (the hot path: printf costs more than the rest of a column). */
static void append_int(struct ag_buf *out, int64_t i)
{
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0)
        *--p = '-';
    ag__buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
}

static ag_err append_value(const struct ag__ledger_row *r, enum ag__col c, struct ag_buf *out)
{
    const struct ag__value *v = &r->v[c];
    switch (v->type) {
    case AG__V_NULL:
        ag__buf_puts(out, "null");
        return AG_OK;
    case AG__V_INT:
        append_int(out, v->i);
        return AG_OK;
    case AG__V_TEXT:
        if (cols[c].type == AG__T_JSON && r->data_is_canonical) {
            ag__buf_append(out, v->s, v->len);
            return AG_OK;
        }
        if (cols[c].type == AG__T_JSON)
            return append_data(v, out);
        if (ag__jcs_string(out, v->s, v->len) != AG_OK)
            return ag__fail(AG_ETAMPER, "column %s: not valid UTF-8", cols[c].name);
        return AG_OK;
    case AG__V_OTHER:
        break;
    }
    return ag__fail(AG_ETAMPER, "column %s: holds a REAL or BLOB", cols[c].name);
}

ag_err ag__row_canonical(const struct ag__ledger_row *r, int with_hash, struct ag_buf *out)
{
    pthread_once(&order_once, init_order);
    ag__buf_putc(out, '{');
    int first = 1;
    for (int i = 0; i < AG__COL_COUNT; i++) {
        enum ag__col c = order[i];
        if (c == AG__COL_HASH && !with_hash)
            continue;
        if (!first)
            ag__buf_putc(out, ',');
        first = 0;
        ag__buf_append(out, keys[c], keylen[c]);
        ag_err err = append_value(r, c, out);
        if (err)
            return err;
    }
    ag__buf_putc(out, '}');
    return ag__buf_status(out);
}

ag_err ag__row_hash(const struct ag__ledger_row *r, struct ag_buf *scratch,
                    char hash[AG_HASH_HEX_LEN])
{
    ag__buf_reset(scratch);
    ag_err err = ag__row_canonical(r, 0, scratch);
    if (err)
        return err;
    ag__sha256_hex(scratch->data, scratch->len, hash);
    return AG_OK;
}
