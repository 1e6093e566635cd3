/* Placeholder until the task command lands; it refuses rather than pretending. */
#include "cli/cliutil.h"
#include "cli/commands.h"

int ag__cmd_task(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ag__cli_error("'task' is not built yet");
    return AG_EXIT_USAGE;
}
