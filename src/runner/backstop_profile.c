/* The coding-agent profile of the kernel backstop (backstop_profile.h). */
#include "runner/backstop_profile.h"

#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"

/* The system: programs, libraries, configuration, and what a process reads about
 * itself. Paths that do not exist are never granted. */
static const char *const system_read[] = {
    "/usr",  "/lib", "/lib32", "/lib64", "/libx32", "/bin",
    "/sbin", "/etc", "/opt",   "/proc",  "/sys",    "/run/systemd/resolve",
    "/nix",
};
/* Terminals (a shell tool may open a pseudo-terminal) and shared memory. */
static const char *const system_write[] = {"/dev/pts", "/dev/ptmx", "/dev/shm", "/tmp", "/var/tmp"};

/* The agents' own state under $HOME: sessions, logs, history, caches. */
static const char *const home_state[] = {
    ".claude", ".claude.json", ".claude.json.backup", ".codex", ".cache", ".npm", ".local/state",
};
/* The agents' hook settings: what turns the hook off. */
static const char *const home_settings[] = {
    ".claude/settings.json", ".claude/settings.local.json", ".codex/config.toml",
    ".codex/hooks.json",     ".codex/requirements.toml",
};
static const char *const project_settings[] = {
    ".claude/settings.json",
    ".claude/settings.local.json",
    ".codex",
    /* A hook planted here, or a core.hooksPath or core.fsmonitor set in the config,
     * runs the next time the user runs git, outside any sandbox. */
    ".git/hooks",
    ".git/config",
};
/* Credential stores, whatever the policy says. */
static const char *const home_secrets[] = {
    ".ssh",   ".aws",         ".netrc",           ".config/gcloud", ".docker/config.json",
    ".gnupg", ".kube/config", ".git-credentials",
};
static const char *const project_secrets[] = {".env", ".env.*"};
/* agentgov's keys and tokens in its data directory. */
static const char *const data_secrets[] = {"*.key", "*.hmac", "root.token", "*.token"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static ag_err add_under(struct ag__wants *w, const char *base, const char *rel, int access,
                        const char *why)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", base, rel) >= sizeof p)
        return ag__fail(AG_EINVAL, "backstop: path too long under %s", base);
    return ag__wants_add(w, p, access, why);
}

/* Adds base/rel, or every existing match when rel holds a wildcard. */
static ag_err add_glob(struct ag__wants *w, const char *base, const char *rel, int access,
                       const char *why)
{
    if (!strpbrk(rel, "*?["))
        return add_under(w, base, rel, access, why);
    char pat[PATH_MAX];
    if ((size_t)snprintf(pat, sizeof pat, "%s/%s", base, rel) >= sizeof pat)
        return AG_OK;
    glob_t g;
    int rc = glob(pat, GLOB_NOSORT, NULL, &g);
    ag_err err = AG_OK;
    for (size_t i = 0; rc == 0 && err == AG_OK && i < g.gl_pathc; i++)
        err = ag__wants_add(w, g.gl_pathv[i], access, why);
    if (rc == 0)
        globfree(&g);
    return err;
}

/* The rule's actions say file.read (reads) or file.write (writes), literally or by a
 * glob ("file.*", "**"). */
static void rule_actions(const struct ag_rule_info *r, int *reads, int *writes)
{
    *reads = *writes = 0;
    for (size_t i = 0; i < r->nactions; i++) {
        *reads |= fnmatch(r->actions[i], "file.read", 0) == 0;
        *writes |= fnmatch(r->actions[i], "file.write", 0) == 0;
    }
}

/* 1 for an agent state entry of $HOME: a policy that keeps the agent's own tools from
 * writing there (**\/.codex in the shipped one) does not make its state read-only;
 * the settings inside stay read-only by home_settings. A policy that denies reading it
 * still wins. */
static int is_state(const char *rel, int access)
{
    for (size_t i = 0; access == AG__ACC_READ && i < N(home_state); i++)
        if (strcmp(rel, home_state[i]) == 0)
            return 1;
    return 0;
}

static ag_err resource_wants(const char *res, const char *home, const char *project, int access,
                             const char *why, struct ag__wants *w)
{
    char r[PATH_MAX];
    size_t n = (size_t)snprintf(r, sizeof r, "%s", res);
    if (n >= sizeof r)
        return AG_OK;
    while (n >= 3 && strcmp(r + n - 3, "/**") == 0) /* the directory and all beneath it */
        r[n -= 3] = '\0';
    if (strncmp(r, "${HOME}/", 8) == 0)
        return home && *home && !strstr(r + 8, "**") && !is_state(r + 8, access)
                   ? add_glob(w, home, r + 8, access, why)
                   : AG_OK;
    if (strncmp(r, "${PROJECT}/", 11) == 0)
        return !strstr(r + 11, "**") ? add_glob(w, project, r + 11, access, why) : AG_OK;
    if (strncmp(r, "**/", 3) == 0) {
        const char *rest = r + 3;
        if (!*rest || strstr(rest, "**"))
            return AG_OK;
        ag_err err = ag__wants_add_pattern(w, project, rest, access, why);
        if (err == AG_OK && home && *home && !is_state(rest, access))
            err = add_glob(w, home, rest, access, why);
        return err;
    }
    /* Resources are absolute paths without their leading '/'. A glob with no literal
     * directory ("**", "*.pem") names no place to carve. */
    const char *slash = strchr(r, '/');
    if (r[0] == '$' || strstr(r, "**") || !slash || strpbrk(r, "*?[") < slash)
        return AG_OK;
    return add_glob(w, "", r, access, why);
}

