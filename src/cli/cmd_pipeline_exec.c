/* Stage attempts as `agentgov run` processes (cmd_pipeline_exec.h).
 *
 * Crash safety: the attempt's process is forked and waits on a pipe; the driver writes
 * <ctl>/<stage>.<n>.pid ("pid starttime") and only then lets it exec the runner. So a
 * runner that runs always has a pid file. The process creates <stage>.<n>.log once it
 * has the go-ahead, before it execs: a pid file with no live process, no report and
 * no log is an attempt that never started; with a log, one that was cut short. The runner writes
 * its report to <ctl>/<stage>.<n>.report.json when it ends: the report says how the attempt went,
 * whoever started it. */
#include "cli/cmd_pipeline_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cliutil.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/time.h"

/* Field 22 of /proc/PID/stat (start time in clock ticks), and whether the process is
 * a zombie; 0 when it does not exist. */
static unsigned long long start_time(pid_t pid, int *zombie)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    char state = p[2];
    if (zombie)
        *zombie = state == 'Z' || state == 'X';
    p += 2;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return p ? strtoull(p, NULL, 10) : 0;
}

void ag__cli_pl_owner(char *buf, size_t cap)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    snprintf(buf, cap, "%d:%llu@%s", (int)getpid(), start_time(getpid(), NULL), host);
}

int ag__cli_pl_owner_alive(void *ctx, const char *owner)
{
    (void)ctx;
    int pid = 0;
    unsigned long long st = 0;
    char host[256] = "", mine[256] = "";
    if (sscanf(owner, "%d:%llu@%255s", &pid, &st, host) != 3)
        return 1; /* not ours to judge: honour the lock */
    gethostname(mine, sizeof mine - 1);
    if (strcmp(host, mine) != 0)
        return 1;
    int zombie = 0;
    unsigned long long now = start_time(pid, &zombie);
    return now == st && !zombie;
}

static void attempt_path(const struct ag_pipeline_attempt *a, const char *ext, char *buf,
                         size_t cap)
{
    snprintf(buf, cap, "%s/%s.%d.%s", a->ctl_dir, a->stage, a->attempt, ext);
}

static struct ag__plexec_slot *slot_find(struct ag__cli_plexec *x,
                                         const struct ag_pipeline_attempt *a, int create)
{
    char id[300];
    snprintf(id, sizeof id, "%s/%s/%d", a->run_id, a->stage, a->attempt);
    for (size_t i = 0; i < x->nslots; i++)
        if (strcmp(x->slots[i].id, id) == 0)
            return &x->slots[i];
    if (!create)
        return NULL;
    /* Reuse a finished slot before growing. */
    struct ag__plexec_slot *s = NULL;
    for (size_t i = 0; i < x->nslots && !s; i++)
        if (x->slots[i].done && x->slots[i].pidfd < 0)
            s = &x->slots[i];
    if (!s && x->nslots < AG__PLEXEC_SLOTS)
        s = &x->slots[x->nslots++];
    if (s) {
        memset(s, 0, sizeof *s);
        snprintf(s->id, sizeof s->id, "%s", id);
        s->pidfd = -1;
    }
    return s;
}

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

/* The instruction packet of the attempt: the declared template (agent and task
 * replaced) or a minimal one. Its deliverables are the stage's artifacts; the
 * scheduler checks them itself, so they are not required artifacts of the run. */
