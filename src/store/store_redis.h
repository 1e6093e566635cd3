/* Redis/DragonflyDB state-store backend over hiredis ("redis://[:PASSWORD@]HOST:PORT/DB").
 * Ownership: the backend owns its connection and the loaded script's SHA; see backend.h
 * for the interface. */
#ifndef AG_STORE_REDIS_H
#define AG_STORE_REDIS_H

#include "store/backend.h"

extern const struct ag__store_backend ag__store_redis;

#endif
