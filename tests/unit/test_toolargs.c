/*
 * Tests for src/toolargs.c: repair of damaged argument text, decoding of
 * double-encoded arguments, coercion by input_schema (Claude Code's Read,
 * Edit, Bash shapes, nested objects, arrays, anyOf and type lists), tool
 * lookup, and random garbage (never a crash; a success is always an object).
 */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "toolargs.h"
#include "test.h"

static const char *schema_json =
    "{\"type\":\"object\",\"properties\":{"
    "\"file_path\":{\"type\":\"string\"},"
    "\"offset\":{\"type\":\"integer\"},"
    "\"ratio\":{\"type\":\"number\"},"
    "\"replace_all\":{\"type\":\"boolean\"},"
    "\"timeout\":{\"type\":\"number\"},"
    "\"content\":{\"type\":\"string\"},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
    "\"todos\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"id\":{\"type\":\"integer\"},\"done\":{\"type\":\"boolean\"}}}},"
    "\"opts\":{\"type\":\"object\",\"properties\":{\"depth\":{\"type\":\"integer\"},"
    "\"inner\":{\"properties\":{\"on\":{\"type\":\"boolean\"}}}}},"
    "\"either\":{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]},"
    "\"sfirst\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]},"
    "\"maybe\":{\"type\":[\"null\",\"integer\"]},"
    "\"one\":{\"oneOf\":[{\"type\":\"array\",\"items\":{\"type\":\"string\"}},{\"type\":"
    "\"boolean\"}]}"
    "}}";

/* Repair `in` by the test schema and compare with want (NULL: expect rc). */
static void check_repair(const char *in, const char *want, int want_rc)
{
    cJSON *schema = cJSON_Parse(schema_json);
    buf out;
    buf_init(&out, 0);
    char err[128];
    int rc = toolargs_repair(in, strlen(in), schema, &out, err, sizeof err);
    if (want) {
        if (rc != 0) fprintf(stderr, "    input: %s (rc %d: %s)\n", in, rc, err);
        CHECK(rc == 0);
        CHECK_STR(out.data ? out.data : "", want);
    } else {
        if (rc != want_rc) fprintf(stderr, "    input: %s (rc %d)\n", in, rc);
        CHECK(rc == want_rc);
        CHECK(out.len == 0);
        CHECK(err[0] != '\0');
    }
    buf_free(&out);
    cJSON_Delete(schema);
}

