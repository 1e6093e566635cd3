/* libFuzzer target: the JSON path the ledger takes. The input is parsed as jansson is
 * asked to by the ledger (duplicates rejected, NUL allowed), serialised with JCS
 * (RFC 8785) with and without floats, and the canonical text must be a fixed point
 * (parsing and serialising it again gives the same bytes). The raw bytes also go
 * through the string escaper, the UTF-8 check and the ledger row's canonical form as
 * verification sees a stored (possibly tampered) data column. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jcs.h"
#include "ledger/row.h"

static void fixed_point(const char *text)
{
    json_t *again = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (again == NULL)
        abort(); /* the canonical form must be JSON */
    char *text2 = NULL;
    if (ag__jcs_dump(again, 0, &text2) != AG_OK || strcmp(text, text2) != 0)
        abort(); /* and canonical */
    free(text2);
    json_decref(again);
}

static void canonical(const json_t *j, int flags)
{
    char *text = NULL;
    if (ag__jcs_dump(j, flags, &text) == AG_OK)
        fixed_point(text);
    free(text);
}

static void raw_bytes(const char *s, size_t len)
{
    struct ag_buf b;
    ag__buf_init(&b);
    int valid = ag__utf8_valid(s, len);
    if ((ag__jcs_string(&b, s, len) == AG_OK) != valid)
        abort();
    ag__buf_free(&b);

    struct ag__ledger_row r;
    ag__row_clear(&r);
    ag__row_int(&r, AG__COL_SEQ, 1);
    r.v[AG__COL_DATA].type = AG__V_TEXT;
    r.v[AG__COL_DATA].s = s;
    r.v[AG__COL_DATA].len = len;
    struct ag_buf out;
    ag__buf_init(&out);
    (void)ag__row_canonical(&r, 1, &out);
    ag__buf_free(&out);
}

/* libFuzzer's entry points (it declares none in a header). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    raw_bytes(s, size);
    json_t *j = json_loadb(s, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (j == NULL)
        return 0;
    canonical(j, 0);
    canonical(j, AG_JCS_NO_FLOATS);
    json_decref(j);
    return 0;
}
