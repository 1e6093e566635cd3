/* `agentgov task`: a task's status (active agent, its phase, artifacts, handoff), its
 * handoff (read, or write a validated HandoffObject) and its artifacts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/govctx.h"
#include "core/fileio.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: agentgov task SUBCOMMAND T [--store URL] [--policy FILE]\n\n"
        "  status T                           active agent, its phase, artifacts, handoff\n"
        "  handoff T [--write FILE]           print the latest handoff, or validate FILE\n"
        "                                     (- for stdin) and store it as the latest\n"
        "  artifact T NAME [--agent ID] [--sha256 HEX]   record an artifact of the task\n\n"
        "  --store URL    state store (else $AGENTGOV_STORE, else the embedded store)\n"
        "  --policy FILE  policy (else <dir>/policy.yaml, else the shipped default)\n\n"
        "`handoff` exits 2 (DENY) when the task has no handoff, 1 (USAGE) for an invalid one.\n");
    ag__cli_print_exit_statuses(out);
}

/* A coordinated task's metrics (agentgov orchestrate): counters and the last run's
 * summary from task:{id}:coord; nothing when the task was never coordinated. */
static void print_coord(struct ag__cli_gov *c, const char *task)
{
    char key[256];
    snprintf(key, sizeof key, "task:%s:coord", task);
    struct ag_store_op op = {AG_OP_HGETALL, key};
    struct ag_store_reply r;
    if (ag_store_exec(c->store, NULL, &op, 1, &r, NULL) != AG_OK || r.type != AG_REPLY_ARRAY ||
        r.nelems == 0) {
        ag_store_reply_free(&r, 1);
        return;
    }
    printf("coordination\n");
    for (size_t i = 0; i + 1 < r.nelems; i += 2)
        if (strcmp(r.elems[i].str, "metrics") != 0 && strcmp(r.elems[i].str, "msg_seq") != 0)
            printf("  %-16s %s\n", r.elems[i].str, r.elems[i + 1].str);
    for (size_t i = 0; i + 1 < r.nelems; i += 2) {
        if (strcmp(r.elems[i].str, "metrics") != 0)
            continue;
        json_t *m = json_loads(r.elems[i + 1].str, 0, NULL);
        static const char *const keys[] = {
            "llm_calls",  "prompt_tokens", "completion_tokens", "cost_microusd",
            "tool_calls", "tool_denied",   "revoked",           NULL};
        for (const char *const *k = keys; *k; k++)
            if (json_is_integer(json_object_get(m, *k)))
                printf("  %-16s %lld\n", *k, (long long)json_integer_value(json_object_get(m, *k)));
        json_decref(m);
    }
    ag_store_reply_free(&r, 1);
}

static int do_status(struct ag__cli_gov *c, const char *task)
{
    char key[256], *active = NULL, *handoff = NULL, **arts = NULL;
    size_t n = 0;
    snprintf(key, sizeof key, "task:%s:active_agent", task);
    ag_err e = ag_store_get(c->store, key, &active);
    snprintf(key, sizeof key, "task:%s:artifacts", task);
    if (!e)
        e = ag_store_lrange(c->store, key, 0, -1, &arts, &n);
    if (!e)
        e = ag_gov_read_handoff(c->gov, task, &handoff);
    if (e) {
        ag__cli_error_ag(e, task);
        free(active);
        return AG_EXIT_ERROR;
    }
    printf("task          %s\n", task);
    printf("active agent  %s", active ? active : "-");
    if (active) {
        struct ag_agent_status s;
        if (ag_gov_status(c->gov, active, &s) == AG_OK) {
            json_t *st = s.state_json ? json_loads(s.state_json, 0, NULL) : NULL;
            const char *ph = json_string_value(json_object_get(st, "phase"));
            printf(" (phase %s, tier %d%s)", ph ? ph : "-", s.tier, s.revoked ? ", revoked" : "");
            json_decref(st);
            ag_agent_status_clear(&s);
        }
    }
    printf("\nartifacts     %zu\n", n);
    for (size_t i = 0; i < n; i++)
        printf("  %s\n", arts[i]);
    printf("handoff       %s\n", handoff ? "yes (agentgov task handoff to read it)" : "none");
    print_coord(c, task);
    ag_store_strv_free(arts, n);
    free(active);
    free(handoff);
    return 0;
}

static int do_handoff(struct ag__cli_gov *c, const char *task, const char *file)
{
    ag_err e;
    if (file) {
        char *data = NULL;
        size_t len;
        e = ag__read_file(strcmp(file, "-") == 0 ? "/dev/stdin" : file, 1 << 20, &data, &len);
        if (e) {
            ag__cli_error_ag(e, file);
            return AG_EXIT_USAGE;
        }
        json_t *o = json_loads(data, 0, NULL);
        const char *t = json_string_value(json_object_get(o, "task_id"));
        if (t && strcmp(t, task) != 0) {
            ag__cli_error("handoff: task_id: '%s' does not match task '%s'", t, task);
            json_decref(o);
            free(data);
            return AG_EXIT_USAGE;
        }
        json_decref(o);
        e = ag_gov_write_handoff(c->gov, data);
        free(data);
        if (e) {
            ag__cli_error_ag(e, "handoff");
            return ag__cli_exit_of(e);
        }
        printf("handoff for %s stored (handoff:%s:latest)\n", task, task);
        return 0;
    }
    char *h = NULL;
    if ((e = ag_gov_read_handoff(c->gov, task, &h))) {
        ag__cli_error_ag(e, task);
        return AG_EXIT_ERROR;
    }
    if (!h) {
        ag__cli_error("task '%s' has no handoff", task);
        return AG_EXIT_DENY;
    }
    json_t *o = json_loads(h, 0, NULL);
    char *pretty = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    puts(pretty ? pretty : h);
    free(pretty);
    json_decref(o);
    free(h);
    return 0;
}

int ag__cmd_task(int argc, char **argv)
{
    if (argc < 2 || ag__cli_wants_help(argc, argv) || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    const char *allowed = strcmp(sub, "handoff") == 0    ? "store policy write"
                          : strcmp(sub, "artifact") == 0 ? "store policy agent sha256"
                          : strcmp(sub, "status") == 0   ? "store policy"
                                                         : NULL;
    if (!allowed) {
        ag__cli_error("task: unknown subcommand '%s' (see agentgov task --help)", sub);
        return AG_EXIT_USAGE;
    }
    struct ag__cli_gopts o;
    char *pos[2];
    int want = strcmp(sub, "artifact") == 0 ? 2 : 1;
    int npos = ag__cli_gov_opts(argc - 1, argv + 1, allowed, &o, pos, want);
    if (npos < 0)
        return AG_EXIT_USAGE;
    if (npos < want) {
        ag__cli_error("task %s: missing argument (see agentgov task --help)", sub);
        return AG_EXIT_USAGE;
    }
    struct ag__cli_gov c;
    int open_rc = ag__cli_gov_open(&c, o.store, o.policy);
    if (open_rc)
        return open_rc;
    int rc;
    if (strcmp(sub, "status") == 0) {
        rc = do_status(&c, pos[0]);
    } else if (strcmp(sub, "handoff") == 0) {
        rc = do_handoff(&c, pos[0], o.write);
    } else {
        ag_err e = ag_gov_add_artifact(c.gov, pos[0], o.agent, pos[1], o.sha256);
        rc = ag__cli_exit_of(e);
        if (e)
            ag__cli_error_ag(e, "artifact");
        else
            printf("artifact %s recorded for task %s\n", pos[1], pos[0]);
    }
    ag__cli_gov_close(&c);
    return rc;
}
