/* The `agentgov` command: a table of subcommands (see commands.h). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/cliutil.h"

struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
};

static const struct command commands[] = {
#define AG__CMD_ENTRY(name, help) {#name, ag__cmd_##name, help},
    AG_COMMAND_MAP(AG__CMD_ENTRY)
#undef AG__CMD_ENTRY
};

static void usage(FILE *out)
{
    fprintf(out, "usage: agentgov [--dir DIR] COMMAND [ARGS...]\n\n"
                 "A governance kernel for AI agents.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(out,
            "\nglobal options:\n"
            "  --dir DIR   data directory (else $AGENTGOV_DIR, else %s)\n"
            "  -h, --help  this help; `agentgov COMMAND --help` for a command\n",
            ag__cli_default_dir_doc());
    ag__cli_print_exit_statuses(out);
}

int main(int argc, char **argv)
{
    int i = 1;
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0)
            return ag__cmd_version(1, argv);
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            ag__cli_set_dir(argv[i + 1]);
            i += 2;
            continue;
        }
        if (strncmp(argv[i], "--dir=", 6) == 0) {
            ag__cli_set_dir(argv[i] + 6);
            i++;
            continue;
        }
        ag__cli_error("unknown option '%s' (see agentgov --help)", argv[i]);
        return AG_EXIT_USAGE;
    }
    if (i >= argc) {
        usage(stderr);
        return AG_EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].fn(argc - i, argv + i);
    if (strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return 0;
    }
    ag__cli_error("unknown command '%s' (see agentgov --help)", argv[i]);
    return AG_EXIT_USAGE;
}
