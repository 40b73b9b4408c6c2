/* Tests for src/core/xlate_stream.c, xlate_response.c: golden cases under tests/golden/stream
 * (NAME.sse → NAME.out, fed whole, split in two at every byte, and one byte
 * at a time) and tests/golden/response (NAME.json → NAME.out.json), each
 * with optional options in NAME.opts.json ({"tool_recovery":true,
 * "tools":[...]}; default: recovery off, no tools); the
 * equivalence of both paths where a stream and a response case share a
 * name; and the edges the golden files cannot show (bounds, calls after an
 * error, pings, stats).
 *
 * ANYCLAUDE_UPDATE_GOLDEN=1 rewrites the expected files from the current
 * output: review every changed file by eye, they define correctness. */
#include <stdint.h>
#include <stdlib.h>

#include "sse.h"
#include "xlate_response.h"
#include "xlate_stream.h"
#include "test.h"

static const xlate_stream_opts golden_opts = {"claude-test", "msg_test", 42, NULL, 0, 0, 0};

static char *path_of(const char *sub, const char *name, const char *suffix)
{
    buf b;
    buf_init(&b, 0);
    buf_appendf(&b, "%s/golden/%s/%s%s", test_dir(), sub, name, suffix);
    return buf_detach(&b, NULL);
}

/* The options of case sub/NAME: golden_opts, plus tool_recovery and tools
 * from NAME.opts.json when that file exists. *holder keeps the parsed file
 * (tools point into it; cJSON_Delete it after). Returns 0, or -1 when the
 * file is there but is not a JSON object. */
static int case_opts(const char *sub, const char *name, xlate_stream_opts *o, cJSON **holder)
{
    char *path = path_of(sub, name, ".opts.json");
    char *txt = test_read_file(path, NULL);
    int rc = 0;
    *o = golden_opts;
    *holder = NULL;
    if (txt) {
        cJSON *j = cJSON_Parse(txt);
        if (cJSON_IsObject(j)) {
            o->tools = cJSON_GetObjectItemCaseSensitive(j, "tools");
            o->tool_recovery = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "tool_recovery"));
            *holder = j;
        } else {
            fprintf(stderr, "  %s is not a JSON object\n", path);
            cJSON_Delete(j);
            rc = -1;
        }
    }
    free(txt);
    free(path);
    return rc;
}

/* Does sub/NAME have a NAME.opts.json? */
static int has_opts(const char *sub, const char *name)
{
    char *path = path_of(sub, name, ".opts.json");
    FILE *f = fopen(path, "rb");
    free(path);
    if (f) fclose(f);
    return f != NULL;
}

/* ---- running the translator ---- */

/* Translate `in` fed in pieces of `step` bytes after a first piece of
 * `first` bytes (step 0: the rest in one piece), then end. *end_rc gets
 * xlate_stream_end's return. */
static void run_stream(const char *in, size_t len, size_t first, size_t step,
                       const xlate_stream_opts *opts, buf *out, int *end_rc)
{
    xlate_stream *xs = xlate_stream_new(opts);
    buf_reset(out);
    if (!xs) return;
    xlate_stream_begin(xs, out);
    size_t off = first < len ? first : len;
    xlate_stream_feed(xs, in, off, out);
    while (off < len) {
        size_t n = step && step < len - off ? step : len - off;
        xlate_stream_feed(xs, in + off, n, out);
        off += n;
    }
    int rc = xlate_stream_end(xs, out);
    if (end_rc) *end_rc = rc;
    xlate_stream_free(xs);
}

/* ---- a client's view: accumulate Anthropic events into a message ---- */

typedef struct acc {
    cJSON *msg;
    buf partial[64]; /* input_json_delta text per block index */
    int errors;      /* event: error seen */
    int stops;       /* message_stop seen */
    int bad;         /* something a client would reject */
} acc;

static cJSON *content_at(acc *a, const cJSON *ev)
{
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(ev, "index");
    cJSON *content = cJSON_GetObjectItemCaseSensitive(a->msg, "content");
    if (!cJSON_IsNumber(ix) || !content) return NULL;
    return cJSON_GetArrayItem(content, ix->valueint);
}

static void append_field(cJSON *obj, const char *key, const char *more)
{
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
    buf b;
    buf_init(&b, 0);
    buf_appends(&b, cJSON_IsString(old) ? old->valuestring : "");
    buf_appends(&b, more);
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(b.data ? b.data : ""));
    buf_free(&b);
}

