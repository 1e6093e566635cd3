/* Instruction packets and handoff objects: the seed's InstructionPacket and
 * HandoffObject, parsed with jansson and validated field by field, so that a bad
 * document is refused with the path of the first bad field rather than failing
 * later, half-way through a run. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/crypto.h"
#include "core/err.h"
#include "core/time.h"
#include "gov/packet.h"

static const char *const phase_names[] = {
#define AG__PHASE_STR(n) #n,
    AG_PHASE_MAP(AG__PHASE_STR)
#undef AG__PHASE_STR
};

const char *ag__phase_str(enum ag_phase ph)
{
    if (ph < 0 || ph >= AG_PHASE_COUNT)
        return "";
    return phase_names[ph];
}

ag_err ag__phase_from_str(const char *s, enum ag_phase *out)
{
    for (int i = 0; s && i < AG_PHASE_COUNT; i++)
        if (strcmp(s, phase_names[i]) == 0) {
            *out = (enum ag_phase)i;
            return AG_OK;
        }
    return ag__fail(AG_EINVAL,
                    "unknown phase '%s' (expected one of BOOTSTRAP PREFLIGHT PLAN "
                    "EXECUTE VERIFY PACKAGE REPORT EXIT)",
                    s ? s : "");
}

int ag_phase_transition_legal(enum ag_phase from, enum ag_phase to)
{
    if (to < 0 || to >= AG_PHASE_COUNT)
        return 0;
    if (from == AG_PHASE_NONE)
        return to == AG_PHASE_BOOTSTRAP;
    if (from < 0 || from >= AG_PHASE_COUNT)
        return 0;
    /* The same phase again is a new step within it; otherwise strictly the next. EXIT
     * ends the run, so nothing follows it, not even EXIT: a run ends (and counts) once. */
    return (to == from && from != AG_PHASE_EXIT) || to == from + 1;
}

/* ------------------------------------------------------------ validation --- */

/* A validation pass: the document kind ("packet", "handoff") for messages. */
struct vctx {
    const char *doc;
};

static ag_err bad(const struct vctx *v, const char *path, const char *what)
{
    return ag__fail(AG_EPARSE, "%s: %s: %s", v->doc, path, what);
}

static ag_err need_string(const struct vctx *v, json_t *obj, const char *key, const char *path,
                          int optional)
{
    json_t *x = json_object_get(obj, key);
    if (!x)
        return optional ? AG_OK : bad(v, path, "missing");
    if (!json_is_string(x))
        return bad(v, path, "expected string");
    return AG_OK;
}

static ag_err need_strlist(const struct vctx *v, json_t *obj, const char *key, const char *path,
                           int optional)
{
    json_t *x = json_object_get(obj, key);
    if (!x)
        return optional ? AG_OK : bad(v, path, "missing");
    if (!json_is_array(x))
        return bad(v, path, "expected array of strings");
    size_t i;
    json_t *e;
    json_array_foreach(x, i, e)
    {
        if (!json_is_string(e))
            return ag__fail(AG_EPARSE, "%s: %s[%zu]: expected string", v->doc, path, i);
    }
    return AG_OK;
}

static ag_err need_object(const struct vctx *v, json_t *obj, const char *key, const char *path,
                          int optional)
{
    json_t *x = json_object_get(obj, key);
    if (!x)
        return optional ? AG_OK : bad(v, path, "missing");
    if (!json_is_object(x))
        return bad(v, path, "expected object");
    return AG_OK;
}

/* Refuses keys outside `allowed` (NULL-terminated): a misspelt optional field would
 * otherwise be ignored silently and its default taken. */
static ag_err only_keys(const struct vctx *v, json_t *obj, const char *prefix,
                        const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, key) == 0;
        if (!ok)
            return ag__fail(AG_EPARSE, "%s: %s%s: unknown field", v->doc, prefix, key);
    }
    return AG_OK;
}

static ag_err load_doc(const struct vctx *v, const char *json, size_t len, json_t **out)
{
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return ag__fail(AG_EPARSE, "%s: line %d column %d: %s", v->doc, je.line, je.column,
                        je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return ag__fail(AG_EPARSE, "%s: expected a JSON object", v->doc);
    }
    *out = root;
    return AG_OK;
}

/* ---------------------------------------------------------------- packets -- */

#define PACKET_LISTS(X)                                                                            \
    X("deliverables", "deliverables", 0)                                                           \
    X("success_criteria", "success_criteria", 0)                                                   \
    X("escalation_rules", "escalation_rules", 0)                                                   \
    X("constraints.scope", "scope", 0)                                                             \
    X("constraints.forbidden", "forbidden", 0)                                                     \
    X("constraints.required_steps", "required_steps", 0)                                           \
    X("required_artifacts", "required_artifacts", 1)

