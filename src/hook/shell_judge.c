/* The shell judge (see shell_judge.h). Each simple command of the parsed line is
 * unwrapped (env, sudo, xargs, timeout, bash -c, ...), its options are read with the
 * program's own option table, so that every spelling of an option comes out the
 * same, and its operands, option values and redirections are sorted into paths read,
 * paths written and text. What depends on a value the hook cannot know (a variable,
 * a command substitution, eval, code given to an interpreter) is shell.opaque. */
#include "hook/shell_judge.h"

#include <ctype.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"

/* ---- option tables ----------------------------------------------------------------- */

/* Roles of an option's value or of an operand. */
enum role {
    R_NONE,
    R_READ,   /* a path read */
    R_WRITE,  /* a path written */
    R_CHDIR,  /* a directory the program works in */
    R_TARGET, /* the directory copies go to (cp -t) */
    R_GLOB,   /* a search glob (grep --include, rg -g, find -name) */
    R_CODE,   /* program text: what it does cannot be judged */
    R_PAT,    /* the pattern or script is given: operands are all files */
    R_DATA,   /* curl data: "@file" reads file */
};

/* One option: short letters (any of them), long name, whether it takes a value
 * (0 no, 1 yes, 2 only attached: -i.bak, --in-place=.bak), the role of the value, and
 * the canonical name when it is not --long. */
struct opt {
    const char *shorts;
    const char *lng;
    int arg;
    enum role role;
    const char *canon;
};

enum args {
    A_NONE,    /* operands are text */
    A_READ,    /* operands are paths read */
    A_WRITE,   /* operands are paths written */
    A_RW,      /* read and written (editors, gzip) */
    A_PATREAD, /* first operand a pattern or script (unless given by option), rest read */
    A_MODE,    /* first operand a mode or owner, rest written (chmod, chown) */
    A_COPY,    /* sources read, last operand written (into it when a directory) */
    A_MOVE,    /* as A_COPY, and the sources are written (removed) too */
    A_SEARCH,  /* first operand a pattern (unless given), rest searched (rg) */
    A_UNKNOWN, /* a program not in the table: operands read */
};

struct prog {
    const char *names; /* space-separated */
    enum args args;
    const struct opt *opts;
    int special; /* a handler below */
};

enum special {
    S_NONE,
    S_FIND,
    S_GIT,
    S_TAR,
    S_DD,
    S_INTERP,
    S_SHELL,
    S_CD,
    S_OPAQUE,
    S_WRAP_OPAQUE,
    S_SED,
    S_AWK,
    S_GREP,
    S_UNIQ,
    S_SCP,
    S_PATCH,
    S_EXPORT,
    S_SOURCE,
    S_ZIP,
    S_UNZIP,
};

static const struct opt o_rm[] = {{"rR", "recursive", 0, R_NONE, NULL},
                                  {"f", "force", 0, R_NONE, NULL},
                                  {"i", "interactive", 2, R_NONE, NULL},
                                  {"I", NULL, 0, R_NONE, "--interactive"},
                                  {"d", "dir", 0, R_NONE, NULL},
                                  {"v", "verbose", 0, R_NONE, NULL},
                                  {"", "one-file-system", 0, R_NONE, NULL},
                                  {"", "no-preserve-root", 0, R_NONE, NULL},
                                  {"", "preserve-root", 2, R_NONE, NULL},
                                  {NULL, NULL, 0, 0, NULL}};
static const struct opt o_cp[] = {{"rR", "recursive", 0, R_NONE, NULL},
                                  {"a", "archive", 0, R_NONE, NULL},
                                  {"f", "force", 0, R_NONE, NULL},
                                  {"t", "target-directory", 1, R_TARGET, NULL},
                                  {"T", "no-target-directory", 0, R_NONE, NULL},
                                  {"S", "suffix", 1, R_NONE, NULL},
                                  {"", "backup", 2, R_NONE, NULL},
                                  {"m", "mode", 1, R_NONE, NULL},
                                  {"o", "owner", 1, R_NONE, NULL},
                                  {"g", "group", 1, R_NONE, NULL},
                                  {"", "reflink", 2, R_NONE, NULL},
                                  {"", "sparse", 1, R_NONE, NULL},
                                  {"", "preserve", 2, R_NONE, NULL},
                                  {"", "no-preserve", 1, R_NONE, NULL},
                                  {"d", "directory", 0, R_NONE, NULL}, /* install -d */
                                  {"s", "symbolic", 0, R_NONE, NULL},
                                  {"v", "verbose", 0, R_NONE, NULL},
                                  {NULL, NULL, 0, 0, NULL}};
static const struct opt o_mode[] = {{"R", "recursive", 0, R_NONE, NULL},
                                    {"", "reference", 1, R_READ, NULL},
                                    {"", "from", 1, R_NONE, NULL},
                                    {"v", "verbose", 0, R_NONE, NULL},
                                    {"c", "changes", 0, R_NONE, NULL},
                                    {"f", "silent", 0, R_NONE, NULL},
                                    {"h", "no-dereference", 0, R_NONE, NULL},
                                    {NULL, NULL, 0, 0, NULL}};
static const struct opt o_touch[] = {{"r", "reference", 1, R_READ, NULL},
                                     {"d", "date", 1, R_NONE, NULL},
                                     {"t", NULL, 1, R_NONE, NULL},
                                     {"s", "size", 1, R_NONE, NULL}, /* truncate */
                                     {"m", "mode", 1, R_NONE, NULL}, /* mkdir */
                                     {"p", "parents", 0, R_NONE, NULL},
                                     {"n", "iterations", 1, R_NONE, NULL}, /* shred */
                                     {"u", "remove", 2, R_NONE, NULL},
                                     {NULL, NULL, 0, 0, NULL}};
static const struct opt o_tee[] = {{"a", "append", 0, R_NONE, NULL},
                                   {NULL, NULL, 0, 0, NULL}};
static const struct opt o_grep[] = {{"e", "regexp", 1, R_PAT, NULL},
                                    {"f", "file", 1, R_PAT, "--file"},
                                    {"rR", "recursive", 0, R_NONE, NULL},
                                    {"", "dereference-recursive", 0, R_NONE, "--recursive"},
                                    {"m", "max-count", 1, R_NONE, NULL},
                                    {"A", "after-context", 1, R_NONE, NULL},
                                    {"B", "before-context", 1, R_NONE, NULL},
                                    {"C", "context", 1, R_NONE, NULL},
                                    {"", "include", 1, R_GLOB, NULL},
                                    {"", "exclude", 1, R_NONE, NULL},
                                    {"", "exclude-dir", 1, R_NONE, NULL},
                                    {"", "exclude-from", 1, R_READ, NULL},
                                    {"d", "directories", 1, R_NONE, NULL},
                                    {"D", "devices", 1, R_NONE, NULL},
                                    {"", "color", 2, R_NONE, NULL},
                                    {"", "colour", 2, R_NONE, NULL},
                                    {"", "label", 1, R_NONE, NULL},
                                    {"", "binary-files", 1, R_NONE, NULL},
                                    {"", "context", 1, R_NONE, NULL},
                                    /* rg, ag */
                                    {"g", "glob", 1, R_GLOB, NULL},
                                    {"", "iglob", 1, R_GLOB, NULL},
                                    {"t", "type", 1, R_NONE, NULL},
                                    {"T", "type-not", 1, R_NONE, NULL},
                                    {"j", "threads", 1, R_NONE, NULL},
                                    {"M", "max-columns", 1, R_NONE, NULL},
                                    {"", "max-depth", 1, R_NONE, NULL},
                                    {"", "type-add", 1, R_NONE, NULL},
                                    {"", "sort", 1, R_NONE, NULL},
                                    {"", "pre", 1, R_CODE, NULL},
                                    {"E", "encoding", 1, R_NONE, NULL},
                                    {NULL, NULL, 0, 0, NULL}};
static const struct opt o_sed[] = {{"e", "expression", 1, R_PAT, NULL},
                                   {"f", "file", 1, R_PAT, "--file"},
                                   {"i", "in-place", 2, R_NONE, NULL},
                                   {"l", "line-length", 1, R_NONE, NULL},
                                   {"n", "quiet", 0, R_NONE, NULL},
                                   {"E", "regexp-extended", 0, R_NONE, NULL},
                                   {"r", NULL, 0, R_NONE, "--regexp-extended"},
                                   {"s", "separate", 0, R_NONE, NULL},
                                   {"z", "null-data", 0, R_NONE, NULL},
                                   {NULL, NULL, 0, 0, NULL}};
static const struct opt o_awk[] = {{"f", "file", 1, R_PAT, "--file"},
                                   {"e", "source", 1, R_CODE, NULL},
                                   {"v", "assign", 1, R_NONE, NULL},
                                   {"F", "field-separator", 1, R_NONE, NULL},
                                   {"i", "include", 1, R_READ, NULL},
                                   {"l", "load", 1, R_CODE, NULL},
                                   {NULL, NULL, 0, 0, NULL}};
static const struct opt o_jq[] = {{"f", "from-file", 1, R_PAT, NULL},
                                  {"", "arg", 0, R_NONE, NULL},
                                  {"", "argjson", 0, R_NONE, NULL},
                                  {"", "slurpfile", 0, R_NONE, NULL},
                                  {"", "rawfile", 0, R_NONE, NULL},
                                  {"", "indent", 1, R_NONE, NULL},
                                  {"L", NULL, 1, R_NONE, NULL},
                                  {NULL, NULL, 0, 0, NULL}};
static const struct opt o_sort[] = {{"o", "output", 1, R_WRITE, NULL},
                                    {"k", "key", 1, R_NONE, NULL},
                                    {"t", "field-separator", 1, R_NONE, NULL},
                                    {"T", "temporary-directory", 1, R_NONE, NULL},
                                    {"S", "buffer-size", 1, R_NONE, NULL},
                                    {"", "files0-from", 1, R_READ, NULL},
                                    {"n", "lines", 1, R_NONE, NULL}, /* head, tail */
                                    {"c", "bytes", 1, R_NONE, NULL},
                                    {"w", "width", 1, R_NONE, NULL},
                                    {"s", "sleep-interval", 1, R_NONE, NULL},
                                    {NULL, NULL, 0, 0, NULL}};
