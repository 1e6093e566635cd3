/* The error detail channel: ag__fail and ag__fail_wrap (src/core/err.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/config.h"
#include "core/err.h"
#include "core/fileio.h"
#include "test.h"

/* Number of times needle occurs in hay. */
static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + strlen(needle), needle))
        n++;
    return n;
}

/* 1 if s is valid UTF-8 (no stray continuation byte, no cut sequence). */
static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t need = *p < 0x80 ? 0 : *p >= 0xF0 ? 3 : *p >= 0xE0 ? 2 : *p >= 0xC0 ? 1 : 9;
        if (need == 9)
            return 0;
        p++;
        for (size_t i = 0; i < need; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

TEST(wrap_keeps_the_cause_once)
{
    (void)ag__fail(AG_EIO, "disk full");
    ASSERT_EQ(ag__fail_wrap(AG_ESTORE, "saving %s", "agent:a:state"), AG_ESTORE);
    ASSERT_STREQ(ag_last_error(), "saving agent:a:state: disk full");
    ASSERT_EQ(ag__fail_wrap(AG_ESTORE, "bootstrap"), AG_ESTORE);
    ASSERT_STREQ(ag_last_error(), "bootstrap: saving agent:a:state: disk full");
    ASSERT_EQ(count(ag_last_error(), "disk full"), 1);
}

TEST(wrap_without_a_cause_is_the_context)
{
    ag_clear_error();
    ASSERT_EQ(ag__fail_wrap(AG_EIO, "reading %s", "x"), AG_EIO);
    ASSERT_STREQ(ag_last_error(), "reading x");
}

/* The old pattern at src/auth/kv.c: the detail passed as an argument into the buffer
 * it is read from. */
TEST(fail_may_read_the_detail_it_replaces)
{
    (void)ag__fail(AG_ECRYPTO, "bad key id 7");
    ASSERT_EQ(ag__fail(AG_ETAMPER, "%s (after reloading): altered", ag_last_error()), AG_ETAMPER);
    ASSERT_STREQ(ag_last_error(), "bad key id 7 (after reloading): altered");
    (void)ag__fail(AG_ECRYPTO, "first");
    (void)ag__fail_wrap(AG_ECRYPTO, "%s; reloading the master key", ag_last_error());
    ASSERT_STREQ(ag_last_error(), "first; reloading the master key: first");
}

TEST(long_details_are_cut_safely)
{
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    (void)ag__fail(AG_EIO, "%s", big);
    ASSERT_EQ(strlen(ag_last_error()), AG__ERR_DETAIL_MAX - 1);
    (void)ag__fail_wrap(AG_EIO, "context");
    ASSERT_EQ(strlen(ag_last_error()), AG__ERR_DETAIL_MAX - 1);
    ASSERT_EQ(strncmp(ag_last_error(), "context: xxx", 12), 0);
    /* A context longer than the buffer: cut, still terminated. */
    (void)ag__fail(AG_EIO, "cause");
    (void)ag__fail_wrap(AG_EIO, "%s", big);
    ASSERT_EQ(strlen(ag_last_error()), AG__ERR_DETAIL_MAX - 1);
    ASSERT_FALSE(strstr(ag_last_error(), "cause"));
}

TEST(a_cut_never_splits_a_character)
{
    /* "é" is two bytes and "€" three: at every offset the cut must fall between
     * characters. */
    const char *chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x92"};
    for (size_t c = 0; c < sizeof chars / sizeof chars[0]; c++)
        for (int pad = 0; pad < 4; pad++) {
            char big[2048] = "";
            memset(big, 'a', (size_t)pad);
            big[pad] = '\0';
            while (strlen(big) + 4 < sizeof big)
                strcat(big, chars[c]);
            (void)ag__fail(AG_EIO, "%s", big);
            ASSERT_TRUE(valid_utf8(ag_last_error()));
            ASSERT_TRUE(strlen(ag_last_error()) >= AG__ERR_DETAIL_MAX - 4);
            (void)ag__fail_wrap(AG_EIO, "ctx%.*s", pad, "bbb");
            ASSERT_TRUE(valid_utf8(ag_last_error()));
            ASSERT_TRUE(strlen(ag_last_error()) >= AG__ERR_DETAIL_MAX - 4);
        }
}

/* A real wrap site: a bad value in a config file names file:line once, then the cause. */
TEST(config_error_names_the_line_once)
{
    char path[512];
    snprintf(path, sizeof path, "%s/config", ag_test_fresh_dir("err"));
    const char *text = "ledger.checkpoint_every = 100\nstuck.after = soon\n";
    ASSERT_OK(ag__write_file_atomic(path, text, strlen(text), 0600, 0));
    ag_config *c;
    ASSERT_OK(ag_config_new(&c));
    ASSERT_ERR(ag_config_load_file(c, path, 0), AG_EPARSE);
    char want[600];
    snprintf(want, sizeof want, "%s:2: ", path);
    ASSERT_EQ(strncmp(ag_last_error(), want, strlen(want)), 0);
    ASSERT_EQ(count(ag_last_error(), path), 1);
    ASSERT_CONTAINS(ag_last_error(), "soon");
    ag_config_free(c);
}