static char *packet_for(const struct ag_pipeline_attempt *a, const char *task)
{
    json_t *p = a->packet_json ? json_loads(a->packet_json, 0, NULL) : NULL;
    if (!p) {
        char now[AG_RFC3339_LEN];
        ag__rfc3339(ag__wall_ms(), now);
        p = json_pack("{s:s,s:s,s:{s:[],s:[],s:[]},s:[s],s:[],s:s}", "objective",
                      "a stage of a pipeline", "created_for", "agentgov pipeline", "constraints",
                      "scope", "forbidden", "required_steps", "success_criteria",
                      "the command exits 0", "escalation_rules", "created_at", now);
    }
    if (!p)
        return NULL;
    json_object_set_new(p, "agent_id", json_string(a->agent));
    json_object_set_new(p, "task_id", json_string(task));
    json_t *d = json_array();
    for (size_t i = 0; i < a->nartifacts; i++)
        json_array_append_new(d, json_string(a->artifacts[i]));
    json_object_set_new(p, "deliverables", d);
    json_object_set_new(p, "required_artifacts", json_array());
    char desc[512];
    snprintf(desc, sizeof desc, "pipeline %s, run %s, stage %s", a->pipeline, a->run_id, a->stage);
    if (!json_object_get(p, "created_for"))
        json_object_set_new(p, "created_for", json_string(desc));
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    return s;
}

/* A writable copy of s for an argv (execv takes char *const[]), kept in owned. */
static char *keep(char **owned, int *n, const char *s)
{
    return owned[(*n)++] = strdup(s ? s : "");
}

static void free_owned(char **owned, int n)
{
    for (int i = 0; i < n; i++)
        free(owned[i]);
}

/* 1 for the stage kinds run by `agentgov orchestrate` (the coordination module). */
static int is_llm_kind(const struct ag_pipeline_attempt *a)
{
    return strcmp(a->kind, "orchestrate") == 0 || strcmp(a->kind, "llm") == 0;
}

/* The task id of an attempt (ids allow A-Z a-z 0-9 . _ - @). A governed run keeps one
 * task per stage of a run (a retry continues the task, after its handoff); an
 * orchestrated attempt gets a task of its own, so that a retry does not find the
 * previous attempt's blackboard and votes. */
static void task_of(const struct ag_pipeline_attempt *a, char *buf, size_t cap)
{
    if (is_llm_kind(a))
        snprintf(buf, cap, "%.40s.%.60s.%d", a->run_id, a->stage, a->attempt);
    else
        snprintf(buf, cap, "%.40s.%.200s", a->run_id, a->stage);
}

/* The role of an LLM agent stage's one agent in the orchestrator: its agent's name when
 * that is a valid role (the orchestrator registers it as <role>@<task>), else "agent". */
static void llm_role(const struct ag_pipeline_attempt *a, char *buf, size_t cap)
{
    const char *n = a->agent ? a->agent : "";
    size_t len = strlen(n);
    int ok = len > 0 && len < 16 && strcmp(n, "planner") != 0 && strcmp(n, "gamma") != 0;
    for (const char *c = n; ok && *c; c++)
        ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
             *c == '_' || *c == '-' || *c == '.';
    snprintf(buf, cap, "%s", ok ? n : "agent");
}

/* The objective of an orchestrated attempt: the stage's task, else (an LLM agent) its
 * packet's objective, else a generic one naming the stage. */
static void objective_of(const struct ag_pipeline_attempt *a, char *buf, size_t cap)
{
    json_t *p = a->packet_json ? json_loads(a->packet_json, 0, NULL) : NULL;
    const char *obj = json_string_value(json_object_get(p, "objective"));
    if (a->task && *a->task)
        snprintf(buf, cap, "%s", a->task);
    else if (obj && *obj)
        snprintf(buf, cap, "%s", obj);
    else
        snprintf(buf, cap, "Stage %s of pipeline %s", a->stage, a->pipeline);
    json_decref(p);
}

/* The agents an attempt runs as (the governed runner's one agent; an orchestrated
 * attempt's first wave and GAMMA), for revocation on cancel. */
