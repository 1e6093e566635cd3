/* The programs the shell judge knows: their option tables, how their operands are
 * taken, the wrappers it unwraps (see shell_judge_int.h). */
#include <ctype.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hook/shell_judge_int.h"

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
static const struct opt o_touch[] = {
    {"r", "reference", 1, R_READ, NULL}, {"d", "date", 1, R_NONE, NULL},
    {"t", NULL, 1, R_NONE, NULL},        {"s", "size", 1, R_NONE, NULL},       /* truncate */
    {"m", "mode", 1, R_NONE, NULL},                                            /* mkdir */
    {"p", "parents", 0, R_NONE, NULL},   {"n", "iterations", 1, R_NONE, NULL}, /* shred */
    {"u", "remove", 2, R_NONE, NULL},    {NULL, NULL, 0, 0, NULL}};
static const struct opt o_tee[] = {{"a", "append", 0, R_NONE, NULL}, {NULL, NULL, 0, 0, NULL}};
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
static const struct opt o_awk[] = {
    {"f", "file", 1, R_PAT, "--file"}, {"e", "source", 1, R_CODE, NULL},
    {"v", "assign", 1, R_NONE, NULL},  {"F", "field-separator", 1, R_NONE, NULL},
    {"i", "include", 1, R_READ, NULL}, {"l", "load", 1, R_CODE, NULL},
    {NULL, NULL, 0, 0, NULL}};
static const struct opt o_jq[] = {
    {"f", "from-file", 1, R_PAT, NULL}, {"", "arg", 0, R_NONE, NULL},
    {"", "argjson", 0, R_NONE, NULL},   {"", "slurpfile", 0, R_NONE, NULL},
    {"", "rawfile", 0, R_NONE, NULL},   {"", "indent", 1, R_NONE, NULL},
    {"L", NULL, 1, R_NONE, NULL},       {NULL, NULL, 0, 0, NULL}};
static const struct opt o_sort[] = {
    {"o", "output", 1, R_WRITE, NULL},         {"k", "key", 1, R_NONE, NULL},
    {"t", "field-separator", 1, R_NONE, NULL}, {"T", "temporary-directory", 1, R_NONE, NULL},
    {"S", "buffer-size", 1, R_NONE, NULL},     {"", "files0-from", 1, R_READ, NULL},
    {"n", "lines", 1, R_NONE, NULL}, /* head, tail */
    {"c", "bytes", 1, R_NONE, NULL},           {"w", "width", 1, R_NONE, NULL},
    {"s", "sleep-interval", 1, R_NONE, NULL},  {NULL, NULL, 0, 0, NULL}};
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
const struct opt ag__shj_o_none[] = {{NULL, NULL, 0, 0, NULL}};
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
     A_RW, ag__shj_o_none, S_NONE},
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
    {"find", A_NONE, ag__shj_o_none, S_FIND},
    {"zip 7z 7za", A_NONE, ag__shj_o_none, S_ZIP},
    {"unzip", A_NONE, o_unzip, S_UNZIP},
    {"sqlite3 sqlite", A_NONE, ag__shj_o_none, S_SQLITE},
    {"git", A_NONE, ag__shj_o_none, S_GIT},
    {"tar bsdtar", A_NONE, ag__shj_o_none, S_TAR},
    {"dd", A_NONE, ag__shj_o_none, S_DD},
    {"patch", A_NONE, ag__shj_o_none, S_PATCH},
    {"python python2 python3 pypy pypy3 node nodejs deno bun perl ruby php lua luajit Rscript "
     "tclsh osascript pwsh powershell irb",
     A_READ, ag__shj_o_none, S_INTERP},
    {"bash sh dash zsh ksh mksh ash fish csh tcsh", A_READ, ag__shj_o_none, S_SHELL},
    {"cd pushd popd", A_NONE, ag__shj_o_none, S_CD},
    {"eval trap alias unalias enable bind fc", A_NONE, ag__shj_o_none, S_OPAQUE},
    {"source .", A_NONE, ag__shj_o_none, S_SOURCE},
    {"export declare typeset local readonly", A_NONE, ag__shj_o_none, S_EXPORT},
    {"su chroot unshare nsenter strace ltrace valgrind gdb lldb perf systemd-run script "
     "parallel fakeroot firejail bwrap proot flock watch setpriv runuser chpst taskset chrt "
     "prlimit numactl faketime torsocks proxychains proxychains4 dbus-run-session mpirun entr "
     "expect unbuffer chronic setarch linux32 linux64 catchsegv sg newgrp at batch crontab "
     "tmux screen",
     A_NONE, ag__shj_o_none, S_WRAP_OPAQUE},
    {"echo printf true false test [ [[ pwd date whoami id uname hostname sleep exit return "
     "unset set shift read wait kill killall pkill jobs fg bg disown type which whereis hash "
     "ulimit umask let seq yes basename dirname expr bc dc tput clear reset history help "
     "logout times getopts printenv env-noop nproc arch uptime ps pgrep top free df lsof "
     "ss netstat ip ifconfig ping host dig nslookup ssh tr true : wc-noop cal tty stty locale "
     "sync mount groups users who w last apt-cache dpkg-query rpm-noop",
     A_NONE, ag__shj_o_none, S_NONE},
};