TEST(toolargs_repair_damage)
{
    check_repair("{\"a\":1}", "{\"a\":1}", 0);
    check_repair("  {\"a\" : [1, 2]}  ", "{\"a\":[1,2]}", 0);
    check_repair("", "{}", 0);
    check_repair(" \n ", "{}", 0);
    check_repair("{\"a\":1,}", "{\"a\":1}", 0);
    check_repair("{\"a\":[1,2,],}", "{\"a\":[1,2]}", 0);
    check_repair("{\"a\":\"x", "{\"a\":\"x\"}", 0);
    check_repair("{\"a\":[1,2", "{\"a\":[1,2]}", 0);
    check_repair("{\"a\":{\"b\":[{\"c\":\"d", "{\"a\":{\"b\":[{\"c\":\"d\"}]}}", 0);
    check_repair("{\"a\":", "{\"a\":null}", 0);
    check_repair("{\"a\"", "{\"a\":null}", 0);
    check_repair("{\"a\":\"x\\", "{\"a\":\"x\"}", 0);
    check_repair("{'a': 'it\\'s', 'b': \"q'\"}", "{\"a\":\"it's\",\"b\":\"q'\"}", 0);
    check_repair("{'a': 'don't'}", "{\"a\":\"don't\"}", 0);
    check_repair("{\"a\": True, \"b\": None, \"c\": False}", "{\"a\":true,\"b\":null,\"c\":false}",
                 0);
    check_repair("{a: 1, b_2: 'x'}", "{\"a\":1,\"b_2\":\"x\"}", 0);
    check_repair("{\"a\":1 \"b\":2}", "{\"a\":1,\"b\":2}", 0);
    check_repair("{\"a\":\"line1\nline2\ttab\"}", "{\"a\":\"line1\\nline2\\ttab\"}", 0);
    check_repair("{\"a\": \"say \"hi\" now\"}", "{\"a\":\"say \\\"hi\\\" now\"}", 0);
    check_repair("{\"a\":\"\\d+\\s\"}", "{\"a\":\"\\\\d+\\\\s\"}", 0);
    check_repair("{\"a\":1} trailing words", "{\"a\":1}", 0);
    check_repair("{\"a\":1 // comment\n, /* more */ \"b\":2}", "{\"a\":1,\"b\":2}", 0);
    check_repair("{\"a\":[1,2}", "{\"a\":[1,2]}", 0);
    check_repair("{\"a\":1}}}", "{\"a\":1}", 0);
    check_repair("{\"a\":+5, \"b\":.5, \"c\":-.25, \"d\":3.}",
                 "{\"a\":5,\"b\":0.5,\"c\":-0.25,\"d\":3}", 0);
    check_repair("{\"a\":1.2.3}", "{\"a\":\"1.2.3\"}", 0);
    check_repair("{\"u\":\"\\u00e9 \xe4\xb8\x96\"}", "{\"u\":\"\xc3\xa9 \xe4\xb8\x96\"}", 0);
    /* double encoding */
    check_repair("\"{\\\"a\\\":1}\"", "{\"a\":1}", 0);
    check_repair("\"\\\"{\\\\\\\"a\\\\\\\":1}\\\"\"", "{\"a\":1}", 0);
    check_repair("\"\"", "{}", 0);
    /* no object to be had */
    check_repair("[1,2]", NULL, TOOLARGS_ENOTOBJ);
    check_repair("hello there", NULL, TOOLARGS_ENOTOBJ);
    check_repair("42", NULL, TOOLARGS_ENOTOBJ);
    check_repair("\"just text\"", NULL, TOOLARGS_ENOTOBJ);
    check_repair("}}}", NULL, TOOLARGS_EPARSE);
    check_repair("{[1]:2}", NULL, TOOLARGS_EPARSE);
}

