/* Replay and record: see replay.h. */
#include "llm/replay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

void ag__llm_replay_free(struct ag__llm_replay *r)
{
    if (!r || !r->v)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].response);
    free(r->v);
    r->v = NULL;
    r->n = 0;
    pthread_mutex_destroy(&r->mu);
}

static ag_err add_line(struct ag__llm_replay *r, const char *path, int lineno, const char *line)
{
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return ag__fail(AG_EPARSE, "%s:%d: not a JSON object%s%s", path, lineno, o ? "" : ": ",
                        o ? "" : je.text);
    }
    const char *d = json_string_value(json_object_get(o, "request_sha256"));
    json_t *resp = json_object_get(o, "response");
    ag_err e = AG_OK;
    if (!is_hex64(d))
        e = ag__fail(AG_EPARSE, "%s:%d: request_sha256: expected 64 lowercase hex digits", path,
                     lineno);
    else if (!json_is_object(resp))
        e = ag__fail(AG_EPARSE, "%s:%d: response: expected a chat completion object", path, lineno);
    char *txt = e ? NULL : json_dumps(resp, JSON_COMPACT);
    struct ag__llm_replay_ent *nv = txt ? realloc(r->v, (r->n + 1) * sizeof *nv) : NULL;
    if (!e && !nv) {
        free(txt);
        e = ag__fail(AG_ENOMEM, "%s: out of memory", path);
    }
    if (!e) {
        r->v = nv;
        memset(&r->v[r->n], 0, sizeof r->v[r->n]);
        memcpy(r->v[r->n].digest, d, 65);
        const char *ag = json_string_value(json_object_get(o, "agent"));
        snprintf(r->v[r->n].agent, sizeof r->v[r->n].agent, "%s", ag ? ag : "");
        r->v[r->n++].response = txt;
    }
    json_decref(o);
    return e;
}

ag_err ag__llm_replay_load(const char *path, struct ag__llm_replay *r)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (!f)
        return ag__fail(AG_ENOTFOUND, "replay file %s: %s", path, strerror(errno));
    pthread_mutex_init(&r->mu, NULL);
    r->v = calloc(1, sizeof *r->v); /* non-NULL: free knows the mutex exists */
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    ag_err e = r->v ? AG_OK : ag__fail(AG_ENOMEM, "%s: out of memory", path);
    while (!e && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\n' || *p == '\0' || *p == '#')
            continue;
        e = add_line(r, path, lineno, p);
    }
    free(line);
    fclose(f);
    if (!e && r->n == 0)
        e = ag__fail(AG_EPARSE, "replay file %s: no exchanges", path);
    if (e) {
        if (!r->v)
            pthread_mutex_destroy(&r->mu);
        ag__llm_replay_free(r);
    }
    return e;
}

ag_err ag__llm_replay_next(struct ag__llm_replay *r, const char *digest, const char *agent,
                           char **resp)
{
    *resp = NULL;
    pthread_mutex_lock(&r->mu);
    struct ag__llm_replay_ent *last = NULL, *pick = NULL;
    for (size_t i = 0; i < r->n && !pick; i++)
        if (strcmp(r->v[i].digest, digest) == 0) {
            last = &r->v[i];
            if (!r->v[i].used)
                pick = &r->v[i];
        }
    if (!pick)
        pick = last;
    /* By role: the agent id up to an '@' ("alpha@task-1" is alpha of some task), so
     * that a recording replays under another task id. */
    size_t rl = agent ? strcspn(agent, "@") : 0;
    for (size_t i = 0; i < r->n && !pick && agent; i++)
        if (!r->v[i].used && strncmp(r->v[i].agent, agent, rl) == 0 &&
            (r->v[i].agent[rl] == '\0' || r->v[i].agent[rl] == '@'))
            pick = &r->v[i];
    if (pick) {
        pick->used = 1;
        *resp = strdup(pick->response);
    }
    pthread_mutex_unlock(&r->mu);
    if (!pick)
        return ag__fail(AG_ENOTFOUND,
                        "replay: no recorded answer to request %.16s… (the "
                        "conversation differs from the recording)",
                        digest);
    return *resp ? AG_OK : ag__fail(AG_ENOMEM, "replay: out of memory");
}

ag_err ag__llm_record(const char *path, const char *digest, const char *agent, const char *request,
                      const char *response)
{
    struct ag_buf b;
    ag__buf_init(&b);
    ag__buf_printf(&b,
                   "{\"request_sha256\":\"%s\",\"agent\":\"%s\",\"request\":%s,\"response\":%s}\n",
                   digest, agent, request, response);
    ag_err e = ag__buf_status(&b);
    if (e) {
        ag__buf_free(&b);
        return ag__fail(e, "record: out of memory");
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = ag__fail(AG_EIO, "record file %s: %s", path, strerror(errno));
    } else {
        ssize_t w = write(fd, b.data, b.len);
        if (w != (ssize_t)b.len)
            e = ag__fail(AG_EIO, "record file %s: short write: %s", path,
                         w < 0 ? strerror(errno) : "disk full?");
        if (close(fd) != 0 && !e)
            e = ag__fail(AG_EIO, "record file %s: %s", path, strerror(errno));
    }
    ag__buf_free(&b);
    return e;
}
