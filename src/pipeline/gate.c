/* Human gates as approvals (gate.h). */
#include "pipeline/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/pipeline.h"
#include "core/err.h"
#include "pipeline/state.h"

#define GATE_ACTION "pipeline.gate"

void ag__pl_gate_id(const char *run, const char *stage, char id[AG_APPROVAL_ID_BUF])
{
    char key[AG__PL_KEY_MAX + 64];
    snprintf(key, sizeof key, "pipeline-gate:%s:%s", run, stage);
    ag_approval_id_for(key, id);
}

static ag_err gate_open(ag_store *s, ag_ledger *l, const char *run, const char *pipeline,
                        const char *stage, int64_t deadline_ms, const char *const *approvers,
                        size_t n, int required)
{
    char id[AG_APPROVAL_ID_BUF], resource[AG__PL_KEY_MAX + 8], requester[300];
    ag__pl_gate_id(run, stage, id);
    snprintf(resource, sizeof resource, "%s/%s", run, stage);
    snprintf(requester, sizeof requester, "pipeline:%s", pipeline ? pipeline : "");
    /* A bare name is a person ("user:NAME"); role: and tier: pass through. */
    char **ap = calloc(n ? n : 1, sizeof *ap);
    ag_err e = ap ? AG_OK : ag__fail(AG_ENOMEM, "gate: out of memory");
    for (size_t i = 0; !e && i < n; i++) {
        const char *a = approvers[i];
        int typed = strncmp(a, "user:", 5) == 0 || strncmp(a, "role:", 5) == 0 ||
                    strncmp(a, "tier:", 5) == 0;
        size_t len = strlen(a) + 6;
        if (!(ap[i] = malloc(len)))
            e = ag__fail(AG_ENOMEM, "gate: out of memory");
        else
            snprintf(ap[i], len, "%s%s", typed ? "" : "user:", a);
    }
    json_t *args = json_pack("{s:s, s:s, s:s}", "pipeline", pipeline ? pipeline : "", "run", run,
                             "stage", stage);
    char *args_js = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(args);
    ag_approve *apv = NULL;
    if (!e)
        e = args_js ? ag_approve_new(&(struct ag_approve_opts){.store = s, .ledger = l}, &apv)
                    : ag__fail(AG_ENOMEM, "gate: out of memory");
    if (!e) {
        struct ag_approve_open o = {.id = id,
                                    .requester = requester,
                                    .action = GATE_ACTION,
                                    .resource = resource,
                                    .args_json = args_js,
                                    .approvers = (const char *const *)ap,
                                    .napprovers = n,
                                    .required = required > 0 ? required : 1,
                                    .expires_ms = deadline_ms};
        e = ag_approve_open(apv, &o, NULL);
    }
    ag_approve_free(apv);
    free(args_js);
    for (size_t i = 0; ap && i < n; i++)
        free(ap[i]);
    free(ap);
    return e;
}

/* Who answered, from the approval's votes: the deciding vote names the answer. */
static void answer_of(const struct ag_approval *a, char *msg, size_t cap)
{
    msg[0] = '\0';
    if (strcmp(a->status, "expired") == 0) {
        snprintf(msg, cap, "timed out: no answer before the deadline");
        return;
    }
    json_t *rec = json_loads(a->json, 0, NULL);
    if (strcmp(a->status, "withdrawn") == 0) {
        const char *why =
            json_string_value(json_object_get(json_object_get(rec, "withdrawn"), "reason"));
        snprintf(msg, cap, "withdrawn%s%s", why ? ": " : "", why ? why : "");
        json_decref(rec);
        return;
    }
    json_t *votes = json_object_get(rec, "votes");
    json_t *last = json_array_get(votes, json_array_size(votes) - 1);
    const char *by =
        json_string_value(json_object_get(json_object_get(last, "approver"), "entity"));
    const char *why = json_string_value(json_object_get(last, "reason"));
    if (last && by) {
        if (strcmp(a->status, "denied") == 0)
            snprintf(msg, cap, "denied by %s%s%s", by, why ? ": " : "", why ? why : "");
        else
            snprintf(msg, cap, "%s by %s (%d of %d)%s%s",
                     strcmp(a->status, "approved") == 0 ? "approved" : "approval", by, a->approvals,
                     a->required, why ? ": " : "", why ? why : "");
    }
    json_decref(rec);
}

static ag_err gate_poll(ag_store *s, const char *run, const char *stage, enum ag__gate_status *st,
                        char *msg, size_t cap)
{
    char id[AG_APPROVAL_ID_BUF];
    ag__pl_gate_id(run, stage, id);
    msg[0] = '\0';
    struct ag_approval a;
    ag_err e = ag_approve_peek(s, id, &a);
    if (e == AG_ENOTFOUND)
        return ag__fail(AG_ENOTFOUND, "gate %s of run %s: no approval %s", stage, run, id);
    if (e)
        return e;
    answer_of(&a, msg, cap);
    *st = strcmp(a.status, "approved") == 0  ? AG__GATE_APPROVED
          : strcmp(a.status, "denied") == 0  ? AG__GATE_DENIED
          : strcmp(a.status, "expired") == 0 ? AG__GATE_TIMED_OUT
          : strcmp(a.status, "pending") == 0 ? AG__GATE_PENDING
                                             : AG__GATE_DENIED; /* withdrawn, unknown: closed */
    ag_approval_clear(&a);
    return AG_OK;
}