static const struct opt o_curl[] = {{"o", "output", 1, R_WRITE, NULL},
                                    {"", "output-dir", 1, R_WRITE, NULL},
                                    {"T", "upload-file", 1, R_READ, NULL},
                                    {"K", "config", 1, R_READ, NULL},
                                    {"b", "cookie", 1, R_DATA, NULL},
                                    {"c", "cookie-jar", 1, R_WRITE, NULL},
                                    {"D", "dump-header", 1, R_WRITE, NULL},
                                    {"", "trace", 1, R_WRITE, NULL},
                                    {"", "trace-ascii", 1, R_WRITE, NULL},
                                    {"", "stderr", 1, R_WRITE, NULL},
                                    {"", "cacert", 1, R_READ, NULL},
                                    {"E", "cert", 1, R_READ, NULL},
                                    {"", "key", 1, R_READ, NULL},
                                    {"", "netrc-file", 1, R_READ, NULL},
                                    {"d", "data", 1, R_DATA, NULL},
                                    {"", "data-binary", 1, R_DATA, NULL},
                                    {"", "data-urlencode", 1, R_DATA, NULL},
                                    {"", "data-ascii", 1, R_DATA, NULL},
                                    {"", "json", 1, R_DATA, NULL},
                                    {"F", "form", 1, R_DATA, NULL},
                                    {"", "data-raw", 1, R_NONE, NULL},
                                    {"H", "header", 1, R_DATA, NULL},
                                    {"X", "request", 1, R_NONE, NULL},
                                    {"u", "user", 1, R_NONE, NULL},
                                    {"A", "user-agent", 1, R_NONE, NULL},
                                    {"e", "referer", 1, R_NONE, NULL},
                                    {"m", "max-time", 1, R_NONE, NULL},
                                    {"x", "proxy", 1, R_NONE, NULL},
                                    {"w", "write-out", 1, R_NONE, NULL},
                                    {"", "connect-timeout", 1, R_NONE, NULL},
                                    {"", "retry", 1, R_NONE, NULL},
                                    /* wget */
                                    {"O", "output-document", 1, R_WRITE, NULL},
                                    {"", "output-file", 1, R_WRITE, NULL},
                                    {"a", "append-output", 1, R_WRITE, NULL},
                                    {"P", "directory-prefix", 1, R_WRITE, NULL},
                                    {"i", "input-file", 1, R_READ, NULL},
                                    {"", "post-file", 1, R_READ, NULL},
                                    {"", "body-file", 1, R_READ, NULL},
                                    {"", "load-cookies", 1, R_READ, NULL},
                                    {"", "save-cookies", 1, R_WRITE, NULL},
                                    {"", "ca-certificate", 1, R_READ, NULL},
                                    {"", "certificate", 1, R_READ, NULL},
                                    {"", "private-key", 1, R_READ, NULL},
                                    {NULL, NULL, 0, 0, NULL}};
static const struct opt o_none[] = {{NULL, NULL, 0, 0, NULL}};
static const struct opt o_unzip[] = {{"d", NULL, 1, R_TARGET, "-d"},
                                     {"x", NULL, 0, R_NONE, "-x"},
                                     {"P", NULL, 1, R_NONE, "-P"},
                                     {NULL, NULL, 0, 0, NULL}};

static const struct prog progs[] = {
    {"rm unlink rmdir shred wipefs", A_WRITE, o_rm, S_NONE},
    {"touch mkdir truncate mkfifo mknod", A_WRITE, o_touch, S_NONE},
    {"tee sponge", A_WRITE, o_tee, S_NONE},
    {"cp install ln link", A_COPY, o_cp, S_NONE},
    {"mv", A_MOVE, o_cp, S_NONE},
    {"rsync", A_COPY, o_cp, S_SCP},
    {"scp", A_COPY, o_cp, S_SCP},
    {"chmod chown chgrp chattr setfacl", A_MODE, o_mode, S_NONE},
    {"vi vim nvim nano emacs ed ex code subl gzip gunzip bzip2 bunzip2 xz unxz zstd lz4 dos2unix "
     "unix2dos",
     A_RW, o_none, S_NONE},
    {"cat head tail less more wc nl tac od xxd hexdump strings file stat md5sum sha1sum "
     "sha224sum sha256sum sha384sum sha512sum b2sum cksum sum base64 base32 diff cmp comm cut "
     "paste column fold fmt expand unexpand rev iconv ls dir vdir du tree bat zcat bzcat xzcat "
     "zless readlink realpath sort shasum split csplit pr look md5 lsattr getfacl namei "
     "source-highlight",
     A_READ, o_sort, S_NONE},
    {"uniq", A_READ, o_sort, S_UNIQ},
    {"grep egrep fgrep zgrep rgrep", A_PATREAD, o_grep, S_GREP},
    {"rg ag ack", A_SEARCH, o_grep, S_GREP},
    {"sed gsed", A_PATREAD, o_sed, S_SED},
    {"awk gawk mawk nawk", A_PATREAD, o_awk, S_AWK},
    {"jq yq gojq", A_PATREAD, o_jq, S_NONE},
    {"curl wget", A_NONE, o_curl, S_NONE},
    {"find", A_NONE, o_none, S_FIND},
    {"zip 7z 7za", A_NONE, o_none, S_ZIP},
    {"unzip", A_NONE, o_unzip, S_UNZIP},
    {"git", A_NONE, o_none, S_GIT},
    {"tar bsdtar", A_NONE, o_none, S_TAR},
    {"dd", A_NONE, o_none, S_DD},
    {"patch", A_NONE, o_none, S_PATCH},
    {"python python2 python3 pypy pypy3 node nodejs deno bun perl ruby php lua luajit Rscript "
     "tclsh osascript pwsh powershell irb",
     A_READ, o_none, S_INTERP},
    {"bash sh dash zsh ksh mksh ash fish csh tcsh", A_READ, o_none, S_SHELL},
    {"cd pushd popd", A_NONE, o_none, S_CD},
    {"eval trap alias unalias enable bind fc coproc", A_NONE, o_none, S_OPAQUE},
    {"source .", A_NONE, o_none, S_SOURCE},
    {"export declare typeset local readonly", A_NONE, o_none, S_EXPORT},
    {"su chroot unshare nsenter strace ltrace valgrind gdb lldb perf systemd-run script "
     "parallel fakeroot firejail bwrap proot flock watch setpriv runuser chpst taskset chrt "
     "prlimit numactl faketime torsocks proxychains proxychains4 dbus-run-session mpirun entr "
     "expect unbuffer chronic setarch linux32 linux64 catchsegv sg newgrp at batch crontab "
     "tmux screen",
     A_NONE, o_none, S_WRAP_OPAQUE},
    {"echo printf true false test [ [[ pwd date whoami id uname hostname sleep exit return "
     "unset set shift read wait kill killall pkill jobs fg bg disown type which whereis hash "
     "ulimit umask let seq yes basename dirname expr bc dc tput clear reset history help "
     "logout times getopts printenv env-noop nproc arch uptime ps pgrep top free df lsof "
     "ss netstat ip ifconfig ping host dig nslookup ssh tr true : wc-noop cal tty stty locale "
     "sync mount groups users who w last apt-cache dpkg-query rpm-noop",
     A_NONE, o_none, S_NONE},
};

/* ---- judge state ------------------------------------------------------------------- */

struct judge {
    const struct ag__shell_ctx *ctx;
    struct ag__shell_result *r;
    char cwd[PATH_MAX];
    int cwd_known;
    int full; /* the check limit was reached */
    int oom;
};

static void push(struct judge *j, struct ag__shell_check c)
{
    struct ag__shell_result *r = j->r;
    if (r->n % 16 == 0) {
        struct ag__shell_check *n = realloc(r->c, (r->n + 16) * sizeof *n);
        if (!n) {
            j->oom = 1;
            free(c.resource);
            free(c.dir);
            free(c.glob);
            return;
        }
        r->c = n;
    }
    r->c[r->n++] = c;
}

/* Adds a check (taking resource, dir and glob). The last slot is kept for the opaque
 * check that says the line touches more than the judge takes. */
static void check(struct judge *j, int cmd, const char *action, char *resource, int text,
                  enum ag__shell_kind kind, char *dir, char *glob)
{
    struct ag__shell_result *r = j->r;
    /* Past the limit a command's own shell.exec is still kept (a long rm -rf line is
     * still the rm rule's), up to AG__SHELL_MAX_EXEC more. */
    int exec_room = strcmp(action, "shell.exec") == 0 &&
                    r->n < AG__SHELL_MAX_CHECKS + AG__SHELL_MAX_EXEC;
    int drop = resource == NULL || (j->full && !exec_room);
    for (size_t i = 0; !drop && kind == AG__SHELL_REQ && i < r->n; i++)
        drop = r->c[i].kind == kind && strcmp(r->c[i].action, action) == 0 &&
               strcmp(r->c[i].resource, resource) == 0; /* the same request decides the same */
    if (resource == NULL)
        j->oom = 1;
    if (!drop && !j->full && r->n >= AG__SHELL_MAX_CHECKS - 1) {
        j->full = drop = 1;
        char *why = strdup("the line touches more paths and commands than the hook judges");
        if (why)
            push(j, (struct ag__shell_check){.action = "shell.opaque", .resource = why,
                                             .text = 1, .kind = AG__SHELL_REQ, .cmd = cmd});
        else
            j->oom = 1;
    }
    if (j->full && exec_room && resource)
        drop = 0;
    if (drop) {
        free(resource);
        free(dir);
        free(glob);
        return;
    }
    push(j, (struct ag__shell_check){.action = action, .resource = resource, .text = text,
                                     .kind = kind, .dir = dir, .glob = glob, .cmd = cmd});
}

static void opaque(struct judge *j, int cmd, const char *fmt, const char *arg)
{
    char buf[400];
    snprintf(buf, sizeof buf, fmt, arg ? arg : "");
    check(j, cmd, "shell.opaque", strdup(buf), 1, AG__SHELL_REQ, NULL, NULL);
}

/* ---- paths ------------------------------------------------------------------------- */

/* Device names that are no file a rule protects. */
static int harmless_device(const char *p)
{
    static const char *const dev[] = {"/dev/null",  "/dev/zero",   "/dev/random", "/dev/urandom",
                                      "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/tty",
                                      "-"};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (strcmp(p, dev[i]) == 0)
            return 1;
    return strncmp(p, "/dev/fd/", 8) == 0;
}

/* pat with the $HOME/$PWD markers and a leading ~ replaced; 0 when it cannot be. */
static int substitute(struct judge *j, const struct ag__sh_word *w, struct ag_buf *out,
                      const char **why)
{
    const char *p = w->pat;
    const char *home = j->ctx->home;
    if ((w->flags & AG__SH_TILDE) && p[0] == '~') {
        if (!home) {
            *why = "a ~ path and no home directory";
            return 0;
        }
        ag__buf_puts(out, home);
        p++;
    }
    for (; *p; p++) {
        if (*p != AG__SH_MARK) {
            ag__buf_putc(out, *p);
            continue;
        }
        p++;
        if (*p == AG__SH_MARK_HOME && home) {
            ag__buf_puts(out, home);
        } else if (*p == AG__SH_MARK_PWD && j->cwd_known) {
            ag__buf_puts(out, j->cwd);
        } else {
            *why = "$HOME or $PWD where the hook does not know it";
            return 0;
        }
        if (!*p)
            break;
    }
    return ag__buf_status(out) == AG_OK;
}

static int has_glob(const char *pat)
{
    for (const char *p = pat; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '*' || *p == '?' || *p == '[')
            return 1;
    }
    return 0;
}

static void unescape(const char *pat, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = pat; *p && o + 1 < size; p++) {
        if (*p == '\\' && p[1])
            p++;
        out[o++] = *p;
    }
    out[o] = '\0';
}

/* Brace expansion of a pattern into at most max alternatives; -1 when there are more
 * or they nest too deep. */
