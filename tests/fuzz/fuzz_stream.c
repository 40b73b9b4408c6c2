/*
 * fuzz_stream: the stream translator (src/core/xlate_stream.c) and the whole
 * response translator (src/core/xlate_response.c) on arbitrary upstream bytes.
 *
 * Input: a 6-byte header, then the upstream SSE bytes (or response body).
 *   hdr[0]     seed for feeding in random pieces (sizes 0..hdr-dependent)
 *   hdr[1]     max_line: 0 → 64 KiB, else hdr[1] * 16 bytes
 *   hdr[2]     max_tool_args: 0 → 64 KiB, else hdr[2] * 8 bytes
 *   hdr[3]     flags: 1 tools array given, 2 model NULL, 4 input_estimate 0,
 *              8 msg_id without the "msg_" prefix, 16 tool_recovery (with
 *              tools: tool calls written as text, src/toolcall_text.c)
 *   hdr[4..5]  cut position (little endian, mod len+1) for a two-piece feed
 * Checks: output identical for the whole, two-piece and random-piece feeds
 * (same return codes too; with tool_recovery, identical once consecutive
 * deltas of a block are merged: anthropic_canonical); the output is a well-formed Anthropic stream
 * (anthropic_check.h) that has ended after xlate_stream_end; calls after
 * the end append nothing; the whole-response path gives a well-formed
 * message or an error with `out` untouched.
 * With tool_recovery each tool_use block's input_json_delta pieces must
 * form a JSON object (native arguments are repaired by toolargs then);
 * FUZZ_STRICT_TOOL_JSON=1 in the environment requires it always (without
 * recovery a backend's broken arguments pass through as they came).
 */
#include "xlate_response.h"
#include "xlate_stream.h"
#include "anthropic_check.h"
#include "fuzz_util.h"

#define OUT_MAX ((size_t)4 << 20)

static const char tools_json[] =
    "[{\"name\":\"Bash\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"command\":"
    "{\"type\":\"string\"},\"timeout\":{\"type\":\"number\"}},\"required\":[\"command\"]}},"
    "{\"name\":\"Read\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"file_path\":"
    "{\"type\":\"string\"},\"limit\":{\"type\":\"integer\"}}}}]";

static cJSON *tools;
static int strict_tool_json;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tools = cJSON_Parse(tools_json);
    const char *s = getenv("FUZZ_STRICT_TOOL_JSON");
    strict_tool_json = s && *s && strcmp(s, "0") != 0;
    return tools ? 0 : -1;
}

typedef struct result {
    buf out;
    int feed_rc; /* first nonzero feed return */
    int end_rc;
} result;

static void run(const xlate_stream_opts *o, const char *p, size_t len, const size_t *cuts,
                size_t ncuts, result *r)
{
    buf_init(&r->out, OUT_MAX);
    r->feed_rc = 0;
    xlate_stream *xs = xlate_stream_new(o);
    if (!xs) abort();
    FUZZ_CHECK(!xlate_stream_over(xs), "over before anything happened");
    if (xlate_stream_begin(xs, &r->out)) abort();
    size_t at = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        size_t before = r->out.len;
        int rc = xlate_stream_feed(xs, p + at, end - at, &r->out);
        if (r->feed_rc) FUZZ_CHECK(r->out.len == before, "output appended after the stream failed");
        if (rc && !r->feed_rc) r->feed_rc = rc;
        FUZZ_CHECK(!rc || xlate_stream_over(xs), "feed returned %d but the stream is not over",
                   rc);
        at = end;
    }
    r->end_rc = xlate_stream_end(xs, &r->out);
    FUZZ_CHECK(xlate_stream_over(xs), "not over after xlate_stream_end");

    /* after the end nothing more is said */
    size_t before = r->out.len;
    xlate_stream_feed(xs, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", 48,
                      &r->out);
    xlate_stream_end(xs, &r->out);
    FUZZ_CHECK(r->out.len == before, "output appended after the stream ended");
    FUZZ_CHECK(xlate_stream_fail(xs, "api_error", "late", &r->out) != 0 && r->out.len == before,
               "xlate_stream_fail after the end appended output");

    xlate_stream_stats st;
    xlate_stream_get_stats(xs, &st);
    FUZZ_CHECK(st.input_tokens >= 0 && st.output_tokens >= 0 && st.cached_tokens >= 0,
               "negative token counts");
    FUZZ_CHECK(!st.stop_reason || ac_stop_reason_ok(st.stop_reason), "bad stats stop_reason");
    xlate_stream_free(xs);
}

