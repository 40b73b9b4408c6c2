/* Tests for src/buf.c: growth, the hard maximum, consume, detach. */
#include <stdlib.h>
#include <string.h>

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

/* The escaper skips plain text eight bytes at a time: every byte value at
 * every position around a word boundary comes out as a byte-by-byte escaper
 * writes it. */
static void escape_ref(buf *b, const unsigned char *s, size_t n)
{
    buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        const char *e = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                        : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f"
                                    : NULL;
        if (e)
            buf_appends(b, e);
        else if (c < 0x20)
            buf_appendf(b, "\\u%04x", c);
        else
            buf_append(b, &c, 1);
    }
    buf_append(b, "\"", 1);
}

TEST(buf_json_string_every_byte_at_every_offset)
{
    buf got, want;
    buf_init(&got, 0);
    buf_init(&want, 0);
    int bad = 0;
    for (int c = 0; c < 256; c++)
        for (size_t at = 0; at < 20; at++)
            for (size_t n = at + 1; n <= 21; n += 5) {
                unsigned char s[24];
                memset(s, 'x', sizeof s);
                s[at] = (unsigned char)c;
                if (n > at + 2) s[n - 1] = (unsigned char)(c ^ 0x20); /* a second special, or not */
                buf_reset(&got);
                buf_reset(&want);
                REQUIRE(buf_append_json_string(&got, (const char *)s, n) == BUF_OK);
                escape_ref(&want, s, n);
                if (got.len != want.len || memcmp(got.data, want.data, got.len)) bad++;
            }
    CHECK(bad == 0);
    buf_free(&got);
    buf_free(&want);
}

/* Longer strings with specials at random density (a fixed seed). */
TEST(buf_json_string_random_density)
{
    buf got, want;
    buf_init(&got, 0);
    buf_init(&want, 0);
    unsigned seed = 12345;
    int bad = 0;
    static const char specials[] = "\"\\\n\t\r\x01\x1f";
    for (int round = 0; round < 2000; round++) {
        unsigned char s[200];
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 8) % sizeof s;
        unsigned density = 1 + (seed >> 20) % 16;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 8;
            s[i] = r % density == 0 ? (unsigned char)specials[(r >> 8) % (sizeof specials - 1)]
                                    : (unsigned char)(0x20 + (r >> 8) % 0xe0);
        }
        buf_reset(&got);
        buf_reset(&want);
        REQUIRE(buf_append_json_string(&got, (const char *)s, n) == BUF_OK);
        escape_ref(&want, s, n);
        if (got.len != want.len || memcmp(got.data, want.data, got.len)) bad++;
    }
    CHECK(bad == 0);
    buf_free(&got);
    buf_free(&want);
}