static int acc_event(void *ud, const char *event, size_t evlen, const char *data, size_t len)
{
    acc *a = ud;
    cJSON *ev = cJSON_ParseWithLength(data, len);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
    if (!ev || !type || strlen(type) != evlen || memcmp(type, event, evlen) != 0) {
        if (!(evlen == 4 && memcmp(event, "ping", 4) == 0)) a->bad++;
        cJSON_Delete(ev);
        return 0;
    }
    if (strcmp(type, "message_start") == 0) {
        a->msg = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ev, "message"), 1);
    } else if (strcmp(type, "content_block_start") == 0) {
        cJSON *content = cJSON_GetObjectItemCaseSensitive(a->msg, "content");
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(ev, "index");
        if (!cJSON_IsNumber(ix) || ix->valueint != cJSON_GetArraySize(content)) a->bad++;
        cJSON_AddItemToArray(
            content, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ev, "content_block"), 1));
    } else if (strcmp(type, "content_block_delta") == 0) {
        cJSON *blk = content_at(a, ev);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "delta");
        const char *dt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "type"));
        int ix = cJSON_GetObjectItemCaseSensitive(ev, "index")->valueint;
        if (!blk || !dt) {
            a->bad++;
        } else if (strcmp(dt, "text_delta") == 0) {
            append_field(blk, "text", cJSON_GetStringValue(cJSON_GetObjectItem(d, "text")));
        } else if (strcmp(dt, "thinking_delta") == 0) {
            append_field(blk, "thinking", cJSON_GetStringValue(cJSON_GetObjectItem(d, "thinking")));
        } else if (strcmp(dt, "signature_delta") == 0) {
            append_field(blk, "signature",
                         cJSON_GetStringValue(cJSON_GetObjectItem(d, "signature")));
        } else if (strcmp(dt, "input_json_delta") == 0 && ix < 64) {
            buf_appends(&a->partial[ix],
                        cJSON_GetStringValue(cJSON_GetObjectItem(d, "partial_json")));
        } else {
            a->bad++;
        }
    } else if (strcmp(type, "content_block_stop") == 0) {
        cJSON *blk = content_at(a, ev);
        int ix = cJSON_GetObjectItemCaseSensitive(ev, "index")->valueint;
        const char *bt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(blk, "type"));
        if (bt && strcmp(bt, "tool_use") == 0 && ix < 64) {
            cJSON *in =
                a->partial[ix].len ? cJSON_Parse(a->partial[ix].data) : cJSON_CreateObject();
            if (!cJSON_IsObject(in)) a->bad++;
            cJSON_ReplaceItemInObjectCaseSensitive(blk, "input", in ? in : cJSON_CreateNull());
        }
    } else if (strcmp(type, "message_delta") == 0) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "delta");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(ev, "usage");
        cJSON_ReplaceItemInObjectCaseSensitive(
            a->msg, "stop_reason", cJSON_Duplicate(cJSON_GetObjectItem(d, "stop_reason"), 1));
        cJSON_ReplaceItemInObjectCaseSensitive(
            a->msg, "stop_sequence", cJSON_Duplicate(cJSON_GetObjectItem(d, "stop_sequence"), 1));
        cJSON_ReplaceItemInObjectCaseSensitive(a->msg, "usage", cJSON_Duplicate(u, 1));
    } else if (strcmp(type, "message_stop") == 0) {
        a->stops++;
    } else if (strcmp(type, "error") == 0) {
        a->errors++;
    } else {
        a->bad++;
    }
    cJSON_Delete(ev);
    return 0;
}

/* The message a client would hold after these events (NULL if none). */
static cJSON *accumulate(const char *sse, size_t len, acc *a)
{
    sse_parser p;
    memset(a, 0, sizeof *a);
    for (int i = 0; i < 64; i++)
        buf_init(&a->partial[i], 0);
    sse_parser_init(&p, 0, acc_event, NULL, a);
    if (sse_parser_feed(&p, sse, len) || sse_parser_finish(&p)) a->bad++;
    sse_parser_free(&p);
    for (int i = 0; i < 64; i++)
        buf_free(&a->partial[i]);
    return a->msg;
}

/* ---- golden: stream ---- */