static int braces(const char *pat, char alts[][PATH_MAX], int n, int max, int depth)
{
    const char *open = NULL;
    int lvl = 0;
    const char *close = NULL;
    for (const char *p = pat; *p && !close; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '{') {
            if (lvl++ == 0)
                open = p;
        } else if (*p == '}' && lvl > 0 && --lvl == 0) {
            /* only a group with a comma or ".." expands */
            int comma = 0, l2 = 0;
            for (const char *q = open + 1; q < p; q++) {
                if (*q == '\\' && q[1]) {
                    q++;
                    continue;
                }
                l2 += *q == '{' ? 1 : *q == '}' ? -1 : 0;
                if (l2 == 0 && (*q == ',' || (q[0] == '.' && q[1] == '.')))
                    comma = 1;
            }
            if (comma)
                close = p;
            else
                open = NULL;
        }
    }
    if (!close) {
        if (n >= max)
            return -1;
        snprintf(alts[n], PATH_MAX, "%s", pat);
        return n + 1;
    }
    if (depth > 6)
        return -1;
    const char *start = open + 1;
    int l2 = 0;
    for (const char *q = open + 1; q <= close; q++) {
        if (q < close && *q == '\\' && q[1]) {
            q++;
            continue;
        }
        if (q < close && *q == '{')
            l2++;
        else if (q < close && *q == '}')
            l2--;
        if (q == close || (l2 == 0 && *q == ',')) {
            char tmp[PATH_MAX];
            int len = snprintf(tmp, sizeof tmp, "%.*s%.*s%s", (int)(open - pat), pat,
                               (int)(q - start), start, close + 1);
            if (len < 0 || len >= (int)sizeof tmp)
                return -1;
            if (q == close && memmem(start, (size_t)(q - start), "..", 2) && !memchr(start, ',', (size_t)(q - start))) {
                /* {a..z}: a range; taken as any name there */
                len = snprintf(tmp, sizeof tmp, "%.*s*%s", (int)(open - pat), pat, close + 1);
                if (len < 0 || len >= (int)sizeof tmp)
                    return -1;
            }
            n = braces(tmp, alts, n, max, depth + 1);
            if (n < 0)
                return -1;
            start = q + 1;
        }
    }
    return n;
}

/* 1 when s[0..end) holds an unescaped glob character. */
static int has_glob_prefix(const char *s, const char *end)
{
    for (const char *p = s; p < end; p++) {
        if (*p == '\\' && p + 1 < end) {
            p++;
            continue;
        }
        if (*p == '*' || *p == '?' || *p == '[')
            return 1;
    }
    return 0;
}

#define MAX_ALTS    16
#define MAX_MATCHES 48

static void one_path(struct judge *j, int cmd, const char *action, const char *path)
{
    char *res = NULL;
    if (harmless_device(path))
        return;
    if (path[0] != '/' && !j->cwd_known) {
        opaque(j, cmd, "a relative path after a cd the hook cannot follow: %.200s", path);
        return;
    }
    ag_err err = j->ctx->path(j->cwd, j->ctx->home, path, &res);
    if (err == AG_ENOMEM) {
        j->oom = 1;
        return;
    }
    if (err != AG_OK) {
        opaque(j, cmd, "a path the hook cannot resolve: %.200s", path);
        return;
    }
    check(j, cmd, action, res, 0, AG__SHELL_REQ, NULL, NULL);
}

/* A glob pattern (absolute, escapes kept): every file it matches now, and the
 * pattern itself, which the policy's deny and ask rules are compared with. */
static void glob_path(struct judge *j, int cmd, const char *action, const char *abs)
{
    glob_t g;
    char plain[PATH_MAX];
    int rc = glob(abs, 0, NULL, &g); /* sorted: the same line names the same file */
    if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc && i < MAX_MATCHES; i++)
            one_path(j, cmd, action, g.gl_pathv[i]);
    }
    if (rc != GLOB_NOMATCH)
        globfree(&g);
    /* The pattern: links resolved in its literal leading directories. */
    const char *rest = abs, *slash;
    while ((slash = strchr(rest, '/')) != NULL && !has_glob_prefix(rest, slash))
        rest = slash + 1;
    snprintf(plain, sizeof plain, "%.*s", (int)(rest - abs), abs);
    char *dir = NULL;
    ag_err err = plain[0] ? j->ctx->path(j->cwd, j->ctx->home, plain, &dir) : AG_EINVAL;
    if (err == AG_ENOMEM) {
        j->oom = 1;
        return;
    }
    if (err != AG_OK) {
        opaque(j, cmd, "a glob the hook cannot resolve: %.200s", abs);
        return;
    }
    struct ag_buf b;
    ag__buf_init(&b);
    if (strcmp(dir, "/") == 0)
        ag__buf_puts(&b, rest);
    else
        ag__buf_printf(&b, "%s/%s", dir, rest);
    free(dir);
    check(j, cmd, action, ag__buf_take(&b), 0, AG__SHELL_PATTERN, NULL, NULL);
}

/* A word that names a file: tilde, $HOME/$PWD, braces and globs expanded. */
static void path_word(struct judge *j, int cmd, const char *action, const struct ag__sh_word *w)
{
    if (w->flags & AG__SH_SUBST) {
        if (strcmp(w->text, "/dev/fd/63") == 0)
            return; /* <( ): its commands are judged themselves */
        opaque(j, cmd, "a command substitution in a path: %.200s", w->text);
        return;
    }
    if (w->flags & AG__SH_VAR) {
        opaque(j, cmd, "a variable in a path: %.200s", w->text);
        return;
    }
    if (w->flags & AG__SH_TUSER) {
        opaque(j, cmd, "another user's home in a path: %.200s", w->text);
        return;
    }
    struct ag_buf b;
    const char *why = NULL;
    ag__buf_init(&b);
    if (!substitute(j, w, &b, &why)) {
        if (why)
            opaque(j, cmd, "%s", why);
        else
            j->oom = 1;
        ag__buf_free(&b);
        return;
    }
    char(*alts)[PATH_MAX] = malloc(MAX_ALTS * sizeof *alts);
    if (!alts) {
        j->oom = 1;
        ag__buf_free(&b);
        return;
    }
    int n = (w->flags & AG__SH_BRACE) ? braces(b.data ? b.data : "", alts, 0, MAX_ALTS, 0) : -2;
    if (n == -2) {
        snprintf(alts[0], PATH_MAX, "%s", b.data ? b.data : "");
        n = 1;
    }
    if (n < 0)
        opaque(j, cmd, "a brace expansion with too many alternatives: %.200s", w->text);
    for (int i = 0; i < n; i++) {
        const char *pat = alts[i];
        if ((w->flags & AG__SH_GLOB) && has_glob(pat)) {
            char abs[PATH_MAX * 2];
            if (pat[0] != '/' && !j->cwd_known) {
                opaque(j, cmd, "a relative glob after a cd the hook cannot follow: %.200s", pat);
                continue;
            }
            if (pat[0] == '/') {
                snprintf(abs, sizeof abs, "%s", pat);
            } else { /* the directory's own glob characters escaped */
                size_t o = 0;
                for (const char *c = j->cwd; *c && o + 2 < PATH_MAX; c++) {
                    if (strchr("*?[]\\{}", *c))
                        abs[o++] = '\\';
                    abs[o++] = *c;
                }
                snprintf(abs + o, sizeof abs - o, "/%s", pat);
            }
            if (strlen(abs) >= PATH_MAX) {
                opaque(j, cmd, "a path too long: %.200s", pat);
                continue;
            }
            glob_path(j, cmd, action, abs);
        } else {
            char plain[PATH_MAX];
            unescape(pat, plain, sizeof plain);
            if (plain[0] == '\0')
                continue;
            one_path(j, cmd, action, plain);
        }
    }
    free(alts);
    ag__buf_free(&b);
}

/* A search of a directory word (grep -r, rg, find), narrowed by glob (NULL: none):
 * the directory, everything below it, and the search's reach. */
static void search_word(struct judge *j, int cmd, const char *action, const struct ag__sh_word *w,
                        const char *glob)
{
    if (w->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_TUSER | AG__SH_GLOB | AG__SH_BRACE)) {
        path_word(j, cmd, action, w); /* the names it matches, or opaque */
        if (!(w->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_TUSER)))
            opaque(j, cmd, "a search of directories named by a pattern: %.200s", w->text);
        return;
    }
    struct ag_buf b;
    const char *why = NULL;
    char plain[PATH_MAX], *res = NULL;
    ag__buf_init(&b);
    if (!substitute(j, w, &b, &why)) {
        opaque(j, cmd, "%s", why ? why : "out of memory");
        ag__buf_free(&b);
        return;
    }
    unescape(b.data ? b.data : ".", plain, sizeof plain);
    ag__buf_free(&b);
    if (plain[0] != '/' && !j->cwd_known) {
        opaque(j, cmd, "a relative path after a cd the hook cannot follow: %.200s", plain);
        return;
    }
    ag_err err = j->ctx->path(j->cwd, j->ctx->home, plain[0] ? plain : ".", &res);
    if (err != AG_OK) {
        if (err == AG_ENOMEM)
            j->oom = 1;
        else
            opaque(j, cmd, "a path the hook cannot resolve: %.200s", plain);
        return;
    }
    struct ag_buf all;
    ag__buf_init(&all);
    if (strcmp(res, "/") == 0)
        ag__buf_puts(&all, "**");
    else
        ag__buf_printf(&all, "%s/**", res);
    char *dir = strdup(res);
    char *g = glob ? strdup(glob) : NULL;
    check(j, cmd, action, res, 0, AG__SHELL_REQ, NULL, NULL);
    check(j, cmd, action, ag__buf_take(&all), 0, AG__SHELL_SEARCH, dir, g);
}

/* A path that may be a directory read or written whole (cp -r, tar c, zip -r): a
 * search of it; a pattern or variable is judged as a path. */
static void tree_word(struct judge *j, int cmd, const char *action, const struct ag__sh_word *w)
{
    if (w->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_TUSER | AG__SH_GLOB | AG__SH_BRACE))
        path_word(j, cmd, action, w);
    else
        search_word(j, cmd, action, w, NULL);
}

static void search_cwd(struct judge *j, int cmd, const char *action, const char *glob)
{
    struct ag__sh_word dot = {.text = ".", .pat = ".", .flags = 0};
    search_word(j, cmd, action, &dot, glob);
}

/* ---- canonical forms --------------------------------------------------------------- */

#define CANON_MAX 48

struct canon {
    const char *tok[CANON_MAX];
    char own[CANON_MAX][64];
    size_t n;
};

static void canon_add(struct canon *c, const char *tok, size_t len)
{
    if (c->n == CANON_MAX)
        return;
    if (len >= sizeof c->own[0])
        len = sizeof c->own[0] - 1;
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->tok[i]) == len && memcmp(c->tok[i], tok, len) == 0)
            return;
    /* '/' and spaces would make the canonical form ambiguous to a glob */
    for (size_t i = 0; i < len; i++)
        c->own[c->n][i] = tok[i] == '/' || tok[i] == ' ' ? '_' : tok[i];
    c->own[c->n][len] = '\0';
    c->tok[c->n] = c->own[c->n];
    c->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* shell.exec on "NAME [SUB] OPTIONS" with the options sorted. */
static void emit_exec(struct judge *j, int cmd, const char *name, const char *sub, struct canon *c)
{
    struct ag_buf b;
    ag__buf_init(&b);
    for (const char *p = name; *p; p++)
        ag__buf_putc(&b, *p == '/' || *p == ' ' ? '_' : *p);
    if (sub)
        ag__buf_printf(&b, " %s", sub);
    qsort(c->tok, c->n, sizeof c->tok[0], cmp_str);
    for (size_t i = 0; i < c->n; i++)
        ag__buf_printf(&b, " %s", c->tok[i]);
    check(j, cmd, "shell.exec", ag__buf_take(&b), 1, AG__SHELL_REQ, NULL, NULL);
}

/* ---- options ----------------------------------------------------------------------- */

struct parsed {
    const struct ag__sh_word *operand[AG__SH_MAX_WORDS];
    size_t nop;
    struct canon canon;
    int pat_given;
    const struct ag__sh_word *target; /* cp -t: points at target_word */
    struct ag__sh_word target_word;  /* a copy: the option's value may be a local word */
    const char *globs[8];
    size_t nglobs;
    int code; /* an option whose value is code */
};

