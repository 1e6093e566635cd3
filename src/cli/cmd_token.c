/* Placeholder until the token command lands; it refuses rather than pretending. */
#include "cli/cliutil.h"
#include "cli/commands.h"

int ag__cmd_token(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ag__cli_error("'token' is not built yet");
    return AG_EXIT_USAGE;
}