static int check_stream_case(const char *name)
{
    char *in_path = path_of("stream", name, ".sse");
    char *out_path = path_of("stream", name, ".out");
    size_t len = 0, want_len = 0;
    char *in = test_read_file(in_path, &len);
    char *want = NULL;
    buf got;
    int end_rc = 0, failures = 0;
    xlate_stream_opts opts;
    cJSON *holder;
    buf_init(&got, 0);
    if (case_opts("stream", name, &opts, &holder)) {
        failures++;
        goto out;
    }
    if (!in) {
        fprintf(stderr, "  cannot read %s\n", in_path);
        failures++;
        goto out;
    }
    run_stream(in, len, len, 0, &opts, &got, &end_rc);
    if (golden_update()) golden_write(out_path, got.data ? got.data : "", got.len);
    want = test_read_file(out_path, &want_len);
    if (!want) {
        fprintf(stderr, "  %s: cannot read %s\n", name, out_path);
        failures++;
        goto out;
    }
    if (got.len != want_len || memcmp(got.data, want, want_len) != 0) {
        fprintf(stderr, "  %s (whole): output differs from %s:\n%s\n", name, out_path, got.data);
        failures++;
        goto out;
    }
    /* end returns <0 exactly when the client was told of an error */
    int has_error = strstr(want, "event: error\n") != NULL;
    if ((end_rc < 0) != has_error) {
        fprintf(stderr, "  %s: xlate_stream_end returned %d\n", name, end_rc);
        failures++;
    }
    /* the output is something a client accepts */
    acc a;
    cJSON *m = accumulate(want, want_len, &a);
    if (a.bad || !m || a.stops + a.errors != 1) {
        fprintf(stderr, "  %s: output is not a well-formed Anthropic stream\n", name);
        failures++;
    }
    cJSON_Delete(m);
    for (size_t k = 0; k <= len && !failures; k++) {
        run_stream(in, len, k, 0, &opts, &got, NULL);
        if (got.len != want_len || memcmp(got.data, want, want_len) != 0) {
            fprintf(stderr, "  %s: split at byte %zu differs:\n%s\n", name, k, got.data);
            failures++;
        }
    }
    if (!failures) {
        run_stream(in, len, 0, 1, &opts, &got, NULL);
        if (got.len != want_len || memcmp(got.data, want, want_len) != 0) {
            fprintf(stderr, "  %s: byte-at-a-time differs:\n%s\n", name, got.data);
            failures++;
        }
    }
out:
    cJSON_Delete(holder);
    free(in);
    free(want);
    free(in_path);
    free(out_path);
    buf_free(&got);
    return failures;
}

TEST(xlate_stream_golden)
{
    char **names;
    char *dir = path_of("stream", "", "");
    size_t n = golden_list(dir, ".sse", NULL, &names);
    free(dir);
    CHECK(n >= 20);
    for (size_t i = 0; i < n; i++) {
        if (check_stream_case(names[i])) {
            fprintf(stderr, "  golden stream case %s failed\n", names[i]);
            CHECK(0);
        }
    }
    golden_free(names, n);
}

/* ---- golden: response ---- */

/* xlate_response_build's result, pretty-printed for the .out.json files
 * ({"build_error": msg} when it fails). */
static char *build_pretty(const char *body, size_t len, const xlate_stream_opts *opts, int *rc_out)
{
    buf out;
    char err[512];
    cJSON *j;
    buf_init(&out, 0);
    int rc = xlate_response_build(body, len, opts, &out, NULL, err, sizeof err);
    if (rc_out) *rc_out = rc;
    if (rc == 0) {
        j = cJSON_Parse(out.data ? out.data : "");
    } else {
        j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "build_error", err);
        if (out.len) cJSON_AddStringToObject(j, "unexpected_output", out.data);
    }
    buf_free(&out);
    char *s = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!s) return NULL;
    buf b;
    buf_init(&b, 0);
    buf_appends(&b, s);
    buf_appends(&b, "\n");
    cJSON_free(s);
    return buf_detach(&b, NULL);
}

TEST(xlate_response_golden)
{
    char **names;
    char *dir = path_of("response", "", "");
    static const char *const not_input[] = {".out.json", ".opts.json", NULL};
    size_t n = golden_list(dir, ".json", not_input, &names);
    free(dir);
    for (size_t i = 0; i < n; i++) {
        char *in_path = path_of("response", names[i], ".json");
        char *out_path = path_of("response", names[i], ".out.json");
        size_t len;
        xlate_stream_opts opts;
        cJSON *holder;
        int bad_opts = case_opts("response", names[i], &opts, &holder);
        char *in = bad_opts ? NULL : test_read_file(in_path, &len);
        char *got = in ? build_pretty(in, len, &opts, NULL) : NULL;
        if (got && golden_update()) golden_write(out_path, got, strlen(got));
        char *want = test_read_file(out_path, NULL);
        if (!got || !want || strcmp(got, want) != 0) {
            fprintf(stderr, "  golden response case %s differs from %s:\n%s\n", names[i], out_path,
                    got ? got : "(null)");
            CHECK(0);
        }
        cJSON_Delete(holder);
        free(in);
        free(got);
        free(want);
        free(in_path);
        free(out_path);
    }
    CHECK(n >= 8);
    golden_free(names, n);
}

/* Where stream/NAME.sse and response/NAME.json both exist, a client that
 * accumulates the stream must hold exactly the message the response gives. */