static const struct opt *find_long(const struct opt *o, const char *name, size_t len)
{
    const struct opt *hit = NULL;
    int n = 0;
    for (; o->shorts; o++) {
        if (!o->lng)
            continue;
        if (strlen(o->lng) == len && memcmp(o->lng, name, len) == 0)
            return o;
        if (strlen(o->lng) > len && memcmp(o->lng, name, len) == 0) { /* GNU abbreviation */
            hit = o;
            n++;
        }
    }
    return n == 1 ? hit : NULL;
}

static const struct opt *find_short(const struct opt *o, char c)
{
    for (; o->shorts; o++)
        if (strchr(o->shorts, c) && c)
            return o;
    return NULL;
}

static void opt_value(struct judge *j, int cmd, const struct opt *o, const struct ag__sh_word *w,
                      struct parsed *p)
{
    switch (o->role) {
    case R_READ:
        path_word(j, cmd, "file.read", w);
        break;
    case R_WRITE:
        path_word(j, cmd, "file.write", w);
        break;
    case R_TARGET:
        p->target_word = *w;
        p->target = &p->target_word;
        break;
    case R_GLOB:
        if (p->nglobs < 8)
            p->globs[p->nglobs++] = w->text;
        break;
    case R_CODE:
        p->code = 1;
        break;
    case R_PAT:
        p->pat_given = 1;
        if (o->canon && strcmp(o->canon, "--file") == 0)
            path_word(j, cmd, "file.read", w);
        break;
    case R_DATA:
        if (w->text[0] == '@' || strstr(w->text, "=@") || strstr(w->text, "=<")) {
            const char *at = w->text[0] == '@' ? w->text + 1 : strpbrk(w->text, "@<") + 1;
            if (w->flags & (AG__SH_VAR | AG__SH_SUBST))
                opaque(j, cmd, "a variable in a file argument: %.200s", w->text);
            else if (strcmp(at, "-") != 0 && at[0]) {
                struct ag__sh_word f = {.text = at, .pat = at, .flags = 0};
                path_word(j, cmd, "file.read", &f);
            }
        }
        break;
    default:
        break;
    }
}

static void canon_opt(struct parsed *p, const struct opt *o, char c)
{
    char buf[64];
    if (o->canon) {
        for (const char *t = o->canon; *t;) { /* "--delete --force": two */
            size_t len = strcspn(t, " ");
            canon_add(&p->canon, t, len);
            t += len;
            t += strspn(t, " ");
        }
    }
    else if (o->lng) {
        snprintf(buf, sizeof buf, "--%s", o->lng);
        canon_add(&p->canon, buf, strlen(buf));
    } else {
        snprintf(buf, sizeof buf, "-%c", c);
        canon_add(&p->canon, buf, strlen(buf));
    }
}

/* Reads argv[from..argc) with the option table: options into the canonical form
 * (values judged by role), operands into p->operand. unknown_values: judge the value
 * of an unknown --name=value as a path read (a program not in the table). */
static void parse_opts(struct judge *j, int cmd, const struct ag__sh_word *argv, size_t argc,
                       size_t from, const struct opt *opts, struct parsed *p, int unknown_values,
                       int mode_operand)
{
    int done = 0;
    for (size_t k = from; k < argc; k++) {
        const struct ag__sh_word *w = &argv[k];
        const char *t = w->text;
        if (done || t[0] != '-' || t[1] == '\0' || (w->flags & AG__SH_QUOTED && w->pat[0] == '\\')) {
            if (p->nop < AG__SH_MAX_WORDS)
                p->operand[p->nop++] = w;
            continue;
        }
        if (mode_operand && p->nop == 0 && strspn(t + 1, "rwxXstugoa") == strlen(t + 1)) {
            p->operand[p->nop++] = w; /* chmod -x file: a mode */
            continue;
        }
        if (w->flags & (AG__SH_VAR | AG__SH_SUBST)) {
            opaque(j, cmd, "a variable in an option: %.200s", t);
            continue;
        }
        if (strcmp(t, "--") == 0) {
            done = 1;
            continue;
        }
        if (t[1] == '-') {
            const char *eq = strchr(t + 2, '=');
            size_t len = eq ? (size_t)(eq - t - 2) : strlen(t + 2);
            const struct opt *o = find_long(opts, t + 2, len);
            if (!o) {
                canon_add(&p->canon, t, len + 2);
                if (eq && unknown_values && eq[1]) {
                    struct ag__sh_word v = {.text = eq + 1, .pat = eq + 1,
                                            .flags = w->flags & ~AG__SH_TILDE};
                    if (!(v.flags & (AG__SH_VAR | AG__SH_SUBST)))
                        path_word(j, cmd, "file.read", &v);
                }
                continue;
            }
            canon_opt(p, o, 0);
            if (o->arg == 1 && !eq && k + 1 < argc) {
                opt_value(j, cmd, o, &argv[++k], p);
            } else if (o->arg && eq) {
                struct ag__sh_word v = {.text = eq + 1, .pat = eq + 1, .flags = w->flags};
                v.flags &= ~AG__SH_TILDE;
                if (eq[1] == '~')
                    v.flags |= AG__SH_TILDE; /* bash expands ~ after --opt= */
                opt_value(j, cmd, o, &v, p);
            }
            continue;
        }
        for (const char *c = t + 1; *c; c++) {
            const struct opt *o = find_short(opts, *c);
            if (!o) {
                char buf[3] = {'-', *c, 0};
                canon_add(&p->canon, buf, 2);
                continue;
            }
            canon_opt(p, o, *c);
            if (o->arg == 0)
                continue;
            if (c[1]) {
                struct ag__sh_word v = {.text = c + 1, .pat = c + 1, .flags = w->flags & ~AG__SH_TILDE};
                opt_value(j, cmd, o, &v, p);
            } else if (o->arg == 1 && k + 1 < argc) {
                opt_value(j, cmd, o, &argv[++k], p);
            }
            break;
        }
    }
}

static int has_canon(const struct parsed *p, const char *tok)
{
    for (size_t i = 0; i < p->canon.n; i++)
        if (strcmp(p->canon.tok[i], tok) == 0)
            return 1;
    return 0;
}

/* ---- programs ---------------------------------------------------------------------- */

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        p += len;
        p += strspn(p, " ");
    }
    return 0;
}

static const struct prog *lookup(const char *name)
{
    char trimmed[64];
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
        if (in_list(progs[i].names, name))
            return &progs[i];
    /* python3.12, perl5.36, mkfs.ext4: the family */
    size_t n = strlen(name);
    if (n >= sizeof trimmed)
        return NULL;
    memcpy(trimmed, name, n + 1);
    while (n > 0 && (isdigit((unsigned char)trimmed[n - 1]) || trimmed[n - 1] == '.'))
        trimmed[--n] = '\0';
    if (n > 0 && n < strlen(name))
        for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
            if (progs[i].special == S_INTERP && in_list(progs[i].names, trimmed))
                return &progs[i];
    return NULL;
}

/* Environment variables whose value changes what a command runs. */
static int dangerous_env(const char *assign)
{
    static const char *const names[] = {
        "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT",   "BASH_ENV",       "ENV",
        "PROMPT_COMMAND", "GIT_SSH",    "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_PARAMETERS", "GIT_EDITOR", "GIT_PAGER", "PYTHONSTARTUP", "NODE_OPTIONS",
        "PERL5OPT",   "RUBYOPT",   "SHELLOPTS",  "BASHOPTS", "IFS", "LESSOPEN", "PAGER",
        "EDITOR", "VISUAL", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_CONFIG_COUNT"};
    size_t n = strcspn(assign, "+=[");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], assign, n) == 0)
            return 1;
    return strncmp(assign, "BASH_FUNC_", 10) == 0;
}

static int network_fetcher(const char *name)
{
    return in_list("curl wget nc ncat netcat socat fetch aria2c http https xh httpie lynx "
                   "links w3m ssh",
                   name);
}

/* 1 when a command before cmd in its pipeline fetches from the network. */
static int fed_by_network(struct judge *j, const struct ag__sh_cmd *c)
{
    const struct ag__sh_script *s = &j->r->script;
    for (size_t i = 0; i < s->ncmd; i++) {
        const struct ag__sh_cmd *u = &s->cmd[i];
        if (u->pipeline != c->pipeline || u->stage >= c->stage)
            continue;
        for (size_t k = 0; k < u->argc && k < 6; k++)
            if (network_fetcher(base(u->argv[k].text)))
                return 1;
    }
    return 0;
}

static int has_redir(const struct ag__sh_cmd *c, enum ag__sh_redir_op op)
{
    for (size_t i = 0; i < c->nredir; i++)
        if (c->redir[i].op == op && (c->redir[i].fd == -1 || c->redir[i].fd == 0))
            return 1;
    return 0;
}

/* A program that reads its code on stdin: from a here-document, a pipe or a file. */
static void code_on_stdin(struct judge *j, int ci, const struct ag__sh_cmd *c, const char *name,
                          struct canon *cn)
{
    if (has_redir(c, AG__SH_R_HEREDOC) || has_redir(c, AG__SH_R_HERESTR)) {
        opaque(j, ci, "a here-document or here-string fed to %s as its program", name);
    } else if (c->stage > 0) {
        if (fed_by_network(j, c))
            canon_add(cn, "--code-from-network", 19);
        else
            opaque(j, ci, "%s reads its program from a pipe", name);
    }
    emit_exec(j, ci, name, NULL, cn);
}

static void judge_argv(struct judge *j, int ci, const struct ag__sh_cmd *c,
                       const struct ag__sh_word *argv, size_t argc, int from_find, int xargs);

/* sed scripts: the w, W and e commands and the s///w and s///e flags write files or
 * run commands; r and R read a file. */
static void sed_script(struct judge *j, int ci, const char *s)
{
    size_t i = 0, n = strlen(s);
    while (i < n) {
        while (i < n && strchr(" \t\n;{}!", s[i]))
            i++;
        /* an address: numbers, $, /re/, \cREc, and their combinations */
        for (;;) {
            if (i < n && (isdigit((unsigned char)s[i]) || s[i] == '$' || s[i] == ',' ||
                          s[i] == '~' || s[i] == '+' || s[i] == ' ' || s[i] == '!')) {
                i++;
                continue;
            }
            if (i < n && (s[i] == '/' || s[i] == '\\')) {
                char d = s[i] == '\\' && i + 1 < n ? s[++i] : '/';
                for (i++; i < n && s[i] != d; i++)
                    if (s[i] == '\\')
                        i++;
                i++;
                if (i < n && (s[i] == 'I' || s[i] == 'M'))
                    i++;
                continue;
            }
            break;
        }
        if (i >= n)
            return;
        char c = s[i++];
        if (c == 's' || c == 'y') {
            if (i >= n)
                return;
            char d = s[i++];
            for (int part = 0; part < 2 && i < n; part++) {
                for (; i < n && s[i] != d; i++)
                    if (s[i] == '\\')
                        i++;
                i++;
            }
            for (; i < n && !strchr(";\n}", s[i]); i++)
                if (c == 's' && (s[i] == 'w' || s[i] == 'e')) {
                    opaque(j, ci, "a sed script that writes files or runs commands: %.200s", s);
                    return;
                }
        } else if (c == 'w' || c == 'W' || c == 'e') {
            opaque(j, ci, "a sed script that writes files or runs commands: %.200s", s);
            return;
        } else if (c == 'r' || c == 'R') {
            while (i < n && s[i] == ' ')
                i++;
            size_t e = i;
            while (e < n && s[e] != '\n')
                e++;
            char file[PATH_MAX];
            snprintf(file, sizeof file, "%.*s", (int)(e - i), s + i);
            if (file[0]) {
                struct ag__sh_word w = {.text = file, .pat = file, .flags = 0};
                path_word(j, ci, "file.read", &w);
            }
            i = e;
        } else if (strchr("aic:btTvlqQ", c)) {
            while (i < n && s[i] != '\n' && !(strchr("btT:", c) && s[i] == ';'))
                i++;
        }
    }
}

