/* The governed child's environment, data-directory view and profile (run_env.h). */
#include "runner/run_env.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fileio.h"
#include "runner/run_files.h"

extern char **environ;

/* A formatted string that e owns (freed with it). */
__attribute__((format(printf, 2, 3))) static char *own(struct ag__run_env *e, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char **v = realloc(e->owned, (e->nowned + 1) * sizeof *v);
    if (!v) {
        free(s);
        return NULL;
    }
    e->owned = v;
    e->owned[e->nowned++] = s;
    return s;
}

static int inherited(const char *kv)
{
    return strncmp(kv, "AGENTGOV_", 9) != 0 && strncmp(kv, "VAULT_", 6) != 0;
}

static ag_err env_add(struct ag__run_env *e, const char *name, const char *value)
{
    if (!value)
        return AG_OK;
    char *kv = own(e, "%s=%s", name, value);
    if (!kv)
        return AG_ENOMEM;
    e->envp[e->nenv++] = kv;
    e->envp[e->nenv] = NULL;
    return AG_OK;
}

static ag_err build_envp(const struct ag__run_env_in *in, struct ag__run_env *e,
                         const char *store_env)
{
    size_t n = 0;
    for (char **p = environ; p && *p; p++)
        n++;
    e->envp = calloc(n + 16, sizeof *e->envp);
    if (!e->envp)
        return AG_ENOMEM;
    for (char **p = environ; p && *p; p++)
        if (inherited(*p))
            e->envp[e->nenv++] = *p;
    const char *api = e->api_dir[0] ? e->api_dir : NULL;
    ag_err err = env_add(e, "AGENTGOV_TOKEN", in->token);
    err = err ? err : env_add(e, "AGENTGOV_ADDR", in->addr ? in->addr : "");
    err = err ? err : env_add(e, "AGENTGOV_AGENT_ID", in->agent_id);
    err = err ? err : env_add(e, "AGENTGOV_TASK_ID", in->task_id);
    err = err ? err : env_add(e, "AGENTGOV_RUN_ID", in->run_id);
    err = err ? err : env_add(e, "AGENTGOV_WORKDIR", in->workdir);
    err = err ? err : env_add(e, "AGENTGOV_DIR", api);
    err = err ? err : env_add(e, "AGENTGOV_STORE", store_env);
    err = err ? err : env_add(e, "AGENTGOV_BIN", in->bin);
    if (in->ca_cert && *in->ca_cert)
        err = err ? err : env_add(e, "AGENTGOV_CA_CERT", in->ca_cert);
    return err;
}

/* Hard-links db and its WAL and shared-memory files into the api directory. The
 * runner holds the database open, so both exist; if one does not, the child would
 * create a second WAL of its own, which corrupts: refuse instead. */
static ag_err link_db(const char *src, const char *api, const char *name)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char s[PATH_MAX + 8], d[PATH_MAX + 32];
        snprintf(s, sizeof s, "%s%s", src, suffix[i]);
        snprintf(d, sizeof d, "%s/%s%s", api, name, suffix[i]);
        if (link(s, d) != 0)
            return ag__fail(AG_EIO, "run: cannot link %s into the child's view (%s): %s", s, d,
                            strerror(errno));
    }
    return AG_OK;
}

static ag_err copy_file(const char *src, const char *dst, int optional)
{
    char *data = NULL;
    size_t len = 0;
    ag_err err = ag__read_file(src, 16 << 20, &data, &len);
    if (err != AG_OK)
        return optional && access(src, F_OK) != 0 ? AG_OK : err;
    err = ag__write_file_atomic(dst, data, len, 0600, 0);
    free(data);
    return err;
}

/* The child's view of the data directory: the store and ledger, the policy and the
 * configuration; never a key, the master key or the root token. */
