/*
 * Tests for src/core/xlate_request.c (and its parts: xlate_tools, xlate_messages, xlate_content).
 *
 * Golden cases live in tests/golden/request/ and are found by listing the
 * directory, so adding a case needs no C change:
 *   NAME.json       an Anthropic /v1/messages body
 *   NAME.out.json   the exact upstream bytes expected (one line + "\n")
 *   NAME.err        or: a substring of the expected XLATE_EINVALID message
 *   NAME.opts.json  optional {"model":"m","max_tokens_cap":N,"cache_prompt":true,
 *                   "text_only":true}
 *                   (default: model NULL, cap 16384, no cache_prompt)
 * ANYCLAUDE_UPDATE_GOLDEN=1 rewrites NAME.out.json from the current output
 * (and writes NAME.err with the full message for a failing case that has
 * none); review the diff by eye.
 *
 * The C tests below assert what a golden file cannot say on its own: prefix
 * growth between turns, pairs of inputs that must give identical bytes,
 * determinism, info, count_tokens, bounds and failure hygiene.
 */
#include <stdlib.h>

#include "jparse.h"
#include "anthropic.h"
#include "xlate_request.h"
#include "xlate_tools.h"
#include "test.h"

#define DEFAULT_CAP 16384

static void case_path(char *dst, size_t size, const char *name, const char *ext)
{
    snprintf(dst, size, "%s/golden/request/%s%s", test_dir(), name, ext);
}

/* Drop one trailing "\n" (golden files end with a newline). */
static void chomp(char *s, size_t *len)
{
    while (*len && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
        s[--*len] = '\0';
}

/* Options for a case: defaults, overridden by NAME.opts.json. model_store
 * holds the model string. */
static void case_opts(const char *name, xlate_request_opts *o, char *model_store, size_t size)
{
    char path[512];
    memset(o, 0, sizeof *o);
    o->model = NULL;
    o->max_tokens_cap = DEFAULT_CAP;
    o->cache_prompt = 0;
    case_path(path, sizeof path, name, ".opts.json");
    char *text = test_read_file(path, NULL);
    if (!text) return;
    cJSON *j = cJSON_Parse(text);
    free(text);
    CHECK(j != NULL);
    if (!j) return;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *cap = cJSON_GetObjectItemCaseSensitive(j, "max_tokens_cap");
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(j, "cache_prompt");
    const cJSON *slot = cJSON_GetObjectItemCaseSensitive(j, "id_slot");
    o->text_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "text_only"));
    if (cJSON_IsNumber(slot)) {
        o->use_id_slot = 1;
        o->id_slot = (int)slot->valuedouble;
    }
    if (cJSON_IsString(m)) {
        snprintf(model_store, size, "%s", m->valuestring);
        o->model = model_store;
    }
    if (cJSON_IsNumber(cap)) o->max_tokens_cap = (long)cap->valuedouble;
    o->cache_prompt = cJSON_IsTrue(cp);
    cJSON_Delete(j);
}

/* Build golden case NAME into out (with its options). Returns the build's
 * return code, or -100 when the input cannot be read. */
/* Translated tools kept across every golden case built through it (run_case
 * builds each case with and without it): cached bytes must be written bytes. */
static xlate_tools_cache *shared_tools;

static int build_case_with(const char *name, buf *out, xlate_request_info *info, char *err,
                           size_t errlen, xlate_tools_cache *tc);

static int build_case(const char *name, buf *out, xlate_request_info *info, char *err,
                      size_t errlen)
{
    return build_case_with(name, out, info, err, errlen, NULL);
}

static int build_case_with(const char *name, buf *out, xlate_request_info *info, char *err,
                           size_t errlen, xlate_tools_cache *tc)
{
    char path[512], model[256];
    xlate_request_opts o;
    xlate_request_info scratch;
    size_t len;
    case_path(path, sizeof path, name, ".json");
    char *body = test_read_file(path, &len);
    if (!body) {
        fprintf(stderr, "  cannot read %s\n", path);
        return -100;
    }
    case_opts(name, &o, model, sizeof model);
    o.tools_cache = tc;
    int rc;
    if (!tc) {
        rc = xlate_request_build(body, len, &o, out, info ? info : &scratch, err, errlen);
    } else {
        /* as messages.c does: the body parsed once, its tools taken from
         * the cache when their text is there, the entry held meanwhile */
        xlate_parsed pb = {0};
        int reused = 0, entry = -1;
        cJSON *root = jparse_member_reuse(body, len, &pb.end, "tools", &pb.tools, &pb.tools_len,
                                          xlate_tools_cache_find, tc, &reused);
        if (reused) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "tools");
            CHECK(t && (t->type & cJSON_IsReference));
            entry = xlate_tools_cache_hold(tc, t ? t->child : NULL);
            CHECK(entry >= 0);
        }
        pb.root = root;
        rc = xlate_request_build_parsed(&pb, body, len, &o, out, info ? info : &scratch, err,
                                        errlen);
        cJSON_Delete(root);
        xlate_tools_cache_release(tc, entry);
    }
    if (!info && rc == 0) xlate_request_info_free(&scratch);
    free(body);
    return rc;
}

