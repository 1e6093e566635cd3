/* Votes and the seed's consensus rule: see include/agentgov/coord.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coord/coord_int.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/time.h"

static const char *const vote_names[] = {"ACCEPT", "REJECT", "ABSTAIN"};

const char *ag_vote_name(enum ag_vote v)
{
    return (unsigned)v < 3 ? vote_names[v] : "?";
}

int ag_vote_parse(const char *s)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, vote_names[i]) == 0)
            return i;
    return -1;
}

ag_err ag_coord_vote(ag_coord *c, const char *agent, const char *task, enum ag_vote v,
                     const char *reasoning, struct ag_gov_decision *d)
{
    return ag__coord_vote_x(c, NULL, agent, task, v, reasoning, d);
}

ag_err ag__coord_vote_x(ag_coord *c, const struct ag__coord_authz *az, const char *agent,
                        const char *task, enum ag_vote v, const char *reasoning,
                        struct ag_gov_decision *d)
{
    if (!ag__coord_id_ok(task) || !ag__coord_id_ok(agent))
        return ag__fail(AG_EINVAL, "vote: bad task or agent id");
    if ((unsigned)v > AG_VOTE_ABSTAIN)
        return ag__fail(AG_EINVAL, "vote: expected ACCEPT, REJECT or ABSTAIN");
    if (!reasoning || !*reasoning)
        return ag__fail(AG_EINVAL, "vote: %s's %s needs its reasoning", agent, ag_vote_name(v));
    char res[AG__COORD_KEY_MAX], key[AG__COORD_KEY_MAX], ck[AG__COORD_KEY_MAX];
    snprintf(res, sizeof res, "votes/%s", task);
    ag_err e = ag__coord_authorize_x(c, az, agent, task, "vote.cast", res, d);
    if (e)
        return e;
    json_t *o = json_pack("{s:s,s:s,s:I}", "vote", ag_vote_name(v), "reasoning", reasoning, "ts",
                          (json_int_t)ag__wall_ms());
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!txt)
        return ag__fail(AG_ENOMEM, "vote: out of memory");
    snprintf(key, sizeof key, "votes:%s", task);
    ag__coord_counter_key(ck, task);
    struct ag_store_op ops[4] = {{AG_OP_HSET, key, agent, txt, 0, 0},
                                 {AG_OP_PEXPIRE, key, NULL, NULL, c->ttl_ms, 0},
                                 {AG_OP_HINCRBY, ck, "votes", NULL, 1, 0},
                                 {AG_OP_PEXPIRE, ck, NULL, NULL, c->ttl_ms, 0}};
    struct ag_store_reply r[4];
    e = ag_store_exec(c->store, NULL, ops, 4, r, NULL);
    ag_store_reply_free(r, 4);
    free(txt);
    return e;
}

void ag_consensus_clear(struct ag_consensus *r)
{
    if (!r)
        return;
    free(r->missing);
    free(r->rejected_by);
    free(r->votes_json);
    memset(r, 0, sizeof *r);
}

static void list_add(struct ag_buf *b, const char *s)
{
    if (b->len)
        ag__buf_putc(b, ',');
    ag__buf_puts(b, s);
}

ag_err ag_coord_consensus(ag_coord *c, const char *task, const char *const *required,
                          size_t nrequired, struct ag_consensus *r)
{
    memset(r, 0, sizeof *r);
    if (!ag__coord_id_ok(task))
        return ag__fail(AG_EINVAL, "consensus: bad task id");
    char key[AG__COORD_KEY_MAX];
    snprintf(key, sizeof key, "votes:%s", task);
    struct ag_store_op op = {AG_OP_HGETALL, key};
    struct ag_store_reply rep;
    ag_err e = ag_store_exec(c->store, NULL, &op, 1, &rep, NULL);
    if (e)
        return e;
    json_t *votes = json_object();
    for (size_t i = 0; votes && rep.type == AG_REPLY_ARRAY && i + 1 < rep.nelems; i += 2) {
        json_t *v = json_loads(rep.elems[i + 1].str, 0, NULL);
        int k = ag_vote_parse(json_string_value(json_object_get(v, "vote")));
        if (k < 0) { /* unreadable: counts as no vote, so the rule cannot pass on it */
            json_decref(v);
            continue;
        }
        r->accept += k == AG_VOTE_ACCEPT;
        r->reject += k == AG_VOTE_REJECT;
        r->abstain += k == AG_VOTE_ABSTAIN;
        json_object_set_new(votes, rep.elems[i].str, v);
    }
    ag_store_reply_free(&rep, 1);
    struct ag_buf miss, rej;
    ag__buf_init(&miss);
    ag__buf_init(&rej);
    for (size_t i = 0; votes && i < nrequired; i++) {
        json_t *v = json_object_get(votes, required[i]);
        if (!v)
            list_add(&miss, required[i]);
        else if (!strcmp(json_string_value(json_object_get(v, "vote")), "REJECT"))
            list_add(&rej, required[i]);
    }
    ag__buf_putc(&miss, '\0');
    ag__buf_putc(&rej, '\0');
    miss.len--;
    rej.len--;
    if (miss.len)
        snprintf(r->reason, sizeof r->reason, "required agents did not vote: %s", miss.data);
    else if (rej.len)
        snprintf(r->reason, sizeof r->reason, "rejected by required agent(s): %s", rej.data);
    else if (r->accept <= r->reject)
        snprintf(r->reason, sizeof r->reason, "ACCEPT %d is not more than REJECT %d", r->accept,
                 r->reject);
    else {
        r->reached = 1;
        snprintf(r->reason, sizeof r->reason, "all required agents voted; ACCEPT %d > REJECT %d",
                 r->accept, r->reject);
    }
    r->missing = ag__buf_take(&miss);
    r->rejected_by = ag__buf_take(&rej);
    r->votes_json = votes ? json_dumps(votes, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(votes);
    if (!r->missing || !r->rejected_by || !r->votes_json) {
        ag_consensus_clear(r);
        return ag__fail(AG_ENOMEM, "consensus: out of memory");
    }
    /* The tally and the verdict go on the blackboard, written by the kernel. */
    e = ag_coord_bb_write(c, NULL, task, "consensus", "votes", r->votes_json, NULL);
    if (!e) {
        json_t *f = json_pack("{s:b,s:s,s:i,s:i,s:i}", "reached", r->reached, "reason", r->reason,
                              "accept", r->accept, "reject", r->reject, "abstain", r->abstain);
        char *ft = f ? json_dumps(f, JSON_COMPACT) : NULL;
        json_decref(f);
        e = ft ? ag_coord_bb_write(c, NULL, task, "consensus", "final", ft, NULL)
               : ag__fail(AG_ENOMEM, "consensus: out of memory");
        free(ft);
    }
    if (e)
        ag_consensus_clear(r);
    return e;
}
