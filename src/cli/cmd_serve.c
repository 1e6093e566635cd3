/* Placeholder until the serve command lands; it refuses rather than pretending. */
#include "cli/cliutil.h"
#include "cli/commands.h"

int ag__cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ag__cli_error("'serve' is not built yet");
    return AG_EXIT_USAGE;
}
