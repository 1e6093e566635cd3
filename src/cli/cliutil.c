#include "cli/cliutil.h"

#include "agentgov/config.h"
#include "agentgov/ledger.h"

#include <limits.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir_override[PATH_MAX];

void ag__cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("agentgov: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void ag__cli_warn(const char *fmt, ...)
{
    va_list ap;
    fputs("agentgov: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void ag__cli_error_ag(ag_err err, const char *what)
{
    const char *detail = ag_last_error();
    if (detail[0])
        ag__cli_error("%s: %s: %s", what, ag_strerror(err), detail);
    else
        ag__cli_error("%s: %s", what, ag_strerror(err));
}

void ag__cli_set_dir(const char *dir)
{
    /* A cut path would name another directory; like ag__cli_dir, nothing better than
     * stopping is open to the callers. */
    if (snprintf(dir_override, sizeof dir_override, "%s", dir) >= (int)sizeof dir_override) {
        ag__cli_error("--dir: path longer than %d bytes", PATH_MAX - 1);
        exit(AG_EXIT_USAGE);
    }
}

int ag__cli_dir_is_set(void)
{
    const char *env = getenv("AGENTGOV_DIR");
    return dir_override[0] || (env && *env);
}

const char *ag__cli_default_dir_doc(void)
{
    return "$XDG_DATA_HOME/agentgov when absolute, else $HOME/.local/share/agentgov";
}

const char *ag__cli_dir(void)
{
    static char buf[PATH_MAX];
    if (dir_override[0])
        return dir_override;
    const char *env = getenv("AGENTGOV_DIR");
    if (env && *env)
        return env;
    /* The XDG base directory spec says a relative $XDG_DATA_HOME is to be ignored. */
    const char *xdg = getenv("XDG_DATA_HOME");
    /* Not getpwuid: build/agentgov links glibc statically, and NSS modules loaded
     * into a static binary can crash it. A relative or missing $HOME would put the
     * keys and ledger under whatever the current directory is. */
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, sizeof buf, "%s/agentgov", xdg);
    else if (home && home[0] == '/')
        n = snprintf(buf, sizeof buf, "%s/.local/share/agentgov", home);
    else
        n = -1;
    /* Every command needs the directory and none could do better than stop: exiting
     * here spares each caller a check for a case that a usable account never meets. */
    if (n < 0 || (size_t)n >= sizeof buf) {
        ag__cli_error("no data directory: $HOME is unset or not an absolute path (or the "
                      "path is too long); set --dir or $AGENTGOV_DIR");
        exit(AG_EXIT_USAGE);
    }
    return buf;
}

const char *ag__cli_path(const char *name)
{
    static char ring[8][PATH_MAX];
    static int next;
    char *buf = ring[next++ % 8];
    snprintf(buf, PATH_MAX, "%s/%s", ag__cli_dir(), name);
    return buf;
}

const char *ag__cli_store_url(const char *flag)
{
    static char buf[PATH_MAX + 8];
    if (flag && *flag)
        return flag;
    const char *env = getenv("AGENTGOV_STORE");
    if (env && *env)
        return env;
    snprintf(buf, sizeof buf, "sqlite:%s", ag__cli_path("state.db"));
    return buf;
}

int ag__cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

/* The configuration over the defaults, or NULL when it cannot be had; report: print
 * why (file:line for a bad line). A bad line must not leave the lines above it
 * applied, so the whole file is refused. */
static ag_config *load_config(int report)
{
    ag_config *cfg;
    ag_err err = ag_config_new(&cfg);
    if (err == AG_OK && (err = ag_config_load_file(cfg, ag__cli_path("config"), 1))) {
        ag_config_free(cfg);
        cfg = NULL;
    }
    if (err && report)
        ag__cli_error_ag(err, "config");
    else if (err)
        ag_clear_error();
    return err ? NULL : cfg;
}

ag_config *ag__cli_config(void)
{
    return load_config(1);
}

int ag__cli_checkpoint_every(void)
{
    /* Quiet: the hook helper, its one caller, must not fail over a config that the
     * hook itself reports when it reads its settings. */
    ag_config *cfg = load_config(0);
    int every = cfg ? (int)ag_config_int(cfg, "ledger.checkpoint_every") : 1000;
    ag_config_free(cfg);
    return every;
}

const char *ag__cli_path_if_exists(const char *name)
{
    const char *path = ag__cli_path(name);
    return access(path, F_OK) == 0 ? path : NULL;
}

int ag__cli_open_ledger(struct ag_ledger **out)
{
    const char *db = ag__cli_path("ledger.db");
    if (access(db, F_OK) != 0) {
        ag__cli_error("no ledger at %s (run `agentgov init` first, or pass --dir)", db);
        return -1;
    }
    ag_config *cfg = ag__cli_config();
    if (cfg == NULL)
        return -1;
    struct ag_ledger_opts lo = {.signing_key_path = ag__cli_path_if_exists("ledger.key"),
                                .hmac_key_path = ag__cli_path_if_exists("ledger.hmac"),
                                .checkpoint_every =
                                    (int)ag_config_int(cfg, "ledger.checkpoint_every"),
                                .no_close_checkpoint = 1};
    ag_config_free(cfg);
    ag_err e = ag_ledger_open(db, &lo, out);
    if (e) {
        ag__cli_error_ag(e, "opening the ledger");
        return -1;
    }
    return 0;
}

int ag__cli_word_in(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return 1;
    return 0;
}

int ag__cli_walk_opts(int argc, char **argv, const struct option *longopts, int long_only,
                      const char *allowed, ag__cli_opt_fn set, void *ctx, char **pos, int maxpos)
{
    int npos = 0, c, idx, base = longopts[0].val;
    optind = 1;
    opterr = 0;
    /* "-" first: positionals come back as option 1 in order, mixed with options. */
    while ((c = long_only ? getopt_long_only(argc, argv, "-", longopts, &idx)
                          : getopt_long(argc, argv, "-", longopts, &idx)) != -1) {
        if (c == 1) {
            if (npos >= maxpos) {
                ag__cli_error("%s: unexpected argument '%s' (see --help)", argv[0], optarg);
                return -1;
            }
            pos[npos++] = optarg;
            continue;
        }
        if (c == '?' || c == ':' || c < base) {
            ag__cli_error("%s: unknown option or missing value: '%s' (see --help)", argv[0],
                          argv[optind - 1]);
            return -1;
        }
        const char *name = longopts[c - base].name;
        if (!ag__cli_word_in(allowed, name)) {
            ag__cli_error("%s: option --%s does not apply here (see --help)", argv[0], name);
            return -1;
        }
        if (set(c, name, ctx) != 0)
            return -1;
    }
    return npos;
}

int ag__cli_exit_of(ag_err err)
{
    switch (err) {
    case AG_OK:
        return AG_EXIT_OK;
    case AG_EINVAL:
    case AG_EPARSE:
    case AG_ENOTFOUND:
    case AG_EEXIST:
    case AG_ELIMIT:
    case AG_EUNSUPPORTED:
        return AG_EXIT_USAGE;
    case AG_EPERM:
    case AG_EREVOKED:
    case AG_EEXPIRED:
    case AG_ESTATE:
        return AG_EXIT_DENY;
    default:
        return AG_EXIT_ERROR;
    }
}

void ag__cli_print_exit_statuses(FILE *out)
{
    static const struct {
        int value;
        const char *name, *meaning;
    } rows[] = {
#define AG__EXIT_ROW(name, val, meaning) {val, #name, meaning},
        AG_EXIT_MAP(AG__EXIT_ROW)
#undef AG__EXIT_ROW
    };
    fputs("\nexit status (the same for every command; README.md, \"Exit statuses\"):\n", out);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        /* Wrapped at 80 columns, continuation lines under the meaning. */
        const char *m = rows[i].meaning;
        int col = fprintf(out, "  %d %-6s", rows[i].value, rows[i].name);
        const int indent = col;
        while (*m) {
            size_t w = strcspn(m, " ");
            if (col > indent && col + 1 + (int)w > 79) {
                fprintf(out, "\n%*s", indent, "");
                col = indent;
            }
            col += fprintf(out, " %.*s", (int)w, m);
            m += w;
            while (*m == ' ')
                m++;
        }
        fputc('\n', out);
    }
}