/* Build cases na into a and nb into b (both initialised here; free them);
 * 0 when both built. */
static int build_two(const char *na, buf *a, const char *nb, buf *b)
{
    char err[512];
    buf_init(a, 0);
    buf_init(b, 0);
    int ra = build_case(na, a, NULL, err, sizeof err);
    int rb = build_case(nb, b, NULL, err, sizeof err);
    return ra == 0 && rb == 0 ? 0 : -1;
}

/* One golden case: check (or, in update mode, rewrite) its expectation, and
 * that a second build gives the same bytes. */
static void run_case(const char *name)
{
    char path[512], err[512], err2[512];
    buf out, again;
    xlate_request_info info;
    buf_init(&out, 0);
    buf_init(&again, 0);
    int rc = build_case(name, &out, &info, err, sizeof err);
    int before = test_failed_checks;
    /* twice through the shared tools cache (a miss or a hit, then a hit):
     * the same bytes as without it */
    for (int k = 0; k < 2; k++) {
        buf_reset(&again);
        int rc2 = build_case_with(name, &again, NULL, err2, sizeof err2, shared_tools);
        CHECK(rc == rc2);
        CHECK(out.len == again.len && (!out.len || memcmp(out.data, again.data, out.len) == 0));
    }
    if (rc == 0) {
        CHECK(info.input_estimate >= 1);
        CHECK(info.model[0] != '\0');
        xlate_request_info_free(&info);
        case_path(path, sizeof path, name, ".out.json");
        if (golden_update()) {
            CHECK(buf_append(&out, "\n", 1) == 0);
            CHECK(golden_write(path, out.data, out.len) == 0);
            goto out;
        }
        size_t len;
        char *want = test_read_file(path, &len);
        if (!want) {
            fprintf(stderr, "  %s: missing %s (or %s.err); got:\n%s\n", name, path, name, out.data);
            test_failed_checks++;
            goto out;
        }
        chomp(want, &len);
        if (len != out.len || memcmp(want, out.data, len) != 0) {
            fprintf(stderr, "  %s: output differs\n    got:  %s\n    want: %s\n", name, out.data,
                    want);
            test_failed_checks++;
        }
        free(want);
    } else {
        CHECK_STR(err, err2);
        case_path(path, sizeof path, name, ".err");
        size_t len;
        char *want = test_read_file(path, &len);
        if (!want && golden_update()) {
            /* a new error case: record the whole message (existing .err
             * files hold hand-picked substrings and are kept) */
            char line[520];
            int n = snprintf(line, sizeof line, "%s\n", err);
            CHECK(golden_write(path, line, (size_t)n) == 0);
            goto out;
        }
        if (!want) {
            fprintf(stderr, "  %s: rc %d: %s (no %s)\n", name, rc, err, path);
            test_failed_checks++;
            goto out;
        }
        chomp(want, &len);
        if (rc != XLATE_EINVALID || !strstr(err, want)) {
            fprintf(stderr, "  %s: rc %d, error \"%s\" does not contain \"%s\"\n", name, rc, err,
                    want);
            test_failed_checks++;
        }
        CHECK(out.len == 0);
        free(want);
    }
out:
    if (test_failed_checks != before) fprintf(stderr, "  (golden case %s)\n", name);
    buf_free(&out);
    buf_free(&again);
}

TEST(xlate_request_golden)
{
    static const char *const not_input[] = {".out.json", ".opts.json", NULL};
    char dir[512], **names;
    snprintf(dir, sizeof dir, "%s/golden/request", test_dir());
    size_t n = golden_list(dir, ".json", not_input, &names);
    CHECK(n >= 40);
    REQUIRE((shared_tools = xlate_tools_cache_new()));
    for (size_t i = 0; i < n; i++)
        run_case(names[i]);
    golden_free(names, n);
    long hits, misses;
    xlate_tools_cache_stats(shared_tools, &hits, &misses);
    fprintf(stderr, "golden requests through the tools cache: %ld hits, %ld misses\n", hits,
            misses);
    CHECK(hits > 20);                    /* each case's second build at least */
    CHECK(misses > XLATE_TOOLS_CACHE_N); /* more arrays than entries: evictions */
    xlate_tools_cache_free(shared_tools);
    shared_tools = NULL;
}