TEST(xlate_stream_response_equivalence)
{
    char **names;
    char *dir = path_of("stream", "", "");
    size_t n = golden_list(dir, ".sse", NULL, &names), pairs = 0;
    free(dir);
    for (size_t i = 0; i < n; i++) {
        char *resp_path = path_of("response", names[i], ".json");
        char *sse_path = path_of("stream", names[i], ".sse");
        size_t rlen, slen;
        char *resp = test_read_file(resp_path, &rlen);
        char *sse = resp ? test_read_file(sse_path, &slen) : NULL;
        xlate_stream_opts so, ro;
        cJSON *sh = NULL, *rh = NULL;
        if (resp && sse &&
            (case_opts("stream", names[i], &so, &sh) ||
             case_opts("response", names[i], &ro, &rh))) {
            CHECK(0);
        } else if (resp && sse) {
            pairs++;
            buf out, built;
            acc a;
            buf_init(&out, 0);
            buf_init(&built, 0);
            run_stream(sse, slen, slen, 0, &so, &out, NULL);
            cJSON *m = accumulate(out.data, out.len, &a);
            char *from_stream = m ? cJSON_PrintUnformatted(m) : NULL;
            CHECK(xlate_response_build(resp, rlen, &ro, &built, NULL, NULL, 0) == 0);
            if (!from_stream || !built.data || strcmp(from_stream, built.data) != 0) {
                fprintf(stderr, "  %s: stream accumulates to\n    %s\n  response builds\n    %s\n",
                        names[i], from_stream ? from_stream : "(null)",
                        built.data ? built.data : "(null)");
                CHECK(0);
            }
            cJSON_free(from_stream);
            cJSON_Delete(m);
            buf_free(&out);
            buf_free(&built);
        }
        cJSON_Delete(sh);
        cJSON_Delete(rh);
        free(resp);
        free(sse);
        free(resp_path);
        free(sse_path);
    }
    CHECK(pairs >= 4);
    golden_free(names, n);
}

/* ---- edges ---- */

/* One translator and its output, for the edge tests. */
typedef struct fx {
    xlate_stream *xs;
    buf out;
    int rc; /* the last fx_feed's return */
} fx;

static int fx_open(fx *f, const xlate_stream_opts *o)
{
    f->xs = xlate_stream_new(o);
    buf_init(&f->out, 0);
    f->rc = 0;
    return f->xs != NULL;
}

static void fx_feed(fx *f, const char *s)
{
    f->rc = xlate_stream_feed(f->xs, s, strlen(s), &f->out);
}

static void fx_close(fx *f)
{
    xlate_stream_free(f->xs);
    buf_free(&f->out);
}

TEST(xlate_stream_ping_bytes)
{
    buf out;
    buf_init(&out, 0);
    CHECK(xlate_stream_ping(&out) == 0);
    CHECK_STR(out.data, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
    buf_free(&out);
}

TEST(xlate_stream_estimate_never_zero)
{
    xlate_stream_opts o = {"m", "msg_x", 0, NULL, 0, 0, 0};
    fx f;
    REQUIRE(fx_open(&f, &o));
    CHECK(xlate_stream_begin(f.xs, &f.out) == 0);
    CHECK(xlate_stream_begin(f.xs, &f.out) == 0); /* once only */
    CHECK_STR(f.out.data, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
                          "{\"id\":\"msg_x\",\"type\":\"message\",\"role\":\"assistant\","
                          "\"model\":\"m\",\"content\":[],\"stop_reason\":null,"
                          "\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,"
                          "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                          "\"output_tokens\":1}}}\n\n");
    fx_close(&f);
    xlate_stream_free(NULL);
}

TEST(xlate_stream_over_after_error)
{
    fx f;
    REQUIRE(fx_open(&f, &golden_opts));
    xlate_stream_begin(f.xs, &f.out);
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n");
    CHECK(f.rc == 0);
    CHECK(!xlate_stream_over(f.xs));
    fx_feed(&f, "data: {\"error\":{\"message\":\"server busy\"}}\n\n");
    CHECK(f.rc < 0);
    CHECK(xlate_stream_over(f.xs));
    CHECK(strstr(f.out.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                             "\"overloaded_error\",\"message\":\"server busy\"}}\n\n") != NULL);
    size_t len = f.out.len;
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n");
    CHECK(f.rc < 0);
    CHECK(xlate_stream_end(f.xs, &f.out) < 0);
    CHECK(xlate_stream_fail(f.xs, "api_error", "late", &f.out) < 0);
    CHECK(f.out.len == len);
    xlate_stream_stats st;
    xlate_stream_get_stats(f.xs, &st);
    CHECK(st.first_content == 1);
    CHECK(st.stop_reason == NULL);
    fx_close(&f);
}

TEST(xlate_stream_fail_from_shell)
{
    fx f;
    REQUIRE(fx_open(&f, &golden_opts));
    CHECK(xlate_stream_fail(f.xs, "overloaded_error", "upstream timed out", &f.out) == 0);
    CHECK_STR(f.out.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                          "\"overloaded_error\",\"message\":\"upstream timed out\"}}\n\n");
    CHECK(xlate_stream_over(f.xs));
    CHECK(xlate_stream_feed(f.xs, "data: [DONE]\n\n", 14, &f.out) < 0);
    fx_close(&f);
}

TEST(xlate_stream_after_message_stop)
{
    fx f;
    REQUIRE(fx_open(&f, &golden_opts));
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},"
                "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    CHECK(f.rc == 0);
    CHECK(xlate_stream_over(f.xs));
    size_t len = f.out.len;
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\n");
    CHECK(f.rc == 0);
    CHECK(xlate_stream_end(f.xs, &f.out) == 0);
    CHECK(xlate_stream_fail(f.xs, "api_error", "late", &f.out) < 0);
    CHECK(f.out.len == len);
    xlate_stream_stats st;
    xlate_stream_get_stats(f.xs, &st);
    CHECK_STR(st.stop_reason, "end_turn");
    CHECK(st.input_tokens == 42 && st.output_tokens == 1 && st.cached_tokens == 0);
    fx_close(&f);
}

