/* Tests for src/core/jw.c: the JSON writer both translators use. */
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- jw_value: cJSON_PrintUnformatted's bytes ---------------------------- */

/* jw_value of v and of every value inside it equal cJSON_PrintUnformatted's. */
static int value_agrees(const cJSON *v)
{
    int bad = 0;
    char *want = cJSON_PrintUnformatted(v);
    buf b;
    jw w;
    buf_init(&b, 0);
    jw_init(&w, &b);
    jw_value(&w, v);
    int rc = jw_finish(&w);
    if (!want || rc || b.len != strlen(want) || memcmp(b.data, want, b.len) != 0) {
        fprintf(stderr, "  jw_value: %.200s\n  cJSON:    %.200s\n", b.data ? b.data : "(error)",
                want ? want : "(NULL)");
        bad++;
    }
    buf_free(&b);
    cJSON_free(want);
    for (const cJSON *c = v->child; c && !bad; c = c->next)
        bad += value_agrees(c);
    return bad;
}

TEST(jw_value_prints_as_cjson_on_cases)
{
    static const char *cases[] = {
        "null",
        "true",
        "false",
        "0",
        "-0",
        "1",
        "-1",
        "2147483647",
        "-2147483648",
        "2147483648",
        "4294967296",
        "9007199254740993",
        "1e21",
        "1e300",
        "-1e-300",
        "5e-324",
        "0.1",
        "0.7",
        "1.5",
        "3.141592653589793",
        "123456789012345678901234567890",
        "1.7976931348623157e308",
        "0.30000000000000004",
        "100.0",
        "1E2",
        "-0.0",
        "\"\"",
        "\"a\\\"b\\\\c\\/d\"",
        "\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\\u00e9\\u2028\\ud83d\\ude00\"",
        "[]",
        "{}",
        "[[],{},[[]],{\"\":{}}]",
        "{\"k\\n\\u0000x\":1,\"\":\"\",\"a\":[1,2.5,\"x\",null]}",
        "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":0,"
        "\"maximum\":9007199254740991},\"f\":{\"type\":\"number\",\"exclusiveMinimum\":0.001}},"
        "\"required\":[\"n\"],\"additionalProperties\":false}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *v = cJSON_Parse(cases[i]);
        REQUIRE(v);
        CHECK(value_agrees(v) == 0);
        cJSON_Delete(v);
    }
    /* values no parser makes: a raw item, a string and a key without text,
     * a number whose valueint disagrees with its double */
    cJSON *o = cJSON_CreateObject();
    REQUIRE(o);
    cJSON_AddItemToObject(o, "raw", cJSON_CreateRaw("[1, 2]"));
    cJSON *s = cJSON_CreateString("x");
    free(s->valuestring);
    s->valuestring = NULL;
    cJSON_AddItemToObject(o, "nulltext", s);
    cJSON *n = cJSON_CreateNumber(2.5);
    n->valueint = 7;
    cJSON_AddItemToObject(o, "n", n);
    CHECK(value_agrees(o) == 0);
    cJSON_Delete(o);
    /* random doubles, bit patterns and short decimals */
    unsigned long long x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        if (i % 2) {
            memcpy(&d, &x, sizeof d);
        } else {
            d = (double)(long long)(x % 2000001) / (double)(1 + (x >> 40) % 1000);
        }
        cJSON *v = cJSON_CreateNumber(d);
        REQUIRE(v);
        CHECK(value_agrees(v) == 0);
        cJSON_Delete(v);
    }
    /* no value: an error, as cJSON's NULL */
    buf b;
    jw w;
    buf_init(&b, 0);
    jw_init(&w, &b);
    jw_value(&w, NULL);
    CHECK(jw_finish(&w) != 0);
    buf_free(&b);
}

static int golden_values(const char *path, char *s, size_t n, void *ctx)
{
    (void)ctx;
    cJSON *v = cJSON_ParseWithLength(s, n);
    int here = v ? value_agrees(v) : 0;
    if (here) fprintf(stderr, "  jw_value differs from cJSON on %s\n", path);
    cJSON_Delete(v);
    return here;
}

TEST(jw_value_prints_as_cjson_on_golden_files)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/golden", test_dir());
    int files = 0;
    CHECK(golden_each_json(dir, golden_values, NULL, &files) == 0);
    CHECK(files > 100);
}
