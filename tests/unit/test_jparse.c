/* Tests for src/core/jparse.c: the same tree and end as cJSON's parse, on
 * hand-picked cases, on every JSON file under tests/golden/, and on those
 * files cut short and with single bytes changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jparse.h"
#include "test.h"

/* One arena for every jparse_in here: each case reuses what the last one
 * dropped, as a stream's chunks do. */
static jparse_arena arena;

/* jparse, and jparse_in, agree with cJSON on s[0, n): tree (or NULL) and end. */
static int agrees(const char *s, size_t n)
{
    const char *e1 = NULL, *e2 = NULL, *e3 = NULL;
    cJSON *want = cJSON_ParseWithLengthOpts(s, n, &e1, 0);
    cJSON *got = jparse(s, n, &e2);
    int ok = jparse_same(want, got) && e1 == e2;
    cJSON *in = jparse_in(&arena, s, n, &e3);
    ok = ok && jparse_same(want, in) && e1 == e3;
    jparse_arena_drop(&arena);
    cJSON_Delete(want);
    cJSON_Delete(got);
    return ok;
}

TEST(jparse_matches_cjson_on_cases)
{
    static const char *cases[] = {
        "{}",
        "[]",
        "{\"a\":1}",
        " \t\r\n {\"a\" : [1, 2 ,3] } trailing",
        "\x01 {\"ws\":\x02 true}",
        "\"plain\"",
        "\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t\"",
        "\"bad escape \\x\"",
        "\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"",
        "\"lone low \\udc00\"",
        "\"lone high \\ud800x\"",
        "\"high then bad \\ud800\\u0041\"",
        "\"bad hex \\u12g4\"",
        "\"nul \\u0000 inside\"",
        "\"short \\u12\"",
        "\"ends in backslash \\",
        "\"no end",
        "\"raw \x01 control\"",
        "[-0, 0.5, -1.25e-3, 1e999, -1e999, 2147483647, 2147483648, -2147483649, 12.5e+2]",
        "[1-2]",
        "[0, 7, 007, -007, -12, 123456789012345, -123456789012345, 1234567890123456]",
        "[9007199254740993, 99999999999999999, -0001, 00, 1700000000, 12-3, 5+]",
        "{\"created\":1700000000,\"index\":0,\"n\":-0}",
        "[1e]",
        "-",
        "[--1]",
        "[.5]",
        "[01]",
        "[1.]",
        "[1234567890123456789012345678901234567890123456789012345678901234567890]",
        "{\"dup\":1,\"dup\":2}",
        "[true,false,null]",
        "[tru]",
        "[nul]",
        "[nulll]",
        "nullx",
        "{\"a\":}",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "{\"a\":1",
        "[",
        "{",
        "\xEF\xBB\xBF{\"bom\":1}",
        "\xEF\xBB{}",
        "   ",
        "",
        "[[[[[[[[[[]]]]]]]]]]",
        "{\"s\":\"\xc3\xa9\xff\xfe\"}",
        "[\"a\",\"\",{}, [], {\"x\":{\"y\":[null]}}]",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (!agrees(cases[i], strlen(cases[i]))) {
            fprintf(stderr, "  jparse differs on %s\n", cases[i]);
            bad++;
        }
    /* a NUL inside the buffer, and deep nesting past both limits */
    static const char nul[] = "{\"a\":\"x\0y\",\"b\":1}";
    if (!agrees(nul, sizeof nul - 1)) bad++;
    char deep[2 * 1100 + 1];
    for (int d = 500; d <= 1100; d += 100) {
        memset(deep, '[', (size_t)d);
        memset(deep + d, ']', (size_t)d);
        if (!agrees(deep, 2 * (size_t)d)) bad++;
    }
    CHECK(bad == 0);
}

/* jparse_get finds what cJSON_GetObjectItemCaseSensitive finds: every
 * member name of every object in t, and names that are not there (empty,
 * one byte longer or shorter, the same first byte). */
static int get_agrees(const cJSON *t)
{
    int bad = 0;
    for (const cJSON *c = t ? t->child : NULL; c; c = c->next) {
        bad += get_agrees(c);
        if (!c->string) continue;
        char near[64];
        size_t n = strlen(c->string);
        if (n + 2 > sizeof near) continue;
        memcpy(near, c->string, n + 1);
        const char *keys[5] = {c->string, "", "\x01", near, NULL};
        for (int k = 0; k < 4; k++)
            bad += jparse_get(t, keys[k]) != cJSON_GetObjectItemCaseSensitive(t, keys[k]);
        near[n] = 'x', near[n + 1] = '\0';
        bad += jparse_get(t, near) != cJSON_GetObjectItemCaseSensitive(t, near);
        if (n) {
            near[n - 1] = '\0';
            bad += jparse_get(t, near) != cJSON_GetObjectItemCaseSensitive(t, near);
        }
    }
    return bad;
}

/* Every golden JSON file, whole, cut at a spread of lengths, and with one
 * byte changed at a spread of places to each of a few troublemakers; and
 * jparse_get on every object of its tree. */
static int golden_variants(const char *path, char *s, size_t n, void *ctx)
{
    (void)ctx;
    int here = !agrees(s, n);
    size_t step = n / 40 + 1;
    for (size_t cut = 0; cut < n; cut += step)
        here += !agrees(s, cut);
    static const char mangle[] = "\"\\}],:u0-e \x01";
    for (size_t at = 0; at < n; at += step) {
        char keep = s[at];
        for (size_t m = 0; m < sizeof mangle; m++) {
            s[at] = mangle[m];
            here += !agrees(s, n);
        }
        s[at] = keep;
    }
    if (here) fprintf(stderr, "  jparse differs from cJSON on %s (%d variants)\n", path, here);
    cJSON *t = cJSON_ParseWithLengthOpts(s, n, NULL, 0);
    int gets = get_agrees(t);
    cJSON_Delete(t);
    if (gets) fprintf(stderr, "  jparse_get differs from cJSON on %s (%d lookups)\n", path, gets);
    return here + gets;
}

TEST(jparse_matches_cjson_on_golden_files)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/golden", test_dir());
    int files = 0;
    int bad = golden_each_json(dir, golden_variants, NULL, &files);
    CHECK(files > 100);
    CHECK(bad == 0);
}