TEST(xlate_stream_max_line)
{
    xlate_stream_opts o = golden_opts;
    o.max_line = 64;
    fx f;
    REQUIRE(fx_open(&f, &o));
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"this line is far "
                "too long for the limit\"}}]}\n\n");
    CHECK(f.rc < 0);
    CHECK(strstr(f.out.data, "event: error\n") != NULL);
    CHECK(strstr(f.out.data, "longer than 64 bytes") != NULL);
    CHECK(xlate_stream_end(f.xs, &f.out) < 0);
    fx_close(&f);
}

TEST(xlate_stream_max_tool_args)
{
    xlate_stream_opts o = golden_opts;
    o.max_tool_args = 8;
    fx f;
    REQUIRE(fx_open(&f, &o));
    /* before the name: buffered, and the bound applies */
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                "\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\n");
    CHECK(f.rc == 0);
    CHECK(strstr(f.out.data, "content_block") == NULL);
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                "\"function\":{\"arguments\":\"12345\"}}]}}]}\n\n");
    CHECK(f.rc < 0);
    CHECK(strstr(f.out.data, "more than 8 bytes of tool call arguments") != NULL);
    fx_close(&f);

    /* once the block is open arguments stream through, unbuffered */
    REQUIRE(fx_open(&f, &o));
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                "\"id\":\"c1\",\"function\":{\"name\":\"Read\",\"arguments\":\"{\\\"file_path\\\":"
                "\\\"/a/long/path/name\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n");
    CHECK(f.rc == 0);
    CHECK(xlate_stream_end(f.xs, &f.out) == 0);
    xlate_stream_stats st;
    xlate_stream_get_stats(f.xs, &st);
    CHECK_STR(st.stop_reason, "tool_use");
    CHECK(st.first_content == 1);
    fx_close(&f);
}

TEST(xlate_stream_interleaved_tool_args)
{
    fx f;
    REQUIRE(fx_open(&f, &golden_opts));
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
                "{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"A\",\"arguments\":\"{\"}},"
                "{\"index\":1,\"id\":\"b\",\"function\":{\"name\":\"B\",\"arguments\":\"{\"}}]}}]}"
                "\n\n");
    CHECK(f.rc == 0);
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
                "{\"index\":0,\"function\":{\"arguments\":\"}\"}}]}}]}\n\n");
    CHECK(f.rc < 0);
    CHECK(strstr(f.out.data, "after another block began") != NULL);
    fx_close(&f);
}

TEST(xlate_stream_stats_usage)
{
    fx f;
    REQUIRE(fx_open(&f, &golden_opts));
    xlate_stream_stats st;
    xlate_stream_get_stats(f.xs, &st);
    CHECK(st.input_tokens == 42 && st.output_tokens == 0 && st.first_content == 0);
    CHECK(st.stop_reason == NULL);
    fx_feed(&f, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},"
                "\"finish_reason\":\"length\"}]}\n\n"
                "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":7,"
                "\"prompt_tokens_details\":{\"cached_tokens\":60}}}\n\n");
    CHECK(f.rc == 0);
    xlate_stream_get_stats(f.xs, &st);
    CHECK(st.input_tokens == 40 && st.cached_tokens == 60 && st.output_tokens == 7);
    CHECK_STR(st.stop_reason, "max_tokens");
    CHECK(!xlate_stream_over(f.xs));
    CHECK(xlate_stream_end(f.xs, &f.out) == 0);
    CHECK(xlate_stream_over(f.xs));
    CHECK(strstr(f.out.data, "\"usage\":{\"input_tokens\":40,\"cache_creation_input_tokens\":0,"
                             "\"cache_read_input_tokens\":60,\"output_tokens\":7}") != NULL);
    fx_close(&f);
}

TEST(xlate_response_errors)
{
    buf out;
    char err[256];
    xlate_stream_stats st;
    buf_init(&out, 0);
    const char *e = "{\"error\":{\"message\":\"model not loaded\",\"type\":\"invalid_request\"}}";
    CHECK(xlate_response_build(e, strlen(e), &golden_opts, &out, NULL, err, sizeof err) < 0);
    CHECK_STR(err, "model not loaded");
    CHECK(out.len == 0);
    CHECK(xlate_response_build("nope", 4, &golden_opts, &out, NULL, err, sizeof err) < 0);
    CHECK(out.len == 0);
    const char *nochoice = "{\"choices\":[]}";
    CHECK(xlate_response_build(nochoice, strlen(nochoice), &golden_opts, &out, NULL, err,
                               sizeof err) < 0);
    /* not NUL-terminated: only len bytes count */
    const char *ok = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                     "\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}GARBAGE";
    CHECK(xlate_response_build(ok, strlen(ok) - 7, &golden_opts, &out, &st, err, sizeof err) == 0);
    CHECK_STR(st.stop_reason, "end_turn");
    CHECK(st.input_tokens == 42 && st.output_tokens == 1 && st.first_content == 1);
    buf_free(&out);
}