static size_t attempt_agents(const struct ag_pipeline_attempt *a, char ids[][300], size_t cap)
{
    if (!is_llm_kind(a)) {
        snprintf(ids[0], 300, "%.299s", a->agent ? a->agent : "");
        return 1;
    }
    char task[120], role[32];
    task_of(a, task, sizeof task);
    size_t n = 0;
    if (strcmp(a->kind, "llm") == 0) {
        llm_role(a, role, sizeof role);
        snprintf(ids[n++], 300, "%.16s@%.119s", role, task);
    } else {
        static const char *const roles[] = {"alpha", "beta", "gamma"};
        for (size_t i = 0; i < 3 && n < cap; i++)
            snprintf(ids[n++], 300, "%.16s@%.119s", roles[i], task);
    }
    return n;
}

/* A shell stage runs as an agent the pipeline owns: barred by a cancel of an earlier
 * run (a revocation of type PIPELINE_CANCELLED), it is registered again, which lifts
 * the bar, so that the pipeline can run again. Other agents stay barred until their
 * operator registers them again, as after any revocation. */
static void lift_cancel_bar(struct ag__cli_plexec *x, const struct ag_pipeline_attempt *a,
                            int *registered)
{
    struct ag_agent_status st;
    if (!x->gov || strcmp(a->kind, "shell") != 0 || ag_gov_status(x->gov, a->agent, &st) != AG_OK)
        return;
    json_t *s = st.revoked && st.state_json ? json_loads(st.state_json, 0, NULL) : NULL;
    const char *type = json_string_value(json_object_get(json_object_get(s, "revocation"), "type"));
    if (type && strcmp(type, AG_PIPELINE_CANCEL_REVOCATION) == 0 &&
        ag_gov_register(x->gov, a->agent, st.tier >= 0 ? st.tier : 1, NULL) == AG_OK)
        *registered = 1;
    json_decref(s);
    ag_agent_status_clear(&st);
}

/* argv of a governed run: agentgov [--dir D] run ... --env K=V ... -- CMD... The
 * pipeline's variables go through the runner's environment option (--env), never
 * through a shell. */
static size_t argv_run(struct ag__cli_plexec *x, const struct ag_pipeline_attempt *a,
                       const char *task, const char *pkt, const char *rep, char **argv,
                       char **owned, int *nowned, char kv[][600], char *tier, char *tmo)
{
    size_t k = 0;
    argv[k++] = "run";
    argv[k++] = "--agent";
    argv[k++] = keep(owned, nowned, a->agent);
    argv[k++] = "--task";
    argv[k++] = keep(owned, nowned, task);
    argv[k++] = "--packet";
    argv[k++] = keep(owned, nowned, pkt);
    argv[k++] = "--workdir";
    argv[k++] = keep(owned, nowned, a->workdir);
    argv[k++] = "--report";
    argv[k++] = keep(owned, nowned, rep);
    /* The declared tier is the tier of a new agent: a registered one keeps its own
     * (promotions and demotions included), as `agentgov run --tier` requires. */
    struct ag_agent_status ast;
    int registered = 0;
    if (x->gov && ag_gov_status(x->gov, a->agent, &ast) == AG_OK) {
        registered = ast.registered;
        ag_agent_status_clear(&ast);
    }
    lift_cancel_bar(x, a, &registered);
    if (a->tier >= 0 && !registered) {
        snprintf(tier, 16, "%d", a->tier);
        argv[k++] = "--tier";
        argv[k++] = tier;
    }
    int64_t t = a->timeout_ms > 0 ? a->timeout_ms : x->default_timeout_ms;
    if (t > 0) {
        snprintf(tmo, 32, "%lldms", (long long)t);
        argv[k++] = "--timeout";
        argv[k++] = tmo;
    }
    snprintf(kv[0], 600, "AGENTGOV_IDEMPOTENCY_KEY=%s", a->idem_key);
    snprintf(kv[1], 600, "AGENTGOV_PIPELINE_RUN=%s", a->run_id);
    snprintf(kv[2], 600, "AGENTGOV_PIPELINE_STAGE=%s", a->stage);
    snprintf(kv[3], 600, "AGENTGOV_PIPELINE_ATTEMPT=%d", a->attempt);
    for (int i = 0; i < 4; i++) {
        argv[k++] = "--env";
        argv[k++] = kv[i];
    }
    return k;
}

