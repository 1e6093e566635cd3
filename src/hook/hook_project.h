/* The project root an event's ${PROJECT} stands for. Claude Code names it in
 * CLAUDE_PROJECT_DIR (set for every hook); Codex does not, so the cwd of a session's
 * first event is remembered in <data dir>/hook-sessions/<session id> and used for every
 * later event of that session. An event's own cwd follows the shell's `cd` and is
 * never the project once the project is known. Nothing here allocates for the caller. */
#ifndef AG_HOOK_HOOK_PROJECT_H
#define AG_HOOK_HOOK_PROJECT_H

#include "agentgov/err.h"
#include "agentgov/home.h"
#include "hook/hook.h"

/* Sets ev->project (ag__hook_set_project); home is the data directory (NULL: none is
 * known, and a Codex event's project is its cwd). An error (a CLAUDE_PROJECT_DIR that is not
 * an absolute path, a Codex session id that cannot name a file, a session file that
 * cannot be read or written) denies. */
AG_MUST_USE ag_err ag__hook_project(struct ag__hook_event *ev, const ag_home *home);

#endif