const struct opt ag__shj_o_git[] = {{"f", "force", 0, R_NONE, NULL},
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

const struct opt ag__shj_o_git_clean[] = {
    {"f", "force", 0, R_NONE, NULL},   {"d", NULL, 0, R_NONE, "-d"},
    {"x", NULL, 0, R_NONE, "-x"},      {"X", NULL, 0, R_NONE, "-X"},
    {"n", "dry-run", 0, R_NONE, NULL}, {"i", "interactive", 0, R_NONE, NULL},
    {"q", "quiet", 0, R_NONE, NULL},   {"e", "exclude", 1, R_NONE, NULL},
    {NULL, NULL, 0, 0, NULL}};

const struct opt ag__shj_o_tar[] = {{"c", "create", 0, R_NONE, NULL},
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

static const struct wrapper wrappers[] = {
    {"sudo doas",
     "-u -g -h -p -C -D -r -t -U -T -R --user --group --host --prompt "
     "--close-from --chdir --role --type --other-user --command-timeout --chroot",
     0},
    {"nice", "-n --adjustment", 0},
    {"nohup setsid builtin coproc", "", 0},
    {"time", "-f -o --format --output", 0},
    {"timeout", "-k -s --kill-after --signal", 1},
    {"stdbuf", "-i -o -e --input --output --error", 0},
    {"ionice", "-c -n --class --classdata", 0},
    {"command", "", 0},
    {"exec", "-a", 0},
    {"busybox", "", 0},
    {"env", "-u -C -S --unset --chdir --split-string", 0},
    {"xargs",
     "-I -L -n -P -s -d -E -a --max-args --max-procs --max-chars --delimiter "
     "--eof --arg-file --max-lines --replace --process-slot-var",
     0},
};

const struct wrapper *ag__shj_wrapper(const char *name)
{
    for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++)
        if (ag__shj_in_list(wrappers[i].names, name))
            return &wrappers[i];
    return NULL;
}

const char *ag__shj_base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int ag__shj_in_list(const char *list, const char *name)
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

const struct prog *ag__shj_lookup(const char *name)
{
    char trimmed[64];
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
        if (ag__shj_in_list(progs[i].names, name))
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
            if (progs[i].special == S_INTERP && ag__shj_in_list(progs[i].names, trimmed))
                return &progs[i];
    return NULL;
}

/* Environment variables whose value changes what a command runs. */
int ag__shj_dangerous_env(const char *assign)
{
    static const char *const names[] = {"LD_PRELOAD",
                                        "LD_LIBRARY_PATH",
                                        "LD_AUDIT",
                                        "BASH_ENV",
                                        "ENV",
                                        "PROMPT_COMMAND",
                                        "GIT_SSH",
                                        "GIT_SSH_COMMAND",
                                        "GIT_EXEC_PATH",
                                        "GIT_CONFIG_GLOBAL",
                                        "GIT_CONFIG_PARAMETERS",
                                        "GIT_EDITOR",
                                        "GIT_PAGER",
                                        "PYTHONSTARTUP",
                                        "NODE_OPTIONS",
                                        "PERL5OPT",
                                        "RUBYOPT",
                                        "SHELLOPTS",
                                        "BASHOPTS",
                                        "IFS",
                                        "LESSOPEN",
                                        "PAGER",
                                        "EDITOR",
                                        "VISUAL",
                                        "GIT_ASKPASS",
                                        "SSH_ASKPASS",
                                        "GIT_CONFIG_COUNT"};
    size_t n = strcspn(assign, "+=[");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], assign, n) == 0)
            return 1;
    return strncmp(assign, "BASH_FUNC_", 10) == 0;
}

int ag__shj_network_fetcher(const char *name)
{
    return ag__shj_in_list("curl wget nc ncat netcat socat fetch aria2c http https xh httpie lynx "
                           "links w3m ssh",
                           name);
}
