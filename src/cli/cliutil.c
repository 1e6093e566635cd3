#include "cli/cliutil.h"

#include "agentgov/config.h"

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
    return ag_home_dir_is_set(dir_override);
}

const char *ag__cli_default_dir_doc(void)
{
    return ag_home_default_dir_doc();
}

const char *ag__cli_dir(void)
{
    static char buf[PATH_MAX];
    /* Every command needs the directory and none could do better than stop: exiting
     * here spares each caller a check for a case that a usable account never meets. */
    if (ag_home_resolve_dir(dir_override, buf, sizeof buf) != AG_OK) {
        ag__cli_error("%s", ag_last_error());
        exit(AG_EXIT_USAGE);
    }
    return buf;
}

const char *ag__cli_path(enum ag_home_file file)
{
    static char ring[8][PATH_MAX + 32];
    static int next;
    char *buf = ring[next++ % 8];
    snprintf(buf, sizeof ring[0], "%s/%s", ag__cli_dir(), ag_home_file_name(file));
    return buf;
}

int ag__cli_home(const struct ag_home_opts *opts, ag_home **out)
{
    /* ag__cli_dir first: it says why no directory is known, and exits. */
    if (ag_home_open(ag__cli_dir(), opts, out) != AG_OK)
        return ag__cli_home_fail(AG_EXIT_USAGE);
    return 0;
}

int ag__cli_policy_path(const char *flag, char *buf, size_t len)
{
    ag_home *h;
    const char *path;
    struct ag_home_opts ho = {.policy = flag, .lazy_config = 1}; /* read only if needed */
    if (ag__cli_home(&ho, &h) != 0)
        return -1;
    int rc = 0;
    if (ag_home_policy_path(h, &path) != AG_OK)
        rc = ag__cli_home_fail(-1);
    else if (snprintf(buf, len, "%s", path) >= (int)len)
        rc = -1, ag__cli_error("policy path longer than %zu bytes: %s", len - 1, path);
    ag_home_free(h);
    return rc;
}

int ag__cli_home_fail(int status)
{
    ag__cli_error("%s", ag_last_error());
    return status;
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