/* A one-tool request: tool "t<i>" whose schema has maximum <i>.<frac>. */
static void tool_request(char *body, size_t size, int i, const char *frac)
{
    snprintf(body, size,
             "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
             "\"content\":\"hi\"}],\"tools\":[{\"name\":\"t%d\",\"description\":"
             "\"line\\none\",\"input_schema\":{\"type\":\"object\",\"properties\":"
             "{\"n\":{\"type\":\"number\",\"maximum\":%d.%s}}}}]}",
             i, i, frac);
}

/* Build body through tc into out (reset first); the estimate in *est. */
static int build_via(const char *body, xlate_tools_cache *tc, buf *out, long *est)
{
    char err[256];
    xlate_request_opts o = {.tools_cache = tc};
    xlate_request_info info;
    buf_reset(out);
    int rc = xlate_request_build(body, strlen(body), &o, out, &info, err, sizeof err);
    if (rc == 0) {
        *est = info.input_estimate;
        xlate_request_info_free(&info);
    }
    return rc;
}

/* The cache keeps XLATE_TOOLS_CACHE_N arrays, the least recently used
 * leaving first, and a tool that differs in one byte is a miss. */
TEST(xlate_tools_cache_keeps_the_recent_arrays)
{
    xlate_tools_cache *tc = xlate_tools_cache_new();
    REQUIRE(tc);
    char body[512], want[32];
    long hits, misses, ea, eb;
    buf a, b;
    buf_init(&a, 0);
    buf_init(&b, 0);
    /* N+1 arrays in turn, twice, through N entries: each evicts the next
     * one needed; cached or not, the bytes and the estimate are the same */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i <= XLATE_TOOLS_CACHE_N; i++) {
            tool_request(body, sizeof body, i, "5");
            REQUIRE(build_via(body, tc, &a, &ea) == 0);
            REQUIRE(build_via(body, NULL, &b, &eb) == 0);
            CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
            CHECK(ea == eb);
        }
    }
    xlate_tools_cache_stats(tc, &hits, &misses);
    CHECK(hits == 0 && misses == 2 * (XLATE_TOOLS_CACHE_N + 1));
    /* the last N are kept: each hits now, newest first */
    for (int i = XLATE_TOOLS_CACHE_N; i >= 1; i--) {
        tool_request(body, sizeof body, i, "5");
        REQUIRE(build_via(body, tc, &a, &ea) == 0);
    }
    xlate_tools_cache_stats(tc, &hits, &misses);
    CHECK(hits == XLATE_TOOLS_CACHE_N);
    /* one byte of a schema differs (N.5 -> N.25): a miss, and its own bytes */
    tool_request(body, sizeof body, XLATE_TOOLS_CACHE_N, "25");
    REQUIRE(build_via(body, tc, &a, &ea) == 0);
    snprintf(want, sizeof want, "\"maximum\":%d.25", XLATE_TOOLS_CACHE_N);
    CHECK(strstr(a.data, want) != NULL);
    xlate_tools_cache_stats(tc, &hits, &misses);
    CHECK(hits == XLATE_TOOLS_CACHE_N && misses == 2 * (XLATE_TOOLS_CACHE_N + 1) + 1);
    buf_free(&a);
    buf_free(&b);
    xlate_tools_cache_free(tc);
}

/* Deferred tools (Claude Code's tool search): the same tools array writes
 * without the deferred tool until a tool_reference names it, then with it
 * after every other tool. Through the cache each request gets its own
 * bytes, in either order; and loading the tool leaves the bytes before it
 * (the backend's cached prefix) as they were. */
