/* Output redaction: before a tools/call result reaches the client, every value of
 * agentgov's KV secret store and every match of the policy's redact_patterns in its
 * strings is replaced by [REDACTED]; the count is ledgered, never the values. The
 * secrets are read once per session with the data directory's root token (each read is
 * ledgered by the secrets engine as usual). Fail closed: when the secrets should be
 * checked and cannot be read, the result is withheld. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/auth.h"
#include "core/buf.h"
#include "core/err.h"
#include "mcp/mcp_int.h"

#define REDACTED       "[REDACTED]"
#define MIN_SECRET_LEN 6 /* shorter values ("1", "true") would redact ordinary text */
#define MAX_SECRETS    4096
#define MAX_WALK_DEPTH 16

static void add_secret(struct ag__mcp_session *s, const char *v)
{
    if (strlen(v) < MIN_SECRET_LEN || s->nsecrets == MAX_SECRETS)
        return;
    for (size_t i = 0; i < s->nsecrets; i++)
        if (strcmp(s->secrets[i], v) == 0)
            return;
    char **n = realloc(s->secrets, (s->nsecrets + 1) * sizeof *n);
    if (n == NULL)
        return;
    s->secrets = n;
    if ((s->secrets[s->nsecrets] = strdup(v)) != NULL)
        s->nsecrets++;
}

/* Every string value (at any depth) of a secret's data. */
static void collect(struct ag__mcp_session *s, json_t *v, int depth)
{
    if (depth > MAX_WALK_DEPTH)
        return;
    if (json_is_string(v))
        add_secret(s, json_string_value(v));
    for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it))
        collect(s, json_object_iter_value(it), depth + 1);
    for (size_t i = 0; i < json_array_size(v); i++)
        collect(s, json_array_get(v, i), depth + 1);
}

/* Walks the KV tree under prefix ("" or "dir/"). */
static ag_err walk(struct ag__mcp_session *s, ag_auth *a, const char *token, const char *prefix,
                   int depth)
{
    char **keys = NULL;
    size_t n = 0;
    if (depth > MAX_WALK_DEPTH)
        return AG_OK;
    ag_err err = ag_auth_secret_list(a, token, prefix, &keys, &n);
    if (err == AG_ENOTFOUND)
        return AG_OK;
    for (size_t i = 0; err == AG_OK && i < n; i++) {
        char path[AG_SECRET_PATH_MAX * 2];
        snprintf(path, sizeof path, "%s%s", prefix, keys[i]);
        size_t len = strlen(path);
        if (len && path[len - 1] == '/') {
            err = walk(s, a, token, path, depth + 1);
            continue;
        }
        struct ag_secret sec = {0};
        ag_err e = ag_auth_secret_get(a, token, path, 0, &sec);
        if (e == AG_OK) {
            json_t *d = json_loads(sec.data_json, 0, NULL);
            collect(s, d, 0);
            json_decref(d);
        } else if (e != AG_ENOTFOUND) {
            err = e; /* a deleted latest version has nothing to leak; anything else fails */
        }
        ag_secret_clear(&sec);
    }
    ag_auth_strv_free(keys, n);
    return err;
}