static void judge_find(struct judge *j, int ci, const struct ag__sh_cmd *c,
                       const struct ag__sh_word *argv, size_t argc)
{
    struct canon cn = {.n = 0};
    size_t k = 1;
    while (k < argc && (strcmp(argv[k].text, "-H") == 0 || strcmp(argv[k].text, "-L") == 0 ||
                        strcmp(argv[k].text, "-P") == 0 || strncmp(argv[k].text, "-O", 2) == 0))
        k++;
    if (k < argc && strcmp(argv[k].text, "-D") == 0)
        k += 2;
    size_t roots = k;
    while (k < argc && argv[k].text[0] != '-' && strcmp(argv[k].text, "(") != 0 &&
           strcmp(argv[k].text, "!") != 0 && strcmp(argv[k].text, ")") != 0)
        k++;
    size_t nroots = k - roots;
    const char *glob = NULL;
    int delete = 0;
    static const char *const one_arg =
        "-maxdepth -mindepth -type -xtype -size -mtime -atime -ctime -mmin -amin -cmin -user "
        "-group -uid -gid -perm -regex -iregex -regextype -links -inum -printf -fstype -used "
        "-context -path -ipath -wholename -iwholename -lname -ilname -name -iname";
    for (; k < argc; k++) {
        const char *t = argv[k].text;
        if (strcmp(t, "-delete") == 0) {
            canon_add(&cn, t, strlen(t));
            delete = 1;
        } else if (strcmp(t, "-exec") == 0 || strcmp(t, "-execdir") == 0 ||
                   strcmp(t, "-ok") == 0 || strcmp(t, "-okdir") == 0) {
            canon_add(&cn, t, strlen(t));
            size_t s = k + 1, e = s;
            while (e < argc && strcmp(argv[e].text, ";") != 0 && strcmp(argv[e].text, "+") != 0)
                e++;
            if (e > s) {
                /* {} stands for every file below the first root */
                struct ag__sh_word *inner = calloc(e - s, sizeof *inner);
                char star[PATH_MAX];
                const char *root = nroots ? argv[roots].pat : ".";
                snprintf(star, sizeof star, "%s/**", root);
                if (!inner) {
                    j->oom = 1;
                    return;
                }
                for (size_t q = s; q < e; q++) {
                    inner[q - s] = argv[q];
                    if (strstr(argv[q].text, "{}")) {
                        inner[q - s].text = star;
                        inner[q - s].pat = star;
                        inner[q - s].flags = nroots ? argv[roots].flags & ~AG__SH_GLOB : 0;
                    }
                }
                judge_argv(j, ci, c, inner, e - s, 1, 0);
                free(inner);
            }
            k = e;
        } else if (strcmp(t, "-fprint") == 0 || strcmp(t, "-fprint0") == 0 ||
                   strcmp(t, "-fls") == 0 || strcmp(t, "-fprintf") == 0) {
            canon_add(&cn, t, strlen(t));
            if (k + 1 < argc)
                path_word(j, ci, "file.write", &argv[++k]);
            if (strcmp(t, "-fprintf") == 0)
                k++;
        } else if (strncmp(t, "-newer", 6) == 0 || strcmp(t, "-anewer") == 0 ||
                   strcmp(t, "-cnewer") == 0 || strcmp(t, "-samefile") == 0 ||
                   strcmp(t, "-files0-from") == 0) {
            if (k + 1 < argc)
                path_word(j, ci, "file.read", &argv[++k]);
        } else if (in_list(one_arg, t)) {
            if ((strcmp(t, "-name") == 0 || strcmp(t, "-iname") == 0) && k + 1 < argc && !glob)
                glob = argv[k + 1].text;
            k++;
        }
    }
    emit_exec(j, ci, "find", NULL, &cn);
    for (size_t r = 0; r < (nroots ? nroots : 1); r++) {
        if (nroots)
            search_word(j, ci, "file.read", &argv[roots + r], glob);
        else
            search_cwd(j, ci, "file.read", glob);
        if (delete) {
            if (nroots)
                search_word(j, ci, "file.write", &argv[roots + r], glob);
            else
                search_cwd(j, ci, "file.write", glob);
        }
    }
}

static const struct opt o_git_global[] = {{"C", NULL, 1, R_NONE, "-C"},
                                          {"c", NULL, 1, R_CODE, "-c"},
                                          {"", "git-dir", 1, R_NONE, NULL},
                                          {"", "work-tree", 1, R_NONE, NULL},
                                          {"", "namespace", 1, R_NONE, NULL},
                                          {"", "config-env", 1, R_CODE, NULL},
                                          {"", "exec-path", 2, R_CODE, NULL},
                                          {NULL, NULL, 0, 0, NULL}};
static const struct opt o_git[] = {{"f", "force", 0, R_NONE, NULL},
                                   {"", "force-with-lease", 2, R_NONE, NULL},
                                   {"", "force-if-includes", 0, R_NONE, NULL},
                                   {"", "mirror", 0, R_NONE, NULL},
                                   {"", "all", 0, R_NONE, NULL},
                                   {"", "tags", 0, R_NONE, NULL},
                                   {"", "prune", 0, R_NONE, NULL},
                                   {"u", "set-upstream", 0, R_NONE, NULL},
                                   {"n", "dry-run", 0, R_NONE, NULL},
                                   {"o", "push-option", 1, R_NONE, NULL},
                                   {"", "repo", 1, R_NONE, NULL},
                                   {"", "receive-pack", 1, R_CODE, NULL},
                                   {"", "exec", 1, R_CODE, NULL},
                                   {"", "upload-pack", 1, R_CODE, NULL},
                                   {"x", NULL, 0, R_NONE, "-x"},
                                   {"X", NULL, 0, R_NONE, "-X"},
                                   {"e", "exclude", 1, R_NONE, NULL},
                                   {"i", "interactive", 0, R_NONE, NULL},
                                   {"", "hard", 0, R_NONE, NULL},
                                   {"", "soft", 0, R_NONE, NULL},
                                   {"", "mixed", 0, R_NONE, NULL},
                                   {"", "keep", 0, R_NONE, NULL},
                                   {"", "merge", 0, R_NONE, NULL},
                                   {"m", "message", 1, R_NONE, NULL},
                                   {"F", "file", 1, R_READ, NULL},
                                   {"C", "reuse-message", 1, R_NONE, NULL},
                                   {"c", "reedit-message", 1, R_NONE, NULL},
                                   {"a", NULL, 0, R_NONE, "--all"},
                                   {"", "amend", 0, R_NONE, NULL},
                                   {"", "no-verify", 0, R_NONE, NULL},
                                   {"b", NULL, 1, R_NONE, "-b"},
                                   {"B", NULL, 1, R_NONE, "-B"},
                                   {"", "author", 1, R_NONE, NULL},
                                   {"", "date", 1, R_NONE, NULL},
                                   {"", "format", 1, R_NONE, NULL},
                                   {"", "pretty", 2, R_NONE, NULL},
                                   {"", "oneline", 0, R_NONE, NULL},
                                   {"", "output", 1, R_WRITE, NULL},
                                   {"", "upstream", 1, R_NONE, NULL},
                                   {"", "onto", 1, R_NONE, NULL},
                                   {"", "strategy", 1, R_NONE, NULL},
                                   {"", "delete", 0, R_NONE, NULL},
                                   {"d", NULL, 0, R_NONE, "--delete"},
                                   {"D", NULL, 0, R_NONE, "--delete --force"},
                                   {NULL, NULL, 0, 0, NULL}};

static const struct opt o_git_clean[] = {{"f", "force", 0, R_NONE, NULL},
                                         {"d", NULL, 0, R_NONE, "-d"},
                                         {"x", NULL, 0, R_NONE, "-x"},
                                         {"X", NULL, 0, R_NONE, "-X"},
                                         {"n", "dry-run", 0, R_NONE, NULL},
                                         {"i", "interactive", 0, R_NONE, NULL},
                                         {"q", "quiet", 0, R_NONE, NULL},
                                         {"e", "exclude", 1, R_NONE, NULL},
                                         {NULL, NULL, 0, 0, NULL}};

/* A git -c or git config setting that names a command git will run. */
static int git_code_setting(const char *s)
{
    static const char *const keys[] = {"alias.",     "sshcommand",  "pager",   "editor",
                                       "hookspath",  "fsmonitor",   "askpass", "credential",
                                       "core.gitproxy", "filter.",  "diff.",   "merge.",
                                       "sequence.editor", "gpg.program", "include", "uploadpack",
                                       "receivepack", "textconv"};
    char low[256];
    size_t n = strlen(s);
    if (n >= sizeof low)
        return 1;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strstr(low, keys[i]))
            return 1;
    return 0;
}

static void judge_git(struct judge *j, int ci, const struct ag__sh_word *argv, size_t argc)
{
    size_t k = 1;
    while (k < argc && argv[k].text[0] == '-') {
        const char *t = argv[k].text;
        if ((strcmp(t, "-c") == 0 || strcmp(t, "--config-env") == 0) && k + 1 < argc) {
            if ((argv[k + 1].flags & (AG__SH_VAR | AG__SH_SUBST)) ||
                git_code_setting(argv[k + 1].text))
                opaque(j, ci, "git -c sets a command git runs: %.200s", argv[k + 1].text);
            k += 2;
        } else if (strcmp(t, "-C") == 0 || strcmp(t, "--git-dir") == 0 ||
                   strcmp(t, "--work-tree") == 0 || strcmp(t, "--namespace") == 0) {
            k += 2;
        } else if (strncmp(t, "--exec-path=", 12) == 0) {
            opaque(j, ci, "git --exec-path runs other programs: %.200s", t);
            k++;
        } else {
            k++;
        }
    }
    (void)o_git_global;
    if (k >= argc) {
        struct canon cn = {.n = 0};
        emit_exec(j, ci, "git", NULL, &cn);
        return;
    }
    const struct ag__sh_word *sub = &argv[k];
    if (sub->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_GLOB)) {
        opaque(j, ci, "a git subcommand named by a variable: %.200s", sub->text);
        return;
    }
    struct parsed *p = calloc(1, sizeof *p);
    if (!p) {
        j->oom = 1;
        return;
    }
    const char *s = sub->text;
    parse_opts(j, ci, argv, argc, k + 1, strcmp(s, "clean") == 0 ? o_git_clean : o_git, p, 0, 0);
    if (strcmp(s, "push") == 0) {
        for (size_t i = 0; i < p->nop; i++) {
            if (p->operand[i]->text[0] == '+')
                canon_add(&p->canon, "--force", 7);
            if (p->operand[i]->text[0] == ':' || strstr(p->operand[i]->text, ":") == NULL) {
                if (p->operand[i]->text[0] == ':')
                    canon_add(&p->canon, "--delete", 8);
            }
            if (p->operand[i]->flags & (AG__SH_VAR | AG__SH_SUBST))
                opaque(j, ci, "a variable in a git refspec: %.200s", p->operand[i]->text);
        }
    }
    if (strcmp(s, "config") == 0)
        for (size_t i = 0; i < p->nop; i++)
            if (git_code_setting(p->operand[i]->text) ||
                (p->operand[i]->flags & (AG__SH_VAR | AG__SH_SUBST)))
                opaque(j, ci, "git config sets a command git runs: %.200s", p->operand[i]->text);
    /* The subcommands whose operands are files of the work tree. */
    int dashdash = 0;
    for (size_t i = k + 1; i < argc; i++)
        dashdash |= strcmp(argv[i].text, "--") == 0;
    for (size_t i = 0; i < p->nop; i++) {
        if (strcmp(s, "add") == 0)
            tree_word(j, ci, "file.read", p->operand[i]);
        else if (strcmp(s, "mv") == 0 || strcmp(s, "rm") == 0 || strcmp(s, "restore") == 0 ||
                 (strcmp(s, "checkout") == 0 && dashdash))
            tree_word(j, ci, "file.write", p->operand[i]);
    }
    if (strcmp(s, "apply") == 0 || strcmp(s, "am") == 0)
        opaque(j, ci, "git %s writes the files its patch names", s);
    emit_exec(j, ci, "git", s, &p->canon);
    free(p);
}

