/* The SQLite ledger backend: one database file in WAL mode with synchronous=FULL, table
 * `ledger` plus the seed's tables as views. Ownership: see ledger/backend.h. */
#ifndef AG_LEDGER_BACKEND_SQLITE_H
#define AG_LEDGER_BACKEND_SQLITE_H

#include "agentgov/ledger.h"
#include "core/buf.h"
#include "ledger/backend.h"

extern const struct ag__ledger_backend ag__ledger_backend_sqlite;

/* The schema the backend creates (table, indexes, append-only triggers, seed views),
 * exposed for the documentation test and for `ledger rebuild`-style tooling. */
extern const char ag__ledger_sqlite_schema[];

/* Appends to sql the SELECT that a query with filter f runs (exposed so that a test
 * can check which index SQLite plans for it). */
void ag__ledger_sqlite_filter_sql(struct ag_buf *sql, const struct ag_ledger_filter *f);

#endif
