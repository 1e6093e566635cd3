/* The ledger row: its columns (one X-macro table), typed values, and its canonical form
 * and hash as fixed by DESIGN.md "Ledger format". Ownership: a row borrows every string
 * it points to; nothing here allocates except into a caller-owned struct ag_buf. */
#ifndef AG_LEDGER_ROW_H
#define AG_LEDGER_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/err.h"
#include "agentgov/ledger.h"
#include "core/buf.h"

/* X(ID, name, type): every column of table `ledger`, in table order. Types: TEXT,
 * INT (integer), JSON (a JSON object stored as its canonical text, embedded as an
 * object in the canonical form). */
#define AG__LEDGER_COLUMNS(X)                                                                      \
    X(SEQ, seq, INT)                                                                               \
    X(TS, ts, TEXT)                                                                                \
    X(KIND, kind, TEXT)                                                                            \
    X(AGENT_ID, agent_id, TEXT)                                                                    \
    X(AGENT_VERSION, agent_version, TEXT)                                                          \
    X(TASK_ID, task_id, TEXT)                                                                      \
    X(TIER, tier, INT)                                                                             \
    X(PHASE, phase, TEXT)                                                                          \
    X(ACTION, action, TEXT)                                                                        \
    X(RESOURCE, resource, TEXT)                                                                    \
    X(DECISION, decision, TEXT)                                                                    \
    X(REASON, reason, TEXT)                                                                        \
    X(CONFIDENCE, confidence, INT)                                                                 \
    X(SUCCESS, success, INT)                                                                       \
    X(ERROR_TYPE, error_type, TEXT)                                                                \
    X(ERROR_MESSAGE, error_message, TEXT)                                                          \
    X(DATA, data, JSON)                                                                            \
    X(PREV_HASH, prev_hash, TEXT)                                                                  \
    X(HASH, hash, TEXT)

enum ag__col {
#define AG__COL_ENUM(id, name, type) AG__COL_##id,
    AG__LEDGER_COLUMNS(AG__COL_ENUM)
#undef AG__COL_ENUM
        AG__COL_COUNT
};

enum ag__coltype { AG__T_INT, AG__T_TEXT, AG__T_JSON };

/* What a stored value actually is (a tampered database may hold anything). */
enum ag__vtype { AG__V_NULL, AG__V_INT, AG__V_TEXT, AG__V_OTHER };

struct ag__value {
    enum ag__vtype type;
    int64_t i;
    const char *s; /* AG__V_TEXT: not necessarily NUL-free; len bytes */
    size_t len;
};

struct ag__ledger_row {
    struct ag__value v[AG__COL_COUNT];
    /* Set by the appender, whose data text came from the canonical serialiser: skips
     * re-parsing it. Verification never sets it. */
    int data_is_canonical;
};

/* Column name and declared type. */
const char *ag__col_name(enum ag__col c);
enum ag__coltype ag__col_type(enum ag__col c);

/* Row setters for building a row to append. */
void ag__row_clear(struct ag__ledger_row *r);
void ag__row_text(struct ag__ledger_row *r, enum ag__col c, const char *s);
void ag__row_int(struct ag__ledger_row *r, enum ag__col c, int64_t i);

/* Appends the canonical form of r (RFC 8785 JSON of every column but hash; with
 * with_hash set, hash is included too: the export format). Fails with AG_ETAMPER and a
 * detail naming the column when a value cannot be part of a canonical record (a REAL
 * or BLOB, invalid UTF-8, data that is not a canonical JSON object). */
AG_MUST_USE ag_err ag__row_canonical(const struct ag__ledger_row *r, int with_hash,
                                     struct ag_buf *out);
/* hash = lowercase hex SHA-256 of the canonical form. */
AG_MUST_USE ag_err ag__row_hash(const struct ag__ledger_row *r, struct ag_buf *scratch,
                                char hash[AG_HASH_HEX_LEN]);

#endif
