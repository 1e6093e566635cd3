/* The Lua interpreter that runs a batch of store ops inside Redis/DragonflyDB.
 * Ownership: a static string. */
#ifndef AG_STORE_LUA_H
#define AG_STORE_LUA_H

extern const char ag__store_lua[];

#endif
