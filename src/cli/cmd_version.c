#include <stdio.h>

#include "cli/cliutil.h"
#include "cli/commands.h"

int ag__cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("agentgov %s\n", AG_VERSION);
    return 0;
}
