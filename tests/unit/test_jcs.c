/* RFC 8785 (JCS) serialiser against the RFC's own examples. */
#include <stdlib.h>
#include <string.h>

#include "core/jcs.h"
#include "test.h"

/* Parses text with jansson and returns its canonical form (caller frees). */
static char *canon(const char *text, int flags, ag_err *err)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL)
        ag_test_fail(__FILE__, __LINE__, "bad test JSON: %s", jerr.text);
    char *out = NULL;
    *err = ag__jcs_dump(v, flags, &out);
    json_decref(v);
    return out;
}

static void check(const char *in, const char *want, int line)
{
    ag_err err;
    char *got = canon(in, 0, &err);
    if (err != AG_OK || strcmp(got, want) != 0)
        ag_test_fail(__FILE__, line, "canon(%s): got %s (%s), expected %s", in,
                     got ? got : "(null)", ag_errname(err), want);
    free(got);
}
#define CHECK(in, want) check(in, want, __LINE__)

/* RFC 8785 section 3.2.2, the example the RFC walks through. */
TEST(jcs_rfc8785_section_3_2_2)
{
    CHECK("{\n  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, "
          "0.000000000000000000000000001],\n"
          "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
          "  \"literals\": [null, true, false]\n}",
          "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,"
          "1e-27],\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

/* RFC 8785 section 3.2.3: property sorting by UTF-16 code units, where U+1F600 (a
 * surrogate pair D83D DE00) sorts before U+FB33 although its code point is larger. */
TEST(jcs_rfc8785_sorting_utf16)
{
    CHECK("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew "
          "Letter Dalet With Dagesh\",\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning "
          "Face\",\"\\u0080\":\"Control\",\"\\u00f6\":\"Latin Small Letter O With "
          "Diaeresis\"}",
          "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
          "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro "
          "Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":\"Hebrew "
          "Letter Dalet With Dagesh\"}");
}

/* RFC 8785 appendix B: IEEE 754 bit patterns and their ECMAScript forms. */
TEST(jcs_rfc8785_appendix_b_numbers)
{
    static const struct {
        uint64_t bits;
        const char *want;
    } cases[] = {
        {0x0000000000000000ULL, "0"},
        {0x8000000000000000ULL, "0"},
        {0x0000000000000001ULL, "5e-324"},
        {0x8000000000000001ULL, "-5e-324"},
        {0x7fefffffffffffffULL, "1.7976931348623157e+308"},
        {0xffefffffffffffffULL, "-1.7976931348623157e+308"},
        {0x4340000000000000ULL, "9007199254740992"},
        {0xc340000000000000ULL, "-9007199254740992"},
        {0x4430000000000000ULL, "295147905179352830000"},
        {0x44b52d02c7e14af5ULL, "9.999999999999997e+22"},
        {0x44b52d02c7e14af6ULL, "1e+23"},
        {0x44b52d02c7e14af7ULL, "1.0000000000000001e+23"},
        {0x444b1ae4d6e2ef4eULL, "999999999999999700000"},
        {0x444b1ae4d6e2ef4fULL, "999999999999999900000"},
        {0x444b1ae4d6e2ef50ULL, "1e+21"},
        {0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7"},
        {0x3eb0c6f7a0b5ed8dULL, "0.000001"},
        {0x41b3de4355555553ULL, "333333333.3333332"},
        {0x41b3de4355555554ULL, "333333333.33333325"},
        {0x41b3de4355555555ULL, "333333333.3333333"},
        {0x41b3de4355555556ULL, "333333333.3333334"},
        {0x41b3de4355555557ULL, "333333333.33333343"},
        {0xbecbf647612f3696ULL, "-0.0000033333333333333333"},
        {0x43143ff3c1cb0959ULL, "1424953923781206.2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double d;
        memcpy(&d, &cases[i].bits, sizeof d);
        struct ag_buf b;
        ag__buf_init(&b);
        ASSERT_OK(ag__jcs_number(&b, d));
        ASSERT_STREQ(b.data, cases[i].want);
        ag__buf_free(&b);
    }
    uint64_t nan = 0x7fffffffffffffffULL, inf = 0x7ff0000000000000ULL;
    double d;
    struct ag_buf b;
    ag__buf_init(&b);
    memcpy(&d, &nan, sizeof d);
    ASSERT_ERR(ag__jcs_number(&b, d), AG_EINVAL);
    memcpy(&d, &inf, sizeof d);
    ASSERT_ERR(ag__jcs_number(&b, d), AG_EINVAL);
    ag__buf_free(&b);
}

/* ECMAScript escapes exactly \" \\ \b \f \n \r \t and other C0 controls as lowercase
 * \u00xx; DEL, '/', '<', non-ASCII stay raw. */
TEST(jcs_string_escaping)
{
    CHECK("\"\\u0000\\u0001\\u001f\\u007f\\b\\f\\n\\r\\t/<>&\"",
          "\"\\u0000\\u0001\\u001f\x7f\\b\\f\\n\\r\\t/<>&\"");
    CHECK("\"\\u00e9\\u4e2d\\ud83d\\ude00\"", "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"");
}

TEST(jcs_nesting_and_literals)
{
    CHECK("{\"b\":[1,{\"z\":null,\"a\":true}],\"a\":{},\"c\":[]}",
          "{\"a\":{},\"b\":[1,{\"a\":true,\"z\":null}],\"c\":[]}");
    CHECK("[-0, 0, -1, 9007199254740992, -9007199254740992]",
          "[0,0,-1,9007199254740992,-9007199254740992]");
    CHECK("{ \"a\" : \"x\" ,\"\":1}", "{\"\":1,\"a\":\"x\"}");
}

TEST(jcs_no_floats_flag_rejects_reals)
{
    ag_err err;
    char *out = canon("{\"confidence\": 0.5}", AG_JCS_NO_FLOATS, &err);
    ASSERT_ERR(err, AG_EINVAL);
    ASSERT_TRUE(out == NULL);
    ASSERT_CONTAINS(ag_last_error(), "floating-point");
    out = canon("{\"confidence\": 500}", AG_JCS_NO_FLOATS, &err);
    ASSERT_OK(err);
    ASSERT_STREQ(out, "{\"confidence\":500}");
    free(out);
}

/* RFC 8785 numbers are IEEE doubles: an integer beyond +-2^53 has no exact canonical
 * form (2^60 would print as 1152921504606847000), so it is refused with its JSONPath,
 * except for reading old ledger rows (AG_JCS_INT64). */
TEST(jcs_integers_beyond_2_53)
{
    ag_err err;
    char *out = canon("{\"a\":[0,{\"b\":9007199254740993}]}", 0, &err);
    ASSERT_ERR(err, AG_EINVAL);
    ASSERT_TRUE(out == NULL);
    ASSERT_CONTAINS(ag_last_error(), "integer 9007199254740993 at $.a[1].b");
    out = canon("-1152921504606846976", 0, &err);
    ASSERT_ERR(err, AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "at $:");
    out = canon("{\"a\":[0,{\"b\":9007199254740993}]}", AG_JCS_INT64, &err);
    ASSERT_OK(err);
    ASSERT_STREQ(out, "{\"a\":[0,{\"b\":9007199254740993}]}");
    free(out);
    out = canon("{\"c\":[0.5]}", AG_JCS_NO_FLOATS, &err);
    ASSERT_ERR(err, AG_EINVAL);
    ASSERT_CONTAINS(ag_last_error(), "floating-point number 0.5 at $.c[0]");
}

TEST(jcs_rejects_invalid_utf8)
{
    struct ag_buf b;
    ag__buf_init(&b);
    ASSERT_ERR(ag__jcs_string(&b, "\xc3", 1), AG_EINVAL);             /* truncated */
    ASSERT_ERR(ag__jcs_string(&b, "\xc0\xaf", 2), AG_EINVAL);         /* overlong */
    ASSERT_ERR(ag__jcs_string(&b, "\xed\xa0\x80", 3), AG_EINVAL);     /* surrogate */
    ASSERT_ERR(ag__jcs_string(&b, "\xf4\x90\x80\x80", 4), AG_EINVAL); /* > U+10FFFF */
    ag__buf_reset(&b);
    ASSERT_OK(ag__jcs_string(&b, "a\0b", 3));
    ASSERT_STREQ(b.data, "\"a\\u0000b\"");
    ag__buf_free(&b);
}
