#include <stdio.h>

#include "agentgov/config.h"
#include "core/fileio.h"
#include "test.h"

TEST(config_defaults_are_valid)
{
    ag_config *c;
    ASSERT_OK(ag_config_new(&c));
    ASSERT_STREQ(ag_config_str(c, "listen"), "127.0.0.1:8200");
    ASSERT_EQ(ag_config_ms(c, "stuck.after"), 30000);
    ASSERT_EQ(ag_config_int(c, "allow_remote"), 0);
    ASSERT_STREQ(ag_config_origin(c, "listen"), "default");
    ag_config_free(c);
}

TEST(config_set_validates_against_table)
{
    ag_config *c;
    ASSERT_OK(ag_config_new(&c));
    ASSERT_ERR(ag_config_set(c, "no.such", "1"), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "unknown setting 'no.such'");
    ASSERT_ERR(ag_config_set(c, "server.threads", "0"), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "outside [1, 256]");
    ASSERT_ERR(ag_config_set(c, "log_format", "xml"), AG_EINVAL);
    ASSERT_ERR(ag_config_set(c, "server.timeout", "soon"), AG_EINVAL);
    ASSERT_ERR(ag_config_set(c, "allow_remote", "maybe"), AG_EINVAL);
    ASSERT_OK(ag_config_set(c, "server.timeout", "2m"));
    ASSERT_EQ(ag_config_ms(c, "server.timeout"), 120000);
    ASSERT_OK(ag_config_set(c, "log_format", "json"));
    ASSERT_STREQ(ag_config_str(c, "log_format"), "json");
    ag_config_free(c);
}

TEST(config_file_errors_name_line)
{
    const char *dir = ag_test_fresh_dir("config");
    char path[512];
    snprintf(path, sizeof path, "%s/config", dir);
    const char *text = "# comment\n\nlisten = 127.0.0.1:9000\nserver.threads = 999\n";
    ASSERT_OK(ag__write_file_atomic(path, text, strlen(text), 0600, 0));
    ag_config *c;
    ASSERT_OK(ag_config_new(&c));
    ASSERT_ERR(ag_config_load_file(c, path, 0), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), ":4: server.threads: 999 is outside");
    const char *good = "listen = \"unix:/tmp/x.sock\"\nstuck.after=45s\n";
    ASSERT_OK(ag__write_file_atomic(path, good, strlen(good), 0600, 0));
    ASSERT_OK(ag_config_load_file(c, path, 0));
    ASSERT_STREQ(ag_config_str(c, "listen"), "unix:/tmp/x.sock");
    ASSERT_EQ(ag_config_ms(c, "stuck.after"), 45000);
    ASSERT_CONTAINS(ag_config_origin(c, "stuck.after"), "config:2");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none", dir);
    ASSERT_OK(ag_config_load_file(c, missing, 1));
    ASSERT_ERR(ag_config_load_file(c, missing, 0), AG_ENOTFOUND);
    ag_config_free(c);
}

TEST(config_nul_byte_is_an_error_naming_the_line)
{
    const char *dir = ag_test_fresh_dir("config-nul");
    char path[512];
    snprintf(path, sizeof path, "%s/config", dir);
    /* A NUL used to end parsing: the line after it was never read. */
    const char text[] = "server.threads = 4\n# ok\nlisten = x\0y\nserver.threads=1000\n";
    ASSERT_OK(ag__write_file_atomic(path, text, sizeof text - 1, 0600, 0));
    ag_config *c;
    ASSERT_OK(ag_config_new(&c));
    ASSERT_ERR(ag_config_load_file(c, path, 0), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), "config:3: NUL byte");
    const char last[] = "server.threads = 4\n\0";
    ASSERT_OK(ag__write_file_atomic(path, last, sizeof last - 1, 0600, 0));
    ASSERT_ERR(ag_config_load_file(c, path, 0), AG_EPARSE);
    ASSERT_CONTAINS(ag_last_error(), "config:2: NUL byte");
    ag_config_free(c);
}

TEST(config_value_too_long_for_its_reader_is_refused)
{
    ag_config *c;
    ASSERT_OK(ag_config_new(&c));
    static char big[5000];
    memset(big, 'a', sizeof big - 1);
    /* The daemon copies these into PATH_MAX buffers: a cut value names another path. */
    ASSERT_ERR(ag_config_set(c, "store", big), AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "store: value is 4999 bytes, longer than");
    ASSERT_ERR(ag_config_set(c, "listen", big), AG_EINVAL);
    ASSERT_ERR(ag_config_set(c, "policy", big), AG_EINVAL);
    big[4095] = '\0';
    ASSERT_OK(ag_config_set(c, "policy", big));
    ag_config_free(c);
}