static int same(const result *a, const result *b, int canonical)
{
    if (a->feed_rc != b->feed_rc || a->end_rc != b->end_rc) return 0;
    if (!canonical)
        return a->out.len == b->out.len &&
               (a->out.len == 0 || memcmp(a->out.data, b->out.data, a->out.len) == 0);
    buf ca, cb;
    buf_init(&ca, 0);
    buf_init(&cb, 0);
    anthropic_canonical(a->out.data ? a->out.data : "", a->out.len, &ca);
    anthropic_canonical(b->out.data ? b->out.data : "", b->out.len, &cb);
    int eq = ca.len == cb.len && (ca.len == 0 || memcmp(ca.data, cb.data, ca.len) == 0);
    if (!eq) fuzz_show_diff("canonical whole", &ca, "canonical split", &cb);
    buf_free(&ca);
    buf_free(&cb);
    return eq;
}

FUZZ_TARGET(6)
{

    xlate_stream_opts o;
    memset(&o, 0, sizeof o);
    o.model = (in->hdr[3] & 2) ? NULL : "claude-fuzz";
    o.msg_id = (in->hdr[3] & 8) ? "fuzz" : "msg_fuzz";
    o.input_estimate = (in->hdr[3] & 4) ? 0 : 42;
    o.tools = (in->hdr[3] & 1) ? tools : NULL;
    o.max_line = in->hdr[1] ? (size_t)in->hdr[1] * 16 : 65536;
    o.max_tool_args = in->hdr[2] ? (size_t)in->hdr[2] * 8 : 65536;
    o.tool_recovery = (in->hdr[3] & 16) != 0;
    if (o.tool_recovery) o.tools = tools;

    result whole, two, many;
    size_t cut = fuzz_u16(in, 4) % (len + 1);
    run(&o, p, len, NULL, 0, &whole);
    run(&o, p, len, &cut, 1, &two);

    size_t ncuts,
           *cuts = fuzz_random_cuts(len, 0xabcdu + in->hdr[0], 1 + in->hdr[0] % 64, &ncuts);
    run(&o, p, len, cuts, ncuts, &many);
    free(cuts);

    if (!same(&whole, &two, o.tool_recovery)) {
        fprintf(stderr, "whole rc %d/%d, split at %zu rc %d/%d\n", whole.feed_rc, whole.end_rc,
                cut, two.feed_rc, two.end_rc);
        fuzz_show_diff("whole", &whole.out, "split", &two.out);
        FUZZ_CHECK(0, "stream output depends on the split (two pieces)");
    }
    if (!same(&whole, &many, o.tool_recovery)) {
        fprintf(stderr, "whole rc %d/%d, pieces rc %d/%d\n", whole.feed_rc, whole.end_rc,
                many.feed_rc, many.end_rc);
        fuzz_show_diff("whole", &whole.out, "pieces", &many.out);
        FUZZ_CHECK(0, "stream output depends on the split (random pieces)");
    }
    anthropic_check_stream(whole.out.data ? whole.out.data : "", whole.out.len, 1,
                           strict_tool_json || o.tool_recovery);
    buf_free(&whole.out);
    buf_free(&two.out);
    buf_free(&many.out);

    /* the same bytes as a whole (non-streaming) response body */
    buf out;
    char err[256];
    xlate_stream_stats st;
    buf_init(&out, OUT_MAX);
    if (buf_appends(&out, "PRE")) abort();
    memset(err, 'x', sizeof err);
    int rc = xlate_response_build(p, len, &o, &out, &st, err, sizeof err);
    FUZZ_CHECK(memchr(err, '\0', sizeof err), "err not NUL-terminated");
    if (rc == 0) {
        anthropic_check_message(out.data + 3, out.len - 3);
        FUZZ_CHECK(st.input_tokens >= 0 && st.output_tokens >= 0 && st.cached_tokens >= 0,
                   "negative token counts (response)");
    } else {
        FUZZ_CHECK(out.len == 3 && memcmp(out.data, "PRE", 3) == 0,
                   "xlate_response_build failed (%d) but changed out", rc);
        FUZZ_CHECK(err[0], "xlate_response_build failed (%d) without a message", rc);
    }
    buf_free(&out);
    return 0;
}