static const struct opt o_tar[] = {{"c", "create", 0, R_NONE, NULL},
                                   {"x", "extract", 0, R_NONE, NULL},
                                   {"", "get", 0, R_NONE, "--extract"},
                                   {"t", "list", 0, R_NONE, NULL},
                                   {"r", "append", 0, R_NONE, NULL},
                                   {"u", "update", 0, R_NONE, NULL},
                                   {"A", "catenate", 0, R_NONE, NULL},
                                   {"d", "diff", 0, R_NONE, NULL},
                                   {"f", "file", 1, R_TARGET, NULL},
                                   {"C", "directory", 1, R_GLOB, NULL},
                                   {"T", "files-from", 1, R_READ, NULL},
                                   {"X", "exclude-from", 1, R_READ, NULL},
                                   {"I", "use-compress-program", 1, R_CODE, NULL},
                                   {"", "to-command", 1, R_CODE, NULL},
                                   {"", "checkpoint-action", 1, R_CODE, NULL},
                                   {"", "info-script", 1, R_CODE, NULL},
                                   {"F", "new-volume-script", 1, R_CODE, NULL},
                                   {"", "exclude", 1, R_NONE, NULL},
                                   {"", "transform", 1, R_NONE, NULL},
                                   {"", "strip-components", 1, R_NONE, NULL},
                                   {"b", "blocking-factor", 1, R_NONE, NULL},
                                   {"K", "starting-file", 1, R_NONE, NULL},
                                   {"N", "newer", 1, R_NONE, NULL},
                                   {"", "owner", 1, R_NONE, NULL},
                                   {"", "group", 1, R_NONE, NULL},
                                   {"", "mode", 1, R_NONE, NULL},
                                   {NULL, NULL, 0, 0, NULL}};

static void judge_tar(struct judge *j, int ci, const struct ag__sh_word *argv, size_t argc)
{
    struct parsed *p = calloc(1, sizeof *p);
    struct ag__sh_word *copy = calloc(argc + 1, sizeof *copy);
    char first[256];
    if (!p || !copy) {
        free(p);
        free(copy);
        j->oom = 1;
        return;
    }
    memcpy(copy, argv, argc * sizeof *copy);
    if (argc > 1 && argv[1].text[0] != '-' && strlen(argv[1].text) < sizeof first - 1) {
        snprintf(first, sizeof first, "-%s", argv[1].text); /* old style: tar xzf a.tgz */
        copy[1].text = copy[1].pat = first;
    }
    parse_opts(j, ci, copy, argc, 1, o_tar, p, 0, 0);
    if (p->code)
        opaque(j, ci, "tar runs a program named in its options%s", "");
    int writes = has_canon(p, "--create") || has_canon(p, "--append") || has_canon(p, "--update") ||
                 has_canon(p, "--catenate");
    if (p->target)
        path_word(j, ci, writes ? "file.write" : "file.read", p->target);
    if (has_canon(p, "--extract")) {
        struct ag__sh_word dot = {.text = ".", .pat = ".", .flags = 0};
        const struct ag__sh_word *dir = &dot;
        struct ag__sh_word d;
        if (p->nglobs) {
            d = (struct ag__sh_word){.text = p->globs[p->nglobs - 1],
                                     .pat = p->globs[p->nglobs - 1], .flags = 0};
            for (size_t i = 1; i < argc; i++)
                if (argv[i].text == p->globs[p->nglobs - 1])
                    d = argv[i];
            dir = &d;
        }
        search_word(j, ci, "file.write", dir, NULL);
    } else if (writes) {
        for (size_t i = 0; i < p->nop; i++)
            tree_word(j, ci, "file.read", p->operand[i]);
    }
    emit_exec(j, ci, "tar", NULL, &p->canon);
    free(p);
    free(copy);
}

static void judge_dd(struct judge *j, int ci, const struct ag__sh_word *argv, size_t argc)
{
    struct canon cn = {.n = 0};
    for (size_t k = 1; k < argc; k++) {
        const char *t = argv[k].text;
        if (strncmp(t, "if=", 3) == 0 || strncmp(t, "of=", 3) == 0) {
            struct ag__sh_word v = {.text = t + 3, .pat = argv[k].pat + 3,
                                    .flags = argv[k].flags & ~AG__SH_TILDE};
            if (t[3] == '~')
                v.flags |= AG__SH_TILDE;
            if (strncmp(argv[k].pat, t, 3) != 0)
                v.pat = t + 3;
            canon_add(&cn, t, 3);
            path_word(j, ci, t[0] == 'i' ? "file.read" : "file.write", &v);
        }
    }
    emit_exec(j, ci, "dd", NULL, &cn);
}

/* Interpreters: code given as an option is opaque; a script is a file read. */
static void judge_interp(struct judge *j, int ci, const struct ag__sh_cmd *c, const char *name,
                         const struct ag__sh_word *argv, size_t argc)
{
    char fam[64];
    snprintf(fam, sizeof fam, "%s", name);
    struct canon cn = {.n = 0};
    size_t k = 1;
    for (; k < argc; k++) {
        const char *t = argv[k].text;
        if (t[0] != '-' || strcmp(t, "-") == 0)
            break;
        if (strcmp(t, "--") == 0) {
            k++;
            break;
        }
        int code = strcmp(t, "-c") == 0 || strcmp(t, "-e") == 0 || strcmp(t, "-E") == 0 ||
                   strcmp(t, "--eval") == 0 || strcmp(t, "-p") == 0 ||
                   strcmp(t, "--print") == 0 || strcmp(t, "-r") == 0 ||
                   strcmp(t, "-Command") == 0 || strncmp(t, "--eval=", 7) == 0 ||
                   (t[1] != '-' && strpbrk(t + 1, "ce") && strncmp(fam, "py", 2) != 0 &&
                    strncmp(fam, "node", 4) != 0);
        if (strncmp(fam, "py", 2) == 0)
            code = t[1] != '-' && strchr(t + 1, 'c') != NULL;
        if (strncmp(fam, "node", 4) == 0 || strcmp(fam, "bun") == 0 || strcmp(fam, "deno") == 0)
            code = strcmp(t, "-e") == 0 || strcmp(t, "--eval") == 0 || strcmp(t, "-p") == 0 ||
                   strcmp(t, "--print") == 0 || strncmp(t, "--eval=", 7) == 0 ||
                   strncmp(t, "--print=", 8) == 0;
        if (strcmp(fam, "php") == 0 && strcmp(t, "-r") != 0)
            code = 0;
        if (code) {
            /* perl -pi -e CODE FILES, ruby -i: the files are still judged */
            int inplace = 0;
            for (size_t q = 1; q < argc; q++)
                if (argv[q].text[0] == '-' && argv[q].text[1] != '-' && strchr(argv[q].text, 'i'))
                    inplace = strcmp(fam, "perl") == 0 || strcmp(fam, "ruby") == 0;
            opaque(j, ci, "code given to %s on its command line", name);
            for (size_t q = k + 2; q < argc; q++)
                if (argv[q].text[0] != '-') {
                    path_word(j, ci, "file.read", &argv[q]);
                    if (inplace)
                        path_word(j, ci, "file.write", &argv[q]);
                }
            emit_exec(j, ci, name, NULL, &cn);
            return;
        }
        if (strcmp(t, "-m") == 0 && strncmp(fam, "py", 2) == 0) { /* a module: no script */
            canon_add(&cn, "-m", 2);
            emit_exec(j, ci, name, NULL, &cn);
            return;
        }
        if ((strcmp(t, "-r") == 0 || strcmp(t, "--require") == 0 || strcmp(t, "-I") == 0 ||
             strcmp(t, "-W") == 0 || strcmp(t, "-X") == 0 || strcmp(t, "-M") == 0 ||
             strcmp(t, "-f") == 0 || strcmp(t, "--import") == 0 || strcmp(t, "--loader") == 0) &&
            k + 1 < argc) {
            if (strcmp(t, "-W") != 0 && strcmp(t, "-X") != 0 && strcmp(t, "-M") != 0)
                path_word(j, ci, "file.read", &argv[k + 1]);
            k++;
        }
    }
    if (k < argc && strcmp(fam, "deno") == 0 && strcmp(argv[k].text, "eval") == 0) {
        opaque(j, ci, "code given to %s on its command line", name);
        k = argc;
    }
    if (k < argc && (strcmp(fam, "deno") == 0 || strcmp(fam, "bun") == 0) &&
        in_list("run x test", argv[k].text))
        k++;
    if (k >= argc || strcmp(argv[k].text, "-") == 0) {
        code_on_stdin(j, ci, c, name, &cn);
        return;
    }
    if (argv[k].flags & AG__SH_SUBST)
        opaque(j, ci, "%s runs a program from a substitution", name);
    for (; k < argc; k++)
        path_word(j, ci, "file.read", &argv[k]);
    emit_exec(j, ci, name, NULL, &cn);
}

/* Shells: -c STRING is parsed as a line of its own and judged now, in order. */
static void judge_range(struct judge *j, size_t from);

static void judge_shell(struct judge *j, int ci, const struct ag__sh_cmd *c, const char *name,
                        const struct ag__sh_word *argv, size_t argc)
{
    struct canon cn = {.n = 0};
    size_t k = 1;
    int code = 0;
    for (; k < argc; k++) {
        const char *t = argv[k].text;
        if ((t[0] != '-' && t[0] != '+') || strcmp(t, "-") == 0)
            break;
        if (strcmp(t, "--") == 0) {
            k++;
            break;
        }
        if (t[1] != '-' && strchr(t + 1, 'c'))
            code = 1;
        if (strcmp(t, "-o") == 0 || strcmp(t, "+o") == 0 || strcmp(t, "-O") == 0 ||
            strcmp(t, "+O") == 0)
            k++;
        else if (strcmp(t, "--rcfile") == 0 || strcmp(t, "--init-file") == 0) {
            if (k + 1 < argc)
                path_word(j, ci, "file.read", &argv[++k]);
        }
    }
    if (code) {
        emit_exec(j, ci, name, NULL, &cn);
        if (k >= argc)
            return;
        const struct ag__sh_word *w = &argv[k];
        if (w->flags & (AG__SH_VAR | AG__SH_SUBST)) {
            opaque(j, ci, "%s -c with a command built from variables", name);
            return;
        }
        size_t before = j->r->script.ncmd;
        if (ag__sh_parse_more(&j->r->script, w->text, strlen(w->text), c->depth + 1,
                              c->nested + 1) != AG_OK) {
            j->oom = 1;
            return;
        }
        judge_range(j, before);
        return;
    }
    if (k >= argc) {
        code_on_stdin(j, ci, c, name, &cn);
        return;
    }
    if (argv[k].flags & AG__SH_SUBST)
        opaque(j, ci, "%s runs a program from a substitution", name);
    for (; k < argc; k++)
        path_word(j, ci, "file.read", &argv[k]);
    emit_exec(j, ci, name, NULL, &cn);
}

