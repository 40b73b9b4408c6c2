/* Tests for src/core/jw.c: the JSON writer both translators use. */
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "jw.h"
#include "test.h"

TEST(jw_writes_an_object)
{
    buf b;
    jw w;
    int first = 1;
    buf_init(&b, 0);
    REQUIRE(buf_appends(&b, "x") == BUF_OK);
    jw_init(&w, &b);
    jw_lit(&w, "{");
    jw_key(&w, &first, "s");
    jw_cstr(&w, "a\"b\n\xc3\xa9");
    jw_key(&w, &first, "n");
    jw_cstr(&w, NULL);
    jw_key(&w, &first, "raw");
    jw_raw(&w, "[1,2]xyz", 5);
    jw_key(&w, &first, "part");
    jw_str(&w, "abcdef", 3);
    jw_lit(&w, "}");
    CHECK(jw_finish(&w) == 0);
    CHECK_STR(b.data, "x{\"s\":\"a\\\"b\\n\xc3\xa9\",\"n\":null,\"raw\":[1,2],\"part\":\"abc\"}");
    buf_free(&b);
}

TEST(jw_integers_as_printf_writes_them)
{
    const long vals[] = {0, 1, -1, 9, 10, 16384, -12345678, LONG_MAX, LONG_MIN};
    buf b;
    jw w;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, "%ld", vals[i]);
        buf_reset(&b);
        jw_init(&w, &b);
        jw_long(&w, vals[i]);
        CHECK(jw_finish(&w) == 0);
        CHECK_STR(b.data, want);
    }
    buf_free(&b);
}

TEST(jw_numbers_read_back_exactly)
{
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {16384.0, "16384"},
        {-0.0, "0"},
        {0.7, "0.7"},
        {1e15, "1000000000000000"},
        {9007199254740991.0, "9007199254740991"},
        {9007199254740992.0, "9007199254740992"},
        {0.1 + 0.2, "0.30000000000000004"},
        {-2.5, "-2.5"},
        {1e300, "1e+300"},
    };
    buf b;
    jw w;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_reset(&b);
        jw_init(&w, &b);
        jw_num(&w, cases[i].d);
        CHECK(jw_finish(&w) == 0);
        CHECK_STR(b.data, cases[i].want);
        CHECK(strtod(b.data, NULL) == cases[i].d);
    }
    CHECK(jw_is_integral(3.0) && !jw_is_integral(3.5) && !jw_is_integral(1e300));
    buf_free(&b);
}

TEST(jw_first_error_sticks_and_rolls_back)
{
    buf b;
    jw w;
    buf_init(&b, 8);
    REQUIRE(buf_appends(&b, "ab") == BUF_OK);
    jw_init(&w, &b);
    jw_lit(&w, "cd");
    jw_cstr(&w, "too long for the rest"); /* past max: fails */
    jw_lit(&w, "e");                      /* would fit, but the error sticks */
    CHECK(w.rc == BUF_ETOOBIG);
    CHECK(jw_finish(&w) == BUF_ETOOBIG);
    CHECK(b.len == 2);
    CHECK_STR(b.data, "ab");
    buf_free(&b);
}