/* argv of an orchestrated attempt: agentgov [--dir D] orchestrate OBJECTIVE --task T
 * --report FILE ... (an LLM agent: one agent of its own role, no GAMMA). */
static size_t argv_orch(struct ag__cli_plexec *x, const struct ag_pipeline_attempt *a,
                        const char *task, const char *rep, char **argv, char **owned, int *nowned,
                        char *tier, char *tmo)
{
    char obj[4096], role[32];
    objective_of(a, obj, sizeof obj);
    size_t k = 0;
    argv[k++] = "orchestrate";
    argv[k++] = keep(owned, nowned, obj);
    argv[k++] = "--task";
    argv[k++] = keep(owned, nowned, task);
    argv[k++] = "--report";
    argv[k++] = keep(owned, nowned, rep);
    argv[k++] = "--workdir";
    argv[k++] = keep(owned, nowned, a->workdir);
    if (a->llm) {
        argv[k++] = "--llm";
        argv[k++] = keep(owned, nowned, a->llm);
    }
    if (a->model) {
        argv[k++] = "--model";
        argv[k++] = keep(owned, nowned, a->model);
    }
    if (strcmp(a->kind, "llm") == 0) {
        llm_role(a, role, sizeof role);
        argv[k++] = "--agents";
        argv[k++] = keep(owned, nowned, role);
        argv[k++] = "--no-gamma";
    }
    if (a->tier >= 1) {
        snprintf(tier, 16, "%d", a->tier);
        argv[k++] = "--tier";
        argv[k++] = tier;
    }
    int64_t t = a->timeout_ms > 0 ? a->timeout_ms : x->default_timeout_ms;
    if (t > 0) {
        snprintf(tmo, 32, "%lldms", (long long)t);
        argv[k++] = "--timeout";
        argv[k++] = tmo;
    }
    return k;
}

