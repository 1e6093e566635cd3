/* Embedded state-store backend on SQLite ("sqlite:PATH"). Ownership: the backend owns
 * its connection and prepared statements; see backend.h for the interface. */
#ifndef AG_STORE_SQLITE_H
#define AG_STORE_SQLITE_H

#include "store/backend.h"

extern const struct ag__store_backend ag__store_sqlite;

#endif
