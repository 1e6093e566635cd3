#include "hook/hook_project.h"

#include <dirent.h>
#include <limits.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/fileio.h"

#define SESSIONS_DIR "hook-sessions"

/* A session id names a file: letters, digits, '-' and '_' only (Codex sends a UUID). */
static int usable_id(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= 128 &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789-_") == n;
}

/* Session files older than this are removed when a new session starts: a session that
 * old is over (a resumed one is remembered afresh from its next first event). */
#define SESSION_KEEP_S (30 * 24 * 3600)

static void prune_sessions(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (now - st.st_mtime > SESSION_KEEP_S)
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* The project of a Codex session: the one remembered, else this event's cwd, which is
 * remembered (first writer wins: two events of a new session racing agree on the file
 * that landed). */
static ag_err codex_project(struct ag__hook_event *ev, const ag_home *home)
{
    if (!ev->session_id[0] || home == NULL)
        return AG_OK; /* no session to remember it for, or nowhere: the event's cwd */
    if (!usable_id(ev->session_id))
        return ag__fail(AG_EINVAL, "session_id '%.64s' cannot name a session file", ev->session_id);
    char dir[PATH_MAX], path[PATH_MAX + 200];
    snprintf(dir, sizeof dir, "%s/" SESSIONS_DIR, ag_home_dir(home));
    snprintf(path, sizeof path, "%s/%s", dir, ev->session_id);
    char *text = NULL;
    size_t len = 0;
    ag_err err = ag__read_file(path, 8192, &text, &len);
    if (err == AG_ENOTFOUND) {
        ag_clear_error();
        err = ag__mkdir_p(dir, 0700);
        if (err == AG_OK)
            err = ag__write_file_atomic(path, ev->cwd, strlen(ev->cwd), 0600, 1);
        if (err == AG_OK) {
            prune_sessions(dir);
            return AG_OK; /* ev->project is already this cwd */
        }
        if (err != AG_EEXIST)
            return err;
        ag_clear_error();
        err = ag__read_file(path, 8192, &text, &len);
    }
    if (err != AG_OK)
        return err;
    if (len == 0 || strlen(text) != len) {
        free(text);
        return ag__fail(AG_EINVAL, "%s: not a project directory", path);
    }
    err = ag__hook_set_project(ev, text);
    free(text);
    return err;
}

ag_err ag__hook_project(struct ag__hook_event *ev, const ag_home *home)
{
    if (ev->dialect == AG_HOOK_CODEX)
        return codex_project(ev, home);
    const char *dir = getenv("CLAUDE_PROJECT_DIR");
    if (dir == NULL || dir[0] == '\0')
        return AG_OK; /* an older Claude Code, or a hand-run hook: the event's cwd */
    return ag__hook_set_project(ev, dir);
}