/* jparse_get on golden files: jparse_matches_cjson_on_golden_files */
TEST(jparse_get_finds_what_cjson_finds)
{
    /* duplicate names: the first; no object, no name: NULL */
    cJSON *o = cJSON_Parse("{\"a\":1,\"ab\":2,\"a\":3,\"b\":4}");
    CHECK(o && jparse_get(o, "a") == o->child && jparse_get(o, "ab") == o->child->next);
    CHECK(jparse_get(NULL, "a") == NULL && jparse_get(o, NULL) == NULL);
    /* a child without a name ends the search, in cJSON and here */
    char *keep = o->child->next->string;
    o->child->next->string = NULL;
    CHECK(jparse_get(o, "b") == NULL && cJSON_GetObjectItemCaseSensitive(o, "b") == NULL);
    o->child->next->string = keep;
    cJSON_Delete(o);
}

/* A tree bigger than a block takes more blocks; a drop keeps one, and a
 * tree cJSON built (a BOM: its fallback) is deleted by the drop too (the
 * ASan and valgrind runs would report it otherwise). */
TEST(jparse_in_arena_keeps_one_block)
{
    jparse_arena a = {0};
    size_t n = 200000, k = 0;
    char *s = malloc(n + 64);
    CHECK(s != NULL);
    if (!s) return;
    k += (size_t)sprintf(s + k, "[");
    while (k < n)
        k += (size_t)sprintf(s + k, "{\"k\":\"v%zu\",\"n\":%zu},", k, k);
    sprintf(s + k - 1, "]");
    const char *end = NULL;
    cJSON *t = jparse_in(&a, s, strlen(s), &end);
    CHECK(t != NULL && cJSON_GetArraySize(t) > 1000 && end == s + strlen(s));
    CHECK(a.blocks != NULL && a.blocks->next != NULL && a.heap == NULL);
    jparse_arena_drop(&a);
    CHECK(a.blocks != NULL && a.blocks->next == NULL && a.blocks->used == 0);
    t = jparse_in(&a, "\xEF\xBB\xBF{\"a\":1}", 10, &end);
    CHECK(t != NULL && t == a.heap && cJSON_GetObjectItem(t, "a")->valueint == 1);
    jparse_arena_drop(&a);
    CHECK(a.heap == NULL);
    jparse_arena_free(&a);
    CHECK(a.blocks == NULL);
    jparse_arena_free(&arena);
    free(s);
}
