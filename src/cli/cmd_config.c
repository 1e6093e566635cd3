/* `agentgov config`: the settings table with effective values and their origin. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agentgov/config.h"
#include "cli/cliutil.h"
#include "cli/commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: agentgov config [--file FILE] [--defaults]\n\n"
                 "Prints every setting with its effective value and where it came from.\n"
                 "Settings are read from <dir>/config (key = value lines).\n\n"
                 "  --file FILE  read this config file instead of <dir>/config\n"
                 "  --defaults   print the table of settings with defaults and bounds\n");
    ag__cli_print_exit_statuses(out);
}

static void print_defaults(void)
{
    size_t n;
    const struct ag_config_def *t = ag_config_table(&n);
    for (size_t i = 0; i < n; i++)
        printf("# %s\n# default: %s\n%s = %s\n\n", t[i].help, t[i].def[0] ? t[i].def : "(empty)",
               t[i].name, t[i].def);
}

int ag__cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {{"file", required_argument, NULL, 'f'},
                                         {"defaults", no_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *file = NULL;
    int defaults = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:dh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            file = optarg;
            break;
        case 'd':
            defaults = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return AG_EXIT_USAGE;
        }
    }
    if (defaults) {
        print_defaults();
        return 0;
    }
    ag_config *cfg;
    if (ag_config_new(&cfg) != AG_OK) {
        ag__cli_error("out of memory");
        return AG_EXIT_ERROR;
    }
    ag_err err;
    if (file) {
        err = ag_config_load_file(cfg, file, 0);
    } else {
        ag_home *h;
        struct ag_home_opts ho = {.lazy_config = 1}; /* read below, origins kept */
        if (ag__cli_home(&ho, &h) != 0) {
            ag_config_free(cfg);
            return AG_EXIT_USAGE;
        }
        err = ag_home_config_into(h, cfg);
        ag_home_free(h);
    }
    if (err) {
        ag__cli_error_ag(err, "config");
        ag_config_free(cfg);
        return ag__cli_exit_of(err);
    }
    size_t n;
    const struct ag_config_def *t = ag_config_table(&n);
    printf("%-28s %-28s %s\n", "SETTING", "VALUE", "FROM");
    for (size_t i = 0; i < n; i++)
        printf("%-28s %-28s %s\n", t[i].name, ag_config_str(cfg, t[i].name),
               ag_config_origin(cfg, t[i].name));
    ag_config_free(cfg);
    return 0;
}
