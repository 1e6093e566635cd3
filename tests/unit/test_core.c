#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
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