static void judge_cd(struct judge *j, int ci, const struct ag__sh_cmd *c, const char *name,
                     const struct ag__sh_word *argv, size_t argc)
{
    struct canon cn = {.n = 0};
    emit_exec(j, ci, name, NULL, &cn);
    size_t k = 1;
    while (k < argc && argv[k].text[0] == '-' && argv[k].text[1])
        k++;
    int shared = c->nested > 0 || c->stage > 0;
    for (size_t i = 0; !shared && i < j->r->script.ncmd; i++)
        shared = j->r->script.cmd[i].pipeline == c->pipeline && j->r->script.cmd[i].stage > 0;
    if (shared || strcmp(name, "popd") == 0 || (k < argc && strcmp(argv[k].text, "-") == 0)) {
        j->cwd_known = 0;
        return;
    }
    const struct ag__sh_word *w = k < argc ? &argv[k] : NULL;
    struct ag__sh_word tilde = {.text = "~", .pat = "~", .flags = AG__SH_TILDE};
    if (!w)
        w = &tilde;
    if (w->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_GLOB | AG__SH_BRACE | AG__SH_TUSER)) {
        j->cwd_known = 0;
        return;
    }
    struct ag_buf b;
    const char *why = NULL;
    char plain[PATH_MAX], *res = NULL;
    ag__buf_init(&b);
    if (!substitute(j, w, &b, &why)) {
        ag__buf_free(&b);
        j->cwd_known = 0;
        return;
    }
    unescape(b.data ? b.data : "", plain, sizeof plain);
    ag__buf_free(&b);
    if ((plain[0] != '/' && !j->cwd_known) ||
        j->ctx->path(j->cwd, j->ctx->home, plain[0] ? plain : ".", &res) != AG_OK) {
        j->cwd_known = 0;
        return;
    }
    snprintf(j->cwd, sizeof j->cwd, "%s%s", strcmp(res, "/") == 0 ? "" : "/", res);
    free(res);
    (void)ci;
}