static ag_err make_api(const struct ag__run_env_in *in, struct ag__run_env *e,
                       const char **store_env)
{
    snprintf(e->api_dir, sizeof e->api_dir, "%s/api", in->run_dir);
    if (mkdir(e->api_dir, 0700) != 0) {
        ag_err err = ag__fail(AG_EIO, "run: mkdir %s: %s", e->api_dir, strerror(errno));
        e->api_dir[0] = '\0';
        return err;
    }
    char p[PATH_MAX + 16];
    ag_err err = link_db(in->ledger_path, e->api_dir, "ledger.db");
    if (!err && in->store_path && *in->store_path) {
        err = link_db(in->store_path, e->api_dir, "state.db");
        *store_env = own(e, "sqlite:%s/state.db", e->api_dir);
        if (!*store_env)
            err = AG_ENOMEM;
    } else {
        *store_env = in->store_url;
    }
    snprintf(p, sizeof p, "%s/policy.yaml", e->api_dir);
    if (!err && in->policy_path)
        err = copy_file(in->policy_path, p, 0);
    snprintf(p, sizeof p, "%s/config", e->api_dir);
    if (!err && in->config_path)
        err = copy_file(in->config_path, p, 1);
    return err;
}

static ag_err widen_profile(const struct ag__run_env_in *in, struct ag__run_env *e)
{
    const struct ag_sandbox_profile *b = in->base;
    e->profile = *b;
    e->read = calloc(b->nread + 2, sizeof *e->read);
    e->write = calloc(b->nwrite + 1, sizeof *e->write);
    e->connect = calloc(b->nconnect + 2, sizeof *e->connect);
    if (!e->read || !e->write || !e->connect)
        return AG_ENOMEM;
    size_t nr = 0, nw = 0, nc = 0;
    for (size_t i = 0; i < b->nread; i++)
        e->read[nr++] = b->read_paths[i];
    for (size_t i = 0; i < b->nwrite; i++)
        e->write[nw++] = b->write_paths[i];
    for (size_t i = 0; i < b->nconnect; i++)
        e->connect[nc++] = b->connect_ports[i];
    char real[PATH_MAX];
    if (e->api_dir[0] && in->bin && realpath(in->bin, real)) {
        if (!(e->read[nr++] = own(e, "%s", real)))
            return AG_ENOMEM;
    }
    if (e->api_dir[0])
        e->write[nw++] = e->api_dir;
    /* The child verifies the daemon's certificate with it (AGENTGOV_CA_CERT). */
    if (in->ca_cert && *in->ca_cert && realpath(in->ca_cert, real)) {
        if (!(e->read[nr++] = own(e, "%s", real)))
            return AG_ENOMEM;
    }
    const int extra[2] = {in->addr_port, in->store_port};
    for (int k = 0; k < 2; k++) {
        int dup = extra[k] <= 0 || extra[k] > 65535;
        for (size_t i = 0; !dup && i < nc; i++)
            dup = e->connect[i] == extra[k];
        if (!dup)
            e->connect[nc++] = (uint16_t)extra[k];
    }
    e->profile.read_paths = e->read;
    e->profile.nread = nr;
    e->profile.write_paths = e->write;
    e->profile.nwrite = nw;
    e->profile.connect_ports = e->connect;
    e->profile.nconnect = nc;
    /* A daemon at a unix: address needs socket(AF_UNIX), which the sandbox refuses
     * otherwise: Landlock does not restrict connecting to named sockets, so this lets
     * the child reach any of them (docs/run.md). */
    if (in->addr && strncmp(in->addr, "unix:", 5) == 0)
        e->profile.unix_sockets = 1;
    return AG_OK;
}

ag_err ag__run_env_build(const struct ag__run_env_in *in, struct ag__run_env *out)
{
    memset(out, 0, sizeof *out);
    const char *store_env = NULL;
    ag_err err = AG_OK;
    if (!in->no_store_access)
        err = make_api(in, out, &store_env);
    err = err ? err : build_envp(in, out, store_env);
    err = err ? err : widen_profile(in, out);
    if (err != AG_OK) {
        if (err == AG_ENOMEM)
            (void)ag__fail(AG_ENOMEM, "run: out of memory building the child's environment");
        ag__run_env_free(out);
    }
    return err;
}

void ag__run_env_free(struct ag__run_env *e)
{
    if (!e)
        return;
    if (e->api_dir[0])
        ag__run_rmdir(e->api_dir);
    free(e->envp);
    free(e->read);
    free(e->write);
    free(e->connect);
    for (size_t i = 0; i < e->nowned; i++)
        free(e->owned[i]);
    free(e->owned);
    memset(e, 0, sizeof *e);
}
