/* Pipelines over HTTP (docs/api.md, docs/pipelines.md): start a run from a pipeline
 * sent in the body, read a run, list runs. The daemon drives no run in-process: each
 * run is driven by an `agentgov pipeline resume RUN` process it starts, detached, the
 * same driver as the CLI's (crash-safe, resumable); at start the daemon starts one for
 * every run still marked running (a live driver keeps its lock; the new one exits). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentgov/gov.h"
#include "agentgov/pipeline.h"
#include "agentgov/policy.h"
#include "core/err.h"
#include "core/fileio.h"
#include "server/handlers.h"
#include "server/log.h"

/* The CLI binary next to the daemon's (build/agentgov beside build/agentgovd). */
static int cli_binary(char *out, size_t cap)
{
    const char *env = getenv("AGENTGOV_BIN");
    char self[PATH_MAX];
    if (env && *env && realpath(env, self) && strstr(self, "agentgovd") == NULL) {
        snprintf(out, cap, "%s", self);
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(out, cap, "%.*s/agentgov", (int)(cap - 10), self);
    return access(out, X_OK);
}

/* Starts `agentgov --dir D pipeline resume RUN --store URL`, detached (double fork, its
 * own session, no descriptor of the daemon, signals unblocked), its output appended to
 * <dir>/pipelines/<run>.log. */
static int spawn_driver(struct ag__srv *s, const char *run)
{
    char bin[PATH_MAX], logf[PATH_MAX + 64], runbuf[64];
    if (cli_binary(bin, sizeof bin) != 0)
        return -1;
    snprintf(runbuf, sizeof runbuf, "%s", run); /* writable, for the argv */
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/pipelines", s->dir);
    mkdir(dir, 0700);
    snprintf(logf, sizeof logf, "%s/pipelines/%s.log", s->dir, run);
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        if (fork() != 0)
            _exit(0);
        setsid();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int lf = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        if (lf >= 0) {
            dup2(lf, STDOUT_FILENO);
            dup2(lf, STDERR_FILENO);
        }
        for (int fd = 3; fd < 4096; fd++)
            close(fd);
        char *argv[] = {bin,    "--dir",   s->dir,       "pipeline", "resume",
                        runbuf, "--store", s->store_url, NULL};
        execv(bin, argv);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------- templates --- */

#define TEMPLATE_MAX (1u << 20)

/* `uses:` over the API. The pipeline travels in the body; the files it names are read
 * only from the templates/ directory of the data directory, then of the shipped
 * templates: a template is named "templates/NAME.yaml" and its own files relative to
 * it. A name that is absolute, holds "..", "." or an empty component, or leaves
 * templates/ is refused, and the file is opened beneath its root with openat2
 * (RESOLVE_BENEATH, no symlinks at all), so nothing outside can be reached. */
struct tpl_src {
    const char *main;     /* the name of the posted pipeline */
    const char *roots[2]; /* the data directory, the shipped root (holding templates/) */
    ag_gov *gov;          /* the registry, for agent_known */
};

static int agent_known(void *ctx, const char *id)
{
    struct ag_agent_status st;
    if (ag_gov_status(((const struct tpl_src *)ctx)->gov, id, &st) != AG_OK)
        return 0;
    int known = st.registered;
    ag_agent_status_clear(&st);
    return known;
}

static int safe_rel(const char *p)
{
    if (!*p || *p == '/' || strncmp(p, "templates/", 10) != 0 || strlen(p) >= 1024)
        return 0;
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return 0;
        c += n;
        if (*c == '/')
            c++;
    }
    return p[strlen(p) - 1] != '/';
}

static int open_beneath(const char *root, const char *rel)
{
    int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    int fd = ag__open_beneath(dfd, rel, O_RDONLY, 0, 1);
    close(dfd);
    return fd;
}

static ag_err read_fd(int fd, const char *name, char **text, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > TEMPLATE_MAX) {
        close(fd);
        return ag__fail(AG_EINVAL, "%s: not a regular file of at most %u bytes", name,
                        TEMPLATE_MAX);
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    ssize_t n = 1;
    while (b && got < (size_t)st.st_size && (n = read(fd, b + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)n;
    close(fd);
    if (!b || n < 0) {
        free(b);
        return ag__fail(b ? AG_EIO : AG_ENOMEM, "%s: cannot read", name);
    }
    b[got] = '\0';
    *text = b;
    *len = got;
    return AG_OK;
}

static ag_err tpl_read(void *ctx, const char *from, const char *path, char **text, size_t *len)
{
    struct tpl_src *t = ctx;
    char rel[1100];
    /* A template's own files are relative to the template. */
    if (strcmp(from, t->main) == 0 || !strchr(from, '/'))
        snprintf(rel, sizeof rel, "%s", path);
    else
        snprintf(rel, sizeof rel, "%.*s/%s", (int)(strrchr(from, '/') - from), from, path);
    if (!safe_rel(rel))
        return ag__fail(AG_EPERM,
                        "'%s': over the API only files under templates/ (of the data directory "
                        "or the shipped ones) can be used, by a relative name without '..'",
                        path);
    for (size_t i = 0; i < 2; i++) {
        if (!t->roots[i])
            continue;
        int fd = open_beneath(t->roots[i], rel);
        if (fd >= 0)
            return read_fd(fd, path, text, len);
        if (errno != ENOENT)
            return ag__fail(AG_EPERM, "'%s': cannot be opened beneath %s (%s)", path, t->roots[i],
                            strerror(errno));
    }
    return ag__fail(AG_ENOTFOUND,
                    "no template '%s' in the data directory's templates/ or the shipped ones",
                    path);
}

/* POST /v1/pipelines/runs {"pipeline": "<YAML>", "name": "file.yaml", "params": {..}}:
 * validates (400 with every problem), creates the run, starts its driver: 201. The
 * pipeline travels in the body; its `uses:` templates are read as tpl_read says. */
void ag__h_pipeline_start(struct ag__req *r)
{
    json_t *b = ag__req_json(r);
    ag_gov *g = b ? ag__req_gov(r) : NULL;
    if (!g)
        return;
    const char *text = json_string_value(json_object_get(b, "pipeline"));
    const char *name = json_string_value(json_object_get(b, "name"));
    json_t *params = json_object_get(b, "params");
    if (!text) {
        ag__reply_error(r, 400, "pipeline: the pipeline's YAML text is required");
        return;
    }
    if (params && !json_is_object(params)) {
        ag__reply_error(r, 400, "params must be an object of NAME: VALUE");
        return;
    }
    const char *file = name && *name ? name : "pipeline.yaml";
    char shipped[PATH_MAX];
    snprintf(shipped, sizeof shipped, "%s", ag_policy_default_path());
    char *slash = strrchr(shipped, '/'); /* <root>/policies/default.yaml -> <root> */
    if (slash)
        *slash = '\0';
    slash = strrchr(shipped, '/');
    if (slash)
        *slash = '\0';
    struct tpl_src ts = {.main = file, .roots = {r->srv->dir, slash ? shipped : NULL}, .gov = g};
    struct ag_pipeline_source_ops ops = {.ctx = &ts, .read = tpl_read, .agent_known = agent_known};
    ag_pipeline *p = NULL;
    char *diags = NULL;
    ag_err e = ag_pipeline_load(file, text, strlen(text), &ops, &p, &diags);
    if (e == AG_EPARSE) {
        json_t *errs = json_array();
        for (char *save = NULL, *l = diags ? strtok_r(diags, "\n", &save) : NULL; l;
             l = strtok_r(NULL, "\n", &save))
            json_array_append_new(errs, json_string(l));
        free(diags);
        ag__reply_json(r, 400, json_pack("{s:s,s:o}", "error", "invalid pipeline", "errors", errs));
        return;
    }
    free(diags);
    if (e) {
        ag__reply_ag_error(r, e, "pipeline");
        return;
    }
    const char *kv[64];
    char *owned[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v)
    {
        if (n == 64)
            break;
        char num[32];
        const char *val = json_string_value(v);
        if (json_is_integer(v))
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v)), val = num;
        else if (json_is_boolean(v))
            val = json_is_true(v) ? "true" : "false";
        if (!val || asprintf(&owned[n], "%s=%s", k, val) < 0) {
            for (size_t i = 0; i < n; i++)
                free(owned[i]);
            ag_pipeline_free(p);
            ag__reply_error(r, 400, "params.%s: expected a string, an integer or a boolean", k);
            return;
        }
        kv[n] = owned[n];
        n++;
    }
    struct ag_pipeline_env env = {.store = r->srv->store, .ledger = r->srv->ledger};
    char run[33];
    e = ag_pipeline_create_run(&env, p, kv, n, run);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    ag_pipeline_free(p);
    if (e) {
        ag__reply_ag_error(r, e, "pipeline");
        return;
    }
    if (spawn_driver(r->srv, run) != 0) {
        ag__reply_error(r, 500,
                        "run %s created, but its driver could not start: run `agentgov "
                        "pipeline resume %s`",
                        run, run);
        return;
    }
    ag__reply_json(r, 201, json_pack("{s:{s:s,s:s}}", "data", "run_id", run, "status", "running"));
}

/* GET /v1/pipelines/runs/{id} */
void ag__h_pipeline_get(struct ag__req *r)
{
    const char *id = ag__route_capture(&r->m, "id");
    if (!r->srv->store) {
        ag__reply_error(r, 503, "store_unavailable");
        return;
    }
    char *js = NULL;
    ag_err e = ag_pipeline_status(r->srv->store, id, &js);
    if (e) {
        ag__reply_ag_error(r, e, "pipeline run");
        return;
    }
    json_t *o = json_loads(js, 0, NULL);
    free(js);
    ag__reply_json(r, 200, json_pack("{s:o}", "data", o ? o : json_null()));
}

/* GET /v1/pipelines/runs */
void ag__h_pipeline_list(struct ag__req *r)
{
    if (!r->srv->store) {
        ag__reply_error(r, 503, "store_unavailable");
        return;
    }
    char *js = NULL;
    ag_err e = ag_pipeline_list(r->srv->store, &js);
    if (e) {
        ag__reply_ag_error(r, e, "pipeline runs");
        return;
    }
    json_t *o = json_loads(js, 0, NULL);
    free(js);
    ag__reply_json(r, 200, json_pack("{s:o}", "data", o ? o : json_array()));
}

void ag__pipelines_resume(struct ag__srv *s)
{
    char *js = NULL;
    if (!s->store || !s->ledger || ag_pipeline_list(s->store, &js) != AG_OK)
        return;
    json_t *a = json_loads(js, 0, NULL);
    free(js);
    size_t i;
    json_t *m;
    json_array_foreach(a, i, m)
    {
        const char *st = json_string_value(json_object_get(m, "status"));
        const char *run = json_string_value(json_object_get(m, "run_id"));
        if (!st || !run || strcmp(st, "running") != 0)
            continue;
        if (spawn_driver(s, run) == 0)
            ag__log(AG_LOG_INFO, "pipeline", "resuming run %s", run);
        else
            ag__log(AG_LOG_WARN, "pipeline", "could not start a driver for run %s", run);
    }
    json_decref(a);
}
