/* Placeholder until the agent command lands; it refuses rather than pretending. */
#include "cli/cliutil.h"
#include "cli/commands.h"

int ag__cmd_agent(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ag__cli_error("'agent' is not built yet");
    return AG_EXIT_USAGE;
}
