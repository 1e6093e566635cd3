/* Hook adapters for coding agents (Claude Code, Codex CLI): one tool-use event in,
 * governed requests out, one answer in the agent's own format.
 * Ownership: struct ag__hook_event is caller-owned (ag__hook_parse fills it,
 * ag__hook_event_free releases what it holds); its string fields point into the
 * parsed document and live until the free. Rendered texts are malloc'd and handed to
 * the caller. Nothing here reads stdin, prints or exits: src/cli/cmd_hook.c does. */
#ifndef AG_HOOK_HOOK_H
#define AG_HOOK_HOOK_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "agentgov/err.h"
#include "agentgov/hook.h"
#include "agentgov/policy.h"

/* The dialect is public (enum ag_hook_dialect, agentgov/hook.h); the parser names it so. */
#define ag__hook_dialect ag_hook_dialect

enum ag__hook_kind { AG_HOOK_PRE_TOOL_USE, AG_HOOK_PERMISSION_REQUEST };

/* Most requests one event maps to (a Codex patch may touch several files, a shell
 * line several commands and paths: AG__SHELL_MAX_CHECKS of them). */
#define AG__HOOK_MAX_REQ 192

struct ag__hook_req {
    char *action;   /* "file.write", "mcp.github.create_issue", "tool.TodoWrite", ... */
    char *resource; /* see docs/hooks.md: canonical absolute path without its leading
                       '/', a command, a URL, a query, a subagent type */
    int text;       /* 1: a command line, not a path (struct ag_request.text_resource) */
    char *part;     /* owned: the simple command of a shell line it comes from, or NULL */
};

struct ag__hook_event {
    void *doc; /* the parsed JSON document (json_t *), owned */
    enum ag__hook_dialect dialect;
    enum ag__hook_kind kind;
    const char *hook_event_name;
    const char *session_id; /* "" when the agent did not send one */
    const char *transcript_path;
    const char *cwd; /* canonical project directory (the event's cwd) */
    const char *permission_mode;
    const char *tool_name;
    const char *tool_use_id;
    const char *agent_id;   /* subagent id, NULL for the main agent */
    const char *agent_type; /* subagent type, NULL for the main agent */
    int mapped;             /* 0: the tool is unknown and maps to tool.<name> */
    struct ag__hook_req req[AG__HOOK_MAX_REQ];
    size_t nreq;
    /* A search (Grep, Glob) reads every file under its directory: besides its
     * requests, ag__hook_decide checks it against the deny and ask rules that name
     * files it could read (docs/hooks.md, "Searches"). */
    char *search_dir;        /* owned; its directory in resource form, NULL: no search */
    const char *search_glob; /* the glob that narrows it, NULL when none */
    size_t search_all;       /* index of the request on all below the directory */
    size_t search_named;     /* index of the request that names the glob */
    char *cwd_buf;           /* owned storage behind cwd */
    char *home;              /* owned: what `~` stands for, NULL when nothing */
    /* A shell line (Bash, Codex's shell tools): the judge's checks (struct
     * ag__shell_result, owned), which are requests shell_base onwards; its searches and
     * globs are also checked against the deny and ask rules (docs/hooks.md, "Shell
     * commands"). */
    void *shell;
    size_t shell_base;
};

/* Parses one event as the dialect's agent sends it on stdin and maps it to requests.
 * Errors (the caller denies with exit 2): AG_EPARSE for text that is not a JSON
 * object, AG_EINVAL for a missing or mistyped field, an event other than PreToolUse
 * or PermissionRequest, or a tool input the mapping cannot use (no path, no
 * command); the detail names the field. On error ev holds nothing to free. */
AG_MUST_USE ag_err ag__hook_parse(enum ag__hook_dialect d, const char *text, size_t len,
                                  struct ag__hook_event *ev);
/* The same with `~` standing for home (NULL: there is none, and a `~` path is an
 * error); ag__hook_parse takes ag__hook_home(getuid()). */
AG_MUST_USE ag_err ag__hook_parse_home(enum ag__hook_dialect d, const char *text, size_t len,
                                       const char *home, struct ag__hook_event *ev);
void ag__hook_event_free(struct ag__hook_event *ev);

/* The directory `~` stands for, canonical, in buf: $HOME when it is an absolute path,
 * else the home directory of uid's passwd entry, which Codex and Node fall back to
 * (and write there) when HOME is unset, empty or relative. NULL when neither is an
 * absolute path. */
const char *ag__hook_home(uid_t uid, char buf[PATH_MAX]);

/* The resource form of a filesystem path: relative paths are taken against cwd, a
 * leading "~/" against home (an error when home is NULL or relative), "." and ".."
 * are resolved, then symbolic links of the part that exists are resolved (so a link
 * inside the project cannot smuggle a write outside it), and the leading '/' is
 * dropped ("/" itself stays "/"). */
AG_MUST_USE ag_err ag__hook_path_resource(const char *cwd, const char *home, const char *path,
                                          char **out);

/* The agent id recorded for the event: the subagent's id, else the session id, else
 * "<dialect>" (static or pointing into ev). */
const char *ag__hook_agent(const struct ag__hook_event *ev);
/* "claude-code" or "codex". */
const char *ag__hook_dialect_name(enum ag__hook_dialect d);

/* One verdict over every request of an event: deny beats ask beats allow. For the
 * codex dialect a PreToolUse ask becomes a deny whose message says a person must
 * approve the call: Codex takes "ask" from a hook as unsupported and runs the tool. */
struct ag__hook_verdict {
    enum ag_effect effect;
    struct ag_decision decision; /* of the deciding request */
    size_t which;                /* index of the deciding request */
    char message[768];           /* the sentence shown to the agent and the user */
};

/* Decides every request of ev with the policy at tier, and a search's reach (pure:
 * no I/O). */
void ag__hook_decide(const ag_policy *p, int tier, const struct ag__hook_event *ev,
                     struct ag__hook_verdict *v);

/* The answer the agent expects on stdout (exit 0): for PreToolUse
 * hookSpecificOutput.permissionDecision allow|deny|ask with the reason; for
 * PermissionRequest hookSpecificOutput.decision.behavior allow|deny (ask: no decision,
 * so the agent shows its own prompt). */
AG_MUST_USE ag_err ag__hook_response(const struct ag__hook_event *ev,
                                     const struct ag__hook_verdict *v, char **out);

/* The `data` object of the ledger entry: tool_name, tool_use_id, hook_event_name,
 * session_id, agent_type, cwd, permission_mode, dialect, the deciding rule, every
 * request, and the message. */
AG_MUST_USE ag_err ag__hook_ledger_data(const struct ag__hook_event *ev,
                                        const struct ag__hook_verdict *v, char **out);

/* Expands ${PROJECT} and ${HOME} in a policy text to the resource forms of project
 * and home, so a resource glob made of ${PROJECT}, a slash and ** means "inside the project".
 * home may be NULL (then ${HOME} stays as is and matches no real path). A directory
 * whose name holds a glob or quoting character (* ? [ ] \ ' ") would change the
 * meaning of the globs: AG_EINVAL, and the caller denies. */
AG_MUST_USE ag_err ag__hook_expand(const char *text, size_t len, const char *project,
                                   const char *home, char **out, size_t *outlen);

#endif