TEST(toolargs_coercion)
{
    /* the Claude Code cases */
    check_repair("{\"file_path\":\"/a\",\"offset\":\"10\"}", "{\"file_path\":\"/a\",\"offset\":10}",
                 0);
    check_repair("{\"replace_all\":\"true\"}", "{\"replace_all\":true}", 0);
    check_repair("{\"replace_all\":\"False\"}", "{\"replace_all\":false}", 0);
    check_repair("{\"timeout\":\"30000\"}", "{\"timeout\":30000}", 0);
    check_repair("{\"ratio\":\" 2.5e1 \"}", "{\"ratio\":25}", 0);
    /* not convertible: left alone */
    check_repair("{\"offset\":\"10.5\"}", "{\"offset\":\"10.5\"}", 0);
    check_repair("{\"offset\":\"ten\"}", "{\"offset\":\"ten\"}", 0);
    check_repair("{\"offset\":\"0x10\"}", "{\"offset\":\"0x10\"}", 0);
    check_repair("{\"offset\":\"inf\"}", "{\"offset\":\"inf\"}", 0);
    check_repair("{\"replace_all\":\"yes\"}", "{\"replace_all\":\"yes\"}", 0);
    check_repair("{\"offset\":10.0}", "{\"offset\":10}", 0);
    /* strings stay verbatim, numbers and booleans become strings */
    check_repair("{\"content\":\"42\"}", "{\"content\":\"42\"}", 0);
    check_repair("{\"content\":\"{\\\"x\\\":1}\"}", "{\"content\":\"{\\\"x\\\":1}\"}", 0);
    check_repair("{\"content\":42,\"file_path\":true}",
                 "{\"content\":\"42\",\"file_path\":\"true\"}", 0);
    check_repair("{\"content\":{\"name\":\"pkg\"}}",
                 "{\"content\":\"{\\n\\t\\\"name\\\":\\t\\\"pkg\\\"\\n}\"}", 0);
    /* JSON held in a string */
    check_repair("{\"tags\":\"[1, \\\"2\\\", 3]\"}", "{\"tags\":[1,2,3]}", 0);
    check_repair("{\"tags\":\"[1, 2\"}", "{\"tags\":[1,2]}", 0);
    check_repair("{\"tags\":\"oops\"}", "{\"tags\":\"oops\"}", 0);
    check_repair("{\"opts\":\"{'depth': '3'}\"}", "{\"opts\":{\"depth\":3}}", 0);
    /* nested: array items, object properties, schema without type */
    check_repair("{\"todos\":[{\"id\":\"1\",\"done\":\"false\",\"x\":\"1\"},{\"id\":2}]}",
                 "{\"todos\":[{\"id\":1,\"done\":false,\"x\":\"1\"},{\"id\":2}]}", 0);
    check_repair("{\"todos\":\"[{\\\"id\\\":\\\"7\\\"}]\"}", "{\"todos\":[{\"id\":7}]}", 0);
    check_repair("{\"opts\":{\"depth\":\"2\",\"inner\":{\"on\":\"true\"}}}",
                 "{\"opts\":{\"depth\":2,\"inner\":{\"on\":true}}}", 0);
    /* anyOf / oneOf / type lists: first fitting type, else first convertible */
    check_repair("{\"either\":\"5\"}", "{\"either\":\"5\"}", 0);
    check_repair("{\"either\":5}", "{\"either\":5}", 0);
    check_repair("{\"either\":true}", "{\"either\":\"true\"}", 0);
    check_repair("{\"sfirst\":\"5\"}", "{\"sfirst\":\"5\"}", 0);
    check_repair("{\"maybe\":\"12\"}", "{\"maybe\":12}", 0);
    check_repair("{\"maybe\":\"null\"}", "{\"maybe\":null}", 0);
    check_repair("{\"maybe\":null}", "{\"maybe\":null}", 0);
    check_repair("{\"one\":\"true\"}", "{\"one\":true}", 0);
    check_repair("{\"one\":\"[\\\"a\\\"]\"}", "{\"one\":[\"a\"]}", 0);
    /* unknown properties are left alone */
    check_repair("{\"zzz\":\"10\",\"offset\":\"1\"}", "{\"zzz\":\"10\",\"offset\":1}", 0);
}