/* 1 when w names an existing directory (links followed). */
static int existing_dir(struct judge *j, const struct ag__sh_word *w)
{
    struct ag_buf b;
    const char *why = NULL;
    char plain[PATH_MAX], *res = NULL;
    struct stat st;
    ag__buf_init(&b);
    int ok = substitute(j, w, &b, &why);
    unescape(ok && b.data ? b.data : "", plain, sizeof plain);
    ag__buf_free(&b);
    if (!ok || !plain[0] || (plain[0] != '/' && !j->cwd_known) ||
        j->ctx->path(j->cwd, j->ctx->home, plain, &res) != AG_OK)
        return 0;
    snprintf(plain, sizeof plain, "/%s", strcmp(res, "/") == 0 ? "" : res);
    free(res);
    return stat(plain, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The target of cp/mv/install/ln: written, and the names copied into it when it is
 * an existing directory. */
static void copy_target(struct judge *j, int ci, const struct ag__sh_word *dst,
                        const struct ag__sh_word *const *src, size_t nsrc)
{
    if (dst->flags & (AG__SH_VAR | AG__SH_SUBST | AG__SH_GLOB | AG__SH_BRACE | AG__SH_TUSER)) {
        path_word(j, ci, "file.write", dst);
        return;
    }
    if (!existing_dir(j, dst) || nsrc == 0)
        path_word(j, ci, "file.write", dst);
    for (size_t i = 0; i < nsrc; i++) {
        if (src[i]->flags & (AG__SH_VAR | AG__SH_SUBST))
            continue;
        char name[PATH_MAX], joined[PATH_MAX * 2];
        unescape(src[i]->pat, name, sizeof name);
        size_t len = strlen(name);
        while (len > 1 && name[len - 1] == '/')
            name[--len] = '\0';
        /* dst/<name>: the name as a glob when the source is one */
        int n = snprintf(joined, sizeof joined, "%s/%s", dst->pat,
                         (src[i]->flags & AG__SH_GLOB) ? base(src[i]->pat) : base(name));
        if (n < 0 || n >= PATH_MAX)
            continue;
        struct ag__sh_word w = {.text = joined, .pat = joined,
                                .flags = (dst->flags & (AG__SH_TILDE | AG__SH_QUOTED)) |
                                         (src[i]->flags & AG__SH_GLOB)};
        path_word(j, ci, "file.write", &w);
    }
}

/* An awk print or printf redirected to a file (print > "f"); a '>' elsewhere is a
 * comparison. */
static int awk_prints_to_file(const char *prog)
{
    for (const char *p = strstr(prog, "print"); p; p = strstr(p + 5, "print")) {
        size_t end = strcspn(p, ";}\n");
        const char *gt = memchr(p, '>', end);
        if (gt)
            return 1;
    }
    return 0;
}

static void judge_generic(struct judge *j, int ci, const struct ag__sh_cmd *c,
                          const struct prog *pg, const char *name, const struct ag__sh_word *argv,
                          size_t argc, int from_find, int xargs)
{
    struct parsed *p = calloc(1, sizeof *p);
    if (!p) {
        j->oom = 1;
        return;
    }
    enum args args = pg ? pg->args : A_UNKNOWN;
    parse_opts(j, ci, argv, argc, 1, pg ? pg->opts : o_none, p, pg == NULL, args == A_MODE);
    if (p->code)
        opaque(j, ci, "%s runs a program named in its options", name);
    if (from_find && strcmp(name, "rm") == 0)
        canon_add(&p->canon, "--recursive", 11); /* {}: every file below the roots */
    int special = pg ? pg->special : S_NONE;
    size_t first = 0;
    if (args == A_PATREAD || args == A_SEARCH) {
        if (!p->pat_given && p->nop > 0) {
            if (special == S_SED)
                sed_script(j, ci, p->operand[0]->text);
            if (special == S_AWK) {
                const char *prog = p->operand[0]->text;
                if (strstr(prog, "system") || strchr(prog, '|') || awk_prints_to_file(prog) ||
                    strstr(prog, "getline") || strstr(prog, "close"))
                    opaque(j, ci, "an awk program that runs commands or writes files%s", "");
            }
            first = 1;
        }
    }
    if (special == S_SED)
        for (size_t i = 1; i < argc; i++) /* -e scripts */
            if (i > 0 && (strcmp(argv[i - 1].text, "-e") == 0 ||
                          strcmp(argv[i - 1].text, "--expression") == 0))
                sed_script(j, ci, argv[i].text);
    if (xargs && args != A_NONE)
        opaque(j, ci, "xargs adds arguments to %s from its input", name);
    int search = args == A_SEARCH || (special == S_GREP && has_canon(p, "--recursive"));
    const char *glob = p->nglobs ? p->globs[0] : NULL;
    switch (args) {
    case A_NONE:
        break;
    case A_READ:
    case A_UNKNOWN:
        if (special == S_UNIQ && p->nop == 2) {
            path_word(j, ci, "file.read", p->operand[0]);
            path_word(j, ci, "file.write", p->operand[1]);
            break;
        }
        for (size_t i = 0; i < p->nop; i++)
            path_word(j, ci, "file.read", p->operand[i]);
        break;
    case A_WRITE:
        for (size_t i = 0; i < p->nop; i++)
            path_word(j, ci, "file.write", p->operand[i]);
        break;
    case A_RW:
        for (size_t i = 0; i < p->nop; i++) {
            path_word(j, ci, "file.read", p->operand[i]);
            path_word(j, ci, "file.write", p->operand[i]);
        }
        break;
    case A_PATREAD:
    case A_SEARCH:
        if (search && p->nop <= first)
            search_cwd(j, ci, "file.read", glob);
        for (size_t i = first; i < p->nop; i++) {
            if (search)
                search_word(j, ci, "file.read", p->operand[i], glob);
            else
                path_word(j, ci, "file.read", p->operand[i]);
            if (special == S_SED && has_canon(p, "--in-place"))
                path_word(j, ci, "file.write", p->operand[i]);
        }
        break;
    case A_MODE:
        for (size_t i = has_canon(p, "--reference") ? 0 : 1; i < p->nop; i++)
            path_word(j, ci, "file.write", p->operand[i]);
        break;
    case A_COPY:
    case A_MOVE: {
        const struct ag__sh_word *const *ops = p->operand;
        size_t n = p->nop;
        if (special == S_SCP) { /* host:path is remote */
            size_t o = 0;
            for (size_t i = 0; i < n; i++) {
                const char *t = ops[i]->text, *colon = strchr(t, ':');
                if (!(colon && (strchr(t, '/') == NULL || strchr(t, '/') > colon)))
                    p->operand[o++] = ops[i];
            }
            n = o;
        }
        if (strcmp(name, "install") == 0 && has_canon(p, "--directory")) {
            for (size_t i = 0; i < n; i++)
                path_word(j, ci, "file.write", ops[i]);
            break;
        }
        const struct ag__sh_word *dst = p->target;
        size_t nsrc = n;
        if (!dst && n >= 2) {
            dst = ops[n - 1];
            nsrc = n - 1;
        }
        /* A recursive copy reads its sources whole and may write anything below the
         * target (rsync src/ dst/, cp -rT); a move moves whole trees. */
        int tree = args == A_MOVE || has_canon(p, "--recursive") || has_canon(p, "--archive");
        for (size_t i = 0; i < nsrc; i++) {
            if (tree)
                tree_word(j, ci, "file.read", ops[i]);
            else
                path_word(j, ci, "file.read", ops[i]);
            if (args == A_MOVE)
                tree_word(j, ci, "file.write", ops[i]);
        }
        if (dst)
            copy_target(j, ci, dst, ops, nsrc);
        if (dst && ((tree && args != A_MOVE) || has_canon(p, "--no-target-directory")))
            tree_word(j, ci, "file.write", dst);
        break;
    }
    }
    emit_exec(j, ci, name, NULL, &p->canon);
    free(p);
    (void)c;
}

/* Wrappers: options to skip (those taking a value listed), then the command. */
struct wrapper {
    const char *names;
    const char *with_value; /* options taking a value, space-separated */
    int operands;           /* operands before the command (timeout's duration) */
};

static const struct wrapper wrappers[] = {
    {"sudo doas", "-u -g -h -p -C -D -r -t -U -T -R --user --group --host --prompt "
                  "--close-from --chdir --role --type --other-user --command-timeout --chroot",
     0},
    {"nice", "-n --adjustment", 0},
    {"nohup setsid builtin", "", 0},
    {"time", "-f -o --format --output", 0},
    {"timeout", "-k -s --kill-after --signal", 1},
    {"stdbuf", "-i -o -e --input --output --error", 0},
    {"ionice", "-c -n --class --classdata", 0},
    {"command", "", 0},
    {"exec", "-a", 0},
    {"busybox", "", 0},
    {"env", "-u -C -S --unset --chdir --split-string", 0},
    {"xargs", "-I -L -n -P -s -d -E -a --max-args --max-procs --max-chars --delimiter "
              "--eof --arg-file --max-lines --replace --process-slot-var",
     0},
};

static void judge_argv(struct judge *j, int ci, const struct ag__sh_cmd *c,
                       const struct ag__sh_word *argv, size_t argc, int from_find, int xargs)
{
    for (int hops = 0; argc > 0 && hops < 16; hops++) {
        const struct ag__sh_word *w = &argv[0];
        if (w->flags & (AG__SH_VAR | AG__SH_SUBST)) {
            opaque(j, ci, "a program named by a variable or command substitution: %.200s",
                   w->text);
            return;
        }
        if (w->flags & (AG__SH_GLOB | AG__SH_BRACE | AG__SH_TUSER) ||
            strchr(w->text, AG__SH_MARK)) {
            opaque(j, ci, "a program named by a pattern: %.200s", w->text);
            return;
        }
        const char *name = base(w->text);
        const struct wrapper *wr = NULL;
        for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++)
            if (in_list(wrappers[i].names, name))
                wr = &wrappers[i];
        if (!wr)
            break;
        if (strcmp(name, "sudo") == 0 || strcmp(name, "doas") == 0) {
            struct canon cn = {.n = 0};
            emit_exec(j, ci, name, NULL, &cn);
        }
        size_t k = 1;
        int edit = strcmp(name, "sudoedit") == 0, no_exec = 0;
        for (; k < argc; k++) {
            const char *t = argv[k].text;
            if (argv[k].flags & (AG__SH_VAR | AG__SH_SUBST)) {
                opaque(j, ci, "a variable among %s's options", name);
                return;
            }
            if (strcmp(name, "env") == 0 && strchr(t, '=') && t[0] != '-') {
                if (dangerous_env(t))
                    opaque(j, ci, "env sets %.60s, which changes what the command runs", t);
                continue;
            }
            if (t[0] != '-' || strcmp(t, "-") == 0)
                break;
            if (strcmp(t, "--") == 0) {
                k++;
                break;
            }
            char opt[64];
            snprintf(opt, sizeof opt, "%.*s", (int)strcspn(t, "="), t);
            if (strcmp(name, "env") == 0 && (strncmp(t, "-S", 2) == 0 || strcmp(opt, "--split-string") == 0 ||
                                             strncmp(t, "-C", 2) == 0 || strcmp(opt, "--chdir") == 0)) {
                opaque(j, ci, "env %.60s: a command line or directory the hook does not follow", t);
                return;
            }
            if ((strcmp(name, "sudo") == 0 && (strcmp(t, "-e") == 0 || strcmp(t, "--edit") == 0)))
                edit = 1;
            if ((strcmp(name, "command") == 0 && (strcmp(t, "-v") == 0 || strcmp(t, "-V") == 0)) ||
                (strcmp(name, "sudo") == 0 && (strcmp(t, "-l") == 0 || strcmp(t, "-v") == 0 ||
                                               strcmp(t, "-k") == 0 || strcmp(t, "-K") == 0)))
                no_exec = 1;
            if (strcmp(name, "time") == 0 && (strcmp(opt, "-o") == 0 || strcmp(opt, "--output") == 0)) {
                if (strchr(t, '=')) {
                    struct ag__sh_word v = {.text = strchr(t, '=') + 1, .pat = strchr(t, '=') + 1};
                    path_word(j, ci, "file.write", &v);
                } else if (k + 1 < argc) {
                    path_word(j, ci, "file.write", &argv[k + 1]);
                }
            }
            if ((strcmp(name, "xargs") == 0) && (strcmp(opt, "-a") == 0 || strcmp(opt, "--arg-file") == 0)) {
                if (strchr(t, '=')) {
                    struct ag__sh_word v = {.text = strchr(t, '=') + 1, .pat = strchr(t, '=') + 1};
                    path_word(j, ci, "file.read", &v);
                } else if (k + 1 < argc) {
                    path_word(j, ci, "file.read", &argv[k + 1]);
                }
            }
            if (t[1] != '-' && strlen(t) == 2 && in_list(wr->with_value, t))
                k++;
            else if (t[1] == '-' && !strchr(t, '=') && in_list(wr->with_value, t))
                k++;
        }
        if (no_exec) { /* command -v, sudo -l: nothing runs */
            struct canon cn = {.n = 0};
            emit_exec(j, ci, name, NULL, &cn);
            return;
        }
        if (edit) {
            for (; k < argc; k++)
                path_word(j, ci, "file.write", &argv[k]);
            return;
        }
        k += (size_t)wr->operands;
        if (strcmp(name, "xargs") == 0) {
            xargs = 1;
            if (k >= argc) { /* xargs alone runs echo */
                struct canon cn = {.n = 0};
                emit_exec(j, ci, "echo", NULL, &cn);
                return;
            }
        }
        if (k >= argc)
            return; /* env, nice, exec alone: no command */
        argv += k;
        argc -= k;
    }
    if (argc == 0)
        return;
    const char *name = base(argv[0].text);
    if (name[0] == '\0') {
        opaque(j, ci, "an empty program name%s", "");
        return;
    }
    const struct prog *pg = lookup(name);
    switch (pg ? pg->special : S_NONE) {
    case S_FIND:
        judge_find(j, ci, c, argv, argc);
        return;
    case S_GIT:
        judge_git(j, ci, argv, argc);
        return;
    case S_TAR:
        judge_tar(j, ci, argv, argc);
        return;
    case S_DD:
        judge_dd(j, ci, argv, argc);
        return;
    case S_INTERP:
        judge_interp(j, ci, c, name, argv, argc);
        return;
    case S_SHELL:
        judge_shell(j, ci, c, name, argv, argc);
        return;
    case S_CD:
        judge_cd(j, ci, c, name, argv, argc);
        return;
    case S_OPAQUE:
        opaque(j, ci, "%s runs code the hook cannot see", name);
        return;
    case S_WRAP_OPAQUE:
        opaque(j, ci, "%s runs a command the hook does not unwrap", name);
        return;
    case S_PATCH:
        opaque(j, ci, "%s writes the files its input names", name);
        return;
    case S_ZIP: /* zip ARCHIVE FILES...: the archive written, the files read whole */
    case S_UNZIP: { /* unzip ARCHIVE [-d DIR]: everything below DIR written */
        struct parsed *p = calloc(1, sizeof *p);
        if (!p) {
            j->oom = 1;
            return;
        }
        parse_opts(j, ci, argv, argc, 1, pg->opts, p, 0, 0);
        for (size_t k = 0; k < p->nop; k++)
            if (k == 0)
                path_word(j, ci, pg->special == S_ZIP ? "file.write" : "file.read", p->operand[0]);
            else if (pg->special == S_ZIP)
                tree_word(j, ci, "file.read", p->operand[k]);
        if (pg->special == S_UNZIP) {
            struct ag__sh_word dot = {.text = ".", .pat = ".", .flags = 0};
            tree_word(j, ci, "file.write", p->target ? p->target : &dot);
        }
        emit_exec(j, ci, name, NULL, &p->canon);
        free(p);
        return;
    }
    case S_SOURCE:
        opaque(j, ci, "%s runs the code of a file", name);
        for (size_t k = 1; k < argc && k < 2; k++)
            path_word(j, ci, "file.read", &argv[k]);
        return;
    case S_EXPORT: {
        struct canon cn = {.n = 0};
        for (size_t k = 1; k < argc; k++)
            if (dangerous_env(argv[k].text) && strchr(argv[k].text, '='))
                opaque(j, ci, "%.60s changes what later commands run", argv[k].text);
        emit_exec(j, ci, name, NULL, &cn);
        return;
    }
    default:
        break;
    }
    if (!pg && strncmp(name, "mkfs", 4) == 0) { /* mkfs.ext4 DEVICE: the device written */
        static const struct prog mkfs = {"mkfs", A_WRITE, o_none, S_NONE};
        pg = &mkfs;
    }
    judge_generic(j, ci, c, pg, name, argv, argc, from_find, xargs);
}

static void judge_cmd(struct judge *j, int ci)
{
    struct ag__sh_cmd c = j->r->script.cmd[ci]; /* the array may move (bash -c) */
    j->r->script.cmd[ci].judged = 1;
    for (size_t i = 0; i < c.nassign; i++)
        if (dangerous_env(c.assign[i].text))
            opaque(j, ci, "the assignment %.60s changes what the command runs", c.assign[i].text);
    for (size_t i = 0; i < c.nredir; i++) {
        const struct ag__sh_redir *r = &c.redir[i];
        switch (r->op) {
        case AG__SH_R_IN:
            path_word(j, ci, "file.read", &r->target);
            break;
        case AG__SH_R_OUT:
        case AG__SH_R_APPEND:
            path_word(j, ci, "file.write", &r->target);
            break;
        case AG__SH_R_RDWR:
            path_word(j, ci, "file.read", &r->target);
            path_word(j, ci, "file.write", &r->target);
            break;
        default:
            break;
        }
    }
    size_t from = j->r->n;
    judge_argv(j, ci, &c, c.argv, c.argc, 0, 0);
    /* The command's own shell.exec first: when it and one of its paths are both
     * denied, the reason names the command (rm -rf /: the rm rule). */
    for (size_t i = from, to = from; i < j->r->n; i++) {
        if (j->r->c[i].cmd != ci || strcmp(j->r->c[i].action, "shell.exec") != 0)
            continue;
        struct ag__shell_check e = j->r->c[i];
        memmove(&j->r->c[to + 1], &j->r->c[to], (i - to) * sizeof e);
        j->r->c[to++] = e;
    }
}

static void judge_range(struct judge *j, size_t from)
{
    for (size_t i = from; i < j->r->script.ncmd && !j->oom; i++)
        if (!j->r->script.cmd[i].judged)
            judge_cmd(j, (int)i);
}

ag_err ag__shell_judge(const char *line, size_t len, const struct ag__shell_ctx *ctx,
                       struct ag__shell_result *out)
{
    memset(out, 0, sizeof *out);
    ag_err err = ag__sh_parse(line, len, &out->script);
    if (err != AG_OK)
        return err;
    struct judge j = {.ctx = ctx, .r = out};
    snprintf(j.cwd, sizeof j.cwd, "%s", ctx->cwd ? ctx->cwd : "");
    j.cwd_known = j.cwd[0] == '/';
    judge_range(&j, 0);
    for (size_t i = 0; i < out->script.nopaque && !j.oom; i++)
        opaque(&j, out->script.opaque[i].cmd, "%s", out->script.opaque[i].reason);
    if (out->n == 0 && !j.oom) /* an empty line, or only comments: the no-op */
        check(&j, -1, "shell.exec", strdup(":"), 1, AG__SHELL_REQ, NULL, NULL);
    if (j.oom) {
        ag__shell_result_free(out);
        return AG_ENOMEM;
    }
    return AG_OK;
}

void ag__shell_result_free(struct ag__shell_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->c[i].resource);
        free(r->c[i].dir);
        free(r->c[i].glob);
    }
    free(r->c);
    ag__sh_script_free(&r->script);
    memset(r, 0, sizeof *r);
}

const char *ag__shell_part(const struct ag__shell_result *r, const struct ag__shell_check *c)
{
    if (c->cmd < 0 || (size_t)c->cmd >= r->script.ncmd)
        return "";
    return r->script.cmd[c->cmd].src;
}
