/* What a search (Grep, Glob) could read beyond its literal requests: the deny and ask
 * rules that name files under the searched directory, found by comparing the rules'
 * globs with the directory and the search's glob (docs/hooks.md, "Searches").
 * Pure: no I/O, no allocation. */
#ifndef AG_HOOK_HOOK_SEARCH_H
#define AG_HOOK_HOOK_SEARCH_H

#include "agentgov/policy.h"

struct ag__search_hit {
    struct ag_decision decision; /* deny or ask, rule_deny or rule_ask, and the rule */
    int by_glob;                 /* 1: the glob names the rule's files; 0: the directory
                                    is one the rule names */
};

/* 1 and *hit when a deny or ask rule for action at tier (a rule without phases, as
 * for every hook request) names files that a search of dir (resource form) narrowed
 * by glob (NULL: none) could read; 0 when none does. A rule resource names them when
 *  - dir matches the resource cut before one of its '/', where the cut is more than
 *    stars (`**` + "/.aws" names home/ana/.aws), or dir is the root and the resource
 *    does not begin with a star segment;
 *  - or the glob names the resource's files by name: its last segment and the
 *    resource's name the same, either as a pattern matching the other as text
 *    (`*.env` and ".env"; `*.local` and `.env.*` do not), where the resource's
 *    directory part is only stars; else its parent segment and the resource's name
 *    the same too (the glob's last segment may then be only stars: `.aws/` + `*`).
 * The glob is taken as both agents' tools may read it: split at whitespace and at
 * commas outside braces, braces expanded, a leading '!' (an exclusion) narrowing
 * nothing; a glob this cannot follow (extglob, POSIX classes, too many alternatives)
 * could name anything. Deny beats ask; among equals the first rule in the file. */
int ag__hook_search_hit(const ag_policy *p, int tier, const char *action, const char *dir,
                        const char *glob, struct ag__search_hit *hit);

#endif