/* ---- tool recovery ---- */

static const char *const recovery_tools_json =
    "[{\"name\":\"Read\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"file_path\":{\"type\":\"string\"},\"offset\":{\"type\":\"integer\"}}}},"
    "{\"name\":\"Bash\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"command\":{\"type\":\"string\"},\"timeout\":{\"type\":\"number\"}}}}]";

/* golden_opts with tool recovery on and recovery_tools_json's tools; returns
 * the parsed tools (cJSON_Delete them after), NULL when they do not parse. */
static cJSON *recovery_opts(xlate_stream_opts *o)
{
    cJSON *tools = cJSON_Parse(recovery_tools_json);
    *o = golden_opts;
    o->tools = tools;
    o->tool_recovery = 1;
    return tools;
}

/* Recovery off, or on without tools (NULL or []): every case without its
 * own options gives exactly its .out, streamed and whole. */
TEST(xlate_stream_recovery_off_identical)
{
    cJSON *tools = cJSON_Parse(recovery_tools_json), *empty = cJSON_CreateArray();
    REQUIRE(tools && empty);
    xlate_stream_opts variants[3] = {golden_opts, golden_opts, golden_opts};
    variants[0].tools = tools;     /* tools, recovery off */
    variants[1].tool_recovery = 1; /* recovery on, no tools */
    variants[2].tool_recovery = 1;
    variants[2].tools = empty;
    char **names;
    char *dir = path_of("stream", "", "");
    size_t n = golden_list(dir, ".sse", NULL, &names), checked = 0;
    free(dir);
    buf got;
    buf_init(&got, 0);
    for (size_t i = 0; i < n; i++) {
        if (has_opts("stream", names[i])) continue;
        char *in_path = path_of("stream", names[i], ".sse");
        char *out_path = path_of("stream", names[i], ".out");
        size_t len = 0, want_len = 0;
        char *in = test_read_file(in_path, &len);
        char *want = test_read_file(out_path, &want_len);
        for (int v = 0; in && want && v < 3; v++) {
            run_stream(in, len, len, 0, &variants[v], &got, NULL);
            if (got.len != want_len || memcmp(got.data, want, want_len) != 0) {
                fprintf(stderr, "  %s: variant %d differs from %s\n", names[i], v, out_path);
                CHECK(0);
            }
        }
        checked += in && want;
        free(in);
        free(want);
        free(in_path);
        free(out_path);
    }
    CHECK(checked >= 20);
    golden_free(names, n);

    dir = path_of("response", "", "");
    n = golden_list(dir, ".out.json", NULL, &names);
    free(dir);
    for (size_t i = 0; i < n; i++) {
        if (has_opts("response", names[i])) continue;
        char *in_path = path_of("response", names[i], ".json");
        char *out_path = path_of("response", names[i], ".out.json");
        size_t len = 0;
        char *in = test_read_file(in_path, &len);
        char *want = test_read_file(out_path, NULL);
        for (int v = 0; in && want && v < 3; v++) {
            char *g = build_pretty(in, len, &variants[v], NULL);
            if (!g || strcmp(g, want) != 0) {
                fprintf(stderr, "  response %s: variant %d differs from %s\n", names[i], v,
                        out_path);
                CHECK(0);
            }
            free(g);
        }
        free(in);
        free(want);
        free(in_path);
        free(out_path);
    }
    golden_free(names, n);
    buf_free(&got);
    cJSON_Delete(tools);
    cJSON_Delete(empty);
}

#define CHUNK(delta) "data: {\"choices\":[{\"index\":0,\"delta\":" delta "}]}\n\n"

/* The accumulated message of a whole stream fed at once (caller frees). */
static cJSON *stream_message(const xlate_stream_opts *o, const char *sse, xlate_stream_stats *st,
                             int *bad)
{
    buf out;
    acc a;
    buf_init(&out, 0);
    xlate_stream *xs = xlate_stream_new(o);
    if (!xs) return NULL;
    xlate_stream_feed(xs, sse, strlen(sse), &out);
    xlate_stream_end(xs, &out);
    if (st) xlate_stream_get_stats(xs, st);
    xlate_stream_free(xs);
    cJSON *m = accumulate(out.data ? out.data : "", out.len, &a);
    if (bad) *bad = a.bad;
    buf_free(&out);
    return m;
}

static char *content_json(const cJSON *m)
{
    return cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(m, "content"));
}

