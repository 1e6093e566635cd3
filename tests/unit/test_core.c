#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/time.h"
#include "test.h"

TEST(err_names_and_detail)
{
    ASSERT_STREQ(ag_errname(AG_ENOTFOUND), "ENOTFOUND");
    ASSERT_STREQ(ag_strerror(AG_EPERM), "permission denied");
    ASSERT_EQ(ag__fail(AG_EPARSE, "x.yaml:%d:%d: bad", 3, 7), AG_EPARSE);
    ASSERT_STREQ(ag_last_error(), "x.yaml:3:7: bad");
}

TEST(duration_parse)
{
    int64_t ms;
    ASSERT_OK(ag__parse_duration("1h", &ms));
    ASSERT_EQ(ms, 3600000);
    ASSERT_OK(ag__parse_duration("1h30m", &ms));
    ASSERT_EQ(ms, 5400000);
    ASSERT_OK(ag__parse_duration("90", &ms));
    ASSERT_EQ(ms, 90000);
    ASSERT_OK(ag__parse_duration("250ms", &ms));
    ASSERT_EQ(ms, 250);
    ASSERT_ERR(ag__parse_duration("", &ms), AG_EPARSE);
    ASSERT_ERR(ag__parse_duration("-5s", &ms), AG_EPARSE);
    ASSERT_ERR(ag__parse_duration("5x", &ms), AG_EPARSE);
    ASSERT_ERR(ag__parse_duration("99999999999999999999d", &ms), AG_EPARSE);
    char buf[32];
    ag__format_duration(900000, buf, sizeof buf);
    ASSERT_STREQ(buf, "15m");
}

TEST(rfc3339_round_trip)
{
    char buf[AG_RFC3339_LEN];
    ag__rfc3339(1764072000123LL, buf);
    ASSERT_STREQ(buf, "2025-11-25T12:00:00.123Z");
    int64_t ms;
    ASSERT_OK(ag__parse_rfc3339(buf, &ms));
    ASSERT_EQ(ms, 1764072000123LL);
    ASSERT_OK(ag__parse_rfc3339("2025-11-25T13:00:00+01:00", &ms));
    ASSERT_EQ(ms, 1764072000000LL);
    ASSERT_ERR(ag__parse_rfc3339("2025-13-25T13:00:00Z", &ms), AG_EPARSE);
    ASSERT_ERR(ag__parse_rfc3339("yesterday", &ms), AG_EPARSE);
}