static ag_err gate_withdraw(ag_store *s, ag_ledger *l, const char *run, const char *stage,
                            const char *reason)
{
    char id[AG_APPROVAL_ID_BUF], by[64];
    ag__pl_gate_id(run, stage, id);
    snprintf(by, sizeof by, "pipeline-run:%s", run);
    ag_approve *apv = NULL;
    ag_err e = ag_approve_new(&(struct ag_approve_opts){.store = s, .ledger = l}, &apv);
    if (!e)
        e = ag_approve_withdraw(apv, id, by, reason, NULL);
    ag_approve_free(apv);
    return e == AG_ENOTFOUND ? AG_OK : e;
}

const struct ag__pl_gates ag__pl_approval_gates = {gate_open, gate_poll, gate_withdraw};

ag_err ag__pl_gate_json(ag_store *s, const char *run, const char *stage, json_t **out)
{
    *out = NULL;
    char id[AG_APPROVAL_ID_BUF], msg[600];
    ag__pl_gate_id(run, stage, id);
    struct ag_approval a;
    ag_err e = ag_approve_peek(s, id, &a);
    if (e == AG_ENOTFOUND)
        return AG_OK;
    if (e)
        return e;
    answer_of(&a, msg, sizeof msg);
    json_t *rec = json_loads(a.json, 0, NULL);
    json_t *who = json_array(), *got = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(rec, "approvers"), i, v)
    {
        const char *n = json_string_value(v);
        if (n)
            json_array_append_new(who, json_string(strncmp(n, "user:", 5) == 0 ? n + 5 : n));
    }
    json_array_foreach(json_object_get(rec, "votes"), i, v)
    {
        const char *by =
            json_string_value(json_object_get(json_object_get(v, "approver"), "entity"));
        if (by && strcmp(json_string_value(json_object_get(v, "decision")), "approve") == 0)
            json_array_append_new(got, json_string(by));
    }
    json_decref(rec);
    *out = json_pack("{s:s, s:s, s:o, s:o, s:i, s:I, s:s}", "approval_id", a.id, "status",
                     strcmp(a.status, "expired") == 0 ? "timed_out" : a.status, "approvers", who,
                     "approvals", got, "required", a.required, "deadline", (json_int_t)a.expires_ms,
                     "answer", msg);
    ag_approval_clear(&a);
    return *out ? AG_OK : ag__fail(AG_ENOMEM, "gate: out of memory");
}

ag_err ag_pipeline_gate_answer(ag_store *s, ag_ledger *l, const char *run, const char *stage,
                               int approve, const char *by, const char *reason)
{
    ag_err e = ag__pl_check_run_id(run);
    if (e)
        return e;
    if (!by || !*by)
        return ag__fail(AG_EINVAL, "a gate answer needs who gives it");
    if (strlen(by) >= AG_AUTH_NAME_MAX)
        return ag__fail(AG_EINVAL, "a gate answer's name is longer than %d bytes",
                        AG_AUTH_NAME_MAX - 1);
    char id[AG_APPROVAL_ID_BUF];
    ag__pl_gate_id(run, stage, id);
    ag_approve *apv = NULL;
    if ((e = ag_approve_new(&(struct ag_approve_opts){.store = s, .ledger = l}, &apv)))
        return e;
    struct ag_approval a;
    e = ag_approve_get(apv, id, &a);
    if (e == AG_ENOTFOUND) {
        ag_approve_free(apv);
        return ag__fail(AG_ENOTFOUND, "run %s has no gate '%s' waiting (yet)", run, stage);
    }
    if (e) {
        ag_approve_free(apv);
        return e;
    }
    /* The person named by --by; a gate without approvers may be answered by anyone. */
    struct ag_identity who = {.tier = -1};
    snprintf(who.entity, sizeof who.entity, "%s", by);
    snprintf(who.accessor, sizeof who.accessor, "cli:%.55s", by);
    snprintf(who.via, sizeof who.via, "cli");
    json_t *rec = json_loads(a.json, 0, NULL), *v;
    who.admin = json_array_size(json_object_get(rec, "approvers")) == 0;
    /* An approver approving again is not counted twice, and is no error. */
    int again = 0;
    size_t i;
    json_array_foreach(json_object_get(rec, "votes"), i, v)
    {
        const char *ent =
            json_string_value(json_object_get(json_object_get(v, "approver"), "entity"));
        again |= approve && ent && strcmp(ent, by) == 0 &&
                 strcmp(json_string_value(json_object_get(v, "decision")), "approve") == 0;
    }
    json_decref(rec);
    int pending = strcmp(a.status, "pending") == 0;
    if (!pending)
        e = ag__fail(AG_ESTATE, "gate '%s' of run %s is %s", stage, run,
                     strcmp(a.status, "expired") == 0 ? "past its deadline" : a.status);
    else if (!again) {
        e = ag_approve_decide(apv, id, &who, approve,
                              reason && *reason ? reason
                              : approve         ? NULL
                                                : "denied with `agentgov pipeline deny`",
                              NULL);
        if (e == AG_EPERM)
            e = ag__fail(AG_EPERM, "'%s' is not an approver of gate '%s' (%s)", by, stage,
                         ag_last_error());
    }
    if (!e && !again) {
        /* The run's own trail names the answer too (the approval has its entries). */
        json_t *d = json_pack("{s:s,s:s,s:b,s:s}", "stage", stage, "by", by, "approve", approve,
                              "approval_id", id);
        char *data = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        json_t *meta = NULL;
        if (ag__pl_get_json(s, run, "meta", &meta) != AG_OK)
            meta = NULL;
        e = data ? ag__pl_ledger_run(l, run, json_string_value(json_object_get(meta, "pipeline")),
                                     approve ? "gate.approve" : "gate.deny", approve,
                                     approve ? "approved" : "denied", data)
                 : AG_ENOMEM;
        json_decref(meta);
        free(data);
    }
    ag_approval_clear(&a);
    ag_approve_free(apv);
    return e;
}