ag_err ag__backstop_policy_wants(const ag_policy *p, const char *home, const char *project,
                                 struct ag__wants *w)
{
    ag_err err = AG_OK;
    size_t n = p ? ag_policy_rule_count(p) : 0;
    for (size_t i = 0; err == AG_OK && i < n; i++) {
        struct ag_rule_info r;
        if (ag_policy_rule(p, i, &r) != AG_OK || r.effect != AG_EFFECT_DENY)
            continue;
        int reads, writes;
        rule_actions(&r, &reads, &writes);
        if (!reads && !writes)
            continue;
        int access = reads ? AG__ACC_NONE : AG__ACC_READ;
        const char *why = reads ? "policy: file.read denied" : "policy: file.write denied";
        for (size_t j = 0; err == AG_OK && j < r.nresources; j++)
            err = resource_wants(r.resources[j], home, project, access, why, w);
    }
    return err;
}

ag_err ag__backstop_coding_wants(const struct ag__backstop_opts *o, struct ag__wants *w)
{
    ag_err err = AG_OK;
    const char *home = o->home && *o->home ? o->home : NULL;
    for (size_t i = 0; err == AG_OK && i < N(system_read); i++)
        err = ag__wants_add(w, system_read[i], AG__ACC_READ, "system");
    for (size_t i = 0; err == AG_OK && i < N(system_write); i++)
        err = ag__wants_add(w, system_write[i], AG__ACC_WRITE, "temporary files, terminals");
    if (err == AG_OK && home)
        err = ag__wants_add(w, home, AG__ACC_READ, "home");
    for (size_t i = 0; err == AG_OK && home && i < N(home_state); i++)
        err = add_under(w, home, home_state[i], AG__ACC_WRITE, "agent state");
    if (err == AG_OK)
        err = ag__wants_add(w, o->project, AG__ACC_WRITE, "the project");
    /* The protected and secret paths come after what contains them: two wants for one
     * path keep the lower access, so the order does not matter for them, but it keeps
     * `sandbox show` readable. */
    for (size_t i = 0; err == AG_OK && home && i < N(home_settings); i++)
        err = add_under(w, home, home_settings[i], AG__ACC_READ, "agent hook settings");
    if (err == AG_OK && home)
        err = add_glob(w, home, ".claude/settings*.json", AG__ACC_READ, "agent hook settings");
    for (size_t i = 0; err == AG_OK && i < N(project_settings); i++)
        err = add_under(w, o->project, project_settings[i], AG__ACC_READ,
                        "agent hook settings, git hooks");
    if (err == AG_OK)
        err =
            add_glob(w, o->project, ".claude/settings*.json", AG__ACC_READ, "agent hook settings");
    if (err == AG_OK)
        err = ag__wants_add(w, "/etc/codex", AG__ACC_READ, "agent hook settings");
    for (size_t i = 0; err == AG_OK && home && i < N(home_secrets); i++)
        err = add_under(w, home, home_secrets[i], AG__ACC_NONE, "credentials");
    for (size_t i = 0; err == AG_OK && i < N(project_secrets); i++)
        err = ag__wants_add_pattern(w, o->project, project_secrets[i], AG__ACC_NONE, "credentials");
    if (err == AG_OK && o->data_dir) {
        struct stat st;
        if (stat(o->data_dir, &st) == 0)
            err = ag__wants_add(w, o->data_dir, AG__ACC_READ, "agentgov data");
        for (size_t i = 0; err == AG_OK && i < o->ndata_writable; i++)
            err = ag__wants_add(w, o->data_writable[i], AG__ACC_WRITE, "agentgov ledger");
        for (size_t i = 0; err == AG_OK && i < N(data_secrets); i++)
            err = add_glob(w, o->data_dir, data_secrets[i], AG__ACC_NONE, "agentgov keys");
        if (err == AG_OK)
            err = add_under(w, o->data_dir, "master.key", AG__ACC_NONE, "agentgov keys");
    }
    for (size_t i = 0; err == AG_OK && i < o->nbinaries; i++)
        err = ag__wants_add(w, o->binaries[i], AG__ACC_READ, "agentgov binaries, policies");
    for (size_t i = 0; err == AG_OK && i < o->nprograms; i++)
        err = ag__wants_add(w, o->programs[i], AG__ACC_READ, "the agent's program");
    if (err == AG_OK)
        err = ag__backstop_policy_wants(o->policy, home, o->project, w);
    return err;
}
