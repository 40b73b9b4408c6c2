/* Tests for src/buf.c: growth, the hard maximum, consume, detach. */
#include <stdlib.h>

#include "buf.h"
#include "test.h"

TEST(buf_append_and_limit)
{
    buf b;
    buf_init(&b, 8);
    CHECK(buf_append(&b, "abcd", 4) == BUF_OK);
    CHECK(buf_appends(&b, "efgh") == BUF_OK);
    CHECK(b.len == 8);
    CHECK(buf_append(&b, "i", 1) == BUF_ETOOBIG);
    CHECK(b.len == 8);
    CHECK_STR(b.data, "abcdefgh");
    buf_consume(&b, 3);
    CHECK_STR(b.data, "defgh");
    CHECK(buf_appendf(&b, "%d", 12) == BUF_OK);
    CHECK_STR(b.data, "defgh12");
    CHECK(buf_appendf(&b, "%d", 123) == BUF_ETOOBIG);
    size_t n;
    char *p = buf_detach(&b, &n);
    CHECK(n == 7);
    CHECK_STR(p, "defgh12");
    free(p);
    CHECK(b.data == NULL && b.len == 0);
    buf_free(&b);
    buf_free(NULL);
}

TEST(buf_json_string_escapes_like_cjson)
{
    buf b;
    buf_init(&b, 0);
    const char in[] = "a\"b\\c\nd\re\tf\bg\fh\x01i\x1f\xc3\xa9";
    REQUIRE(buf_append_json_string(&b, in, sizeof in - 1) == BUF_OK);
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\nd\\re\\tf\\bg\\fh\\u0001i\\u001f\xc3\xa9\"");
    buf_reset(&b);
    CHECK(buf_append_json_string(&b, "", 0) == BUF_OK);
    CHECK_STR(b.data, "\"\"");
    buf_free(&b);
    buf_init(&b, 4);
    CHECK(buf_append_json_string(&b, "abcdef", 6) == BUF_ETOOBIG);
    buf_free(&b);
}