enum { PL_DELIV, PL_SUCCESS, PL_ESC, PL_SCOPE, PL_FORBID, PL_STEPS, PL_REQART, PL_COUNT };

struct strlist {
    const char **v;
    size_t n;
};

struct ag_packet {
    json_t *root; /* owns every string below */
    const char *agent_id, *task_id, *agent_version;
    int tier;
    struct ag_error_budget budget;
    struct ag_llm_budget llm_budget;
    struct strlist lists[PL_COUNT];
    char digest[AG_SHA256_HEX_LEN];
};

static const char *const packet_keys[] = {
    "agent_id",    "task_id",          "created_for",        "objective",        "deliverables",
    "constraints", "success_criteria", "error_budget",       "escalation_rules", "created_at",
    "tier",        "agent_version",    "required_artifacts", "llm_budget",       NULL};
static const char *const constraint_keys[] = {"scope", "forbidden", "required_steps", NULL};
static const char *const budget_keys[] = {"max_total_errors", "max_same_error_repeats",
                                          "max_procedure_violations", NULL};

static const char *const llm_budget_keys[] = {"max_tokens", "max_cost_microusd", NULL};

/* The LLM budget (optional): tokens and cost (integer micro-USD: hashed records hold
 * no floats) an agent's model calls may spend before it is revoked. */
static ag_err check_llm_budget(const struct vctx *v, json_t *root)
{
    ag_err e = need_object(v, root, "llm_budget", "llm_budget", 1);
    json_t *b = json_object_get(root, "llm_budget");
    if (e || !b)
        return e;
    if ((e = only_keys(v, b, "llm_budget.", llm_budget_keys)))
        return e;
    for (const char *const *k = llm_budget_keys; *k; k++) {
        json_t *x = json_object_get(b, *k);
        if (x && (!json_is_integer(x) || json_integer_value(x) < 1 ||
                  json_integer_value(x) > 1000000000000LL))
            return ag__fail(AG_EPARSE, "%s: llm_budget.%s: expected integer 1..10^12", v->doc, *k);
    }
    return AG_OK;
}

static ag_err check_budget(const struct vctx *v, json_t *root)
{
    ag_err e = need_object(v, root, "error_budget", "error_budget", 1);
    json_t *b = json_object_get(root, "error_budget");
    if (e || !b)
        return e;
    if ((e = only_keys(v, b, "error_budget.", budget_keys)))
        return e;
    for (const char *const *k = budget_keys; *k; k++) {
        json_t *x = json_object_get(b, *k);
        if (!x)
            continue;
        if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 1000000)
            return ag__fail(AG_EPARSE, "%s: error_budget.%s: expected integer 1..1000000", v->doc,
                            *k);
    }
    return AG_OK;
}

static ag_err check_packet(const struct vctx *v, json_t *root)
{
    ag_err e;
    static const char *const strs[] = {"agent_id", "task_id", "created_for", "objective",
                                       "created_at"};
    if ((e = only_keys(v, root, "", packet_keys)))
        return e;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if ((e = need_string(v, root, strs[i], strs[i], 0)))
            return e;
    if (!*json_string_value(json_object_get(root, "agent_id")))
        return bad(v, "agent_id", "must not be empty");
    if (!*json_string_value(json_object_get(root, "task_id")))
        return bad(v, "task_id", "must not be empty");
    int64_t ms;
    if (ag__parse_rfc3339(json_string_value(json_object_get(root, "created_at")), &ms))
        return bad(v, "created_at", "expected an RFC 3339 timestamp");
    if ((e = need_object(v, root, "constraints", "constraints", 0)))
        return e;
    json_t *c = json_object_get(root, "constraints");
    if ((e = only_keys(v, c, "constraints.", constraint_keys)))
        return e;
    if ((e = need_strlist(v, c, "scope", "constraints.scope", 0)) ||
        (e = need_strlist(v, c, "forbidden", "constraints.forbidden", 0)) ||
        (e = need_strlist(v, c, "required_steps", "constraints.required_steps", 0)) ||
        (e = need_strlist(v, root, "deliverables", "deliverables", 0)) ||
        (e = need_strlist(v, root, "success_criteria", "success_criteria", 0)) ||
        (e = need_strlist(v, root, "escalation_rules", "escalation_rules", 0)) ||
        (e = need_strlist(v, root, "required_artifacts", "required_artifacts", 1)) ||
        (e = need_string(v, root, "agent_version", "agent_version", 1)) ||
        (e = check_budget(v, root)) || (e = check_llm_budget(v, root)))
        return e;
    json_t *t = json_object_get(root, "tier");
    if (t && (!json_is_integer(t) || json_integer_value(t) < AG_TIER_MIN ||
              json_integer_value(t) > AG_TIER_MAX))
        return bad(v, "tier", "expected integer 0..4");
    return AG_OK;
}