TEST(sha256_known_vector)
{
    char hex[AG_SHA256_HEX_LEN];
    ag__sha256_hex("abc", 3, hex);
    ASSERT_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 test case 2. */
    ag__hmac_sha256_hex((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, hex);
    ASSERT_STREQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(random_ids_differ)
{
    ASSERT_OK(ag__crypto_init());
    char a[33], b[33], u[37];
    ag__random_hex(16, a);
    ag__random_hex(16, b);
    ASSERT_EQ(strlen(a), 32);
    ASSERT_TRUE(strcmp(a, b) != 0);
    ag__uuid4(u);
    ASSERT_EQ(u[14], '4');
    uint8_t raw[4];
    ASSERT_OK(ag__unhex("deadBEEF", raw, 4));
    ASSERT_EQ(raw[0], 0xde);
    ASSERT_ERR(ag__unhex("zz", raw, 1), AG_EPARSE);
}

TEST(buf_grows)
{
    struct ag_buf b;
    ag__buf_init(&b);
    for (int i = 0; i < 1000; i++)
        ag__buf_printf(&b, "%d,", i);
    ASSERT_OK(ag__buf_status(&b));
    ASSERT_TRUE(b.len > 3000);
    char *s = ag__buf_take(&b);
    ASSERT_TRUE(strncmp(s, "0,1,2,", 6) == 0);
    free(s);
    ASSERT_TRUE(b.data == NULL);
}

TEST(atomic_write_and_read)
{
    const char *dir = ag_test_fresh_dir("fileio");
    char path[512];
    snprintf(path, sizeof path, "%s/a/b/key", dir);
    ASSERT_ERR(ag__write_file_atomic(path, "x", 1, 0600, 0), AG_ENOTFOUND);
    char sub[512];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    ASSERT_OK(ag__mkdir_p(sub, 0700));
    ASSERT_OK(ag__write_file_atomic(path, "secret", 6, 0600, 1));
    ASSERT_ERR(ag__write_file_atomic(path, "other", 5, 0600, 1), AG_EEXIST);
    char *data;
    size_t len;
    ASSERT_OK(ag__read_file(path, 1024, &data, &len));
    ASSERT_STREQ(data, "secret");
    ASSERT_EQ(len, 6);
    free(data);
    ASSERT_ERR(ag__read_file(path, 3, &data, &len), AG_ELIMIT);
}

/* The directory may be writable by someone we do not trust (a governed child's
 * workdir, where the runner writes its report): a symlink planted at the temp name
 * the writer used to choose (<path>.tmp.<pid>) must not make it write the target. */
TEST(atomic_write_does_not_follow_a_planted_symlink)
{
    const char *dir = ag_test_fresh_dir("fileio-plant");
    char path[512], victim[512], trap[600];
    snprintf(path, sizeof path, "%s/report.json", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(trap, sizeof trap, "%s.tmp.%ld", path, (long)getpid());
    ASSERT_OK(ag__write_file_atomic(victim, "precious", 8, 0600, 0));
    ASSERT_EQ(symlink(victim, trap), 0);
    ASSERT_OK(ag__write_file_atomic(path, "report", 6, 0644, 0));
    char *data;
    size_t len;
    ASSERT_OK(ag__read_file(victim, 1024, &data, &len));
    ASSERT_STREQ(data, "precious");
    free(data);
    ASSERT_OK(ag__read_file(path, 1024, &data, &len));
    ASSERT_STREQ(data, "report");
    free(data);
    /* A symlink at the final name is replaced, not written through. */
    ASSERT_EQ(unlink(path), 0);
    ASSERT_EQ(symlink(victim, path), 0);
    ASSERT_OK(ag__write_file_atomic(path, "again", 5, 0644, 0));
    ASSERT_OK(ag__read_file(victim, 1024, &data, &len));
    ASSERT_STREQ(data, "precious");
    free(data);
    /* Only the planted link, the victim and the file remain: no temp file is left. */
    DIR *d = opendir(dir);
    ASSERT_TRUE(d != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    ASSERT_EQ(n, 3);
}

/* ag__open_beneath's cases, each run through openat2 and through the fallback that
 * takes over where openat2 is missing (valgrind, kernels before 5.6): both must give
 * the same answer. want is the file's first bytes, "<dir>" for a directory, or NULL
 * when errno must be err. */
struct beneath_case {
    const char *rel;
    int flags, no_symlinks;
    const char *want;
    int err;
};

static const struct beneath_case beneath_cases[] = {
    {"f", O_RDONLY, 1, "top", 0},
    {"a/b/g", O_RDONLY, 1, "deep", 0},
    {"./a//b/./g", O_RDONLY, 1, "deep", 0},
    {"a/../f", O_RDONLY, 1, "top", 0}, /* ".." that stays beneath */
    {"a/b/../../f", O_RDONLY, 0, "top", 0},
    {"..", O_RDONLY, 1, NULL, EXDEV},
    {"../secret", O_RDONLY, 1, NULL, EXDEV},
    {"a/../../secret", O_RDONLY, 0, NULL, EXDEV},
    {"ABS", O_RDONLY, 0, NULL, EXDEV}, /* replaced by the absolute path of secret */
    {"", O_RDONLY, 0, NULL, ENOENT},
    {"out", O_RDONLY, 0, NULL, EXDEV}, /* -> ../secret */
    {"out", O_RDONLY, 1, NULL, ELOOP},
    {"abs", O_RDONLY, 0, NULL, EXDEV}, /* -> /.../secret */
    {"abs", O_RDONLY, 1, NULL, ELOOP},
    {"in", O_RDONLY, 0, "deep", 0}, /* -> a/b/g */
    {"in", O_RDONLY, 1, NULL, ELOOP},
    {"in", O_RDONLY | O_NOFOLLOW, 0, NULL, ELOOP},
    {"adir/b/g", O_RDONLY, 0, "deep", 0}, /* adir -> a */
    {"adir/b/g", O_RDONLY, 1, NULL, ELOOP},
    {"a/b/up/f", O_RDONLY, 0, "top", 0}, /* up -> ../.. */
    {"a/b/up/../secret", O_RDONLY, 0, NULL, EXDEV},
    {"loop", O_RDONLY, 0, NULL, ELOOP},
    {"a", O_RDONLY | O_DIRECTORY, 1, "<dir>", 0},
    {".", O_RDONLY | O_DIRECTORY, 1, "<dir>", 0},
    {"adir/", O_RDONLY, 0, "<dir>", 0},
    {"adir/", O_RDONLY | O_NOFOLLOW, 0, "<dir>", 0},
    {"f", O_RDONLY | O_DIRECTORY, 1, NULL, ENOTDIR},
    {"f/", O_RDONLY, 1, NULL, ENOTDIR},
    {"f/x", O_RDONLY, 1, NULL, ENOTDIR},
    {"nope/g", O_RDONLY, 1, NULL, ENOENT},
    {"a/nope", O_RDONLY, 1, NULL, ENOENT},
    {"a/new", O_WRONLY | O_CREAT | O_EXCL, 1, "", 0},
    {"a/new", O_WRONLY | O_CREAT | O_EXCL, 1, NULL, EEXIST},
    {"../escaped", O_WRONLY | O_CREAT, 1, NULL, EXDEV},
    {"nope/new", O_WRONLY | O_CREAT, 1, NULL, ENOENT},
    {"a/", O_WRONLY | O_CREAT, 1, NULL, EISDIR},
    {"dangle", O_WRONLY | O_CREAT, 1, NULL, ELOOP}, /* -> a/made */
    {"dangle", O_WRONLY | O_CREAT | O_EXCL, 0, NULL, EEXIST},
    {"dangle", O_WRONLY | O_CREAT, 0, "", 0},
    {"a/made", O_RDONLY, 1, "", 0}, /* made through the link, beneath */
};

static void put(const char *dir, const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ASSERT_OK(ag__write_file_atomic(path, text, strlen(text), 0644, 0));
}

static void link_at(const char *dir, const char *name, const char *target)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ASSERT_EQ(symlink(target, path), 0);
}

/* A fresh tree: dir/secret outside, dir/root/{f, a/b/g} and links inside. */
static int beneath_tree(const char *label, char *secret, size_t n)
{
    const char *dir = ag_test_fresh_dir(label);
    char root[512], sub[600];
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(sub, sizeof sub, "%s/a/b", root);
    ASSERT_OK(ag__mkdir_p(sub, 0755));
    put(dir, "secret", "secret");
    put(root, "f", "top");
    put(root, "a/b/g", "deep");
    snprintf(secret, n, "%s/secret", dir);
    link_at(root, "out", "../secret");
    link_at(root, "abs", secret);
    link_at(root, "in", "a/b/g");
    link_at(root, "adir", "a");
    link_at(root, "a/b/up", "../..");
    link_at(root, "loop", "loop");
    link_at(root, "dangle", "a/made");
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_TRUE(fd >= 0);
    return fd;
}

/* What an open gave: the file's first bytes, "<dir>", or the errno's name. */
static void beneath_answer(int fd, int err, char *out, size_t n)
{
    struct stat st;
    if (fd < 0) {
        snprintf(out, n, "errno %s", strerrorname_np(err));
    } else if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(out, n, "<dir>");
    } else {
        ssize_t got = read(fd, out, n - 1);
        out[got > 0 ? got : 0] = '\0';
    }
    if (fd >= 0)
        close(fd);
}

static void beneath_run(int walk_only)
{
    char secret[600];
    int root = beneath_tree(walk_only ? "beneath-walk" : "beneath-openat2", secret, sizeof secret);
    ag__open_beneath_walk_only = walk_only;
    int wrong = 0;
    for (size_t i = 0; i < sizeof beneath_cases / sizeof beneath_cases[0]; i++) {
        const struct beneath_case *c = &beneath_cases[i];
        const char *rel = strcmp(c->rel, "ABS") == 0 ? secret : c->rel;
        int fd = ag__open_beneath(root, rel, c->flags, 0644, c->no_symlinks);
        char got[64], want[64];
        beneath_answer(fd, errno, got, sizeof got);
        snprintf(want, sizeof want, c->want ? "%s" : "errno %s",
                 c->want ? c->want : strerrorname_np(c->err));
        if (strcmp(got, want) != 0) /* every case that disagrees, not only the first */
            fprintf(stderr, "    %s: \"%s\" flags %#x no_symlinks %d: got %s, expected %s\n",
                    walk_only ? "fallback" : "openat2", c->rel, (unsigned)c->flags, c->no_symlinks,
                    got, want);
        wrong += strcmp(got, want) != 0;
    }
    ASSERT_EQ(wrong, 0);
    char escaped[700];
    snprintf(escaped, sizeof escaped, "%s/../escaped", secret);
    ASSERT_TRUE(access(escaped, F_OK) != 0);
    close(root);
}

TEST(open_beneath_with_openat2)
{
    beneath_run(0);
}

TEST(open_beneath_fallback_gives_the_same_answers)
{
    beneath_run(1);
}