TEST(toolargs_value_from_text_and_lookup)
{
    cJSON *schema = cJSON_Parse(schema_json);
    const cJSON *props = cJSON_GetObjectItem(schema, "properties");
    struct {
        const char *prop, *text, *want;
    } cases[] = {
        {"offset", "10", "10"},
        {"offset", " 10\n", "10"},
        {"replace_all", "true", "true"},
        {"content", "line \"1\"\n  line 2\n", "\"line \\\"1\\\"\\n  line 2\\n\""},
        {"content", "123", "\"123\""},
        {"tags", "[1,2]", "[1,2]"},
        {"todos", "[{\"id\": \"3\"}]", "[{\"id\":3}]"},
        {"nosuch", "5", "\"5\""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cJSON *v = toolargs_value_from_text(cases[k].text, strlen(cases[k].text),
                                            cJSON_GetObjectItem(props, cases[k].prop));
        char *s = cJSON_PrintUnformatted(v);
        CHECK_STR(s, cases[k].want);
        cJSON_free(s);
        cJSON_Delete(v);
    }
    cJSON *v = toolargs_value_from_text("x", 1, NULL);
    CHECK(cJSON_IsString(v));
    cJSON_Delete(v);

    cJSON *tools = cJSON_Parse("[{\"name\":\"Bash\",\"input_schema\":{\"type\":\"object\"}},"
                               "{\"name\":\"Read\"},{\"name\":\"ab\"},{\"name\":\"AB\"}]");
    CHECK(toolargs_find_tool(tools, "Bash", 4) == cJSON_GetArrayItem(tools, 0));
    CHECK(toolargs_find_tool(tools, "bash", 4) == cJSON_GetArrayItem(tools, 0));
    CHECK(toolargs_find_tool(tools, "BashX", 4) == cJSON_GetArrayItem(tools, 0));
    CHECK(toolargs_find_tool(tools, "Bas", 3) == NULL);
    CHECK(toolargs_find_tool(tools, "ab", 2) == cJSON_GetArrayItem(tools, 2));
    CHECK(toolargs_find_tool(tools, "Ab", 2) == NULL); /* two case-folded matches */
    CHECK(toolargs_find_tool(NULL, "Bash", 4) == NULL);
    CHECK(toolargs_find_schema(tools, "Bash", 4) ==
          cJSON_GetObjectItem(cJSON_GetArrayItem(tools, 0), "input_schema"));
    CHECK(toolargs_find_schema(tools, "Read", 4) == NULL);
    CHECK(toolargs_coerce(cJSON_GetArrayItem(tools, 0), NULL) == 0);
    CHECK(toolargs_coerce(tools, NULL) == TOOLARGS_ENOTOBJ);
    cJSON_Delete(tools);
    cJSON_Delete(schema);
}

TEST(toolargs_limits)
{
    buf out;
    buf_init(&out, 8);
    char err[64];
    CHECK(toolargs_repair("{\"a\":\"0123456789\"}", 18, NULL, &out, err, sizeof err) ==
          TOOLARGS_ETOOBIG);
    CHECK(out.len == 0);
    CHECK(toolargs_repair("{}", 2, NULL, &out, NULL, 0) == 0);
    CHECK_STR(out.data, "{}");
    buf_free(&out);
    /* deep nesting does not recurse without bound */
    buf deep;
    buf_init(&deep, 0);
    for (int k = 0; k < 5000; k++)
        buf_appends(&deep, "{\"a\":[");
    buf_init(&out, 0);
    int rc = toolargs_repair(deep.data, deep.len, NULL, &out, err, sizeof err);
    CHECK(rc < 0);
    buf_free(&out);
    buf_free(&deep);
    CHECK(toolargs_parse(NULL, 3) == NULL);
    CHECK(toolargs_parse("   ", 3) == NULL);
}

static uint64_t rs = 88172645463325252ull;

TEST(toolargs_garbage)
{
    static const char *frags[] = {"{",  "}",    "[",    "]",     "\"",   "'",      ":",  ",", "\\",
                                  "a",  "True", "None", "1",     "-",    ".",      "e",  " ", "\n",
                                  "//", "/*",   "*/",   "\\u12", "\xff", "\"k\":", "'v'"};
    cJSON *schema = cJSON_Parse(schema_json);
    buf in, out;
    buf_init(&in, 0);
    buf_init(&out, 0);
    int bad = 0;
    for (int it = 0; it < 20000; it++) {
        buf_reset(&in);
        int parts = (int)(test_rand(&rs) % 30);
        for (int k = 0; k < parts; k++) {
            if (test_rand(&rs) % 5) {
                buf_appends(&in, frags[test_rand(&rs) % (sizeof frags / sizeof frags[0])]);
            } else {
                char c = (char)(test_rand(&rs) & 0xff);
                buf_append(&in, &c, 1);
            }
        }
        buf_reset(&out);
        int rc = toolargs_repair(in.data ? in.data : "", in.len, schema, &out, NULL, 0);
        if (rc == 0) {
            cJSON *v = cJSON_ParseWithLength(out.data, out.len);
            if (!cJSON_IsObject(v)) bad++;
            cJSON_Delete(v);
        } else if (out.len != 0) {
            bad++;
        }
    }
    CHECK(bad == 0);
    buf_free(&in);
    buf_free(&out);
    cJSON_Delete(schema);
}