TEST(xlate_tools_deferred_loaded_by_reference)
{
    static const char *tools =
        "\"tools\":[{\"name\":\"mcp__s__echo\",\"description\":\"Echo\",\"input_schema\":"
        "{\"type\":\"object\"},\"defer_loading\":true},{\"name\":\"Read\",\"input_schema\":"
        "{\"type\":\"object\"}},{\"name\":\"DeferredToolPlaceholder\",\"input_schema\":{},"
        "\"defer_loading\":true}]";
    char before[1024], after[1024];
    snprintf(before, sizeof before,
             "{\"model\":\"m\",\"max_tokens\":10,%s,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"hi\"}]}",
             tools);
    snprintf(after, sizeof after,
             "{\"model\":\"m\",\"max_tokens\":10,%s,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"hi\"},"
             "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\","
             "\"name\":\"ToolSearch\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{"
             "\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":[{\"type\":"
             "\"tool_reference\",\"tool_name\":\"mcp__s__echo\"}]}]}]}",
             tools);
    xlate_tools_cache *tc = xlate_tools_cache_new();
    REQUIRE(tc);
    buf a, b, plain;
    long e;
    buf_init(&a, 0);
    buf_init(&b, 0);
    buf_init(&plain, 0);
    for (int order = 0; order < 2; order++) {
        const char *first = order ? after : before, *second = order ? before : after;
        REQUIRE(build_via(first, tc, &a, &e) == 0);
        REQUIRE(build_via(second, tc, &b, &e) == 0);
        REQUIRE(build_via(second, NULL, &plain, &e) == 0);
        CHECK(b.len == plain.len && memcmp(b.data, plain.data, b.len) == 0);
    }
    REQUIRE(build_via(before, NULL, &a, &e) == 0);
    REQUIRE(build_via(after, NULL, &b, &e) == 0);
    CHECK(strstr(a.data, "mcp__s__echo") == NULL);
    CHECK(strstr(a.data, "DeferredToolPlaceholder") == NULL &&
          strstr(b.data, "Placeholder") == NULL);
    const char *loaded =
        strstr(b.data, ",{\"type\":\"function\",\"function\":{\"name\":\"mcp__s__echo\"");
    REQUIRE(loaded != NULL);
    size_t fixed = (size_t)(loaded - b.data);
    CHECK(memcmp(a.data, b.data, fixed) == 0 && a.data[fixed] == ']');
    CHECK(strstr(b.data, "\"content\":\"<functions><function>{\\\"description\\\":\\\"Echo\\\","
                         "\\\"name\\\":\\\"mcp__s__echo\\\",\\\"parameters\\\":{\\\"type\\\":"
                         "\\\"object\\\"}}</function></functions>\"") != NULL);
    /* and the conversation's kind is the same before and after: it keeps
     * its slot (the hash covers the tools before the loaded ones) */
    xlate_request_info ia, ib;
    char err[256];
    xlate_request_opts o = {0};
    REQUIRE(xlate_request_build(before, strlen(before), &o, &a, &ia, err, sizeof err) == 0);
    REQUIRE(xlate_request_build(after, strlen(after), &o, &b, &ib, err, sizeof err) == 0);
    CHECK(ia.kind_hash == ib.kind_hash);
    xlate_request_info_free(&ia);
    xlate_request_info_free(&ib);
    buf_free(&a);
    buf_free(&b);
    buf_free(&plain);
    xlate_tools_cache_free(tc);
}

/* A parse that takes its tools from the cache holds the entry: no store
 * evicts it until it is released, and freeing the parse leaves the
 * entry's tree alone (ASan checks that). A text that differs in a byte is
 * parsed whole. */
TEST(xlate_tools_cache_held_entries_stay)
{
    xlate_tools_cache *tc = xlate_tools_cache_new();
    REQUIRE(tc);
    char body[512], other[512];
    long est;
    buf a;
    buf_init(&a, 0);
    tool_request(body, sizeof body, 0, "5");
    REQUIRE(build_via(body, tc, &a, &est) == 0); /* stored, with its text */
    int reused = 0;
    const char *t = NULL, *end = NULL;
    size_t tn = 0;
    cJSON *root = jparse_member_reuse(body, strlen(body), &end, "tools", &t, &tn,
                                      xlate_tools_cache_find, tc, &reused);
    REQUIRE(root && reused);
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
    REQUIRE(tools && (tools->type & cJSON_IsReference) && cJSON_GetArraySize(tools) == 1);
    CHECK(t && tn > 2 && t[0] == '[' && t[tn - 1] == ']');
    int entry = xlate_tools_cache_hold(tc, tools->child);
    CHECK(entry >= 0);
    /* every other entry turns over twice; the held one stays */
    for (int i = 1; i <= 2 * XLATE_TOOLS_CACHE_N; i++) {
        tool_request(other, sizeof other, i, "5");
        REQUIRE(build_via(other, tc, &a, &est) == 0);
    }
    size_t n = 0;
    CHECK(xlate_tools_cache_find(tc, t, strlen(t), &n) != NULL && n == tn);
    cJSON_Delete(root);
    xlate_tools_cache_release(tc, entry);
    for (int i = 1; i <= XLATE_TOOLS_CACHE_N; i++) {
        tool_request(other, sizeof other, 100 + i, "5");
        REQUIRE(build_via(other, tc, &a, &est) == 0);
    }
    tool_request(body, sizeof body, 0, "5");
    CHECK(xlate_tools_cache_find(tc, strstr(body, "\"tools\":") + 8, strlen(body), &n) == NULL);
    /* one byte off: parsed whole, not a reference */
    tool_request(other, sizeof other, 101, "25");
    root = jparse_member_reuse(other, strlen(other), &end, "tools", &t, &tn, xlate_tools_cache_find,
                               tc, &reused);
    REQUIRE(root);
    CHECK(!reused);
    tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
    CHECK(tools && !(tools->type & cJSON_IsReference));
    cJSON_Delete(root);
    buf_free(&a);
    xlate_tools_cache_free(tc);
}

/* Build two golden cases and require byte-identical success output. */
static void check_same(const char *a, const char *b)
{
    buf x, y;
    CHECK(build_two(a, &x, b, &y) == 0);
    CHECK(x.len > 0);
    if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0) {
        fprintf(stderr, "  %s and %s differ:\n    %s\n    %s\n", a, b, x.data, y.data);
        test_failed_checks++;
    }
    buf_free(&x);
    buf_free(&y);
}

/* Turn 1's bytes minus the closing "]}" must be a byte prefix of turn 2's:
 * that is what lets a backend's prefix cache serve turn 2. */
TEST(xlate_request_turn_prefix)
{
    char err[512];
    buf t1, t2, t3;
    buf_init(&t1, 0);
    buf_init(&t2, 0);
    buf_init(&t3, 0);
    CHECK(build_case("claude_code_turn1", &t1, NULL, err, sizeof err) == 0);
    CHECK(build_case("claude_code_turn2", &t2, NULL, err, sizeof err) == 0);
    CHECK(build_case("claude_code_turn3", &t3, NULL, err, sizeof err) == 0);
    REQUIRE(t1.len > 2 && t2.len > t1.len && t3.len > t2.len);
    CHECK(memcmp(t1.data + t1.len - 2, "]}", 2) == 0);
    CHECK(memcmp(t1.data, t2.data, t1.len - 2) == 0);
    CHECK(t2.data[t1.len - 2] == ',');
    CHECK(memcmp(t2.data, t3.data, t2.len - 2) == 0);
    CHECK(t3.data[t2.len - 2] == ',');
    /* the billing header is gone, whatever its value */
    CHECK(strstr(t1.data, "billing") == NULL);
    CHECK(strstr(t2.data, "cc_version") == NULL);
    buf_free(&t1);
    buf_free(&t2);
    buf_free(&t3);
}

/* Rendering by volatility: two sessions in one project (Claude Code's first
 * requests differ only in the billing block, metadata and the user's words)
 * render bytes that agree up to the user's words, so the new session's
 * first turn prefills only those; the environment block (a role:"system"
 * message after the words) comes before them. */
TEST(xlate_request_new_session_prefix)
{
    buf a, b;
    REQUIRE(build_two("claude_code_turn1", &a, "volatility_new_session", &b) == 0);
    size_t common = 0;
    while (common < a.len && common < b.len && a.data[common] == b.data[common])
        common++;
    const char *words = strstr(a.data, "list the files here");
    const char *env = strstr(a.data, "# Environment");
    REQUIRE(words && env);
    CHECK(env < words);
    CHECK(common == (size_t)(words - a.data));
    /* what differs is the words and the closing bytes: a few dozen bytes */
    CHECK(a.len - common < 64);
    buf_free(&a);
    buf_free(&b);
}

/* Warm start saves anthropic_warm_prefix of a session's request; rendered,
 * it is a prefix of the next session's first turn in that project up to the
 * user's words: system prompt, tools, environment block, reminders. */
TEST(xlate_request_warm_prefix_is_a_prefix)
{
    char path[512], err[512];
    size_t len;
    case_path(path, sizeof path, "claude_code_turn1", ".json");
    char *body = test_read_file(path, &len);
    REQUIRE(body);
    cJSON *root = cJSON_ParseWithLength(body, len);
    free(body);
    REQUIRE(root);
    cJSON *w = anthropic_warm_prefix(root);
    cJSON_Delete(root);
    REQUIRE(w);
    char *wtxt = cJSON_PrintUnformatted(w);
    cJSON_Delete(w);
    REQUIRE(wtxt);
    xlate_request_opts o = {.model = NULL};
    xlate_request_info iw, in;
    buf bw, bn;
    buf_init(&bw, 0);
    buf_init(&bn, 0);
    REQUIRE(xlate_request_build(wtxt, strlen(wtxt), &o, &bw, &iw, err, sizeof err) == 0);
    REQUIRE(build_case("volatility_new_session", &bn, &in, err, sizeof err) == 0);
    const char *tw = strstr(bw.data, "\"tools\":"), *tn = strstr(bn.data, "\"tools\":");
    REQUIRE(tw && tn);
    size_t n = strlen(tw) - 4; /* without the closing "}]} */
    CHECK(strncmp(tw, tn, n) == 0);
    CHECK(strstr(tw, "# Environment") && strstr(tw, "claudeMd"));
    CHECK(!strstr(tw, "list the files here"));
    CHECK(iw.kind_hash == in.kind_hash);
    xlate_request_info_free(&iw);
    xlate_request_info_free(&in);
    buf_free(&bw);
    buf_free(&bn);
    cJSON_free(wtxt);
}

/* For a text-only backend an image becomes the same placeholder whether it
 * is in the newest turn or in history: a Read of a PNG does not move the
 * next turn's prefix. */
TEST(xlate_request_text_only_prefix)
{
    buf t1, t2;
    CHECK(build_two("text_only_png_turn1", &t1, "text_only_png_turn2", &t2) == 0);
    REQUIRE(t1.len > 2 && t2.len > t1.len);
    CHECK(memcmp(t1.data, t2.data, t1.len - 2) == 0);
    CHECK(strstr(t1.data, "image_url") == NULL && strstr(t1.data, "base64") == NULL);
    CHECK(strstr(t1.data, "left out") != NULL);
    buf_free(&t1);
    buf_free(&t2);
}

TEST(xlate_request_equivalent_inputs)
{
    check_same("system_blocks", "system_string");
    check_same("billing_a", "billing_b");
    check_same("msg_system_blocks", "msg_system_string");
    check_same("text_string", "text_one_block");
    check_same("tools_order_a", "tools_order_b");
}

static int build_str(const char *body, const xlate_request_opts *o, buf *out,
                     xlate_request_info *info, char *err, size_t errlen)
{
    return xlate_request_build(body, strlen(body), o, out, info, err, errlen);
}

TEST(xlate_request_info_and_numbers)
{
    static const char body[] =
        "{\"model\":\"claude-x\",\"max_tokens\":1000,\"temperature\":0.7,\"top_p\":0.95,"
        "\"top_k\":40,\"stream\":true,\"tools\":[{\"name\":\"b\",\"input_schema\":{}},"
        "{\"name\":\"a\",\"input_schema\":{\"type\":\"object\"}}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hello world\"}]}";
    xlate_request_opts o = {.model = NULL};
    xlate_request_info info;
    char err[256];
    buf out;
    buf_init(&out, 0);
    REQUIRE(build_str(body, &o, &out, &info, err, sizeof err) == 0);
    CHECK(strstr(out.data, "\"max_tokens\":1000,\"temperature\":0.7,\"top_p\":0.95,\"top_k\":40,"));
    CHECK(strstr(out.data, "\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
    CHECK(info.stream == 1);
    CHECK_STR(info.model, "claude-x");
    CHECK(info.input_estimate >= 1 && info.input_estimate < 100);
    REQUIRE(cJSON_IsArray(info.tools));
    CHECK(cJSON_GetArraySize(info.tools) == 2);
    /* info keeps the client's order; the upstream body sorts */
    CHECK_STR(cJSON_GetArrayItem(info.tools, 0)->child->valuestring, "b");
    CHECK(strstr(out.data, "\"name\":\"a\"") < strstr(out.data, "\"name\":\"b\""));
    xlate_request_info_free(&info);
    CHECK(info.tools == NULL);
    xlate_request_info_free(NULL);
    buf_free(&out);
}

TEST(xlate_request_model_truncated)
{
    /* 300 bytes of 3-byte characters: cut at a character boundary */
    char body[1200], model[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        memcpy(model + n, "\xe2\x82\xac", 3);
        n += 3;
    }
    model[n] = '\0';
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"x\"}]}",
             model);
    xlate_request_info info;
    char err[256];
    buf out;
    buf_init(&out, 0);
    REQUIRE(build_str(body, NULL, &out, &info, err, sizeof err) == 0);
    CHECK(strlen(info.model) == 255);
    CHECK(memcmp(info.model, model, 255) == 0);
    CHECK(info.stream == 0 && info.tools == NULL);
    CHECK(strstr(out.data, "\"model\"") == NULL); /* opts NULL: no model upstream */
    CHECK(strstr(out.data, "\"max_tokens\":5,\"stream\":false,\"messages\""));
    xlate_request_info_free(&info);
    buf_free(&out);
}

TEST(xlate_request_append_and_failure_hygiene)
{
    static const char good[] = "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
                               "\"user\",\"content\":\"x\"}]}";
    static const char bad[] = "{\"model\":\"m\",\"max_tokens\":5,\"tools\":[{\"name\":\"t\","
                              "\"input_schema\":{}}],\"messages\":[{\"role\":\"user\","
                              "\"content\":[{\"type\":\"text\",\"text\":\"x\"},{\"type\":5}]}]}";
    xlate_request_info info;
    char err[256];
    buf out;
    buf_init(&out, 0);
    CHECK(buf_appends(&out, "PRE") == 0);
    CHECK(build_str(bad, NULL, &out, &info, err, sizeof err) == XLATE_EINVALID);
    CHECK_STR(err, "messages.0.content.1.type: must be a string");
    CHECK_STR(out.data, "PRE");
    CHECK(info.tools == NULL && info.model[0] == '\0' && info.input_estimate == 0);
    CHECK(build_str(good, NULL, &out, &info, err, sizeof err) == 0);
    CHECK(strncmp(out.data, "PRE{", 4) == 0);
    xlate_request_info_free(&info);
    buf_free(&out);

    /* a bounded buffer: too small → XLATE_ETOOBIG and nothing left behind */
    buf small;
    buf_init(&small, 40);
    CHECK(build_str(good, NULL, &small, &info, err, sizeof err) == XLATE_ETOOBIG);
    CHECK(small.len == 0);
    buf_free(&small);

    /* err may be NULL */
    buf_init(&out, 0);
    CHECK(build_str("nope", NULL, &out, &info, NULL, 0) == XLATE_EINVALID);
    buf_free(&out);
}

TEST(xlate_request_body_bounds)
{
    /* len is honoured: bytes past it are not read; trailing junk inside it is
     * an error */
    static const char body[] = "{\"model\":\"m\",\"max_tokens\":5,"
                               "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}GARBAGE";
    size_t json_len = strlen(body) - strlen("GARBAGE");
    xlate_request_info info;
    char err[256];
    buf out;
    buf_init(&out, 0);
    CHECK(xlate_request_build(body, json_len, NULL, &out, &info, err, sizeof err) == 0);
    xlate_request_info_free(&info);
    buf_reset(&out);
    CHECK(xlate_request_build(body, strlen(body), NULL, &out, &info, err, sizeof err) ==
          XLATE_EINVALID);
    CHECK(strstr(err, "request body is not valid JSON (near byte") != NULL);
    CHECK(xlate_request_build(body, 0, NULL, &out, &info, err, sizeof err) == XLATE_EINVALID);
    CHECK(strstr(err, "not valid JSON") != NULL);
    CHECK(xlate_request_build("{\"model\":", 9, NULL, &out, &info, err, sizeof err) ==
          XLATE_EINVALID);
    CHECK(strstr(err, "near byte 9") != NULL || strstr(err, "near byte 8") != NULL);
    buf_free(&out);
}

TEST(xlate_request_count_tokens)
{
    static const char body[] =
        "{\"model\":\"m\",\"system\":\"You are terse.\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"count these tokens please\"}],\"tools\":[{\"name\":\"t\","
        "\"input_schema\":{\"type\":\"object\"}}]}";
    static const char with_max[] =
        "{\"model\":\"m\",\"max_tokens\":9,\"system\":\"You are "
        "terse.\",\"messages\":[{\"role\":"
        "\"user\",\"content\":\"count these tokens please\"}],\"tools\":[{\"name\":\"t\","
        "\"input_schema\":{\"type\":\"object\"}}]}";
    long tokens = 0;
    char err[256];
    xlate_request_info info;
    buf out;
    buf_init(&out, 0);
    CHECK(xlate_request_count_tokens(body, strlen(body), &tokens, err, sizeof err) == 0);
    CHECK(tokens >= 1);
    REQUIRE(build_str(with_max, NULL, &out, &info, err, sizeof err) == 0);
    CHECK(info.input_estimate == tokens);
    xlate_request_info_free(&info);
    /* the same validation, except max_tokens */
    CHECK(build_str(body, NULL, &out, &info, err, sizeof err) == XLATE_EINVALID);
    CHECK_STR(err, "max_tokens: field required");
    static const char bad[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}";
    CHECK(xlate_request_count_tokens(bad, strlen(bad), &tokens, err, sizeof err) == XLATE_EINVALID);
    CHECK(strstr(err, "messages.0.role") != NULL);
    CHECK(xlate_request_count_tokens("{", 1, &tokens, err, sizeof err) == XLATE_EINVALID);
    buf_free(&out);
}

/* The estimate grows with text and stays near bytes/4. */
TEST(xlate_request_estimate_scale)
{
    size_t n = 40000;
    char *body = malloc(n + 200);
    REQUIRE(body != NULL);
    size_t off = (size_t)snprintf(body, 200,
                                  "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
                                  "\"user\",\"content\":\"");
    for (size_t i = 0; i < n; i++)
        body[off++] = "abcd efgh "[i % 10];
    memcpy(body + off, "\"}]}", 5);
    xlate_request_info info;
    char err[256];
    buf out;
    buf_init(&out, 0);
    CHECK(build_str(body, NULL, &out, &info, err, sizeof err) == 0);
    CHECK(info.input_estimate >= 9900 && info.input_estimate <= 10100);
    xlate_request_info_free(&info);
    buf_free(&out);
    free(body);
}

/* Every prefix of a real-shaped body is either a valid request or a clean
 * XLATE_EINVALID, with nothing left in out (run under ASan by make asan). */
TEST(xlate_request_truncated_bodies)
{
    char path[512], err[512];
    size_t len;
    case_path(path, sizeof path, "claude_code_turn2", ".json");
    char *body = test_read_file(path, &len);
    REQUIRE(body != NULL);
    buf out;
    buf_init(&out, 0);
    for (size_t n = 0; n < len; n++) {
        xlate_request_info info;
        int rc = xlate_request_build(body, n, NULL, &out, &info, err, sizeof err);
        if (rc == 0) {
            xlate_request_info_free(&info);
            buf_reset(&out);
            continue;
        }
        CHECK(rc == XLATE_EINVALID);
        CHECK(out.len == 0);
    }
    buf_free(&out);
    free(body);
}

/* id_slot is written two characters wide where info.id_slot_off says, and
 * the conversation hashes depend on what they should: kind on the system
 * prompt and tools only, first on the first message too. */
TEST(xlate_request_slot_and_hashes)
{
    const char *a = "{\"model\":\"m\",\"max_tokens\":5,\"system\":[{\"type\":\"text\",\"text\":"
                    "\"x-anthropic-billing-header: cc_version=1.0.aaa; cc_entrypoint=cli;\"},"
                    "{\"type\":\"text\",\"text\":\"You are helpful.\"}],\"tools\":[{\"name\":\"T\","
                    "\"input_schema\":{\"type\":\"object\"}}],\"messages\":[{\"role\":\"user\","
                    "\"content\":\"one\"}]}";
    const char *b = "{\"model\":\"m\",\"max_tokens\":5,\"system\":[{\"type\":\"text\",\"text\":"
                    "\"x-anthropic-billing-header: cc_version=1.0.bbb; cc_entrypoint=cli;\"},"
                    "{\"type\":\"text\",\"text\":\"You are helpful.\"}],\"tools\":[{\"name\":\"T\","
                    "\"input_schema\":{\"type\":\"object\"}}],\"messages\":[{\"role\":\"user\","
                    "\"content\":\"two\"},{\"role\":\"assistant\",\"content\":\"ok\"}]}";
    const char *c =
        "{\"model\":\"m\",\"max_tokens\":5,\"system\":\"Other.\",\"messages\":[{\"role\":"
        "\"user\",\"content\":\"one\"}]}";
    xlate_request_opts o = {.cache_prompt = 1, .use_id_slot = 1, .id_slot = 7};
    xlate_request_info ia, ib, ic;
    buf ba, bb, bc;
    char err[256];
    buf_init(&ba, 0);
    buf_init(&bb, 0);
    buf_init(&bc, 0);
    REQUIRE(xlate_request_build(a, strlen(a), &o, &ba, &ia, err, sizeof err) == 0);
    REQUIRE(xlate_request_build(b, strlen(b), &o, &bb, &ib, err, sizeof err) == 0);
    REQUIRE(xlate_request_build(c, strlen(c), &o, &bc, &ic, err, sizeof err) == 0);
    CHECK(strstr(ba.data, "\"cache_prompt\":true,\"id_slot\": 7,") != NULL);
    REQUIRE(ia.id_slot_off > 0);
    CHECK(memcmp(ba.data + ia.id_slot_off, " 7", 2) == 0);
    CHECK(ia.kind_hash == ib.kind_hash);   /* billing header dropped, same tools */
    CHECK(ia.first_hash != ib.first_hash); /* different first message */
    CHECK(ia.kind_hash != ic.kind_hash);
    CHECK(ia.system_end > ia.messages_off);
    CHECK(memcmp(ba.data + ia.messages_off, "{\"role\":\"system\"", 16) == 0);
    o.id_slot = 12;
    buf_reset(&ba);
    xlate_request_info_free(&ia);
    REQUIRE(xlate_request_build(a, strlen(a), &o, &ba, &ia, err, sizeof err) == 0);
    CHECK(memcmp(ba.data + ia.id_slot_off, "12", 2) == 0);
    xlate_request_info_free(&ia);
    xlate_request_info_free(&ib);
    xlate_request_info_free(&ic);
    buf_free(&ba);
    buf_free(&bb);
    buf_free(&bc);
}
