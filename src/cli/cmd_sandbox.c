/* `agentgov sandbox show|exec`: the kernel sandbox profile of a tier, and a way to
 * run one command under it (no governance: that is `agentgov run`). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentgov/policy.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/run_backstop.h"
#include "core/err.h"
#include "agentgov/runner.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: agentgov sandbox show --tier N [--policy FILE] [--workdir DIR] [--json]\n"
                 "       agentgov sandbox show --profile coding-agent [--project DIR]\n"
                 "                             [--policy FILE] [--connect-port N] [--json]\n"
                 "       agentgov sandbox exec --tier N [--policy FILE] [--workdir DIR]\n"
                 "                             [--allow-unsandboxed] -- CMD [ARGS...]\n"
                 "\n"
                 "show  prints the kernel sandbox profile of a tier: Landlock paths and TCP\n"
                 "      ports, seccomp denials, no_new_privs and rlimits (JSON with --json,\n"
                 "      the form recorded in the ledger). With --profile, the grant list of\n"
                 "      that profile of `agentgov run --profile` (docs/sandbox.md).\n"
                 "exec  runs CMD confined by that profile with DIR (default: the current\n"
                 "      directory) as its workdir, waits, and exits with its status (128+N\n"
                 "      when a signal N ended it). It adds no governance: see `agentgov run`.\n"
                 "\n"
                 "options:\n"
                 "  --tier N             tier 0-4 (required)\n"
                 "  --policy FILE        policy whose `sandbox:` section to use (else\n"
                 "                       <dir>/policy.yaml, else the shipped default)\n"
                 "  --workdir DIR        the child's working directory\n"
                 "  --json               show: print JSON\n"
                 "  --profile NAME       show: the backstop profile coding-agent\n"
                 "  --project DIR        with --profile: the project (default: current dir)\n"
                 "  --connect-port N     with --profile: TCP ports (default 443)\n"
                 "  --allow-unsandboxed  exec: run even if the kernel has no Landlock, or\n"
                 "                       lacks a Landlock feature the profile needs\n"
                 "                       (rlimits, seccomp and what Landlock there is apply)\n");
    ag__cli_print_exit_statuses(out);
}

struct sb_opts {
    struct ag__backstop_cli bs;
    int tier;
    const char *policy;
    const char *workdir;
    int json;
    int allow_unsandboxed;
};

static int parse(int argc, char **argv, struct sb_opts *o)
{
    static const struct option longs[] = {{"tier", required_argument, NULL, 't'},
                                          {"policy", required_argument, NULL, 'p'},
                                          {"workdir", required_argument, NULL, 'w'},
                                          {"json", no_argument, NULL, 'j'},
                                          {"allow-unsandboxed", no_argument, NULL, 'u'},
                                          {"profile", required_argument, NULL, 'P'},
                                          {"project", required_argument, NULL, 'D'},
                                          {"connect-port", required_argument, NULL, 'c'},
                                          {NULL, 0, NULL, 0}};
    int c;
    char *end;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", longs, NULL)) != -1) {
        switch (c) {
        case 't':
            o->tier = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg || o->tier < AG_TIER_MIN || o->tier > AG_TIER_MAX) {
                ag__cli_error("--tier '%s' is not a tier (0-4)", optarg);
                return -1;
            }
            break;
        case 'p':
            o->policy = optarg;
            break;
        case 'w':
            o->workdir = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 'u':
            o->allow_unsandboxed = 1;
            break;
        case 'P':
            o->bs.profile = optarg;
            break;
        case 'D':
            o->bs.project = optarg;
            break;
        case 'c':
            if (ag__backstop_add_ports(&o->bs, optarg) != 0)
                return -1;
            break;
        default:
            ag__cli_error("unknown option '%s' (see agentgov sandbox --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (o->tier < 0 && !o->bs.profile) {
        ag__cli_error("--tier is required (see agentgov sandbox --help)");
        return -1;
    }
    return 0;
}

static ag_policy *load(const struct sb_opts *o)
{
    char path[PATH_MAX + 32];
    if (ag__cli_policy_path(o->policy, path, sizeof path) != 0)
        return NULL;
    ag_policy *p = NULL;
    ag_err err = ag_policy_load(path, &p);
    if (err != AG_OK) {
        ag__cli_error_ag(err, path);
        return NULL;
    }
    return p;
}

static int show(const struct sb_opts *o, const struct ag_sandbox_profile *prof)
{
    char *text = NULL, real[PATH_MAX];
    const char *wd = o->workdir && realpath(o->workdir, real) ? real : o->workdir;
    ag_err err = o->json ? ag_sandbox_profile_json(prof, o->tier, wd, &text)
                         : ag_sandbox_profile_text(prof, o->tier, wd, &text);
    if (err != AG_OK) {
        ag__cli_error_ag(err, "sandbox show");
        return ag__cli_exit_of(err);
    }
    printf("%s%s", text, o->json ? "\n" : "");
    free(text);
    return AG_EXIT_OK;
}

static int exec_cmd(const struct sb_opts *o, const struct ag_sandbox_profile *prof, int argc,
                    char **argv)
{
    if (argc == 0) {
        ag__cli_error("sandbox exec: no command (put it after --)");
        return AG_EXIT_USAGE;
    }
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (args == NULL) {
        ag__cli_error("sandbox exec: out of memory");
        return AG_EXIT_ERROR;
    }
    memcpy(args, argv, sizeof(char *) * (size_t)argc);
    struct ag_spawn_opts so = {
        -1, -1, -1, 0, NULL, 0, o->allow_unsandboxed ? AG_SPAWN_ALLOW_NO_LANDLOCK : 0};
    pid_t pid;
    ag_err err = ag_sandbox_spawn(prof, o->workdir ? o->workdir : ".", args, NULL, &so, &pid);
    free(args);
    if (err != AG_OK) {
        ag__cli_error_ag(err, "sandbox exec");
        return err == AG_ENOTFOUND ? 127 : 126;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int ag__cmd_sandbox(int argc, char **argv)
{
    if (argc < 2 || ag__cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AG_EXIT_USAGE : AG_EXIT_OK;
    }
    int is_show = strcmp(argv[1], "show") == 0;
    if (!is_show && strcmp(argv[1], "exec") != 0) {
        ag__cli_error("unknown sandbox command '%s' (show or exec)", argv[1]);
        return AG_EXIT_USAGE;
    }
    struct sb_opts o = {.tier = -1};
    if (parse(argc - 1, argv + 1, &o) != 0)
        return AG_EXIT_USAGE;
    if (o.bs.profile) {
        if (!is_show) {
            ag__cli_error("sandbox exec --profile: use `agentgov run --profile %s`", o.bs.profile);
            return AG_EXIT_USAGE;
        }
        o.bs.policy = o.policy;
        return ag__backstop_show(&o.bs, o.json);
    }
    ag_policy *p = load(&o);
    if (!p)
        return AG_EXIT_USAGE;
    const struct ag_sandbox_profile *prof = ag_policy_sandbox(p, o.tier);
    int rc = is_show ? show(&o, prof) : exec_cmd(&o, prof, argc - 1 - optind, argv + 1 + optind);
    ag_policy_free(p);
    return rc;
}