static ag_err fill_list(json_t *arr, struct strlist *l)
{
    l->n = arr ? json_array_size(arr) : 0;
    l->v = NULL;
    if (l->n == 0)
        return AG_OK;
    l->v = calloc(l->n, sizeof *l->v);
    if (!l->v)
        return ag__fail(AG_ENOMEM, "packet: out of memory");
    for (size_t i = 0; i < l->n; i++)
        l->v[i] = json_string_value(json_array_get(arr, i));
    return AG_OK;
}

static int budget_field(json_t *b, const char *key, int dflt)
{
    json_t *x = b ? json_object_get(b, key) : NULL;
    return x ? (int)json_integer_value(x) : dflt;
}

static ag_err fill_packet(ag_packet *p)
{
    json_t *r = p->root, *c = json_object_get(r, "constraints");
    json_t *b = json_object_get(r, "error_budget");
    p->agent_id = json_string_value(json_object_get(r, "agent_id"));
    p->task_id = json_string_value(json_object_get(r, "task_id"));
    p->agent_version = json_string_value(json_object_get(r, "agent_version"));
    json_t *t = json_object_get(r, "tier");
    p->tier = t ? (int)json_integer_value(t) : -1;
    p->budget.max_total_errors = budget_field(b, "max_total_errors", 8);
    p->budget.max_same_error_repeats = budget_field(b, "max_same_error_repeats", 2);
    p->budget.max_procedure_violations = budget_field(b, "max_procedure_violations", 1);
    json_t *lb = json_object_get(r, "llm_budget");
    json_t *mt = lb ? json_object_get(lb, "max_tokens") : NULL;
    json_t *mc = lb ? json_object_get(lb, "max_cost_microusd") : NULL;
    p->llm_budget.max_tokens = mt ? json_integer_value(mt) : 0;
    p->llm_budget.max_cost_microusd = mc ? json_integer_value(mc) : 0;
    /* Write the defaults back so the stored, canonical packet says what is enforced. */
    json_t *nb = json_pack("{s:i,s:i,s:i}", "max_total_errors", p->budget.max_total_errors,
                           "max_same_error_repeats", p->budget.max_same_error_repeats,
                           "max_procedure_violations", p->budget.max_procedure_violations);
    if (!nb || json_object_set_new(r, "error_budget", nb))
        return ag__fail(AG_ENOMEM, "packet: out of memory");
    json_t *src[PL_COUNT] = {
        json_object_get(r, "deliverables"),      json_object_get(r, "success_criteria"),
        json_object_get(r, "escalation_rules"),  json_object_get(c, "scope"),
        json_object_get(c, "forbidden"),         json_object_get(c, "required_steps"),
        json_object_get(r, "required_artifacts")};
    if (!src[PL_REQART])
        src[PL_REQART] = src[PL_DELIV];
    for (int i = 0; i < PL_COUNT; i++) {
        ag_err e = fill_list(src[i], &p->lists[i]);
        if (e)
            return e;
    }
    return AG_OK;
}

ag_err ag_packet_parse(const char *json, size_t len, ag_packet **out)
{
    struct vctx v = {"packet"};
    json_t *root;
    *out = NULL;
    if (!json)
        return ag__fail(AG_EINVAL, "packet: no document");
    ag_err e = load_doc(&v, json, len, &root);
    if (e)
        return e;
    if ((e = check_packet(&v, root))) {
        json_decref(root);
        return e;
    }
    ag_packet *p = calloc(1, sizeof *p);
    if (!p) {
        json_decref(root);
        return ag__fail(AG_ENOMEM, "packet: out of memory");
    }
    p->root = root;
    if ((e = fill_packet(p))) {
        ag_packet_free(p);
        return e;
    }
    ag__sha256_hex(json, len, p->digest);
    *out = p;
    return AG_OK;
}

void ag_packet_free(ag_packet *p)
{
    if (!p)
        return;
    for (int i = 0; i < PL_COUNT; i++)
        free(p->lists[i].v);
    json_decref(p->root);
    free(p);
}

const char *ag_packet_agent_id(const ag_packet *p)
{
    return p->agent_id;
}

const char *ag_packet_task_id(const ag_packet *p)
{
    return p->task_id;
}

const char *ag_packet_agent_version(const ag_packet *p)
{
    return p->agent_version;
}

int ag_packet_tier(const ag_packet *p)
{
    return p->tier;
}

struct ag_llm_budget ag_packet_llm_budget(const ag_packet *p)
{
    return p->llm_budget;
}

struct ag_error_budget ag_packet_budget(const ag_packet *p)
{
    return p->budget;
}

