/* Tests for src/argstream.c: tool-call arguments stream member by member,
 * split at every byte, and what the client gets always concatenates to the
 * repaired object; only what needs repair is held. */
#include <stdlib.h>

#include "argstream.h"
#include "test.h"

static const char *schema_json =
    "{\"type\":\"object\",\"properties\":{\"file_path\":{\"type\":\"string\"},"
    "\"content\":{\"type\":\"string\"},\"limit\":{\"type\":\"integer\"},"
    "\"flags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}";

/* Feed `in` in pieces of `step` bytes (0: whole); returns everything sent
 * (malloc'd), the number of non-empty feeds in *parts, finish's rc. */
static char *run(const char *in, size_t step, int *parts, int *rc, int *repaired)
{
    cJSON *schema = cJSON_Parse(schema_json);
    argstream *a = argstream_new(schema, 1 << 20);
    buf out;
    buf_init(&out, 0);
    size_t n = strlen(in);
    *parts = 0;
    for (size_t i = 0; i < n;) {
        size_t k = step && step < n - i ? step : n - i;
        size_t before = out.len;
        argstream_feed(a, in + i, k, &out);
        if (out.len > before) (*parts)++;
        i += k;
    }
    *rc = argstream_finish(a, &out, repaired);
    argstream_free(a);
    cJSON_Delete(schema);
    buf_append(&out, "", 1);
    return out.data;
}

static void expect(const char *in, const char *want, int want_repaired)
{
    for (size_t step = 0; step <= strlen(in); step++) {
        int parts, rc, rep;
        char *got = run(in, step, &parts, &rc, &rep);
        CHECK(rc == 0);
        CHECK_STR(got, want);
        CHECK(rep == want_repaired);
        if (!got || strcmp(got, want) != 0 || rep != want_repaired) {
            fprintf(stderr, "    input %s split every %zu bytes\n", in, step);
            free(got);
            return;
        }
        free(got);
    }
}

TEST(argstream_clean_arguments_pass_unchanged)
{
    expect("{\"file_path\":\"/tmp/a.txt\",\"content\":\"hello\\nworld \\u00e9\"}",
           "{\"file_path\":\"/tmp/a.txt\",\"content\":\"hello\\nworld \\u00e9\"}", 0);
    expect(" { \"limit\" : 5 , \"file_path\":\"x\" } ", "{\"limit\":5,\"file_path\":\"x\"}", 0);
    expect("{}", "{}", 0);
    expect("", "{}", 0);
    expect("{\"flags\":[\"a\",\"b\"],\"other\":{\"x\":[1,2]}}",
           "{\"flags\":[\"a\",\"b\"],\"other\":{\"x\":[1,2]}}", 0);
}

TEST(argstream_strings_stream_as_they_arrive)
{
    const char *in = "{\"file_path\":\"/tmp/a.txt\",\"content\":\"0123456789abcdefghij\"}";
    int parts, rc, rep;
    char *got = run(in, 2, &parts, &rc, &rep);
    CHECK(rc == 0 && !rep);
    /* every 2-byte piece of the strings goes out at once */
    CHECK(parts >= 20);
    free(got);
    /* a held (integer) value goes out when it is complete */
    got = run("{\"limit\":12345}", 1, &parts, &rc, &rep);
    CHECK_STR(got, "{\"limit\":12345}");
    CHECK(parts == 2); /* "{" then the member and "}" */
    free(got);
}

TEST(argstream_repairs_only_what_needs_it)
{
    /* coercion of a held value */
    expect("{\"file_path\":\"a\",\"limit\":\"20\"}", "{\"file_path\":\"a\",\"limit\":20}", 1);
    /* raw control characters inside a streamed string */
    expect("{\"content\":\"a\tb\nc\"}", "{\"content\":\"a\\tb\\nc\"}", 1);
    /* a bad escape keeps its backslash */
    expect("{\"content\":\"C:\\q\"}", "{\"content\":\"C:\\\\q\"}", 1);
    /* cut short: the string and object are closed */
    expect("{\"file_path\":\"a\",\"content\":\"unfinish",
           "{\"file_path\":\"a\",\"content\":\"unfinish\"}", 1);
    expect("{\"file_path\":\"a\",", "{\"file_path\":\"a\"}", 1);
    /* a string where an array is wanted, holding JSON */
    expect("{\"flags\":\"[\\\"x\\\"]\"}", "{\"flags\":[\"x\"]}", 1);
    /* trailing comma */
    expect("{\"file_path\":\"a\",}", "{\"file_path\":\"a\"}", 1);
}

TEST(argstream_falls_back_to_whole_repair)
{
    /* not an object at first: nothing streams, the whole text is repaired */
    expect("{'file_path': 'a', 'limit': '3'}", "{\"file_path\":\"a\",\"limit\":3}", 1);
    /* streaming stops at an unquoted key; the rest follows repaired */
    expect("{\"file_path\":\"a\", limit: 3, content: 'x'}",
           "{\"file_path\":\"a\",\"limit\":3,\"content\":\"x\"}", 1);
    /* double-encoded: a JSON string holding the object */
    expect("\"{\\\"file_path\\\":\\\"a\\\"}\"", "{\"file_path\":\"a\"}", 1);
    /* nothing usable */
    int parts, rc, rep;
    char *got = run("not json at all ][", 3, &parts, &rc, &rep);
    CHECK(rc == ARGSTREAM_EUNUSABLE);
    CHECK(parts == 0);
    free(got);
}

TEST(argstream_bound)
{
    argstream *a = argstream_new(NULL, 8);
    buf out;
    buf_init(&out, 0);
    CHECK(argstream_feed(a, "{\"a\":\"", 6, &out) == 0);
    CHECK(argstream_feed(a, "xxxxxxxx", 8, &out) == ARGSTREAM_ETOOBIG);
    buf_free(&out);
    argstream_free(a);
}
