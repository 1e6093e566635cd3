/* What `agentgov hook install` writes into a coding agent's settings, and what
 * `agentgov hook doctor` checks there, as pure functions over the files' texts: the
 * caller reads and writes the files (src/cli/cmd_hook_install.c). Every function that
 * returns text returns a malloc'd string the caller frees; findings are appended to a
 * caller-owned ag_buf, one line each. */
#ifndef AG_HOOK_INSTALL_H
#define AG_HOOK_INSTALL_H

#include <stddef.h>

#include "agentgov/err.h"
#include "core/buf.h"

/* The first Claude Code release whose hooks take onFailure: "block" (a hook that cannot
 * start, times out or exits unexpectedly blocks the call instead of letting it run). */
#define AG__CLAUDE_FAIL_CLOSED_VERSION "2.1.295"

/* 1 when the version text ("2.1.332 (Claude Code)", "codex-cli 0.171.0") holds a
 * dotted version at least min; 0 when lower; -1 when it holds none. */
int ag__install_version_at_least(const char *text, const char *min);

/* Claude Code settings (JSON; text may be empty for a new file) with a PreToolUse hook
 * for every tool running cmd, with onFailure "block" when fail_closed; an entry that
 * already runs cmd is updated, not repeated; "disableAllHooks": true is removed (it
 * would switch the hook off). Every other setting is kept as it was. changes gets one
 * line per change made. AG_EPARSE (with line and column) for text that is not a JSON
 * object, AG_EINVAL for a "hooks" that is not the documented shape. */
AG_MUST_USE ag_err ag__install_claude(const char *text, size_t len, const char *cmd,
                                      int fail_closed, char **out, struct ag_buf *changes);

/* Codex hooks.json (JSON; text may be empty) with a PreToolUse hook for every tool
 * running cmd; the same rules as ag__install_claude, without onFailure (Codex has
 * none). */
AG_MUST_USE ag_err ag__install_codex_hooks(const char *text, size_t len, const char *cmd,
                                           char **out, struct ag_buf *changes);

/* The managed requirements file (TOML) with a [[hooks.PreToolUse]] table running cmd
 * and [features] hooks = true (the user cannot switch hooks off) and
 * unified_exec_tty = false appended; text may be empty. A file
 * that already holds hooks or a unified_exec_tty agentgov did not write is refused
 * (AG_ECONFLICT), since merging TOML tables by hand could change their meaning. */
AG_MUST_USE ag_err ag__install_codex_requirements(const char *text, size_t len, const char *cmd,
                                                  char **out, struct ag_buf *changes);

/* Doctor's view of a settings text for the agent's hook (claude 1: Claude Code
 * settings, else Codex hooks.json): appends "FAIL ..." lines for what lets a call
 * through (no hook for every tool that runs agentgov, no onFailure "block" when
 * fail_closed_supported, "disableAllHooks": true) and returns how many. *cmd_out gets
 * the hook command found (malloc'd), NULL when none. */
int ag__doctor_settings(const char *text, size_t len, int claude, int fail_closed_supported,
                        char **cmd_out, struct ag_buf *findings);

/* The program a hook command runs: its first word, unquoted (malloc'd), NULL when the
 * command has none. */
char *ag__install_command_program(const char *cmd);

/* cmd quoted for a POSIX shell when it needs it (malloc'd). */
char *ag__install_shell_quote(const char *word);

#endif
