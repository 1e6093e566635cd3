/* Direct and broadcast messages: see include/agentgov/coord.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coord/coord_int.h"
#include "core/err.h"
#include "core/time.h"

int ag_coord_msg_type_valid(const char *t)
{
#define AG__MSG_CMP(n) || !strcmp(t, #n)
    return t && (0 AG_MSG_TYPES(AG__MSG_CMP));
#undef AG__MSG_CMP
}

ag_err ag_coord_send(ag_coord *c, const char *from, const char *task, const char *to,
                     const char *type, const char *content_json, int64_t *seq,
                     struct ag_gov_decision *d)
{
    return ag__coord_send_x(c, NULL, from, task, to, type, content_json, seq, d);
}

ag_err ag__coord_send_x(ag_coord *c, const struct ag__coord_authz *az, const char *from,
                        const char *task, const char *to, const char *type,
                        const char *content_json, int64_t *seq, struct ag_gov_decision *d)
{
    int broadcast = to && strcmp(to, "*") == 0;
    if (!ag__coord_id_ok(task) || !ag__coord_id_ok(from) || (!broadcast && !ag__coord_id_ok(to)))
        return ag__fail(AG_EINVAL, "message: bad task, sender or recipient id");
    if (!ag_coord_msg_type_valid(type))
        return ag__fail(AG_EINVAL, "message: type '%s' is not PROPOSAL, FEEDBACK or HANDOFF",
                        type ? type : "");
    json_t *content = content_json ? json_loads(content_json, JSON_DECODE_ANY, NULL) : NULL;
    if (!content)
        return ag__fail(AG_EINVAL, "message: content is not JSON");
    const char *channel = broadcast ? "broadcast" : to;
    char res[AG__COORD_KEY_MAX], key[AG__COORD_KEY_MAX], ck[AG__COORD_KEY_MAX];
    snprintf(res, sizeof res, "msg/%s/%s", task, channel);
    ag_err e = ag__coord_authorize_x(c, az, from, task, "message.send", res, d);
    if (e) {
        json_decref(content);
        return e;
    }
    ag__coord_counter_key(ck, task);
    /* The sequence number first: it orders messages across channels (a reader merges
     * its own channel with the broadcasts by it). */
    struct ag_store_op sop = {AG_OP_HINCRBY, ck, "msg_seq", NULL, 1, 0};
    struct ag_store_reply sr;
    e = ag_store_exec(c->store, NULL, &sop, 1, &sr, NULL);
    int64_t n = sr.integer;
    ag_store_reply_free(&sr, 1);
    if (e) {
        json_decref(content);
        return e;
    }
    json_t *m = json_pack("{s:I,s:s,s:s,s:s,s:o,s:I}", "seq", (json_int_t)n, "from", from, "to",
                          broadcast ? "*" : to, "type", type, "content", content, "ts",
                          (json_int_t)ag__wall_ms());
    char *txt = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (!txt)
        return ag__fail(AG_ENOMEM, "message: out of memory");
    snprintf(key, sizeof key, "msg:%s:%s", task, channel);
    struct ag_store_op ops[4] = {{AG_OP_RPUSH, key, NULL, txt, 0, 0},
                                 {AG_OP_PEXPIRE, key, NULL, NULL, c->ttl_ms, 0},
                                 {AG_OP_HINCRBY, ck, "messages", NULL, 1, 0},
                                 {AG_OP_PEXPIRE, ck, NULL, NULL, c->ttl_ms, 0}};
    struct ag_store_reply r[4];
    e = ag_store_exec(c->store, NULL, ops, 4, r, NULL);
    ag_store_reply_free(r, 4);
    free(txt);
    if (!e && seq)
        *seq = n;
    return e;
}

void ag_coord_msgs_free(struct ag_coord_msg *msgs, size_t n)
{
    for (size_t i = 0; msgs && i < n; i++) {
        free(msgs[i].from);
        free(msgs[i].to);
        free(msgs[i].type);
        free(msgs[i].content_json);
    }
    free(msgs);
}

static int by_seq(const void *a, const void *b)
{
    const struct ag_coord_msg *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Appends the messages of one list with seq > after. */
static ag_err take(char **items, size_t ni, int64_t after, struct ag_coord_msg **v, size_t *n)
{
    for (size_t i = 0; i < ni; i++) {
        json_t *o = json_loads(items[i], 0, NULL);
        int64_t s = json_integer_value(json_object_get(o, "seq"));
        if (!o || s <= after) {
            json_decref(o);
            continue;
        }
        struct ag_coord_msg *nv = realloc(*v, (*n + 1) * sizeof *nv);
        if (!nv) {
            json_decref(o);
            return ag__fail(AG_ENOMEM, "messages: out of memory");
        }
        *v = nv;
        struct ag_coord_msg *m = &nv[(*n)++];
        m->seq = s;
        m->from = strdup(json_string_value(json_object_get(o, "from")) ?: "");
        m->to = strdup(json_string_value(json_object_get(o, "to")) ?: "");
        m->type = strdup(json_string_value(json_object_get(o, "type")) ?: "");
        m->content_json = json_dumps(json_object_get(o, "content"), JSON_COMPACT | JSON_ENCODE_ANY);
        m->ts_ms = json_integer_value(json_object_get(o, "ts"));
        json_decref(o);
        if (!m->from || !m->to || !m->type || !m->content_json)
            return ag__fail(AG_ENOMEM, "messages: out of memory");
    }
    return AG_OK;
}

ag_err ag_coord_recv(ag_coord *c, const char *task, const char *agent, int64_t after_seq,
                     struct ag_coord_msg **msgs, size_t *n)
{
    *msgs = NULL;
    *n = 0;
    if (!ag__coord_id_ok(task) || (agent && !ag__coord_id_ok(agent)))
        return ag__fail(AG_EINVAL, "messages: bad task or agent id");
    char key[AG__COORD_KEY_MAX];
    char **keys = NULL;
    size_t nkeys = 0;
    ag_err e;
    if (agent) {
        keys = calloc(2, sizeof *keys);
        if (!keys)
            return ag__fail(AG_ENOMEM, "messages: out of memory");
        snprintf(key, sizeof key, "msg:%s:%s", task, agent);
        keys[nkeys++] = strdup(key);
        snprintf(key, sizeof key, "msg:%s:broadcast", task);
        keys[nkeys++] = strdup(key);
        e = keys[0] && keys[1] ? AG_OK : ag__fail(AG_ENOMEM, "messages: out of memory");
    } else {
        snprintf(key, sizeof key, "msg:%s:", task);
        e = ag_store_keys(c->store, key, &keys, &nkeys);
    }
    for (size_t k = 0; !e && k < nkeys; k++) {
        char **items = NULL;
        size_t ni = 0;
        e = ag_store_lrange(c->store, keys[k], 0, -1, &items, &ni);
        if (!e)
            e = take(items, ni, after_seq, msgs, n);
        ag_store_strv_free(items, ni);
    }
    ag_store_strv_free(keys, nkeys);
    if (e) {
        ag_coord_msgs_free(*msgs, *n);
        *msgs = NULL;
        *n = 0;
        return e;
    }
    if (*n > 1)
        qsort(*msgs, *n, sizeof **msgs, by_seq);
    return AG_OK;
}