const char *ag__packet_digest(const ag_packet *p)
{
    return p->digest;
}

const char *const *ag_packet_list(const ag_packet *p, const char *name, size_t *n)
{
    static const char *const names[PL_COUNT] = {
#define AG__PL_NAME(full, short_, opt) full,
        PACKET_LISTS(AG__PL_NAME)
#undef AG__PL_NAME
    };
    for (int i = 0; i < PL_COUNT; i++)
        if (strcmp(names[i], name) == 0) {
            *n = p->lists[i].n;
            return p->lists[i].v;
        }
    *n = 0;
    return NULL;
}

ag_err ag_packet_to_json(const ag_packet *p, char **json)
{
    *json = json_dumps(p->root, JSON_COMPACT | JSON_SORT_KEYS);
    return *json ? AG_OK : ag__fail(AG_ENOMEM, "packet: out of memory");
}

/* --------------------------------------------------------------- handoffs -- */

static const char *const handoff_keys[] = {"task_id",
                                           "previous_agent_id",
                                           "revoked",
                                           "revocation_reason",
                                           "last_known_state",
                                           "what_was_tried",
                                           "blocking_issue",
                                           "required_next_actions",
                                           "constraints_reminder",
                                           "artifacts",
                                           "created_at",
                                           NULL};
static const char *const reason_keys[] = {"type", "details", NULL};
static const char *const lks_keys[] = {"phase", "step", NULL};

/* revocation_reason is an object {type, details}; null is accepted only when the
 * previous agent was not revoked (a voluntary handoff). */
static ag_err check_reason(const struct vctx *v, json_t *root)
{
    json_t *rr = json_object_get(root, "revocation_reason");
    if (json_is_null(rr) && !json_is_true(json_object_get(root, "revoked")))
        return AG_OK;
    ag_err e = need_object(v, root, "revocation_reason", "revocation_reason", 0);
    if (e || (e = only_keys(v, rr, "revocation_reason.", reason_keys)) ||
        (e = need_string(v, rr, "type", "revocation_reason.type", 0)) ||
        (e = need_string(v, rr, "details", "revocation_reason.details", 0)))
        return e;
    return AG_OK;
}

static ag_err check_handoff(const struct vctx *v, json_t *root)
{
    ag_err e;
    if ((e = only_keys(v, root, "", handoff_keys)) ||
        (e = need_string(v, root, "task_id", "task_id", 0)) ||
        (e = need_string(v, root, "previous_agent_id", "previous_agent_id", 0)))
        return e;
    if (!*json_string_value(json_object_get(root, "task_id")))
        return bad(v, "task_id", "must not be empty");
    json_t *rv = json_object_get(root, "revoked");
    if (!rv)
        return bad(v, "revoked", "missing");
    if (!json_is_boolean(rv))
        return bad(v, "revoked", "expected boolean");
    if ((e = check_reason(v, root)) ||
        (e = need_object(v, root, "last_known_state", "last_known_state", 0)))
        return e;
    json_t *lks = json_object_get(root, "last_known_state");
    enum ag_phase ph;
    if ((e = only_keys(v, lks, "last_known_state.", lks_keys)) ||
        (e = need_string(v, lks, "phase", "last_known_state.phase", 0)) ||
        (e = need_string(v, lks, "step", "last_known_state.step", 0)))
        return e;
    const char *phs = json_string_value(json_object_get(lks, "phase"));
    if (strcmp(phs, "REVOKED") != 0 && ag__phase_from_str(phs, &ph))
        return bad(v, "last_known_state.phase", "expected a lifecycle phase name");
    if ((e = need_strlist(v, root, "what_was_tried", "what_was_tried", 0)) ||
        (e = need_string(v, root, "blocking_issue", "blocking_issue", 0)) ||
        (e = need_strlist(v, root, "required_next_actions", "required_next_actions", 0)) ||
        (e = need_strlist(v, root, "constraints_reminder", "constraints_reminder", 0)) ||
        (e = need_strlist(v, root, "artifacts", "artifacts", 0)) ||
        (e = need_string(v, root, "created_at", "created_at", 1)))
        return e;
    return AG_OK;
}

ag_err ag_handoff_validate(const char *json, size_t len, char **canonical)
{
    struct vctx v = {"handoff"};
    json_t *root;
    if (canonical)
        *canonical = NULL;
    if (!json)
        return ag__fail(AG_EINVAL, "handoff: no document");
    ag_err e = load_doc(&v, json, len, &root);
    if (e)
        return e;
    if ((e = check_handoff(&v, root)) == AG_OK && canonical) {
        *canonical = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        if (!*canonical)
            e = ag__fail(AG_ENOMEM, "handoff: out of memory");
    }
    json_decref(root);
    return e;
}