TEST(xlate_stream_recovery_stats)
{
    xlate_stream_opts o;
    cJSON *tools = recovery_opts(&o);
    REQUIRE(tools);
    xlate_stream_stats st;
    const char *sse = CHUNK(
        "{\"content\":\"<tool_call>{\\\"name\\\":\\\"Bash\\\",\\\"arguments\\\":"
        "{\\\"command\\\":\\\"ls\\\"}}</tool_call>\"}")
        CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"Read\","
              "\"arguments\":\"{\\\"file_path\\\":\\\"/a\\\",\\\"offset\\\":\\\"3\\\"}\"}}]}")
            CHUNK("{\"tool_calls\":[{\"index\":1,\"id\":\"c2\",\"function\":{\"name\":\"Read\","
                  "\"arguments\":\"{\\\"file_path\\\": \\\"/b\\\"}\"}}]}")
                CHUNK("{\"tool_calls\":[{\"index\":2,\"id\":\"c3\",\"function\":{\"name\":\"Bash\","
                      "\"arguments\":\"rm -rf\"}}]}") "data: [DONE]\n\n";
    int bad = 0;
    cJSON *m = stream_message(&o, sse, &st, &bad);
    CHECK(bad == 0);
    char *c = content_json(m);
    CHECK_STR(c, "[{\"type\":\"tool_use\",\"id\":\"toolu_test_0\",\"name\":\"Bash\",\"input\":"
                 "{\"command\":\"ls\"}},{\"type\":\"tool_use\",\"id\":\"c1\",\"name\":\"Read\","
                 "\"input\":{\"file_path\":\"/a\",\"offset\":3}},{\"type\":\"tool_use\",\"id\":"
                 "\"c2\",\"name\":\"Read\",\"input\":{\"file_path\":\"/b\"}},{\"type\":\"text\","
                 "\"text\":\"[tool call Bash with unparseable arguments: rm -rf]\"}]");
    CHECK(st.tool_recovered == 1 && st.tool_repairs == 1 && st.tool_failures == 1);
    CHECK_STR(st.stop_reason, "tool_use");
    cJSON_free(c);
    cJSON_Delete(m);

    /* the same answer whole */
    const char *body =
        "{\"choices\":[{\"index\":0,\"finish_reason\":\"tool_calls\",\"message\":{"
        "\"content\":\"<tool_call>{\\\"name\\\":\\\"Bash\\\",\\\"arguments\\\":"
        "{\\\"command\\\":\\\"ls\\\"}}</tool_call>\",\"tool_calls\":["
        "{\"id\":\"c1\",\"function\":{\"name\":\"Read\","
        "\"arguments\":\"{\\\"file_path\\\":\\\"/a\\\",\\\"offset\\\":\\\"3\\\"}\"}},"
        "{\"id\":\"c2\",\"function\":{\"name\":\"Read\",\"arguments\":{\"file_path\":\"/b\"}}},"
        "{\"id\":\"c3\",\"function\":{\"name\":\"Bash\",\"arguments\":\"rm -rf\"}}]}}]}";
    buf out;
    buf_init(&out, 0);
    memset(&st, 0, sizeof st);
    CHECK(xlate_response_build(body, strlen(body), &o, &out, &st, NULL, 0) == 0);
    m = cJSON_Parse(out.data ? out.data : "");
    c = content_json(m);
    CHECK_STR(c, "[{\"type\":\"tool_use\",\"id\":\"toolu_test_0\",\"name\":\"Bash\",\"input\":"
                 "{\"command\":\"ls\"}},{\"type\":\"tool_use\",\"id\":\"c1\",\"name\":\"Read\","
                 "\"input\":{\"file_path\":\"/a\",\"offset\":3}},{\"type\":\"tool_use\",\"id\":"
                 "\"c2\",\"name\":\"Read\",\"input\":{\"file_path\":\"/b\"}},{\"type\":\"text\","
                 "\"text\":\"[tool call Bash with unparseable arguments: rm -rf]\"}]");
    CHECK(st.tool_recovered == 1 && st.tool_repairs == 1 && st.tool_failures == 1);
    CHECK_STR(st.stop_reason, "tool_use");
    cJSON_free(c);
    cJSON_Delete(m);

    /* recovery off: nothing counted */
    o.tool_recovery = 0;
    m = stream_message(&o, sse, &st, &bad);
    CHECK(bad == 1); /* as today: "rm -rf" streamed as partial_json */
    CHECK(st.tool_recovered == 0 && st.tool_repairs == 0 && st.tool_failures == 0);
    cJSON_Delete(m);
    buf_free(&out);
    cJSON_Delete(tools);
}

/* Text the parser holds back goes out before reasoning or a native call
 * that arrives after it: blocks stay in arrival order. */
