/* Tests for src/sse.c: line endings, fields, comments, dispatch rules, the
 * bound, and identical callbacks however the input is split. */
#include <stdlib.h>

#include "sse.h"
#include "test.h"

/* Records every callback as text: "E[event]{data}" or "C{comment}". */
typedef struct rec {
    buf log;
    int stop_after; /* return 7 from the Nth event callback (0: never) */
    int nevents;
} rec;

static int rec_event(void *ud, const char *ev, size_t evlen, const char *data, size_t len)
{
    rec *r = ud;
    buf_appends(&r->log, "E[");
    buf_append(&r->log, ev, evlen);
    buf_appends(&r->log, "]{");
    buf_append(&r->log, data, len);
    buf_appends(&r->log, "}");
    r->nevents++;
    return r->stop_after && r->nevents == r->stop_after ? 7 : 0;
}

static int rec_comment(void *ud, const char *text, size_t len)
{
    rec *r = ud;
    buf_appends(&r->log, "C{");
    buf_append(&r->log, text, len);
    buf_appends(&r->log, "}");
    return 0;
}

/* Parse `in` cut at the given points (sorted, up to 2), then finish. */
static int run(const char *in, size_t len, size_t cut1, size_t cut2, size_t max, buf *log)
{
    rec r = {{0}, 0, 0};
    sse_parser p;
    buf_init(&r.log, 0);
    sse_parser_init(&p, max, rec_event, rec_comment, &r);
    int rc = sse_parser_feed(&p, in, cut1);
    if (!rc) rc = sse_parser_feed(&p, in + cut1, cut2 - cut1);
    if (!rc) rc = sse_parser_feed(&p, in + cut2, len - cut2);
    if (!rc) rc = sse_parser_finish(&p);
    sse_parser_free(&p);
    buf_reset(log);
    buf_append(log, r.log.data ? r.log.data : "", r.log.len);
    buf_free(&r.log);
    return rc;
}

/* The callbacks for `in` fed whole (valid until the next call). */
static const char *whole(const char *in)
{
    static buf log; /* kept (reachable) between calls */
    run(in, strlen(in), 0, 0, 0, &log);
    return log.data ? log.data : "";
}

TEST(sse_basic_fields)
{
    CHECK_STR(whole("data: {\"a\":1}\n\n"), "E[]{{\"a\":1}}");
    CHECK_STR(whole("event: ping\ndata: x\n\n"), "E[ping]{x}");
    CHECK_STR(whole("data:nospace\n\n"), "E[]{nospace}");
    CHECK_STR(whole("data:  two\n\n"), "E[]{ two}");
    CHECK_STR(whole("data: a\ndata: b\ndata\n\n"), "E[]{a\nb\n}");
    CHECK_STR(whole("id: 5\nretry: 10\nfoo: bar\ndata: x\n\n"), "E[]{x}");
    CHECK_STR(whole(": keepalive 5/100\n\n"), "C{ keepalive 5/100}");
    CHECK_STR(whole("event: x\n\ndata: y\n\n"), "E[]{y}"); /* no data: no dispatch */
    CHECK_STR(whole("\n\n\n"), "");
}

TEST(sse_line_endings)
{
    CHECK_STR(whole("data: a\r\n\r\ndata: b\r\rdata: c\n\n"), "E[]{a}E[]{b}E[]{c}");
    CHECK_STR(whole("data: a\r\ndata: b\r\n\r\n"), "E[]{a\nb}");
}

TEST(sse_finish_dispatches_pending)
{
    CHECK_STR(whole("data: [DONE]"), "E[]{[DONE]}");
    CHECK_STR(whole("data: x\n"), "E[]{x}");
    CHECK_STR(whole("data: x\r"), "E[]{x}");
}

TEST(sse_any_split_same_callbacks)
{
    const char *in = ": hi\r\nevent: e1\r\ndata: {\"x\":\"\xc3\xa9\"}\r\n\r\n"
                     "data: a\rdata: b\r\r\ndata: c\n\n: keepalive 1/2\ndata: tail";
    size_t len = strlen(in);
    buf want, got;
    buf_init(&want, 0);
    buf_init(&got, 0);
    REQUIRE(run(in, len, 0, 0, 0, &want) == 0);
    CHECK_STR(want.data, "C{ hi}E[e1]{{\"x\":\"\xc3\xa9\"}}E[]{a\nb}E[]{c}C{ keepalive 1/2}"
                         "E[]{tail}");
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            int rc = run(in, len, i, j, 0, &got);
            if (rc || strcmp(got.data, want.data) != 0) {
                fprintf(stderr, "  split at %zu,%zu: %s\n", i, j, got.data);
                CHECK(0);
                goto out;
            }
        }
    }
    /* one byte at a time */
    {
        rec r = {{0}, 0, 0};
        sse_parser p;
        buf_init(&r.log, 0);
        sse_parser_init(&p, 0, rec_event, rec_comment, &r);
        for (size_t i = 0; i < len; i++)
            CHECK(sse_parser_feed(&p, in + i, 1) == 0);
        CHECK(sse_parser_finish(&p) == 0);
        CHECK_STR(r.log.data, want.data);
        sse_parser_free(&p);
        buf_free(&r.log);
    }
out:
    buf_free(&want);
    buf_free(&got);
}

TEST(sse_bound)
{
    buf log;
    buf_init(&log, 0);
    /* a line of exactly max bytes is fine, one more is not, however split */
    const char *ok = "data: 12345678\n\n"; /* line is 14 bytes */
    CHECK(run(ok, strlen(ok), 3, 9, 14, &log) == 0);
    CHECK_STR(log.data, "E[]{12345678}");
    const char *bad = "data: 123456789\n\n";
    CHECK(run(bad, strlen(bad), 0, 0, 14, &log) == SSE_ETOOLONG);
    CHECK(run(bad, strlen(bad), 5, 10, 14, &log) == SSE_ETOOLONG);
    CHECK(run(bad, strlen(bad), 15, 15, 14, &log) == SSE_ETOOLONG);
    /* accumulated data past max */
    const char *many = "data: 1234\ndata: 1234\ndata: 1234\n\n";
    CHECK(run(many, strlen(many), 0, 0, 12, &log) == SSE_ETOOLONG);
    /* an unterminated line past max */
    CHECK(run(bad, 15, 0, 0, 14, &log) == SSE_ETOOLONG);
    buf_free(&log);
}

TEST(sse_callback_stops_feed)
{
    rec r = {{0}, 1, 0};
    sse_parser p;
    buf_init(&r.log, 0);
    sse_parser_init(&p, 0, rec_event, NULL, &r);
    const char *in = ": c\ndata: 1\n\ndata: 2\n\n";
    CHECK(sse_parser_feed(&p, in, strlen(in)) == 7);
    CHECK_STR(r.log.data, "E[]{1}");
    sse_parser_free(&p);
    sse_parser_free(NULL);
    buf_free(&r.log);
}