static ag_err x_start(void *ctx, const struct ag_pipeline_attempt *a)
{
    struct ag__cli_plexec *x = ctx;
    char task[300], pkt[4096], rep[4096], pidf[4096], logf[4096];
    task_of(a, task, sizeof task);
    attempt_path(a, "packet.json", pkt, sizeof pkt);
    attempt_path(a, "report.json", rep, sizeof rep);
    attempt_path(a, "pid", pidf, sizeof pidf);
    attempt_path(a, "log", logf, sizeof logf);
    if (!is_llm_kind(a)) {
        char *packet = packet_for(a, task);
        if (!packet)
            return ag__fail(AG_ENOMEM, "stage %s: packet", a->stage);
        ag_err e = ag__write_file_atomic(pkt, packet, strlen(packet), 0600, 0);
        free(packet);
        if (e)
            return e;
    }
    (void)unlink(rep);
    struct ag__plexec_slot *s = slot_find(x, a, 1);
    if (!s)
        return ag__fail(AG_ELIMIT, "too many stage attempts at once");
    size_t n = 0;
    while (a->argv && a->argv[n])
        n++;
    char **argv = calloc(n + 48, sizeof *argv);
    char kv[4][600], tier[16], tmo[32];
    char *owned[16];
    int nowned = 0;
    if (!argv)
        return AG_ENOMEM;
    size_t k = 0;
    argv[k++] = x->bin;
    argv[k++] = "--dir";
    argv[k++] = keep(owned, &nowned, ag__cli_dir());
    if (is_llm_kind(a))
        k += argv_orch(x, a, task, rep, argv + k, owned, &nowned, tier, tmo);
    else
        k += argv_run(x, a, task, pkt, rep, argv + k, owned, &nowned, kv, tier, tmo);
    if (x->store_flag) {
        argv[k++] = "--store";
        argv[k++] = keep(owned, &nowned, x->store_flag);
    }
    if (x->policy_flag) {
        argv[k++] = "--policy";
        argv[k++] = keep(owned, &nowned, x->policy_flag);
    }
    if (!is_llm_kind(a)) {
        argv[k++] = "--";
        for (size_t i = 0; i < n; i++)
            argv[k++] = a->argv[i];
    }
    argv[k] = NULL;
    int oom = 0;
    for (int i = 0; i < nowned; i++)
        oom |= owned[i] == NULL;
    if (oom) {
        free_owned(owned, nowned);
        free(argv);
        return AG_ENOMEM;
    }

    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) {
        free_owned(owned, nowned);
        free(argv);
        return ag__fail(AG_EIO, "pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(go[0]);
        close(go[1]);
        free_owned(owned, nowned);
        free(argv);
        return ag__fail(AG_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(go[1]);
        char c;
        /* No go-ahead (the driver died before recording the pid): run nothing. */
        if (read(go[0], &c, 1) != 1)
            _exit(99);
        /* Its own process group: a Ctrl-C meant for the driver (which stops, resumable)
         * does not stop the attempt, which the next driver adopts. */
        setpgid(0, 0);
        /* Opened first: its existence says this attempt got the go-ahead (x_check). */
        int lf = open(logf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (lf < 0)
            _exit(97);
        int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (lf >= 0) {
            dup2(lf, STDOUT_FILENO);
            dup2(lf, STDERR_FILENO);
        }
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        signal(SIGPIPE, SIG_DFL);
        execv(x->bin, argv);
        _exit(98);
    }
    close(go[0]);
    free_owned(owned, nowned);
    free(argv);
    char line[64];
    int len = snprintf(line, sizeof line, "%d %llu\n", (int)pid, start_time(pid, NULL));
    ag_err e = ag__write_file_atomic(pidf, line, (size_t)len, 0600, 0);
    if (e) {
        close(go[1]);
        waitpid(pid, NULL, 0);
        return e;
    }
    s->pid = pid;
    s->own = 1;
    s->done = 0;
    s->pidfd = pidfd_of(pid);
    ssize_t w = write(go[1], "g", 1);
    close(go[1]);
    (void)w;
    return AG_OK;
}

/* The last line of the attempt's log (its error, when it could not run); 0 when none. */
static int last_log_line(const struct ag_pipeline_attempt *a, char *out, size_t cap)
{
    char logf[4096], *txt = NULL;
    size_t len = 0;
    attempt_path(a, "log", logf, sizeof logf);
    if (ag__read_file(logf, 1 << 20, &txt, &len) != AG_OK)
        return 0;
    while (len > 0 && (txt[len - 1] == '\n' || txt[len - 1] == ' '))
        txt[--len] = '\0';
    char *nl = len ? strrchr(txt, '\n') : NULL;
    const char *l = nl ? nl + 1 : txt;
    int got = len > 0;
    if (got)
        snprintf(out, cap, "%s", l);
    free(txt);
    return got;
}

/* How an orchestrated attempt went, from its report (`agentgov orchestrate --report`:
 * the result's JSON) or, without one, its exit status (0 consensus). A consensus is a
 * success; anything else may go better with another attempt (new agents, a new task). */
static void result_from_orch(const struct ag_pipeline_attempt *a, const char *rep, int exit_status,
                             struct ag_pipeline_result *r)
{
    json_t *o = json_load_file(rep, 0, NULL);
    const char *outcome = json_string_value(json_object_get(o, "outcome"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    char last[200];
    if (!outcome) {
        outcome = exit_status == 0 ? "consensus" : "failed";
        reason = last_log_line(a, last, sizeof last) ? last : "the orchestrator wrote no report";
    }
    snprintf(r->outcome, sizeof r->outcome, "%s", outcome);
    snprintf(r->message, sizeof r->message, "%s: %s", outcome, reason ? reason : "");
    r->ok = strcmp(outcome, "consensus") == 0;
    r->retryable = !r->ok;
    json_decref(o);
}

static void result_from_report(const struct ag_pipeline_attempt *a, const char *rep,
                               int exit_status, struct ag_pipeline_result *r)
{
    if (is_llm_kind(a)) {
        result_from_orch(a, rep, exit_status, r);
        return;
    }
    json_t *o = json_load_file(rep, 0, NULL);
    const char *outcome = json_string_value(json_object_get(o, "outcome"));
    const char *msg = json_string_value(json_object_get(o, "message"));
    const char *boot = json_string_value(json_object_get(json_object_get(o, "bootstrap"), "code"));
    if (!outcome) {
        /* No report: judge from the exit status alone (the runner's codes). */
        static const char *const names[] = {
            [0] = "success",  [1] = "error",    [10] = "child_failed",        [11] = "refused",
            [12] = "revoked", [13] = "timeout", [14] = "sandbox_unavailable", [15] = "interrupted"};
        outcome = exit_status >= 0 && exit_status <= 15 && names[exit_status] ? names[exit_status]
                                                                              : "error";
        msg = "the runner wrote no report";
    }
    snprintf(r->outcome, sizeof r->outcome, "%s", outcome);
    snprintf(r->message, sizeof r->message, "%s: %s", outcome, msg ? msg : "");
    r->ok = strcmp(outcome, "success") == 0;
    r->revoked = strcmp(outcome, "revoked") == 0;
    /* Refusals do not get better by trying again, except a lock another run holds. */
    r->retryable =
        !r->ok && !r->revoked && strcmp(outcome, "sandbox_unavailable") != 0 &&
        (strcmp(outcome, "refused") != 0 || (boot && strcmp(boot, "CANNOT_ACQUIRE_LOCK") == 0));
    json_decref(o);
}

static ag_err x_check(void *ctx, const struct ag_pipeline_attempt *a, enum ag_pipeline_check *st,
                      struct ag_pipeline_result *r)
{
    struct ag__cli_plexec *x = ctx;
    char rep[4096], pidf[4096];
    attempt_path(a, "report.json", rep, sizeof rep);
    attempt_path(a, "pid", pidf, sizeof pidf);
    struct ag__plexec_slot *s = slot_find(x, a, 0);
    if (s && s->own) {
        if (!s->done) {
            int status;
            pid_t w = waitpid(s->pid, &status, WNOHANG);
            if (w == 0) {
                *st = AG_PL_RUNNING;
                return AG_OK;
            }
            s->done = 1;
            s->status = w == s->pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            if (s->pidfd >= 0)
                close(s->pidfd);
            s->pidfd = -1;
        }
        result_from_report(a, rep, s->status, r);
        *st = AG_PL_FINISHED;
        return AG_OK;
    }
    /* An attempt a previous driver started. */
    char *txt = NULL;
    size_t len;
    if (ag__read_file(pidf, 256, &txt, &len) != AG_OK) {
        *st = AG_PL_NOT_STARTED;
        return AG_OK;
    }
    int pid = 0;
    unsigned long long t0 = 0;
    int ok = sscanf(txt, "%d %llu", &pid, &t0) == 2 && pid > 0;
    free(txt);
    int zombie = 0;
    if (ok && start_time(pid, &zombie) == t0 && !zombie) {
        if (!s && (s = slot_find(x, a, 1))) {
            s->pid = pid;
            s->own = 0;
            s->pidfd = pidfd_of(pid);
        }
        *st = AG_PL_RUNNING;
        return AG_OK;
    }
    if (s && s->pidfd >= 0) {
        close(s->pidfd);
        s->pidfd = -1;
        s->done = 1;
    }
    char logf[4096];
    attempt_path(a, "log", logf, sizeof logf);
    if (access(rep, F_OK) == 0) {
        result_from_report(a, rep, -1, r);
        *st = AG_PL_FINISHED;
    } else if (access(logf, F_OK) != 0) {
        /* The process opens its log only once it has the go-ahead, before it execs the
         * runner: no log, it never ran anything (its driver died in between). */
        *st = AG_PL_NOT_STARTED;
    } else {
        *st = AG_PL_LOST;
    }
    return AG_OK;
}

static void x_wait(void *ctx, int64_t timeout_ms)
{
    struct ag__cli_plexec *x = ctx;
    struct pollfd fds[AG__PLEXEC_SLOTS];
    nfds_t n = 0;
    int blind = 0;
    for (size_t i = 0; i < x->nslots; i++) {
        if (x->slots[i].done)
            continue;
        if (x->slots[i].pidfd >= 0)
            fds[n++] = (struct pollfd){.fd = x->slots[i].pidfd, .events = POLLIN};
        else
            blind = 1;
    }
    /* Without a pidfd, look again soon. */
    if (blind && timeout_ms > 20)
        timeout_ms = 20;
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (poll(fds, n, (int)timeout_ms) < 0 && errno != EINTR)
        usleep(1000);
}

size_t ag__cli_pl_revoke_attempt(ag_gov *gov, const struct ag_pipeline_attempt *a)
{
    char ids[3][300], details[300];
    size_t n = attempt_agents(a, ids, 3), revoked = 0;
    snprintf(details, sizeof details, "pipeline run %s was cancelled (stage %s, attempt %d)",
             a->run_id, a->stage, a->attempt);
    for (size_t i = 0; gov && i < n; i++) {
        struct ag_agent_status st;
        if (!ids[i][0] || ag_gov_status(gov, ids[i], &st) != AG_OK)
            continue;
        int known = st.registered;
        ag_agent_status_clear(&st);
        ag_err e = known ? ag_gov_revoke(gov, ids[i], AG_PIPELINE_CANCEL_REVOCATION, details)
                         : AG_ENOTFOUND;
        revoked += e == AG_OK || e == AG_EREVOKED;
    }
    return revoked;
}

/* Cancel: the attempt's agents are revoked through the lifecycle (ledgered, kind
 * revocation, their tokens revoked with them), which the governed runner and the
 * orchestrator watch: the run stops as revoked, with its handoff. A signal follows
 * only when no agent could be revoked (none registered yet, or the store refused). */
static void x_stop(void *ctx, const struct ag_pipeline_attempt *a)
{
    struct ag__cli_plexec *x = ctx;
    struct ag__plexec_slot *s = slot_find(x, a, 0);
    if (!s || s->done || s->pid <= 0)
        return;
    if (ag__cli_pl_revoke_attempt(x->gov, a))
        return;
        /* The runner stops its child as on a revocation. An adopted process is signalled
         * through its pidfd: its pid may have been reused since it was checked. */
#ifdef SYS_pidfd_send_signal
    if (s->pidfd >= 0 && syscall(SYS_pidfd_send_signal, s->pidfd, SIGTERM, NULL, 0) == 0)
        return;
#endif
    if (s->own || s->pidfd < 0)
        kill(s->pid, SIGTERM);
}

void ag__cli_plexec_init(struct ag__cli_plexec *x)
{
    memset(x, 0, sizeof *x);
    const char *envbin = getenv("AGENTGOV_BIN");
    if (!envbin || !realpath(envbin, x->bin))
        if (!realpath("/proc/self/exe", x->bin))
            snprintf(x->bin, sizeof x->bin, "agentgov");
    x->exec = (struct ag_pipeline_executor){
        .ctx = x, .start = x_start, .check = x_check, .wait = x_wait, .stop = x_stop};
}

void ag__cli_plexec_free(struct ag__cli_plexec *x)
{
    for (size_t i = 0; i < x->nslots; i++)
        if (x->slots[i].pidfd >= 0)
            close(x->slots[i].pidfd);
    x->nslots = 0;
}