TEST(xlate_stream_recovery_held_text_order)
{
    xlate_stream_opts o;
    cJSON *tools = recovery_opts(&o);
    REQUIRE(tools);
    const char *sse = CHUNK("{\"content\":\"see <tool\"}") CHUNK("{\"reasoning_content\":\"hm\"}")
        CHUNK("{\"content\":\"x <tool_c\"}")
            CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"Bash\","
                  "\"arguments\":\"{\\\"command\\\":\\\"ls\\\"}\"}}]}") "data: [DONE]\n\n";
    int bad = 0;
    cJSON *m = stream_message(&o, sse, NULL, &bad);
    CHECK(bad == 0);
    char *c = content_json(m);
    CHECK_STR(c, "[{\"type\":\"text\",\"text\":\"see <tool\"},{\"type\":\"thinking\",\"thinking\":"
                 "\"hm\",\"signature\":\"anyclaude-sig-msg_test\"},{\"type\":\"text\",\"text\":"
                 "\"x <tool_c\"},{\"type\":\"tool_use\",\"id\":\"c1\",\"name\":\"Bash\",\"input\":"
                 "{\"command\":\"ls\"}}]");
    cJSON_free(c);
    cJSON_Delete(m);
    cJSON_Delete(tools);
}

/* With recovery, native arguments stream through an argstream (its block
 * opens with the first byte it can send), and max_tool_args bounds what it
 * keeps for repair even after the name. */
TEST(xlate_stream_recovery_max_tool_args)
{
    xlate_stream_opts o;
    cJSON *tools = recovery_opts(&o);
    REQUIRE(tools);
    o.max_tool_args = 8;
    fx f;
    REQUIRE(fx_open(&f, &o));
    fx_feed(&f, CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"Bash\","
                      "\"arguments\":\"{\\\"a\\\":\"}}]}"));
    CHECK(f.rc == 0);
    CHECK(strstr(f.out.data, "\"partial_json\":\"{\"") != NULL);
    fx_feed(&f, CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"12345\"}}]}"));
    CHECK(f.rc < 0);
    CHECK(strstr(f.out.data, "more than 8 bytes of arguments for one tool call") != NULL);
    fx_close(&f);
    cJSON_Delete(tools);
}

/* ---- found by tests/fuzz (tests/fuzz/crashes/stream-*) ---- */

/* A generated id never repeats one the backend used. */
TEST(xlate_stream_generated_id_unique)
{
    const char *sse = CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"toolu_test_1\",\"function\":"
                            "{\"name\":\"Bash\",\"arguments\":\"{}\"}},{\"index\":1,\"function\":"
                            "{\"name\":\"Read\",\"arguments\":\"{}\"}}]}") "data: [DONE]\n\n";
    cJSON *m = stream_message(&golden_opts, sse, NULL, NULL);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    CHECK(cJSON_GetArraySize(c) == 2);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "id")),
              "toolu_test_1");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 1), "id")),
              "toolu_test_1025");
    cJSON_Delete(m);

    const char *body =
        "{\"choices\":[{\"index\":0,\"message\":{\"tool_calls\":["
        "{\"id\":\"toolu_test_1\",\"function\":{\"name\":\"Bash\",\"arguments\":\"{}\"}},"
        "{\"function\":{\"name\":\"Read\",\"arguments\":\"{}\"}}]}}]}";
    buf out;
    buf_init(&out, 0);
    CHECK(xlate_response_build(body, strlen(body), &golden_opts, &out, NULL, NULL, 0) == 0);
    CHECK(out.data && strstr(out.data, "\"id\":\"toolu_test_1025\"") != NULL);
    buf_free(&out);
}

/* Bytes after [DONE] in the same feed are ignored, even a line too long. */
TEST(xlate_stream_late_long_line_after_done)
{
    xlate_stream_opts o = golden_opts;
    o.max_line = 16;
    fx f;
    REQUIRE(fx_open(&f, &o));
    fx_feed(&f, "data: [DONE]\n\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
    CHECK(f.rc == 0);
    CHECK(xlate_stream_over(f.xs));
    CHECK(strstr(f.out.data, "event: error") == NULL);
    CHECK(xlate_stream_end(f.xs, &f.out) == 0);
    fx_close(&f);
}

/* An index far outside long's range is not undefined behaviour. */
TEST(xlate_stream_huge_tool_index)
{
    const char *sse = CHUNK("{\"tool_calls\":[{\"index\":1e300,\"id\":\"c\",\"function\":"
                            "{\"name\":\"Bash\",\"arguments\":\"{}\"}}]}") "data: [DONE]\n\n";
    int bad = 0;
    cJSON *m = stream_message(&golden_opts, sse, NULL, &bad);
    CHECK(m && bad == 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                  cJSON_GetArrayItem(cJSON_GetObjectItem(m, "content"), 0), "id")),
              "c");
    cJSON_Delete(m);
}

/* {"error":""} still gives a readable message. */
TEST(xlate_response_empty_error_string)
{
    buf out;
    char err[128];
    buf_init(&out, 0);
    CHECK(xlate_response_build("{\"error\":\"\"}", 12, &golden_opts, &out, NULL, err, sizeof err) <
          0);
    CHECK(err[0] != '\0');
    CHECK(out.len == 0);
    buf_free(&out);
}
