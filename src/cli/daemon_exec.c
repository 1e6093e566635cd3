/* `agentgov serve` in the CLI binary: runs the daemon binary, agentgovd, which is
 * installed next to agentgov and is the same program with the HTTP server linked in.
 *
 * Why two binaries: the server brings libmicrohttpd, and with it GnuTLS, whose library
 * constructors and relocations (about 1.2 million instructions and 200 page faults)
 * every cold process of a one-binary CLI paid, a hook decision included, although
 * only the daemon serves HTTP. The daemon starts once; the exec costs it a millisecond.
 * The process keeps its PID across the exec, so whoever started `agentgov serve` can
 * signal it as before. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cliutil.h"
#include "cli/commands.h"
#include "cli/https.h"
#include "cli/mcp_serve.h"
#include "cli/notifyctx.h"

#define DAEMON_NAME "agentgovd"

/* DIR/agentgovd, DIR being where this executable is. */
static int daemon_path(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    int w = snprintf(out, len, "%s/%s", exe, DAEMON_NAME);
    return w > 0 && (size_t)w < len ? 0 : -1;
}

/* Runs agentgovd with this command's arguments; returns only on failure. */
static int exec_daemon(const char *what, int argc, char **argv)
{
    char path[PATH_MAX];
    if (daemon_path(path, sizeof path) != 0) {
        ag__cli_error("%s: cannot find where agentgov is installed (/proc/self/exe)", what);
        return AG_EXIT_ERROR;
    }
    /* agentgovd --dir DIR serve ARGS...: the data directory chosen here goes along. */
    char **nargv = calloc((size_t)argc + 4, sizeof *nargv);
    if (nargv == NULL) {
        ag__cli_error("%s: out of memory", what);
        return AG_EXIT_ERROR;
    }
    int k = 0;
    nargv[k++] = path;
    if (ag__cli_dir_is_set()) {
        nargv[k++] = "--dir";
        /* A copy: execv takes char *const[]; the process image goes at once anyway. */
        if ((nargv[k++] = strdup(ag__cli_dir())) == NULL) {
            ag__cli_error("serve: out of memory");
            free(nargv);
            return AG_EXIT_ERROR;
        }
    }
    for (int i = 0; i < argc; i++)
        nargv[k++] = argv[i];
    nargv[k] = NULL;
    execv(path, nargv);
    int e = errno;
    free(nargv);
    ag__cli_error("%s: cannot run the daemon binary %s: %s (agentgovd is built and "
                  "installed next to agentgov)",
                  what, path, strerror(e));
    return AG_EXIT_ERROR;
}

int ag__cmd_serve(int argc, char **argv)
{
    return exec_daemon("serve", argc, argv);
}

/* Sending needs the HTTP client, which only agentgovd links. */
int ag__cli_notify_test(int argc, char **argv)
{
    return exec_daemon("notify test", argc, argv);
}

/* `agentgov mcp serve` needs the HTTP server and client too: agentgovd mcp serve ARGS. */
int ag__cli_mcp_serve(int argc, char **argv)
{
    return exec_daemon("mcp serve", argc, argv);
}

/* `agentgov orchestrate` talks to a model over libcurl, which agentgovd links (with
 * the HTTP server) and the lean CLI does not: the same exec as serve. */
int ag__cmd_orchestrate(int argc, char **argv)
{
    return exec_daemon("orchestrate", argc, argv);
}

/* HTTPS to a daemon needs libcurl, which only agentgovd links: the whole command
 * (`agentgov health --addr https://...`) runs again there; this returns only when the
 * exec fails, with the reason in err. */
int ag__cli_https_get(int argc, char **argv, const char *url, const char *ca, int *status,
                      char **body, char *err, size_t errlen)
{
    (void)url;
    (void)ca;
    (void)status;
    (void)body;
    int rc = exec_daemon(argv[0], argc, argv);
    snprintf(err, errlen, "cannot run agentgovd for HTTPS (exit %d)", rc);
    return -1;
}