static int longest_first(const void *a, const void *b)
{
    size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Reads the secrets and compiles the patterns, once. AG_OK when there is nothing to
 * read (no master key: no KV store in this data directory). */
static ag_err load(struct ag__mcp_session *s)
{
    if (s->redact_loaded)
        return AG_OK;
    const struct ag_policy_mcp *m = ag_policy_mcp(s->policy);
    if (m->npatterns && s->regexes == NULL) {
        regex_t *re = calloc(m->npatterns, sizeof *re);
        if (re == NULL)
            return AG_ENOMEM;
        s->regexes = re;
        for (; s->nregex < m->npatterns; s->nregex++)
            if (regcomp(&re[s->nregex], m->redact_patterns[s->nregex], REG_EXTENDED) != 0)
                return ag__fail(AG_EINVAL, "redact pattern '%s' does not compile",
                                m->redact_patterns[s->nregex]);
    }
    if (m->redact_secrets && ag_home_has_master_key(s->o.home)) {
        ag_auth *a;
        char token[AG_TOKEN_BUF];
        ag_err err = ag_home_auth(s->o.home, &a);
        if (err == AG_OK)
            err = ag_auth_token_read_file(ag_home_path(s->o.home, AG_HOME_ROOT_TOKEN), token);
        if (err == AG_OK)
            err = walk(s, a, token, "", 0);
        memset(token, 0, sizeof token);
        if (err != AG_OK)
            return err;
        qsort(s->secrets, s->nsecrets, sizeof *s->secrets, longest_first);
    }
    s->redact_loaded = 1;
    return AG_OK;
}

/* The string with every secret and pattern match replaced; NULL when unchanged. */
static char *scrub(struct ag__mcp_session *s, const char *in, int *count)
{
    struct ag_buf cur, next;
    ag__buf_init(&cur);
    ag__buf_puts(&cur, in);
    int n = 0;
    for (size_t i = 0; i < s->nsecrets && cur.data; i++) {
        const char *hit = strstr(cur.data, s->secrets[i]);
        if (hit == NULL)
            continue;
        ag__buf_init(&next);
        const char *p = cur.data;
        size_t sl = strlen(s->secrets[i]);
        for (; hit; hit = strstr(p, s->secrets[i])) {
            ag__buf_append(&next, p, (size_t)(hit - p));
            ag__buf_puts(&next, REDACTED);
            p = hit + sl;
            n++;
        }
        ag__buf_puts(&next, p);
        ag__buf_free(&cur);
        cur = next;
    }
    regex_t *re = s->regexes;
    for (size_t i = 0; i < s->nregex && cur.data; i++) {
        regmatch_t mt;
        const char *p = cur.data;
        int eflags = 0;
        ag__buf_init(&next);
        int any = 0;
        while (*p && regexec(&re[i], p, 1, &mt, eflags) == 0) {
            if (mt.rm_eo == mt.rm_so) { /* an empty match: step over one byte */
                ag__buf_append(&next, p, 1);
                p++;
                eflags = REG_NOTBOL;
                continue;
            }
            ag__buf_append(&next, p, (size_t)mt.rm_so);
            ag__buf_puts(&next, REDACTED);
            p += mt.rm_eo;
            eflags = REG_NOTBOL;
            n++;
            any = 1;
        }
        ag__buf_puts(&next, p);
        if (any) {
            ag__buf_free(&cur);
            cur = next;
        } else {
            ag__buf_free(&next);
        }
    }
    *count += n;
    if (n == 0 || cur.oom) {
        ag__buf_free(&cur);
        return n ? strdup(REDACTED) : NULL; /* out of memory mid-way: hide the whole string */
    }
    return ag__buf_take(&cur);
}

/* Replaces, in place, every string under v that holds a secret or a pattern match. */
static void scrub_tree(struct ag__mcp_session *s, json_t *v, int *count, int depth)
{
    if (depth > 64)
        return;
    for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
        json_t *x = json_object_iter_value(it);
        char *r = json_is_string(x) ? scrub(s, json_string_value(x), count) : NULL;
        if (r)
            json_object_iter_set_new(v, it, json_string(r));
        else if (!json_is_string(x))
            scrub_tree(s, x, count, depth + 1);
        free(r);
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *x = json_array_get(v, i);
        char *r = json_is_string(x) ? scrub(s, json_string_value(x), count) : NULL;
        if (r)
            json_array_set_new(v, i, json_string(r));
        else if (!json_is_string(x))
            scrub_tree(s, x, count, depth + 1);
        free(r);
    }
}

int ag__mcp_redact(struct ag__mcp_session *s, json_t *m, const char *tool)
{
    json_t *result = json_object_get(m, "result");
    if (result == NULL)
        return 0;
    const struct ag_policy_mcp *pm = ag_policy_mcp(s->policy);
    if (!pm->redact_secrets && pm->npatterns == 0)
        return 0;
    char why[512];
    if (load(s) != AG_OK) {
        snprintf(why, sizeof why,
                 "agentgov: the result of %s was withheld: the secrets it must be checked "
                 "against cannot be read: %s",
                 tool ? tool : "the call", ag_last_error());
        json_object_del(m, "result");
        json_object_set_new(m, "error", json_pack("{s:i,s:s}", "code", -32603, "message", why));
        if (s->o.report)
            s->o.report(s->o.report_ctx, why);
        return 1;
    }
    if (s->nsecrets == 0 && s->nregex == 0)
        return 0;
    int count = 0;
    scrub_tree(s, result, &count, 0);
    if (count == 0)
        return 0;
    char action[320];
    snprintf(action, sizeof action, "mcp.%s.%s", s->o.server, tool ? tool : "?");
    char data[256];
    snprintf(data, sizeof data, "{\"server\":\"%s\",\"redactions\":%d,\"method\":\"tools/call\"}",
             s->o.server, count);
    struct ag_ledger_entry e = {.kind = "action",
                                .agent_id = s->o.agent,
                                .tier = s->tier,
                                .action = action,
                                .resource = tool,
                                .decision = "redact",
                                .reason = "output_redacted",
                                .confidence = -1,
                                .success = -1,
                                .data_json = data};
    if (ag_ledger_append(s->ledger, &e, NULL, NULL) != AG_OK && s->o.report)
        s->o.report(s->o.report_ctx, "agentgov mcp: a redaction could not be ledgered");
    return 1;
}

void ag__mcp_redact_free(struct ag__mcp_session *s)
{
    for (size_t i = 0; i < s->nsecrets; i++) {
        memset(s->secrets[i], 0, strlen(s->secrets[i]));
        free(s->secrets[i]);
    }
    free(s->secrets);
    regex_t *re = s->regexes;
    for (size_t i = 0; i < s->nregex; i++)
        regfree(&re[i]);
    free(re);
}
